//! The organisation's two-step policy, and where one person stands against it.
//!
//! One pure function, [`standing`], decides for everyone: the sign-in, the session on each
//! request, the setup wizard, the users list, the reminders and the report all ask it (or
//! [`unsatisfied_sql`], the same rule as SQL for counting many people at once).
//!
//! - The requirement is on or off. Off: nobody is asked for anything they have not set up.
//! - A method satisfies the policy if it is allowed (passkeys, the authenticator app);
//!   backup codes never count on their own. With "admins must use a passkey", an admin is
//!   satisfied only by a passkey.
//! - Someone not satisfied is in **grace** until the later of the organisation's deadline
//!   and their own enrolment period (accounts created after the requirement took effect,
//!   counted from their first sign-in); after that they **must set up** (the wizard only).
//! - A temporary **exception** lets someone in with the password alone until it ends,
//!   whatever methods they have on record (the phone with the app may be the one that
//!   died) — never an admin while admins must use a passkey.
//!
//! A settings change never locks anyone out: whoever it leaves unsatisfied is treated as
//! "not set up", with the same deadline as everyone else, and the wizard is always open.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::accounts::Role;
use crate::{CoreError, CoreResult, UnixTime};

pub const DAY_SECS: i64 = 24 * 60 * 60;
/// The longest enrolment period for people who join after the requirement.
pub const MAX_ENROLMENT_DAYS: i64 = 30;
/// The longest temporary exception.
pub const MAX_EXCEPTION_DAYS: i64 = 14;

/// The organisation's two-step settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub required: bool,
    /// When the requirement last took effect (`None` while off).
    pub required_since: Option<UnixTime>,
    /// Grace for everyone ends at this instant; `None`: no grace.
    pub deadline: Option<UnixTime>,
    pub deadline_set_at: Option<UnixTime>,
    /// Grace, in days from their first sign-in, for accounts created after the requirement.
    pub enrolment_days: i64,
    pub allow_passkeys: bool,
    pub allow_app: bool,
    pub admins_need_passkey: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            required: false,
            required_since: None,
            deadline: None,
            deadline_set_at: None,
            enrolment_days: 0,
            allow_passkeys: true,
            allow_app: true,
            admins_need_passkey: false,
        }
    }
}

/// Which methods a person has (backup codes are not a method of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Methods {
    pub passkeys: i64,
    pub app: bool,
}

impl Methods {
    pub fn any(self) -> bool {
        self.passkeys > 0 || self.app
    }
}

/// What the policy needs to know about one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub role: Role,
    pub created_at: UnixTime,
    pub first_sign_in_at: Option<UnixTime>,
    pub methods: Methods,
    /// A live or past exception's end.
    pub exception_until: Option<UnixTime>,
}

/// Why someone does not satisfy the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// No method at all.
    NoMethod,
    /// Only methods the organisation no longer allows.
    MethodNotAllowed,
    /// An admin without a passkey while admins must use one.
    AdminNeedsPasskey,
}

impl Shortfall {
    /// The explanation the person reads (the wizard, the banner).
    pub fn explain(self) -> &'static str {
        match self {
            Shortfall::NoMethod => "Your organisation requires two-step authentication.",
            Shortfall::MethodNotAllowed => {
                "Your organisation no longer accepts the two-step method you have. Add one of the methods it allows."
            }
            Shortfall::AdminNeedsPasskey => {
                "Your organisation requires administrators to use a passkey, which cannot be phished. Add a passkey to your account."
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shortfall::NoMethod => "no_method",
            Shortfall::MethodNotAllowed => "method_not_allowed",
            Shortfall::AdminNeedsPasskey => "admin_needs_passkey",
        }
    }
}

/// Where one person stands, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The organisation does not require two-step authentication.
    NotRequired,
    /// Required, and their methods satisfy it.
    Satisfied,
    /// Not satisfied, but an exception lets them in with the password alone until then.
    Exception { until: UnixTime },
    /// Not satisfied; may skip the wizard until then.
    Grace {
        until: UnixTime,
        shortfall: Shortfall,
    },
    /// Not satisfied and out of time: the setup wizard only.
    MustSetUp(Shortfall),
}

