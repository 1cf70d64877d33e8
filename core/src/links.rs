//! Single-use links sent by mail: an invitation (set your password, 72 hours), a
//! password-reset link (24 hours) and the confirmation of a new email address (24 hours).
//!
//! The link carries 256 random bits; only their SHA-256 is stored. Opening a link reads,
//! never writes (mail scanners open links first); submitting its form uses it up with one
//! conditional UPDATE, so of two submissions one wins. One live link per person and
//! purpose, kept by a partial unique index: issuing a new one revokes the old in the same
//! transaction.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Row as _};
use uuid::Uuid;

use crate::{CoreError, CoreResult, UnixTime};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invitation,
    PasswordReset,
    EmailChange,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
        }
    }

    /// How long a link stays usable.
    pub fn lifetime_secs(self) -> i64 {
        match self {
            Purpose::Invitation => 72 * 60 * 60,
            Purpose::PasswordReset | Purpose::EmailChange => 24 * 60 * 60,
        }
    }

    /// The page the link opens.
    pub fn path(self) -> &'static str {
        match self {
            Purpose::Invitation => "/invitation",
            Purpose::PasswordReset => "/reset-password",
            Purpose::EmailChange => "/confirm-email",
        }
    }
}

/// A link's secret, as it travels in the URL.
#[derive(Clone)]
pub struct LinkToken(String);

impl LinkToken {
    fn generate() -> LinkToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        LinkToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full URL of the page that takes it.
    pub fn url(&self, public_origin: &str, purpose: Purpose) -> String {
        format!("{public_origin}{}?token={}", purpose.path(), self.0)
    }
}

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken(…)")
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// A live link, as its page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub user_id: Uuid,
    pub purpose: Purpose,
    /// The address being confirmed (email change only).
    pub new_email: Option<String>,
    pub expires_at: UnixTime,
}

/// Why a link cannot be used: said plainly on its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Unknown, for another purpose, or revoked by a newer one.
    Unknown,
    Used,
    Expired,
}

/// A new link for `user`, revoking their earlier live link of the same purpose.
pub async fn issue(
    conn: &mut AnyConnection,
    user: Uuid,
    purpose: Purpose,
    new_email: Option<&str>,
    created_by: Option<Uuid>,
    now: UnixTime,
) -> CoreResult<LinkToken> {
    revoke(conn, user, purpose, now).await?;
    let token = LinkToken::generate();
    sqlx::query(
        "INSERT INTO account_links (token_hash, user_id, purpose, new_email, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(hash(token.as_str()))
    .bind(user.to_string())
    .bind(purpose.as_str())
    .bind(new_email.map(str::to_string))
    .bind(created_by.map(|u| u.to_string()))
    .bind(now)
    .bind(now + purpose.lifetime_secs())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Revokes `user`'s live link of `purpose`, if any. Returns whether there was one.
pub async fn revoke(
    conn: &mut AnyConnection,
    user: Uuid,
    purpose: Purpose,
    now: UnixTime,
) -> CoreResult<bool> {
    let done = sqlx::query(
        "UPDATE account_links SET revoked_at = $1 \
         WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user.to_string())
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every live link of `user` (the account was disabled).
pub async fn revoke_all(conn: &mut AnyConnection, user: Uuid, now: UnixTime) -> CoreResult<()> {
    sqlx::query(
        "UPDATE account_links SET revoked_at = $1 \
         WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Looks a link up without using it (its page shows the form).
pub async fn peek(
    conn: &mut AnyConnection,
    token: &str,
    purpose: Purpose,
    now: UnixTime,
) -> CoreResult<Result<Link, Unusable>> {
    let row = sqlx::query(
        "SELECT user_id, new_email, expires_at, used_at, revoked_at FROM account_links \
         WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(hash(token))
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(Err(Unusable::Unknown));
    };
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Ok(Err(Unusable::Unknown));
    }
    if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
        return Ok(Err(Unusable::Used));
    }
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(Err(Unusable::Expired));
    }
    let user_id: String = row.try_get("user_id")?;
    Ok(Ok(Link {
        user_id: Uuid::parse_str(&user_id).map_err(|e| CoreError::Internal(e.to_string()))?,
        purpose,
        new_email: row.try_get("new_email")?,
        expires_at,
    }))
}

/// Uses the link up if it is live: one conditional UPDATE decides. Call inside the
/// transaction that makes the change the link allows.
pub async fn take(
    conn: &mut AnyConnection,
    token: &str,
    purpose: Purpose,
    now: UnixTime,
) -> CoreResult<Result<Link, Unusable>> {
    let link = match peek(&mut *conn, token, purpose, now).await? {
        Ok(link) => link,
        Err(why) => return Ok(Err(why)),
    };
    let used = sqlx::query(
        "UPDATE account_links SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(hash(token))
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    if crate::db::changed_one(&used) {
        Ok(Ok(link))
    } else {
        Ok(Err(Unusable::Used))
    }
}

/// Whether `user` has a live link of `purpose` (a pending invitation shows "Resend").
pub async fn live(
    conn: &mut AnyConnection,
    user: Uuid,
    purpose: Purpose,
    now: UnixTime,
) -> CoreResult<Option<UnixTime>> {
    Ok(sqlx::query_scalar(
        "SELECT expires_at FROM account_links WHERE user_id = $1 AND purpose = $2 \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(user.to_string())
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

impl Unusable {
    /// What the page says.
    pub fn message(self, purpose: Purpose) -> &'static str {
        match (self, purpose) {
            (Unusable::Used, Purpose::Invitation) => {
                "This invitation was already used. Sign in with the password you chose, or ask your administrator for a new invitation."
            }
            (Unusable::Expired, Purpose::Invitation) => {
                "This invitation has expired (they last 72 hours). Ask your administrator to send a new one."
            }
            (Unusable::Unknown, Purpose::Invitation) => {
                "This invitation link is not valid: it may have been replaced by a newer one. Use the newest email, or ask your administrator."
            }
            (Unusable::Used, _) => "This link was already used. Each link works once.",
            (Unusable::Expired, _) => {
                "This link has expired (they last 24 hours). Ask your administrator for a new one."
            }
            (Unusable::Unknown, _) => {
                "This link is not valid: it may have been replaced by a newer one. Use the newest email."
            }
        }
    }
}
