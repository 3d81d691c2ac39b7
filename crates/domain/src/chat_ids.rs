//! Chat-platform identities: who said something, on which platform.
//!
//! A [`ChatUser`] is the identity the platform authenticated (Teams JWT +
//! `from.id`, Slack signature + `user_id`). It is an enum rather than a
//! struct of optional parts so a Slack user inside a Teams tenant cannot be
//! represented.

use std::fmt;
use std::str::FromStr;

use super::ids::{IdError, TenantId, serde_via_str, shown};

/// The chat platforms stagegate speaks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Platform {
    Teams,
    Slack,
}

impl Platform {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Teams => "teams",
            Self::Slack => "slack",
        }
    }
}

impl FromStr for Platform {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        match s.to_ascii_lowercase().as_str() {
            "teams" => Ok(Self::Teams),
            "slack" => Ok(Self::Slack),
            "" => Err(IdError::Empty { kind: "platform" }),
            _ => Err(IdError::BadPrefix {
                kind: "platform",
                expected: "teams or slack",
                shown: shown(s),
            }),
        }
    }
}

/// Checks an uppercase Slack id: one of `first` then 2 to 31 of `[A-Z0-9]`.
/// Slack ids are documented as opaque and have grown before (9 → 11
/// characters), so only the alphabet and the type prefix are enforced.
fn slack_id(
    s: &str,
    kind: &'static str,
    first: &[char],
    expected: &'static str,
) -> Result<String, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let len = s.chars().count();
    if len > 32 {
        return Err(IdError::TooLong { kind, len, max: 32 });
    }
    if !s.starts_with(first) || len < 3 {
        return Err(IdError::BadPrefix {
            kind,
            expected,
            shown: shown(s),
        });
    }
    if let Some(found) = s
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
    {
        return Err(IdError::BadChar {
            kind,
            found,
            allowed: "A-Z and 0-9",
        });
    }
    Ok(s.to_owned())
}

/// A Slack user id (`U024BE7LH`, or `W…` for Enterprise Grid users).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SlackUserId(String);

impl FromStr for SlackUserId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        slack_id(
            s,
            "Slack user id",
            &['U', 'W'],
            "U or W and at least 3 characters",
        )
        .map(Self)
    }
}

/// A Slack workspace id (`T1DC2JH3J`), or an Enterprise Grid org (`E…`)
/// for org-wide installs, where user ids are unique across the org.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SlackTeamId(String);

impl FromStr for SlackTeamId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        slack_id(
            s,
            "Slack team id",
            &['T', 'E'],
            "T or E and at least 3 characters",
        )
        .map(Self)
    }
}

/// A Teams user id as the Bot Connector sends it in `from.id` (`29:…`).
/// It is specific to our bot ("You can't reuse the userId between bots";
/// docs/architecture.md, "Teams activities and cards"), so it is kept
/// verbatim; the Entra identity is the separate `aadObjectId`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TeamsUserId(String);

impl TeamsUserId {
    /// Bot Connector ids are long opaque strings; 512 is far above any seen
    /// (~90) while keeping a hostile activity from storing megabytes.
    pub const MAX_LEN: usize = 512;
}

impl FromStr for TeamsUserId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        const KIND: &str = "Teams user id";
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
        if !s.starts_with("29:") || len == 3 {
            return Err(IdError::BadPrefix {
                kind: KIND,
                expected: "29: followed by the id",
                shown: shown(s),
            });
        }
        if let Some(found) = s
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '/')
        {
            return Err(IdError::BadChar {
                kind: KIND,
                found,
                allowed: "printable characters except / and spaces",
            });
        }
        Ok(Self(s.to_owned()))
    }
}

macro_rules! display_inner {
    ($($name:ident),*) => {$(
        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        serde_via_str!($name);
    )*};
}
display_inner!(SlackUserId, SlackTeamId, TeamsUserId);

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
serde_via_str!(Platform);

