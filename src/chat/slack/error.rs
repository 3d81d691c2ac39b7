//! What can go wrong calling Slack's Web API, typed so callers can act on it:
//! wait (`RateLimited`), show Slack's reason (`Api`), or retry (`Transport`).

use std::time::Duration;

use super::blocks::BlockKitError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SlackError {
    /// `{"ok": false, "error": …}`: Slack's own error string, e.g.
    /// `channel_not_found`, `missing_scope` (with `needed`/`provided`).
    #[error("Slack {method} failed: {error}")]
    Api {
        method: &'static str,
        error: String,
        needed: Option<String>,
        provided: Option<String>,
        /// `response_metadata.messages`, e.g. `[ERROR] missing required field: view`.
        messages: Vec<String>,
    },
    /// HTTP 429: try again after `retry_after`.
    #[error("Slack {method} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        method: &'static str,
        retry_after: Duration,
    },
    #[error("Slack {method} answered HTTP {status}")]
    Http { method: &'static str, status: u16 },
    #[error("could not reach Slack: {0}")]
    Transport(String),
    #[error("unexpected answer from Slack {method}: {detail}")]
    Decode {
        method: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Blocks(#[from] BlockKitError),
}

impl SlackError {
    /// The Slack error string of an `ok: false` answer.
    pub fn api_error(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Worth retrying after a wait.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport(_) => true,
            Self::Http { status, .. } => matches!(status, 500..=504),
            Self::Api { error, .. } => matches!(
                error.as_str(),
                "ratelimited"
                    | "request_timeout"
                    | "service_unavailable"
                    | "internal_error"
                    | "fatal_error"
            ),
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}
