//! A swarm of personas driving a running sandbox through the real chat
//! flows: everyone links their account, every requester asks for the load
//! package on one platform, approvers approve as their cards arrive (a click
//! with a justification through the driver, so the bot sees signed
//! traffic), some requesters activate with MFA, until everything is
//! delivered or the deadline passes. Every step retries until it sticks, so
//! the swarm keeps going while the bot is killed and restarted or the
//! emulators inject faults. [`check`] then reads the emulators' records for
//! the invariants.
//!
//! ```ignore
//! let swarm = Swarm::new(state.clone());
//! let outcome = swarm.run(&SwarmOptions::for_tenant(Platform::Teams, size, 0..100)).await;
//! let report = check::check(&state, Platform::Teams, &outcome);
//! assert!(report.ok());
//! ```

mod actions;
pub mod check;
mod decide;
pub mod records;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::tenant_gen::{self, TenantSize};
pub use check::{SwarmReport, check};
use records::Directory;
use stagegate_sandbox::SimState;

/// Which chat platform the personas use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Teams,
    Slack,
}

/// What the swarm does.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    pub platform: Platform,
    /// Persona keys that link their account first (approvers).
    pub link: Vec<String>,
    /// Persona keys that each submit one request (they link first too).
    pub requesters: Vec<String>,
    /// Requesters who activate (with MFA) once delivered.
    pub activators: Vec<String>,
    /// Package alias to request.
    pub alias: String,
    /// Personas acting at once.
    pub concurrency: usize,
    /// Give up after this long.
    pub deadline: Duration,
    /// A click not answered, or answered without effect, is repeated after this.
    pub retry_after: Duration,
}

impl SwarmOptions {
    /// Requesters `range` of a generated tenant of `size` on `platform`,
    /// with their managers and every security approver linking, and every
    /// tenth requester (the first of the range included) activating.
    pub fn for_tenant(platform: Platform, size: TenantSize, range: std::ops::Range<usize>) -> Self {
        let requesters: Vec<String> = range.clone().map(tenant_gen::requester_key).collect();
        let mut link: Vec<String> = range
            .clone()
            .map(|i| tenant_gen::manager_of(size, i))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        link.extend((0..size.security_approvers).map(tenant_gen::approver_key));
        let activators = range.step_by(10).map(tenant_gen::requester_key).collect();
        Self {
            platform,
            link,
            requesters,
            activators,
            alias: tenant_gen::ALIAS.into(),
            concurrency: 16,
            deadline: Duration::from_secs(600),
            retry_after: Duration::from_secs(10),
        }
    }
}

/// What the swarm did (the input of [`check`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SwarmOutcome {
    pub platform: Option<Platform>,
    pub requesters: Vec<String>,
    pub activators: Vec<String>,
    /// Decisions the bot acknowledged, per (request, stage).
    pub acknowledged: HashSet<(String, String)>,
    /// Attempts that failed and were retried (bot down, fault, no answer).
    pub retries: u64,
    pub clicks: u64,
    pub link_seconds: f64,
    pub submit_seconds: f64,
    pub wall_seconds: f64,
    pub timed_out: bool,
    /// The first few errors, for the report.
    pub sample_errors: Vec<String>,
}

/// Personas acting on one sandbox.
#[derive(Clone)]
pub struct Swarm {
    pub(crate) state: SimState,
    pub(crate) sim_url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) dir: Arc<Directory>,
    /// Follows sign-in links as the personas' browsers.
    pub(crate) sim: Arc<stagegate_sandbox::client::SimClient>,
}

