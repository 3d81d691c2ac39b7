//! Finding the Slack account of someone who never used the bot, by their
//! Entra identity (issue 19): `users.lookupByEmail` on their `mail`, then on
//! their `userPrincipalName`. Finding them only says where to post their
//! cards; acting as them still takes a sign-in (the account link).

use super::adapter::{SlackPort, chat_error};
use super::error::SlackError;
use super::types::SlackUser;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatError, DirectoryPerson};
use stagegate_domain::chat_ids::Platform;

/// The scope `users.lookupByEmail` needs.
const SCOPE: &str = "users:read.email";

fn unreachable(reason: String) -> ChatError {
    ChatError::Unreachable {
        platform: Platform::Slack,
        reason,
    }
}

/// The addresses to try, in order, each once (Entra often has the same
/// address as `mail` and UPN; emails compare case-insensitively).
fn candidates(person: &DirectoryPerson) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for address in [&person.mail, &person.user_principal_name]
        .into_iter()
        .flatten()
        .map(|a| a.trim())
        .filter(|a| a.contains('@'))
    {
        if !out.iter().any(|seen| seen.eq_ignore_ascii_case(address)) {
            out.push(address);
        }
    }
    out
}

/// Why a found account cannot be messaged, if it cannot.
fn unusable(user: &SlackUser) -> Option<&'static str> {
    if user.deleted {
        Some("deactivated")
    } else if user.is_bot {
        Some("a bot")
    } else {
        None
    }
}

impl SlackPort {
    /// The bot's own workspace id (from `auth.test`, asked once): the
    /// workspace slash commands and clicks name, so an identity filed here
    /// is the same one the person's first click will carry.
    pub(super) async fn own_team(&self) -> Result<String, SlackError> {
        self.workspace
            .get_or_try_init(|| async {
                let me = self.client().auth_test().await?;
                Ok::<_, SlackError>((me.team_id, me.team))
            })
            .await
            .map(|(team, _)| team.clone())
    }

    /// The Slack account of `person`: the first active member found by
    /// their mail, then their UPN.
    pub(super) async fn find_by_directory(
        &self,
        person: &DirectoryPerson,
    ) -> Result<ChatIdentity, ChatError> {
        let addresses = candidates(person);
        if addresses.is_empty() {
            return Err(unreachable(
                "Entra has neither a mail nor a userPrincipalName to look them up by".into(),
            ));
        }
        let mut inactive = Vec::new();
        for address in &addresses {
            let user = match self.client().lookup_by_email(address).await {
                Ok(user) => user,
                Err(e) if e.api_error() == Some("users_not_found") => continue,
                Err(e) if e.api_error() == Some("missing_scope") => {
                    tracing::error!(
                        person = %person.id,
                        "the Slack app lacks the {SCOPE} scope: approvers who never used the bot cannot be found; add {SCOPE} to the app and reinstall it"
                    );
                    return Err(unreachable(format!(
                        "the Slack app lacks the {SCOPE} scope (an administrator must add it and reinstall the app)"
                    )));
                }
                Err(e) => return Err(chat_error(&e)),
            };
            if let Some(why) = unusable(&user) {
                inactive.push(format!("the Slack account with mail {address} is {why}"));
                continue;
            }
            // The bot's workspace, as a click from this person will name
            // it (the payload's `team.id`), so the identity filed here is
            // the one their first click carries.
            let team = self.own_team().await.map_err(|e| chat_error(&e))?;
            return Ok(ChatIdentity {
                platform: Platform::Slack.as_str().into(),
                workspace: team,
                user: user.id,
            });
        }
        if !inactive.is_empty() {
            return Err(unreachable(inactive.join("; ")));
        }
        Err(unreachable(format!(
            "no Slack account with mail {}",
            addresses.join(" or ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(mail: Option<&str>, upn: Option<&str>) -> DirectoryPerson {
        DirectoryPerson {
            id: "3a1f4e2d-0000-4000-8000-0000000a1a11".parse().unwrap(),
            display_name: "Miriam Graham".into(),
            mail: mail.map(str::to_owned),
            user_principal_name: upn.map(str::to_owned),
        }
    }

    #[test]
    fn mail_first_then_a_different_upn_each_once() {
        let p = person(
            Some("m.graham@contoso.example"),
            Some("miriam@contoso.example"),
        );
        assert_eq!(
            candidates(&p),
            ["m.graham@contoso.example", "miriam@contoso.example"]
        );
        let same = person(
            Some("Miriam@Contoso.example"),
            Some("miriam@contoso.example"),
        );
        assert_eq!(candidates(&same), ["Miriam@Contoso.example"]);
        let upn_only = person(None, Some("miriam@contoso.example"));
        assert_eq!(candidates(&upn_only), ["miriam@contoso.example"]);
        assert!(candidates(&person(None, None)).is_empty());
    }

    #[test]
    fn deactivated_and_bot_accounts_are_not_messaged() {
        let user = |deleted: bool, is_bot: bool| -> SlackUser {
            serde_json::from_value(serde_json::json!({
                "id": "U0MIRIAM01", "name": "miriam", "deleted": deleted, "is_bot": is_bot,
            }))
            .unwrap()
        };
        assert_eq!(unusable(&user(false, false)), None);
        assert_eq!(unusable(&user(true, false)), Some("deactivated"));
        assert_eq!(unusable(&user(false, true)), Some("a bot"));
    }
}
