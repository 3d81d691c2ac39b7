//! Runs a scenario on one platform against a running sandbox, through the
//! persona client only (the same HTTP a person's Teams or Slack would
//! cause), printing a transcript: who did what, what each persona saw.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::check::{self, Mismatch, one_line};
use super::describe::{describe_action, describe_expectation};

mod actions;
mod expect;
use super::model::{Action, Expectation, Platform, Scenario, StepKind};
use stagegate_sandbox::client::{ChatItem, ClientError, SimClient, wait_until};

/// The step that failed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step} on {platform} failed: {what}\n    expected: {expected}\n    seen: {seen}")]
pub struct StepFailure {
    /// 0 for the setup before the first step.
    pub step: usize,
    pub platform: &'static str,
    pub what: String,
    pub expected: String,
    pub seen: String,
}

/// Runs `scenario`'s steps for `platform` on the sandbox at `sim_url`.
/// `timeout` bounds every wait (for a card, a sign-in link, an expectation).
pub async fn run_on(
    sim_url: &str,
    scenario: &Scenario,
    platform: Platform,
    timeout: Duration,
    out: &mut (dyn Write + Send),
) -> Result<(), StepFailure> {
    let mut runner = Runner {
        client: SimClient::new(sim_url),
        platform,
        timeout,
        personas: personas(scenario),
        shown: BTreeMap::new(),
        out,
    };
    runner
        .setup()
        .await
        .map_err(|e| runner.failed(0, "setting up", &e))?;
    let begun = Instant::now();
    for step in &scenario.steps {
        if step.on.is_some_and(|on| on != platform) {
            continue;
        }
        let started = Instant::now();
        let result = match &step.kind {
            StepKind::Do(action) => {
                runner.say(format!(
                    "{:>5.1}s  step {:>2}  {}",
                    begun.elapsed().as_secs_f64(),
                    step.number,
                    describe_action(action, platform)
                ));
                runner.act(action).await
            }
            StepKind::Expect(expectation) => {
                runner.say(format!(
                    "{:>5.1}s  step {:>2}  expect: {}",
                    begun.elapsed().as_secs_f64(),
                    step.number,
                    describe_expectation(expectation, platform)
                ));
                runner.expect(expectation).await
            }
        };
        if let Err(problem) = result {
            let what = match &step.kind {
                StepKind::Do(a) => describe_action(a, platform),
                StepKind::Expect(e) => describe_expectation(e, platform),
            };
            runner.news().await;
            let failure = StepFailure {
                step: step.number,
                platform: platform.name(),
                what,
                expected: problem.expected,
                seen: problem.seen,
            };
            runner.say(format!("FAILED: {failure}"));
            return Err(failure);
        }
        if matches!(step.kind, StepKind::Expect(_)) {
            runner.say(format!(
                "                   ok ({:.1} s)",
                started.elapsed().as_secs_f64()
            ));
        }
        runner.news().await;
    }
    Ok(())
}

/// Every persona a scenario names, in order of appearance.
#[must_use]
pub fn personas(scenario: &Scenario) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |who: &str| {
        if !out.iter().any(|p| p == who) {
            out.push(who.to_owned());
        }
    };
    for step in &scenario.steps {
        match &step.kind {
            StepKind::Do(
                Action::Type { who, .. }
                | Action::Link { who }
                | Action::SignIn { who, .. }
                | Action::Approve { who, .. }
                | Action::Deny { who, .. }
                | Action::Activate { who, .. },
            ) => add(who),
            StepKind::Do(Action::DecideInGraph {
                who, request_of, ..
            }) => {
                add(request_of);
                add(who);
            }
            StepKind::Expect(
                Expectation::Sees { who, .. } | Expectation::DoesNotSee { who, .. },
            ) => add(who),
            StepKind::Expect(Expectation::AllFinal { who }) => who.iter().for_each(|w| add(w)),
            StepKind::Do(Action::AdvanceClock { .. } | Action::AddMember { .. })
            | StepKind::Expect(
                Expectation::Graph { .. }
                | Expectation::Security { .. }
                | Expectation::Group { .. },
            ) => {}
        }
    }
    out
}

