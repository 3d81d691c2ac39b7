//! Validated identifiers and free-text values (parse, don't validate).
//!
//! Every type here has a private field and can only be built through
//! `FromStr` (or `serde`, which goes through `FromStr`), so a value that
//! exists is a value that passed validation. Errors name the kind of value
//! and the rule it broke, so they can be shown to the person who typed it.
//! Chat-platform identities live in [`super::chat_ids`].

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Why a string is not a valid identifier or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the {kind} is missing")]
    Empty { kind: &'static str },
    #[error("the {kind} must be a GUID like 8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b, not `{shown}`")]
    NotAGuid { kind: &'static str, shown: String },
    #[error("the {kind} must not be the all-zero GUID")]
    NilGuid { kind: &'static str },
    #[error("the {kind} is {len} characters long; at most {max} are allowed")]
    TooLong {
        kind: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the {kind} may not contain {found:?}; allowed: {allowed}")]
    BadChar {
        kind: &'static str,
        found: char,
        allowed: &'static str,
    },
    #[error("the {kind} must start with {expected}, not `{shown}`")]
    BadPrefix {
        kind: &'static str,
        expected: &'static str,
        shown: String,
    },
}

/// At most this many characters of rejected input are echoed in an error:
/// enough to recognise the typo, not enough to flood a chat message.
const SHOWN_MAX: usize = 40;

/// The rejected input, shortened for an error message.
pub(crate) fn shown(s: &str) -> String {
    if s.chars().count() <= SHOWN_MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(SHOWN_MAX).collect();
    out.push('…');
    out
}

/// `Serialize` through `Display` and `Deserialize` through `FromStr`, so the
/// wire form is the plain string and deserializing validates.
macro_rules! serde_via_str {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

/// A GUID-valued Microsoft identifier. Only the canonical 36-character
/// hyphenated form is accepted (the only form Graph and Entra emit), case
/// insensitively; `Display` is lowercase, so equal ids compare equal even
/// when one source upper-cased them. The nil GUID is rejected: Graph uses it
/// as "nobody" (e.g. an unreviewed stage's `reviewedBy`), never as an id.
macro_rules! guid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// What this id is, as error messages name it.
            pub const KIND: &'static str = $kind;

            /// Wraps an already-parsed GUID.
            pub fn from_uuid(id: Uuid) -> Result<Self, IdError> {
                if id.is_nil() {
                    return Err(IdError::NilGuid { kind: $kind });
                }
                Ok(Self(id))
            }

            #[must_use]
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::from_uuid(parse_guid(s, $kind)?)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        serde_via_str!($name);
    };
}

fn parse_guid(s: &str, kind: &'static str) -> Result<Uuid, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    // `Uuid::try_parse` also takes the braced, URN and 32-digit forms; a
    // Graph id in any of those would be a bug upstream, so refuse them.
    if s.len() != 36 {
        return Err(IdError::NotAGuid {
            kind,
            shown: shown(s),
        });
    }
    Uuid::try_parse(s).map_err(|_| IdError::NotAGuid {
        kind,
        shown: shown(s),
    })
}

guid_id!(
    /// A Microsoft Entra tenant (directory) id.
    TenantId,
    "tenant id"
);
guid_id!(
    /// An Entra directory object id (user, group, service principal).
    ObjectId,
    "object id"
);
guid_id!(
    /// An `accessPackageAssignmentRequest` id; also the id of its `approval`.
    RequestId,
    "request id"
);
guid_id!(
    /// An `approvalStage` id within an approval.
    StageId,
    "approval stage id"
);
guid_id!(
    /// An `accessPackage` id.
    AccessPackageId,
    "access package id"
);
guid_id!(
    /// An `accessPackageAssignmentPolicy` id.
    PolicyId,
    "assignment policy id"
);
guid_id!(
    /// An `accessPackageQuestion` id (the ticket question of a policy).
    QuestionId,
    "question id"
);

/// The short name people type for an access package (`global-admin`).
///
/// Lowercase ASCII letters, digits and `-`, 1 to 64 characters. Unlike the
/// bare `[a-z0-9-]{1,64}` rule it may not start with `-`, because the command
/// parser reads a leading `-` as a flag (`--dry-run`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Alias(String);

impl Alias {
    pub const MAX_LEN: usize = 64;

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Alias {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        const KIND: &str = "alias";
        const ALLOWED: &str = "lowercase letters a-z, digits and -";
        if s.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(IdError::TooLong {
                kind: KIND,
                len,
                max: Self::MAX_LEN,
            });
        }
        if let Some(found) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(IdError::BadChar {
                kind: KIND,
                found,
                allowed: ALLOWED,
            });
        }
        if s.starts_with('-') {
            return Err(IdError::BadPrefix {
                kind: KIND,
                expected: "a letter or digit",
                shown: shown(s),
            });
        }
        Ok(Self(s.to_owned()))
    }
}

/// The answer to a policy's ticket question (`INC-1234`), syntactically
/// valid: one word of 1 to 128 printable characters. Whether it matches the
/// policy's pattern is decided by `TicketRule` against config.
///
/// 128 because ITSM ticket numbers are short (`CHG0031337`, `INC-42`) and the
/// ticket is repeated on every approval card; a longer "ticket" is almost
/// certainly a justification typed in the wrong place.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Ticket(String);

impl Ticket {
    pub const MAX_LEN: usize = 128;

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Ticket {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        const KIND: &str = "ticket";
        if s.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(IdError::TooLong {
                kind: KIND,
                len,
                max: Self::MAX_LEN,
            });
        }
        if let Some(found) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdError::BadChar {
                kind: KIND,
                found,
                allowed: "printable characters without spaces",
            });
        }
        Ok(Self(s.to_owned()))
    }
}

/// Why access is wanted (or why an approver decided): trimmed, not blank,
/// at most 500 characters, no control characters other than line breaks
/// and tabs.
///
/// 500 so that a card stays within Slack's 3,000-character section text
/// limit (docs/architecture.md, "Block Kit limits") while it shows the
/// requester's justification and up to three stages' approver
/// justifications together, with room for the package, ticket and names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Justification(String);

impl Justification {
    pub const MAX_LEN: usize = 500;

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Justification {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        const KIND: &str = "justification";
        let s = s.trim();
        if s.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(IdError::TooLong {
                kind: KIND,
                len,
                max: Self::MAX_LEN,
            });
        }
        if let Some(found) = s
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(IdError::BadChar {
                kind: KIND,
                found,
                allowed: "text, line breaks and tabs",
            });
        }
        Ok(Self(s.to_owned()))
    }
}

macro_rules! display_as_str {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        serde_via_str!($name);
    )*};
}
display_as_str!(Alias, Ticket, Justification);

#[cfg(test)]
mod tests;
