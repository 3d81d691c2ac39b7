//! Where the bot may send: a [`ServiceUrl`] exists only for a serviceUrl
//! seen on an authenticated activity or under a configured prefix, so a
//! stored or forged reference cannot make the bot post its token elsewhere.

use std::collections::BTreeSet;
use std::sync::RwLock;

use url::Url;

/// A Bot Connector base URL the bot may call (normalised, ends with `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of a connector path, each segment percent-encoded so an id
    /// (which may carry `:`, `;`, `@`, `=`) stays one path segment.
    pub fn join(&self, segments: &[&str]) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(&self.0)?;
        url.path_segments_mut()
            .map_err(|()| url::ParseError::RelativeUrlWithCannotBeABaseBase)?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

impl std::fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service URL {0} is not allowed")]
pub struct NotAllowed(pub String);

/// Configured prefixes plus every serviceUrl learned from authenticated
/// activities.
#[derive(Debug, Default)]
pub struct ServiceUrlAllowlist {
    prefixes: Vec<String>,
    learned: RwLock<BTreeSet<String>>,
}

/// Teams' public and government connector hosts (docs/architecture.md,
/// "Teams activities and cards").
pub const TEAMS_SERVICE_URLS: &[&str] = &[
    "https://smba.trafficmanager.net/",
    "https://smba.infra.gcc.teams.microsoft.com/",
    "https://smba.infra.gov.teams.microsoft.us/",
];

impl ServiceUrlAllowlist {
    /// `prefixes` must be absolute http(s) URLs; http is accepted only on
    /// loopback (the sandbox).
    pub fn new<I, S>(prefixes: I) -> Result<Self, NotAllowed>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let prefixes = prefixes
            .into_iter()
            .map(|p| normalise(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            prefixes,
            learned: RwLock::new(BTreeSet::new()),
        })
    }

    /// A serviceUrl from a stored conversation reference or configuration.
    pub fn admit(&self, raw: &str) -> Result<ServiceUrl, NotAllowed> {
        let url = normalise(raw)?;
        let learned = self.learned.read().unwrap_or_else(|p| p.into_inner());
        if learned.contains(&url) || self.prefixes.iter().any(|p| url.starts_with(p.as_str())) {
            return Ok(ServiceUrl(url));
        }
        Err(NotAllowed(url))
    }

    /// Records the serviceUrl of an activity whose token bound it (the
    /// `serviceurl` claim matched); only the authenticator calls this.
    pub(crate) fn learn(&self, raw: &str) -> Result<ServiceUrl, NotAllowed> {
        let url = normalise(raw)?;
        self.learned
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.clone());
        Ok(ServiceUrl(url))
    }
}

fn normalise(raw: &str) -> Result<String, NotAllowed> {
    let refuse = || NotAllowed(raw.chars().take(200).collect());
    let url = Url::parse(raw.trim()).map_err(|_| refuse())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty()
    {
        return Err(refuse());
    }
    let mut s = url.to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_configured_prefixes_and_learned_urls_only() {
        let list = ServiceUrlAllowlist::new(TEAMS_SERVICE_URLS).unwrap();
        let amer = list.admit("https://smba.trafficmanager.net/amer/").unwrap();
        assert_eq!(amer.as_str(), "https://smba.trafficmanager.net/amer/");
        assert!(list.admit("https://evil.example/teams/").is_err());
        assert!(
            list.admit("https://smba.trafficmanager.net.evil.example/")
                .is_err()
        );
        assert!(list.admit("http://smba.trafficmanager.net/amer/").is_err());
        assert!(list.admit("http://127.0.0.1:4000/teams/").is_err());
        list.learn("http://127.0.0.1:4000/teams").unwrap();
        assert!(list.admit("http://127.0.0.1:4000/teams/").is_ok());
        assert!(list.learn("http://10.0.0.1/teams/").is_err());
    }

    #[test]
    fn joins_encoded_segments() {
        let list = ServiceUrlAllowlist::new(TEAMS_SERVICE_URLS).unwrap();
        let url = list.admit("https://smba.trafficmanager.net/amer").unwrap();
        let joined = url
            .join(&[
                "v3",
                "conversations",
                "19:a@thread.tacv2;messageid=1",
                "activities",
            ])
            .unwrap();
        assert_eq!(
            joined.as_str(),
            "https://smba.trafficmanager.net/amer/v3/conversations/19:a@thread.tacv2;messageid=1/activities"
        );
        // An id cannot escape its segment.
        let hostile = url.join(&["v3", "conversations", "../x?y#z"]).unwrap();
        assert_eq!(
            hostile.as_str(),
            "https://smba.trafficmanager.net/amer/v3/conversations/..%2Fx%3Fy%23z"
        );
    }
}
