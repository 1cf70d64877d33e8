//! What admins (and, for staff accounts, helpdesk members) do to an account from the
//! console: reset its two-step authentication, unlock it, end its sessions, disable or
//! enable it, change its role. Each needs a fresh step-up, is one transaction with its
//! audit record and its mail, and is refused when aimed at oneself.

use uuid::Uuid;

use super::{admins_only, may_act_on};
use crate::accounts::{self, Role, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::backup_codes::BackupCode;
use crate::mail;
use crate::service::notices::notice;
use crate::service::{Caller, ClientInfo};
use crate::throttle::{self, Scope};
use crate::{second_factor, session, setup_codes, CoreError, CoreResult, Tessera, UnixTime};

/// What a reset hands the admin: the setup code to pass on (shown once).
#[derive(Debug)]
pub struct ResetOutcome {
    pub setup_code: BackupCode,
    pub expires_at: UnixTime,
}

/// Who resets: someone in the console, or the operator on the server's command line.
enum Resetter<'a> {
    Console(&'a Caller),
    Operator,
}

/// Longest reason kept with a reset.
const MAX_REASON_CHARS: usize = 500;

pub(super) fn reason(input: &str) -> CoreResult<String> {
    let reason = input.trim();
    if reason.is_empty() {
        return Err(CoreError::invalid(
            "reason",
            "Say why (for example \"lost phone, identity checked by phone call\"): it is kept in the audit trail.",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(CoreError::invalid(
            "reason",
            format!("Keep the reason to {MAX_REASON_CHARS} characters of plain text."),
        ));
    }
    Ok(reason.to_string())
}

/// An event done by `actor` to `target`.
pub(super) fn on<'a>(
    kind: AuditKind,
    actor: &Caller,
    target: &'a User,
    client: &'a ClientInfo,
) -> AuditEvent<'a> {
    AuditEvent::new(kind)
        .actor(actor.user.id)
        .subject(Some(target.id), target.email.as_str())
        .from_addr(&client.addr)
}

/// Takes the lock every change to the set of active admins takes (the organisation's
/// row), then refuses if `leaving` is the last active admin. Two admins demoting or
/// disabling each other at once: the second waits here and then sees the first's change.
async fn keep_an_admin(tx: &mut crate::db::Tx, leaving: &User) -> CoreResult<()> {
    if leaving.role != Role::Admin {
        return Ok(());
    }
    sqlx::query("UPDATE organisation SET name = name WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id <> $1",
    )
    .bind(leaving.id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    if others == 0 {
        return Err(CoreError::Conflict(
            "This is the organisation's only active administrator. Make someone else an administrator first.".into(),
        ));
    }
    Ok(())
}

/// Mail to every active admin but `except`: what happened to whom, in the change's
/// transaction.
pub(crate) async fn tell_admins(
    tx: &mut crate::db::Tx,
    except: Uuid,
    subject: &str,
    what: &str,
    now: UnixTime,
) -> CoreResult<()> {
    let admins = sqlx::query_as::<_, (String, String)>(
        "SELECT email, display_name FROM users WHERE role = 'admin' AND active = 1 AND id <> $1",
    )
    .bind(except.to_string())
    .fetch_all(&mut **tx)
    .await?;
    for (email, name) in admins {
        let mail = mail::Mail {
            to: email,
            subject: subject.to_string(),
            body: format!(
                "Hello {name},\n\n{what}\n\nYou are told because you are an administrator of \
                 Tessera. If this looks wrong, check the audit trail in the console.\n"
            ),
        };
        mail::enqueue(tx, &mail, now).await?;
    }
    Ok(())
}

impl Tessera {
    /// Resets `target`'s two-step authentication: in one transaction every passkey, the
    /// app, any method being set up, open prompts, backup codes and sessions go, and a
    /// one-time setup code (24 hours) is issued for the admin to pass on. The user is told,
    /// and so is every other admin.
    pub async fn reset_two_factor(
        &self,
        actor: &Caller,
        target: Uuid,
        why: &str,
        client: &ClientInfo,
    ) -> CoreResult<ResetOutcome> {
        self.require_step_up(actor)?;
        let why = reason(why)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        self.reset(&user, Resetter::Console(actor), &why, &client.addr)
            .await
    }

    /// The break-glass path, from the server's command line: resets the two-step
    /// authentication of the account with this email (a sole admin who lost every method),
    /// audited as the operator, every admin told.
    pub async fn operator_reset_two_factor(
        &self,
        email: &str,
        why: &str,
    ) -> CoreResult<ResetOutcome> {
        let why = reason(why)?;
        let email = accounts::Email::parse(email)?;
        let user = {
            let mut conn = self.db.pool().acquire().await?;
            accounts::user_by_email(&mut conn, &email)
                .await?
                .ok_or(CoreError::NotFound)?
        };
        self.reset(&user, Resetter::Operator, &why, "the server's command line")
            .await
    }

    async fn reset(
        &self,
        user: &User,
        by: Resetter<'_>,
        why: &str,
        from: &str,
    ) -> CoreResult<ResetOutcome> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        accounts::lock_user(&mut tx, user.id).await?;
        second_factor::delete_everything(&mut tx, user.id).await?;
        crate::passkeys::delete_all(&mut tx, user.id).await?;
        crate::passkeys::delete_ceremonies(&mut tx, user.id).await?;
        sqlx::query("UPDATE users SET two_factor_enabled = 0 WHERE id = $1")
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await?;
        let ended = session::delete_all_for_user(&mut tx, user.id, None).await?;
        let setup_code = setup_codes::issue(&mut tx, user.id, now).await?;
        let mut event = AuditEvent::new(AuditKind::TwoFactorReset)
            .subject(Some(user.id), user.email.as_str())
            .from_addr(from)
            .detail(format!(
                "reason: {why}; every method, backup code and session removed ({ended} session(s)); setup code issued{}",
                if matches!(by, Resetter::Operator) { "; by the operator from the command line" } else { "" }
            ));
        let (who, who_email, except) = match by {
            Resetter::Console(actor) => {
                event = event.actor(actor.user.id);
                (
                    actor.user.display_name.clone(),
                    actor.user.email.to_string(),
                    Some(actor.user.id),
                )
            }
            Resetter::Operator => (
                "The server's operator".to_string(),
                "command line".to_string(),
                None,
            ),
        };
        audit::record(&mut tx, event, now).await?;
        mail::enqueue(
            &mut tx,
            &notice(
                user,
                "Your Tessera two-step authentication was reset",
                &format!(
                    "{who} reset the two-step authentication of your Tessera account on {}. Your \
                     passkeys, authenticator app and backup codes no longer work, and you were \
                     signed out everywhere.\n\nAt your next sign-in you will set it up again. \
                     You will need your password and the one-time setup code you are given \
                     (it works for 24 hours).",
                    crate::clock::format_utc(now),
                ),
            ),
            now,
        )
        .await?;
        tell_admins(
            &mut tx,
            except.unwrap_or(user.id),
            "A user's two-step authentication was reset",
            &format!(
                "{who} ({who_email}) reset the two-step authentication of {} ({}) on {}.\nReason: {why}",
                user.display_name,
                user.email,
                crate::clock::format_utc(now),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ResetOutcome {
            setup_code,
            expires_at: now + setup_codes::LIFETIME_SECS,
        })
    }

    /// Lifts a lock from failed attempts (password and second step) and tells the user.
    pub async fn unlock_user(
        &self,
        actor: &Caller,
        target: Uuid,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        self.require_step_up(actor)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut lifted = 0;
        for (scope, key) in [
            (Scope::PasswordAccount, user.email.to_string()),
            (Scope::SecondFactorAccount, user.id.to_string()),
        ] {
            if throttle::current_wait(&mut tx, scope, &key, now)
                .await?
                .is_some_and(|w| w.locked)
            {
                lifted += 1;
            }
            throttle::clear(&mut tx, scope, &key).await?;
        }
        if lifted == 0 {
            return Err(CoreError::invalid("user", "This account is not locked."));
        }
        audit::record(
            &mut tx,
            on(AuditKind::UserUnlocked, actor, &user, client).detail("failed attempts forgiven"),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &notice(
                &user,
                "Sign-in to your Tessera account is open again",
                &format!(
                    "{} lifted the pause that too many failed attempts had put on your Tessera \
                     account. You can sign in again.",
                    actor.user.display_name
                ),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the user out everywhere.
    pub async fn end_user_sessions(
        &self,
        actor: &Caller,
        target: Uuid,
        client: &ClientInfo,
    ) -> CoreResult<u64> {
        self.require_step_up(actor)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let ended = session::delete_all_for_user(&mut tx, user.id, None).await?;
        audit::record(
            &mut tx,
            on(AuditKind::SessionsEnded, actor, &user, client)
                .detail(format!("{ended} session(s) ended from the console")),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Disables or enables an account (admins only). Disabling ends its sessions at once;
    /// the last active admin cannot be disabled. Returns whether anything changed.
    pub async fn set_user_active(
        &self,
        actor: &Caller,
        target: Uuid,
        active: bool,
        client: &ClientInfo,
    ) -> CoreResult<bool> {
        self.require_step_up(actor)?;
        admins_only(actor)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !active {
            keep_an_admin(&mut tx, &user).await?;
        }
        let changed = sqlx::query("UPDATE users SET active = $1 WHERE id = $2 AND active <> $1")
            .bind(active as i64)
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await?;
        if !crate::db::changed_one(&changed) {
            return Ok(false);
        }
        let ended = if active {
            0
        } else {
            // Disabled: sessions end, and mailed links die (re-enabling does not revive them).
            crate::links::revoke_all(&mut tx, user.id, now).await?;
            session::delete_all_for_user(&mut tx, user.id, None).await?
        };
        let (kind, detail, subject, what) = if active {
            (
                AuditKind::UserEnabled,
                "account enabled".to_string(),
                "Your Tessera account was enabled",
                format!(
                    "{} enabled your Tessera account: you can sign in again.",
                    actor.user.display_name
                ),
            )
        } else {
            (
                AuditKind::UserDisabled,
                format!("account disabled; {ended} session(s) ended"),
                "Your Tessera account was disabled",
                format!(
                    "{} disabled your Tessera account: you were signed out and cannot sign in.",
                    actor.user.display_name
                ),
            )
        };
        audit::record(&mut tx, on(kind, actor, &user, client).detail(detail), now).await?;
        mail::enqueue(&mut tx, &notice(&user, subject, &what), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Changes an account's role (admins only); the last active admin keeps theirs.
    /// Returns whether anything changed.
    pub async fn change_role(
        &self,
        actor: &Caller,
        target: Uuid,
        role: Role,
        client: &ClientInfo,
    ) -> CoreResult<bool> {
        self.require_step_up(actor)?;
        admins_only(actor)?;
        let user = self.target(target).await?;
        may_act_on(actor, &user)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        if role != Role::Admin {
            keep_an_admin(&mut tx, &user).await?;
        }
        // Compare-and-set against the role read before: a change made meanwhile wins.
        let changed = sqlx::query("UPDATE users SET role = $1 WHERE id = $2 AND role = $3")
            .bind(role.as_str())
            .bind(user.id.to_string())
            .bind(user.role.as_str())
            .execute(&mut *tx)
            .await?;
        if !crate::db::changed_one(&changed) || role == user.role {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            on(AuditKind::RoleChanged, actor, &user, client).detail(format!(
                "{} → {}",
                user.role.as_str(),
                role.as_str()
            )),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &notice(
                &user,
                "Your role in Tessera changed",
                &format!(
                    "{} changed your role in Tessera from {} to {}.",
                    actor.user.display_name,
                    user.role.label(),
                    role.label()
                ),
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
