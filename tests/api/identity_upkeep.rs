//! Stored refresh tokens are bound to their chat identity (security review,
//! finding 6), re-sealed with the primary key and current associated data,
//! and spent sign-in state is purged.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use stagegate::chat::identity::ChatIdentity;
use stagegate::identity::link::{LinkError, LinkService};
use stagegate::identity::upkeep::Resealed;
use stagegate::identity::vault::{KeyRing, refresh_token_aad, refresh_token_aad_v1};
use stagegate::store::links::LinkRow;
use stagegate::store::{SqliteStore, Store};

use crate::helpers::{loopback0, spawn_sandbox};
use crate::slack_app_support::spawn_slack_app;
use stagegate_lab::wiring::BotWiring;

fn key(byte: u8) -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

fn ring(keys: &[(&str, u8)], primary: &str) -> Arc<KeyRing> {
    let keys: BTreeMap<String, SecretString> = keys
        .iter()
        .map(|(id, b)| ((*id).to_owned(), key(*b)))
        .collect();
    Arc::new(KeyRing::new(&keys, primary).unwrap())
}

fn slack(user: &str) -> ChatIdentity {
    ChatIdentity {
        platform: "slack".into(),
        workspace: "T0SANDBOX".into(),
        user: user.into(),
    }
}

#[tokio::test]
async fn a_token_copied_onto_another_chat_account_does_not_open() {
    let app = spawn_slack_app().await;
    app.link("alex").await;
    let store = app.engine.store();
    let team = app.slack["teamId"].as_str().unwrap().to_owned();
    let alex = ChatIdentity {
        platform: "slack".into(),
        workspace: team.clone(),
        user: app.user_id("alex"),
    };
    let row = store.link(&alex).await.unwrap().unwrap();
    // Someone with write access to the database copies Alex's row onto
    // Miriam's Slack account.
    let miriam = ChatIdentity {
        platform: "slack".into(),
        workspace: team,
        user: app.user_id("miriam"),
    };
    store
        .upsert_link(
            &LinkRow {
                identity: miriam.clone(),
                ..row
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let settings = app.sandbox.state.bot_settings(loopback0(), app.db_path());
    let vault = Arc::new(
        KeyRing::new(
            &settings.identity.vault_keys,
            &settings.identity.vault_primary_key,
        )
        .unwrap(),
    );
    let links = LinkService::new(&settings, store.clone(), vault);
    assert!(matches!(
        links.access_token(&miriam).await,
        Err(LinkError::Reauthenticate)
    ));
    assert!(
        links.access_token(&alex).await.is_ok(),
        "Alex's own row still works"
    );
}

#[tokio::test]
async fn old_tokens_are_resealed_and_a_missing_key_is_counted_not_lost() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = sandbox
        .state
        .bot_settings(loopback0(), dir.path().join("stagegate.db"));
    let tenant = settings.entra.tenant_id.clone();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("stagegate.db"), 2)
            .await
            .unwrap(),
    );
    let old = ring(&[("k0", 9), ("k1", 1)], "k1");
    let token = SecretString::from("0.refresh-token-of-alex".to_owned());
    let row = |who: ChatIdentity, sealed: Vec<u8>, key_id: &str, aad_version: i64| LinkRow {
        identity: who,
        object_id: "a1e0a1e0-0000-4000-8000-00000000a1e0".into(),
        display_name: "Alex Wilber".into(),
        refresh_token: sealed,
        key_id: key_id.into(),
        aad_version,
    };
    // A row of the previous version (associated data: tenant and user).
    let v1 = old.seal(
        &token,
        &refresh_token_aad_v1(&tenant, "a1e0a1e0-0000-4000-8000-00000000a1e0"),
    );
    store
        .upsert_link(&row(slack("U1"), v1, "k1", 1), Utc::now())
        .await
        .unwrap();
    // A row sealed with a key the operator dropped from the ring.
    let lost = ring(&[("k0", 9)], "k0").seal(&token, b"whatever");
    store
        .upsert_link(&row(slack("U2"), lost, "k0", 2), Utc::now())
        .await
        .unwrap();

    let rotated = ring(&[("k1", 1), ("k2", 2)], "k2");
    let links = LinkService::new(&settings, store.clone(), rotated.clone());
    assert_eq!(
        links.reseal_all().await.unwrap(),
        Resealed {
            moved: 1,
            unopenable: 1
        }
    );
    let moved = store.link(&slack("U1")).await.unwrap().unwrap();
    assert_eq!((moved.key_id.as_str(), moved.aad_version), ("k2", 2));
    assert_eq!(KeyRing::key_id_of(&moved.refresh_token), Some("k2"));
    let opened = rotated
        .open(
            &moved.refresh_token,
            &refresh_token_aad(&tenant, &moved.object_id, &slack("U1")),
        )
        .unwrap();
    assert_eq!(opened.expose_secret(), "0.refresh-token-of-alex");
    // A second pass finds only the row it cannot open.
    assert_eq!(
        links.reseal_all().await.unwrap(),
        Resealed {
            moved: 0,
            unopenable: 1
        }
    );
}

#[tokio::test]
async fn expired_sign_in_state_is_purged_and_live_state_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("stagegate.db"), 2)
            .await
            .unwrap(),
    );
    let now = Utc::now();
    let who = slack("U1");
    store
        .insert_link_token("expired", &who, None, None, now - Duration::minutes(1))
        .await
        .unwrap();
    store
        .insert_link_token("live", &who, None, None, now + Duration::minutes(5))
        .await
        .unwrap();
    let purged = store.purge_sign_ins(now).await.unwrap();
    assert_eq!(purged.link_tokens, 1);
    assert!(store.peek_link_token("live", now).await.unwrap().is_some());
    assert!(
        store
            .peek_link_token("expired", now)
            .await
            .unwrap()
            .is_none()
    );
}
