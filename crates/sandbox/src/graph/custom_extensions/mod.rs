//! Emulated entitlement-management custom extensions:
//! `…/catalogs/{id}/customWorkflowExtensions` (create, list, get), and the
//! policy binding (`customExtensionStageSettings`) the assignment-policy
//! handlers store and render through [`set_stage_settings`] and
//! [`stage_settings_json`]. The callouts themselves are sent by
//! `sandbox::notify` (see `notify::callouts` for the relay's wire format).

pub mod resume;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::GraphJson;
use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use crate::SimState;
use crate::clock::{graph_time, parse_iso_duration};
use crate::notify::callouts::{STAGES, StageSetting, StoredExtension};

const BASE: &str =
    "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions";

/// The docs list "EntitlementManagement.Read.All EntitlementManagement.ReadWrite.All"
/// for the application create permission (docs/architecture.md, "Graph
/// permissions"); a read permission that writes is a doc slip, so only
/// ReadWrite.All is accepted.
const WRITE: Permission = Permission {
    delegated: &["EntitlementManagement.ReadWrite.All"],
    application: Some(&["EntitlementManagement.ReadWrite.All"]),
};
const READ: Permission = Permission {
    delegated: &[
        "EntitlementManagement.Read.All",
        "EntitlementManagement.ReadWrite.All",
    ],
    application: Some(&[
        "EntitlementManagement.Read.All",
        "EntitlementManagement.ReadWrite.All",
    ]),
};

const REQUEST_EXTENSION: &str = "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension";
const ASSIGNMENT_EXTENSION: &str = "#microsoft.graph.accessPackageAssignmentWorkflowExtension";
/// "Custom extensions … 20 per catalog" (governance service limits).
pub const MAX_PER_CATALOG: usize = 20;
/// "… 5 per policy".
pub const MAX_PER_POLICY: usize = 5;

pub fn routes() -> Router<SimState> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(&format!("{BASE}/{{extension_id}}"), get(get_one))
        .route(
            "/identityGovernance/entitlementManagement/assignmentRequests/{id}/resume",
            axum::routing::post(resume::resume),
        )
}

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request(message)
}

fn odata_type(value: &Value) -> Option<String> {
    value
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| format!("#{}", t.trim_start_matches('#')))
}

fn catalog_exists(state: &SimState, id: &str) -> GraphResult<()> {
    if state.world().catalogs.contains_key(id) {
        Ok(())
    } else {
        Err(GraphError::not_found(format!(
            "Catalog '{id}' was not found."
        )))
    }
}

/// `POST …/catalogs/{id}/customWorkflowExtensions` — EntitlementManagement.ReadWrite.All
/// (delegated or application). Body per the docs' examples; the second
/// example wraps the entity in `"value"`, which is accepted and unwrapped.
async fn create(
    State(state): State<SimState>,
    caller: Caller,
    Path(catalog_id): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    caller.require(&WRITE)?;
    catalog_exists(&state, &catalog_id)?;
    let body = match body.get("value") {
        Some(inner @ Value::Object(_)) if body.get("@odata.type").is_none() => inner.clone(),
        _ => body,
    };
    let kind = odata_type(&body).ok_or_else(|| {
        bad("The '@odata.type' of the custom extension is required: accessPackageAssignmentRequestWorkflowExtension or accessPackageAssignmentWorkflowExtension.")
    })?;
    if kind != REQUEST_EXTENSION && kind != ASSIGNMENT_EXTENSION {
        return Err(bad(format!(
            "'{kind}' is not a custom extension type of entitlement management."
        )));
    }
    let display_name = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("The property 'displayName' is required."))?;
    let mut endpoint = endpoint_configuration(&body, caller.is_app())?;
    let authentication = authentication_configuration(&body)?;
    let callback = callback_configuration(&body, &kind)?;
    let client = client_configuration(&body)?;

    let id = uuid::Uuid::new_v4().to_string();
    if endpoint.get("url").is_none_or(Value::is_null) {
        // Graph fills in the Logic App's trigger URL it resolved.
        endpoint.insert(
            "url".into(),
            json!(format!(
                "https://prod-00.westus.logic.azure.com:443/workflows/{}/triggers/manual/paths/invoke?api-version=2016-10-01",
                id.replace('-', "")
            )),
        );
    }
    let now = graph_time(state.clock.now());
    let who = caller
        .claims
        .upn
        .clone()
        .unwrap_or_else(|| caller.app_id().to_owned());
    let mut entity = json!({
        "@odata.type": kind,
        "id": id,
        "displayName": display_name,
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "createdBy": who,
        "createdDateTime": now,
        "lastModifiedBy": who,
        "lastModifiedDateTime": now,
        "clientConfiguration": client,
        "endpointConfiguration": endpoint,
        "authenticationConfiguration": authentication,
    });
    if kind == REQUEST_EXTENSION {
        entity["callbackConfiguration"] = callback;
    }
    {
        let mut n = state.notify.lock();
        let in_catalog = n
            .extensions
            .values()
            .filter(|e| e.catalog_id == catalog_id)
            .count();
        if in_catalog >= MAX_PER_CATALOG {
            return Err(bad(format!(
                "A catalog can hold at most {MAX_PER_CATALOG} custom extensions."
            )));
        }
        n.extensions.insert(
            id.clone(),
            StoredExtension {
                id: id.clone(),
                catalog_id: catalog_id.clone(),
                json: entity.clone(),
            },
        );
    }
    entity["@odata.context"] = json!(state.graph_url(&format!(
        "/$metadata#identityGovernance/entitlementManagement/catalogs('{catalog_id}')/customWorkflowExtensions/$entity"
    )));
    Ok((StatusCode::CREATED, Json(entity)).into_response())
}

