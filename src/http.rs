//! The bot's HTTP plumbing: request ids,
//! tracing spans, sensitive-header redaction, timeouts, graceful shutdown;
//! and the bot's own limits on what unauthenticated clients may hold
//! (connections, in-flight requests, slow headers and bodies, log lines).

pub(crate) mod limits;
pub mod refusals;
mod server;

pub use limits::{RequestLimits, with_request_limits};
pub use server::{ConnectionLimits, MAX_HEAD_BYTES, serve_with_limits};

use std::iter::once;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, Request, StatusCode, header};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The Logic App relay's shared secret (`intake::callouts`).
pub const RELAY_SECRET: HeaderName = HeaderName::from_static("x-stagegate-relay-secret");

/// Wraps `router` with the layers every server of ours gets.
pub fn with_common_layers(router: Router, request_timeout: Duration) -> Router {
    let sensitive = [
        header::AUTHORIZATION,
        header::COOKIE,
        header::SET_COOKIE,
        HeaderName::from_static("x-slack-signature"),
        RELAY_SECRET,
    ];
    router.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let path = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("unmatched");
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "http",
                        method = %request.method(),
                        path,
                        request_id,
                    )
                }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                request_timeout,
            )),
    )
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: a signal sent right
/// after the caller announced itself (the banner, `/readyz`) is not lost to
/// the default action, which would kill the process without draining.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}

/// Names of headers never to log, for handlers that log request metadata.
pub fn is_sensitive_header(name: &HeaderName) -> bool {
    once(header::AUTHORIZATION)
        .chain(once(header::COOKIE))
        .any(|h| h == name)
        || name.as_str() == "x-slack-signature"
        || name == RELAY_SECRET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_header_is_sensitive() {
        for name in [
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-slack-signature"),
            HeaderName::from_static("x-stagegate-relay-secret"),
        ] {
            assert!(is_sensitive_header(&name), "{name}");
        }
        assert!(!is_sensitive_header(&header::CONTENT_TYPE));
    }
}
