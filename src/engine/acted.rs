//! What a button press did, as the chat adapters need to know it.

use crate::chat::port::Message;

/// What a button press did: whether the request changed (so the cards
/// everyone sees are rewritten) or the answer is for the presser alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// The request changed, or will (a decision recorded, an activation or
    /// extension asked for).
    Changed(Message),
    /// Nothing changed: a refusal (not yours to decide, already decided,
    /// slow down …) or a sign-in prompt first.
    Refused(Message),
}

impl Acted {
    #[must_use]
    pub fn message(&self) -> &Message {
        match self {
            Self::Changed(m) | Self::Refused(m) => m,
        }
    }

    #[must_use]
    pub fn into_message(self) -> Message {
        match self {
            Self::Changed(m) | Self::Refused(m) => m,
        }
    }

    #[must_use]
    pub fn changed(&self) -> bool {
        matches!(self, Self::Changed(_))
    }
}
