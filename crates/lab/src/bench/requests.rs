//! Authentic inbound requests for the load generator, written as the data
//! file `bench/stagegate.lua` reads (`path TAB headers TAB body` per line).
//!
//! - Teams: one `conversationUpdate` template with a channel token minted by
//!   the emulated Bot Connector (its signing key, endorsed for `msteams`,
//!   valid one hour like the real ones); the Lua script gives every request
//!   its own activity id, since the bot ignores replayed ids.
//! - Slack: a pool of pre-signed requests, each with its own timestamp and
//!   `trigger_id` so that every one has its own signature (the bot refuses a
//!   replayed signature). wrk's Lua has no HMAC, so signing happens here,
//!   just before the run, well inside Slack's 5-minute window; the script
//!   uses each line once.
//! - Graph: a change-notification template carrying the subscription's
//!   `clientState`; the script gives each notification its own id.

use std::fmt::Write as _;

use secrecy::ExposeSecret;
use serde_json::json;

use stagegate::config::Settings;
use stagegate_sandbox::SimState;
use stagegate_sandbox::slack::deliver::sign;
use stagegate_sandbox::teams::{CHANNEL_ID, bot_id, personal_conversation_id, teams_user_id};

/// One request line: path, `Name: value` headers, body.
fn line(path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let headers: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{path}\t{}\t{body}\n", headers.join("|"))
}

/// A Teams `conversationUpdate` in a person's 1:1 chat announcing another
/// member (not the bot): authenticated and parsed in full, then nothing to
/// do — the cheapest genuine activity, so the figure is the inbound path's.
pub fn teams(state: &SimState) -> anyhow::Result<String> {
    let world = state.world();
    let user = world
        .users
        .values()
        .find(|u| u.account_enabled)
        .ok_or_else(|| anyhow::anyhow!("the tenant has no enabled user"))?;
    let app = world.app.client_id.clone();
    let service_url = format!("{}/teams/", state.base_url);
    let teams_id = teams_user_id(&app, &user.id);
    let activity = json!({
        "type": "conversationUpdate",
        "id": "{{ID}}",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "serviceUrl": service_url,
        "channelId": CHANNEL_ID,
        "from": { "id": teams_id, "name": user.display_name, "aadObjectId": user.id },
        "conversation": { "conversationType": "personal", "tenantId": world.tenant_id, "id": personal_conversation_id(&app, &user.id) },
        "recipient": { "id": bot_id(&app), "name": world.app.display_name },
        "membersAdded": [{ "id": teams_id, "aadObjectId": user.id }],
        "channelData": { "tenant": { "id": world.tenant_id } },
        "locale": "en-US",
    });
    let token = state.teams.channel_token(&app, &service_url);
    let authorization = format!("Bearer {token}");
    Ok(line(
        "/api/teams/messages",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &authorization),
        ],
        &activity.to_string(),
    ))
}

/// `count` signed Slack requests, alternating a slash
/// command (`/stagegate help`) and a click on a message's "Sign in" link button (Slack tells
/// the app about URL buttons too). Senders rotate over `users` synthetic
/// member ids so the per-person command budget is not what is measured.
/// `tag` keeps pools built in the same second apart (distinct bodies).
pub fn slack(state: &SimState, count: usize, users: usize, tag: &str) -> String {
    let sim = &state.slack;
    let secret = sim.signing_secret();
    let timestamp = chrono::Utc::now().timestamp();
    let hook = format!("{}/slack/hooks/bench", state.base_url);
    let mut out = String::with_capacity(count * 700);
    for i in 0..count {
        let user = format!("UBENCH{:05}", i % users.max(1));
        let trigger = format!("{timestamp}.{i}.{tag}");
        let (path, body) = if i % 2 == 0 {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", sim.verification_token())
                .append_pair("team_id", &sim.team_id)
                .append_pair("team_domain", &sim.team_domain)
                .append_pair("channel_id", "DBENCH0001")
                .append_pair("channel_name", "directmessage")
                .append_pair("user_id", &user)
                .append_pair("user_name", &user.to_lowercase())
                .append_pair("command", "/stagegate")
                .append_pair("text", "help")
                .append_pair("api_app_id", &sim.app_id)
                .append_pair("is_enterprise_install", "false")
                .append_pair("response_url", &hook)
                .append_pair("trigger_id", &trigger)
                .finish();
            ("/api/slack/commands", form)
        } else {
            let payload = json!({
                "type": "block_actions",
                "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": sim.team_id },
                "api_app_id": sim.app_id, "token": sim.verification_token(),
                "container": { "type": "message", "message_ts": "1700000000.000100", "channel_id": "DBENCH0001", "is_ephemeral": true },
                "trigger_id": trigger, "team": { "id": sim.team_id, "domain": sim.team_domain },
                "enterprise": null, "is_enterprise_install": false,
                "channel": { "id": "DBENCH0001", "name": "directmessage" }, "state": { "values": {} },
                "response_url": hook,
                "actions": [{ "type": "button", "action_id": stagegate::chat::slack::render::SIGN_IN, "block_id": "link", "action_ts": format!("{timestamp}.000100"), "text": { "type": "plain_text", "text": "Sign in" } }],
            });
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &payload.to_string())
                .finish();
            ("/api/slack/interactions", form)
        };
        let signature = sign(secret, timestamp, body.as_bytes());
        let ts = timestamp.to_string();
        let _ = write!(
            out,
            "{}",
            line(
                path,
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("X-Slack-Request-Timestamp", &ts),
                    ("X-Slack-Signature", &signature),
                ],
                &body,
            )
        );
    }
    out
}

/// A change notification for a watched privileged group (a property change:
/// no member delta), with the subscription's `clientState`: authenticated,
/// parsed, planned and queued, with no follow-up work to skew the figure.
pub fn graph(state: &SimState, settings: &Settings) -> anyhow::Result<String> {
    let client_state = settings
        .intake
        .client_state
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the bot's config has no intake.client_state"))?;
    let group = settings
        .intake
        .privileged_groups
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the tenant has no PIM-managed group"))?;
    let tenant = state.tenant_id();
    let body = json!({ "value": [{
        "id": "{{ID}}",
        "subscriptionId": "5b2a4b0e-0000-4000-8000-00000000bench",
        "subscriptionExpirationDateTime": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339(),
        "changeType": "updated",
        "resource": format!("Groups/{group}"),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Group",
            "@odata.id": format!("Groups/{group}"),
            "id": group,
            "organizationId": tenant,
            "members@delta": [],
        },
        "clientState": client_state.expose_secret(),
        "tenantId": tenant,
    }]});
    Ok(line(
        "/api/graph/notifications",
        &[("Content-Type", "application/json")],
        &body.to_string(),
    ))
}
