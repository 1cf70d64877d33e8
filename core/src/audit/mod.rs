//! The audit trail: append-only evidence of every security event.
//!
//! Records are written in the same transaction as the change they describe, so there is
//! never a change without its record or a record of a change that did not happen. The
//! table refuses UPDATE and DELETE (triggers in the migration), and every record is sealed
//! into a MAC chain ([`chain`]) keyed from the server key, so someone who can write to the
//! database but does not hold the key cannot change, remove or reorder records unseen. No
//! password, code or token is ever put in a record.

pub mod chain;
pub mod trail;

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::db::Tx;
use crate::{CoreResult, UnixTime};

/// Declares the kinds once: the enum, its stored codes (exhaustively), and the table of
/// names and groups the audit page shows.
macro_rules! audit_kinds {
    ($($(#[$doc:meta])* $kind:ident = $code:literal, $label:literal, $group:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AuditKind {
            $($(#[$doc])* $kind,)*
        }

        /// Every kind: its stored code, its name in plain words, and its group (the audit
        /// page's filter).
        pub const KINDS: &[(AuditKind, &str, &str, &str)] =
            &[$((AuditKind::$kind, $code, $label, $group),)*];

        impl AuditKind {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$kind => $code,)*
                }
            }
        }
    };
}

audit_kinds! {
    OrganisationCreated = "organisation_created", "Organisation created", "Settings";
    UserCreated = "user_created", "User created", "People";
    SignInSucceeded = "sign_in_succeeded", "Signed in", "Sign-in";
    SignInFailed = "sign_in_failed", "Sign-in failed", "Sign-in";
    SignInThrottled = "sign_in_throttled", "Sign-in refused: too many attempts", "Sign-in";
    AccountLocked = "account_locked", "Account locked", "Sign-in";
    SignedOut = "signed_out", "Signed out", "Sign-in";
    PasswordChanged = "password_changed", "Password changed", "Account";
    PasswordSetByOperator = "password_set_by_operator", "Password set by the operator", "Account";
    AuthenticatorAdded = "authenticator_added", "Authenticator app added", "Two-step methods";
    SecondFactorSucceeded = "second_factor_succeeded", "Second step passed", "Sign-in";
    SecondFactorFailed = "second_factor_failed", "Second step failed", "Sign-in";
    BackupCodeUsed = "backup_code_used", "Backup code used", "Sign-in";
    BackupCodesRegenerated = "backup_codes_regenerated", "New backup codes", "Two-step methods";
    TwoFactorDisabled = "two_factor_disabled", "Two-step authentication turned off", "Two-step methods";
    AuthenticatorRemoved = "authenticator_removed", "Authenticator app removed", "Two-step methods";
    PasskeyAdded = "passkey_added", "Passkey added", "Two-step methods";
    PasskeyRenamed = "passkey_renamed", "Passkey renamed", "Two-step methods";
    PasskeyRemoved = "passkey_removed", "Passkey removed", "Two-step methods";
    /// A passkey signed with a counter that did not move forward: a copy may exist.
    PasskeyPossiblyCloned = "passkey_possibly_cloned", "Passkey possibly copied", "Two-step methods";
    /// The organisation's "require two-step authentication" setting changed.
    TwoFactorPolicyChanged = "two_factor_policy_changed", "Requirement switched", "Settings";
    /// Someone proved themselves again (password and second factor) before console changes.
    SteppedUp = "stepped_up", "Proved themselves again (step-up)", "Console";
    /// An admin or helpdesk member reset a user's two-step authentication (with a reason).
    TwoFactorReset = "two_factor_reset", "Two-step reset by admin", "Console";
    /// A reset user gave the setup code and may enrol again.
    SetupCodeUsed = "setup_code_used", "Setup code used", "Two-step methods";
    UserDisabled = "user_disabled", "Account disabled", "People";
    UserEnabled = "user_enabled", "Account enabled", "People";
    RoleChanged = "role_changed", "Role changed", "People";
    /// A lock from failed attempts was lifted from the console.
    UserUnlocked = "user_unlocked", "Account unlocked", "Console";
    /// A user's sessions were ended from the console.
    SessionsEnded = "sessions_ended", "Sessions ended by admin", "Console";
    /// A reminder to set up two-step authentication was sent.
    ReminderSent = "reminder_sent", "Reminder sent", "Console";
    /// The users list was downloaded (which view, how many rows).
    UsersExported = "users_exported", "Users list exported", "Console";
    UserInvited = "user_invited", "User invited", "People";
    InvitationResent = "invitation_resent", "Invitation sent again", "People";
    InvitationAccepted = "invitation_accepted", "Invitation accepted", "People";
    UsersImported = "users_imported", "Users imported", "People";
    PasswordResetSent = "password_reset_sent", "Password-reset link sent", "Account";
    UserRenamed = "user_renamed", "Name changed", "People";
    EmailChangeRequested = "email_change_requested", "New email address requested", "People";
    EmailChanged = "email_changed", "Email address changed", "People";
    SessionLimitsChanged = "session_limits_changed", "Session limits changed", "Settings";
    /// A full session was sent to the setup wizard: the policy no longer lets it in.
    SentToSetup = "sent_to_setup", "Sent to the setup wizard", "Sign-in";
    /// A setting of the two-step policy changed (deadline, methods, enrolment period …).
    PolicyChanged = "policy_changed", "Two-step policy changed", "Settings";
    ExceptionGranted = "exception_granted", "Temporary exception granted", "Console";
    /// An exception ended: early from the console, or by itself when its time was up.
    ExceptionEnded = "exception_ended", "Temporary exception ended", "Console";
    /// A reminder of the organisation's deadline was sent.
    DeadlineReminderSent = "deadline_reminder_sent", "Deadline reminder sent", "Console";
    /// The audit trail (a view of it) was downloaded.
    AuditExported = "audit_exported", "Audit trail exported", "Console";
    /// The operator restored the database from a backup (every session ended).
    DatabaseRestored = "database_restored", "Restored from a backup", "Settings";
    AppRegistered = "app_registered", "App registered", "Apps";
    /// An app's secret replaced, or the app switched off or on.
    AppChanged = "app_changed", "App changed", "Apps";
    AppRemoved = "app_removed", "App removed", "Apps";
    /// An app received tokens for a sign-in (the code redeemed), or renewed them.
    AppSignIn = "app_sign_in", "Signed in to an app", "Apps";
    AppTokensRenewed = "app_tokens_renewed", "App tokens renewed", "Apps";
    /// An app's sign-in was refused: the role, the two-step rule, the redirect address.
    AppRefused = "app_refused", "App sign-in refused", "Apps";
    /// What an app was given was revoked: a code or refresh token came back a second time.
    AppTokensRevoked = "app_tokens_revoked", "App tokens revoked", "Apps";
    /// An app's back-channel logout address did not take the notice, after every retry.
    AppLogoutFailed = "app_logout_failed", "App not told of a sign-out", "Apps";
    SigningKeysRotated = "signing_keys_rotated", "Signing keys rotated", "Settings";
}

