//! Who a Teams activity comes from, or why the bot will not act for them:
//! an activity from another tenant, or whose `from.aadObjectId` is missing
//! or not an Entra object id (the Agents Playground's default user sends
//! `00000000-0000-0000-0000-0000000000020`), or whom the organisation's
//! directory does not know (Graph answers 404 for their object id: a
//! deleted account, or an id made up). Each is logged with its reason, and
//! told why where a reply can be sent — never an empty 400.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{TeamsBot, is_personal};

use crate::chat::identity::ChatIdentity;
use crate::chat::port::Message;
use crate::chat::teams::activity::{Activity, OutgoingActivity};
use crate::chat::teams::adapter::ConversationRef;
use crate::chat::teams::cards;
use stagegate_domain::ids::ObjectId;

/// Why the bot cannot act for the sender of an activity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Stranger {
    #[error(
        "I can't tell who you are: this message names no Microsoft Entra user (no aadObjectId)."
    )]
    NoUser,
    #[error(
        "I can't act for you: your Teams account's id `{0}` is not a Microsoft Entra object id (a GUID). Use a real account of this organisation."
    )]
    NotAnObjectId(String),
    #[error("I can't act for you: this message names no Microsoft Entra tenant.")]
    NoTenant,
    #[error(
        "I can't act for you: you are signed in to another organisation (tenant {0}); I serve only the tenant I am installed for."
    )]
    OtherTenant(String),
    #[error(
        "I can't find you in this organisation's directory, so I can't act for you. Ask your Entra administrator to check that your account exists in this tenant."
    )]
    NotInDirectory(ObjectId),
}

/// How long the directory's answer about a person is reused: their
/// presence does not change from one message to the next.
const DIRECTORY_TTL: Duration = Duration::from_secs(5 * 60);

/// The directory's recent answers (object id → known?, when asked).
#[derive(Debug, Default)]
pub(super) struct DirectoryCache {
    seen: Mutex<HashMap<ObjectId, (bool, Instant)>>,
}

impl DirectoryCache {
    fn recall(&self, id: &ObjectId) -> Option<bool> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(id)
            .filter(|(_, at)| at.elapsed() < DIRECTORY_TTL)
            .map(|(known, _)| *known)
    }

    fn note(&self, id: ObjectId, known: bool) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (_, at)| at.elapsed() < DIRECTORY_TTL);
        }
        seen.insert(id, (known, Instant::now()));
    }
}

/// Whether the directory knows `id`, from the cache or Graph. When Graph
/// cannot answer, the activity goes on (logged): whatever it then asks of
/// Graph fails with its own words, and nobody is locked out by an outage.
async fn in_directory(bot: &TeamsBot, id: &ObjectId) -> bool {
    if let Some(known) = bot.directory.recall(id) {
        return known;
    }
    match bot.engine.in_directory(id).await {
        Ok(known) => {
            bot.directory.note(*id, known);
            known
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot look a Teams sender up in the directory; going on");
            true
        }
    }
}

impl Stranger {
    pub(super) fn log(&self) {
        match self {
            Self::NotInDirectory(id) => tracing::warn!(
                reason = %self, object_id = %id,
                "Teams activity from someone the directory does not know"
            ),
            _ => {
                tracing::warn!(reason = %self, "Teams activity from someone the bot cannot act for")
            }
        }
    }
}

/// The person an activity comes from (registered with the engine), or
/// why not.
pub(super) async fn identify(
    bot: &TeamsBot,
    activity: &Activity,
) -> Result<ChatIdentity, Stranger> {
    let aad = activity
        .from
        .as_ref()
        .and_then(|f| f.aad_object_id.as_deref())
        .ok_or(Stranger::NoUser)?;
    let object_id: ObjectId = aad
        .parse()
        .map_err(|_| Stranger::NotAnObjectId(aad.chars().take(64).collect()))?;
    let tenant = activity.tenant_id().ok_or(Stranger::NoTenant)?;
    if !tenant.eq_ignore_ascii_case(bot.port.tenant_id()) {
        return Err(Stranger::OtherTenant(tenant.chars().take(64).collect()));
    }
    if !in_directory(bot, &object_id).await {
        return Err(Stranger::NotInDirectory(object_id));
    }
    let who = ChatIdentity {
        platform: "teams".into(),
        workspace: tenant.to_owned(),
        user: aad.to_owned(),
    };
    let name = activity
        .from
        .as_ref()
        .and_then(|f| f.name.as_deref())
        .unwrap_or(aad);
    if let Err(e) = bot.engine.register_person(&who, &object_id, name).await {
        tracing::warn!(error = %e, "cannot register a Teams person");
    }
    Ok(who)
}

/// Notes `who`'s Teams user id for the `refresh` of cards in their 1:1
/// chat (once that chat is on file as theirs).
pub(super) fn learn_member(bot: &TeamsBot, who: &ChatIdentity, activity: &Activity) {
    if is_personal(activity)
        && let (Some(from), Some(conversation)) = (&activity.from, &activity.conversation)
    {
        bot.port
            .remember_member(&who.user, &conversation.id, &from.id);
    }
}

/// Logs why, and tells the sender in the conversation their message came
/// from (its serviceUrl was authenticated and allowlisted on the way in).
pub(super) async fn answer(bot: &TeamsBot, stranger: &Stranger, here: Option<&ConversationRef>) {
    stranger.log();
    let Some(here) = here else { return };
    let service_url = match bot.allowlist.admit(&here.service_url) {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(error = %e, "cannot answer a Teams stranger: serviceUrl not allowed");
            return;
        }
    };
    let card = cards::render(&Message::Text {
        text: stranger.to_string(),
    });
    if let Err(e) = bot
        .port
        .connector()
        .send_to_conversation(
            &service_url,
            &here.conversation_id,
            &OutgoingActivity::card(card),
        )
        .await
    {
        tracing::warn!(error = %e, "cannot tell a Teams stranger why the bot will not act");
    }
}
