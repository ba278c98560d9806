//! "Exactly one engine scheduler at a time" across processes. On
//! PostgreSQL a session advisory lock held on a dedicated connection: when
//! the holder dies its connection closes, the lock is released and another
//! instance takes it at its next attempt. SQLite serves one process, which
//! always holds it.
//!
//! A lock alone does not stop a holder that lost it mid-run from writing
//! afterwards (its connection dropped, it has not noticed yet). So each new
//! holder bumps the generation in `engine_fence` and every engine write
//! transaction checks, with the row locked, that the generation is still
//! the one its run started under ([`Fence`], checked in `engine_io`): a
//! stale scheduler's write is refused, not committed.

use sqlx::Connection;

use crate::{Db, StoreResult};

/// Advisory lock key of the engine scheduler ("RECO" in ASCII).
const ENGINE_LOCK_KEY: i64 = 0x5245_434f;

/// The scheduler generation a holder of the lock writes under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence {
    pub generation: i64,
}

/// The held lock; dropping it releases it (the connection closes).
pub struct EngineLock {
    connection: Option<sqlx::PgConnection>,
    fence: Option<Fence>,
    backend_pid: Option<i32>,
}

impl EngineLock {
    /// Whether the lock is still held (its connection still answers).
    pub async fn alive(&mut self) -> bool {
        match &mut self.connection {
            None => true,
            Some(conn) => conn.ping().await.is_ok(),
        }
    }

    /// The fence this holder's engine writes must carry (none on SQLite,
    /// where one process is the only writer).
    pub fn fence(&self) -> Option<Fence> {
        self.fence
    }

    /// The PostgreSQL backend holding the lock (tests terminate it).
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_pid
    }
}

impl Db {
    /// Takes the scheduler lock if no other process holds it, and bumps
    /// the fence so that a previous holder can no longer write.
    pub async fn try_engine_lock(&self) -> StoreResult<Option<EngineLock>> {
        match self {
            Db::Sqlite(_) => Ok(Some(EngineLock {
                connection: None,
                fence: None,
                backend_pid: None,
            })),
            Db::Postgres(pool) => {
                let options = pool.connect_options();
                let mut connection = sqlx::PgConnection::connect_with(&options).await?;
                let (taken,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(ENGINE_LOCK_KEY)
                    .fetch_one(&mut connection)
                    .await?;
                if taken {
                    // Waits for a stale holder's write in progress (it holds
                    // the fence row shared) to end, then refuses its next one.
                    let (generation, pid): (i64, i32) = sqlx::query_as(
                        "INSERT INTO engine_fence (id, generation) VALUES (1, 1) \
                         ON CONFLICT (id) DO UPDATE SET generation = engine_fence.generation + 1 \
                         RETURNING generation, pg_backend_pid()",
                    )
                    .fetch_one(&mut connection)
                    .await?;
                    Ok(Some(EngineLock {
                        connection: Some(connection),
                        fence: Some(Fence { generation }),
                        backend_pid: Some(pid),
                    }))
                } else {
                    let _ = connection.close().await;
                    Ok(None)
                }
            }
        }
    }
}
