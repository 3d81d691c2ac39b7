//! The configured access packages people can ask for, and the check of a
//! `request` command against them before anything is sent to Graph.

use std::collections::BTreeMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

use super::command::RequestCommand;
use super::ids::{AccessPackageId, Alias, Justification, PolicyId, QuestionId, Ticket};

/// The pattern a ticket must match, from config (normally the same as the
/// ticket question's `regexPattern` in the policy).
///
/// The whole ticket must match: the pattern is wrapped as `^(?:…)$`, so an
/// unanchored `[A-Z]+-[0-9]+` does not let `see INC-1 and more` through.
/// Syntax is Rust's `regex` crate, which differs from .NET's in a few
/// corners (no look-around, no backreferences); a pattern using those is
/// refused when config is loaded, not when someone requests.
#[derive(Clone)]
pub struct TicketRule {
    pattern: String,
    compiled: Regex,
}

/// A ticket pattern in config that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ticket pattern `{pattern}` is not a valid regular expression: {reason}")]
pub struct TicketRuleError {
    pub pattern: String,
    pub reason: String,
}

impl TicketRule {
    /// Compiled size limit: config is trusted, but a pathological pattern
    /// should fail at start-up rather than eat memory.
    const SIZE_LIMIT: usize = 1 << 20;

    pub fn new(pattern: &str) -> Result<Self, TicketRuleError> {
        let compiled = RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(Self::SIZE_LIMIT)
            .build()
            .map_err(|e| TicketRuleError {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            compiled,
        })
    }

    /// The pattern as configured, for error messages.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    #[must_use]
    pub fn accepts(&self, ticket: &Ticket) -> bool {
        self.compiled.is_match(ticket.as_str())
    }
}

impl fmt::Debug for TicketRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TicketRule").field(&self.pattern).finish()
    }
}

impl PartialEq for TicketRule {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// One requestable access package, as configured under its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageEntry {
    pub package: AccessPackageId,
    /// The assignment policy requests are made under (a package may have
    /// several; the alias picks one).
    pub policy: PolicyId,
    /// The policy's ticket question, which the ticket answers.
    pub ticket_question: QuestionId,
    pub ticket_rule: TicketRule,
    /// The policy's `requestApprovalSettings.isRequestorJustificationRequired`.
    pub justification_required: bool,
    pub display_name: String,
    /// Requestable by alias but left out of listings (e.g. a break-glass
    /// drill that only the people told about it should ask for).
    pub hidden: bool,
}

/// A second entry for an alias already configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the alias `{0}` is configured twice")]
pub struct DuplicateAlias(pub Alias);

/// Every configured alias.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackageCatalog {
    entries: BTreeMap<Alias, PackageEntry>,
}

impl PackageCatalog {
    pub fn new(
        entries: impl IntoIterator<Item = (Alias, PackageEntry)>,
    ) -> Result<Self, DuplicateAlias> {
        let mut map = BTreeMap::new();
        for (alias, entry) in entries {
            if map.contains_key(&alias) {
                return Err(DuplicateAlias(alias));
            }
            map.insert(alias, entry);
        }
        Ok(Self { entries: map })
    }

    #[must_use]
    pub fn get(&self, alias: &Alias) -> Option<&PackageEntry> {
        self.entries.get(alias)
    }

    /// The aliases to show people, in alphabetical order (hidden ones left out).
    pub fn visible(&self) -> impl Iterator<Item = (&Alias, &PackageEntry)> {
        self.entries.iter().filter(|(_, e)| !e.hidden)
    }
}

/// A `request` that passed every check that can be made before Graph sees
/// it: everything needed to build the `userAdd` assignment request.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedRequest {
    pub alias: Alias,
    pub package: AccessPackageId,
    pub policy: PolicyId,
    pub ticket_question: QuestionId,
    pub ticket: Ticket,
    pub justification: Option<Justification>,
    pub dry_run: bool,
    pub display_name: String,
}

/// Why a syntactically valid `request` cannot be submitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    #[error("There is no access package called `{alias}`. {}", known_list(.known))]
    UnknownAlias { alias: Alias, known: Vec<Alias> },
    #[error("`{ticket}` is not a valid ticket for {display_name}: it must match `{pattern}`.")]
    TicketMismatch {
        ticket: Ticket,
        pattern: String,
        display_name: String,
    },
    #[error(
        "{display_name} needs a justification: say why after the ticket, e.g. \
         `request {alias} <ticket> rotate the break-glass certificate`."
    )]
    JustificationRequired { alias: Alias, display_name: String },
}

fn known_list(known: &[Alias]) -> String {
    if known.is_empty() {
        return "No access packages are configured.".to_owned();
    }
    let names: Vec<&str> = known.iter().map(Alias::as_str).collect();
    format!("You can ask for: {}.", names.join(", "))
}

