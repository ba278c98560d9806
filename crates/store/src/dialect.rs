//! The few places where SQLite and PostgreSQL really differ. Everything else
//! is shared SQL.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::{Postgres, Sqlite, Transaction};

use crate::{Db, StoreResult};

/// Begins a transaction that will write. SQLite must take its write lock up
/// front (`BEGIN IMMEDIATE`): a deferred transaction that reads then writes
/// can fail with SQLITE_BUSY instead of waiting. PostgreSQL locks rows as it
/// goes.
pub trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = StoreResult<WriteTx<Self::Database>>> + Send;
}

/// A write transaction; used like sqlx's (`&mut *tx` is its connection,
/// `commit` ends it, dropping it rolls back). On SQLite it also holds the
/// file's writer turn: the writers of a process queue for it in order
/// instead of polling SQLite's busy handler, whose sleeps (up to 100 ms
/// each) made the tail latency of concurrent writes. SQLite has one writer
/// at a time anyway; the queue only makes the wait fair and prompt.
pub struct WriteTx<DB: sqlx::Database> {
    tx: Transaction<'static, DB>,
    /// Released after the transaction (fields drop in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// The writer turn of a SQLite file, shared by every pool of the process
/// on that file.
fn writer_turn(pool: &sqlx::SqlitePool) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut turns = TURNS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    turns.entry(file).or_default().clone()
}

impl BeginWrite for sqlx::SqlitePool {
    type Database = Sqlite;
    async fn begin_write(&self) -> StoreResult<WriteTx<Sqlite>> {
        // The connection first, then the turn: a writer that took the turn
        // and then queued for a pooled connection behind the API's reads
        // held every other writer (and the fold-ins of the collaborative
        // list) for that queue, so writes ran at the pool's pace. No code
        // asks the pool for a second connection inside a write transaction.
        let connection = self.acquire().await?;
        let turn = writer_turn(self).lock_owned().await;
        let begin = sqlx::SqlStr::from_static("BEGIN IMMEDIATE");
        Ok(WriteTx {
            tx: Transaction::begin(connection, Some(begin)).await?,
            _turn: Some(turn),
        })
    }
}

impl BeginWrite for sqlx::PgPool {
    type Database = Postgres;
    async fn begin_write(&self) -> StoreResult<WriteTx<Postgres>> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _turn: None,
        })
    }
}

impl Db {
    /// The condition an item's search `field` meets for `term`: `$1` is
    /// the lower-cased `%term%` pattern, `$5` the FTS5 phrase where one is
    /// used. PostgreSQL's trigram index serves the `LIKE` itself. On SQLite,
    /// `lower()` and `LIKE` fold only ASCII ("école" would miss "École")
    /// while the FTS5 trigram table folds every alphabet and matches
    /// substrings: terms of three or more characters (its least) ask it
    /// alone; shorter ones scan.
    pub fn search_filter(
        &self,
        spec: &recofinement_domain::media::MediaSpec,
        field: &str,
        term: &str,
    ) -> SearchFilter {
        match self {
            Db::Sqlite(_) if term.chars().count() >= 3 => SearchFilter {
                sql: format!(
                    "m.content_id IN (SELECT rowid FROM {0}_search WHERE {0}_search MATCH $5)",
                    spec.table
                ),
                phrase: Some(fts_phrase(term)),
            },
            _ => SearchFilter {
                sql: format!("lower({field}) LIKE $1 ESCAPE '\\'"),
                phrase: None,
            },
        }
    }
}

/// A search condition, and the FTS5 phrase it binds as `$5` (if any).
pub struct SearchFilter {
    pub sql: String,
    pub phrase: Option<String>,
}

/// An FTS5 phrase matching `term` literally.
pub fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
pub fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `prefix ($1, $2…), (…), … suffix`: `rows` tuples of `columns` numbered
/// placeholders, for a multi-row insert in one statement.
pub(crate) fn values_insert(prefix: &str, columns: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::from(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * columns + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(escape_like("plain"), "plain");
    }

    #[test]
    fn values_insert_numbers_every_placeholder() {
        assert_eq!(
            super::values_insert("INSERT INTO t VALUES ", 2, 2, ""),
            "INSERT INTO t VALUES ($1, $2), ($3, $4)"
        );
    }
}
