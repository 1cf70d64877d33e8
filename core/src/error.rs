//! The domain's errors. Variants are stable and say what happened in words a support
//! person can search for; the web layer maps each to a status and a message in one place.

use crate::UnixTime;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Sign-in failed. Deliberately says nothing about which part was wrong.
    #[error("email or password is wrong")]
    InvalidCredentials,
    /// Too many failed attempts: nothing is checked until `retry_at`.
    #[error("too many failed attempts; try again later")]
    Throttled { retry_at: UnixTime, locked: bool },
    /// Input that breaks a rule, with the field it concerns and a sentence for the user.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The current password given for a sensitive change is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts for one account are running or waiting right now; nothing was
    /// checked or counted. Try again in a moment.
    #[error("too many attempts for this account at once")]
    Busy,
    #[error("not found")]
    NotFound,
    /// The caller may not do this to this account (not their role's to touch, or their own).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A change from the console needs a fresh step-up (password and second factor within
    /// the last ten minutes) first.
    #[error("confirm it's you first")]
    StepUpRequired,
    /// Changes from the console need the person's own two-step authentication.
    #[error("set up two-step authentication to make changes")]
    TwoFactorRequired,
    /// The session is missing, expired or revoked.
    #[error("session expired or signed out")]
    SessionEnded,
    #[error("the setup link is invalid or has already been used")]
    SetupTokenInvalid,
    #[error("Tessera is already set up")]
    AlreadySetUp,
    /// The database could not be reached: callers must fail closed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for CoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                CoreError::Unavailable(e.to_string())
            }
            sqlx::Error::RowNotFound => CoreError::NotFound,
            sqlx::Error::Database(ref db) if storage_unavailable(db.as_ref()) => {
                CoreError::Unavailable(e.to_string())
            }
            // Checked first and then taken at the same moment by another request (an
            // address, a link): the unique index refused the second, which changed nothing.
            sqlx::Error::Database(ref db)
                if db.kind() == sqlx::error::ErrorKind::UniqueViolation =>
            {
                CoreError::Conflict(
                    "Someone else made the same change at this moment; nothing was saved. \
                     Please look again and retry."
                        .into(),
                )
            }
            other => CoreError::Internal(other.to_string()),
        }
    }
}

/// Whether a database error means "the database cannot be used right now" rather than
/// "this statement is wrong": the request fails closed with 503 and changes nothing.
fn storage_unavailable(e: &dyn sqlx::error::DatabaseError) -> bool {
    let code = e.code();
    if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        postgres_unavailable(code.as_deref())
    } else {
        sqlite_unavailable(code.as_deref())
    }
}

/// PostgreSQL SQLSTATEs of that kind: connection trouble (class 08), out of resources
/// (class 53: too many connections, disk full, out of memory), shutting down or starting
/// (57P01–57P03), a read-only server (25006, a standby), and the two a transaction meets
/// by bad luck rather than bad input: serialization failure and deadlock (40001, 40P01),
/// and a row lock not granted within `lock_timeout` (55P03), answered "try again".
fn postgres_unavailable(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        c.starts_with("08")
            || c.starts_with("53")
            || matches!(
                c,
                "57P01" | "57P02" | "57P03" | "25006" | "40001" | "40P01" | "55P03"
            )
    })
}

/// SQLite result codes of that kind: busy/locked past the busy timeout, read-only, I/O
/// error, disk full, cannot open. Extended codes carry the primary code in their low byte.
fn sqlite_unavailable(code: Option<&str>) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const READONLY: i64 = 8;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    code.and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| [BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN].contains(&(c & 0xff)))
}

pub type CoreResult<T> = Result<T, CoreError>;

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_codes_that_mean_unavailable() {
        for code in ["5", "517", "6", "8", "10", "3850", "13", "14"] {
            assert!(super::sqlite_unavailable(Some(code)), "{code}");
        }
        for code in [None, Some("19"), Some("2067"), Some("1"), Some("23505")] {
            assert!(!super::sqlite_unavailable(code), "{code:?}");
        }
    }

    #[test]
    fn postgres_states_that_mean_unavailable() {
        for code in [
            "08006", "08001", "53300", "53100", "57P01", "57P03", "25006", "40001", "40P01",
            "55P03",
        ] {
            assert!(super::postgres_unavailable(Some(code)), "{code}");
        }
        // Unique and check violations, a syntax error, a missing table: the statement's
        // fault, not the database's.
        for code in [
            None,
            Some("23505"),
            Some("23514"),
            Some("42601"),
            Some("42P01"),
        ] {
            assert!(!super::postgres_unavailable(code), "{code:?}");
        }
    }
}
