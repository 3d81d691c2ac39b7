use proptest::prelude::*;

use super::*;

const ID: &str = "8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

fn request(text: &str) -> RequestCommand {
    match parse(text) {
        Ok(Command::Request(r)) => r,
        other => panic!("{text:?} parsed as {other:?}"),
    }
}

#[test]
fn request_with_justification_keeps_it_verbatim() {
    let r = request("request global-admin INC-1234 rotate the\n  break-glass certificate ");
    assert_eq!(r.alias.as_str(), "global-admin");
    assert_eq!(r.ticket.as_str(), "INC-1234");
    assert_eq!(
        r.justification.expect("given").as_str(),
        "rotate the\n  break-glass certificate"
    );
    assert!(!r.dry_run);
}

#[test]
fn platform_preambles_and_case_are_tolerated() {
    let expected = request("request global-admin INC-1 why");
    for text in [
        "<at>stagegate</at> request global-admin INC-1 why",
        "<AT>stagegate</AT>\u{a0}<at>Other Bot</at>  REQUEST Global-Admin INC-1 why",
        "/request global-admin INC-1 why",
        "/stagegate Request global-admin   INC-1 why",
        "\t request\u{a0}global-admin INC-1 why\n",
    ] {
        assert_eq!(request(text), expected, "{text:?}");
    }
    assert_eq!(parse("/stagegate"), Err(CommandError::Empty));
    assert_eq!(parse("<at>stagegate</at>"), Err(CommandError::Empty));
}

#[test]
fn dry_run_is_a_flag_wherever_it_is_unambiguous() {
    for text in [
        "request --dry-run global-admin INC-1 why",
        "request global-admin INC-1 --dry-run why",
        "request global-admin INC-1 why --dry-run",
        "request global-admin INC-1 why —dry-run",
        "request global-admin INC-1 why --DRY-RUN --dry-run",
    ] {
        let r = request(text);
        assert!(r.dry_run, "{text}");
        assert_eq!(r.justification.expect("given").as_str(), "why", "{text}");
    }
    let r = request("request global-admin INC-1 --dry-run");
    assert!(r.dry_run && r.justification.is_none());
    let r = request("request global-admin INC-1 -- --dry-run is what I typed");
    assert!(!r.dry_run);
    assert_eq!(
        r.justification.expect("given").as_str(),
        "--dry-run is what I typed"
    );
}

#[test]
fn request_errors_are_specific_and_show_usage() {
    let usage = Verb::Request.usage();
    type Check = fn(&CommandError) -> bool;
    let cases: [(&str, Check); 5] = [
        (
            "request",
            |e| matches!(e, CommandError::Missing { what, .. } if what.contains("alias")),
        ),
        (
            "request global-admin",
            |e| matches!(e, CommandError::Missing { what, .. } if what.contains("ticket")),
        ),
        ("request global_admin INC-1", |e| {
            matches!(
                e,
                CommandError::Invalid {
                    source: IdError::BadChar { found: '_', .. },
                    ..
                }
            )
        }),
        (
            "request global-admin INC-1 --force why",
            |e| matches!(e, CommandError::UnknownFlag { shown, .. } if shown == "--force"),
        ),
        ("request a INC-1 bell\u{7}", |e| {
            matches!(e, CommandError::Invalid { .. })
        }),
    ];
    for (text, check) in cases {
        let err = parse(text).expect_err(text);
        assert!(check(&err), "{text}: {err:?}");
        assert!(err.to_string().contains(usage), "{text}: {err}");
    }
    assert_eq!(request("request a INC-1 \n").justification, None);
    let long = format!("request a INC-1 {}", "x".repeat(501));
    let err = parse(&long).expect_err("too long");
    assert!(err.to_string().contains("at most 500"), "{err}");
}

