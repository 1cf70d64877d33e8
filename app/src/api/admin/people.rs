//! Adding people (an invitation, a CSV import) and changing who they are (name, address,
//! a password-reset link). Admins only (the prefix's default), except the password-reset
//! link, which helpdesk members may send to staff; every change needs a fresh step-up.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// A new invitation: the person's id and until when the link works.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationSent {
    pub id: String,
    pub expires: String,
}

/// One row of an import preview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportLine {
    pub line: u64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub problem: Option<String>,
}

/// What importing a file would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportCheck {
    pub valid: usize,
    pub problems: usize,
    /// Every row with a problem, and the first rows without.
    pub rows: Vec<ImportLine>,
    pub hash: String,
}

/// Good rows shown in a preview besides every problem.
#[cfg(feature = "ssr")]
const SAMPLE: usize = 20;

#[server(prefix = "/api/admin", endpoint = "invite_user", input = StrictJson)]
pub async fn invite_user(
    email: String,
    name: String,
    role: String,
) -> Result<InvitationSent, AppError> {
    use tessera_core::service::{By, Invitee};
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<InviteUser>()?;
    let invitee = Invitee::parse(&email, &name, &role)?;
    let client = crate::ssr::client_info();
    let sent = state
        .tessera
        .invite_user(By::Console(&caller, &client), &invitee)
        .await?;
    Ok(InvitationSent {
        id: sent.id.to_string(),
        expires: tessera_core::clock::format_utc(sent.expires_at),
    })
}

#[server(prefix = "/api/admin", endpoint = "resend_invitation", input = StrictJson)]
pub async fn resend_invitation(id: String) -> Result<InvitationSent, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ResendInvitation>()?;
    let client = crate::ssr::client_info();
    let sent = state
        .tessera
        .resend_invitation(By::Console(&caller, &client), crate::ssr::parse_id(&id)?)
        .await?;
    Ok(InvitationSent {
        id: sent.id.to_string(),
        expires: tessera_core::clock::format_utc(sent.expires_at),
    })
}

/// Returns until when the link works.
#[server(prefix = "/api/admin", endpoint = "send_password_reset", input = StrictJson)]
pub async fn send_password_reset(id: String) -> Result<String, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SendPasswordReset>()?;
    let until = state
        .tessera
        .send_password_reset(
            &caller,
            crate::ssr::parse_id(&id)?,
            &crate::ssr::client_info(),
        )
        .await?;
    Ok(tessera_core::clock::format_utc(until))
}

/// Says what happened to the address: "unchanged", "confirmation_sent" (it changes once
/// the new address confirms) or "invitation_resent" (not accepted yet: changed at once).
#[server(prefix = "/api/admin", endpoint = "edit_user", input = StrictJson)]
pub async fn edit_user(id: String, name: String, email: String) -> Result<String, AppError> {
    use tessera_core::service::AddressChange;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<EditUser>()?;
    let change = state
        .tessera
        .edit_user(
            &caller,
            crate::ssr::parse_id(&id)?,
            &name,
            &email,
            &crate::ssr::client_info(),
        )
        .await?;
    Ok(match change {
        AddressChange::Unchanged => "unchanged",
        AddressChange::ConfirmationSent => "confirmation_sent",
        AddressChange::InvitationResent => "invitation_resent",
    }
    .to_string())
}

#[server(prefix = "/api/admin", endpoint = "preview_import", input = StrictJson)]
pub async fn preview_import(file: String) -> Result<ImportCheck, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<PreviewImport>()?;
    let client = crate::ssr::client_info();
    let preview = state
        .tessera
        .preview_import(By::Console(&caller, &client), &file)
        .await?;
    let mut good = 0;
    let rows = preview
        .rows
        .into_iter()
        .filter(|r| {
            r.problem.is_some() || {
                good += 1;
                good <= SAMPLE
            }
        })
        .map(|r| ImportLine {
            line: r.line,
            email: r.email,
            name: r.name,
            role: r.role,
            problem: r.problem,
        })
        .collect();
    Ok(ImportCheck {
        valid: preview.valid,
        problems: preview.problems,
        rows,
        hash: preview.hash,
    })
}

/// Returns how many people were added.
#[server(prefix = "/api/admin", endpoint = "import_users", input = StrictJson)]
pub async fn import_users(file: String, hash: String) -> Result<usize, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ImportUsers>()?;
    let client = crate::ssr::client_info();
    Ok(state
        .tessera
        .import_users(By::Console(&caller, &client), &file, &hash)
        .await?)
}
