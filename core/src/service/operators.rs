//! What the operator does from the server's command line: create the organisation and
//! users, set a password (the break-glass path), switch the organisation's requirement.

use uuid::Uuid;

use super::notices::password_changed_mail;
use super::setup::validate_organisation_name;
use super::Tessera;
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
        if let Some(m) = idle_minutes.filter(|m| !(5..=60).contains(m)) {
            return Err(CoreError::invalid(
                "idle",
                format!("The idle timeout must be 5 to 60 minutes, not {m}."),
            ));
        }
        if let Some(h) = absolute_hours.filter(|h| !(1..=24).contains(h)) {
            return Err(CoreError::invalid(
                "absolute",
                format!("The session lifetime must be 1 to 24 hours, not {h}."),
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        // The organisation's row, locked first, then read: two operators at once apply in turn.
        sqlx::query("UPDATE organisation SET name = name WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let organisation = accounts::organisation(&mut tx).await?.ok_or_else(|| {
            CoreError::invalid(
                "organisation",
                "There is no organisation yet: finish the first-run setup first.",
            )
        })?;
        let old = (
            organisation.session_idle_secs,
            organisation.session_absolute_secs,
        );
        let new = (
            idle_minutes.map_or(old.0, |m| m * 60),
            absolute_hours.map_or(old.1, |h| h * 3600),
        );
        if new == old {
            return Ok(old);
        }
        sqlx::query(
            "UPDATE organisation SET session_idle_secs = $1, session_absolute_secs = $2 WHERE id = 1",
        )
        .bind(new.0)
        .bind(new.1)
        .execute(&mut *tx)
        .await?;
        let what = format!(
            "Session limits changed from the server's command line: idle timeout {} → {} minutes, \
             longest session {} → {} hours. They apply to every session from its next request.",
            old.0 / 60,
            new.0 / 60,
            old.1 / 3600,
            new.1 / 3600
        );
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::SessionLimitsChanged).detail(what.clone()),
            now,
        )
        .await?;
        super::admin::actions::tell_admins(
            &mut tx,
            Uuid::nil(),
            "Tessera's session limits changed",
            &what,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Turns the organisation's "require two-step authentication" on or off from the
    /// command line. Users without a method are sent to the setup wizard at their next
    /// sign-in. Returns whether anything changed.
    pub async fn operator_require_two_factor(&self, required: bool) -> CoreResult<bool> {
        if self.organisation().await?.is_none() {
            return Err(CoreError::invalid(
                "organisation",
                "There is no organisation yet: finish the first-run setup first.",
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        // Compare-and-set: of two operators switching it at once, one records the change.
        let changed = sqlx::query(
            "UPDATE organisation SET require_two_factor = $1 WHERE require_two_factor <> $1",
        )
        .bind(required as i64)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::TwoFactorPolicyChanged).detail(if required {
                "two-step authentication required for everyone (from the command line)"
            } else {
                "two-step authentication no longer required (from the command line)"
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn list_users(&self) -> CoreResult<Vec<User>> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::list_users(&mut conn).await
    }
}
