//! The bot's figures for Prometheus (`GET /metrics` on its own listener,
//! `server.metrics_bind`): one registry per bot, never a process-global
//! recorder, so bots sharing a process (the integration tests) keep their
//! figures apart. Every label value comes from a closed set (route
//! templates, operation names, states, reasons): no person, request or
//! token ever becomes a label. docs/deploy.md#metrics lists every metric.

mod operation;
mod server;

pub(crate) use operation::{connector_operation, graph_operation};
pub(crate) use server::{Scrape, router, track_inbound};

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// An outbound service the bot calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Graph,
    BotConnector,
    Slack,
}

impl Service {
    fn as_str(self) -> &'static str {
        match self {
            Self::Graph => "graph",
            Self::BotConnector => "bot_connector",
            Self::Slack => "slack",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InboundLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    service: &'static str,
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: &'static str,
    operation: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, from 5 ms to about 80 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Seconds, from 100 ms to about 3.6 hours (a card may wait out a
/// throttled platform or retried deliveries).
fn slow_latency() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 18))
}

/// Every figure the bot keeps. Cheap to clone pieces of: the families are
/// shared handles.
pub struct Metrics {
    registry: Registry,
    inbound: Family<InboundLabels, Counter>,
    inbound_seconds: Histograms<RouteLabels>,
    outbound: Family<OutboundLabels, Counter>,
    outbound_seconds: Histograms<OperationLabels>,
    throttled: Family<OperationLabels, Counter>,
    retries: Family<OperationLabels, Counter>,
    relayed: Family<LabelPair, Counter>,
    refused: Family<LabelPair, Counter>,
    unconfirmed: Counter,
    first_card: Histogram,
    click_to_graph: Histogram,
    unreachable: Family<LabelPair, Counter>,
    alerts: Family<LabelPair, Counter>,
    // Read from the store at each scrape (`server.rs`).
    pub(crate) requests: Family<LabelPair, Gauge>,
    pub(crate) outbox_depth: Gauge,
    pub(crate) outbox_oldest: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub(crate) subscriptions: Gauge,
    pub(crate) subscription_expiry: Family<LabelPair, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

/// One label, named per metric (`state`, `reason`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct LabelPair(pub(crate) &'static str, pub(crate) String);

impl EncodeLabelSet for LabelPair {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        [(self.0, self.1.as_str())].encode(encoder)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("stagegate");
        let m = Self {
            inbound: Family::default(),
            inbound_seconds: Family::new_with_constructor(latency),
            outbound: Family::default(),
            outbound_seconds: Family::new_with_constructor(latency),
            throttled: Family::default(),
            retries: Family::default(),
            relayed: Family::default(),
            refused: Family::default(),
            unconfirmed: Counter::default(),
            first_card: slow_latency(),
            click_to_graph: latency(),
            unreachable: Family::default(),
            alerts: Family::default(),
            requests: Family::default(),
            outbox_depth: Gauge::default(),
            outbox_oldest: Gauge::default(),
            subscriptions: Gauge::default(),
            subscription_expiry: Family::default(),
            registry: Registry::default(),
        };
        r.register(
            "http_requests",
            "Inbound requests by route template, method and status",
            m.inbound.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Inbound request latency by route template and method",
            m.inbound_seconds.clone(),
        );
        r.register("outbound_requests", "Calls to Microsoft Graph, the Bot Connector and Slack, one per attempt, by operation and HTTP status (`transport` when no answer came)", m.outbound.clone());
        r.register(
            "outbound_request_duration_seconds",
            "Latency of each outbound attempt by service and operation",
            m.outbound_seconds.clone(),
        );
        r.register(
            "outbound_throttled",
            "Outbound attempts answered 429 (throttled) by service and operation",
            m.throttled.clone(),
        );
        r.register("outbound_retries", "Outbound attempts repeated after a throttle, a transient failure or a refused app token", m.retries.clone());
        r.register(
            "decisions_relayed",
            "Decisions taken in chat and relayed to Microsoft Entra, by review (approve, deny)",
            m.relayed.clone(),
        );
        r.register(
            "decisions_refused",
            "Decisions taken in chat and not relayed, by reason",
            m.refused.clone(),
        );
        r.register(
            "decisions_unconfirmed",
            "Decisions whose relay got no clear answer from Graph (recovery checks them later)",
            m.unconfirmed.clone(),
        );
        r.register(
            "request_to_first_card_seconds",
            "Time from the bot first recording a request to its first approval card in chat",
            m.first_card.clone(),
        );
        r.register(
            "click_to_graph_seconds",
            "Time from an approver's click reaching the bot to Graph accepting the decision",
            m.click_to_graph.clone(),
        );
        r.register("unreachable_people", "Messages not delivered because chat cannot reach the person, by role (approver, person)", m.unreachable.clone());
        r.register(
            "security_alerts",
            "Security-channel alerts by outcome (sent, failed)",
            m.alerts.clone(),
        );
        r.register(
            "requests",
            "Requests the bot tracks, by their state as Graph last showed it",
            m.requests.clone(),
        );
        r.register(
            "outbox_depth",
            "Outbox jobs not yet delivered (pending or being sent)",
            m.outbox_depth.clone(),
        );
        r.register(
            "outbox_oldest_job_age_seconds",
            "Age of the oldest undelivered outbox job (0 when none)",
            m.outbox_oldest.clone(),
        );
        r.register(
            "graph_subscriptions",
            "Graph change-notification subscriptions the bot keeps",
            m.subscriptions.clone(),
        );
        r.register(
            "graph_subscription_expiry_seconds",
            "Seconds until each subscription expires, by the watched group's package alias",
            m.subscription_expiry.clone(),
        );
        Self { registry: r, ..m }
    }

