//! The RecoFinement HTTP API: a wire-compatible replacement of the original
//! Flask API. [`router`] builds the whole application; [`serve`] runs it
//! until a shutdown signal, draining in-flight requests.
//!
//! Owns the wire format (paths, JSON shapes, status codes, the error
//! envelope), authentication, the OpenAPI document, Socket.IO, mail, linked
//! services, the shared-list cache, metrics and the dashboard; must not
//! write SQL (it calls `store`) nor depend on the engine (it talks to it
//! through [`state::EngineHooks`]).

pub mod admin;
pub mod auth;
pub mod cache;
pub mod error;
pub mod extract;
pub mod integrations;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod socket;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::AppError;
pub use crate::state::{ApiConfig, AppState, Secret};

/// Largest request body accepted (413 above).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The OpenAPI router of every `/api` resource, before state is attached.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/auth", routes::auth::router())
        .nest(
            "/api/user",
            routes::users::router().merge(routes::people::router()),
        )
        .nest("/api/group", routes::groups::router())
        .nest("/api/profile", routes::profiles::router())
        .nest("/api/external", routes::external::router())
        .merge(routes::engine_runs::router())
        .merge(admin::router())
        .merge(routes::events::router())
        .merge(routes::audit::router())
        .merge(routes::media::router())
        .merge(routes::health::router())
}

/// The whole application with its middleware; Socket.IO rooms live in
/// this process.
pub fn router(state: AppState) -> Router {
    let (socket_layer, _io) = socket::layer(state.clone());
    let outer = Outer::new(&state);
    outer.wrap(application(state).layer(socket_layer))
}

/// The same application with Socket.IO rooms shared through Redis, so a
/// tab connected to one instance hears the runs launched through another.
pub async fn router_with_redis(state: AppState, redis_url: &str) -> anyhow::Result<Router> {
    let (socket_layer, _io) = socket::redis_layer(state.clone(), redis_url).await?;
    let outer = Outer::new(&state);
    Ok(outer.wrap(application(state).layer(socket_layer)))
}

/// Routes and the inner middleware (limits, timeout, envelopes).
fn application(state: AppState) -> Router {
    if state.hears_notices {
        state.follow_changes();
    }
    let (api, mut document) = api_routes().split_for_parts();
    routes::proposal::document_per_kind(&mut document);
    openapi::conventions(&mut document);
    let timeout = state.config.request_timeout;
    api.with_state(state)
        .route("/api", get(|| async { Redirect::permanent("/api/") }))
        .route(
            "/api/",
            get(|| async { Redirect::temporary("/swaggerui/") }),
        )
        .merge(SwaggerUi::new("/swaggerui").url("/api/swagger.json", document))
        .merge(admin::pages())
        .fallback(|| async { AppError::not_found("Not found") })
        .method_not_allowed_fallback(|| async {
            AppError::Status(
                StatusCode::METHOD_NOT_ALLOWED,
                "The method is not allowed for the requested URL.".into(),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::map_response(envelope_bare_errors))
        .layer(axum::middleware::from_fn(refuse_nul_in_url))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::internal_message("handler panicked").into_response()
        }))
        .layer(axum::middleware::from_fn(metrics::track))
}

/// The outer middleware every request crosses, Socket.IO included: CORS,
/// request ids and request logs.
struct Outer {
    cors: CorsLayer,
}

impl Outer {
    fn new(state: &AppState) -> Self {
        Outer {
            cors: cors_layer(&state.config.cors_origins, &state.config.url_front),
        }
    }

    fn wrap(self, router: Router) -> Router {
        let request_id = HeaderName::from_static("x-request-id");
        router
            .layer(axum::middleware::from_fn(security_headers))
            .layer(self.cors)
            .layer(PropagateRequestIdLayer::new(request_id.clone()))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                }),
            )
            .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    }
}

/// The origin of `URL_FRONT` by default (D7); the configured list instead;
/// any origin (echoed) only with `CORS_ORIGINS=*`.
fn cors_layer(origins: &[String], url_front: &str) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::mirror_request()
    } else if origins.is_empty() {
        let front = url::Url::parse(url_front)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        AllowOrigin::list(HeaderValue::from_str(&front).ok())
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::DELETE,
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PATCH,
            Method::POST,
            Method::PUT,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}

/// Content Security Policy of the Swagger UI: its own scripts only, its
/// inline styles and data: images, and never inside a frame.
const SWAGGER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";
/// Every other answer is data, never a page to render or frame.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Headers every answer carries: no MIME sniffing, no referrer leaking
/// reset links, no framing, and a CSP fitting the page (a page that sets
/// its own, such as the dashboard, keeps it).
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let swagger = path.starts_with("/swaggerui") || path == "/api" || path == "/api/";
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let csp = if swagger { SWAGGER_CSP } else { DATA_CSP };
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, csp),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Serves the application on `listener` with the default limits until
/// `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, app, server::ServerLimits::default(), shutdown).await
}

/// A NUL character encoded in the path or the query (`%00`) is a 400 before
/// any route sees it (JSON bodies are checked by the body extractors).
async fn refuse_nul_in_url(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = request.uri();
    let has_nul = |text: &str| {
        text.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return AppError::validation(extract::NUL_MESSAGE).into_response();
    }
    next.run(request).await
}

/// Error answers produced by middleware (body limit, timeout) carry no JSON:
/// give them the envelope so that every rejection has the same shape.
async fn envelope_bare_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
            StatusCode::SERVICE_UNAVAILABLE => "The request took too long.",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        let mut replaced = AppError::Status(status, message.to_string()).into_response();
        for name in [header::RETRY_AFTER, HeaderName::from_static("x-request-id")] {
            if let Some(value) = response.headers().get(&name) {
                replaced.headers_mut().insert(name, value.clone());
            }
        }
        return replaced;
    }
    response
}
