//! The chat port's adapters: Microsoft Teams (and later Slack).

pub mod teams;
