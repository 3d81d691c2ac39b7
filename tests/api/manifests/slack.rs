//! The rendered Slack manifest against Slack's schema 1.0.0, and the
//! commands, endpoints and scopes it declares.

use serde_json::json;
use stagegate::manifests::{PublicUrl, render_slack_manifest};
use stagegate_domain::command::Verb;

use super::{errors, load_json, shared, slack_validator};

#[test]
fn the_validator_accepts_slacks_valid_example_and_rejects_the_invalid_one() {
    let validator = slack_validator();
    let valid = load_json(&shared(
        "slack/manifest-schema/tests/v1.manifest.valid.json",
    ));
    let problems = errors(&validator, &valid);
    assert!(problems.is_empty(), "{problems:#?}");
    let invalid = load_json(&shared(
        "slack/manifest-schema/tests/v1.manifest.invalid.json",
    ));
    let problems = errors(&validator, &invalid);
    assert!(
        problems.iter().any(|p| p.contains("bad_param")),
        "the unknown setting is reported: {problems:#?}"
    );
}

#[test]
fn rendered_manifest_validates_against_schema_1_0_0() {
    let (url, _) = PublicUrl::parse("https://bot.example.com", "--public-url").unwrap();
    let manifest = render_slack_manifest(&url).unwrap();
    let problems = errors(&slack_validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(manifest["_metadata"]["major_version"], 1);
    assert!(!manifest.to_string().contains("{{"), "{manifest}");

    let commands = manifest["features"]["slash_commands"].as_array().unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["/request", "/stagegate"]);
    for command in commands {
        assert_eq!(
            command["url"], "https://bot.example.com/api/slack/commands",
            "{command}"
        );
        assert_eq!(command["should_escape"], false);
    }
    assert_eq!(
        commands[0]["description"],
        "Request privileged access (Entra approval)"
    );
    assert_eq!(
        commands[1]["description"],
        "Your access requests, approvals and account link"
    );

    let settings = &manifest["settings"];
    assert_eq!(
        settings["interactivity"],
        json!({"is_enabled": true, "request_url": "https://bot.example.com/api/slack/interactions"})
    );
    assert_eq!(settings["socket_mode_enabled"], false);
    assert_eq!(settings["org_deploy_enabled"], false);
    assert!(
        settings.get("event_subscriptions").is_none(),
        "the bot takes no Events API traffic"
    );
    assert_eq!(
        manifest["oauth_config"]["scopes"],
        json!({"bot": ["chat:write", "commands", "im:history", "im:write", "users:read", "users:read.email"]}),
        "exactly the scopes of the methods the bot calls"
    );
}

#[test]
fn the_endpoints_keep_a_non_default_port() {
    let (url, _) = PublicUrl::parse("https://bot.example.com:8443/", "--public-url").unwrap();
    let manifest = render_slack_manifest(&url).unwrap();
    assert_eq!(
        manifest["settings"]["interactivity"]["request_url"],
        "https://bot.example.com:8443/api/slack/interactions"
    );
    assert!(slack_validator().is_valid(&manifest));
}

#[test]
fn usage_hints_follow_the_command_language() {
    let (url, _) = PublicUrl::parse("https://bot.example.com", "--public-url").unwrap();
    let manifest = render_slack_manifest(&url).unwrap();
    let commands = manifest["features"]["slash_commands"].as_array().unwrap();

    // `/request` is the `request` verb: its hint is the verb's usage line
    // without the verb.
    let request_usage = Verb::Request.usage().strip_prefix("request ").unwrap();
    assert_eq!(commands[0]["usage_hint"], request_usage);

    // `/stagegate` takes every other verb.
    let hint = commands[1]["usage_hint"].as_str().unwrap();
    let offered: Vec<&str> = hint
        .split('|')
        .map(|alt| alt.split_whitespace().next().unwrap())
        .collect();
    let others: Vec<&str> = Verb::ALL
        .iter()
        .filter(|v| **v != Verb::Request)
        .map(|v| v.name())
        .collect();
    let mut offered_sorted = offered.clone();
    offered_sorted.sort_unstable();
    let mut others_sorted = others.clone();
    others_sorted.sort_unstable();
    assert_eq!(offered_sorted, others_sorted, "{hint}");
}