#[test]
fn status_cancel_and_argument_counts() {
    assert_eq!(parse("status"), Ok(Command::Status { request: None }));
    let id: RequestId = ID.parse().expect("id");
    assert_eq!(
        parse(&format!("STATUS {ID}")),
        Ok(Command::Status { request: Some(id) })
    );
    assert_eq!(
        parse(&format!("cancel {}", ID.to_uppercase())),
        Ok(Command::Cancel { request: id })
    );
    let err = parse("cancel").expect_err("missing id");
    assert!(
        matches!(
            err,
            CommandError::Missing {
                verb: Verb::Cancel,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cancel <request-id>"), "{err}");
    let err = parse("cancel 42").expect_err("not a GUID");
    assert!(
        err.to_string().contains("request id must be a GUID"),
        "{err}"
    );
    let err = parse("pending now please").expect_err("extra");
    assert!(
        matches!(&err, CommandError::TooManyArguments { shown, .. } if shown == "now please"),
        "{err:?}"
    );
    assert!(parse(&format!("status {ID} {ID}")).is_err());
    assert_eq!(parse("link"), Ok(Command::Link));
    assert_eq!(parse("Unlink"), Ok(Command::Unlink));
    assert_eq!(parse("help"), Ok(Command::Help { topic: None }));
    assert_eq!(
        parse("help Cancel"),
        Ok(Command::Help {
            topic: Some(Verb::Cancel)
        })
    );
    assert!(matches!(
        parse("help me"),
        Err(CommandError::UnknownHelpTopic { .. })
    ));
}

#[test]
fn unknown_and_empty_messages() {
    assert_eq!(parse(" \n "), Err(CommandError::Empty));
    let err = parse("approve everything").expect_err("unknown");
    assert_eq!(
        err,
        CommandError::UnknownCommand {
            shown: "approve".into()
        }
    );
    let msg = err.to_string();
    for verb in Verb::ALL {
        assert!(msg.contains(verb.name()), "{msg}");
    }
}

#[test]
fn help_lists_every_command_with_usage() {
    let help = help_text();
    for verb in Verb::ALL {
        assert!(help.contains(verb.usage()), "{help}");
        assert!(help.contains(verb.summary()), "{help}");
    }
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,8}",
        Just("--dry-run".to_owned()),
        Just("--".to_owned()),
        Just("—dry-run".to_owned()),
        Just("--force".to_owned()),
        Just("<at>x</at>".to_owned()),
        Just("/request".to_owned()),
        "\\PC{1,4}",
    ]
}

fn spacing() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(" "),
        Just("  "),
        Just("\n"),
        Just("\u{a0}"),
        Just(" \t ")
    ]
}

fn justification() -> impl Strategy<Value = Option<Justification>> {
    proptest::option::of(prop::collection::vec((word(), spacing()), 1..8)).prop_filter_map(
        "valid",
        |words| match words {
            None => Some(None),
            Some(words) => {
                let text: String = words.iter().map(|(w, s)| format!("{w}{s}")).collect();
                text.parse().ok().map(Some)
            }
        },
    )
}

fn command() -> impl Strategy<Value = Command> {
    let id = any::<u128>().prop_filter_map("not nil", |n| {
        RequestId::from_uuid(uuid::Uuid::from_u128(n)).ok()
    });
    let request = (
        "[a-z0-9][a-z0-9-]{0,63}",
        "[!-~]{1,128}",
        justification(),
        any::<bool>(),
    )
        .prop_map(|(alias, ticket, justification, dry_run)| {
            Command::Request(RequestCommand {
                alias: alias.parse().expect("strategy makes valid aliases"),
                ticket: ticket.parse().expect("strategy makes valid tickets"),
                justification,
                dry_run,
            })
        });
    prop_oneof![
        request,
        proptest::option::of(id.clone()).prop_map(|request| Command::Status { request }),
        id.prop_map(|request| Command::Cancel { request }),
        Just(Command::Pending),
        Just(Command::Link),
        Just(Command::Unlink),
        proptest::option::of(proptest::sample::select(Verb::ALL.to_vec()))
            .prop_map(|topic| Command::Help { topic }),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_command_like_noise(words in prop::collection::vec((word(), spacing()), 0..12)) {
        let text: String = words.iter().map(|(w, s)| format!("{w}{s}")).collect();
        let _ = parse(&text);
        let _ = parse(&format!("request {text}"));
        let _ = parse(&format!("<at>stagegate</at> {text}"));
    }

    #[test]
    fn display_then_parse_round_trips(cmd in command(), preamble in prop_oneof![
        Just(""), Just("<at>stagegate</at> "), Just("/"), Just("/stagegate "), Just(" \u{a0}\n"),
    ]) {
        let text = format!("{preamble}{cmd}");
        prop_assert_eq!(parse(&text), Ok(cmd), "{:?}", text);
    }

    #[test]
    fn errors_always_have_a_message(text in any::<String>()) {
        if let Err(err) = parse(&text) {
            prop_assert!(!err.to_string().is_empty());
        }
    }
}
