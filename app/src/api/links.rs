//! The mailed links' pages: an invitation, a password-reset link, a new address's
//! confirmation. Open to anyone holding the link (the guard's table says so); reading the
//! link's details writes nothing, the form's submission uses it up.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// What a link's page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub email: String,
    pub name: String,
    pub new_email: Option<String>,
    pub expires: String,
}

/// Where the browser goes next after accepting an invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedInvitation {
    pub next: String,
}

/// `kind`: "invitation", "password_reset" or "email_change".
#[server(prefix = "/api", endpoint = "link_details", input = StrictJson)]
pub async fn link_details(token: String, kind: String) -> Result<LinkSummary, AppError> {
    use tessera_core::links::Purpose;
    let state = crate::ssr::app_state()?;
    let purpose = match kind.as_str() {
        "invitation" => Purpose::Invitation,
        "password_reset" => Purpose::PasswordReset,
        "email_change" => Purpose::EmailChange,
        _ => {
            return Err(AppError::Invalid {
                field: "kind".into(),
                message: "Unknown kind of link.".into(),
            })
        }
    };
    let info = state.tessera.link_info(&token, purpose).await?;
    Ok(LinkSummary {
        email: info.email,
        name: info.name,
        new_email: info.new_email,
        expires: tessera_core::clock::format_utc(info.expires_at),
    })
}

#[server(prefix = "/api", endpoint = "accept_invitation", input = StrictJson)]
pub async fn accept_invitation(
    token: String,
    password: String,
) -> Result<AcceptedInvitation, AppError> {
    use crate::ssr::{app_state, client_info, session_cookie};
    let state = app_state()?;
    let client = client_info();
    let outcome = state
        .tessera
        .accept_invitation(&token, &password, &client)
        .await?;
    // Whoever was signed in on this browser is signed out once the invitation is accepted
    // (not before: a refused password leaves them as they were).
    if let Some(previous) = crate::ssr::optional_caller() {
        state.tessera.sign_out(&previous, &client).await?;
    }
    session_cookie::set(&state, &outcome.token, None);
    Ok(AcceptedInvitation {
        next: crate::ssr::guard::home_for(outcome.state).to_string(),
    })
}

#[server(prefix = "/api", endpoint = "reset_password_with_link", input = StrictJson)]
pub async fn reset_password_with_link(token: String, password: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    Ok(state
        .tessera
        .reset_password_with_link(&token, &password, &crate::ssr::client_info())
        .await?)
}

/// Returns the address now used to sign in.
#[server(prefix = "/api", endpoint = "confirm_email_change", input = StrictJson)]
pub async fn confirm_email_change(token: String) -> Result<String, AppError> {
    let state = crate::ssr::app_state()?;
    Ok(state
        .tessera
        .confirm_email_change(&token, &crate::ssr::client_info())
        .await?)
}