/// Checks a parsed `request` against the configured packages: the alias
/// exists, the ticket matches the pattern, and a justification is present
/// when the policy requires one.
pub fn validate_request(
    cmd: &RequestCommand,
    catalog: &PackageCatalog,
) -> Result<ValidatedRequest, RequestRefusal> {
    let Some(entry) = catalog.get(&cmd.alias) else {
        return Err(RequestRefusal::UnknownAlias {
            alias: cmd.alias.clone(),
            known: catalog.visible().map(|(a, _)| a.clone()).collect(),
        });
    };
    if !entry.ticket_rule.accepts(&cmd.ticket) {
        return Err(RequestRefusal::TicketMismatch {
            ticket: cmd.ticket.clone(),
            pattern: entry.ticket_rule.pattern().to_owned(),
            display_name: entry.display_name.clone(),
        });
    }
    if entry.justification_required && cmd.justification.is_none() {
        return Err(RequestRefusal::JustificationRequired {
            alias: cmd.alias.clone(),
            display_name: entry.display_name.clone(),
        });
    }
    Ok(ValidatedRequest {
        alias: cmd.alias.clone(),
        package: entry.package,
        policy: entry.policy,
        ticket_question: entry.ticket_question,
        ticket: cmd.ticket.clone(),
        justification: cmd.justification.clone(),
        dry_run: cmd.dry_run,
        display_name: entry.display_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, parse};

    fn entry(n: u8, pattern: &str, justification_required: bool, hidden: bool) -> PackageEntry {
        let guid = |k: u8| format!("00000000-0000-4000-8000-0000000000{n}{k}");
        PackageEntry {
            package: guid(1).parse().expect("id"),
            policy: guid(2).parse().expect("id"),
            ticket_question: guid(3).parse().expect("id"),
            ticket_rule: TicketRule::new(pattern).expect("pattern"),
            justification_required,
            display_name: format!("Package {n}"),
            hidden,
        }
    }

    fn catalog() -> PackageCatalog {
        PackageCatalog::new([
            (
                "global-admin".parse().expect("alias"),
                entry(1, "^[A-Z]+-[0-9]+$", true, false),
            ),
            (
                "helpdesk-admin".parse().expect("alias"),
                entry(2, "[A-Z]+-[0-9]+", false, false),
            ),
            (
                "break-glass-drill".parse().expect("alias"),
                entry(3, "DRILL-[0-9]{4}", false, true),
            ),
        ])
        .expect("unique aliases")
    }

    fn check(text: &str) -> Result<ValidatedRequest, RequestRefusal> {
        match parse(text) {
            Ok(Command::Request(cmd)) => validate_request(&cmd, &catalog()),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn a_complete_request_carries_the_configured_ids() {
        let ok = check("request global-admin INC-42 rotate the cert --dry-run").expect("valid");
        let expected = entry(1, "^[A-Z]+-[0-9]+$", true, false);
        assert_eq!(
            (ok.package, ok.policy, ok.ticket_question),
            (expected.package, expected.policy, expected.ticket_question)
        );
        assert_eq!(ok.ticket.as_str(), "INC-42");
        assert_eq!(ok.justification.expect("given").as_str(), "rotate the cert");
        assert!(ok.dry_run);
    }

    #[test]
    fn unknown_alias_lists_only_visible_packages() {
        let err = check("request global INC-1 x").expect_err("unknown");
        let RequestRefusal::UnknownAlias { known, .. } = &err else {
            panic!("{err:?}")
        };
        let known: Vec<&str> = known.iter().map(Alias::as_str).collect();
        assert_eq!(known, ["global-admin", "helpdesk-admin"]);
        assert!(
            err.to_string().contains("global-admin, helpdesk-admin"),
            "{err}"
        );
        assert!(
            check("request break-glass-drill DRILL-0001").is_ok(),
            "hidden packages stay requestable"
        );
    }

    #[test]
    fn ticket_must_match_the_whole_pattern() {
        assert!(matches!(
            check("request global-admin inc-1 x"),
            Err(RequestRefusal::TicketMismatch { .. })
        ));
        assert!(matches!(
            check("request helpdesk-admin xINC-1"),
            Err(RequestRefusal::TicketMismatch { .. })
        ));
        assert!(check("request helpdesk-admin INC-1").is_ok());
        let err = check("request break-glass-drill DRILL-1").expect_err("too short");
        assert!(err.to_string().contains("DRILL-[0-9]{4}"), "{err}");
    }

    #[test]
    fn justification_required_only_where_the_policy_says_so() {
        let err = check("request global-admin INC-1").expect_err("needs why");
        assert!(matches!(err, RequestRefusal::JustificationRequired { .. }));
        assert!(
            err.to_string().contains("request global-admin <ticket>"),
            "{err}"
        );
        assert!(
            check("request helpdesk-admin INC-1")
                .expect("ok")
                .justification
                .is_none()
        );
    }

    #[test]
    fn config_errors_are_reported() {
        let err = TicketRule::new("(unclosed").expect_err("bad regex");
        assert!(err.to_string().contains("(unclosed"), "{err}");
        assert!(
            TicketRule::new("(?<=x)y").is_err(),
            "look-behind is not supported"
        );
        let dup = PackageCatalog::new([
            ("a".parse().expect("alias"), entry(1, "x", false, false)),
            ("a".parse().expect("alias"), entry(2, "y", false, false)),
        ]);
        assert_eq!(dup, Err(DuplicateAlias("a".parse().expect("alias"))));
    }
}
