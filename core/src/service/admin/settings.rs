//! The organisation's settings: the two-step policy (the requirement, its deadline, the
//! enrolment period for newcomers, which methods count, passkeys for admins) and the
//! session limits. One function changes them, for the console and the operator's command
//! line alike; another says beforehand, counted from the data, what a change would do.
//!
//! A change takes the organisation's row lock, is one transaction with one audit record
//! per setting (old → new, who) and a mail to every admin. The deadline is the
//! organisation's, so moving it moves it for everyone at once.

use uuid::Uuid;

use super::people::By;
use crate::accounts::{self, Organisation, Role};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::policy::{self, Policy, DAY_SECS};
use crate::{CoreError, CoreResult, Tessera, UnixTime};

/// The furthest a deadline may be set.
pub const MAX_DEADLINE_DAYS: i64 = 366;

/// Everything on the Settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub required: bool,
    /// The first day on which people without two-step authentication reach only the
    /// wizard (midnight UTC of that date); `None`: from their next sign-in.
    pub deadline: Option<UnixTime>,
    pub enrolment_days: i64,
    pub allow_passkeys: bool,
    pub allow_app: bool,
    pub admins_need_passkey: bool,
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

impl Settings {
    pub fn of(organisation: &Organisation) -> Settings {
        let p = &organisation.policy;
        Settings {
            required: p.required,
            deadline: p.deadline,
            enrolment_days: p.enrolment_days,
            allow_passkeys: p.allow_passkeys,
            allow_app: p.allow_app,
            admins_need_passkey: p.admins_need_passkey,
            idle_minutes: organisation.session_idle_secs / 60,
            absolute_hours: organisation.session_absolute_secs / 3600,
        }
    }

    /// The policy these settings make, given the one in force (which keeps its times).
    fn policy(&self, old: &Policy, now: UnixTime) -> Policy {
        Policy {
            required: self.required,
            required_since: match (old.required, self.required) {
                (_, false) => None,
                (false, true) => Some(now),
                (true, true) => old.required_since.or(Some(now)),
            },
            deadline: self.deadline.filter(|_| self.required),
            deadline_set_at: if self.deadline != old.deadline {
                self.deadline.map(|_| now)
            } else {
                old.deadline_set_at
            },
            enrolment_days: self.enrolment_days,
            allow_passkeys: self.allow_passkeys,
            allow_app: self.allow_app,
            admins_need_passkey: self.admins_need_passkey,
        }
    }

    fn validate(&self, old: &Settings, now: UnixTime) -> CoreResult<()> {
        if !(5..=60).contains(&self.idle_minutes) {
            return Err(CoreError::invalid(
                "idle_minutes",
                format!(
                    "The idle timeout must be 5 to 60 minutes, not {}.",
                    self.idle_minutes
                ),
            ));
        }
        if !(1..=24).contains(&self.absolute_hours) {
            return Err(CoreError::invalid(
                "absolute_hours",
                format!(
                    "The session lifetime must be 1 to 24 hours, not {}.",
                    self.absolute_hours
                ),
            ));
        }
        if let Some(deadline) = self.deadline.filter(|d| Some(*d) != old.deadline) {
            if !self.required {
                return Err(CoreError::invalid(
                    "deadline",
                    "A deadline needs two-step authentication to be required.",
                ));
            }
            if deadline <= now {
                return Err(CoreError::invalid(
                    "deadline",
                    "Pick a deadline after today, or none to require it from the next sign-in.",
                ));
            }
            if deadline > now + MAX_DEADLINE_DAYS * DAY_SECS {
                return Err(CoreError::invalid(
                    "deadline",
                    "Pick a deadline within a year.",
                ));
            }
        }
        Ok(())
    }
}

/// A date typed as `YYYY-MM-DD`, as the Unix time of its midnight (UTC).
pub fn parse_date(text: &str) -> CoreResult<UnixTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| CoreError::invalid("date", "Enter a date like 2026-12-31."))
}

