//! The sandbox console's server side: the page and its embedded assets
//! under a strict CSP, the JSON snapshot, and the change events.
//! (The page itself is driven in a real browser by `tests/console_browser.rs`.)

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn the_page_and_its_assets_are_embedded_and_served_under_a_strict_csp() {
    let sandbox = spawn_sandbox().await;
    let page = sandbox.http.get(sandbox.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    for asset in ["/console/app.js", "/console/render.js", "/console/app.css"] {
        assert!(html.contains(asset), "the page loads {asset}");
        let response = sandbox.http.get(sandbox.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.headers().contains_key("content-security-policy"));
        let body = response.text().await.unwrap();
        // Untrusted text is only ever placed with textContent.
        assert!(!body.contains("innerHTML"), "{asset} uses innerHTML");
        assert!(!body.contains("eval("), "{asset} uses eval");
    }
    // No inline script or style (the CSP would block them), no CDN.
    assert!(!html.contains("<script>") && !html.contains("style="));
    assert!(!html.contains("https://"), "no outside resources");
}

#[tokio::test]
async fn the_snapshot_shows_personas_channels_requests_and_the_clock() {
    let sandbox = spawn_sandbox().await;
    let state: Value = sandbox
        .http
        .get(sandbox.url("/sim/console/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alex = state["personas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "alex")
        .expect("alex is a persona");
    assert_eq!(alex["name"], "Alex Wilber");
    assert_eq!(alex["teamsInstalled"], false, "nothing installed yet");
    assert!(alex["slackUserId"].as_str().unwrap().starts_with('U'));
    assert!(
        state["teamsChannels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID)
    );
    assert!(
        state["slackChannels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "stagegate-security")
    );
    assert_eq!(state["requests"], json!([]));
    assert_eq!(state["clock"]["offset"], "PT0S");
}

/// Reads the next `change` event's generation from an SSE response.
async fn next_generation(events: &mut reqwest::Response) -> u64 {
    let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .expect("the stream is open");
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    assert!(text.contains("event: change"), "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix("data: "))
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or_else(|| panic!("no generation in {text}"))
}

#[tokio::test]
async fn a_change_event_follows_every_write() {
    let sandbox = spawn_sandbox().await;
    let mut events = sandbox
        .http
        .get(sandbox.url("/sim/console/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = next_generation(&mut events).await;
    // Reads change nothing …
    sandbox
        .http
        .get(sandbox.url("/sim/console/state"))
        .send()
        .await
        .unwrap();
    // … advancing the clock does.
    let advanced = sandbox
        .http
        .post(sandbox.url("/sim/clock/advance"))
        .json(&json!({ "duration": "PT1H" }))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);
    let second = next_generation(&mut events).await;
    assert!(second > first, "{second} > {first}");
    // A persona installing the Teams app (no bot connected: it still lands).
    sandbox
        .http
        .post(sandbox.url("/sim/teams/personas/alex/install"))
        .send()
        .await
        .unwrap();
    assert!(next_generation(&mut events).await > second);
}

#[tokio::test]
async fn event_streams_end_when_the_sandbox_shuts_down() {
    let sandbox = spawn_sandbox().await;
    let mut events = sandbox
        .http
        .get(sandbox.url("/sim/console/events"))
        .send()
        .await
        .unwrap();
    next_generation(&mut events).await;
    // Dropping the sandbox shuts its server down; an open console must not
    // hold the graceful shutdown open.
    drop(sandbox);
    let end = tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match events.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ended before the 5 s grace period");
}
