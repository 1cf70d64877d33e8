//! First run: the one-time setup link that creates the organisation and its first admin.
//! (The demo organisation for trying Tessera out is in [`super::demo`].)

use uuid::Uuid;

use super::{ClientInfo, Tessera};
use crate::accounts::{self, Email, NewUser, Role};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::setup::SetupLink;
use crate::{password, setup, CoreError, CoreResult};

impl Tessera {
    /// A one-time setup token (or word of the one waiting), or `None` when the
    /// organisation already exists.
    pub async fn issue_setup_token(&self) -> CoreResult<Option<SetupLink>> {
        let mut tx = self.db.write().await?;
        if accounts::organisation(&mut tx).await?.is_some() {
            return Ok(None);
        }
        let link = setup::issue(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(Some(link))
    }

    /// A new setup token in place of the waiting one; `None` when the organisation
    /// already exists.
    pub async fn replace_setup_token(&self) -> CoreResult<Option<String>> {
        let mut tx = self.db.write().await?;
        if accounts::organisation(&mut tx).await?.is_some() {
            return Ok(None);
        }
        let token = setup::replace(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    pub async fn setup_token_valid(&self, token: &str) -> CoreResult<bool> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(accounts::organisation(&mut conn).await?.is_none()
            && setup::is_valid(&mut conn, token, self.now()).await?)
    }

    /// Creates the organisation and its first admin, consuming the setup token.
    pub async fn complete_setup(
        &self,
        token: &str,
        organisation_name: &str,
        email: &str,
        display_name: &str,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<Uuid> {
        let organisation_name = validate_organisation_name(organisation_name)?;
        let email = Email::parse(email)?;
        let display_name = accounts::validate_display_name(display_name)?;
        password::check_new_password(password, email.as_str(), &organisation_name)?;
        if !self.setup_token_valid(token).await? {
            return Err(CoreError::SetupTokenInvalid);
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        setup::consume(&mut tx, token, now).await?;
        accounts::insert_organisation(&mut tx, &organisation_name, false, now).await?;
        let id = accounts::insert_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: &display_name,
                role: Role::Admin,
                password_hash: Some(&hash),
            },
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated)
                .actor(id)
                .from_addr(&client.addr)
                .detail(format!("organisation \"{organisation_name}\" set up")),
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::UserCreated)
                .actor(id)
                .subject(Some(id), email.as_str())
                .from_addr(&client.addr)
                .detail("first admin, created by the setup page"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

pub(super) fn validate_organisation_name(input: &str) -> CoreResult<String> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "organisation_name",
            "Enter the organisation's name (at most 120 characters).",
        ));
    }
    Ok(name.to_string())
}
