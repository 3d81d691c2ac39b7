//! Turning a tenant file into a [`World`]: every key resolved to an id.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::*;
use crate::clock::{format_iso_duration, graph_time, parse_iso_duration};
use crate::world::*;

impl TenantFile {
    /// Builds the world, resolving every key; `now` stamps creation times.
    pub fn into_world(self, now: DateTime<Utc>) -> Result<World, String> {
        let created = now;
        let user_ids: BTreeMap<String, String> = self
            .users
            .iter()
            .map(|u| (u.key.clone(), u.id.clone()))
            .collect();
        let group_ids: BTreeMap<String, String> = self
            .groups
            .iter()
            .map(|g| (g.key.clone(), g.id.clone()))
            .collect();
        let role_ids: BTreeMap<String, String> = self
            .roles
            .iter()
            .map(|r| (r.key.clone(), r.id.clone()))
            .collect();
        let catalog_ids: BTreeMap<String, String> = self
            .catalogs
            .iter()
            .map(|c| (c.key.clone(), c.id.clone()))
            .collect();
        let lookup = |map: &BTreeMap<String, String>, key: &str, what: &str, from: &str| {
            map.get(key)
                .cloned()
                .ok_or_else(|| format!("tenant file: {from} refers to unknown {what} `{key}`"))
        };
        let member_id = |key: &str, from: &str| {
            user_ids
                .get(key)
                .or_else(|| group_ids.get(key))
                .cloned()
                .ok_or_else(|| {
                    format!("tenant file: {from} refers to unknown user or group `{key}`")
                })
        };

        let mut users = BTreeMap::new();
        for u in &self.users {
            let from = format!("user `{}`", u.key);
            let manager_id = match &u.manager {
                Some(m) => Some(lookup(&user_ids, m, "user", &from)?),
                None => None,
            };
            let sponsor_ids = u
                .sponsors
                .iter()
                .map(|s| lookup(&user_ids, s, "user", &from))
                .collect::<Result<_, _>>()?;
            let mut names = u.display_name.splitn(2, ' ');
            let given_name = names.next().unwrap_or_default().to_owned();
            let surname = names.next().unwrap_or_default().to_owned();
            users.insert(
                u.id.clone(),
                User {
                    id: u.id.clone(),
                    key: u.key.clone(),
                    display_name: u.display_name.clone(),
                    given_name,
                    surname,
                    user_principal_name: u.user_principal_name.clone(),
                    mail: u
                        .mail
                        .clone()
                        .unwrap_or_else(|| u.user_principal_name.clone()),
                    job_title: u.job_title.clone(),
                    department: u.department.clone(),
                    account_enabled: u.account_enabled,
                    manager_id,
                    sponsor_ids,
                },
            );
        }

        let mut roles = BTreeMap::new();
        for r in &self.roles {
            roles.insert(
                r.id.clone(),
                RoleDefinition {
                    id: r.id.clone(),
                    key: r.key.clone(),
                    display_name: r.display_name.clone(),
                },
            );
        }

        let mut groups = BTreeMap::new();
        for g in &self.groups {
            let from = format!("group `{}`", g.key);
            let members = g
                .members
                .iter()
                .map(|m| member_id(m, &from))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let owners = g
                .owners
                .iter()
                .map(|m| lookup(&user_ids, m, "user", &from))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let pim = match &g.pim {
                Some(p) => Some(PimGroupSettings {
                    maximum_activation: parse_iso_duration(&p.maximum_activation)
                        .map_err(|e| format!("tenant file: {from}: {e}"))?,
                    enabled_rules: p.enabled_rules.clone(),
                    authentication_context: p.authentication_context.clone(),
                    eligible_role_ids: p
                        .eligible_roles
                        .iter()
                        .map(|r| lookup(&role_ids, r, "role", &from))
                        .collect::<Result<_, _>>()?,
                }),
                None => None,
            };
            groups.insert(
                g.id.clone(),
                Group {
                    id: g.id.clone(),
                    key: g.key.clone(),
                    display_name: g.display_name.clone(),
                    description: g.description.clone(),
                    mail_nickname: g.display_name.replace(' ', ""),
                    is_assignable_to_role: g.is_assignable_to_role,
                    members,
                    owners,
                    pim,
                    created,
                },
            );
        }

        let mut catalogs = BTreeMap::new();
        for c in &self.catalogs {
            catalogs.insert(
                c.id.clone(),
                Catalog {
                    id: c.id.clone(),
                    key: c.key.clone(),
                    display_name: c.display_name.clone(),
                    description: c.description.clone(),
                    created,
                },
            );
        }

        let resolve_approvers =
            |list: &[ApproverFile], from: &str| -> Result<Vec<SubjectSet>, String> {
                list.iter()
                    .map(|a| {
                        Ok(match a {
                            ApproverFile::SingleUser { user } => SubjectSet::SingleUser {
                                user_id: lookup(&user_ids, user, "user", from)?,
                                description: None,
                            },
                            ApproverFile::GroupMembers { group } => SubjectSet::GroupMembers {
                                group_id: lookup(&group_ids, group, "group", from)?,
                                description: None,
                            },
                            ApproverFile::RequestorManager { manager_level } => {
                                if !(1..=2).contains(manager_level) {
                                    return Err(format!(
                                        "tenant file: {from}: manager_level must be 1 or 2"
                                    ));
                                }
                                SubjectSet::RequestorManager {
                                    manager_level: *manager_level,
                                }
                            }
                            ApproverFile::InternalSponsors => SubjectSet::InternalSponsors {},
                            ApproverFile::ExternalSponsors => SubjectSet::ExternalSponsors {},
                            ApproverFile::TargetUserSponsors => SubjectSet::TargetUserSponsors {},
                        })
                    })
                    .collect()
            };

        let mut access_packages = BTreeMap::new();
        let mut policies = BTreeMap::new();
        for p in &self.access_packages {
            let from = format!("access package `{}`", p.key);
            let catalog_id = lookup(&catalog_ids, &p.catalog, "catalog", &from)?;
            let grants_member_of = match &p.grants_member_of {
                Some(g) => Some(lookup(&group_ids, g, "group", &from)?),
                None => None,
            };
            for pol in &p.policies {
                let from = format!("policy `{}` of {from}", pol.id);
                if pol.stages.len() > 3 {
                    return Err(format!("tenant file: {from}: at most 3 approval stages"));
                }
                let mut stages = Vec::new();
                for s in &pol.stages {
                    let deny_after = parse_iso_duration(&s.decision_time)
                        .map_err(|e| format!("tenant file: {from}: {e}"))?;
                    let escalation = match &s.escalation_after {
                        Some(d) => parse_iso_duration(d)
                            .map_err(|e| format!("tenant file: {from}: {e}"))?,
                        None => chrono::Duration::zero(),
                    };
                    stages.push(ApprovalStagePolicy {
                        duration_before_automatic_denial: format_iso_duration(deny_after),
                        is_approver_justification_required: s.approver_justification_required,
                        is_escalation_enabled: s.escalation_after.is_some(),
                        duration_before_escalation: format_iso_duration(escalation),
                        approver_information_visibility: "default".into(),
                        primary_approvers: resolve_approvers(&s.approvers, &from)?,
                        fallback_primary_approvers: resolve_approvers(
                            &s.fallback_approvers,
                            &from,
                        )?,
                        escalation_approvers: resolve_approvers(&s.escalation_approvers, &from)?,
                        fallback_escalation_approvers: resolve_approvers(
                            &s.fallback_escalation_approvers,
                            &from,
                        )?,
                    });
                }
                let targets = pol
                    .allowed_requestors
                    .iter()
                    .map(|k| {
                        if let Some(gid) = group_ids.get(k) {
                            Ok(SubjectSet::GroupMembers {
                                group_id: gid.clone(),
                                description: None,
                            })
                        } else {
                            Ok(SubjectSet::SingleUser {
                                user_id: lookup(&user_ids, k, "user or group", &from)?,
                                description: None,
                            })
                        }
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let expiration = match &pol.assignment_duration {
                    Some(d) => ExpirationPattern {
                        kind: "afterDuration".into(),
                        duration: Some(format_iso_duration(
                            parse_iso_duration(d)
                                .map_err(|e| format!("tenant file: {from}: {e}"))?,
                        )),
                        end_date_time: None,
                    },
                    None => ExpirationPattern {
                        kind: "noExpiration".into(),
                        duration: None,
                        end_date_time: None,
                    },
                };
                let questions = pol
                    .questions
                    .iter()
                    .enumerate()
                    .map(|(i, q)| question(i, q))
                    .collect();
                policies.insert(
                    pol.id.clone(),
                    AssignmentPolicy {
                        id: pol.id.clone(),
                        display_name: pol.display_name.clone(),
                        description: pol
                            .description
                            .clone()
                            .unwrap_or_else(|| pol.display_name.clone()),
                        allowed_target_scope: if targets.is_empty() {
                            "allMemberUsers".into()
                        } else {
                            "specificDirectoryUsers".into()
                        },
                        specific_allowed_targets: targets,
                        expiration,
                        requestor_settings: RequestorSettings {
                            enable_targets_to_self_add_access: true,
                            enable_targets_to_self_update_access: true,
                            enable_targets_to_self_remove_access: true,
                            allow_custom_assignment_schedule: false,
                            enable_on_behalf_requestors_to_add_access: false,
                            enable_on_behalf_requestors_to_update_access: false,
                            enable_on_behalf_requestors_to_remove_access: false,
                            on_behalf_requestors: vec![],
                        },
                        request_approval_settings: ApprovalSettings {
                            is_approval_required_for_add: !stages.is_empty(),
                            is_approval_required_for_update: !stages.is_empty(),
                            is_requestor_justification_required: pol
                                .requestor_justification_required,
                            stages,
                        },
                        questions,
                        created_date_time: graph_time(created),
                        modified_date_time: graph_time(created),
                        access_package_id: p.id.clone(),
                        catalog_id: catalog_id.clone(),
                    },
                );
            }
            access_packages.insert(
                p.id.clone(),
                AccessPackage {
                    id: p.id.clone(),
                    key: p.key.clone(),
                    display_name: p.display_name.clone(),
                    description: p.description.clone(),
                    is_hidden: p.is_hidden,
                    catalog_id,
                    grants_member_of,
                    created,
                },
            );
        }

        let app = AppRegistration {
            service_principal_id: self
                .app
                .service_principal_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            client_id: self.app.client_id,
            client_secret: self.app.client_secret,
            display_name: self.app.display_name,
            redirect_uris: self.app.redirect_uris,
            application_permissions: self.app.application_permissions,
            delegated_permissions: self.app.delegated_permissions,
        };

        Ok(World {
            tenant_id: self.tenant_id,
            domain: self.domain,
            app,
            users,
            groups,
            roles,
            catalogs,
            access_packages,
            policies,
            requests: BTreeMap::new(),
            assignments: BTreeMap::new(),
            events: Vec::new(),
            created,
            pim: Default::default(),
        })
    }
}

fn question(index: usize, q: &QuestionFile) -> Question {
    let sequence = index as i32;
    if q.choices.is_empty() {
        Question::TextInput {
            id: q.id.clone(),
            sequence,
            is_required: q.required,
            is_answer_editable: true,
            text: q.text.clone(),
            localizations: vec![],
            is_single_line_question: true,
            regex_pattern: q.regex.clone(),
        }
    } else {
        Question::MultipleChoice {
            id: q.id.clone(),
            sequence,
            is_required: q.required,
            is_answer_editable: true,
            text: q.text.clone(),
            localizations: vec![],
            choices: q
                .choices
                .iter()
                .map(|c| serde_json::json!({ "actualValue": c, "text": c, "localizations": [] }))
                .collect(),
            is_multiple_selection_allowed: false,
        }
    }
}
