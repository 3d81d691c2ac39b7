//! The permission lists of docs/deploy.md are the code's own: the
//! application permissions the bot declares (and the seeded tenant's app
//! registration grants), and the delegated scopes sign-in asks for.

use std::collections::BTreeSet;

use stagegate::config::default_delegated_scopes;
use stagegate::graph::APPLICATION_PERMISSIONS;
use stagegate_sandbox::tenant::{SEED_TENANT, TenantFile};

/// The backticked names between `<!-- permissions:{kind} -->` and the next
/// `<!-- /permissions -->` in docs/deploy.md.
fn documented(kind: &str) -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy.md")).unwrap();
    let start = doc
        .find(&format!("<!-- permissions:{kind} -->"))
        .unwrap_or_else(|| panic!("docs/deploy.md has no {kind} permission list"));
    let section = &doc[start..];
    let section = &section[..section.find("<!-- /permissions -->").unwrap()];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_documented_application_permissions_are_the_ones_the_bot_declares() {
    let declared: BTreeSet<String> = APPLICATION_PERMISSIONS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(documented("application"), declared);
}

#[test]
fn the_documented_delegated_permissions_are_the_ones_sign_in_asks_for() {
    // openid (the OpenID Connect client adds it) and offline_access (for the
    // refresh token) are always asked; then `identity.scopes`.
    let mut asked: BTreeSet<String> = ["openid", "offline_access"]
        .map(String::from)
        .into_iter()
        .collect();
    asked.extend(default_delegated_scopes().iter().map(|s| {
        s.trim_start_matches("https://graph.microsoft.com/")
            .to_owned()
    }));
    assert_eq!(documented("delegated"), asked);
}

#[test]
fn the_seeded_app_registration_grants_what_the_bot_declares() {
    let tenant = TenantFile::parse(SEED_TENANT).unwrap();
    let granted: BTreeSet<&str> = tenant
        .app
        .application_permissions
        .iter()
        .map(String::as_str)
        .collect();
    let declared: BTreeSet<&str> = APPLICATION_PERMISSIONS.iter().map(|(n, _)| *n).collect();
    assert_eq!(granted, declared);
}
