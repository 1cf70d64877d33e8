//! Signing in and out, who you are, and changing your password.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::types::SignInResult;
use crate::encoding::StrictJson;
use crate::error::AppError;

/// The signed-in person, as the pages show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    pub email: String,
    pub role: String,
    pub organisation: String,
    pub organisation_is_demo: bool,
    pub two_factor_enabled: bool,
    pub organisation_requires_two_factor: bool,
}

#[server(prefix = "/api", endpoint = "me", input = StrictJson)]
pub async fn me() -> Result<Profile, AppError> {
    let caller = crate::ssr::caller_of::<Me>()?;
    Ok(crate::ssr::me_from(&caller))
}

/// The app or protected site waiting for this browser to sign in, by name, if any: the
/// sign-in page says where the person is going.
#[server(prefix = "/api", endpoint = "waiting_for", input = StrictJson)]
pub async fn waiting_for() -> Result<Option<String>, AppError> {
    let state = crate::ssr::app_state()?;
    let Some(parts) = crate::ssr::request_parts() else {
        return Ok(None);
    };
    Ok(crate::ssr::waiting::waiting_for(&state, &parts.headers).await)
}

#[server(prefix = "/api", endpoint = "sign_in", input = StrictJson)]
pub async fn sign_in(
    email: String,
    password: String,
    remember: bool,
) -> Result<SignInResult, AppError> {
    use crate::ssr::{app_state, client_info, session_cookie};
    let state = app_state()?;
    let client = client_info();
    // Whatever session came in is replaced: the id is always new after a password.
    if let Some(previous) = crate::ssr::optional_caller() {
        state.tessera.sign_out(&previous, &client).await?;
    }
    let outcome = state
        .tessera
        .sign_in(&email, &password, remember, &client)
        .await?;
    session_cookie::set(
        &state,
        &outcome.token,
        outcome.persistent.then_some(outcome.max_age_secs),
    );
    Ok(SignInResult {
        next: crate::ssr::guard::home_for(outcome.state).to_string(),
    })
}

#[server(prefix = "/api", endpoint = "sign_out", input = StrictJson)]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::ssr::{app_state, client_info, session_cookie};
    let state = app_state()?;
    let caller = crate::ssr::caller_of::<SignOut>()?;
    state.tessera.sign_out(&caller, &client_info()).await?;
    session_cookie::clear(&state);
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password", input = StrictJson)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ChangePassword>()?;
    Ok(state
        .tessera
        .change_password(
            &caller,
            &current_password,
            &new_password,
            &crate::ssr::client_info(),
        )
        .await?)
}
