//! The production command line: `stagegate serve` and `stagegate manifest`.
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
}

/// Runs a production command.
pub async fn run(command: Command, log_format: Option<LogFormat>) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => {
            let file = config.or_else(|| {
                let default = PathBuf::from("stagegate.toml");
                default.exists().then_some(default)
            });
            let settings = Settings::load(file.as_deref())?;
            crate::telemetry::init(
                log_format.unwrap_or(settings.log.format),
                &settings.log.filter,
            );
            let app = Application::build(settings).await?;
            app.run_until(crate::http::shutdown_signal()).await?;
            Ok(())
        }
        Command::Manifest { target } => crate::manifests::run(target),
    }
}
