//! The errors a person can see, shared by the server and the browser.
//!
//! Every server function returns `Result<_, AppError>`. The variants are few and stable;
//! each has one plain-language message and one HTTP status, decided here and nowhere
//! else. Internal detail (database text, stack traces) never reaches this type.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AppError {
    #[error("Please sign in.")]
    SignedOut,
    #[error("Finish signing in with your second step first.")]
    NeedsSecondFactor,
    #[error("Set up two-step authentication first.")]
    NeedsSetup,
    #[error("You do not have access to that.")]
    Forbidden,
    /// Not this person's to do, with the reason (their own account, not their role's).
    #[error("{message}")]
    NotPermitted { message: String },
    /// A change from the console needs the password and second factor again first.
    #[error("Confirm it's you: enter your password and your second step again to make changes.")]
    StepUpRequired,
    /// Changes from the console need the person's own two-step authentication.
    #[error("Set up two-step authentication for your own account to make changes here.")]
    TwoFactorRequired,
    #[error("This request did not come from Tessera's own pages and was refused.")]
    CrossOrigin,
    #[error("Email or password is wrong.")]
    InvalidCredentials,
    #[error("Your current password is wrong.")]
    WrongCurrentPassword,
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_secs: i64,
    },
    /// A rule about one field, with the field's name so the page can point at it.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// A request that could not be read at all (wrong types, unknown fields, not JSON).
    #[error("The request could not be read: {message}")]
    BadRequest { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("The request is too large.")]
    TooLarge,
    #[error("{message}")]
    NotFound { message: String },
    #[error("Tessera cannot reach its database right now. Please try again in a minute.")]
    Unavailable,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The browser could not reach the server.
    #[error("Tessera could not be reached. Check your connection and try again.")]
    Network,
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self {
            // A half session is not signed in yet.
            AppError::SignedOut | AppError::InvalidCredentials | AppError::NeedsSecondFactor => 401,
            AppError::NeedsSetup
            | AppError::Forbidden
            | AppError::NotPermitted { .. }
            | AppError::StepUpRequired
            | AppError::TwoFactorRequired
            | AppError::CrossOrigin
            | AppError::WrongCurrentPassword => 403,
            AppError::Throttled { .. } => 429,
            AppError::Invalid { .. } => 422,
            AppError::BadRequest { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::TooLarge => 413,
            AppError::NotFound { .. } => 404,
            AppError::Unavailable => 503,
            AppError::Internal | AppError::Network => 500,
        }
    }

    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m)
            | ServerFnErrorErr::Deserialization(m)
            | ServerFnErrorErr::MissingArg(m) => AppError::BadRequest {
                message: m.chars().take(200).collect(),
            },
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Network,
            ServerFnErrorErr::UnsupportedRequestMethod(m) => AppError::BadRequest { message: m },
            _ => AppError::Internal,
        }
    }
}
