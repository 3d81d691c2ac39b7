//! The emulated Graph directory: users, `/me`, managers and the manager
//! chain — shapes from Microsoft's examples
//! (shared/graph/examples/users-manager.md, api/user-get.md, user-list.md),
//! permissions, paging, filters and Graph's error codes.

use std::collections::BTreeSet;

use serde_json::Value;
use stagegate_sandbox::tenant::SEED_TENANT;

use crate::helpers::{TestSandbox, spawn_sandbox, spawn_sandbox_with_tenant};

pub const SECURITY_APPROVERS: &str = "0e7a0002-0000-4000-8000-000000000002";
const USER_DEFAULT: [&str; 11] = [
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

pub async fn get_with(
    sandbox: &TestSandbox,
    token: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = sandbox.http.get(url).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub async fn get(sandbox: &TestSandbox, token: &str, path: &str) -> (u16, Value) {
    get_with(sandbox, token, &sandbox.graph(path), &[]).await
}

pub const EVENTUAL: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A sandbox whose app registration grants other permissions.
pub async fn sandbox_with_permissions(replace: &[(&str, &str)]) -> TestSandbox {
    let mut tenant = SEED_TENANT.to_owned();
    for (from, to) in replace {
        assert!(tenant.contains(from), "seed tenant lacks {from}");
        tenant = tenant.replacen(from, to, 1);
    }
    spawn_sandbox_with_tenant(Some(tenant)).await
}

#[tokio::test]
async fn manager_example_1_by_id_and_by_upn() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let alex = sandbox.persona_id("alex");
    for key in [alex.as_str(), "alex@contoso.example"] {
        let (status, body) = get(&sandbox, &app, &format!("/users/{key}/manager")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], sandbox.persona_id("miriam"));
        assert_eq!(body["displayName"], "Miriam Graham");
        assert_eq!(body["jobTitle"], "IT Manager");
        assert_eq!(body["mail"], "miriam@contoso.example");
        assert_eq!(body["userPrincipalName"], "miriam@contoso.example");
        assert_eq!(body["@odata.type"], "#microsoft.graph.user");
        assert_eq!(
            body["@odata.context"],
            format!("{}/$metadata#directoryObjects/$entity", sandbox.graph(""))
        );
    }
}

#[tokio::test]
async fn manager_chain_example_2_from_me_with_nested_select() {
    let sandbox = spawn_sandbox().await;
    let alex = sandbox.user_token_with("alex", &["User.Read"]).await;
    let url = sandbox.graph(
        "/me?$expand=manager($levels=max;$select=id,displayName)&$select=id,displayName&$count=true",
    );
    let (status, body) = get_with(&sandbox, &alex, &url, EVENTUAL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], sandbox.persona_id("alex"));
    assert_eq!(body["displayName"], "Alex Wilber");
    assert!(body.get("jobTitle").is_none(), "top level is $select-ed");
    let miriam = &body["manager"];
    assert_eq!(miriam["id"], sandbox.persona_id("miriam"));
    assert_eq!(miriam["displayName"], "Miriam Graham");
    assert!(miriam.get("mail").is_none(), "nested $select applies");
    let megan = &miriam["manager"];
    assert_eq!(megan["displayName"], "Megan Bowen");
    assert!(megan.get("manager").is_none(), "Megan is the root");
}

