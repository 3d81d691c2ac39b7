//! Security alerts and the security channels they go to. An alert that
//! cannot be delivered to one channel (the channel does not exist, the bot
//! is not in it) is counted where an operator sees it — `/healthz` and an
//! error-level log — and still goes to every other configured channel.
//! Start-up checks each channel; `/readyz` waits until one is reachable.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Failure, Outcome};
use crate::chat::port::{ChatError, Message, Recipient};
use crate::config::SecurityChannelSettings;
use crate::engine::Engine;

/// How long a failed readiness check stands before `/readyz` checks again.
const RECHECK_AFTER: Duration = Duration::from_secs(2);
/// How long one channel's check may take (a connector that does not
/// answer must not hold `/readyz`).
const CHECK_WITHIN: Duration = Duration::from_secs(5);

/// Whether a channel is reachable (`None`: the platform cannot tell
/// without posting), and why not.
type Known = (Option<bool>, Option<String>);

/// What the bot knows of each security channel.
#[derive(Debug, Default)]
pub(in crate::engine) struct SecurityChannels {
    /// By `platform:channel`.
    known: Mutex<BTreeMap<String, Known>>,
    checked_at: Mutex<Option<Instant>>,
    undelivered: AtomicU64,
}

fn key(channel: &SecurityChannelSettings) -> String {
    format!("{}:{}", channel.platform, channel.channel)
}

impl SecurityChannels {
    fn set(&self, channel: &SecurityChannelSettings, reachable: Option<bool>, why: Option<String>) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key(channel), (reachable, why));
    }

    fn any_usable(&self) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|(reachable, _)| *reachable != Some(false))
    }
}

impl Engine {
    /// Checks each configured security channel without posting to it, logs
    /// the result, and remembers it for `/healthz` and `/readyz`.
    pub async fn check_security_channels(&self) {
        let security = &self.delivery.security;
        *security
            .checked_at
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        for channel in self.ctx.settings.all_security_channels() {
            let Some(port) = self.ctx.ports.get(&channel.platform) else {
                let why = format!("no chat adapter for platform `{}`", channel.platform);
                tracing::error!(channel = %key(&channel), reason = %why, "security channel unreachable");
                security.set(&channel, Some(false), Some(why));
                continue;
            };
            let checked = tokio::time::timeout(CHECK_WITHIN, port.check_channel(&channel.channel))
                .await
                .unwrap_or_else(|_| {
                    Some(Err(ChatError::Transient(format!(
                        "no answer within {} s",
                        CHECK_WITHIN.as_secs()
                    ))))
                });
            match checked {
                Some(Ok(())) => {
                    tracing::info!(channel = %key(&channel), "security channel reachable");
                    security.set(&channel, Some(true), None);
                }
                Some(Err(e)) => {
                    tracing::error!(channel = %key(&channel), reason = %e, "security channel unreachable");
                    security.set(&channel, Some(false), Some(e.to_string()));
                }
                None => {
                    tracing::info!(channel = %key(&channel), "security channel not checked: the platform cannot tell without posting");
                    security.set(&channel, None, None);
                }
            }
        }
    }

    /// Ready when no security channel is configured or one is reachable
    /// (or cannot be checked); otherwise checks again (at most every 2 s)
    /// and says why not.
    pub async fn security_ready(&self) -> Result<(), String> {
        let security = &self.delivery.security;
        if self.ctx.settings.all_security_channels().is_empty() || security.any_usable() {
            return Ok(());
        }
        // A channel not answered for yet (the start-up check still under
        // way) is checked now rather than counted as unreachable.
        let unanswered = security
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
            < self.ctx.settings.all_security_channels().len();
        let stale = unanswered
            || security
                .checked_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none_or(|at| at.elapsed() >= RECHECK_AFTER);
        if stale {
            self.check_security_channels().await;
            if security.any_usable() {
                return Ok(());
            }
        }
        Err(
            "no security channel is reachable: security alerts cannot be delivered (see /healthz)"
                .into(),
        )
    }

    /// The security channels and undelivered alerts, for `/healthz`.
    pub fn security_health(&self) -> Value {
        let security = &self.delivery.security;
        let known = security.known.lock().unwrap_or_else(|p| p.into_inner());
        let channels: Vec<Value> = self
            .ctx
            .settings
            .all_security_channels()
            .iter()
            .map(|c| {
                let (state, why) = match known.get(&key(c)) {
                    Some((Some(true), _)) => ("reachable", None),
                    Some((Some(false), why)) => ("unreachable", why.clone()),
                    Some((None, _)) => ("unchecked", None),
                    None => ("not checked yet", None),
                };
                json!({ "platform": c.platform, "channel": c.channel, "state": state, "reason": why })
            })
            .collect();
        json!({
            "channels": channels,
            "undelivered_alerts": security.undelivered.load(Ordering::Relaxed),
        })
    }

    /// A security alert the outbox gave up on (still failing after every
    /// retry) is counted as undelivered too.
    pub(super) fn security_alert_given_up(&self, job: &str, error: &str) {
        if let Ok(crate::engine::jobs::Job::Security { message, channel }) =
            serde_json::from_str(job)
        {
            self.ctx.metrics.alert(false);
            let n = self
                .delivery
                .security
                .undelivered
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            let channel = channel.as_ref().map_or_else(|| "every channel".into(), key);
            tracing::error!(
                %channel, reason = %error, undelivered_alerts = n, alert = %message.text(),
                "security alert NOT delivered to a security channel"
            );
        }
    }

    /// Posts to `channel`, or (a job queued without one) to every channel.
    /// A channel that cannot be reached permanently is marked so and the
    /// alert counted as undelivered there; the others still get it.
    pub(super) async fn to_security(
        &self,
        message: &Message,
        channel: Option<&SecurityChannelSettings>,
    ) -> Result<Outcome, Failure> {
        let channels = match channel {
            Some(c) => vec![c.clone()],
            None => self.ctx.settings.all_security_channels(),
        };
        if channels.is_empty() {
            tracing::warn!(alert = %message.text(), "no security channel configured");
            self.ctx.metrics.alert(false);
            return Ok(Outcome::Done(Some("no security channel".into())));
        }
        let mut lost = Vec::new();
        for channel in channels {
            let to = Recipient::SecurityChannel {
                channel: channel.channel.clone(),
            };
            match self.port_for(&channel.platform)?.post(&to, message).await {
                Ok(_) => {
                    self.ctx.metrics.alert(true);
                    self.delivery.security.set(&channel, Some(true), None);
                }
                Err(e @ (ChatError::Unreachable { .. } | ChatError::Permanent(_))) => {
                    self.ctx.metrics.alert(false);
                    let security = &self.delivery.security;
                    let n = security.undelivered.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::error!(
                        channel = %key(&channel), reason = %e, undelivered_alerts = n,
                        alert = %message.text(),
                        "security alert NOT delivered to a security channel"
                    );
                    security.set(&channel, Some(false), Some(e.to_string()));
                    lost.push(format!("{}: {e}", key(&channel)));
                }
                Err(e) => return Err(Failure::Chat(e)),
            }
        }
        Ok(Outcome::Done(
            (!lost.is_empty()).then(|| format!("undelivered to {}", lost.join("; "))),
        ))
    }
}
