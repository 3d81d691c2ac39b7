//! The chat command language: `request`, `status`, `cancel`, `pending`,
//! `link`, `unlink`, `help`.
//!
//! [`parse`] turns what a person typed into a [`Command`] or a
//! [`CommandError`] whose message says what was wrong and shows the usage
//! line. It is purely syntactic: whether an alias exists, whether the ticket
//! matches the policy's pattern and whether a justification is required are
//! decided by [`super::catalog::validate_request`] against config.
//!
//! Tolerated noise: surrounding and repeated whitespace (including the
//! non-breaking spaces Teams inserts), leading Teams bot mentions
//! (`<at>stagegate</at> request …`), Slack's slash (`/request …`, or one
//! `/stagegate` command followed by the verb), upper-case verbs and aliases,
//! and `—dry-run` (an em dash: macOS and mobile keyboards turn `--` into
//! `—` as people type).

use std::fmt;

use super::ids::{Alias, IdError, Justification, RequestId, Ticket, shown};

mod lex;
#[cfg(test)]
mod tests;

use lex::{Words, is_dry_run, is_flag, strip_preamble};

/// The command words, in the order help lists them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Verb {
    Request,
    Status,
    Cancel,
    Pending,
    Link,
    Unlink,
    Help,
}

impl Verb {
    pub const ALL: [Self; 7] = [
        Self::Request,
        Self::Status,
        Self::Cancel,
        Self::Pending,
        Self::Link,
        Self::Unlink,
        Self::Help,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Status => "status",
            Self::Cancel => "cancel",
            Self::Pending => "pending",
            Self::Link => "link",
            Self::Unlink => "unlink",
            Self::Help => "help",
        }
    }

    /// The usage line shown in help and in every error about this command.
    #[must_use]
    pub fn usage(self) -> &'static str {
        match self {
            Self::Request => "request <alias> <ticket> [justification…] [--dry-run]",
            Self::Status => "status [request-id]",
            Self::Cancel => "cancel <request-id>",
            Self::Pending => "pending",
            Self::Link => "link",
            Self::Unlink => "unlink",
            Self::Help => "help [command]",
        }
    }

    /// One line on what the command does, for help.
    #[must_use]
    pub fn summary(self) -> &'static str {
        match self {
            Self::Request => {
                "ask for an access package; <ticket> answers its ticket question, \
                 --dry-run checks everything without submitting"
            }
            Self::Status => "show your open requests, or one request in detail",
            Self::Cancel => "withdraw a request that is still waiting for approval",
            Self::Pending => "list the approvals waiting for your decision",
            Self::Link => "connect your chat account to your Microsoft Entra account",
            Self::Unlink => "disconnect your accounts and forget the stored sign-in",
            Self::Help => "show this help, or how to use one command",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `request <alias> <ticket> [justification…] [--dry-run]`, syntactically
/// valid (every field is a validated type, so the fields can be public).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestCommand {
    pub alias: Alias,
    pub ticket: Ticket,
    /// `None` when nothing follows the ticket; whether that is acceptable
    /// depends on the policy.
    pub justification: Option<Justification>,
    /// Check everything, submit nothing.
    pub dry_run: bool,
}

/// A parsed chat command.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Command {
    Request(RequestCommand),
    Status { request: Option<RequestId> },
    Cancel { request: RequestId },
    Pending,
    Link,
    Unlink,
    Help { topic: Option<Verb> },
}

impl Command {
    #[must_use]
    pub fn verb(&self) -> Verb {
        match self {
            Self::Request(_) => Verb::Request,
            Self::Status { .. } => Verb::Status,
            Self::Cancel { .. } => Verb::Cancel,
            Self::Pending => Verb::Pending,
            Self::Link => Verb::Link,
            Self::Unlink => Verb::Unlink,
            Self::Help { .. } => Verb::Help,
        }
    }
}

/// The canonical text of a command; [`parse`] reads it back to the same
/// command (a property test holds us to that).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(r) => {
                write!(f, "request {} {}", r.alias, r.ticket)?;
                if r.dry_run {
                    f.write_str(" --dry-run")?;
                }
                if let Some(j) = &r.justification {
                    if needs_separator(j.as_str()) {
                        f.write_str(" --")?;
                    }
                    write!(f, " {j}")?;
                }
                Ok(())
            }
            Self::Status { request: Some(id) } => write!(f, "status {id}"),
            Self::Cancel { request } => write!(f, "cancel {request}"),
            Self::Help { topic: Some(verb) } => write!(f, "help {verb}"),
            other => f.write_str(other.verb().name()),
        }
    }
}

