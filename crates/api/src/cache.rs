//! A short-lived cache of answers asked for again and again: popular lists
//! and search results, the same for every caller, and each caller's own
//! account. An answer is never older than a change that committed
//! before it was asked for: each entry is tagged with what it shows (its
//! items, for kinds ordered by ratings the popular order, an account, who
//! is in which group), a change
//! drops the entries it touches on this instance at once (the writer's own
//! request) and on the others through the store's change notices. The TTL
//! only bounds what no notice reaches (a second process on one SQLite file).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use recofinement_domain::ContentKind;
use recofinement_domain::media::{PopularOrder, spec};
use recofinement_store::changes::ListChange;

/// Entries kept at most; past that the cache starts afresh.
const CAPACITY: usize = 10_000;
/// Changes remembered for answers computed while they happened.
const RECENT_CHANGES: usize = 4096;

/// What a cached answer shows, so that a change finds the answers it alters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// The answer shows this item (its rating average and count).
    Item(i64),
    /// The answer is a page of this kind's popular order.
    Popular(ContentKind),
    /// The answer shows this account (its name, e-mail, preferences).
    Account(i64),
    /// The answer shows who is in which group.
    Memberships,
}

impl Tag {
    /// The tags a change touches; `None` means every answer.
    fn touched_by(change: ListChange) -> Option<Vec<Tag>> {
        match change {
            ListChange::Interactions { .. } => Some(Vec::new()),
            ListChange::Account { user_id } => Some(vec![Tag::Account(user_id)]),
            ListChange::Memberships => Some(vec![Tag::Memberships]),
            ListChange::Catalogue => None,
            ListChange::Item { kind, content_id } => {
                let mut tags = vec![Tag::Item(content_id)];
                if spec(kind).lists.popular == PopularOrder::Ratings {
                    tags.push(Tag::Popular(kind));
                }
                Some(tags)
            }
        }
    }
}

struct Entry {
    at: Instant,
    body: Bytes,
    tags: Vec<Tag>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<String, Entry>,
    by_tag: HashMap<Tag, HashSet<String>>,
    /// Number of changes seen so far, and the latest of them (`None` for a
    /// change that touches everything), to refuse storing an answer that
    /// was computed while a change it shows happened.
    changes_seen: u64,
    recent: VecDeque<(u64, Option<Vec<Tag>>)>,
}

impl Entries {
    fn forget(&mut self, key: &str) {
        if let Some(entry) = self.by_key.remove(key) {
            for tag in entry.tags {
                if let Some(keys) = self.by_tag.get_mut(&tag) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.by_tag.remove(&tag);
                    }
                }
            }
        }
    }

    fn apply(&mut self, touched: Option<Vec<Tag>>) {
        match &touched {
            None => {
                self.by_key.clear();
                self.by_tag.clear();
            }
            Some(tags) => {
                for tag in tags {
                    for key in self.by_tag.remove(tag).unwrap_or_default() {
                        self.forget(&key);
                    }
                }
            }
        }
        self.changes_seen += 1;
        self.recent.push_back((self.changes_seen, touched));
        if self.recent.len() > RECENT_CHANGES {
            self.recent.pop_front();
        }
    }

    /// Whether a change seen after `since` touches an answer with `tags`.
    fn changed_since(&self, since: u64, tags: &[Tag]) -> bool {
        if since == self.changes_seen {
            return false;
        }
        let oldest_known = self.recent.front().map_or(u64::MAX, |(n, _)| *n);
        if since + 1 < oldest_known {
            return true;
        }
        self.recent
            .iter()
            .filter(|(n, _)| *n > since)
            .any(|(_, touched)| match touched {
                None => true,
                Some(touched) => touched.iter().any(|t| tags.contains(t)),
            })
    }

    fn insert(&mut self, key: String, body: Bytes, tags: Vec<Tag>) {
        if self.by_key.len() >= CAPACITY {
            self.by_key.clear();
            self.by_tag.clear();
        }
        self.forget(&key);
        for tag in &tags {
            self.by_tag.entry(*tag).or_default().insert(key.clone());
        }
        let at = Instant::now();
        self.by_key.insert(key, Entry { at, body, tags });
    }
}

