//! Emulated Graph change-notification subscriptions (`/subscriptions`), for
//! the one resource stagegate needs: `/groups/{id}/members` (PIM for Groups
//! activations show up there). Deliveries are the dispatcher's job
//! (`sandbox::notify`); subscriptions expire on the emulated clock.

pub mod validate;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::GraphJson;
use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use crate::SimState;
use crate::clock::graph_time;
use crate::notify::Subscription;
use crate::notify::dispatcher::REAUTHORIZATION_THRESHOLDS;
use validate::{CLIENT_STATE_MAX, invalid_request};

/// "Your app must have read permissions for the resource": reading a group's
/// members (docs/architecture.md, "Graph permissions"), delegated or
/// application.
pub const READ_GROUP_MEMBERS: Permission = Permission {
    delegated: &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    application: Some(&[
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.ReadWrite.All",
    ]),
};

const CREATE_PROPERTIES: [&str; 12] = [
    "@odata.type",
    "changeType",
    "notificationUrl",
    "lifecycleNotificationUrl",
    "resource",
    "expirationDateTime",
    "clientState",
    "includeResourceData",
    "latestSupportedTlsVersion",
    "notificationUrlAppId",
    "encryptionCertificate",
    "encryptionCertificateId",
];

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/subscriptions", get(list).post(create))
        .route(
            "/subscriptions/{id}",
            get(get_one).patch(update).delete(remove),
        )
        .route("/subscriptions/{id}/reauthorize", post(reauthorize))
}

fn string_prop<'a>(body: &'a Map<String, Value>, name: &str) -> GraphResult<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(GraphError::bad_request(format!(
            "Invalid value for property '{name}': expected a string."
        ))),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> GraphResult<&'a str> {
    string_prop(body, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_request(format!("The property '{name}' is required.")))
}

fn object(body: Value) -> GraphResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(GraphError::bad_request(
            "Invalid request body: expected a JSON object.",
        )),
    }
}

fn reject_unknown(body: &Map<String, Value>, allowed: &[&str]) -> GraphResult<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(GraphError::bad_request(format!(
            "Property '{k}' does not exist on type 'microsoft.graph.subscription'."
        ))),
        None => Ok(()),
    }
}

