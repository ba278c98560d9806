//! Notices of changes that shared, cached answers depend on (the API's list
//! cache and its cache of accounts' auth state). A writer announces a change after its commit; every instance
//! hears it: on PostgreSQL through `LISTEN/NOTIFY` on a channel of the
//! schema, so the instances on one database (and an `engine worker` beside
//! them) agree; on SQLite through an in-process channel of the file. Redis is not needed for this: the database
//! every writer already talks to carries the notices.
//!
//! SQLite serves one process: a separate process writing to the same file
//! (an `engine worker` beside `serve --no-engine`) is only seen when the
//! cached answers expire.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use recofinement_domain::ContentKind;
use tokio::sync::broadcast;

use crate::Db;

/// PostgreSQL channel of the notices, followed by the schema's name: two
/// installations in one database (or two tests) do not hear each other.
const CHANNEL: &str = "recofinement_lists_";

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListChange {
    /// An item's rating average or count changed.
    Item { kind: ContentKind, content_id: i64 },
    /// Items were added, removed or re-scored: every list may differ.
    Catalogue,
    /// An account changed: deleted, renamed, a new e-mail or password
    /// (token version), its preferences declared, a token revoked, a role
    /// granted or revoked.
    Account { user_id: i64 },
    /// Who is in which group changed: a group created or deleted, a member
    /// gone, an invitation sent, accepted or withdrawn. Several accounts'
    /// group lists may differ.
    Memberships,
    /// A user rated or consumed something: the instance that keeps the
    /// collaborative item factors folds them in (cached lists do not move).
    Interactions { user_id: i64 },
}

impl ListChange {
    pub(crate) fn encode(self) -> String {
        match self {
            ListChange::Item { kind, content_id } => format!("item:{}:{content_id}", kind.label()),
            ListChange::Catalogue => "catalogue".into(),
            ListChange::Memberships => "memberships".into(),
            ListChange::Account { user_id } => format!("account:{user_id}"),
            ListChange::Interactions { user_id } => format!("interactions:{user_id}"),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "catalogue" => return Some(ListChange::Catalogue),
            "memberships" => return Some(ListChange::Memberships),
            _ => {}
        }
        if let Some(user_id) = text.strip_prefix("account:") {
            return Some(ListChange::Account {
                user_id: user_id.parse().ok()?,
            });
        }
        if let Some(user_id) = text.strip_prefix("interactions:") {
            return Some(ListChange::Interactions {
                user_id: user_id.parse().ok()?,
            });
        }
        let mut parts = text.strip_prefix("item:")?.split(':');
        let kind = ContentKind::parse(parts.next()?)?;
        let content_id = parts.next()?.parse().ok()?;
        Some(ListChange::Item { kind, content_id })
    }
}

/// What a watcher hears: a change, or that it may have missed some (its
/// database connection dropped) and must assume everything changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    Change(ListChange),
    MayHaveMissed,
}

/// The in-process channel of a SQLite file (PostgreSQL notices reach the
/// writing process too, through the database).
fn local(pool: &sqlx::SqlitePool) -> broadcast::Sender<ListChange> {
    static LOCAL: OnceLock<Mutex<HashMap<PathBuf, broadcast::Sender<ListChange>>>> =
        OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut channels = LOCAL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    channels
        .entry(file)
        .or_insert_with(|| broadcast::channel(4096).0)
        .clone()
}

impl Db {
    /// `written` (the result of a write that committed when it is `Ok`),
    /// once `change` is announced.
    pub(crate) async fn announced<T>(
        &self,
        change: ListChange,
        written: crate::StoreResult<T>,
    ) -> crate::StoreResult<T> {
        if written.is_ok() {
            self.announce(change).await;
        }
        written
    }

    /// Tells every instance that `change` has committed. Call it after the
    /// commit: a notice about a rolled-back change would only cost a cache
    /// miss, a notice before the commit could be acted on too early.
    /// A notice that cannot be sent is logged, not returned: the change
    /// itself has committed, and cached answers still expire.
    pub async fn announce(&self, change: ListChange) {
        match self {
            Db::Sqlite(pool) => {
                let _ = local(pool).send(change);
            }
            Db::Postgres(pool) => {
                let sql = "SELECT pg_notify($1 || current_schema(), $2)";
                let sent = sqlx::query(sql)
                    .bind(CHANNEL)
                    .bind(change.encode())
                    .execute(pool)
                    .await;
                if let Err(error) = sent {
                    tracing::warn!(%error, ?change, "cannot announce a list change");
                }
            }
        }
    }

    /// Calls `on_heard` for every notice until it answers `false`.
    /// Runs until then (spawn it); reconnects by itself on PostgreSQL.
    pub async fn watch_changes(&self, mut on_heard: impl FnMut(Heard) -> bool + Send) {
        match self {
            Db::Sqlite(pool) => {
                let mut local = local(pool).subscribe();
                loop {
                    let heard = match local.recv().await {
                        Ok(change) => Heard::Change(change),
                        Err(broadcast::error::RecvError::Lagged(_)) => Heard::MayHaveMissed,
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if !on_heard(heard) {
                        return;
                    }
                }
            }
            Db::Postgres(pool) => {
                let Some(mut listener) = connect_listener(pool).await else {
                    return;
                };
                loop {
                    let heard = match listener.try_recv().await {
                        Ok(Some(notice)) => ListChange::parse(notice.payload()).map(Heard::Change),
                        // The connection dropped; it reconnects on the next call.
                        Ok(None) => Some(Heard::MayHaveMissed),
                        Err(error) => {
                            tracing::warn!(%error, "list change listener failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                            Some(Heard::MayHaveMissed)
                        }
                    };
                    if let Some(heard) = heard
                        && !on_heard(heard)
                    {
                        return;
                    }
                }
            }
        }
    }
}

async fn connect_listener(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    let listening = async {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut listener)
            .await?;
        listener.listen(&format!("{CHANNEL}{schema}")).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for list changes; cached lists expire instead");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        let changes = [
            ListChange::Catalogue,
            ListChange::Item {
                kind: ContentKind::Movie,
                content_id: 42,
            },
            ListChange::Account { user_id: 7 },
            ListChange::Memberships,
            ListChange::Interactions { user_id: 9 },
        ];
        for change in changes {
            assert_eq!(ListChange::parse(&change.encode()), Some(change));
        }
        for garbage in [
            "item:NOPE:1",
            "item:MOVIE:x",
            "account:x",
            "interactions:x",
            "other",
        ] {
            assert_eq!(ListChange::parse(garbage), None);
        }
    }
}
