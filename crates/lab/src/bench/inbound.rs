//! Inbound endpoints under load from `wrk` (Debian's package), driven by
//! `bench/stagegate.lua` with authentic requests from [`super::requests`]:
//! the saturation rate, and latency at a fixed rate below it, with the bot's
//! CPU and memory from `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::harness::Emulators;
use super::requests;
use super::startup::mb;
use crate::bot_process::BotProcess;
use stagegate::config::Settings;

/// The Lua script, embedded so the bench runs from any directory.
const SCRIPT: &str = include_str!("../../../../bench/stagegate.lua");

/// How hard and how long to push.
#[derive(Debug, Clone, Serialize)]
pub struct InboundOptions {
    /// Length of each run, seconds.
    pub seconds: f64,
    /// Connections of a saturation run.
    pub connections: u32,
    /// wrk threads (each needs a core: on 2 cores the bot needs the other).
    pub threads: u32,
    /// Fixed rates, requests per second.
    pub slack_rate: f64,
    pub graph_rate: f64,
    /// Connections of a fixed-rate run.
    pub fixed_connections: u32,
    /// Pre-signed Slack requests for the saturation run.
    pub slack_pool: usize,
}

/// One wrk run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRun {
    /// `None`: as fast as it goes (saturation).
    pub target_rate: Option<f64>,
    pub connections: u32,
    pub requests: u64,
    pub seconds: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx/3xx answers, socket errors and timeouts.
    pub failed: u64,
    /// Bot CPU (user + system) per 1,000 requests, seconds.
    pub bot_cpu_s_per_1k: f64,
}

/// Figures of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointFigures {
    pub endpoint: String,
    pub request: String,
    pub saturation: LoadRun,
    pub fixed: Option<LoadRun>,
    /// The bot's RSS after this endpoint's runs, MB.
    pub bot_rss_mb: f64,
    /// The bot's peak RSS so far, MB.
    pub bot_peak_rss_mb: f64,
}

/// What wrk's `done()` prints.
#[derive(Debug, Deserialize)]
struct WrkSummary {
    requests: u64,
    duration_us: u64,
    connect_errors: u64,
    read_errors: u64,
    write_errors: u64,
    status_errors: u64,
    timeouts: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

/// `wrk` on the `PATH`, or why not.
pub fn wrk_available() -> Result<(), String> {
    match std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "wrk is not installed ({e}); `apt-get install -y wrk`"
        )),
    }
}

/// Runs Teams, Slack and Graph loads against one bot (fresh database).
pub async fn measure(
    emulators: &Emulators,
    binary: &Path,
    options: &InboundOptions,
) -> anyhow::Result<Vec<EndpointFigures>> {
    wrk_available().map_err(anyhow::Error::msg)?;
    let (spec, bot) = emulators.start_bot(binary, "inbound").await?;
    let settings = Settings::load(Some(&spec.config))?;
    let dir = emulators.bot_dir("wrk")?;
    let script = dir.join("stagegate.lua");
    std::fs::write(&script, SCRIPT)?;
    let run = Runner {
        bot: &bot,
        url: spec.url.clone(),
        script,
        dir,
        options,
    };
    let state = &emulators.state;
    let mut out = Vec::new();

    let teams = requests::teams(state)?;
    run.probe(&teams).await?;
    let teams = run.write("teams", &teams)?;
    let saturation = run.load(&teams, None, false).await?;
    out.push(run.figures(
        "POST /api/teams/messages",
        "conversationUpdate, Bot Framework JWT (RS256)",
        saturation,
        None,
    )?);

    run.probe(&requests::slack(state, 2, 2, "probe")).await?;
    let pool = run.write(
        "slack-saturation",
        &requests::slack(state, options.slack_pool, 2000, "saturation"),
    )?;
    let saturation = run.load(&pool, None, true).await?;
    let needed = (options.slack_rate * options.seconds * 1.1) as usize + 100;
    let pool = run.write(
        "slack-fixed",
        &requests::slack(state, needed, 2000, "fixed"),
    )?;
    let fixed = run.load(&pool, Some(options.slack_rate), true).await?;
    out.push(run.figures(
        "POST /api/slack/commands + /interactions",
        "`/stagegate help` and a Sign-in click, alternating, HMAC-signed",
        saturation,
        Some(fixed),
    )?);

    let graph = requests::graph(state, &settings)?;
    run.probe(&graph).await?;
    let graph = run.write("graph", &graph)?;
    let saturation = run.load(&graph, None, false).await?;
    let fixed = run.load(&graph, Some(options.graph_rate), false).await?;
    out.push(run.figures(
        "POST /api/graph/notifications",
        "change notification with clientState",
        saturation,
        Some(fixed),
    )?);
    Ok(out)
}

