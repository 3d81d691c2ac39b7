//! Sandbox control for scripts (`/sim/state`, `/sim/groups/{key}/members`):
//! the tenant as Graph holds it, summarised in persona keys, and an
//! administrator's change made outside stagegate. Sandbox only.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SimState;
use super::clock::graph_time;
use super::world::World;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/state", get(state))
        .route("/groups/{key}/members", post(add_member))
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "error": detail.into() }))).into_response()
}

/// A user id as the persona key when there is one.
fn key_of(world: &World, id: &str) -> String {
    world
        .users
        .get(id)
        .map_or_else(|| id.to_owned(), |u| u.key.clone())
}

/// Anyone on loopback: every request (state, stages, who decided), every
/// assignment, every group's members and live eligibilities, and the
/// resources the bot is subscribed to; persona keys instead of ids.
async fn state(State(state): State<SimState>) -> Json<Value> {
    let now = state.clock.now();
    let subscriptions: Vec<String> = state
        .notify
        .lock()
        .subscriptions
        .values()
        .map(|s| s.resource.trim_start_matches('/').to_owned())
        .collect();
    let world = state.world();
    let package_key = |id: &str| {
        world
            .access_packages
            .get(id)
            .map_or_else(|| id.to_owned(), |p| p.key.clone())
    };
    let mut requests: Vec<&_> = world.requests.values().collect();
    requests.sort_by_key(|r| r.created);
    let requests: Vec<Value> = requests
        .into_iter()
        .map(|r| {
            let stages: Vec<Value> = r
                .stages
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id, "status": s.status, "result": s.review_result,
                        "by": s.reviewed_by.as_deref().map(|b| key_of(&world, b)),
                        "justification": s.justification,
                        "approvers": s.approver_ids.iter().map(|a| key_of(&world, a)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "id": r.id, "state": r.state, "status": r.status,
                "package": package_key(&r.access_package_id),
                "requester": key_of(&world, &r.target_id),
                "created": graph_time(r.created),
                "stages": stages,
            })
        })
        .collect();
    let assignments: Vec<Value> = world
        .assignments
        .values()
        .map(|a| {
            json!({
                "id": a.id, "state": a.state, "package": package_key(&a.access_package_id),
                "target": key_of(&world, &a.target_id),
            })
        })
        .collect();
    let groups: serde_json::Map<String, Value> = world
        .groups
        .values()
        .map(|g| {
            let eligible: Vec<String> = world
                .pim
                .eligibility
                .values()
                .filter(|e| e.group_id == g.id && e.access_id == "member")
                .filter(|e| e.start <= now && e.end.is_none_or(|end| end > now))
                .map(|e| key_of(&world, &e.principal_id))
                .collect();
            let members: Vec<String> = g.members.iter().map(|m| key_of(&world, m)).collect();
            let subscribed = subscriptions
                .iter()
                .any(|r| r == &format!("groups/{}/members", g.id));
            (
                g.key.clone(),
                json!({ "id": g.id, "members": members, "eligible": eligible, "subscribed": subscribed }),
            )
        })
        .collect();
    Json(json!({
        "now": graph_time(now),
        "requests": requests,
        "assignments": assignments,
        "groups": groups,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMember {
    persona: String,
}

/// Anyone on loopback: an administrator adds a persona to a group directly
/// (the Entra portal, PowerShell): no access package, no PIM activation.
/// Graph's change notifications report it like any other membership.
async fn add_member(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: AddMember = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"persona\": \"johanna\"}}: {e}"),
            );
        }
    };
    let mut world = state.world();
    let Some(group) = world.groups.values().find(|g| g.key == key || g.id == key) else {
        return problem(StatusCode::NOT_FOUND, format!("no group `{key}`"));
    };
    let group = group.id.clone();
    let Some(user) = world.user_by_key(&request.persona) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no persona `{}`", request.persona),
        );
    };
    let user = user.id.clone();
    let added = world.add_member(&group, &user);
    Json(json!({ "group": group, "member": user, "added": added })).into_response()
}
