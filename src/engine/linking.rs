//! Completing an account link: a sign-in Entra finished is linked only when
//! the Entra account belongs to the chat account that asked for the link.
//! Teams says who a person is (the activity's `aadObjectId` must be the
//! signed-in account); on Slack the account's verified profile email must
//! be the Entra account's mail or user principal name. A refusal is told
//! to the chat account and to the security channel; so is every chat
//! account that gains an Entra account, and every Entra account that gains
//! another chat account.

use super::jobs::Job;
use super::{Engine, EngineError};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatProfile, Message};
use crate::graph::directory;
use crate::identity::link::{Linked, SignedIn};
use stagegate_domain::ids::ObjectId;

/// Why a completed sign-in was not linked.
#[derive(Debug)]
pub enum LinkRefused {
    /// The Entra account is not the chat account's; the text is for the
    /// person in the browser.
    NotTheirs(String),
    Failed(EngineError),
}

impl<E: Into<EngineError>> From<E> for LinkRefused {
    fn from(e: E) -> Self {
        Self::Failed(e.into())
    }
}

/// A chat account as a person reads it, and the email its platform
/// verified.
struct ChatAccount {
    label: String,
    email: Option<String>,
}

impl Engine {
    /// "Slack user @alex (Alex Wilber) in Contoso": who a link is for, for
    /// the sign-in page.
    pub async fn describe_chat_account(&self, who: &ChatIdentity) -> String {
        self.chat_account(who).await.label
    }

    async fn chat_account(&self, who: &ChatIdentity) -> ChatAccount {
        let profile = match self.ctx.ports.get(who.platform.as_str()) {
            Some(port) => port.profile(who).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, platform = %who.platform, "cannot read a chat profile");
                None
            }),
            None => None,
        };
        let known = self
            .ctx
            .store
            .person_name(who)
            .await
            .ok()
            .flatten()
            .filter(|n| !n.is_empty());
        let profile = profile.unwrap_or_default();
        ChatAccount {
            label: account_label(who, &profile, known.as_deref()),
            email: profile.email,
        }
    }

    /// Links a sign-in Entra completed, if its account is the chat
    /// account's; announces new links and refusals. Returns the link and
    /// the chat account as a person reads it (for the success page).
    pub async fn complete_sign_in(
        &self,
        signed: SignedIn,
    ) -> Result<(Linked, String), LinkRefused> {
        let who = &signed.identity;
        let account = self.chat_account(who).await;
        let signed_name = signed.display_name.clone();
        if let Err(reason) = self.belongs(&signed, &account).await? {
            self.audit(
                &who.to_string(),
                "link",
                &signed.object_id,
                "refused: not the chat account's",
                serde_json::json!({ "reason": reason }),
            )
            .await;
            self.alert(
                "Sign-in refused: the Microsoft account is not the chat account's",
                vec![
                    format!("Chat account: {}", account.label),
                    format!("Signed in as: {signed_name}"),
                    format!("Why: {reason}"),
                    "Nothing was linked.".into(),
                ],
            )
            .await;
            self.tell(
                who,
                Message::Text {
                    text: format!(
                        "Someone signed in as {signed_name} from a sign-in link for your account. \
                         {reason}, so nothing was linked. If you forwarded the link, don't: \
                         type `link` for a new one and open it yourself."
                    ),
                },
            )
            .await;
            return Err(LinkRefused::NotTheirs(format!(
                "You signed in as {signed_name}, but this link is for {}. {reason}, so nothing was linked. \
                 Sign-in links work only for the chat account that asked for them: ask the bot for a \
                 link from your own chat account.",
                account.label
            )));
        }
        let before = self.ctx.store.link(who).await?.map(|l| l.object_id);
        // An `oid` claim that is not a GUID cannot be linked anywhere else.
        let others: Vec<ChatIdentity> = match signed.object_id.parse::<ObjectId>() {
            Ok(oid) => self.ctx.store.linked_identities_of(&oid).await?,
            Err(_) => Vec::new(),
        }
        .into_iter()
        .filter(|other| other != who)
        .collect();
        self.ctx.links.store_link(&signed).await?;
        let linked = signed.linked();
        if let Ok(oid) = linked.object_id.parse::<ObjectId>() {
            self.register_person(who, &oid, &linked.display_name)
                .await?;
        }
        let new = !before.is_some_and(|b| b.eq_ignore_ascii_case(&linked.object_id));
        if new {
            self.announce_link(&account, &linked, &others).await;
        }
        Ok((linked, account.label))
    }

    /// A sign-in from `who`'s link came back to a browser that did not
    /// open it (a forwarded Entra sign-in address): nothing is linked.
    pub async fn sign_in_from_another_browser(&self, who: &ChatIdentity) {
        let account = self.chat_account(who).await;
        self.audit(
            &who.to_string(),
            "link",
            "-",
            "refused: completed in another browser",
            serde_json::json!({}),
        )
        .await;
        self.alert(
            "Sign-in refused: completed in another browser",
            vec![
                format!("Chat account: {}", account.label),
                "A sign-in started from this account's link was completed in a browser that \
                 did not open the link (a forwarded sign-in address)."
                    .into(),
                "Nothing was linked.".into(),
            ],
        )
        .await;
        self.tell(
            who,
            Message::Text {
                text: "A sign-in from your link was completed in another browser than the one \
                       that opened the link, so nothing was linked. If that was you, type `link` \
                       for a new link and sign in in the browser that opens it."
                    .into(),
            },
        )
        .await;
    }

    /// `Ok(Err(reason))` when the signed-in account is not the chat
    /// account's.
    async fn belongs(
        &self,
        signed: &SignedIn,
        account: &ChatAccount,
    ) -> Result<Result<(), String>, EngineError> {
        let who = &signed.identity;
        if who.platform == "teams" {
            // Teams authenticated the person as this Entra object.
            return Ok(if who.user.eq_ignore_ascii_case(&signed.object_id) {
                Ok(())
            } else {
                Err("that Microsoft account is not the one this Teams account belongs to".into())
            });
        }
        let Some(email) = &account.email else {
            tracing::error!(
                platform = %who.platform,
                "cannot link: the chat platform gave no verified email for the account \
                 (the Slack app needs the users:read.email scope)"
            );
            return Ok(Err(
                "the chat platform did not tell me your account's email address, so I cannot \
                 check that the Microsoft account is yours (ask your administrator to grant \
                 the app users:read.email)"
                    .into(),
            ));
        };
        let Ok(oid) = signed.object_id.parse::<ObjectId>() else {
            return Ok(Err("Microsoft Entra named no valid account".into()));
        };
        let Some(user) = directory::user(&self.ctx.graph, &oid).await? else {
            return Ok(Err("Microsoft Entra does not know that account".into()));
        };
        let entra = [user.mail.as_deref(), user.user_principal_name.as_deref()];
        let mapped = map_domain(email, self.ctx.links.slack_email_domains());
        let matches = entra
            .into_iter()
            .flatten()
            .any(|address| same_address(address, email) || same_address(address, &mapped));
        Ok(if matches {
            Ok(())
        } else {
            Err("its email address is not your chat account's".into())
        })
    }

    async fn announce_link(&self, account: &ChatAccount, linked: &Linked, others: &[ChatIdentity]) {
        let mut lines = vec![format!(
            "{} now acts as {} in Microsoft Entra.",
            account.label, linked.display_name
        )];
        if !others.is_empty() {
            let mut labels = Vec::new();
            for other in others {
                labels.push(self.chat_account(other).await.label);
            }
            lines.push(format!(
                "{} was already linked from: {}.",
                linked.display_name,
                labels.join("; ")
            ));
        }
        let title = if others.is_empty() {
            "Chat account linked"
        } else {
            "Another chat account linked to the same person"
        };
        self.alert(title, lines).await;
    }

    /// Queues a security-channel alert for an event that belongs to no
    /// request.
    async fn alert(&self, title: &str, lines: Vec<String>) {
        let key = format!("identity:{}", uuid::Uuid::new_v4());
        let job = Job::Security {
            channel: None,
            message: Message::SecurityAlert {
                title: title.to_owned(),
                lines,
            },
        };
        if let Err(e) = self.queue_unattached(&[(key, job)]).await {
            tracing::error!(error = %e, "cannot queue a security alert");
        }
    }
}

