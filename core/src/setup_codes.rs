//! The one-time setup code an admin's reset hands out (valid 24 hours): a reset user needs
//! it, besides the password, before enrolling a new method, so someone who only knows the
//! password cannot take the account over by calling the helpdesk. Same format as a backup
//! code (80 random bits, `7K3M-Q9XD-2HPW-4ZRT`); only its SHA-256 is kept (80 random bits
//! need no slow hash), one per user. Using it is one conditional UPDATE; the row then stays
//! until the user has a method again, and until then every sign-in leads to the wizard.

use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::backup_codes::BackupCode;
use crate::{CoreResult, UnixTime};

pub const LIFETIME_SECS: i64 = 24 * 60 * 60;

fn hash(code: &BackupCode) -> String {
    hex::encode(Sha256::digest(code.secret().as_bytes()))
}

/// Where a reset user stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// No reset is pending.
    None,
    /// The setup code is owed (live or expired: an expired one still blocks enrolment
    /// until a new one is issued).
    CodeOwed,
    /// The code was given; a new method must be set up before anything else.
    MustEnrol,
}

/// A new code for `user`, replacing any earlier one. Returns it, to be shown once.
pub async fn issue(conn: &mut AnyConnection, user: Uuid, now: UnixTime) -> CoreResult<BackupCode> {
    let code = BackupCode::generate();
    sqlx::query(
        "INSERT INTO setup_codes (user_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET code_hash = $2, created_at = $3, expires_at = $4, used_at = NULL",
    )
    .bind(user.to_string())
    .bind(hash(&code))
    .bind(now)
    .bind(now + LIFETIME_SECS)
    .execute(conn)
    .await?;
    Ok(code)
}

/// Where `user` stands after a reset.
pub async fn state(conn: &mut AnyConnection, user: Uuid) -> CoreResult<Reset> {
    let used: Option<Option<i64>> =
        sqlx::query_scalar("SELECT used_at FROM setup_codes WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(match used {
        None => Reset::None,
        Some(None) => Reset::CodeOwed,
        Some(Some(_)) => Reset::MustEnrol,
    })
}

/// Whether `user`'s owed code has expired (so the page can say so).
pub async fn expired(conn: &mut AnyConnection, user: Uuid, now: UnixTime) -> CoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM setup_codes WHERE user_id = $1 AND used_at IS NULL AND expires_at <= $2",
    )
    .bind(user.to_string())
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Uses up `typed` if it is `user`'s live, unused code: of two attempts at once, one wins.
pub async fn take(
    conn: &mut AnyConnection,
    user: Uuid,
    typed: &str,
    now: UnixTime,
) -> CoreResult<bool> {
    let Some(code) = BackupCode::parse(typed) else {
        return Ok(false);
    };
    let result = sqlx::query(
        "UPDATE setup_codes SET used_at = $4 WHERE user_id = $1 AND code_hash = $2 \
         AND expires_at > $3 AND used_at IS NULL",
    )
    .bind(user.to_string())
    .bind(hash(&code))
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(crate::db::changed_one(&result))
}

/// The user has a method again: the reset is over.
pub async fn finish(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    sqlx::query("DELETE FROM setup_codes WHERE user_id = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
