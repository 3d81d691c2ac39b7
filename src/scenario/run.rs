//! Runs a scenario on one platform against a running sandbox, through the
//! persona client only (the same HTTP a person's Teams or Slack would
//! cause), printing a transcript: who did what, what each persona saw.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use super::check::{self, Mismatch, describe_action, describe_expectation, one_line};
use super::model::{Action, Decision, Expectation, Platform, Scenario, StepKind, slack_command};
use crate::sandbox::client::{ChatItem, ClientError, SimClient, wait_until};

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

    /// Teams: every persona installs the bot, and the bot joins the team
    /// of the security channel (alerts go to Teams and Slack on both runs).
    async fn setup(&mut self) -> Result<(), ClientError> {
        self.client.teams_install_security_channel().await?;
        if self.platform == Platform::Teams {
            for who in self.personas.clone() {
                self.client.teams_install(&who).await?;
            }
        }
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

    async fn act(&mut self, action: &Action) -> Result<(), Problem> {
        match action {
            Action::Type { who, text } => self.type_text(who, text).await,
            Action::Link { who } => {
                self.type_text(who, "link").await?;
                self.sign_in(who, None).await
            }
            Action::SignIn { who, mfa } => self.sign_in(who, *mfa).await,
            Action::Approve {
                who,
                justification,
                card,
            } => {
                self.decide(who, "approve", justification, card.as_deref())
                    .await
            }
            Action::Deny {
                who,
                justification,
                card,
            } => {
                self.decide(who, "deny", justification, card.as_deref())
                    .await
            }
            Action::Activate { who, duration } => self.activate(who, duration).await,
            Action::AdvanceClock { by } => {
                let now = self.client.advance_clock(by).await?;
                self.say(format!(
                    "                   the emulated clock reads {}",
                    now["now"].as_str().unwrap_or("?")
                ));
                Ok(())
            }
            Action::DecideInGraph {
                who,
                request_of,
                decision,
                justification,
            } => {
                self.decide_in_graph(who, request_of, *decision, justification)
                    .await
            }
            Action::AddMember { who, group } => {
                let what = format!("the bot to watch {group}'s members");
                wait_until(self.timeout, &what, || async {
                    let state = self.client.graph_state().await?;
                    Ok((state["groups"][group.as_str()]["subscribed"] == true).then_some(()))
                })
                .await?;
                self.client.add_member(group, who).await?;
                Ok(())
            }
        }
    }

    async fn type_text(&mut self, who: &str, text: &str) -> Result<(), Problem> {
        let (status, answer) = match self.platform {
            Platform::Teams => {
                let answer = self.client.teams_say(who, text).await?;
                (answer["bot"]["status"].clone(), answer)
            }
            Platform::Slack => {
                let (command, rest) = slack_command(text);
                let answer = self.client.slack_command(who, command, &rest).await?;
                (answer["ack"]["status"].clone(), answer)
            }
        };
        if status != 200 {
            return Err(problem("the bot to answer 200", answer.to_string()));
        }
        Ok(())
    }

    async fn sign_in(&mut self, who: &str, mfa: Option<bool>) -> Result<(), Problem> {
        let item = self
            .wait_for_item(who, &format!("a sign-in link in {who}'s chat"), |i| {
                i.sign_in
                    .as_deref()
                    .is_some_and(|l| !self.client.link_used(l))
            })
            .await?;
        let link = item.sign_in.unwrap_or_default();
        let signed = self.client.sign_in(&link, who).await?;
        self.say(format!(
            "                   {who} signed in{}",
            if signed.mfa { " (MFA approved)" } else { "" }
        ));
        match mfa {
            Some(wanted) if wanted != signed.mfa => Err(problem(
                format!(
                    "Entra {} the MFA step",
                    if wanted {
                        "to ask for"
                    } else {
                        "not to ask for"
                    }
                ),
                format!("MFA asked: {}", signed.mfa),
            )),
            _ => Ok(()),
        }
    }

    async fn decide(
        &mut self,
        who: &str,
        verb: &str,
        justification: &str,
        card: Option<&str>,
    ) -> Result<(), Problem> {
        let wanted = format!("a live approval card in {who}'s chat");
        let item = self
            .wait_for_item(who, &wanted, |i| {
                i.actions.iter().any(|a| a == verb) && card.is_none_or(|c| i.text.contains(c))
            })
            .await?;
        match self.platform {
            Platform::Teams => {
                let answer = self
                    .client
                    .teams_click(
                        who,
                        &item.id,
                        verb,
                        json!({ "justification": justification }),
                    )
                    .await?;
                if answer["bot"]["status"] != 200 {
                    return Err(problem("the bot to accept the click", answer.to_string()));
                }
                Ok(())
            }
            Platform::Slack => {
                self.client.slack_click(who, &item.id, verb).await?;
                wait_until(self.timeout, "the decision modal to open", || async {
                    Ok((!self.client.slack_views(who).await?.is_empty()).then_some(()))
                })
                .await?;
                let answer = self.client.slack_submit(who, justification).await?;
                if answer["responseAction"] != "clear" {
                    return Err(problem("the modal to close on submit", answer.to_string()));
                }
                Ok(())
            }
        }
    }

    async fn activate(&mut self, who: &str, duration: &str) -> Result<(), Problem> {
        let wanted = format!("an activation prompt in {who}'s chat");
        let item = self
            .wait_for_item(who, &wanted, |i| {
                i.actions.iter().any(|a| a.starts_with("activate"))
            })
            .await?;
        let answer = match self.platform {
            Platform::Teams => {
                let answer = self
                    .client
                    .teams_click(who, &item.id, "activate", json!({ "duration": duration }))
                    .await?;
                if answer["bot"]["status"] != 200 {
                    return Err(problem("the bot to accept the click", answer.to_string()));
                }
                return Ok(());
            }
            Platform::Slack => {
                let action = format!("activate_{duration}");
                if !item.actions.contains(&action) {
                    return Err(problem(
                        format!("a button for {duration}"),
                        format!("buttons {:?}", item.actions),
                    ));
                }
                self.client.slack_click(who, &item.id, &action).await?
            }
        };
        let _ = answer;
        Ok(())
    }

    async fn decide_in_graph(
        &mut self,
        who: &str,
        request_of: &str,
        decision: Decision,
        justification: &str,
    ) -> Result<(), Problem> {
        let what = format!("{request_of}'s request to await a decision");
        let (request, stage) = wait_until(self.timeout, &what, || async {
            let state = self.client.graph_state().await?;
            Ok(check::newest_request(&state, request_of).and_then(|r| {
                let stage = r["stages"]
                    .as_array()?
                    .iter()
                    .find(|s| s["status"] == "InProgress")?;
                Some((
                    r["id"].as_str()?.to_owned(),
                    stage["id"].as_str()?.to_owned(),
                ))
            }))
        })
        .await?;
        let (status, body) = self
            .client
            .decide_in_graph(
                who,
                &request,
                &stage,
                decision == Decision::Approve,
                justification,
            )
            .await?;
        if status != 204 {
            return Err(problem(
                "Graph to accept the decision (204)",
                format!("HTTP {status}: {body}"),
            ));
        }
        Ok(())
    }

    async fn expect(&mut self, expectation: &Expectation) -> Result<(), Problem> {
        if let Expectation::DoesNotSee { who, contains } = expectation {
            return Ok(check::does_not_see(&self.chat(who).await?, contains)?);
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let mismatch = match self.holds(expectation).await? {
                Ok(()) => return Ok(()),
                Err(m) => m,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(problem(
                    mismatch.expected,
                    format!("{} (after {:?})", mismatch.seen, self.timeout),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// One look at whether `expectation` holds.
    async fn holds(&self, expectation: &Expectation) -> Result<Result<(), Mismatch>, ClientError> {
        Ok(match expectation {
            Expectation::Sees {
                who,
                contains,
                buttons,
            } => check::sees(&self.chat(who).await?, contains, buttons.as_deref()),
            Expectation::DoesNotSee { who, contains } => {
                check::does_not_see(&self.chat(who).await?, contains)
            }
            Expectation::AllFinal { who } => {
                for w in who {
                    if let Err(m) = check::all_final(&self.chat(w).await?) {
                        return Ok(Err(Mismatch {
                            expected: format!("{w}: {}", m.expected),
                            seen: m.seen,
                        }));
                    }
                }
                Ok(())
            }
            Expectation::Graph { .. } => {
                check::graph(&self.client.graph_state().await?, expectation)
            }
            Expectation::Security { contains, channels } => {
                for on in channels.clone().unwrap_or_else(|| vec![self.platform]) {
                    if let Err(m) = check::sees(&self.security(on).await?, contains, None) {
                        return Ok(Err(Mismatch {
                            expected: format!("{} security channel: {}", on.name(), m.expected),
                            seen: m.seen,
                        }));
                    }
                }
                Ok(())
            }
            Expectation::Group {
                who,
                group,
                member,
                eligible,
            } => check::group(
                &self.client.graph_state().await?,
                who,
                group,
                *member,
                *eligible,
            ),
        })
    }
}
