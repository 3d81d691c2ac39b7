//! The emulators' HTTP plumbing: a trace span per request, a request
//! timeout, and a bounded graceful shutdown. The emulators are not exposed,
//! so they take none of the bot's limits on unauthenticated clients.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{Request, StatusCode};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Wraps the emulators' router with a trace span per request (method and
/// matched route) and a timeout.
pub(crate) fn with_layers(router: Router, request_timeout: Duration) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let path = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("unmatched");
                    tracing::info_span!("sim", method = %request.method(), path)
                }),
            )
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                request_timeout,
            )),
    )
}

/// Serves `router` until `shutdown` resolves, then lets in-flight requests
/// finish for at most `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router.into_make_service()).with_graceful_shutdown(async {
        shutdown.await;
        let _ = tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result,
        _ = async {
            if rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time; exiting anyway");
            Ok(())
        }
    }
}
