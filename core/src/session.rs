//! Server-side sessions and the states the guard decides on.
//!
//! The cookie carries 256 random bits; the database keeps only their SHA-256, so a copy of
//! the database cannot be replayed as cookies. Every step up (password accepted, second
//! factor accepted, setup finished) replaces the id, so an id seen before sign-in is dead
//! afterwards. Idle and absolute limits are enforced here, from the stored times, never
//! from anything the browser sends.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::accounts::{Organisation, Role};
use crate::{CoreError, CoreResult, UnixTime};

/// A half session (password done, second factor not) lives at most this long.
pub const SECOND_FACTOR_WINDOW_SECS: i64 = 10 * 60;
/// A step-up (password and second factor again) lets the console make changes this long.
pub const STEP_UP_WINDOW_SECS: i64 = 10 * 60;
/// `last_seen_at` is written at most this often, so reads do not each cost a write.
pub const TOUCH_EVERY_SECS: i64 = 60;

/// How far through sign-in a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The password was right; a second factor is still owed.
    NeedsSecondFactor,
    /// The password was right, and the user's two-step authentication was reset: the
    /// one-time setup code from the helpdesk is owed before a new method can be set up.
    NeedsSetupCode,
    /// The password was right, the organisation requires 2FA and the user has none: only
    /// the setup wizard is open.
    NeedsSetup,
    /// Fully signed in.
    Full,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::NeedsSecondFactor => "needs_second_factor",
            SessionState::NeedsSetupCode => "needs_setup_code",
            SessionState::NeedsSetup => "needs_setup",
            SessionState::Full => "full",
        }
    }

    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "needs_second_factor" => Ok(SessionState::NeedsSecondFactor),
            "needs_setup_code" => Ok(SessionState::NeedsSetupCode),
            "needs_setup" => Ok(SessionState::NeedsSetup),
            "full" => Ok(SessionState::Full),
            other => Err(CoreError::Internal(format!(
                "unknown session state {other}"
            ))),
        }
    }

    /// The state a session starts in once the password has been accepted. A reset that
    /// left a setup code waits for it first, whatever else is true.
    pub fn after_password(
        has_two_factor: bool,
        organisation_requires_two_factor: bool,
        owes_setup_code: bool,
    ) -> Self {
        if owes_setup_code {
            SessionState::NeedsSetupCode
        } else if has_two_factor {
            SessionState::NeedsSecondFactor
        } else if organisation_requires_two_factor {
            SessionState::NeedsSetup
        } else {
            SessionState::Full
        }
    }

    /// The state after a correct second factor; `None` if that step does not apply.
    pub fn after_second_factor(self) -> Option<Self> {
        (self == SessionState::NeedsSecondFactor).then_some(SessionState::Full)
    }

    /// The state after the reset's setup code was given; `None` if it does not apply.
    pub fn after_setup_code(self) -> Option<Self> {
        (self == SessionState::NeedsSetupCode).then_some(SessionState::NeedsSetup)
    }

    /// The state after the setup wizard enrolled a factor; `None` if it does not apply.
    pub fn after_setup(self) -> Option<Self> {
        (self == SessionState::NeedsSetup).then_some(SessionState::Full)
    }
}

/// What a request needs. The guard compares it with the caller's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the sign-in and setup pages).
    Public,
    /// Only a half session that owes a second factor.
    SecondFactor,
    /// Only a session that must set up 2FA before anything else (the wizard), including
    /// one that still owes its setup code (the wizard's first step).
    Setup,
    /// Only a session that owes a reset's setup code.
    SetupCode,
    /// Any signed-in session, whatever its state (sign out).
    AnySession,
    /// Setting up a second factor: a fully signed-in user, or one in the setup wizard.
    Enrol,
    /// A fully signed-in user.
    Full,
    /// A fully signed-in user in one of these roles: the admin console.
    Roles(&'static [Role]),
}

