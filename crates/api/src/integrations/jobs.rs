//! The bounded background queue of imports (D22): at most one job per user
//! and service waiting or running, at most `workers` running at once, at
//! most `capacity` accepted at all (more are dropped and logged). Each job
//! has its own timeout and logs its outcome (see `External::run_import`).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::Service;

pub struct ImportQueue {
    /// (user, service) of every job waiting or running.
    active: Arc<Mutex<HashSet<(i64, Service)>>>,
    workers: Arc<Semaphore>,
    capacity: usize,
}

/// Spawns on the current runtime; without one (a synchronous caller) the
/// task is dropped with a warning rather than panicking.
pub fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(task);
        }
        Err(_) => tracing::warn!("no async runtime: background import not started"),
    }
}

impl ImportQueue {
    pub fn new(workers: usize, capacity: usize) -> Self {
        ImportQueue {
            active: Arc::new(Mutex::new(HashSet::new())),
            workers: Arc::new(Semaphore::new(workers.max(1))),
            capacity: capacity.max(1),
        }
    }

    /// Accepts the job unless the same one is already waiting or running,
    /// or the queue is full. Returns whether it was accepted.
    pub fn submit(
        &self,
        user_id: i64,
        service: Service,
        job: impl Future<Output = ()> + Send + 'static,
    ) -> bool {
        {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            if active.contains(&(user_id, service)) {
                tracing::debug!(user_id, service = service.name(), "import already queued");
                return false;
            }
            if active.len() >= self.capacity {
                tracing::warn!(
                    user_id,
                    service = service.name(),
                    "import queue full: import skipped"
                );
                return false;
            }
            active.insert((user_id, service));
            metrics::gauge!("recofinement_import_queue_depth").set(active.len() as f64);
        }
        let active = Arc::clone(&self.active);
        let workers = Arc::clone(&self.workers);
        spawn(async move {
            /// Frees the (user, service) slot even if the job panics.
            struct Slot(Arc<Mutex<HashSet<(i64, Service)>>>, (i64, Service));
            impl Drop for Slot {
                fn drop(&mut self) {
                    let mut active = self.0.lock().unwrap_or_else(|p| p.into_inner());
                    active.remove(&self.1);
                    metrics::gauge!("recofinement_import_queue_depth").set(active.len() as f64);
                }
            }
            let _slot = Slot(active, (user_id, service));
            let Ok(_permit) = workers.acquire_owned().await else {
                return;
            };
            job.await;
        });
        true
    }

    /// Jobs waiting or running.
    pub fn len(&self) -> usize {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_job_per_user_and_service() {
        let queue = ImportQueue::new(1, 10);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        assert!(queue.submit(1, Service::Spotify, async move {
            let _ = rx.await;
        }));
        assert!(!queue.submit(1, Service::Spotify, async {}));
        assert!(queue.submit(1, Service::Tmdb, async {}));
        assert!(queue.submit(2, Service::Spotify, async {}));
        tx.send(()).unwrap();
        for _ in 0..100 {
            if queue.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(queue.is_empty());
        assert!(queue.submit(1, Service::Spotify, async {}));
    }
}
