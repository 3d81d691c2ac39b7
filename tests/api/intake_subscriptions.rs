//! The subscription manager against the sandbox: renewal before expiry on
//! the emulated clock, renewal on `reauthorizationRequired`, recreation when
//! the subscription is removed or missing (with a member resync).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::eventually;
use crate::intake_support::{Call, Options, TestIntake, spawn_intake};

const GROUP: &str = "grp-elig-globaladmin";

/// Waits for the group's subscription; returns (id, expiration).
async fn created(t: &TestIntake) -> (String, DateTime<Utc>) {
    let group = t.sandbox.group_id(GROUP);
    let row = eventually(|| async {
        t.store
            .intake_subscription(&group.parse().unwrap())
            .await
            .unwrap()
    })
    .await;
    (row.subscription_id, row.expires_at)
}

/// The sandbox's expiration of subscription `id`, once it differs from `old`.
async fn renewed(t: &TestIntake, id: &str, old: DateTime<Utc>) -> DateTime<Utc> {
    eventually(|| async {
        t.sandbox_subscriptions()
            .into_iter()
            .find(|s| s.id == id)
            .map(|s| s.expiration)
            .filter(|exp| *exp != old)
    })
    .await
}

#[tokio::test]
async fn renews_before_expiry_when_the_clock_advances() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        lifetime_minutes: 72 * 60,
        margin_minutes: 24 * 60,
        ..Options::default()
    })
    .await;
    let (id, first) = created(&t).await;
    // 23 h before expiry: inside the 24 h margin, before any
    // reauthorizationRequired (the sandbox challenges from 3 h before).
    t.sandbox.advance_clock("PT49H").await;
    let second = renewed(&t, &id, first).await;
    let now = t.sandbox.state.clock.now();
    assert!(second > first);
    assert!(
        (second - now) > chrono::Duration::minutes(72 * 60 - 5),
        "{second} vs {now}"
    );
    let row = eventually(|| async {
        let row = t
            .store
            .intake_subscription(&t.sandbox.group_id(GROUP).parse().unwrap())
            .await
            .unwrap()?;
        (row.expires_at == second).then_some(row)
    })
    .await;
    assert_eq!(row.subscription_id, id);
    assert!(
        t.sandbox.notifications(Some(&id)).await.is_empty(),
        "no lifecycle notification was needed"
    );
}

#[tokio::test]
async fn reauthorization_required_renews_the_subscription() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        lifetime_minutes: 72 * 60,
        margin_minutes: 60,
        ..Options::default()
    })
    .await;
    let (id, first) = created(&t).await;
    // 170 min before expiry: past the sandbox's 3 h challenge, before the
    // 1 h renewal margin; only the lifecycle notification can renew now.
    t.sandbox.advance_clock("PT69H10M").await;
    let second = renewed(&t, &id, first).await;
    assert!(second > first);
    let lifecycle = t.sandbox.notifications(Some(&id)).await;
    assert_eq!(lifecycle.len(), 1, "{lifecycle:?}");
    assert_eq!(lifecycle[0]["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(lifecycle[0]["url"], t.url("/api/graph/lifecycle"));
    assert_eq!(lifecycle[0]["attempts"][0]["status"], 202);
}

#[tokio::test]
async fn removed_or_missing_subscriptions_are_recreated_and_members_resynced() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        ..Options::default()
    })
    .await;
    let (first, _) = created(&t).await;
    let group = t.sandbox.group_id(GROUP);
    let alex = t.sandbox.persona_id("alex");
    t.sandbox.state.world().add_member(&group, &alex);
    t.sink.wait_memberships(1).await;

    // Graph removed it and said so.
    t.sandbox.state.notify.lock().subscriptions.remove(&first);
    let removed = json!({ "value": [{
        "subscriptionId": first,
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
        "tenantId": t.sandbox.state.tenant_id(),
        "clientState": t.client_state,
        "lifecycleEvent": "subscriptionRemoved",
    }]});
    let (status, text) = t
        .post_raw(
            "/api/graph/lifecycle",
            &[],
            removed.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    let second = eventually(|| async {
        let subs = t.sandbox_subscriptions();
        (subs.len() == 1 && subs[0].id != first).then(|| subs[0].id.clone())
    })
    .await;
    // Changes in the gap are lost: the current members are reported.
    t.sink.wait_memberships(2).await;

    // Gone without a word: found on the next verification.
    t.sandbox.state.notify.lock().subscriptions.remove(&second);
    t.intake.check_subscriptions_now();
    let third = eventually(|| async {
        let subs = t.sandbox_subscriptions();
        (subs.len() == 1 && subs[0].id != second).then(|| subs[0].id.clone())
    })
    .await;
    t.sink.wait_memberships(3).await;
    let present = Call::Membership {
        group: t.group(GROUP),
        member: t.persona("alex"),
        added: true,
    };
    assert_eq!(
        t.sink.memberships(),
        vec![present.clone(), present.clone(), present]
    );
    let row = t
        .store
        .intake_subscription(&group.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.subscription_id, third);
    assert!(
        t.store
            .intake_subscription_by_id(&first)
            .await
            .unwrap()
            .is_none()
    );
}
