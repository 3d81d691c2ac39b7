//! `POST /api/graph/callouts`: entitlement-management custom-extension
//! callouts, forwarded by stagegate's Logic App relay
//! (`manifests/logic-app/relay.workflow.json`).
//!
//! The relay sends the callout body as Entra gave it, plus the shared secret
//! in `X-Stagegate-Relay-Secret`; the wire format is fixed in
//! `sandbox::notify::callouts`. The secret is compared in constant time
//! before the body is read. Each callout becomes
//! `reconcile(request, Cause::Callout { stage })` after the answer, `202
//! Accepted` (the relay retries 408, 429 and 5xx; any other 4xx fails the
//! delivery for good, which is right for a malformed or forged callout).
//!
//! Microsoft documents the callout only at type level, with camelCase names
//! (`accessPackageAssignmentRequestCalloutData`), while its Logic Apps how-to
//! reads PascalCase keys (`triggerBody()?['CallbackUriPath']`;
//! docs/architecture.md, "Entitlement management custom extensions").
//! Property names are therefore matched case-insensitively, and a body
//! without the `data` envelope is read as the data itself: whichever casing
//! Entra really sends, the relay can forward it untouched.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::notifications::read_body;
use super::worker::Work;
use super::{Intake, busy, problem};
use crate::engine::intake::CustomExtensionStage;
use crate::http::refusals::{self, Source};
use stagegate_domain::ids::RequestId;

/// The header carrying the relay's shared secret.
pub const RELAY_SECRET_HEADER: &str = "X-Stagegate-Relay-Secret";
/// Prefix of the callout `type`: `microsoft.graph.accessPackageCustomExtensionStage.<stage>`.
const STAGE_TYPE_PREFIX: &str = "microsoft.graph.accessPackageCustomExtensionStage.";

/// The Logic App relay only, authenticated by the shared secret in
/// `X-Stagegate-Relay-Secret` (checked before the body is read).
pub(super) async fn receive(State(intake): State<Intake>, request: Request) -> Response {
    let Some(secret) = intake.inner.config.callout_secret.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorized(request.headers(), |c| secret.matches(c)) {
        if refusals::admit(Source::Intake) {
            tracing::warn!("callout refused: relay secret missing or wrong");
        }
        return problem(
            StatusCode::UNAUTHORIZED,
            format!("the {RELAY_SECRET_HEADER} header is missing or wrong"),
        );
    }
    let body = match read_body(request, intake.inner.config.body_limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let callout = match parse(&body) {
        Ok(c) => c,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, detail),
    };
    if callout.launch_and_wait {
        tracing::warn!(
            request = %callout.request,
            "callout from a launch-and-wait extension: stagegate never resumes it; bind the extension as launch-and-continue"
        );
    }
    let work = Work::Callout {
        request: callout.request,
        stage: callout.stage,
    };
    if intake.enqueue(vec![work]).is_err() {
        tracing::warn!(request = %callout.request, "intake queue full; the relay will retry");
        return busy();
    }
    tracing::info!(request = %callout.request, stage = ?callout.stage, "callout accepted");
    StatusCode::ACCEPTED.into_response()
}

/// Exactly one `X-Stagegate-Relay-Secret` header whose value `matches`.
fn authorized(headers: &HeaderMap, matches: impl Fn(&[u8]) -> bool) -> bool {
    let mut values = headers.get_all(RELAY_SECRET_HEADER).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => matches(value.as_bytes()),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    pub request: RequestId,
    pub stage: CustomExtensionStage,
    /// `callbackConfiguration` is set: Entra waits for a `resume`.
    pub launch_and_wait: bool,
}

/// Reads the request id and stage of a relayed callout.
pub fn parse(body: &[u8]) -> Result<Callout, String> {
    let root: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let Value::Object(root) = root else {
        return Err("expected a customExtensionCalloutRequest object".into());
    };
    let data = match get(&root, "data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err("`data` must be an object".into()),
        None => &root,
    };
    let request = match get(data, "accessPackageAssignmentRequestId") {
        Some(Value::String(id)) => id
            .parse::<RequestId>()
            .map_err(|e| format!("accessPackageAssignmentRequestId: {e}"))?,
        Some(_) => return Err("accessPackageAssignmentRequestId must be a string".into()),
        None => return Err("accessPackageAssignmentRequestId is missing".into()),
    };
    let stage_name = match get(data, "stage") {
        Some(Value::String(stage)) => stage.clone(),
        Some(_) => return Err("stage must be a string".into()),
        None => match get(&root, "type") {
            Some(Value::String(t)) => match t.get(..STAGE_TYPE_PREFIX.len()) {
                Some(prefix) if prefix.eq_ignore_ascii_case(STAGE_TYPE_PREFIX) => {
                    t[STAGE_TYPE_PREFIX.len()..].to_owned()
                }
                _ => return Err(format!("type must be {STAGE_TYPE_PREFIX}<stage>")),
            },
            _ => return Err("stage is missing (neither data.stage nor type)".into()),
        },
    };
    let stage = stage(&stage_name)?;
    let launch_and_wait = get(data, "callbackConfiguration").is_some_and(|v| !v.is_null());
    Ok(Callout {
        request,
        stage,
        launch_and_wait,
    })
}

