//! Reads a request from Graph into the domain's `RequestView`, with
//! approvers resolved by our own reading of the policy and the directory.
//! Approval stages are delegated-only, so they are read with a linked
//! person's token: the requester's, else any linked approver's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use super::{Engine, EngineError, PackageInfo};
use crate::graph::models::{
    ApprovalStage, ApprovalStagePolicy, AssignmentPolicy, AssignmentRequest, SubjectSet,
};
use crate::graph::{GraphError, directory, em};
use stagegate_domain::approval::{
    AssignmentState, RequestState, RequestView, ReviewResult, StageStatus, StageView,
    reviewer_from_graph,
};
use stagegate_domain::approvers::{
    ApproverRule, DirectoryFacts, Escalation, ManagerLevel, StageApprovers, resolve_approvers,
};
use stagegate_domain::ids::{ObjectId, RequestId};

/// Everything one reconcile knows about a request.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub request: AssignmentRequest,
    pub package: PackageInfo,
    pub policy: AssignmentPolicy,
    pub view: RequestView,
    /// When each listed stage started (stage 1: the request's creation;
    /// later ones: the previous stage's review).
    pub stage_starts: Vec<DateTime<Utc>>,
    pub names: BTreeMap<ObjectId, String>,
}

impl Snapshot {
    #[must_use]
    pub fn name(&self, id: &ObjectId) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    #[must_use]
    pub fn stage_count(&self) -> u8 {
        u8::try_from(self.policy.stages().len()).unwrap_or(u8::MAX)
    }

    /// When stage `k` (1-based) is automatically denied.
    #[must_use]
    pub fn deadline(&self, k: u8) -> Option<DateTime<Utc>> {
        let i = usize::from(k.checked_sub(1)?);
        let start = self.stage_starts.get(i)?;
        let policy = self.policy.stages().get(i)?;
        let d = super::time::parse_duration(policy.duration_before_automatic_denial.as_deref()?)
            .ok()?;
        Some(*start + d)
    }

    #[must_use]
    pub fn justification_required(&self, k: u8) -> bool {
        usize::from(k)
            .checked_sub(1)
            .and_then(|i| self.policy.stages().get(i))
            .is_some_and(|s| s.is_approver_justification_required)
    }
}

fn rules(sets: &[SubjectSet]) -> Vec<ApproverRule> {
    sets.iter()
        .filter_map(|s| match s {
            SubjectSet::SingleUser { user_id } => {
                user_id.parse().ok().map(ApproverRule::SingleUser)
            }
            SubjectSet::GroupMembers { group_id } => {
                group_id.parse().ok().map(ApproverRule::GroupMembers)
            }
            SubjectSet::RequestorManager { manager_level } => {
                ManagerLevel::try_from(*manager_level)
                    .ok()
                    .map(ApproverRule::RequestorManager)
            }
            SubjectSet::InternalSponsors => Some(ApproverRule::InternalSponsors),
            SubjectSet::ExternalSponsors => Some(ApproverRule::ExternalSponsors),
            SubjectSet::TargetUserSponsors => Some(ApproverRule::TargetUserSponsors),
            SubjectSet::Other => None,
        })
        .collect()
}

pub(crate) fn stage_approvers(policy: &ApprovalStagePolicy) -> StageApprovers {
    let escalation = policy.is_escalation_enabled.then(|| Escalation {
        after: policy
            .duration_before_escalation
            .as_deref()
            .and_then(|d| super::time::parse_duration(d).ok())
            .unwrap_or_else(|| Duration::days(365)),
        approvers: rules(&policy.escalation_approvers),
        fallback: rules(&policy.fallback_escalation_approvers),
    });
    StageApprovers {
        primary: rules(&policy.primary_approvers),
        fallback_primary: rules(&policy.fallback_primary_approvers),
        escalation,
    }
}

