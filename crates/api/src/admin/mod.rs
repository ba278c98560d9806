//! The administrator's dashboard: the page at `/admin` (HTML, script and
//! style compiled into the binary, no CDN) and the JSON it reads under
//! `/api/admin` (administrators only, `modify_content`). The page signs in
//! through `/api/auth/login` like any client and keeps the token in the
//! tab's session storage.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use recofinement_domain::{Permission, validate};

mod rows;

pub use rows::{
    Counts, HourCount, InteractionRow, ItemRef, KindCount, RecommendationRow, SampleUser,
    StoredEvaluation,
};

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::routes::schema::{Genre, Message, wire};
use crate::state::AppState;

/// Days of activity the events chart covers.
const ACTIVITY_DAYS: i64 = 7;

/// The JSON routes of the dashboard.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(lookup))
}

/// The page and its assets.
pub fn pages() -> Router {
    const CSP: &str =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'";
    let asset = |content_type: &'static str, body: &'static str| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_SECURITY_POLICY, CSP),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response()
        })
    };
    Router::new()
        .route(
            "/admin",
            asset(
                "text/html; charset=utf-8",
                include_str!("../../assets/admin/index.html"),
            ),
        )
        .route(
            "/admin/app.js",
            asset(
                "text/javascript; charset=utf-8",
                include_str!("../../assets/admin/app.js"),
            ),
        )
        .route(
            "/admin/chart.js",
            asset(
                "text/javascript; charset=utf-8",
                include_str!("../../assets/admin/chart.js"),
            ),
        )
        .route(
            "/admin/app.css",
            asset(
                "text/css; charset=utf-8",
                include_str!("../../assets/admin/app.css"),
            ),
        )
}

/// Names of the engines to report on: those this process runs, else those
/// the database knows.
pub async fn engine_names(state: &AppState) -> AppResult<Vec<String>> {
    let cadences = state.engine_hooks.cadences();
    if cadences.is_empty() {
        Ok(state.db.engine_names().await?)
    } else {
        Ok(cadences.iter().map(|c| c.engine.to_string()).collect())
    }
}

/// One engine on the dashboard.
#[derive(Serialize, ToSchema)]
pub struct EnginePanel {
    pub engine: String,
    /// Events not yet consumed.
    pub backlog: i64,
    pub last_success: Option<String>,
    /// Runs by itself every this many seconds…
    pub every_secs: Option<u64>,
    /// …or once this many events piled up.
    pub due_at_events: Option<i64>,
    /// When its cadence comes next (absent: at the next check, it never ran).
    pub next_run: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Overview {
    pub status: bool,
    pub counts: Counts,
    /// Events per hour over the last days, oldest first (empty hours absent).
    pub events_per_hour: Vec<HourCount>,
    pub engines: Vec<EnginePanel>,
    /// `scheduler`, `standby`, or absent when this server runs no scheduler.
    pub scheduler: Option<String>,
    /// Newest stored evaluations first.
    pub evaluations: Vec<StoredEvaluation>,
    /// Users with recommendations, to look up.
    pub sample_users: Vec<SampleUser>,
}

/// Everything the dashboard's panels show but the runs table.
#[utoipa::path(get, path = "/api/admin/overview", tag = "admin", security(("Bearer Auth" = [])),
    responses((status = 200, body = Overview), (status = 403, body = Message)))]
async fn overview(State(state): State<AppState>, caller: AuthUser) -> AppResult<Json<Overview>> {
    caller.require(&state, Permission::ModifyContent).await?;
    let now = recofinement_store::now();
    let since = now - chrono::TimeDelta::days(ACTIVITY_DAYS);
    Ok(Json(Overview {
        status: true,
        counts: state.db.counts().await?.into(),
        events_per_hour: wire(state.db.events_per_hour(since).await?),
        engines: engine_panels(&state).await?,
        scheduler: state.engine_hooks.scheduler_role().map(str::to_string),
        evaluations: wire(state.db.evaluations(5).await?),
        sample_users: wire(state.db.users_to_look_up(5).await?),
    }))
}

async fn engine_panels(state: &AppState) -> AppResult<Vec<EnginePanel>> {
    let names = engine_names(state).await?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let cadences = state.engine_hooks.cadences();
    let standings = state.db.engine_standings(&names).await?;
    Ok(standings
        .into_iter()
        .map(|standing| {
            let cadence = cadences.iter().find(|c| c.engine == standing.engine);
            let next_run = match (standing.last_success, cadence) {
                (Some(last), Some(cadence)) => chrono::TimeDelta::from_std(cadence.every)
                    .ok()
                    .map(|every| crate::wire::format(&(last + every))),
                _ => None,
            };
            EnginePanel {
                backlog: standing.backlog,
                last_success: standing.last_success.as_ref().map(crate::wire::format),
                every_secs: cadence.map(|c| c.every.as_secs()),
                due_at_events: cadence.map(|c| c.events),
                next_run,
                engine: standing.engine,
            }
        })
        .collect())
}

/// `?user=`: a uuid, e-mail, user id or exact user name.
#[derive(Deserialize)]
pub struct LookupQuery {
    pub user: String,
}

/// Written out: the derive drops `required` and the description of a
/// parameter whose schema comes from a function.
impl IntoParams for LookupQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("user")
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .description(Some("A uuid, e-mail, user id or exact user name."))
                .schema(Some(validate::user_reference_schema()))
                .build(),
        ]
    }
}

#[derive(Serialize, ToSchema)]
pub struct LookedUpUser {
    pub uuid: String,
    pub username: String,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Lookup {
    pub status: bool,
    pub user: LookedUpUser,
    /// The genres they declared liking.
    pub genres: Vec<Genre>,
    /// Their most recent interactions.
    pub interactions: Vec<InteractionRow>,
    /// Every recommendation row: kind, engine, score and reason.
    pub recommendations: Vec<RecommendationRow>,
}

/// Why someone is recommended what they are: their recommendations beside
/// their interactions and declared genres.
#[utoipa::path(get, path = "/api/admin/lookup", tag = "admin", security(("Bearer Auth" = [])), params(LookupQuery),
    responses((status = 200, body = Lookup), (status = 403, body = Message), (status = 404, body = Message)))]
async fn lookup(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(query): Query<LookupQuery>,
) -> AppResult<Json<Lookup>> {
    caller.require(&state, Permission::ModifyContent).await?;
    if query.user.trim().is_empty() || query.user.chars().count() > 255 {
        return Err(AppError::validation(validate::USER_REFERENCE_MESSAGE));
    }
    let user = state
        .db
        .find_user(&query.user)
        .await?
        .ok_or_else(AppError::user_not_found)?;
    Ok(Json(Lookup {
        status: true,
        genres: wire(state.db.liked_genres(user.user_id).await?),
        interactions: wire(state.db.recent_interactions(user.user_id, 50).await?),
        recommendations: wire(state.db.recommendation_rows(user.user_id).await?),
        user: LookedUpUser {
            uuid: user.uuid,
            username: user.username,
            email: user.email,
        },
    }))
}
