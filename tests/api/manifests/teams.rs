//! The rendered Teams manifest against the v1.30 schema, and what the bot
//! entry declares.

use serde_json::{Value, json};
use stagegate::manifests::{
    AppId, PublicUrl, TEAMS_MANIFEST_VERSION, TeamsOptions, render_teams_manifest,
};
use stagegate_domain::command::Verb;

use super::{errors, teams_validator};

const APP_ID: &str = "2f1c0a3e-5b7d-4c8e-9a01-23456789abcd";

pub fn options(public_url: &str) -> TeamsOptions {
    let (public_url, _) = PublicUrl::parse(public_url, "--public-url").unwrap();
    TeamsOptions {
        app_id: AppId::parse(APP_ID, "--app-id").unwrap(),
        website_url: format!("{}/", public_url.origin()),
        privacy_url: format!("{}/privacy", public_url.origin()),
        terms_url: format!("{}/terms", public_url.origin()),
        public_url,
        sign_in_host: "login.microsoftonline.com".into(),
        developer_name: "Contoso IT".into(),
    }
}

#[test]
fn rendered_manifest_validates_against_the_v1_30_schema() {
    let manifest = render_teams_manifest(&options("https://bot.example.com")).unwrap();
    let problems = errors(&teams_validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");

    // Checked explicitly as well: the schema's `const` is the only thing that
    // pins it, and a draft-04 validator would ignore it.
    assert_eq!(manifest["manifestVersion"], "1.30");
    assert_eq!(TEAMS_MANIFEST_VERSION, "1.30");
    assert_eq!(
        manifest["$schema"],
        "https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
    );
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["id"], APP_ID);
    assert_eq!(manifest["bots"][0]["botId"], APP_ID);
    assert_eq!(manifest["developer"]["name"], "Contoso IT");
    assert_eq!(
        manifest["developer"]["privacyUrl"],
        "https://bot.example.com/privacy"
    );
    assert!(
        !manifest.to_string().contains("{{"),
        "no placeholder left: {manifest}"
    );
}

/// One edit of a valid manifest that makes it invalid.
type Breakage = fn(&mut Value);

#[test]
fn the_validator_rejects_what_teams_rejects() {
    // Sanity of the validator set-up itself: each edit breaks one rule of the
    // schema, so each must be reported.
    let validator = teams_validator();
    let good = render_teams_manifest(&options("https://bot.example.com")).unwrap();
    assert!(validator.is_valid(&good));
    let breakages: [(&str, Breakage); 6] = [
        ("manifestVersion const", |m| {
            m["manifestVersion"] = json!("1.29")
        }),
        ("id is a GUID", |m| m["id"] = json!("my-bot")),
        ("name.short ≤ 30", |m| {
            m["name"]["short"] = json!("a name much longer than thirty characters")
        }),
        ("accentColor is #rrggbb", |m| {
            m["accentColor"] = json!("blue")
        }),
        ("bots require botId", |m| {
            m["bots"][0].as_object_mut().unwrap().remove("botId");
        }),
        ("no unknown properties", |m| {
            m["messagingEndpoint"] = json!("x")
        }),
    ];
    for (rule, breakage) in breakages {
        let mut manifest = good.clone();
        breakage(&mut manifest);
        assert!(!validator.is_valid(&manifest), "not enforced: {rule}");
    }
}

#[test]
fn the_bot_is_personal_and_team_without_files_and_lists_every_command() {
    let manifest = render_teams_manifest(&options("https://bot.example.com")).unwrap();
    let bot = &manifest["bots"][0];
    assert_eq!(bot["scopes"], json!(["personal", "team"]));
    assert_eq!(bot["supportsFiles"], false);
    assert_eq!(bot["isNotificationOnly"], false);

    let lists = bot["commandLists"].as_array().unwrap();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0]["scopes"], json!(["personal"]));
    let titles: Vec<&str> = lists[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Verb::ALL.iter().map(|v| v.name()).collect();
    let mut sorted = titles.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(
        sorted, expected,
        "the command menu offers exactly the verbs the parser knows"
    );
    for command in lists[0]["commands"].as_array().unwrap() {
        let description = command["description"].as_str().unwrap();
        assert!(!description.is_empty(), "{command}");
    }

    // The bot's Entra app, which the "Self" install permission refers to
    // (Teams SSO is not used: account linking is the bot's own pages).
    assert_eq!(
        manifest["webApplicationInfo"],
        json!({ "id": manifest["id"], "resource": format!("api://botid-{}", manifest["id"].as_str().unwrap()) })
    );
    assert_eq!(
        manifest["validDomains"],
        json!(["bot.example.com", "login.microsoftonline.com"])
    );
}

#[test]
fn valid_domains_hold_hosts_only_and_each_once() {
    let mut options = options("http://127.0.0.1:3978");
    options.sign_in_host = "127.0.0.1".into();
    let manifest = render_teams_manifest(&options).unwrap();
    assert_eq!(manifest["validDomains"], json!(["127.0.0.1"]));

    let manifest =
        render_teams_manifest(&super::teams::options("https://bot.example.com:8443")).unwrap();
    assert_eq!(manifest["validDomains"][0], "bot.example.com");
    assert!(teams_validator().is_valid(&manifest));
}
