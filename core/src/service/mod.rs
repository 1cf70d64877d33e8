//! The flows that tie accounts, sessions, throttling, audit and mail together, one file
//! per flow.
//!
//! [`Tessera`] is what the web layer and the CLI call. Each state change is one
//! transaction that also writes its audit record and any mail, so a crash leaves either
//! all of it or none. Slow work (argon2) never runs inside a transaction: SQLite has one
//! writer, and nobody should queue behind a password hash.
//!
//! - [`setup`] and [`demo`]: first run — the setup link; the demo organisation;
//! - [`operators`]: what the command line does (users, passwords, the requirement);
//! - [`sign_in`]: the password step, resolving a session, signing out;
//! - [`step_up`] and [`account`]: the current password for sensitive changes, changing it;
//! - [`second_step`]: the second sign-in step with every method;
//! - [`methods`]: what adding or removing any method does to the account;
//! - [`authenticator`], [`passkeys`], [`backup_codes`]: each method's own flows;
//! - [`grace`]: the setup wizard's offer, and skipping it during a grace period;
//! - [`notices`]: the mail a user gets, and the one "lock reached" rule;
//! - [`account_links`]: the mailed links' other end (invitations, password resets, new
//!   addresses);
//! - [`admin`]: the console's flows.

mod account;
mod account_links;
mod admin;
mod authenticator;
mod backup;
mod backup_codes;
mod demo;
mod gate;
mod grace;
mod methods;
mod notices;
mod oidc;
mod oidc_logout;
mod operators;
mod passkeys;
mod second_step;
mod setup;
mod setup_code;
mod sign_in;
mod step_up;

use std::sync::Arc;

use crate::accounts::{self, Organisation, User};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::db::Db;
use crate::password::{HashCost, PasswordHasher};
use crate::secret_box::ServerKey;
use crate::session::Session;
use crate::{Clock, CoreError, CoreResult, UnixTime};

pub use account_links::LinkInfo;
pub use admin::{
    file_hash, AddressChange, By, ImportPreview, ImportRow, Invited, Invitee, RegisteredApp,
    RemindOutcome, ResetOutcome, SessionView, UserDetail, EXPORT_COLUMNS, MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
};
pub use admin::{
    format_date, format_day, parse_date, AuditPage, CoveragePoint, Exception, Report, ReportEvent,
    Settings, AUDIT_COLUMNS,
};
pub use authenticator::TotpEnrolment;
pub use backup::{replace_with_backup, Restored};
pub use demo::{DemoAccount, DEMO_APP_ID};
pub use gate::{normalise_host, GateCheck, GateHost};
pub use grace::{Skip, WizardOffer};
pub use methods::{FactorAdded, TwoFactorStatus};
pub use oidc::{
    Authorize, AuthorizeRequest, ClientCredentials, OAuthError, SessionClaims, TokenRequest,
};
pub use oidc_logout::{
    EndSession, EndSessionRequest, LogoutClaims, PendingLogout, LOGOUT_ATTEMPTS,
};
pub use second_step::{Proof, SecondStepOutcome};
pub use sign_in::SignInOutcome;

#[derive(Debug, Clone)]
pub struct TesseraConfig {
    pub database_url: String,
    /// Connections this process keeps to the database at most (`None`: the backend's
    /// default, 8 for SQLite, 16 for PostgreSQL).
    pub database_pool: Option<u32>,
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
    /// Where the user stands against the two-step policy (computed for full sessions and
    /// the setup wizard while the organisation requires it; `NotRequired` otherwise).
    pub standing: crate::policy::Standing,
}

#[derive(Clone)]
pub struct Tessera {
    db: Db,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    server_key: ServerKey,
    webauthn: Arc<webauthn_rs::Webauthn>,
    /// Where people open Tessera (for links in mail).
    public_origin: Arc<str>,
    /// Password checks running per client address.
    password_checks: Arc<crate::in_flight::InFlight>,
    /// Password checks running per account: one at a time, a few waiting.
    account_checks: Arc<crate::in_flight::InFlight>,
}

/// At most this many password checks from one address at once; more wait their turn.
pub const PASSWORD_CHECKS_PER_ADDRESS: usize = 16;
/// At most this many password checks for one account wait for the one running; more are
/// refused as busy (nothing checked, nothing counted).
pub const PASSWORD_CHECKS_WAITING_PER_ACCOUNT: usize = 8;

impl Tessera {
    pub async fn open(config: &TesseraConfig, clock: Arc<dyn Clock>) -> CoreResult<Tessera> {
        let db = Db::connect_with(&config.database_url, config.database_pool)
            .await?
            .with_audit_key(audit_key(&config.server_key));
        let cost = config.hash_cost;
        let max = config.max_concurrent_hashes;
        let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(cost, max))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))??;
        Ok(Tessera {
            db,
            clock,
            hasher,
            server_key: config.server_key.clone(),
            webauthn: Arc::new(relying_party(&config.public_origin)?),
            public_origin: config.public_origin.trim_end_matches('/').into(),
            password_checks: crate::in_flight::InFlight::new(PASSWORD_CHECKS_PER_ADDRESS),
            account_checks: crate::in_flight::InFlight::with_queue(
                1,
                PASSWORD_CHECKS_WAITING_PER_ACCOUNT,
            ),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub async fn organisation(&self) -> CoreResult<Option<Organisation>> {
        let mut conn = self.db.pool().acquire().await?;
        accounts::organisation(&mut conn).await
    }

    /// Messages waiting in the outbox (not sent, not given up on).
    pub async fn mail_backlog(&self) -> CoreResult<i64> {
        let mut conn = self.db.pool().acquire().await?;
        crate::mail::waiting(&mut conn).await
    }

    /// An audit record on its own (nothing else changed).
    async fn record(&self, event: AuditEvent<'_>) -> CoreResult<()> {
        let mut tx = self.db.write().await?;
        audit::record(&mut tx, event, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The key the audit trail's chain is sealed with: derived from the server key.
pub fn audit_key(server_key: &ServerKey) -> crate::audit::chain::ChainKey {
    crate::audit::chain::ChainKey::new(server_key.derive("tessera audit chain"))
}

/// An audit event the caller did to their own account.
fn event<'a>(kind: AuditKind, caller: &'a Caller, client: &'a ClientInfo) -> AuditEvent<'a> {
    AuditEvent::new(kind)
        .actor(caller.user.id)
        .subject(Some(caller.user.id), caller.user.email.as_str())
        .from_addr(&client.addr)
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
