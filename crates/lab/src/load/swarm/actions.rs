//! What a persona does, through the emulators' driver APIs (so the bot sees
//! signed Teams activities and Slack requests): install, type, approve with
//! a justification, activate, and sign in when asked.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Platform, Swarm, records};

/// How long a persona waits for the bot's answer to show in their chat.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting persona looks at their chat again.
const LOOK_AGAIN: Duration = Duration::from_millis(20);

impl Swarm {
    async fn drive(&self, platform: Platform, path: &str, body: Value) -> anyhow::Result<Value> {
        let prefix = match platform {
            Platform::Teams => "teams",
            Platform::Slack => "slack",
        };
        let url = format!("{}/sim/{prefix}{path}", self.sim_url);
        let response = self.http.post(url).json(&body).send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("driver {path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Teams: installs the app in `key`'s personal scope (the bot must see
    /// the `conversationUpdate`). Slack: nothing to do.
    pub(super) async fn install(&self, platform: Platform, key: &str) -> anyhow::Result<()> {
        if platform == Platform::Slack {
            return Ok(());
        }
        let answer = self
            .drive(platform, &format!("/personas/{key}/install"), json!({}))
            .await?;
        bot_ok(&answer["bot"])
    }

    /// `key` types a command: `text` in Teams, `/command text` in Slack.
    pub(super) async fn command(
        &self,
        platform: Platform,
        key: &str,
        slack_command: &str,
        text: &str,
    ) -> anyhow::Result<()> {
        match platform {
            Platform::Teams => {
                let teams_text = match slack_command {
                    "/request" => format!("request {text}"),
                    _ => text.to_owned(),
                };
                let answer = self
                    .drive(
                        platform,
                        &format!("/personas/{key}/messages"),
                        json!({ "text": teams_text }),
                    )
                    .await?;
                bot_ok(&answer["bot"])
            }
            Platform::Slack => {
                let answer = self
                    .drive(
                        platform,
                        &format!("/personas/{key}/command"),
                        json!({ "command": slack_command, "text": text, "channel": "dm" }),
                    )
                    .await?;
                if answer["ack"]["status"] != 200 {
                    bail!("the bot did not acknowledge: {}", answer["ack"]);
                }
                Ok(())
            }
        }
    }

    /// Links `key`'s account: asks the bot, follows the fresh sign-in link.
    pub(super) async fn link(&self, platform: Platform, key: &str) -> anyhow::Result<()> {
        self.install(platform, key).await?;
        let seen = records::sign_in_links(&self.state, &self.dir, platform, key).len();
        self.command(platform, key, "/stagegate", "link").await?;
        self.follow_new_sign_in(platform, key, seen).await
    }

    /// Waits for a sign-in link beyond the first `seen`, and follows it.
    pub(super) async fn follow_new_sign_in(
        &self,
        platform: Platform,
        key: &str,
        seen: usize,
    ) -> anyhow::Result<()> {
        let until = Instant::now() + ANSWER_WAIT;
        let link = loop {
            let links = records::sign_in_links(&self.state, &self.dir, platform, key);
            if links.len() > seen {
                break links.last().cloned().context("a link")?;
            }
            if Instant::now() > until {
                bail!("no sign-in link for {key}");
            }
            tokio::time::sleep(LOOK_AGAIN).await;
        };
        // The real authorization-code + PKCE flow through the bot's page and
        // the emulated Entra pages, as the person's browser would.
        self.sim.sign_in(&link, key).await?;
        Ok(())
    }

    /// The holder approves `card` with a justification. `Ok` once the bot
    /// acknowledged the decision (Teams: the invoke's answer, unless it says
    /// the decision is still being recorded; Slack: the modal closing).
    pub(super) async fn approve(
        &self,
        platform: Platform,
        card: &records::LiveCard,
    ) -> anyhow::Result<()> {
        let key = &card.holder;
        let justification = format!("Approved by swarm for {}", card.request);
        match platform {
            Platform::Teams => {
                let answer = self
                    .drive(
                        platform,
                        &format!("/personas/{key}/invoke"),
                        json!({ "activityId": card.handle, "verb": "approve",
                                "inputs": { "justification": justification } }),
                    )
                    .await?;
                bot_ok(&answer["bot"])?;
                // A 200 that only says "slow down", "something went wrong"
                // or "still recording" is not an acknowledged decision.
                let said = answer["bot"]["body"].to_string();
                if ["Slow down", "Something went wrong", "Still recording"]
                    .iter()
                    .any(|s| said.contains(s))
                {
                    bail!("the bot refused the click: {said:.200}");
                }
                Ok(())
            }
            Platform::Slack => {
                // A modal left open without the form (the bot said it was
                // still recording, and the decision then failed) is one the
                // person closes by clicking the card again: a new modal
                // replaces it.
                if self.decision_form(key).is_none() {
                    self.click_slack(key, &card.handle, "approve").await?;
                    let until = Instant::now() + ANSWER_WAIT;
                    while self.decision_form(key).is_none() {
                        if Instant::now() > until {
                            bail!("no decision modal opened for {key}");
                        }
                        tokio::time::sleep(LOOK_AGAIN).await;
                    }
                }
                let answer = self
                    .drive(
                        platform,
                        &format!("/personas/{key}/submit"),
                        json!({ "values": { "justification": { "text": justification } } }),
                    )
                    .await?;
                if answer["ack"]["status"] != 200 || answer["responseAction"] == "errors" {
                    bail!("the submission was not accepted: {answer}");
                }
                // Only a closed form says "recorded"; an updated one says
                // the bot is still at it (not yet an acknowledged decision).
                if answer["responseAction"] != "clear" {
                    bail!(
                        "the decision is not confirmed yet: {:.200}",
                        answer.to_string()
                    );
                }
                Ok(())
            }
        }
    }

    async fn click_slack(&self, key: &str, ts: &str, action_id: &str) -> anyhow::Result<()> {
        let channel = self.dir.slack_dm.get(key).context("no Slack DM")?;
        let answer = self
            .drive(
                Platform::Slack,
                &format!("/personas/{key}/click"),
                json!({ "channel": channel, "ts": ts, "actionId": action_id }),
            )
            .await?;
        if answer["ack"]["status"] != 200 {
            bail!("the bot did not acknowledge the click: {}", answer["ack"]);
        }
        Ok(())
    }

    /// The id of `key`'s top open Slack modal, if it is a decision form
    /// (it has the justification input).
    fn decision_form(&self, key: &str) -> Option<String> {
        let slack = self.state.slack.lock();
        let user = slack.user_by_key(key)?.id.clone();
        let id = slack.view_stacks.get(&user)?.last()?;
        let view = slack.views.get(id).filter(|v| v.open)?;
        view.view["blocks"]
            .as_array()?
            .iter()
            .any(|b| b["type"] == "input" && b["block_id"] == "justification")
            .then(|| id.clone())
    }

    /// `key` clicks Activate (the policy maximum) on prompt `handle`, then
    /// passes the MFA step-up the bot asks for.
    pub(super) async fn activate(
        &self,
        platform: Platform,
        key: &str,
        handle: &str,
    ) -> anyhow::Result<()> {
        let seen = records::sign_in_links(&self.state, &self.dir, platform, key).len();
        match platform {
            Platform::Teams => {
                let answer = self
                    .drive(
                        platform,
                        &format!("/personas/{key}/invoke"),
                        json!({ "activityId": handle, "verb": "activate",
                                "inputs": { "duration": "PT4H" } }),
                    )
                    .await?;
                bot_ok(&answer["bot"])?;
            }
            Platform::Slack => self.click_slack(key, handle, "activate_PT4H").await?,
        }
        self.follow_new_sign_in(platform, key, seen).await
    }
}

fn bot_ok(bot: &Value) -> anyhow::Result<()> {
    if bot["status"] == 200 {
        Ok(())
    } else {
        bail!("the bot answered {bot}")
    }
}
