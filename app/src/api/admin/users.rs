//! The users list: one page of a view, and the counts at the top. Viewing is open to every
//! console role (see the guard's table).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// A view of the list as the URL carries it (`/admin/users?two_step=not_set_up&q=ann`).
/// Every field is optional; unknown values are refused with a clear message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsersQuery {
    /// "on", "not_set_up", "grace" or "exception".
    pub two_step: Option<String>,
    /// "admin", "helpdesk", "auditor" or "staff".
    pub role: Option<String>,
    /// "active", "disabled", "pending", "locked" or "inactive".
    pub status: Option<String>,
    /// A prefix of a name or an email.
    pub q: Option<String>,
    /// "name" (default), "last_sign_in" or "created".
    pub sort: Option<String>,
    /// Where the page starts (from a previous page's links).
    pub cursor: Option<String>,
}

impl UsersQuery {
    /// The query string of this view (without `?`), for links; `cursor` left out unless
    /// given.
    pub fn to_query_string(&self, cursor: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (key, value) in [
            ("two_step", &self.two_step),
            ("role", &self.role),
            ("status", &self.status),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((key, v));
            }
        }
        if let Some(c) = cursor {
            pairs.push(("cursor", c));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same view without its page position.
    pub fn first_page(&self) -> UsersQuery {
        UsersQuery {
            cursor: None,
            ..self.clone()
        }
    }
}

pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One person in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserListRow {
    pub id: String,
    pub name: String,
    pub email: String,
    /// "admin", "helpdesk", "auditor", "staff".
    pub role: String,
    /// "active", "disabled", "pending" (no password yet) or "locked".
    pub status: String,
    /// "2026-11-26 14:00 UTC" when locked.
    pub locked_until: Option<String>,
    pub two_step_on: bool,
    pub passkeys: i64,
    pub has_app: bool,
    pub backup_codes_left: i64,
    pub last_sign_in: Option<String>,
    pub last_reminded: Option<String>,
    pub created: String,
    /// Where they stand against the policy beyond on / not set up: "Grace until 12
    /// December 2026", "Exception until …", "Needs a passkey", "Method not allowed".
    pub policy_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub rows: Vec<UserListRow>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCounts {
    pub all: i64,
    pub two_step_on: i64,
    pub not_set_up: i64,
    pub pending: i64,
    pub disabled: i64,
    pub locked: i64,
    pub inactive: i64,
    /// Messages in the outbox not sent yet (reminders wait there under the mail rate).
    pub mail_waiting: i64,
}

#[server(prefix = "/api/admin", endpoint = "list_users", input = StrictJson)]
pub async fn list_users(query: UsersQuery) -> Result<UsersPage, AppError> {
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<ListUsers>()?;
    let policy = &caller.organisation.policy;
    let (view, cursor) = crate::ssr::console::view_of(&query, policy)?;
    let page = state.tessera.users_page(&view, cursor.as_ref()).await?;
    let now = state.tessera.now();
    Ok(UsersPage {
        rows: page
            .rows
            .iter()
            .map(|row| crate::ssr::console::list_row(row, policy, now))
            .collect(),
        next: page.next.map(|c| c.encode()),
        previous: page.previous.map(|c| c.encode()),
    })
}

#[server(prefix = "/api/admin", endpoint = "count_users", input = StrictJson)]
pub async fn count_users() -> Result<UserCounts, AppError> {
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<CountUsers>()?;
    let c = state.tessera.user_counts().await?;
    Ok(UserCounts {
        all: c.all,
        two_step_on: c.two_step_on,
        not_set_up: c.not_set_up,
        pending: c.pending,
        disabled: c.disabled,
        locked: c.locked,
        inactive: c.inactive,
        mail_waiting: state.tessera.mail_waiting().await?,
    })
}
