//! The one test harness (feature `testing`): fresh databases for every test
//! crate, the [`backend_test!`] macro that runs a scenario on SQLite and on
//! PostgreSQL, and the rule for services a test needs ([`require_service`]):
//! missing under `CI=true` fails the run, elsewhere the skip is counted.

use std::future::Future;
use std::path::PathBuf;

use crate::Db;

/// The two backends a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a [`backend_test!`] scenario receives: a fresh database, or a whole
/// application started on one.
pub trait Fixture: Sized {
    fn start(backend: Backend) -> impl Future<Output = Self> + Send;
}

/// A migrated, empty database; its files (SQLite) or its schema
/// (PostgreSQL) are removed when it is dropped, even after a panic.
pub struct TestDb {
    pub db: Db,
    pub backend: Backend,
    dir: Option<PathBuf>,
    /// PostgreSQL: the server URL and the schema to drop.
    schema: Option<(String, String)>,
}

impl Fixture for TestDb {
    async fn start(backend: Backend) -> Self {
        TestDb::fresh(backend).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, schema)) = self.schema.take() {
            // Drop is synchronous: drop the schema from a thread of its own
            // with its own runtime; a test that left a lock open only costs
            // the schema (the lock timeout bounds the wait).
            let _ = std::thread::spawn(move || drop_schema(&base, &schema)).join();
        }
    }
}

fn drop_schema(base: &str, schema: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        if let Ok(pool) = sqlx::PgPool::connect(base).await {
            let statement =
                format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    });
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let id = uuid::Uuid::new_v4().simple();
        let dir = std::env::temp_dir().join(format!("recofinement-{label}-{id}"));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL URL tests also run on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// Whether a test that needs `service` (named by the environment variable
/// `variable`) can run. Under `CI=true` a missing service fails the test;
/// elsewhere the skip is printed and appended to `TEST_SKIP_LOG` (when set)
/// so that `.ci/run` counts it instead of calling it a pass.
pub fn require_service(test: &str, variable: &str) -> Option<String> {
    if let Some(value) = std::env::var(variable).ok().filter(|v| !v.is_empty()) {
        return Some(value);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {variable} is not set, and CI must run every test"
    );
    eprintln!("skipped {test}: {variable} is not set");
    if let Ok(log) = std::env::var("TEST_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(file, "{test}");
        }
    }
    None
}

/// Whether the PostgreSQL variant of `test` runs (see [`require_service`]).
pub fn postgres_enabled(test: &str) -> bool {
    require_service(test, "TEST_DATABASE_URL").is_some()
}

impl TestDb {
    /// A fresh database of `backend`. PostgreSQL needs `TEST_DATABASE_URL`
    /// (callers check [`postgres_enabled`] first).
    pub async fn fresh(backend: Backend) -> TestDb {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("recofinement-test-{id}"));
                std::fs::create_dir_all(&dir).expect("temporary directory");
                let db = Db::connect(&format!("sqlite://{}/test.db", dir.display()), 8)
                    .await
                    .expect("sqlite");
                db.migrate().await.expect("migrations");
                TestDb {
                    db,
                    backend,
                    dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres => {
                let base = postgres_url().expect("TEST_DATABASE_URL names PostgreSQL");
                let schema = format!("test_{id}");
                create_schema(&base, &schema).await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                let db = Db::connect(&url, 8).await.expect("postgres schema");
                db.migrate().await.expect("migrations");
                TestDb {
                    db,
                    backend,
                    dir: None,
                    schema: Some((base, schema)),
                }
            }
        }
    }

    /// The URL of this database, for a second process or instance on it.
    pub fn url(&self) -> String {
        match (&self.dir, &self.schema) {
            (Some(dir), _) => format!("sqlite://{}/test.db", dir.display()),
            (None, Some((base, schema))) => {
                let separator = if base.contains('?') { '&' } else { '?' };
                format!("{base}{separator}options=-c%20search_path%3D{schema}")
            }
            (None, None) => unreachable!("a test database has a file or a schema"),
        }
    }

    /// Runs statements (fixtures the API cannot create).
    pub async fn sql(&self, statements: &str) {
        let sql = sqlx::AssertSqlSafe(statements.to_string());
        crate::on_db!(&self.db, pool => {
            sqlx::raw_sql(sql).execute(pool).await.expect("fixture SQL");
        })
    }

    /// One integer read from the database.
    pub async fn scalar(&self, query: &str) -> i64 {
        scalar(&self.db, query).await
    }

    /// One nullable number read from the database.
    pub async fn scalar_f64(&self, query: &str) -> Option<f64> {
        let sql = sqlx::AssertSqlSafe(query.to_string());
        crate::on_db!(&self.db, pool => sqlx::query_as::<_, (Option<f64>,)>(sql).fetch_one(pool).await.expect("scalar").0)
    }

    /// One nullable text read from the database.
    pub async fn text(&self, query: &str) -> Option<String> {
        let sql = sqlx::AssertSqlSafe(query.to_string());
        crate::on_db!(&self.db, pool => sqlx::query_as::<_, (Option<String>,)>(sql).fetch_one(pool).await.expect("text").0)
    }

    /// Waits until every committed event (and audit entry) is below the
    /// event bound, so the next engine run consumes it and a log read shows
    /// it. On PostgreSQL the bound is the oldest
    /// running transaction of the whole server, and other tests' open
    /// transactions hold it back for a moment.
    pub async fn settle_events(&self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let newest = self
            .scalar(
                "SELECT GREATEST((SELECT COALESCE(MAX(position), 0) FROM event), \
                 (SELECT COALESCE(MAX(position), 0) FROM audit))",
            )
            .await;
        for _ in 0..1000 {
            if self.db.event_bound().await.expect("event bound") > newest {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the event bound stayed below {newest}");
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT count(*) FROM {table}")).await
    }
}

/// One integer read from `db` (for fixtures that hold only a pool).
pub async fn scalar(db: &Db, query: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(query.to_string());
    crate::on_db!(db, pool => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await.expect("scalar").0)
}

/// Creates `schema` on the server (and, once per process, the `pg_trgm`
/// extension in `public`, before parallel tests race to create it).
async fn create_schema(base: &str, schema: &str) {
    static EXTENSION: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let admin = sqlx::PgPool::connect(base).await.expect("postgres");
    EXTENSION
        .get_or_init(|| async {
            sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                .execute(&admin)
                .await
                .expect("pg_trgm");
        })
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("schema");
    admin.close().await;
}

/// Declares a test run once per backend: `name::sqlite` and `name::postgres`
/// (the latter needs `TEST_DATABASE_URL`; see [`require_service`]). The
/// scenario receives a fresh [`TestDb`], or any other [`Fixture`] named by
/// its type: `backend_test!(name, |app: TestApp| { … })`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, |$fixture:ident| $body:block) => {
        $crate::backend_test!($name, |$fixture: $crate::testing::TestDb| $body);
    };
    ($name:ident, |$fixture:ident : $ty:ty| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($fixture: $ty) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let fixture =
                    <$ty as $crate::testing::Fixture>::start($crate::testing::Backend::Sqlite).await;
                scenario(fixture).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::testing::postgres_enabled(concat!(module_path!(), "::postgres")) {
                    let fixture =
                        <$ty as $crate::testing::Fixture>::start($crate::testing::Backend::Postgres).await;
                    scenario(fixture).await;
                }
            }
        }
    };
}
