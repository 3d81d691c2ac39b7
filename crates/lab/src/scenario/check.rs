//! Whether an expectation holds on what was observed. Pure: the runner
//! fetches, these functions judge.

use serde_json::Value;

use super::model::Expectation;
use stagegate_sandbox::client::ChatItem;

/// An expectation that does not hold: what was expected, what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub seen: String,
}

/// A message on one line, shortened (what a transcript prints).
#[must_use]
pub fn one_line(text: &str) -> String {
    // Cards repeat their text as fallback and summary: each line once.
    let mut joined: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if !line.is_empty() && !joined.contains(&line) {
            joined.push(line);
        }
    }
    let joined = joined.join(" · ");
    if joined.chars().count() > 240 {
        let cut: String = joined.chars().take(237).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// The newest messages, one per line (what a failure shows as seen).
#[must_use]
pub fn listing(items: &[ChatItem]) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    items
        .iter()
        .rev()
        .take(6)
        .map(|i| {
            let buttons = if i.actions.is_empty() {
                String::new()
            } else {
                format!(" [buttons: {}]", i.actions.join(", "))
            };
            format!("\n      - {}{buttons}", one_line(&i.text))
        })
        .collect()
}

/// Whether action id `actual` is the button `wanted` (`activate` matches
/// Slack's `activate_PT4H`).
fn same_button(wanted: &str, actual: &str) -> bool {
    actual == wanted
        || actual
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('_'))
}

fn buttons_match(wanted: &[String], actual: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| actual.iter().any(|a| same_button(w, a)))
        && actual
            .iter()
            .all(|a| wanted.iter().any(|w| same_button(w, a)))
}

fn shows_all(item: &ChatItem, contains: &[String]) -> bool {
    contains.iter().all(|c| item.text.contains(c.as_str()))
}

/// `expect = "sees"`.
pub fn sees(
    items: &[ChatItem],
    contains: &[String],
    buttons: Option<&[String]>,
) -> Result<(), Mismatch> {
    let found = items
        .iter()
        .rev()
        .any(|i| shows_all(i, contains) && buttons.is_none_or(|b| buttons_match(b, &i.actions)));
    if found {
        return Ok(());
    }
    let mut expected = format!("a message showing {contains:?}");
    if let Some(b) = buttons {
        if b.is_empty() {
            expected.push_str(" in its final state (no buttons)");
        } else {
            expected.push_str(&format!(" with buttons {b:?}"));
        }
    }
    Err(Mismatch {
        expected,
        seen: listing(items),
    })
}

/// `expect = "does_not_see"`.
pub fn does_not_see(items: &[ChatItem], contains: &[String]) -> Result<(), Mismatch> {
    let shown: Vec<ChatItem> = items
        .iter()
        .filter(|i| shows_all(i, contains))
        .cloned()
        .collect();
    if shown.is_empty() {
        return Ok(());
    }
    Err(Mismatch {
        expected: format!("no message showing {contains:?}"),
        seen: listing(&shown),
    })
}

/// `expect = "all_final"` for one persona.
pub fn all_final(items: &[ChatItem]) -> Result<(), Mismatch> {
    let live: Vec<ChatItem> = items.iter().filter(|i| i.is_live()).cloned().collect();
    if live.is_empty() {
        return Ok(());
    }
    Err(Mismatch {
        expected: "every card in its final state (no Approve, Deny or Activate button)".into(),
        seen: listing(&live),
    })
}

/// The newest request whose requester is `who` in `/sim/state`.
#[must_use]
pub fn newest_request<'a>(state: &'a Value, who: &str) -> Option<&'a Value> {
    state["requests"]
        .as_array()?
        .iter()
        .rev()
        .find(|r| r["requester"] == who)
}

/// `expect = "graph"`.
pub fn graph(state: &Value, expectation: &Expectation) -> Result<(), Mismatch> {
    let Expectation::Graph {
        request_of,
        state: wanted_state,
        stage,
        result,
        by,
        justification,
    } = expectation
    else {
        return Ok(());
    };
    let Some(request) = newest_request(state, request_of) else {
        return Err(Mismatch {
            expected: format!("a request by {request_of} in Graph"),
            seen: "no request".into(),
        });
    };
    let mut wrong = Vec::new();
    if let Some(s) = wanted_state
        && request["state"] != s.as_str()
    {
        wrong.push(format!("state {s}"));
    }
    if let Some(k) = stage {
        let stage = &request["stages"][k.saturating_sub(1)];
        if stage.is_null() {
            wrong.push(format!("a stage {k}"));
        }
        if let Some(r) = result
            && stage["result"] != r.as_str()
        {
            wrong.push(format!("stage {k} {r}"));
        }
        if let Some(b) = by
            && stage["by"] != b.as_str()
        {
            wrong.push(format!("stage {k} decided by {b}"));
        }
        if let Some(j) = justification
            && !stage["justification"]
                .as_str()
                .is_some_and(|t| t.contains(j.as_str()))
        {
            wrong.push(format!("stage {k} justified with {j:?}"));
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    let stages: Vec<String> = request["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "stage {} {} {} by {} ({:?})",
                i + 1,
                s["status"].as_str().unwrap_or("?"),
                s["result"].as_str().unwrap_or("?"),
                s["by"].as_str().unwrap_or("nobody"),
                s["justification"].as_str().unwrap_or("")
            )
        })
        .collect();
    Err(Mismatch {
        expected: wrong.join(", "),
        seen: format!(
            "request {} {}; {}",
            request["id"].as_str().unwrap_or("?"),
            request["state"].as_str().unwrap_or("?"),
            stages.join("; ")
        ),
    })
}

/// `expect = "group"`.
pub fn group(
    state: &Value,
    who: &str,
    group: &str,
    member: Option<bool>,
    eligible: Option<bool>,
) -> Result<(), Mismatch> {
    let g = &state["groups"][group];
    if g.is_null() {
        return Err(Mismatch {
            expected: format!("a group `{group}`"),
            seen: "no such group".into(),
        });
    }
    let has = |list: &str| {
        g[list]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m == who))
    };
    let mut wrong = Vec::new();
    if let Some(m) = member
        && has("members") != m
    {
        wrong.push(format!(
            "{who} {} a member",
            if m { "is" } else { "is not" }
        ));
    }
    if let Some(e) = eligible
        && has("eligible") != e
    {
        wrong.push(format!(
            "{who} {} eligible",
            if e { "is" } else { "is not" }
        ));
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Mismatch {
        expected: format!("{} of {group}", wrong.join(", ")),
        seen: format!("members {}, eligible {}", g["members"], g["eligible"]),
    })
}

#[cfg(test)]
mod tests;