/// `/groups/{id}/members` (leading slash optional) → the group id.
fn group_of(resource: &str) -> Option<&str> {
    let mut parts = resource.trim_start_matches('/').split('/');
    let (Some(groups), Some(id), Some(members), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (groups.eq_ignore_ascii_case("groups") && members.eq_ignore_ascii_case("members")).then_some(id)
}

/// `reauthorizationRequired` thresholds already behind at `expiration`, so
/// that a new or renewed subscription is only challenged on crossing one.
fn crossed_thresholds(expiration: DateTime<Utc>, now: DateTime<Utc>) -> Vec<i64> {
    REAUTHORIZATION_THRESHOLDS
        .iter()
        .copied()
        .filter(|t| expiration - Duration::minutes(*t) <= now)
        .collect()
}

fn render(state: &SimState, sub: &Subscription) -> Value {
    json!({
        "@odata.context": state.graph_url("/$metadata#subscriptions/$entity"),
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": sub.application_id,
        "changeType": sub.change_type,
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": null,
        "lifecycleNotificationUrl": sub.lifecycle_notification_url,
        "expirationDateTime": graph_time(sub.expiration),
        "creatorId": sub.creator_id,
        "includeResourceData": false,
        "latestSupportedTlsVersion": sub.latest_supported_tls_version,
        "encryptionCertificate": null,
        "encryptionCertificateId": null,
        "notificationUrlAppId": sub.notification_url_app_id,
    })
}

/// Subscriptions the caller may see: the calling app's, and for delegated
/// callers only those the signed-in user created.
fn visible(caller: &Caller, sub: &Subscription, now: DateTime<Utc>) -> bool {
    sub.expiration > now
        && sub.application_id == caller.app_id()
        && (caller.is_app() || sub.creator_id == caller.principal_id())
}

fn not_found() -> GraphError {
    GraphError::not_found("The object was not found.")
}

/// `POST /subscriptions` — delegated or application, with read permission on
/// group members (GroupMember.Read.All, Group.Read.All, Directory.Read.All or
/// their ReadWrite forms). Validates `notificationUrl` (and
/// `lifecycleNotificationUrl`) with the handshake before creating.
async fn create(
    State(state): State<SimState>,
    caller: Caller,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    caller.require(&READ_GROUP_MEMBERS)?;
    let body = object(body)?;
    reject_unknown(&body, &CREATE_PROPERTIES)?;
    let change_type = required(&body, "changeType")?;
    let notification_url = required(&body, "notificationUrl")?;
    let resource = required(&body, "resource")?;
    let expiration_raw = required(&body, "expirationDateTime")?;
    let client_state = required(&body, "clientState")?;
    let lifecycle_url = string_prop(&body, "lifecycleNotificationUrl")?;

    let group_id = group_of(resource).ok_or_else(|| {
        invalid_request(format!(
            "Resource '{resource}' is not supported for change notifications in the sandbox; only /groups/{{id}}/members is emulated."
        ))
    })?;
    for change in change_type.split(',').map(str::trim) {
        match change {
            "updated" | "deleted" => {}
            "created" => {
                return Err(invalid_request(
                    "ChangeType 'created' is not supported for this resource; user and group change notifications support 'updated' and 'deleted'.",
                ));
            }
            other => {
                return Err(invalid_request(format!("Invalid changeType '{other}'.")));
            }
        }
    }
    if client_state.chars().count() > CLIENT_STATE_MAX {
        return Err(invalid_request(format!(
            "clientState must be at most {CLIENT_STATE_MAX} characters."
        )));
    }
    if body
        .get("includeResourceData")
        .is_some_and(|v| v.as_bool() == Some(true))
    {
        return Err(invalid_request(
            "Rich notifications (includeResourceData) are not supported for this resource.",
        ));
    }
    let expiration = validate::expiration(expiration_raw, state.clock.now())?;
    let notification = validate::endpoint_url("notificationUrl", notification_url)?;
    let lifecycle = lifecycle_url
        .map(|u| validate::endpoint_url("lifecycleNotificationUrl", u))
        .transpose()?;
    let group_id = {
        let world = state.world();
        world
            .groups
            .get(group_id)
            .map(|g| g.id.clone())
            .ok_or_else(|| {
                GraphError::new(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    format!("Resource '{group_id}' does not exist or one of its queried reference-property objects are not present."),
                )
            })?
    };

    validate::handshake(&state, &notification).await?;
    if let Some(url) = &lifecycle {
        validate::handshake(&state, url).await?;
    }

    let now = state.clock.now();
    let events_from = state.world().events.len();
    let sub = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource: resource.to_owned(),
        group_id,
        change_type: change_type.to_owned(),
        client_state: client_state.to_owned(),
        notification_url: notification_url.to_owned(),
        lifecycle_notification_url: lifecycle_url.map(str::to_owned),
        expiration,
        application_id: caller.app_id().to_owned(),
        creator_id: caller.principal_id().to_owned(),
        delegated: !caller.is_app(),
        latest_supported_tls_version: string_prop(&body, "latestSupportedTlsVersion")?
            .unwrap_or("v1_2")
            .to_owned(),
        notification_url_app_id: string_prop(&body, "notificationUrlAppId")?.map(str::to_owned),
        events_from,
        challenges_sent: crossed_thresholds(expiration, now),
        last_reauthorized: None,
    };
    let rendered = render(&state, &sub);
    state
        .notify
        .lock()
        .subscriptions
        .insert(sub.id.clone(), sub);
    state.notify.wake.notify_one();
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}

