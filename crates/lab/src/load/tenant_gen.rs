//! A generated tenant for load, chaos and benchmark runs: many requesters,
//! their managers, a group of security approvers, and one 2-stage access
//! package (requester's manager, then the security approvers) that delivers
//! eligibility to a PIM-managed group (MFA and justification on activation).
//!
//! Output is a tenant file in the format of `crates/sandbox/src/tenant.toml`, so it
//! goes through the same loader ([`TenantFile`]) as the seeded tenant.

use std::fmt::Write;

/// The access package alias requesters ask for (`request load-access …`).
pub const ALIAS: &str = "load-access";
/// Tenant-file key of the PIM-managed group the package delivers.
pub const PIM_GROUP_KEY: &str = "grp-elig-load";
/// Tenant-file key of the security approvers group (stage 2).
pub const APPROVERS_GROUP_KEY: &str = "load-security-approvers";

/// How big a tenant to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSize {
    pub requesters: usize,
    pub managers: usize,
    pub security_approvers: usize,
}

impl Default for TenantSize {
    /// 2,000 requesters, 200 managers, 20 security approvers.
    fn default() -> Self {
        Self {
            requesters: 2_000,
            managers: 200,
            security_approvers: 20,
        }
    }
}

impl TenantSize {
    /// `requesters` requesters with one manager per ten (at least one) and
    /// one security approver per hundred (at least two).
    pub fn for_requesters(requesters: usize) -> Self {
        Self {
            requesters,
            managers: requesters.div_ceil(10).max(1),
            security_approvers: (requesters / 100).max(2),
        }
    }
}

/// Persona key of requester `i` (0-based).
pub fn requester_key(i: usize) -> String {
    format!("req{i:05}")
}

/// Persona key of manager `i`.
pub fn manager_key(i: usize) -> String {
    format!("mgr{i:04}")
}

/// Persona key of security approver `i`.
pub fn approver_key(i: usize) -> String {
    format!("sec{i:03}")
}

/// The manager (persona key) of requester `i` in a tenant of `size`.
pub fn manager_of(size: TenantSize, i: usize) -> String {
    manager_key(i % size.managers.max(1))
}

/// Every persona key of a tenant of `size`: requesters, managers, approvers.
pub fn persona_keys(size: TenantSize) -> Vec<String> {
    (0..size.requesters)
        .map(requester_key)
        .chain((0..size.managers).map(manager_key))
        .chain((0..size.security_approvers).map(approver_key))
        .collect()
}

/// A UUID-shaped id: `kind` picks the first block, `n` the last.
fn id(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012}")
}

fn user(out: &mut String, key: &str, id: &str, name: &str, title: &str, manager: Option<&str>) {
    let _ = writeln!(out, "[[users]]\nkey = \"{key}\"\nid = \"{id}\"");
    let _ = writeln!(out, "display_name = \"{name}\"");
    let _ = writeln!(out, "user_principal_name = \"{key}@load.example\"");
    let _ = writeln!(out, "job_title = \"{title}\"\ndepartment = \"Load\"");
    if let Some(m) = manager {
        let _ = writeln!(out, "manager = \"{m}\"");
    }
    out.push('\n');
}

fn quoted_list(keys: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = keys.map(|k| format!("\"{k}\"")).collect();
    format!("[{}]", items.join(", "))
}

/// The tenant file text for `size` (pure; same input, same text). Managers
/// and approvers report to a head of security, who approves nothing.
pub fn tenant_file(size: TenantSize) -> String {
    let mut out = String::with_capacity(300 * (size.requesters + size.managers + 64));
    out.push_str(HEADER);
    user(
        &mut out,
        "head",
        &id(0x40, 0),
        "Head Of Security",
        "CISO",
        None,
    );
    for i in 0..size.managers {
        let key = manager_key(i);
        let name = format!("Manager {i}");
        user(&mut out, &key, &id(0x20, i), &name, "Manager", Some("head"));
    }
    for i in 0..size.security_approvers {
        let key = approver_key(i);
        let name = format!("Approver {i}");
        user(
            &mut out,
            &key,
            &id(0x30, i),
            &name,
            "Security",
            Some("head"),
        );
    }
    for i in 0..size.requesters {
        let key = requester_key(i);
        let name = format!("Requester {i}");
        let manager = manager_of(size, i);
        user(
            &mut out,
            &key,
            &id(0x10, i),
            &name,
            "Engineer",
            Some(&manager),
        );
    }
    let _ = writeln!(
        out,
        "[[groups]]\nkey = \"load-requesters\"\nid = \"{}\"\ndisplay_name = \"SG-Load-Requesters\"\nmembers = {}\n",
        id(0x50, 1),
        quoted_list((0..size.requesters).map(requester_key))
    );
    let _ = writeln!(
        out,
        "[[groups]]\nkey = \"{APPROVERS_GROUP_KEY}\"\nid = \"{}\"\ndisplay_name = \"SG-Load-Security-Approvers\"\nmembers = {}\n",
        id(0x50, 2),
        quoted_list((0..size.security_approvers).map(approver_key))
    );
    let _ = writeln!(out, "{}", GROUP_AND_PACKAGE.replace("{pim}", &id(0x50, 3)));
    out
}

