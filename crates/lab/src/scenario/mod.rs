//! Scripted scenarios: data files (`scenarios/*.toml`) that say who does
//! what on which platform and what everyone must then see, run against the
//! whole sandbox (emulators and bot) with a readable transcript. The
//! shipped ones are the project's end-to-end stories.

pub mod check;
pub mod describe;
pub mod model;
pub mod run;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use model::{Platform, Scenario, parse};
pub use run::{StepFailure, run_on};

use crate::launch::{LaunchOptions, Launched};

/// The scenarios shipped in `scenarios/`, by name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("seed", include_str!("../../../../scenarios/seed.toml")),
    ("deny", include_str!("../../../../scenarios/deny.toml")),
    (
        "timeout",
        include_str!("../../../../scenarios/timeout.toml"),
    ),
    (
        "fallback",
        include_str!("../../../../scenarios/fallback.toml"),
    ),
    (
        "three-stage",
        include_str!("../../../../scenarios/three-stage.toml"),
    ),
    (
        "out-of-band",
        include_str!("../../../../scenarios/out-of-band.toml"),
    ),
    (
        "unapproved-member",
        include_str!("../../../../scenarios/unapproved-member.toml"),
    ),
    (
        "first-time-approver",
        include_str!("../../../../scenarios/first-time-approver.toml"),
    ),
];

/// How long any one wait of a scenario may take (a card, a link, an
/// expectation); generous, since a passing step takes milliseconds.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a scenario could not run or did not pass.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("no shipped scenario `{0}` (see `stagegate sandbox --scenario list`)")]
    Unknown(String),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{origin}: {error}")]
    Parse {
        origin: String,
        error: model::ParseError,
    },
    #[error("cannot start the sandbox: {0}")]
    Launch(String),
    #[error("scenario `{name}`: {failure}")]
    Failed { name: String, failure: StepFailure },
}

/// A scenario ready to run, with its tenant file's text when it names one.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub tenant: Option<String>,
}

/// Every shipped scenario, parsed (a broken one is a build-time bug that
/// the tests catch).
pub fn shipped() -> Result<Vec<Scenario>, ScenarioError> {
    SHIPPED
        .iter()
        .map(|(name, text)| {
            parse(text).map_err(|error| ScenarioError::Parse {
                origin: format!("scenarios/{name}.toml"),
                error,
            })
        })
        .collect()
}

/// A shipped scenario by name, or a scenario file by path (anything with a
/// `/` or ending in `.toml`), with its tenant file read relative to it.
pub fn load(name_or_path: &str) -> Result<Loaded, ScenarioError> {
    let is_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    if !is_path {
        let (_, text) = SHIPPED
            .iter()
            .find(|(name, _)| *name == name_or_path)
            .ok_or_else(|| ScenarioError::Unknown(name_or_path.to_owned()))?;
        let scenario = parse(text).map_err(|error| ScenarioError::Parse {
            origin: format!("scenarios/{name_or_path}.toml"),
            error,
        })?;
        return Ok(Loaded {
            scenario,
            tenant: None,
        });
    }
    let path = Path::new(name_or_path);
    let text = read(path)?;
    let scenario = parse(&text).map_err(|error| ScenarioError::Parse {
        origin: path.display().to_string(),
        error,
    })?;
    let tenant = match &scenario.tenant {
        Some(t) => Some(read(&path.parent().unwrap_or(Path::new(".")).join(t))?),
        None => None,
    };
    Ok(Loaded { scenario, tenant })
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Where and how to start the sandbox for each platform's run.
#[derive(Debug, Clone)]
pub struct Setup {
    pub bot_port: u16,
    pub sim_port: u16,
    /// The bot's database for a run on `platform` (a fresh file each run).
    pub db_for: fn(&Path, &str, Platform) -> PathBuf,
    pub db: PathBuf,
    /// Overrides the scenario's own tenant file.
    pub tenant: Option<String>,
    /// Bound on every wait ([`STEP_TIMEOUT`] unless testing a failure).
    pub timeout: Duration,
}

/// Runs `loaded` once per platform, each on a freshly started sandbox,
/// printing the transcript to `out`.
pub async fn run(
    loaded: &Loaded,
    setup: &Setup,
    out: &mut (dyn Write + Send),
) -> Result<(), ScenarioError> {
    let scenario = &loaded.scenario;
    let _ = writeln!(out, "scenario {}: {}", scenario.name, scenario.description);
    for &platform in &scenario.platforms {
        let _ = writeln!(out, "\n== {} on {}", scenario.name, platform.name());
        let db = (setup.db_for)(&setup.db, &scenario.name, platform);
        let launched = Launched::start(LaunchOptions {
            bot_port: setup.bot_port,
            sim_port: setup.sim_port,
            db,
            tenant: setup.tenant.clone().or_else(|| loaded.tenant.clone()),
            env_overrides: false,
            poll_interval_seconds: Some(1),
        })
        .await
        .map_err(|e| ScenarioError::Launch(format!("{e:#}")))?;
        let started = std::time::Instant::now();
        let result = run_on(&launched.sim_url, scenario, platform, setup.timeout, out).await;
        let ran = started.elapsed();
        let _ = launched.stop().await;
        if let Err(failure) = result {
            return Err(ScenarioError::Failed {
                name: scenario.name.clone(),
                failure,
            });
        }
        let _ = writeln!(
            out,
            "== {} on {}: every expectation held ({:.1} s)",
            scenario.name,
            platform.name(),
            ran.as_secs_f64()
        );
    }
    Ok(())
}

/// A fresh database path for each run beside `base`:
/// `<base>.<scenario>-<platform>.db`, removed (with its vault key and WAL
/// files) first so each run starts empty.
#[must_use]
pub fn fresh_db_beside(base: &Path, scenario: &str, platform: Platform) -> PathBuf {
    let name = format!(
        "{}.{scenario}-{}.db",
        base.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("stagegate"),
        platform.name().to_lowercase()
    );
    let path = base.with_file_name(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let _ = std::fs::remove_file(path.with_extension("vault-key"));
    path
}
