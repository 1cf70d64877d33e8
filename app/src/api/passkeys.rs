//! Server functions for passkeys. The browser side (the WebAuthn prompt) converts these
//! webauthn-rs-proto types to and from the browser's own credential objects.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
};

use super::types::{MethodAdded, SignInChallenge, SignInResult};
use crate::encoding::StrictJson;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
    /// "iCloud Keychain", "YubiKey 5 NFC" … when the authenticator's AAGUID is well known.
    pub provider: Option<String>,
    /// Synced between devices (iCloud Keychain, Google Password Manager …) rather than
    /// bound to one device, from the credential's backup flags.
    pub synced: bool,
}

/// What the second-step page offers this user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailableMethods {
    pub passkey: bool,
    pub authenticator: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationChallenge {
    pub ceremony: String,
    pub options: CreationChallengeResponse,
}

#[server(prefix = "/api", endpoint = "list_passkeys", input = StrictJson)]
pub async fn list_passkeys() -> Result<Vec<PasskeyInfo>, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ListPasskeys>()?;
    let passkeys = state.tessera.list_passkeys(caller.user.id).await?;
    Ok(passkeys
        .into_iter()
        .map(|p| PasskeyInfo {
            id: p.id.to_string(),
            name: p.name,
            created: format_utc(p.created_at),
            last_used: p.last_used_at.map(format_utc),
            provider: p
                .aaguid
                .as_ref()
                .and_then(tessera_core::passkeys::provider)
                .map(str::to_string),
            synced: p.backup_eligible,
        })
        .collect())
}

#[server(prefix = "/api", endpoint = "second_step_methods", input = StrictJson)]
pub async fn second_step_methods() -> Result<AvailableMethods, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SecondStepMethods>()?;
    let status = state.tessera.two_factor_status(&caller.user).await?;
    Ok(AvailableMethods {
        passkey: status.passkeys > 0,
        authenticator: status.authenticator_added_at.is_some(),
    })
}

/// Registers a passkey from the browser: challenge, the browser's prompt, verification.
/// Returns a plain sentence when anything fails.
pub async fn add_passkey(name: String, password: String) -> Result<MethodAdded, AppError> {
    let challenge = begin_passkey_registration(name, password).await?;
    let credential = crate::passkey_prompt::create(challenge.options)
        .await
        .map_err(prompt_error)?;
    finish_passkey_registration(challenge.ceremony, credential).await
}

/// The second step with a passkey, from the browser.
pub async fn sign_in_with_passkey() -> Result<SignInResult, AppError> {
    let challenge = begin_passkey_sign_in().await?;
    let credential = crate::passkey_prompt::get(challenge.options)
        .await
        .map_err(prompt_error)?;
    second_step_passkey(challenge.ceremony, credential).await
}

fn prompt_error(message: String) -> AppError {
    AppError::Invalid {
        field: "passkey".into(),
        message,
    }
}

#[server(prefix = "/api", endpoint = "begin_passkey_registration", input = StrictJson)]
pub async fn begin_passkey_registration(
    name: String,
    password: String,
) -> Result<RegistrationChallenge, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<BeginPasskeyRegistration>()?;
    let (id, options) = state
        .tessera
        .begin_passkey_registration(&caller, &name, &password, &crate::ssr::client_info())
        .await?;
    Ok(RegistrationChallenge {
        ceremony: id.to_string(),
        options,
    })
}

#[server(prefix = "/api", endpoint = "finish_passkey_registration", input = StrictJson)]
pub async fn finish_passkey_registration(
    ceremony: String,
    credential: RegisterPublicKeyCredential,
) -> Result<MethodAdded, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<FinishPasskeyRegistration>()?;
    let added = state
        .tessera
        .finish_passkey_registration(
            &caller,
            crate::ssr::parse_id(&ceremony)?,
            &credential,
            &crate::ssr::client_info(),
        )
        .await?;
    Ok(crate::ssr::steps::method_added(&state, added))
}

#[server(prefix = "/api", endpoint = "begin_passkey_sign_in", input = StrictJson)]
pub async fn begin_passkey_sign_in() -> Result<SignInChallenge, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<BeginPasskeySignIn>()?;
    let (id, options) = state.tessera.begin_passkey_sign_in(&caller).await?;
    Ok(SignInChallenge {
        ceremony: id.to_string(),
        options,
    })
}

#[server(prefix = "/api", endpoint = "second_step_passkey", input = StrictJson)]
pub async fn second_step_passkey(
    ceremony: String,
    credential: PublicKeyCredential,
) -> Result<SignInResult, AppError> {
    use tessera_core::service::Proof;
    let proof = Proof::Passkey {
        ceremony: crate::ssr::parse_id(&ceremony)?,
        credential: Box::new(credential),
    };
    let caller = crate::ssr::caller_of::<SecondStepPasskey>()?;
    crate::ssr::steps::finish_second_step(caller, proof).await
}

#[server(prefix = "/api", endpoint = "rename_passkey", input = StrictJson)]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RenamePasskey>()?;
    Ok(state
        .tessera
        .rename_passkey(
            &caller,
            crate::ssr::parse_id(&id)?,
            &name,
            &crate::ssr::client_info(),
        )
        .await?)
}

#[server(prefix = "/api", endpoint = "remove_passkey", input = StrictJson)]
pub async fn remove_passkey(id: String, password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemovePasskey>()?;
    Ok(state
        .tessera
        .remove_passkey(
            &caller,
            crate::ssr::parse_id(&id)?,
            &password,
            &crate::ssr::client_info(),
        )
        .await?)
}