fn account_label(who: &ChatIdentity, profile: &ChatProfile, known: Option<&str>) -> String {
    let name = profile.name.as_deref().or(known);
    match who.platform.as_str() {
        "slack" => {
            let mut label = match (&profile.handle, name) {
                (Some(handle), Some(name)) => format!("Slack user @{handle} ({name})"),
                (Some(handle), None) => format!("Slack user @{handle}"),
                (None, Some(name)) => format!("Slack user {name}"),
                (None, None) => "a Slack user".to_owned(),
            };
            if let Some(workspace) = &profile.workspace_name {
                label.push_str(&format!(" in {workspace}"));
            }
            label
        }
        "teams" => match name {
            Some(name) => format!("Teams user {name}"),
            None => "a Teams user".to_owned(),
        },
        other => format!("a {other} user"),
    }
}

/// `email` with its domain replaced as the tenant's mapping says.
fn map_domain(email: &str, domains: &std::collections::BTreeMap<String, String>) -> String {
    let Some((local, domain)) = email.trim().rsplit_once('@') else {
        return email.to_owned();
    };
    domains
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(domain))
        .map_or_else(|| email.to_owned(), |(_, to)| format!("{local}@{to}"))
}

fn same_address(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(user: &str) -> ChatIdentity {
        ChatIdentity {
            platform: "slack".into(),
            workspace: "T1".into(),
            user: user.into(),
        }
    }

    #[test]
    fn a_mapped_domain_matches_and_nothing_else_does() {
        let domains = [("corp.example".to_owned(), "contoso.com".to_owned())].into();
        assert_eq!(
            map_domain("Alex@Corp.Example", &domains),
            "Alex@contoso.com"
        );
        assert_eq!(
            map_domain("alex@other.example", &domains),
            "alex@other.example"
        );
        assert_eq!(map_domain("no-at-sign", &domains), "no-at-sign");
        assert!(same_address("ALEX@contoso.com", " alex@contoso.com"));
        assert!(!same_address("", ""));
        assert!(!same_address("alex@contoso.com", "alex@contoso.com.evil"));
    }

    #[test]
    fn labels_name_people_never_ids() {
        let profile = ChatProfile {
            handle: Some("alex".into()),
            name: Some("Alex Wilber".into()),
            workspace_name: Some("Contoso".into()),
            email: None,
        };
        assert_eq!(
            account_label(&slack("U1"), &profile, None),
            "Slack user @alex (Alex Wilber) in Contoso"
        );
        assert_eq!(
            account_label(&slack("U1"), &ChatProfile::default(), None),
            "a Slack user"
        );
        let teams = ChatIdentity {
            platform: "teams".into(),
            workspace: "t".into(),
            user: "oid".into(),
        };
        assert_eq!(
            account_label(&teams, &ChatProfile::default(), Some("Alex Wilber")),
            "Teams user Alex Wilber"
        );
    }
}
