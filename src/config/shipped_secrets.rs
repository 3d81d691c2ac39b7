//! Secrets stagegate ships are public: the sandbox's config, the example
//! config's placeholders and a few test values can be read by anyone in the
//! repository. A config holding one is accepted only while nothing real can
//! be reached: the bot listens on loopback and every Microsoft and Slack
//! endpoint is on loopback (the sandbox's emulators). Otherwise production
//! refresh tokens would be sealed with a public vault key, and Slack and
//! Graph requests forged with a public signing secret or client state.
//!
//! A shipped secret is recognised by its SHA-256 fingerprint, taken of the
//! value and of the bytes a base64 value decodes to (the sandbox's vault key
//! says `not-for-production` only once decoded, so looking for the marker in
//! the text missed it), plus the marker anywhere in either. The fingerprints
//! are constants here, not read from the sandbox, because the production
//! binary will not contain the sandbox; `tests/api/shipped_secrets.rs`
//! checks them against the real sandbox and the shipped files.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::loopback::{is_loopback_bind, is_loopback_url, origin_of};
use super::{SANDBOX_SECRET_MARKER, Settings, env_name};

/// Where a shipped secret is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The sandbox's config and tenant (`sandbox/stagegate.sandbox.toml`,
    /// `crates/sandbox/src/tenant.toml`, the load test's generated tenants).
    Sandbox,
    /// A placeholder of `stagegate.example.toml`.
    Example,
    /// A value stagegate's tests use (or a published test vector).
    TestValue,
    /// Not fingerprinted but marked `not-for-production`.
    Marked,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sandbox => "the sandbox config's",
            Self::Example => "a placeholder of stagegate.example.toml",
            Self::TestValue => "a value from stagegate's tests",
            Self::Marked => "marked not-for-production",
        })
    }
}

/// SHA-256 (hex) of every shipped secret. A base64 key is listed by the
/// bytes it decodes to, so every encoding of it (padded or not, URL-safe or
/// not) is recognised.
const SHIPPED: &[(&str, Origin)] = &[
    // The sandbox: entra.client_secret and teams.app_password (also the
    // seeded tenant's and the load test tenants' app secret).
    (
        "dcf8190706a2545aa2326918b6f8d981f7804fa38cdc98ea1620d2fa976e0fce",
        Origin::Sandbox,
    ),
    // The sandbox: identity.vault_keys.sandbox, decoded.
    (
        "358be78b2e9301e32863bebb705b18065b4612a40b5f407d4cb791f92d039854",
        Origin::Sandbox,
    ),
    // The sandbox: slack.signing_secret.
    (
        "f1485802220068a1a4ff4487ca5a7155560d2d8b4cb2bfae6e0c1e9225a2e2c2",
        Origin::Sandbox,
    ),
    // The sandbox: slack.bot_token.
    (
        "efc0f41dd8f93e5b61ef658b6150886cdd44fade4b6d5ef8e6295bdd00076c14",
        Origin::Sandbox,
    ),
    // The sandbox: intake.client_state.
    (
        "325c635537550994ba48cfc678ddc289d3180505302d792508c453aa81f9009e",
        Origin::Sandbox,
    ),
    // The sandbox: intake.callout_secret.
    (
        "2b896808c772e990ec93ac1b21bbbede182007b54abf20eb3340a40d3b51a7ad",
        Origin::Sandbox,
    ),
    // The example: client_secret, app_password, signing_secret.
    (
        "1df4b07d05b9b3b1115b4b6b22af319a2f99564a2fa2573a34896063c7513c10",
        Origin::Example,
    ),
    // The example: the vault key placeholder.
    (
        "a3835bf681d76ba2bb7c1c94959226f3ca857e706a954e8058b020c80c708373",
        Origin::Example,
    ),
    // The example: the client_state and callout_secret placeholder.
    (
        "5e03d5e1bb8f8b60eda11fe05087a4807c703ffd42737520d3f380cbf8880429",
        Origin::Example,
    ),
    // The example: the bot_token placeholder.
    (
        "a8869e68b6ffa021e2141a1c1fa22e6860bb6bf9b7931f177739f45621ab3155",
        Origin::Example,
    ),
    // Tests: the all-zero vault key (32 zero bytes), decoded.
    (
        "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
        Origin::TestValue,
    ),
    // Tests: Slack's published signing-secret test vector
    // (tests/fixtures/slack/signing_vector_slash_command.json).
    (
        "6adbfd178516c8efe5896d4d0d66d2704d167cbb4ca881efde33af658d39826f",
        Origin::TestValue,
    ),
];

