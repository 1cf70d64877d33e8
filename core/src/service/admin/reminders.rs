//! Reminders to set up two-step authentication: to one person, to the selected ones, or to
//! everyone in a view of the users list. At most one per person per 24 hours, decided by
//! one conditional UPDATE per person, so two admins reminding at once send one mail. All
//! of them are written to the outbox in one transaction; the outbox sends them at its pace.

use uuid::Uuid;

use super::may_act_on;
use crate::accounts::{self, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::directory::View;
use crate::mail::{self, Mail};
use crate::service::{Caller, ClientInfo};
use crate::{CoreError, CoreResult, Tessera};

/// One reminder per person per this long.
pub const REMINDER_EVERY_SECS: i64 = 24 * 60 * 60;
/// At most this many people in one reminder request.
pub const MAX_REMINDED_AT_ONCE: usize = 100_000;
const MAX_NOTE_CHARS: usize = 500;

/// What a reminder request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemindOutcome {
    pub sent: u64,
    /// Reminded in the last 24 hours already.
    pub skipped_recent: u64,
    /// Nothing to remind them of (two-step on, disabled, no password yet), or not the
    /// caller's to remind (helpdesk and admins, or themselves).
    pub skipped_other: u64,
    /// Mail waiting in the outbox after this request.
    pub queued: i64,
}

fn note(input: Option<&str>) -> CoreResult<Option<String>> {
    let Some(note) = input.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CoreError::invalid(
            "note",
            format!("Keep your note to {MAX_NOTE_CHARS} characters of plain text."),
        ));
    }
    Ok(Some(note.to_string()))
}

impl Tessera {
    /// Reminds the people with these ids.
    pub async fn remind(
        &self,
        actor: &Caller,
        ids: &[Uuid],
        note_text: Option<&str>,
        client: &ClientInfo,
    ) -> CoreResult<RemindOutcome> {
        self.require_step_up(actor)?;
        let note = note(note_text)?;
        if ids.is_empty() {
            return Err(CoreError::invalid("users", "Choose whom to remind."));
        }
        if ids.len() > MAX_REMINDED_AT_ONCE {
            return Err(CoreError::invalid(
                "users",
                "That is more people than one reminder can reach.",
            ));
        }
        let mut users = Vec::with_capacity(ids.len());
        {
            let mut conn = self.db.pool().acquire().await?;
            for id in ids {
                if let Some(user) = accounts::user_by_id(&mut conn, *id).await? {
                    users.push(user);
                }
            }
        }
        if users.is_empty() {
            return Err(CoreError::NotFound);
        }
        self.send_reminders(actor, users, note, client).await
    }

    /// Reminds everyone in `view` (for instance everyone "Not set up").
    pub async fn remind_view(
        &self,
        actor: &Caller,
        view: &View,
        note_text: Option<&str>,
        client: &ClientInfo,
    ) -> CoreResult<RemindOutcome> {
        self.require_step_up(actor)?;
        let note = note(note_text)?;
        let mut ids = Vec::new();
        self.for_each_user(view, |row| {
            ids.push(row.id);
            Ok(())
        })
        .await?;
        let mut users = Vec::with_capacity(ids.len());
        {
            let mut conn = self.db.pool().acquire().await?;
            for id in ids.into_iter().take(MAX_REMINDED_AT_ONCE) {
                if let Some(user) = accounts::user_by_id(&mut conn, id).await? {
                    users.push(user);
                }
            }
        }
        self.send_reminders(actor, users, note, client).await
    }

    async fn send_reminders(
        &self,
        actor: &Caller,
        users: Vec<User>,
        note: Option<String>,
        client: &ClientInfo,
    ) -> CoreResult<RemindOutcome> {
        let now = self.now();
        let organisation = self
            .organisation()
            .await?
            .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
        let mut outcome = RemindOutcome::default();
        let mut reminded = Vec::new();
        let mut tx = self.db.write().await?;
        for user in &users {
            if may_act_on(actor, user).is_err() {
                outcome.skipped_other += 1;
                continue;
            }
            // Once a day, and only to someone who can act on it: this statement decides.
            let marked = sqlx::query(
                "UPDATE users SET last_reminded_at = $1 WHERE id = $2 AND last_reminded_at <= $3 \
                 AND active = 1 AND two_factor_enabled = 0 AND password_hash IS NOT NULL",
            )
            .bind(now)
            .bind(user.id.to_string())
            .bind(now - REMINDER_EVERY_SECS)
            .execute(&mut *tx)
            .await?;
            if !crate::db::changed_one(&marked) {
                let recent: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE id = $1 AND last_reminded_at > $2",
                )
                .bind(user.id.to_string())
                .bind(now - REMINDER_EVERY_SECS)
                .fetch_one(&mut *tx)
                .await?;
                if recent > 0 {
                    outcome.skipped_recent += 1;
                } else {
                    outcome.skipped_other += 1;
                }
                continue;
            }
            mail::enqueue_bulk(
                &mut tx,
                &reminder_mail(
                    user,
                    actor,
                    &organisation.name,
                    organisation.policy.required,
                    &self.public_origin,
                    note.as_deref(),
                ),
                now,
            )
            .await?;
            reminded.push(user);
            outcome.sent += 1;
        }
        // The audit records last: each takes the audit chain's lock until the commit, and
        // a user row locked after it could wait on a sign-in that waits on the chain.
        for user in reminded {
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::ReminderSent)
                    .actor(actor.user.id)
                    .subject(Some(user.id), user.email.as_str())
                    .from_addr(&client.addr)
                    .detail(if note.is_some() {
                        "reminder to set up two-step authentication, with a note"
                    } else {
                        "reminder to set up two-step authentication"
                    }),
                now,
            )
            .await?;
        }
        outcome.queued = mail::waiting(&mut tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

fn reminder_mail(
    user: &User,
    actor: &Caller,
    organisation: &str,
    required: bool,
    public_origin: &str,
    note: Option<&str>,
) -> Mail {
    let why = if required {
        format!("{organisation} requires two-step authentication for everyone who signs in to Tessera, to protect patient data.")
    } else {
        format!("{organisation} asks everyone who signs in to Tessera to turn on two-step authentication, to protect patient data.")
    };
    let note = note
        .map(|n| format!("\n\nA note from {}:\n{n}", actor.user.display_name))
        .unwrap_or_default();
    Mail {
        to: user.email.to_string(),
        subject: "Please set up two-step authentication for Tessera".into(),
        body: format!(
            "Hello {name},\n\n{why}\n\nWhat to do: sign in at {public_origin}/signin with your \
             email and password. {next} It takes a minute. You can use a passkey (Touch ID, \
             Face ID, Windows Hello or a security key) or an authenticator app on your phone \
             (Google Authenticator, Microsoft Authenticator, 1Password …).{note}\n\n\
             This reminder was sent by {actor}.\n",
            name = user.display_name,
            next = if required {
                "Tessera will take you through the setup."
            } else {
                "Then open \"Two-step authentication\" in your profile and add a method."
            },
            actor = actor.user.display_name,
        ),
    }
}
