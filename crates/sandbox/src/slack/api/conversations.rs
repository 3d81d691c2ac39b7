//! conversations.history: a conversation's messages, newest first, so that
//! a bot can look for what it posted (by the metadata it posted with).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::chat::message_json;
use super::{ApiError, ApiResult, Args, Caller};
use crate::SimState;
use crate::slack::state::{ChannelKind, Message};

/// Slack's default page size and its maximum ("Maximum of 999").
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 999;
/// Slack's cursors are base64 of `next_ts:<ts without its dot>` (the example
/// in its OpenAPI file decodes to `next_ts:1512085861000543`); clients treat
/// them as opaque.
const CURSOR_PREFIX: &str = "next_ts:";

/// A message `ts` as `(seconds, microseconds)`, ordered as Slack orders them.
type Ts = (u64, u32);

/// The scope a bot token needs to read `channel`'s history: the one of the
/// conversation's type (`im:history` for a DM, `channels:history` for a
/// public channel; private channels, `groups:history`, are not emulated).
/// `None` for a conversation that does not exist: the method answers
/// `channel_not_found`.
pub(super) fn history_scope(state: &SimState, channel: Option<&str>) -> Option<&'static str> {
    let world = state.slack.lock();
    match &world.channels.get(channel?)?.kind {
        ChannelKind::Im { .. } => Some("im:history"),
        ChannelKind::Public => Some("channels:history"),
    }
}

/// Bot token with the conversation's `*:history` scope (checked by
/// [`super::api`], see [`history_scope`]): the messages of a conversation the
/// bot is a member of, newest first, `limit` to a page, from `latest` back
/// to `oldest`, both bounds exclusive unless `inclusive`. No `latest` means
/// now, i.e. no upper bound. A conversation the bot is not in, or a name
/// instead of an id, is `channel_not_found`, as Slack answers for
/// conversations a bot cannot see. Each message's `metadata` only with
/// `include_all_metadata`.
pub(super) fn history(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let channel_arg = args.required("channel")?;
    let oldest = ts_arg(args, "oldest", "invalid_ts_oldest")?;
    let latest = ts_arg(args, "latest", "invalid_ts_latest")?;
    let inclusive = args.flag("inclusive");
    let limit = limit_arg(args)?;
    let from_cursor = match args.str("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| ApiError::new("invalid_cursor"))?),
    };
    let with_metadata = args.flag("include_all_metadata");
    let sim = &state.slack;
    let world = sim.lock();
    let channel = world
        .channels
        .get(channel_arg)
        .filter(|c| c.members.contains(&sim.bot_user_id))
        .ok_or_else(|| ApiError::new("channel_not_found"))?;
    let mut found: Vec<(Ts, &Message)> = channel
        .messages
        .iter()
        .map(|m| (parse_ts(&m.ts).unwrap_or_default(), m))
        .filter(|(ts, _)| {
            oldest.is_none_or(|o| if inclusive { *ts >= o } else { *ts > o })
                && latest.is_none_or(|l| if inclusive { *ts <= l } else { *ts < l })
                && from_cursor.is_none_or(|c| *ts <= c)
        })
        .collect();
    found.sort_by_key(|(ts, _)| std::cmp::Reverse(*ts));
    let next_cursor = found
        .get(limit)
        .map(|(_, m)| encode_cursor(&m.ts))
        .unwrap_or_default();
    let messages: Vec<Value> = found
        .iter()
        .take(limit)
        .map(|(_, m)| {
            let mut value = message_json(sim, m);
            if with_metadata && let Some(metadata) = &m.metadata {
                value["metadata"] = metadata.clone();
            }
            value
        })
        .collect();
    Ok(json!({
        "messages": messages, "has_more": found.len() > limit, "pin_count": 0,
        "channel_actions_ts": null, "channel_actions_count": 0,
        "response_metadata": { "next_cursor": next_cursor },
    }))
}

/// `1700000000`, `1700000000.000100` (digits beyond the sixth are dropped).
fn parse_ts(text: &str) -> Option<Ts> {
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(fraction) {
        return None;
    }
    let micros = format!("{:0<6}", &fraction[..fraction.len().min(6)]);
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// An optional ts argument (a string, or a number in a JSON body); empty is
/// absent, anything unparsable is `error`.
fn ts_arg(args: &Args, key: &str, error: &str) -> Result<Option<Ts>, ApiError> {
    let parsed = match args.0.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => parse_ts(s.trim()),
        Some(Value::Number(n)) => parse_ts(&n.to_string()),
        Some(_) => None,
    };
    parsed.map(Some).ok_or_else(|| ApiError::new(error))
}

/// `limit`: 100 when absent, at most 999 (more is cut to 999), and
/// `invalid_limit` when not a whole number of at least 1 (the emulator's
/// reading; Slack documents only the error's name).
fn limit_arg(args: &Args) -> Result<usize, ApiError> {
    let limit = match args.0.get("limit") {
        None | Some(Value::Null) => return Ok(DEFAULT_LIMIT),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(DEFAULT_LIMIT),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => None,
    };
    match limit {
        Some(n) if n >= 1 => Ok(usize::try_from(n).map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT))),
        _ => Err(ApiError::new("invalid_limit")),
    }
}

fn encode_cursor(ts: &str) -> String {
    STANDARD.encode(format!("{CURSOR_PREFIX}{}", ts.replace('.', "")))
}

/// The ts a cursor resumes at (inclusive), or `None` for one the emulator
/// did not issue.
fn decode_cursor(cursor: &str) -> Option<Ts> {
    let text = String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?;
    let digits = text.strip_prefix(CURSOR_PREFIX)?;
    if digits.len() <= 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (secs, micros) = digits.split_at(digits.len() - 6);
    Some((secs.parse().ok()?, micros.parse().ok()?))
}
