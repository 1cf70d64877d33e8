//! The organisation and its people.
//!
//! A user is identified by a random UUID (the stable handle later given to passkeys),
//! never by the email, which may change. Emails are stored normalised so the unique index
//! means what a person expects: `Ann@Clinic.org ` and `ann@clinic.org` are one account.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::{CoreError, CoreResult, UnixTime};

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_NAME_LEN: usize = 100;

/// A syntactically plausible, normalised email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> CoreResult<Email> {
        let email = input.trim().to_lowercase();
        let bad = |msg: &str| Err(CoreError::invalid("email", msg));
        if email.is_empty() {
            return bad("Enter an email address.");
        }
        if email.len() > MAX_EMAIL_LEN {
            return bad("That email address is too long.");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return bad("Enter an email address like name@clinic.org.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if !domain_ok || !local_ok {
            return bad("Enter an email address like name@clinic.org.");
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person may do. Staff use Tessera to sign in; the console is for the other three:
/// admins may do everything, helpdesk members look after staff (reminders, unlocks,
/// resets — never of admins or other helpdesk members, never policy or roles), auditors
/// only look (users, audit, report, exports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Helpdesk,
    Auditor,
    Staff,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Helpdesk, Role::Auditor, Role::Staff];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Helpdesk => "helpdesk",
            Role::Auditor => "auditor",
            Role::Staff => "staff",
        }
    }

    /// The role as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Helpdesk => "Helpdesk",
            Role::Auditor => "Auditor",
            Role::Staff => "Staff",
        }
    }

    pub fn parse(s: &str) -> CoreResult<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                CoreError::invalid("role", "Role must be admin, helpdesk, auditor or staff.")
            })
    }

    /// Whether this role opens the admin console at all.
    pub fn uses_console(self) -> bool {
        self != Role::Staff
    }
}

/// A display name as the users list sorts and searches it.
pub fn name_key(display_name: &str) -> String {
    display_name.to_lowercase()
}

