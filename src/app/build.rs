//! The steps of [`super::Application::build_with`], in the order it runs
//! them: each step's errors surface in that order, so the messages an
//! operator sees for a bad configuration do not depend on the split.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use super::AppState;
use crate::chat::port::ChatPort;
use crate::chat::slack::{SlackOrigin, SlackPort, SlackVerifier};
use crate::chat::teams::handlers::TeamsBot;
use crate::config::{ServerSettings, Settings};
use crate::engine::time::Clock;
use crate::engine::{Engine, EngineDeps};
use crate::graph::GraphClient;
use crate::identity::link::LinkService;
use crate::identity::vault::KeyRing;
use crate::metrics::{Metrics, Recorder};
use crate::retry::RetryPolicy;
use crate::store::{SqliteStore, Store};
use crate::token::AppTokenSource;
use stagegate_domain::chat_ids::Platform;

/// The Slack side once configured: the outbound port and what inbound
/// requests are checked with.
pub(super) type SlackParts = (Arc<SlackPort>, SlackVerifier, SlackOrigin);

/// Refuses a config that cannot work, naming every problem at once: the
/// example's placeholders, no chat platform, no package, shipped secrets.
/// `brought` counts the chat adapters the caller supplies (tests).
pub(super) fn refuse_unusable(settings: &Settings, brought: usize) -> anyhow::Result<()> {
    let platforms =
        brought + usize::from(settings.teams.is_some()) + usize::from(settings.slack.is_some());
    let mut problems = settings.unusable(platforms);
    if let Err(secrets) = settings.refuse_sandbox_secrets_off_loopback() {
        let secrets = secrets.to_string();
        problems.push(
            secrets
                .strip_prefix("refusing to start: ")
                .unwrap_or(&secrets)
                .to_owned(),
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to start: this config cannot work yet:\n  - {}",
        problems.join("\n  - ")
    )
}

/// The public listener, its port, and the metrics listener when on.
pub(super) type Listeners = (TcpListener, u16, Option<TcpListener>);

/// Binds the listeners, once [`refuse_unusable`] has passed the settings
/// (shipped secrets included).
pub(super) async fn listen(settings: &mut Settings) -> anyhow::Result<Listeners> {
    settings.server.check_limits().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(settings.server.bind)
        .await
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                ": another program already listens there. Stop it, or choose another port \
                 (server.bind, STAGEGATE_SERVER__BIND, or `sandbox --port`); port 0 picks a free one"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen on {}: {e}{hint}", settings.server.bind)
        })?;
    let port = listener.local_addr()?.port();
    // A public URL on port 0 (tests, the sandbox) means "the port we got":
    // sign-in links and the redirect URI must carry the real one.
    if let Some(base) = settings.server.public_base_url.strip_suffix(":0") {
        settings.server.public_base_url = format!("{base}:{port}");
    }
    let metrics = match settings.server.metrics_bind {
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {addr} for /metrics (server.metrics_bind): {e}; \
                 pick a free port, or \"\" to serve no metrics"
            )
        })?),
        None => None,
    };
    Ok((listener, port, metrics))
}

/// Opens the database and the identity links over it.
pub(super) async fn open_store(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn Store>, Arc<LinkService>)> {
    let vault = Arc::new(
        KeyRing::new(
            &settings.identity.vault_keys,
            &settings.identity.vault_primary_key,
        )
        .map_err(|e| anyhow::anyhow!("identity.vault_keys: {e}"))?,
    );
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&settings.database.path, settings.database.max_connections).await?,
    );
    let links = Arc::new(LinkService::new(settings, store.clone(), vault));
    // Before serving: every stored token opens with the primary key and
    // the current associated data from here on.
    links
        .reseal_all()
        .await
        .map_err(|e| anyhow::anyhow!("re-sealing stored refresh tokens: {e}"))?;
    Ok((store, links))
}

/// The shared HTTP client and the Graph client on top of it, counting in
/// `metrics` (the Teams and Slack clients take their recorder from it).
pub(crate) fn clients(
    settings: &Settings,
    metrics: Recorder,
) -> anyhow::Result<(reqwest::Client, GraphClient)> {
    let http = reqwest::Client::builder()
        // Graph never redirects API calls; following one could leak a token.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let app_token = Arc::new(AppTokenSource::new(
        http.clone(),
        &settings.entra.login_base_url,
        &settings.entra.tenant_id,
        &settings.entra.client_id,
        settings.entra.client_secret.clone(),
        "https://graph.microsoft.com/.default",
    ));
    let graph = GraphClient::new(
        http.clone(),
        &settings.graph.base_url,
        app_token,
        Duration::from_secs(settings.graph.timeout_seconds),
        RetryPolicy::default(),
    )
    .with_metrics(metrics);
    Ok((http, graph))
}

