//! `/api/external`: link Spotify, TMDB and Google Books (spec §11, E1–E6),
//! and unlink them (an addition, D34). The OAuth `state` is a random
//! single-use value bound to the user and the service for ten minutes; a
//! TMDB request token is bound the same way to the user who obtained it
//! (D2). Provider grants are stored encrypted and never answered (D8).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoResponses, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::auth::throttle::Throttle;
use crate::error::{AppError, AppResult};
use crate::extract::{Body, Valid, schema_with_any_of};
use crate::integrations::http::{self, ClientAuth, TokenError};
use crate::integrations::{
    External, OAuthProvider, STATE_TTL, Service, TmdbProvider, gbooks, new_state, spotify,
    state_hash, tmdb,
};
use crate::routes::schema::{ErrorBody, Message};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(spotify_url, unlink_spotify))
        .routes(routes!(spotify_callback))
        .routes(routes!(tmdb_url, unlink_tmdb))
        .routes(routes!(tmdb_callback))
        .routes(routes!(gbooks_url, unlink_gbooks))
        .routes(routes!(gbooks_callback))
}

/// A handler's answer with its own status (201 when something was made).
type Answer<T> = AppResult<(StatusCode, Json<T>)>;

/// An answer that carries a service's authorization URL.
trait UrlAnswer: Sized {
    fn created(message: &str, url: String) -> (StatusCode, Json<Self>);
}

/// The answers of E1, E3 and E5 differ only in the URL's field name.
macro_rules! url_answer {
    ($name:ident, $field:ident, $doc:literal) => {
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            pub status: bool,
            pub message: String,
            #[doc = $doc]
            pub $field: String,
        }

        impl UrlAnswer for $name {
            fn created(message: &str, url: String) -> (StatusCode, Json<Self>) {
                let message = message.into();
                (
                    StatusCode::CREATED,
                    Json($name {
                        status: true,
                        message,
                        $field: url,
                    }),
                )
            }
        }
    };
}
url_answer!(
    SpotifyUrl,
    spotify_url,
    "The authorization URL, or `linked`."
);
url_answer!(TmdbUrl, tmdb_url, "The approval URL, or `linked`.");
url_answer!(GbooksUrl, gbooks_url, "The authorization URL, or `linked`.");

/// What the provider put in the return URL (Spotify, Google).
// Documented per service by `SpotifyCallbackBody` and `GoogleCallbackBody`.
#[derive(Deserialize, ToSchema)]
pub struct OAuthCallbackBody {
    #[schema(nullable = false)]
    pub code: Option<String>,
    #[schema(nullable = false)]
    pub state: Option<String>,
    #[schema(nullable = false)]
    pub scope: Option<String>,
    /// Present when the user refused.
    #[schema(nullable = false)]
    pub error: Option<String>,
}

/// A non-empty string, as [`required`] wants.
fn filled() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// What an OAuth2 return must hold: a refusal (`error`), or the `state`
/// and the `code` of a grant; Google wants `state` with a refusal too.
fn oauth_callback_cases(oauth: &OAuthService) -> Value {
    let refusal = if oauth.state_before_refusal {
        json!({"required": ["error", "state"], "properties": {"state": filled()}})
    } else {
        json!({"required": ["error"]})
    };
    let grant =
        json!({"required": ["state", "code"], "properties": {"state": filled(), "code": filled()}});
    json!([refusal, grant])
}

/// The return of an OAuth2 service, documented with that service's rules
/// ([`oauth_callback_cases`]).
macro_rules! oauth_return {
    ($(#[$doc:meta])* $name:ident, $oauth:expr) => {
        $(#[$doc])*
        #[derive(Deserialize)]
        #[serde(transparent)]
        pub struct $name(OAuthCallbackBody);

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                schema_with_any_of::<OAuthCallbackBody>(oauth_callback_cases(&$oauth))
            }
        }

        impl ToSchema for $name {}
        impl Body for $name {}
    };
}
oauth_return!(
    /// The Spotify return: a refusal, or a grant.
    SpotifyCallbackBody,
    SPOTIFY
);
oauth_return!(
    /// The Google return: a refusal with its state, or a grant.
    GoogleCallbackBody,
    GBOOKS
);

