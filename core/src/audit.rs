//! The audit trail: append-only evidence of every security event.
//!
//! Records are written in the same transaction as the change they describe, so there is
//! never a change without its record or a record of a change that did not happen. The
//! table refuses UPDATE and DELETE (triggers in the migration). No password, code or
//! token is ever put in a record.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::{CoreResult, UnixTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    OrganisationCreated,
    UserCreated,
    SignInSucceeded,
    SignInFailed,
    SignInThrottled,
    AccountLocked,
    SignedOut,
    PasswordChanged,
    PasswordSetByOperator,
    AuthenticatorAdded,
    SecondFactorSucceeded,
    SecondFactorFailed,
    BackupCodeUsed,
    BackupCodesRegenerated,
    TwoFactorDisabled,
    AuthenticatorRemoved,
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyRemoved,
    /// A passkey signed with a counter that did not move forward: a copy may exist.
    PasskeyPossiblyCloned,
    /// The organisation's "require two-step authentication" setting changed.
    TwoFactorPolicyChanged,
    /// Someone proved themselves again (password and second factor) before console changes.
    SteppedUp,
    /// An admin or helpdesk member reset a user's two-step authentication (with a reason).
    TwoFactorReset,
    /// A reset user gave the setup code and may enrol again.
    SetupCodeUsed,
    UserDisabled,
    UserEnabled,
    RoleChanged,
    /// A lock from failed attempts was lifted from the console.
    UserUnlocked,
    /// A user's sessions were ended from the console.
    SessionsEnded,
    /// A reminder to set up two-step authentication was sent.
    ReminderSent,
    /// The users list was downloaded (which view, how many rows).
    UsersExported,
    UserInvited,
    InvitationResent,
    InvitationAccepted,
    UsersImported,
    PasswordResetSent,
    UserRenamed,
    EmailChangeRequested,
    EmailChanged,
    SessionLimitsChanged,
    /// A full session was sent to the setup wizard: the policy no longer lets it in.
    SentToSetup,
    /// A setting of the two-step policy changed (deadline, methods, enrolment period …).
    PolicyChanged,
    ExceptionGranted,
    /// An exception ended: early from the console, or by itself when its time was up.
    ExceptionEnded,
    /// A reminder of the organisation's deadline was sent.
    DeadlineReminderSent,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::OrganisationCreated => "organisation_created",
            AuditKind::UserCreated => "user_created",
            AuditKind::SignInSucceeded => "sign_in_succeeded",
            AuditKind::SignInFailed => "sign_in_failed",
            AuditKind::SignInThrottled => "sign_in_throttled",
            AuditKind::AccountLocked => "account_locked",
            AuditKind::SignedOut => "signed_out",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::PasswordSetByOperator => "password_set_by_operator",
            AuditKind::AuthenticatorAdded => "authenticator_added",
            AuditKind::SecondFactorSucceeded => "second_factor_succeeded",
            AuditKind::SecondFactorFailed => "second_factor_failed",
            AuditKind::BackupCodeUsed => "backup_code_used",
            AuditKind::BackupCodesRegenerated => "backup_codes_regenerated",
            AuditKind::TwoFactorDisabled => "two_factor_disabled",
            AuditKind::AuthenticatorRemoved => "authenticator_removed",
            AuditKind::PasskeyAdded => "passkey_added",
            AuditKind::PasskeyRenamed => "passkey_renamed",
            AuditKind::PasskeyRemoved => "passkey_removed",
            AuditKind::PasskeyPossiblyCloned => "passkey_possibly_cloned",
            AuditKind::TwoFactorPolicyChanged => "two_factor_policy_changed",
            AuditKind::SteppedUp => "stepped_up",
            AuditKind::TwoFactorReset => "two_factor_reset",
            AuditKind::SetupCodeUsed => "setup_code_used",
            AuditKind::UserDisabled => "user_disabled",
            AuditKind::UserEnabled => "user_enabled",
            AuditKind::RoleChanged => "role_changed",
            AuditKind::UserUnlocked => "user_unlocked",
            AuditKind::SessionsEnded => "sessions_ended",
            AuditKind::ReminderSent => "reminder_sent",
            AuditKind::UsersExported => "users_exported",
            AuditKind::UserInvited => "user_invited",
            AuditKind::InvitationResent => "invitation_resent",
            AuditKind::InvitationAccepted => "invitation_accepted",
            AuditKind::UsersImported => "users_imported",
            AuditKind::PasswordResetSent => "password_reset_sent",
            AuditKind::UserRenamed => "user_renamed",
            AuditKind::EmailChangeRequested => "email_change_requested",
            AuditKind::EmailChanged => "email_changed",
            AuditKind::SessionLimitsChanged => "session_limits_changed",
            AuditKind::SentToSetup => "sent_to_setup",
            AuditKind::PolicyChanged => "policy_changed",
            AuditKind::ExceptionGranted => "exception_granted",
            AuditKind::ExceptionEnded => "exception_ended",
            AuditKind::DeadlineReminderSent => "deadline_reminder_sent",
        }
    }
}

/// One event. `subject` is the email as the user typed or as it was known at the time, so
/// failed sign-ins against unknown emails are recorded too.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub kind: AuditKind,
    pub actor: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub subject: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub detail: String,
}

impl<'a> AuditEvent<'a> {
    pub fn new(kind: AuditKind) -> Self {
        AuditEvent {
            kind,
            actor: None,
            subject_id: None,
            subject: None,
            client_addr: None,
            detail: String::new(),
        }
    }

    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor = Some(id);
        self
    }

    pub fn subject(mut self, id: Option<Uuid>, email: &'a str) -> Self {
        self.subject_id = id;
        self.subject = Some(email);
        self
    }

    pub fn from_addr(mut self, addr: &'a str) -> Self {
        self.client_addr = Some(addr);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

pub async fn record(
    conn: &mut AnyConnection,
    event: AuditEvent<'_>,
    now: UnixTime,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, kind, actor_id, subject_id, subject, client_addr, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now)
    .bind(event.kind.as_str())
    .bind(event.actor.map(|u| u.to_string()))
    .bind(event.subject_id.map(|u| u.to_string()))
    .bind(event.subject)
    .bind(event.client_addr)
    .bind(event.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored record, for listing.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: i64,
    pub at: UnixTime,
    pub kind: String,
    pub actor_id: Option<String>,
    pub subject_id: Option<String>,
    pub subject: Option<String>,
    pub client_addr: Option<String>,
    pub detail: String,
}

/// The newest `limit` records, newest first.
pub async fn recent(conn: &mut AnyConnection, limit: i64) -> CoreResult<Vec<AuditRecord>> {
    let rows = sqlx::query(
        "SELECT id, at, kind, actor_id, subject_id, subject, client_addr, detail \
         FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_from).collect()
}

/// The newest `limit` records about one user (as subject), newest first.
pub async fn about(
    conn: &mut AnyConnection,
    user: Uuid,
    limit: i64,
) -> CoreResult<Vec<AuditRecord>> {
    let rows = sqlx::query(
        "SELECT id, at, kind, actor_id, subject_id, subject, client_addr, detail \
         FROM audit_log WHERE subject_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(user.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_from).collect()
}

fn record_from(r: &sqlx::any::AnyRow) -> CoreResult<AuditRecord> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        actor_id: r.try_get("actor_id")?,
        subject_id: r.try_get("subject_id")?,
        subject: r.try_get("subject")?,
        client_addr: r.try_get("client_addr")?,
        detail: r.try_get("detail")?,
    })
}
