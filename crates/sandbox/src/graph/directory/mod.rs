//! Emulated Graph: the directory (users, managers, groups and memberships).
//!
//! Permissions follow Microsoft's per-operation tables (docs/architecture.md,
//! "Graph permissions", and the v1.0 API pages): reading users needs
//! `User.ReadBasic.All` (delegated) or `User.Read.All` (application), the
//! signed-in user may read themselves and their own manager with
//! `User.Read`, managers of others need `User.Read.All`, and groups and
//! their members need `GroupMember.Read.All` or a higher `Group.*` /
//! `Directory.*` permission.

pub mod groups;
pub mod manager;
pub mod query;
pub mod users;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use super::auth::{Caller, Permission};
use super::error::GraphError;
use crate::SimState;
use query::{FilterRules, prop};

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/users", get(users::list))
        .route("/users/{id}", get(users::get))
        .route("/users/{id}/manager", get(manager::manager))
        .route("/me", get(users::me))
        .route("/me/manager", get(manager::my_manager))
        .route("/groups", get(groups::list))
        .route("/groups/{id}", get(groups::get))
        .route("/groups/{id}/members", get(groups::members))
        .route(
            "/groups/{id}/transitiveMembers",
            get(groups::transitive_members),
        )
        .route("/groups/{id}/owners", get(groups::owners))
}

const DIRECTORY_READ: [&str; 2] = ["Directory.Read.All", "Directory.ReadWrite.All"];

/// List users / get another user (api/user-list.md, api/user-get.md).
pub const USERS_READ: Permission = Permission {
    delegated: &[
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
        "Directory.AccessAsUser.All",
    ],
    application: Some(&[
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
    ]),
};

/// The signed-in user reading their own profile (`/me`, or their own id).
pub const SELF_READ: Permission = Permission {
    delegated: &[
        "User.Read",
        "User.ReadWrite",
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
        "Directory.AccessAsUser.All",
    ],
    application: None,
};

/// Another user's manager (api/user-list-manager.md). The application row
/// follows the stored v1.0 page (`User.Read.All`); the conflicting include
/// that says "Not supported" describes `/me`, which has no app-only form.
pub const MANAGER_READ: Permission = Permission {
    delegated: &[
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
        "Directory.AccessAsUser.All",
    ],
    application: Some(&[
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
    ]),
};

/// The signed-in user's own manager: "The `User.Read` permission allows the
/// app to read … reports and manager of the signed-in user only"
/// (api/user-get.md).
pub const SELF_MANAGER_READ: Permission = Permission {
    delegated: &[
        "User.Read",
        "User.ReadWrite",
        "User.Read.All",
        "User.ReadWrite.All",
        DIRECTORY_READ[0],
        DIRECTORY_READ[1],
        "Directory.AccessAsUser.All",
    ],
    application: None,
};

const GROUP_PERMISSIONS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    DIRECTORY_READ[0],
    DIRECTORY_READ[1],
];

/// Groups, members, transitive members, owners (includes/permissions/
/// group-get, group-list-members, group-list-owners).
pub const GROUPS_READ: Permission = Permission {
    delegated: GROUP_PERMISSIONS,
    application: Some(GROUP_PERMISSIONS),
};

/// `$filter` support on users without advanced query parameters
/// (includes/filter-directory-objects.md).
pub const USER_FILTER: FilterRules = FilterRules {
    odata_type: "microsoft.graph.user",
    resource: "User",
    props: &[
        prop("id", false, false),
        prop("accountEnabled", false, false),
        prop("displayName", true, false),
        prop("givenName", true, true),
        prop("surname", true, true),
        prop("mail", true, true),
        prop("userPrincipalName", true, false),
        prop("jobTitle", false, true),
        prop("department", true, true),
        prop("mailNickname", true, true),
        prop("userType", false, false),
        prop("createdDateTime", false, true),
    ],
    known: &[
        "businessPhones",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "companyName",
    ],
};

pub const GROUP_FILTER: FilterRules = FilterRules {
    odata_type: "microsoft.graph.group",
    resource: "Group",
    props: &[
        prop("id", false, false),
        prop("displayName", true, true),
        prop("description", true, true),
        prop("mail", true, true),
        prop("mailNickname", true, true),
        prop("mailEnabled", false, false),
        prop("securityEnabled", false, false),
        prop("isAssignableToRole", false, false),
        prop("createdDateTime", false, true),
    ],
    known: &["visibility", "classification"],
};

/// Members are `directoryObject`s: the union of the user and group rules.
pub const MEMBER_FILTER: FilterRules = FilterRules {
    odata_type: "microsoft.graph.directoryObject",
    resource: "DirectoryObject",
    props: &[
        prop("id", false, false),
        prop("displayName", true, false),
        prop("mail", true, true),
        prop("userPrincipalName", true, false),
        prop("accountEnabled", false, false),
        prop("mailNickname", true, true),
        prop("securityEnabled", false, false),
        prop("isAssignableToRole", false, false),
    ],
    known: &[
        "givenName",
        "surname",
        "jobTitle",
        "department",
        "description",
    ],
};

/// Azure AD's answer for an id that names nothing.
pub fn resource_not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// Azure AD's answer for a key that is not an object id (groups have no
/// alternate key like a user's UPN).
pub fn invalid_object_id(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "Request_BadRequest",
        format!("Invalid object identifier '{id}'."),
    )
}

/// Whether a delegated caller is asking about themselves (by id or UPN).
pub fn is_self(caller: &Caller, id_or_upn: &str) -> bool {
    caller.user_id() == Some(id_or_upn)
        || (!caller.is_app()
            && caller
                .claims
                .upn
                .as_deref()
                .is_some_and(|upn| upn.eq_ignore_ascii_case(id_or_upn)))
}
