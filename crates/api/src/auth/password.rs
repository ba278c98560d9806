//! bcrypt off the async reactor with bounded concurrency: a burst of logins
//! queues here instead of occupying every worker thread. New hashes
//! (registrations, password changes) have their own single slot, so a flood
//! of them never takes bcrypt time from logins.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    /// Verifications (logins).
    permits: Arc<Semaphore>,
    /// New hashes.
    hash_permits: Arc<Semaphore>,
    /// A hash of a random string at the configured cost, verified against
    /// for unknown accounts so they take as long as known ones (no account
    /// enumeration by timing).
    dummy: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    pub fn new(cost: u32, concurrency: usize) -> Self {
        PasswordHasher {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            hash_permits: Arc::new(Semaphore::new(1)),
            dummy: Arc::default(),
        }
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let cost = self.cost;
        let password = password.to_owned();
        let work = move || bcrypt::hash(truncated(&password), cost).map_err(AppError::internal);
        Self::run(&self.hash_permits, work).await?
    }

    /// Verifies a password; a stored value that is not a bcrypt hash (such as
    /// the datasets' `no_pwd`) simply fails (D24).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<bool> {
        let usable = stored.filter(|h| h.starts_with("$2")).map(str::to_owned);
        let password = password.to_owned();
        let (dummy, cost) = (self.dummy.clone(), self.cost);
        Self::run(&self.permits, move || {
            let dummy = dummy.get_or_init(|| {
                let random = uuid::Uuid::new_v4().to_string();
                bcrypt::hash(random, cost).unwrap_or_default()
            });
            let hash = usable.as_deref().unwrap_or(dummy);
            let ok = bcrypt::verify(truncated(&password), hash).unwrap_or(false);
            ok && usable.is_some()
        })
        .await
    }

    async fn run<T: Send + 'static>(
        permits: &Semaphore,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let waiting = metrics::gauge!("recofinement_bcrypt_waiting");
        waiting.increment(1.0);
        let permit = permits.acquire().await;
        waiting.decrement(1.0);
        let _permit = permit.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(AppError::internal)
    }
}

/// bcrypt only reads 72 bytes; existing hashes were made from those, so
/// verification truncates the same way.
fn truncated(password: &str) -> &[u8] {
    let bytes = password.as_bytes();
    &bytes[..bytes.len().min(72)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_markers_do_not() {
        let hasher = PasswordHasher::new(4, 1);
        let hash = hasher.hash("goodPassword!123").await.unwrap();
        assert!(
            hasher
                .verify("goodPassword!123", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrongPassword!123", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("goodPassword!123", Some("no_pwd"))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("goodPassword!123", None).await.unwrap());
    }
}
