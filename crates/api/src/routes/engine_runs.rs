//! `/api/engine/runs`: the engine history, and forced runs for
//! administrators (`modify_content`). A forced run is audited: the request
//! is recorded with the administrator who made it, then its runs follow.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::{EngineName, Permission, validate};
use recofinement_store::engine_runs::{
    self as stored, NewEngineRun, RunCause, RunOf, RunOutcome, RunScope, RunWindow,
};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::{Body, Valid};
use crate::routes::schema::{ContentAnswer, Message, wire};
use crate::state::{AppState, NoEngineToRun};
use crate::wire_row;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_runs, force_run))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Only runs with an id greater than this (what is new since a look).
    pub after: Option<i64>,
    /// Only runs with an id smaller than this (the next page back).
    pub before: Option<i64>,
    /// At most this many runs (1 to 500, default 50).
    pub limit: Option<i64>,
}

wire_row! {
    /// A recorded run.
    pub struct EngineRun from stored::EngineRun {
        pub id: i64,
        pub engine: String,
        pub cause: String,
        pub scope: String,
        pub subjects: i64,
        pub rows: i64,
        pub seconds: f64,
        pub peak_memory_mib: Option<f64>,
        pub started_at: String,
        pub finished_at: Option<String>,
        pub outcome: String,
        pub error: Option<String>,
        /// Uuid of the administrator who asked (request rows).
        pub requested_by: Option<String>,
    }
}

/// The engine history, newest first (administrators only).
#[utoipa::path(get, path = "/api/engine/runs", tag = "engine", security(("Bearer Auth" = [])), params(RunQuery),
    responses((status = 200, body = ContentAnswer<Vec<EngineRun>>), (status = 403, body = Message)))]
async fn list_runs(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<RunQuery>,
) -> AppResult<Json<ContentAnswer<Vec<EngineRun>>>> {
    caller.require(&state, Permission::ModifyContent).await?;
    let window = RunWindow {
        after: query.after,
        before: query.before,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    };
    let newest_first = wire(state.db.engine_runs(window).await?);
    Ok(ContentAnswer::sent("Engine runs sent", newest_first))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForceBody {
    /// Engine names (`FromProfile`, `als`…); every engine when absent or empty.
    #[serde(default)]
    #[schema(schema_with = validate::engine_names_schema)]
    pub engines: Vec<String>,
}

impl Body for ForceBody {}

#[derive(Serialize, ToSchema)]
pub struct ForceAnswer {
    pub status: bool,
    pub message: String,
    /// The engines that will run, in their order.
    pub engines: Vec<String>,
    /// Id of the recorded request in the engine history.
    pub request_id: i64,
}

/// Starts a run of the given engines for every subject, in the background
/// (administrators only; the request is recorded with its author). The
/// instance that holds the engine lock runs it, whichever instance is asked.
#[utoipa::path(post, path = "/api/engine/runs", tag = "engine", security(("Bearer Auth" = [])),
    request_body = ForceBody,
    responses((status = 202, body = ForceAnswer), (status = 400, body = Message), (status = 403, body = Message),
        (status = 503, body = Message, description = "no engine runs in this process")))]
async fn force_run(
    State(state): State<AppState>,
    caller: AuthUser,
    Valid(body): Valid<ForceBody>,
) -> AppResult<(StatusCode, Json<ForceAnswer>)> {
    caller.require(&state, Permission::ModifyContent).await?;
    let asked = body
        .engines
        .iter()
        .map(|name| {
            EngineName::parse(name)
                .ok_or_else(|| AppError::validation(format!("Unknown engine {name:?}.")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let engines = state
        .engine_hooks
        .forced_run_plan(&asked)
        .map_err(|NoEngineToRun| {
            AppError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                "No recommendation engine runs in this server.".into(),
            )
        })?;
    let request = NewEngineRun {
        engine: RunOf::Request(&asked),
        cause: RunCause::Request,
        scope: RunScope::All,
        subjects: 0,
        rows: 0,
        seconds: 0.0,
        peak_memory_mib: None,
        started_at: recofinement_store::now(),
        outcome: RunOutcome::Requested,
        error: None,
        requested_by: Some(caller.user_id),
    };
    let request_id = state.db.request_forced_runs(&engines, &request).await?;
    state.engine_hooks.forced_runs_requested();
    tracing::info!(user = %caller.uuid, engines = %request.engine.name(), "forced engine run requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(ForceAnswer {
            status: true,
            message: "Engine run started".into(),
            engines: engines.iter().map(|e| e.as_str().to_string()).collect(),
            request_id,
        }),
    ))
}