/// Who may use what in the console.
pub mod roles {
    use crate::accounts::Role;

    /// Admins only: the default for every console page and server function.
    pub const ADMIN: &[Role] = &[Role::Admin];
    /// Looking after staff: reminders, unlocks, resets.
    pub const HELPDESK: &[Role] = &[Role::Admin, Role::Helpdesk];
    /// Looking: the users list and a user's page, the audit trail, the report.
    pub const CONSOLE: &[Role] = &[Role::Admin, Role::Helpdesk, Role::Auditor];
}

/// Why the guard said no; decides 401 (sign in again) against 403 (not for you).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SignedOut,
    NeedsSecondFactor,
    NeedsSetup,
    NotAllowed,
}

/// The guard's decision, pure: a session state (or none) and a role against a need.
pub fn authorize(session: Option<(SessionState, Role)>, need: Access) -> Result<(), Refusal> {
    use SessionState::*;
    match (need, session) {
        (Access::Public, _) => Ok(()),
        (_, None) => Err(Refusal::SignedOut),
        (Access::AnySession, Some(_)) => Ok(()),
        (Access::SecondFactor, Some((NeedsSecondFactor, _))) => Ok(()),
        (Access::Setup, Some((NeedsSetup | NeedsSetupCode, _))) => Ok(()),
        (Access::SetupCode, Some((NeedsSetupCode, _))) => Ok(()),
        // A half session is not signed in yet, whatever it asks for.
        (Access::Setup | Access::SetupCode, Some((NeedsSecondFactor, _))) => {
            Err(Refusal::NeedsSecondFactor)
        }
        (Access::SecondFactor | Access::Setup | Access::SetupCode, Some(_)) => {
            Err(Refusal::NotAllowed)
        }
        (Access::Enrol, Some((Full | NeedsSetup, _))) => Ok(()),
        (Access::Enrol, Some((NeedsSecondFactor, _))) => Err(Refusal::NeedsSecondFactor),
        (Access::Enrol | Access::Full | Access::Roles(_), Some((NeedsSetupCode, _))) => {
            Err(Refusal::NeedsSetup)
        }
        (Access::Full | Access::Roles(_), Some((NeedsSecondFactor, _))) => {
            Err(Refusal::NeedsSecondFactor)
        }
        (Access::Full | Access::Roles(_), Some((NeedsSetup, _))) => Err(Refusal::NeedsSetup),
        (Access::Full, Some((Full, _))) => Ok(()),
        (Access::Roles(allowed), Some((Full, role))) if allowed.contains(&role) => Ok(()),
        (Access::Roles(_), Some((Full, _))) => Err(Refusal::NotAllowed),
    }
}

/// The secret half of a session: what the cookie carries. Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SessionToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts a cookie value only if it has the shape of a token we issue.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let ok = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| SessionToken(value.to_string()))
    }

    pub fn as_cookie_value(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// A session as stored.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: Uuid,
    /// The session's public name: kept when the id is replaced, told to the apps it signs
    /// in to (an ID token's `sid`), never usable as a cookie.
    pub sid: String,
    pub state: SessionState,
    pub persistent: bool,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    /// When the person last proved themselves again in this session (step-up).
    pub stepped_up_at: Option<UnixTime>,
    /// The second factor this sign-in was proved with (`app`, `passkey`, `backup_code`);
    /// `None`: the password alone (no method, an exception, a grace period).
    pub second_factor: Option<String>,
    /// Why the password alone let this session in while two-step authentication was
    /// required (`grace`, `exception`); it goes to the wizard when that ends.
    pub admitted_by: Option<String>,
}

/// Limits that apply to a session, from the organisation's settings.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl From<&Organisation> for Lifetimes {
    fn from(o: &Organisation) -> Self {
        Lifetimes {
            idle_secs: o.session_idle_secs,
            absolute_secs: o.session_absolute_secs,
        }
    }
}

