//! The decision modal: Approve / Deny open it (with the click's
//! `trigger_id`), it asks for the justification, and its submission is
//! checked before the decision goes to the engine. The request and stage
//! travel in `private_metadata` as the [`CardAction`] itself; who decides is
//! the submission's signed `user.id`, never anything in the view.

use serde_json::{Value, json};

use super::payload::View;
use super::render::escape;
use crate::chat::port::CardAction;
use stagegate_domain::ids::Justification;

pub(crate) const CALLBACK_ID: &str = "stagegate_decision";
pub(crate) const JUSTIFICATION_BLOCK: &str = "justification";
pub(crate) const JUSTIFICATION_ACTION: &str = "text";

/// The modal for an Approve or Deny; `None` for other actions.
#[must_use]
pub(crate) fn decision_view(action: &CardAction, package: Option<&str>) -> Option<Value> {
    let (verb, title) = match action {
        CardAction::Approve { .. } => ("approve", "Approve request"),
        CardAction::Deny { .. } => ("deny", "Deny request"),
        _ => return None,
    };
    let about = package.map_or_else(String::new, |p| format!(" for *{}*", escape(p)));
    Some(json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": serde_json::to_string(action).unwrap_or_default(),
        "title": { "type": "plain_text", "text": title },
        "submit": { "type": "plain_text", "text": if verb == "approve" { "Approve" } else { "Deny" } },
        "close": { "type": "plain_text", "text": "Cancel" },
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn",
              "text": format!("You are about to {verb} this request{about}. Microsoft Entra records your decision and your reason.") } },
            { "type": "input", "block_id": JUSTIFICATION_BLOCK,
              "label": { "type": "plain_text", "text": "Justification" },
              "element": { "type": "plain_text_input", "action_id": JUSTIFICATION_ACTION,
                           "multiline": true, "min_length": 1,
                           "max_length": Justification::MAX_LEN,
                           "placeholder": { "type": "plain_text", "text": "Why?" } } },
        ],
    }))
}

/// A checked submission: the action and the justification, or the
/// `errors` answer keyed by the input's `block_id`.
#[derive(Debug)]
pub(crate) enum Submission {
    Decide {
        action: CardAction,
        justification: String,
    },
    Invalid(Value),
    /// Not a modal of ours (or its metadata is not an action).
    Unknown,
}

fn errors(message: &str) -> Value {
    json!({ "response_action": "errors", "errors": { JUSTIFICATION_BLOCK: message } })
}

/// Reads and checks a decision modal's submission.
#[must_use]
pub(crate) fn read_submission(view: &View) -> Submission {
    if view.callback_id != CALLBACK_ID {
        return Submission::Unknown;
    }
    let Ok(action) = serde_json::from_str::<CardAction>(&view.private_metadata) else {
        return Submission::Unknown;
    };
    if !matches!(action, CardAction::Approve { .. } | CardAction::Deny { .. }) {
        return Submission::Unknown;
    }
    let typed = view
        .input(JUSTIFICATION_BLOCK, JUSTIFICATION_ACTION)
        .unwrap_or_default()
        .trim();
    if typed.is_empty() {
        return Submission::Invalid(errors("Please say why: the justification can't be blank."));
    }
    if typed.chars().count() > Justification::MAX_LEN {
        return Submission::Invalid(errors(&format!(
            "Please keep the justification under {} characters.",
            Justification::MAX_LEN
        )));
    }
    Submission::Decide {
        action,
        justification: typed.to_owned(),
    }
}
