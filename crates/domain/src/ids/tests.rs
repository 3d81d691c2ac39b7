use super::*;

const GUID: &str = "8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

#[test]
fn guid_ids_accept_only_the_canonical_form_and_normalise_case() {
    let id: ObjectId = GUID.to_uppercase().parse().expect("upper-case GUID");
    assert_eq!(id.to_string(), GUID);
    assert_eq!(id, GUID.parse::<ObjectId>().expect("GUID"));
    for bad in [
        "8f1c2a345b6d4e7f8a9b0c1d2e3f4a5b",
        "{8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b}",
        "8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5g",
        " 8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5",
    ] {
        assert!(
            matches!(
                bad.parse::<RequestId>(),
                Err(IdError::NotAGuid {
                    kind: "request id",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        "".parse::<TenantId>(),
        Err(IdError::Empty { kind: "tenant id" })
    );
    assert_eq!(
        "00000000-0000-0000-0000-000000000000".parse::<ObjectId>(),
        Err(IdError::NilGuid { kind: "object id" })
    );
}

#[test]
fn serde_is_the_plain_string_and_validates() {
    let id: StageId = GUID.parse().expect("GUID");
    assert_eq!(
        serde_json::to_string(&id).expect("ser"),
        format!("\"{GUID}\"")
    );
    let back: StageId = serde_json::from_str(&format!("\"{GUID}\"")).expect("de");
    assert_eq!(back, id);
    let err = serde_json::from_str::<StageId>("\"stage-1\"").expect_err("not a GUID");
    assert!(
        err.to_string().contains("approval stage id must be a GUID"),
        "{err}"
    );
    assert!(serde_json::from_str::<Alias>("\"Global-Admin\"").is_err());
    let j: Justification = serde_json::from_str("\"  why \"").expect("de");
    assert_eq!(j.as_str(), "why");
}

#[test]
fn alias_rules() {
    assert_eq!(
        "global-admin".parse::<Alias>().expect("ok").as_str(),
        "global-admin"
    );
    assert!("a".repeat(64).parse::<Alias>().is_ok());
    assert!(matches!(
        "a".repeat(65).parse::<Alias>(),
        Err(IdError::TooLong {
            len: 65,
            max: 64,
            ..
        })
    ));
    assert!(matches!(
        "Global".parse::<Alias>(),
        Err(IdError::BadChar { found: 'G', .. })
    ));
    assert!(matches!(
        "a_b".parse::<Alias>(),
        Err(IdError::BadChar { found: '_', .. })
    ));
    assert!(matches!(
        "--dry-run".parse::<Alias>(),
        Err(IdError::BadPrefix { .. })
    ));
    assert_eq!("".parse::<Alias>(), Err(IdError::Empty { kind: "alias" }));
}

#[test]
fn ticket_rules() {
    assert!("INC-1234".parse::<Ticket>().is_ok());
    assert!(matches!(
        "INC 1".parse::<Ticket>(),
        Err(IdError::BadChar { found: ' ', .. })
    ));
    assert!(matches!(
        "A\u{7}".parse::<Ticket>(),
        Err(IdError::BadChar { .. })
    ));
    assert!("x".repeat(128).parse::<Ticket>().is_ok());
    assert!(matches!(
        "x".repeat(129).parse::<Ticket>(),
        Err(IdError::TooLong { max: 128, .. })
    ));
}

#[test]
fn justification_is_trimmed_bounded_and_not_blank() {
    let j: Justification = "  rotate the\ncertificate \t".parse().expect("ok");
    assert_eq!(j.as_str(), "rotate the\ncertificate");
    assert_eq!(
        " \n\t ".parse::<Justification>(),
        Err(IdError::Empty {
            kind: "justification"
        })
    );
    assert!(
        "é".repeat(500).parse::<Justification>().is_ok(),
        "counts characters, not bytes"
    );
    assert!(matches!(
        "é".repeat(501).parse::<Justification>(),
        Err(IdError::TooLong { len: 501, .. })
    ));
    assert!(matches!(
        "bell\u{7}".parse::<Justification>(),
        Err(IdError::BadChar { found: '\u{7}', .. })
    ));
}

#[test]
fn errors_echo_at_most_a_short_excerpt() {
    let long = "z".repeat(100);
    let msg = long.parse::<ObjectId>().expect_err("bad").to_string();
    assert!(msg.contains(&format!("{}…", "z".repeat(40))), "{msg}");
    assert!(!msg.contains(&"z".repeat(41)), "{msg}");
}
