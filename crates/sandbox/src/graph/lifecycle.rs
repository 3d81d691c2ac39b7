//! The request lifecycle on the emulated clock: approval stages, automatic
//! denial, escalation, delivery and assignment expiry.
//!
//! [`World::run_lifecycle`] repeatedly applies the *earliest* step that is
//! due at or before `now`, each at its own time, so a large clock jump
//! replays every intermediate transition in order (stage 1 timing out at its
//! own deadline, not at `now`). A step always changes state, so calling it
//! twice with the same `now` changes nothing the second time.
//!
//! Behaviour chosen from Microsoft's descriptions (MicrosoftDocs/entra-docs,
//! `entitlement-management-process.md`, `…-access-package-approval-policy.md`):
//! - A request that no approver decides within `durationBeforeAutomaticDenial`
//!   "expires" (portal wording) and "is automatically denied" (Graph wording).
//!   The v1.0 `accessPackageRequestState` has no `expired` member, so it reads
//!   `state: denied` with the free-text `status: Expired`; the stage reads
//!   `status: Expired`, `reviewResult: NotReviewed`.
//! - "After the request is forwarded to the alternate approvers, the primary
//!   approvers can still approve or deny the request": escalation *adds* the
//!   escalation approvers to the stage; nobody is removed.
//! - Fallback approvers "receive the request if entitlement management can't
//!   find the manager": used whenever the primary approvers resolve to nobody.
//! - `adminAdd` / `adminUpdate` are direct assignments and skip approval.

mod approvers;

use chrono::{DateTime, Duration, Utc};

use crate::clock::parse_iso_duration;
use crate::world::{Assignment, AssignmentRequest, SimEvent, World};

/// Request states in which a request is still being processed.
pub const OPEN_STATES: [&str; 3] = ["submitted", "pendingApproval", "delivering"];

/// Lead times of the `assignmentFourteenDaysBeforeExpiration` and
/// `assignmentOneDayBeforeExpiration` custom-extension stages.
const EXPIRY_WARNINGS: [u32; 2] = [14, 1];

/// Guard against a step that fails to change state (a bug, not input).
const MAX_STEPS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A submitted request starts processing.
    Start(String),
    /// A decision recorded on stage `.1` takes effect.
    Decided(String, usize),
    Escalate(String, usize),
    /// Nobody decided stage `.1` in time.
    TimeOut(String, usize),
    Warn(String, u32),
    ExpireAssignment(String),
}

impl World {
    /// Applies request-lifecycle deadlines due at or before `now`. Idempotent.
    pub(crate) fn run_lifecycle(&mut self, now: DateTime<Utc>) {
        for _ in 0..MAX_STEPS {
            let Some((at, step)) = self.next_step(now) else {
                return;
            };
            self.apply(at, step);
        }
        tracing::error!("request lifecycle did not settle; a step did not change state");
    }

    fn next_step(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Step)> {
        let mut best: Option<(DateTime<Utc>, Step)> = None;
        let mut consider = |at: DateTime<Utc>, step: Step| {
            if at <= now && best.as_ref().is_none_or(|(b, _)| at < *b) {
                best = Some((at, step));
            }
        };
        for r in self.requests.values() {
            match r.state.as_str() {
                "submitted" => consider(r.created, Step::Start(r.id.clone())),
                "pendingApproval" => {
                    let Some((i, stage)) = current_stage(r) else {
                        continue;
                    };
                    if stage.review_result != "NotReviewed" {
                        let at = stage.reviewed_at.unwrap_or(r.created);
                        consider(at, Step::Decided(r.id.clone(), i));
                        continue;
                    }
                    if let (Some(at), false) = (stage.escalate_at, stage.escalated) {
                        consider(at, Step::Escalate(r.id.clone(), i));
                    }
                    if let Some(at) = stage.deadline {
                        consider(at, Step::TimeOut(r.id.clone(), i));
                    }
                }
                _ => {}
            }
        }
        for a in self.assignments.values() {
            let (true, Some(end)) = (a.state == "delivered", a.end) else {
                continue;
            };
            for days in EXPIRY_WARNINGS {
                let at = end - Duration::days(days.into());
                // Only thresholds crossed during the assignment's lifetime.
                if at > a.start && !self.warned(&a.id, days) {
                    consider(at, Step::Warn(a.id.clone(), days));
                }
            }
            consider(end, Step::ExpireAssignment(a.id.clone()));
        }
        best
    }

