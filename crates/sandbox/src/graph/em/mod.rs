//! Emulated Graph: entitlement management catalogs, access packages and
//! assignment policies (`/identityGovernance/entitlementManagement/…`).
//!
//! Every read here needs `EntitlementManagement.Read.All` or
//! `EntitlementManagement.ReadWrite.All`, delegated or application
//! (api/accesspackage-get.md, api/entitlementmanagement-list-assignmentpolicies.md).

pub mod packages;
pub mod policies;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::Permission;
use super::directory::query::derived_id;
use super::error::GraphError;
use crate::SimState;
use crate::clock::graph_time;
use crate::world::{AccessPackage, AssignmentPolicy, Catalog, World};

pub const EM: &str = "/identityGovernance/entitlementManagement";

pub fn routes() -> Router<SimState> {
    Router::new()
        .route(&format!("{EM}/catalogs"), get(packages::list_catalogs))
        .route(&format!("{EM}/catalogs/{{id}}"), get(packages::get_catalog))
        .route(
            &format!("{EM}/accessPackages"),
            get(packages::list_packages),
        )
        .route(
            &format!("{EM}/accessPackages/{{id}}"),
            get(packages::get_package),
        )
        .route(
            &format!("{EM}/accessPackages/{{id}}/assignmentPolicies"),
            get(policies::package_policies),
        )
        .route(&format!("{EM}/assignmentPolicies"), get(policies::list))
        .route(
            &format!("{EM}/assignmentPolicies/{{id}}"),
            get(policies::get),
        )
}

const EM_PERMISSIONS: &[&str] = &[
    "EntitlementManagement.Read.All",
    "EntitlementManagement.ReadWrite.All",
];

pub const EM_READ: Permission = Permission {
    delegated: EM_PERMISSIONS,
    application: Some(EM_PERMISSIONS),
};

/// The `@odata.context` entity-set path of an EM collection.
pub fn set(name: &str) -> String {
    format!("identityGovernance/entitlementManagement/{name}")
}

/// No documented body exists for an unknown EM id; this keeps Graph's
/// envelope with the generic `ResourceNotFound` code.
pub fn not_found(kind: &str, id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("{kind} with id '{id}' was not found."),
    )
}

/// `accessPackageCatalog` (CSDL property names and enum values).
pub fn catalog_json(catalog: &Catalog) -> Value {
    json!({
        "id": catalog.id,
        "displayName": catalog.display_name,
        "description": catalog.description,
        "catalogType": "userManaged",
        "state": "published",
        "isExternallyVisible": false,
        "createdDateTime": graph_time(catalog.created),
        "modifiedDateTime": graph_time(catalog.created),
    })
}

/// `accessPackage`; hidden packages are listed with `isHidden: true`.
pub fn package_json(package: &AccessPackage) -> Value {
    json!({
        "id": package.id,
        "displayName": package.display_name,
        "description": package.description,
        "isHidden": package.is_hidden,
        "createdDateTime": graph_time(package.created),
        "modifiedDateTime": graph_time(package.created),
    })
}

/// `accessPackageAssignmentPolicy` from the Graph-shaped world type.
/// `questions` is a contained navigation in v1.0 (CSDL), so it is only
/// returned with `$expand=questions`; properties the tenant file does not
/// model are `null` as Graph shows unset complex properties.
pub fn policy_json(policy: &AssignmentPolicy) -> Value {
    let mut value = serde_json::to_value(policy).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        map.remove("questions");
        for key in [
            "automaticRequestSettings",
            "notificationSettings",
            "reviewSettings",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    value
}

/// The `accessPackageResourceRoleScope`s of a package: membership of the
/// group it grants, shaped like Graph's (`AadGroup`, role `Member_{groupId}`,
/// root scope whose `originId` is the group id). `role` / `scope` are only
/// present when expanded.
pub fn role_scopes(
    world: &World,
    package: &AccessPackage,
    with_role: bool,
    with_scope: bool,
) -> Vec<Value> {
    let Some(group) = package
        .grants_member_of
        .as_deref()
        .and_then(|g| world.groups.get(g))
    else {
        return Vec::new();
    };
    let role_id = derived_id(&format!("resourceRole:Member:{}", group.id));
    let scope_id = derived_id(&format!("resourceScope:root:{}", group.id));
    let mut item = json!({
        "id": format!("{role_id}_{scope_id}"),
        "createdDateTime": graph_time(package.created),
    });
    if let Value::Object(map) = &mut item {
        if with_role {
            // roleType `eligible` because delivery grants PIM eligibility for
            // PIM-managed groups (the sandbox's model); `active` otherwise.
            let kind = if group.pim.is_some() {
                "eligible"
            } else {
                "active"
            };
            map.insert(
                "role".into(),
                json!({
                    "id": role_id,
                    "displayName": "Member",
                    "description": null,
                    "originSystem": "AadGroup",
                    "originId": format!("Member_{}", group.id),
                    "type": kind,
                }),
            );
        }
        if with_scope {
            map.insert(
                "scope".into(),
                json!({
                    "id": scope_id,
                    "displayName": "Root",
                    "description": "Root Scope",
                    "originId": group.id,
                    "originSystem": "AadGroup",
                    "isRootScope": true,
                }),
            );
        }
    }
    vec![item]
}
