//! Reading PIM for Groups: the five schedule/instance/request collections,
//! each with list (which requires `$filter` on `groupId` or `principalId`),
//! get by id, and `filterByCurrentUser(on='…')`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{ASSIGNMENT_READ, BASE, CreatedBy, ELIGIBILITY_READ, render};
use crate::SimState;
use crate::graph::auth::{Caller, Permission};
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collection {
    EligibilitySchedules,
    EligibilityInstances,
    AssignmentSchedules,
    AssignmentInstances,
    Requests,
}

const EXPANDS: &[&str] = &["group", "principal"];

impl Collection {
    pub(crate) const ALL: [Self; 5] = [
        Self::EligibilitySchedules,
        Self::EligibilityInstances,
        Self::AssignmentSchedules,
        Self::AssignmentInstances,
        Self::Requests,
    ];

    pub(crate) fn segment(self) -> &'static str {
        match self {
            Self::EligibilitySchedules => "eligibilitySchedules",
            Self::EligibilityInstances => "eligibilityScheduleInstances",
            Self::AssignmentSchedules => "assignmentSchedules",
            Self::AssignmentInstances => "assignmentScheduleInstances",
            Self::Requests => "assignmentScheduleRequests",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Self::EligibilitySchedules => "privilegedAccessGroupEligibilitySchedule",
            Self::EligibilityInstances => "privilegedAccessGroupEligibilityScheduleInstance",
            Self::AssignmentSchedules => "privilegedAccessGroupAssignmentSchedule",
            Self::AssignmentInstances => "privilegedAccessGroupAssignmentScheduleInstance",
            Self::Requests => "privilegedAccessGroupAssignmentScheduleRequest",
        }
    }

    fn permission(self) -> &'static Permission {
        match self {
            Self::EligibilitySchedules | Self::EligibilityInstances => &ELIGIBILITY_READ,
            _ => &ASSIGNMENT_READ,
        }
    }

    /// Members of the CSDL `…FilterByCurrentUserOptions` enum (without
    /// `unknownFutureValue`).
    fn current_user_options(self) -> &'static [&'static str] {
        match self {
            Self::Requests => &["principal", "createdBy", "approver"],
            _ => &["principal"],
        }
    }

    /// Everything in the collection at `now`, rendered. Instances are the
    /// schedules in effect now; schedules include ones starting later.
    fn items(self, world: &World, now: DateTime<Utc>) -> Vec<(Value, Option<String>)> {
        let pim = &world.pim;
        match self {
            Self::EligibilitySchedules => pim
                .eligibility
                .values()
                .map(|e| (render::eligibility_schedule(e), None))
                .collect(),
            Self::EligibilityInstances => pim
                .eligibility
                .values()
                .filter(|e| e.start <= now)
                .map(|e| (render::eligibility_instance(e), None))
                .collect(),
            Self::AssignmentSchedules => pim
                .schedules
                .values()
                .map(|s| (render::assignment_schedule(s), None))
                .collect(),
            Self::AssignmentInstances => pim
                .schedules
                .values()
                .filter(|s| s.start <= now && s.provisioned)
                .map(|s| (render::assignment_instance(s), None))
                .collect(),
            Self::Requests => {
                let mut requests: Vec<_> = pim.requests.values().collect();
                requests.sort_by_key(|r| r.created);
                requests
                    .into_iter()
                    .map(|r| {
                        let creator = match &r.created_by {
                            CreatedBy::User(id) => Some(id.clone()),
                            CreatedBy::Application(_) => None,
                        };
                        (render::request(r), creator)
                    })
                    .collect()
            }
        }
    }

    fn context(self, state: &SimState) -> String {
        state.graph_url(&format!("/$metadata#{}/{}", &BASE[1..], self.segment()))
    }
}

/// Adds `$expand`ed `group` / `principal` objects.
fn expand(world: &World, query: &ODataQuery, mut item: Value) -> Value {
    for (nav, key) in [("group", "groupId"), ("principal", "principalId")] {
        if !query.expands(nav) {
            continue;
        }
        let id = item
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Value::Object(map) = &mut item {
            map.insert(nav.into(), render::directory_object(world, &id));
        }
    }
    item
}

fn with_context(mut body: Value, context: String) -> Value {
    if let Value::Object(map) = &mut body {
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(context));
        out.append(map);
        return Value::Object(out);
    }
    body
}

