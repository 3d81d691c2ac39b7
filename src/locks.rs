//! One async lock per key, created on first use and dropped once nobody
//! holds it: the engine serialises work per request with it, the Teams
//! adapter writes per card.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};

pub(crate) struct KeyedLocks<K>(Mutex<HashMap<K, Weak<tokio::sync::Mutex<()>>>>);

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    /// The lock of `key`; entries nobody holds any more are dropped first.
    pub(crate) fn of(&self, key: &K) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, weak| weak.strong_count() > 0);
        if let Some(lock) = locks.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key.clone(), Arc::downgrade(&lock));
        lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_key_one_lock_until_nobody_holds_it() {
        let locks = KeyedLocks::<u8>::default();
        let first = locks.of(&1);
        assert!(Arc::ptr_eq(&first, &locks.of(&1)));
        assert!(!Arc::ptr_eq(&first, &locks.of(&2)));
        let _held = first.lock().await;
        assert!(locks.of(&1).try_lock().is_err(), "the same key waits");
        drop(_held);
        drop(first);
        locks.of(&2);
        assert_eq!(
            locks.0.lock().unwrap().len(),
            1,
            "unheld entries are dropped"
        );
    }
}
