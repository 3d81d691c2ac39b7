//! Fault injection for the emulators: throttling (429 + `Retry-After`),
//! outages (503, 504) and slow answers, by rule, so the bot's retry paths can
//! be tested against the sandbox.
//!
//! `POST /sim/faults` adds a rule:
//! `{"service"?: "graph"|"teams"|"slack", "path": "/identityGovernance/*", "method"?: "GET",
//!   "status"?: 429|503|504 (Teams also 412|502, Slack 429|500), "retryAfter"?: seconds, "delayMs"?: n,
//!   "count"?: n, "probability"?: 0..1}`.
//! `path` is relative to the service root (`/graph/v1.0` for Graph) and is a
//! case-insensitive prefix, or a glob when it contains `*` (any characters,
//! `/` included). A rule with `delayMs` and no `status` slows the real answer
//! down; with `status` it answers that error after the delay. `count` spends
//! the rule after that many hits; `probability` fires it at random from an
//! RNG seeded with [`DEFAULT_SEED`] (re-seeded by `DELETE /sim/faults`), so a
//! run is reproducible. `GET /sim/faults` lists rules with their hit counts.
//!
//! The services `botframework` and `login` fail the OpenID metadata and
//! keys of the Bot Framework (`path` relative to `/botframework`, e.g.
//! `/v1/.well-known/*`) and of Entra (relative to `/login`, e.g.
//! `/*/v2.0/.well-known/openid-configuration`, `/*/discovery/v2.0/keys`).
//!
//! The matching ([`FaultInjector::check`]) is service-agnostic: the Teams and
//! Slack emulators call it with their own service name and render the fault
//! in their own error shape; [`graph_layer`] renders Graph's.
//!
//! Two more services disorder what the emulated Microsoft cloud *sends*
//! rather than what it answers ([`FaultInjector::disorder`], applied by
//! `notify::disorder`): `"notifications"` (Graph change notifications; `path`
//! matches the subscription's resource, `/groups/{id}/members`) and
//! `"callouts"` (custom-extension callouts from the relay; `path` is
//! `/{stage}`, e.g. `/assignmentRequestCreated`). Their rules carry
//! `"duplicate": true` (the same body is delivered again `delayMs` after the
//! first attempt; default [`DEFAULT_REDELIVERY_MS`]) or `"reorder": true` (the
//! delivery is held back until the next one to the same endpoint has been
//! sent, or at most `delayMs`; default [`DEFAULT_HOLD_MS`]). Their
//! probabilities come from a second RNG, so HTTP faults do not shift them.
//! `DELETE /sim/faults?seed=N` clears the rules and re-seeds both RNGs with
//! `N` (a chaos run passes its `--seed`).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

mod delivery;
mod http;
mod plain;
use delivery::delivery_rng;
pub use delivery::{DEFAULT_HOLD_MS, DEFAULT_REDELIVERY_MS, DELIVERY_SERVICES, Disorder};
pub use http::{graph_layer, router};
pub use plain::plain_fault;

/// Seed of the probability RNG after start and after every reset.
pub const DEFAULT_SEED: u64 = 0x5EED_F00D;
/// `Retry-After` of an injected 429 when the rule names none (Graph's
/// throttling page shows `Retry-After: 10`).
pub const DEFAULT_RETRY_AFTER: u64 = 10;
/// Longest injectable delay; longer would only trip the server's timeout.
pub const MAX_DELAY_MS: u64 = 55_000;

/// A rule as posted to `/sim/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default = "graph_service")]
    pub service: String,
    pub path: String,
    pub method: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub count: Option<u64>,
    pub probability: Option<f64>,
    /// Drop the connection instead of answering (Graph only): the request
    /// is not processed and the client sees the connection break.
    #[serde(default)]
    pub reset: bool,
    /// Deliver the same notification or callout twice (`notifications` and
    /// `callouts` only).
    #[serde(default)]
    pub duplicate: bool,
    /// Hold a notification or callout back behind the next one
    /// (`notifications` and `callouts` only).
    #[serde(default)]
    pub reorder: bool,
}

fn graph_service() -> String {
    "graph".into()
}

