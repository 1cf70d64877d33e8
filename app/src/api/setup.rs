//! First-run setup: checking the one-time link and creating the organisation.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetupInfo {
    /// No organisation exists yet.
    pub needed: bool,
    pub token_valid: bool,
}

#[server(prefix = "/api", endpoint = "setup_status", input = StrictJson)]
pub async fn setup_status(token: String) -> Result<SetupInfo, AppError> {
    let state = crate::ssr::app_state()?;
    let needed = state.tessera.organisation().await?.is_none();
    let token_valid = needed && state.tessera.setup_token_valid(&token).await?;
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
        .await?;
    Ok(())
}
