//! The trail of administrative actions: role grants and demotions, accepted
//! and declined submissions, deleted accounts. Rows are only ever added.

use chrono::NaiveDateTime;
use sqlx::FromRow;

use crate::log_page::{Log, LogPage};
use crate::{Db, StoreResult, now, on_db};

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    RoleGranted,
    RoleRevoked,
    SubmissionAccepted,
    SubmissionDeclined,
    UserDeleted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoleGranted => "role_granted",
            AuditAction::RoleRevoked => "role_revoked",
            AuditAction::SubmissionAccepted => "submission_accepted",
            AuditAction::SubmissionDeclined => "submission_declined",
            AuditAction::UserDeleted => "user_deleted",
        }
    }
}

/// Who did it: an account, or the command line (`None`).
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: i64,
    pub uuid: &'a str,
}

const AUDIT_LOG: Log = Log {
    table: "audit",
    id: "audit_id",
    columns: "audit_id, occurred_at, actor_uuid, action, target, detail",
};

/// One recorded action, as administrators read it.
#[derive(Clone, Debug, FromRow)]
pub struct AuditEntry {
    pub audit_id: i64,
    pub occurred_at: NaiveDateTime,
    /// The acting account's uuid; `null` for the command line.
    pub actor_uuid: Option<String>,
    pub action: String,
    /// What it was done to (`user:<uuid>`, `movie:<id>`, …).
    pub target: String,
    pub detail: Option<String>,
}

impl Db {
    pub async fn record_audit(
        &self,
        actor: Option<Actor<'_>>,
        action: AuditAction,
        target: &str,
        detail: Option<&str>,
    ) -> StoreResult<()> {
        let at = now();
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO audit (occurred_at, actor_id, actor_uuid, action, target, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(at)
            .bind(actor.map(|a| a.user_id))
            .bind(actor.map(|a| a.uuid))
            .bind(action.as_str())
            .bind(target)
            .bind(detail)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The final entries from position `from` on, oldest first, and where
    /// to read on (see [`crate::log_page`]).
    pub async fn audit_page(&self, from: i64, limit: i64) -> StoreResult<LogPage<AuditEntry>> {
        self.log_page(&AUDIT_LOG, from, limit).await
    }
}
