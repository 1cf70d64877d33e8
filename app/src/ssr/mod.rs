//! Server-only glue between Leptos and the domain: the state every request sees, the
//! caller the guard resolved, the session cookie, the one mapping from domain errors to
//! what a person is told ([`errors`]), and helpers several server-function modules share
//! ([`steps`]).

pub mod audit;
pub mod console;
mod errors;
pub mod export;
pub mod gate;
pub mod guard;
pub mod oidc;
pub mod report;
pub mod session_cookie;
pub mod steps;
pub mod waiting;

use std::sync::Arc;

use leptos::prelude::*;
use tessera_core::service::{Caller, ClientInfo};
use tessera_core::Tessera;

use crate::api::account::Profile;
use crate::error::AppError;

/// Web settings that come from configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The origin people use, e.g. `https://tessera.clinic.org` or `http://localhost:3000`.
    pub public_origin: String,
    /// Origins accepted besides it (e.g. `http://127.0.0.1:3000` next to localhost).
    pub also_accepted_origins: Vec<String>,
    /// Mark cookies `Secure` (off only for plain-http localhost).
    pub secure_cookies: bool,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a proxy).
    pub trust_forwarded_for: bool,
    /// The parent domain of Tessera and the sites behind the forward-auth gate (the gate
    /// cookie's `Domain`); `None`: the gate is off.
    pub gate_domain: Option<String>,
}

impl WebSettings {
    pub fn accepts_origin(&self, origin: &str) -> bool {
        origin == self.public_origin || self.also_accepted_origins.iter().any(|o| o == origin)
    }

    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-tessera_session"
        } else {
            "tessera_session"
        }
    }
}

/// Where a page leaves its script nonce for the security-headers layer, which puts it
/// into the page's Content-Security-Policy. The layer puts an empty slot into each
/// request; the page fills it while rendering (before the response leaves). Not through
/// Leptos's `ResponseOptions`: under load a streamed page sometimes left with none of the
/// headers set there, and so with no policy for its scripts.
#[derive(Clone, Default)]
pub struct NonceSlot(Arc<std::sync::Mutex<Option<String>>>);

impl NonceSlot {
    /// The nonce the page used, if it rendered one.
    pub fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut n| n.take())
    }

    fn fill(&self, nonce: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(nonce);
        }
    }
}

/// The policy of a page whose scripts carry `nonce`: only they, our own files and the wasm
/// may run.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Gives this page a fresh script nonce and leaves it for the security-headers layer
/// ([`NonceSlot`]), which sends the policy that allows only scripts carrying it.
pub fn content_security_policy() {
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(slot)) = (
        leptos::nonce::use_nonce(),
        request_parts().and_then(|p| p.extensions.get::<NonceSlot>().cloned()),
    ) else {
        return;
    };
    slot.fill(nonce.to_string());
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub tessera: Tessera,
    pub web: Arc<WebSettings>,
    pub leptos: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The caller resolved from the session cookie, put into each request's extensions by
/// [`guard::resolve_session`].
#[derive(Clone, Default)]
pub struct CurrentCaller(pub Option<Arc<Caller>>);

/// The largest request body read for `path`: a CSV import carries a file (up to 2 MB, a
/// little more once escaped in JSON); everything else fits in 64 KiB.
pub fn body_limit(path: &str) -> usize {
    use crate::api::admin::people::{ImportUsers, PreviewImport};
    use server_fn::ServerFn as _;
    if path == PreviewImport::PATH || path == ImportUsers::PATH {
        tessera_core::service::MAX_IMPORT_BYTES + 512 * 1024
    } else {
        64 * 1024
    }
}

pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or(AppError::Internal)
}

pub(crate) fn request_parts() -> Option<http::request::Parts> {
    use_context::<http::request::Parts>()
}

/// The caller of this request, if it has a live session.
pub fn optional_caller() -> Option<Arc<Caller>> {
    request_parts()?
        .extensions
        .get::<CurrentCaller>()
        .and_then(|c| c.0.clone())
}

