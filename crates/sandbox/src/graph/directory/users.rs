//! `/users`, `/users/{id | userPrincipalName}`, `/users/$count` and `/me`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::manager::{ManagerExpand, manager_chain, manager_expand};
use super::query::{check_directory_filter, check_select, context, eventual, only, with_context};
use super::{
    MANAGER_READ, SELF_MANAGER_READ, SELF_READ, USER_FILTER, USERS_READ, is_self,
    resource_not_found,
};
use crate::SimState;
use crate::clock::graph_time;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{User, World};

/// Graph v1.0's default property set for users (api/user-get.md).
pub const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

pub const USER_TYPE: &str = "microsoft.graph.user";

const LIST: Supported = Supported::LIST.with_expand(&["manager"]);
/// `$count=true` is accepted (and ignored) on a single user because
/// Microsoft's own manager-chain example sends it.
const ENTITY: Supported = Supported {
    count: true,
    ..Supported::ENTITY.with_expand(&["manager"])
};

/// A user with every property the sandbox can answer for; `$select` picks
/// from these, and properties the tenant file does not model are `null`.
pub fn user_json(world: &World, user: &User) -> Value {
    let nickname = user
        .user_principal_name
        .split('@')
        .next()
        .unwrap_or_default();
    json!({
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": user.surname,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
        "department": user.department,
        "mailNickname": nickname,
        "userType": "Member",
        "createdDateTime": graph_time(world.created),
        "deletedDateTime": null,
        "companyName": null,
        "city": null,
        "country": null,
        "employeeId": null,
        "employeeType": null,
        "usageLocation": null,
        "otherMails": [],
        "proxyAddresses": [format!("SMTP:{}", user.mail)],
        "imAddresses": [],
        "onPremisesSyncEnabled": null,
        "identities": [{
            "signInType": "userPrincipalName",
            "issuer": world.domain,
            "issuerAssignedId": user.user_principal_name,
        }],
    })
}

/// The default property set, or the `$select`ed one.
pub fn user_view(world: &World, user: &User, select: Option<&Vec<String>>) -> Value {
    let full = user_json(world, user);
    match select {
        None => only(&full, USER_DEFAULT),
        Some(names) => {
            // `$select` names are case-insensitive; `id` always comes back.
            let mut out = serde_json::Map::new();
            if let Value::Object(full) = full {
                for (k, v) in full {
                    if k == "id" || names.iter().any(|n| n.eq_ignore_ascii_case(&k)) {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        }
    }
}

fn sample_user(world: &World) -> Option<Value> {
    world.users.values().next().map(|u| user_json(world, u))
}

pub fn check_user_select(
    world: &World,
    query: &ODataQuery,
    manager: Option<&ManagerExpand>,
) -> GraphResult<()> {
    let Some(sample) = sample_user(world) else {
        return Ok(());
    };
    check_select(query, &sample, USER_TYPE)?;
    if let Some(select) = manager.and_then(|m| m.select.clone()) {
        let nested = ODataQuery {
            select: Some(select),
            ..ODataQuery::default()
        };
        check_select(&nested, &sample, USER_TYPE)?;
    }
    Ok(())
}

fn shape(world: &World, user: &User, query: &ODataQuery, manager: Option<&ManagerExpand>) -> Value {
    let mut view = user_view(world, user, query.select.as_ref());
    if let (Some(m), Value::Object(map)) = (manager, &mut view)
        && let Some(chain) = manager_chain(world, user, m.levels, m.select.as_ref())
    {
        map.insert("manager".into(), chain);
    }
    view
}

/// `GET /users`. Delegated `User.ReadBasic.All` or higher; application
/// `User.Read.All` or higher.
pub async fn list(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    caller.require(&USERS_READ)?;
    let mut query = ODataQuery::parse(raw.as_deref(), LIST)?;
    let advanced = eventual(&headers) && query.count;
    if let Some(filter) = &query.filter {
        check_directory_filter(filter, &USER_FILTER, advanced)?;
    }
    // Without the header Graph silently ignores `$count=true` on directory
    // objects (concepts/aad-advanced-queries.md, "Error handling").
    query.count &= eventual(&headers);
    let manager = manager_expand(&query, false, &headers)?;
    let items: Vec<Value> = {
        let world = state.world();
        check_user_select(&world, &query, manager.as_ref())?;
        world
            .users
            .values()
            .filter(|u| {
                query
                    .filter
                    .as_ref()
                    .is_none_or(|f| f.matches(&user_json(&world, u)))
            })
            .map(|u| shape(&world, u, &query, manager.as_ref()))
            .collect()
    };
    let shaped = ODataQuery {
        filter: None,
        ..query.clone()
    };
    let body = shaped.collection(items, &state.graph_url("/users"));
    Ok(Json(with_context(
        body,
        context(&state, "users", &query, false),
    )))
}

fn one_user(
    state: &SimState,
    id: &str,
    raw: Option<&str>,
    headers: &HeaderMap,
    caller: &Caller,
    own: bool,
) -> GraphResult<Json<Value>> {
    let query = ODataQuery::parse(raw, ENTITY)?;
    let manager = manager_expand(&query, true, headers)?;
    if manager.is_some() {
        caller.require(if own {
            &SELF_MANAGER_READ
        } else {
            &MANAGER_READ
        })?;
    }
    let body = {
        let world = state.world();
        let user = world.user(id).ok_or_else(|| resource_not_found(id))?;
        check_user_select(&world, &query, manager.as_ref())?;
        shape(&world, user, &query, manager.as_ref())
    };
    Ok(Json(with_context(
        body,
        context(state, "users", &query, true),
    )))
}

/// `GET /users/{id | userPrincipalName}` (and `GET /users/$count`).
/// Delegated `User.Read` for oneself, else `User.ReadBasic.All` or higher;
/// application `User.Read.All` or higher. Expanding the manager needs the
/// manager permission too.
pub async fn get(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Response> {
    let own = is_self(&caller, &id);
    caller.require(if own { &SELF_READ } else { &USERS_READ })?;
    if id == "$count" {
        return count_users(&state, &headers);
    }
    one_user(&state, &id, raw.as_deref(), &headers, &caller, own).map(IntoResponse::into_response)
}

/// `GET /users/$count`: only with `ConsistencyLevel: eventual`, as text.
fn count_users(state: &SimState, headers: &HeaderMap) -> GraphResult<Response> {
    if !eventual(headers) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported.",
        ));
    }
    let count = state.world().users.len();
    Ok(([(header::CONTENT_TYPE, "text/plain")], count.to_string()).into_response())
}

/// `GET /me`. Delegated only (`User.Read` or higher); app-only tokens get
/// Graph's 400 "/me request is only valid with delegated authentication flow."
pub async fn me(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> GraphResult<Json<Value>> {
    let user_id = caller.require_user()?.to_owned();
    caller.require(&SELF_READ)?;
    one_user(&state, &user_id, raw.as_deref(), &headers, &caller, true)
}
