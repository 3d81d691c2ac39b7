//! The inputs a manifest is rendered from, checked before anything is written:
//! a wrong app id or an http URL would otherwise only surface when Teams or
//! Slack refuse the upload, or worse, when the bot never receives a message.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};
use uuid::Uuid;

use super::ManifestError;

/// The bot's Microsoft App ID: the canonical hyphenated GUID the Teams
/// schema's `guid` pattern requires, lower-cased.
#[derive(Clone, PartialEq, Eq)]
pub struct AppId(String);

impl AppId {
    /// `flag` names where the value came from, for the error message.
    pub fn parse(raw: &str, flag: &str) -> Result<Self, ManifestError> {
        let raw = raw.trim();
        // `Uuid::try_parse` also takes braced, URN and 32-digit forms, which
        // the manifest schema's pattern refuses, so insist on 36 characters.
        let parsed = (raw.len() == 36)
            .then(|| Uuid::try_parse(raw).ok())
            .flatten()
            .filter(|id| !id.is_nil());
        match parsed {
            Some(id) => Ok(Self(id.hyphenated().to_string())),
            None => Err(ManifestError::Input(format!(
                "{flag} must be the bot's Microsoft App ID, a GUID like \
                 2f1c0a3e-5b7d-4c8e-9a01-23456789abcd; got `{}`",
                shown(raw)
            ))),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppId({})", self.0)
    }
}

/// How a URL passed the checks: https, or plain http to this machine, which
/// is fine for the sandbox and local tunnels but never reachable by Teams or
/// Slack, so the caller warns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlCheck {
    Https,
    LoopbackHttp,
}

/// The bot's public base URL: scheme, host and optional port, nothing else,
/// because the endpoint paths (`/api/teams/messages`, `/api/slack/…`) are
/// fixed by the bot and appended here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    origin: String,
    host: String,
}

impl PublicUrl {
    pub fn parse(raw: &str, flag: &str) -> Result<(Self, UrlCheck), ManifestError> {
        let (url, check) = checked_url(raw, flag)?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(ManifestError::Input(format!(
                "{flag} must be the bot's base URL without a path, like \
                 https://bot.example.com (the endpoint paths are added for you); got `{}`",
                shown(raw)
            )));
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        Ok((
            Self {
                origin: url.origin().ascii_serialization(),
                host,
            },
            check,
        ))
    }

    /// `https://host[:port]`, without a trailing slash.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The host alone, as Teams' `validDomains` lists it (no scheme, no port).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// A page URL (developer website, privacy statement, terms of use): like a
/// public URL, but a path is allowed.
pub(crate) fn page_url(raw: &str, flag: &str) -> Result<(String, UrlCheck), ManifestError> {
    let (url, check) = checked_url(raw, flag)?;
    Ok((url.to_string(), check))
}

fn checked_url(raw: &str, flag: &str) -> Result<(Url, UrlCheck), ManifestError> {
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|e| {
        ManifestError::Input(format!(
            "{flag} must be an absolute https URL like https://bot.example.com; \
             `{}` is not a URL ({e})",
            shown(raw)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: whatever sits before the `@` may be a credential.
        return Err(ManifestError::Input(format!(
            "{flag} must not carry a user name or password"
        )));
    }
    let Some(host) = url.host() else {
        return Err(ManifestError::Input(format!(
            "{flag} must name a host; got `{}`",
            shown(raw)
        )));
    };
    let check = match url.scheme() {
        "https" => UrlCheck::Https,
        "http" if is_loopback(&host) => UrlCheck::LoopbackHttp,
        "http" => {
            return Err(ManifestError::Input(format!(
                "{flag} must use https: Teams and Slack only call https endpoints \
                 (http is accepted for localhost and 127.0.0.1 only); got `{}`",
                shown(raw)
            )));
        }
        other => {
            return Err(ManifestError::Input(format!(
                "{flag} must be an https URL; `{other}:` is not supported"
            )));
        }
    };
    Ok((url, check))
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Bad input echoed in an error, cut short so a pasted blob stays readable.
fn shown(raw: &str) -> String {
    const MAX: usize = 80;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_must_be_canonical_non_nil_guids() {
        let id = AppId::parse("2F1C0A3E-5B7D-4C8E-9A01-23456789ABCD", "--app-id").unwrap();
        assert_eq!(id.as_str(), "2f1c0a3e-5b7d-4c8e-9a01-23456789abcd");
        for bad in [
            "",
            "not-a-guid",
            "2f1c0a3e5b7d4c8e9a0123456789abcd",
            "{2f1c0a3e-5b7d-4c8e-9a01-23456789abcd}",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let error = AppId::parse(bad, "--app-id").unwrap_err().to_string();
            assert!(error.contains("--app-id must be"), "{bad}: {error}");
        }
    }

    #[test]
    fn public_urls_are_https_origins_or_loopback_http() {
        let (url, check) =
            PublicUrl::parse("https://Bot.Example.com:8443/", "--public-url").unwrap();
        assert_eq!(check, UrlCheck::Https);
        assert_eq!(url.origin(), "https://bot.example.com:8443");
        assert_eq!(url.host(), "bot.example.com");

        for local in [
            "http://127.0.0.1:3978",
            "http://localhost:3978",
            "http://[::1]:3978",
        ] {
            let (_, check) = PublicUrl::parse(local, "--public-url").unwrap();
            assert_eq!(check, UrlCheck::LoopbackHttp, "{local}");
        }
        for (bad, says) in [
            ("http://bot.example.com", "must use https"),
            ("http://10.0.0.5", "must use https"),
            ("https://bot.example.com/api", "without a path"),
            ("https://bot.example.com/?x=1", "without a path"),
            ("bot.example.com", "is not a URL"),
            ("ftp://bot.example.com", "`ftp:` is not supported"),
            ("https://user:pw@bot.example.com", "user name or password"),
        ] {
            let error = PublicUrl::parse(bad, "--public-url")
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{bad}: {error}");
            assert!(
                !error.contains("pw@"),
                "credentials are not echoed: {error}"
            );
        }
    }
}
