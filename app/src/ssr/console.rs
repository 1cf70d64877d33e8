//! What the console's server functions share: reading a view of the users list from its
//! URL form, and a row as the list shows it.

use tessera_core::accounts::Role;
use tessera_core::clock::format_utc;
use tessera_core::directory::{self, AccountFilter, Cursor, Sort, TwoStep, UserRow, View};

use crate::api::admin::users::{UserListRow, UsersQuery};
use crate::error::AppError;

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The view and page position a query names; unknown values are refused, not ignored.
pub fn view_of(query: &UsersQuery) -> Result<(View, Option<Cursor>), AppError> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let two_step = match given(&query.two_step) {
        None => None,
        Some("on") => Some(TwoStep::On),
        Some("not_set_up") => Some(TwoStep::NotSetUp),
        Some(_) => {
            return Err(invalid(
                "two_step",
                "Two-step status must be \"on\" or \"not_set_up\".",
            ))
        }
    };
    let role = match given(&query.role) {
        None => None,
        Some(r) => Some(Role::parse(r).map_err(AppError::from)?),
    };
    let account = match given(&query.status) {
        None => None,
        Some("active") => Some(AccountFilter::Active),
        Some("disabled") => Some(AccountFilter::Disabled),
        Some("pending") => Some(AccountFilter::Pending),
        Some("locked") => Some(AccountFilter::Locked),
        Some("inactive") => Some(AccountFilter::Inactive),
        Some(_) => {
            return Err(invalid(
                "status",
                "Account status must be active, disabled, pending, locked or inactive.",
            ))
        }
    };
    let sort = match given(&query.sort) {
        None | Some("name") => Sort::Name,
        Some("last_sign_in") => Sort::LastSignIn,
        Some("created") => Sort::Created,
        Some(_) => return Err(invalid("sort", "Sort by name, last_sign_in or created.")),
    };
    let cursor = given(&query.cursor)
        .map(Cursor::decode)
        .transpose()
        .map_err(AppError::from)?;
    Ok((
        View {
            two_step,
            role,
            account,
            search: query.q.as_deref().and_then(directory::normalise_search),
            sort,
        },
        cursor,
    ))
}

/// A row as the list shows it.
pub fn list_row(row: &UserRow) -> UserListRow {
    let status = if !row.active {
        "disabled"
    } else if row.locked_until.is_some() {
        "locked"
    } else if row.pending {
        "pending"
    } else {
        "active"
    };
    UserListRow {
        id: row.id.to_string(),
        name: row.display_name.clone(),
        email: row.email.clone(),
        role: row.role.as_str().into(),
        status: status.into(),
        locked_until: row.locked_until.map(format_utc),
        two_step_on: row.two_factor_enabled,
        passkeys: row.passkeys,
        has_app: row.has_app,
        backup_codes_left: row.backup_codes_left,
        last_sign_in: row.last_sign_in_at.map(format_utc),
        last_reminded: row.last_reminded_at.map(format_utc),
        created: format_utc(row.created_at),
    }
}
