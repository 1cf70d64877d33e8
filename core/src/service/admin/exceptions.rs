//! Temporary exceptions: a nurse whose phone died keeps working. Until its end (at most
//! 14 days) the person signs in with the password alone although two-step authentication
//! is required, and sees a banner saying so. It ends by itself — the policy stops counting
//! it at its end, and [`Tessera::end_expired_exceptions`] records that in the audit trail
//! — or early from the console. Never for an admin while admins must use a passkey, never
//! granted to oneself.

use uuid::Uuid;

use super::actions::on;
use super::may_act_on;
use crate::accounts::{self, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::clock::format_utc;
use crate::mail;
use crate::policy::{DAY_SECS, MAX_EXCEPTION_DAYS};
use crate::service::notices::notice;
use crate::service::{Caller, ClientInfo};
use crate::{CoreError, CoreResult, Tessera, UnixTime};

/// A live exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub until: UnixTime,
    pub reason: String,
    pub granted_by: String,
    pub granted_at: UnixTime,
}

/// The live exception of `user`, if any.
pub async fn live(
    conn: &mut sqlx::AnyConnection,
    user: Uuid,
    now: UnixTime,
) -> CoreResult<Option<Exception>> {
    let row = sqlx::query_as::<_, (i64, String, String, i64)>(
        "SELECT e.until, e.reason, COALESCE(u.email, e.granted_by), e.granted_at \
         FROM two_step_exceptions e LEFT JOIN users u ON u.id = e.granted_by \
         WHERE e.user_id = $1 AND e.until > $2",
    )
    .bind(user.to_string())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map(|(until, reason, granted_by, granted_at)| Exception {
            until,
            reason,
            granted_by,
            granted_at,
        }),
    )
}

impl Tessera {
    /// Grants `target` an exception through the day `last_day` (midnight UTC of a date,
    /// today to 14 days from today), for `reason`. Replaces a live one (the audit trail
    /// keeps both). Returns when it ends.
    pub async fn grant_exception(
        &self,
        actor: &Caller,
        target: Uuid,
        last_day: UnixTime,
        reason_text: &str,
        client: &ClientInfo,
    ) -> CoreResult<UnixTime> {
        self.require_step_up(actor)?;
        let reason = super::actions::reason(reason_text)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let policy = &actor.organisation.policy;
        if !policy.required {
            return Err(CoreError::invalid(
                "exception",
                "Two-step authentication is not required, so there is nothing to make an exception from.",
            ));
        }
        if !policy.exceptions_apply_to(user.role) {
            return Err(CoreError::invalid(
                "exception",
                "Admins must use a passkey, so an exception cannot apply to an admin.",
            ));
        }
        let now = self.now();
        let today = now - now.rem_euclid(DAY_SECS);
        // Through the last day, so at most 14 days counting today.
        let latest = today + (MAX_EXCEPTION_DAYS - 1) * DAY_SECS;
        if last_day < today || last_day > latest {
            return Err(CoreError::invalid(
                "until",
                format!(
                    "Pick a last day from today to {}: an exception lasts at most {MAX_EXCEPTION_DAYS} days.",
                    super::settings::format_day(latest)
                ),
            ));
        }
        let until = last_day + DAY_SECS;
        if !user.active {
            return Err(CoreError::invalid(
                "exception",
                "This account is disabled. Enable it first.",
            ));
        }
        let mut tx = self.db.write().await?;
        sqlx::query(
            "INSERT INTO two_step_exceptions (user_id, until, reason, granted_by, granted_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET until = $2, reason = $3, granted_by = $4, \
             granted_at = $5",
        )
        .bind(user.id.to_string())
        .bind(until)
        .bind(&reason)
        .bind(actor.user.id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            on(AuditKind::ExceptionGranted, actor, &user, client)
                .detail(format!("until {}: {reason}", format_utc(until))),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &notice(
                &user,
                "You may sign in to Tessera without your second step for a while",
                &format!(
                    "{} granted you a temporary exception: through {} (until {}) you sign in with your password alone. \
                     Set up two-step authentication again before then (in your profile).",
                    actor.user.display_name,
                    super::settings::format_day(until - 1),
                    format_utc(until)
                ),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(until)
    }

    /// Ends `target`'s exception now. Returns whether there was one.
    pub async fn end_exception(
        &self,
        actor: &Caller,
        target: Uuid,
        client: &ClientInfo,
    ) -> CoreResult<bool> {
        self.require_step_up(actor)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ended = take_exception(&mut tx, &user).await?;
        let Some(until) = ended else {
            return Ok(false);
        };
        // Their sessions go: the next sign-in follows the policy. (Before the audit record,
        // whose chain lock is always the last a transaction takes.)
        crate::session::delete_all_for_user(&mut tx, user.id, None).await?;
        audit::record(
            &mut tx,
            on(AuditKind::ExceptionEnded, actor, &user, client).detail(format!(
                "ended early from the console (was until {})",
                format_utc(until)
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the end of every exception whose time is up (the policy already stopped
    /// counting them). Each ends by one conditional delete, so two instances running this
    /// record each end once. Returns how many ended.
    pub async fn end_expired_exceptions(&self) -> CoreResult<u64> {
        let now = self.now();
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM two_step_exceptions WHERE until <= $1 LIMIT 1000",
        )
        .bind(now)
        .fetch_all(self.db.pool())
        .await?;
        let mut ended = 0;
        for id in due {
            let Ok(id) = Uuid::parse_str(&id) else {
                continue;
            };
            let mut tx = self.db.write().await?;
            let Some(user) = accounts::user_by_id(&mut tx, id).await? else {
                continue;
            };
            let result =
                sqlx::query("DELETE FROM two_step_exceptions WHERE user_id = $1 AND until <= $2")
                    .bind(id.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            if crate::db::changed_one(&result) {
                audit::record(
                    &mut tx,
                    AuditEvent::new(AuditKind::ExceptionEnded)
                        .subject(Some(user.id), user.email.as_str())
                        .detail("ended by itself: its time was up"),
                    now,
                )
                .await?;
                ended += 1;
            }
            tx.commit().await?;
        }
        Ok(ended)
    }
}

/// Deletes `user`'s exception, in one statement; returns its end if there was one.
async fn take_exception(tx: &mut crate::db::Tx, user: &User) -> CoreResult<Option<UnixTime>> {
    Ok(
        sqlx::query_scalar("DELETE FROM two_step_exceptions WHERE user_id = $1 RETURNING until")
            .bind(user.id.to_string())
            .fetch_optional(&mut **tx)
            .await?,
    )
}
