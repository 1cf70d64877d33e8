//! Server functions for two-step authentication itself: the status panel, the
//! authenticator app, the second sign-in step with a code, backup codes, and turning it
//! off. Passkeys are in [`super::passkeys`].

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::types::{MethodAdded, SignInResult};
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
    /// Passkeys and the app together: removing the only one turns two-step off.
    pub methods: i64,
}

/// What the page shows while an app is being added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticatorSetup {
    /// `data:image/png;base64,…`
    pub qr_data_url: String,
    pub key_grouped: String,
}

#[server(prefix = "/api", endpoint = "two_factor_status", input = StrictJson)]
pub async fn two_factor_status() -> Result<TwoFactorInfo, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<TwoFactorStatus>()?;
    let status = state.tessera.two_factor_status(&caller.user).await?;
    Ok(TwoFactorInfo {
        enabled: status.enabled,
        organisation_requires: caller.organisation.policy.required,
        authenticator_added: status.authenticator_added_at.map(format_utc),
        authenticator_last_used: status.authenticator_last_used_at.map(format_utc),
        backup_codes_left: status.backup_codes_left,
        backup_codes_low: status.enabled
            && status.backup_codes_left <= tessera_core::backup_codes::LOW,
        methods: status.methods(),
    })
}

#[server(prefix = "/api", endpoint = "begin_authenticator", input = StrictJson)]
pub async fn begin_authenticator(password: String) -> Result<AuthenticatorSetup, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<BeginAuthenticator>()?;
    let enrolment = state
        .tessera
        .begin_totp(&caller, &password, &crate::ssr::client_info())
        .await?;
    Ok(AuthenticatorSetup {
        qr_data_url: format!("data:image/png;base64,{}", enrolment.qr_png_base64),
        key_grouped: enrolment.key_grouped,
    })
}

#[server(prefix = "/api", endpoint = "confirm_authenticator", input = StrictJson)]
pub async fn confirm_authenticator(code: String) -> Result<MethodAdded, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ConfirmAuthenticator>()?;
    let added = state
        .tessera
        .confirm_totp(&caller, &code, &crate::ssr::client_info())
        .await?;
    Ok(crate::ssr::steps::method_added(&state, added))
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
    crate::ssr::steps::finish_second_step(caller, proof).await
}

#[server(prefix = "/api", endpoint = "regenerate_backup_codes", input = StrictJson)]
pub async fn regenerate_backup_codes(password: String) -> Result<Vec<String>, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RegenerateBackupCodes>()?;
    let codes = state
        .tessera
        .regenerate_backup_codes(&caller, &password, &crate::ssr::client_info())
        .await?;
    Ok(codes.iter().map(|c| c.display()).collect())
}

#[server(prefix = "/api", endpoint = "disable_two_factor", input = StrictJson)]
pub async fn disable_two_factor(password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<DisableTwoFactor>()?;
    Ok(state
        .tessera
        .disable_two_factor(&caller, &password, &crate::ssr::client_info())
        .await?)
}

#[server(prefix = "/api", endpoint = "remove_authenticator", input = StrictJson)]
pub async fn remove_authenticator(password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemoveAuthenticator>()?;
    Ok(state
        .tessera
        .remove_totp(&caller, &password, &crate::ssr::client_info())
        .await?)
}

/// What the setup wizard must ask first, and what it offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WizardStatus {
    /// Two-step authentication was reset: the setup code comes before anything else.
    pub owes_setup_code: bool,
    /// …and it has expired: someone must issue a new one.
    pub setup_code_expired: bool,
    /// Why the person is asked, in plain words.
    pub explanation: String,
    /// The methods that would satisfy the organisation's policy.
    pub passkeys: bool,
    pub app: bool,
    /// Why it may be put off now: "grace", "exception" or "not_required"; `None`: it may not.
    pub skip: Option<String>,
    /// For a grace period, the date from which it may not ("12 December 2026"); for an
    /// exception, its last day. And the days left.
    pub skip_until: Option<String>,
    pub days_left: Option<i64>,
}

#[server(prefix = "/api", endpoint = "setup_wizard_status", input = StrictJson)]
pub async fn setup_wizard_status() -> Result<WizardStatus, AppError> {
    use tessera_core::session::SessionState;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SetupWizardStatus>()?;
    let owes = caller.session.state == SessionState::NeedsSetupCode;
    use tessera_core::service::{format_day, Skip};
    let offer = state.tessera.wizard_offer(&caller).await?;
    let now = state.tessera.now();
    Ok(WizardStatus {
        owes_setup_code: owes,
        setup_code_expired: owes && state.tessera.setup_code_expired(&caller).await?,
        explanation: offer.explanation,
        passkeys: offer.passkeys,
        app: offer.app,
        skip: offer.skip.map(|skip| {
            match skip {
                Skip::Grace { .. } => "grace",
                Skip::Exception { .. } => "exception",
                Skip::NotRequired => "not_required",
            }
            .to_string()
        }),
        skip_until: match offer.skip {
            Some(Skip::Grace { until }) => Some(format_day(until)),
            Some(Skip::Exception { until }) => Some(format_day(until - 1)),
            _ => None,
        },
        days_left: match offer.skip {
            Some(Skip::Grace { until } | Skip::Exception { until }) => {
                Some(crate::ssr::days_left(until, now))
            }
            _ => None,
        },
    })
}

/// Puts off setting up two-step authentication while a grace period or an exception
/// lasts: the session becomes full (password only) and the browser goes home.
#[server(prefix = "/api", endpoint = "skip_setup", input = StrictJson)]
pub async fn skip_setup() -> Result<SignInResult, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SkipSetup>()?;
    let token = state
        .tessera
        .skip_setup(&caller, &crate::ssr::client_info())
        .await?;
    crate::ssr::session_cookie::set(&state, &token, None);
    Ok(SignInResult { next: "/".into() })
}

/// The one-time code from the helpdesk after a reset; the session moves on to the wizard.
#[server(prefix = "/api", endpoint = "enter_setup_code", input = StrictJson)]
pub async fn enter_setup_code(code: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<EnterSetupCode>()?;
    let token = state
        .tessera
        .enter_setup_code(&caller, &code, &crate::ssr::client_info())
        .await?;
    crate::ssr::session_cookie::set(&state, &token, None);
    Ok(())
}
