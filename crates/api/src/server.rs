//! The connection loop: hyper's server with the limits a public service
//! needs (axum's `serve` sets none). A client that sends its headers too
//! slowly is cut off, the number of open connections and of requests in
//! flight on one HTTP/2 connection are capped, and shutdown stops
//! accepting, lets requests in flight finish within a grace period, then
//! closes what is left.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How long, at shutdown, newly accepted connections get to send their
/// first request before idle connections are closed.
const FIRST_REQUEST_WAIT: Duration = Duration::from_millis(500);

/// Limits of the connection loop.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Time a client has to send a request's headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// Open connections at most; the next waits to be accepted.
    pub max_connections: usize,
    /// Requests in flight at once on one HTTP/2 connection.
    pub max_streams_per_connection: u32,
    /// How long requests in flight may run on after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_streams_per_connection: 64,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (up to the grace period) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Turn every route into its service once: a `Router` called as it is
    // builds its routes' services again for each request, and Socket.IO's
    // sessions would not outlive the request that opened them.
    let app: Router = app.with_state(());
    let builder = Arc::new(builder(&limits));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, a reset before accept…: keep serving.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(with_peer(app.clone(), remote));
        spawn_connection(&builder, &graceful, stream, remote, service, Some(permit));
    }
    // Connections the kernel completed before the signal wait in the
    // backlog: serve them too, or closing the listener would reset them.
    while let Some(Ok((stream, remote))) = listener.accept().now_or_never() {
        let service = TowerToHyperService::new(with_peer(app.clone(), remote));
        spawn_connection(&builder, &graceful, stream, remote, service, None);
    }
    drop(listener);
    // A connection accepted a moment ago may hold a request hyper has not
    // read yet; closing it now as idle would reset it. Let first requests
    // arrive before idle connections are closed.
    tokio::time::sleep(FIRST_REQUEST_WAIT.min(limits.shutdown_grace)).await;
    tracing::info!(
        connections = graceful.count(),
        "shutting down: finishing requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over: closing the remaining connections");
    }
    Ok(())
}

/// Serves one connection in its own task, watched for graceful shutdown;
/// its connection slot is released when it ends.
fn spawn_connection<S>(
    builder: &Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    service: TowerToHyperService<S>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) where
    S: tower::Service<
            hyper::Request<Incoming>,
            Response = axum::response::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .into_owned();
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, %remote, "connection ended with an error");
        }
        drop(permit);
    });
}

fn builder(limits: &ServerLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection);
    builder
}

/// The router with the peer's address in every request (what axum's
/// `ConnectInfo` extractor reads: login throttling uses it).
fn with_peer(
    app: Router,
    remote: SocketAddr,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        app.clone().oneshot(request.map(axum::body::Body::new))
    })
}