impl Standing {
    /// Whether the setup wizard is where this person goes after signing in: out of time
    /// (the wizard only), or in grace (the wizard, which they may skip).
    pub fn asks_for_setup(self) -> bool {
        matches!(self, Standing::Grace { .. } | Standing::MustSetUp(_))
    }

    /// The shortfall behind a grace period or the wizard.
    pub fn shortfall(self) -> Option<Shortfall> {
        match self {
            Standing::Grace { shortfall, .. } | Standing::MustSetUp(shortfall) => Some(shortfall),
            _ => None,
        }
    }
}

impl Policy {
    /// Whether `methods` satisfy the policy for someone in `role` (ignoring time).
    pub fn shortfall(&self, role: Role, methods: Methods) -> Option<Shortfall> {
        let satisfied = if role == Role::Admin && self.admins_need_passkey {
            methods.passkeys > 0
        } else {
            (self.allow_passkeys && methods.passkeys > 0) || (self.allow_app && methods.app)
        };
        if satisfied {
            None
        } else if !methods.any() {
            Some(Shortfall::NoMethod)
        } else if role == Role::Admin && self.admins_need_passkey {
            Some(Shortfall::AdminNeedsPasskey)
        } else {
            Some(Shortfall::MethodNotAllowed)
        }
    }

    /// Whether someone in `role` may add a passkey / an authenticator app.
    pub fn may_add_passkey(&self, role: Role) -> bool {
        !self.required || self.allow_passkeys || (role == Role::Admin && self.admins_need_passkey)
    }

    /// An admin who must use a passkey may still keep an app beside it.
    pub fn may_add_app(&self) -> bool {
        !self.required || self.allow_app
    }

    /// Whether an exception can apply to someone in `role`.
    pub fn exceptions_apply_to(&self, role: Role) -> bool {
        !(role == Role::Admin && self.admins_need_passkey)
    }

