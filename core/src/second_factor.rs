//! Storage of second factors: authenticator apps and backup codes. The rules (replay
//! watermark, single use) are enforced by the statements themselves, so they hold under
//! any number of concurrent requests and instances.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::{CoreResult, UnixTime};

/// Enrolments not confirmed within this time are void.
pub const ENROLMENT_LIFETIME_SECS: i64 = 15 * 60;

pub struct StoredTotp {
    pub key_sealed: String,
    pub last_step: i64,
    pub created_at: UnixTime,
    pub last_used_at: Option<UnixTime>,
}

pub async fn totp(conn: &mut AnyConnection, user: Uuid) -> CoreResult<Option<StoredTotp>> {
    let row = sqlx::query(
        "SELECT key_sealed, last_step, created_at, last_used_at FROM totp_credentials WHERE user_id = $1",
    )
    .bind(user.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(StoredTotp {
            key_sealed: r.try_get("key_sealed")?,
            last_step: r.try_get("last_step")?,
            created_at: r.try_get("created_at")?,
            last_used_at: r.try_get("last_used_at")?,
        })
    })
    .transpose()
}

/// Moves the watermark to `step` if it is later than the stored one: exactly one of any
/// number of concurrent uses of the same code gets `true`.
pub async fn advance_totp_watermark(
    conn: &mut AnyConnection,
    user: Uuid,
    step: i64,
    now: UnixTime,
) -> CoreResult<bool> {
    let result = sqlx::query(
        "UPDATE totp_credentials SET last_step = $1, last_used_at = $2 WHERE user_id = $3 AND last_step < $1",
    )
    .bind(step)
    .bind(now)
    .bind(user.to_string())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Starts (or restarts) setting up an app.
pub async fn begin_totp_enrolment(
    conn: &mut AnyConnection,
    user: Uuid,
    key_sealed: &str,
    now: UnixTime,
) -> CoreResult<()> {
    sqlx::query(
        "INSERT INTO totp_enrolments (user_id, key_sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET key_sealed = $2, created_at = $3",
    )
    .bind(user.to_string())
    .bind(key_sealed)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn totp_enrolment(
    conn: &mut AnyConnection,
    user: Uuid,
    now: UnixTime,
) -> CoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT key_sealed FROM totp_enrolments WHERE user_id = $1 AND created_at > $2",
    )
    .bind(user.to_string())
    .bind(now - ENROLMENT_LIFETIME_SECS)
    .fetch_optional(conn)
    .await?)
}

/// Makes the enrolled key the user's app (replacing any previous one). `confirmed_step`
/// becomes the watermark, so the confirming code cannot also be used to sign in.
pub async fn confirm_totp(
    conn: &mut AnyConnection,
    user: Uuid,
    key_sealed: &str,
    confirmed_step: i64,
    now: UnixTime,
) -> CoreResult<()> {
    // Taken by the statement that ends it: of two confirmations at once, one wins.
    let taken = sqlx::query("DELETE FROM totp_enrolments WHERE user_id = $1 AND key_sealed = $2")
        .bind(user.to_string())
        .bind(key_sealed)
        .execute(&mut *conn)
        .await?;
    if !crate::db::changed_one(&taken) {
        return Err(crate::CoreError::invalid(
            "code",
            "This setup was already finished or has expired. Start adding the app again.",
        ));
    }
    sqlx::query(
        "INSERT INTO totp_credentials (user_id, key_sealed, last_step, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET key_sealed = $2, last_step = $3, created_at = $4, last_used_at = NULL",
    )
    .bind(user.to_string())
    .bind(key_sealed)
    .bind(confirmed_step)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_totp(conn: &mut AnyConnection, user: Uuid) -> CoreResult<bool> {
    let result = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// How many two-step methods (passkeys and the authenticator app) the user has.
pub async fn methods(conn: &mut AnyConnection, user: Uuid) -> CoreResult<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) \
              + (SELECT COUNT(*) FROM totp_credentials WHERE user_id = $1)",
    )
    .bind(user.to_string())
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Replaces every backup code of the user with `hashed` (lookup, hash) pairs: the old
/// ones die in the same transaction the new ones are born.
pub async fn replace_backup_codes(
    conn: &mut AnyConnection,
    user: Uuid,
    hashed: &[(String, String)],
    now: UnixTime,
) -> CoreResult<()> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    for (lookup, hash) in hashed {
        sqlx::query(
            "INSERT INTO backup_codes (user_id, lookup, code_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.to_string())
        .bind(lookup)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The hash of the unused code with this lookup tag, if any.
pub async fn unused_backup_code_hash(
    conn: &mut AnyConnection,
    user: Uuid,
    lookup: &str,
) -> CoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT code_hash FROM backup_codes WHERE user_id = $1 AND lookup = $2 AND used_at IS NULL",
    )
    .bind(user.to_string())
    .bind(lookup)
    .fetch_optional(conn)
    .await?)
}

/// Marks the code used. One statement: of concurrent redemptions exactly one gets `true`.
pub async fn redeem_backup_code(
    conn: &mut AnyConnection,
    user: Uuid,
    lookup: &str,
    now: UnixTime,
) -> CoreResult<bool> {
    let result = sqlx::query(
        "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND lookup = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user.to_string())
    .bind(lookup)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn unused_backup_codes(conn: &mut AnyConnection, user: Uuid) -> CoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user.to_string())
    .fetch_one(conn)
    .await?)
}

pub async fn delete_backup_codes(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Everything of the user's second factors: the app, an app being set up, backup codes.
/// (Passkeys and their ceremonies are in [`crate::passkeys`].)
pub async fn delete_everything(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    for sql in [
        "DELETE FROM totp_credentials WHERE user_id = $1",
        "DELETE FROM totp_enrolments WHERE user_id = $1",
        "DELETE FROM backup_codes WHERE user_id = $1",
    ] {
        sqlx::query(sql)
            .bind(user.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
