//! Throttling of failed attempts, kept in the database so it survives restarts and is
//! shared by every instance.
//!
//! Each (scope, key) — the account's email for passwords, the client address, the user
//! for second factors — has a failure count and the time of the last failure. A few
//! failures are free; then each attempt must wait a doubling delay; at `lock_after`
//! failures the key is locked for a while, longer with every further failure. Whether a
//! key is locked is derived from the count and the time, so there is no second piece of
//! state to disagree with it.
//!
//! Per account, an attempt is counted *before* it is checked (and forgiven if it
//! succeeds), with a compare-and-set, so a burst of parallel guesses gets no more tries
//! than the limit. Per address, failures are counted after the fact (see [`check`]).

use sqlx::{AnyConnection, Row};

use crate::{CoreError, CoreResult, UnixTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub free_failures: i64,
    /// First delay, doubled for each further failure, capped at `max_delay_secs`.
    pub base_delay_secs: i64,
    pub max_delay_secs: i64,
    /// Failures at which the key locks.
    pub lock_after: i64,
    /// First lock; doubled for each failure past `lock_after`, capped at a day.
    pub lock_secs: i64,
    /// A key with no failure for this long starts again from zero.
    pub forget_after_secs: i64,
}

impl ThrottlePolicy {
    /// Per account: 3 free tries, then 1, 2, 4 … s, locked for 15 min at the 10th failure.
    pub const ACCOUNT: ThrottlePolicy = ThrottlePolicy {
        free_failures: 3,
        base_delay_secs: 1,
        max_delay_secs: 30,
        lock_after: 10,
        lock_secs: 15 * 60,
        forget_after_secs: 24 * 60 * 60,
    };

    /// Per client address: generous (a clinic shares one address), still far below the
    /// 1,000 guesses of a spray across accounts.
    pub const ADDRESS: ThrottlePolicy = ThrottlePolicy {
        free_failures: 20,
        base_delay_secs: 1,
        max_delay_secs: 30,
        lock_after: 50,
        lock_secs: 15 * 60,
        forget_after_secs: 60 * 60,
    };

    /// When the next attempt may be made after `failures` failures, the last at `last`.
    /// `None`: now.
    pub fn next_allowed(&self, failures: i64, last: UnixTime) -> Option<Wait> {
        if failures <= self.free_failures {
            return None;
        }
        if failures >= self.lock_after {
            let doublings = (failures - self.lock_after).min(6) as u32;
            let secs = (self.lock_secs << doublings).min(24 * 60 * 60);
            return Some(Wait {
                until: last + secs,
                locked: true,
            });
        }
        let doublings = (failures - self.free_failures - 1).min(20) as u32;
        let secs = (self.base_delay_secs << doublings).min(self.max_delay_secs);
        Some(Wait {
            until: last + secs,
            locked: false,
        })
    }

    /// The failure count that still matters at `now` (old failures are forgotten).
    pub fn effective_failures(&self, failures: i64, last: UnixTime, now: UnixTime) -> i64 {
        if now - last >= self.forget_after_secs {
            0
        } else {
            failures
        }
    }

    /// Refuses an attempt at `now`, or allows it.
    pub fn check(&self, failures: i64, last: UnixTime, now: UnixTime) -> Result<(), Wait> {
        let failures = self.effective_failures(failures, last, now);
        match self.next_allowed(failures, last) {
            Some(wait) if now < wait.until => Err(wait),
            _ => Ok(()),
        }
    }
}

/// How long an attempt must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub until: UnixTime,
    pub locked: bool,
}

impl From<Wait> for CoreError {
    fn from(w: Wait) -> Self {
        CoreError::Throttled {
            retry_at: w.until,
            locked: w.locked,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    PasswordAccount,
    PasswordAddress,
    SecondFactorAccount,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PasswordAccount => "password_account",
            Scope::PasswordAddress => "password_address",
            Scope::SecondFactorAccount => "second_factor_account",
        }
    }

    pub fn policy(self) -> ThrottlePolicy {
        match self {
            Scope::PasswordAccount | Scope::SecondFactorAccount => ThrottlePolicy::ACCOUNT,
            Scope::PasswordAddress => ThrottlePolicy::ADDRESS,
        }
    }
}

/// Counts an attempt against `key` before it is checked. Returns the failure count the
/// attempt was counted as (so the caller can tell when it was the one that locked), or
/// `Throttled` without counting anything.
pub async fn begin_attempt(
    conn: &mut AnyConnection,
    scope: Scope,
    key: &str,
    now: UnixTime,
) -> CoreResult<i64> {
    let policy = scope.policy();
    for _ in 0..20 {
        let row = sqlx::query(
            "SELECT failures, last_failure_at FROM throttle WHERE scope = $1 AND key = $2",
        )
        .bind(scope.as_str())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            let inserted = sqlx::query(
                "INSERT INTO throttle (scope, key, failures, last_failure_at) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(scope.as_str())
            .bind(key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(1);
            }
            continue;
        };
        let failures: i64 = row.try_get("failures")?;
        let last: UnixTime = row.try_get("last_failure_at")?;
        policy.check(failures, last, now)?;
        let counted = policy.effective_failures(failures, last, now) + 1;
        let swapped = sqlx::query(
            "UPDATE throttle SET failures = $1, last_failure_at = $2 \
             WHERE scope = $3 AND key = $4 AND failures = $5 AND last_failure_at = $6",
        )
        .bind(counted)
        .bind(now)
        .bind(scope.as_str())
        .bind(key)
        .bind(failures)
        .bind(last)
        .execute(&mut *conn)
        .await?;
        if swapped.rows_affected() == 1 {
            return Ok(counted);
        }
    }
    Err(CoreError::Unavailable(
        "throttle counter is too contended".into(),
    ))
}

