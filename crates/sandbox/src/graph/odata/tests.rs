use serde_json::json;

use super::*;

#[test]
fn filters_match() {
    let item = json!({"state": "delivered", "createdDateTime": "2026-01-02T00:00:00.000Z",
        "accessPackage": {"id": "abc"}, "mail": "Alex@contoso.example", "n": 3});
    for (f, expected) in [
        ("state eq 'delivered'", true),
        ("state eq 'denied'", false),
        ("state ne 'denied'", true),
        ("createdDateTime ge 2026-01-01T00:00:00Z", true),
        ("createdDateTime lt 2026-01-01T00:00:00Z", false),
        ("accessPackage/id eq 'abc' and state eq 'delivered'", true),
        (
            "(state eq 'x' or state eq 'delivered') and not (n gt 5)",
            true,
        ),
        ("mail eq 'alex@contoso.example'", true),
        ("startswith(mail,'alex')", true),
        ("n le 3", true),
    ] {
        assert_eq!(Filter::parse(f).unwrap().matches(&item), expected, "{f}");
    }
}

#[test]
fn bad_filters_are_refused() {
    for f in [
        "state eq",
        "state like 'x'",
        "(state eq 'x'",
        "state eq 'unterminated",
    ] {
        assert!(Filter::parse(f).is_err(), "{f}");
    }
}

#[test]
fn unsupported_options_are_refused() {
    assert!(ODataQuery::parse(Some("$search=x"), Supported::LIST).is_err());
    assert!(ODataQuery::parse(Some("$expand=manager"), Supported::LIST).is_err());
    let q = ODataQuery::parse(
        Some("$expand=assignment($expand=target),accessPackage"),
        Supported::LIST.with_expand(&["assignment", "accessPackage"]),
    )
    .unwrap();
    assert_eq!(q.expand.len(), 2);
    assert_eq!(q.expand[0].options.as_deref(), Some("$expand=target"));
}

#[test]
fn pages_with_next_link() {
    let q = ODataQuery::parse(Some("$top=2"), Supported::LIST).unwrap();
    let items = (0..5).map(|i| json!({"id": i.to_string()})).collect();
    let body = q.collection(items, "http://x/users");
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("%24skiptoken=2") || next.contains("$skiptoken=2"),
        "{next}"
    );
}
