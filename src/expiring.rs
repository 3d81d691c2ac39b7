//! A set whose members expire a fixed window after they were added, with a
//! hard cap: for the replay and dedupe sets fed by outside input.
//!
//! Every member lives exactly `window`, so members expire in the order
//! they were added: a queue ordered by expiry, popped from the front, finds
//! every expired member without looking at a live one. Each member is
//! pushed once and popped once, so expiry costs O(1) amortised per insert
//! however many members are held (a `retain` over the whole set on every
//! request, or a `clear()` when full, is what this replaces: the first is
//! O(n) per request, the second forgets members still inside their window).
//!
//! When the cap is reached after expiry, [`ExpiringSet::insert`] refuses
//! ([`Full`]) instead of evicting a live member: the caller refuses the
//! request (the sender retries later), which is safe, where forgetting a
//! member would let a replay through.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The set is at its cap with every member inside its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many recent entries to remember another one; try again later")]
pub(crate) struct Full;

#[derive(Debug)]
pub(crate) struct ExpiringSet<K> {
    window: Duration,
    cap: usize,
    members: HashSet<K>,
    /// (expiry, member), oldest first; exactly one entry per member.
    by_expiry: VecDeque<(Instant, K)>,
    /// Entries looked at so far (lookups and expiries), for tests to check
    /// that the cost of a check does not grow with the set.
    touched: u64,
}

impl<K: Hash + Eq + Clone> ExpiringSet<K> {
    #[must_use]
    pub(crate) fn new(window: Duration, cap: usize) -> Self {
        Self {
            window,
            cap,
            members: HashSet::new(),
            by_expiry: VecDeque::new(),
            touched: 0,
        }
    }

    /// Drops the members whose window ended by `now` (front of the queue only).
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.by_expiry.front() {
            self.touched += 1;
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_front() {
                self.members.remove(&key);
            }
        }
    }

    /// Whether `key` was added less than a window before `now`.
    pub(crate) fn contains(&mut self, key: &K, now: Instant) -> bool {
        self.expire(now);
        self.touched += 1;
        self.members.contains(key)
    }

    /// Adds `key` for a window from `now`: `Ok(true)` when it was not a
    /// member, `Ok(false)` when it already was (its window is unchanged),
    /// `Err(Full)` when it would exceed the cap (nothing is forgotten).
    pub(crate) fn insert(&mut self, key: K, now: Instant) -> Result<bool, Full> {
        self.expire(now);
        self.touched += 1;
        if self.members.contains(&key) {
            return Ok(false);
        }
        if self.members.len() >= self.cap {
            return Err(Full);
        }
        self.members.insert(key.clone());
        self.by_expiry.push_back((now + self.window, key));
        Ok(true)
    }

    /// How many more members fit by `now` before the cap.
    pub(crate) fn room(&mut self, now: Instant) -> usize {
        self.expire(now);
        self.cap.saturating_sub(self.members.len())
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Entries looked at since the set was made (see the field).
    #[cfg(test)]
    pub(crate) fn touched(&self) -> u64 {
        self.touched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    /// Entries touched by `checks` inserts of new keys into a set already
    /// holding `held` live members.
    fn cost_of_checks(held: usize, checks: usize) -> u64 {
        let start = Instant::now();
        let mut set = ExpiringSet::new(WINDOW, held + checks);
        for i in 0..held {
            set.insert(i, start).unwrap();
        }
        let before = set.touched();
        for i in 0..checks {
            let now = start + Duration::from_millis(1);
            assert!(!set.contains(&(held + i), now));
            assert_eq!(set.insert(held + i, now), Ok(true));
        }
        set.touched() - before
    }

    #[test]
    fn the_cost_of_a_check_does_not_depend_on_how_many_entries_are_held() {
        let small = cost_of_checks(10, 1_000);
        let large = cost_of_checks(100_000, 1_000);
        assert_eq!(small, large, "entries touched per 1,000 checks");
        assert!(
            large <= 4 * 1_000,
            "{large} entries touched for 1,000 checks"
        );
    }

    #[test]
    fn expiry_is_amortised_constant_and_exact() {
        let start = Instant::now();
        let mut set = ExpiringSet::new(WINDOW, 1_000_000);
        for i in 0..10_000 {
            set.insert(i, start + Duration::from_millis(i as u64))
                .unwrap();
        }
        // One millisecond before the first expires: all still there.
        let edge = start + WINDOW - Duration::from_millis(1);
        assert!(set.contains(&0, edge));
        assert_eq!(set.len(), 10_000);
        let before = set.touched();
        // Every member expired: each touched once on the way out.
        let later = start + WINDOW + Duration::from_secs(11);
        assert!(!set.contains(&0, later));
        assert!(set.is_empty());
        assert!(set.touched() - before <= 10_000 + 2);
    }

    #[test]
    fn a_full_set_refuses_rather_than_forgets_a_live_member() {
        let start = Instant::now();
        let mut set = ExpiringSet::new(WINDOW, 3);
        for key in ["a", "b", "c"] {
            assert_eq!(set.insert(key, start), Ok(true));
        }
        let now = start + Duration::from_secs(30);
        assert_eq!(set.insert("d", now), Err(Full));
        assert!(
            set.contains(&"a", now),
            "nothing inside its window forgotten"
        );
        assert_eq!(set.insert("a", now), Ok(false), "a replay is still seen");
        // Once the window has passed, room again.
        let after = start + WINDOW;
        assert_eq!(set.insert("d", after), Ok(true));
        assert!(!set.contains(&"a", after));
    }
}
