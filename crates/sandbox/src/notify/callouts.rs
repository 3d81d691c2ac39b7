//! Entitlement-management custom-extension callouts, as the **Logic App
//! relay** delivers them to stagegate.
//!
//! Entitlement management can only call a Logic App (docs/architecture.md,
//! "Entitlement management custom extensions"); stagegate ships a Logic App
//! (`manifests/logic-app/`) that receives the callout and forwards it.
//! Microsoft documents the callout only at type level
//! (`customExtensionCalloutRequest` + `accessPackageAssignmentRequestCalloutData`),
//! so the relay's wire format is **ours**, fixed here:
//!
//! ```text
//! POST {callout_url}
//! Content-Type: application/json; charset=utf-8
//! X-Stagegate-Relay-Secret: {callout_secret}      (compare in constant time)
//!
//! {
//!   "source": "Entra",
//!   "type": "microsoft.graph.accessPackageCustomExtensionStage.<stage>",
//!   "data": {
//!     "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCalloutData",
//!     "stage": "<stage>",                        // accessPackageCustomExtensionStage
//!     "customExtensionStageInstanceId": "<guid>", // unique per callout: the idempotency key
//!     "customExtensionId": "<guid>" | null,       // null = the sandbox's default binding
//!     "callbackUriPath": "/identityGovernance/entitlementManagement/assignmentRequests/<id>/resume",
//!     "callbackConfiguration": {..} | null,       // set only for launch-and-wait extensions
//!     "accessPackageAssignmentRequestId": "<guid>",
//!     "requestType": "userAdd", "state": "pendingApproval", "status": "PendingApproval",
//!     "answers": [ accessPackageAnswerString … ],
//!     "accessPackage":        { "id", "displayName", "description" },
//!     "accessPackageCatalog": { "id", "displayName", "description" },
//!     "assignment": { "id", "state", "status", "accessPackageId", "assignmentPolicyId",
//!                     "schedule": { "startDateTime", "expiration": { "type", "endDateTime" } },
//!                     "target": accessPackageSubject } | null,
//!     "requestor": accessPackageSubject   // { "id", "objectId", "displayName", "email",
//!                                          //   "principalName", "subjectType" }
//!   }
//! }
//! ```
//!
//! `<stage>` is one of `assignmentRequestCreated`, `assignmentRequestApproved`,
//! `assignmentRequestGranted`, `assignmentRequestRemoved`,
//! `assignmentFourteenDaysBeforeExpiration`, `assignmentOneDayBeforeExpiration`
//! (CSDL `accessPackageCustomExtensionStage`). Keys are camelCase as in the
//! CSDL types; `source` is `"Entra"`, the only value Microsoft's examples show.
//! The fields reflect the request **when the callout is built** (shortly after
//! the event), not a snapshot at the event's instant.
//!
//! Delivery: stagegate must answer 2xx. 408, 429, 5xx and transport failures
//! are retried with Logic Apps' default policy (4 retries: 7.5 s, 15 s, 30 s,
//! 45 s of emulated time, see [`RetryPolicy::LogicApp`]); any other answer
//! fails the delivery at once. Every attempt is listed at `GET /sim/callouts`.
//!
//! Binding: a policy whose `customExtensionStageSettings` were set (see
//! [`super::Notifications::stage_settings`]) calls out only for the bound
//! stages; every other policy is bound, stage by stage, to the sandbox's
//! relay — so the bot always gets callouts when `callout_url` is configured.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::delivery::{Delivery, DeliveryKind, RetryPolicy};
use crate::clock::graph_time;
use crate::world::{SimEvent, World};

/// The header carrying the relay's shared secret.
pub const RELAY_SECRET_HEADER: &str = "X-Stagegate-Relay-Secret";
/// The `source` the relay puts on every callout.
pub const CALLOUT_SOURCE: &str = "Entra";
/// Prefix of the callout `type`.
pub const STAGE_TYPE_PREFIX: &str = "microsoft.graph.accessPackageCustomExtensionStage.";

/// The custom-extension stages entitlement management calls out for.
pub const STAGES: [&str; 6] = [
    "assignmentRequestCreated",
    "assignmentRequestApproved",
    "assignmentRequestGranted",
    "assignmentRequestRemoved",
    "assignmentFourteenDaysBeforeExpiration",
    "assignmentOneDayBeforeExpiration",
];

/// A `customCalloutExtension` stored under a catalog.
#[derive(Debug, Clone)]
pub struct StoredExtension {
    pub id: String,
    pub catalog_id: String,
    /// The Graph representation returned by GET.
    pub json: Value,
}

impl StoredExtension {
    pub fn callback_configuration(&self) -> Value {
        self.json
            .get("callbackConfiguration")
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// One `customExtensionStageSetting` of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSetting {
    pub id: String,
    pub stage: String,
    pub custom_extension_id: String,
}

/// The custom-extension stage an event stands for.
pub fn stage_of(event: &SimEvent) -> Option<&'static str> {
    match event {
        SimEvent::RequestCreated { .. } => Some("assignmentRequestCreated"),
        SimEvent::RequestApproved { .. } => Some("assignmentRequestApproved"),
        SimEvent::AssignmentGranted { .. } => Some("assignmentRequestGranted"),
        SimEvent::AssignmentRemoved { .. } => Some("assignmentRequestRemoved"),
        SimEvent::AssignmentExpiring { days: 14, .. } => {
            Some("assignmentFourteenDaysBeforeExpiration")
        }
        SimEvent::AssignmentExpiring { days: 1, .. } => Some("assignmentOneDayBeforeExpiration"),
        _ => None,
    }
}

