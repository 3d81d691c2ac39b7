//! The bot's accept loop. `axum::serve` cannot configure hyper, so this one
//! serves each connection with hyper's HTTP/1 builder itself: a header read
//! timeout against slowloris, a small cap on the request head, and at most
//! `max_connections` connections at once. At the cap the loop stops
//! accepting (as actix-web and nginx do): new connections wait in the
//! kernel's backlog instead of costing memory, and are served as slots free
//! up, which the timeouts guarantee.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::refusals::{self, Source};

/// Largest request head (request line and headers) a connection may send;
/// beyond it hyper answers 431. A Teams activity's bearer token, the
/// largest header anyone sends us, is about 2 KB.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Connection-level limits (from `[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (each
    /// request of a kept-alive connection, too).
    pub header_read_timeout: Duration,
}

/// Serves `router` under `limits` until `shutdown` resolves, then lets
/// in-flight requests finish for at most `grace`.
pub async fn serve_with_limits(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let summaries = tokio::spawn(refusals::summarise(refusals::SUMMARY_INTERVAL));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if refusals::admit(Source::Connections) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Timeouts, resets and malformed requests end here; hyper has
            // already answered what deserved an answer.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // Stop accepting: clients still in the backlog are refused.
    drop(listener);
    let drained = tokio::time::timeout(grace, graceful.shutdown()).await;
    summaries.abort();
    refusals::flush();
    if drained.is_err() {
        tracing::warn!(
            grace_seconds = grace.as_secs(),
            "in-flight requests did not finish in time; exiting anyway"
        );
    }
    Ok(())
}

/// A failed `accept` is the client's problem when it reset the connection;
/// anything else (out of file descriptors) is ours, and retrying at once
/// would spin, so wait a second as hyper 0.14 and axum do.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
