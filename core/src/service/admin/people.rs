//! Adding people and changing who they are: an invitation by mail (72 hours, single use),
//! resending it (the old link dies), a password-reset link, and editing a name or an
//! email address (the new address confirmed by a link; both addresses told). The operators'
//! command line uses the same functions with no console caller.

use uuid::Uuid;

use super::actions::on;
use super::{admins_only, may_act_on};
use crate::accounts::{self, Email, NewUser, Role};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::links::{self, Purpose};
use crate::mail::{self, Mail};
use crate::service::notices::notice;
use crate::service::{Caller, ClientInfo};
use crate::{CoreError, CoreResult, Tessera, UnixTime};

/// Who is adding or changing people: an admin in the console, or the operator.
#[derive(Clone, Copy)]
pub enum By<'a> {
    Console(&'a Caller, &'a ClientInfo),
    Operator,
}

impl By<'_> {
    fn actor(&self) -> Option<Uuid> {
        match self {
            By::Console(caller, _) => Some(caller.user.id),
            By::Operator => None,
        }
    }

    pub(crate) fn event<'e>(
        &'e self,
        kind: AuditKind,
        target: Option<Uuid>,
        email: &'e str,
    ) -> AuditEvent<'e> {
        let mut event = AuditEvent::new(kind).subject(target, email);
        if let By::Console(caller, client) = self {
            event = event.actor(caller.user.id).from_addr(&client.addr);
        }
        event
    }

    /// How the mail names the sender.
    fn who(&self) -> String {
        match self {
            By::Console(caller, _) => caller.user.display_name.clone(),
            By::Operator => "Your administrator".into(),
        }
    }

    /// Console changes need admin rights and a fresh step-up.
    pub(crate) fn check(&self, tessera: &Tessera) -> CoreResult<()> {
        if let By::Console(caller, _) = self {
            admins_only(caller)?;
            tessera.require_step_up(caller)?;
        }
        Ok(())
    }
}

/// A person to invite, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitee {
    pub email: Email,
    pub name: String,
    pub role: Role,
}

impl Invitee {
    pub fn parse(email: &str, name: &str, role: &str) -> CoreResult<Invitee> {
        Ok(Invitee {
            email: Email::parse(email)?,
            name: accounts::validate_display_name(name)?,
            role: Role::parse(role.trim())?,
        })
    }
}

/// What an edit did to the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressChange {
    Unchanged,
    /// A link went to the new address; it changes once confirmed.
    ConfirmationSent,
    /// Not accepted yet: changed at once, and a new invitation went to it.
    InvitationResent,
}

/// What an invitation hands back: the new person's id and when the link expires.
#[derive(Debug, Clone, Copy)]
pub struct Invited {
    pub id: Uuid,
    pub expires_at: UnixTime,
}

pub(crate) fn invitation_mail(
    to: &Email,
    name: &str,
    by: &str,
    organisation: &str,
    url: &str,
    required: bool,
) -> Mail {
    let then = if required {
        "After choosing a password you will set up two-step authentication (a passkey or an authenticator app): \
         the organisation requires it."
    } else {
        "After choosing a password you can add a passkey or an authenticator app in your profile."
    };
    Mail {
        to: to.to_string(),
        subject: format!("You are invited to {organisation}'s Tessera"),
        body: format!(
            "Hello {name},\n\n{by} invited you to sign in to {organisation} with Tessera.\n\n\
             Choose your password here (the link works once, for 72 hours):\n{url}\n\n{then}\n\n\
             If you did not expect this, you can ignore this email.\n"
        ),
    }
}