fn endpoint_configuration(body: &Value, app_only: bool) -> GraphResult<Map<String, Value>> {
    let endpoint = body
        .get("endpointConfiguration")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("The property 'endpointConfiguration' is required."))?;
    if odata_type(&Value::Object(endpoint.clone())).as_deref()
        != Some("#microsoft.graph.logicAppTriggerEndpointConfiguration")
    {
        return Err(bad(
            "Entitlement management custom extensions call Logic Apps: endpointConfiguration must be a #microsoft.graph.logicAppTriggerEndpointConfiguration.",
        ));
    }
    for name in [
        "subscriptionId",
        "resourceGroupName",
        "logicAppWorkflowName",
    ] {
        if !endpoint.get(name).is_some_and(Value::is_string) {
            return Err(bad(format!("endpointConfiguration.{name} is required.")));
        }
    }
    if app_only && !endpoint.get("url").is_some_and(Value::is_string) {
        return Err(bad(
            "endpointConfiguration.url is required when an app creates a custom extension without a signed-in user.",
        ));
    }
    let mut out = endpoint.clone();
    out.insert(
        "@odata.type".into(),
        json!("#microsoft.graph.logicAppTriggerEndpointConfiguration"),
    );
    Ok(out)
}

fn authentication_configuration(body: &Value) -> GraphResult<Value> {
    let auth = body
        .get("authenticationConfiguration")
        .filter(|v| v.is_object())
        .ok_or_else(|| bad("The property 'authenticationConfiguration' is required."))?;
    match odata_type(auth).as_deref() {
        Some("#microsoft.graph.azureAdPopTokenAuthentication") => {
            Ok(json!({ "@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication" }))
        }
        Some("#microsoft.graph.azureAdTokenAuthentication") => {
            let resource = auth
                .get("resourceId")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("azureAdTokenAuthentication.resourceId is required."))?;
            Ok(json!({
                "@odata.type": "#microsoft.graph.azureAdTokenAuthentication",
                "resourceId": resource,
            }))
        }
        _ => Err(bad(
            "authenticationConfiguration must be azureAdPopTokenAuthentication or azureAdTokenAuthentication.",
        )),
    }
}

