//! Every card the Teams adapter renders validates against the Adaptive
//! Card 1.5 schema (Microsoft's, draft-06; minus the Teams-only `msteams`
//! key) and matches its committed snapshot exactly
//! (`tests/api/teams_adapter_cards/*.json`; `UPDATE_SNAPSHOTS=1` rewrites
//! them). People's text cannot forge card content.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use serde_json::Value;
use stagegate::chat::port::{ApprovalCard, Message, PersonRef, StageHistory};
use stagegate::chat::teams::cards::{self, TEMPLATES};

fn schema() -> jsonschema::Validator {
    // `../shared` beside the checkout (one level further up from a git
    // worktree), found as the manifests tests find it.
    let path = crate::manifests::shared("teams/adaptive-card-1.5.schema.json");
    let text = std::fs::read_to_string(&path).expect("the Adaptive Card 1.5 schema");
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft6::new(&schema).expect("schema compiles")
}

fn validate(validator: &jsonschema::Validator, name: &str, card: &Value) {
    let mut card = card.clone();
    if let Some(obj) = card.as_object_mut() {
        obj.remove("msteams");
    }
    let errors: Vec<String> = validator
        .iter_errors(&card)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name} is not a valid card: {errors:#?}");
    assert_eq!(card["version"], "1.5", "{name}");
}

fn approval(justification: &str) -> ApprovalCard {
    ApprovalCard {
        request: "5d3c0a1e-0000-4000-8000-000000000001".parse().unwrap(),
        stage_id: "5d3c0a1e-0000-4000-8000-0000000000a2".parse().unwrap(),
        stage: 2,
        stages: 2,
        requester: PersonRef {
            id: "0e7a0001-0000-4000-8000-000000000001".parse().unwrap(),
            name: "Alex Wilber".into(),
        },
        package: "AP – Global Admin Eligibility Request".into(),
        role: Some("Global Administrator".into()),
        ticket: Some("TICKET-123".into()),
        justification: Some(justification.into()),
        deadline: Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0).unwrap()),
        history: vec![StageHistory {
            stage: 1,
            result: "Approved".into(),
            by: Some(PersonRef {
                id: "0e7a0001-0000-4000-8000-000000000002".parse().unwrap(),
                name: "Miriam Graham".into(),
            }),
            justification: "Known incident".into(),
        }],
        justification_required: true,
        escalated: false,
    }
}

fn samples() -> Vec<(&'static str, Message)> {
    let request = "5d3c0a1e-0000-4000-8000-000000000001".parse().unwrap();
    let when = Utc.with_ymd_and_hms(2026, 11, 22, 17, 0, 0).unwrap();
    vec![
        (
            "approval-request",
            Message::ApprovalRequest {
                card: approval("rotate the break-glass certificate"),
            },
        ),
        (
            "approval-decided",
            Message::ApprovalDecided {
                card: approval("rotate the break-glass certificate"),
                outcome: "Approved by Bianca Pisani: “ok”".into(),
            },
        ),
        (
            "request-status",
            Message::RequestStatus {
                request,
                package: "AP – Global Admin Eligibility Request".into(),
                text: "Stage 1 of 2 was approved by Miriam Graham".into(),
            },
        ),
        (
            "activation-prompt",
            Message::ActivationPrompt {
                request,
                package: "AP – Global Admin Eligibility Request".into(),
                group: "GRP-ELIG-GlobalAdmin".into(),
                choices: vec!["PT1H".into(), "PT2H".into(), "PT4H".into()],
                default: "PT4H".into(),
                mfa_required: true,
            },
        ),
        (
            "activation-result",
            Message::ActivationResult {
                request,
                active_until: Some(when),
                text: "Active until 17:00 UTC".into(),
            },
        ),
        (
            "activation-closed",
            Message::ActivationClosed {
                request,
                text: "Activated until 17:00 UTC".into(),
            },
        ),
        (
            "expiry-warning",
            Message::ExpiryWarning {
                request,
                package: "AP – Global Admin Eligibility Request".into(),
                expires: when,
            },
        ),
        (
            "reminder",
            Message::Reminder {
                request,
                stage: 1,
                deadline: when,
            },
        ),
        (
            "security-alert",
            Message::SecurityAlert {
                title: "Alex Wilber activated Global Administrator".into(),
                lines: vec![
                    "Ticket TICKET-123".into(),
                    "Approved by Miriam Graham, Bianca Pisani".into(),
                ],
            },
        ),
        (
            "sign-in",
            Message::SignInPrompt {
                reason: "Sign in once so I can act as you in Microsoft Entra.".into(),
                url: "https://stagegate.example/link/start?t=abc".into(),
            },
        ),
        (
            "help",
            Message::Help {
                text: "request <package> <ticket> <why>".into(),
            },
        ),
        (
            "text",
            Message::Text {
                text: "Recorded.".into(),
            },
        ),
    ]
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/teams_adapter_cards")
}

