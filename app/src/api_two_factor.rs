//! Server functions for second factors: the second sign-in step, the authenticator app,
//! backup codes, and turning two-step authentication off. Who may call each is decided by
//! the guard's table (`ssr::guard`), like every other server function.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::SignInResult;
use crate::encoding::StrictJson;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorInfo {
    pub enabled: bool,
    pub organisation_requires: bool,
    /// "2026-11-23 20:02 UTC" when an authenticator app is set up.
    pub authenticator_added: Option<String>,
    pub authenticator_last_used: Option<String>,
    pub backup_codes_left: i64,
    pub backup_codes_low: bool,
}

/// What the page shows while an app is being added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticatorSetup {
    /// `data:image/png;base64,…`
    pub qr_data_url: String,
    pub key_grouped: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticatorAdded {
    /// Shown once, when this app turned two-step authentication on.
    pub backup_codes: Option<Vec<String>>,
    /// Where to go next when this finished the setup wizard.
    pub next: Option<String>,
}

#[server(prefix = "/api", endpoint = "two_factor_status", input = StrictJson)]
pub async fn two_factor_status() -> Result<TwoFactorInfo, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<TwoFactorStatus>()?;
    let status = state
        .tessera
        .two_factor_status(&caller.user)
        .await
        .map_err(crate::ssr::map_core)?;
    Ok(TwoFactorInfo {
        enabled: status.enabled,
        organisation_requires: caller.organisation.require_two_factor,
        authenticator_added: status.authenticator_added_at.map(format_utc),
        authenticator_last_used: status.authenticator_last_used_at.map(format_utc),
        backup_codes_left: status.backup_codes_left,
        backup_codes_low: status.enabled
            && status.backup_codes_left <= tessera_core::backup_codes::LOW,
    })
}

#[server(prefix = "/api", endpoint = "begin_authenticator", input = StrictJson)]
pub async fn begin_authenticator(password: String) -> Result<AuthenticatorSetup, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<BeginAuthenticator>()?;
    let enrolment = state
        .tessera
        .begin_totp(&caller, &password, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)?;
    Ok(AuthenticatorSetup {
        qr_data_url: format!("data:image/png;base64,{}", enrolment.qr_png_base64),
        key_grouped: enrolment.key_grouped,
    })
}

#[server(prefix = "/api", endpoint = "confirm_authenticator", input = StrictJson)]
pub async fn confirm_authenticator(code: String) -> Result<AuthenticatorAdded, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ConfirmAuthenticator>()?;
    let added = state
        .tessera
        .confirm_totp(&caller, &code, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)?;
    Ok(added_response(&state, added))
}

/// What the page learns after a factor was added; a wizard session gets its new cookie.
#[cfg(feature = "ssr")]
pub(crate) fn added_response(
    state: &crate::ssr::AppState,
    added: tessera_core::service::FactorAdded,
) -> AuthenticatorAdded {
    let next = added.new_session.as_ref().map(|token| {
        crate::ssr::session_cookie::set(state, token, None);
        "/".to_string()
    });
    AuthenticatorAdded {
        backup_codes: added
            .backup_codes
            .map(|codes| codes.iter().map(|c| c.display()).collect()),
        next,
    }
}

/// Runs the second step with `proof`; on success the session cookie is replaced.
#[cfg(feature = "ssr")]
pub(crate) async fn finish_second_step(
    caller: std::sync::Arc<tessera_core::service::Caller>,
    proof: tessera_core::service::Proof,
) -> Result<SignInResult, AppError> {
    let state = crate::ssr::app_state()?;
    let outcome = state
        .tessera
        .second_step(&caller, proof, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)?;
    crate::ssr::session_cookie::set(&state, &outcome.token, None);
    Ok(SignInResult { next: "/".into() })
}

/// The second sign-in step. `method` is `"authenticator"` or `"backup_code"`.
#[server(prefix = "/api", endpoint = "second_step", input = StrictJson)]
pub async fn second_step(method: String, code: String) -> Result<SignInResult, AppError> {
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
    let caller = crate::ssr::caller_of::<SecondStep>()?;
    finish_second_step(caller, proof).await
}

#[server(prefix = "/api", endpoint = "regenerate_backup_codes", input = StrictJson)]
pub async fn regenerate_backup_codes(password: String) -> Result<Vec<String>, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RegenerateBackupCodes>()?;
    let codes = state
        .tessera
        .regenerate_backup_codes(&caller, &password, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)?;
    Ok(codes.iter().map(|c| c.display()).collect())
}

#[server(prefix = "/api", endpoint = "disable_two_factor", input = StrictJson)]
pub async fn disable_two_factor(password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<DisableTwoFactor>()?;
    state
        .tessera
        .disable_two_factor(&caller, &password, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)
}

#[server(prefix = "/api", endpoint = "remove_authenticator", input = StrictJson)]
pub async fn remove_authenticator(password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemoveAuthenticator>()?;
    state
        .tessera
        .remove_totp(&caller, &password, &crate::ssr::client_info())
        .await
        .map_err(crate::ssr::map_core)
}
