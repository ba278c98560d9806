//! Prometheus metrics. Handlers, the engine runner and the queues record
//! through the `metrics` facade; [`install`] sets the process's recorder and
//! [`router`] serves `GET /metrics` in the text exposition format on a
//! listener of its own (`--metrics-addr`), off the public API.
//!
//! HTTP requests are labelled with the route template (`/api/{media}/…`,
//! from axum's `MatchedPath`), never the raw path, so ids and search terms
//! cannot blow up the label space. Values that live in the database (engine
//! backlogs, time since the last successful run) and the pool's state are
//! read at scrape time; the pool's waits come from sqlx's acquisition
//! events through [`pool_wait_layer`].

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use recofinement_store::Db;

use crate::error::AppError;
use crate::state::AppState;

/// Buckets of every `…_seconds` histogram: 1 ms to 5 min.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder of this process (once; later calls
/// answer the same handle). Until it is installed, recording costs nothing.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // One installation at a time: a second caller waits for the first's
    // handle instead of finding the recorder set and the handle not yet.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(handle);
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("another metrics recorder is installed"))
}

/// Middleware counting requests by method, route template and status, and
/// timing them.
pub async fn track(request: Request, next: Next) -> Response {
    // Without a recorder (no --metrics-addr) labels are not even built.
    if HANDLE.get().is_none() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "recofinement_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "recofinement_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: one of the standard methods, or `other`. A client
/// may send any token as its method, and every distinct label is a series
/// kept for the life of the process.
fn method_label(method: &Method) -> String {
    let standard = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if standard.contains(method) {
        method.as_str().to_string()
    } else {
        "other".to_string()
    }
}

#[derive(Clone)]
struct Scrape {
    state: AppState,
    handle: PrometheusHandle,
}

/// `GET /metrics` for the metrics listener.
pub fn router(state: AppState, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { state, handle })
}

async fn scrape(State(scrape): State<Scrape>) -> Result<Response, AppError> {
    record_pool(&scrape.state.db);
    record_engines(&scrape.state).await?;
    scrape.handle.run_upkeep();
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
        .into_response())
}

/// Acquisitions slower than this count as waits: with an idle connection
/// at hand the pool answers in microseconds.
const WAIT_THRESHOLD_SECS: f64 = 0.001;

/// A `tracing` layer that turns the pool's acquisition events into the
/// wait metrics: sqlx exposes no counters, but reports at TRACE level how
/// long each acquisition took (the store turns that event on). Add it to
/// the process's subscriber beside the log layer; its own filter lets
/// those events through whatever the log level is.
pub fn pool_wait_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;
    PoolWaits.with_filter(Targets::new().with_target(
        recofinement_store::POOL_ACQUIRE_TARGET,
        tracing::Level::TRACE,
    ))
}

struct PoolWaits;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PoolWaits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut waited = AcquiredAfter(None);
        event.record(&mut waited);
        let Some(seconds) = waited.0 else { return };
        metrics::histogram!("recofinement_db_pool_acquire_wait_seconds").record(seconds);
        if seconds >= WAIT_THRESHOLD_SECS {
            metrics::counter!("recofinement_db_pool_waits_total").increment(1);
        }
    }
}

/// Reads the `acquired_after_secs` field of a pool acquisition event.
struct AcquiredAfter(Option<f64>);

impl tracing::field::Visit for AcquiredAfter {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "acquired_after_secs" {
            self.0 = Some(value);
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

/// Connections of the pool in use and idle, and its bound.
fn record_pool(db: &Db) {
    let (size, idle, max) = recofinement_store::on_db!(db, pool => (
        pool.size(),
        pool.num_idle(),
        pool.options().get_max_connections(),
    ));
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    metrics::gauge!("recofinement_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("recofinement_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("recofinement_db_pool_max_connections").set(f64::from(max));
}

/// Backlog and time since the last successful run of each engine.
async fn record_engines(state: &AppState) -> Result<(), AppError> {
    let names = crate::admin::engine_names(state).await?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let now = recofinement_store::now();
    for standing in state.db.engine_standings(&names).await? {
        metrics::gauge!("recofinement_engine_backlog_events", "engine" => standing.engine.clone())
            .set(standing.backlog as f64);
        if let Some(last) = standing.last_success {
            let seconds = (now - last).num_milliseconds() as f64 / 1000.0;
            metrics::gauge!(
                "recofinement_engine_seconds_since_success",
                "engine" => standing.engine
            )
            .set(seconds.max(0.0));
        }
    }
    Ok(())
}
