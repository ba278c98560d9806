//! "Exactly one engine scheduler at a time" across processes. On
//! PostgreSQL a session advisory lock held on a dedicated connection: when
//! the holder dies its connection closes, the lock is released and another
//! instance takes it at its next attempt. SQLite serves one process, which
//! always holds it.

use sqlx::Connection;

use crate::{Db, StoreResult};

/// Advisory lock key of the engine scheduler ("RECO" in ASCII).
const ENGINE_LOCK_KEY: i64 = 0x5245_434f;

/// The held lock; dropping it releases it (the connection closes).
pub struct EngineLock {
    connection: Option<sqlx::PgConnection>,
}

impl EngineLock {
    /// Whether the lock is still held (its connection still answers).
    pub async fn alive(&mut self) -> bool {
        match &mut self.connection {
            None => true,
            Some(conn) => conn.ping().await.is_ok(),
        }
    }
}

impl Db {
    /// Takes the scheduler lock if no other process holds it.
    pub async fn try_engine_lock(&self) -> StoreResult<Option<EngineLock>> {
        match self {
            Db::Sqlite(_) => Ok(Some(EngineLock { connection: None })),
            Db::Postgres(pool) => {
                let options = pool.connect_options();
                let mut connection = sqlx::PgConnection::connect_with(&options).await?;
                let (taken,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(ENGINE_LOCK_KEY)
                    .fetch_one(&mut connection)
                    .await?;
                if taken {
                    Ok(Some(EngineLock {
                        connection: Some(connection),
                    }))
                } else {
                    let _ = connection.close().await;
                    Ok(None)
                }
            }
        }
    }
}
