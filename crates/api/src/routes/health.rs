//! Health for people and orchestrators: `GET /health` (is the database
//! reachable), `GET /health/live` (the process answers) and
//! `GET /health/ready` (database reachable and migrated; for an engine
//! instance, whether it holds the scheduler lock or stands by).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: bool,
    pub database: String,
}

/// Whether the database answers; logs why when it does not.
async fn database_answers(state: &AppState) -> bool {
    match state.db.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            false
        }
    }
}

fn status_of(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Reports whether the database answers (503 when it does not).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ok = database_answers(&state).await;
    (
        status_of(ok),
        Json(Health {
            status: ok,
            database: if ok { "ok" } else { "unreachable" }.into(),
        }),
    )
}

#[derive(Serialize, ToSchema)]
pub struct Live {
    pub status: bool,
}

/// The process answers (a liveness probe: touches nothing else).
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Live)))]
async fn live() -> Json<Live> {
    Json(Live { status: true })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: bool,
    /// `ok` or `unreachable`.
    pub database: String,
    /// `ok`, `pending` (this binary has migrations the database lacks) or `unknown`.
    pub migrations: String,
    /// `scheduler`, `standby`, or absent when this instance runs no scheduler.
    pub engine: Option<String>,
}

/// Ready to serve: database reachable and migrated (503 otherwise). A
/// standby engine instance is ready: it serves the API while another runs
/// the engines.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let database = database_answers(&state).await;
    let migrations = if !database {
        "unknown"
    } else {
        match state.db.migrations_current().await {
            Ok(true) => "ok",
            Ok(false) => "pending",
            Err(error) => {
                tracing::warn!(%error, "readiness: cannot read the applied migrations");
                "unknown"
            }
        }
    };
    let ok = database && migrations == "ok";
    (
        status_of(ok),
        Json(Ready {
            status: ok,
            database: if database { "ok" } else { "unreachable" }.into(),
            migrations: migrations.into(),
            engine: state.engine_hooks.scheduler_role().map(str::to_string),
        }),
    )
}