    /// When `person`'s grace ends, if they have any: the later of the deadline and their
    /// own enrolment period.
    pub fn grace_until(&self, person: &Person, now: UnixTime) -> Option<UnixTime> {
        let own = self.enrolment_until(person.created_at, person.first_sign_in_at, now);
        match (self.deadline, own) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The end of the enrolment period of an account created at `created_at`: only for
    /// accounts created after the requirement took effect, counted from their first
    /// sign-in (from `now` for someone signing in for the first time).
    pub fn enrolment_until(
        &self,
        created_at: UnixTime,
        first_sign_in_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Option<UnixTime> {
        let since = self.required_since?;
        (self.enrolment_days > 0 && created_at > since)
            .then(|| first_sign_in_at.unwrap_or(now) + self.enrolment_days * DAY_SECS)
    }

    /// Where `person` stands at `now`.
    pub fn standing(&self, person: &Person, now: UnixTime) -> Standing {
        if !self.required {
            return Standing::NotRequired;
        }
        // An exception comes first: a nurse whose phone died still has her app on record.
        if let Some(until) = person.exception_until.filter(|u| *u > now) {
            if self.exceptions_apply_to(person.role) {
                return Standing::Exception { until };
            }
        }
        let Some(shortfall) = self.shortfall(person.role, person.methods) else {
            return Standing::Satisfied;
        };
        match self.grace_until(person, now).filter(|u| *u > now) {
            Some(until) => Standing::Grace { until, shortfall },
            None => Standing::MustSetUp(shortfall),
        }
    }

    /// Checks settings before they are saved.
    pub fn validate(&self) -> CoreResult<()> {
        if !self.allow_passkeys && !self.allow_app {
            return Err(CoreError::invalid(
                "methods",
                "Allow at least one method: passkeys or an authenticator app.",
            ));
        }
        if !(0..=MAX_ENROLMENT_DAYS).contains(&self.enrolment_days) {
            return Err(CoreError::invalid(
                "enrolment_days",
                format!(
                    "The enrolment period for new people must be 0 to {MAX_ENROLMENT_DAYS} days."
                ),
            ));
        }
        Ok(())
    }
}

/// The same rule as [`Policy::shortfall`] in SQL, over a row of `users`: true for an
/// active person with a password whose methods do not satisfy `policy`. The policy's
/// switches are written in as 0/1 literals (never text from a request).
pub fn unsatisfied_sql(policy: &Policy) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let passkey = "EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)";
    let app = "EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = users.id)";
    format!(
        "(users.active = 1 AND users.password_hash IS NOT NULL AND NOT (CASE \
         WHEN users.role = 'admin' AND {admins} = 1 THEN {passkey} \
         ELSE ({allow_passkeys} = 1 AND {passkey}) OR ({allow_app} = 1 AND {app}) END))",
        admins = flag(policy.admins_need_passkey),
        allow_passkeys = flag(policy.allow_passkeys),
        allow_app = flag(policy.allow_app),
    )
}

/// The same rule as an exception in [`Policy::standing`], in SQL over a row of `users`:
/// a live exception that applies to the person's role. `now` is a placeholder.
pub fn excused_sql(policy: &Policy, now: &str) -> String {
    let admins = if policy.admins_need_passkey { "1" } else { "0" };
    format!(
        "(EXISTS (SELECT 1 FROM two_step_exceptions e WHERE e.user_id = users.id AND e.until > {now}) \
         AND NOT (users.role = 'admin' AND {admins} = 1))"
    )
}

/// Where `user` stands at `now`: [`Policy::standing`] over what [`person`] reads, which is
/// read only when the policy requires anything.
pub async fn standing_of(
    conn: &mut AnyConnection,
    policy: &Policy,
    user: &crate::accounts::User,
    now: UnixTime,
) -> CoreResult<Standing> {
    if !policy.required {
        return Ok(Standing::NotRequired);
    }
    let person = person(conn, user.id, user.role, user.created_at).await?;
    Ok(policy.standing(&person, now))
}

/// What the policy needs to know about `user`, read in one statement.
pub async fn person(
    conn: &mut AnyConnection,
    user: Uuid,
    role: Role,
    created_at: UnixTime,
) -> CoreResult<Person> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS passkeys, \
                (SELECT COUNT(*) FROM totp_credentials WHERE user_id = $1) AS apps, \
                (SELECT until FROM two_step_exceptions WHERE user_id = $1) AS exception_until, \
                (SELECT first_sign_in_at FROM users WHERE id = $1) AS first_sign_in_at",
    )
    .bind(user.to_string())
    .fetch_one(conn)
    .await?;
    Ok(Person {
        role,
        created_at,
        first_sign_in_at: row.try_get("first_sign_in_at")?,
        methods: Methods {
            passkeys: row.try_get("passkeys")?,
            app: row.try_get::<i64, _>("apps")? > 0,
        },
        exception_until: row.try_get("exception_until")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000;

    fn required() -> Policy {
        Policy {
            required: true,
            required_since: Some(NOW - 100 * DAY_SECS),
            ..Policy::default()
        }
    }

    fn person(role: Role, passkeys: i64, app: bool) -> Person {
        Person {
            role,
            created_at: NOW - 200 * DAY_SECS,
            first_sign_in_at: Some(NOW - 150 * DAY_SECS),
            methods: Methods { passkeys, app },
            exception_until: None,
        }
    }

    #[test]
    fn off_asks_nothing_and_on_is_satisfied_by_any_allowed_method() {
        let nobody = person(Role::Staff, 0, false);
        assert_eq!(
            Policy::default().standing(&nobody, NOW),
            Standing::NotRequired
        );
        let policy = required();
        assert_eq!(
            policy.standing(&nobody, NOW),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
        for (passkeys, app) in [(1, false), (0, true), (2, true)] {
            assert_eq!(
                policy.standing(&person(Role::Staff, passkeys, app), NOW),
                Standing::Satisfied
            );
        }
    }

    #[test]
    fn a_deadline_gives_grace_until_it_and_not_a_second_after() {
        let policy = Policy {
            deadline: Some(NOW + 14 * DAY_SECS),
            ..required()
        };
        let nobody = person(Role::Staff, 0, false);
        assert_eq!(
            policy.standing(&nobody, NOW),
            Standing::Grace {
                until: NOW + 14 * DAY_SECS,
                shortfall: Shortfall::NoMethod
            }
        );
        assert!(matches!(
            policy.standing(&nobody, NOW + 14 * DAY_SECS - 1),
            Standing::Grace { .. }
        ));
        assert_eq!(
            policy.standing(&nobody, NOW + 14 * DAY_SECS),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
    }

    #[test]
    fn the_enrolment_period_is_only_for_accounts_created_after_the_requirement() {
        let policy = Policy {
            enrolment_days: 7,
            ..required()
        };
        let old_dormant = Person {
            first_sign_in_at: None,
            ..person(Role::Staff, 0, false)
        };
        assert_eq!(
            policy.standing(&old_dormant, NOW),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
        let newcomer = Person {
            created_at: NOW - 3 * DAY_SECS,
            first_sign_in_at: None,
            ..old_dormant
        };
        // Counted from the first sign-in: now, if they have never signed in.
        assert_eq!(
            policy.standing(&newcomer, NOW),
            Standing::Grace {
                until: NOW + 7 * DAY_SECS,
                shortfall: Shortfall::NoMethod
            }
        );
        let signed_in_8_days_ago = Person {
            first_sign_in_at: Some(NOW - 8 * DAY_SECS),
            created_at: NOW - 9 * DAY_SECS,
            ..newcomer
        };
        assert_eq!(
            policy.standing(&signed_in_8_days_ago, NOW),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
        // The later of the two wins.
        let with_deadline = Policy {
            deadline: Some(NOW + 30 * DAY_SECS),
            ..policy
        };
        assert_eq!(
            with_deadline.grace_until(&newcomer, NOW),
            Some(NOW + 30 * DAY_SECS)
        );
    }

    #[test]
    fn method_rules_make_unsatisfying_methods_count_as_not_set_up() {
        let passkeys_only = Policy {
            allow_app: false,
            ..required()
        };
        assert_eq!(
            passkeys_only.standing(&person(Role::Staff, 0, true), NOW),
            Standing::MustSetUp(Shortfall::MethodNotAllowed)
        );
        assert_eq!(
            passkeys_only.standing(&person(Role::Staff, 1, true), NOW),
            Standing::Satisfied
        );
        let admins = Policy {
            admins_need_passkey: true,
            deadline: Some(NOW + DAY_SECS),
            ..required()
        };
        assert_eq!(
            admins.standing(&person(Role::Admin, 0, true), NOW),
            Standing::Grace {
                until: NOW + DAY_SECS,
                shortfall: Shortfall::AdminNeedsPasskey
            }
        );
        assert_eq!(
            admins.standing(&person(Role::Staff, 0, true), NOW),
            Standing::Satisfied
        );
        // Even with passkeys otherwise not allowed, an admin may (must) add one.
        let odd = Policy {
            allow_passkeys: false,
            ..admins
        };
        assert!(odd.may_add_passkey(Role::Admin));
        assert!(!odd.may_add_passkey(Role::Staff));
        assert_eq!(
            odd.standing(&person(Role::Admin, 1, false), NOW),
            Standing::Satisfied
        );
    }

    #[test]
    fn exceptions_end_by_themselves_and_never_cover_admins_who_need_a_passkey() {
        let policy = required();
        let excused = Person {
            exception_until: Some(NOW + DAY_SECS),
            ..person(Role::Staff, 0, false)
        };
        assert_eq!(
            policy.standing(&excused, NOW),
            Standing::Exception {
                until: NOW + DAY_SECS
            }
        );
        assert_eq!(
            policy.standing(&excused, NOW + DAY_SECS),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
        // Whatever methods are on record: the phone with the app may be the one that died.
        let with_app = Person {
            methods: Methods {
                passkeys: 0,
                app: true,
            },
            ..excused
        };
        assert_eq!(
            policy.standing(&with_app, NOW),
            Standing::Exception {
                until: NOW + DAY_SECS
            }
        );
        assert_eq!(
            policy.standing(&with_app, NOW + DAY_SECS),
            Standing::Satisfied
        );
        let strict = Policy {
            admins_need_passkey: true,
            ..required()
        };
        let admin = Person {
            role: Role::Admin,
            ..excused
        };
        assert_eq!(
            strict.standing(&admin, NOW),
            Standing::MustSetUp(Shortfall::NoMethod)
        );
    }

    #[test]
    fn at_least_one_method_stays_allowed() {
        let none = Policy {
            allow_passkeys: false,
            allow_app: false,
            ..required()
        };
        assert!(none.validate().is_err());
        assert!(Policy {
            enrolment_days: 31,
            ..required()
        }
        .validate()
        .is_err());
        assert!(required().validate().is_ok());
    }
}
