//! One user's page and what can be done to the account from it. Every change needs a
//! fresh step-up (`AppError::StepUpRequired` otherwise); the guard's table says which
//! roles may call each function, and the domain refuses what a role may not do to a
//! particular account (helpdesk to an admin, anyone to themselves).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::users::{UserListRow, UsersQuery};
use crate::encoding::StrictJson;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyLine {
    pub name: String,
    pub provider: Option<String>,
    pub created: String,
    pub last_used: Option<String>,
    pub synced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionLine {
    pub browser: String,
    pub address: String,
    pub started: String,
    pub last_seen: String,
    pub full: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub at: String,
    pub kind: String,
    pub detail: String,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPage {
    pub user: UserListRow,
    pub passkeys: Vec<PasskeyLine>,
    /// (added, last used) of the authenticator app.
    pub app: Option<(String, Option<String>)>,
    pub sessions: Vec<SessionLine>,
    /// The last sign-in to each app and protected site: name, when, how (the `amr`).
    pub app_sign_ins: Vec<(String, String, String)>,
    pub events: Vec<EventLine>,
    pub owes_setup_code: bool,
    /// A temporary exception in force.
    pub exception: Option<ExceptionLine>,
    /// Whether an exception could be granted to them (required, and not an admin who
    /// must use a passkey).
    pub exceptions_apply: bool,
    /// The dates an exception may end on: today to 14 days from today (`YYYY-MM-DD`).
    pub exception_days: (String, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionLine {
    pub until: String,
    pub reason: String,
    /// The email of whoever granted it.
    pub granted_by: String,
    pub granted: String,
}

/// What a reset gives the admin to pass on, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetResult {
    pub setup_code: String,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemindResult {
    pub sent: u64,
    pub skipped_recent: u64,
    pub skipped_other: u64,
    pub queued: i64,
}

#[server(prefix = "/api/admin", endpoint = "user_details", input = StrictJson)]
pub async fn user_details(id: String) -> Result<UserPage, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<UserDetails>()?;
    let detail = state
        .tessera
        .user_detail(crate::ssr::parse_id(&id)?)
        .await?;
    let now = state.tessera.now();
    Ok(UserPage {
        user: crate::ssr::console::list_row(&detail.row, &caller.organisation.policy, now),
        exception: detail.exception.as_ref().map(|e| ExceptionLine {
            until: tessera_core::service::format_day(e.until - 1),
            reason: e.reason.clone(),
            granted_by: e.granted_by.clone(),
            granted: format_utc(e.granted_at),
        }),
        exceptions_apply: caller.organisation.policy.required
            && caller
                .organisation
                .policy
                .exceptions_apply_to(detail.row.role),
        exception_days: (
            tessera_core::service::format_date(now),
            tessera_core::service::format_date(
                now + (tessera_core::policy::MAX_EXCEPTION_DAYS - 1)
                    * tessera_core::policy::DAY_SECS,
            ),
        ),
        passkeys: detail
            .passkeys
            .iter()
            .map(|p| PasskeyLine {
                name: p.name.clone(),
                provider: p
                    .aaguid
                    .as_ref()
                    .and_then(tessera_core::passkeys::provider)
                    .map(str::to_string),
                created: format_utc(p.created_at),
                last_used: p.last_used_at.map(format_utc),
                synced: p.backup_eligible,
            })
            .collect(),
        app: detail
            .app
            .map(|(added, used)| (format_utc(added), used.map(format_utc))),
        sessions: detail
            .sessions
            .iter()
            .map(|s| SessionLine {
                browser: s.user_agent.clone(),
                address: s.client_addr.clone(),
                started: format_utc(s.created_at),
                last_seen: format_utc(s.last_seen_at),
                full: s.full,
            })
            .collect(),
        app_sign_ins: detail
            .app_sign_ins
            .iter()
            .map(|(name, at, how)| (name.clone(), format_utc(*at), how.clone()))
            .collect(),
        events: detail
            .events
            .iter()
            .map(|e| EventLine {
                at: format_utc(e.at),
                kind: e.kind.clone(),
                detail: e.detail.clone(),
                address: e.client_addr.clone(),
            })
            .collect(),
        owes_setup_code: detail.owes_setup_code,
    })
}

#[server(prefix = "/api/admin", endpoint = "reset_two_factor", input = StrictJson)]
pub async fn reset_two_factor(id: String, reason: String) -> Result<ResetResult, AppError> {
    use tessera_core::clock::format_utc;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ResetTwoFactor>()?;
    let outcome = state
        .tessera
        .reset_two_factor(
            &caller,
            crate::ssr::parse_id(&id)?,
            &reason,
            &crate::ssr::client_info(),
        )
        .await?;
    Ok(ResetResult {
        setup_code: outcome.setup_code.display(),
        expires: format_utc(outcome.expires_at),
    })
}

#[server(prefix = "/api/admin", endpoint = "unlock_user", input = StrictJson)]
pub async fn unlock_user(id: String) -> Result<(), AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<UnlockUser>()?;
    Ok(state
        .tessera
        .unlock_user(
            &caller,
            crate::ssr::parse_id(&id)?,
            &crate::ssr::client_info(),
        )
        .await?)
}

/// Returns how many sessions were ended.
#[server(prefix = "/api/admin", endpoint = "end_user_sessions", input = StrictJson)]
pub async fn end_user_sessions(id: String) -> Result<u64, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<EndUserSessions>()?;
    Ok(state
        .tessera
        .end_user_sessions(
            &caller,
            crate::ssr::parse_id(&id)?,
            &crate::ssr::client_info(),
        )
        .await?)
}

/// Disables (`active` false) or enables an account. Returns whether anything changed.
#[server(prefix = "/api/admin", endpoint = "set_user_active", input = StrictJson)]
pub async fn set_user_active(id: String, active: bool) -> Result<bool, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SetUserActive>()?;
    Ok(state
        .tessera
        .set_user_active(
            &caller,
            crate::ssr::parse_id(&id)?,
            active,
            &crate::ssr::client_info(),
        )
        .await?)
}