/// A person as a chat platform authenticated them.
///
/// Text form: `teams/{tenant id}/{29:…}` or `slack/{team id}/{user id}`
/// (none of the parts contain `/`, so it splits unambiguously).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ChatUser {
    Teams {
        tenant: TenantId,
        user: TeamsUserId,
    },
    Slack {
        team: SlackTeamId,
        user: SlackUserId,
    },
}

impl ChatUser {
    #[must_use]
    pub fn platform(&self) -> Platform {
        match self {
            Self::Teams { .. } => Platform::Teams,
            Self::Slack { .. } => Platform::Slack,
        }
    }
}

impl fmt::Display for ChatUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Teams { tenant, user } => write!(f, "teams/{tenant}/{user}"),
            Self::Slack { team, user } => write!(f, "slack/{team}/{user}"),
        }
    }
}

impl FromStr for ChatUser {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let mut parts = s.splitn(3, '/');
        let platform: Platform = parts.next().unwrap_or_default().parse()?;
        let (Some(scope), Some(user)) = (parts.next(), parts.next()) else {
            return Err(IdError::BadPrefix {
                kind: "chat user",
                expected: "teams/<tenant>/<user> or slack/<team>/<user>",
                shown: shown(s),
            });
        };
        Ok(match platform {
            Platform::Teams => Self::Teams {
                tenant: scope.parse()?,
                user: user.parse()?,
            },
            Platform::Slack => Self::Slack {
                team: scope.parse()?,
                user: user.parse()?,
            },
        })
    }
}
serde_via_str!(ChatUser);

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "8f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn slack_ids() {
        assert!("U024BE7LH".parse::<SlackUserId>().is_ok());
        assert!("W012A3CDE".parse::<SlackUserId>().is_ok());
        assert!(matches!(
            "T1DC2JH3J".parse::<SlackUserId>(),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(matches!(
            "u024be7lh".parse::<SlackUserId>(),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(matches!(
            "U024-E7LH".parse::<SlackUserId>(),
            Err(IdError::BadChar { found: '-', .. })
        ));
        assert!("T1DC2JH3J".parse::<SlackTeamId>().is_ok());
        assert!(matches!(
            "U1".parse::<SlackUserId>(),
            Err(IdError::BadPrefix { .. })
        ));
    }

    #[test]
    fn teams_ids() {
        assert!("29:1GcS4EyB_oSI8A88XmWBN7NJFyMqe3QGnJdgLfFGkJnVelzRGos0bPbpsfJjcbAD22bmKc4GFbrW-gLM-GWmADlQ"
            .parse::<TeamsUserId>()
            .is_ok());
        assert!(matches!(
            "28:bot".parse::<TeamsUserId>(),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(matches!(
            "29:".parse::<TeamsUserId>(),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(matches!(
            "29:a b".parse::<TeamsUserId>(),
            Err(IdError::BadChar { found: ' ', .. })
        ));
    }

    #[test]
    fn chat_user_round_trips_through_text_and_serde() {
        for text in [
            format!("teams/{TENANT}/29:abc-DEF_1"),
            "slack/T1DC2JH3J/U024BE7LH".to_owned(),
        ] {
            let user: ChatUser = text.parse().expect("valid");
            assert_eq!(user.to_string(), text);
            let json = serde_json::to_string(&user).expect("ser");
            assert_eq!(serde_json::from_str::<ChatUser>(&json).expect("de"), user);
        }
        let slack: ChatUser = "slack/T1DC2JH3J/U024BE7LH".parse().expect("valid");
        assert_eq!(slack.platform(), Platform::Slack);
    }

    #[test]
    fn chat_user_rejects_mixed_or_partial_identities() {
        assert!("slack/T1DC2JH3J".parse::<ChatUser>().is_err());
        assert!(
            format!("slack/{TENANT}/U024BE7LH")
                .parse::<ChatUser>()
                .is_err()
        );
        assert!(
            format!("teams/{TENANT}/U024BE7LH")
                .parse::<ChatUser>()
                .is_err()
        );
        assert!("discord/x/y".parse::<ChatUser>().is_err());
        assert!("".parse::<ChatUser>().is_err());
        assert_eq!("SLACK".parse::<Platform>(), Ok(Platform::Slack));
    }
}
