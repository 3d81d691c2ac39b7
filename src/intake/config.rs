//! `[intake]` settings, checked once at start-up into what the intake runs on.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::secret::Secret;
use crate::config::IntakeSettings;
use stagegate_domain::ids::ObjectId;

/// Longest lifetime Graph grants a subscription to a directory resource
/// (user, group): "41,760 minutes (under 29 days)" (docs/architecture.md,
/// "Graph change notifications").
pub const MAX_LIFETIME_MINUTES: i64 = 41_760;
/// `clientState` maximum length. subscription.md says 128, changeNotification.md
/// 255 (docs/architecture.md, "Graph change notifications"); the stricter
/// limit is accepted by both readings.
pub const CLIENT_STATE_MAX: usize = 128;
/// Shortest accepted secret: `openssl rand -base64 32` gives 44 characters.
pub const SECRET_MIN: usize = 32;

/// Validated intake configuration.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub client_state: Option<Secret>,
    pub callout_secret: Option<Secret>,
    pub groups: Vec<ObjectId>,
    pub poll_interval: Duration,
    pub body_limit: usize,
    pub lifetime: chrono::Duration,
    pub renewal_margin: chrono::Duration,
    /// Where Graph delivers change notifications and lifecycle notifications.
    pub notification_url: String,
    pub lifecycle_url: String,
    /// Notifications for another tenant are ignored. `None` when
    /// `entra.tenant_id` is not a GUID (a domain name): no check then.
    pub tenant_id: Option<String>,
}

impl IntakeConfig {
    /// Checks `settings`; the error names the key and what is wrong with it.
    pub fn new(
        settings: &IntakeSettings,
        public_base_url: &str,
        tenant_id: &str,
    ) -> Result<Self, String> {
        let client_state = client_state(settings.client_state.as_ref())?;
        let callout_secret = callout_secret(settings.callout_secret.as_ref())?;
        let groups = privileged_groups(&settings.privileged_groups)?;
        if !groups.is_empty() && client_state.is_none() {
            return Err(
                "intake.privileged_groups needs intake.client_state: Graph subscriptions carry it and every notification is checked against it".into(),
            );
        }
        check_ranges(settings)?;
        let base = public_base_url.trim_end_matches('/');
        Ok(Self {
            client_state,
            callout_secret,
            groups,
            poll_interval: Duration::from_secs(settings.poll_interval_seconds),
            body_limit: settings.body_limit_bytes,
            lifetime: chrono::Duration::minutes(settings.subscription_lifetime_minutes),
            renewal_margin: chrono::Duration::minutes(settings.renewal_margin_minutes),
            notification_url: format!("{base}{}", super::NOTIFICATIONS_PATH),
            lifecycle_url: format!("{base}{}", super::LIFECYCLE_PATH),
            tenant_id: uuid::Uuid::try_parse(tenant_id)
                .ok()
                .map(|t| t.hyphenated().to_string()),
        })
    }
}

fn client_state(setting: Option<&SecretString>) -> Result<Option<Secret>, String> {
    let Some(s) = setting else {
        return Ok(None);
    };
    let len = s.expose_secret().chars().count();
    if !(SECRET_MIN..=CLIENT_STATE_MAX).contains(&len) {
        return Err(format!(
            "intake.client_state must be {SECRET_MIN} to {CLIENT_STATE_MAX} characters (Graph's clientState limit); it has {len}"
        ));
    }
    Ok(Some(Secret::new(s)))
}

fn callout_secret(setting: Option<&SecretString>) -> Result<Option<Secret>, String> {
    let Some(s) = setting else {
        return Ok(None);
    };
    let raw = s.expose_secret();
    if raw.chars().count() < SECRET_MIN {
        return Err(format!(
            "intake.callout_secret must be at least {SECRET_MIN} characters (openssl rand -base64 32)"
        ));
    }
    // The relay sends it as a header value.
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "intake.callout_secret may only hold visible ASCII characters (it travels in an HTTP header)".into(),
        );
    }
    Ok(Some(Secret::new(s)))
}

