//! What the scheduler deletes so that tables do not grow forever: events
//! every engine has consumed and that are older than the retention period,
//! expired revocations, reset secrets and OAuth states, finished throttling
//! windows and old import records; and sandbox runs a stopped instance left
//! marked running are marked interrupted. Deletes run in small batches,
//! each its own short statement, so they never hold locks long.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::{Db, StoreResult, now, on_db};

/// Rows deleted per statement.
const BATCH: i64 = 1000;
/// The pause between two batches, for the writers waiting.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// How long things are kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Consumed events and finished import records older than this go.
    pub keep: Duration,
    /// Throttling counters whose window ended go.
    pub throttle_window: Duration,
    /// Sandbox runs still marked running after this long were left by a
    /// stopped instance (a live one times them out sooner): interrupted.
    pub sandbox_timeout: Duration,
}

/// How many rows a purge deleted, per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub events: u64,
    pub expired: u64,
    pub attempts: u64,
    pub imports: u64,
    pub interrupted_runs: u64,
}

impl Db {
    /// Deletes what `retention` no longer keeps.
    pub async fn purge(&self, retention: Retention) -> StoreResult<PurgeReport> {
        let cutoff = before(retention.keep);
        Ok(PurgeReport {
            events: self.purge_consumed_events(cutoff).await?,
            expired: self.purge_expired_tokens().await? + self.purge_expired_states().await?,
            attempts: self.purge_attempts(retention.throttle_window).await?,
            imports: self.purge_finished_imports(cutoff).await?,
            // A start marks those its own stop left, but only the old
            // enough ones on PostgreSQL (others may run elsewhere): a quick
            // restart left the rest running for good.
            interrupted_runs: self
                .interrupt_stale_runs(before(retention.sandbox_timeout))
                .await?,
        })
    }

    /// Events below every engine's cursor and older than `cutoff`. With no
    /// engine cursor yet nothing has been consumed, so nothing goes.
    async fn purge_consumed_events(&self, cutoff: NaiveDateTime) -> StoreResult<u64> {
        let position = self.position_column("id");
        let sql = format!(
            "DELETE FROM event WHERE id IN (SELECT id FROM event \
             WHERE occured_at < $1 AND {position} < (SELECT MIN(consumed_before) FROM engine) \
             ORDER BY id LIMIT {BATCH})"
        );
        self.delete_in_batches(&sql, cutoff).await
    }

    /// Revocations of tokens that have expired (they are refused for their
    /// expiry anyway) and reset secrets past their lifetime.
    async fn purge_expired_tokens(&self) -> StoreResult<u64> {
        let revocations = format!(
            "DELETE FROM revoked_token WHERE id IN (SELECT id FROM revoked_token \
             WHERE expires_at < $1 LIMIT {BATCH})"
        );
        let resets = format!(
            "DELETE FROM password_reset WHERE token_hash IN (SELECT token_hash \
             FROM password_reset WHERE expires_at < $1 LIMIT {BATCH})"
        );
        Ok(self.delete_in_batches(&revocations, now()).await?
            + self.delete_in_batches(&resets, now()).await?)
    }

    /// Throttling counters whose `window` is over (they restart at their
    /// next attempt anyway), so random e-mails and addresses cannot grow the
    /// table without bound.
    pub async fn purge_attempts(&self, window: Duration) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM login_attempt WHERE bucket IN (SELECT bucket FROM login_attempt \
             WHERE window_start <= $1 LIMIT {BATCH})"
        );
        self.delete_in_batches(&sql, before(window)).await
    }

    /// OAuth states nobody used within their ten minutes.
    async fn purge_expired_states(&self) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM external_oauth_state WHERE state_hash IN (SELECT state_hash \
             FROM external_oauth_state WHERE expires_at < $1 LIMIT {BATCH})"
        );
        self.delete_in_batches(&sql, now()).await
    }

    /// Import records that finished before `cutoff`.
    async fn purge_finished_imports(&self, cutoff: NaiveDateTime) -> StoreResult<u64> {
        let sql = format!(
            "DELETE FROM external_import WHERE import_id IN (SELECT import_id \
             FROM external_import WHERE finished_at < $1 ORDER BY import_id LIMIT {BATCH})"
        );
        self.delete_in_batches(&sql, cutoff).await
    }

    /// Runs `sql` (deleting at most one batch, bound to `at`) until a batch
    /// comes back short, pausing between batches: on SQLite a writer that
    /// waits for the lock polls, and a purge that took it again at once
    /// could keep the API's writes waiting until they time out.
    async fn delete_in_batches(&self, sql: &str, at: NaiveDateTime) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let deleted = on_db!(self, pool => sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected());
            total += deleted;
            if deleted < BATCH as u64 {
                return Ok(total);
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
}

/// The time `age` ago (the epoch's start when that underflows).
fn before(age: Duration) -> NaiveDateTime {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| now().checked_sub_signed(age))
        .unwrap_or_default()
}
