//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod entra_authorize;
mod entra_discovery;
mod entra_grants;
mod entra_prompts;
mod entra_support;
mod entra_token;
mod health;
mod helpers;
mod sim_control;