/// What TMDB put in the return URL.
// Documented by `TmdbCallbackBody`, with the rule that ties the fields.
#[derive(Deserialize, ToSchema)]
pub struct TmdbCallbackFields {
    #[schema(nullable = false)]
    pub request_token: Option<String>,
    pub approved: Option<String>,
    /// Present (not null) when the user refused.
    pub denied: Option<String>,
}

/// The TMDB return: a refusal (`denied`), or the approved request token.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct TmdbCallbackBody(TmdbCallbackFields);

impl PartialSchema for TmdbCallbackBody {
    fn schema() -> RefOr<Schema> {
        let refusal = json!({"required": ["denied"], "properties": {"denied": {"type": "string"}}});
        let grant =
            json!({"required": ["request_token"], "properties": {"request_token": filled()}});
        schema_with_any_of::<TmdbCallbackFields>(json!([refusal, grant]))
    }
}

impl ToSchema for TmdbCallbackBody {}
impl Body for TmdbCallbackBody {}

/// What a service's return answers (E2, E4, E6).
#[derive(IntoResponses)]
#[allow(dead_code)] // it documents the answers; the handlers build them
enum ReturnAnswers {
    /// The grant is stored and the import starts.
    #[response(status = 201)]
    Stored(Message),
    /// The user refused.
    #[response(status = 200)]
    Refused(Message),
    /// A field is missing, or the service is already linked.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// "CSRF invalid!" (the state is unknown, expired or another user's), or
    /// the service is not configured on this server.
    #[response(status = 404)]
    NotFound(Message),
    /// The service did not answer as expected.
    #[response(status = 502)]
    Failed(Message),
}

fn missing(field: &str) -> AppError {
    AppError::Validation(vec![format!("{field}: Missing data for required field.")])
}

fn required(value: Option<String>, field: &str) -> AppResult<String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing(field))
}

/// An unconfigured provider is a feature this server does not offer: a
/// client-visible 404, not a server failure.
fn not_configured(service: Service) -> AppError {
    AppError::not_found(format!(
        "{} is not configured on this server.",
        service.name()
    ))
}

fn provider_failed(service: Service, cause: impl std::fmt::Display) -> AppError {
    tracing::warn!(service = service.name(), %cause, "provider call failed");
    AppError::Status(
        StatusCode::BAD_GATEWAY,
        format!(
            "{} did not answer as expected, try again later.",
            service.name()
        ),
    )
}

fn csrf_invalid() -> AppError {
    AppError::not_found("CSRF invalid!")
}

async fn is_linked(state: &AppState, user_id: i64, service: Service) -> AppResult<bool> {
    Ok(state.db.external_link(user_id, service).await?.is_some())
}

/// A fresh state for `service`, stored (hashed) for the caller.
async fn mint_state(state: &AppState, user_id: i64, service: Service) -> AppResult<String> {
    let value = new_state();
    bind_state(state, user_id, service, &value).await?;
    Ok(value)
}

/// Stores `value` (hashed) as a state of the caller's for `service`, valid
/// for [`STATE_TTL`]: only this user's return with it is accepted.
async fn bind_state(
    state: &AppState,
    user_id: i64,
    service: Service,
    value: &str,
) -> AppResult<()> {
    let expires = recofinement_store::now()
        + chrono::Duration::from_std(STATE_TTL).map_err(AppError::internal)?;
    state
        .db
        .create_oauth_state(&state_hash(value), user_id, service, expires)
        .await?;
    Ok(())
}

fn oauth_provider(external: &External, service: Service) -> AppResult<&OAuthProvider> {
    external
        .config
        .oauth(service)
        .ok_or_else(|| not_configured(service))
}

fn tmdb_provider(external: &External) -> AppResult<&TmdbProvider> {
    external
        .config
        .tmdb
        .as_ref()
        .ok_or_else(|| not_configured(Service::Tmdb))
}