/// A stored rule and how often it fired.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: u64,
    pub service: String,
    pub path: String,
    pub method: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub count: Option<u64>,
    pub probability: Option<f64>,
    pub reset: bool,
    pub duplicate: bool,
    pub reorder: bool,
    pub hits: u64,
    /// `count` reached: the rule no longer fires.
    pub spent: bool,
}

/// What a request that matched a rule gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub rule_id: u64,
    /// Drop the connection without an answer.
    pub reset: bool,
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
    pub delay: Duration,
}

struct Faults {
    rules: Vec<Rule>,
    rng: StdRng,
    /// Draws of the delivery rules only.
    delivery_rng: StdRng,
    seed: u64,
    next_id: u64,
}

/// The rule set of one sandbox, shared by every emulator.
pub struct FaultInjector {
    inner: Mutex<Faults>,
    /// Counts every rule firing, so a watcher (a chaos storm waiting for
    /// its disorder to happen) awaits a change instead of polling.
    fired: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultInjector").finish_non_exhaustive()
    }
}

impl Default for FaultInjector {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Faults {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(DEFAULT_SEED),
                delivery_rng: delivery_rng(DEFAULT_SEED),
                seed: DEFAULT_SEED,
                next_id: 1,
            }),
            fired: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl FaultInjector {
    fn lock(&self) -> MutexGuard<'_, Faults> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates and stores a rule.
    pub fn add(&self, spec: RuleSpec) -> Result<Rule, String> {
        if !spec.path.starts_with('/') {
            return Err("path must start with `/` (relative to the service root)".into());
        }
        if let Some(s) = spec.status {
            let (allowed, names): (&[u16], &str) = match spec.service.to_ascii_lowercase().as_str()
            {
                "teams" => (&[429, 412, 502, 503, 504], "429, 412, 502, 503 or 504"),
                "slack" => (&[429, 500], "429 (ratelimited) or 500 (internal_error)"),
                _ => (&[429, 503, 504], "429, 503 or 504"),
            };
            if !allowed.contains(&s) {
                return Err(format!(
                    "status {s} is not injectable for {}; use {names}",
                    spec.service
                ));
            }
        }
        if !delivery::check_rule(&spec)?
            && spec.status.is_none()
            && spec.delay_ms.is_none()
            && !spec.reset
        {
            return Err("a rule needs a status, a delayMs, a reset, or a combination".into());
        }
        if spec.delay_ms.is_some_and(|d| d > MAX_DELAY_MS) {
            return Err(format!("delayMs must be at most {MAX_DELAY_MS}"));
        }
        if let Some(p) = spec.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err("probability must be between 0 and 1".into());
        }
        if spec.count == Some(0) {
            return Err("count must be at least 1 (omit it for an unlimited rule)".into());
        }
        let mut faults = self.lock();
        let rule = Rule {
            id: faults.next_id,
            service: spec.service.to_ascii_lowercase(),
            path: spec.path,
            method: spec.method.map(|m| m.to_ascii_uppercase()),
            status: spec.status,
            retry_after: spec
                .retry_after
                .or((spec.status == Some(429)).then_some(DEFAULT_RETRY_AFTER)),
            delay_ms: spec.delay_ms,
            count: spec.count,
            probability: spec.probability,
            reset: spec.reset,
            duplicate: spec.duplicate,
            reorder: spec.reorder,
            hits: 0,
            spent: false,
        };
        faults.next_id += 1;
        faults.rules.push(rule.clone());
        Ok(rule)
    }

    pub fn rules(&self) -> Vec<Rule> {
        self.lock().rules.clone()
    }

    /// Keeps only the rules `keep` accepts.
    pub fn retain(&self, keep: impl Fn(&Rule) -> bool) {
        self.lock().rules.retain(|r| keep(r));
    }

    /// Changes whenever a rule fires.
    pub fn fired(&self) -> tokio::sync::watch::Receiver<u64> {
        self.fired.subscribe()
    }

    fn count_firing(&self) {
        self.fired.send_modify(|n| *n += 1);
    }

    /// Removes every rule and re-seeds the RNGs with the current seed.
    pub fn clear(&self) {
        let seed = self.lock().seed;
        self.clear_with_seed(seed);
    }

    /// Removes every rule and re-seeds the RNGs with `seed` (kept for later
    /// resets).
    pub fn clear_with_seed(&self, seed: u64) {
        let mut faults = self.lock();
        faults.rules.clear();
        faults.seed = seed;
        faults.rng = StdRng::seed_from_u64(seed);
        faults.delivery_rng = delivery_rng(seed);
    }

    /// The fault for a request, if a live rule matches and fires.
    pub fn check(&self, service: &str, method: &str, path: &str) -> Option<Fault> {
        let fault = self.draw(service, method, path);
        if fault.is_some() {
            self.count_firing();
        }
        fault
    }

    fn draw(&self, service: &str, method: &str, path: &str) -> Option<Fault> {
        let mut guard = self.lock();
        let Faults { rules, rng, .. } = &mut *guard;
        for rule in rules.iter_mut() {
            if rule.spent
                || rule.duplicate
                || rule.reorder
                || !rule.service.eq_ignore_ascii_case(service)
                || rule
                    .method
                    .as_deref()
                    .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                || !path_matches(&rule.path, path)
            {
                continue;
            }
            if let Some(p) = rule.probability
                && rng.r#gen::<f64>() >= p
            {
                continue;
            }
            rule.hits += 1;
            if rule.count.is_some_and(|c| rule.hits >= c) {
                rule.spent = true;
            }
            return Some(Fault {
                rule_id: rule.id,
                reset: rule.reset,
                status: rule.status.and_then(|s| StatusCode::from_u16(s).ok()),
                retry_after: rule.retry_after,
                delay: Duration::from_millis(rule.delay_ms.unwrap_or(0)),
            });
        }
        None
    }
}

