//! Builds the Teams adapter's parts from settings (used by `app.rs`).

use std::sync::Arc;

use super::adapter::{AppInstaller, TeamsPort};
use super::auth::{AuthSettings, TeamsAuthenticator};
use super::connector::ConnectorClient;
use super::service_url::{ServiceUrlAllowlist, TEAMS_SERVICE_URLS};
use crate::config::{Settings, TeamsSettings, is_loopback_bind, is_loopback_url, origin_of};
use crate::retry::RetryPolicy;

pub(crate) type Parts = (
    Arc<TeamsAuthenticator>,
    Arc<ServiceUrlAllowlist>,
    Arc<TeamsPort>,
);

/// The authenticator, the serviceUrl allowlist (Teams' hosts plus the
/// configured `service_url`) and the port. `dev_no_auth` is refused unless
/// nothing real can be reached ([`refuse_dev_mode_off_loopback`]).
pub(crate) fn build(
    settings: &Settings,
    teams: &TeamsSettings,
    http: &reqwest::Client,
    graph: &crate::graph::GraphClient,
    store: Arc<dyn crate::store::Store>,
) -> anyhow::Result<Parts> {
    if teams.dev_no_auth {
        refuse_dev_mode_off_loopback(settings, teams)?;
        tracing::warn!(
            "teams.dev_no_auth is ON: Teams activities are NOT authenticated. \
             Local development with the Agents Playground only."
        );
    }
    let prefixes = TEAMS_SERVICE_URLS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(std::iter::once(teams.service_url.clone()));
    let allowlist = Arc::new(
        ServiceUrlAllowlist::new(prefixes)
            .map_err(|e| anyhow::anyhow!("teams.service_url: {e}"))?,
    );
    let tenant = &settings.entra.tenant_id;
    let authenticator = Arc::new(TeamsAuthenticator::new(
        http.clone(),
        AuthSettings::new(&teams.app_id, tenant, &teams.openid_metadata_url),
        allowlist.clone(),
    ));
    let tokens = Arc::new(ConnectorClient::token_source(
        http.clone(),
        &settings.entra.login_base_url,
        tenant,
        &teams.app_id,
        teams.app_password.clone(),
    ));
    let connector = ConnectorClient::new(http.clone(), tokens, RetryPolicy::bot_connector())
        .with_metrics(graph.recorder().clone());
    let port = Arc::new(
        TeamsPort::new(
            connector,
            allowlist.clone(),
            &teams.app_id,
            tenant,
            &teams.service_url,
            teams.security_channel.clone(),
            store,
        )
        // The manifest's id is the bot's app id (manifests/teams), which the
        // catalog keeps as the app's `externalId`.
        .with_installer(Arc::new(AppInstaller::new(graph.clone(), &teams.app_id))),
    );
    Ok((authenticator, allowlist, port))
}

/// `teams.dev_no_auth` believes whoever posts an activity, so it may only
/// run where no real tenant is reachable: the bot listens on loopback, and
/// Entra, Graph and the Bot Connector it replies to are local emulators (the
/// connector token it sends with each reply comes from that Entra).
fn refuse_dev_mode_off_loopback(settings: &Settings, teams: &TeamsSettings) -> anyhow::Result<()> {
    let mut off = Vec::new();
    if !is_loopback_bind(&settings.server.bind) {
        off.push(format!("server.bind ({})", settings.server.bind));
    }
    for (key, url) in [
        ("entra.login_base_url", &settings.entra.login_base_url),
        ("graph.base_url", &settings.graph.base_url),
        ("teams.service_url", &teams.service_url),
    ] {
        if !is_loopback_url(url) {
            off.push(format!("{key} ({})", origin_of(url)));
        }
    }
    if off.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "teams.dev_no_auth accepts unauthenticated activities and is refused unless server.bind, \
         entra.login_base_url, graph.base_url and teams.service_url are all on loopback; not on \
         loopback: {}. Point Entra and Graph at local emulators (`stagegate sandbox \
         --emulators-only`) and teams.service_url at the Agents Playground's --service-url \
         (default http://localhost:56150/_connector), or turn teams.dev_no_auth off",
        off.join(", ")
    )
}
