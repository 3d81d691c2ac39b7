//! Where a verified Slack request comes from, and where its answer may go.
//!
//! A valid signature proves the request was signed with our app's secret,
//! not that it is meant for this stagegate: the same app may be installed
//! in other workspaces, and a payload's `response_url` is just a field the
//! signer chose. So before the engine runs, the payload's `api_app_id` must
//! be `slack.app_id` and its workspace one of `slack.team_ids` (by default
//! the bot token's own workspace, from `auth.test`); and a `response_url`
//! is used only under `slack.response_url_base` (Slack's hooks host), else
//! the answer goes through the Web API, so a signed payload cannot make the
//! bot POST to an address of the signer's choosing.

use std::time::Duration;

use tokio::sync::OnceCell;

use super::client::SlackClient;
use crate::config::SlackSettings;

/// How long a request may wait for `auth.test` when the workspace has to be
/// learned (inside Slack's 3 s; the next request tries again on failure).
const LEARN_BUDGET: Duration = Duration::from_millis(1000);

/// Why a request was refused; the texts name ids, never secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("api_app_id {found:?} is not slack.app_id")]
    ForeignApp { found: Option<String> },
    #[error("workspace {found:?} is not one slack.team_ids serves")]
    ForeignTeam { found: Option<String> },
    #[error("the workspace to serve is unknown: auth.test failed ({0})")]
    TeamUnknown(String),
}

impl OriginError {
    /// What the person is told.
    #[must_use]
    pub fn answer(&self) -> &'static str {
        match self {
            Self::ForeignApp { .. } => "This stagegate does not serve this Slack app.",
            Self::ForeignTeam { .. } => "This stagegate does not serve this Slack workspace.",
            Self::TeamUnknown(_) => {
                "stagegate cannot confirm this Slack workspace right now; please try again in a minute."
            }
        }
    }
}

/// A `[slack]` setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginConfigError {
    #[error("slack.app_id must be the app's ID (letters and digits, e.g. A0123456789)")]
    AppId,
    #[error("slack.team_ids: `{0}` is not a workspace ID (letters and digits, e.g. T0123456789)")]
    TeamId(String),
    #[error(
        "slack.response_url_base must be an http(s) URL without user, query or fragment, e.g. https://hooks.slack.com/"
    )]
    ResponseUrlBase,
}

/// A `response_url` under the allowed base: the only kind the bot POSTs to.
/// It is a credential, so `Debug` shows only its host.
#[derive(Clone)]
pub struct ResponseUrl(url::Url);

impl ResponseUrl {
    #[must_use]
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

impl std::fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ResponseUrl")
            .field(&self.0.host_str().unwrap_or_default())
            .finish()
    }
}

/// The parsed `slack.response_url_base`.
#[derive(Debug, Clone)]
struct HooksBase {
    scheme: String,
    host: url::Host<String>,
    port: Option<u16>,
    /// Path segments a `response_url`'s path must start with.
    path: Vec<String>,
}

impl HooksBase {
    fn parse(raw: &str) -> Result<Self, OriginConfigError> {
        let url = url::Url::parse(raw).map_err(|_| OriginConfigError::ResponseUrlBase)?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(OriginConfigError::ResponseUrlBase);
        }
        Ok(Self {
            scheme: url.scheme().to_owned(),
            host: url
                .host()
                .ok_or(OriginConfigError::ResponseUrlBase)?
                .to_owned(),
            port: url.port_or_known_default(),
            path: segments(&url),
        })
    }

    /// The parsed URL when it is under the base; compared part by part
    /// (the parser has already resolved `..` and lowercased the host), so
    /// `https://hooks.slack.com.evil/`, `https://hooks.slack.com@evil/` or
    /// a sibling path never pass as a prefix would.
    fn admit(&self, raw: &str) -> Option<ResponseUrl> {
        let url = url::Url::parse(raw).ok()?;
        let under = url.scheme() == self.scheme
            && url.username().is_empty()
            && url.password().is_none()
            && url.host().map(|h| h.to_owned()).as_ref() == Some(&self.host)
            && url.port_or_known_default() == self.port
            && segments(&url).starts_with(&self.path);
        under.then_some(ResponseUrl(url))
    }
}