/// Case-insensitive prefix, or glob with `*` when the pattern has one.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let path = path.to_ascii_lowercase();
    if !pattern.contains('*') {
        return path.starts_with(&pattern);
    }
    glob(pattern.as_bytes(), path.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// A Graph 503 rule on `path`, for tests.
#[cfg(test)]
pub(crate) fn spec(path: &str) -> RuleSpec {
    RuleSpec {
        service: "graph".into(),
        path: path.into(),
        method: None,
        status: Some(503),
        retry_after: None,
        delay_ms: None,
        count: None,
        probability: None,
        reset: false,
        duplicate: false,
        reorder: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_prefixes() {
        assert!(path_matches("/identityGovernance", "/identitygovernance/x"));
        assert!(path_matches("/users/*/manager", "/users/abc/manager"));
        assert!(!path_matches("/users/*/manager", "/users/abc/memberOf"));
        assert!(path_matches("*/stages*", "/a/b/stages/1"));
        assert!(!path_matches("/groups", "/users"));
    }

    #[test]
    fn count_spends_the_rule() {
        let faults = FaultInjector::default();
        let mut s = spec("/users");
        s.count = Some(2);
        faults.add(s).unwrap();
        assert!(faults.check("graph", "GET", "/users").is_some());
        assert!(faults.check("graph", "GET", "/users").is_some());
        assert!(faults.check("graph", "GET", "/users").is_none());
        assert!(faults.check("slack", "GET", "/users").is_none());
    }

    #[test]
    fn probability_is_reproducible_after_reset() {
        let faults = FaultInjector::default();
        let run = |f: &FaultInjector| -> Vec<bool> {
            let mut s = spec("/");
            s.probability = Some(0.5);
            f.add(s).unwrap();
            let out = (0..32)
                .map(|_| f.check("graph", "GET", "/users").is_some())
                .collect();
            f.clear();
            out
        };
        let first = run(&faults);
        assert_eq!(first, run(&faults));
        assert!(first.iter().any(|b| *b) && first.iter().any(|b| !*b));
    }

    #[test]
    fn refuses_bad_rules() {
        let faults = FaultInjector::default();
        let mut s = spec("/users");
        s.status = Some(404);
        assert!(faults.add(s).is_err());
        assert!(faults.add(spec("users")).is_err());
        let mut s = spec("/users");
        s.probability = Some(1.5);
        assert!(faults.add(s).is_err());
    }
}
