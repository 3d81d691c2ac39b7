//! views.open and views.update (modals).

use chrono::Duration;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Args, Caller};
use crate::SimState;
use crate::slack::blocks::validate_view;
use crate::slack::state::{OpenView, random_hex, random_id};

/// "Pass a valid trigger_id within 3 seconds of receiving it."
pub(crate) const TRIGGER_TTL_MS: i64 = 3000;
/// views.open: "view_too_large … over 250kb".
const MAX_VIEW_BYTES: usize = 250 * 1024;

fn parse_view(args: &Args) -> Result<Value, ApiError> {
    if !args.present("view") {
        return Err(ApiError::missing("view"));
    }
    let view = args.json("view").map_err(|()| {
        ApiError::new("invalid_arguments").messages(vec![
            "[ERROR] failed to parse view: invalid JSON [json-pointer:/view]".into(),
        ])
    })?;
    let view = view.unwrap_or(Value::Null);
    if serde_json::to_vec(&view).map(|b| b.len()).unwrap_or(0) > MAX_VIEW_BYTES {
        return Err(ApiError::new("view_too_large"));
    }
    validate_view(&view).map_err(|problems| {
        ApiError::new("invalid_arguments")
            .messages(problems.iter().map(|p| format!("[ERROR] {p}")).collect())
    })?;
    Ok(view)
}

fn well_formed_trigger(trigger: &str) -> bool {
    let parts: Vec<&str> = trigger.split('.').collect();
    matches!(parts.as_slice(), [a, b, c]
        if !a.is_empty() && a.bytes().all(|x| x.is_ascii_digit())
        && !b.is_empty() && b.bytes().all(|x| x.is_ascii_digit())
        && !c.is_empty() && c.bytes().all(|x| x.is_ascii_alphanumeric()))
}

/// The view as Slack returns it: our ids, hash and an empty state.
pub(crate) fn render(
    state: &SimState,
    id: &str,
    view: &Value,
    hash: &str,
    root: &str,
    previous: Option<&str>,
) -> Value {
    let sim = &state.slack;
    let mut rendered = view.clone();
    let text = |key: &str, default: &str| {
        view.get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    if let Some(blocks) = rendered.get_mut("blocks").and_then(Value::as_array_mut) {
        // Slack gives every block without one a random block_id.
        for block in blocks.iter_mut() {
            if block.get("block_id").is_none() {
                block["block_id"] = json!(random_hex(2));
            }
        }
    }
    let extra = json!({
        "id": id, "team_id": sim.team_id, "private_metadata": text("private_metadata", ""),
        "callback_id": text("callback_id", ""), "external_id": text("external_id", ""),
        "state": { "values": {} }, "hash": hash,
        "clear_on_close": view.get("clear_on_close").and_then(Value::as_bool).unwrap_or(false),
        "notify_on_close": view.get("notify_on_close").and_then(Value::as_bool).unwrap_or(false),
        "root_view_id": root, "previous_view_id": previous, "app_id": sim.app_id,
        "app_installed_team_id": sim.team_id, "bot_id": sim.bot_id,
    });
    if let (Some(out), Value::Object(extra)) = (rendered.as_object_mut(), extra) {
        out.extend(extra);
    }
    rendered
}

pub(crate) fn new_hash(state: &SimState) -> String {
    format!("{}.{}", state.clock.now().timestamp(), &random_hex(4))
}

/// Bot token (no scope): opens a modal for whoever the `trigger_id` was
/// issued to. The trigger is single-use and good for 3 s of emulated time.
pub(crate) fn open(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let trigger = match (args.str("trigger_id"), args.str("interactivity_pointer")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new("invalid_arguments").messages(vec![
                "[ERROR] exactly one of trigger_id and interactivity_pointer is allowed".into(),
            ]));
        }
        (Some(t), None) | (None, Some(t)) => t.to_owned(),
        (None, None) => return Err(ApiError::missing("trigger_id")),
    };
    let view = parse_view(args)?;
    if !well_formed_trigger(&trigger) {
        return Err(ApiError::new("invalid_trigger_id"));
    }
    let now = state.clock.now();
    let mut world = state.slack.lock();
    let (user, from_message) = {
        let issued = world
            .triggers
            .get_mut(&trigger)
            .ok_or_else(|| ApiError::new("invalid_trigger_id"))?;
        if issued.exchanged {
            return Err(ApiError::new("exchanged_trigger_id"));
        }
        if now - issued.issued > Duration::milliseconds(TRIGGER_TTL_MS) {
            return Err(ApiError::new("expired_trigger_id"));
        }
        issued.exchanged = true;
        (issued.user.clone(), issued.from_message.clone())
    };
    let external_id = view
        .get("external_id")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    if let Some(external) = &external_id
        && world
            .views
            .values()
            .any(|v| v.external_id.as_ref() == Some(external))
    {
        return Err(ApiError::new("duplicate_external_id"));
    }
    let id = random_id('V');
    let hash = new_hash(state);
    let rendered = render(state, &id, &view, &hash, &id, None);
    // A new root modal replaces whatever the person had open.
    let stack = world.view_stacks.entry(user.clone()).or_default();
    let closed: Vec<String> = std::mem::replace(stack, vec![id.clone()]);
    for old in closed {
        if let Some(v) = world.views.get_mut(&old) {
            v.open = false;
        }
    }
    world.views.insert(
        id.clone(),
        OpenView {
            id,
            user,
            view: rendered.clone(),
            hash,
            external_id,
            open: true,
            from_message,
        },
    );
    Ok(json!({ "view": rendered }))
}

/// Bot token (no scope): replaces an open modal, by `view_id` or
/// `external_id` (exactly one); `hash` guards against a lost race.
pub(crate) fn update(state: &SimState, args: &Args, _caller: &Caller) -> ApiResult {
    let target = match (args.str("view_id"), args.str("external_id")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new("invalid_arguments").messages(vec![
                "[ERROR] exactly one of view_id and external_id is allowed".into(),
            ]));
        }
        (Some(id), None) => Ok(id.to_owned()),
        (None, Some(external)) => Err(external.to_owned()),
        (None, None) => return Err(ApiError::missing("view_id")),
    };
    let view = parse_view(args)?;
    let hash = new_hash(state);
    let mut world = state.slack.lock();
    let id = match target {
        Ok(id) => id,
        Err(external) => world
            .views
            .values()
            .find(|v| v.external_id.as_deref() == Some(external.as_str()))
            .map(|v| v.id.clone())
            .ok_or_else(|| ApiError::new("not_found"))?,
    };
    let existing = world
        .views
        .get(&id)
        .filter(|v| v.open)
        .ok_or_else(|| ApiError::new("not_found"))?;
    if let Some(given) = args.str("hash")
        && given != existing.hash
    {
        return Err(ApiError::new("hash_conflict"));
    }
    let root = existing
        .view
        .get("root_view_id")
        .and_then(Value::as_str)
        .unwrap_or(&id)
        .to_owned();
    let previous = existing
        .view
        .get("previous_view_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let rendered = render(state, &id, &view, &hash, &root, previous.as_deref());
    if let Some(open) = world.views.get_mut(&id) {
        open.view = rendered.clone();
        open.hash = hash;
    }
    Ok(json!({ "view": rendered }))
}
