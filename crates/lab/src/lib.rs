//! stagegate's lab: the bot run against its emulators. The `sandbox`
//! command (and its scripted scenarios), the benchmarks, the chaos runs and
//! the load swarm live here, apart from the production bot, which never
//! contains them.

#![warn(unreachable_pub)]

pub mod bench;
pub mod bot_process;
pub mod chaos;
pub mod cli;
pub mod launch;
pub mod load;
pub mod scenario;
pub mod wiring;
