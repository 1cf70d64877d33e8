//! Temporary exceptions from a user's page: granted with an end date (at most 14 days)
//! and a reason, ended early. Helpdesk members may do both for staff (the guard's table);
//! the domain refuses it for oneself, for admins while admins must use a passkey, and
//! when two-step authentication is not required.

use leptos::prelude::*;

use crate::encoding::StrictJson;
use crate::error::AppError;

/// `last_day` is `YYYY-MM-DD`: the exception lasts through that day (UTC). Returns when
/// it ends.
#[server(prefix = "/api/admin", endpoint = "grant_exception", input = StrictJson)]
pub async fn grant_exception(
    id: String,
    last_day: String,
    reason: String,
) -> Result<String, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<GrantException>()?;
    let until = state
        .tessera
        .grant_exception(
            &caller,
            crate::ssr::parse_id(&id)?,
            tessera_core::service::parse_date(&last_day)?,
            &reason,
            &crate::ssr::client_info(),
        )
        .await?;
    Ok(tessera_core::clock::format_utc(until))
}

/// Returns whether there was one to end.
#[server(prefix = "/api/admin", endpoint = "end_exception", input = StrictJson)]
pub async fn end_exception(id: String) -> Result<bool, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<EndException>()?;
    Ok(state
        .tessera
        .end_exception(
            &caller,
            crate::ssr::parse_id(&id)?,
            &crate::ssr::client_info(),
        )
        .await?)
}
