//! What the operator does from the server's command line: create the organisation and
//! users, set a password (the break-glass path), switch the organisation's requirement.

use uuid::Uuid;

use super::notices::password_changed_mail;
use super::setup::validate_organisation_name;
use super::{By, Tessera};
use crate::accounts::{self, Email, NewUser, Role, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::throttle::{self, Scope};
use crate::{mail, password, session, CoreError, CoreResult};

impl Tessera {
    /// Creates the organisation from the command line (instead of the setup page).
    pub async fn create_organisation(&self, name: &str) -> CoreResult<()> {
        let name = validate_organisation_name(name)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        accounts::insert_organisation(&mut tx, &name, false, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated).detail(format!(
                "organisation \"{name}\" set up from the command line"
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a user (CLI, later the admin pages). `actor` is the admin doing it, if any.
    pub async fn create_user(
        &self,
        actor: Option<Uuid>,
        email: &str,
        display_name: &str,
        role: Role,
        password: Option<&str>,
    ) -> CoreResult<Uuid> {
        let email = Email::parse(email)?;
        let display_name = accounts::validate_display_name(display_name)?;
        let organisation = self
            .organisation()
            .await?
            .ok_or_else(|| {
                CoreError::invalid(
                    "organisation",
                    "There is no organisation yet: open the setup link the server prints, or pass --organisation.",
                )
            })?;
        let hash = match password {
            Some(pw) => {
                password::check_new_password(pw, email.as_str(), &organisation.name)?;
                Some(self.hasher.hash(pw).await?)
            }
            None => None,
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let id = accounts::insert_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: &display_name,
                role,
                password_hash: hash.as_deref(),
            },
            now,
        )
        .await?;
        let mut event = AuditEvent::new(AuditKind::UserCreated)
            .subject(Some(id), email.as_str())
            .detail(format!("role {}", role.as_str()));
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        audit::record(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Sets a password from the command line (the operator's break-glass path). Ends the
    /// user's sessions and tells them by mail.
    pub async fn operator_set_password(&self, email: &str, password: &str) -> CoreResult<()> {
        let email = Email::parse(email)?;
        let organisation = self
            .organisation()
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        password::check_new_password(password, email.as_str(), &organisation)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let user = accounts::user_by_email(&mut tx, &email)
            .await?
            .ok_or(CoreError::NotFound)?;
        accounts::set_password_hash(&mut tx, user.id, &hash, now).await?;
        session::delete_all_for_user(&mut tx, user.id, None).await?;
        throttle::clear(&mut tx, Scope::PasswordAccount, email.as_str()).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::PasswordSetByOperator)
                .subject(Some(user.id), email.as_str())
                .detail("set from the command line; all sessions ended"),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &password_changed_mail(&user, now, "the server's command line"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets how long a session may sit idle (5–60 minutes; HIPAA's automatic logoff) and
    /// live at most (1–24 hours), from the command line; `None` keeps a value. Applies to
    /// every session, open ones too, from its next request. Audited with old → new, and
    /// every admin is told. Returns the limits now in force, in seconds.
    pub async fn operator_set_session_limits(
        &self,
        idle_minutes: Option<i64>,
        absolute_hours: Option<i64>,
    ) -> CoreResult<(i64, i64)> {
        let mut settings = self.settings().await?;
        settings.idle_minutes = idle_minutes.unwrap_or(settings.idle_minutes);
        settings.absolute_hours = absolute_hours.unwrap_or(settings.absolute_hours);
        self.update_settings(By::Operator, &settings).await?;
        Ok((settings.idle_minutes * 60, settings.absolute_hours * 3600))
    }

    /// Turns the organisation's "require two-step authentication" on or off from the
    /// command line (the rest of the policy as it is; see [`Tessera::update_settings`]).
    /// Users without a method are sent to the setup wizard at their next sign-in, or when
    /// a deadline is set, from then. Returns whether anything changed.
    pub async fn operator_require_two_factor(&self, required: bool) -> CoreResult<bool> {
        let mut settings = self.settings().await?;
        settings.required = required;
        if !required {
            settings.deadline = None;
        }
        Ok(!self
            .update_settings(By::Operator, &settings)
            .await?
            .is_empty())
    }

    pub async fn list_users(&self) -> CoreResult<Vec<User>> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::list_users(&mut conn).await
    }
}
