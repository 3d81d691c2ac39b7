//! How the outbound clients (Graph, the Bot Connector, Slack) retry: one
//! policy and one `Retry-After` reader, so a throttled upstream is waited
//! out the same way whichever platform throttles. The loops themselves stay
//! in each client because what may be repeated (a refused token, a post that
//! may have landed) differs per platform.

use std::time::Duration;

use backon::ExponentialBuilder;
use reqwest::header::{HeaderMap, RETRY_AFTER};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not slept through in-line; the
    /// caller gets the client's typed throttling error and reschedules (the
    /// outbox does).
    pub max_inline_wait: Duration,
}

/// Graph's and Slack's pace.
impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_inline_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Slower than the default: Teams throttles per conversation and per
    /// bot, and hammering it while throttled only extends the penalty.
    pub fn bot_connector() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
            ..Self::default()
        }
    }

    /// Jittered, so clients throttled together do not come back together.
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }

    /// Whether a wait the upstream asked for is short enough to sleep
    /// through here rather than hand back to the caller.
    pub fn waits_inline(&self, retry_after: Option<Duration>) -> bool {
        retry_after.is_none_or(|wait| wait <= self.max_inline_wait)
    }

    /// The wait before the next attempt, or `None` to give up: the backoff
    /// is spent, or the upstream asked for longer than we wait in-line.
    /// The upstream's `Retry-After` wins over our own backoff step.
    pub fn next_wait(
        &self,
        backoff: &mut impl Iterator<Item = Duration>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let delay = backoff.next()?;
        let wait = retry_after.unwrap_or(delay);
        (wait <= self.max_inline_wait).then_some(wait)
    }
}

/// `Retry-After` in seconds. Graph sends fractions ("2.128"), Slack whole
/// seconds (node-slack-sdk and slack-morphism read an integer), so both are
/// read. An HTTP-date gives `None`, like anything else unreadable, and the
/// caller falls back to its own backoff.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The response's `Retry-After`, when present and readable.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_whole_and_fractional_seconds() {
        assert_eq!(parse_retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
    }

    #[test]
    fn retry_after_refuses_garbage() {
        for garbage in ["", "soon", "-1", "NaN", "inf", "1e400", "10s"] {
            assert_eq!(parse_retry_after(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn retry_after_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "later".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn next_wait_prefers_retry_after_and_gives_up_past_the_inline_limit() {
        let policy = RetryPolicy {
            max_retries: 2,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            max_inline_wait: Duration::from_secs(5),
        };
        let mut steps = [Duration::from_millis(1); 2].into_iter();
        let asked = Some(Duration::from_secs(3));
        assert_eq!(policy.next_wait(&mut steps, asked), asked);
        let too_long = Some(Duration::from_secs(6));
        assert_eq!(policy.next_wait(&mut steps, too_long), None);
        assert_eq!(policy.next_wait(&mut steps, None), None);
        assert!(policy.waits_inline(None));
        assert!(!policy.waits_inline(too_long));
    }
}
