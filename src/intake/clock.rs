//! The intake's notion of "now": the crate-wide injectable clock, so tests
//! drive subscription expiry with the sandbox's emulated clock.

pub use crate::time::{Clock, SystemClock};
