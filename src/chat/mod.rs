//! The chat port's adapters: everything platform-specific about talking to
//! people.
pub mod pacing;
pub mod slack;
pub mod teams;
