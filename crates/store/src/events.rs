//! The event log the engine consumes. Every catalogue change and every
//! interaction writes its event inside the transaction of the change. The
//! engine's cursor is a bound on the events' positions ([`Db::event_bound`]):
//! everything below it is final, so nothing committed late is skipped.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use crate::backend::{Bind, Conn, statement};
use crate::log_page::{Log, LogPage};
use crate::{Db, StoreResult, now};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Changed,
    Deletion,
    MetaAdded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "added",
            EventKind::Changed => "changed",
            EventKind::Deletion => "deletion",
            EventKind::MetaAdded => "meta_added",
        }
    }
}

/// An event to write.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub kind: EventKind,
    pub occured_by: Option<i64>,
    pub object_id: i64,
    pub model_name: &'a str,
    pub attribute_name: Option<&'a str>,
    pub new_value: Option<String>,
    /// Upper-case media label of the object, when known.
    pub content_type: Option<&'a str>,
    /// JSON of the inserted values for `added` and `meta_added`.
    pub payload: Option<String>,
}

const EVENT_LOG: Log = Log {
    table: "event",
    id: "id",
    columns: "id, occured_at, occured_by, object_id, kind, model_name, attribute_name, \
              new_value, content_type, payload",
};

/// A stored event.
#[derive(Clone, Debug, FromRow)]
pub struct Event {
    pub id: i64,
    pub occured_at: NaiveDateTime,
    pub occured_by: Option<i64>,
    pub object_id: i64,
    pub kind: String,
    pub model_name: String,
    pub attribute_name: Option<String>,
    pub new_value: Option<String>,
    pub content_type: Option<String>,
    pub payload: Option<String>,
}

/// Writes one event inside the caller's transaction.
pub(crate) async fn write_event(conn: impl Conn, event: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    write_events(conn, std::slice::from_ref(event)).await
}

/// Appends `events` to the log in one statement inside the caller's
/// transaction; nothing for an empty slice.
pub(crate) async fn write_events(
    mut conn: impl Conn,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = crate::dialect::values_insert(
        "INSERT INTO event (occured_at, occured_by, object_id, kind, model_name, attribute_name, new_value, content_type, payload) VALUES ",
        9,
        events.len(),
        "",
    );
    let at = now();
    let mut query = statement(&conn, sqlx::AssertSqlSafe(sql));
    for event in events {
        query = query
            .arg(at)
            .arg(event.occured_by)
            .arg(event.object_id)
            .arg(event.kind.as_str())
            .arg(event.model_name)
            .arg(event.attribute_name)
            .arg(event.new_value.clone())
            .arg(event.content_type)
            .arg(event.payload.clone());
    }
    query.execute(conn.executor()).await?;
    Ok(())
}

impl Db {
    /// The final events from position `from` on, in position order, and
    /// the cursor to read on from (see [`crate::log_page`]).
    pub async fn event_page(&self, from: i64, limit: i64) -> StoreResult<LogPage<Event>> {
        self.log_page(&EVENT_LOG, from, limit).await
    }

    /// The bound below which every event is final: no event positioned
    /// below it can still appear. A run reads it first, consumes the events
    /// below it and leaves its cursor there.
    ///
    /// SQLite has one writer, so ids commit in order: the bound is the next
    /// id. On PostgreSQL an event's position is its writing transaction's
    /// id, and every transaction below the oldest one still running has
    /// ended, committed or not.
    pub async fn event_bound(&self) -> StoreResult<i64> {
        self.log_bound("event", "id").await
    }

    /// [`Db::event_bound`] for a log `table` whose ids are in `id` (the
    /// event log, the audit trail): on SQLite its next id, on PostgreSQL
    /// the oldest running transaction, whatever the table.
    pub(crate) async fn log_bound(&self, table: &str, id: &str) -> StoreResult<i64> {
        match self {
            Db::Sqlite(pool) => {
                let next = format!("SELECT COALESCE(MAX({id}), 0) + 1 FROM {table}");
                let (next,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(next))
                    .fetch_one(pool)
                    .await?;
                Ok(next)
            }
            Db::Postgres(pool) => {
                let (xmin,): (i64,) =
                    sqlx::query_as("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                        .fetch_one(pool)
                        .await?;
                Ok(xmin)
            }
        }
    }

    /// Repairs the positions a `pg_restore` into another cluster brings
    /// along: they and the engines' cursors are the old cluster's
    /// transaction ids, which this cluster may not reach for months, so
    /// every new event would sort below every cursor and never be consumed.
    /// No position of this cluster can be at or past its next transaction
    /// id; when one is, every event is consumed again (one full
    /// recomputation per engine, as after migration 0004). Answers whether
    /// it repaired anything. SQLite positions are ids, which a copied file
    /// keeps consistent.
    pub async fn recover_foreign_event_positions(&self) -> StoreResult<bool> {
        let Db::Postgres(pool) = self else {
            return Ok(false);
        };
        let mut tx = pool.begin().await?;
        // No run moves a cursor while the repair decides: one finishing
        // now would leave its cursor behind the reset.
        sqlx::query("LOCK TABLE engine IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let (next_xid,): (i64,) =
            sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                .fetch_one(&mut *tx)
                .await?;
        let (foreign,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM event WHERE position >= $1) \
             OR EXISTS (SELECT 1 FROM audit WHERE position >= $1) \
             OR EXISTS (SELECT 1 FROM engine WHERE consumed_before > $1)",
        )
        .bind(next_xid)
        .fetch_one(&mut *tx)
        .await?;
        if foreign {
            // The audit trail is read by position too (store/log_page.rs).
            for log in ["event", "audit"] {
                let sql = format!("UPDATE {log} SET position = 0 WHERE position >= $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(next_xid)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE engine SET consumed_before = 0")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(foreign)
    }

    /// The column a log row's position is in: its `id` column on SQLite,
    /// `position` on PostgreSQL (see [`Db::event_bound`]).
    pub(crate) fn position_column(&self, id: &'static str) -> &'static str {
        match self {
            Db::Sqlite(_) => id,
            Db::Postgres(_) => "position",
        }
    }

    /// `position >= $1 AND position < $2` for this backend's position of an
    /// event (see [`Db::event_bound`]).
    pub(crate) fn position_within(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "id >= $1 AND id < $2",
            Db::Postgres(_) => "position >= $1 AND position < $2",
        }
    }
}

/// Python's `str()` rendering of a timestamp, as the original's
/// `changed_event.new_value` (space separator, micros only when non-zero).
pub fn render_time(t: NaiveDateTime) -> String {
    recofinement_domain::time::isoformat(&t, ' ')
}
