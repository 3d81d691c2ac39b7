//! Talking to people: the chat port (what the engine asks of a chat
//! platform, in platform-neutral types), who someone is in chat, and the
//! Teams and Slack adapters with everything platform-specific.
pub mod identity;
pub(crate) mod pacing;
pub mod port;
pub mod slack;
pub mod teams;
