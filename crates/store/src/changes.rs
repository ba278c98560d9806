//! Notices of changes that shared, cached answers depend on (the API's list
//! cache). A writer announces a change after its commit; every instance
//! hears it: through an in-process channel, and on PostgreSQL through
//! `LISTEN/NOTIFY` too, so the instances on one database (and an `engine
//! worker` beside them) agree. Redis is not needed for this: the database
//! every writer already talks to carries the notices.
//!
//! SQLite serves one process: a separate process writing to the same file
//! (an `engine worker` beside `serve --no-engine`) is only seen when the
//! cached answers expire.

use std::sync::OnceLock;

use recofinement_domain::ContentKind;
use tokio::sync::broadcast;

use crate::Db;

/// PostgreSQL channel of the notices.
const CHANNEL: &str = "recofinement_lists";

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListChange {
    /// An item's rating average or count changed.
    Item { kind: ContentKind, content_id: i64 },
    /// Items were added, removed or re-scored: every list may differ.
    Catalogue,
}

impl ListChange {
    fn encode(self) -> String {
        match self {
            ListChange::Item { kind, content_id } => format!("item:{}:{content_id}", kind.label()),
            ListChange::Catalogue => "catalogue".into(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text == "catalogue" {
            return Some(ListChange::Catalogue);
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

fn local() -> &'static broadcast::Sender<ListChange> {
    static LOCAL: OnceLock<broadcast::Sender<ListChange>> = OnceLock::new();
    LOCAL.get_or_init(|| broadcast::channel(4096).0)
}

impl Db {
    /// Tells every instance that `change` has committed. Call it after the
    /// commit: a notice about a rolled-back change would only cost a cache
    /// miss, a notice before the commit could be acted on too early.
    /// A notice that cannot be sent is logged, not returned: the change
    /// itself has committed, and cached answers still expire.
    pub async fn announce(&self, change: ListChange) {
        let _ = local().send(change);
        if let Db::Postgres(pool) = self
            && let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(change.encode())
                .execute(pool)
                .await
        {
            tracing::warn!(%error, ?change, "cannot announce a list change");
        }
    }

    /// Calls `on_heard` for every notice until it answers `false`.
    /// Runs until then (spawn it); reconnects by itself on PostgreSQL.
    pub async fn watch_changes(&self, mut on_heard: impl FnMut(Heard) -> bool + Send) {
        let mut local = local().subscribe();
        let mut listener = match self {
            Db::Postgres(pool) => connect_listener(pool).await,
            Db::Sqlite(_) => None,
        };
        loop {
            let heard = match &mut listener {
                Some(listener) => tokio::select! {
                    heard = local.recv() => from_local(heard),
                    notice = listener.try_recv() => match notice {
                        Ok(Some(n)) => ListChange::parse(n.payload()).map(Heard::Change),
                        // The connection dropped; it reconnects on the next call.
                        Ok(None) => Some(Heard::MayHaveMissed),
                        Err(error) => {
                            tracing::warn!(%error, "list change listener failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                            Some(Heard::MayHaveMissed)
                        }
                    },
                },
                None => from_local(local.recv().await),
            };
            if let Some(heard) = heard
                && !on_heard(heard)
            {
                return;
            }
        }
    }
}

fn from_local(received: Result<ListChange, broadcast::error::RecvError>) -> Option<Heard> {
    match received {
        Ok(change) => Some(Heard::Change(change)),
        Err(broadcast::error::RecvError::Lagged(_)) => Some(Heard::MayHaveMissed),
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

async fn connect_listener(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for list changes; cached lists expire instead");
            return None;
        }
    };
    if let Err(error) = listener.listen(CHANNEL).await {
        tracing::warn!(%error, "cannot listen for list changes; cached lists expire instead");
        return None;
    }
    Some(listener)
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
        ];
        for change in changes {
            assert_eq!(ListChange::parse(&change.encode()), Some(change));
        }
        for garbage in ["item:NOPE:1", "item:MOVIE:x", "other"] {
            assert_eq!(ListChange::parse(garbage), None);
        }
    }
}
