//! The engine scheduler of `serve` and `engine worker`: one instance at a
//! time holds the engine lock and runs the engines, scheduled and forced,
//! under its fence; the others wait to take over.

use std::sync::Arc;
use std::time::Duration;

use recofinement_store::Db;
use recofinement_store::engine_lock::EngineLock;

use crate::engine_runner::{ALL_ENGINES, EngineRunner};

/// The background loop: holds the scheduler lock (one scheduler across
/// instances), then every `tick`, or sooner when woken, runs the engines
/// that have work. An instance without the lock retries every second, so it
/// takes over soon after the holder dies. While waiting for the next run the
/// holder checks its lock every second: when the database restarts, the
/// lock's connection dies with it, and the loop goes back to taking the lock
/// as soon as the server answers again (instead of finding out a whole tick
/// later, or running the engines without the lock).
pub async fn run(
    db: Db,
    runner: Arc<EngineRunner>,
    wake: Arc<tokio::sync::Notify>,
    tick: Duration,
) {
    let retry = Duration::from_secs(1);
    let mut announced_wait = false;
    // Ratings made on instances that did not train reach this one's fold-ins.
    tokio::spawn(runner.clone().follow_interactions());
    loop {
        runner.set_scheduler_role(false);
        let mut lock = match db.try_engine_lock().await {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tokio::time::sleep(retry).await;
                continue;
            }
            Err(error) => {
                // Logged once per outage, not every second.
                if !announced_wait {
                    tracing::warn!(%error, "engine scheduler: cannot take the lock; retrying every second");
                    announced_wait = true;
                }
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        announced_wait = false;
        tracing::info!("engine scheduler: this instance runs the engines");
        runner.set_fence(lock.fence());
        runner.set_scheduler_role(true);
        loop {
            if !lock_alive(&mut lock).await {
                tracing::warn!("engine scheduler: lost the lock");
                break;
            }
            if let Err(error) = runner.serve_forced_runs().await {
                tracing::error!(error = format!("{error:#}"), "forced engine run failed");
            }
            if let Err(error) = runner.run(&ALL_ENGINES, false).await {
                tracing::error!(error = format!("{error:#}"), "engine run failed");
            }
            if runner.is_shut_down() {
                return;
            }
            if !wait_holding(&mut lock, &wake, tick, &db).await {
                tracing::warn!("engine scheduler: lost the lock");
                break;
            }
        }
    }
}

/// How often a waiting scheduler checks that it still holds its lock.
const LOCK_CHECK: Duration = Duration::from_secs(1);

/// Whether the lock's connection still answers; a ping that hangs (a
/// server that vanished without closing the socket) counts as lost.
async fn lock_alive(lock: &mut EngineLock) -> bool {
    tokio::time::timeout(Duration::from_secs(2), lock.alive())
        .await
        .unwrap_or(false)
}

/// Waits `tick`, or until woken (then half a second more, to gather the
/// events of a burst), checking every second the lock and the forced runs
/// asked for on other instances; `false` as soon as the lock is lost.
async fn wait_holding(
    lock: &mut EngineLock,
    wake: &tokio::sync::Notify,
    tick: Duration,
    db: &Db,
) -> bool {
    let deadline = tokio::time::Instant::now() + tick;
    loop {
        let step = deadline.min(tokio::time::Instant::now() + LOCK_CHECK);
        tokio::select! {
            _ = tokio::time::sleep_until(step) => {}
            _ = wake.notified() => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return true;
        }
        if !lock_alive(lock).await {
            return false;
        }
        if db
            .forced_runs_waiting()
            .await
            .is_ok_and(|waiting| !waiting.is_empty())
        {
            return true;
        }
    }
}
