//! How steps read in a transcript. Pure.

use super::model::{Action, Decision, Expectation, Platform};

/// An action as the transcript tells it.
#[must_use]
pub fn describe_action(action: &Action, platform: Platform) -> String {
    let p = platform.name();
    match action {
        Action::Type { who, text } => match platform {
            Platform::Teams => format!("{who} types `{text}` in Teams"),
            Platform::Slack => {
                let (command, rest) = super::model::slack_command(text);
                format!("{who} runs `{command} {rest}` in Slack")
            }
        },
        Action::Link { who } => format!("{who} links their Microsoft account in {p}"),
        Action::SignIn { who, mfa } => match mfa {
            Some(true) => format!("{who} signs in to Microsoft, with MFA"),
            Some(false) => format!("{who} signs in to Microsoft, without MFA"),
            None => format!("{who} signs in to Microsoft"),
        },
        Action::Approve {
            who, justification, ..
        } => format!("{who} clicks Approve in {p}: \"{justification}\""),
        Action::Deny {
            who, justification, ..
        } => format!("{who} clicks Deny in {p}: \"{justification}\""),
        Action::Activate { who, duration } => {
            format!("{who} clicks Activate ({duration}) in {p}")
        }
        Action::AdvanceClock { by } => format!("the clock moves forward {by}"),
        Action::DecideInGraph {
            who,
            request_of,
            decision,
            justification,
        } => format!(
            "{who} {} {request_of}'s request in My Access (directly in Graph): \"{justification}\"",
            match decision {
                Decision::Approve => "approves",
                Decision::Deny => "denies",
            }
        ),
        Action::AddMember { who, group } => {
            format!("an administrator adds {who} to {group} directly, with no request")
        }
    }
}

/// An expectation as the transcript tells it.
#[must_use]
pub fn describe_expectation(expectation: &Expectation, platform: Platform) -> String {
    match expectation {
        Expectation::Sees {
            who,
            contains,
            buttons,
        } => match buttons {
            Some(b) if b.is_empty() => format!("{who} sees {contains:?}, final (no buttons)"),
            Some(b) => format!("{who} sees {contains:?} with buttons {b:?}"),
            None => format!("{who} sees {contains:?}"),
        },
        Expectation::DoesNotSee { who, contains } => {
            format!("{who} does not see {contains:?}")
        }
        Expectation::AllFinal { who } => {
            format!("every card of {} is in its final state", who.join(", "))
        }
        Expectation::Graph { request_of, .. } => {
            format!("Graph holds {request_of}'s request as expected")
        }
        Expectation::Security { contains, channels } => {
            let on: Vec<&str> = channels
                .clone()
                .unwrap_or_else(|| vec![platform])
                .iter()
                .map(|p| p.name())
                .collect();
            format!(
                "the security channel ({}) shows {contains:?}",
                on.join(" and ")
            )
        }
        Expectation::Group {
            who,
            group,
            member,
            eligible,
        } => {
            let is = |yes: bool| if yes { "is" } else { "is not" };
            let mut parts = Vec::new();
            if let Some(m) = member {
                parts.push(format!("{} a member", is(*m)));
            }
            if let Some(e) = eligible {
                parts.push(format!("{} eligible", is(*e)));
            }
            format!("in Graph, {who} {} of {group}", parts.join(" and "))
        }
    }
}
