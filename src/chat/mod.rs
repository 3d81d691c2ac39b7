//! The chat port's adapters: everything platform-specific about talking to
//! people.
pub mod slack;
pub mod teams;
