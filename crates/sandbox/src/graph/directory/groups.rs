//! `/groups`, `/groups/{id}`, and the `members`, `transitiveMembers` and
//! `owners` relationships (collections of typed `directoryObject`s).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::query::{check_directory_filter, check_select, context, eventual, with_context};
use super::users::{USER_DEFAULT, user_json};
use super::{
    GROUP_FILTER, GROUPS_READ, MEMBER_FILTER, USERS_READ, invalid_object_id, resource_not_found,
};
use crate::SimState;
use crate::clock::graph_time;
use crate::graph::auth::Caller;
use crate::graph::error::GraphResult;
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{Group, World};

use super::query::{FilterRules, only};

/// A group as Graph v1.0 returns it by default (security groups: no mail,
/// `securityEnabled`, role-assignable ones are `Private`).
pub fn group_json(group: &Group) -> Value {
    json!({
        "id": group.id,
        "deletedDateTime": null,
        "classification": null,
        "createdDateTime": graph_time(group.created),
        "creationOptions": [],
        "description": group.description,
        "displayName": group.display_name,
        "expirationDateTime": null,
        "groupTypes": [],
        "isAssignableToRole": group.is_assignable_to_role,
        "mail": null,
        "mailEnabled": false,
        "mailNickname": group.mail_nickname,
        "membershipRule": null,
        "membershipRuleProcessingState": null,
        "onPremisesDomainName": null,
        "onPremisesLastSyncDateTime": null,
        "onPremisesSamAccountName": null,
        "onPremisesSecurityIdentifier": null,
        "onPremisesSyncEnabled": null,
        "preferredDataLocation": null,
        "preferredLanguage": null,
        "proxyAddresses": [],
        "renewedDateTime": graph_time(group.created),
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": [],
        "securityEnabled": true,
        "securityIdentifier": null,
        "theme": null,
        "uniqueName": null,
        "visibility": if group.is_assignable_to_role { json!("Private") } else { Value::Null },
        "onPremisesProvisioningErrors": [],
        "serviceProvisioningErrors": [],
    })
}

fn parse_group_id(id: &str) -> GraphResult<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| invalid_object_id(id))
}

fn filtered(
    query: &ODataQuery,
    headers: &HeaderMap,
    rules: &FilterRules,
) -> GraphResult<ODataQuery> {
    let mut query = query.clone();
    if let Some(filter) = &query.filter {
        check_directory_filter(filter, rules, eventual(headers) && query.count)?;
    }
    query.count &= eventual(headers);
    Ok(query)
}

/// Renders the filtered items, then pages them (the filter has already run
/// on the full objects, so the collection step must not filter again).
fn page(state: &SimState, query: &ODataQuery, items: Vec<Value>, path: &str, set: &str) -> Value {
    let shaped = ODataQuery {
        filter: None,
        ..query.clone()
    };
    let body = shaped.collection(items, &state.graph_url(path));
    with_context(body, context(state, set, query, false))
}

/// `GET /groups`. Delegated or application `GroupMember.Read.All` or higher.
pub async fn list(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    caller.require(&GROUPS_READ)?;
    let query = filtered(
        &ODataQuery::parse(raw.as_deref(), Supported::LIST)?,
        &headers,
        &GROUP_FILTER,
    )?;
    let items = {
        let world = state.world();
        let all: Vec<Value> = world.groups.values().map(group_json).collect();
        if let Some(sample) = all.first() {
            check_select(&query, sample, "microsoft.graph.group")?;
        }
        all.into_iter()
            .filter(|g| query.filter.as_ref().is_none_or(|f| f.matches(g)))
            .map(|g| query.project(g))
            .collect()
    };
    Ok(Json(page(&state, &query, items, "/groups", "groups")))
}

/// `GET /groups/{id}`. Delegated or application `GroupMember.Read.All` or higher.
pub async fn get(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&GROUPS_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::ENTITY)?;
    parse_group_id(&id)?;
    let body = {
        let world = state.world();
        let group = world
            .groups
            .get(&id)
            .ok_or_else(|| resource_not_found(&id))?;
        let full = group_json(group);
        check_select(&query, &full, "microsoft.graph.group")?;
        query.project(full)
    };
    Ok(Json(with_context(
        body,
        context(&state, "groups", &query, true),
    )))
}

