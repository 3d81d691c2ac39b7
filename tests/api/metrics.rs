//! `/metrics` after the seeded story through the emulated Teams: scraped
//! over HTTP on the bot's metrics listener, parsed from the Prometheus text
//! format, and checked against what the story did. The public listener
//! does not serve it.

use std::collections::BTreeMap;

use stagegate::config::ServerSettings;

use serde_json::json;

use crate::teams_adapter_support::{TeamsApp, sign_in_link, spawn_teams_app};
use crate::teams_story::story;

/// One sample: the metric's name, its labels, its value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The Prometheus text format (0.0.4): `# HELP`/`# TYPE` lines and
/// `name{label="value",…} value` samples. Panics on anything else, so a
/// malformed exposition fails the test.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                (name, labels_of(body, line))
            }
            None => (series, BTreeMap::new()),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn labels_of(mut body: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        labels.insert(key.to_owned(), value);
        body = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The sum of `name`'s samples whose labels include every pair of `with`.
fn sum(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn is_guid_like(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `GET /metrics` on `app`'s metrics listener: the text and its samples.
async fn scrape(app: &TeamsApp) -> (String, Vec<Sample>) {
    let metrics = app.metrics.expect("metrics are on by default");
    let response = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

#[tokio::test]
async fn metrics_after_the_seeded_story_count_what_happened() {
    let app = spawn_teams_app().await;
    story(&app).await;
    app.engine.outbox_idle().await;
    let metrics = app.metrics.expect("metrics are on by default");
    let http = reqwest::Client::new();
    let (text, samples) = scrape(&app).await;
    let get = |name: &str, with: &[(&str, &str)]| sum(&samples, name, with);

    // Requests by state, as Graph last showed them: the one, delivered.
    assert_eq!(
        get("stagegate_requests", &[("state", "delivered")]),
        1.0,
        "{text}"
    );
    assert_eq!(get("stagegate_requests", &[]), 1.0, "{text}");

    // Miriam and Bianca approved; Miriam's first click met the sign-in.
    assert_eq!(
        get(
            "stagegate_decisions_relayed_total",
            &[("review", "approve")]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        get("stagegate_decisions_relayed_total", &[("review", "deny")]),
        0.0
    );
    assert_eq!(
        get(
            "stagegate_decisions_refused_total",
            &[("reason", "not_signed_in")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(get("stagegate_decisions_refused_total", &[]), 1.0, "{text}");
    assert_eq!(
        get("stagegate_click_to_graph_seconds_count", &[]),
        2.0,
        "{text}"
    );
    assert_eq!(
        get("stagegate_request_to_first_card_seconds_count", &[]),
        1.0,
        "{text}"
    );

    // The outbox is drained.
    assert_eq!(get("stagegate_outbox_depth", &[]), 0.0);
    assert_eq!(get("stagegate_outbox_oldest_job_age_seconds", &[]), 0.0);

    // Graph and the Bot Connector were called, by operation and status;
    // the decisions went to Graph as PATCHes of their stages.
    let graph_ok = get(
        "stagegate_outbound_requests_total",
        &[("service", "graph"), ("status", "200")],
    );
    assert!(graph_ok > 0.0, "{text}");
    let stages = samples.iter().any(|s| {
        s.name == "stagegate_outbound_requests_total"
            && s.labels["service"] == "graph"
            && s.labels["operation"].starts_with("PATCH ")
            && s.labels["operation"].ends_with("/stages/{id}")
    });
    assert!(stages, "no PATCH of an approval stage: {text}");
    let connector = get(
        "stagegate_outbound_requests_total",
        &[("service", "bot_connector")],
    );
    assert!(connector > 0.0, "{text}");
    // The harness configures Slack too: approvers are looked up there.
    let slack = get(
        "stagegate_outbound_requests_total",
        &[("service", "slack"), ("status", "200")],
    );
    assert!(slack > 0.0, "{text}");
    // Nothing was throttled or retried.
    assert_eq!(
        get("stagegate_outbound_throttled_total", &[]),
        0.0,
        "{text}"
    );
    assert_eq!(get("stagegate_outbound_retries_total", &[]), 0.0, "{text}");
    assert_eq!(
        get("stagegate_outbound_request_duration_seconds_count", &[]),
        get("stagegate_outbound_requests_total", &[]),
        "one timing per attempt"
    );

    // The activation alert reached the security channel; nobody was
    // unreachable.
    assert!(
        get("stagegate_security_alerts_total", &[("outcome", "sent")]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        get("stagegate_security_alerts_total", &[("outcome", "failed")]),
        0.0
    );
    assert_eq!(
        get("stagegate_unreachable_people_total", &[]),
        0.0,
        "{text}"
    );

    // Inbound: Teams' activities by route template, timed.
    let activities = [("route", "/api/teams/messages"), ("method", "POST")];
    let counted = get("stagegate_http_requests_total", &activities);
    assert!(counted > 0.0, "{text}");
    assert_eq!(
        get("stagegate_http_request_duration_seconds_count", &activities),
        counted
    );

    // Subscriptions: one expiry per subscription kept, each in the future.
    let subscriptions = get("stagegate_graph_subscriptions", &[]);
    let expiries: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == "stagegate_graph_subscription_expiry_seconds")
        .map(|s| s.value)
        .collect();
    assert_eq!(expiries.len() as f64, subscriptions, "{text}");
    assert!(expiries.iter().all(|s| *s > 0.0), "{expiries:?}");

    // No id of a person, request or conversation in any label.
    let guid = text
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| is_guid_like(w));
    assert_eq!(guid, None, "an id in the metrics: {text}");
    for persona in ["alex", "miriam", "bianca"] {
        let id = app.sandbox.persona_id(persona);
        assert!(!text.contains(&id), "{persona}'s id in the metrics");
    }

    // Only the metrics listener serves them, and only them.
    let public = http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let other = http
        .get(format!("http://{metrics}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[test]
fn metrics_bind_is_an_address_or_off() {
    let read = |toml: &str| toml::from_str::<ServerSettings>(toml);
    assert_eq!(
        ServerSettings::default().metrics_bind,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert_eq!(read("metrics_bind = \"\"").unwrap().metrics_bind, None);
    assert_eq!(read("metrics_bind = \"off\"").unwrap().metrics_bind, None);
    assert_eq!(
        read("metrics_bind = \"0.0.0.0:9100\"")
            .unwrap()
            .metrics_bind,
        Some("0.0.0.0:9100".parse().unwrap())
    );
    let error = read("metrics_bind = \"localhost\"")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`localhost` is not an address with a port"),
        "{error}"
    );
}

#[tokio::test]
async fn metrics_off_serves_no_metrics_listener() {
    let app = crate::teams_adapter_support::spawn_teams_app_with(|s| {
        s.server.metrics_bind = None;
    })
    .await;
    assert_eq!(app.metrics, None);
}

/// Graph throttles the submission once: the 429 and the retry are counted
/// under the operation, and the retried call's success beside them.
#[tokio::test]
async fn a_throttled_graph_call_counts_the_429_and_the_retry() {
    let app = spawn_teams_app().await;
    app.install("alex").await;
    app.say(
        "alex",
        "request global-admin TICKET-123 rotate the break-glass certificate",
    )
    .await;
    let link = sign_in_link(&app.cards("alex").await);
    app.sandbox
        .add_fault(json!({
            "path": "/identityGovernance/entitlementManagement/assignmentRequests",
            "method": "POST", "status": 429, "retryAfter": 0, "count": 1,
        }))
        .await;
    app.sign_in(&link, "alex").await;
    assert_eq!(
        app.sandbox.state.world().requests.len(),
        1,
        "submitted after the retry"
    );

    let (text, samples) = scrape(&app).await;
    let submit = [
        ("service", "graph"),
        (
            "operation",
            "POST /identityGovernance/entitlementManagement/assignmentRequests",
        ),
    ];
    let get = |name: &str, extra: &[(&str, &str)]| {
        let with: Vec<_> = submit.iter().chain(extra).copied().collect();
        sum(&samples, name, &with)
    };
    assert_eq!(
        get("stagegate_outbound_throttled_total", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(get("stagegate_outbound_retries_total", &[]), 1.0, "{text}");
    assert_eq!(
        get("stagegate_outbound_requests_total", &[("status", "429")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        get("stagegate_outbound_requests_total", &[("status", "201")]),
        1.0,
        "{text}"
    );
}
