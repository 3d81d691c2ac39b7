//! Who approves a stage, decided from directory facts the engine fetched.
//!
//! Mirrors `accessPackageApprovalStage`: `primaryApprovers`, then
//! `fallbackPrimaryApprovers` when the primary ones resolve to nobody who can
//! act, and once `durationBeforeEscalation` has passed, `escalationApprovers`
//! (or `fallbackEscalationApprovers` when those resolve to nobody).
//! Escalation *adds* approvers: the primary approvers keep their cards and
//! can still decide, so escalating never strands a decision already under
//! way. The requester is never an approver of their own request, and a
//! disabled or unknown account never is either.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;

use super::ids::ObjectId;

#[cfg(test)]
mod tests;

/// `requestorManager.managerLevel`: Graph allows 1 and 2 only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum ManagerLevel {
    Direct,
    SecondLevel,
}

impl TryFrom<i32> for ManagerLevel {
    type Error = i32;

    fn try_from(level: i32) -> Result<Self, i32> {
        match level {
            1 => Ok(Self::Direct),
            2 => Ok(Self::SecondLevel),
            other => Err(other),
        }
    }
}

/// One `subjectSet` of an approval stage.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ApproverRule {
    /// `requestorManager`.
    RequestorManager(ManagerLevel),
    /// `singleUser`.
    SingleUser(ObjectId),
    /// `groupMembers`: the group's transitive user members.
    GroupMembers(ObjectId),
    /// `internalSponsors` of the requester's connected organization.
    InternalSponsors,
    /// `externalSponsors` of the requester's connected organization.
    ExternalSponsors,
    /// `targetUserSponsors`: the requester's own sponsors.
    TargetUserSponsors,
}

/// The escalation part of a stage (`isEscalationEnabled` = true).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Escalation {
    /// `durationBeforeEscalation`, counted from the stage's start.
    pub after: Duration,
    pub approvers: Vec<ApproverRule>,
    pub fallback: Vec<ApproverRule>,
}

/// A stage's approver settings.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StageApprovers {
    pub primary: Vec<ApproverRule>,
    pub fallback_primary: Vec<ApproverRule>,
    pub escalation: Option<Escalation>,
}

/// What the engine read from the directory about the requester's
/// surroundings. Anything absent is taken as "does not exist".
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DirectoryFacts {
    /// Every user the rules may name, with `accountEnabled`.
    pub users: BTreeMap<ObjectId, bool>,
    /// user → their manager.
    pub managers: BTreeMap<ObjectId, ObjectId>,
    /// group → its transitive *user* members.
    pub group_members: BTreeMap<ObjectId, BTreeSet<ObjectId>>,
    /// user → their sponsors.
    pub sponsors: BTreeMap<ObjectId, Vec<ObjectId>>,
    /// Sponsors of the requester's connected organization (empty for
    /// members of the home tenant, which have none).
    pub internal_sponsors: Vec<ObjectId>,
    pub external_sponsors: Vec<ObjectId>,
}

/// Why someone is an approver.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum ApproverSource {
    Primary,
    FallbackPrimary,
    Escalation,
    FallbackEscalation,
}

/// Why a candidate named by a rule is not an approver.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SkipReason {
    Requester,
    Disabled,
    /// Not among the users the engine found (deleted, or not a user).
    Unknown,
}

/// A rule that named nobody, kept so the engine can say why a stage fell
/// back (or why nobody can approve).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RuleGap {
    NoManager(ManagerLevel),
    UnknownGroup(ObjectId),
    EmptyGroup(ObjectId),
    NoSponsors(ApproverRule),
}

/// The outcome of [`resolve_approvers`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Resolution {
    /// Approvers in id order, each with the first reason that applied
    /// (primary before fallback before escalation).
    pub approvers: BTreeMap<ObjectId, ApproverSource>,
    pub skipped: BTreeMap<ObjectId, SkipReason>,
    pub gaps: Vec<RuleGap>,
    /// Whether escalation approvers were included.
    pub escalated: bool,
}

