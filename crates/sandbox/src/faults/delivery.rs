//! The rules for the services `notifications` and `callouts`: they
//! duplicate or reorder what the emulated Graph sends the bot (applied by
//! `notify::disorder`), rather than failing what it answers.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{FaultInjector, Faults, RuleSpec, path_matches};

/// A duplicated delivery follows the first attempt after this long (emulated
/// time) unless the rule says `delayMs`: Graph resends a notification it got
/// no 2xx for within 3 s, so a redelivery is seen no sooner than that.
pub const DEFAULT_REDELIVERY_MS: u64 = 3_000;
/// Longest a reordered delivery waits for a later one (emulated time).
pub const DEFAULT_HOLD_MS: u64 = 5_000;
/// The services whose outbound deliveries can be duplicated or reordered.
pub const DELIVERY_SERVICES: [&str; 2] = ["notifications", "callouts"];

/// What the delivery rules decided for one outbound delivery: each part is
/// the rule that fired and its delay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disorder {
    /// Deliver again this long after the first attempt.
    pub duplicate: Option<(u64, Duration)>,
    /// Hold back behind the next delivery, at most this long.
    pub hold: Option<(u64, Duration)>,
}

/// Checks a rule's delivery fields: `Ok(true)` for a valid `notifications`
/// or `callouts` rule, `Ok(false)` for a rule of another service that does
/// not use them.
pub(super) fn check_rule(spec: &RuleSpec) -> Result<bool, String> {
    let service = spec.service.to_ascii_lowercase();
    if DELIVERY_SERVICES.contains(&service.as_str()) {
        if spec.duplicate == spec.reorder {
            return Err(format!(
                "a {service} rule needs exactly one of \"duplicate\": true or \"reorder\": true"
            ));
        }
        if spec.status.is_some() || spec.reset || spec.retry_after.is_some() {
            return Err(format!(
                "{service} rules duplicate or reorder deliveries; status, reset and retryAfter do not apply"
            ));
        }
        return Ok(true);
    }
    if spec.duplicate || spec.reorder {
        return Err(format!(
            "duplicate and reorder apply to the services {DELIVERY_SERVICES:?} only"
        ));
    }
    Ok(false)
}

impl FaultInjector {
    /// The delivery rules' verdict for an outbound `service` delivery
    /// (`notifications` or `callouts`) at `path`; `may_hold` is false while
    /// another delivery on the same endpoint is already held back.
    pub fn disorder(&self, service: &str, path: &str, may_hold: bool) -> Disorder {
        let out = self.draw_disorder(service, path, may_hold);
        if out.duplicate.is_some() || out.hold.is_some() {
            self.count_firing();
        }
        out
    }

    fn draw_disorder(&self, service: &str, path: &str, may_hold: bool) -> Disorder {
        let mut guard = self.lock();
        let Faults {
            rules,
            delivery_rng,
            ..
        } = &mut *guard;
        let mut out = Disorder::default();
        for rule in rules.iter_mut() {
            let wanted = (rule.duplicate && out.duplicate.is_none())
                || (rule.reorder && may_hold && out.hold.is_none());
            if !wanted
                || rule.spent
                || !rule.service.eq_ignore_ascii_case(service)
                || !path_matches(&rule.path, path)
            {
                continue;
            }
            if let Some(p) = rule.probability
                && delivery_rng.r#gen::<f64>() >= p
            {
                continue;
            }
            rule.hits += 1;
            if rule.count.is_some_and(|c| rule.hits >= c) {
                rule.spent = true;
            }
            let ms = |default| Duration::from_millis(rule.delay_ms.unwrap_or(default));
            if rule.duplicate {
                out.duplicate = Some((rule.id, ms(DEFAULT_REDELIVERY_MS)));
            } else {
                out.hold = Some((rule.id, ms(DEFAULT_HOLD_MS)));
            }
        }
        out
    }
}

/// The delivery RNG's own stream, so HTTP fault draws do not shift it.
pub(super) fn delivery_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ 0xD15C_0DE5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec;

    #[test]
    fn delivery_rules_are_checked_and_reproducible_per_seed() {
        let faults = FaultInjector::default();
        let mut s = spec("/");
        s.service = "callouts".into();
        assert!(faults.add(s.clone()).is_err(), "status on a callouts rule");
        s.status = None;
        assert!(
            faults.add(s.clone()).is_err(),
            "neither duplicate nor reorder"
        );
        let mut g = spec("/");
        g.duplicate = true;
        assert!(faults.add(g).is_err(), "duplicate on graph");
        s.duplicate = true;
        s.probability = Some(0.5);
        let draws = |f: &FaultInjector, seed: u64| -> Vec<bool> {
            f.clear_with_seed(seed);
            f.add(s.clone()).unwrap();
            (0..32)
                .map(|_| {
                    // HTTP fault checks in between do not shift the draws.
                    f.check("graph", "GET", "/users");
                    f.disorder("callouts", "/assignmentRequestCreated", true)
                        .duplicate
                        .is_some()
                })
                .collect()
        };
        let first = draws(&faults, 7);
        assert_eq!(first, draws(&faults, 7));
        assert_ne!(first, draws(&faults, 8));
        assert!(faults.check("callouts", "POST", "/x").is_none());
    }
}
