//! The few places where SQLite and PostgreSQL really differ. Everything else
//! is shared SQL.

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
    ) -> impl std::future::Future<Output = StoreResult<Transaction<'static, Self::Database>>> + Send;
}

impl BeginWrite for sqlx::SqlitePool {
    type Database = Sqlite;
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl BeginWrite for sqlx::PgPool {
    type Database = Postgres;
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.begin().await?)
    }
}

impl Db {
    /// `FOR UPDATE` where row locks exist; SQLite's immediate transaction
    /// already holds the database write lock.
    pub fn for_update(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE",
        }
    }
}

impl Db {
    /// Extra condition that lets the search use an index. PostgreSQL's
    /// trigram index serves the `LIKE` itself; SQLite's FTS5 trigram table
    /// is asked with `MATCH` (bound as `$5`) for terms of three or more
    /// characters, shorter ones scan.
    pub fn search_index_filter(
        &self,
        spec: &recofinement_domain::media::MediaSpec,
        term: &str,
    ) -> String {
        match self {
            Db::Postgres(_) => String::new(),
            Db::Sqlite(_) if term.chars().count() >= 3 => format!(
                " AND m.content_id IN (SELECT rowid FROM {0}_search WHERE {0}_search MATCH $5)",
                spec.table
            ),
            Db::Sqlite(_) => String::new(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(escape_like("plain"), "plain");
    }
}
