//! The tenant file (`src/sandbox/tenant.toml` is the seeded one) and its
//! conversion into a [`World`]. People, groups and packages refer to each
//! other by `key`; the loader resolves keys to ids and reports the first
//! dangling reference by name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::clock::{format_iso_duration, graph_time, parse_iso_duration};
use super::world::*;

/// The seeded tenant of DESIGN.md, compiled into the binary.
pub const SEED_TENANT: &str = include_str!("tenant.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub tenant_id: String,
    pub domain: String,
    pub app: AppFile,
    #[serde(default)]
    pub users: Vec<UserFile>,
    #[serde(default)]
    pub roles: Vec<RoleFile>,
    #[serde(default)]
    pub groups: Vec<GroupFile>,
    #[serde(default)]
    pub catalogs: Vec<CatalogFile>,
    #[serde(default)]
    pub access_packages: Vec<AccessPackageFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    pub client_id: String,
    pub client_secret: String,
    pub display_name: String,
    #[serde(default)]
    pub service_principal_id: Option<String>,
    pub redirect_uris: Vec<String>,
    pub application_permissions: Vec<String>,
    pub delegated_permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub sponsors: Vec<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Keys of users or groups.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub pim: Option<PimFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PimFile {
    pub maximum_activation: String,
    #[serde(default)]
    pub enabled_rules: Vec<String>,
    #[serde(default)]
    pub authentication_context: Option<String>,
    /// Keys of roles.
    #[serde(default)]
    pub eligible_roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPackageFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub catalog: String,
    #[serde(default)]
    pub is_hidden: bool,
    #[serde(default)]
    pub grants_member_of: Option<String>,
    pub policies: Vec<PolicyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Keys of groups or users allowed to request; empty = all member users.
    #[serde(default)]
    pub allowed_requestors: Vec<String>,
    /// ISO-8601 duration of the assignment once delivered; none = no expiry.
    #[serde(default)]
    pub assignment_duration: Option<String>,
    #[serde(default)]
    pub requestor_justification_required: bool,
    #[serde(default)]
    pub stages: Vec<StageFile>,
    #[serde(default)]
    pub questions: Vec<QuestionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    pub approvers: Vec<ApproverFile>,
    #[serde(default)]
    pub fallback_approvers: Vec<ApproverFile>,
    pub decision_time: String,
    #[serde(default)]
    pub approver_justification_required: bool,
    #[serde(default)]
    pub escalation_after: Option<String>,
    #[serde(default)]
    pub escalation_approvers: Vec<ApproverFile>,
    #[serde(default)]
    pub fallback_escalation_approvers: Vec<ApproverFile>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ApproverFile {
    #[serde(rename = "singleUser")]
    SingleUser { user: String },
    #[serde(rename = "groupMembers")]
    GroupMembers { group: String },
    #[serde(rename = "requestorManager")]
    RequestorManager {
        #[serde(default = "one")]
        manager_level: i32,
    },
    #[serde(rename = "internalSponsors")]
    InternalSponsors,
    #[serde(rename = "externalSponsors")]
    ExternalSponsors,
    #[serde(rename = "targetUserSponsors")]
    TargetUserSponsors,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionFile {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub regex: Option<String>,
    /// When set, a multiple-choice question with these choices.
    #[serde(default)]
    pub choices: Vec<String>,
}

fn yes() -> bool {
    true
}

fn one() -> i32 {
    1
}

impl TenantFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("tenant file: {e}"))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_tenant_loads() {
        let world = TenantFile::parse(SEED_TENANT)
            .unwrap()
            .into_world(Utc::now())
            .unwrap();
        let alex = world.user_by_key("alex").unwrap();
        assert_eq!(world.manager_at_level(&alex.id, 1).unwrap().key, "miriam");
        assert_eq!(world.manager_at_level(&alex.id, 2).unwrap().key, "megan");
        let approvers = world.transitive_user_members("0e7a0002-0000-4000-8000-000000000002");
        assert!(approvers.contains(&world.user_by_key("bianca").unwrap().id));
        assert_eq!(world.access_packages.len(), 4);
    }

    #[test]
    fn dangling_reference_is_named() {
        let text = SEED_TENANT.replace("manager = \"miriam\"", "manager = \"nobody\"");
        let err = TenantFile::parse(&text)
            .unwrap()
            .into_world(Utc::now())
            .unwrap_err();
        assert!(err.contains("unknown user `nobody`"), "{err}");
    }
}
