//! `/users`, `/users/{id | userPrincipalName}`, `/me`, `…/manager`, and the
//! manager chain `$expand=manager($levels=n)`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::query::{check_directory_filter, check_select, context, eventual, expand_of, only};
use super::{
    MANAGER_READ, SELF_MANAGER_READ, SELF_READ, USER_FILTER, USERS_READ, is_self,
    resource_not_found,
};
use crate::sandbox::SimState;
use crate::sandbox::clock::graph_time;
use crate::sandbox::graph::auth::Caller;
use crate::sandbox::graph::error::{GraphError, GraphResult};
use crate::sandbox::graph::odata::{ODataQuery, Supported};
use crate::sandbox::world::{User, World};

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

const USER_TYPE: &str = "microsoft.graph.user";
/// `$levels=max` means "to the root"; Graph caps explicit levels at 1000.
const MAX_LEVELS: usize = 1000;

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

/// `$expand=manager(…)`: how far up the chain and which properties.
struct ManagerExpand {
    levels: usize,
    select: Option<Vec<String>>,
}

fn manager_expand(
    query: &ODataQuery,
    single: bool,
    headers: &HeaderMap,
) -> GraphResult<Option<ManagerExpand>> {
    let Some(expand) = expand_of(query, "manager") else {
        return Ok(None);
    };
    let mut out = ManagerExpand {
        levels: 1,
        select: None,
    };
    let mut levels_given = false;
    for option in expand.options.as_deref().unwrap_or_default().split(';') {
        let option = option.trim();
        if option.is_empty() {
            continue;
        }
        let (key, value) = option.split_once('=').ok_or_else(|| {
            GraphError::bad_request(format!("Invalid $expand option '{option}'."))
        })?;
        match key.trim().to_ascii_lowercase().as_str() {
            "$levels" => {
                levels_given = true;
                let value = value.trim();
                out.levels = if value.eq_ignore_ascii_case("max") {
                    MAX_LEVELS
                } else {
                    match value.parse::<usize>() {
                        Ok(n) if (1..=MAX_LEVELS).contains(&n) => n,
                        _ => {
                            return Err(GraphError::bad_request(format!(
                                "The value '{value}' is not valid for $levels; use 'max' or a number from 1 to 1000."
                            )));
                        }
                    }
                };
            }
            "$select" => {
                out.select = Some(value.split(',').map(|s| s.trim().to_owned()).collect());
            }
            _ => {
                return Err(GraphError::bad_request(format!(
                    "Query option '{}' is not supported inside $expand=manager.",
                    key.trim()
                )));
            }
        }
    }
    if levels_given && !single {
        // "$levels is only supported on single user (/users/{id} or me)".
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "$levels is only supported when expanding the manager of a single user.",
        ));
    }
    if levels_given && !eventual(headers) {
        // The v1.0 page: ConsistencyLevel "Required when the request includes
        // $levels=n in $expand". The error text is ours, modelled on the
        // documented advanced-query errors.
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "$levels is not supported because the required parameters might be missing. Try adding ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
        ));
    }
    Ok(Some(out))
}

/// A manager as a `directoryObject`: typed, default or selected properties,
/// and the next manager up while levels remain.
fn manager_chain(
    world: &World,
    user: &User,
    levels: usize,
    select: Option<&Vec<String>>,
) -> Option<Value> {
    let mut managers = Vec::new();
    let mut current = user;
    while managers.len() < levels {
        let Some(next) = current
            .manager_id
            .as_deref()
            .and_then(|m| world.users.get(m))
        else {
            break;
        };
        managers.push(next);
        current = next;
    }
    managers.into_iter().rev().fold(None, |above, manager| {
        let mut view = user_view(world, manager, select);
        if let Value::Object(map) = &mut view {
            map.insert("@odata.type".into(), json!(format!("#{USER_TYPE}")));
            if let Some(above) = above {
                map.insert("manager".into(), above);
            }
        }
        Some(view)
    })
}

fn sample_user(world: &World) -> Option<Value> {
    world.users.values().next().map(|u| user_json(world, u))
}

fn check_user_select(
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
    Ok(Json(super::query::with_context(
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
    Ok(Json(super::query::with_context(
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

fn manager_of(state: &SimState, id: &str, raw: Option<&str>) -> GraphResult<Json<Value>> {
    let query = ODataQuery::parse(raw, Supported::ENTITY)?;
    let body = {
        let world = state.world();
        let user = world.user(id).ok_or_else(|| resource_not_found(id))?;
        check_user_select(&world, &query, None)?;
        let manager = user
            .manager_id
            .as_deref()
            .and_then(|m| world.users.get(m))
            .ok_or_else(|| resource_not_found("manager"))?;
        let mut view = user_view(&world, manager, query.select.as_ref());
        if let Value::Object(map) = &mut view {
            map.insert("@odata.type".into(), json!(format!("#{USER_TYPE}")));
        }
        view
    };
    Ok(Json(super::query::with_context(
        body,
        context(state, "directoryObjects", &query, true),
    )))
}

/// `GET /users/{id | userPrincipalName}/manager`. Delegated `User.Read` for
/// one's own manager, else `User.Read.All` or higher; application
/// `User.Read.All` or higher. No manager → 404 `Request_ResourceNotFound`.
pub async fn manager(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    let own = is_self(&caller, &id);
    caller.require(if own {
        &SELF_MANAGER_READ
    } else {
        &MANAGER_READ
    })?;
    manager_of(&state, &id, raw.as_deref())
}

/// `GET /me/manager`. Delegated only, `User.Read` or higher.
pub async fn my_manager(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    let user_id = caller.require_user()?.to_owned();
    caller.require(&SELF_MANAGER_READ)?;
    manager_of(&state, &user_id, raw.as_deref())
}
