//! Start-up and idle: from spawning `stagegate serve` to the first 200 from
//! `/readyz` on a fresh database, several times, and the resident memory of
//! an idle bot once it has settled.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::harness::{Emulators, median};
use crate::bot_process::BotProcess;

/// Figures of the start-up benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct StartupFigures {
    /// Spawn → `/readyz` 200 of each run, milliseconds (fresh database each).
    pub ready_ms: Vec<f64>,
    pub ready_median_ms: f64,
    /// Resident memory of the last bot once idle and settled, MB (10^6 bytes).
    pub idle_rss_mb: f64,
    /// How long the idle bot was watched before its RSS was taken, ms.
    pub settled_after_ms: f64,
}

/// Starts `runs` bots one after the other, each on a fresh database, and
/// measures the last one's idle memory.
pub async fn measure(
    emulators: &Emulators,
    binary: &Path,
    runs: usize,
) -> anyhow::Result<StartupFigures> {
    let runs = runs.max(1);
    let mut ready_ms = Vec::with_capacity(runs);
    let mut last = None;
    for run in 0..runs {
        // The previous bot goes first: one bot at a time on the machine.
        drop(last.take());
        let (_, process) = emulators
            .start_bot(binary, &format!("startup-{run}"))
            .await?;
        ready_ms.push(process.ready_after.as_secs_f64() * 1000.0);
        last = Some(process);
    }
    let process = last.ok_or_else(|| anyhow::anyhow!("no bot was started"))?;
    let (idle_rss_mb, settled) = settled_rss(&process).await?;
    Ok(StartupFigures {
        ready_median_ms: median(&ready_ms).unwrap_or_default(),
        ready_ms,
        idle_rss_mb,
        settled_after_ms: settled.as_secs_f64() * 1000.0,
    })
}

/// Samples the bot's RSS every 250 ms until two samples a second apart
/// differ by less than 1 % (at most 10 s): the memory it keeps while idle.
/// Sampling at intervals is the measurement itself; there is no event for
/// "memory settled" to await.
async fn settled_rss(process: &BotProcess) -> anyhow::Result<(f64, Duration)> {
    let started = Instant::now();
    let mut samples: Vec<u64> = Vec::new();
    loop {
        let rss = process.usage()?.rss_bytes;
        samples.push(rss);
        let n = samples.len();
        if n > 4 {
            let before = samples[n - 5] as f64;
            let now = rss as f64;
            if (now - before).abs() <= before * 0.01 {
                return Ok((mb(rss), started.elapsed()));
            }
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Ok((mb(rss), started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[must_use]
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
