//! What Tessera counts for the operator's Prometheus, through the `metrics` facade: a
//! no-op until the server installs a recorder (`TESSERA_METRICS_ADDR`). Every label value
//! comes from a short fixed list, never from request data, so no address, email or code
//! can reach a metric.

use std::time::Duration;

use crate::service::{SecondStepOutcome, SignInOutcome};
use crate::{CoreError, CoreResult};

/// `tessera_sign_ins_total{outcome}`: password steps by how they ended.
pub fn sign_in(result: &CoreResult<SignInOutcome>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => failure(e),
    };
    metrics::counter!("tessera_sign_ins_total", "outcome" => outcome).increment(1);
}

/// `tessera_second_steps_total{method, outcome}`: second steps by method and ending.
pub fn second_step(method: &'static str, result: &CoreResult<SecondStepOutcome>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => failure(e),
    };
    metrics::counter!("tessera_second_steps_total", "method" => method, "outcome" => outcome)
        .increment(1);
}

/// `tessera_account_locks_total`: accounts that reached the lock from failed attempts.
pub fn account_locked() {
    metrics::counter!("tessera_account_locks_total").increment(1);
}

/// `tessera_argon2_queue_wait_seconds`: how long a password check or hash waited for a
/// free hashing slot (the bound that keeps a storm of sign-ins from starving the CPU).
pub fn hash_queue_wait(waited: Duration) {
    metrics::histogram!("tessera_argon2_queue_wait_seconds").record(waited.as_secs_f64());
}

/// `tessera_mail_total{result}`: deliveries by whether they went.
pub fn mail(sent: bool) {
    let result = if sent { "sent" } else { "failed" };
    metrics::counter!("tessera_mail_total", "result" => result).increment(1);
}

fn failure(e: &CoreError) -> &'static str {
    match e {
        CoreError::InvalidCredentials | CoreError::Invalid { .. } => "refused",
        CoreError::Throttled { locked: true, .. } => "locked",
        CoreError::Throttled { .. } => "throttled",
        CoreError::Busy => "busy",
        CoreError::Unavailable(_) => "unavailable",
        CoreError::SessionEnded => "session_ended",
        _ => "error",
    }
}
