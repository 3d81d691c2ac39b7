//! The shipped Logic App relay (`manifests/logic-app/relay.workflow.json`):
//! importable JSON that answers Entra at once and forwards the callout to
//! the documented path with the documented header.

use serde_json::Value;

fn workflow() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/manifests/logic-app/relay.workflow.json"
    );
    let text = std::fs::read_to_string(path).expect("relay definition exists");
    serde_json::from_str(&text).expect("relay definition is JSON")
}

#[test]
fn the_relay_definition_is_a_consumption_workflow_with_an_http_trigger() {
    let w = workflow();
    let definition = &w["definition"];
    assert_eq!(
        definition["$schema"],
        "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#"
    );
    let triggers = definition["triggers"].as_object().unwrap();
    assert_eq!(triggers.len(), 1);
    let trigger = triggers.values().next().unwrap();
    assert_eq!(trigger["type"], "Request");
    assert_eq!(trigger["kind"], "Http");
    assert_eq!(trigger["inputs"]["method"], "POST");
    let data = &trigger["inputs"]["schema"]["properties"]["data"]["properties"];
    for key in [
        "accessPackageAssignmentRequestId",
        "stage",
        "customExtensionStageInstanceId",
        "callbackUriPath",
    ] {
        assert!(data.get(key).is_some(), "schema lacks data.{key}");
    }
    // Only Entra's proof-of-possession calls run it (the AADPOP policy on
    // the workflow checks the token; this needs the header in the outputs).
    assert_eq!(
        trigger["operationOptions"],
        "IncludeAuthorizationHeadersInOutputs"
    );
    assert!(
        trigger["conditions"][0]["expression"]
            .as_str()
            .unwrap()
            .contains("'PoP'")
    );
    // Every parameter the definition uses is declared.
    let declared = definition["parameters"].as_object().unwrap();
    let text = definition.to_string();
    for used in text.split("parameters('").skip(1) {
        let name = used.split('\'').next().unwrap();
        assert!(declared.contains_key(name), "undeclared parameter {name}");
    }
}

#[test]
fn the_relay_answers_entra_first_then_forwards_to_stagegate_with_the_secret() {
    let w = workflow();
    let actions = w["definition"]["actions"].as_object().unwrap();
    let (respond_name, respond) = actions
        .iter()
        .find(|(_, a)| a["type"] == "Response")
        .expect("a Response action");
    // Entra waits at most 2 s for the Logic App: the answer does not wait
    // for stagegate.
    assert_eq!(respond["inputs"]["statusCode"], 202);
    assert_eq!(respond["runAfter"], serde_json::json!({}));

    let forward = actions
        .values()
        .find(|a| a["type"] == "Http" && a["inputs"]["method"] == "POST")
        .expect("an HTTP POST action");
    let uri = forward["inputs"]["uri"].as_str().unwrap();
    assert!(uri.ends_with(stagegate::intake::CALLOUTS_PATH), "{uri}");
    assert_eq!(forward["inputs"]["body"], "@triggerBody()");
    let headers = forward["inputs"]["headers"].as_object().unwrap();
    let secret = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(stagegate::intake::RELAY_SECRET_HEADER))
        .map(|(_, v)| v.as_str().unwrap())
        .expect("the secret header");
    assert!(
        secret.starts_with("@"),
        "the secret is an expression, not a literal"
    );
    assert_eq!(
        stagegate::intake::RELAY_SECRET_HEADER,
        stagegate_sandbox::notify::callouts::RELAY_SECRET_HEADER,
        "the bot reads the header the emulated relay sends"
    );
    // The secret never shows in run history.
    assert!(
        forward["runtimeConfiguration"]["secureData"]["properties"]
            .as_array()
            .unwrap()
            .contains(&"inputs".into())
    );
    // The forward runs after the answer (directly or via the secret fetch).
    let mut step = forward;
    let mut seen = 0;
    loop {
        let after = step["runAfter"].as_object().unwrap();
        let (name, _) = after
            .iter()
            .next()
            .expect("forward runs after the response");
        if name == respond_name {
            break;
        }
        step = &actions[name];
        seen += 1;
        assert!(seen < actions.len(), "runAfter cycle");
    }
}
