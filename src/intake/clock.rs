//! The intake's notion of "now", injectable so tests drive subscription
//! expiry with the sandbox's emulated clock instead of waiting for days.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves when the clock jumps (an emulated clock being advanced), so
    /// sleepers re-plan at once. Must not lose a jump that happened since the
    /// previous call. The system clock never jumps.
    async fn jumped(&self);
}

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn jumped(&self) {
        std::future::pending::<()>().await;
    }
}