/// Issues an invitation link for `user` in `tx` (revoking any earlier one) and queues its
/// mail (as bulk mail when it is one of many). Returns when it expires.
pub(crate) async fn send_invitation(
    tx: &mut crate::db::Tx,
    tessera: &Tessera,
    (user, to, name): (Uuid, &Email, &str),
    by: &By<'_>,
    bulk: bool,
    now: UnixTime,
) -> CoreResult<UnixTime> {
    let organisation = accounts::organisation(tx)
        .await?
        .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
    let token = links::issue(tx, user, Purpose::Invitation, None, by.actor(), now).await?;
    let url = token.url(&tessera.public_origin, Purpose::Invitation);
    let mail = invitation_mail(
        to,
        name,
        &by.who(),
        &organisation.name,
        &url,
        organisation.policy.required,
    );
    if bulk {
        mail::enqueue_bulk(tx, &mail, now).await?;
    } else {
        mail::enqueue(tx, &mail, now).await?;
    }
    Ok(now + Purpose::Invitation.lifetime_secs())
}

impl Tessera {
    /// Adds a person without a password and mails them an invitation to choose one. One
    /// account per address: an address already in use is refused.
    pub async fn invite_user(&self, by: By<'_>, invitee: &Invitee) -> CoreResult<Invited> {
        by.check(self)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let id = accounts::insert_user(
            &mut tx,
            NewUser {
                email: &invitee.email,
                display_name: &invitee.name,
                role: invitee.role,
                password_hash: None,
            },
            now,
        )
        .await?;
        let expires_at = send_invitation(
            &mut tx,
            self,
            (id, &invitee.email, &invitee.name),
            &by,
            false,
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            by.event(AuditKind::UserInvited, Some(id), invitee.email.as_str())
                .detail(format!(
                    "role {}; link valid 72 hours",
                    invitee.role.as_str()
                )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Invited { id, expires_at })
    }

    /// Sends a pending person a new invitation; the old link stops working.
    pub async fn resend_invitation(&self, by: By<'_>, id: Uuid) -> CoreResult<Invited> {
        by.check(self)?;
        let user = self.target(id).await?;
        if let By::Console(caller, _) = by {
            may_act_on(caller, &user)?;
        }
        if user.password_hash.is_some() || !user.active {
            return Err(CoreError::Conflict(
                "This person has already accepted their invitation (or the account is disabled)."
                    .into(),
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        // Still pending: decided by taking the person's row lock only while they are, so
        // an acceptance at this moment either comes first (and this stops) or waits.
        let still = sqlx::query(
            "UPDATE users SET role = role WHERE id = $1 AND password_hash IS NULL AND active = 1",
        )
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&still) {
            return Err(CoreError::Conflict(
                "This person has just accepted their invitation.".into(),
            ));
        }
        let expires_at = send_invitation(
            &mut tx,
            self,
            (id, &user.email, &user.display_name),
            &by,
            false,
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            by.event(AuditKind::InvitationResent, Some(id), user.email.as_str())
                .detail("a new link; the earlier one no longer works"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Invited { id, expires_at })
    }

    /// Mails `id` a link to choose a new password (24 hours, single use). Their current
    /// password keeps working until they use it.
    pub async fn send_password_reset(
        &self,
        actor: &Caller,
        id: Uuid,
        client: &ClientInfo,
    ) -> CoreResult<UnixTime> {
        self.require_step_up(actor)?;
        let user = self.target(id).await?;
        may_act_on(actor, &user)?;
        if !user.active {
            return Err(CoreError::Conflict(
                "This account is disabled: enable it first.".into(),
            ));
        }
        if user.password_hash.is_none() {
            return Err(CoreError::Conflict(
                "This person has not accepted their invitation yet: resend the invitation instead."
                    .into(),
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let token = links::issue(
            &mut tx,
            user.id,
            Purpose::PasswordReset,
            None,
            Some(actor.user.id),
            now,
        )
        .await?;
        let url = token.url(&self.public_origin, Purpose::PasswordReset);
        mail::enqueue(
            &mut tx,
            &notice(
                &user,
                "Choose a new Tessera password",
                &format!(
                    "{} sent you a link to choose a new password. It works once, for 24 hours:\n{url}\n\n\
                     Your current password keeps working until you use it. Your two-step \
                     authentication stays as it is.",
                    actor.user.display_name
                ),
            ),
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::PasswordResetSent)
                .actor(actor.user.id)
                .subject(Some(user.id), user.email.as_str())
                .from_addr(&client.addr)
                .detail("password-reset link mailed; valid 24 hours"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(now + Purpose::PasswordReset.lifetime_secs())
    }

    /// Changes `id`'s name at once and, when `email` differs, mails a confirmation link to
    /// the new address (the old one is told); for someone who has not accepted their
    /// invitation yet, the address changes at once and a new invitation goes to it.
    pub async fn edit_user(
        &self,
        actor: &Caller,
        id: Uuid,
        name: &str,
        email: &str,
        client: &ClientInfo,
    ) -> CoreResult<AddressChange> {
        admins_only(actor)?;
        self.require_step_up(actor)?;
        let user = self.target(id).await?;
        may_act_on(actor, &user)?;
        let name = accounts::validate_display_name(name)?;
        let email = Email::parse(email)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        // The person's row first, then their links (the order accepting a link takes).
        accounts::lock_user(&mut tx, user.id).await?;
        if name != user.display_name {
            sqlx::query("UPDATE users SET display_name = $1, name_key = $2 WHERE id = $3")
                .bind(&name)
                .bind(accounts::name_key(&name))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut tx,
                on(AuditKind::UserRenamed, actor, &user, client)
                    .detail(format!("\"{}\" → \"{name}\"", user.display_name)),
                now,
            )
            .await?;
        }
        let changing = email != user.email;
        if !changing {
            // Setting the address back cancels a change still waiting for confirmation.
            links::revoke(&mut tx, user.id, Purpose::EmailChange, now).await?;
        } else if user.password_hash.is_none() {
            // Not accepted yet: the invitation itself confirms the address. The old link
            // dies and a new one goes to the new address (the old one may be a typo, so it
            // is not told).
            let taken = sqlx::query(
                "UPDATE users SET email = $1 WHERE id = $2 AND password_hash IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $1)",
            )
            .bind(email.as_str())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if !crate::db::changed_one(&taken) {
                return Err(CoreError::invalid(
                    "email",
                    format!("Another account already uses {email}."),
                ));
            }
            send_invitation(
                &mut tx,
                self,
                (id, &email, &name),
                &By::Console(actor, client),
                false,
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                on(AuditKind::EmailChanged, actor, &user, client).detail(format!(
                    "{} → {email} before the invitation was accepted; a new invitation went to the new address",
                    user.email
                )),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(AddressChange::InvitationResent);
        } else {
            if accounts::user_by_email(&mut tx, &email).await?.is_some() {
                return Err(CoreError::invalid(
                    "email",
                    format!("Another account already uses {email}."),
                ));
            }
            let token = links::issue(
                &mut tx,
                user.id,
                Purpose::EmailChange,
                Some(email.as_str()),
                Some(actor.user.id),
                now,
            )
            .await?;
            let url = token.url(&self.public_origin, Purpose::EmailChange);
            mail::enqueue(
                &mut tx,
                &Mail {
                    to: email.to_string(),
                    subject: "Confirm your new Tessera sign-in address".into(),
                    body: format!(
                        "Hello {},\n\n{} changed the address you sign in to Tessera with to this one. \
                         Confirm it here (the link works once, for 24 hours):\n{url}\n\n\
                         Until then you sign in with {}.\n",
                        name, actor.user.display_name, user.email
                    ),
                },
                now,
            )
            .await?;
            mail::enqueue(
                &mut tx,
                &notice(
                    &user,
                    "Your Tessera sign-in address is changing",
                    &format!(
                        "{} asked to change the address you sign in with to {email}. It changes \
                         once that address confirms it; until then nothing changes.",
                        actor.user.display_name
                    ),
                ),
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                on(AuditKind::EmailChangeRequested, actor, &user, client)
                    .detail(format!("{} → {email}; confirmation mailed", user.email)),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(if changing {
            AddressChange::ConfirmationSent
        } else {
            AddressChange::Unchanged
        })
    }
}
