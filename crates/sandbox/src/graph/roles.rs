//! Emulated Graph: Entra role management as far as PIM for Groups needs it
//! (`/roleManagement/directory/…`; docs/architecture.md, "PIM for Groups"), and
//! the PIM policies of groups (`/policies/roleManagementPolicies`, in
//! [`policies`]).
//!
//! Each PIM-managed group of the tenant file is *eligible* for its roles: a
//! `unifiedRoleEligibilitySchedule` whose `principalId` is the group (our
//! reading, docs/architecture.md, "PIM for Groups": no documented example of
//! the group-principal row; the role is assigned to the group's object id).
//! Users never appear here themselves: "When a user gets their role eligibility
//! via group membership, this … request doesn't return their eligibility."
//! `roleAssignmentScheduleInstances` is not emulated: with the role only
//! *eligible* to the group, a group activation does not make the role
//! active, so showing it active would be unfaithful.

pub mod policies;
pub mod rules;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use super::odata::{ODataQuery, Supported};
use super::pim::policy::stable_guid;
use super::pim::read::parse_on;
use super::pim::render::directory_object;
use crate::SimState;
use crate::clock::graph_time;
use crate::world::World;

const ROOT: &str = "/roleManagement/directory";

/// List/get role eligibility schedules and instances
/// (rbacapplication-list-roleeligibilityschedules), delegated and application.
const SCHEDULES_READ: Permission = Permission {
    delegated: &[
        "RoleEligibilitySchedule.Read.Directory",
        "RoleManagement.Read.Directory",
        "RoleManagement.Read.All",
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "RoleManagement.ReadWrite.Directory",
    ],
    application: Some(&[
        "RoleEligibilitySchedule.Read.Directory",
        "RoleManagement.Read.Directory",
        "RoleManagement.Read.All",
        "RoleEligibilitySchedule.ReadWrite.Directory",
        "RoleManagement.ReadWrite.Directory",
    ]),
};

/// List/get role definitions (rbacapplication-list-roledefinitions).
const DEFINITIONS_READ: Permission = Permission {
    delegated: &[
        "RoleManagement.Read.Directory",
        "Directory.Read.All",
        "RoleManagement.Read.All",
        "RoleManagement.ReadWrite.Directory",
    ],
    application: Some(&[
        "RoleManagement.Read.Directory",
        "Directory.Read.All",
        "RoleManagement.Read.All",
        "RoleManagement.ReadWrite.Directory",
    ]),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Schedules,
    Instances,
    Definitions,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Self::Schedules => "roleEligibilitySchedules",
            Self::Instances => "roleEligibilityScheduleInstances",
            Self::Definitions => "roleDefinitions",
        }
    }

    fn permission(self) -> &'static Permission {
        match self {
            Self::Definitions => &DEFINITIONS_READ,
            _ => &SCHEDULES_READ,
        }
    }

    fn supported(self, list: bool) -> Supported {
        let base = if list {
            Supported::LIST
        } else {
            Supported::ENTITY
        };
        match self {
            Self::Definitions => base,
            _ => base.with_expand(&["roleDefinition", "principal"]),
        }
    }

    fn items(self, world: &World) -> Vec<Value> {
        match self {
            Self::Definitions => world.roles.values().map(role_definition).collect(),
            _ => {
                let mut out = Vec::new();
                for group in world.groups.values() {
                    let Some(pim) = &group.pim else { continue };
                    for role_id in &pim.eligible_role_ids {
                        out.push(eligibility(self, world.created, &group.id, role_id));
                    }
                }
                out
            }
        }
    }
}

pub fn routes() -> Router<SimState> {
    let mut router = Router::new();
    for kind in [Kind::Schedules, Kind::Instances, Kind::Definitions] {
        let path = format!("{ROOT}/{}", kind.segment());
        router = router
            .route(
                &path,
                get(move |s: State<SimState>, c: Caller, q: RawQuery| list(s, c, q, kind)),
            )
            .route(
                &format!("{path}/{{key}}"),
                get(
                    move |s: State<SimState>, c: Caller, p: Path<String>, q: RawQuery| {
                        item(s, c, p, q, kind)
                    },
                ),
            );
    }
    router.merge(policies::routes())
}

fn role_definition(role: &crate::world::RoleDefinition) -> Value {
    json!({
        "id": role.id,
        "description": null,
        "displayName": role.display_name,
        "isBuiltIn": true,
        "isEnabled": true,
        "resourceScopes": ["/"],
        "rolePermissions": [],
        "templateId": role.id,
        "version": "1",
    })
}

