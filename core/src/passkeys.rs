//! Storage of passkeys and of WebAuthn ceremony state.
//!
//! Ceremony state lives in the database (never in one process's memory), bound to the user,
//! and is taken by a single DELETE … RETURNING: a ceremony can be finished once, by its own
//! user, before it expires. Credential ids are unique across all accounts.

use base64::Engine as _;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;
use webauthn_rs::prelude::{Credential, Passkey};

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

static PROVIDERS: std::sync::LazyLock<std::collections::HashMap<String, String>> =
    std::sync::LazyLock::new(|| {
        serde_json::from_str::<std::collections::HashMap<String, String>>(include_str!(
            "../data/aaguids.json"
        ))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .collect()
    });

/// The provider behind an AAGUID ("iCloud Keychain", "YubiKey 5 NFC"), if it is well known.
pub fn provider(aaguid: &Uuid) -> Option<&'static str> {
    PROVIDERS.get(&aaguid.to_string()).map(String::as_str)
}

/// The AAGUID in a registration's attestation object (authenticator data bytes 37..53),
/// unless the authenticator left it blank.
pub fn aaguid_of(attestation_object: &[u8]) -> Option<Uuid> {
    use serde_cbor_2::Value;
    let map: std::collections::BTreeMap<String, Value> =
        serde_cbor_2::from_slice(attestation_object).ok()?;
    let Some(Value::Bytes(auth_data)) = map.get("authData") else {
        return None;
    };
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    let id = Uuid::from_bytes(bytes);
    (!id.is_nil()).then_some(id)
}

/// Whether the browser says the ceremony ran inside a frame from another site
/// (`clientDataJSON.crossOrigin: true`). Tessera is never meant to be framed
/// (`frame-ancestors 'none'`), so such an answer is refused, as WebAuthn Level 3 asks of a
/// relying party that does not intend cross-origin use. webauthn-rs checks this when a
/// passkey is registered, not when one signs in, so the sign-in checks it here. A body
/// that is not JSON is left to webauthn-rs, which refuses it.
pub fn says_cross_origin(client_data_json: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct ClientData {
        #[serde(rename = "crossOrigin", default)]
        cross_origin: Option<bool>,
    }
    serde_json::from_slice::<ClientData>(client_data_json)
        .is_ok_and(|data| data.cross_origin == Some(true))
}

/// A stored passkey, as listed to its owner.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub name: String,
    pub aaguid: Option<Uuid>,
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