impl Engine {
    /// Directory facts for every rule of `policy`, and display names.
    pub(super) async fn directory_facts(
        &self,
        policy: &AssignmentPolicy,
        requester: &ObjectId,
    ) -> Result<(DirectoryFacts, BTreeMap<ObjectId, String>), EngineError> {
        let mut facts = DirectoryFacts::default();
        let mut candidates: BTreeSet<ObjectId> = BTreeSet::from([*requester]);
        let all: Vec<ApproverRule> = policy
            .stages()
            .iter()
            .flat_map(|s| {
                [
                    &s.primary_approvers,
                    &s.fallback_primary_approvers,
                    &s.escalation_approvers,
                    &s.fallback_escalation_approvers,
                ]
                .into_iter()
                .flat_map(|sets| rules(sets))
            })
            .collect();
        let mut need_level = 0;
        let mut groups: Vec<ObjectId> = Vec::new();
        for rule in &all {
            match rule {
                ApproverRule::SingleUser(id) => {
                    candidates.insert(*id);
                }
                ApproverRule::RequestorManager(level) => {
                    need_level = need_level.max(match level {
                        ManagerLevel::Direct => 1,
                        ManagerLevel::SecondLevel => 2,
                    });
                }
                ApproverRule::GroupMembers(group) if !groups.contains(group) => {
                    groups.push(*group);
                }
                _ => {}
            }
        }
        // Independent reads go out together by `$batch`; only the manager
        // chain is sequential (each hop needs the previous answer).
        let memberships = directory::transitive_user_members_many(&self.ctx.graph, &groups).await?;
        for (group, members) in groups.iter().zip(memberships) {
            if let Some(members) = members {
                let members: BTreeSet<ObjectId> =
                    members.iter().filter_map(|m| m.parse().ok()).collect();
                candidates.extend(members.iter().copied());
                facts.group_members.insert(*group, members);
            }
        }
        let mut person = *requester;
        for _ in 0..need_level {
            let Some(manager) = directory::manager(&self.ctx.graph, &person).await? else {
                break;
            };
            let Ok(id) = manager.id.parse::<ObjectId>() else {
                break;
            };
            facts.managers.insert(person, id);
            candidates.insert(id);
            person = id;
        }
        let mut names = BTreeMap::new();
        let candidates: Vec<ObjectId> = candidates.into_iter().collect();
        let users = directory::users(&self.ctx.graph, &candidates).await?;
        for (id, user) in candidates.into_iter().zip(users) {
            if let Some(user) = user {
                facts.users.insert(id, user.account_enabled.unwrap_or(true));
                names.insert(id, user.display_name.unwrap_or_else(|| id.to_string()));
            }
        }
        Ok((facts, names))
    }