    /// The registry in the Prometheus text format (0.0.4).
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    pub(crate) fn inbound(&self, route: &str, method: &str, status: u16, took: Duration) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.inbound
            .get_or_create(&InboundLabels {
                route: route.clone(),
                method: method.clone(),
                status: status.to_string(),
            })
            .inc();
        self.inbound_seconds
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }
}

/// What an outbound attempt came back with.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// No answer: connection refused or reset, timed out.
    Transport,
}

/// The metrics as the clients and the engine hold them: absent in clients
/// built outside an [`crate::app::Application`] (tests), where recording
/// does nothing.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Metrics>>);

impl Recorder {
    #[must_use]
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self(Some(metrics))
    }

    /// Sends `request` (one attempt to `service`'s `operation`) and counts
    /// it with its answer and how long it took.
    pub async fn send(
        &self,
        service: Service,
        operation: &str,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let started = std::time::Instant::now();
        let sent = request.send().await;
        let answer = match &sent {
            Ok(response) => Answer::Status(response.status().as_u16()),
            Err(_) => Answer::Transport,
        };
        self.outbound(service, operation, answer, started.elapsed());
        sent
    }

    /// One outbound attempt and its answer.
    pub fn outbound(&self, service: Service, operation: &str, answer: Answer, took: Duration) {
        let Some(m) = &self.0 else { return };
        let status = match answer {
            Answer::Status(code) => code.to_string(),
            Answer::Transport => "transport".to_owned(),
        };
        let op = OperationLabels {
            service: service.as_str(),
            operation: operation.to_owned(),
        };
        if matches!(answer, Answer::Status(429)) {
            m.throttled.get_or_create(&op).inc();
        }
        m.outbound_seconds
            .get_or_create(&op)
            .observe(took.as_secs_f64());
        m.outbound
            .get_or_create(&OutboundLabels {
                service: op.service,
                operation: op.operation,
                status,
            })
            .inc();
    }

    /// An outbound call about to be attempted again.
    pub fn retry(&self, service: Service, operation: &str) {
        let Some(m) = &self.0 else { return };
        m.retries
            .get_or_create(&OperationLabels {
                service: service.as_str(),
                operation: operation.to_owned(),
            })
            .inc();
    }

    pub(crate) fn relayed(&self, review: &'static str) {
        let Some(m) = &self.0 else { return };
        m.relayed
            .get_or_create(&LabelPair("review", review.to_owned()))
            .inc();
    }

    pub(crate) fn click_to_graph(&self, took: Duration) {
        if let Some(m) = &self.0 {
            m.click_to_graph.observe(took.as_secs_f64());
        }
    }

    pub(crate) fn refused(&self, reason: &'static str) {
        let Some(m) = &self.0 else { return };
        m.refused
            .get_or_create(&LabelPair("reason", reason.to_owned()))
            .inc();
    }

    pub(crate) fn unconfirmed(&self) {
        if let Some(m) = &self.0 {
            m.unconfirmed.inc();
        }
    }

    pub(crate) fn first_card(&self, after: Duration) {
        if let Some(m) = &self.0 {
            m.first_card.observe(after.as_secs_f64());
        }
    }

    pub(crate) fn unreachable(&self, role: &'static str) {
        let Some(m) = &self.0 else { return };
        m.unreachable
            .get_or_create(&LabelPair("role", role.to_owned()))
            .inc();
    }

    pub(crate) fn alert(&self, sent: bool) {
        let Some(m) = &self.0 else { return };
        let outcome = if sent { "sent" } else { "failed" };
        m.alerts
            .get_or_create(&LabelPair("outcome", outcome.to_owned()))
            .inc();
    }
}