/// A Unix time's date, `YYYY-MM-DD` (UTC).
pub fn format_date(at: UnixTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| at.to_string())
}

/// A Unix time's day for people ("12 December 2026", UTC). A deadline is the first day
/// without grace, so its last day of grace is `format_day(deadline - 1)`.
pub fn format_day(at: UnixTime) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| at.to_string())
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn deadline_text(deadline: Option<UnixTime>) -> String {
    deadline.map_or_else(|| "none".into(), format_date)
}

/// The settings that differ, as (audit kind, setting, old, new).
fn differences(old: &Settings, new: &Settings) -> Vec<(AuditKind, &'static str, String, String)> {
    let mut out = Vec::new();
    let mut add = |kind, name, a: String, b: String| {
        if a != b {
            out.push((kind, name, a, b));
        }
    };
    add(
        AuditKind::TwoFactorPolicyChanged,
        "require two-step authentication",
        on_off(old.required).into(),
        on_off(new.required).into(),
    );
    add(
        AuditKind::PolicyChanged,
        "deadline",
        deadline_text(old.deadline),
        deadline_text(new.deadline),
    );
    add(
        AuditKind::PolicyChanged,
        "enrolment period for new people (days)",
        old.enrolment_days.to_string(),
        new.enrolment_days.to_string(),
    );
    add(
        AuditKind::PolicyChanged,
        "passkeys allowed",
        on_off(old.allow_passkeys).into(),
        on_off(new.allow_passkeys).into(),
    );
    add(
        AuditKind::PolicyChanged,
        "authenticator app allowed",
        on_off(old.allow_app).into(),
        on_off(new.allow_app).into(),
    );
    add(
        AuditKind::PolicyChanged,
        "admins must use a passkey",
        on_off(old.admins_need_passkey).into(),
        on_off(new.admins_need_passkey).into(),
    );
    add(
        AuditKind::SessionLimitsChanged,
        "idle timeout (minutes)",
        old.idle_minutes.to_string(),
        new.idle_minutes.to_string(),
    );
    add(
        AuditKind::SessionLimitsChanged,
        "longest session (hours)",
        old.absolute_hours.to_string(),
        new.absolute_hours.to_string(),
    );
    out
}

/// People the policy would count as not set up, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Unsatisfied {
    no_method: i64,
    admins_without_passkey: i64,
    others_with_disallowed_method: i64,
    exceptions: i64,
}

async fn count_unsatisfied(
    conn: &mut sqlx::AnyConnection,
    policy: &Policy,
    now: UnixTime,
) -> CoreResult<Unsatisfied> {
    use sqlx::Row as _;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN NOT excused AND two_factor_enabled = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS no_method, \
                CAST(COALESCE(SUM(CASE WHEN NOT excused AND two_factor_enabled = 1 AND role = 'admin' THEN 1 ELSE 0 END), 0) AS BIGINT) AS admins, \
                CAST(COALESCE(SUM(CASE WHEN NOT excused AND two_factor_enabled = 1 AND role <> 'admin' THEN 1 ELSE 0 END), 0) AS BIGINT) AS others, \
                CAST(COALESCE(SUM(CASE WHEN excused THEN 1 ELSE 0 END), 0) AS BIGINT) AS exceptions \
         FROM (SELECT two_factor_enabled, role, {excused} AS excused FROM users WHERE {unsatisfied}) u",
        excused = policy::excused_sql(policy, "$1"),
        unsatisfied = policy::unsatisfied_sql(policy),
    )))
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(Unsatisfied {
        no_method: row.try_get("no_method")?,
        admins_without_passkey: if policy.admins_need_passkey {
            row.try_get("admins")?
        } else {
            0
        },
        others_with_disallowed_method: row.try_get::<i64, _>("others")?
            + if policy.admins_need_passkey {
                0
            } else {
                row.try_get::<i64, _>("admins")?
            },
        exceptions: row.try_get("exceptions")?,
    })
}

