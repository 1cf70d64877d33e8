//! Domain errors as a person sees them.

use tessera_core::CoreError;

use super::app_state;
use crate::error::AppError;

const SETUP_LINK_INVALID: &str =
    "This setup link is invalid, expired or already used. Restart the server to print a new one.";
/// Said when attempts for one account are queued past the limit: nobody failed anything.
const BUSY: &str = "This account is signing in several times at once. Try again in a moment.";

/// The one place domain errors become what a person sees, so a server function ends its
/// calls with `?`. Internal detail is logged, not shown.
impl From<CoreError> for AppError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::InvalidCredentials => AppError::InvalidCredentials,
            CoreError::WrongCurrentPassword => AppError::WrongCurrentPassword,
            CoreError::Throttled { retry_at, locked } => {
                let now = app_state().map(|s| s.tessera.now()).unwrap_or(retry_at);
                let secs = (retry_at - now).max(1);
                let message = if locked {
                    format!(
                        "Too many failed attempts. Sign-in is paused for {} minute(s).",
                        (secs + 59) / 60
                    )
                } else {
                    format!("Too many failed attempts. Try again in {secs} second(s).")
                };
                AppError::Throttled {
                    message,
                    retry_after_secs: secs,
                }
            }
            CoreError::Invalid { field, message } => AppError::Invalid {
                field: field.to_string(),
                message,
            },
            CoreError::Conflict(message) => AppError::Conflict { message },
            CoreError::Busy => AppError::Throttled {
                message: BUSY.into(),
                retry_after_secs: 1,
            },
            CoreError::NotFound => AppError::NotFound {
                message: "That was not found.".into(),
            },
            CoreError::SessionEnded => AppError::SignedOut,
            CoreError::StepUpRequired => AppError::StepUpRequired,
            CoreError::Forbidden(message) => AppError::NotPermitted {
                message: message.into(),
            },
            CoreError::TwoFactorRequired => AppError::TwoFactorRequired,
            CoreError::SetupTokenInvalid => AppError::Invalid {
                field: "token".into(),
                message: SETUP_LINK_INVALID.into(),
            },
            CoreError::AlreadySetUp => AppError::Conflict {
                message: "Tessera is already set up. Sign in instead.".into(),
            },
            CoreError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                AppError::Unavailable
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                AppError::Internal
            }
        }
    }
}
