//! The apps that sign people in through Tessera, as the admin registered them.

use sqlx::{AnyConnection, Row};

use super::keys::Alg;
use crate::accounts::Role;
use crate::{CoreError, CoreResult, UnixTime};

/// A registered app (an OpenID Connect client).
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// Has a secret and authenticates with it; a public app (a native or browser app)
    /// proves itself by PKCE alone.
    pub confidential: bool,
    secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    /// Who may use it.
    pub roles: Vec<Role>,
    /// The password alone is enough for this app; `false` (the default): two steps.
    pub password_enough: bool,
    pub refresh_tokens: bool,
    pub access_token_secs: i64,
    pub id_token_alg: Alg,
    pub backchannel_logout_uri: Option<String>,
    pub enabled: bool,
    pub created_at: UnixTime,
}

impl Client {
    /// Whether `secret` is this app's secret. A public app has none, and any secret it
    /// sends is wrong (it cannot keep one).
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_hash
            .as_deref()
            .is_some_and(|stored| stored == super::secret_hash(secret))
    }

    pub fn allows(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What the admin fills in to register an app.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub roles: Vec<Role>,
    pub password_enough: bool,
    pub refresh_tokens: bool,
    pub access_token_secs: i64,
    pub id_token_alg: Alg,
    pub backchannel_logout_uri: Option<String>,
}

impl NewClient {
    /// Checks every field; the first problem, in words for the admin.
    pub fn validate(mut self) -> CoreResult<NewClient> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 80 {
            return Err(CoreError::invalid(
                "name",
                "Give the app a name of 1 to 80 characters.",
            ));
        }
        if self.redirect_uris.is_empty() {
            return Err(CoreError::invalid(
                "redirect_uris",
                "Give at least one redirect address (where the app receives sign-ins).",
            ));
        }
        for uris in [&mut self.redirect_uris, &mut self.post_logout_uris] {
            for uri in uris.iter_mut() {
                *uri = super::check_redirect_uri(uri.trim())
                    .map_err(|m| CoreError::invalid("redirect_uris", m))?;
            }
            uris.sort();
            uris.dedup();
            if uris.len() > 20 {
                return Err(CoreError::invalid(
                    "redirect_uris",
                    "At most 20 addresses per list.",
                ));
            }
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            super::check_redirect_uri(uri.trim())
                .map_err(|m| CoreError::invalid("backchannel_logout_uri", m))?;
        }
        if self.roles.is_empty() {
            return Err(CoreError::invalid(
                "roles",
                "Choose at least one role that may use the app.",
            ));
        }
        self.roles.sort_by_key(|r| r.as_str());
        self.roles.dedup();
        if !super::ACCESS_TOKEN_SECS_RANGE.contains(&self.access_token_secs) {
            return Err(CoreError::invalid(
                "access_token_secs",
                "An access token lives between 60 seconds and one hour.",
            ));
        }
        Ok(self)
    }
}

const COLUMNS: &str =
    "id, name, confidential, secret_hash, redirect_uris, post_logout_uris, roles, \
     password_enough, refresh_tokens, access_token_secs, id_token_alg, backchannel_logout_uri, \
     enabled, created_at";

fn json_list(row: &sqlx::any::AnyRow, column: &str) -> CoreResult<Vec<String>> {
    serde_json::from_str(&row.try_get::<String, _>(column)?)
        .map_err(|e| CoreError::Internal(format!("{column}: {e}")))
}

fn from_row(row: &sqlx::any::AnyRow) -> CoreResult<Client> {
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        confidential: row.try_get::<i64, _>("confidential")? != 0,
        secret_hash: row.try_get("secret_hash")?,
        redirect_uris: json_list(row, "redirect_uris")?,
        post_logout_uris: json_list(row, "post_logout_uris")?,
        roles: json_list(row, "roles")?
            .iter()
            .map(|r| Role::parse(r))
            .collect::<CoreResult<_>>()?,
        password_enough: row.try_get::<i64, _>("password_enough")? != 0,
        refresh_tokens: row.try_get::<i64, _>("refresh_tokens")? != 0,
        access_token_secs: row.try_get("access_token_secs")?,
        id_token_alg: Alg::parse(&row.try_get::<String, _>("id_token_alg")?)?,
        backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> CoreResult<Option<Client>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Finds an app by its client id or, failing that, its name (for the command line).
pub async fn find(conn: &mut AnyConnection, id_or_name: &str) -> CoreResult<Client> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM oidc_clients WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END"
    )))
    .bind(id_or_name)
    .fetch_optional(conn)
    .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(CoreError::NotFound)
}

pub async fn list(conn: &mut AnyConnection) -> CoreResult<Vec<Client>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM oidc_clients ORDER BY name"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

fn json(list: &[impl serde::Serialize]) -> CoreResult<String> {
    serde_json::to_string(list).map_err(|e| CoreError::Internal(e.to_string()))
}

/// Stores a new app with `id` and the hash of `secret` (confidential apps). A name
/// already taken is a clear refusal.
pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewClient,
    secret: Option<&str>,
    now: UnixTime,
) -> CoreResult<()> {
    let roles: Vec<&str> = new.roles.iter().map(|r| r.as_str()).collect();
    let result = sqlx::query(
        "INSERT INTO oidc_clients (id, name, confidential, secret_hash, redirect_uris, post_logout_uris, \
         roles, password_enough, refresh_tokens, access_token_secs, id_token_alg, backchannel_logout_uri, \
         enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13) \
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&new.name)
    .bind(new.confidential as i64)
    .bind(secret.map(super::secret_hash))
    .bind(json(&new.redirect_uris)?)
    .bind(json(&new.post_logout_uris)?)
    .bind(json(&roles)?)
    .bind(new.password_enough as i64)
    .bind(new.refresh_tokens as i64)
    .bind(new.access_token_secs)
    .bind(new.id_token_alg.as_str())
    .bind(new.backchannel_logout_uri.as_deref())
    .bind(now)
    .execute(conn)
    .await?;
    if !crate::db::changed_one(&result) {
        return Err(CoreError::invalid(
            "name",
            format!("There is already an app called \"{}\".", new.name),
        ));
    }
    Ok(())
}

/// Replaces a confidential app's secret; the old one stops working at once.
pub async fn set_secret(conn: &mut AnyConnection, id: &str, secret: &str) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("UPDATE oidc_clients SET secret_hash = $1 WHERE id = $2 AND confidential = 1")
            .bind(super::secret_hash(secret))
            .bind(id)
            .execute(conn)
            .await?,
    )
}

pub async fn set_enabled(conn: &mut AnyConnection, id: &str, enabled: bool) -> CoreResult<bool> {
    let result =
        sqlx::query("UPDATE oidc_clients SET enabled = $1 WHERE id = $2 AND enabled <> $1")
            .bind(enabled as i64)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(crate::db::changed_one(&result))
}

/// Removes an app and, with it, every code and grant it had.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
            .bind(id)
            .execute(conn)
            .await?,
    )
}
