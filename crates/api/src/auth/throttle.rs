//! Login throttling per account and per client, counted in the database so
//! that every instance sharing it enforces the same limits.

use chrono::NaiveDateTime;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub struct LoginThrottle<'a> {
    state: &'a AppState,
    buckets: [(String, i64); 2],
    floor: NaiveDateTime,
}

impl<'a> LoginThrottle<'a> {
    pub fn new(state: &'a AppState, email: &str, client: &str) -> Self {
        let window = chrono::Duration::from_std(state.config.login_window)
            .unwrap_or(chrono::Duration::minutes(15));
        LoginThrottle {
            state,
            buckets: [
                (
                    format!("account:{email}"),
                    state.config.login_max_failures_per_account,
                ),
                (
                    format!("client:{client}"),
                    state.config.login_max_failures_per_client,
                ),
            ],
            floor: recofinement_store::now() - window,
        }
    }

    /// Refuses with 429 and `Retry-After` while either bucket is full.
    pub async fn check(&self) -> AppResult<()> {
        for (bucket, limit) in &self.buckets {
            if let Some((failures, start)) =
                self.state.db.login_failures(bucket, self.floor).await?
                && failures >= *limit
            {
                let retry_after = (start - self.floor).num_seconds().max(1) as u64;
                return Err(AppError::TooMany { retry_after });
            }
        }
        Ok(())
    }

    pub async fn failed(&self) -> AppResult<()> {
        for (bucket, _) in &self.buckets {
            self.state
                .db
                .record_login_failure(bucket, self.floor)
                .await?;
        }
        Ok(())
    }

    /// A successful login clears the account's counter (not the client's).
    pub async fn succeeded(&self) -> AppResult<()> {
        Ok(self
            .state
            .db
            .clear_login_failures(&self.buckets[0].0)
            .await?)
    }
}