/// Prompts a user may have open at once.
pub const LIVE_CEREMONIES_PER_USER: i64 = 5;

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
    // A user has a few prompts open at most (a tab or two); past that the oldest goes, so a
    // script cannot pile up rows.
    sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE user_id = $1 AND id NOT IN \
         (SELECT id FROM webauthn_ceremonies WHERE user_id = $1 ORDER BY expires_at DESC, id LIMIT $2)",
    )
    .bind(user.to_string())
    .bind(LIVE_CEREMONIES_PER_USER - 1)
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
    let aaguid: Option<String> = r.try_get("aaguid")?;
    Ok(StoredPasskey {
        id: Uuid::parse_str(&id).map_err(|e| CoreError::Internal(e.to_string()))?,
        name: r.try_get("name")?,
        aaguid: aaguid.and_then(|a| Uuid::parse_str(&a).ok()),
        passkey: serde_json::from_str(&json).map_err(|e| CoreError::Internal(e.to_string()))?,
        backup_eligible: r.try_get::<i64, _>("backup_eligible")? != 0,
        backup_state: r.try_get::<i64, _>("backup_state")? != 0,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

pub async fn list(conn: &mut AnyConnection, user: Uuid) -> CoreResult<Vec<StoredPasskey>> {
    let rows = sqlx::query(
        "SELECT id, name, passkey, aaguid, backup_eligible, backup_state, created_at, last_used_at \
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
    aaguid: Option<Uuid>,
    backup: (bool, bool),
    now: UnixTime,
) -> CoreResult<Uuid> {
    let id = Uuid::new_v4();
    let json = serde_json::to_string(passkey).map_err(|e| CoreError::Internal(e.to_string()))?;
    let result = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, aaguid, backup_eligible, backup_state, created_at, sign_count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(credential_id_text(passkey))
    .bind(name)
    .bind(json)
    .bind(aaguid.map(|a| a.to_string()))
    .bind(backup.0 as i64)
    .bind(backup.1 as i64)
    .bind(now)
    .bind(sign_count(passkey))
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
/// Records a successful use: the updated credential (counter, backup state) and when.
/// By compare-and-set on the sign counter: unless it moved forward (or the authenticator
/// keeps none, and both are 0), nothing changes and `false` says the use does not count.
pub async fn record_use(
    conn: &mut AnyConnection,
    user: Uuid,
    passkey: &Passkey,
    backup_state: bool,
    now: UnixTime,
) -> CoreResult<bool> {
    let json = serde_json::to_string(passkey).map_err(|e| CoreError::Internal(e.to_string()))?;
    let counter = sign_count(passkey);
    let result = sqlx::query(
        "UPDATE passkeys SET passkey = $1, backup_state = $2, last_used_at = $3, sign_count = $4 \
         WHERE user_id = $5 AND credential_id = $6 AND ($4 > sign_count OR ($4 = 0 AND sign_count = 0))",
    )
    .bind(json)
    .bind(backup_state as i64)
    .bind(now)
    .bind(counter)
    .bind(user.to_string())
    .bind(credential_id_text(passkey))
    .execute(conn)
    .await?;
    Ok(crate::db::changed_one(&result))
}

fn sign_count(passkey: &Passkey) -> i64 {
    i64::from(Credential::from(passkey.clone()).counter)
}

pub async fn rename(conn: &mut AnyConnection, user: Uuid, id: Uuid, name: &str) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id.to_string())
            .bind(user.to_string())
            .execute(conn)
            .await?,
    )
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

/// The user's open passkey prompts (registration or sign-in), all of them.
pub async fn delete_ceremonies(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE user_id = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cross_origin_client_data_is_recognised() {
        let data = |extra: &str| {
            format!(
                r#"{{"type":"webauthn.get","challenge":"abc","origin":"https://t.example"{extra}}}"#
            )
        };
        assert!(says_cross_origin(data(r#","crossOrigin":true"#).as_bytes()));
        assert!(!says_cross_origin(
            data(r#","crossOrigin":false"#).as_bytes()
        ));
        assert!(
            !says_cross_origin(data("").as_bytes()),
            "absent means same-origin"
        );
        assert!(!says_cross_origin(b"not json"));
    }

    use super::*;

    fn attestation_object(aaguid: [u8; 16]) -> Vec<u8> {
        use serde_cbor_2::Value;
        let mut auth_data = vec![0u8; 37];
        auth_data.extend_from_slice(&aaguid);
        auth_data.extend_from_slice(&[0, 16]);
        let map: std::collections::BTreeMap<String, Value> = [
            ("fmt".to_string(), Value::Text("none".into())),
            ("attStmt".to_string(), Value::Map(Default::default())),
            ("authData".to_string(), Value::Bytes(auth_data)),
        ]
        .into_iter()
        .collect();
        serde_cbor_2::to_vec(&map).unwrap()
    }

    #[test]
    fn aaguids_are_read_from_the_attestation_and_named() {
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap();
        let found = aaguid_of(&attestation_object(*icloud.as_bytes())).unwrap();
        assert_eq!(found, icloud);
        assert_eq!(provider(&found), Some("iCloud Keychain"));
        assert_eq!(
            aaguid_of(&attestation_object([0; 16])),
            None,
            "blank AAGUID"
        );
        assert_eq!(aaguid_of(b"not cbor"), None);
        assert_eq!(provider(&Uuid::new_v4()), None);
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(
            validate_name("  Work MacBook Touch ID ").unwrap(),
            "Work MacBook Touch ID"
        );
        assert!(validate_name("").is_err());
        assert!(validate_name(&"x".repeat(61)).is_err());
        assert!(validate_name("a\nb").is_err());
    }
}
