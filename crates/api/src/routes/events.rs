//! `GET /api/events`: the event log, for administrators and tools.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::Permission;
use recofinement_store::events as stored;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::routes::schema::{LogPage, Message, wire};
use crate::state::AppState;
use crate::wire_row;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// A page of a log read by cursor (events, audit).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The previous page's `next_after` (default 0: from the start).
    pub after: Option<i64>,
    /// At most this many entries (1 to 1000, default 100).
    pub limit: Option<i64>,
}

impl EventQuery {
    /// `after` and `limit` within their bounds.
    pub fn bounds(&self) -> (i64, i64) {
        (
            self.after.unwrap_or(0).max(0),
            self.limit.unwrap_or(100).clamp(1, 1000),
        )
    }
}

wire_row! {
    /// A logged change, as tools read it.
    pub struct Event from stored::Event {
        pub id: i64,
        pub occured_at: String,
        pub occured_by: Option<i64>,
        pub object_id: i64,
        pub kind: String,
        pub model_name: String,
        pub attribute_name: Option<String>,
        pub new_value: Option<String>,
        pub content_type: Option<String>,
        #[schema(value_type = Option<Object>)]
        pub payload: Option<serde_json::Value>,
    }
}

/// Committed events after a cursor, in the order they became final
/// (administrators only). Start from 0 and read on from `next_after`; an
/// event's id is not a cursor, since on PostgreSQL a lower id can commit
/// after a higher one. A page may exceed `limit` to hold every event of
/// one change.
#[utoipa::path(get, path = "/api/events", tag = "events", security(("Bearer Auth" = [])), params(EventQuery),
    responses((status = 200, body = LogPage<Event>), (status = 403, body = Message)))]
async fn list_events(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<EventQuery>,
) -> AppResult<Json<LogPage<Event>>> {
    caller.require(&state, Permission::ModifyContent).await?;
    let (after, limit) = query.bounds();
    let page = state.db.event_page(after, limit).await?;
    Ok(Json(LogPage::read_on_from(
        "Events sent",
        wire(page.entries),
        page.next_after,
    )))
}
