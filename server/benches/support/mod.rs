//! What the benchmarks share: a free port on 127.0.0.1, latency percentiles, and the raw
//! argon2 rate of this machine to set their numbers beside.

use std::time::{Duration, Instant};

use tessera_core::password::{HashCost, PasswordHasher};

#[path = "../../tests/common/net.rs"]
mod net;

pub use net::free_port;

/// The `p`th percentile (nearest rank) of sorted latencies.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Raw argon2id hashes per second at the production cost, `parallel` at once (the
/// server's own bound), over 4 seconds: the budget sign-in numbers are compared with.
#[allow(dead_code)] // not every benchmark compares with it
pub async fn raw_hash_rate(parallel: usize) -> f64 {
    let hasher = PasswordHasher::new(HashCost::standard(), parallel).unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs(4);
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let hasher = hasher.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while Instant::now() < until {
                hasher.hash("a benchmark passphrase").await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}
