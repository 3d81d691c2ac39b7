//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod graph_directory;
mod graph_em_catalog;
mod graph_groups;
mod health;
mod helpers;
mod sim_control;
