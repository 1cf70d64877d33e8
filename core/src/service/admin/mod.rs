//! The admin console's flows: the users list and a user's page ([`users`]), its export
//! ([`export`]), what admins and helpdesk members do to an account ([`actions`]),
//! reminders ([`reminders`]), adding people by invitation or from a file and changing
//! their name or address ([`people`], [`import`]), the organisation's settings
//! ([`settings`]).
//!
//! Who may call them at all is the guard's job (by path, `/api/admin/…`); the rules that
//! depend on whom an action is aimed at are here, in [`may_act_on`]: nobody acts on
//! themselves from the console, helpdesk members only on staff, auditors on nobody. Every
//! change also needs a fresh step-up ([`Tessera::require_step_up`]).

pub(crate) mod actions;
mod apps;
mod audit_trail;
mod deadline;
mod exceptions;
mod export;
mod import;
mod people;
mod reminders;
mod report;
mod settings;
mod users;

use uuid::Uuid;

use super::Caller;
use crate::accounts::{self, Role, User};
use crate::{CoreError, CoreResult, Tessera};

pub use actions::ResetOutcome;
pub use apps::RegisteredApp;
pub use audit_trail::{AuditPage, AUDIT_COLUMNS};
pub use exceptions::Exception;
pub use export::COLUMNS as EXPORT_COLUMNS;
pub use import::{file_hash, ImportPreview, ImportRow, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS};
pub use people::{AddressChange, By, Invited, Invitee};
pub use reminders::RemindOutcome;
pub use report::{CoveragePoint, EventLine as ReportEvent, Report};
pub use settings::{format_date, format_day, parse_date, Settings};
pub use users::{SessionView, UserDetail};

/// Whether `actor` may change `target` from the console (the guard has already let only
/// console roles in).
fn may_act_on(actor: &Caller, target: &User) -> CoreResult<()> {
    if actor.user.id == target.id {
        return Err(CoreError::Forbidden(
            "You cannot do this to your own account from the console. Use your profile, or \
             ask another administrator.",
        ));
    }
    match (actor.user.role, target.role) {
        (Role::Admin, _) => Ok(()),
        (Role::Helpdesk, Role::Staff) => Ok(()),
        (Role::Helpdesk, _) => Err(CoreError::Forbidden(
            "Helpdesk members look after staff accounts only. Ask an administrator.",
        )),
        _ => Err(CoreError::Forbidden(
            "Your role can look at accounts but not change them.",
        )),
    }
}

/// Only admins (roles, enabling and disabling accounts).
fn admins_only(actor: &Caller) -> CoreResult<()> {
    if actor.user.role == Role::Admin {
        Ok(())
    } else {
        Err(CoreError::Forbidden("Only administrators can do this."))
    }
}

impl Tessera {
    /// The user a console action is about; an unknown id is "not found".
    async fn target(&self, id: Uuid) -> CoreResult<User> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::user_by_id(&mut conn, id)
            .await?
            .ok_or(CoreError::NotFound)
    }
}
