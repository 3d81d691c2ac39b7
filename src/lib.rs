//! stagegate: Microsoft Entra multi-stage approval of privileged roles, in
//! Microsoft Teams and Slack. See docs/architecture.md and the README's code
//! map for the architecture.

#![warn(unreachable_pub)]

pub mod app;
pub mod chat;
pub mod cli;
pub mod config;
pub mod discover;
pub mod doctor;
pub mod engine;
mod expiring;
pub mod graph;
pub mod http;
pub mod identity;
pub mod intake;
mod locks;
pub mod manifests;
pub mod metrics;
pub mod retry;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod token;
