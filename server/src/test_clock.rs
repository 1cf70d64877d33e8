//! A clock the browser tests can move: the real time plus an offset set over HTTP
//! (`POST /__test__/clock {"offset_secs": N}`), so a test can pass a deadline or let an
//! exception end. Compiled only with the `test-clock` feature, which only the browser
//! tests' build turns on — and never into a release: a release build with it fails to
//! compile.

#[cfg(not(debug_assertions))]
compile_error!(
    "the `test-clock` feature is for the browser tests' debug build only, never a release"
);

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Json;
use tessera_core::{Clock, SystemClock, UnixTime};

/// The real time, moved by an offset.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset: AtomicI64,
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixTime {
        SystemClock.now() + self.offset.load(Ordering::SeqCst)
    }
}

static CLOCK: OnceLock<Arc<OffsetClock>> = OnceLock::new();

/// The process's one test clock.
pub fn clock() -> Arc<OffsetClock> {
    CLOCK.get_or_init(Default::default).clone()
}

#[derive(serde::Deserialize)]
pub struct SetOffset {
    offset_secs: i64,
}

/// Sets the offset (0 puts the clock back to the real time); answers the time it is now.
pub async fn set_offset(Json(body): Json<SetOffset>) -> Json<serde_json::Value> {
    let clock = clock();
    let offset = body.offset_secs.clamp(0, 400 * 24 * 60 * 60);
    clock.offset.store(offset, Ordering::SeqCst);
    tracing::warn!(offset, "the test clock was moved");
    Json(serde_json::json!({ "now": clock.now(), "offset_secs": offset }))
}
