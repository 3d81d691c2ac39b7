//! `[server]`, `[database]` and `[log]`: how the process runs.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the bot listens on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The bot's public base URL (what Teams, Slack and Entra call back).
    pub public_base_url: String,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace_seconds: u64,
    /// Per-request timeout for inbound HTTP requests.
    pub request_timeout_seconds: u64,
    /// Connections open at once; beyond it the bot stops accepting until
    /// one closes (they wait in the kernel's backlog).
    pub max_connections: usize,
    /// Requests handled at once; beyond it a request is answered 503 with
    /// `Retry-After` before its body is read.
    pub max_in_flight_requests: usize,
    /// Seconds a client may take to send a request's headers; then the
    /// connection is closed.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request's body may take to arrive after its headers; then
    /// it is answered 408.
    pub body_read_timeout_seconds: u64,
    /// Where `GET /metrics` is served, apart from the public endpoints;
    /// `None` (`""` in the file) serves no metrics.
    #[serde(with = "super::serde_fns::addr_or_off")]
    pub metrics_bind: Option<SocketAddr>,
}

impl ServerSettings {
    /// The limits must let at least something through, and a body deadline
    /// past the request timeout would never fire.
    pub fn check_limits(&self) -> Result<(), String> {
        for (key, value) in [
            ("server.max_connections", self.max_connections as u64),
            (
                "server.max_in_flight_requests",
                self.max_in_flight_requests as u64,
            ),
            (
                "server.header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            (
                "server.body_read_timeout_seconds",
                self.body_read_timeout_seconds,
            ),
        ] {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        if self.body_read_timeout_seconds > self.request_timeout_seconds {
            return Err(format!(
                "server.body_read_timeout_seconds ({}) must not exceed server.request_timeout_seconds ({})",
                self.body_read_timeout_seconds, self.request_timeout_seconds
            ));
        }
        Ok(())
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3978)),
            public_base_url: "http://127.0.0.1:3978".into(),
            shutdown_grace_seconds: 10,
            request_timeout_seconds: 30,
            // Under a default soft limit of 1,024 file descriptors, with room
            // for the database and outbound connections.
            max_connections: 512,
            max_in_flight_requests: 128,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 10,
            // Prometheus's customary exporter range; loopback, so nothing
            // outside the host sees the figures until the operator says so.
            metrics_bind: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// SQLite database file; created if missing.
    pub path: PathBuf,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("stagegate.db"),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info,stagegate=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info".into(),
        }
    }
}