impl Resolution {
    /// The approver ids, for [`super::approval::StageView::approvers`].
    #[must_use]
    pub fn ids(&self) -> Vec<ObjectId> {
        self.approvers.keys().copied().collect()
    }
}

/// Resolves who may decide a stage that has been running for
/// `in_stage_for`, for `requester`, from `facts`.
#[must_use]
pub fn resolve_approvers(
    stage: &StageApprovers,
    requester: &ObjectId,
    facts: &DirectoryFacts,
    in_stage_for: Duration,
) -> Resolution {
    let mut out = Resolution::default();
    let mut tier = |rules: &[ApproverRule], fallback: &[ApproverRule], source, fallback_source| {
        let found = out.add(rules, requester, facts, source);
        if !found {
            out.add(fallback, requester, facts, fallback_source);
        }
    };
    tier(
        &stage.primary,
        &stage.fallback_primary,
        ApproverSource::Primary,
        ApproverSource::FallbackPrimary,
    );
    if let Some(esc) = &stage.escalation
        && in_stage_for >= esc.after
    {
        tier(
            &esc.approvers,
            &esc.fallback,
            ApproverSource::Escalation,
            ApproverSource::FallbackEscalation,
        );
        out.escalated = true;
    }
    out
}

impl Resolution {
    /// Adds the eligible users named by `rules`; returns whether any of them
    /// was eligible (already being an approver for an earlier reason counts).
    fn add(
        &mut self,
        rules: &[ApproverRule],
        requester: &ObjectId,
        facts: &DirectoryFacts,
        source: ApproverSource,
    ) -> bool {
        let mut found = false;
        let candidates: Vec<ObjectId> = rules
            .iter()
            .flat_map(|rule| self.candidates(rule, requester, facts))
            .collect();
        for candidate in candidates {
            let skip = if candidate == *requester {
                Some(SkipReason::Requester)
            } else {
                match facts.users.get(&candidate) {
                    Some(true) => None,
                    Some(false) => Some(SkipReason::Disabled),
                    None => Some(SkipReason::Unknown),
                }
            };
            match skip {
                Some(reason) => {
                    self.skipped.insert(candidate, reason);
                }
                None => {
                    self.approvers.entry(candidate).or_insert(source);
                    found = true;
                }
            }
        }
        found
    }

    fn candidates(
        &mut self,
        rule: &ApproverRule,
        requester: &ObjectId,
        facts: &DirectoryFacts,
    ) -> Vec<ObjectId> {
        let found: Vec<ObjectId> = match rule {
            ApproverRule::SingleUser(id) => vec![*id],
            ApproverRule::RequestorManager(level) => {
                let direct = facts.managers.get(requester);
                let manager = match level {
                    ManagerLevel::Direct => direct,
                    ManagerLevel::SecondLevel => direct.and_then(|m| facts.managers.get(m)),
                };
                if manager.is_none() {
                    self.gaps.push(RuleGap::NoManager(*level));
                }
                manager.into_iter().copied().collect()
            }
            ApproverRule::GroupMembers(group) => {
                let Some(members) = facts.group_members.get(group) else {
                    self.gaps.push(RuleGap::UnknownGroup(*group));
                    return Vec::new();
                };
                if members.is_empty() {
                    self.gaps.push(RuleGap::EmptyGroup(*group));
                }
                members.iter().copied().collect()
            }
            ApproverRule::TargetUserSponsors => {
                facts.sponsors.get(requester).cloned().unwrap_or_default()
            }
            ApproverRule::InternalSponsors => facts.internal_sponsors.clone(),
            ApproverRule::ExternalSponsors => facts.external_sponsors.clone(),
        };
        let is_sponsor_rule = matches!(
            rule,
            ApproverRule::TargetUserSponsors
                | ApproverRule::InternalSponsors
                | ApproverRule::ExternalSponsors
        );
        if is_sponsor_rule && found.is_empty() {
            self.gaps.push(RuleGap::NoSponsors(rule.clone()));
        }
        found
    }
}