/// Launch-and-wait settings. The CSDL names the timeout `timeoutDuration`;
/// the docs' create example sends `durationBeforeTimeout`, accepted as an
/// alias and returned under the CSDL name.
fn callback_configuration(body: &Value, kind: &str) -> GraphResult<Value> {
    let Some(callback) = body.get("callbackConfiguration").filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    if kind == ASSIGNMENT_EXTENSION {
        return Err(bad(
            "accessPackageAssignmentWorkflowExtension doesn't support Launch and Wait: remove callbackConfiguration.",
        ));
    }
    let raw = callback
        .get("timeoutDuration")
        .or_else(|| callback.get("durationBeforeTimeout"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("callbackConfiguration.timeoutDuration is required."))?;
    let duration = parse_iso_duration(raw).map_err(bad)?;
    if duration < chrono::Duration::minutes(5) || duration > chrono::Duration::days(14) {
        return Err(bad(
            "callbackConfiguration.timeoutDuration must be between 5 minutes and 14 days.",
        ));
    }
    Ok(json!({
        "@odata.type": odata_type(callback)
            .unwrap_or_else(|| "#microsoft.graph.customExtensionCallbackConfiguration".into()),
        "timeoutDuration": raw,
    }))
}

fn client_configuration(body: &Value) -> GraphResult<Value> {
    let Some(client) = body.get("clientConfiguration").filter(|v| !v.is_null()) else {
        return Ok(Value::Null);
    };
    let timeout = client.get("timeoutInMilliseconds").map(Value::as_i64);
    let retries = client.get("maximumRetries").map(Value::as_i64);
    if let Some(t) = timeout
        && !t.is_some_and(|t| (200..=2000).contains(&t))
    {
        return Err(bad(
            "clientConfiguration.timeoutInMilliseconds must be between 200 and 2000.",
        ));
    }
    if let Some(r) = retries
        && !r.is_some_and(|r| (0..=1).contains(&r))
    {
        return Err(bad("clientConfiguration.maximumRetries must be 0 or 1."));
    }
    Ok(json!({
        "timeoutInMilliseconds": timeout.flatten().unwrap_or(1000),
        "maximumRetries": retries.flatten().unwrap_or(1),
    }))
}

/// `GET …/catalogs/{id}/customWorkflowExtensions` — EntitlementManagement.Read.All
/// or ReadWrite.All (delegated or application).
async fn list(
    State(state): State<SimState>,
    caller: Caller,
    Path(catalog_id): Path<String>,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    catalog_exists(&state, &catalog_id)?;
    let value: Vec<Value> = state
        .notify
        .lock()
        .extensions
        .values()
        .filter(|e| e.catalog_id == catalog_id)
        .map(|e| e.json.clone())
        .collect();
    Ok(Json(json!({
        "@odata.context": state.graph_url(&format!(
            "/$metadata#identityGovernance/entitlementManagement/catalogs('{catalog_id}')/customWorkflowExtensions"
        )),
        "value": value,
    })))
}

/// `GET …/catalogs/{id}/customWorkflowExtensions/{extensionId}` — as list.
async fn get_one(
    State(state): State<SimState>,
    caller: Caller,
    Path((catalog_id, extension_id)): Path<(String, String)>,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    catalog_exists(&state, &catalog_id)?;
    state
        .notify
        .lock()
        .extensions
        .get(&extension_id)
        .filter(|e| e.catalog_id == catalog_id)
        .map(|e| Json(e.json.clone()))
        .ok_or_else(|| {
            GraphError::not_found(format!(
                "Custom extension '{extension_id}' was not found in catalog '{catalog_id}'."
            ))
        })
}

/// Stores a policy's `customExtensionStageSettings` as Graph receives them in
/// a policy body (`[{"stage", "customExtension": {"id"}}]`); for the policy
/// create/update handlers. Request stages need an
/// accessPackageAssignmentRequestWorkflowExtension, the pre-expiry stages an
/// accessPackageAssignmentWorkflowExtension.
pub fn set_stage_settings(state: &SimState, policy_id: &str, settings: &Value) -> GraphResult<()> {
    let items = settings
        .as_array()
        .ok_or_else(|| bad("customExtensionStageSettings must be an array."))?;
    if items.len() > MAX_PER_POLICY {
        return Err(bad(format!(
            "A policy can use at most {MAX_PER_POLICY} custom extensions."
        )));
    }
    let mut n = state.notify.lock();
    let mut parsed = Vec::new();
    for item in items {
        let stage = item
            .get("stage")
            .and_then(Value::as_str)
            .filter(|s| STAGES.contains(s))
            .ok_or_else(|| bad("customExtensionStageSettings.stage must be an accessPackageCustomExtensionStage value."))?;
        let extension_id = item
            .pointer("/customExtension/id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("customExtensionStageSettings.customExtension.id is required."))?;
        let extension = n
            .extensions
            .get(extension_id)
            .ok_or_else(|| bad(format!("Custom extension '{extension_id}' does not exist.")))?;
        let wanted = if stage.starts_with("assignmentRequest") {
            REQUEST_EXTENSION
        } else {
            ASSIGNMENT_EXTENSION
        };
        if odata_type(&extension.json).as_deref() != Some(wanted) {
            return Err(bad(format!(
                "Stage '{stage}' needs a custom extension of type {wanted}."
            )));
        }
        parsed.push(StageSetting {
            id: uuid::Uuid::new_v4().to_string(),
            stage: stage.to_owned(),
            custom_extension_id: extension_id.to_owned(),
        });
    }
    n.stage_settings.insert(policy_id.to_owned(), parsed);
    Ok(())
}

/// A policy's `customExtensionStageSettings` for rendering, with the
/// extension expanded when `$expand=customExtensionStageSettings($expand=customExtension)`.
pub fn stage_settings_json(state: &SimState, policy_id: &str, expand_extension: bool) -> Value {
    let n = state.notify.lock();
    let settings = n.stage_settings.get(policy_id).cloned().unwrap_or_default();
    Value::Array(
        settings
            .iter()
            .map(|s| {
                let extension = n.extensions.get(&s.custom_extension_id);
                let mut out = json!({ "id": s.id, "stage": s.stage });
                if expand_extension && let Some(e) = extension {
                    out["customExtension"] = e.json.clone();
                }
                out
            })
            .collect(),
    )
}