pub struct ListCache {
    ttl: Duration,
    entries: Mutex<Entries>,
    /// One computation per key at a time: when a popular page expires under
    /// load, one request recomputes it and the others wait for its answer.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A computed answer and what it shows.
pub struct Tagged {
    pub body: Bytes,
    pub tags: Vec<Tag>,
}

impl ListCache {
    /// A cache keeping answers for `ttl` (zero disables it).
    pub fn new(ttl: Duration) -> Self {
        ListCache {
            ttl,
            entries: Mutex::new(Entries::default()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The cached JSON answer for `key`, or `compute`'s, cached unless a
    /// change it shows happened while it was computed.
    pub async fn get_or_insert<F, Fut, E>(&self, key: String, compute: F) -> Result<Response, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Tagged, E>>,
    {
        if self.ttl.is_zero() {
            return Ok(json_response(compute().await?.body));
        }
        if let Some(body) = self.lookup(&key) {
            metrics::counter!("recofinement_list_cache_total", "result" => "hit").increment(1);
            return Ok(json_response(body));
        }
        metrics::counter!("recofinement_list_cache_total", "result" => "miss").increment(1);
        let gate = self.gate(&key);
        let _turn = gate.lock().await;
        if let Some(body) = self.lookup(&key) {
            return Ok(json_response(body));
        }
        let since = self.lock().changes_seen;
        let answer = compute().await;
        if let Ok(mut flights) = self.in_flight.lock() {
            flights.remove(&key);
        }
        let answer = answer?;
        let mut entries = self.lock();
        if !entries.changed_since(since, &answer.tags) {
            entries.insert(key, answer.body.clone(), answer.tags);
        }
        Ok(json_response(answer.body))
    }

    fn gate(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.in_flight.lock() {
            Ok(mut flights) => flights.entry(key.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves consistent maps behind.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, key: &str) -> Option<Bytes> {
        let entries = self.lock();
        let entry = entries.by_key.get(key)?;
        (entry.at.elapsed() < self.ttl).then(|| entry.body.clone())
    }

    /// Drops what `change` alters (synchronously: call it before answering
    /// the request that made the change).
    pub fn changed(&self, change: ListChange) {
        self.lock().apply(Tag::touched_by(change));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().apply(None);
    }
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOVIE_7: ListChange = ListChange::Item {
        kind: ContentKind::Movie,
        content_id: 7,
    };

    async fn ask(cache: &ListCache, key: &str, value: &'static str, tags: &[Tag]) -> String {
        let tags = tags.to_vec();
        let response = cache
            .get_or_insert::<_, _, ()>(key.into(), || async move {
                Ok(Tagged {
                    body: Bytes::from_static(value.as_bytes()),
                    tags,
                })
            })
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn answers_are_reused_until_a_change_touches_them() {
        let cache = ListCache::new(Duration::from_secs(60));
        assert_eq!(ask(&cache, "a", "1", &[Tag::Item(7)]).await, "1");
        assert_eq!(ask(&cache, "b", "1", &[Tag::Item(8)]).await, "1");
        assert_eq!(ask(&cache, "a", "2", &[Tag::Item(7)]).await, "1");
        cache.changed(MOVIE_7);
        assert_eq!(ask(&cache, "a", "3", &[Tag::Item(7)]).await, "3");
        assert_eq!(ask(&cache, "b", "3", &[Tag::Item(8)]).await, "1");
        cache.clear();
        assert_eq!(ask(&cache, "b", "4", &[Tag::Item(8)]).await, "4");
    }

    #[tokio::test]
    async fn a_rating_reorders_the_popular_lists_ordered_by_ratings() {
        let cache = ListCache::new(Duration::from_secs(60));
        // Movies are ordered by popularity score: only pages showing item 7 go.
        assert_eq!(
            ask(&cache, "m", "1", &[Tag::Popular(ContentKind::Movie)]).await,
            "1"
        );
        cache.changed(MOVIE_7);
        assert_eq!(
            ask(&cache, "m", "2", &[Tag::Popular(ContentKind::Movie)]).await,
            "1"
        );
        // Applications are ordered by ratings: any rating may reorder them.
        let tag = [Tag::Popular(ContentKind::Application)];
        assert_eq!(ask(&cache, "a", "1", &tag).await, "1");
        cache.changed(ListChange::Item {
            kind: ContentKind::Application,
            content_id: 99,
        });
        assert_eq!(ask(&cache, "a", "2", &tag).await, "2");
    }

    #[test]
    fn an_answer_computed_during_a_change_it_shows_is_not_kept() {
        let mut entries = Entries::default();
        let since = entries.changes_seen;
        entries.apply(Tag::touched_by(MOVIE_7));
        assert!(entries.changed_since(since, &[Tag::Item(7)]));
        assert!(!entries.changed_since(since, &[Tag::Item(8)]));
        entries.apply(None);
        assert!(entries.changed_since(since, &[Tag::Item(8)]));
    }

    #[tokio::test]
    async fn a_zero_ttl_disables_it() {
        let cache = ListCache::new(Duration::ZERO);
        assert_eq!(ask(&cache, "k", "1", &[]).await, "1");
        assert_eq!(ask(&cache, "k", "2", &[]).await, "2");
    }
}
