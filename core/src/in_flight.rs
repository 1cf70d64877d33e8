//! How many password checks run at this moment, per client address and per account.
//!
//! Per address: failed attempts are recorded after the (deliberately slow) check, so a
//! burst sent all at once would otherwise be checked in full before the first failure
//! counts against the address. Each address gets a few places; further attempts wait their
//! turn (a clinic behind one NAT signing in together just queues for a moment) and, once
//! in, see the failures recorded meanwhile.
//!
//! Per account: an attempt is counted against the account before its password is checked
//! (so parallel guesses get no extra tries), which means attempts still running look like
//! failures to the ones beside them. One check per account at a time, with a short queue,
//! means only real failures are ever counted: six right passwords at shift start all get
//! in, one after the other. A longer queue is refused at once as busy.
//!
//! In memory, per process: it limits concurrency, while the counts that must survive
//! restarts are in the database ([`crate::throttle`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{CoreError, CoreResult};

pub struct InFlight {
    /// Checks that may run at once per key.
    limit: usize,
    /// Attempts that may wait for a place per key; more are refused as busy.
    max_waiting: usize,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One check in progress; dropping it frees the place.
pub struct Slot {
    owner: Arc<InFlight>,
    key: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    /// `limit` checks at once per key; any number may wait.
    pub fn new(limit: usize) -> Arc<InFlight> {
        Self::with_queue(limit, usize::MAX)
    }

    /// `limit` checks at once per key, at most `max_waiting` waiting for a place.
    pub fn with_queue(limit: usize, max_waiting: usize) -> Arc<InFlight> {
        Arc::new(InFlight {
            limit,
            max_waiting,
            gates: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for a place among `key`'s checks, or answers [`CoreError::Busy`] at once
    /// when the queue for `key` is full.
    pub async fn enter(self: &Arc<Self>, key: &str) -> CoreResult<Slot> {
        let gate = {
            let mut gates = self.lock();
            let gate = gates
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone();
            // Every holder (through its permit) and every waiter holds the gate, besides
            // the map and this clone.
            let others = Arc::strong_count(&gate) - 2;
            if others >= self.limit.saturating_add(self.max_waiting) {
                return Err(CoreError::Busy);
            }
            gate
        };
        let permit = gate
            .acquire_owned()
            .await
            .map_err(|_| CoreError::Internal("a gate of in-flight checks was closed".into()))?;
        Ok(Slot {
            owner: self.clone(),
            key: key.to_string(),
            permit: Some(permit),
        })
    }

    /// Checks running now for `key`.
    pub fn running(&self, key: &str) -> usize {
        self.lock()
            .get(key)
            .map_or(0, |gate| self.limit - gate.available_permits())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Semaphore>>> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut gates = self.owner.lock();
        // Nobody holds or waits for this address any more: forget it.
        if gates
            .get(&self.key)
            .is_some_and(|gate| Arc::strong_count(gate) == 1)
        {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::InFlight;

    #[tokio::test]
    async fn places_are_limited_per_key_and_freed_on_drop() {
        let limiter = InFlight::new(2);
        let a = limiter.enter("10.0.0.1").await.unwrap();
        let b = limiter.enter("10.0.0.1").await.unwrap();
        assert_eq!(limiter.running("10.0.0.1"), 2);
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.enter("10.0.0.1"));
        assert!(third.await.is_err(), "a third waits");
        let _other = limiter.enter("10.0.0.2").await.unwrap();
        drop(a);
        let c = tokio::time::timeout(Duration::from_millis(50), limiter.enter("10.0.0.1"))
            .await
            .expect("a place was freed")
            .unwrap();
        drop((b, c));
        assert_eq!(limiter.running("10.0.0.1"), 0);
        assert!(
            !limiter.lock().contains_key("10.0.0.1"),
            "no entry left behind"
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let limiter = InFlight::with_queue(1, 2);
        let running = limiter.enter("ann@clinic.org").await.unwrap();
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.enter("ann@clinic.org").await.map(drop) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(
            limiter.enter("ann@clinic.org").await,
            Err(crate::CoreError::Busy)
        ));
        assert!(limiter.enter("bob@clinic.org").await.is_ok(), "per key");
        drop(running);
        for w in waiting {
            assert!(w.await.unwrap().is_ok(), "the queued ones get their turn");
        }
        assert!(limiter.enter("ann@clinic.org").await.is_ok());
    }
}
