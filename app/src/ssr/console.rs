//! What the console's server functions share: reading a view of the users list from its
//! URL form, and a row as the list shows it.

use tessera_core::accounts::Role;
use tessera_core::clock::format_utc;
use tessera_core::directory::{self, AccountFilter, Cursor, Sort, TwoStep, UserRow, View};
use tessera_core::policy::{Methods, Person, Policy, Shortfall, Standing};
use tessera_core::service::format_day;
use tessera_core::UnixTime;

use crate::api::admin::users::{UserListRow, UsersQuery};
use crate::error::AppError;

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The view and page position a query names; unknown values are refused, not ignored.
pub fn view_of(query: &UsersQuery, policy: &Policy) -> Result<(View, Option<Cursor>), AppError> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let two_step = match given(&query.two_step) {
        None => None,
        Some("on") => Some(TwoStep::On),
        Some("not_set_up") => Some(TwoStep::NotSetUp),
        Some("grace") => Some(TwoStep::Grace),
        Some("exception") => Some(TwoStep::Exception),
        Some(_) => {
            return Err(invalid(
                "two_step",
                "Two-step status must be on, not_set_up, grace or exception.",
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
            policy: policy.clone(),
        },
        cursor,
    ))
}

/// Where a row stands against the policy, in the list's words: `None` when there is
/// nothing to say beyond on / not set up.
fn policy_note(row: &UserRow, policy: &Policy, now: UnixTime) -> Option<String> {
    if !row.active || row.pending {
        return None;
    }
    let person = Person {
        role: row.role,
        created_at: row.created_at,
        first_sign_in_at: row.first_sign_in_at,
        methods: Methods {
            passkeys: row.passkeys,
            app: row.has_app,
        },
        exception_until: row.exception_until,
    };
    match policy.standing(&person, now) {
        Standing::Exception { until } => Some(format!("Exception until {}", format_day(until - 1))),
        Standing::Grace { until, .. }
            if person.first_sign_in_at.is_none() && policy.deadline.is_none_or(|d| d <= now) =>
        {
            Some(format!(
                "Grace: {} days from first sign-in",
                (until - now) / tessera_core::policy::DAY_SECS
            ))
        }
        Standing::Grace { until, .. } => Some(format!("Grace until {}", format_day(until - 1))),
        Standing::MustSetUp(Shortfall::AdminNeedsPasskey) => Some("Needs a passkey".into()),
        Standing::MustSetUp(Shortfall::MethodNotAllowed) => Some("Method not allowed".into()),
        _ => None,
    }
}

/// A row as the list shows it.
pub fn list_row(row: &UserRow, policy: &Policy, now: UnixTime) -> UserListRow {
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
        policy_note: policy_note(row, policy, now),
    }
}
