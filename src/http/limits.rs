//! Request-level limits of the bot's server: at most `max_in_flight`
//! requests at once, the rest shed with 503 + `Retry-After` before they
//! read a byte of body; and a deadline on reading each request body, much
//! shorter than the request timeout, so a client that trickles its body
//! cannot hold a request slot (and its buffer) for the whole timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use http_body::{Frame, SizeHint};
use serde_json::json;
use tokio::time::Sleep;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::util::MapRequestLayer;
use tower::{BoxError, ServiceBuilder};

use super::refusals::{self, Source};

/// What a shed request is told to wait before retrying, seconds: about
/// the time a slot takes to free up (a request whose body is late is cut at
/// the body deadline).
pub(crate) const RETRY_AFTER_SECONDS: u64 = 5;

/// The request-level limits (from `[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Requests handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// How long a request's body may take to arrive, from its headers.
    pub body_read_timeout: Duration,
}

/// Wraps `router` (after [`super::with_common_layers`]) with load shedding
/// and the body deadline. Outermost, so a shed request costs no tracing
/// span and no failure log line of its own.
pub fn with_request_limits(router: Router, limits: RequestLimits) -> Router {
    let deadline = limits.body_read_timeout;
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: BoxError| async { overloaded() }))
            .layer(LoadShedLayer::new())
            // Global: `Router::layer` builds one service per route, and a
            // per-route limit would multiply the cap by the number of routes.
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight))
            .layer(MapRequestLayer::new(move |request: Request| {
                with_body_deadline(request, deadline)
            })),
    )
}

/// The 503 for a shed request, as a problem body.
fn overloaded() -> Response {
    if refusals::admit(Source::Overload) {
        tracing::warn!("too many requests in flight; shedding with 503");
    }
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let body = json!({
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": status.as_u16(),
        "detail": "stagegate is handling as many requests as it may; retry later",
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

fn with_body_deadline(request: Request, after: Duration) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    request.map(|body| Body::new(DeadlineBody::new(body, after)))
}

/// The body did not arrive in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub(crate) struct BodyDeadlineExceeded(pub Duration);

/// True when `error` (or one of its sources) is a [`BodyDeadlineExceeded`]:
/// body readers answer 408 for it instead of their "unreadable" status.
#[must_use]
pub(crate) fn is_body_deadline(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyDeadlineExceeded>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A body that fails once its deadline has passed. tower-http's
/// `TimeoutBody` restarts its timer after every frame, so a client sending
/// one byte per interval would never trip it; this is a deadline for the
/// whole body.
pub(crate) struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    after: Duration,
}

impl DeadlineBody {
    #[must_use]
    pub(crate) fn new(inner: Body, after: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(after)),
            after,
        }
    }

    fn expired(&self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Poll::Ready(Some(Err(axum::Error::new(BodyDeadlineExceeded(
            self.after,
        )))))
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // Checked first: a client that always has one more byte ready must
        // not outlast the deadline.
        if self.deadline.is_elapsed() {
            return self.expired();
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => self.expired(),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_trickled_body_fails_at_the_deadline() {
        let (tx, body) = trickle();
        let mut body = DeadlineBody::new(body, Duration::from_secs(10));
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(first.unwrap().is_ok());
        // Nothing more arrives: the paused clock jumps to the deadline.
        let second = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let error = second.unwrap().unwrap_err();
        assert!(is_body_deadline(&error), "{error}");
        drop(tx);
    }

    /// A streaming body fed through a channel.
    fn trickle() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|bytes| (Ok::<_, std::io::Error>(bytes), rx))
        });
        (tx, Body::from_stream(stream))
    }
}
