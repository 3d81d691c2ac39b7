//! The production command line: `stagegate serve`, `manifest`, `doctor`,
//! `discover`, `backup` and `healthcheck`.
//! The sandbox, scenarios, benchmarks and chaos runs are the lab's
//! (`crates/lab`), which adds them to these two commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::config::{LogFormat, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "stagegate",
    version,
    about = "Entra multi-stage approval of privileged roles, in Teams and Slack",
    after_help = "The sandbox, scenarios, benchmarks and chaos runs are not in this production \
                  binary: from the source tree, run `cargo run --release -- sandbox`."
)]
pub struct Cli {
    /// Log output: human-readable, or one JSON object per line.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot against a real tenant, Teams and Slack.
    Serve {
        /// TOML config file; defaults to ./stagegate.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write the Teams app package or the Slack app manifest for a deployment.
    Manifest {
        #[command(subcommand)]
        target: crate::manifests::ManifestTarget,
    },
    /// Check the configured tenant before anyone requests access: each
    /// package's policy, approvers, expiry, group and PIM settings. Reads
    /// only. Exit status 0 clean, 1 warnings, 2 errors.
    Doctor {
        /// TOML config file; defaults to ./stagegate.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// One JSON document instead of text (docs/deploy.md#doctor).
        #[arg(long)]
        json: bool,
    },
    /// Read the tenant's access packages and print a ready-to-paste
    /// `[[engine.packages]]` block for each (every id filled in).
    Discover {
        /// TOML config file (for the tenant and the app's credentials);
        /// defaults to ./stagegate.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only the package whose display name contains this (any case), or
        /// whose id is this.
        #[arg(long)]
        package: Option<String>,
    },
    /// Copy the SQLite database to a new file while the bot runs (a
    /// consistent snapshot; restore by stopping the bot and putting the copy
    /// at `database.path`).
    Backup {
        /// TOML config file (for `database.path`); defaults to ./stagegate.toml
        /// when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The new file to write; an existing file is never overwritten.
        #[arg(long)]
        to: PathBuf,
    },
    /// Ask a running bot whether it is ready (`GET /readyz`); exit 0 when it
    /// is, 1 when not. For a container's health check, where there is no shell
    /// or curl.
    Healthcheck {
        /// The readiness URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:3978/readyz")]
        url: reqwest::Url,
    },
}

/// Runs a production command.
pub async fn run(command: Command, log_format: Option<LogFormat>) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => {
            let settings = Settings::load(config_file(config).as_deref())?;
            crate::telemetry::init(
                log_format.unwrap_or(settings.log.format),
                &settings.log.filter,
            );
            let app = Application::build(settings).await?;
            app.run_until(crate::http::shutdown_signal()).await?;
            Ok(())
        }
        Command::Manifest { target } => crate::manifests::run(target),
        Command::Doctor { config, json } => {
            let settings = Settings::load(config_file(config).as_deref())?;
            let report = crate::doctor::doctor(&settings).await?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            // 0 / 1 / 2 is the command's answer, not a failure to run it.
            std::process::exit(i32::from(report.exit_code()))
        }
        Command::Discover { config, package } => {
            let settings = Settings::load(config_file(config).as_deref())?;
            print!(
                "{}",
                crate::discover::discover(&settings, package.as_deref()).await?
            );
            Ok(())
        }
        Command::Backup { config, to } => {
            let settings = Settings::load(config_file(config).as_deref())?;
            let from = &settings.database.path;
            let done = crate::store::sqlite::backup(from, &to)
                .await
                .map_err(anyhow::Error::msg)?;
            println!(
                "backed up {} to {} ({} bytes, migration {})",
                from.display(),
                to.display(),
                done.bytes,
                done.migration
            );
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck(url).await,
    }
}

/// `--config`, or ./stagegate.toml when it exists.
fn config_file(config: Option<PathBuf>) -> Option<PathBuf> {
    config.or_else(|| {
        let default = PathBuf::from("stagegate.toml");
        default.exists().then_some(default)
    })
}

async fn healthcheck(url: reqwest::Url) -> anyhow::Result<()> {
    match readiness(&url).await {
        Ok(status) => {
            println!("ready ({status}) at {url}");
            Ok(())
        }
        Err(why) => {
            // 1, not main's 2: container runtimes read 1 as "unhealthy" and
            // reserve 2.
            eprintln!("stagegate: {why}");
            std::process::exit(1)
        }
    }
}

async fn readiness(url: &reqwest::Url) -> Result<reqwest::StatusCode, String> {
    // Short: a runtime kills a health check that hangs anyway, and a bot that
    // takes seconds to say it is ready is not.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("no answer from {url}: {e}"))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(status);
    }
    let body = answer.text().await.unwrap_or_default();
    Err(format!("not ready ({status}) at {url}: {}", body.trim()))
}