/// Builds the relay deliveries for `events`.
pub fn build(
    world: &World,
    events: &[SimEvent],
    settings: &BTreeMap<String, Vec<StageSetting>>,
    extensions: &BTreeMap<String, StoredExtension>,
    relay_url: &str,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    for event in events {
        let Some(stage) = stage_of(event) else {
            continue;
        };
        let Some(request_id) = request_for(world, event) else {
            tracing::debug!(?event, "callout event without a known request; skipped");
            continue;
        };
        let Some(request) = world.requests.get(&request_id) else {
            continue;
        };
        let extension = match settings.get(&request.policy_id) {
            Some(bound) => match bound.iter().find(|s| s.stage == stage) {
                Some(s) => extensions.get(&s.custom_extension_id),
                None => continue,
            },
            None => None,
        };
        let instance_id = uuid::Uuid::new_v4().to_string();
        let body = payload(world, &request_id, stage, &instance_id, extension);
        out.push(Delivery::new(
            DeliveryKind::Callout {
                stage: stage.to_owned(),
                access_package_assignment_request_id: request_id,
                custom_extension_stage_instance_id: instance_id,
            },
            relay_url.to_owned(),
            body,
            RetryPolicy::LogicApp,
            now,
        ));
    }
    out
}

/// The request an event concerns: named, or the latest one that created or
/// changed the assignment.
fn request_for(world: &World, event: &SimEvent) -> Option<String> {
    match event {
        SimEvent::RequestCreated { request_id }
        | SimEvent::RequestApproved { request_id }
        | SimEvent::AssignmentGranted { request_id, .. } => Some(request_id.clone()),
        SimEvent::AssignmentRemoved { assignment_id }
        | SimEvent::AssignmentExpiring { assignment_id, .. } => world
            .requests
            .values()
            .filter(|r| r.assignment_id.as_deref() == Some(assignment_id))
            .max_by_key(|r| r.created)
            .map(|r| r.id.clone()),
        _ => None,
    }
}

fn payload(
    world: &World,
    request_id: &str,
    stage: &str,
    instance_id: &str,
    extension: Option<&StoredExtension>,
) -> Value {
    let Some(request) = world.requests.get(request_id) else {
        return Value::Null;
    };
    let package = world.access_packages.get(&request.access_package_id);
    let catalog = package.and_then(|p| world.catalogs.get(&p.catalog_id));
    let assignment = request
        .assignment_id
        .as_deref()
        .and_then(|id| world.assignments.get(id))
        .map(|a| {
            json!({
                "id": a.id,
                "state": a.state,
                "status": a.status,
                "accessPackageId": a.access_package_id,
                "assignmentPolicyId": a.policy_id,
                "schedule": {
                    "startDateTime": graph_time(a.start),
                    "expiration": match a.end {
                        Some(end) => json!({ "type": "afterDateTime", "endDateTime": graph_time(end) }),
                        None => json!({ "type": "noExpiration" }),
                    },
                },
                "target": subject(world, &a.target_id),
            })
        })
        .unwrap_or(Value::Null);
    json!({
        "source": CALLOUT_SOURCE,
        "type": format!("{STAGE_TYPE_PREFIX}{stage}"),
        "data": {
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCalloutData",
            "stage": stage,
            "customExtensionStageInstanceId": instance_id,
            "customExtensionId": extension.map(|e| e.id.clone()),
            "callbackUriPath": format!(
                "/identityGovernance/entitlementManagement/assignmentRequests/{request_id}/resume"
            ),
            "callbackConfiguration": extension.map_or(Value::Null, StoredExtension::callback_configuration),
            "accessPackageAssignmentRequestId": request_id,
            "requestType": request.request_type,
            "state": request.state,
            "status": request.status,
            "answers": request.answers,
            "accessPackage": package.map(|p| json!({
                "id": p.id, "displayName": p.display_name, "description": p.description,
            })),
            "accessPackageCatalog": catalog.map(|c| json!({
                "id": c.id, "displayName": c.display_name, "description": c.description,
            })),
            "assignment": assignment,
            "requestor": subject(world, &request.requestor_id),
        }
    })
}

/// An `accessPackageSubject` for a user or the app's service principal.
fn subject(world: &World, id: &str) -> Value {
    if let Some(user) = world.users.get(id) {
        return json!({
            "id": user.id,
            "objectId": user.id,
            "displayName": user.display_name,
            "email": user.mail,
            "principalName": user.user_principal_name,
            "subjectType": "user",
        });
    }
    if world.app.service_principal_id == id {
        return json!({
            "id": id,
            "objectId": id,
            "displayName": world.app.display_name,
            "subjectType": "servicePrincipal",
        });
    }
    json!({ "id": id, "objectId": id, "subjectType": "notSpecified" })
}
