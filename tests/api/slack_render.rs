//! Block Kit snapshots of every message the engine sends, and mrkdwn
//! escaping of what people typed. The snapshots are committed JSON under
//! `tests/api/snapshots/slack/`; a rendering change fails here until the
//! snapshot is regenerated (`UPDATE_SNAPSHOTS=1`) and reviewed.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use stagegate::chat::port::{ApprovalCard, Message, PersonRef, StageHistory};
use stagegate::chat::slack::render::{escape, render};

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, h, 30, 0).unwrap()
}

fn card(justification: &str) -> ApprovalCard {
    ApprovalCard {
        request: "0f1e2d3c-0000-4000-8000-000000000001".parse().unwrap(),
        stage_id: "0f1e2d3c-0000-4000-8000-0000000000a2".parse().unwrap(),
        stage: 2,
        stages: 2,
        requester: PersonRef {
            id: "0e7a0000-0000-4000-8000-000000000001".parse().unwrap(),
            name: "Alex Wilber".into(),
        },
        package: "AP – Global Admin Eligibility Request".into(),
        role: Some("Global Administrator".into()),
        ticket: Some("TICKET-123".into()),
        justification: Some(justification.into()),
        deadline: Some(at(18)),
        history: vec![StageHistory {
            stage: 1,
            result: "Approved".into(),
            by: Some(PersonRef {
                id: "0e7a0000-0000-4000-8000-000000000002".parse().unwrap(),
                name: "Miriam Graham".into(),
            }),
            justification: "Known incident".into(),
        }],
        justification_required: true,
        escalated: false,
    }
}

fn samples() -> Vec<(&'static str, Message)> {
    let request = "0f1e2d3c-0000-4000-8000-000000000001".parse().unwrap();
    vec![
        (
            "approval_request",
            Message::ApprovalRequest {
                card: card("rotate the break-glass certificate"),
            },
        ),
        (
            "approval_decided",
            Message::ApprovalDecided {
                card: card("rotate the break-glass certificate"),
                outcome: "Approved by Bianca Pisani: “ok”".into(),
            },
        ),
        (
            "request_status",
            Message::RequestStatus {
                request,
                package: "AP – Global Admin Eligibility Request".into(),
                text: "Stage 1 approved by Miriam Graham.".into(),
            },
        ),
        (
            "activation_prompt",
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
            "activation_closed",
            Message::ActivationClosed {
                request,
                text: "Activated until 22:30 UTC.".into(),
            },
        ),
        (
            "activation_result",
            Message::ActivationResult {
                request,
                active_until: Some(at(22)),
                text: "Active until 22:30 UTC.".into(),
            },
        ),
        (
            "expiry_warning",
            Message::ExpiryWarning {
                request,
                package: "AP – Global Admin Eligibility Request".into(),
                expires: at(20),
            },
        ),
        (
            "reminder",
            Message::Reminder {
                request,
                stage: 1,
                deadline: at(18),
            },
        ),
        (
            "security_alert",
            Message::SecurityAlert {
                title: "Privileged role activated".into(),
                lines: vec![
                    "Alex Wilber activated GRP-ELIG-GlobalAdmin".into(),
                    "Ticket TICKET-123".into(),
                ],
            },
        ),
        (
            "sign_in_prompt",
            Message::SignInPrompt {
                reason: "Sign in to link your Microsoft account to stagegate.".into(),
                url: "https://stagegate.example/auth/start?state=abc".into(),
            },
        ),
        (
            "help",
            Message::Help {
                text: "`/request <alias> <ticket> [why]`".into(),
            },
        ),
        (
            "text",
            Message::Text {
                text: "Recorded: you approved stage 1.".into(),
            },
        ),
    ]
}

fn snapshot_path(name: &str) -> String {
    format!(
        "{}/tests/api/snapshots/slack/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn every_message_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatched = Vec::new();
    for (name, message) in samples() {
        let rendered = render(&message);
        let actual = json!({ "text": rendered.text, "blocks": rendered.blocks });
        let path = snapshot_path(name);
        if update {
            std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        if expected != actual {
            mismatched.push(format!(
                "{name}: {}",
                serde_json::to_string_pretty(&actual).unwrap()
            ));
        }
    }
    assert!(
        mismatched.is_empty(),
        "snapshots differ:\n{}",
        mismatched.join("\n")
    );
}

#[test]
fn every_message_has_a_fallback_text_and_valid_block_kit() {
    for (name, message) in samples() {
        let mut rendered = render(&message);
        assert!(
            !rendered.text.trim().is_empty(),
            "{name} has no fallback text"
        );
        stagegate::chat::slack::blocks::fit_message_blocks(&mut rendered.blocks)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn approval_card_buttons_carry_ids_and_styles() {
    let rendered = render(&Message::ApprovalRequest { card: card("why") });
    let actions = rendered
        .blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    let buttons = actions["elements"].as_array().unwrap();
    assert_eq!(buttons[0]["action_id"], "approve");
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[1]["action_id"], "deny");
    assert_eq!(buttons[1]["style"], "danger");
    let value: Value = serde_json::from_str(buttons[0]["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["request"], "0f1e2d3c-0000-4000-8000-000000000001");
    assert_eq!(value["stage"], "0f1e2d3c-0000-4000-8000-0000000000a2");
    let decided = render(&Message::ApprovalDecided {
        card: card("why"),
        outcome: "Approved".into(),
    });
    assert!(
        decided.blocks.iter().all(|b| b["type"] != "actions"),
        "no live buttons"
    );
}

#[test]
fn typed_text_renders_inert() {
    let evil = "urgent <!channel> see <https://evil.example|click here> & <@U0123>";
    let rendered = render(&Message::ApprovalRequest { card: card(evil) });
    let all = serde_json::to_string(&rendered.blocks).unwrap() + &rendered.text;
    for live in ["<!channel>", "<https://evil", "<@U0123>"] {
        assert!(!all.contains(live), "{live} survived: {all}");
    }
    assert!(all.contains("&lt;!channel&gt;"), "{all}");
    assert!(
        all.contains("&lt;https://evil.example|click here&gt;"),
        "{all}"
    );
    assert_eq!(escape("a & b"), "a &amp; b");
}

#[test]
fn long_justifications_are_cut_visibly() {
    let long = "x".repeat(5000);
    let rendered = render(&Message::ApprovalRequest { card: card(&long) });
    let section = rendered
        .blocks
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Justification"))
        })
        .unwrap();
    let text = section["text"]["text"].as_str().unwrap();
    assert!(text.chars().count() <= 3000, "{}", text.len());
    assert!(text.ends_with('…'), "the cut is visible");
}
