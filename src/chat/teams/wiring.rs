//! Builds the Teams adapter's parts from settings (used by `app.rs`).

use std::sync::Arc;

use super::adapter::TeamsPort;
use super::auth::{AuthSettings, TeamsAuthenticator};
use super::connector::{ConnectorClient, RetryPolicy};
use super::service_url::{ServiceUrlAllowlist, TEAMS_SERVICE_URLS};
use crate::config::{Settings, TeamsSettings};

pub type Parts = (
    Arc<TeamsAuthenticator>,
    Arc<ServiceUrlAllowlist>,
    Arc<TeamsPort>,
);

/// The authenticator, the serviceUrl allowlist (Teams' hosts plus the
/// configured `service_url`) and the port. `dev_no_auth` is refused unless
/// the bot listens on loopback only.
pub fn build(
    settings: &Settings,
    teams: &TeamsSettings,
    http: &reqwest::Client,
    store: crate::store::Store,
) -> anyhow::Result<Parts> {
    if teams.dev_no_auth {
        if !settings.server.bind.ip().is_loopback() {
            anyhow::bail!(
                "teams.dev_no_auth accepts unauthenticated activities and is refused unless \
                 server.bind is a loopback address (it is {})",
                settings.server.bind
            );
        }
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
    let connector = ConnectorClient::new(http.clone(), tokens, RetryPolicy::default());
    let port = Arc::new(TeamsPort::new(
        connector,
        allowlist.clone(),
        &teams.app_id,
        tenant,
        &teams.service_url,
        teams.security_channel.clone(),
        store,
    ));
    Ok((authenticator, allowlist, port))
}
