//! The Graph client's `$batch` against the emulator (typed sub-responses,
//! throttled sub-requests, chunking by 20), and approver resolution saving
//! round trips with it.

use serde_json::{Value, json};
use stagegate::graph::models::User;
use stagegate::graph::{Auth, GraphError};

use crate::engine_graph::client;
use crate::engine_support::spawn_engine_app;
use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn batch_get_types_each_sub_response() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let alex = sandbox.persona_id("alex");
    let miriam = sandbox.persona_id("miriam");
    let paths = [
        format!("/users/{alex}"),
        "/users/00000000-0000-0000-0000-00000000dead".to_owned(),
        format!("/users/{miriam}?$select=id,displayName"),
    ];
    let answers = graph.batch_get::<User>(Auth::App, &paths).await.unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0].as_ref().unwrap().id, alex);
    assert!(
        matches!(&answers[1], Err(GraphError::NotFound { code, .. }) if code == "Request_ResourceNotFound"),
        "{:?}",
        answers[1]
    );
    let miriam_user = answers[2].as_ref().unwrap();
    assert_eq!(miriam_user.id, miriam);
    assert!(miriam_user.display_name.is_some());
}

#[tokio::test]
async fn throttled_sub_request_is_typed_with_its_retry_after() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let miriam = sandbox.persona_id("miriam");
    let status = sandbox
        .http
        .post(sandbox.url("/sim/faults"))
        .json(&json!({
            "path": format!("/users/{miriam}"),
            "status": 429,
            "retryAfter": 7,
            "count": 1
        }))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let paths = [
        format!("/users/{}", sandbox.persona_id("alex")),
        format!("/users/{miriam}"),
    ];
    let answers = graph.batch_get::<Value>(Auth::App, &paths).await.unwrap();
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    match &answers[1] {
        Err(GraphError::Throttled { retry_after }) => {
            assert_eq!(*retry_after, Some(std::time::Duration::from_secs(7)));
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn twenty_five_requests_go_out_as_two_batches() {
    let sandbox = spawn_sandbox().await;
    let graph = client(&sandbox);
    let ids: Vec<String> = ["alex", "miriam", "megan", "bianca", "adele"]
        .iter()
        .map(|p| sandbox.persona_id(p))
        .collect();
    let paths: Vec<String> = (0..25)
        .map(|i| format!("/users/{}", ids[i % ids.len()]))
        .collect();
    // Fetch the app token first so only Graph calls are counted.
    let _: Value = graph
        .get(Auth::App, "/users?$top=1&$select=id")
        .await
        .unwrap();
    let before = sandbox.state.graph_round_trips();
    let answers = graph.batch_get::<User>(Auth::App, &paths).await.unwrap();
    assert_eq!(sandbox.state.graph_round_trips() - before, 2);
    assert_eq!(answers.len(), 25);
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(
            answer.as_ref().unwrap().id,
            ids[i % ids.len()],
            "answer {i}"
        );
    }
}

#[tokio::test]
async fn resolving_several_approvers_batches_directory_reads() {
    let app = spawn_engine_app().await;
    let id = app.sandbox.submit("alex", "priv-role-admin").await;
    let id = id.parse().unwrap();
    // Warm the app token so the count is Graph round trips only, and let
    // the outbox finish delivering the stage's cards (reaching approvers
    // calls Graph too: the directory is read, the Teams app installed).
    // The outbox may still wake meanwhile (a retry, a person found in
    // chat), and its calls only add to a count: the fewest of three
    // counts is the snapshot's own (at most).
    app.engine.snapshot(&id).await.unwrap();
    let mut trips = u64::MAX;
    let mut snapshot = None;
    for _ in 0..3 {
        app.settle().await;
        let before = app.sandbox.state.graph_round_trips();
        snapshot = app.engine.snapshot(&id).await.unwrap();
        trips = trips.min(app.sandbox.state.graph_round_trips() - before);
    }
    let snapshot = snapshot.expect("snapshot");
    // One call per lookup would be: the request, the policy, the group's
    // members, two manager hops, and one per person named in the policy.
    let people = snapshot.names.len() as u64;
    assert!(people >= 5, "{:?}", snapshot.names);
    let one_per_lookup = 2 + 1 + 2 + people;
    assert!(
        trips <= 2 + 1 + 2 + 1,
        "{trips} round trips (one per lookup would be {one_per_lookup})"
    );
    assert!(trips < one_per_lookup);
    // Every person the policy names was still read.
    for persona in ["alex", "adele", "patti", "megan"] {
        let oid = app.sandbox.persona_id(persona).parse().unwrap();
        assert!(snapshot.names.contains_key(&oid), "{persona} not resolved");
    }
}
