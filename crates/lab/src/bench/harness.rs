//! What every benchmark stands on: the emulators in this process, the bot as
//! its own process (so its CPU and memory are measured alone), and a scratch
//! directory that disappears with the harness.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot_process::{BotProcess, BotProcessSpec};
use stagegate_sandbox::{Sandbox, SandboxOptions, SimState};

/// The emulators, running until the harness is dropped or stopped.
pub struct Emulators {
    pub state: SimState,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// Scratch space: bot configs, databases, load-generator data.
    pub dir: tempfile::TempDir,
}

impl Emulators {
    /// The emulators on a free loopback port, seeded with `tenant` (the
    /// seeded tenant when `None`).
    pub async fn start(tenant: Option<String>) -> anyhow::Result<Self> {
        let sandbox = Sandbox::build(SandboxOptions {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            tenant,
            callout_url: None,
            callout_secret: None,
            secrets: None,
        })
        .await?;
        let state = sandbox.state.clone();
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(sandbox.run_until(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        Ok(Self {
            state,
            stop,
            task,
            dir: tempfile::Builder::new()
                .prefix("stagegate-bench")
                .tempdir()?,
        })
    }

    /// A fresh directory (fresh database) for one bot process.
    pub fn bot_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Prepares a bot with a fresh database in `name` and starts it
    /// (bounded wait for `/readyz`); the emulators now deliver to it.
    pub async fn start_bot(
        &self,
        binary: &Path,
        name: &str,
    ) -> anyhow::Result<(BotProcessSpec, BotProcess)> {
        let dir = self.bot_dir(name)?;
        let spec = BotProcessSpec::prepare(&self.state, binary.to_path_buf(), &dir)?;
        let log = dir.join("bot.log");
        let process = BotProcess::start(&spec, Some(&log)).await?;
        Ok((spec, process))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await??;
        Ok(())
    }
}

/// Median of `values` (the mean of the middle two for an even count);
/// `None` when empty.
#[must_use]
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The `p`-th percentile (0–100, nearest rank) of `values`; `None` when empty.
#[must_use]
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
