//! How many password checks each client address has running at this moment.
//!
//! Failed attempts are recorded after the (deliberately slow) check, so a burst sent all at
//! once would otherwise be checked in full before the first failure counts against the
//! address. Capping what one address has in flight bounds that overshoot. In memory, per
//! process: it limits concurrency, while the counts that must survive restarts are in the
//! database ([`crate::throttle`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct InFlight {
    limit: usize,
    running: Mutex<HashMap<String, usize>>,
}

/// One check in progress; dropping it frees the place.
pub struct Slot {
    owner: Arc<InFlight>,
    key: String,
}

impl InFlight {
    pub fn new(limit: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            limit,
            running: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more check from `key`, or `None` while it has `limit` running.
    pub fn enter(self: &Arc<Self>, key: &str) -> Option<Slot> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(key.to_string()).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            owner: self.clone(),
            key: key.to_string(),
        })
    }

    /// Checks running now for `key`.
    pub fn running(&self, key: &str) -> usize {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(key).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.owner.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[test]
    fn places_are_limited_per_key_and_freed_on_drop() {
        let limiter = InFlight::new(2);
        let a = limiter.enter("10.0.0.1").unwrap();
        let b = limiter.enter("10.0.0.1").unwrap();
        assert!(limiter.enter("10.0.0.1").is_none(), "third at once");
        assert!(
            limiter.enter("10.0.0.2").is_some(),
            "another address is separate"
        );
        drop(a);
        assert_eq!(limiter.running("10.0.0.1"), 1);
        let _c = limiter.enter("10.0.0.1").expect("a place was freed");
        drop(b);
        drop(_c);
        assert_eq!(limiter.running("10.0.0.1"), 0);
        assert!(
            limiter.running.lock().unwrap().is_empty(),
            "no entry left behind"
        );
    }
}