/// Adds the Slack and Teams adapters to `ports` when configured, unless
/// the caller brought its own for that platform (tests with the in-memory
/// one).
pub(super) fn adapters(
    settings: &Settings,
    ports: &mut Vec<Arc<dyn ChatPort>>,
    http: &reqwest::Client,
    graph: &GraphClient,
    store: &Arc<dyn Store>,
) -> anyhow::Result<(
    Option<SlackParts>,
    Option<crate::chat::teams::wiring::Parts>,
)> {
    let slack = settings
        .slack
        .as_ref()
        .filter(|_| !ports.iter().any(|p| p.platform() == Platform::Slack))
        .map(|s| {
            let client = crate::chat::slack::SlackClient::from_settings(http.clone(), s)
                .with_metrics(graph.recorder().clone());
            let verifier = SlackVerifier::new(s.signing_secret.clone());
            let origin = SlackOrigin::from_settings(s, client.clone())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok::<_, anyhow::Error>((
                Arc::new(SlackPort::new(client).with_store(store.clone())),
                verifier,
                origin,
            ))
        })
        .transpose()?;
    if let Some((port, _, _)) = &slack {
        ports.push(port.clone());
    }
    let teams = match &settings.teams {
        Some(t) if !ports.iter().any(|p| p.platform() == Platform::Teams) => Some(
            crate::chat::teams::wiring::build(settings, t, http, graph, store.clone())?,
        ),
        _ => None,
    };
    if let Some((_, _, port)) = &teams {
        ports.push(port.clone());
    }
    Ok((slack, teams))
}

/// The engine over every chat port, and the Teams endpoint's side of it.
pub(super) fn engine(
    settings: &Settings,
    deps: (Arc<dyn Store>, GraphClient, Arc<LinkService>),
    ports: Vec<Arc<dyn ChatPort>>,
    teams: Option<crate::chat::teams::wiring::Parts>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<Engine>, Option<Arc<TeamsBot>>)> {
    let (store, graph, links) = deps;
    let engine = Engine::new(EngineDeps {
        settings: settings.engine.clone(),
        store,
        graph,
        links,
        ports,
        clock,
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let teams_bot = teams.map(|(authenticator, allowlist, port)| {
        let dev = settings.teams.as_ref().is_some_and(|t| t.dev_no_auth);
        TeamsBot::new(authenticator, allowlist, engine.clone(), port, dev)
    });
    Ok((engine, teams_bot))
}

/// The limits the server applies, read before the settings move into the
/// state.
pub(super) struct ServerLimits {
    pub grace: Duration,
    pub timeout: Duration,
    pub connections: crate::http::ConnectionLimits,
    pub requests: crate::http::RequestLimits,
}

impl ServerLimits {
    pub(super) fn from_settings(server: &ServerSettings) -> Self {
        Self {
            grace: Duration::from_secs(server.shutdown_grace_seconds),
            timeout: Duration::from_secs(server.request_timeout_seconds),
            connections: crate::http::ConnectionLimits {
                max_connections: server.max_connections,
                header_read_timeout: Duration::from_secs(server.header_read_timeout_seconds),
            },
            requests: crate::http::RequestLimits {
                max_in_flight: server.max_in_flight_requests,
                body_read_timeout: Duration::from_secs(server.body_read_timeout_seconds),
            },
        }
    }
}

/// The bot's own routes, the intake's and each chat platform's, under the
/// common layers and the request limits.
pub(super) fn routes(
    state: &AppState,
    intake: &crate::intake::Intake,
    slack: Option<SlackParts>,
    limits: &ServerLimits,
    metrics: &Arc<Metrics>,
) -> Router {
    let mut routes = super::router(state.clone()).merge(intake.router());
    if let Some((port, verifier, origin)) = slack {
        let inbound = crate::chat::slack::handlers::SlackInbound::new(
            verifier,
            origin,
            state.store.clone(),
            state.engine.clone(),
            port,
        );
        routes = routes.merge(crate::chat::slack::handlers::router(inbound));
    }
    if let Some(bot) = state.teams.clone() {
        routes = routes.merge(crate::chat::teams::handlers::router(bot));
    }
    let router = crate::http::with_common_layers(routes, limits.timeout);
    let router = crate::http::with_request_limits(router, limits.requests);
    crate::metrics::track_inbound(router, metrics.clone())
}

/// The metrics listener's router: `/metrics` alone, under the common
/// layers (request ids, timeouts), with the figures read from `store`.
pub(super) fn metrics_routes(
    settings: &Settings,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limits: &ServerLimits,
) -> Router {
    let aliases = settings
        .engine
        .packages
        .iter()
        .map(|p| (p.group_id.to_ascii_lowercase(), p.alias.clone()))
        .collect();
    let scrape = crate::metrics::Scrape {
        metrics,
        store,
        clock,
        aliases,
        busy: Arc::default(),
    };
    crate::http::with_common_layers(crate::metrics::router(scrape), limits.timeout)
}
