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
    #[error("not found")]
    NotFound,
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
            other => CoreError::Internal(other.to_string()),
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
