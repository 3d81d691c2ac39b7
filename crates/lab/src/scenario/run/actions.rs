//! The steps that act: what each action does on Teams and on Slack.

use serde_json::json;

use super::{Problem, Runner, problem};
use crate::scenario::check;
use crate::scenario::model::{Action, Decision, Platform, slack_command};
use stagegate_sandbox::client::wait_until;

impl Runner<'_> {
    pub(super) async fn act(&mut self, action: &Action) -> Result<(), Problem> {
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
                let clicked = self.client.slack_click(who, &item.id, verb).await?;
                if clicked["ack"]["status"] != 200 {
                    return Err(problem("the bot to accept the click", clicked.to_string()));
                }
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
        let (status, answer) = match self.platform {
            Platform::Teams => {
                let answer = self
                    .client
                    .teams_click(who, &item.id, "activate", json!({ "duration": duration }))
                    .await?;
                (answer["bot"]["status"].clone(), answer)
            }
            Platform::Slack => {
                let action = format!("activate_{duration}");
                if !item.actions.contains(&action) {
                    return Err(problem(
                        format!("a button for {duration}"),
                        format!("buttons {:?}", item.actions),
                    ));
                }
                let answer = self.client.slack_click(who, &item.id, &action).await?;
                (answer["ack"]["status"].clone(), answer)
            }
        };
        if status != 200 {
            return Err(problem("the bot to accept the click", answer.to_string()));
        }
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
}
