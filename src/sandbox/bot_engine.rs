//! The bot's `[engine]` settings for the seeded (or given) tenant: every
//! access package that grants a group, by its tenant-file key as alias.

use super::SimState;
use super::world::{Question, World};
use crate::config::{EngineSettings, PackageSettings};

impl SimState {
    pub(crate) fn engine_settings(&self, world: &World) -> EngineSettings {
        let packages = world
            .access_packages
            .values()
            .filter_map(|p| {
                let policy = world
                    .policies
                    .values()
                    .find(|x| x.access_package_id == p.id)?;
                let (question, pattern) = policy.questions.iter().find_map(|q| match q {
                    Question::TextInput {
                        id, regex_pattern, ..
                    } => Some((id.clone(), regex_pattern.clone())),
                    Question::MultipleChoice { .. } => None,
                })?;
                let group = world.groups.get(p.grants_member_of.as_deref()?)?;
                let role = group
                    .pim
                    .as_ref()
                    .and_then(|pim| pim.eligible_role_ids.first())
                    .and_then(|r| world.roles.get(r))
                    .map(|r| r.display_name.clone());
                // The question's own pattern is anchored (`^…$`); the
                // catalog anchors again, which is harmless.
                let pattern = pattern.unwrap_or_else(|| "[A-Za-z0-9-]+".into());
                Some(PackageSettings {
                    alias: p.key.clone(),
                    display_name: p.display_name.clone(),
                    access_package_id: p.id.clone(),
                    policy_id: policy.id.clone(),
                    ticket_question_id: question,
                    ticket_pattern: pattern,
                    group_id: group.id.clone(),
                    role,
                    ticket_system: "ITSM".into(),
                    justification_required: policy
                        .request_approval_settings
                        .is_requestor_justification_required,
                    hidden: p.is_hidden,
                    approval_requires_mfa: false,
                    approval_mfa_max_age_minutes: 10,
                })
            })
            .collect();
        EngineSettings {
            packages,
            ..EngineSettings::default()
        }
    }
}