/// Which related objects a relationship lists.
enum Relation {
    Members,
    Transitive,
    Owners,
}

fn related(world: &World, group: &Group, relation: &Relation) -> Vec<String> {
    match relation {
        Relation::Members => group.members.iter().cloned().collect(),
        Relation::Owners => group.owners.iter().cloned().collect(),
        Relation::Transitive => {
            // Nested groups are listed themselves and expanded; each object
            // appears once even when reachable by several paths.
            let mut seen = BTreeSet::from([group.id.clone()]);
            let mut out = Vec::new();
            let mut stack: Vec<String> = group.members.iter().rev().cloned().collect();
            while let Some(id) = stack.pop() {
                if !seen.insert(id.clone()) {
                    continue;
                }
                if let Some(nested) = world.groups.get(&id) {
                    stack.extend(nested.members.iter().rev().cloned());
                }
                out.push(id);
            }
            out
        }
    }
}

/// A related object typed with `@odata.type`. Without a permission to read
/// users, Graph still lists them but with only `id` and the type
/// ("Limited information returned for inaccessible member objects").
fn directory_object(world: &World, id: &str, users_readable: bool) -> Option<Value> {
    if let Some(user) = world.users.get(id) {
        let mut view = only(&user_json(world, user), USER_DEFAULT);
        if let Value::Object(map) = &mut view {
            if !users_readable {
                for (k, v) in map.iter_mut() {
                    if k != "id" {
                        *v = Value::Null;
                    }
                }
            }
            map.insert("@odata.type".into(), json!("#microsoft.graph.user"));
        }
        return Some(view);
    }
    let group = world.groups.get(id)?;
    let mut view = group_json(group);
    if let Value::Object(map) = &mut view {
        map.insert("@odata.type".into(), json!("#microsoft.graph.group"));
    }
    Some(view)
}

async fn relationship(
    caller: Caller,
    state: SimState,
    id: String,
    raw: Option<String>,
    headers: HeaderMap,
    relation: Relation,
    segment: &str,
) -> GraphResult<Json<Value>> {
    caller.require(&GROUPS_READ)?;
    let users_readable = caller.require(&USERS_READ).is_ok();
    let query = filtered(
        &ODataQuery::parse(raw.as_deref(), Supported::LIST)?,
        &headers,
        &MEMBER_FILTER,
    )?;
    parse_group_id(&id)?;
    let items = {
        let world = state.world();
        let group = world
            .groups
            .get(&id)
            .ok_or_else(|| resource_not_found(&id))?;
        let objects: Vec<Value> = related(&world, group, &relation)
            .iter()
            .filter_map(|m| directory_object(&world, m, users_readable))
            .collect();
        // `$select` on a directoryObject collection may name any property of
        // the derived types (user, group).
        let mut sample = serde_json::Map::new();
        for entity in [
            world.users.values().next().map(|u| user_json(&world, u)),
            world.groups.values().next().map(group_json),
        ]
        .into_iter()
        .flatten()
        {
            if let Value::Object(map) = entity {
                sample.extend(map);
            }
        }
        check_select(
            &query,
            &Value::Object(sample),
            "microsoft.graph.directoryObject",
        )?;
        objects
            .into_iter()
            .filter(|o| query.filter.as_ref().is_none_or(|f| f.matches(o)))
            .map(|o| query.project(o))
            .collect()
    };
    Ok(Json(page(
        &state,
        &query,
        items,
        &format!("/groups/{id}/{segment}"),
        "directoryObjects",
    )))
}

/// `GET /groups/{id}/members`. Delegated or application
/// `GroupMember.Read.All` or higher (users come back with limited
/// information unless the caller may also read users).
pub async fn members(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    relationship(
        caller,
        state,
        id,
        raw,
        headers,
        Relation::Members,
        "members",
    )
    .await
}

/// `GET /groups/{id}/transitiveMembers`: members of nested groups too, and
/// the nested groups themselves. Delegated or application
/// `GroupMember.Read.All` or higher.
pub async fn transitive_members(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    relationship(
        caller,
        state,
        id,
        raw,
        headers,
        Relation::Transitive,
        "transitiveMembers",
    )
    .await
}

/// `GET /groups/{id}/owners`. Delegated or application
/// `GroupMember.Read.All` or higher.
pub async fn owners(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    relationship(caller, state, id, raw, headers, Relation::Owners, "owners").await
}