/// What the two OAuth2 services (Spotify, Google Books) differ in: their
/// settings, and the original's wording of each answer.
struct OAuthService {
    service: Service,
    auth: ClientAuth,
    scopes: &'static [&'static str],
    extra: &'static [(&'static str, &'static str)],
    linked: &'static str,
    url_sent: &'static str,
    canceled: &'static str,
    already_done: &'static str,
    stored: &'static str,
    /// Google's callback asks for `state` before it reads a refusal.
    state_before_refusal: bool,
}

const SPOTIFY: OAuthService = OAuthService {
    service: Service::Spotify,
    auth: spotify::AUTH,
    scopes: spotify::SCOPES,
    extra: &[],
    linked: "Spotify is already linked",
    url_sent: "Spotify oauth url sent",
    canceled: "Spotify oauth canceled",
    already_done: "Spotify Oauth is already done.",
    stored: "Spotify tokens stored",
    state_before_refusal: false,
};

const GBOOKS: OAuthService = OAuthService {
    service: Service::GBooks,
    auth: gbooks::AUTH,
    scopes: gbooks::SCOPES,
    extra: gbooks::EXTRA,
    linked: "GBooks is already linked",
    url_sent: "GBooks oauth url sent",
    canceled: "Authorization canceled by user",
    already_done: "gbooks Oauth is already done.",
    stored: "GBooks token stored",
    state_before_refusal: true,
};

/// Counts a request to link a service (each stores an OAuth state, and
/// TMDB's calls the provider with the installation's key), 429 past the
/// caller's limit.
async fn count_link_request(state: &AppState, caller: &AuthUser) -> AppResult<()> {
    let limit = state.config.link_requests_per_user;
    Throttle::per_user(state, "link", caller.user_id, limit).await
}

/// The authorization URL of an OAuth2 service, or `linked`, in the
/// service's answer `A`.
async fn oauth_url<A: UrlAnswer>(
    state: &AppState,
    caller: &AuthUser,
    oauth: &OAuthService,
) -> Answer<A> {
    let service = oauth.service;
    if is_linked(state, caller.user_id, service).await? {
        return Ok(A::created(oauth.linked, "linked".into()));
    }
    count_link_request(state, caller).await?;
    let provider = oauth_provider(&state.external, service)?;
    let value = mint_state(state, caller.user_id, service).await?;
    let redirect = &state.external.redirect_uri;
    let url =
        http::authorize_url(provider, redirect, oauth.scopes, oauth.extra, value).map_err(|e| {
            AppError::internal_message(format!("{} configuration: {e}", service.name()))
        })?;
    Ok(A::created(oauth.url_sent, url))
}

/// The return from an OAuth2 service: a refusal answers 200 with the
/// service's message; otherwise the grant is linked (see [`oauth_link`]).
async fn oauth_callback(
    state: &AppState,
    caller: &AuthUser,
    body: OAuthCallbackBody,
    oauth: &OAuthService,
) -> Answer<Message> {
    if oauth.state_before_refusal {
        required(body.state.clone(), "state")?;
    }
    if body.error.is_some() {
        let refused = Message {
            status: false,
            message: oauth.canceled.into(),
        };
        return Ok((StatusCode::OK, Json(refused)));
    }
    let state_value = required(body.state, "state")?;
    let code = required(body.code, "code")?;
    oauth_link(state, caller, oauth, &code, &state_value).await?;
    Ok(Message::created(oauth.stored))
}

