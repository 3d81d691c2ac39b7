//! The bot as its own operating-system process against in-process emulators:
//! what chaos runs kill and restart, and what benchmarks measure (CPU and
//! memory of the bot alone, start-up time).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stagegate_sandbox::SimState;

use crate::wiring::BotWiring;

/// Where and how the bot process runs; survives restarts (same port, same
/// database, same config file).
#[derive(Debug, Clone)]
pub struct BotProcessSpec {
    /// The `stagegate` executable.
    pub binary: PathBuf,
    /// Config file written for the bot (mode 0600: it holds the sandbox's secrets).
    pub config: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Log filter for the bot process (`RUST_LOG` syntax).
    pub log_filter: String,
}

impl BotProcessSpec {
    /// Writes a config for a bot on a free loopback port with its database in
    /// `dir`, pointing at the emulators in `state`, and connects the
    /// emulated Teams, Slack and relay to that address.
    pub fn prepare(state: &SimState, binary: PathBuf, dir: &Path) -> anyhow::Result<Self> {
        Self::prepare_with(state, binary, dir, |_| {})
    }

    /// [`BotProcessSpec::prepare`] with the bot's settings adjusted by
    /// `adjust` before the config is written (chaos storms shorten the
    /// bot's client timeouts this way).
    pub fn prepare_with(
        state: &SimState,
        binary: PathBuf,
        dir: &Path,
        adjust: impl FnOnce(&mut stagegate::config::Settings),
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bind = SocketAddr::from(([127, 0, 0, 1], port));
        let mut settings = state.bot_settings(bind, dir.join("bot.db"));
        settings.log.filter = "warn".into();
        adjust(&mut settings);
        let config = dir.join("bot.toml");
        write_private(&config, &toml::to_string(&settings)?)?;
        let url = format!("http://127.0.0.1:{port}");
        state.connect_bot(&url);
        Ok(Self {
            binary,
            config,
            url,
            // LAB_BOT_LOG chases a finding: `info` or
            // `stagegate=debug` in the bot's `bot.log`.
            log_filter: std::env::var("LAB_BOT_LOG").unwrap_or_else(|_| "warn".into()),
        })
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// A running bot process; killed (SIGKILL) when dropped.
pub struct BotProcess {
    child: Child,
    /// From spawn to the first `200` from `/readyz`.
    pub ready_after: Duration,
}

impl BotProcess {
    /// Starts `stagegate serve --config …` and waits (bounded) until
    /// `/readyz` answers 200. The bot's stderr goes to `log` when given.
    pub async fn start(spec: &BotProcessSpec, log: Option<&Path>) -> anyhow::Result<Self> {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => Stdio::null(),
        };
        let started = Instant::now();
        let child = Command::new(&spec.binary)
            .args(["serve", "--config"])
            .arg(&spec.config)
            .env("STAGEGATE_LOG__FILTER", &spec.log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", spec.binary.display()))?;
        let mut process = Self {
            child,
            ready_after: Duration::ZERO,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = started + Duration::from_secs(30);
        loop {
            if let Some(status) = process.child.try_wait()? {
                anyhow::bail!("the bot exited before it was ready: {status}");
            }
            if let Ok(r) = http.get(format!("{}/readyz", spec.url)).send().await
                && r.status() == 200
            {
                process.ready_after = started.elapsed();
                return Ok(process);
            }
            if Instant::now() > deadline {
                anyhow::bail!("the bot was not ready within 30 s");
            }
            // Polling a socket that is not listening yet: nothing to await.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no graceful shutdown, no flush — the crash being tested.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// CPU time and memory of the process so far, from `/proc`.
    pub fn usage(&self) -> anyhow::Result<ProcessUsage> {
        ProcessUsage::of(self.pid())
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `/proc/<pid>` says about a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessUsage {
    /// User + system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident set size now, bytes.
    pub rss_bytes: u64,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss_bytes: u64,
}

impl ProcessUsage {
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        Self::parse(&stat, &status, clock_ticks_per_second())
    }

    /// `stat`'s fields after the parenthesised command name: utime and stime
    /// are the 12th and 13th (fields 14 and 15 of proc(5)).
    pub fn parse(stat: &str, status: &str, ticks_per_second: f64) -> anyhow::Result<Self> {
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .ok_or_else(|| anyhow::anyhow!("malformed /proc stat"))?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(i)
                .ok_or_else(|| anyhow::anyhow!("short /proc stat"))?
                .parse::<f64>()?)
        };
        let cpu_seconds = (ticks(11)? + ticks(12)?) / ticks_per_second;
        let kib = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Self {
            cpu_seconds,
            rss_bytes: kib("VmRSS:") * 1024,
            peak_rss_bytes: kib("VmHWM:") * 1024,
        })
    }
}

/// `USER_HZ`: 100 on every Linux architecture we build for.
fn clock_ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_memory_from_proc() {
        let stat = "4242 (stage gate) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1000 200";
        let status = "Name:\tstagegate\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        let usage = ProcessUsage::parse(stat, status, 100.0).unwrap();
        assert_eq!(usage.cpu_seconds, 3.0);
        assert_eq!(usage.rss_bytes, 10240 * 1024);
        assert_eq!(usage.peak_rss_bytes, 20480 * 1024);
    }

    #[test]
    fn malformed_stat_is_an_error_not_a_panic() {
        assert!(ProcessUsage::parse("garbage", "", 100.0).is_err());
        assert!(ProcessUsage::parse("1 (x) S 1", "", 100.0).is_err());
    }
}
