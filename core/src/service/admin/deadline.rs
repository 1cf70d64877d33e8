//! The deadline's reminders, sent by themselves: when the deadline is set, 7 days before it
//! and 1 day before it, to everyone the policy counts as not set up (and not under an
//! exception). Each (person, deadline, stage) is a row taken by the insert that sends its
//! mail, so a person gets each reminder once for one deadline date even when two
//! instances run the job; moving the deadline to another date schedules a new set. When a
//! stage is missed (the deadline was set 5 days out), the latest due one is sent.

use sqlx::Row as _;
use uuid::Uuid;

use super::settings::format_day;
use crate::audit::{self, AuditEvent, AuditKind};
use crate::mail::{self, Mail};
use crate::policy::{self, Policy, DAY_SECS};
use crate::{CoreResult, Tessera, UnixTime};

/// People read and reminded per transaction.
const BATCH: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Start,
    Week,
    Day,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Start => "start",
            Stage::Week => "week",
            Stage::Day => "day",
        }
    }
}

/// The reminder due at `now` for the policy's deadline, if any.
pub fn due(policy: &Policy, now: UnixTime) -> Option<(UnixTime, Stage)> {
    let deadline = policy.deadline.filter(|d| policy.required && now < *d)?;
    let stage = if now >= deadline - DAY_SECS {
        Stage::Day
    } else if now >= deadline - 7 * DAY_SECS {
        Stage::Week
    } else if now >= policy.deadline_set_at.unwrap_or(now) {
        Stage::Start
    } else {
        return None;
    };
    Some((deadline, stage))
}

fn reminder(
    to: &str,
    name: &str,
    organisation: &str,
    deadline: UnixTime,
    now: UnixTime,
    origin: &str,
) -> Mail {
    let days = ((deadline - now) + DAY_SECS - 1) / DAY_SECS;
    let left = if days <= 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    };
    Mail {
        to: to.to_string(),
        subject: format!(
            "Set up two-step authentication before {}",
            format_day(deadline)
        ),
        body: format!(
            "Hello {name},\n\n{organisation} requires two-step authentication for Tessera. You \
             have {left} left to set it up: from {day} you will not be able to use anything \
             else until you do.\n\nSign in at {origin}/ and choose \"Set up now\"; it takes a \
             minute with a passkey (Touch ID, Face ID, Windows Hello or a security key) or an \
             authenticator app.\n",
            day = format_day(deadline)
        ),
    }
}

impl Tessera {
    /// What is due by the clock, for a background task to call every so often: recording
    /// exceptions that ended by themselves, sending the deadline's reminders. Returns how
    /// many of each.
    pub async fn housekeeping(&self) -> CoreResult<(u64, u64)> {
        let ended = self.end_expired_exceptions().await?;
        let reminded = self.send_deadline_reminders().await?;
        self.end_expired_sessions().await?;
        self.prune_app_tokens().await?;
        self.prune_gate_tokens().await?;
        // Once a day each: the coverage counts for the report's chart, the audit chain's
        // head to the admins.
        if self.organisation().await?.is_some() {
            self.snapshot_coverage().await?;
            self.mail_audit_head().await?;
        }
        Ok((ended, reminded))
    }

    /// Sends the deadline reminders now due. Returns how many went to the outbox.
    pub async fn send_deadline_reminders(&self) -> CoreResult<u64> {
        let now = self.now();
        let Some(organisation) = self.organisation().await? else {
            return Ok(0);
        };
        let Some((deadline, stage)) = due(&organisation.policy, now) else {
            return Ok(0);
        };
        let query = format!(
            "SELECT id, email, display_name FROM users WHERE {unsatisfied} AND NOT {excused} \
             AND NOT (created_at > $5 AND $6 > 0 AND COALESCE(first_sign_in_at, $1) + $6 > $2) \
             AND NOT EXISTS (SELECT 1 FROM deadline_reminders r WHERE r.user_id = users.id \
                             AND r.deadline = $2 AND r.stage = $3) \
             ORDER BY id LIMIT $4",
            unsatisfied = policy::unsatisfied_sql(&organisation.policy),
            excused = policy::excused_sql(&organisation.policy, "$1"),
        );
        // Newcomers whose own enrolment period ends after the deadline are not told it.
        let mut sent = 0;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(query.clone()))
                .bind(now)
                .bind(deadline)
                .bind(stage.as_str())
                .bind(BATCH)
                .bind(organisation.policy.required_since.unwrap_or(i64::MAX))
                .bind(organisation.policy.enrolment_days * DAY_SECS)
                .fetch_all(self.db.pool())
                .await?;
            if rows.is_empty() {
                break;
            }
            let mut tx = self.db.write().await?;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let email: String = row.try_get("email")?;
                let name: String = row.try_get("display_name")?;
                let taken = sqlx::query(
                    "INSERT INTO deadline_reminders (user_id, deadline, stage, sent_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&id)
                .bind(deadline)
                .bind(stage.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if !crate::db::changed_one(&taken) {
                    continue;
                }
                mail::enqueue_bulk(
                    &mut tx,
                    &reminder(
                        &email,
                        &name,
                        &organisation.name,
                        deadline,
                        now,
                        &self.public_origin,
                    ),
                    now,
                )
                .await?;
                audit::record(
                    &mut tx,
                    AuditEvent::new(AuditKind::DeadlineReminderSent)
                        .subject(Uuid::parse_str(&id).ok(), &email)
                        .detail(format!(
                            "deadline {} ({} reminder)",
                            super::format_date(deadline),
                            stage.as_str()
                        )),
                    now,
                )
                .await?;
                sent += 1;
            }
            tx.commit().await?;
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_due_stage_is_sent_and_none_after_the_deadline() {
        let set = 1_800_000_000;
        let policy = Policy {
            required: true,
            required_since: Some(set),
            deadline: Some(set + 14 * DAY_SECS),
            deadline_set_at: Some(set),
            ..Policy::default()
        };
        let d = set + 14 * DAY_SECS;
        assert_eq!(due(&policy, set), Some((d, Stage::Start)));
        assert_eq!(due(&policy, d - 7 * DAY_SECS - 1), Some((d, Stage::Start)));
        assert_eq!(due(&policy, d - 7 * DAY_SECS), Some((d, Stage::Week)));
        assert_eq!(due(&policy, d - DAY_SECS), Some((d, Stage::Day)));
        assert_eq!(due(&policy, d), None);
        let off = Policy {
            required: false,
            ..policy.clone()
        };
        assert_eq!(due(&off, set), None);
        // Set five days out: the week's reminder is the first one due.
        let close = Policy {
            deadline: Some(set + 5 * DAY_SECS),
            ..policy
        };
        assert_eq!(due(&close, set), Some((set + 5 * DAY_SECS, Stage::Week)));
    }
}
