use super::*;

const MINIMAL: &str = r#"
name = "t"
description = "d"
platforms = ["teams", "slack"]

[[steps]]
do = "type"
who = "alex"
text = "request global-admin TICKET-1 why"

[[steps]]
on = "slack"
expect = "sees"
who = "miriam"
contains = ["TICKET-1"]
buttons = ["approve", "deny"]
"#;

#[test]
fn a_scenario_parses_into_numbered_steps() {
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.platforms, [Platform::Teams, Platform::Slack]);
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[0].number, 1);
    assert_eq!(
        s.steps[0].kind,
        StepKind::Do(Action::Type {
            who: "alex".into(),
            text: "request global-admin TICKET-1 why".into()
        })
    );
    assert_eq!(s.steps[1].on, Some(Platform::Slack));
    assert!(matches!(
        &s.steps[1].kind,
        StepKind::Expect(Expectation::Sees { buttons: Some(b), .. }) if b.len() == 2
    ));
}

#[test]
fn an_unknown_key_in_a_step_is_refused_naming_the_step() {
    let text = MINIMAL.replace("text = ", "txet = ");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.starts_with("step 1:"), "{err}");
    assert!(err.contains("txet"), "{err}");

    let text = MINIMAL.replace("buttons =", "buttonz =");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("step 2:") && err.contains("buttonz"),
        "{err}"
    );
}

#[test]
fn an_unknown_action_or_platform_is_named() {
    let err = parse(&MINIMAL.replace("do = \"type\"", "do = \"dance\""))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("step 1:") && err.contains("dance"), "{err}");
    let err = parse(&MINIMAL.replace("on = \"slack\"", "on = \"irc\""))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("step 2:") && err.contains("irc"), "{err}");
}

#[test]
fn a_step_needs_exactly_one_of_do_and_expect() {
    let text = MINIMAL.replace("do = \"type\"", "do = \"type\"\nexpect = \"sees\"");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("step 1:") && err.contains("exactly one"),
        "{err}"
    );
}

#[test]
fn file_level_problems_are_reported() {
    let err = parse(&MINIMAL.replace("description", "descripton"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("descripton"), "{err}");
    let err = parse(&MINIMAL.replace("[\"teams\", \"slack\"]", "[]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("platforms"), "{err}");
}

#[test]
fn teams_text_becomes_the_slack_command() {
    assert_eq!(
        slack_command("request global-admin T-1 why"),
        ("/request", "global-admin T-1 why".to_owned())
    );
    assert_eq!(slack_command("link"), ("/stagegate", "link".to_owned()));
    assert_eq!(slack_command("request"), ("/request", String::new()));
}

#[test]
fn every_shipped_scenario_parses() {
    for (name, text) in crate::scenario::SHIPPED {
        let s = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&s.name, name);
    }
}