fn eligibility(kind: Kind, created: DateTime<Utc>, group_id: &str, role_id: &str) -> Value {
    let schedule_id = stable_guid(&format!("roleEligibility:{group_id}:{role_id}"));
    let common = json!({
        "principalId": group_id,
        "roleDefinitionId": role_id,
        "directoryScopeId": "/",
        "appScopeId": null,
        // unifiedRoleEligibilitySchedule.memberType is an Edm.String
        // ("Inherited, Direct, or Group"), so the docs' "Direct" is right.
        "memberType": "Direct",
    });
    let specific = match kind {
        Kind::Instances => json!({
            "id": stable_guid(&format!("roleEligibilityInstance:{group_id}:{role_id}")),
            "startDateTime": graph_time(created),
            "endDateTime": null,
            "roleEligibilityScheduleId": schedule_id,
        }),
        _ => json!({
            "id": schedule_id,
            "createdUsing": schedule_id,
            "createdDateTime": graph_time(created),
            "modifiedDateTime": null,
            "status": "Provisioned",
            "scheduleInfo": {
                "startDateTime": graph_time(created),
                "recurrence": null,
                "expiration": { "type": "noExpiration", "endDateTime": null, "duration": null },
            },
        }),
    };
    let mut map = Map::new();
    for part in [specific, common] {
        if let Value::Object(m) = part {
            map.extend(m);
        }
    }
    Value::Object(map)
}

fn expand(world: &World, query: &ODataQuery, mut item: Value) -> Value {
    if let Value::Object(map) = &mut item {
        if query.expands("roleDefinition") {
            let id = map
                .get("roleDefinitionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let role = world
                .roles
                .get(id)
                .map(role_definition)
                .unwrap_or(Value::Null);
            map.insert("roleDefinition".into(), role);
        }
        if query.expands("principal") {
            let id = map
                .get("principalId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let principal = directory_object(world, id);
            map.insert("principal".into(), principal);
        }
    }
    item
}

fn context(state: &SimState, kind: Kind) -> String {
    state.graph_url(&format!("/$metadata#{}/{}", &ROOT[1..], kind.segment()))
}

fn with_context(body: Value, context: String) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    if let Value::Object(map) = body {
        out.extend(map);
    }
    Value::Object(out)
}

/// List role eligibility schedules / instances / role definitions.
/// Permission: `RoleEligibilitySchedule.Read.Directory` or
/// `RoleManagement.Read.Directory` (or higher) for schedules; role
/// definitions need `RoleManagement.Read.Directory` (or higher).
async fn list(
    State(state): State<SimState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> GraphResult<Json<Value>> {
    caller.require(kind.permission())?;
    let query = ODataQuery::parse(raw.as_deref(), kind.supported(true))?;
    let items: Vec<Value> = {
        let world = state.world();
        kind.items(&world)
            .into_iter()
            .map(|i| expand(&world, &query, i))
            .collect()
    };
    let url = state.graph_url(&format!("{ROOT}/{}", kind.segment()));
    Ok(Json(with_context(
        query.collection(items, &url),
        context(&state, kind),
    )))
}

/// Get one by id, or `filterByCurrentUser(on='principal')` on the
/// eligibility collections (delegated only; it never lists group-derived
/// eligibility, per the Entra docs). Permissions as for [`list`].
async fn item(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> GraphResult<Json<Value>> {
    caller.require(kind.permission())?;
    if let (Some(args), false) = (
        key.strip_prefix("filterByCurrentUser"),
        kind == Kind::Definitions,
    ) {
        let user = caller.require_user()?.to_owned();
        let on = parse_on(args)?;
        if on != "principal" {
            return Err(GraphError::bad_request(format!(
                "The value '{on}' is not valid for the parameter 'on' of filterByCurrentUser; expected: principal."
            )));
        }
        let query = ODataQuery::parse(raw.as_deref(), kind.supported(true))?;
        let items: Vec<Value> = {
            let world = state.world();
            kind.items(&world)
                .into_iter()
                .filter(|i| i.get("principalId").and_then(Value::as_str) == Some(user.as_str()))
                .map(|i| expand(&world, &query, i))
                .collect()
        };
        let url = state.graph_url(&format!("{ROOT}/{}/{key}", kind.segment()));
        return Ok(Json(with_context(
            query.collection(items, &url),
            context(&state, kind),
        )));
    }
    let query = ODataQuery::parse(raw.as_deref(), kind.supported(false))?;
    let found = {
        let world = state.world();
        kind.items(&world)
            .into_iter()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(key.as_str()))
            .map(|i| expand(&world, &query, i))
    };
    let item = found.ok_or_else(|| {
        GraphError::not_found(format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."))
    })?;
    Ok(Json(with_context(
        query.project(item),
        format!("{}/$entity", context(&state, kind)),
    )))
}
