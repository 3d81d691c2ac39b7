//! The metrics listener's one route, the figures it reads from the store at
//! each scrape, and the layer that counts the public listener's requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

use super::{LabelPair, Metrics};
use crate::store::{Figures, Store};
use crate::time::Clock;

/// What a scrape reads.
#[derive(Clone)]
pub(crate) struct Scrape {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) store: Arc<dyn Store>,
    /// The intake's clock: subscription expiries are Graph's, in its time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Each watched group's package alias (lower-case group id → alias),
    /// so an expiry is labelled with a name the operator configured.
    pub(crate) aliases: BTreeMap<String, String>,
    /// One scrape sets the store's gauges and encodes at a time.
    pub(crate) busy: Arc<tokio::sync::Mutex<()>>,
}

impl Scrape {
    fn apply(&self, figures: &Figures) {
        let m = &self.metrics;
        // Cleared first: a state no request holds any more reads as absent,
        // not as its last count.
        m.requests.clear();
        for (state, count) in &figures.requests_by_state {
            m.requests
                .get_or_create(&LabelPair("state", state_label(state)))
                .set(*count);
        }
        m.outbox_depth.set(figures.outbox_depth);
        let now = chrono::Utc::now();
        let age = figures
            .outbox_oldest
            .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
        m.outbox_oldest.set(age);
        m.subscriptions.set(figures.subscriptions.len() as i64);
        m.subscription_expiry.clear();
        let graph_now = self.clock.now();
        for (group, expires) in &figures.subscriptions {
            let name = self
                .aliases
                .get(&group.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| "unconfigured".to_owned());
            m.subscription_expiry
                .get_or_create(&LabelPair("package", name))
                .set((*expires - graph_now).as_seconds_f64());
        }
    }
}

/// A stored state is Graph's `accessPackageRequestState`; anything else
/// (a newer Graph value, a hand-edited row) is `other`, so the label set
/// stays closed.
fn state_label(state: &str) -> String {
    use stagegate_domain::approval::RequestState;
    match state.parse::<RequestState>() {
        Ok(RequestState::Other(_)) | Err(_) => "other".to_owned(),
        Ok(known) => known.as_str().to_owned(),
    }
}

/// The metrics listener's routes: `GET /metrics` only.
pub(crate) fn router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(scrape)
}

/// Whoever reaches the metrics listener may call (`server.metrics_bind`,
/// loopback by default; never the public listener): every figure in the
/// Prometheus text format. Nothing in it names a person or a request.
async fn metrics(State(scrape): State<Scrape>) -> Response {
    let _one = scrape.busy.lock().await;
    match scrape.store.figures().await {
        Ok(figures) => scrape.apply(&figures),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape: cannot read the figures from the database");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the figures from the database: {e}; see the bot's log\n"),
            )
                .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        scrape.metrics.encode(),
    )
        .into_response()
}

/// Counts and times every request of `router` by its route template
/// (`/api/teams/messages`, never a raw path with ids; `unmatched` for a
/// 404 of no route), method and status. Outermost, so refusals by the
/// request limits and timeouts are counted too.
pub(crate) fn track_inbound(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(middleware::from_fn_with_state(metrics, track))
}

async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.inbound(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The standard methods by name; anything else is `other` (a client picks
/// the method, and labels must not grow with what clients send).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_and_methods_collapse_into_other() {
        assert_eq!(state_label("delivered"), "delivered");
        assert_eq!(state_label("PendingApproval"), "pendingApproval");
        assert_eq!(state_label("somethingNew"), "other");
        let custom = axum::http::Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }
}
