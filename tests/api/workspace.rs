//! The architecture the compiler cannot see from one crate: the production
//! bot's build contains no emulator, console, chaos or load code, and the
//! pure domain crate depends on no runtime, database or HTTP client. Read
//! from `cargo tree` of each package's normal dependencies (what
//! `cargo build -p <package>` links), not from dev-dependencies.

use std::process::Command;

/// Every package `package` links in a normal build (to `depth` levels).
fn linked_packages(package: &str) -> Vec<String> {
    linked_to_depth(package, None)
}

fn linked_to_depth(package: &str, depth: Option<u32>) -> Vec<String> {
    let depth = depth.map(|d| d.to_string());
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(depth.iter().flat_map(|d| ["--depth", d.as_str()]))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_production_bot_links_no_sandbox_lab_or_harness_crate() {
    let linked = linked_packages("stagegate");
    assert!(linked.iter().any(|p| p == "stagegate-domain"), "{linked:?}");
    for harness in ["stagegate-sandbox", "stagegate-lab"] {
        assert!(
            !linked.iter().any(|p| p == harness),
            "the production build links {harness}: {linked:?}"
        );
    }
    // The emulators' key generation and the lab's temporary directories;
    // `rsa` still comes in through jsonwebtoken, to verify RS256.
    let direct = linked_to_depth("stagegate", Some(1));
    for harness_only in ["rsa", "tempfile", "fantoccini", "png"] {
        assert!(
            !direct.iter().any(|p| p == harness_only),
            "the production bot depends on {harness_only}: {direct:?}"
        );
    }
}

#[test]
fn the_domain_crate_does_no_io() {
    let linked = linked_packages("stagegate-domain");
    for io in ["tokio", "sqlx", "reqwest", "hyper", "axum", "stagegate"] {
        assert!(
            !linked.iter().any(|p| p == io),
            "stagegate-domain links {io}: {linked:?}"
        );
    }
}

#[test]
fn the_emulators_do_not_see_the_bot() {
    let linked = linked_packages("stagegate-sandbox");
    for bot in ["stagegate", "stagegate-lab", "sqlx"] {
        assert!(
            !linked.iter().any(|p| p == bot),
            "stagegate-sandbox links {bot}: {linked:?}"
        );
    }
}

#[test]
fn the_production_binary_points_at_the_lab_for_the_sandbox() {
    let output = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .arg("sandbox")
        .output()
        .expect("stagegate runs");
    assert!(!output.status.success());
    let help = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .arg("--help")
        .output()
        .expect("stagegate runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("cargo run --release -- sandbox"),
        "the help says where the sandbox is: {help}"
    );
}

/// Every `.rs` file under `dir` (relative to the repository root), with its
/// text.
fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out
}

/// Inside the bot crate the compiler cannot keep the two adapters apart;
/// this test does: Teams and Slack know nothing of each other.
#[test]
fn the_teams_and_slack_adapters_do_not_import_each_other() {
    for (from, other) in [
        ("src/chat/teams", "chat::slack"),
        ("src/chat/slack", "chat::teams"),
    ] {
        for (path, text) in sources(from) {
            assert!(!text.contains(other), "{} names {other}", path.display());
        }
    }
}