/// Refuses if `key` must wait, without counting anything. For the per-address scope,
/// where counting every attempt up front would throttle a clinic whose staff all sign in
/// at 8 o'clock from one address; failures are counted after the fact instead.
pub async fn check(
    conn: &mut AnyConnection,
    scope: Scope,
    key: &str,
    now: UnixTime,
) -> CoreResult<()> {
    match current_wait(conn, scope, key, now).await? {
        Some(wait) => Err(wait.into()),
        None => Ok(()),
    }
}

/// Counts one failure against `key` (one atomic upsert; old failures are forgotten).
pub async fn record_failure(
    conn: &mut AnyConnection,
    scope: Scope,
    key: &str,
    now: UnixTime,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO throttle (scope, key, failures, last_failure_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (scope, key) DO UPDATE SET \
           failures = CASE WHEN $3 - throttle.last_failure_at >= $4 THEN 1 ELSE throttle.failures + 1 END, \
           last_failure_at = $3",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(now)
    .bind(scope.policy().forget_after_secs)
    .execute(conn)
    .await?;
    Ok(())
}

/// The attempt succeeded: forget the key's failures.
pub async fn clear(conn: &mut AnyConnection, scope: Scope, key: &str) -> CoreResult<()> {
    sqlx::query("DELETE FROM throttle WHERE scope = $1 AND key = $2")
        .bind(scope.as_str())
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The current wait on a key, if any (for showing, not for deciding).
pub async fn current_wait(
    conn: &mut AnyConnection,
    scope: Scope,
    key: &str,
    now: UnixTime,
) -> CoreResult<Option<Wait>> {
    let row =
        sqlx::query("SELECT failures, last_failure_at FROM throttle WHERE scope = $1 AND key = $2")
            .bind(scope.as_str())
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(match row {
        Some(row) => {
            let policy = scope.policy();
            policy
                .check(
                    row.try_get("failures")?,
                    row.try_get("last_failure_at")?,
                    now,
                )
                .err()
        }
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: ThrottlePolicy = ThrottlePolicy::ACCOUNT;

    /// Plays `n` failures, each as early as the policy allows, from time 0.
    fn fail_n_times(policy: ThrottlePolicy, n: i64) -> (i64, UnixTime) {
        let (mut failures, mut last, mut now) = (0, 0, 0);
        for _ in 0..n {
            if let Err(wait) = policy.check(failures, last, now) {
                now = wait.until;
            }
            assert!(policy.check(failures, last, now).is_ok());
            failures += 1;
            last = now;
        }
        (failures, last)
    }

    #[test]
    fn first_failures_are_free() {
        let (f, last) = fail_n_times(P, 3);
        assert_eq!(P.check(f, last, last), Ok(()));
    }

    #[test]
    fn delays_grow() {
        let waits: Vec<i64> = (4..10)
            .map(|n| {
                let (f, last) = fail_n_times(P, n);
                P.check(f, last, last).unwrap_err().until - last
            })
            .collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30]);
    }

    #[test]
    fn tenth_failure_locks_for_fifteen_minutes_and_then_longer() {
        let (f, last) = fail_n_times(P, 10);
        let wait = P.check(f, last, last + 1).unwrap_err();
        assert!(wait.locked);
        assert_eq!(wait.until, last + 15 * 60);
        assert!(P.check(f, last, last + 15 * 60 - 1).is_err());
        assert!(P.check(f, last, last + 15 * 60).is_ok());
        let (f, last) = fail_n_times(P, 11);
        assert_eq!(P.check(f, last, last).unwrap_err().until, last + 30 * 60);
    }

    #[test]
    fn a_day_without_failures_forgets_them() {
        let (f, last) = fail_n_times(P, 12);
        assert_eq!(P.effective_failures(f, last, last + 24 * 60 * 60 - 1), 12);
        assert_eq!(P.effective_failures(f, last, last + 24 * 60 * 60), 0);
        assert!(P.check(f, last, last + 24 * 60 * 60).is_ok());
    }

    #[test]
    fn tries_before_a_lock_are_far_below_one_hundred() {
        // Attempts possible in the first hour, as fast as the policy allows.
        let (mut failures, mut last, mut now, mut tries) = (0, 0, 0, 0);
        while now < 3600 {
            match P.check(failures, last, now) {
                Ok(()) => {
                    tries += 1;
                    failures += 1;
                    last = now;
                }
                Err(w) => now = w.until,
            }
        }
        assert!(tries <= 13, "{tries} tries in an hour");
        let (mut failures, mut last, mut now, mut tries) = (0, 0, 0, 0);
        while now < 3600 {
            match ThrottlePolicy::ADDRESS.check(failures, last, now) {
                Ok(()) => {
                    tries += 1;
                    failures += 1;
                    last = now;
                }
                Err(w) => now = w.until,
            }
        }
        assert!(tries < 100, "{tries} tries in an hour from one address");
    }
}