/// Checks the state, exchanges the code, stores the encrypted grant and
/// starts the import.
async fn oauth_link(
    state: &AppState,
    caller: &AuthUser,
    oauth: &OAuthService,
    code: &str,
    state_value: &str,
) -> AppResult<()> {
    let (service, already_done) = (oauth.service, oauth.already_done);
    let provider = oauth_provider(&state.external, service)?;
    if !state
        .db
        .take_oauth_state(&state_hash(state_value), caller.user_id, service)
        .await?
    {
        return Err(csrf_invalid());
    }
    if is_linked(state, caller.user_id, service).await? {
        return Err(AppError::validation(already_done));
    }
    let tokens = match http::exchange_code(&state.external, provider, oauth.auth, code).await {
        Ok(tokens) => tokens,
        Err(TokenError::Refused(reason)) => {
            tracing::info!(service = service.name(), %reason, "authorization code refused");
            return Err(AppError::bad_request(format!(
                "{} refused the authorization code.",
                service.name()
            )));
        }
        Err(TokenError::Failed(cause)) => return Err(provider_failed(service, cause)),
    };
    store_grant(
        state,
        caller.user_id,
        service,
        &tokens.access_token,
        tokens.refresh_token.as_deref(),
        already_done,
    )
    .await
}

async fn store_grant(
    state: &AppState,
    user_id: i64,
    service: Service,
    access: &str,
    refresh: Option<&str>,
    already_done: &str,
) -> AppResult<()> {
    let external = &state.external;
    let sealed = external.encrypt(user_id, service, access);
    let sealed_refresh = refresh.map(|t| external.encrypt(user_id, service, t));
    if !state
        .db
        .link_external(user_id, service, &sealed, sealed_refresh.as_deref())
        .await?
    {
        return Err(AppError::validation(already_done));
    }
    external.enqueue(user_id, service);
    Ok(())
}

/// The two endpoints of an OAuth2 service: its authorization URL (or
/// `linked`) and its return, which stores the grant and starts the import.
macro_rules! oauth_endpoints {
    ($oauth:expr,
     $(#[$url_doc:meta])* $url:ident($url_path:literal) -> $answer:ty,
     $(#[$return_doc:meta])* $callback:ident($return_path:literal, $body:ident)) => {
        $(#[$url_doc])*
        #[utoipa::path(get, path = $url_path, tag = "external", security(("Bearer Auth" = [])),
            responses((status = 201, body = $answer), (status = 404, body = Message), (status = 429, body = Message)))]
        async fn $url(State(state): State<AppState>, caller: AuthUser) -> Answer<$answer> {
            oauth_url(&state, &caller, &$oauth).await
        }

        $(#[$return_doc])*
        #[utoipa::path(post, path = $return_path, tag = "external", security(("Bearer Auth" = [])),
            request_body = $body, responses(ReturnAnswers))]
        async fn $callback(
            State(state): State<AppState>,
            caller: AuthUser,
            Valid($body(body)): Valid<$body>,
        ) -> Answer<Message> {
            oauth_callback(&state, &caller, body, &$oauth).await
        }
    };
}
oauth_endpoints!(
    SPOTIFY,
    /// E1: the Spotify authorization URL, or `linked`.
    spotify_url("/spotify") -> SpotifyUrl,
    /// E2: the Spotify return (`code`, `state`).
    spotify_callback("/spotify/callback", SpotifyCallbackBody)
);
oauth_endpoints!(
    GBOOKS,
    /// E5: the Google Books authorization URL, or `linked`.
    gbooks_url("/gbooks") -> GbooksUrl,
    /// E6: the Google return (`state`, `code`, `scope`).
    gbooks_callback("/gbooks/callback", GoogleCallbackBody)
);

/// E3: the TMDB approval URL (with a request token bound to the caller), or `linked`.
#[utoipa::path(get, path = "/tmdb", tag = "external", security(("Bearer Auth" = [])),
    responses((status = 201, body = TmdbUrl), (status = 502, body = Message), (status = 404, body = Message),
        (status = 429, body = Message)))]
async fn tmdb_url(State(state): State<AppState>, caller: AuthUser) -> Answer<TmdbUrl> {
    if is_linked(&state, caller.user_id, Service::Tmdb).await? {
        return Ok(TmdbUrl::created("TMDB is already linked", "linked".into()));
    }
    count_link_request(&state, &caller).await?;
    let provider = tmdb_provider(&state.external)?;
    let token = tmdb::request_token(&state.external, provider)
        .await
        .map_err(|e| provider_failed(Service::Tmdb, e))?;
    bind_state(&state, caller.user_id, Service::Tmdb, &token).await?;
    let mut url = url::Url::parse(&format!(
        "{}/authenticate/",
        provider.auth_url.trim_end_matches('/')
    ))
    .and_then(|u| u.join(&token))
    .map_err(|e| AppError::internal(anyhow::Error::new(e).context("TMDB configuration")))?;
    url.query_pairs_mut()
        .append_pair("redirect_to", &state.external.redirect_uri);
    Ok(TmdbUrl::created("TMDB oauth url sent", url.to_string()))
}

