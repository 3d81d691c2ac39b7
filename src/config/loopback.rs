//! What counts as "on this machine": the test for settings that are only
//! safe when nothing real can be reached (the sandbox's shipped secrets,
//! `teams.dev_no_auth`).

use std::net::SocketAddr;

use url::{Host, Url};

/// True for an http(s) URL whose host is a loopback address (`127.0.0.0/8`,
/// `::1`) or `localhost`. Anything unparsable is not loopback.
#[must_use]
pub fn is_loopback_url(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw.trim()) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// True when the bot listens on a loopback address only (`0.0.0.0` and
/// `::` listen on every interface, so they are not).
#[must_use]
pub fn is_loopback_bind(bind: &SocketAddr) -> bool {
    bind.ip().is_loopback()
}

/// An endpoint as it may appear in an error: scheme, host and port only,
/// so a URL carrying credentials or a token in its path never reaches a log.
#[must_use]
pub fn origin_of(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => "an unparsable URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_only() {
        for url in [
            "http://127.0.0.1:3979/graph/v1.0",
            "http://127.0.0.2/",
            "http://localhost:56150/_connector",
            "https://LOCALHOST/",
            "http://[::1]:3979/teams/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://graph.microsoft.com/v1.0",
            "https://login.microsoftonline.com",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "http://10.0.0.1/",
            "http://0.0.0.0:3979/",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn binds_on_every_interface_are_not_loopback() {
        assert!(is_loopback_bind(&"127.0.0.1:3978".parse().unwrap()));
        assert!(is_loopback_bind(&"[::1]:3978".parse().unwrap()));
        assert!(!is_loopback_bind(&"0.0.0.0:3978".parse().unwrap()));
        assert!(!is_loopback_bind(&"[::]:3978".parse().unwrap()));
        assert!(!is_loopback_bind(&"192.168.1.5:3978".parse().unwrap()));
    }

    #[test]
    fn origins_drop_credentials_and_paths() {
        assert_eq!(
            origin_of("https://user:pw@graph.microsoft.com/v1.0?x=1"),
            "https://graph.microsoft.com"
        );
    }
}
