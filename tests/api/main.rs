//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod health;
mod helpers;
mod sim_control;
mod teams_activity;
mod teams_auth;
mod teams_connector;
mod teams_driver;
mod teams_emulator;
mod teams_support;
