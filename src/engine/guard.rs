//! The guard a person's action passes before the engine acts on it: the
//! chat identity must be linked to an Entra user with a usable delegated
//! token (else a sign-in prompt that resumes the action), and an action on
//! a request needs the request known and, for the requester's own actions,
//! the clicker to be its requester. One guard, so every entry point refuses
//! with the same words and in the same order.

use secrecy::SecretString;

use super::resume::Resume;
use super::view::Snapshot;
use super::{Engine, EngineError};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::Message;
use stagegate_domain::ids::{ObjectId, RequestId};

/// A linked person, able to act in Graph as themselves.
pub(super) struct Actor {
    pub me: ObjectId,
    pub token: SecretString,
}

/// A linked person and the request they act on, as Graph shows it now.
pub(super) struct Guarded {
    pub me: ObjectId,
    pub token: SecretString,
    pub snapshot: Snapshot,
}

/// What the guard checks for one kind of action.
pub(super) struct Guard<'a> {
    /// Why signing in is needed, said in the sign-in prompt.
    pub sign_in: &'a str,
    /// What the sign-in continues once done.
    pub resume: Option<&'a Resume>,
    /// The refusal for anyone but the requester; `None` when others (the
    /// approvers) may act too, their own rules checked by the caller.
    pub requester_only: Option<&'a str>,
}

/// `Err` holds the refusal to answer with; nothing was done.
pub(super) type Checked<T> = Result<T, Message>;

impl Engine {
    /// `who` as a linked Entra user with a fresh token, or the sign-in
    /// prompt to answer with.
    pub(super) async fn signed_in(
        &self,
        who: &ChatIdentity,
        sign_in: &str,
        resume: Option<&Resume>,
    ) -> Result<Checked<Actor>, EngineError> {
        match (self.linked_user(who).await?, self.token_of(who).await?) {
            (Some(me), Some(token)) => Ok(Ok(Actor { me, token })),
            _ => Ok(Err(self.sign_in_prompt(who, sign_in, None, resume).await)),
        }
    }

    /// `who` signed in, and `request` known (and theirs, when `guard` says
    /// only the requester may act), or the refusal to answer with.
    pub(super) async fn guard(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        guard: &Guard<'_>,
    ) -> Result<Checked<Guarded>, EngineError> {
        let Actor { me, token } = match self.signed_in(who, guard.sign_in, guard.resume).await? {
            Ok(actor) => actor,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let Some(snapshot) = self.snapshot(request).await? else {
            return Ok(Err(Message::Text {
                text: format!("I don't know request {request}."),
            }));
        };
        if let Some(refusal) = guard.requester_only
            && snapshot.view.requester != me
        {
            return Ok(Err(Message::Text {
                text: refusal.to_owned(),
            }));
        }
        Ok(Ok(Guarded {
            me,
            token,
            snapshot,
        }))
    }
}

/// The answer to an action whose sign-in link, sent before for the same
/// purpose, is still live: no new link, and what the link now continues.
pub(super) fn still_valid(previous: Option<&Resume>, now: Option<&Resume>) -> String {
    let head = "The sign-in link I sent you earlier is still valid, so I haven't sent another.";
    let Some(now) = now else {
        return format!("{head} Open it to sign in.");
    };
    match previous {
        Some(previous) if previous == now => format!(
            "{head} Sign in with it and {} completes by itself.",
            now.describe()
        ),
        Some(previous) if previous.describe() == now.describe() => format!(
            "{head} Sign in with it and {} completes by itself, with the justification you just gave.",
            now.describe()
        ),
        Some(previous) => format!(
            "{head} This click replaced what it was waiting for: once you sign in, {} completes instead of {}.",
            now.describe(),
            previous.describe()
        ),
        None => format!(
            "{head} Sign in with it and {} completes by itself.",
            now.describe()
        ),
    }
}
