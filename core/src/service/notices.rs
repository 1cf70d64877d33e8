//! What a user is told by mail, and the rule for reaching the lock. Every mail is written
//! into the outbox in the transaction of the change it reports.

use super::Tessera;
use crate::accounts::User;
use crate::audit::{self, AuditEvent, AuditKind};
use crate::mail::{self, Mail};
use crate::throttle::ThrottlePolicy;
use crate::{CoreResult, UnixTime};

impl Tessera {
    /// The tail of every change to a user's sign-in methods: its audit record and the
    /// mail that tells the user, in the change's transaction, then the commit.
    pub(super) async fn record_and_tell(
        &self,
        mut tx: crate::db::Tx,
        event: AuditEvent<'_>,
        user: &User,
        (subject, what): (&str, &str),
        now: UnixTime,
    ) -> CoreResult<()> {
        audit::record(&mut tx, event, now).await?;
        mail::enqueue(&mut tx, &notice(user, subject, what), now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The one "lock reached" rule, for failed passwords, step-ups and second steps alike:
/// when the failure counted as `counted` is the one that locks the account, an
/// `account_locked` record about the same person as `failure`, and a mail to `user` (when
/// the account exists and is active), in the failure's transaction.
pub(super) async fn lock_if_reached(
    tx: &mut crate::db::Tx,
    counted: i64,
    failures: &str,
    failure: &AuditEvent<'_>,
    user: Option<&User>,
    now: UnixTime,
) -> CoreResult<()> {
    if counted != ThrottlePolicy::ACCOUNT.lock_after {
        return Ok(());
    }
    let locked = AuditEvent {
        kind: AuditKind::AccountLocked,
        detail: format!("{counted} {failures}"),
        ..failure.clone()
    };
    audit::record(tx, locked, now).await?;
    crate::metrics::account_locked();
    if let Some(user) = user.filter(|u| u.active) {
        mail::enqueue(tx, &locked_mail(user, now), now).await?;
    }
    Ok(())
}

/// A short notice: "Hello …, <what>. If this was not you, …".
pub(super) fn notice(user: &User, subject: &str, what: &str) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: subject.to_string(),
        body: format!(
            "Hello {name},\n\n{what}\n\nIf this was not you, contact your administrator now.\n",
            name = user.display_name
        ),
    }
}

/// The sentence added when a change signed the user out of their other sessions.
pub(super) fn signed_out_note(sessions_ended: u64) -> &'static str {
    if sessions_ended > 0 {
        " Your account was signed out everywhere else."
    } else {
        ""
    }
}

pub(super) fn password_changed_mail(user: &User, at: UnixTime, from: &str) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: "Your Tessera password was changed".into(),
        body: format!(
            "Hello {name},\n\nThe password of your Tessera account ({email}) was changed on {when} \
             from {from}. Your other sessions were signed out.\n\nIf this was not you, contact \
             your administrator now: someone else may have access to your account.\n",
            name = user.display_name,
            email = user.email,
            when = crate::clock::format_utc(at),
        ),
    }
}

fn locked_mail(user: &User, at: UnixTime) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: "Sign-in to your Tessera account was paused".into(),
        body: format!(
            "Hello {name},\n\nThere were too many failed attempts to sign in to your Tessera \
             account ({email}); sign-in is paused for 15 minutes from {when}.\n\nIf this was \
             not you, someone may be guessing your password: tell your administrator.\n",
            name = user.display_name,
            email = user.email,
            when = crate::clock::format_utc(at),
        ),
    }
}

pub(super) fn password_known_mail(user: &User, at: UnixTime, from: &str) -> Mail {
    notice(
        user,
        "Someone may know your Tessera password",
        &format!(
            "Someone signed in to your account with the correct password on {} from {}, then \
             failed the second step several times. If this was not you, change your password now.",
            crate::clock::format_utc(at),
            from
        ),
    )
}
