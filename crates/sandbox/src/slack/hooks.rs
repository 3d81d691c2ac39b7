//! `response_url`s (`/slack/hooks/{token}`, standing in for
//! hooks.slack.com): usable up to 5 times within 30 minutes of the command or
//! click that issued them. The body is a message (`text`, `blocks`) with
//! `response_type` (`ephemeral`, the default, or `in_channel`),
//! `replace_original` or `delete_original`; success is the plain text `ok`.
//!
//! Slack's answers on overuse and expiry are not documented anywhere we could
//! read (docs/architecture.md, "Slack payloads"); the emulator answers 404 with
//! `used_url` and `expired_url`, and `invalid_token` for a URL it never issued.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::SlackSim;
use super::state::{Ephemeral, HookSource, Message, SlackWorld};
use crate::SimState;
use crate::moments::MessageMoments;

pub(super) const MAX_USES: u32 = 5;
pub(super) const LIFETIME_MINUTES: i64 = 30;

fn text_reply(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// A message body's `(text, blocks)`, or the plain-text error Slack's
/// webhooks give.
fn content(message: &Value) -> Result<(String, Vec<Value>), &'static str> {
    let text = message
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let blocks = match message.get("blocks") {
        None | Some(Value::Null) => Vec::new(),
        Some(blocks) => {
            super::blocks::validate(blocks, super::blocks::MESSAGE_BLOCKS, "/blocks")
                .map_err(|_| "invalid_blocks")?;
            blocks.as_array().cloned().unwrap_or_default()
        }
    };
    if text.trim().is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    Ok((text, blocks))
}

/// Posts `message` as Slack does for a command's immediate answer or a
/// `response_url`: in the channel for `response_type: in_channel`, else
/// ephemeral to `user`.
pub(super) fn post_response(
    sim: &SlackSim,
    world: &mut SlackWorld,
    channel_id: &str,
    user: &str,
    message: &Value,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    let (text, blocks) = content(message)?;
    let in_channel = message.get("response_type").and_then(Value::as_str) == Some("in_channel");
    let channel = world
        .channels
        .get_mut(channel_id)
        .ok_or("channel_not_found")?;
    let ts = channel.next_ts(now);
    if in_channel {
        channel.messages.push(Message {
            ts,
            user: None,
            bot_id: Some(sim.bot_id.clone()),
            text,
            blocks,
            edited: None,
            metadata: None,
            posted_card: None,
            moments: MessageMoments::posted_now(),
        });
    } else {
        world.ephemerals.push(Ephemeral {
            channel: channel_id.to_owned(),
            user: user.to_owned(),
            ts,
            text,
            blocks,
        });
    }
    Ok(())
}

/// Anyone holding the URL (it is the capability; no token): answers the
/// command or click that issued it.
pub(super) async fn respond(
    State(state): State<SimState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return text_reply(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    if !message.is_object() {
        return text_reply(StatusCode::BAD_REQUEST, "invalid_payload");
    }
    let now = state.clock.now();
    let sim = &state.slack;
    let mut world = sim.lock();
    let hook = {
        let Some(hook) = world.hooks.get_mut(&token) else {
            return text_reply(StatusCode::NOT_FOUND, "invalid_token");
        };
        if now - hook.issued > Duration::minutes(LIFETIME_MINUTES) {
            return text_reply(StatusCode::NOT_FOUND, "expired_url");
        }
        if hook.uses >= MAX_USES {
            return text_reply(StatusCode::NOT_FOUND, "used_url");
        }
        hook.uses += 1;
        hook.clone()
    };
    let flag = |key: &str| message.get(key).and_then(Value::as_bool).unwrap_or(false);
    let result = match (
        &hook.source,
        flag("delete_original"),
        flag("replace_original"),
    ) {
        (
            HookSource::Action {
                message_ts,
                ephemeral,
            },
            true,
            _,
        ) => delete(
            sim,
            &mut world,
            &hook.channel,
            &hook.user,
            message_ts,
            *ephemeral,
        ),
        (
            HookSource::Action {
                message_ts,
                ephemeral,
            },
            false,
            true,
        ) => content(&message).and_then(|(text, blocks)| {
            replace(
                sim,
                &mut world,
                &hook.channel,
                &hook.user,
                message_ts,
                *ephemeral,
                text,
                blocks,
                now,
            )
        }),
        _ => post_response(sim, &mut world, &hook.channel, &hook.user, &message, now),
    };
    match result {
        Ok(()) => text_reply(StatusCode::OK, "ok"),
        Err(error) => text_reply(StatusCode::BAD_REQUEST, error),
    }
}

fn delete(
    sim: &SlackSim,
    world: &mut SlackWorld,
    channel: &str,
    user: &str,
    ts: &str,
    ephemeral: bool,
) -> Result<(), &'static str> {
    if ephemeral {
        world
            .ephemerals
            .retain(|e| !(e.channel == channel && e.user == user && e.ts == ts));
        return Ok(());
    }
    let channel = world.channels.get_mut(channel).ok_or("channel_not_found")?;
    let before = channel.messages.len();
    channel
        .messages
        .retain(|m| !(m.ts == ts && m.bot_id.as_deref() == Some(sim.bot_id.as_str())));
    if channel.messages.len() == before {
        return Err("message_not_found");
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn replace(
    sim: &SlackSim,
    world: &mut SlackWorld,
    channel: &str,
    user: &str,
    ts: &str,
    ephemeral: bool,
    text: String,
    blocks: Vec<Value>,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    if ephemeral {
        let original = world
            .ephemerals
            .iter_mut()
            .find(|e| e.channel == channel && e.user == user && e.ts == ts)
            .ok_or("message_not_found")?;
        original.text = text;
        original.blocks = blocks;
        return Ok(());
    }
    let channel = world.channels.get_mut(channel).ok_or("channel_not_found")?;
    let message = channel
        .message_mut(ts)
        .filter(|m| m.bot_id.as_deref() == Some(sim.bot_id.as_str()))
        .ok_or("message_not_found")?;
    message.text = text;
    message.blocks = blocks;
    message.moments.note_update();
    message.edited = Some(format!(
        "{}.{:06}",
        now.timestamp(),
        now.timestamp_subsec_micros()
    ));
    Ok(())
}