fn people(n: i64) -> String {
    if n == 1 {
        "1 person".into()
    } else {
        format!("{n} people")
    }
}

impl Tessera {
    /// The settings in force.
    pub async fn settings(&self) -> CoreResult<Settings> {
        Ok(Settings::of(&self.organisation_or_error().await?))
    }

    async fn organisation_or_error(&self) -> CoreResult<Organisation> {
        self.organisation().await?.ok_or_else(|| {
            CoreError::invalid(
                "organisation",
                "There is no organisation yet: finish the first-run setup first.",
            )
        })
    }

    /// What saving `new` would do, in sentences counted from the data. Changes nothing.
    pub async fn preview_settings(&self, new: &Settings) -> CoreResult<Vec<String>> {
        let organisation = self.organisation_or_error().await?;
        let old = Settings::of(&organisation);
        let now = self.now();
        new.validate(&old, now)?;
        let policy = new.policy(&organisation.policy, now);
        let mut conn = self.db.pool().acquire().await?;
        let mut out = Vec::new();
        if differences(&old, new).is_empty() {
            return Ok(vec!["Nothing would change.".into()]);
        }
        if new.required {
            let counts = count_unsatisfied(&mut conn, &policy, now).await?;
            let when = match policy.deadline {
                Some(d) => format!(
                    "they may put it off until {}, with a countdown on every page; from {} they reach only the setup wizard",
                    format_day(d - 1),
                    format_day(d)
                ),
                None => "from their next sign-in they reach only the setup wizard".into(),
            };
            out.push(if counts.no_method == 0 {
                "Everyone who can sign in has set up two-step authentication.".into()
            } else {
                format!(
                    "{} have not set up two-step authentication; {when}.",
                    people(counts.no_method)
                )
            });
            if counts.admins_without_passkey > 0 {
                out.push(format!(
                    "{} {} no passkey and will be asked to add one; {when}.",
                    counts.admins_without_passkey,
                    if counts.admins_without_passkey == 1 {
                        "admin has"
                    } else {
                        "admins have"
                    }
                ));
            }
            if counts.others_with_disallowed_method > 0 {
                out.push(format!(
                    "{} use only a method you no longer allow and will be asked to add an allowed one; {when}.",
                    people(counts.others_with_disallowed_method)
                ));
            }
            if counts.exceptions > 0 {
                out.push(format!(
                    "{} {} a temporary exception and can sign in with the password alone until it ends.",
                    people(counts.exceptions),
                    if counts.exceptions == 1 { "has" } else { "have" }
                ));
            }
            if policy.admins_need_passkey && !organisation.policy.admins_need_passkey {
                out.push("Temporary exceptions no longer apply to admins.".into());
            }
            if new.enrolment_days > 0 && (new.enrolment_days != old.enrolment_days || !old.required)
            {
                out.push(format!(
                    "People added from now on get {} days from their first sign-in to set it up.",
                    new.enrolment_days
                ));
            }
            out.push("Nobody is locked out: the setup wizard stays open to everyone.".into());
        } else if old.required {
            let without: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE active = 1 AND password_hash IS NOT NULL \
                 AND two_factor_enabled = 0",
            )
            .fetch_one(&mut *conn)
            .await?;
            out.push(format!(
                "Everyone keeps the two-step methods they have set up and is still asked for them. {} without two-step authentication will no longer be asked to set it up.",
                people(without)
            ));
        }
        if new.idle_minutes != old.idle_minutes || new.absolute_hours != old.absolute_hours {
            out.push(format!(
                "Every session, open ones too, ends after {} minutes idle or {} hours in all, from its next request.",
                new.idle_minutes, new.absolute_hours
            ));
        }
        Ok(out)
    }

    /// Saves the settings. Returns the changes made as "setting: old → new" (none if
    /// nothing differed).
    pub async fn update_settings(&self, by: By<'_>, new: &Settings) -> CoreResult<Vec<String>> {
        by.check(self)?;
        let now = self.now();
        if let By::Console(caller, _) = by {
            let turning_on = new.required
                && new.admins_need_passkey
                && !self.settings().await?.admins_need_passkey;
            if turning_on {
                let mut conn = self.db.pool().acquire().await?;
                let own = policy::person(
                    &mut conn,
                    caller.user.id,
                    caller.user.role,
                    caller.user.created_at,
                )
                .await?;
                if own.methods.passkeys == 0 && caller.user.role == Role::Admin {
                    return Err(CoreError::invalid(
                        "admins_need_passkey",
                        "Add a passkey to your own account first (in your profile): otherwise this rule would send you to the setup wizard too.",
                    ));
                }
            }
        }
        let mut tx = self.db.write().await?;
        // The organisation's row, locked first, then read: two changes at once apply in turn.
        sqlx::query("UPDATE organisation SET name = name WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let organisation = accounts::organisation(&mut tx).await?.ok_or_else(|| {
            CoreError::invalid(
                "organisation",
                "There is no organisation yet: finish the first-run setup first.",
            )
        })?;
        let old = Settings::of(&organisation);
        new.validate(&old, now)?;
        let changes = differences(&old, new);
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let policy = new.policy(&organisation.policy, now);
        policy.validate()?;
        sqlx::query(
            "UPDATE organisation SET require_two_factor = $1, required_since = $2, deadline = $3, \
             deadline_set_at = $4, enrolment_days = $5, allow_passkeys = $6, allow_app = $7, \
             admins_need_passkey = $8, session_idle_secs = $9, session_absolute_secs = $10 \
             WHERE id = 1",
        )
        .bind(policy.required as i64)
        .bind(policy.required_since)
        .bind(policy.deadline)
        .bind(policy.deadline_set_at)
        .bind(policy.enrolment_days)
        .bind(policy.allow_passkeys as i64)
        .bind(policy.allow_app as i64)
        .bind(policy.admins_need_passkey as i64)
        .bind(new.idle_minutes * 60)
        .bind(new.absolute_hours * 3600)
        .execute(&mut *tx)
        .await?;
        let source = match by {
            By::Console(..) => "from the console",
            By::Operator => "from the server's command line",
        };
        let mut lines = Vec::new();
        for (kind, name, from, to) in &changes {
            let line = format!("{name}: {from} → {to}");
            audit::record(
                &mut tx,
                by.actor_event(*kind).detail(format!("{line} ({source})")),
                now,
            )
            .await?;
            lines.push(line);
        }
        let who = match by {
            By::Console(caller, _) => format!(
                "{} ({})",
                caller.user.display_name,
                caller.user.email.as_str()
            ),
            By::Operator => "The server's operator".into(),
        };
        super::actions::tell_admins(
            &mut tx,
            Uuid::nil(),
            "Tessera's two-step and session settings changed",
            &format!(
                "{who} changed these settings {source}:\n\n{}\n\nSession limits apply to every session from its next request; a new requirement or \
                 method rule from each person's next sign-in, or from the deadline.",
                lines
                    .iter()
                    .map(|l| format!("  - {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(lines)
    }
}

/// An event done by whoever changes the settings (no subject: the organisation).
impl By<'_> {
    fn actor_event(&self, kind: AuditKind) -> AuditEvent<'_> {
        let mut event = AuditEvent::new(kind);
        if let By::Console(caller, client) = self {
            event = event.actor(caller.user.id).from_addr(&client.addr);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_junk_is_refused() {
        let t = parse_date("2026-12-12").unwrap();
        assert_eq!(format_date(t), "2026-12-12");
        assert_eq!(t % DAY_SECS, 0);
        assert_eq!(format_day(t), "12 December 2026");
        for junk in ["", "12/12/2026", "2026-13-01", "tomorrow"] {
            assert!(parse_date(junk).is_err(), "{junk}");
        }
    }
}