/// A path's non-empty segments (`/slack/hooks/` → `["slack", "hooks"]`).
fn segments(url: &url::Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Which workspaces are served.
#[derive(Debug)]
enum Teams {
    Listed(Vec<String>),
    /// The bot token's workspace, asked from `auth.test` once it is needed;
    /// `None` once learned means an org-wide install, whose workspaces the
    /// token cannot name.
    OfToken {
        client: SlackClient,
        learned: OnceCell<Option<String>>,
    },
}

/// The origin checks of one `[slack]` configuration.
#[derive(Debug)]
pub struct SlackOrigin {
    app_id: String,
    teams: Teams,
    hooks: HooksBase,
}

/// An id from a payload, cut short enough to log.
fn clip(id: &str) -> String {
    id.chars().take(40).collect()
}

fn is_slack_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl SlackOrigin {
    /// Checks the settings; `client` answers `auth.test` when no team is
    /// listed.
    pub fn from_settings(
        settings: &SlackSettings,
        client: SlackClient,
    ) -> Result<Self, OriginConfigError> {
        if !is_slack_id(&settings.app_id) {
            return Err(OriginConfigError::AppId);
        }
        if let Some(bad) = settings.team_ids.iter().find(|t| !is_slack_id(t)) {
            return Err(OriginConfigError::TeamId(bad.clone()));
        }
        let teams = if settings.team_ids.is_empty() {
            Teams::OfToken {
                client,
                learned: OnceCell::new(),
            }
        } else {
            Teams::Listed(settings.team_ids.clone())
        };
        Ok(Self {
            app_id: settings.app_id.clone(),
            teams,
            hooks: HooksBase::parse(&settings.response_url_base)?,
        })
    }

    /// Admits a payload of app `app` from workspace `team`, or says why not
    /// (and logs it once).
    pub async fn admit(&self, app: Option<&str>, team: Option<&str>) -> Result<(), OriginError> {
        let verdict = self.check(app, team).await;
        if let Err(e) = &verdict {
            tracing::warn!(reason = %e, "refused a signed Slack request from elsewhere");
        }
        verdict
    }

    async fn check(&self, app: Option<&str>, team: Option<&str>) -> Result<(), OriginError> {
        if app != Some(self.app_id.as_str()) {
            return Err(OriginError::ForeignApp {
                found: app.map(clip),
            });
        }
        let foreign = || OriginError::ForeignTeam {
            found: team.map(clip),
        };
        let Some(team) = team.filter(|t| !t.is_empty()) else {
            return Err(foreign());
        };
        let served = match &self.teams {
            Teams::Listed(teams) => teams.iter().any(|t| t == team),
            Teams::OfToken { client, learned } => {
                learned.get_or_try_init(|| learn(client)).await?.as_deref() == Some(team)
            }
        };
        if served { Ok(()) } else { Err(foreign()) }
    }

    /// The `response_url` to answer through, when it is under the allowed
    /// base; otherwise `None`, logged once without the URL's path or query
    /// (they hold Slack's capability token).
    #[must_use]
    pub fn response_url(&self, raw: Option<&str>) -> Option<ResponseUrl> {
        let raw = raw.filter(|r| !r.is_empty())?;
        let admitted = self.hooks.admit(raw);
        if admitted.is_none() {
            let host = url::Url::parse(raw)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            tracing::warn!(
                %host,
                "a Slack payload's response_url is outside slack.response_url_base; answering through the Web API"
            );
        }
        admitted
    }
}

/// The bot token's workspace; `None` for an org-wide (Enterprise Grid)
/// install, which must list its workspaces in `slack.team_ids`.
async fn learn(client: &SlackClient) -> Result<Option<String>, OriginError> {
    let me = tokio::time::timeout(LEARN_BUDGET, client.auth_test())
        .await
        .map_err(|_| OriginError::TeamUnknown("timed out".into()))?
        .map_err(|e| OriginError::TeamUnknown(e.to_string()))?;
    if me.is_enterprise_install {
        tracing::error!(
            "the Slack bot token is an org-wide install: set slack.team_ids to the workspaces to serve; refusing every Slack request until then"
        );
        return Ok(None);
    }
    tracing::info!(team = %me.team_id, "serving the Slack bot token's workspace (slack.team_ids is empty)");
    Ok(Some(me.team_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> HooksBase {
        HooksBase::parse(raw).unwrap()
    }

    #[test]
    fn response_urls_are_admitted_only_under_the_base() {
        let slack = base("https://hooks.slack.com/");
        for ok in [
            "https://hooks.slack.com/commands/T1/2/xyz",
            "https://HOOKS.slack.com:443/actions/T1/2/xyz",
        ] {
            assert!(slack.admit(ok).is_some(), "{ok}");
        }
        for foreign in [
            "http://hooks.slack.com/commands/T1/2/xyz",
            "https://hooks.slack.com:8443/commands/T1/2/xyz",
            "https://hooks.slack.com.evil.example/commands",
            "https://hooks.slack.com@evil.example/commands",
            "https://user@hooks.slack.com/commands",
            "https://evil.example/https://hooks.slack.com/",
            "http://127.0.0.1:8080/admin",
            "not a url",
        ] {
            assert!(slack.admit(foreign).is_none(), "{foreign}");
        }
        let sandbox = base("http://127.0.0.1:3979/slack/hooks/");
        assert!(
            sandbox
                .admit("http://127.0.0.1:3979/slack/hooks/abc")
                .is_some()
        );
        for foreign in [
            "http://127.0.0.1:3979/slack/hooksx/abc",
            "http://127.0.0.1:3979/slack/api/chat.postMessage",
            "http://127.0.0.1:3979/slack/hooks/../api/x",
            "http://127.0.0.1:3979/slack/hooks/%2e%2e/api/x",
            "http://127.0.0.1:3978/slack/hooks/abc",
            "http://localhost:3979/slack/hooks/abc",
        ] {
            assert!(sandbox.admit(foreign).is_none(), "{foreign}");
        }
    }

    #[test]
    fn a_base_with_query_user_or_other_scheme_is_refused() {
        for bad in [
            "ftp://hooks.slack.com/",
            "https://hooks.slack.com/?a=b",
            "https://u:p@hooks.slack.com/",
            "hooks.slack.com",
        ] {
            assert!(HooksBase::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_response_url_debugs_as_its_host_only() {
        let url = base("https://hooks.slack.com/")
            .admit("https://hooks.slack.com/commands/T1/2/secret-token")
            .unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
    }
}
