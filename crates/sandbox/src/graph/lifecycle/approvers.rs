//! Who may decide a stage, resolved from the policy's `subjectSet`s when the
//! stage starts (or escalates), against the directory as it is then.

use crate::world::{SubjectSet, World};

impl World {
    /// The users `primary` names, or — when that is nobody — those
    /// `fallback` names. Disabled accounts, the requestor and the target
    /// never count: "Approvers aren't able to approve their own access
    /// package requests" (entra-docs, access-package-approval-policy).
    pub(crate) fn resolve_approvers(
        &self,
        primary: &[SubjectSet],
        fallback: &[SubjectSet],
        requestor_id: &str,
        target_id: &str,
    ) -> Vec<String> {
        let resolved = self.resolve_subjects(primary, requestor_id, target_id);
        if resolved.is_empty() {
            self.resolve_subjects(fallback, requestor_id, target_id)
        } else {
            resolved
        }
    }

    fn resolve_subjects(
        &self,
        sets: &[SubjectSet],
        requestor_id: &str,
        target_id: &str,
    ) -> Vec<String> {
        let mut users: Vec<String> = Vec::new();
        for set in sets {
            let candidates: Vec<String> = match set {
                SubjectSet::SingleUser { user_id, .. } => vec![user_id.clone()],
                SubjectSet::GroupMembers { group_id, .. } => {
                    self.transitive_user_members(group_id).into_iter().collect()
                }
                // The manager of the user the request is for; for the
                // self-service requests that reach approval that is the
                // requestor.
                SubjectSet::RequestorManager { manager_level } => self
                    .manager_at_level(target_id, *manager_level)
                    .map(|m| vec![m.id.clone()])
                    .unwrap_or_default(),
                SubjectSet::TargetUserSponsors {} => self
                    .users
                    .get(target_id)
                    .map(|u| u.sponsor_ids.clone())
                    .unwrap_or_default(),
                // "only applicable to requests from users who are part of a
                // connected organization" (internalSponsors.md); the sandbox
                // has no connected organizations, so these resolve to nobody
                // and the fallback approvers apply.
                SubjectSet::InternalSponsors {} | SubjectSet::ExternalSponsors {} => vec![],
            };
            for id in candidates {
                let eligible = self.users.get(&id).is_some_and(|u| u.account_enabled)
                    && id != requestor_id
                    && id != target_id;
                if eligible && !users.contains(&id) {
                    users.push(id);
                }
            }
        }
        users
    }
}
