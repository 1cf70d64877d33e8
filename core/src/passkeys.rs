//! Storage of passkeys and of WebAuthn ceremony state.
//!
//! Ceremony state lives in the database (never in one process's memory), bound to the user,
//! and is taken by a single DELETE … RETURNING: a ceremony can be finished once, by its own
//! user, before it expires. Credential ids are unique across all accounts.

use base64::Engine as _;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use crate::{CoreError, CoreResult, UnixTime};

/// How long a passkey prompt may stay open.
pub const CEREMONY_LIFETIME_SECS: i64 = 5 * 60;
pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Register,
    Authenticate,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::Authenticate => "authenticate",
        }
    }
}

/// A stored passkey, as listed to its owner.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub name: String,
    pub passkey: Passkey,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

pub fn credential_id_text(passkey: &Passkey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
}

pub fn validate_name(input: &str) -> CoreResult<String> {
    let name = input.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(CoreError::invalid(
            "name",
            format!("Give the passkey a name of up to {MAX_NAME_CHARS} characters, like \"Work MacBook Touch ID\"."),
        ));
    }
    Ok(name.to_string())
}

pub async fn save_ceremony(
    conn: &mut AnyConnection,
    user: Uuid,
    kind: CeremonyKind,
    state: &str,
    name: Option<&str>,
    now: UnixTime,
) -> CoreResult<Uuid> {
    // Expired ceremonies of anyone are swept as new ones start.
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, user_id, kind, state, name, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(kind.as_str())
    .bind(state)
    .bind(name)
    .bind(now + CEREMONY_LIFETIME_SECS)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Takes (and deletes) a live ceremony of this user and kind: `(state, name)`.
pub async fn take_ceremony(
    conn: &mut AnyConnection,
    id: Uuid,
    user: Uuid,
    kind: CeremonyKind,
    now: UnixTime,
) -> CoreResult<Option<(String, Option<String>)>> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND user_id = $2 AND kind = $3 AND expires_at > $4 \
         RETURNING state, name",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(kind.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("state")?, r.try_get("name")?)))
        .transpose()
}

fn from_row(r: &sqlx::any::AnyRow) -> CoreResult<StoredPasskey> {
    let id: String = r.try_get("id")?;
    let json: String = r.try_get("passkey")?;
    Ok(StoredPasskey {
        id: Uuid::parse_str(&id).map_err(|e| CoreError::Internal(e.to_string()))?,
        name: r.try_get("name")?,
        passkey: serde_json::from_str(&json).map_err(|e| CoreError::Internal(e.to_string()))?,
        backup_eligible: r.try_get::<i64, _>("backup_eligible")? != 0,
        backup_state: r.try_get::<i64, _>("backup_state")? != 0,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

pub async fn list(conn: &mut AnyConnection, user: Uuid) -> CoreResult<Vec<StoredPasskey>> {
    let rows = sqlx::query(
        "SELECT id, name, passkey, backup_eligible, backup_state, created_at, last_used_at \
         FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Saves a new passkey; a credential id already registered (to anyone) is a conflict.
pub async fn insert(
    conn: &mut AnyConnection,
    user: Uuid,
    name: &str,
    passkey: &Passkey,
    backup: (bool, bool),
    now: UnixTime,
) -> CoreResult<Uuid> {
    let id = Uuid::new_v4();
    let json = serde_json::to_string(passkey).map_err(|e| CoreError::Internal(e.to_string()))?;
    let result = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, backup_eligible, backup_state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(credential_id_text(passkey))
    .bind(name)
    .bind(json)
    .bind(backup.0 as i64)
    .bind(backup.1 as i64)
    .bind(now)
    .execute(conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(CoreError::Conflict(
            "This passkey is already registered. Each passkey can be added once.".into(),
        ));
    }
    Ok(id)
}

/// Stores the passkey after a sign-in (new counter, backup state) and when it was used.
pub async fn record_use(
    conn: &mut AnyConnection,
    user: Uuid,
    passkey: &Passkey,
    backup_state: bool,
    now: UnixTime,
) -> CoreResult<()> {
    let json = serde_json::to_string(passkey).map_err(|e| CoreError::Internal(e.to_string()))?;
    sqlx::query(
        "UPDATE passkeys SET passkey = $1, backup_state = $2, last_used_at = $3 WHERE user_id = $4 AND credential_id = $5",
    )
    .bind(json)
    .bind(backup_state as i64)
    .bind(now)
    .bind(user.to_string())
    .bind(credential_id_text(passkey))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn rename(conn: &mut AnyConnection, user: Uuid, id: Uuid, name: &str) -> CoreResult<()> {
    let result = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(name)
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(conn)
        .await?;
    if result.rows_affected() != 1 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, user: Uuid, id: Uuid) -> CoreResult<String> {
    let row = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => Ok(r.try_get("name")?),
        None => Err(CoreError::NotFound),
    }
}

pub async fn delete_all(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
