//! `stagegate doctor` against the seeded sandbox and against tenants with one
//! misconfiguration each: the seeded tenant has no error, and each
//! misconfiguration adds exactly its own finding.

use std::collections::BTreeSet;

use stagegate::config::Settings;
use stagegate::doctor::{Report, Severity, doctor};
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::tenant::SEED_TENANT;

use crate::helpers::{TestSandbox, loopback0, spawn_sandbox_with_tenant};

fn settings_for(sandbox: &TestSandbox, dir: &tempfile::TempDir) -> Settings {
    sandbox
        .state
        .bot_settings(loopback0(), dir.path().join("bot.db"))
}

/// (package alias, finding code) of every error and warning.
fn seen(report: &Report) -> BTreeSet<(String, &'static str)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| (f.subject.clone(), f.code))
        .collect()
}

/// Doctor's findings on the seeded tenant changed by `tenant`, with the
/// sandbox's own bot settings changed by `config`.
async fn doctor_on(
    tenant: impl FnOnce(&str) -> String,
    config: impl FnOnce(&mut Settings),
) -> Report {
    let sandbox = spawn_sandbox_with_tenant(Some(tenant(SEED_TENANT))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_for(&sandbox, &dir);
    config(&mut settings);
    doctor(&settings).await.unwrap()
}

/// `text` with the first `from` after `anchor` replaced by `to`.
fn patch(text: &str, anchor: &str, from: &str, to: &str) -> String {
    let at = text.find(anchor).unwrap_or_else(|| panic!("no {anchor}"));
    let offset = text[at..].find(from).unwrap_or_else(|| panic!("no {from}")) + at;
    format!("{}{to}{}", &text[..offset], &text[offset + from.len()..])
}

async fn seeded() -> BTreeSet<(String, &'static str)> {
    seen(&doctor_on(str::to_owned, |_| {}).await)
}

/// The findings `report` has beyond the seeded tenant's.
async fn added(report: &Report) -> Vec<(String, &'static str)> {
    let base = seeded().await;
    seen(report).difference(&base).cloned().collect()
}

fn one(alias: &str, code: &'static str) -> Vec<(String, &'static str)> {
    vec![(alias.to_owned(), code)]
}

#[tokio::test]
async fn the_seeded_tenant_has_no_error_and_says_what_it_would_improve() {
    let report = doctor_on(str::to_owned, |_| {}).await;
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity != Severity::Error),
        "{}",
        report.to_text()
    );
    let expected: BTreeSet<(String, &'static str)> = [
        // Stage 2 is Bianca alone, with no fallback.
        ("global-admin", "single-approver"),
        // One stage, no approver justification, an optional ticket, and
        // activation without MFA: the seeded "easy" package.
        ("helpdesk-admin", "approver-justification-off"),
        ("helpdesk-admin", "requestor-justification-off"),
        ("helpdesk-admin", "ticket-question-optional"),
        ("helpdesk-admin", "activation-without-mfa"),
    ]
    .into_iter()
    .map(|(a, c)| (a.to_owned(), c))
    .collect();
    assert_eq!(seen(&report), expected, "{}", report.to_text());
    assert_eq!(report.exit_code(), 1);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["errors"], 0);
    assert_eq!(json["warnings"], 5);
    assert_eq!(json["findings"][0]["severity"], "warning");
}

#[tokio::test]
async fn a_package_whose_assignments_never_expire_is_an_error() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"global-admin\"",
                "assignment_duration = \"PT8H\"\n",
                "",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "assignment-never-expires")
    );
    assert_eq!(report.exit_code(), 2);
}

#[tokio::test]
async fn an_activation_longer_than_the_assignment_is_an_error() {
    let report = doctor_on(
        |t| patch(t, "key = \"grp-elig-globaladmin\"", "\"PT4H\"", "\"PT12H\""),
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "activation-longer-than-assignment")
    );
}

#[tokio::test]
async fn a_group_that_is_not_role_assignable_is_an_error() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"grp-elig-globaladmin\"",
                "is_assignable_to_role = true",
                "is_assignable_to_role = false",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "group-not-role-assignable")
    );
}