    fn warned(&self, assignment_id: &str, days: u32) -> bool {
        self.events.iter().any(|e| {
            matches!(e, SimEvent::AssignmentExpiring { assignment_id: a, days: d }
                if a == assignment_id && *d == days)
        })
    }

    fn apply(&mut self, at: DateTime<Utc>, step: Step) {
        match step {
            Step::Start(id) => self.start_request(&id, at),
            Step::Decided(id, i) => self.stage_decided(&id, i, at),
            Step::Escalate(id, i) => self.escalate(&id, i),
            Step::TimeOut(id, i) => {
                if let Some(r) = self.requests.get_mut(&id) {
                    r.stages[i].status = "Expired".into();
                    finish(r, "denied", "Expired", at);
                }
            }
            Step::Warn(id, days) => self.events.push(SimEvent::AssignmentExpiring {
                assignment_id: id,
                days,
            }),
            Step::ExpireAssignment(id) => self.end_assignment(&id, at),
        }
    }

    fn start_request(&mut self, id: &str, at: DateTime<Utc>) {
        let Some(r) = self.requests.get(id) else {
            return;
        };
        match r.request_type.as_str() {
            "userRemove" | "adminRemove" => {
                if let Some(assignment_id) = r.assignment_id.clone() {
                    self.end_assignment(&assignment_id, at);
                }
                if let Some(r) = self.requests.get_mut(id) {
                    finish(r, "delivered", "Delivered", at);
                }
            }
            _ if self.needs_approval(r) => {
                if let Some(r) = self.requests.get_mut(id) {
                    r.state = "pendingApproval".into();
                    r.status = "PendingApproval".into();
                }
                self.start_stage(id, 0, at);
            }
            _ => self.approve_and_deliver(id, at),
        }
    }

    fn needs_approval(&self, r: &AssignmentRequest) -> bool {
        let Some(policy) = self.policies.get(&r.policy_id) else {
            return false;
        };
        let settings = &policy.request_approval_settings;
        let required = match r.request_type.as_str() {
            "userAdd" => settings.is_approval_required_for_add,
            "userUpdate" => settings.is_approval_required_for_update,
            _ => false,
        };
        required && !settings.stages.is_empty() && !r.stages.is_empty()
    }

    fn start_stage(&mut self, id: &str, i: usize, at: DateTime<Utc>) {
        let Some(r) = self.requests.get(id) else {
            return;
        };
        let Some(stage_policy) = self
            .policies
            .get(&r.policy_id)
            .and_then(|p| p.request_approval_settings.stages.get(i))
            .cloned()
        else {
            return;
        };
        let approvers = self.resolve_approvers(
            &stage_policy.primary_approvers,
            &stage_policy.fallback_primary_approvers,
            &r.requestor_id,
            &r.target_id,
        );
        let deny_after = parse_iso_duration(&stage_policy.duration_before_automatic_denial)
            .unwrap_or_else(|_| Duration::days(14));
        let escalate_after = stage_policy
            .is_escalation_enabled
            .then(|| parse_iso_duration(&stage_policy.duration_before_escalation).ok())
            .flatten();
        let Some(r) = self.requests.get_mut(id) else {
            return;
        };
        let Some(stage) = r.stages.get_mut(i) else {
            return;
        };
        stage.status = "InProgress".into();
        stage.started = Some(at);
        stage.deadline = Some(at + deny_after);
        stage.escalate_at = escalate_after.map(|d| at + d);
        stage.approver_ids = approvers;
        r.status = "PendingApproval".into();
    }

