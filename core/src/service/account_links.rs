//! The other end of the mailed links: accepting an invitation (choose a password, then the
//! setup wizard when the organisation requires two-step authentication), choosing a new
//! password from a reset link, confirming a new email address. Opening a link only reads
//! it; the form's submission uses it up in the transaction that makes the change.

use super::notices::password_changed_mail;
use super::sign_in::{start_session, SignInOutcome};
use super::{ClientInfo, Tessera};
use crate::accounts::{self, Email, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::links::{self, Link, Purpose, Unusable};
use crate::mail::{self, Mail};
use crate::session::{self, SessionState};
use crate::throttle::{self, Scope};
use crate::{password, CoreError, CoreResult, UnixTime};

/// What a link's page shows before its form is sent.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub email: String,
    pub name: String,
    /// The address an email change confirms.
    pub new_email: Option<String>,
    pub expires_at: UnixTime,
}

fn refused(why: Unusable, purpose: Purpose) -> CoreError {
    CoreError::invalid("link", why.message(purpose))
}

impl Tessera {
    /// The link's page: who it is for, or why it cannot be used. Writes nothing.
    pub async fn link_info(&self, token: &str, purpose: Purpose) -> CoreResult<LinkInfo> {
        let (link, user) = self.peek_link(token, purpose).await?;
        Ok(LinkInfo {
            email: user.email.to_string(),
            name: user.display_name,
            new_email: link.new_email,
            expires_at: link.expires_at,
        })
    }

    async fn peek_link(&self, token: &str, purpose: Purpose) -> CoreResult<(Link, User)> {
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let link = links::peek(&mut conn, token, purpose, now)
            .await?
            .map_err(|why| refused(why, purpose))?;
        let user = accounts::user_by_id(&mut conn, link.user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| refused(Unusable::Unknown, purpose))?;
        Ok((link, user))
    }

    /// Accepts an invitation: sets the password and starts a session in the state the
    /// account needs next — the setup wizard when two-step authentication is required,
    /// never a full session without it.
    pub async fn accept_invitation(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> CoreResult<SignInOutcome> {
        let (_, user) = self.peek_link(token, Purpose::Invitation).await?;
        let organisation = self
            .organisation()
            .await?
            .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
        password::check_new_password(new_password, user.email.as_str(), &organisation.name)?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // The person's row first, then the link: the order every change to both takes.
        accounts::lock_user(&mut tx, user.id).await?;
        links::take(&mut tx, token, Purpose::Invitation, now)
            .await?
            .map_err(|why| refused(why, Purpose::Invitation))?;
        let set = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2 \
             WHERE id = $3 AND password_hash IS NULL AND active = 1",
        )
        .bind(&hash)
        .bind(now)
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&set) {
            return Err(refused(Unusable::Used, Purpose::Invitation));
        }
        let super::sign_in::Started {
            state,
            token,
            organisation,
            ..
        } = start_session(&mut tx, &user, false, client, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::InvitationAccepted)
                .actor(user.id)
                .subject(Some(user.id), user.email.as_str())
                .from_addr(&client.addr)
                .detail(match state {
                    SessionState::NeedsSetup => {
                        "password chosen; must set up two-step authentication"
                    }
                    SessionState::NeedsSetupCode => {
                        "password chosen; owes the setup code of a two-step reset"
                    }
                    SessionState::NeedsSecondFactor => "password chosen; second factor owed",
                    SessionState::Full => "password chosen; signed in",
                }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SignInOutcome {
            token,
            state,
            persistent: false,
            max_age_secs: organisation.session_absolute_secs,
        })
    }

    /// Sets a new password from a reset link. Ends every session of the account (the
    /// person then signs in with the new password and their second factor) and tells them.
    pub async fn reset_password_with_link(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let (_, user) = self.peek_link(token, Purpose::PasswordReset).await?;
        let organisation = self
            .organisation()
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        password::check_new_password(new_password, user.email.as_str(), &organisation)?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // The person's row first, then the link: the order every change to both takes.
        accounts::lock_user(&mut tx, user.id).await?;
        links::take(&mut tx, token, Purpose::PasswordReset, now)
            .await?
            .map_err(|why| refused(why, Purpose::PasswordReset))?;
        // Disabled meanwhile? Then nothing changes: this statement decides.
        let set = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3 AND active = 1",
        )
        .bind(&hash)
        .bind(now)
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&set) {
            return Err(refused(Unusable::Unknown, Purpose::PasswordReset));
        }
        session::delete_all_for_user(&mut tx, user.id, None).await?;
        throttle::clear(&mut tx, Scope::PasswordAccount, user.email.as_str()).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::PasswordChanged)
                .actor(user.id)
                .subject(Some(user.id), user.email.as_str())
                .from_addr(&client.addr)
                .detail("with a password-reset link; all sessions ended"),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &password_changed_mail(&user, now, "a password-reset link"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms a new email address: from now on the person signs in with it. Both
    /// addresses are told.
    pub async fn confirm_email_change(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> CoreResult<String> {
        let (_, user) = self.peek_link(token, Purpose::EmailChange).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // The person's row first, then the link: the order every change to both takes.
        accounts::lock_user(&mut tx, user.id).await?;
        let link = links::take(&mut tx, token, Purpose::EmailChange, now)
            .await?
            .map_err(|why| refused(why, Purpose::EmailChange))?;
        let new_email = Email::parse(link.new_email.as_deref().unwrap_or_default())?;
        // Taken meanwhile by someone else, or the account disabled? Then nothing changes:
        // one statement decides.
        let changed = sqlx::query(
            "UPDATE users SET email = $1 WHERE id = $2 AND active = 1 \
             AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
        )
        .bind(new_email.as_str())
        .bind(user.id.to_string())
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&changed) {
            return Err(CoreError::invalid(
                "link",
                format!("{new_email} is used by another account now. Ask your administrator."),
            ));
        }
        // A password-reset link went to the old address: it dies with it.
        links::revoke(&mut tx, user.id, Purpose::PasswordReset, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::EmailChanged)
                .actor(user.id)
                .subject(Some(user.id), new_email.as_str())
                .from_addr(&client.addr)
                .detail(format!(
                    "{} → {new_email}; confirmed from the new address",
                    user.email
                )),
            now,
        )
        .await?;
        for to in [user.email.to_string(), new_email.to_string()] {
            mail::enqueue(
                &mut tx,
                &Mail {
                    to,
                    subject: "Your Tessera sign-in address changed".into(),
                    body: format!(
                        "Hello {},\n\nYou now sign in to Tessera with {new_email} (it was {}).\n\n\
                         If this was not you, contact your administrator now.\n",
                        user.display_name, user.email
                    ),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(new_email.to_string())
    }
}