impl Swarm {
    pub fn new(state: SimState) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            sim: Arc::new(stagegate_sandbox::client::SimClient::new(&state.base_url)),
            sim_url: state.base_url.clone(),
            dir: Arc::new(Directory::of(&state)),
            state,
            http,
        }
    }

    /// Runs everything `options` asks; never fails, it reports.
    pub async fn run(&self, options: &SwarmOptions) -> SwarmOutcome {
        let started = Instant::now();
        let deadline = started + options.deadline;
        let mut outcome = SwarmOutcome {
            platform: Some(options.platform),
            requesters: options.requesters.clone(),
            activators: options.activators.clone(),
            ..SwarmOutcome::default()
        };
        let everyone: Vec<String> = options
            .link
            .iter()
            .chain(&options.requesters)
            .cloned()
            .collect();
        let platform = options.platform;
        self.each(
            options,
            &mut outcome,
            deadline,
            &everyone,
            move |s, key| async move { s.link(platform, &key).await },
        )
        .await;
        outcome.link_seconds = started.elapsed().as_secs_f64();
        let (alias, patience) = (options.alias.clone(), options.retry_after);
        self.each(
            options,
            &mut outcome,
            deadline,
            &options.requesters,
            move |s, key| {
                let alias = alias.clone();
                async move { s.submit(platform, &key, &alias, patience).await }
            },
        )
        .await;
        outcome.submit_seconds = started.elapsed().as_secs_f64() - outcome.link_seconds;
        self.decide_and_activate(options, &mut outcome, deadline)
            .await;
        outcome.wall_seconds = started.elapsed().as_secs_f64();
        outcome
    }

    /// Runs `step` for every key (bounded concurrency), repeating a failed
    /// step until it succeeds or the deadline passes.
    async fn each<F, Fut>(
        &self,
        options: &SwarmOptions,
        outcome: &mut SwarmOutcome,
        deadline: Instant,
        keys: &[String],
        step: F,
    ) where
        F: Fn(Swarm, String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let gate = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let step = Arc::new(step);
        let pause = options.retry_after.min(Duration::from_secs(1));
        let mut tasks = JoinSet::new();
        for key in keys {
            let (gate, swarm, key, step) = (gate.clone(), self.clone(), key.clone(), step.clone());
            tasks.spawn(async move {
                let mut errors = Vec::new();
                loop {
                    let attempt = {
                        let _permit = gate.acquire().await;
                        step(swarm.clone(), key.clone()).await
                    };
                    match attempt {
                        Ok(()) => return (errors, false),
                        Err(e) => errors.push(anyhow::anyhow!("{key}: {e:#}")),
                    }
                    if Instant::now() + pause > deadline {
                        return (errors, true);
                    }
                    // Back off before retrying (the bot may be restarting).
                    tokio::time::sleep(pause).await;
                }
            });
        }
        while let Some(result) = tasks.join_next().await {
            if let Ok((errors, gave_up)) = result {
                outcome.timed_out |= gave_up;
                for e in errors {
                    note(outcome, e);
                }
            }
        }
    }

    /// `key` asks for `alias`; done once Graph has their request. A request
    /// acknowledged but not in Graph after `patience` is asked again.
    async fn submit(
        &self,
        platform: Platform,
        key: &str,
        alias: &str,
        patience: Duration,
    ) -> anyhow::Result<()> {
        if self.request_of(key).is_some() {
            return Ok(());
        }
        let n = key.trim_start_matches(|c: char| !c.is_ascii_digit());
        let text = format!("{alias} LOAD-{n} swarm request of {key}");
        self.command(platform, key, "/request", &text).await?;
        let until = Instant::now() + patience;
        while Instant::now() < until {
            if self.request_of(key).is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("no request in Graph for {key}")
    }

    /// Graph's latest request targeting persona `key`.
    pub fn request_of(&self, key: &str) -> Option<String> {
        let aad = self.dir.aad_of_key.get(key)?;
        let world = self.state.world();
        world
            .requests
            .values()
            .filter(|r| &r.target_id == aad)
            .max_by_key(|r| r.created)
            .map(|r| r.id.clone())
    }
}

fn note(outcome: &mut SwarmOutcome, error: anyhow::Error) {
    outcome.retries += 1;
    if outcome.sample_errors.len() < 10 {
        outcome.sample_errors.push(format!("{error:#}"));
    }
}