/// The groups of [`KINDS`], in the order the audit page lists them.
pub const GROUPS: &[&str] = &[
    "Sign-in",
    "Two-step methods",
    "Account",
    "People",
    "Console",
    "Apps",
    "Settings",
];

/// A stored kind's name in plain words ("Signed in"); an unknown code as it is.
pub fn label(code: &str) -> &str {
    KINDS
        .iter()
        .find(|(_, c, ..)| *c == code)
        .map_or(code, |(_, _, label, _)| label)
}

/// The stored codes of the kinds in `group`.
pub fn codes_in(group: &str) -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|(.., g)| *g == group)
        .map(|(_, code, ..)| *code)
        .collect()
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

/// Appends `event` to the trail in `tx`, sealed into the chain: the chain's row is taken
/// first (the lock two writers queue on), then the record is written with its place and
/// its MAC over its fields and the previous MAC, then the head moves to it.
pub async fn record(tx: &mut Tx, event: AuditEvent<'_>, now: UnixTime) -> CoreResult<()> {
    let key = tx.audit_key().ok_or_else(|| {
        crate::CoreError::Internal("the audit trail's key was not given to the database".into())
    })?;
    let (seq, previous): (i64, String) =
        sqlx::query_as("UPDATE audit_chain SET seq = seq + 1 WHERE id = 1 RETURNING seq, head")
            .fetch_one(&mut **tx)
            .await?;
    let actor = event.actor.map(|u| u.to_string());
    let subject_id = event.subject_id.map(|u| u.to_string());
    let mac = chain::seal(
        &key,
        &previous,
        &chain::Fields {
            seq,
            at: now,
            kind: event.kind.as_str(),
            actor: actor.as_deref(),
            subject_id: subject_id.as_deref(),
            subject: event.subject,
            client_addr: event.client_addr,
            detail: &event.detail,
        },
    );
    sqlx::query(
        "INSERT INTO audit_log (at, kind, actor_id, subject_id, subject, client_addr, detail, seq, mac) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(now)
    .bind(event.kind.as_str())
    .bind(actor)
    .bind(subject_id)
    .bind(event.subject)
    .bind(event.client_addr)
    .bind(event.detail)
    .bind(seq)
    .bind(&mac)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_chain SET head = $1 WHERE id = 1")
        .bind(mac)
        .execute(&mut **tx)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_code_a_name_and_a_known_group() {
        let mut codes: Vec<&str> = KINDS.iter().map(|(_, code, ..)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), KINDS.len(), "codes are unique");
        for (kind, code, label, group) in KINDS {
            assert_eq!(kind.as_str(), *code);
            assert_eq!(super::label(code), *label);
            assert!(GROUPS.contains(group), "{group}");
        }
        assert_eq!(super::label("no_such_kind"), "no_such_kind");
    }
}
