//! The pools a process opens beside its main one, on the same database and
//! with the same options: for work that must not queue for a connection
//! behind the requests, and for batch reads that are slow by design.

use std::time::Duration;

use crate::Db;

/// When sqlx warns of a slow statement: a request's (sqlx's default) and a
/// batch read's (see [`Db::batch_pool`]).
pub const REQUEST_SLOW_STATEMENT: Duration = Duration::from_secs(1);
pub const BATCH_SLOW_STATEMENT: Duration = Duration::from_secs(60);

impl Db {
    /// A small pool of its own on the same database (same options,
    /// connections opened when first needed), for work that must not queue
    /// for a connection behind this pool's other users.
    pub fn own_pool(&self, connections: u32) -> Db {
        self.pool_beside(connections, REQUEST_SLOW_STATEMENT)
    }

    /// [`Db::own_pool`] for batch reads whose statements take seconds by
    /// design (the engine snapshot of a large set): sqlx's slow-statement
    /// warning, meant for requests, would print each of them with its
    /// thousand placeholders, so it waits for [`BATCH_SLOW_STATEMENT`].
    pub fn batch_pool(&self, connections: u32) -> Db {
        self.pool_beside(connections, BATCH_SLOW_STATEMENT)
    }

    fn pool_beside(&self, connections: u32, slow: Duration) -> Db {
        fn beside<DB: sqlx::Database>(
            pool: &sqlx::Pool<DB>,
            connections: u32,
            slow: Duration,
        ) -> sqlx::Pool<DB> {
            use sqlx::ConnectOptions;
            let options = (*pool.connect_options())
                .clone()
                .log_slow_statements(log::LevelFilter::Warn, slow);
            sqlx::pool::PoolOptions::<DB>::new()
                .max_connections(connections)
                .connect_lazy_with(options)
        }
        match self {
            Db::Sqlite(pool) => Db::Sqlite(beside(pool, connections, slow)),
            Db::Postgres(pool) => Db::Postgres(beside(pool, connections, slow)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, OnceLock};

    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};

    use super::*;
    use crate::on_db;

    /// The statements sqlx warned about as slow, in this test binary.
    fn slow_warnings() -> Arc<Mutex<Vec<String>>> {
        static SEEN: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
        SEEN.get_or_init(|| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let subscriber = tracing_subscriber::registry().with(SlowWarnings(seen.clone()));
            tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
            seen
        })
        .clone()
    }

    struct SlowWarnings(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for SlowWarnings {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let meta = event.metadata();
            if meta.target() == "sqlx::query" && *meta.level() == tracing::Level::WARN {
                let mut fields = String::new();
                event.record(
                    &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                        fields.push_str(&format!("{}={value:?} ", field.name()));
                    },
                );
                self.0.lock().unwrap().push(fields);
            }
        }
    }

    /// Runs `UPDATE … /* marker */` through `pool` while another connection
    /// holds the row for 1.3 s (a write lock on SQLite, a row lock on
    /// PostgreSQL): a statement that is slow on both databases alike.
    async fn slow_update(db: &Db, pool: Db, marker: &str) {
        let sql = format!("UPDATE slow_probe SET n = n + 1 WHERE id = 1 /* {marker} */");
        on_db!(db, main => {
            let mut holder = main.begin().await.unwrap();
            sqlx::query("UPDATE slow_probe SET n = 0 WHERE id = 1")
                .execute(&mut *holder)
                .await
                .unwrap();
            let waiter = tokio::spawn(async move {
                on_db!(&pool, side => {
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(side).await.unwrap();
                });
            });
            tokio::time::sleep(Duration::from_millis(1_300)).await;
            holder.commit().await.unwrap();
            waiter.await.unwrap();
        });
    }

    crate::backend_test!(batch_reads_are_not_slow_requests, |fresh| {
        let seen = slow_warnings();
        let db = &fresh.db;
        on_db!(db, pool => {
            sqlx::query("CREATE TABLE slow_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
                .execute(pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO slow_probe (id, n) VALUES (1, 0)")
                .execute(pool)
                .await
                .unwrap();
        });
        let (request, batch) = (
            format!("request-{:?}", fresh.backend),
            format!("batch-{:?}", fresh.backend),
        );
        slow_update(db, db.own_pool(1), &request).await;
        slow_update(db, db.batch_pool(1), &batch).await;
        let warned = seen.lock().unwrap().clone();
        assert!(warned.iter().any(|w| w.contains(&request)), "{warned:?}");
        assert!(!warned.iter().any(|w| w.contains(&batch)), "{warned:?}");
    });
}
