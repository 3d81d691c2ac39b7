//! `stagegate discover` against the seeded sandbox: the blocks it prints,
//! pasted into a config, are the packages the seeded story runs with (the
//! sandbox's own wiring), ids, patterns, roles and flags alike; a package it
//! cannot use says why instead of a block.

use serde::Deserialize;
use stagegate::config::PackageSettings;

use stagegate_lab::wiring::BotWiring;

use crate::helpers::{loopback0, spawn_sandbox};

#[derive(Deserialize)]
struct Pasted {
    engine: Engine,
}

#[derive(Deserialize)]
struct Engine {
    packages: Vec<PackageSettings>,
}

#[tokio::test]
async fn discover_prints_the_seeded_story_packages_ready_to_paste() {
    let sandbox = spawn_sandbox().await;
    let scratch = tempfile::tempdir().unwrap();
    let settings = sandbox
        .state
        .bot_settings(loopback0(), scratch.path().join("bot.db"));

    let printed = stagegate::discover::discover(&settings, None)
        .await
        .unwrap();
    let pasted: Pasted = toml::from_str(&printed)
        .unwrap_or_else(|e| panic!("the output is not TOML ({e}):\n{printed}"));
    let found = &pasted.engine.packages;

    // The break-glass drill package asks no ticket question: no block, a reason.
    assert!(
        printed.contains("# AP – Break-glass drill (catalog: Privileged Access)\n# Not usable: none of its policies asks a text question"),
        "{printed}"
    );
    let wired = &settings.engine.packages;
    assert_eq!(found.len(), wired.len(), "{printed}");
    for expected in wired {
        let got = found
            .iter()
            .find(|p| p.access_package_id == expected.access_package_id)
            .unwrap_or_else(|| panic!("no block for {}:\n{printed}", expected.display_name));
        let same = |p: &PackageSettings| {
            (
                p.display_name.clone(),
                p.policy_id.clone(),
                p.ticket_question_id.clone(),
                p.ticket_pattern.clone(),
                p.group_id.clone(),
                p.role.clone(),
                p.justification_required,
                p.hidden,
            )
        };
        assert_eq!(same(got), same(expected), "{printed}");
    }
    // The aliases the seeded story types.
    let aliases: Vec<&str> = found.iter().map(|p| p.alias.as_str()).collect();
    assert!(aliases.contains(&"global-admin"), "{aliases:?}");
    assert!(aliases.contains(&"helpdesk-admin"), "{aliases:?}");

    let one = stagegate::discover::discover(&settings, Some("helpdesk"))
        .await
        .unwrap();
    assert_eq!(one.matches("[[engine.packages]]").count(), 1, "{one}");
    let none = stagegate::discover::discover(&settings, Some("no-such-package"))
        .await
        .unwrap_err();
    assert!(
        none.to_string()
            .contains("no access package is named like `no-such-package`")
    );
}
