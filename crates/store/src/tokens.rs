//! Token bookkeeping kept in the database so that every instance sharing it
//! agrees: revoked access tokens, single-use password-reset secrets and the
//! login-failure counters of the rate limiter.

use chrono::NaiveDateTime;

use crate::backend::{Bind, Conn, execute, statement};
use crate::changes::ListChange;
use crate::dialect::BeginWrite;
use crate::{Db, StoreResult, now, on_db};

impl Db {
    /// Revokes an access token of `user_id` by its id until it would have
    /// expired anyway.
    pub async fn revoke_token(
        &self,
        user_id: i64,
        jti: &str,
        expires_at: NaiveDateTime,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO revoked_token (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti)
                .bind(expires_at)
                .execute(pool)
                .await?;
            Ok::<_, crate::StoreError>(())
        })?;
        self.announce(ListChange::Account { user_id }).await;
        Ok(())
    }

    /// Stores the hash of a new reset secret for the user.
    pub async fn create_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: NaiveDateTime,
    ) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("INSERT INTO password_reset (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
                .bind(token_hash)
                .bind(user_id)
                .bind(expires_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The user a reset secret belongs to, if it is still usable.
    pub async fn reset_target(&self, token_hash: &str) -> StoreResult<Option<i64>> {
        let now = now();
        on_db!(self, pool => {
            let row: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM password_reset WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(id,)| id))
        })
    }

    /// Consumes a reset secret and sets the new password in one transaction:
    /// the secret is marked used, the hash replaced and the token version
    /// bumped (ending every other session). Returns the user id, or `None`
    /// for an unknown, expired or already used secret.
    pub async fn reset_password(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreResult<Option<i64>> {
        let now = now();
        let user_id = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let user: Option<(i64,)> = sqlx::query_as(
                "UPDATE password_reset SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((user_id,)) = user else { return Ok(None) };
            sqlx::query(
                "UPDATE \"user\" SET password_hash = $2, token_version = token_version + 1 WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
            // Any other outstanding reset link of this user dies with this one.
            void_reset_links(&mut *tx, user_id, now).await?;
            tx.commit().await?;
            Ok::<_, crate::StoreError>(Some(user_id))
        })?;
        if let Some(user_id) = user_id {
            self.announce(ListChange::Account { user_id }).await;
        }
        Ok(user_id)
    }

    /// Counts one attempt in `bucket` and answers the bucket's count and
    /// window start after it, starting a new window when the stored one
    /// began before `window_floor`. One statement, so concurrent attempts
    /// each see a distinct count: a burst cannot slip past the limit.
    pub async fn count_attempt(
        &self,
        bucket: &str,
        window_floor: NaiveDateTime,
    ) -> StoreResult<(i64, NaiveDateTime)> {
        let now = now();
        on_db!(self, pool => Ok(sqlx::query_as(
            "INSERT INTO login_attempt (bucket, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
               failures = CASE WHEN login_attempt.window_start <= $3 THEN 1 ELSE login_attempt.failures + 1 END, \
               window_start = CASE WHEN login_attempt.window_start <= $3 THEN $2 ELSE login_attempt.window_start END \
             RETURNING failures, window_start",
        )
        .bind(bucket)
        .bind(now)
        .bind(window_floor)
        .fetch_one(pool)
        .await?))
    }

    /// Takes back one attempt counted in `bucket` (a login that succeeded).
    pub async fn uncount_attempt(&self, bucket: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("UPDATE login_attempt SET failures = failures - 1 WHERE bucket = $1 AND failures > 0")
                .bind(bucket)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn clear_attempts(&self, bucket: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM login_attempt WHERE bucket = $1").bind(bucket).execute(pool).await?;
            Ok(())
        })
    }
}

/// Marks every reset link of `user_id` not yet used as used at `now`: a
/// completed reset, a new password or a new e-mail address ends them all.
pub(crate) async fn void_reset_links(
    mut conn: impl Conn,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<(), sqlx::Error> {
    let sql = "UPDATE password_reset SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL";
    let query = statement(&conn, sql).arg(user_id).arg(now);
    execute(&mut conn, query).await?;
    Ok(())
}
