use serde_json::json;

use super::*;
use crate::scenario::describe::{describe_action, describe_expectation};
use crate::scenario::model::{Action, Platform};

fn item(text: &str, actions: &[&str]) -> ChatItem {
    ChatItem {
        id: text.into(),
        text: text.into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        sign_in: None,
        raw: Value::Null,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn sees_wants_every_text_in_one_message_and_the_exact_buttons() {
    let items = [
        item(
            "Approval needed\nstage 1 of 2\nTICKET-1",
            &["approve", "deny"],
        ),
        item("Activate\nPT4H", &["activate_PT1H", "activate_PT4H"]),
    ];
    assert!(sees(&items, &strings(&["stage 1 of 2", "TICKET-1"]), None).is_ok());
    let buttons = strings(&["approve", "deny"]);
    assert!(sees(&items, &strings(&["TICKET-1"]), Some(&buttons)).is_ok());
    // Slack's `activate_PT4H` is the `activate` button.
    assert!(sees(&items, &[], Some(&strings(&["activate"]))).is_ok());
    // Texts split across two messages do not count.
    let m = sees(&items, &strings(&["TICKET-1", "PT4H"]), None).unwrap_err();
    assert!(m.seen.contains("stage 1 of 2"), "{m:?}");
    // Final state wanted, but the card is live.
    let m = sees(&items, &strings(&["TICKET-1"]), Some(&[])).unwrap_err();
    assert!(m.expected.contains("final state"), "{m:?}");
}

#[test]
fn does_not_see_and_all_final_name_the_offending_message() {
    let items = [
        item("decided\nApproved by Miriam", &[]),
        item("live", &["deny"]),
    ];
    assert!(does_not_see(&items, &strings(&["Bianca"])).is_ok());
    let m = does_not_see(&items, &strings(&["Miriam"])).unwrap_err();
    assert!(m.seen.contains("Approved by Miriam"));
    let m = all_final(&items).unwrap_err();
    assert!(
        m.seen.contains("live") && !m.seen.contains("decided"),
        "{m:?}"
    );
    assert!(all_final(&items[..1]).is_ok());
}

fn state() -> Value {
    json!({
        "requests": [
            { "id": "old", "requester": "alex", "state": "denied", "stages": [] },
            { "id": "r1", "requester": "alex", "state": "pendingApproval", "stages": [
                { "status": "Completed", "result": "Approved", "by": "miriam",
                  "justification": "Known incident TICKET-123" },
                { "status": "InProgress", "result": "NotReviewed", "by": null, "justification": "" },
            ]},
        ],
        "groups": { "grp": { "members": ["alex"], "eligible": [] } },
    })
}

fn graph_expectation(stage: Option<usize>, by: Option<&str>, state: Option<&str>) -> Expectation {
    Expectation::Graph {
        request_of: "alex".into(),
        state: state.map(str::to_owned),
        stage,
        result: stage.map(|_| "Approved".to_owned()),
        by: by.map(str::to_owned),
        justification: None,
    }
}

#[test]
fn graph_checks_the_newest_request_and_its_stage() {
    let s = state();
    assert_eq!(newest_request(&s, "alex").unwrap()["id"], "r1");
    assert!(
        graph(
            &s,
            &graph_expectation(Some(1), Some("miriam"), Some("pendingApproval"))
        )
        .is_ok()
    );
    let m = graph(&s, &graph_expectation(Some(1), Some("bianca"), None)).unwrap_err();
    assert_eq!(m.expected, "stage 1 decided by bianca");
    assert!(
        m.seen.contains("stage 1 Completed Approved by miriam"),
        "{m:?}"
    );
    let m = graph(&s, &graph_expectation(Some(2), None, Some("delivered"))).unwrap_err();
    assert_eq!(m.expected, "state delivered, stage 2 Approved");
    let none = Expectation::Graph {
        request_of: "diego".into(),
        state: None,
        stage: None,
        result: None,
        by: None,
        justification: None,
    };
    assert!(graph(&s, &none).unwrap_err().seen.contains("no request"));
}

#[test]
fn group_checks_membership_and_eligibility() {
    let s = state();
    assert!(group(&s, "alex", "grp", Some(true), Some(false)).is_ok());
    let m = group(&s, "alex", "grp", None, Some(true)).unwrap_err();
    assert_eq!(m.expected, "alex is eligible of grp");
    assert!(group(&s, "alex", "nope", Some(true), None).is_err());
}

#[test]
fn one_line_dedupes_and_shortens() {
    assert_eq!(one_line("a\n\n b \na\nc"), "a · b · c");
    let long = "x".repeat(300);
    assert_eq!(one_line(&long).chars().count(), 238);
}

#[test]
fn steps_read_as_sentences() {
    let typed = Action::Type {
        who: "alex".into(),
        text: "request global-admin T-1 why".into(),
    };
    assert_eq!(
        describe_action(&typed, Platform::Slack),
        "alex runs `/request global-admin T-1 why` in Slack"
    );
    assert_eq!(
        describe_action(&typed, Platform::Teams),
        "alex types `request global-admin T-1 why` in Teams"
    );
    let security = Expectation::Security {
        contains: strings(&["denied"]),
        channels: None,
    };
    assert_eq!(
        describe_expectation(&security, Platform::Teams),
        "the security channel (Teams) shows [\"denied\"]"
    );
}