/// List a collection. Permission per collection (docs/architecture.md,
/// "Graph permissions"): eligibility
/// → `PrivilegedEligibilitySchedule.Read.AzureADGroup` or higher;
/// assignments and requests → `PrivilegedAssignmentSchedule.Read.AzureADGroup`
/// or higher; delegated and application alike.
pub(crate) async fn list(
    State(state): State<SimState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    collection: Collection,
) -> GraphResult<Json<Value>> {
    super::require(&caller, collection.permission())?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(EXPANDS))?;
    // "This method requires the $filter (eq) query parameter to scope the
    // request to a principalId or a groupId" (list-eligibilityschedules;
    // the same holds for the other PIM for Groups lists). The docs do not
    // quote the error; ours names what is missing.
    let scoped = query.filter.as_ref().is_some_and(|f| {
        f.equality_on("groupId").is_some() || f.equality_on("principalId").is_some()
    });
    if !scoped {
        return Err(GraphError::bad_request(format!(
            "The request for {} requires a $filter (eq) on principalId or groupId.",
            collection.segment()
        )));
    }
    let now = state.clock.now();
    let items: Vec<Value> = {
        let world = state.world();
        collection
            .items(&world, now)
            .into_iter()
            .map(|(item, _)| expand(&world, &query, item))
            .collect()
    };
    let url = state.graph_url(&format!("{BASE}/{}", collection.segment()));
    Ok(Json(with_context(
        query.collection(items, &url),
        collection.context(&state),
    )))
}

/// Get one item by id, or call `filterByCurrentUser(on='…')` (delegated
/// only: it needs a signed-in user). Permissions as for [`list`].
pub(crate) async fn item(
    State(state): State<SimState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    collection: Collection,
) -> GraphResult<Json<Value>> {
    super::require(&caller, collection.permission())?;
    if let Some(args) = key.strip_prefix("filterByCurrentUser") {
        return filter_by_current_user(&state, &caller, args, raw.as_deref(), collection);
    }
    let query = ODataQuery::parse(raw.as_deref(), Supported::ENTITY.with_expand(EXPANDS))?;
    let now = state.clock.now();
    let found = {
        let world = state.world();
        collection
            .items(&world, now)
            .into_iter()
            .map(|(item, _)| item)
            .find(|item| item.get("id").and_then(Value::as_str) == Some(key.as_str()))
            .map(|item| expand(&world, &query, item))
    };
    let item = found.ok_or_else(|| {
        GraphError::not_found(format!(
            "The {} with id '{key}' was not found.",
            collection.type_name()
        ))
    })?;
    Ok(Json(with_context(
        query.project(item),
        format!("{}/$entity", collection.context(&state)),
    )))
}

fn filter_by_current_user(
    state: &SimState,
    caller: &Caller,
    args: &str,
    raw: Option<&str>,
    collection: Collection,
) -> GraphResult<Json<Value>> {
    let user_id = caller.require_user()?.to_owned();
    let option = parse_on(args)?;
    let allowed = collection.current_user_options();
    let Some(option) = allowed
        .iter()
        .find(|o| o.eq_ignore_ascii_case(&option))
        .copied()
    else {
        return Err(GraphError::bad_request(format!(
            "The value '{option}' is not valid for the parameter 'on' of filterByCurrentUser; expected one of: {}.",
            allowed.join(", ")
        )));
    };
    let query = ODataQuery::parse(raw, Supported::LIST.with_expand(EXPANDS))?;
    let now = state.clock.now();
    let type_name = format!("#microsoft.graph.{}", collection.type_name());
    let items: Vec<Value> = {
        let world = state.world();
        collection
            .items(&world, now)
            .into_iter()
            .filter(|(item, creator)| match option {
                "principal" => item.get("principalId").and_then(Value::as_str) == Some(&user_id),
                "createdBy" => creator.as_deref() == Some(user_id.as_str()),
                // No request in the sandbox needs PIM approval
                // (Approval_EndUser_Assignment.isApprovalRequired is false;
                // approval happens in entitlement management), so nobody is
                // an approver of one.
                _ => false,
            })
            .map(|(mut item, _)| {
                if let Value::Object(map) = &mut item {
                    map.insert("@odata.type".into(), json!(type_name));
                }
                expand(&world, &query, item)
            })
            .collect()
    };
    let url = state.graph_url(&format!(
        "{BASE}/{}/filterByCurrentUser(on='{option}')",
        collection.segment()
    ));
    Ok(Json(with_context(
        query.collection(items, &url),
        state.graph_url(&format!(
            "/$metadata#Collection({})",
            collection.type_name()
        )),
    )))
}

/// `(on='principal')` → `principal`.
pub(crate) fn parse_on(args: &str) -> GraphResult<String> {
    let malformed = || {
        GraphError::bad_request(
            "Bad Request - Error in query syntax: expected filterByCurrentUser(on='…').",
        )
    };
    let inner = args
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .ok_or_else(malformed)?;
    let (name, value) = inner.split_once('=').ok_or_else(malformed)?;
    if !name.trim().eq_ignore_ascii_case("on") {
        return Err(malformed());
    }
    let value = value.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(malformed)?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_on;

    #[test]
    fn parses_the_on_parameter() {
        assert_eq!(parse_on("(on='principal')").unwrap(), "principal");
        assert_eq!(parse_on("( on = 'createdBy' )").unwrap(), "createdBy");
        for bad in ["", "(on=principal)", "(x='principal')", "on='principal'"] {
            assert!(parse_on(bad).is_err(), "{bad}");
        }
    }
}
