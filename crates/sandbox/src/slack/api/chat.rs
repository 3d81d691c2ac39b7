//! chat.postMessage, chat.update, chat.postEphemeral.

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Args, Caller, message_content};
use crate::SimState;
use crate::moments::MessageMoments;
use crate::slack::state::{ChannelKind, Ephemeral, Message};

/// `chat.update` refuses longer text ("cannot exceed 4,000";
/// docs/architecture.md, "Slack Web API").
const MAX_UPDATE_TEXT: usize = 4000;

/// What a `metadata` argument asks for.
enum MetadataArg {
    /// Not given: chat.update keeps the message's metadata.
    Absent,
    /// `{}`: chat.update removes it ("To remove previous metadata, include
    /// an empty object for this field"); chat.postMessage posts none.
    Empty,
    /// `{"event_type": "…", "event_payload": {…}}`.
    Set(Value),
}

/// The `metadata` argument of chat.postMessage and chat.update: a JSON
/// string in forms, the object itself in JSON bodies. Anything but an
/// object with a string `event_type` and an object `event_payload` is
/// `invalid_metadata_format`. Not emulated: `metadata_too_large` (Slack
/// documents no size) and `invalid_metadata_schema` (declared event types).
fn metadata_arg(args: &Args) -> Result<MetadataArg, ApiError> {
    let invalid = || ApiError::new("invalid_metadata_format");
    let Some(value) = args.json("metadata").map_err(|()| invalid())? else {
        return Ok(MetadataArg::Absent);
    };
    let object = value.as_object().ok_or_else(invalid)?;
    if object.is_empty() {
        return Ok(MetadataArg::Empty);
    }
    let event_type = object
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    let event_payload = object
        .get("event_payload")
        .filter(|p| p.is_object())
        .ok_or_else(invalid)?;
    Ok(MetadataArg::Set(
        json!({ "event_type": event_type, "event_payload": event_payload }),
    ))
}

/// A message as the Web API returns it (chat.* answers,
/// conversations.history), without its metadata.
pub(super) fn message_json(sim: &crate::slack::SlackSim, message: &Message) -> Value {
    let mut value = json!({
        "type": "message",
        "text": message.text,
        "ts": message.ts,
        "team": sim.team_id,
    });
    if let Some(user) = &message.user {
        value["user"] = json!(user);
    }
    if let Some(bot_id) = &message.bot_id {
        value["bot_id"] = json!(bot_id);
        value["app_id"] = json!(sim.app_id);
        value["user"] = json!(sim.bot_user_id);
    }
    if !message.blocks.is_empty() {
        value["blocks"] = json!(message.blocks);
    }
    if let Some(edited) = &message.edited {
        value["edited"] = json!({ "user": sim.bot_user_id, "ts": edited });
    }
    value
}

/// Bot token with `chat:write`: posts a message as the bot. `channel` may be
/// a channel id or name, a `D…` DM id, or a user id (Slack then posts to the
/// bot's DM with that person and answers with the `D…` id). A `metadata`
/// argument is kept on the message (see [`metadata_arg`]).
pub(super) fn post_message(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let channel_arg = args.required("channel")?;
    let (text, blocks) = message_content(args)?;
    let metadata = match metadata_arg(args)? {
        MetadataArg::Set(metadata) => Some(metadata),
        MetadataArg::Absent | MetadataArg::Empty => None,
    };
    let sim = &state.slack;
    let now = state.clock.now();
    let mut world = sim.lock();
    let channel_id = world
        .resolve_channel(channel_arg)
        .or_else(|| {
            world
                .users
                .contains_key(channel_arg)
                .then(|| world.dm_of(channel_arg).map(|c| c.id.clone()))
                .flatten()
        })
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    let bot_user = sim.bot_user_id.clone();
    let channel = world
        .channels
        .get_mut(&channel_id)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    if channel.kind == ChannelKind::Public && !channel.members.contains(&bot_user) {
        return Err(ApiError::new("not_in_channel"));
    }
    let ts = channel.next_ts(now);
    let blocks = blocks.unwrap_or_default();
    let message = Message {
        ts: ts.clone(),
        user: None,
        bot_id: Some(sim.bot_id.clone()),
        text: text.unwrap_or_default(),
        posted_card: crate::slack::buttons::slack_approve(&blocks),
        blocks,
        edited: None,
        metadata,
        moments: MessageMoments::posted_now(),
    };
    let rendered = message_json(sim, &message);
    if let Some((request, stage)) = &message.posted_card {
        state.chaos.record_slack_card(&channel_id, request, stage);
    }
    channel.messages.push(message);
    Ok(json!({ "channel": channel_id, "ts": ts, "message": rendered }))
}

/// Bot token with `chat:write`: edits one of the bot's messages. `channel`
/// must be the channel id (for a DM the `D…` id, not the person's user id:
/// Slack answers `channel_not_found` then). Without `metadata` the
/// message keeps its metadata; `{}` removes it.
pub(super) fn update(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let channel_arg = args.required("channel")?;
    let ts = args.required("ts")?;
    let (text, blocks) = message_content(args)?;
    let metadata = metadata_arg(args)?;
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_UPDATE_TEXT)
    {
        return Err(ApiError::new("msg_too_long"));
    }
    let sim = &state.slack;
    let now = state.clock.now();
    let mut world = sim.lock();
    // Ids only: chat.update does not resolve names or user ids.
    let channel = world
        .channels
        .get_mut(channel_arg)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    let edited = format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros());
    let message = channel
        .message_mut(ts)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if message.bot_id.as_deref() != Some(sim.bot_id.as_str()) {
        return Err(ApiError::new("cant_update_message"));
    }
    if let Some(text) = text {
        message.text = text;
    }
    // "If you don't include this field, the message's previous blocks will
    // be retained."
    if let Some(blocks) = blocks {
        message.blocks = blocks;
    }
    // Likewise "the message's previous metadata will be retained".
    match metadata {
        MetadataArg::Absent => {}
        MetadataArg::Empty => message.metadata = None,
        MetadataArg::Set(metadata) => message.metadata = Some(metadata),
    }
    message.edited = Some(edited);
    message.moments.note_update();
    let message = message.clone();
    Ok(json!({
        "channel": channel_arg, "ts": ts, "text": message.text,
        "message": message_json(sim, &message),
    }))
}

/// Bot token with `chat:write`: a message only `user` sees, in `channel`.
pub(super) fn post_ephemeral(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let channel_arg = args.required("channel")?;
    let user = args.required("user")?;
    let (text, blocks) = message_content(args)?;
    let sim = &state.slack;
    let now = state.clock.now();
    let mut world = sim.lock();
    let channel_id = world
        .resolve_channel(channel_arg)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    if !world.users.contains_key(user) || !world.can_see(user, &channel_id) {
        return Err(ApiError::new("user_not_in_channel"));
    }
    let bot_user = sim.bot_user_id.clone();
    let channel = world
        .channels
        .get_mut(&channel_id)
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    if channel.kind == ChannelKind::Public && !channel.members.contains(&bot_user) {
        return Err(ApiError::new("not_in_channel"));
    }
    let ts = channel.next_ts(now);
    world.ephemerals.push(Ephemeral {
        channel: channel_id,
        user: user.to_owned(),
        ts: ts.clone(),
        text: text.unwrap_or_default(),
        blocks: blocks.unwrap_or_default(),
    });
    Ok(json!({ "message_ts": ts }))
}