/// Where `value` is published, if stagegate ships it.
#[must_use]
pub fn shipped_origin(value: &str) -> Option<Origin> {
    let candidates = candidates(value);
    for bytes in &candidates {
        let fingerprint = hex::encode(Sha256::digest(bytes));
        if let Some((_, origin)) = SHIPPED.iter().find(|(f, _)| *f == fingerprint) {
            return Some(*origin);
        }
    }
    let marker = SANDBOX_SECRET_MARKER.as_bytes();
    candidates
        .iter()
        .any(|bytes| bytes.windows(marker.len()).any(|w| w == marker))
        .then_some(Origin::Marked)
}

/// The value as configured (trimmed, as the vault and `_FILE` read it) and
/// whatever it decodes to as base64.
fn candidates(value: &str) -> Vec<Vec<u8>> {
    let trimmed = value.trim();
    let mut out = vec![trimmed.as_bytes().to_vec()];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        if let Ok(decoded) = engine.decode(trimmed) {
            out.push(decoded);
        }
    }
    out
}

/// A configured secret that stagegate ships: its config key, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedSecret {
    pub key: String,
    pub origin: Origin,
}

/// A setting that must be on loopback for a shipped secret to be accepted,
/// and is not: its key and its origin (`scheme://host:port`) or address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffLoopback {
    pub key: &'static str,
    pub at: String,
}

/// The refusal: which keys hold shipped secrets, which settings reach off
/// loopback, and what to put instead. Names keys, never values.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ShippedSecretsOffLoopback {
    pub secrets: Vec<ShippedSecret>,
    pub off_loopback: Vec<OffLoopback>,
}

impl std::fmt::Display for ShippedSecretsOffLoopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let off: Vec<String> = self
            .off_loopback
            .iter()
            .map(|o| format!("{} ({})", o.key, o.at))
            .collect();
        write!(
            f,
            "refusing to start: the config holds secrets published with stagegate, which are \
             accepted only while server.bind and every Microsoft and Slack endpoint are on \
             loopback (the sandbox's emulators); not on loopback: {}. Replace each:",
            off.join(", ")
        )?;
        for secret in &self.secrets {
            write!(
                f,
                "\n  - {} ({}): {}",
                secret.key,
                secret.origin,
                replacement(&secret.key)
            )?;
        }
        Ok(())
    }
}

/// What to put in `key` instead of a shipped secret, and its variable.
fn replacement(key: &str) -> String {
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    let what = match key {
        "entra.client_secret" => "a client secret of the bot's Entra app registration",
        "teams.app_password" => "a client secret of the bot's Microsoft App ID",
        "slack.signing_secret" => "the Slack app's Signing Secret (Basic Information)",
        "slack.bot_token" => "the Slack app's Bot User OAuth Token (OAuth & Permissions)",
        "intake.callout_secret" => {
            "a fresh value from `openssl rand -base64 32`, the same in the Logic App relay"
        }
        vault if vault.starts_with("identity.vault_keys.") => {
            "a fresh key from `openssl rand -base64 32` (what the old key sealed cannot be \
             read any more: people sign in again)"
        }
        _ => "a fresh value from `openssl rand -base64 32`",
    };
    format!("{what}; env {}_FILE", env_name(&path))
}

/// Every configured secret holding a shipped value.
#[must_use]
pub fn shipped_secrets(settings: &Settings) -> Vec<ShippedSecret> {
    secrets_of(settings)
        .into_iter()
        .filter_map(|(key, value)| {
            shipped_origin(value.expose_secret()).map(|origin| ShippedSecret { key, origin })
        })
        .collect()
}