struct Runner<'a> {
    bot: &'a BotProcess,
    url: String,
    script: PathBuf,
    dir: PathBuf,
    options: &'a InboundOptions,
}

impl Runner<'_> {
    fn write(&self, name: &str, data: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(format!("{name}.tsv"));
        std::fs::write(&path, data)?;
        Ok(path)
    }

    /// Sends each request of `data` once and insists on a 2xx: a load of
    /// refused requests would measure the refusal, not the endpoint.
    async fn probe(&self, data: &str) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        for line in data.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(path), Some(headers), Some(body)) =
                (fields.next(), fields.next(), fields.next())
            else {
                anyhow::bail!("malformed request line");
            };
            let body = body.replace("{{ID}}", &format!("probe-{}", uuid::Uuid::new_v4()));
            let mut request = http.post(format!("{}{path}", self.url)).body(body);
            for header in headers.split('|').filter(|h| !h.is_empty()) {
                if let Some((name, value)) = header.split_once(": ") {
                    request = request.header(name, value);
                }
            }
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                anyhow::bail!(
                    "the bot refused a benchmark request to {path}: {status} {}",
                    text.chars().take(200).collect::<String>()
                );
            }
        }
        Ok(())
    }

    async fn load(&self, data: &Path, rate: Option<f64>, once: bool) -> anyhow::Result<LoadRun> {
        let connections = match rate {
            Some(_) => self.options.fixed_connections,
            None => self.options.connections,
        }
        .max(self.options.threads);
        let threads = self.options.threads.max(1);
        let before = self.bot.usage()?;
        let output = tokio::process::Command::new("wrk")
            .arg("-t")
            .arg(threads.to_string())
            .arg("-c")
            .arg(connections.to_string())
            .arg("-d")
            .arg(format!("{}s", self.options.seconds.ceil().max(1.0)))
            .args(["--timeout", "5s", "-s"])
            .arg(&self.script)
            .arg(&self.url)
            .arg("--")
            .arg(data)
            .arg(rate.unwrap_or(0.0).to_string())
            .arg(if once { "1" } else { "0" })
            .arg(threads.to_string())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output =
            tokio::time::timeout(Duration::from_secs_f64(self.options.seconds + 30.0), output)
                .await
                .map_err(|_| anyhow::anyhow!("wrk did not finish"))??;
        let after = self.bot.usage()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: WrkSummary = stdout
            .lines()
            .find_map(|l| l.strip_prefix("STAGEGATE-WRK "))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "wrk printed no summary: {}{}",
                    stdout,
                    String::from_utf8_lossy(&output.stderr)
                )
            })
            .and_then(|json| Ok(serde_json::from_str(json)?))?;
        let seconds = summary.duration_us as f64 / 1e6;
        let requests = summary.requests;
        let cpu = after.cpu_seconds - before.cpu_seconds;
        Ok(LoadRun {
            target_rate: rate,
            connections,
            requests,
            seconds,
            rate: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: summary.p50_us as f64 / 1000.0,
            p99_ms: summary.p99_us as f64 / 1000.0,
            max_ms: summary.max_us as f64 / 1000.0,
            failed: summary.status_errors
                + summary.connect_errors
                + summary.read_errors
                + summary.write_errors
                + summary.timeouts,
            bot_cpu_s_per_1k: if requests > 0 {
                cpu * 1000.0 / requests as f64
            } else {
                0.0
            },
        })
    }

    fn figures(
        &self,
        endpoint: &str,
        request: &str,
        saturation: LoadRun,
        fixed: Option<LoadRun>,
    ) -> anyhow::Result<EndpointFigures> {
        let usage = self.bot.usage()?;
        Ok(EndpointFigures {
            endpoint: endpoint.into(),
            request: request.into(),
            saturation,
            fixed,
            bot_rss_mb: mb(usage.rss_bytes),
            bot_peak_rss_mb: mb(usage.peak_rss_bytes),
        })
    }
}
