//! A scenario file's data model and parser. Pure: no I/O.
//!
//! A scenario is a name, a description, the platforms it runs on (once per
//! platform), an optional tenant file, and numbered steps. Each step is an
//! action (`do = "…"`: a persona types, clicks, signs in; the clock moves; an
//! approver decides in Graph; an admin adds a member) or an expectation
//! (`expect = "…"`: what a persona sees, what Graph holds, what the security
//! channel shows). Unknown keys are refused with the step named.

use serde::Deserialize;

/// Where a scenario (or one step) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Teams,
    Slack,
}

impl Platform {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Teams => "Teams",
            Self::Slack => "Slack",
        }
    }
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub platforms: Vec<Platform>,
    /// Tenant file, relative to the scenario file; the seeded tenant if unset.
    pub tenant: Option<String>,
    pub steps: Vec<Step>,
}

/// One numbered step (numbers start at 1, as printed in transcripts).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub number: usize,
    /// Only on this platform (e.g. Slack approvers link their accounts first).
    pub on: Option<Platform>,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Do(Action),
    Expect(Expectation),
}

/// Something a persona (or the world) does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Types `text` to the bot: as is in Teams; in Slack `request …` becomes
    /// `/request …` and anything else `/stagegate …`.
    Type { who: String, text: String },
    /// Types `link` and signs in (so the bot can act as them).
    Link { who: String },
    /// Follows the newest sign-in link in their chat; `mfa` (when given)
    /// says whether Entra must ask for the MFA step.
    SignIn {
        who: String,
        #[serde(default)]
        mfa: Option<bool>,
    },
    /// Approves on their live approval card (Teams: the card's input;
    /// Slack: the button, then the modal), picking the card that shows
    /// `card` when given.
    Approve {
        who: String,
        #[serde(default)]
        justification: String,
        #[serde(default)]
        card: Option<String>,
    },
    Deny {
        who: String,
        #[serde(default)]
        justification: String,
        #[serde(default)]
        card: Option<String>,
    },
    /// Clicks Activate on the activation prompt for `duration` (`PT4H`).
    Activate { who: String, duration: String },
    /// Moves the emulated clock forward (`PT1H`, `P1DT1M`).
    AdvanceClock { by: String },
    /// `who` decides the current stage of `request_of`'s newest request
    /// directly in Graph, as in the My Access portal.
    DecideInGraph {
        who: String,
        request_of: String,
        decision: Decision,
        #[serde(default)]
        justification: String,
    },
    /// An administrator adds `who` to `group` (key) directly, outside any
    /// access package or activation (waits until the bot watches the group).
    AddMember { who: String, group: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

/// Something that must hold (awaited up to the runner's timeout).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "expect", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// A message or card in `who`'s chat shows every text in `contains`;
    /// with `buttons`, its live buttons are exactly those (`[]`: final).
    Sees {
        who: String,
        contains: Vec<String>,
        #[serde(default)]
        buttons: Option<Vec<String>>,
    },
    /// No message in `who`'s chat shows all of `contains` (checked once).
    DoesNotSee { who: String, contains: Vec<String> },
    /// Every card each of `who` holds is in its final state (no buttons).
    AllFinal { who: Vec<String> },
    /// `request_of`'s newest request, as Graph holds it.
    Graph {
        request_of: String,
        #[serde(default)]
        state: Option<String>,
        /// Stage number (1-based) whose `result`/`by`/`justification` to check.
        #[serde(default)]
        stage: Option<usize>,
        #[serde(default)]
        result: Option<String>,
        #[serde(default)]
        by: Option<String>,
        #[serde(default)]
        justification: Option<String>,
    },
    /// A post in the security channel shows every text in `contains`; on
    /// `channels` (default: the platform being run).
    Security {
        contains: Vec<String>,
        #[serde(default)]
        channels: Option<Vec<Platform>>,
    },
    /// `who`'s membership and eligibility of `group` (key), as Graph holds them.
    Group {
        who: String,
        group: String,
        #[serde(default)]
        member: Option<bool>,
        #[serde(default)]
        eligible: Option<bool>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    description: String,
    platforms: Vec<Platform>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    steps: Vec<toml::Table>,
}

/// A scenario file's problem, naming the step when it is in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    File(String),
    #[error("step {number}: {message}")]
    Step { number: usize, message: String },
}

/// Parses a scenario file's text.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    let file: File = toml::from_str(text).map_err(|e| ParseError::File(e.message().to_owned()))?;
    if file.platforms.is_empty() {
        return Err(ParseError::File(
            "`platforms` lists no platform (`teams`, `slack`)".into(),
        ));
    }
    if file.steps.is_empty() {
        return Err(ParseError::File("the scenario has no [[steps]]".into()));
    }
    let steps = file
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, table)| step(i + 1, table))
        .collect::<Result<_, _>>()?;
    Ok(Scenario {
        name: file.name,
        description: file.description,
        platforms: file.platforms,
        tenant: file.tenant,
        steps,
    })
}

fn step(number: usize, mut table: toml::Table) -> Result<Step, ParseError> {
    let fail = |message: String| ParseError::Step { number, message };
    let on = match table.remove("on") {
        Some(v) => Some(
            v.try_into::<Platform>()
                .map_err(|e| fail(format!("`on`: {}", e.message())))?,
        ),
        None => None,
    };
    let kind = match (table.contains_key("do"), table.contains_key("expect")) {
        (true, false) => StepKind::Do(
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| fail(e.message().to_owned()))?,
        ),
        (false, true) => StepKind::Expect(
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| fail(e.message().to_owned()))?,
        ),
        _ => {
            return Err(fail(
                "a step has exactly one of `do = \"…\"` (an action) or `expect = \"…\"` (an expectation)"
                    .into(),
            ));
        }
    };
    Ok(Step { number, on, kind })
}

/// What a person types in Slack for `text` typed in Teams:
/// `(slash command, its text)`.
#[must_use]
pub fn slack_command(text: &str) -> (&'static str, String) {
    let text = text.trim();
    match text.split_once(char::is_whitespace) {
        Some(("request", rest)) => ("/request", rest.trim().to_owned()),
        _ if text == "request" => ("/request", String::new()),
        _ => ("/stagegate", text.to_owned()),
    }
}

#[cfg(test)]
mod tests;
