//! The database layer. One SQL code path serves SQLite and PostgreSQL: every
//! query is written once in the dialect both accept (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`) and run on whichever pool [`Db`] holds through
//! the [`on_db!`] macro; the few real differences live in [`dialect`].
//!
//! Owns every query, the migrations (`migrations/{sqlite,postgres}`), the
//! transactions that keep a change and its events together, the engine's
//! event log and the change notices; must not know HTTP (no axum, no JSON
//! envelopes, no OpenAPI schemas, no wire formats of times): it returns
//! typed rows, and `api` maps them to the shapes the client reads. Feature
//! `testing` gives other crates fresh test databases.

pub mod audit;
pub mod backend;
pub mod catalogue;
pub mod changes;
pub mod dataset;
pub mod dataset_export;
pub mod dialect;
pub mod engine_io;
pub mod engine_lock;
pub mod engine_params;
pub mod engine_runs;
pub mod error;
pub mod events;
pub mod external;
pub mod forced_runs;
pub mod groups;
pub mod interactions;
mod listing;
pub mod log_page;
mod new_item;
pub mod overview;
pub mod pools;
pub mod profiles;
pub mod retention;
pub mod submissions;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::StoreError;

/// Result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The current time as the naive UTC wall-clock value the schema stores,
/// at the microsecond precision both databases keep.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// The file of a `sqlite://FILE?options` URL; `None` for another scheme or
/// an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// `at` as the naive UTC wall-clock value the schema stores.
pub fn naive_utc(at: std::time::SystemTime) -> chrono::NaiveDateTime {
    chrono::DateTime::<chrono::Utc>::from(at).naive_utc()
}

/// A connection pool on one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool `$db` holds. The body is compiled
/// once per backend, so a query is written once and checked for both.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Which backend a database URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Reads the scheme of a database URL; anything else is refused so that a
    /// typo never silently creates an empty database somewhere.
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(StoreError::Config(format!(
                "unsupported database URL scheme {other:?}: use sqlite://FILE or postgres://USER@HOST/DB"
            ))),
        }
    }
}

/// Level of the event sqlx emits for every pool acquisition (target
/// [`POOL_ACQUIRE_TARGET`], field `acquired_after_secs`): the only place the
/// time spent waiting for a connection is visible. At TRACE it costs nothing
/// unless a subscriber asks for it (the metrics layer does).
const ACQUIRE_EVENT_LEVEL: log::LevelFilter = log::LevelFilter::Trace;

/// `tracing` target of sqlx's pool acquisition events.
pub const POOL_ACQUIRE_TARGET: &str = "sqlx::pool::acquire";

/// How long a request waits for a PostgreSQL connection. While the server
/// is down sqlx retries a refused connection until this deadline, so it is
/// also how long a request takes to get its 503: short enough that clients
/// are not left hanging, long enough that a saturated but healthy pool
/// (every connection busy for a few hundred milliseconds) still serves.
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

impl Db {
    /// Connects to `url`. A SQLite file is created when missing, but only in
    /// a directory that exists.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        match Backend::from_url(url)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .acquire_time_level(ACQUIRE_EVENT_LEVEL)
                    .connect_with(options)
                    .await
                    .map_err(|e| {
                        StoreError::Config(format!("cannot open SQLite database {url}: {e}"))
                    })?;
                Ok(Db::Sqlite(pool))
            }
            Backend::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .acquire_time_level(ACQUIRE_EVENT_LEVEL)
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(|e| {
                        StoreError::Config(format!("cannot connect to PostgreSQL: {e}"))
                    })?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend (idempotent; the seed
    /// rows of roles and permissions use `ON CONFLICT DO NOTHING`), then
    /// repairs event positions restored from another cluster, which every
    /// process start passes through.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        if self.recover_foreign_event_positions().await? {
            tracing::warn!(
                "event positions came from another PostgreSQL cluster (a pg_restore?): \
                 every engine consumes every event once more"
            );
        }
        Ok(())
    }

    /// Cheap reachability probe for `/health`.
    pub async fn ping(&self) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Whether every embedded migration of this backend is applied (the
    /// readiness probe: an instance on an older schema is not ready).
    pub async fn migrations_current(&self) -> StoreResult<bool> {
        let sql = "SELECT version FROM _sqlx_migrations WHERE success";
        let (migrator, applied): (sqlx::migrate::Migrator, Vec<(i64,)>) = match self {
            Db::Sqlite(pool) => (
                sqlx::migrate!("./migrations/sqlite"),
                sqlx::query_as(sql).fetch_all(pool).await?,
            ),
            Db::Postgres(pool) => (
                sqlx::migrate!("./migrations/postgres"),
                sqlx::query_as(sql).fetch_all(pool).await?,
            ),
        };
        Ok(migrator
            .iter()
            .all(|m| applied.iter().any(|(version,)| *version == m.version)))
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

impl Db {
    /// The installation setting `name`, if stored.
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        on_db!(self, pool => {
            let row: Option<(String,)> = sqlx::query_as("SELECT value FROM app_setting WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|(v,)| v))
        })
    }

    pub async fn delete_setting(&self, name: &str) -> StoreResult<()> {
        on_db!(self, pool => {
            sqlx::query("DELETE FROM app_setting WHERE name = $1").bind(name).execute(pool).await?;
            Ok(())
        })
    }
}
