//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod health;
mod helpers;
mod sim_control;
mod slack_client;
mod slack_emulator;
mod slack_support;
mod slack_verify;
