//! Proving yourself again before changes from the console: password and your own second
//! factor (passkey, app code or backup code). Remembered ten minutes in the session.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use webauthn_rs_proto::PublicKeyCredential;

use crate::api::types::SignInChallenge;
use crate::encoding::StrictJson;
use crate::error::AppError;

/// The console's view of the person using it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleUser {
    pub display_name: String,
    /// "admin", "helpdesk" or "auditor".
    pub role: String,
    /// Without their own two-step authentication a person can look but not change.
    pub two_factor_enabled: bool,
    /// They stepped up in this session recently: changes are open without asking again.
    pub stepped_up: bool,
    /// Which second factors they can step up with.
    pub has_passkey: bool,
    pub has_app: bool,
}

#[server(prefix = "/api/admin", endpoint = "console_me", input = StrictJson)]
pub async fn console_me() -> Result<ConsoleUser, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ConsoleMe>()?;
    let status = state.tessera.two_factor_status(&caller.user).await?;
    Ok(ConsoleUser {
        display_name: caller.user.display_name.clone(),
        role: caller.user.role.as_str().into(),
        two_factor_enabled: caller.user.two_factor_enabled,
        stepped_up: caller.session.stepped_up_recently(state.tessera.now()),
        has_passkey: status.passkeys > 0,
        has_app: status.authenticator_added_at.is_some(),
    })
}

/// The passkey prompt for a step-up.
#[server(prefix = "/api/admin", endpoint = "begin_step_up_passkey", input = StrictJson)]
pub async fn begin_step_up_passkey() -> Result<SignInChallenge, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<BeginStepUpPasskey>()?;
    let (id, options) = state.tessera.begin_passkey_sign_in(&caller).await?;
    Ok(SignInChallenge {
        ceremony: id.to_string(),
        options,
    })
}

/// Step-up with the password and an app code (`method` "authenticator") or a backup code
/// (`method` "backup_code").
#[server(prefix = "/api/admin", endpoint = "step_up_with_code", input = StrictJson)]
pub async fn step_up_with_code(
    password: String,
    method: String,
    code: String,
) -> Result<(), AppError> {
    use tessera_core::service::Proof;
    let proof = match method.as_str() {
        "authenticator" => Proof::AuthenticatorCode(code),
        "backup_code" => Proof::BackupCode(code),
        _ => {
            return Err(AppError::BadRequest {
                message: "method must be \"authenticator\" or \"backup_code\"".into(),
            })
        }
    };
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<StepUpWithCode>()?;
    Ok(state
        .tessera
        .step_up(&caller, &password, proof, &crate::ssr::client_info())
        .await?)
}

/// Step-up with the password and a passkey's answer to [`begin_step_up_passkey`].
#[server(prefix = "/api/admin", endpoint = "step_up_with_passkey", input = StrictJson)]
pub async fn step_up_with_passkey(
    password: String,
    ceremony: String,
    credential: PublicKeyCredential,
) -> Result<(), AppError> {
    use tessera_core::service::Proof;
    let proof = Proof::Passkey {
        ceremony: crate::ssr::parse_id(&ceremony)?,
        credential: Box::new(credential),
    };
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<StepUpWithPasskey>()?;
    Ok(state
        .tessera
        .step_up(&caller, &password, proof, &crate::ssr::client_info())
        .await?)
}

/// The browser side of a passkey step-up: the prompt, then the server's check.
pub async fn step_up_passkey(password: String) -> Result<(), AppError> {
    let challenge = begin_step_up_passkey().await?;
    let credential = crate::passkey_prompt::get(challenge.options)
        .await
        .map_err(|message| AppError::Invalid {
            field: "passkey".into(),
            message,
        })?;
    step_up_with_passkey(password, challenge.ceremony, credential).await
}