#[tokio::test]
async fn manager_chain_levels_need_consistency_level() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let alex = sandbox.persona_id("alex");
    let url = sandbox.graph(&format!("/users/{alex}?$expand=manager($levels=2)"));
    let (status, body) = get_with(&sandbox, &app, &url, EVENTUAL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["manager"]["id"], sandbox.persona_id("miriam"));
    assert_eq!(
        body["manager"]["manager"]["id"],
        sandbox.persona_id("megan")
    );
    assert_eq!(body["manager"]["@odata.type"], "#microsoft.graph.user");

    let one = sandbox.graph(&format!("/users/{alex}?$expand=manager($levels=1)"));
    let (_, body) = get_with(&sandbox, &app, &one, EVENTUAL).await;
    assert!(body["manager"].get("manager").is_none());

    let (status, body) = get_with(&sandbox, &app, &url, &[]).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_UnsupportedQuery");
    let bad = sandbox.graph(&format!("/users/{alex}?$expand=manager($levels=0)"));
    let (status, _) = get_with(&sandbox, &app, &bad, EVENTUAL).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn missing_manager_and_unknown_user_are_request_resource_not_found() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let diego = sandbox.persona_id("diego");
    let (status, body) = get(&sandbox, &app, &format!("/users/{diego}/manager")).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    assert_eq!(
        body["error"]["message"],
        "Resource 'manager' does not exist or one of its queried reference-property objects are not present."
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let diego_token = sandbox.user_token_with("diego", &["User.Read"]).await;
    let (status, _) = get(&sandbox, &diego_token, "/me/manager").await;
    assert_eq!(status, 404);

    let (status, body) = get(&sandbox, &app, "/users/nobody@contoso.example").await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
    assert_eq!(
        body["error"]["message"],
        "Resource 'nobody@contoso.example' does not exist or one of its queried reference-property objects are not present."
    );
}

#[tokio::test]
async fn user_has_the_default_property_set_unless_selected() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let nestor = sandbox.persona_id("nestor");
    let (status, body) = get(&sandbox, &app, &format!("/users/{nestor}")).await;
    assert_eq!(status, 200);
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: BTreeSet<&str> = USER_DEFAULT.into_iter().collect();
    expected.insert("@odata.context");
    assert_eq!(keys, expected);
    assert_eq!(body["businessPhones"], serde_json::json!([]));
    assert_eq!(
        body["@odata.context"],
        format!("{}/$metadata#users/$entity", sandbox.graph(""))
    );

    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/users/{nestor}?$select=accountEnabled,department,displayName"),
    )
    .await;
    assert_eq!(body["accountEnabled"], false);
    assert_eq!(body["department"], "Security");
    assert_eq!(body["id"], nestor);
    assert!(body.get("mail").is_none());
    assert_eq!(
        body["@odata.context"],
        format!(
            "{}/$metadata#users(accountEnabled,department,displayName)/$entity",
            sandbox.graph("")
        )
    );

    let (status, body) = get(&sandbox, &app, &format!("/users/{nestor}?$select=shoeSize")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shoeSize")
    );
}

#[tokio::test]
async fn me_works_with_user_read_and_refuses_app_tokens() {
    let sandbox = spawn_sandbox().await;
    let alex = sandbox.user_token_with("alex", &["User.Read"]).await;
    let (status, body) = get(&sandbox, &alex, "/me").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userPrincipalName"], "alex@contoso.example");
    let (status, body) = get(&sandbox, &alex, "/me/manager").await;
    assert_eq!(status, 200);
    assert_eq!(body["displayName"], "Miriam Graham");

    let app = sandbox.app_token().await;
    for path in ["/me", "/me/manager"] {
        let (status, body) = get(&sandbox, &app, path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(
            body["error"]["message"],
            "/me request is only valid with delegated authentication flow."
        );
    }
}

#[tokio::test]
async fn delegated_user_reads_need_the_right_scope() {
    let sandbox = spawn_sandbox().await;
    let miriam = sandbox.persona_id("miriam");
    let alex_id = sandbox.persona_id("alex");
    let narrow = sandbox.user_token_with("alex", &["User.Read"]).await;
    for path in ["/users".to_owned(), format!("/users/{miriam}")] {
        let (status, body) = get(&sandbox, &narrow, &path).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(error_code(&body), "Authorization_RequestDenied");
    }
    let (status, _) = get(&sandbox, &narrow, &format!("/users/{alex_id}")).await;
    assert_eq!(status, 200, "a user may read themselves with User.Read");

    let basic = sandbox
        .user_token_with("alex", &["User.ReadBasic.All"])
        .await;
    let (status, _) = get(&sandbox, &basic, "/users").await;
    assert_eq!(status, 200);
    let (status, _) = get(&sandbox, &basic, &format!("/users/{miriam}")).await;
    assert_eq!(status, 200);
    // Someone else's manager needs User.Read.All, not ReadBasic.
    let (status, body) = get(&sandbox, &basic, &format!("/users/{miriam}/manager")).await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
}

#[tokio::test]
async fn application_user_reads_need_user_read_all() {
    let sandbox = sandbox_with_permissions(&[("  \"User.Read.All\",\n", "")]).await;
    let app = sandbox.app_token().await;
    let alex = sandbox.persona_id("alex");
    for path in ["/users".to_owned(), format!("/users/{alex}/manager")] {
        let (status, body) = get(&sandbox, &app, &path).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(error_code(&body), "Authorization_RequestDenied");
    }
}

#[tokio::test]
async fn users_page_through_next_link_with_top_2() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let mut url = sandbox.graph("/users?$top=2&$select=id,displayName");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = get_with(&sandbox, &app, &url, &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["@odata.context"],
            format!("{}/$metadata#users(id,displayName)", sandbox.graph(""))
        );
        let page = body["value"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&sandbox.graph("/users?")), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    let tenant = sandbox.tenant().await;
    let personas = tenant["personas"].as_array().unwrap().len();
    assert_eq!(seen.len(), personas);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), personas);
    assert_eq!(pages, personas.div_ceil(2));
}

