//! Teams activities after the token: the body bound to the token's
//! serviceUrl and tenant, then invoke values (`Action.Execute`) and the
//! `Action.Submit` fallback read as the handlers read them.
#![no_main]
use std::sync::{Arc, OnceLock};

use stagegate::chat::teams::auth::{AuthSettings, TeamsAuthenticator, VerifiedToken};
use stagegate::chat::teams::handlers::{parse_click, submitted};
use stagegate::chat::teams::service_url::ServiceUrlAllowlist;

const TENANT: &str = "7d1c2c55-0b6f-4c39-9a8e-5e0c6d1f2a10";

fn authenticator() -> &'static TeamsAuthenticator {
    static AUTH: OnceLock<TeamsAuthenticator> = OnceLock::new();
    AUTH.get_or_init(|| {
        let allowlist = Arc::new(
            ServiceUrlAllowlist::new(["https://smba.trafficmanager.net/"]).expect("allowlist"),
        );
        TeamsAuthenticator::new(
            reqwest::Client::new(),
            AuthSettings::new(
                "app",
                TENANT,
                "https://login.botframework.com/v1/.well-known/openidconfiguration",
            ),
            allowlist,
        )
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let token = VerifiedToken {
        service_url: "https://smba.trafficmanager.net/amer/".into(),
        kid: "k".into(),
        endorsements: vec!["msteams".into()],
    };
    let Ok(authenticated) = authenticator().verify_activity(&token, data) else {
        return;
    };
    let activity = authenticated.activity;
    if let Some(value) = activity.adaptive_card_action() {
        let verb = value.action.verb.as_deref().unwrap_or_default();
        let _ = parse_click(verb, &value.action.data);
    }
    if let Some(value) = submitted(&activity) {
        let verb = value
            .get("verb")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let _ = parse_click(verb, value);
    }
    let _ = activity.tenant_id();
});