pub fn validate_display_name(input: &str) -> CoreResult<String> {
    let name = input.trim();
    if name.is_empty() {
        return Err(CoreError::invalid("display_name", "Enter a name."));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(CoreError::invalid(
            "display_name",
            format!("Names can be at most {MAX_NAME_LEN} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "display_name",
            "Names cannot contain control characters.",
        ));
    }
    Ok(name.to_string())
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub password_hash: Option<String>,
    pub two_factor_enabled: bool,
    pub created_at: UnixTime,
}

#[derive(Debug, Clone)]
pub struct Organisation {
    pub name: String,
    pub is_demo: bool,
    /// The two-step policy (the requirement and its deadline, methods, enrolment period).
    pub policy: crate::policy::Policy,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
}

pub const DEFAULT_IDLE_SECS: i64 = 30 * 60;
pub const DEFAULT_ABSOLUTE_SECS: i64 = 12 * 60 * 60;

macro_rules! user_columns {
    () => {
        "id, email, display_name, role, active, password_hash, two_factor_enabled, created_at"
    };
}

fn user_from_row(row: &sqlx::any::AnyRow) -> CoreResult<User> {
    let id: String = row.try_get("id")?;
    Ok(User {
        id: Uuid::parse_str(&id).map_err(|e| CoreError::Internal(e.to_string()))?,
        email: Email(row.try_get("email")?),
        display_name: row.try_get("display_name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        active: row.try_get::<i64, _>("active")? != 0,
        password_hash: row.try_get("password_hash")?,
        two_factor_enabled: row.try_get::<i64, _>("two_factor_enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn organisation(conn: &mut AnyConnection) -> CoreResult<Option<Organisation>> {
    let row = sqlx::query(
        "SELECT name, is_demo, require_two_factor, session_idle_secs, session_absolute_secs, \
         required_since, deadline, deadline_set_at, enrolment_days, allow_passkeys, allow_app, \
         admins_need_passkey FROM organisation WHERE id = 1",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Organisation {
            name: r.try_get("name")?,
            is_demo: r.try_get::<i64, _>("is_demo")? != 0,
            policy: crate::policy::Policy {
                required: r.try_get::<i64, _>("require_two_factor")? != 0,
                required_since: r.try_get("required_since")?,
                deadline: r.try_get("deadline")?,
                deadline_set_at: r.try_get("deadline_set_at")?,
                enrolment_days: r.try_get("enrolment_days")?,
                allow_passkeys: r.try_get::<i64, _>("allow_passkeys")? != 0,
                allow_app: r.try_get::<i64, _>("allow_app")? != 0,
                admins_need_passkey: r.try_get::<i64, _>("admins_need_passkey")? != 0,
            },
            session_idle_secs: r.try_get("session_idle_secs")?,
            session_absolute_secs: r.try_get("session_absolute_secs")?,
        })
    })
    .transpose()
}

pub async fn insert_organisation(
    conn: &mut AnyConnection,
    name: &str,
    is_demo: bool,
    now: UnixTime,
) -> CoreResult<()> {
    let result = sqlx::query(
        "INSERT INTO organisation (id, name, is_demo, session_idle_secs, session_absolute_secs, created_at) \
         VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(name)
    .bind(is_demo as i64)
    .bind(DEFAULT_IDLE_SECS)
    .bind(DEFAULT_ABSOLUTE_SECS)
    .bind(now)
    .execute(conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(CoreError::AlreadySetUp);
    }
    Ok(())
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: Option<&'a str>,
}

pub async fn insert_user(
    conn: &mut AnyConnection,
    new: NewUser<'_>,
    now: UnixTime,
) -> CoreResult<Uuid> {
    let id = Uuid::new_v4();
    let result = sqlx::query(
        "INSERT INTO users (id, email, display_name, name_key, role, password_hash, created_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(new.email.as_str())
    .bind(new.display_name)
    .bind(name_key(new.display_name))
    .bind(new.role.as_str())
    .bind(new.password_hash)
    .bind(now)
    .execute(conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(CoreError::Conflict(format!(
            "An account for {} already exists.",
            new.email
        )));
    }
    Ok(id)
}

pub async fn user_by_email(conn: &mut AnyConnection, email: &Email) -> CoreResult<Option<User>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn user_by_id(conn: &mut AnyConnection, id: Uuid) -> CoreResult<Option<User>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn list_users(conn: &mut AnyConnection) -> CoreResult<Vec<User>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users ORDER BY email"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn set_password_hash(
    conn: &mut AnyConnection,
    user: Uuid,
    hash: &str,
    now: UnixTime,
) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(user.to_string())
            .execute(conn)
            .await?,
    )
}

/// The user's session became a full one: the "last sign-in" the console shows.
pub async fn record_sign_in(conn: &mut AnyConnection, user: Uuid, now: UnixTime) -> CoreResult<()> {
    sqlx::query(
        "UPDATE users SET last_sign_in_at = $1, first_sign_in_at = COALESCE(first_sign_in_at, $1) \
         WHERE id = $2",
    )
    .bind(now)
    .bind(user.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the user's row lock for the rest of the transaction, so a decision about the
/// user's methods read after it ("is this the last one?") holds until the commit: a
/// second transaction deciding the same waits here. A no-op write, because that is the
/// lock both backends give (SQLite's write transaction, PostgreSQL's row lock).
pub async fn lock_user(conn: &mut AnyConnection, user: Uuid) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("UPDATE users SET role = role WHERE id = $1")
            .bind(user.to_string())
            .execute(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Ann.Lee@Clinic.ORG ").unwrap().as_str(),
            "ann.lee@clinic.org"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@clinic.org",
            "ann@clinic",
            "ann@@clinic.org",
            "ann lee@clinic.org",
            "ann@clinic..org",
            "ann@.clinic.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@clinic.org", "a".repeat(300))).is_err());
    }

    #[test]
    fn display_names_are_bounded() {
        assert_eq!(
            validate_display_name("  Dr Ann Lee ").unwrap(),
            "Dr Ann Lee"
        );
        assert!(validate_display_name("   ").is_err());
        assert!(validate_display_name(&"x".repeat(101)).is_err());
        assert!(validate_display_name("a\u{7}b").is_err());
    }
}