impl Session {
    /// Whether the session is still alive at `now`: not idle too long, not too old, and a
    /// half session not older than its short window.
    pub fn is_alive(&self, limits: Lifetimes, now: UnixTime) -> bool {
        let absolute = if self.state == SessionState::NeedsSecondFactor {
            limits.absolute_secs.min(SECOND_FACTOR_WINDOW_SECS)
        } else {
            limits.absolute_secs
        };
        now - self.last_seen_at <= limits.idle_secs && now - self.created_at <= absolute
    }

    pub fn needs_touch(&self, now: UnixTime) -> bool {
        now - self.last_seen_at >= TOUCH_EVERY_SECS
    }

    /// Whether a step-up in this session is recent enough for a change from the console.
    pub fn stepped_up_recently(&self, now: UnixTime) -> bool {
        self.stepped_up_at
            .is_some_and(|at| now - at <= STEP_UP_WINDOW_SECS && at <= now)
    }
}

pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub state: SessionState,
    pub persistent: bool,
    pub client_addr: &'a str,
    pub user_agent: &'a str,
}

pub async fn create(
    conn: &mut AnyConnection,
    new: NewSession<'_>,
    now: UnixTime,
) -> CoreResult<SessionToken> {
    let token = SessionToken::generate();
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, state, persistent, created_at, last_seen_at, client_addr, user_agent, sid) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
    )
    .bind(token.hash())
    .bind(new.user_id.to_string())
    .bind(new.state.as_str())
    .bind(new.persistent as i64)
    .bind(now)
    .bind(new.client_addr)
    .bind(truncate(new.user_agent, 300))
    .bind(Uuid::new_v4().simple().to_string())
    .execute(conn)
    .await?;
    Ok(token)
}

pub async fn load(conn: &mut AnyConnection, token: &SessionToken) -> CoreResult<Option<Session>> {
    let row = sqlx::query(
        "SELECT id_hash, user_id, sid, state, persistent, created_at, last_seen_at, stepped_up_at, \
         second_factor, admitted_by FROM sessions WHERE id_hash = $1",
    )
    .bind(token.hash())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let user_id: String = r.try_get("user_id")?;
        Ok(Session {
            id_hash: r.try_get("id_hash")?,
            user_id: Uuid::parse_str(&user_id).map_err(|e| CoreError::Internal(e.to_string()))?,
            sid: r.try_get("sid")?,
            state: SessionState::parse(&r.try_get::<String, _>("state")?)?,
            persistent: r.try_get::<i64, _>("persistent")? != 0,
            created_at: r.try_get("created_at")?,
            last_seen_at: r.try_get("last_seen_at")?,
            stepped_up_at: r.try_get("stepped_up_at")?,
            second_factor: r.try_get("second_factor")?,
            admitted_by: r.try_get("admitted_by")?,
        })
    })
    .transpose()
}

/// Whether the session named `sid` is still there, full, and within its limits: what an
/// app's grant hangs on.
pub async fn alive_by_sid(
    conn: &mut AnyConnection,
    sid: &str,
    limits: Lifetimes,
    now: UnixTime,
) -> CoreResult<bool> {
    let row = sqlx::query("SELECT state, created_at, last_seen_at FROM sessions WHERE sid = $1")
        .bind(sid)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let state = SessionState::parse(&row.try_get::<String, _>("state")?)?;
    let created_at: i64 = row.try_get("created_at")?;
    let last_seen_at: i64 = row.try_get("last_seen_at")?;
    Ok(state == SessionState::Full
        && now - last_seen_at <= limits.idle_secs
        && now - created_at <= limits.absolute_secs)
}

