//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod graph_pim_activate;
mod graph_pim_eligibility;
mod graph_pim_policies;
mod graph_pim_requests;
mod health;
mod helpers;
mod sim_control;