#[tokio::test]
async fn an_activation_without_mfa_is_a_warning() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"grp-elig-globaladmin\"",
                "[\"MultiFactorAuthentication\", \"Justification\"]",
                "[\"Justification\"]",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "activation-without-mfa")
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn wrong_ids_in_the_config_are_errors() {
    let report = doctor_on(str::to_owned, |s| {
        s.engine.packages[0].ticket_question_id = "9e570000-0000-4000-8000-0000000000ff".into();
        s.engine.packages[1].policy_id = "9011c700-0000-4000-8000-000000000001".into();
    })
    .await;
    let added = added(&report).await;
    assert!(
        added.contains(&("global-admin".into(), "ticket-question-not-found")),
        "{added:?}"
    );
    assert!(
        added.contains(&("priv-role-admin".into(), "policy-of-another-package")),
        "{added:?}"
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_one_credentials_error() {
    let report = doctor_on(str::to_owned, |s| {
        s.entra.client_secret = "not-the-secret".to_owned().into();
    })
    .await;
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["credentials"], "{}", report.to_text());
    assert_eq!(report.exit_code(), 2);
}

#[tokio::test]
async fn no_requestor_justification_is_a_warning() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"global-admin\"",
                "requestor_justification_required = true",
                "requestor_justification_required = false",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "requestor-justification-off")
    );
}

#[tokio::test]
async fn an_activation_without_justification_is_a_warning() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"grp-elig-globaladmin\"",
                "[\"MultiFactorAuthentication\", \"Justification\"]",
                "[\"MultiFactorAuthentication\"]",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "activation-without-justification")
    );
}

#[tokio::test]
async fn a_group_outside_pim_is_an_error() {
    // The group without its PIM section. (The sandbox's bot settings take
    // `role` from the same section, so they name no role to check here.)
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"grp-elig-globaladmin\"",
                "[groups.pim]\nmaximum_activation = \"PT4H\"\nenabled_rules = [\"MultiFactorAuthentication\", \"Justification\"]\neligible_roles = [\"global-administrator\"]\n",
                "",
            )
        },
        |_| {},
    )
    .await;
    assert_eq!(
        added(&report).await,
        one("global-admin", "group-not-pim-managed"),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn a_wrong_role_or_group_in_the_config_is_found() {
    let report = doctor_on(str::to_owned, |s| {
        s.engine.packages[0].role = Some("Helpdesk Administrator".into());
        s.engine.packages[1].group_id = "0e7a00ff-0000-4000-8000-0000000000ff".into();
    })
    .await;
    let added = added(&report).await;
    assert!(
        added.contains(&("global-admin".into(), "role-not-held")),
        "{added:?}"
    );
    assert!(
        added.contains(&("priv-role-admin".into(), "group-not-found")),
        "{added:?}"
    );
}

#[tokio::test]
async fn no_packages_and_a_missing_permission_are_errors() {
    let report = doctor_on(str::to_owned, |s| s.engine.packages.clear()).await;
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["no-packages"]);

    let report = doctor_on(
        |t| {
            patch(
                t,
                "application_permissions",
                "  \"EntitlementManagement.Read.All\",\n",
                "",
            )
        },
        |_| {},
    )
    .await;
    let codes: BTreeSet<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        BTreeSet::from(["permission-missing"]),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn a_disabled_approver_is_a_warning() {
    let report = doctor_on(
        |t| {
            patch(
                t,
                "key = \"bianca\"",
                "manager = \"megan\"\n",
                "manager = \"megan\"\naccount_enabled = false\n",
            )
        },
        |_| {},
    )
    .await;
    // Bianca is stage 2 of global-admin and of the break-glass drill (not
    // configured); the stage keeps its single-approver warning.
    assert_eq!(
        added(&report).await,
        one("global-admin", "approver-disabled")
    );
    assert!(
        report.to_text().contains("Bianca Pisani cannot sign in"),
        "{}",
        report.to_text()
    );
}
