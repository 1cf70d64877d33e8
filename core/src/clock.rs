//! Time as a parameter. Domain code never reads the wall clock itself: it asks the
//! [`Clock`] it was given, so tests can move time (idle timeouts, locks) without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch. Stored as a plain integer in every backend.
pub type UnixTime = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that stands still until told to move: the real time at creation plus an offset
/// the test controls.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        Self {
            now: AtomicI64::new(start),
        }
    }

    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, to: UnixTime) {
        self.now.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.now.load(Ordering::SeqCst)
    }
}

/// Formats a Unix time as `2026-11-23 20:02 UTC` for people (mail, CLI, pages).
pub fn format_utc(at: UnixTime) -> String {
    use time::{macros::format_description, OffsetDateTime};
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| at.to_string())
}
