//! Managers: `/users/{id}/manager`, `/me/manager`, and the chain
//! `$expand=manager($levels=n)` (api/user-list-manager.md).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::query::{context, eventual, expand_of, with_context};
use super::users::{USER_TYPE, check_user_select, user_view};
use super::{MANAGER_READ, SELF_MANAGER_READ, is_self, resource_not_found};
use crate::SimState;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{User, World};

/// `$levels=max` means "to the root"; Graph caps explicit levels at 1000.
const MAX_LEVELS: usize = 1000;

/// `$expand=manager(…)`: how far up the chain and which properties.
pub struct ManagerExpand {
    pub levels: usize,
    pub select: Option<Vec<String>>,
}

pub fn manager_expand(
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
pub fn manager_chain(
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
    Ok(Json(with_context(
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