    fn escalate(&mut self, id: &str, i: usize) {
        let Some(r) = self.requests.get(id) else {
            return;
        };
        let Some(stage_policy) = self
            .policies
            .get(&r.policy_id)
            .and_then(|p| p.request_approval_settings.stages.get(i))
            .cloned()
        else {
            return;
        };
        let added = self.resolve_approvers(
            &stage_policy.escalation_approvers,
            &stage_policy.fallback_escalation_approvers,
            &r.requestor_id,
            &r.target_id,
        );
        let Some(r) = self.requests.get_mut(id) else {
            return;
        };
        let stage = &mut r.stages[i];
        stage.escalated = true;
        for user in added {
            if !stage.approver_ids.contains(&user) {
                stage.approver_ids.push(user);
            }
        }
        r.status = "PendingApprovalEscalated".into();
    }

    fn stage_decided(&mut self, id: &str, i: usize, at: DateTime<Utc>) {
        let Some(r) = self.requests.get_mut(id) else {
            return;
        };
        r.stages[i].status = "Completed".into();
        if r.stages[i].review_result == "Denied" {
            finish(r, "denied", "Denied", at);
        } else if i + 1 < r.stages.len() {
            self.start_stage(id, i + 1, at);
        } else {
            self.approve_and_deliver(id, at);
        }
    }

    /// Approval passed (or was not needed): the assignment is created or
    /// extended. Delivery to a group is instantaneous in the emulator, so
    /// `delivering` is passed through within the same step.
    fn approve_and_deliver(&mut self, id: &str, at: DateTime<Utc>) {
        let Some(r) = self.requests.get_mut(id) else {
            return;
        };
        r.state = "delivering".into();
        r.status = "Delivering".into();
        let r = r.clone();
        self.events.push(SimEvent::RequestApproved {
            request_id: r.id.clone(),
        });
        let end = self
            .policies
            .get(&r.policy_id)
            .and_then(|p| match p.expiration.kind.as_str() {
                "afterDuration" => p
                    .expiration
                    .duration
                    .as_deref()
                    .and_then(|d| parse_iso_duration(d).ok())
                    .map(|d| at + d),
                "afterDateTime" => p
                    .expiration
                    .end_date_time
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                _ => None,
            });
        let extend = matches!(r.request_type.as_str(), "userUpdate" | "adminUpdate");
        let assignment_id = if extend {
            let existing = r
                .assignment_id
                .as_deref()
                .and_then(|a| self.assignments.get_mut(a))
                .filter(|a| a.state == "delivered");
            let Some(existing) = existing else {
                if let Some(r) = self.requests.get_mut(id) {
                    finish(r, "deliveryFailed", "DeliveryFailed", at);
                }
                return;
            };
            existing.end = end;
            existing.id.clone()
        } else {
            let assignment = Assignment {
                id: uuid::Uuid::new_v4().to_string(),
                state: "delivered".into(),
                status: "Delivered".into(),
                access_package_id: r.access_package_id.clone(),
                policy_id: r.policy_id.clone(),
                target_id: r.target_id.clone(),
                start: at,
                end,
                expired_at: None,
            };
            let assignment_id = assignment.id.clone();
            self.assignments.insert(assignment_id.clone(), assignment);
            self.events.push(SimEvent::AssignmentGranted {
                request_id: r.id.clone(),
                assignment_id: assignment_id.clone(),
            });
            assignment_id
        };
        if let Some(r) = self.requests.get_mut(id) {
            r.assignment_id = Some(assignment_id);
            finish(r, "delivered", "Delivered", at);
        }
    }

    /// Ends an assignment (removal or expiry). Idempotent.
    fn end_assignment(&mut self, assignment_id: &str, at: DateTime<Utc>) {
        let Some(a) = self.assignments.get_mut(assignment_id) else {
            return;
        };
        if a.state == "expired" {
            return;
        }
        a.state = "expired".into();
        a.status = "Expired".into();
        a.expired_at = Some(at);
        self.events.push(SimEvent::AssignmentRemoved {
            assignment_id: assignment_id.to_owned(),
        });
    }
}

/// The stage awaiting a decision: the first one in progress.
pub fn current_stage(r: &AssignmentRequest) -> Option<(usize, &crate::world::ApprovalStageState)> {
    r.stages
        .iter()
        .enumerate()
        .find(|(_, s)| s.status == "InProgress")
}

fn finish(r: &mut AssignmentRequest, state: &str, status: &str, at: DateTime<Utc>) {
    r.state = state.into();
    r.status = status.into();
    r.completed = Some(at);
}