/// E4: the TMDB return (`request_token`, `approved`); only the request token
/// this user obtained is accepted.
#[utoipa::path(post, path = "/tmdb/callback", tag = "external", security(("Bearer Auth" = [])),
    request_body = TmdbCallbackBody,
    responses(ReturnAnswers))]
async fn tmdb_callback(
    State(state): State<AppState>,
    caller: AuthUser,
    Valid(TmdbCallbackBody(body)): Valid<TmdbCallbackBody>,
) -> Answer<Message> {
    if body.denied.is_some() {
        return Ok((
            StatusCode::OK,
            Json(Message {
                status: false,
                message: "Authorization denied".into(),
            }),
        ));
    }
    let token = required(body.request_token, "request_token")?;
    let provider = tmdb_provider(&state.external)?;
    if !state
        .db
        .take_oauth_state(&state_hash(&token), caller.user_id, Service::Tmdb)
        .await?
    {
        return Err(csrf_invalid());
    }
    let already_done = "tmdb Oauth is already done.";
    if is_linked(&state, caller.user_id, Service::Tmdb).await? {
        return Err(AppError::validation(already_done));
    }
    let session = match tmdb::create_session(&state.external, provider, &token).await {
        Ok(session) => session,
        Err(tmdb::SessionError::Refused) => {
            return Err(AppError::bad_request("TMDB refused the request token."));
        }
        Err(tmdb::SessionError::Failed(cause)) => {
            return Err(provider_failed(Service::Tmdb, cause));
        }
    };
    store_grant(
        &state,
        caller.user_id,
        Service::Tmdb,
        &session,
        None,
        already_done,
    )
    .await?;
    Ok(Message::created("TMDB token stored"))
}

/// Deletes the stored grant; what was imported stays.
async fn unlink(state: &AppState, caller: &AuthUser, service: Service) -> AppResult<StatusCode> {
    if state.db.unlink_external(caller.user_id, service).await? {
        tracing::info!(
            user_id = caller.user_id,
            service = service.name(),
            "service unlinked"
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!(
            "{} is not linked",
            service.name()
        )))
    }
}

/// Unlink Spotify: the stored grant is deleted, what was imported stays.
/// An addition to the original API, which had no way to unlink (D34).
#[utoipa::path(delete, path = "/spotify", tag = "external", security(("Bearer Auth" = [])),
    responses((status = 204), (status = 404, body = Message)))]
async fn unlink_spotify(State(state): State<AppState>, caller: AuthUser) -> AppResult<StatusCode> {
    unlink(&state, &caller, Service::Spotify).await
}

/// Unlink TMDB: the stored session is deleted, what was imported stays.
/// An addition to the original API, which had no way to unlink (D34).
#[utoipa::path(delete, path = "/tmdb", tag = "external", security(("Bearer Auth" = [])),
    responses((status = 204), (status = 404, body = Message)))]
async fn unlink_tmdb(State(state): State<AppState>, caller: AuthUser) -> AppResult<StatusCode> {
    unlink(&state, &caller, Service::Tmdb).await
}

/// Unlink Google Books: the stored grant is deleted, what was imported stays.
/// An addition to the original API, which had no way to unlink (D34).
#[utoipa::path(delete, path = "/gbooks", tag = "external", security(("Bearer Auth" = [])),
    responses((status = 204), (status = 404, body = Message)))]
async fn unlink_gbooks(State(state): State<AppState>, caller: AuthUser) -> AppResult<StatusCode> {
    unlink(&state, &caller, Service::GBooks).await
}