const HEADER: &str = r#"# Generated by stagegate's load kit (crates/lab/src/load/tenant_gen.rs).
tenant_id = "7d1c2c55-0b6f-4c39-9a8e-5e0c6d1f2a10"
domain = "load.example"

[app]
client_id = "5b1a3f10-2c7e-4d5e-9a40-3a6f3c0b9e01"
client_secret = "sandbox-client-secret-not-for-production"
display_name = "stagegate"
redirect_uris = ["http://127.0.0.1/auth/callback", "http://localhost/auth/callback"]
application_permissions = [
  "User.Read.All", "GroupMember.Read.All", "EntitlementManagement.Read.All",
  "RoleManagement.Read.Directory", "PrivilegedEligibilitySchedule.Read.AzureADGroup",
  "PrivilegedAssignmentSchedule.Read.AzureADGroup", "RoleManagementPolicy.Read.AzureADGroup",
  "AppCatalog.Read.All", "TeamsAppInstallation.ReadWriteSelfForUser.All",
]
delegated_permissions = [
  "openid", "profile", "offline_access", "User.Read", "User.ReadBasic.All",
  "EntitlementManagement.ReadWrite.All", "EntitlementMgmt-SubjectAccess.ReadWrite",
  "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
  "PrivilegedEligibilitySchedule.Read.AzureADGroup", "RoleManagementPolicy.Read.AzureADGroup",
]

[[roles]]
key = "global-administrator"
id = "62e90394-69f5-4237-9190-012177145e10"
display_name = "Global Administrator"

"#;

const GROUP_AND_PACKAGE: &str = r#"[[groups]]
key = "grp-elig-load"
id = "{pim}"
display_name = "GRP-ELIG-Load"
description = "Role-assignable, PIM-managed; Global Administrator eligible"
is_assignable_to_role = true
[groups.pim]
maximum_activation = "PT4H"
enabled_rules = ["MultiFactorAuthentication", "Justification"]
eligible_roles = ["global-administrator"]

[[catalogs]]
key = "load-catalog"
id = "ca7a1090-0000-4000-8000-00000000100a"
display_name = "Load Catalog"

[[access_packages]]
key = "load-access"
id = "ac0e5500-0000-4000-8000-00000000100a"
display_name = "AP – Load Access"
description = "Eligible membership of GRP-ELIG-Load"
catalog = "load-catalog"
grants_member_of = "grp-elig-load"
[[access_packages.policies]]
id = "9011c700-0000-4000-8000-00000000100a"
display_name = "Manager, then security"
allowed_requestors = ["load-requesters"]
assignment_duration = "PT8H"
requestor_justification_required = true
[[access_packages.policies.stages]]
approvers = [{ type = "requestorManager", manager_level = 1 }]
decision_time = "P1D"
approver_justification_required = true
[[access_packages.policies.stages]]
approvers = [{ type = "groupMembers", group = "load-security-approvers" }]
decision_time = "P1D"
approver_justification_required = true
[[access_packages.policies.questions]]
id = "9e570000-0000-4000-8000-00000000100a"
text = "ITSM ticket number"
required = true
regex = "^[A-Z]+-[0-9]+$"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate_sandbox::tenant::TenantFile;

    #[test]
    fn default_tenant_parses_and_builds() {
        let size = TenantSize::default();
        let world = TenantFile::parse(&tenant_file(size))
            .unwrap()
            .into_world(chrono::Utc::now())
            .unwrap();
        assert_eq!(world.users.len(), 2_000 + 200 + 20 + 1);
        let r = world.user_by_key(&requester_key(1_234)).unwrap();
        let m = world.manager_at_level(&r.id, 1).unwrap();
        assert_eq!(m.key, manager_of(size, 1_234));
        let approvers = world.transitive_user_members(&id(0x50, 2));
        assert_eq!(approvers.len(), 20);
        assert!(world.access_packages.values().any(|p| p.key == ALIAS));
    }

    #[test]
    fn small_sizes_and_every_key_is_a_persona() {
        let size = TenantSize::for_requesters(7);
        assert_eq!((size.managers, size.security_approvers), (1, 2));
        let world = TenantFile::parse(&tenant_file(size))
            .unwrap()
            .into_world(chrono::Utc::now())
            .unwrap();
        for key in persona_keys(size) {
            assert!(world.user_by_key(&key).is_some(), "{key}");
        }
        assert_eq!(tenant_file(size), tenant_file(size), "deterministic");
    }
}