    /// Reads request `id`; `None` when Graph does not know it or it is not
    /// for a configured package.
    pub async fn snapshot(&self, id: &RequestId) -> Result<Option<Snapshot>, EngineError> {
        let request = match em::get_request(&self.ctx.graph, id).await {
            Ok(r) => r,
            Err(GraphError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(package) = self.package_of(&request) else {
            return Ok(None);
        };
        let requester = requester_of(&request, id)?;
        let policy = em::get_policy(&self.ctx.graph, &package.entry.policy).await?;
        let (facts, mut names) = self.directory_facts(&policy, &requester).await?;
        let state: RequestState = request.state.parse().unwrap_or_else(|e| match e {});
        let stages = self.read_stages(id, &requester, &facts, &state).await?;
        let now = self.ctx.clock.now();
        let timing = StageTiming {
            created: request.created_date_time.unwrap_or(now),
            now,
        };
        let mut stage_starts = Vec::new();
        let stage_views = stages.map(|stages| {
            let (views, starts) =
                stage_views(&stages, &policy, &requester, &facts, timing, &mut names);
            stage_starts = starts;
            views
        });
        let view = request_view(id, &package, requester, state, stage_views, &request);
        Ok(Some(Snapshot {
            request,
            package,
            policy,
            view,
            stage_starts,
            names,
        }))
    }

    /// The configured package a request is for; `None` for packages
    /// stagegate does not manage.
    fn package_of(&self, request: &AssignmentRequest) -> Option<PackageInfo> {
        request
            .access_package
            .as_ref()
            .and_then(|p| p.id.parse().ok())
            .and_then(|p| self.package_by_id(&p))
            .cloned()
    }

    /// The approval's stages with a linked person's token; `Some(vec![])`
    /// when the request has no approval (yet); `None` when nobody linked
    /// can read it.
    async fn read_stages(
        &self,
        id: &RequestId,
        requester: &ObjectId,
        facts: &DirectoryFacts,
        state: &RequestState,
    ) -> Result<Option<Vec<ApprovalStage>>, EngineError> {
        let mut readers: Vec<ObjectId> = vec![*requester];
        readers.extend(facts.users.keys().filter(|u| *u != requester).copied());
        for reader in readers {
            let Some((_, token)) = self.token_of_user(&reader).await? else {
                continue;
            };
            match self.read_stages_with(&token, id).await {
                Ok(stages) => return Ok(Some(stages)),
                Err(GraphError::NotFound { .. }) => {
                    // No approval: nothing started yet, or none needed.
                    return Ok(match state {
                        RequestState::PendingApproval => None,
                        _ => Some(Vec::new()),
                    });
                }
                Err(GraphError::Forbidden { .. } | GraphError::Unauthorized { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    pub(super) async fn read_stages_with(
        &self,
        token: &SecretString,
        id: &RequestId,
    ) -> Result<Vec<ApprovalStage>, GraphError> {
        em::get_approval(&self.ctx.graph, token, id)
            .await
            .map(|a| a.stages)
    }
}

/// `Approved`/`Denied`/`TimedOut` for a finished stage.
#[must_use]
pub(crate) fn stage_result(stage: &StageView) -> Option<&'static str> {
    match (&stage.result, &stage.status) {
        (ReviewResult::Approved, _) => Some("Approved"),
        (ReviewResult::Denied, _) => Some("Denied"),
        (_, StageStatus::Expired) => Some("TimedOut"),
        _ => None,
    }
}

fn requester_of(request: &AssignmentRequest, id: &RequestId) -> Result<ObjectId, EngineError> {
    request
        .requestor
        .as_ref()
        .and_then(|s| s.object_id.as_deref())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| EngineError::Data(format!("request {id} has no requestor")))
}

/// Read once per snapshot, so every stage is judged at the same instant.
#[derive(Clone, Copy)]
struct StageTiming {
    created: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// The stages as the domain sees them, and when each started. A stage
/// with an unreadable id is left out of the views but keeps its start, so
/// later stages' starts stay where they were.
fn stage_views(
    stages: &[ApprovalStage],
    policy: &AssignmentPolicy,
    requester: &ObjectId,
    facts: &DirectoryFacts,
    timing: StageTiming,
    names: &mut BTreeMap<ObjectId, String>,
) -> (Vec<StageView>, Vec<DateTime<Utc>>) {
    let StageTiming { created, now } = timing;
    let mut views = Vec::new();
    let mut starts = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let start = match i {
            0 => created,
            _ => stages[i - 1].reviewed_date_time.unwrap_or(created),
        };
        starts.push(start);
        let resolution = policy
            .stages()
            .get(i)
            .map(|p| resolve_approvers(&stage_approvers(p), requester, facts, now - start))
            .unwrap_or_default();
        let reviewed_by = stage
            .reviewed_by
            .as_ref()
            .and_then(|r| reviewer_from_graph(r.id.as_deref()).ok().flatten());
        if let (Some(by), Some(name)) = (
            reviewed_by,
            stage
                .reviewed_by
                .as_ref()
                .and_then(|r| r.display_name.clone()),
        ) {
            names.entry(by).or_insert(name);
        }
        let Ok(id) = stage.id.parse() else {
            continue;
        };
        views.push(StageView {
            id,
            status: stage
                .status
                .as_deref()
                .unwrap_or("NotStarted")
                .parse()
                .unwrap_or_else(|e| match e {}),
            result: stage
                .review_result
                .as_deref()
                .unwrap_or("NotReviewed")
                .parse()
                .unwrap_or_else(|e| match e {}),
            reviewed_by,
            justification: stage.justification.clone().unwrap_or_default(),
            approvers: resolution.ids(),
            escalated: resolution.escalated,
        });
    }
    (views, starts)
}

fn request_view(
    id: &RequestId,
    package: &PackageInfo,
    requester: ObjectId,
    state: RequestState,
    stages: Option<Vec<StageView>>,
    request: &AssignmentRequest,
) -> RequestView {
    RequestView {
        id: *id,
        package: package.entry.package,
        requester,
        state,
        stages,
        assignment: request
            .assignment
            .as_ref()
            .and_then(|a| a.state.as_deref())
            .map(|s| s.parse::<AssignmentState>().unwrap_or_else(|e| match e {})),
        ticket: request
            .answer_to(&package.entry.ticket_question.to_string())
            .map(str::to_owned),
        justification: request.justification.clone(),
    }
}