/// `GET /subscriptions` — any authenticated caller; lists the calling app's
/// subscriptions (delegated: those the signed-in user created).
async fn list(State(state): State<SimState>, caller: Caller) -> GraphResult<Json<Value>> {
    let now = state.clock.now();
    let value: Vec<Value> = state
        .notify
        .lock()
        .subscriptions
        .values()
        .filter(|s| visible(&caller, s, now))
        .map(|s| {
            let mut v = render(&state, s);
            if let Some(m) = v.as_object_mut() {
                m.remove("@odata.context");
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "@odata.context": state.graph_url("/$metadata#subscriptions"),
        "value": value,
    })))
}

/// `GET /subscriptions/{id}` — any authenticated caller that can see it.
async fn get_one(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> GraphResult<Json<Value>> {
    let now = state.clock.now();
    let n = state.notify.lock();
    let sub = n
        .subscriptions
        .get(&id)
        .filter(|s| visible(&caller, s, now))
        .ok_or_else(not_found)?;
    Ok(Json(render(&state, sub)))
}

/// `PATCH /subscriptions/{id}` — renews (`expirationDateTime`) and/or
/// re-points (`notificationUrl`, validated again); needs the same read
/// permission as creation, which also reauthorizes the subscription.
async fn update(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Json<Value>> {
    caller.require(&READ_GROUP_MEMBERS)?;
    let body = object(body)?;
    reject_unknown(
        &body,
        &["@odata.type", "expirationDateTime", "notificationUrl"],
    )?;
    let now = state.clock.now();
    {
        let n = state.notify.lock();
        n.subscriptions
            .get(&id)
            .filter(|s| visible(&caller, s, now))
            .ok_or_else(not_found)?;
    }
    let expiration = string_prop(&body, "expirationDateTime")?
        .map(|raw| validate::expiration(raw, now))
        .transpose()?;
    let notification_url = string_prop(&body, "notificationUrl")?;
    if let Some(raw) = notification_url {
        let url = validate::endpoint_url("notificationUrl", raw)?;
        validate::handshake(&state, &url).await?;
    }
    let rendered = {
        let mut n = state.notify.lock();
        let sub = n
            .subscriptions
            .get_mut(&id)
            .filter(|s| s.expiration > now)
            .ok_or_else(not_found)?;
        if let Some(expiration) = expiration {
            sub.expiration = expiration;
            sub.challenges_sent = crossed_thresholds(expiration, now);
        }
        if let Some(url) = notification_url {
            sub.notification_url = url.to_owned();
        }
        sub.last_reauthorized = Some(now);
        render(&state, sub)
    };
    state.notify.wake.notify_one();
    Ok(Json(rendered))
}

/// `DELETE /subscriptions/{id}` — any authenticated caller that can see it.
async fn remove(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> GraphResult<StatusCode> {
    let now = state.clock.now();
    let mut n = state.notify.lock();
    if !n
        .subscriptions
        .get(&id)
        .is_some_and(|s| visible(&caller, s, now))
    {
        return Err(not_found());
    }
    n.subscriptions.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /subscriptions/{id}/reauthorize` — answers a
/// `reauthorizationRequired` challenge without changing the expiration;
/// needs the read permission the subscription was created with.
async fn reauthorize(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
) -> GraphResult<StatusCode> {
    caller.require(&READ_GROUP_MEMBERS)?;
    let now = state.clock.now();
    let mut n = state.notify.lock();
    let sub = n
        .subscriptions
        .get_mut(&id)
        .filter(|s| visible(&caller, s, now))
        .ok_or_else(not_found)?;
    sub.last_reauthorized = Some(now);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_forms() {
        assert_eq!(group_of("/groups/g1/members"), Some("g1"));
        assert_eq!(group_of("groups/g1/members"), Some("g1"));
        assert_eq!(group_of("/Groups/g1/Members"), Some("g1"));
        assert_eq!(group_of("/groups/g1"), None);
        assert_eq!(group_of("/groups/g1/members/x"), None);
        assert_eq!(group_of("/users/u1/memberOf"), None);
    }
}
