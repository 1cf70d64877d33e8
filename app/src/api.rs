//! Server functions: the whole HTTP API of the pages, typed on both sides.
//!
//! Each is a thin adapter: take the caller the guard resolved, call one domain function,
//! map its error. Who may call what is not decided here but in [`crate::ssr::guard`],
//! which every request to `/api/…` passes through before any of these bodies run.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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

/// Where the browser should go after the password step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInResult {
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupInfo {
    /// No organisation exists yet.
    pub needed: bool,
    pub token_valid: bool,
}

#[server(prefix = "/api", endpoint = "me", input = StrictJson)]
pub async fn me() -> Result<Profile, AppError> {
    let caller = crate::ssr::caller_of::<Me>()?;
    Ok(crate::ssr::me_from(&caller))
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
        state
            .tessera
            .sign_out(&previous, &client)
            .await
            .map_err(crate::ssr::map_core)?;
    }
    let outcome = state
        .tessera
        .sign_in(&email, &password, remember, &client)
        .await
        .map_err(crate::ssr::map_core)?;
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
    state
        .tessera
        .sign_out(&caller, &client_info())
        .await
        .map_err(crate::ssr::map_core)?;
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
    state
        .tessera
        .change_password(
            &caller,
            &current_password,
            &new_password,
            &crate::ssr::client_info(),
        )
        .await
        .map_err(crate::ssr::map_core)
}

#[server(prefix = "/api", endpoint = "setup_status", input = StrictJson)]
pub async fn setup_status(token: String) -> Result<SetupInfo, AppError> {
    let state = crate::ssr::app_state()?;
    let needed = state
        .tessera
        .organisation()
        .await
        .map_err(crate::ssr::map_core)?
        .is_none();
    let token_valid = needed
        && state
            .tessera
            .setup_token_valid(&token)
            .await
            .map_err(crate::ssr::map_core)?;
    Ok(SetupInfo {
        needed,
        token_valid,
    })
}

#[server(prefix = "/api", endpoint = "complete_setup", input = StrictJson)]
pub async fn complete_setup(
    token: String,
    organisation_name: String,
    display_name: String,
    email: String,
    password: String,
) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    state
        .tessera
        .complete_setup(
            &token,
            &organisation_name,
            &email,
            &display_name,
            &password,
            &crate::ssr::client_info(),
        )
        .await
        .map(|_| ())
        .map_err(crate::ssr::map_core)
}
