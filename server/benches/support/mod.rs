//! What both benchmarks need: a free port on 127.0.0.1 and latency percentiles.

use std::time::Duration;

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
