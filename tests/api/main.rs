//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod graph_batch;
mod graph_callouts;
mod graph_faults;
mod graph_subscriptions;
mod health;
mod helpers;
mod sim_control;