/// The caller of server function `F`, held to the access the guard's table gives `F`.
/// For calls over `/api` the guard layer has already checked this; server functions also
/// run inside page rendering, where no `/api` request passes that layer, so every server
/// function takes its caller here and the same rule, from the same table, applies.
pub fn caller_of<F: server_fn::ServerFn>() -> Result<Arc<Caller>, AppError> {
    let current = CurrentCaller(optional_caller());
    guard::permit(&current, guard::access_for_endpoint(F::PATH))?;
    current.0.ok_or(AppError::SignedOut)
}

/// Ids in requests are UUIDs; anything else is a malformed request.
pub fn parse_id(text: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(text).map_err(|_| AppError::BadRequest {
        message: "expected an id".into(),
    })
}

pub fn client_info() -> ClientInfo {
    request_parts()
        .and_then(|p| p.extensions.get::<ClientInfo>().cloned())
        .unwrap_or_default()
}

/// Whole days from `now` until `until`, counting a part day as one ("1 day left" on the
/// last day).
pub fn days_left(until: tessera_core::UnixTime, now: tessera_core::UnixTime) -> i64 {
    const DAY: i64 = tessera_core::policy::DAY_SECS;
    ((until - now).max(0) + DAY - 1) / DAY
}

pub fn me_from(caller: &Caller) -> Profile {
    Profile {
        display_name: caller.user.display_name.clone(),
        email: caller.user.email.to_string(),
        role: caller.user.role.as_str().to_string(),
        organisation: caller.organisation.name.clone(),
        organisation_is_demo: caller.organisation.is_demo,
        two_factor_enabled: caller.user.two_factor_enabled,
        organisation_requires_two_factor: caller.organisation.policy.required,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use leptos::prelude::*;
    use tessera_core::accounts::{Email, Organisation, Role, User};
    use tessera_core::service::Caller;
    use tessera_core::session::{Session, SessionState};

    use super::{caller_of, CurrentCaller};
    use crate::api::account::Me;
    use crate::api::two_factor::{SecondStep, TwoFactorStatus};
    use crate::error::AppError;

    fn in_request_of(state: Option<SessionState>, run: impl FnOnce() -> bool) -> bool {
        let caller = state.map(|state| {
            let user_id = uuid::Uuid::new_v4();
            Arc::new(Caller {
                session: Session {
                    id_hash: "h".into(),
                    user_id,
                    sid: "s".into(),
                    state,
                    persistent: false,
                    created_at: 0,
                    last_seen_at: 0,
                    stepped_up_at: None,
                    second_factor: None,
                    admitted_by: None,
                },
                user: User {
                    id: user_id,
                    email: Email::parse("nurse@clinic.example").unwrap(),
                    display_name: "Nurse".into(),
                    role: Role::Staff,
                    active: true,
                    password_hash: None,
                    two_factor_enabled: true,
                    created_at: 0,
                },
                organisation: Organisation {
                    name: "Clinic".into(),
                    is_demo: false,
                    policy: Default::default(),
                    session_idle_secs: 1800,
                    session_absolute_secs: 43200,
                },
                standing: tessera_core::policy::Standing::NotRequired,
            })
        });
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.extensions.insert(CurrentCaller(caller));
        Owner::new().with(|| {
            provide_context(parts);
            run()
        })
    }

    /// Server functions rendered inside a page get no help from the `/api` layer: the
    /// caller is held to the function's own access here.
    #[test]
    fn a_server_function_run_during_rendering_checks_its_own_access() {
        let half = Some(SessionState::NeedsSecondFactor);
        assert!(in_request_of(half, || matches!(
            caller_of::<TwoFactorStatus>(),
            Err(AppError::NeedsSecondFactor)
        )));
        assert!(in_request_of(half, || caller_of::<SecondStep>().is_ok()));
        assert!(in_request_of(Some(SessionState::Full), || {
            caller_of::<TwoFactorStatus>().is_ok()
        }));
        assert!(in_request_of(None, || matches!(
            caller_of::<Me>(),
            Err(AppError::SignedOut)
        )));
    }
}
