//! The engine's typed Graph calls against the emulator: paging through
//! `@odata.nextLink`, open requests of configured packages, group PIM
//! policies (maximum duration, MFA, ticketing, authentication context),
//! eligibility, and approver-resolution reads.

use std::sync::Arc;
use std::time::Duration;

use stagegate::graph::models::User;
use stagegate::graph::{Auth, GraphClient, directory, em, pim};
use stagegate::retry::RetryPolicy;
use stagegate::token::AppTokenSource;
use stagegate_domain::approval::RequestState;

use crate::helpers::{TestSandbox, group_id, spawn_sandbox};

pub(crate) fn client(sandbox: &TestSandbox) -> GraphClient {
    let world = sandbox.state.world();
    let http = reqwest::Client::new();
    let token = AppTokenSource::new(
        http.clone(),
        &sandbox.state.login_base_url(),
        &world.tenant_id,
        &world.app.client_id,
        world.app.client_secret.clone().into(),
        "https://graph.microsoft.com/.default",
    );
    GraphClient::new(
        http,
        &sandbox.graph(""),
        Arc::new(token),
        Duration::from_secs(10),
        RetryPolicy::default(),
    )
}

#[tokio::test]
async fn get_all_follows_next_links_and_refuses_foreign_ones() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let users: Vec<User> = graph.get_all(Auth::App, "/users?$top=2", 50).await.unwrap();
    assert_eq!(users.len(), sandbox.state.world().users.len());
    assert_eq!(graph.relative("https://evil.example/v1.0/users"), None);
    assert_eq!(
        graph.relative(&sandbox.graph("/users?$skiptoken=x")),
        Some("/users?$skiptoken=x")
    );
}

#[tokio::test]
async fn open_requests_of_configured_packages() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let first = sandbox.submit("alex", "global-admin").await;
    let second = sandbox.submit("alex", "helpdesk-admin").await;
    let (global, _, _) = sandbox.package("global-admin");
    let open = em::list_requests(
        &graph,
        &[global.parse().unwrap()],
        &[RequestState::PendingApproval],
    )
    .await
    .unwrap();
    let ids: Vec<&str> = open.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [first.as_str()],
        "only the configured package: not {second}"
    );
    let request = em::get_request(&graph, &first.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        request.requestor.clone().and_then(|r| r.object_id),
        Some(sandbox.persona_id("alex"))
    );
    assert_eq!(
        request.answer_to("9e570000-0000-4000-8000-000000000001"),
        Some("INC-4711")
    );
}

#[tokio::test]
async fn group_pim_policies_read_as_activation_rules() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let global = group_id(&sandbox, "grp-elig-globaladmin").parse().unwrap();
    let rules = pim::activation_rules(&graph, &global).await.unwrap();
    assert_eq!(rules.maximum, chrono::Duration::hours(4));
    assert!(rules.mfa && rules.justification && !rules.ticketing);
    assert_eq!(rules.auth_context, None);
    let priv_role = group_id(&sandbox, "grp-elig-privroleadmin")
        .parse()
        .unwrap();
    let rules = pim::activation_rules(&graph, &priv_role).await.unwrap();
    assert_eq!(rules.maximum, chrono::Duration::hours(2));
    assert!(rules.ticketing && !rules.mfa);
    assert_eq!(rules.auth_context.as_deref(), Some("c1"));
}

#[tokio::test]
async fn managers_members_and_eligibility() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let alex = sandbox.persona_id("alex").parse().unwrap();
    let diego = sandbox.persona_id("diego").parse().unwrap();
    let manager = directory::manager(&graph, &alex).await.unwrap().unwrap();
    assert_eq!(manager.id, sandbox.persona_id("miriam"));
    assert!(directory::manager(&graph, &diego).await.unwrap().is_none());
    let approvers = group_id(&sandbox, "security-approvers").parse().unwrap();
    let members = directory::transitive_user_members(&graph, &approvers)
        .await
        .unwrap()
        .unwrap();
    assert!(
        members.contains(&sandbox.persona_id("bianca")),
        "nested member"
    );
    let group = group_id(&sandbox, "grp-elig-globaladmin").parse().unwrap();
    assert!(
        pim::eligibility_instances(&graph, &alex, &group)
            .await
            .unwrap()
            .is_empty()
    );
    let id = sandbox.submit("alex", "global-admin").await;
    sandbox.decide("miriam", &id, "Approve", "ok").await;
    sandbox.decide("bianca", &id, "Approve", "ok").await;
    let eligible = pim::eligibility_instances(&graph, &alex, &group)
        .await
        .unwrap();
    assert_eq!(eligible.len(), 1);
    assert!(
        pim::assignment_instances(&graph, &alex, &group)
            .await
            .unwrap()
            .is_empty()
    );
}
