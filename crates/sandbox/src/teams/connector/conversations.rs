//! Conversation operations of the emulated Bot Connector: create a 1:1
//! conversation or a channel thread, send, reply, update, members.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::{BotCaller, ConnectorError, admit, parse_body};
use crate::SimState;
use crate::teams::ratelimit::Operation;
use crate::teams::store::{BotStatus, ConversationKind, TeamsStore};
use crate::teams::{CHANNEL_ID, bot_id, personal_conversation_id, teams_user_id};
use crate::world::World;

/// The bot (bearer token for api.botframework.com): `POST /v3/conversations`.
/// A 1:1 conversation needs the user's Teams id (or Entra object id in
/// `members[0].id`) and the tenant; `isGroup` with `channelData.channel.id`
/// and an `activity` starts a channel thread.
pub async fn create_conversation(
    bot: BotCaller,
    State(state): State<SimState>,
    body: Bytes,
) -> Result<Response, ConnectorError> {
    let params = parse_body(&body, "ConversationParameters")?;
    let tenant = state.tenant_id();
    let given_tenant = params
        .pointer("/channelData/tenant/id")
        .or_else(|| params.get("tenantId"))
        .and_then(Value::as_str);
    if given_tenant.is_some_and(|t| t != tenant) {
        return Err(ConnectorError::bad_argument(
            "Invalid user identity in provided tenant",
        ));
    }
    if let Some(given_bot) = params.pointer("/bot/id").and_then(Value::as_str)
        && given_bot != bot_id(&bot.app_id)
        && given_bot != bot.app_id
    {
        return Err(ConnectorError::bad_argument(
            "Bot id does not match the caller.",
        ));
    }
    if params.get("isGroup").and_then(Value::as_bool) == Some(true) {
        return create_channel_thread(&state, &params);
    }
    if given_tenant.is_none() {
        return Err(ConnectorError::bad_argument(
            "A tenant id is required to create a conversation (channelData.tenant.id).",
        ));
    }
    let members = params.get("members").and_then(Value::as_array);
    let member = match members.map(Vec::as_slice) {
        Some([member]) => member,
        Some([]) | None => {
            return Err(ConnectorError::bad_argument(
                "Members list is required for a 1:1 conversation.",
            ));
        }
        Some(_) => {
            return Err(ConnectorError::bad_argument(
                "A 1:1 conversation has exactly one member; set isGroup for more.",
            ));
        }
    };
    let user_id = {
        let world = state.world();
        resolve_member(&world, &bot.app_id, member).ok_or_else(|| {
            ConnectorError::bad_argument("Invalid user identity in provided tenant")
        })?
    };
    let conversation_id = personal_conversation_id(&bot.app_id, &user_id);
    admit(&state, Operation::Send, &conversation_id)?;
    let first = params
        .get("activity")
        .filter(|a| !a.is_null())
        .map(|a| bot_activity(a.clone()))
        .transpose()?;
    let mut store = state.teams.store();
    let kind = ConversationKind::Personal {
        user: user_id.clone(),
    };
    check_bot_status(&store, &kind)?;
    store.personal_mut(&conversation_id, &user_id);
    let mut response = json!({ "id": conversation_id });
    if let Some(activity) = first {
        let id = post(&state, &mut store, &conversation_id, activity, None)?;
        response["activityId"] = json!(id);
    }
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

fn create_channel_thread(state: &SimState, params: &Value) -> Result<Response, ConnectorError> {
    let channel_id = params
        .pointer("/channelData/channel/id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ConnectorError::bad_argument("channelData.channel.id is required when isGroup is true.")
        })?;
    let activity = params
        .get("activity")
        .filter(|a| !a.is_null())
        .ok_or_else(|| {
            ConnectorError::bad_argument("An activity is required to start a channel thread.")
        })?;
    let activity = bot_activity(activity.clone())?;
    admit(state, Operation::Send, channel_id)?;
    let mut store = state.teams.store();
    let Some(conversation) = store.conversation_mut(channel_id) else {
        return Err(ConnectorError::conversation_not_found());
    };
    let kind = conversation.kind.clone();
    check_bot_status(&store, &kind)?;
    let id = post(state, &mut store, channel_id, activity, None)?;
    let response = json!({ "id": format!("{channel_id};messageid={id}"), "activityId": id });
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// The bot: `POST /v3/conversations/{id}/activities`. Posting to a channel
/// starts a new thread; to a thread, replies in it.
pub async fn send_to_conversation(
    _bot: BotCaller,
    State(state): State<SimState>,
    Path(conversation_id): Path<String>,
    body: Bytes,
) -> Result<Response, ConnectorError> {
    outbox_tripwire(&state).await?;
    send(&state, &conversation_id, None, &body)
}

/// The bot: `POST /v3/conversations/{id}/activities/{activityId}`.
pub async fn reply_to_activity(
    _bot: BotCaller,
    State(state): State<SimState>,
    Path((conversation_id, activity_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ConnectorError> {
    outbox_tripwire(&state).await?;
    send(&state, &conversation_id, Some(&activity_id), &body)
}

/// A chaos tripwire on outbox delivery: the bot was killed with this post
/// in flight, which is answered as an outage and not processed.
async fn outbox_tripwire(state: &SimState) -> Result<(), ConnectorError> {
    if state
        .chaos
        .pass(crate::tripwire::Moment::OutboxDelivery)
        .await
    {
        return Err(ConnectorError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        ));
    }
    Ok(())
}

fn send(
    state: &SimState,
    conversation_id: &str,
    reply_to: Option<&str>,
    body: &[u8],
) -> Result<Response, ConnectorError> {
    admit(state, Operation::Send, thread_of(conversation_id))?;
    let activity = bot_activity(parse_body(body, "Activity")?)?;
    let mut store = state.teams.store();
    let kind = store
        .conversation_mut(conversation_id)
        .map(|c| c.kind.clone())
        .ok_or_else(ConnectorError::conversation_not_found)?;
    check_bot_status(&store, &kind)?;
    // A reply in a channel belongs to the thread of the activity replied to.
    let target = match (&kind, reply_to) {
        (ConversationKind::Channel { channel_id }, Some(root)) => {
            format!("{channel_id};messageid={root}")
        }
        _ => conversation_id.to_owned(),
    };
    if store.conversation_mut(&target).is_none() {
        return Err(ConnectorError::conversation_not_found());
    }
    let id = post(state, &mut store, &target, activity, reply_to)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// The bot: `PUT /v3/conversations/{id}/activities/{activityId}` replaces
/// one of its own messages; every client shows the new version.
pub async fn update_activity(
    _bot: BotCaller,
    State(state): State<SimState>,
    Path((conversation_id, activity_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ConnectorError> {
    admit(&state, Operation::Send, thread_of(&conversation_id))?;
    let activity = bot_activity(parse_body(&body, "Activity")?)?;
    if activity.get("type").and_then(Value::as_str) != Some("message") {
        return Err(ConnectorError::bad_argument(
            "Only message activities can be updated.",
        ));
    }
    let mut store = state.teams.store();
    let kind = store
        .conversation_mut(&conversation_id)
        .map(|c| c.kind.clone())
        .ok_or_else(ConnectorError::conversation_not_found)?;
    check_bot_status(&store, &kind)?;
    // A thread's root message is stored in its channel.
    let holder = match &kind {
        ConversationKind::Thread { channel_id, root } if *root == activity_id => channel_id.clone(),
        _ => conversation_id.clone(),
    };
    let conversation = store
        .conversations
        .get_mut(&holder)
        .ok_or_else(ConnectorError::conversation_not_found)?;
    let stored = conversation.activity_mut(&activity_id).ok_or_else(|| {
        ConnectorError::new(
            StatusCode::NOT_FOUND,
            "ActivityNotFound",
            "Activity not found.",
        )
    })?;
    if !stored.from_bot {
        return Err(ConnectorError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "A bot can only update its own messages.",
        ));
    }
    let mut updated = activity;
    let previous = stored.latest().clone();
    for keep in [
        "id",
        "from",
        "conversation",
        "channelId",
        "serviceUrl",
        "timestamp",
        "replyToId",
    ] {
        if let Some(v) = previous.get(keep) {
            updated[keep] = v.clone();
        }
    }
    stored.versions.push(updated);
    stored.moments.note_update();
    Ok(Json(json!({ "id": activity_id })).into_response())
}

/// The bot: `GET /v3/conversations/{id}/members` (Teams channel accounts).
pub async fn get_members(
    bot: BotCaller,
    State(state): State<SimState>,
    Path(conversation_id): Path<String>,
) -> Result<Response, ConnectorError> {
    admit(&state, Operation::Read, thread_of(&conversation_id))?;
    let kind = {
        let mut store = state.teams.store();
        let kind = store
            .conversation_mut(&conversation_id)
            .map(|c| c.kind.clone())
            .ok_or_else(ConnectorError::conversation_not_found)?;
        check_bot_status(&store, &kind)?;
        kind
    };
    let world = state.world();
    let account = |u: &crate::world::User| {
        json!({
            "id": teams_user_id(&bot.app_id, &u.id),
            "name": u.display_name, "aadObjectId": u.id,
            "givenName": u.given_name, "surname": u.surname, "email": u.mail,
            "userPrincipalName": u.user_principal_name,
            "tenantId": world.tenant_id, "userRole": "user",
        })
    };
    let members: Vec<Value> = match kind {
        ConversationKind::Personal { user } => {
            world.users.get(&user).map(account).into_iter().collect()
        }
        _ => world
            .users
            .values()
            .filter(|u| u.account_enabled)
            .map(account)
            .collect(),
    };
    Ok(Json(Value::Array(members)).into_response())
}

/// Rate limits are per thread: a thread of a channel shares its channel's.
fn thread_of(conversation_id: &str) -> &str {
    conversation_id
        .split_once(";messageid=")
        .map_or(conversation_id, |(channel, _)| channel)
}

fn check_bot_status(store: &TeamsStore, kind: &ConversationKind) -> Result<(), ConnectorError> {
    match store.bot_status(kind) {
        BotStatus::Member => Ok(()),
        BotStatus::NotMember => Err(ConnectorError::not_in_roster()),
        BotStatus::Blocked => Err(ConnectorError::MessageWritesBlocked),
    }
}

/// Checks what a bot may send: a `type` the connector delivers, and cards
/// whose `refresh` lists at most 60 users.
fn bot_activity(activity: Value) -> Result<Value, ConnectorError> {
    check_refresh_users(&activity)?;
    match activity.get("type").and_then(Value::as_str) {
        Some("message") | Some("typing") => Ok(activity),
        Some(other) => Err(ConnectorError::bad_argument(format!(
            "Activity type '{other}' cannot be sent by a bot."
        ))),
        None => Err(ConnectorError::bad_argument("Activity type is required.")),
    }
}

/// Teams documents the limit ("`userIds` … at most 60 user MRIs") but not
/// the error for more; the emulator refuses the activity as a bad
/// argument, so a bot that lists more is caught in tests
/// (docs/sandbox.md, "Card refresh").
fn check_refresh_users(activity: &Value) -> Result<(), ConnectorError> {
    let attachments = activity.get("attachments").and_then(Value::as_array);
    for attachment in attachments.into_iter().flatten() {
        let listed = attachment
            .pointer("/content/refresh/userIds")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if listed > crate::teams::MAX_REFRESH_USERS {
            return Err(ConnectorError::bad_argument(format!(
                "An Adaptive Card's refresh.userIds lists {listed} users; at most {} are allowed.",
                crate::teams::MAX_REFRESH_USERS
            )));
        }
    }
    Ok(())
}

/// A member of a 1:1 conversation: the user's `29:` id, or their Entra
/// object id in `id` (which Teams accepts). `aadObjectId` alone is refused,
/// as Teams does (docs/architecture.md, "Teams activities and cards";
/// msteams-docs issue #14079).
fn resolve_member(world: &World, app_id: &str, member: &Value) -> Option<String> {
    let id = member.get("id").and_then(Value::as_str)?;
    world
        .users
        .values()
        .filter(|u| u.account_enabled)
        .find(|u| id == u.id || id == teams_user_id(app_id, &u.id))
        .map(|u| u.id.clone())
}

/// Stores a bot activity in `conversation_id` as the connector delivers it:
/// id, sender and conversation are the service's, not the bot's.
fn post(
    state: &SimState,
    store: &mut TeamsStore,
    conversation_id: &str,
    mut activity: Value,
    reply_to: Option<&str>,
) -> Result<String, ConnectorError> {
    let id = store.next_message_id();
    let (app_id, name, tenant) = {
        let world = state.world();
        (
            world.app.client_id.clone(),
            world.app.display_name.clone(),
            world.tenant_id.clone(),
        )
    };
    if activity.get("type").and_then(Value::as_str) == Some("typing") {
        return Ok(id);
    }
    let Some(conversation) = store.conversations.get_mut(conversation_id) else {
        return Err(ConnectorError::conversation_not_found());
    };
    let conversation_type = match conversation.kind {
        ConversationKind::Personal { .. } => "personal",
        _ => "channel",
    };
    if let Some(obj) = activity.as_object_mut() {
        obj.insert("id".into(), json!(id));
        obj.insert("timestamp".into(), json!(chrono::Utc::now().to_rfc3339()));
        obj.insert("channelId".into(), json!(CHANNEL_ID));
        obj.insert(
            "serviceUrl".into(),
            json!(format!("{}/teams/", state.base_url)),
        );
        obj.insert(
            "from".into(),
            json!({ "id": bot_id(&app_id), "name": name }),
        );
        obj.insert(
            "conversation".into(),
            json!({ "id": conversation_id, "conversationType": conversation_type, "tenantId": tenant }),
        );
        obj.remove("recipient");
        if let Some(reply_to) = reply_to {
            obj.insert("replyToId".into(), json!(reply_to));
        }
    }
    conversation.push(id.clone(), true, activity);
    Ok(id)
}
