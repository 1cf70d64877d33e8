//! Registering the organisation's apps (OpenID Connect clients): from the console or the
//! command line. A confidential app's secret is made here, shown once, stored hashed.

use super::By;
use crate::audit::{self, AuditKind};
use crate::oidc::clients::{self, Client, NewClient};
use crate::oidc::{keys, random_secret};
use crate::{CoreResult, Tessera};

/// A newly registered app, with its secret (confidential apps) shown this once.
#[derive(Debug, Clone)]
pub struct RegisteredApp {
    pub client_id: String,
    pub client_secret: Option<String>,
}

impl Tessera {
    pub async fn register_app(&self, by: By<'_>, new: NewClient) -> CoreResult<RegisteredApp> {
        by.check(self)?;
        let new = new.validate()?;
        let client_id = uuid::Uuid::new_v4().simple().to_string();
        let secret = new.confidential.then(random_secret);
        let now = self.now();
        let mut tx = self.db.write().await?;
        clients::insert(&mut tx, &client_id, &new, secret.as_deref(), now).await?;
        let roles: Vec<&str> = new.roles.iter().map(|r| r.as_str()).collect();
        audit::record(
            &mut tx,
            by.event(AuditKind::AppRegistered, None, &new.name)
                .detail(format!(
                    "app \"{}\" ({}), for {}; {}",
                    new.name,
                    if new.confidential {
                        "confidential"
                    } else {
                        "public"
                    },
                    roles.join(", "),
                    if new.password_enough {
                        "the password is enough"
                    } else {
                        "two steps required"
                    }
                )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(RegisteredApp {
            client_id,
            client_secret: secret,
        })
    }

    pub async fn apps(&self) -> CoreResult<Vec<Client>> {
        let mut conn = self.db.pool().acquire().await?;
        clients::list(&mut conn).await
    }

    /// An app by client id or name.
    pub async fn app(&self, id_or_name: &str) -> CoreResult<Client> {
        let mut conn = self.db.pool().acquire().await?;
        clients::find(&mut conn, id_or_name).await
    }

    /// A new secret for a confidential app; the old one stops working at once.
    pub async fn new_app_secret(&self, by: By<'_>, id_or_name: &str) -> CoreResult<String> {
        by.check(self)?;
        let app = self.app(id_or_name).await?;
        if !app.confidential {
            return Err(crate::CoreError::invalid(
                "app",
                format!("\"{}\" is a public app: it has no secret.", app.name),
            ));
        }
        let secret = random_secret();
        let now = self.now();
        let mut tx = self.db.write().await?;
        clients::set_secret(&mut tx, &app.id, &secret).await?;
        audit::record(
            &mut tx,
            by.event(AuditKind::AppChanged, None, &app.name)
                .detail(format!(
                    "new secret for \"{}\"; the old one no longer works",
                    app.name
                )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Switches an app off (its tokens stop working at once, new sign-ins are refused) or
    /// on again. Returns whether anything changed.
    pub async fn set_app_enabled(
        &self,
        by: By<'_>,
        id_or_name: &str,
        enabled: bool,
    ) -> CoreResult<bool> {
        by.check(self)?;
        let app = self.app(id_or_name).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let changed = clients::set_enabled(&mut tx, &app.id, enabled).await?;
        if changed {
            audit::record(
                &mut tx,
                by.event(AuditKind::AppChanged, None, &app.name)
                    .detail(format!(
                        "\"{}\" switched {}",
                        app.name,
                        if enabled { "on" } else { "off" }
                    )),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Removes an app with everything it was given.
    pub async fn remove_app(&self, by: By<'_>, id_or_name: &str) -> CoreResult<Client> {
        by.check(self)?;
        let app = self.app(id_or_name).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        clients::delete(&mut tx, &app.id).await?;
        audit::record(
            &mut tx,
            by.event(AuditKind::AppRemoved, None, &app.name)
                .detail(format!("app \"{}\" removed", app.name)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// New ID-token signing keys; the old ones stay published until their tokens expire.
    pub async fn rotate_signing_keys(&self, by: By<'_>) -> CoreResult<Vec<(keys::Alg, String)>> {
        by.check(self)?;
        let new = keys::NewKeys::generate().await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let made = keys::rotate(&mut tx, &self.server_key, new, now).await?;
        let names: Vec<String> = made
            .iter()
            .map(|(alg, kid)| format!("{} {kid}", alg.as_str()))
            .collect();
        audit::record(
            &mut tx,
            by.event(AuditKind::SigningKeysRotated, None, "ID-token signing keys")
                .detail(format!("new keys: {}", names.join(", "))),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(made)
    }
}