fn privileged_groups(raw: &[String]) -> Result<Vec<ObjectId>, String> {
    let mut groups: Vec<ObjectId> = Vec::new();
    for (i, raw) in raw.iter().enumerate() {
        let id: ObjectId = raw
            .trim()
            .parse()
            .map_err(|e| format!("intake.privileged_groups[{i}]: {e}"))?;
        if !groups.contains(&id) {
            groups.push(id);
        }
    }
    Ok(groups)
}

fn check_ranges(settings: &IntakeSettings) -> Result<(), String> {
    if !(1..=86_400).contains(&settings.poll_interval_seconds) {
        return Err("intake.poll_interval_seconds must be between 1 and 86400".into());
    }
    if !(1024..=16 * 1024 * 1024).contains(&settings.body_limit_bytes) {
        return Err("intake.body_limit_bytes must be between 1024 and 16777216".into());
    }
    let lifetime = settings.subscription_lifetime_minutes;
    if !(60..=MAX_LIFETIME_MINUTES).contains(&lifetime) {
        return Err(format!(
            "intake.subscription_lifetime_minutes must be between 60 and {MAX_LIFETIME_MINUTES} (Graph's maximum for groups)"
        ));
    }
    let margin = settings.renewal_margin_minutes;
    if margin < 1 || margin >= lifetime {
        return Err(
            "intake.renewal_margin_minutes must be at least 1 and less than intake.subscription_lifetime_minutes".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn settings() -> IntakeSettings {
        IntakeSettings {
            client_state: Some(SecretString::from("c".repeat(40))),
            callout_secret: Some(SecretString::from("s".repeat(40))),
            privileged_groups: vec!["0e7a0010-0000-4000-8000-000000000010".into()],
            ..IntakeSettings::default()
        }
    }

    fn check(s: &IntakeSettings) -> Result<IntakeConfig, String> {
        IntakeConfig::new(s, "https://bot.example.com/", "t")
    }

    #[test]
    fn derives_the_endpoint_urls() {
        let c = check(&settings()).unwrap();
        assert_eq!(
            c.notification_url,
            "https://bot.example.com/api/graph/notifications"
        );
        assert_eq!(
            c.lifecycle_url,
            "https://bot.example.com/api/graph/lifecycle"
        );
        assert_eq!(c.groups.len(), 1);
    }

    #[test]
    fn defaults_are_valid_and_disable_the_endpoints() {
        let c = check(&IntakeSettings::default()).unwrap();
        assert!(c.client_state.is_none() && c.callout_secret.is_none());
    }

    #[test]
    fn rejects_bad_values_with_the_key_name() {
        let mut s = settings();
        s.client_state = Some(SecretString::from("short"));
        assert!(check(&s).unwrap_err().contains("intake.client_state"));
        let mut s = settings();
        s.client_state = Some(SecretString::from("x".repeat(129)));
        assert!(check(&s).unwrap_err().contains("128"));
        let mut s = settings();
        s.callout_secret = Some(SecretString::from(format!("{} x", "s".repeat(40))));
        assert!(check(&s).unwrap_err().contains("intake.callout_secret"));
        let mut s = settings();
        s.privileged_groups = vec!["GRP-ELIG-GlobalAdmin".into()];
        assert!(check(&s).unwrap_err().contains("privileged_groups[0]"));
        let mut s = settings();
        s.client_state = None;
        assert!(check(&s).unwrap_err().contains("needs intake.client_state"));
        let mut s = settings();
        s.subscription_lifetime_minutes = MAX_LIFETIME_MINUTES + 1;
        assert!(check(&s).unwrap_err().contains("41760"));
        let mut s = settings();
        s.renewal_margin_minutes = s.subscription_lifetime_minutes;
        assert!(check(&s).unwrap_err().contains("renewal_margin"));
        let mut s = settings();
        s.poll_interval_seconds = 0;
        assert!(check(&s).unwrap_err().contains("poll_interval"));
    }

    #[test]
    fn errors_never_show_secrets() {
        let mut s = settings();
        s.callout_secret = Some(SecretString::from("tooShortSecretValue"));
        assert!(!check(&s).unwrap_err().contains("tooShortSecretValue"));
    }
}