pub async fn touch(conn: &mut AnyConnection, id_hash: &str, now: UnixTime) -> CoreResult<()> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at < $1")
        .bind(now)
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces a session's id and moves it to `state`, keeping its start time (the absolute
/// lifetime counts from the first sign-in step). Fails if the old id is already gone, so
/// two racing step-ups cannot both succeed.
/// The person proved themselves again in this session: changes from the console are open
/// to it for [`STEP_UP_WINDOW_SECS`]. Only a live full session can be stepped up.
pub async fn record_step_up(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: UnixTime,
) -> CoreResult<()> {
    crate::db::one_row(
        sqlx::query("UPDATE sessions SET stepped_up_at = $1 WHERE id_hash = $2 AND state = 'full'")
            .bind(now)
            .bind(id_hash)
            .execute(conn)
            .await?,
    )
    .map_err(|_| CoreError::SessionEnded)
}

pub async fn rotate(
    conn: &mut AnyConnection,
    old: &Session,
    state: SessionState,
    now: UnixTime,
) -> CoreResult<SessionToken> {
    let token = SessionToken::generate();
    let result = sqlx::query(
        "UPDATE sessions SET id_hash = $1, state = $2, last_seen_at = $3 WHERE id_hash = $4 AND state = $5",
    )
    .bind(token.hash())
    .bind(state.as_str())
    .bind(now)
    .bind(&old.id_hash)
    .bind(old.state.as_str())
    .execute(conn)
    .await?;
    if result.rows_affected() != 1 {
        return Err(CoreError::SessionEnded);
    }
    Ok(token)
}

/// Records the second factor that completed this sign-in (after [`rotate`]).
pub async fn set_second_factor(
    conn: &mut AnyConnection,
    token: &SessionToken,
    factor: &str,
) -> CoreResult<()> {
    sqlx::query("UPDATE sessions SET second_factor = $1 WHERE id_hash = $2")
        .bind(factor)
        .bind(token.hash())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records why the password alone let this session in (`grace`, `exception`).
pub async fn set_admitted_by(
    conn: &mut AnyConnection,
    token: &SessionToken,
    why: &str,
) -> CoreResult<()> {
    sqlx::query("UPDATE sessions SET admitted_by = $1 WHERE id_hash = $2")
        .bind(why)
        .bind(token.hash())
        .execute(conn)
        .await?;
    Ok(())
}

/// Sends a full session that the policy no longer lets in (a deadline passed, an exception
/// ended, a rule was tightened) to the setup wizard. Conditional, so it moves a session
/// only from the state it was read in.
pub async fn demote_to_setup(conn: &mut AnyConnection, id_hash: &str) -> CoreResult<bool> {
    let result = sqlx::query(
        "UPDATE sessions SET state = 'needs_setup' WHERE id_hash = $1 AND state = 'full'",
    )
    .bind(id_hash)
    .execute(conn)
    .await?;
    Ok(crate::db::changed_one(&result))
}

/// Deletes the sessions past their limits (they would be refused anyway), so that their
/// ending takes effect everywhere it is recorded: the apps signed in from them are told
/// (back-channel logout, queued by a trigger). Returns how many.
pub async fn delete_expired(
    conn: &mut AnyConnection,
    limits: Lifetimes,
    now: UnixTime,
) -> CoreResult<u64> {
    let result = sqlx::query(
        "DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2 \
         OR (state = 'needs_second_factor' AND created_at < $3)",
    )
    .bind(now - limits.idle_secs)
    .bind(now - limits.absolute_secs)
    .bind(now - limits.absolute_secs.min(SECOND_FACTOR_WINDOW_SECS))
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

pub async fn delete(conn: &mut AnyConnection, id_hash: &str) -> CoreResult<bool> {
    let result = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Ends every session of a user except `keep` (the one making the change, if any).
/// A session as the console lists it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    pub state: SessionState,
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    pub client_addr: String,
    pub user_agent: String,
}

/// The user's sessions, most recently active first (expired ones linger until touched,
/// so the caller filters by what it considers alive).
pub async fn list_for_user(
    conn: &mut AnyConnection,
    user: Uuid,
) -> CoreResult<Vec<SessionSummary>> {
    let rows = sqlx::query(
        "SELECT state, created_at, last_seen_at, client_addr, user_agent FROM sessions \
         WHERE user_id = $1 ORDER BY last_seen_at DESC LIMIT 100",
    )
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SessionSummary {
                state: SessionState::parse(&r.try_get::<String, _>("state")?)?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                client_addr: r.try_get("client_addr")?,
                user_agent: r.try_get("user_agent")?,
            })
        })
        .collect()
}