struct Runner<'a> {
    client: SimClient,
    platform: Platform,
    timeout: Duration,
    personas: Vec<String>,
    /// What the transcript already showed: (chat, message id) → text.
    shown: BTreeMap<(String, String), String>,
    out: &'a mut (dyn Write + Send),
}

/// A step's problem before it becomes a [`StepFailure`].
struct Problem {
    expected: String,
    seen: String,
}

impl From<ClientError> for Problem {
    fn from(e: ClientError) -> Self {
        Self {
            expected: "the sandbox to answer".into(),
            seen: e.to_string(),
        }
    }
}

impl From<Mismatch> for Problem {
    fn from(m: Mismatch) -> Self {
        Self {
            expected: m.expected,
            seen: m.seen,
        }
    }
}

fn problem(expected: impl Into<String>, seen: impl Into<String>) -> Problem {
    Problem {
        expected: expected.into(),
        seen: seen.into(),
    }
}

impl Runner<'_> {
    fn say(&mut self, line: String) {
        let _ = writeln!(self.out, "{line}");
    }

    fn failed(&mut self, step: usize, what: &str, e: &ClientError) -> StepFailure {
        let failure = StepFailure {
            step,
            platform: self.platform.name(),
            what: what.into(),
            expected: "the sandbox to answer".into(),
            seen: e.to_string(),
        };
        self.say(format!("FAILED: {failure}"));
        failure
    }

    /// Nothing to install: on Teams a persona who types installs the app
    /// then, and the bot installs it (through Graph) for an approver who
    /// never did, as in a real tenant. (The launched sandbox already has
    /// the bot in the security channel's team.)
    async fn setup(&mut self) -> Result<(), ClientError> {
        Ok(())
    }

    async fn chat(&self, who: &str) -> Result<Vec<ChatItem>, ClientError> {
        match self.platform {
            Platform::Teams => self.client.teams_chat(who).await,
            Platform::Slack => self.client.slack_dm(who).await,
        }
    }

    async fn security(&self, on: Platform) -> Result<Vec<ChatItem>, ClientError> {
        match on {
            Platform::Teams => self.client.teams_security().await,
            Platform::Slack => {
                let viewer = self.personas.first().map_or("alex", String::as_str);
                self.client.slack_security(viewer).await
            }
        }
    }

    /// Prints every message that is new or changed since the last call.
    async fn news(&mut self) {
        let mut fresh = Vec::new();
        for who in self.personas.clone() {
            if let Ok(items) = self.chat(&who).await {
                fresh.extend(items.into_iter().map(|i| (who.clone(), i)));
            }
        }
        if let Ok(items) = self.security(self.platform).await {
            fresh.extend(items.into_iter().map(|i| ("#security".to_owned(), i)));
        }
        for (who, item) in fresh {
            let key = (who.clone(), item.id.clone());
            if self.shown.get(&key) == Some(&item.text) {
                continue;
            }
            let verb = if self.shown.contains_key(&key) {
                "'s card now shows"
            } else {
                " sees"
            };
            let buttons = if item.actions.is_empty() {
                String::new()
            } else {
                format!("  [{}]", item.actions.join("] ["))
            };
            self.say(format!(
                "                   {who}{verb}: {}{buttons}",
                one_line(&item.text)
            ));
            self.shown.insert(key, item.text);
        }
    }

    /// Waits for a message in `who`'s chat that `pick` accepts.
    async fn wait_for_item(
        &self,
        who: &str,
        wanted: &str,
        pick: impl Fn(&ChatItem) -> bool,
    ) -> Result<ChatItem, Problem> {
        let found = wait_until(self.timeout, wanted, || async {
            Ok(self.chat(who).await?.into_iter().rev().find(|i| pick(i)))
        })
        .await;
        match found {
            Ok(item) => Ok(item),
            Err(ClientError::Timeout { .. }) => {
                let items = self.chat(who).await.unwrap_or_default();
                Err(problem(wanted, check::listing(&items)))
            }
            Err(e) => Err(e.into()),
        }
    }
}
