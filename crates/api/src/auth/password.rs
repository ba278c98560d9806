//! bcrypt off the async reactor, on threads of its own: as many as the
//! machine has cores, at a lower scheduling priority than the request
//! handlers, so a burst of logins queues here and takes a smaller share of
//! a busy machine than the reads instead of slowing every other request.
//! New hashes (registrations, password changes) have their own single
//! slot, so a flood of them never takes bcrypt time from logins.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

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
    /// The bcrypt threads, started by the first computation.
    threads: Arc<OnceLock<BcryptThreads>>,
    concurrency: usize,
    /// Scheduling niceness of the bcrypt threads (Linux; 0 is the request
    /// handlers' own, 19 the lowest).
    niceness: i32,
}

impl PasswordHasher {
    pub fn new(cost: u32, concurrency: usize) -> Self {
        PasswordHasher {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            hash_permits: Arc::new(Semaphore::new(1)),
            dummy: Arc::default(),
            threads: Arc::default(),
            concurrency: concurrency.max(1),
            niceness: DEFAULT_BCRYPT_NICENESS,
        }
    }

    /// Runs bcrypt at `niceness` (clamped to 0..=19: bcrypt never goes
    /// before the request handlers) instead of the default.
    pub fn with_niceness(mut self, niceness: i32) -> Self {
        self.niceness = niceness.clamp(0, 19);
        self
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let cost = self.cost;
        let password = password.to_owned();
        let work = move || bcrypt::hash(truncated(&password), cost).map_err(AppError::internal);
        self.run(&self.hash_permits, work).await?
    }

    /// Verifies a password; a stored value that is not a bcrypt hash (such as
    /// the datasets' `no_pwd`) simply fails (D24).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<bool> {
        let usable = stored.filter(|h| h.starts_with("$2")).map(str::to_owned);
        let password = password.to_owned();
        let (dummy, cost) = (self.dummy.clone(), self.cost);
        self.run(&self.permits, move || {
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
        &self,
        permits: &Semaphore,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let waiting = metrics::gauge!("recofinement_bcrypt_waiting");
        waiting.increment(1.0);
        let permit = permits.acquire().await;
        waiting.decrement(1.0);
        let _permit = permit.map_err(AppError::internal)?;
        let threads = self
            .threads
            .get_or_init(|| BcryptThreads::start(self.concurrency, self.niceness));
        let (answer, answered) = tokio::sync::oneshot::channel();
        threads.submit(Box::new(move || {
            let _ = answer.send(f());
        }))?;
        answered
            .await
            .map_err(|_| AppError::internal(anyhow::anyhow!("a bcrypt thread stopped")))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run bcrypt jobs; they end when the last sender is dropped.
struct BcryptThreads {
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// Default niceness of the bcrypt threads: the request handlers (niceness
/// 0) weigh more when both want the CPU. Measured on 2 cores with reads
/// saturating them (`SCENARIOS=logins bash bench/api_load.sh`): niceness 10
/// let 2.5 logins/s through, 2 lets 3.9/s, while the reads' p99 stays
/// near 20 ms (the target is 50 ms); alone, logins run at 8/s.
pub const DEFAULT_BCRYPT_NICENESS: i32 = 2;

impl BcryptThreads {
    fn start(count: usize, niceness: i32) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..count {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority(niceness);
                    loop {
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a bcrypt thread");
            }
        }
        BcryptThreads {
            jobs: Mutex::new(jobs),
        }
    }

    fn submit(&self, job: Job) -> AppResult<()> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.send(job)
            .map_err(|_| AppError::internal(anyhow::anyhow!("no bcrypt thread is running")))
    }
}

/// Lowers the calling thread's scheduling priority (on Linux, niceness is
/// per thread).
fn lower_priority(niceness: i32) {
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the
    // calling thread.
    unsafe {
        if libc::setpriority(libc::PRIO_PROCESS, 0, niceness) != 0 {
            tracing::debug!("cannot lower the bcrypt threads' priority");
        }
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

    #[tokio::test]
    async fn bcrypt_runs_on_its_own_threads_below_the_request_handlers() {
        let hasher = PasswordHasher::new(4, 2).with_niceness(7);
        let permits = Semaphore::new(1);
        let (name, niceness) = hasher
            .run(&permits, || {
                let name = std::thread::current().name().map(str::to_string);
                // SAFETY: getpriority only reads its integer arguments.
                let niceness = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                (name, niceness)
            })
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("bcrypt-")));
        assert_eq!(niceness, 7);
    }
}
