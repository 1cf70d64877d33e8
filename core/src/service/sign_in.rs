//! Signing in with the password, finding the caller behind a session cookie, signing out.

use super::notices::lock_if_reached;
use super::{Caller, ClientInfo, Tessera};
use crate::accounts::{self, Email, Organisation, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::clock::format_utc;
use crate::password::{self, Verified};
use crate::policy::Standing;
use crate::session::{self, Lifetimes, NewSession, SessionState, SessionToken};
use crate::throttle::{self, Scope};
use crate::{CoreError, CoreResult, UnixTime};

/// A successful password step.
#[derive(Debug)]
pub struct SignInOutcome {
    pub token: SessionToken,
    pub state: SessionState,
    /// Whether the cookie may outlive the browser ("remember me", never with 2FA).
    pub persistent: bool,
    pub max_age_secs: i64,
}

/// Starts the session a correct password earns, in `tx`: in the state the account needs
/// next. After a reset, the setup code comes first, and then the wizard until a method is
/// set up again, whatever the organisation requires of others. Sign-in and accepting an
/// invitation both come through here.
pub(super) async fn start_session(
    tx: &mut crate::db::Tx,
    user: &User,
    persistent: bool,
    client: &ClientInfo,
    now: UnixTime,
) -> CoreResult<Started> {
    let organisation = accounts::organisation(tx)
        .await?
        .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
    let reset = crate::setup_codes::state(tx, user.id).await?;
    // The enrolment period counts from the first time the password was accepted.
    sqlx::query(
        "UPDATE users SET first_sign_in_at = $1 WHERE id = $2 AND first_sign_in_at IS NULL",
    )
    .bind(now)
    .bind(user.id.to_string())
    .execute(&mut **tx)
    .await?;
    let standing = crate::policy::standing_of(tx, &organisation.policy, user, now).await?;
    // An exception lets the password alone in, whatever is on record (the phone with the
    // app, or a pending reset's setup code, may be what is missing).
    let state = if let Standing::Exception { .. } = standing {
        SessionState::Full
    } else {
        SessionState::after_password(
            user.two_factor_enabled,
            standing.asks_for_setup() || reset == crate::setup_codes::Reset::MustEnrol,
            reset == crate::setup_codes::Reset::CodeOwed,
        )
    };
    if state == SessionState::Full {
        accounts::record_sign_in(tx, user.id, now).await?;
    }
    let token = session::create(
        tx,
        NewSession {
            user_id: user.id,
            state,
            persistent,
            client_addr: &client.addr,
            user_agent: &client.user_agent,
        },
        now,
    )
    .await?;
    if let (SessionState::Full, Standing::Exception { .. }) = (state, standing) {
        session::set_admitted_by(tx, &token, "exception").await?;
    }
    Ok(Started {
        state,
        token,
        organisation,
        standing,
    })
}

/// A session started by a correct password.
pub(super) struct Started {
    pub state: SessionState,
    pub token: SessionToken,
    pub organisation: Organisation,
    /// Where the person stood against the policy then.
    pub standing: Standing,
}

/// How a sign-in ended, for its audit record: a full session without a second factor
/// says why the password alone was enough.
pub(super) fn sign_in_detail(state: SessionState, standing: Standing) -> String {
    match (state, standing) {
        (SessionState::Full, Standing::Exception { until }) => format!(
            "password only, under a temporary exception until {}",
            format_utc(until)
        ),
        (SessionState::Full, _) => "password only; signed in".into(),
        (SessionState::NeedsSecondFactor, _) => "password; second factor owed".into(),
        (SessionState::NeedsSetup, Standing::Grace { until, shortfall }) => format!(
            "password; setup wizard offered, may be skipped until {} ({})",
            format_utc(until),
            shortfall.as_str()
        ),
        (SessionState::NeedsSetup, Standing::MustSetUp(shortfall)) => format!(
            "password; must set up two-step authentication ({})",
            shortfall.as_str()
        ),
        (SessionState::NeedsSetup, _) => "password; must set up two-step authentication".into(),
        (SessionState::NeedsSetupCode, _) => {
            "password; owes the setup code of a two-step reset".into()
        }
    }
}

impl Tessera {
    /// The password step. On success the session starts in the state the account needs
    /// next; on failure the answer is the same whether or not the email exists.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        remember: bool,
        client: &ClientInfo,
    ) -> CoreResult<SignInOutcome> {
        let result = self.password_step(email, password, remember, client).await;
        crate::metrics::sign_in(&result);
        result
    }

    async fn password_step(
        &self,
        email: &str,
        password: &str,
        remember: bool,
        client: &ClientInfo,
    ) -> CoreResult<SignInOutcome> {
        let email = Email::parse(email)?;
        if password.is_empty() {
            return Err(CoreError::invalid("password", "Enter your password."));
        }
        if password.chars().count() > password::MAX_LEN {
            return Err(CoreError::InvalidCredentials);
        }

        // A place among the address's checks in flight, then the account's turn, both held
        // until the outcome is recorded; the throttle is consulted only once in, so it sees
        // the failures recorded meanwhile, and never an attempt still running.
        let _address = self.password_checks.enter(&client.addr).await?;
        let _account = match self.account_checks.enter(email.as_str()).await {
            Ok(turn) => turn,
            Err(busy) => {
                self.record(
                    AuditEvent::new(AuditKind::SignInThrottled)
                        .subject(None, email.as_str())
                        .from_addr(&client.addr)
                        .detail("too many sign-ins to this account at once; refused unchecked"),
                )
                .await?;
                return Err(busy);
            }
        };
        let now = self.now();
        // Count the attempt first, in a short transaction of its own.
        let account_failures = {
            let mut tx = self.db.write().await?;
            let counted = async {
                throttle::check(&mut tx, Scope::PasswordAddress, &client.addr, now).await?;
                throttle::begin_attempt(&mut tx, Scope::PasswordAccount, email.as_str(), now).await
            }
            .await;
            match counted {
                Ok(n) => {
                    tx.commit().await?;
                    n
                }
                Err(e @ CoreError::Throttled { .. }) => {
                    drop(tx);
                    self.record(
                        AuditEvent::new(AuditKind::SignInThrottled)
                            .subject(None, email.as_str())
                            .from_addr(&client.addr),
                    )
                    .await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        };

        let user = {
            let mut conn = self.db.pool().acquire().await?;
            accounts::user_by_email(&mut conn, &email).await?
        };
        let stored = user
            .as_ref()
            .filter(|u| u.active)
            .and_then(|u| u.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored).await?;

        let now = self.now();
        let mut tx = self.db.write().await?;
        let (Some(user), Verified::Yes | Verified::YesRehashed(_)) = (&user, &verified) else {
            let reason = match &user {
                None => "unknown email",
                Some(u) if !u.active => "account disabled",
                Some(u) if u.password_hash.is_none() => "no password set",
                Some(_) => "wrong password",
            };
            let user_id = user.as_ref().map(|u| u.id);
            throttle::record_failure(&mut tx, Scope::PasswordAddress, &client.addr, now).await?;
            let failed = AuditEvent::new(AuditKind::SignInFailed)
                .subject(user_id, email.as_str())
                .from_addr(&client.addr)
                .detail(reason);
            audit::record(&mut tx, failed.clone(), now).await?;
            lock_if_reached(
                &mut tx,
                account_failures,
                "failed password attempts",
                &failed,
                user.as_ref(),
                now,
            )
            .await?;
            tx.commit().await?;
            return Err(CoreError::InvalidCredentials);
        };

        // The password was checked against the row as read before the transaction. Still
        // the same password of an active account? Taking the row's lock only if so decides
        // it: a reset, a password change or a disabling that committed meanwhile wins, and
        // one that comes after waits for this sign-in (and then ends its session).
        let current = sqlx::query(
            "UPDATE users SET role = role WHERE id = $1 AND active = 1 AND password_hash = $2",
        )
        .bind(user.id.to_string())
        .bind(stored.unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        if !crate::db::changed_one(&current) {
            return Err(CoreError::InvalidCredentials);
        }
        if let Verified::YesRehashed(new_hash) = &verified {
            accounts::set_password_hash(&mut tx, user.id, new_hash, now).await?;
        }
        throttle::clear(&mut tx, Scope::PasswordAccount, email.as_str()).await?;
        // "Remember me" never outlives the browser for accounts with a second factor.
        let persistent = remember && !user.two_factor_enabled;
        let started = start_session(&mut tx, user, persistent, client, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::SignInSucceeded)
                .actor(user.id)
                .subject(Some(user.id), email.as_str())
                .from_addr(&client.addr)
                .detail(sign_in_detail(started.state, started.standing)),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SignInOutcome {
            token: started.token,
            state: started.state,
            persistent,
            max_age_secs: started.organisation.session_absolute_secs,
        })
    }

    /// Deletes the sessions past their limits (housekeeping), so everything that hangs on
    /// them ends as well: the apps signed in from them are told (back-channel logout).
    pub async fn end_expired_sessions(&self) -> CoreResult<u64> {
        let Some(organisation) = self.organisation().await? else {
            return Ok(0);
        };
        let mut tx = self.db.write().await?;
        let ended =
            session::delete_expired(&mut tx, Lifetimes::from(&organisation), self.now()).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// The caller behind a session cookie, or `None` if the session is unknown, expired
    /// (it is then deleted) or belongs to a disabled user. Refreshes the idle timer.
    pub async fn resolve(&self, token: &SessionToken) -> CoreResult<Option<Caller>> {
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let Some(session) = session::load(&mut conn, token).await? else {
            return Ok(None);
        };
        let organisation = accounts::organisation(&mut conn)
            .await?
            .ok_or_else(|| CoreError::Internal("session without organisation".into()))?;
        let user = accounts::user_by_id(&mut conn, session.user_id).await?;
        let alive = session.is_alive(Lifetimes::from(&organisation), now);
        let Some(user) = user.filter(|u| u.active && alive) else {
            drop(conn);
            let mut tx = self.db.write().await?;
            session::delete(&mut tx, &session.id_hash).await?;
            tx.commit().await?;
            return Ok(None);
        };
        // On the same connection: one more small read, only while the policy requires.
        let standing = if matches!(session.state, SessionState::Full | SessionState::NeedsSetup) {
            crate::policy::standing_of(&mut conn, &organisation.policy, &user, now).await?
        } else {
            Standing::NotRequired
        };
        drop(conn);
        let mut session = session;
        // A session let in by the password alone under a grace period or an exception
        // whose time is up: from this request on, the setup wizard if the person must set
        // up, else (an exception ended, and the methods on record satisfy the policy) it
        // ends, and the next sign-in asks for the second step. Other sessions keep going
        // until the next sign-in, which is when a new requirement or rule applies.
        let lapsed = session.state == SessionState::Full
            && match session.admitted_by.as_deref() {
                Some("exception") => {
                    !matches!(standing, Standing::Exception { .. } | Standing::NotRequired)
                }
                Some(_) => matches!(standing, Standing::MustSetUp(_)),
                None => false,
            };
        if lapsed || session.needs_touch(now) {
            let mut tx = self.db.write().await?;
            if lapsed && !standing.asks_for_setup() {
                session::delete(&mut tx, &session.id_hash).await?;
                tx.commit().await?;
                return Ok(None);
            }
            if lapsed && session::demote_to_setup(&mut tx, &session.id_hash).await? {
                audit::record(
                    &mut tx,
                    AuditEvent::new(AuditKind::SentToSetup)
                        .actor(user.id)
                        .subject(Some(user.id), user.email.as_str())
                        .detail(standing.shortfall().map_or("", |s| s.as_str())),
                    now,
                )
                .await?;
                session.state = SessionState::NeedsSetup;
            }
            session::touch(&mut tx, &session.id_hash, now).await?;
            tx.commit().await?;
        }
        Ok(Some(Caller {
            session,
            user,
            organisation,
            standing,
        }))
    }

    pub async fn sign_out(&self, caller: &Caller, client: &ClientInfo) -> CoreResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        if session::delete(&mut tx, &caller.session.id_hash).await? {
            audit::record(
                &mut tx,
                super::event(AuditKind::SignedOut, caller, client),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
