//! `POST /$batch`: sub-requests through the real router, `dependsOn` and
//! 424, and the whole-batch 400s.

use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};

async fn batch(sandbox: &TestSandbox, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = sandbox.http.post(sandbox.graph("/$batch")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn catalog_id(sandbox: &TestSandbox) -> String {
    sandbox
        .state
        .world()
        .catalogs
        .keys()
        .next()
        .unwrap()
        .clone()
}

fn by_id<'a>(responses: &'a Value, id: &str) -> &'a Value {
    responses["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no response {id}"))
}

#[tokio::test]
async fn runs_sub_requests_and_fails_dependents_with_424() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    let extensions = format!(
        "/identityGovernance/entitlementManagement/catalogs/{}/customWorkflowExtensions",
        catalog_id(&sandbox)
    );
    let body = json!({
        "requests": [
            { "id": "1", "method": "GET", "url": "/subscriptions" },
            { "id": "2", "method": "GET", "url": "/noSuchThing" },
            { "id": "3", "dependsOn": ["2"], "method": "GET", "url": "/subscriptions" },
            { "id": "4", "dependsOn": ["1"], "method": "GET", "url": extensions.trim_start_matches('/') },
            {
                "id": "5", "method": "POST", "url": extensions,
                "body": {}, "headers": { "Content-Type": "application/json" }
            },
            { "id": "6", "dependsOn": ["5"], "method": "GET", "url": "/subscriptions" }
        ]
    });
    let (status, responses) = batch(&sandbox, Some(&token), &body).await;
    assert_eq!(status, 200, "{responses}");
    assert_eq!(responses["responses"].as_array().unwrap().len(), 6);

    let one = by_id(&responses, "1");
    assert_eq!(one["status"], 200);
    assert_eq!(one["headers"]["Content-Type"], "application/json");
    assert_eq!(one["body"]["value"], json!([]));
    let two = by_id(&responses, "2");
    assert_eq!(two["status"], 400);
    assert_eq!(two["body"]["error"]["code"], "BadRequest");
    assert!(two["body"]["error"]["innerError"]["request-id"].is_string());
    let three = by_id(&responses, "3");
    assert_eq!(three["status"], 424);
    assert!(
        three["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'2'")
    );
    assert_eq!(by_id(&responses, "4")["status"], 200);
    // The outer app token holds only EntitlementManagement.Read.All.
    let five = by_id(&responses, "5");
    assert_eq!(five["status"], 403);
    assert_eq!(five["body"]["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(by_id(&responses, "6")["status"], 424);
}

#[tokio::test]
async fn delegated_write_through_batch() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.user_token("bianca", true).await;
    let extensions = format!(
        "/identityGovernance/entitlementManagement/catalogs/{}/customWorkflowExtensions",
        catalog_id(&sandbox)
    );
    let body = json!({
        "requests": [{
            "id": "create", "method": "POST", "url": extensions,
            "headers": { "Content-Type": "application/json" },
            "body": {
                "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
                "displayName": "relay",
                "endpointConfiguration": {
                    "@odata.type": "#microsoft.graph.logicAppTriggerEndpointConfiguration",
                    "subscriptionId": "s", "resourceGroupName": "g", "logicAppWorkflowName": "w"
                },
                "authenticationConfiguration": {
                    "@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"
                }
            }
        }, {
            "id": "list", "dependsOn": ["create"], "method": "GET", "url": extensions
        }]
    });
    let (status, responses) = batch(&sandbox, Some(&token), &body).await;
    assert_eq!(status, 200);
    let created = by_id(&responses, "create");
    assert_eq!(created["status"], 201, "{created}");
    assert_eq!(created["body"]["displayName"], "relay");
    let list = by_id(&responses, "list");
    assert_eq!(list["body"]["value"][0]["id"], created["body"]["id"]);
}

#[tokio::test]
async fn malformed_batches_are_refused_whole() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    let get = |id: &str| json!({ "id": id, "method": "GET", "url": "/subscriptions" });
    let twenty_one: Vec<Value> = (1..=21).map(|i| get(&i.to_string())).collect();
    let twenty: Vec<Value> = (1..=20).map(|i| get(&i.to_string())).collect();
    let cases = [
        (json!({ "requests": twenty_one }), "at most 20"),
        (json!({ "requests": [get("1"), get("1")] }), "unique"),
        (
            json!({ "requests": [{ "id": "1", "method": "POST", "url": "/$batch", "body": {},
            "headers": { "Content-Type": "application/json" } }] }),
            "Nested",
        ),
        (
            json!({ "requests": [{ "id": "1", "method": "POST", "url": "/subscriptions", "body": {} }] }),
            "Write request id : 1 does not contain Content-Type header or body.",
        ),
        (
            json!({ "requests": [{ "id": "1", "method": "GET", "url": "/subscriptions", "dependsOn": ["9"] }] }),
            "not in the batch",
        ),
        (
            json!({ "requests": [
            { "id": "1", "method": "GET", "url": "/subscriptions", "dependsOn": ["2"] },
            { "id": "2", "method": "GET", "url": "/subscriptions", "dependsOn": ["1"] }] }),
            "cycle",
        ),
        (
            json!({ "requests": [{ "id": "1", "method": "TRACE", "url": "/subscriptions" }] }),
            "method",
        ),
        (
            json!({ "requests": [{ "id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me" }] }),
            "relative",
        ),
        (json!({ "value": [] }), "Invalid batch payload format"),
    ];
    for (body, fragment) in cases {
        let (status, error) = batch(&sandbox, Some(&token), &body).await;
        assert_eq!(status, 400, "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(fragment), "{message}");
    }
    let (status, responses) = batch(&sandbox, Some(&token), &json!({ "requests": twenty })).await;
    assert_eq!(status, 200);
    assert_eq!(responses["responses"].as_array().unwrap().len(), 20);
    let (status, _) = batch(&sandbox, None, &json!({ "requests": [get("1")] })).await;
    assert_eq!(status, 401);
}