#[test]
fn every_template_is_a_json_card() {
    for (name, text) in TEMPLATES {
        let card: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(card["type"], "AdaptiveCard", "{name}");
        assert_eq!(card["version"], "1.5", "{name}");
    }
}

#[test]
fn every_rendered_card_validates_and_matches_its_snapshot() {
    let validator = schema();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut cards = samples()
        .into_iter()
        .map(|(name, m)| (name.to_owned(), cards::render(&m)))
        .collect::<Vec<_>>();
    cards.push(("recording".into(), cards::recording()));
    for (name, card) in cards {
        validate(&validator, &name, &card);
        let path = snapshot_dir().join(format!("{name}.json"));
        let rendered = serde_json::to_string_pretty(&card).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(snapshot_dir()).unwrap();
            std::fs::write(&path, &rendered).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("snapshot {} missing: {e}", path.display()));
        assert_eq!(rendered, expected, "{name} changed");
    }
}

#[test]
fn approval_cards_carry_ids_only_and_require_a_justification() {
    let card = cards::render(&samples().remove(0).1);
    for action in card["actions"].as_array().unwrap() {
        assert_eq!(action["type"], "Action.Execute");
        let keys: Vec<&String> = action["data"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["request", "stage"]);
        assert_eq!(action["fallback"]["type"], "Action.Submit");
    }
    let input = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "Input.Text")
        .unwrap();
    assert_eq!(input["id"], "justification");
    assert_eq!(input["isRequired"], true);
    assert_eq!(input["isMultiline"], true);
}

/// Every `TextBlock` text in a card (the only markdown-rendering element).
fn text_blocks(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) == Some("TextBlock")
                && let Some(t) = m.get("text").and_then(Value::as_str)
            {
                out.push(t.to_owned());
            }
            m.values().for_each(|v| text_blocks(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| text_blocks(v, out)),
        _ => {}
    }
}

#[test]
fn peoples_text_never_reaches_a_markdown_element_or_the_card_structure() {
    let hostile =
        "**Approved by the CISO** [click](https://evil.example) \"},{\"type\":\"Action.OpenUrl";
    let card = cards::render(&Message::ApprovalRequest {
        card: approval(hostile),
    });
    validate(&schema(), "hostile", &card);
    let mut blocks = Vec::new();
    text_blocks(&card, &mut blocks);
    assert!(blocks.iter().all(|b| !b.contains("CISO")), "{blocks:?}");
    // The text is there verbatim, in a TextRun, and adds no element.
    let runs = card.to_string();
    assert!(runs.contains("**Approved by the CISO**"));
    assert_eq!(card["actions"].as_array().unwrap().len(), 2);
    let mut types = Vec::new();
    element_types(&card, &mut types);
    assert!(
        !types.iter().any(|t| t == "Action.OpenUrl"),
        "no element was injected: {types:?}"
    );
}

fn element_types(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(m) => {
            if let Some(t) = m.get("type").and_then(Value::as_str) {
                out.push(t.to_owned());
            }
            m.values().for_each(|v| element_types(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| element_types(v, out)),
        _ => {}
    }
}

#[test]
fn the_schema_check_refuses_an_invalid_card() {
    let validator = schema();
    let mut card = cards::recording();
    card["msteams"] = serde_json::json!({ "width": "Full" });
    assert!(!validator.is_valid(&card), "root keys are closed in 1.5");
    let mut card = cards::recording();
    card["body"][0]["type"] = serde_json::json!("Marquee");
    assert!(!validator.is_valid(&card), "unknown element");
}

#[test]
fn an_approval_cards_refresh_names_at_most_60_teams_users_and_validates() {
    let message = samples().remove(0).1;
    let users: Vec<String> = (0..61).map(|i| format!("29:user-{i}")).collect();
    let card = cards::render_for(&message, Some(&users));
    validate(&schema(), "approval-request with refresh users", &card);
    let listed = card["refresh"]["userIds"].as_array().unwrap();
    assert_eq!(listed.len(), cards::MAX_REFRESH_USERS);
    assert_eq!(listed[0], "29:user-0");
    assert_eq!(card["refresh"]["action"]["verb"], "refresh");
    assert_eq!(
        card["refresh"]["action"]["data"],
        card["actions"][0]["data"]
    );
    // Unknown users: `userIds` left out (Teams: everyone in a chat of ≤ 60).
    let card = cards::render(&message);
    assert!(card["refresh"].get("userIds").is_none(), "{card}");
}
