//! The flows that tie accounts, sessions, throttling, audit and mail together.
//!
//! [`Tessera`] is what the web layer and the CLI call. Each state change is one
//! transaction that also writes its audit record and any mail, so a crash leaves either
//! all of it or none. Slow work (argon2) never runs inside a transaction: SQLite has one
//! writer, and nobody should queue behind a password hash.

mod passkey_flows;
mod two_factor;

use std::sync::Arc;

use uuid::Uuid;

use crate::accounts::{self, Email, NewUser, Organisation, Role, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::db::Db;
use crate::mail::{self, Mail};
use crate::password::{self, HashCost, PasswordHasher, Verified};
use crate::secret_box::ServerKey;
use crate::session::{self, Lifetimes, NewSession, Session, SessionState, SessionToken};
use crate::throttle::{self, Scope};
use crate::{setup, Clock, CoreError, CoreResult, UnixTime};

pub use two_factor::{FactorAdded, Proof, SecondStepOutcome, TotpEnrolment, TwoFactorStatus};

#[derive(Debug, Clone)]
pub struct TesseraConfig {
    pub database_url: String,
    pub hash_cost: HashCost,
    /// At most this many argon2 hashes run at once (each holds ~19 MiB).
    pub max_concurrent_hashes: usize,
    /// Encrypts TOTP keys at rest.
    pub server_key: ServerKey,
    /// The origin people use (`https://tessera.clinic.org`); its host is the WebAuthn
    /// relying-party id, so passkeys work only there.
    pub public_origin: String,
}

/// Who is asking, as far as the network can tell.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub addr: String,
    pub user_agent: String,
}

/// A signed-in (or half signed-in) caller, resolved from a session cookie.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: Session,
    pub user: User,
    pub organisation: Organisation,
}

/// A successful password step.
#[derive(Debug)]
pub struct SignInOutcome {
    pub token: SessionToken,
    pub state: SessionState,
    /// Whether the cookie may outlive the browser ("remember me", never with 2FA).
    pub persistent: bool,
    pub max_age_secs: i64,
}

/// A demo account created on a fresh demo database, to be printed for the operator.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub display_name: String,
}

#[derive(Clone)]
pub struct Tessera {
    db: Db,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    server_key: ServerKey,
    webauthn: Arc<webauthn_rs::Webauthn>,
    /// Password checks running per client address.
    password_checks: Arc<crate::in_flight::InFlight>,
}

/// At most this many password checks from one address at once; more wait their turn.
pub const PASSWORD_CHECKS_PER_ADDRESS: usize = 16;

