//! The states the store keeps for rows stagegate owns (decisions, outbox
//! jobs, cards, activations), as enums instead of bare strings.
//!
//! Each is stored as the same text the schema has always held, so no
//! migration is needed and a database written by an older build reads
//! back. A value no variant matches is a decode error naming the column's
//! kind, never a silent default: it means the database was written by
//! something newer or was edited by hand, and guessing would relay or
//! deliver the wrong thing.

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type};

/// A stored state string no variant matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}` in the database")]
pub struct UnknownState {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $($text => Ok(Self::$variant),)*
                    other => Err(UnknownState { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Type<Sqlite> for $name {
            fn type_info() -> SqliteTypeInfo {
                <str as Type<Sqlite>>::type_info()
            }

            fn compatible(ty: &SqliteTypeInfo) -> bool {
                <str as Type<Sqlite>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Sqlite> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<SqliteArgumentValue<'q>>,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, Sqlite>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Sqlite> for $name {
            fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<'r, Sqlite>>::decode(value)?.parse()?)
            }
        }
    };
}

stored_enum!(
    /// Where a decision taken in chat is on its way to Graph.
    DecisionState, "decision state" {
        /// Recorded, not yet sent.
        Recorded => "recorded",
        /// Sent, Graph's answer not (yet) known: recovery checks
        /// `reviewedBy` before sending again.
        Relaying => "relaying",
        Relayed => "relayed",
        /// Someone else decided the stage first.
        Conflict => "conflict",
        Failed => "failed",
    }
);

impl DecisionState {
    /// States that hold the stage's one live decision (the partial unique
    /// index `decisions_one_per_stage` spells the same list).
    pub const LIVE: [Self; 3] = [Self::Recorded, Self::Relaying, Self::Relayed];
}

stored_enum!(
    /// An outbox job's delivery.
    DeliveryStatus, "outbox status" {
        Pending => "pending",
        /// Claimed under a lease; re-claimed when the lease runs out.
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
    }
);

impl DeliveryStatus {
    /// Whether the job may still be delivered.
    #[must_use]
    pub fn is_unfinished(self) -> bool {
        matches!(self, Self::Pending | Self::Sending)
    }
}

stored_enum!(
    /// An approval card of a stage.
    CardState, "card state" {
        Live => "live",
        /// The stage moved on: the card was replaced by its outcome.
        Retired => "retired",
    }
);

stored_enum!(
    /// An activation made through the bot.
    ActivationState, "activation state" {
        /// About to call PIM; a row left so was interrupted by a crash.
        Requesting => "requesting",
        Requested => "requested",
        Active => "active",
        /// PIM refused it, or the call failed.
        Refused => "refused",
        /// A crash cut it off before PIM's answer; the requester was told.
        Interrupted => "interrupted",
    }
);

impl ActivationState {
    /// Whether a membership of the group is explained by this activation.
    #[must_use]
    pub fn explains_membership(self) -> bool {
        matches!(self, Self::Requesting | Self::Requested | Self::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        for s in DecisionState::LIVE {
            assert_eq!(s.as_str().parse::<DecisionState>(), Ok(s));
        }
        assert_eq!("sent".parse(), Ok(DeliveryStatus::Sent));
        assert_eq!("retired".parse(), Ok(CardState::Retired));
        assert_eq!("interrupted".parse(), Ok(ActivationState::Interrupted));
    }

    #[test]
    fn unknown_text_is_an_error_naming_the_column() {
        let e = "Relayed".parse::<DecisionState>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown decision state `Relayed` in the database"
        );
    }
}
