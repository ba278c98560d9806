//! `GET /api/audit`: the trail of administrative actions (our addition).

use axum::Json;
use axum::extract::{Query, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::Permission;
use recofinement_store::audit::{self as stored, Actor, AuditAction};

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::routes::events::EventQuery;
use crate::routes::schema::{LogPage, Message, wire};
use crate::state::AppState;
use crate::wire_row;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

wire_row! {
    /// One recorded action, as administrators read it.
    pub struct AuditEntry from stored::AuditEntry {
        pub audit_id: i64,
        pub occurred_at: String,
        /// The acting account's uuid; `null` for the command line.
        pub actor_uuid: Option<String>,
        pub action: String,
        /// What it was done to (`user:<uuid>`, `movie:<id>`, …).
        pub target: String,
        pub detail: Option<String>,
    }
}

/// Who did what and when: role changes, accepted and declined submissions,
/// deleted accounts; oldest first (administrators only). Start from 0 and
/// read on from `next_after`, like the event log.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("Bearer Auth" = [])), params(EventQuery),
    responses((status = 200, body = LogPage<AuditEntry>), (status = 403, body = Message)))]
async fn list_audit(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<EventQuery>,
) -> AppResult<Json<LogPage<AuditEntry>>> {
    caller.require(&state, Permission::ModifyContent).await?;
    let (after, limit) = query.bounds();
    let page = state.db.audit_page(after, limit).await?;
    Ok(Json(LogPage::read_on_from(
        "Audit trail sent",
        wire(page.entries),
        page.next_after,
    )))
}

/// Records an action of `caller`. The action has happened: a failure to
/// record it is logged, not turned into an error answer.
pub async fn record(
    state: &AppState,
    caller: &AuthUser,
    action: AuditAction,
    target: &str,
    detail: Option<&str>,
) {
    let actor = Actor {
        user_id: caller.user_id,
        uuid: &caller.uuid,
    };
    if let Err(error) = state
        .db
        .record_audit(Some(actor), action, target, detail)
        .await
    {
        tracing::error!(%error, action = action.as_str(), target, "audit entry could not be recorded");
    }
}