impl Tessera {
    pub async fn open(config: &TesseraConfig, clock: Arc<dyn Clock>) -> CoreResult<Tessera> {
        let db = Db::connect(&config.database_url).await?;
        let cost = config.hash_cost;
        let max = config.max_concurrent_hashes;
        let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(cost, max))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(Tessera {
            db,
            clock,
            hasher,
            server_key: config.server_key.clone(),
            webauthn: Arc::new(relying_party(&config.public_origin)?),
            password_checks: crate::in_flight::InFlight::new(PASSWORD_CHECKS_PER_ADDRESS),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub async fn organisation(&self) -> CoreResult<Option<Organisation>> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::organisation(&mut conn).await
    }

    // ---------------------------------------------------------------- first run

    /// A one-time setup token, or `None` when the organisation already exists.
    pub async fn issue_setup_token(&self) -> CoreResult<Option<String>> {
        let mut tx = self.db.write().await?;
        if accounts::organisation(&mut tx).await?.is_some() {
            return Ok(None);
        }
        let token = setup::issue(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    pub async fn setup_token_valid(&self, token: &str) -> CoreResult<bool> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(accounts::organisation(&mut conn).await?.is_none()
            && setup::is_valid(&mut conn, token, self.now()).await?)
    }

    /// Creates the organisation and its first admin, consuming the setup token.
    pub async fn complete_setup(
        &self,
        token: &str,
        organisation_name: &str,
        email: &str,
        display_name: &str,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<Uuid> {
        let organisation_name = validate_organisation_name(organisation_name)?;
        let email = Email::parse(email)?;
        let display_name = accounts::validate_display_name(display_name)?;
        password::check_new_password(password, email.as_str(), &organisation_name)?;
        if !self.setup_token_valid(token).await? {
            return Err(CoreError::SetupTokenInvalid);
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        setup::consume(&mut tx, token, now).await?;
        accounts::insert_organisation(&mut tx, &organisation_name, false, now).await?;
        let id = accounts::insert_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: &display_name,
                role: Role::Admin,
                password_hash: Some(&hash),
            },
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated)
                .actor(id)
                .from_addr(&client.addr)
                .detail(format!("organisation \"{organisation_name}\" set up")),
            now,
        )
        .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::UserCreated)
                .actor(id)
                .subject(Some(id), email.as_str())
                .from_addr(&client.addr)
                .detail("first admin, created by the setup page"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// On an empty database, creates a clearly labelled demo organisation with an admin and
    /// a few staff, and returns their sign-in details. `None` if anything exists already.
    pub async fn seed_demo(&self) -> CoreResult<Option<Vec<DemoAccount>>> {
        if self.organisation().await?.is_some() {
            return Ok(None);
        }
        let people = [
            (
                "admin@riverside.example",
                "Alex Morgan (demo admin)",
                Role::Admin,
                "demo admin passphrase",
            ),
            (
                "nurse.jones@riverside.example",
                "Sam Jones (demo staff)",
                Role::Staff,
                "demo staff passphrase",
            ),
            (
                "dr.patel@riverside.example",
                "Priya Patel (demo staff)",
                Role::Staff,
                "demo staff passphrase",
            ),
            (
                "reception@riverside.example",
                "Jordan Lee (demo staff)",
                Role::Staff,
                "demo staff passphrase",
            ),
        ];
        let mut hashes = Vec::new();
        for (_, _, _, pw) in &people {
            hashes.push(self.hasher.hash(pw).await?);
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        match accounts::insert_organisation(&mut tx, "Riverside Family Clinic (DEMO)", true, now)
            .await
        {
            Err(CoreError::AlreadySetUp) => return Ok(None),
            other => other?,
        }
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated).detail("demo organisation seeded"),
            now,
        )
        .await?;
        let mut created = Vec::new();
        for ((email, name, role, pw), hash) in people.iter().zip(&hashes) {
            let email = Email::parse(email)?;
            let id = accounts::insert_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: name,
                    role: *role,
                    password_hash: Some(hash),
                },
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::UserCreated)
                    .subject(Some(id), email.as_str())
                    .detail("demo account"),
                now,
            )
            .await?;
            created.push(DemoAccount {
                email: email.to_string(),
                password: pw.to_string(),
                role: *role,
                display_name: name.to_string(),
            });
        }
        tx.commit().await?;
        Ok(Some(created))
    }

    // ---------------------------------------------------------------- operators

    /// Creates the organisation from the command line (instead of the setup page).
    pub async fn create_organisation(&self, name: &str) -> CoreResult<()> {
        let name = validate_organisation_name(name)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        accounts::insert_organisation(&mut tx, &name, false, now).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::OrganisationCreated).detail(format!(
                "organisation \"{name}\" set up from the command line"
            )),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a user (CLI, later the admin pages). `actor` is the admin doing it, if any.
    pub async fn create_user(
        &self,
        actor: Option<Uuid>,
        email: &str,
        display_name: &str,
        role: Role,
        password: Option<&str>,
    ) -> CoreResult<Uuid> {
        let email = Email::parse(email)?;
        let display_name = accounts::validate_display_name(display_name)?;
        let organisation = self
            .organisation()
            .await?
            .ok_or_else(|| {
                CoreError::invalid(
                    "organisation",
                    "There is no organisation yet: open the setup link the server prints, or pass --organisation.",
                )
            })?;
        let hash = match password {
            Some(pw) => {
                password::check_new_password(pw, email.as_str(), &organisation.name)?;
                Some(self.hasher.hash(pw).await?)
            }
            None => None,
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let id = accounts::insert_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: &display_name,
                role,
                password_hash: hash.as_deref(),
            },
            now,
        )
        .await?;
        let mut event = AuditEvent::new(AuditKind::UserCreated)
            .subject(Some(id), email.as_str())
            .detail(format!("role {}", role.as_str()));
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        audit::record(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Sets a password from the command line (the operator's break-glass path). Ends the
    /// user's sessions and tells them by mail.
    pub async fn operator_set_password(&self, email: &str, password: &str) -> CoreResult<()> {
        let email = Email::parse(email)?;
        let organisation = self
            .organisation()
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        password::check_new_password(password, email.as_str(), &organisation)?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let user = accounts::user_by_email(&mut tx, &email)
            .await?
            .ok_or(CoreError::NotFound)?;
        accounts::set_password_hash(&mut tx, user.id, &hash, now).await?;
        session::delete_all_for_user(&mut tx, user.id, None).await?;
        throttle::clear(&mut tx, Scope::PasswordAccount, email.as_str()).await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::PasswordSetByOperator)
                .subject(Some(user.id), email.as_str())
                .detail("set from the command line; all sessions ended"),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &password_changed_mail(&user, now, "the server's command line"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns the organisation's "require two-step authentication" on or off from the
    /// command line. Users without a method are sent to the setup wizard at their next
    /// sign-in. Returns whether anything changed.
    pub async fn operator_require_two_factor(&self, required: bool) -> CoreResult<bool> {
        if self.organisation().await?.is_none() {
            return Err(CoreError::invalid(
                "organisation",
                "There is no organisation yet: finish the first-run setup first.",
            ));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let changed = sqlx::query(
            "UPDATE organisation SET require_two_factor = $1 WHERE require_two_factor <> $1",
        )
        .bind(required as i64)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::TwoFactorPolicyChanged).detail(if required {
                "two-step authentication required for everyone (from the command line)"
            } else {
                "two-step authentication no longer required (from the command line)"
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn list_users(&self) -> CoreResult<Vec<User>> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::list_users(&mut conn).await
    }

    // ---------------------------------------------------------------- sign-in

    /// The password step. On success the session starts in the state the account needs
    /// next; on failure the answer is the same whether or not the email exists.
    pub async fn sign_in(
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

        // A place among the address's checks in flight, held until the outcome is recorded;
        // the throttle is consulted only once in, so it sees the failures recorded meanwhile.
        let _slot = self.password_checks.enter(&client.addr).await;
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
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::SignInFailed)
                    .subject(user_id, email.as_str())
                    .from_addr(&client.addr)
                    .detail(reason),
                now,
            )
            .await?;
            if account_failures == throttle::ThrottlePolicy::ACCOUNT.lock_after {
                audit::record(
                    &mut tx,
                    AuditEvent::new(AuditKind::AccountLocked)
                        .subject(user_id, email.as_str())
                        .from_addr(&client.addr)
                        .detail(format!("{account_failures} failed password attempts")),
                    now,
                )
                .await?;
                if let Some(user) = user.as_ref().filter(|u| u.active) {
                    mail::enqueue(&mut tx, &locked_mail(user, now), now).await?;
                }
            }
            tx.commit().await?;
            return Err(CoreError::InvalidCredentials);
        };

        if let Verified::YesRehashed(new_hash) = &verified {
            accounts::set_password_hash(&mut tx, user.id, new_hash, now).await?;
        }
        throttle::clear(&mut tx, Scope::PasswordAccount, email.as_str()).await?;
        let organisation = accounts::organisation(&mut tx)
            .await?
            .ok_or_else(|| CoreError::Internal("users exist without an organisation".into()))?;
        let state =
            SessionState::after_password(user.two_factor_enabled, organisation.require_two_factor);
        // "Remember me" never outlives the browser for accounts with a second factor.
        let persistent = remember && !user.two_factor_enabled;
        let token = session::create(
            &mut tx,
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
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::SignInSucceeded)
                .actor(user.id)
                .subject(Some(user.id), email.as_str())
                .from_addr(&client.addr)
                .detail(match state {
                    SessionState::Full => "password; signed in",
                    SessionState::NeedsSecondFactor => "password; second factor owed",
                    SessionState::NeedsSetup => "password; must set up two-step authentication",
                }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SignInOutcome {
            token,
            state,
            persistent,
            max_age_secs: organisation.session_absolute_secs,
        })
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
        drop(conn);
        let Some(user) = user.filter(|u| u.active && alive) else {
            let mut tx = self.db.write().await?;
            session::delete(&mut tx, &session.id_hash).await?;
            tx.commit().await?;
            return Ok(None);
        };
        if session.needs_touch(now) {
            let mut tx = self.db.write().await?;
            session::touch(&mut tx, &session.id_hash, now).await?;
            tx.commit().await?;
        }
        Ok(Some(Caller {
            session,
            user,
            organisation,
        }))
    }

    pub async fn sign_out(&self, caller: &Caller, client: &ClientInfo) -> CoreResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        if session::delete(&mut tx, &caller.session.id_hash).await? {
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::SignedOut)
                    .actor(caller.user.id)
                    .subject(Some(caller.user.id), caller.user.email.as_str())
                    .from_addr(&client.addr),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks the current password for a sensitive change. Failures count against the
    /// account like failed sign-ins, so a stolen session cannot guess the password.
    pub async fn confirm_password(
        &self,
        caller: &Caller,
        password: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        let key = caller.user.email.as_str();
        let counted = {
            let mut tx = self.db.write().await?;
            let n =
                throttle::begin_attempt(&mut tx, Scope::PasswordAccount, key, self.now()).await?;
            tx.commit().await?;
            n
        };
        let stored = caller.user.password_hash.as_deref();
        let ok = password.chars().count() <= password::MAX_LEN
            && !matches!(self.hasher.verify(password, stored).await?, Verified::No);
        let mut tx = self.db.write().await?;
        if ok {
            throttle::clear(&mut tx, Scope::PasswordAccount, key).await?;
            tx.commit().await?;
            Ok(())
        } else {
            audit::record(
                &mut tx,
                AuditEvent::new(AuditKind::SignInFailed)
                    .actor(caller.user.id)
                    .subject(Some(caller.user.id), key)
                    .from_addr(&client.addr)
                    .detail("wrong current password for a sensitive change"),
                self.now(),
            )
            .await?;
            if counted == throttle::ThrottlePolicy::ACCOUNT.lock_after {
                audit::record(
                    &mut tx,
                    AuditEvent::new(AuditKind::AccountLocked)
                        .actor(caller.user.id)
                        .subject(Some(caller.user.id), key)
                        .from_addr(&client.addr)
                        .detail(format!("{counted} failed password attempts")),
                    self.now(),
                )
                .await?;
                mail::enqueue(&mut tx, &locked_mail(&caller.user, self.now()), self.now()).await?;
            }
            tx.commit().await?;
            Err(CoreError::WrongCurrentPassword)
        }
    }

    /// Changes the caller's own password. Ends their other sessions and tells them by mail.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> CoreResult<()> {
        if current.is_empty() {
            return Err(CoreError::invalid(
                "current_password",
                "Enter your current password.",
            ));
        }
        password::check_new_password(new, caller.user.email.as_str(), &caller.organisation.name)?;
        self.confirm_password(caller, current, client).await?;
        let hash = self.hasher.hash(new).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        accounts::set_password_hash(&mut tx, caller.user.id, &hash, now).await?;
        let ended =
            session::delete_all_for_user(&mut tx, caller.user.id, Some(&caller.session.id_hash))
                .await?;
        audit::record(
            &mut tx,
            AuditEvent::new(AuditKind::PasswordChanged)
                .actor(caller.user.id)
                .subject(Some(caller.user.id), caller.user.email.as_str())
                .from_addr(&client.addr)
                .detail(format!("{ended} other session(s) ended")),
            now,
        )
        .await?;
        mail::enqueue(
            &mut tx,
            &password_changed_mail(&caller.user, now, &client.addr),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record(&self, event: AuditEvent<'_>) -> CoreResult<()> {
        let mut tx = self.db.write().await?;
        audit::record(&mut tx, event, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The WebAuthn relying party for the public origin: its host is the RP id.
fn relying_party(origin: &str) -> CoreResult<webauthn_rs::Webauthn> {
    let url = webauthn_rs::prelude::Url::parse(origin)
        .map_err(|e| CoreError::invalid("public_url", format!("not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| CoreError::invalid("public_url", "the public URL needs a host"))?
        .to_string();
    webauthn_rs::WebauthnBuilder::new(&host, &url)
        .and_then(|b| b.rp_name("Tessera").build())
        .map_err(|e| {
            CoreError::invalid(
                "public_url",
                format!("cannot serve passkeys for {origin}: {e}"),
            )
        })
}

fn validate_organisation_name(input: &str) -> CoreResult<String> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "organisation_name",
            "Enter the organisation's name (at most 120 characters).",
        ));
    }
    Ok(name.to_string())
}

fn password_changed_mail(user: &User, at: UnixTime, from: &str) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: "Your Tessera password was changed".into(),
        body: format!(
            "Hello {name},\n\nThe password of your Tessera account ({email}) was changed on {when} \
             from {from}. Your other sessions were signed out.\n\nIf this was not you, contact \
             your administrator now: someone else may have access to your account.\n",
            name = user.display_name,
            email = user.email,
            when = crate::clock::format_utc(at),
        ),
    }
}

pub(super) fn locked_mail(user: &User, at: UnixTime) -> Mail {
    Mail {
        to: user.email.to_string(),
        subject: "Sign-in to your Tessera account was paused".into(),
        body: format!(
            "Hello {name},\n\nThere were too many failed attempts to sign in to your Tessera \
             account ({email}); sign-in is paused for 15 minutes from {when}.\n\nIf this was \
             not you, someone may be guessing your password: tell your administrator.\n",
            name = user.display_name,
            email = user.email,
            when = crate::clock::format_utc(at),
        ),
    }
}
