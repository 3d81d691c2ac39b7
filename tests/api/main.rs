//! Integration tests: one binary, each test with its own sandbox, bot and
//! SQLite file, all over real HTTP on loopback.

mod config;
mod entra_authorize;
mod entra_discovery;
mod entra_grants;
mod entra_prompts;
mod entra_support;
mod entra_token;
mod graph_approvals;
mod graph_batch;
mod graph_callouts;
mod graph_directory;
mod graph_em_catalog;
mod graph_faults;
mod graph_groups;
mod graph_lifecycle;
mod graph_pim_activate;
mod graph_pim_eligibility;
mod graph_pim_policies;
mod graph_pim_requests;
mod graph_requests;
mod graph_subscriptions;
mod health;
mod helpers;
mod manifests;
mod process;
mod sandbox_story;
mod sim_control;