/// `accessPackageCustomExtensionStage`, also in PascalCase (Microsoft's own
/// resume example writes `AssignmentRequestCreated`). Unknown values become
/// `unknownFutureValue`: a reconcile is right whatever the stage.
fn stage(raw: &str) -> Result<CustomExtensionStage, String> {
    let mut chars = raw.chars();
    let Some(first) = chars.next() else {
        return Err("stage is empty".into());
    };
    let camel: String = first.to_lowercase().chain(chars).collect();
    serde_json::from_value(Value::String(camel)).map_err(|e| format!("stage: {e}"))
}

/// A property by name, ignoring ASCII case (exact match preferred).
fn get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "9e60f18c-b2a0-4887-9da8-da2e30a39d99";

    fn parse_json(v: Value) -> Result<Callout, String> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn reads_the_relay_format() {
        let c = parse_json(json!({
            "source": "Entra",
            "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestGranted",
            "data": {
                "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCalloutData",
                "stage": "assignmentRequestGranted",
                "accessPackageAssignmentRequestId": ID,
                "callbackConfiguration": null,
            }
        }))
        .unwrap();
        assert_eq!(c.request.to_string(), ID);
        assert_eq!(c.stage, CustomExtensionStage::AssignmentRequestGranted);
        assert!(!c.launch_and_wait);
    }

    #[test]
    fn tolerates_pascal_case_and_a_flat_body() {
        let c = parse_json(json!({
            "AccessPackageAssignmentRequestId": ID.to_uppercase(),
            "Stage": "AssignmentRequestCreated",
            "CallbackConfiguration": { "timeoutDuration": "PT1H" },
        }))
        .unwrap();
        assert_eq!(c.stage, CustomExtensionStage::AssignmentRequestCreated);
        assert!(c.launch_and_wait);
    }

    #[test]
    fn stage_from_type_and_unknown_stages() {
        let c = parse_json(json!({
            "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentOneDayBeforeExpiration",
            "data": { "accessPackageAssignmentRequestId": ID },
        }))
        .unwrap();
        assert_eq!(
            c.stage,
            CustomExtensionStage::AssignmentOneDayBeforeExpiration
        );
        let c = parse_json(
            json!({ "data": { "accessPackageAssignmentRequestId": ID, "stage": "somethingNew" } }),
        )
        .unwrap();
        assert_eq!(c.stage, CustomExtensionStage::UnknownFutureValue);
    }

    #[test]
    fn malformed_callouts_say_what_is_wrong() {
        let cases = [
            (json!([]), "object"),
            (json!({ "data": 5 }), "data"),
            (
                json!({ "data": { "stage": "assignmentRequestCreated" } }),
                "missing",
            ),
            (
                json!({ "data": { "accessPackageAssignmentRequestId": "nope", "stage": "x" } }),
                "GUID",
            ),
            (
                json!({ "data": { "accessPackageAssignmentRequestId": 7 } }),
                "string",
            ),
            (
                json!({ "data": { "accessPackageAssignmentRequestId": ID } }),
                "stage",
            ),
            (
                json!({ "data": { "accessPackageAssignmentRequestId": ID, "stage": "" } }),
                "empty",
            ),
        ];
        for (body, expected) in cases {
            let err = parse_json(body.clone()).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
        assert_eq!(parse(b"{").unwrap_err(), "the body is not JSON");
    }

    #[test]
    fn exactly_one_secret_header() {
        let check = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(RELAY_SECRET_HEADER, v.parse().unwrap());
            }
            authorized(&headers, |c| c == b"right")
        };
        assert!(check(&["right"]));
        assert!(!check(&["wrong"]));
        assert!(!check(&[]));
        assert!(!check(&["right", "right"]));
    }
}