/// Refuses shipped secrets unless the bind address and every endpoint the
/// bot calls are on loopback.
pub fn refuse_off_loopback(settings: &Settings) -> Result<(), ShippedSecretsOffLoopback> {
    let secrets = shipped_secrets(settings);
    if secrets.is_empty() {
        return Ok(());
    }
    let mut off_loopback = Vec::new();
    if !is_loopback_bind(&settings.server.bind) {
        off_loopback.push(OffLoopback {
            key: "server.bind",
            at: settings.server.bind.to_string(),
        });
    }
    off_loopback.extend(
        endpoints_of(settings)
            .into_iter()
            .filter(|(_, url)| !is_loopback_url(url))
            .map(|(key, url)| OffLoopback {
                key,
                at: origin_of(url),
            }),
    );
    if off_loopback.is_empty() {
        return Ok(());
    }
    Err(ShippedSecretsOffLoopback {
        secrets,
        off_loopback,
    })
}

/// Every secret in the config, by key.
fn secrets_of(settings: &Settings) -> Vec<(String, &SecretString)> {
    let mut out = vec![(
        "entra.client_secret".to_owned(),
        &settings.entra.client_secret,
    )];
    out.extend(
        settings
            .identity
            .vault_keys
            .iter()
            .map(|(id, key)| (format!("identity.vault_keys.{id}"), key)),
    );
    if let Some(teams) = &settings.teams {
        out.push(("teams.app_password".to_owned(), &teams.app_password));
    }
    if let Some(slack) = &settings.slack {
        out.push(("slack.signing_secret".to_owned(), &slack.signing_secret));
        out.push(("slack.bot_token".to_owned(), &slack.bot_token));
    }
    let intake = &settings.intake;
    for (key, value) in [
        ("intake.client_state", &intake.client_state),
        ("intake.callout_secret", &intake.callout_secret),
    ] {
        if let Some(value) = value {
            out.push((key.to_owned(), value));
        }
    }
    out
}

/// Every Microsoft and Slack endpoint the bot calls, by key.
fn endpoints_of(settings: &Settings) -> Vec<(&'static str, &str)> {
    let mut out = vec![
        (
            "entra.login_base_url",
            settings.entra.login_base_url.as_str(),
        ),
        ("graph.base_url", settings.graph.base_url.as_str()),
    ];
    if let Some(teams) = &settings.teams {
        out.push(("teams.service_url", teams.service_url.as_str()));
        out.push((
            "teams.openid_metadata_url",
            teams.openid_metadata_url.as_str(),
        ));
    }
    if let Some(slack) = &settings.slack {
        out.push(("slack.api_base_url", slack.api_base_url.as_str()));
        out.push(("slack.response_url_base", slack.response_url_base.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_secrets_are_not_shipped() {
        for _ in 0..32 {
            let key: [u8; 32] = rand::random();
            assert_eq!(shipped_origin(&STANDARD.encode(key)), None);
            assert_eq!(shipped_origin(&hex::encode(key)), None);
        }
        assert_eq!(shipped_origin(""), None);
    }

    #[test]
    fn a_key_is_recognised_in_every_base64_encoding() {
        let zero = [0u8; 32];
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            let encoded = engine.encode(zero);
            assert_eq!(shipped_origin(&encoded), Some(Origin::TestValue));
            assert_eq!(
                shipped_origin(&format!(" {encoded}\n")),
                Some(Origin::TestValue)
            );
        }
    }

    #[test]
    fn the_marker_counts_in_the_text_and_once_decoded() {
        assert_eq!(
            shipped_origin("my-own-not-for-production-secret"),
            Some(Origin::Marked)
        );
        let encoded = STANDARD.encode("another key, not-for-production, 32");
        assert_eq!(shipped_origin(&encoded), Some(Origin::Marked));
    }

    #[test]
    fn fingerprints_are_distinct_sha256_hex() {
        for (i, (f, _)) in SHIPPED.iter().enumerate() {
            assert_eq!(f.len(), 64, "{f}");
            assert!(
                f.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(SHIPPED[..i].iter().all(|(g, _)| g != f), "duplicate {f}");
        }
    }
}