/// Returns whether anything changed.
#[server(prefix = "/api/admin", endpoint = "change_user_role", input = StrictJson)]
pub async fn change_user_role(id: String, role: String) -> Result<bool, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ChangeUserRole>()?;
    let role = tessera_core::accounts::Role::parse(&role)?;
    Ok(state
        .tessera
        .change_role(
            &caller,
            crate::ssr::parse_id(&id)?,
            role,
            &crate::ssr::client_info(),
        )
        .await?)
}

/// Reminds these people (ids), with an optional note of the admin's own.
#[server(prefix = "/api/admin", endpoint = "remind_users", input = StrictJson)]
pub async fn remind_users(
    ids: Vec<String>,
    note: Option<String>,
) -> Result<RemindResult, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemindUsers>()?;
    let ids = ids
        .iter()
        .map(|id| crate::ssr::parse_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = state
        .tessera
        .remind(&caller, &ids, note.as_deref(), &crate::ssr::client_info())
        .await?;
    Ok(remind_result(outcome))
}

/// Reminds everyone in a view of the users list.
#[server(prefix = "/api/admin", endpoint = "remind_view", input = StrictJson)]
pub async fn remind_view(
    query: UsersQuery,
    note: Option<String>,
) -> Result<RemindResult, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemindView>()?;
    let (view, _) = crate::ssr::console::view_of(&query.first_page(), &caller.organisation.policy)?;
    let outcome = state
        .tessera
        .remind_view(&caller, &view, note.as_deref(), &crate::ssr::client_info())
        .await?;
    Ok(remind_result(outcome))
}

#[cfg(feature = "ssr")]
fn remind_result(o: tessera_core::service::RemindOutcome) -> RemindResult {
    RemindResult {
        sent: o.sent,
        skipped_recent: o.skipped_recent,
        skipped_other: o.skipped_other,
        queued: o.queued,
    }
}
