//! The approval engine: turns triggers (commands, clicks, intake) into a
//! reconcile of Graph's truth against what chat shows.

pub mod intake;
