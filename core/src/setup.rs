//! First-run setup of a production install: a one-time token, printed by the server,
//! opens the page that creates the organisation and its first admin. Only the token's
//! hash is stored, and it dies when used.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;

use crate::{CoreError, CoreResult, UnixTime};

/// Setup links expire a day after the server printed them.
pub const SETUP_TOKEN_LIFETIME_SECS: i64 = 24 * 60 * 60;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What first-run setup has to say at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupLink {
    /// A new token: print it.
    Issued(String),
    /// Another start (this instance's earlier one, or another instance) issued one at this
    /// time, and it is still unused and valid.
    Waiting { issued_at: UnixTime },
}

/// Issues a token unless a valid unused one is waiting (an expired one is dropped first).
/// One conditional insert against the "one waiting" unique index decides, so instances
/// racing on an empty database issue one between them.
pub async fn issue(conn: &mut AnyConnection, now: UnixTime) -> CoreResult<SetupLink> {
    sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL AND created_at <= $1")
        .bind(now - SETUP_TOKEN_LIFETIME_SECS)
        .execute(&mut *conn)
        .await?;
    let token = new_token();
    let inserted = sqlx::query(
        "INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(hash(&token))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if crate::db::changed_one(&inserted) {
        return Ok(SetupLink::Issued(token));
    }
    let issued_at: i64 =
        sqlx::query_scalar("SELECT created_at FROM setup_tokens WHERE used_at IS NULL")
            .fetch_one(conn)
            .await?;
    Ok(SetupLink::Waiting { issued_at })
}

/// A new token in place of any waiting one (`tessera setup-link`, when the printed link is
/// lost).
pub async fn replace(conn: &mut AnyConnection, now: UnixTime) -> CoreResult<String> {
    sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
        .execute(&mut *conn)
        .await?;
    let token = new_token();
    sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
        .bind(hash(&token))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(token)
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Marks the token used; fails if it is unknown, used or expired. Call inside the
/// transaction that creates the organisation, so both happen or neither.
pub async fn consume(conn: &mut AnyConnection, token: &str, now: UnixTime) -> CoreResult<()> {
    if token.is_empty() || token.len() > 100 {
        return Err(CoreError::SetupTokenInvalid);
    }
    let result = sqlx::query(
        "UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND created_at > $3",
    )
    .bind(now)
    .bind(hash(token))
    .bind(now - SETUP_TOKEN_LIFETIME_SECS)
    .execute(conn)
    .await?;
    if result.rows_affected() != 1 {
        return Err(CoreError::SetupTokenInvalid);
    }
    Ok(())
}

/// Whether `token` could be used now (for showing the right page; consuming decides).
pub async fn is_valid(conn: &mut AnyConnection, token: &str, now: UnixTime) -> CoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND created_at > $2",
    )
    .bind(hash(token))
    .bind(now - SETUP_TOKEN_LIFETIME_SECS)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}
