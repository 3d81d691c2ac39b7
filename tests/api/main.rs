//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod engine_activation;
mod engine_commands;
mod engine_flows;
mod engine_graph;
mod engine_outbox;
mod engine_refusals;
mod engine_story;
mod engine_support;
mod entra_authorize;
mod entra_discovery;
mod entra_grants;
mod entra_prompts;
mod entra_support;
mod entra_token;
mod graph_approvals;
mod graph_directory;
mod graph_em_catalog;
mod graph_groups;
mod graph_lifecycle;
mod graph_pim_activate;
mod graph_pim_eligibility;
mod graph_pim_policies;
mod graph_pim_requests;
mod graph_requests;
mod health;
mod helpers;
mod sandbox_story;
mod sim_control;
