//! conversations.open, users.info, users.lookupByEmail, auth.test.

use serde_json::json;

use super::{ApiError, ApiResult, Args, Caller};
use crate::SimState;
use crate::slack::state::{ChannelKind, SlackUser};

/// Bot token with `im:write`: the bot's DM with one person, by `users=U…`
/// (or an existing DM by `channel=D…`). The `D…` id is stable per person.
/// Multi-person DMs are not emulated (the bot never opens one).
pub(super) fn conversations_open(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let sim = &state.slack;
    let mut world = sim.lock();
    let channel_id = match (args.str("users"), args.str("channel")) {
        (Some(users), _) => {
            let users: Vec<&str> = users
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect();
            match users.as_slice() {
                [] => return Err(ApiError::new("users_list_not_supplied")),
                [user] => {
                    let person = world
                        .users
                        .get(*user)
                        .ok_or_else(|| ApiError::new("user_not_found"))?;
                    if person.deleted {
                        return Err(ApiError::new("user_disabled"));
                    }
                    world
                        .dm_of(user)
                        .map(|c| c.id.clone())
                        .ok_or_else(|| ApiError::new("user_not_found"))?
                }
                _ => return Err(ApiError::new("method_not_supported_for_channel_type")),
            }
        }
        (None, Some(channel)) => match world.channels.get(channel) {
            Some(c) if matches!(c.kind, ChannelKind::Im { .. }) => c.id.clone(),
            Some(_) => return Err(ApiError::new("method_not_supported_for_channel_type")),
            None => return Err(ApiError::new("channel_not_found")),
        },
        (None, None) => return Err(ApiError::new("users_list_not_supplied")),
    };
    let created = state.slack.created;
    let channel = world
        .channels
        .get_mut(&channel_id)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    let already_open = std::mem::replace(&mut channel.opened, true);
    let person = match &channel.kind {
        ChannelKind::Im { user } => user.clone(),
        ChannelKind::Public => String::new(),
    };
    let mut body = if args.flag("return_im") {
        json!({ "channel": {
            "id": channel_id, "created": created, "is_im": true, "is_org_shared": false,
            "user": person, "last_read": "0000000000.000000", "latest": null,
            "unread_count": 0, "unread_count_display": 0, "is_open": true, "priority": 0,
        }})
    } else {
        json!({ "channel": { "id": channel_id } })
    };
    if already_open {
        body["no_op"] = json!(true);
        body["already_open"] = json!(true);
    }
    Ok(body)
}

/// Bot token with `users:read`: a person's profile; `profile.email` only
/// with `users:read.email`.
pub(super) fn info(state: &SimState, args: &Args, caller: &Caller) -> ApiResult {
    let user_id = args.required("user")?;
    let sim = &state.slack;
    let world = sim.lock();
    let user = world
        .users
        .get(user_id)
        .ok_or_else(|| ApiError::new("user_not_found"))?;
    Ok(user_object(state, user, caller.has("users:read.email")))
}

/// Bot token with `users:read.email` (checked before this runs): the
/// member whose email is `email`, deactivated ones included (`deleted:
/// true`), as users.info shows them; `users_not_found` (plural, as Slack
/// spells it) when none. Matched case-insensitively: Entra's mail and UPN
/// often differ from the address in case only.
pub(super) fn lookup_by_email(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let email = args.required("email")?.trim();
    let world = state.slack.lock();
    let user = world
        .users
        .values()
        .find(|u| !email.is_empty() && u.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| ApiError::new("users_not_found"))?;
    Ok(user_object(state, user, true))
}

fn user_object(state: &SimState, user: &SlackUser, with_email: bool) -> serde_json::Value {
    let sim = &state.slack;
    let mut profile = json!({
        "real_name": user.real_name, "display_name": user.name,
        "real_name_normalized": user.real_name, "display_name_normalized": user.name,
        "team": sim.team_id,
    });
    if with_email {
        profile["email"] = json!(user.email);
    }
    json!({ "user": {
        "id": user.id, "team_id": sim.team_id, "name": user.name, "deleted": user.deleted,
        "real_name": user.real_name, "tz": "Europe/London", "tz_label": "British Summer Time",
        "tz_offset": 3600, "profile": profile, "is_admin": false, "is_owner": false,
        "is_primary_owner": false, "is_restricted": false, "is_ultra_restricted": false,
        "is_bot": false, "is_app_user": false, "updated": state.slack.created,
    }})
}

/// Any valid token: who it belongs to.
pub(super) fn auth_test(state: &SimState, _args: &Args, _caller: &Caller) -> ApiResult {
    let sim = &state.slack;
    Ok(json!({
        "url": format!("https://{}.slack.com/", sim.team_domain),
        "team": sim.team_name, "user": sim.bot_name, "team_id": sim.team_id,
        "user_id": sim.bot_user_id, "bot_id": sim.bot_id, "is_enterprise_install": false,
    }))
}