#[tokio::test]
async fn users_filter_by_mail_case_insensitively_and_by_supported_properties() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let names = |body: &Value| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, body) = get(
        &sandbox,
        &app,
        "/users?$filter=mail eq 'ALEX@Contoso.Example'",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), ["Alex Wilber"]);
    let (_, body) = get(
        &sandbox,
        &app,
        "/users?$filter=startswith(displayName,'mi')",
    )
    .await;
    assert_eq!(names(&body), ["Miriam Graham"]);
    let (_, body) = get(&sandbox, &app, "/users?$filter=accountEnabled eq false").await;
    assert_eq!(names(&body), ["Nestor Wilke"]);
    let (_, body) = get(
        &sandbox,
        &app,
        "/users?$filter=userPrincipalName eq 'bianca@contoso.example'",
    )
    .await;
    assert_eq!(names(&body), ["Bianca Pisani"]);
}

#[tokio::test]
async fn advanced_queries_need_consistency_level_and_count() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let ne = sandbox.graph("/users?$filter=accountEnabled ne true&$count=true");
    let (status, body) = get_with(&sandbox, &app, &ne, &[]).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_UnsupportedQuery");
    let (status, body) = get_with(&sandbox, &app, &ne, EVENTUAL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["@odata.count"], 1);

    // `$count=true` without the header is silently ignored on directory objects.
    let (_, body) = get(&sandbox, &app, "/users?$count=true").await;
    assert!(body.get("@odata.count").is_none());

    let (status, body) = get(&sandbox, &app, "/users/$count").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "$count is not currently supported."
    );
    let response = sandbox
        .http
        .get(sandbox.graph("/users/$count"))
        .bearer_auth(&app)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let personas = sandbox.tenant().await["personas"].as_array().unwrap().len();
    assert_eq!(response.text().await.unwrap(), personas.to_string());

    let (status, body) = get(&sandbox, &app, "/users?$filter=mobilePhone eq '1'").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_UnsupportedQuery");
    let (status, body) = get(&sandbox, &app, "/users?$filter=shoeSize eq 3").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "BadRequest");
    let (status, _) = get(&sandbox, &app, "/users?$filter=mail eq").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unsupported_query_options_are_400() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    for path in [
        "/users?$orderby=displayName",
        "/users?$search=\"displayName:alex\"",
        "/users?$expand=memberOf",
        "/groups?$skip=1",
        &format!("/groups/{SECURITY_APPROVERS}?$top=1"),
    ] {
        let (status, body) = get(&sandbox, &app, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
}
