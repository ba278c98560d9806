//! A short-lived cache of answers that are the same for every caller
//! (popular lists, search results, genre lists of the catalogue): under
//! load the same page is asked for again and again, and a few seconds of
//! staleness in a popularity order is invisible. Each instance keeps its
//! own; accepting new content clears it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Entries kept at most; past that the cache starts afresh.
const CAPACITY: usize = 10_000;

pub struct ListCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Bytes)>>,
    /// One computation per key at a time: when a popular page expires under
    /// load, one request recomputes it and the others wait for its answer.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ListCache {
    /// A cache keeping answers for `ttl` (zero disables it).
    pub fn new(ttl: Duration) -> Self {
        ListCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The cached JSON answer for `key`, or `compute`'s, cached.
    pub async fn get_or_insert<F, Fut, E>(&self, key: String, compute: F) -> Result<Response, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Bytes, E>>,
    {
        if self.ttl.is_zero() {
            return Ok(json_response(compute().await?));
        }
        if let Some(body) = self.lookup(&key) {
            metrics::counter!("recofinement_list_cache_total", "result" => "hit").increment(1);
            return Ok(json_response(body));
        }
        metrics::counter!("recofinement_list_cache_total", "result" => "miss").increment(1);
        let gate = match self.in_flight.lock() {
            Ok(mut flights) => flights.entry(key.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let _turn = gate.lock().await;
        if let Some(body) = self.lookup(&key) {
            return Ok(json_response(body));
        }
        let body = compute().await;
        if let Ok(mut flights) = self.in_flight.lock() {
            flights.remove(&key);
        }
        let body = body?;
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), body.clone()));
        }
        Ok(json_response(body))
    }

    fn lookup(&self, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().ok()?;
        let (at, body) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| body.clone())
    }

    /// Forgets everything (the catalogue changed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(cache: &ListCache, value: &'static str) -> String {
        let response = cache
            .get_or_insert::<_, _, ()>("k".into(), || async move {
                Ok(Bytes::from_static(value.as_bytes()))
            })
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn answers_are_reused_until_cleared() {
        let cache = ListCache::new(Duration::from_secs(60));
        assert_eq!(ask(&cache, "1").await, "1");
        assert_eq!(ask(&cache, "2").await, "1");
        cache.clear();
        assert_eq!(ask(&cache, "3").await, "3");
    }

    #[tokio::test]
    async fn a_zero_ttl_disables_it() {
        let cache = ListCache::new(Duration::ZERO);
        assert_eq!(ask(&cache, "1").await, "1");
        assert_eq!(ask(&cache, "2").await, "2");
    }
}
