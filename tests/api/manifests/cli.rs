//! `stagegate manifest teams|slack` as a process: what it writes, where its
//! defaults come from, and how it refuses bad input.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use stagegate::manifests::{COLOR_ICON, OUTLINE_ICON};

use super::{errors, slack_validator, teams_validator};

const APP_ID: &str = "7e9b2c41-0d3f-4a6b-8c5e-1f2a3b4c5d6e";

/// Runs the binary in `dir` with none of the caller's `STAGEGATE_*`
/// variables, plus `env`.
fn stagegate(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagegate"));
    command.current_dir(dir).args(args);
    for (var, _) in std::env::vars() {
        if var.starts_with("STAGEGATE_") {
            command.env_remove(var);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("stagegate runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The zip's entries, name → bytes, in archive order.
fn unzip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

fn teams_manifest_in(zip: &Path) -> Value {
    let entries = unzip(zip);
    let (_, bytes) = entries
        .iter()
        .find(|(name, _)| name == "manifest.json")
        .expect("manifest.json in the package");
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn teams_writes_a_package_of_exactly_the_manifest_and_icons_at_its_root() {
    let dir = tempfile::tempdir().unwrap();
    let upper = APP_ID.to_ascii_uppercase();
    let output = stagegate(
        dir.path(),
        &[
            "manifest",
            "teams",
            "--app-id",
            &upper,
            "--public-url",
            "https://bot.example.com",
            "--out",
            "package.zip",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("https://bot.example.com/api/teams/messages"),
        "says where the messaging endpoint must point: {}",
        text(&output.stdout)
    );

    let zip = dir.path().join("package.zip");
    let entries = unzip(&zip);
    let mut names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["color.png", "manifest.json", "outline.png"]);
    for (name, bytes) in &entries {
        match name.as_str() {
            "color.png" => assert_eq!(bytes, COLOR_ICON),
            "outline.png" => assert_eq!(bytes, OUTLINE_ICON),
            _ => {}
        }
    }

    let manifest = teams_manifest_in(&zip);
    assert_eq!(manifest["id"], APP_ID, "lower-cased");
    assert_eq!(manifest["bots"][0]["botId"], APP_ID);
    assert_eq!(manifest["manifestVersion"], "1.30");
    assert_eq!(manifest["icons"]["color"], "color.png");
    assert_eq!(manifest["icons"]["outline"], "outline.png");
    assert_eq!(
        manifest["developer"]["websiteUrl"],
        "https://bot.example.com/"
    );
    let problems = errors(&teams_validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn slack_writes_the_filled_manifest_to_a_file_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "manifest",
        "slack",
        "--public-url",
        "https://bot.example.com",
    ];
    let output = stagegate(dir.path(), &args, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let written = std::fs::read(dir.path().join("slack-manifest.json")).unwrap();
    let manifest: Value = serde_json::from_slice(&written).unwrap();
    let problems = errors(&slack_validator(), &manifest);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        manifest["features"]["slash_commands"][0]["url"],
        "https://bot.example.com/api/slack/commands"
    );

    let output = stagegate(dir.path(), &[&args[..], &["--out", "-"]].concat(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("only JSON on stdout");
    assert_eq!(printed, manifest);
}

#[test]
fn defaults_come_from_the_config_file_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    // A full config with secrets: only three keys are read, nothing echoed.
    std::fs::write(
        dir.path().join("stagegate.toml"),
        format!(
            r#"
[server]
public_base_url = "https://chatops.contoso.com"
[entra]
tenant_id = "00000000-0000-0000-0000-000000000001"
client_id = "00000000-0000-0000-0000-000000000002"
client_secret = "very-secret-value"
login_base_url = "https://login.microsoftonline.us"
[teams]
app_id = "{APP_ID}"
app_password = "another-secret-value"
"#
        ),
    )
    .unwrap();

    let output = stagegate(dir.path(), &["manifest", "teams"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let all_output = text(&output.stdout) + &text(&output.stderr);
    assert!(!all_output.contains("secret-value"), "{all_output}");
    let manifest = teams_manifest_in(&dir.path().join("stagegate-teams.zip"));
    assert_eq!(manifest["id"], APP_ID);
    assert_eq!(
        manifest["validDomains"],
        serde_json::json!(["chatops.contoso.com", "login.microsoftonline.us"])
    );

    let other = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let output = stagegate(
        dir.path(),
        &["manifest", "teams", "--out", "env.zip"],
        &[("STAGEGATE_TEAMS__APP_ID", other)],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(teams_manifest_in(&dir.path().join("env.zip"))["id"], other);

    let output = stagegate(dir.path(), &["manifest", "slack"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let slack: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("slack-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        slack["settings"]["interactivity"]["request_url"],
        "https://chatops.contoso.com/api/slack/interactions"
    );
}

#[test]
fn bad_inputs_are_refused_with_a_clear_message_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let good_url = ["--public-url", "https://bot.example.com"];
    let cases: [(&[&str], &str); 7] = [
        (
            &[
                "manifest",
                "teams",
                "--app-id",
                "my-bot",
                "--public-url",
                "https://bot.example.com",
            ],
            "--app-id must be the bot's Microsoft App ID, a GUID",
        ),
        (
            &[
                "manifest",
                "teams",
                "--app-id",
                APP_ID,
                "--public-url",
                "http://bot.example.com",
            ],
            "--public-url must use https",
        ),
        (
            &[
                "manifest",
                "slack",
                "--public-url",
                "http://bot.example.com",
            ],
            "--public-url must use https",
        ),
        (
            &[
                "manifest",
                "slack",
                "--public-url",
                "https://bot.example.com/api/slack",
            ],
            "without a path",
        ),
        (
            &["manifest", "teams", good_url[0], good_url[1]],
            "no app id: pass --app-id",
        ),
        (&["manifest", "slack"], "no public URL: pass --public-url"),
        (
            &[
                "manifest",
                "teams",
                "--app-id",
                APP_ID,
                good_url[0],
                good_url[1],
                "--privacy-url",
                "http://contoso.com/privacy",
            ],
            "--privacy-url must use https",
        ),
    ];
    for (args, says) in cases {
        let output = stagegate(dir.path(), args, &[]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[test]
fn a_config_value_that_is_wrong_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stagegate.toml"),
        "[server]\npublic_base_url = \"http://chatops.contoso.com\"\n",
    )
    .unwrap();
    let output = stagegate(dir.path(), &["manifest", "slack"], &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("server.public_base_url in stagegate.toml must use https"),
        "{stderr}"
    );
}

#[test]
fn loopback_http_is_accepted_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let output = stagegate(
        dir.path(),
        &["manifest", "slack", "--public-url", "http://127.0.0.1:3978"],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("warning:"),
        "{}",
        text(&output.stderr)
    );
    let slack: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("slack-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        slack["features"]["slash_commands"][1]["url"],
        "http://127.0.0.1:3978/api/slack/commands"
    );
}
