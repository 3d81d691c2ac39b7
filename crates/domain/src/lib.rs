//! The pure core of stagegate: validated ids, the chat command language,
//! the model of an approval request as Graph shows it, approver resolution,
//! and the reconcile planner.
//!
//! No I/O, no async: everything here is a function of its arguments, so the
//! decision logic can be unit- and property-tested without a network, a
//! clock or a database. The engine fetches facts, calls in here, and carries
//! out what comes back.

#![warn(unreachable_pub)]

pub mod approval;
pub mod approvers;
pub mod catalog;
pub mod chat_ids;
pub mod command;
pub mod ids;
pub mod planner;
pub mod time;

#[cfg(test)]
mod testkit;