/// Why a message is not a valid command. Every message says what was wrong
/// and, where one command is concerned, shows its usage line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("There is no command here. Try `help` to see what I can do.")]
    Empty,
    #[error(
        "I don't know the command `{shown}`. Commands: {}. Try `help`.",
        command_list()
    )]
    UnknownCommand { shown: String },
    #[error("`{verb}` needs {what}. Usage: `{}`", .verb.usage())]
    Missing { verb: Verb, what: &'static str },
    #[error("{source}. Usage: `{}`", .verb.usage())]
    Invalid { verb: Verb, source: IdError },
    #[error("`{verb}` has no option `{shown}`. Usage: `{}`", .verb.usage())]
    UnknownFlag { verb: Verb, shown: String },
    #[error("`{verb}` takes nothing after `{extra_after}`, but got `{shown}`. Usage: `{}`", .verb.usage())]
    TooManyArguments {
        verb: Verb,
        extra_after: String,
        shown: String,
    },
    #[error(
        "There is no command `{shown}` to explain. Commands: {}.",
        command_list()
    )]
    UnknownHelpTopic { shown: String },
}

fn command_list() -> String {
    Verb::ALL.map(Verb::name).join(", ")
}

/// Help listing every command with its usage and what it does.
#[must_use]
pub fn help_text() -> String {
    let mut out = String::from("stagegate commands:\n");
    for verb in Verb::ALL {
        out.push_str(&format!("• `{}` — {}\n", verb.usage(), verb.summary()));
    }
    out.push_str(
        "Examples: `request global-admin INC-1234 rotate the break-glass certificate`, \
         `status`, `pending`.",
    );
    out
}

/// Parses one chat message as a command.
pub fn parse(text: &str) -> Result<Command, CommandError> {
    let mut words = Words::new(strip_preamble(text));
    let Some(first) = words.next() else {
        return Err(CommandError::Empty);
    };
    let verb = Verb::from_word(first.text).ok_or_else(|| CommandError::UnknownCommand {
        shown: shown(first.text),
    })?;
    let invalid = |source| CommandError::Invalid { verb, source };
    let command =
        match verb {
            Verb::Request => return parse_request(&mut words),
            Verb::Status => Command::Status {
                request: words
                    .next()
                    .map(|w| w.text.parse())
                    .transpose()
                    .map_err(invalid)?,
            },
            Verb::Cancel => {
                let id = words.next().ok_or(CommandError::Missing {
                    verb,
                    what: "the id of the request to cancel",
                })?;
                Command::Cancel {
                    request: id.text.parse().map_err(invalid)?,
                }
            }
            Verb::Help => Command::Help {
                topic: match words.next() {
                    None => None,
                    Some(w) => Some(Verb::from_word(w.text).ok_or_else(|| {
                        CommandError::UnknownHelpTopic {
                            shown: shown(w.text),
                        }
                    })?),
                },
            },
            Verb::Pending => Command::Pending,
            Verb::Link => Command::Link,
            Verb::Unlink => Command::Unlink,
        };
    match words.next() {
        None => Ok(command),
        Some(extra) => Err(CommandError::TooManyArguments {
            verb,
            extra_after: shown(&command.to_string()),
            shown: shown(words.rest_from(extra.start)),
        }),
    }
}

fn parse_request(words: &mut Words<'_>) -> Result<Command, CommandError> {
    let verb = Verb::Request;
    let invalid = |source| CommandError::Invalid { verb, source };
    let mut dry_run = false;
    let mut options_ended = false;
    let mut positional: Vec<&str> = Vec::with_capacity(2);
    let mut justification = None;
    while let Some(word) = words.next() {
        if !options_ended && is_flag(word.text) {
            if word.text == "--" {
                options_ended = true;
            } else if is_dry_run(word.text) {
                dry_run = true;
            } else {
                return Err(CommandError::UnknownFlag {
                    verb,
                    shown: shown(word.text),
                });
            }
            continue;
        }
        if positional.len() < 2 {
            positional.push(word.text);
            continue;
        }
        justification = Some(words.rest_from(word.start));
        break;
    }
    let alias = positional.first().ok_or(CommandError::Missing {
        verb,
        what: "the alias of an access package",
    })?;
    let ticket = positional.get(1).ok_or(CommandError::Missing {
        verb,
        what: "a ticket number",
    })?;
    let mut justification = justification.map(str::trim_end);
    // A flag typed at the end must not silently become part of the
    // justification: that would submit a request the person meant to test.
    while !options_ended && let Some(text) = justification {
        let Some((head, last)) = text.rsplit_once(char::is_whitespace) else {
            break;
        };
        if !is_dry_run(last) {
            break;
        }
        dry_run = true;
        justification = Some(head.trim_end());
    }
    Ok(Command::Request(RequestCommand {
        alias: alias.to_lowercase().parse().map_err(invalid)?,
        ticket: ticket.parse().map_err(invalid)?,
        justification: justification.map(str::parse).transpose().map_err(invalid)?,
        dry_run,
    }))
}

/// Whether [`Command`]'s `Display` must put `--` before a justification so
/// that parsing reads it back verbatim rather than as flags.
fn needs_separator(justification: &str) -> bool {
    let mut words = justification.split_whitespace();
    let first_is_flag = words.next().is_some_and(is_flag);
    let last_is_dry_run = justification
        .split_whitespace()
        .next_back()
        .is_some_and(is_dry_run);
    first_is_flag || last_is_dry_run
}
