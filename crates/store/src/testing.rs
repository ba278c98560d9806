//! Fresh databases for tests (feature `testing`): a SQLite file in a
//! temporary directory, or a new schema on the PostgreSQL server named by
//! `TEST_DATABASE_URL`. Every test crate uses these instead of its own.

use std::path::PathBuf;

use crate::Db;

/// The two backends a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that cleans up its files when dropped.
pub struct TestDb {
    pub db: Db,
    pub backend: Backend,
    dir: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The PostgreSQL URL tests should also run on, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

impl TestDb {
    /// A fresh database of `backend`; `None` for PostgreSQL when no server is configured.
    pub async fn fresh(backend: Backend) -> Option<TestDb> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("recofinement-test-{id}"));
                std::fs::create_dir_all(&dir).expect("temporary directory");
                let db = Db::connect(&format!("sqlite://{}/test.db", dir.display()), 8)
                    .await
                    .expect("sqlite");
                db.migrate().await.expect("migrations");
                Some(TestDb {
                    db,
                    backend,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let base = postgres_url()?;
                let schema = format!("test_{id}");
                let admin = Db::connect(&base, 1).await.expect("postgres");
                if let Db::Postgres(pool) = &admin {
                    // Extensions are per database: install pg_trgm once, in
                    // `public`, before parallel tests race to create it.
                    static EXTENSION: tokio::sync::OnceCell<()> =
                        tokio::sync::OnceCell::const_new();
                    EXTENSION
                        .get_or_init(|| async {
                            sqlx::query(
                                "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
                            )
                            .execute(pool)
                            .await
                            .expect("pg_trgm");
                        })
                        .await;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                        .execute(pool)
                        .await
                        .expect("schema");
                }
                admin.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                let db = Db::connect(&url, 8).await.expect("postgres schema");
                db.migrate().await.expect("migrations");
                Some(TestDb {
                    db,
                    backend,
                    dir: None,
                })
            }
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
        let sql = sqlx::AssertSqlSafe(query.to_string());
        crate::on_db!(&self.db, pool => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await.expect("scalar").0)
    }
}

/// Declares a test run once per backend: `name::sqlite` always and
/// `name::postgres` when TEST_DATABASE_URL names PostgreSQL. The body gets
/// a fresh `TestDb`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($db: $crate::testing::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::fresh($crate::testing::Backend::Sqlite).await.expect("sqlite");
                scenario(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::testing::TestDb::fresh($crate::testing::Backend::Postgres).await {
                    scenario(db).await;
                }
            }
        }
    };
}
