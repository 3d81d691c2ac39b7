//! The load kit shared by chaos runs and benchmarks: a generated tenant
//! ([`tenant_gen`]) and a swarm of personas that drives a running sandbox
//! through the real chat flows and checks the invariants from the
//! emulators' records ([`swarm`]).

pub mod swarm;
pub mod tenant_gen;