pub async fn delete_all_for_user(
    conn: &mut AnyConnection,
    user: Uuid,
    keep: Option<&str>,
) -> CoreResult<u64> {
    let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user.to_string())
        .bind(keep.unwrap_or(""))
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionState::*;

    #[test]
    fn state_after_password() {
        assert_eq!(
            SessionState::after_password(true, false, false),
            NeedsSecondFactor
        );
        assert_eq!(
            SessionState::after_password(true, true, false),
            NeedsSecondFactor
        );
        assert_eq!(SessionState::after_password(false, true, false), NeedsSetup);
        assert_eq!(SessionState::after_password(false, false, false), Full);
        for (two_factor, required) in [(false, false), (false, true), (true, true)] {
            assert_eq!(
                SessionState::after_password(two_factor, required, true),
                NeedsSetupCode,
                "a reset's code comes first"
            );
        }
    }

    #[test]
    fn step_ups_only_from_their_own_state() {
        assert_eq!(NeedsSecondFactor.after_second_factor(), Some(Full));
        assert_eq!(NeedsSetup.after_second_factor(), None);
        assert_eq!(Full.after_second_factor(), None);
        assert_eq!(NeedsSetup.after_setup(), Some(Full));
        assert_eq!(NeedsSecondFactor.after_setup(), None);
        assert_eq!(NeedsSetupCode.after_setup(), None, "the code comes first");
        assert_eq!(NeedsSetupCode.after_setup_code(), Some(NeedsSetup));
        assert_eq!(NeedsSetup.after_setup_code(), None);
    }

    #[test]
    fn guard_decisions() {
        use Access::*;
        assert_eq!(authorize(None, Public), Ok(()));
        assert_eq!(authorize(None, Full), Err(Refusal::SignedOut));
        assert_eq!(authorize(None, AnySession), Err(Refusal::SignedOut));
        let half = Some((NeedsSecondFactor, Role::Admin));
        assert_eq!(authorize(half, SecondFactor), Ok(()));
        assert_eq!(authorize(half, Full), Err(Refusal::NeedsSecondFactor));
        assert_eq!(
            authorize(half, Roles(roles::ADMIN)),
            Err(Refusal::NeedsSecondFactor)
        );
        assert_eq!(authorize(half, Setup), Err(Refusal::NeedsSecondFactor));
        assert_eq!(authorize(half, SetupCode), Err(Refusal::NeedsSecondFactor));
        assert_eq!(authorize(half, AnySession), Ok(()));
        let setup = Some((NeedsSetup, Role::Staff));
        assert_eq!(authorize(setup, Setup), Ok(()));
        assert_eq!(authorize(setup, Full), Err(Refusal::NeedsSetup));
        assert_eq!(authorize(setup, Enrol), Ok(()));
        assert_eq!(authorize(half, Enrol), Err(Refusal::NeedsSecondFactor));
        let owes_code = Some((NeedsSetupCode, Role::Admin));
        assert_eq!(authorize(owes_code, SetupCode), Ok(()));
        assert_eq!(
            authorize(owes_code, Setup),
            Ok(()),
            "the wizard page asks for it"
        );
        for need in [Enrol, Full, Roles(roles::ADMIN)] {
            assert_eq!(
                authorize(owes_code, need),
                Err(Refusal::NeedsSetup),
                "{need:?}"
            );
        }
        assert_eq!(authorize(setup, SetupCode), Err(Refusal::NotAllowed));
        let staff = Some((SessionState::Full, Role::Staff));
        assert_eq!(authorize(staff, Enrol), Ok(()));
        assert_eq!(authorize(staff, Full), Ok(()));
        for console in [roles::ADMIN, roles::HELPDESK, roles::CONSOLE] {
            assert_eq!(authorize(staff, Roles(console)), Err(Refusal::NotAllowed));
        }
        let auditor = Some((SessionState::Full, Role::Auditor));
        assert_eq!(authorize(auditor, Roles(roles::CONSOLE)), Ok(()));
        assert_eq!(
            authorize(auditor, Roles(roles::HELPDESK)),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(
            authorize(auditor, Roles(roles::ADMIN)),
            Err(Refusal::NotAllowed)
        );
        let helpdesk = Some((SessionState::Full, Role::Helpdesk));
        assert_eq!(authorize(helpdesk, Roles(roles::HELPDESK)), Ok(()));
        assert_eq!(
            authorize(helpdesk, Roles(roles::ADMIN)),
            Err(Refusal::NotAllowed)
        );
        let admin = Some((SessionState::Full, Role::Admin));
        for console in [roles::ADMIN, roles::HELPDESK, roles::CONSOLE] {
            assert_eq!(authorize(admin, Roles(console)), Ok(()));
        }
        assert_eq!(authorize(admin, SecondFactor), Err(Refusal::NotAllowed));
    }

    #[test]
    fn a_step_up_lasts_ten_minutes() {
        let mut s = session(Full, 0, 0);
        assert!(!s.stepped_up_recently(100), "never stepped up");
        s.stepped_up_at = Some(1000);
        assert!(s.stepped_up_recently(1000));
        assert!(s.stepped_up_recently(1000 + STEP_UP_WINDOW_SECS));
        assert!(!s.stepped_up_recently(1000 + STEP_UP_WINDOW_SECS + 1));
        assert!(!s.stepped_up_recently(999), "not from the future");
    }

    fn session(state: SessionState, created_at: i64, last_seen_at: i64) -> Session {
        Session {
            id_hash: String::new(),
            user_id: Uuid::nil(),
            sid: String::new(),
            state,
            persistent: false,
            created_at,
            last_seen_at,
            stepped_up_at: None,
            second_factor: None,
            admitted_by: None,
        }
    }

    const LIMITS: Lifetimes = Lifetimes {
        idle_secs: 1800,
        absolute_secs: 43200,
    };

    #[test]
    fn idle_timeout() {
        let s = session(Full, 0, 1000);
        assert!(s.is_alive(LIMITS, 1000 + 1800));
        assert!(!s.is_alive(LIMITS, 1000 + 1801));
    }

    #[test]
    fn absolute_lifetime_even_when_active() {
        let s = session(Full, 0, 43_000);
        assert!(s.is_alive(LIMITS, 43_200));
        assert!(!s.is_alive(LIMITS, 43_201));
    }

    #[test]
    fn half_sessions_expire_quickly() {
        let s = session(NeedsSecondFactor, 0, 500);
        assert!(s.is_alive(LIMITS, SECOND_FACTOR_WINDOW_SECS));
        assert!(!s.is_alive(LIMITS, SECOND_FACTOR_WINDOW_SECS + 1));
    }

    #[test]
    fn tokens_are_256_bit_and_hashed() {
        let t = SessionToken::generate();
        assert_eq!(t.as_cookie_value().len(), 43);
        assert_ne!(t, SessionToken::generate());
        assert_eq!(t.hash().len(), 64);
        assert!(!t.hash().contains(t.as_cookie_value()));
        assert!(SessionToken::from_cookie(t.as_cookie_value()).is_some());
        assert!(SessionToken::from_cookie("short").is_none());
        assert!(SessionToken::from_cookie(&"a".repeat(42).replace('a', "'")).is_none());
        assert!(!format!("{t:?}").contains(t.as_cookie_value()));
    }
}
