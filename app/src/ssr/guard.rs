//! The guard: the one place that decides what a session may do.
//!
//! Every request first has its session resolved ([`resolve_session`]). Then every call to
//! a server function ([`api`]) and every page load ([`pages`]) is checked against the
//! access its path needs. Server functions not listed in [`ENDPOINTS`] and pages not
//! listed in [`access_for_page`] need a full session, so a new one is closed until someone
//! opens it here on purpose. The admin console is a wing of its own: its server functions
//! live under `/api/admin/` and its pages under `/admin`, and both are for admins only
//! unless named here for helpdesk members or auditors too.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::*;
use server_fn::ServerFn;
use tessera_core::service::ClientInfo;
use tessera_core::session::{authorize, roles, Access, Refusal, SessionState};

use super::{AppState, CurrentCaller};
use crate::api::{account, links, passkeys as pk, setup, two_factor as tf};
use crate::error::AppError;

/// Server functions that need something other than a full session (or, under
/// `/api/admin/`, something other than an admin's).
fn endpoints() -> Vec<(&'static str, Access)> {
    use crate::api::admin::{
        audit as at, exceptions as ex, people as pe, report as rp, step_up as su, user as au,
        users as us,
    };
    let console = Access::Roles(roles::CONSOLE);
    let helpdesk = Access::Roles(roles::HELPDESK);
    vec![
        (<account::SignIn as ServerFn>::PATH, Access::Public),
        (<account::WaitingFor as ServerFn>::PATH, Access::Public),
        (<setup::SetupStatus as ServerFn>::PATH, Access::Public),
        (<setup::CompleteSetup as ServerFn>::PATH, Access::Public),
        // A mailed link is its own credential: anyone holding it may use it once.
        (<links::LinkDetails as ServerFn>::PATH, Access::Public),
        (<links::AcceptInvitation as ServerFn>::PATH, Access::Public),
        (
            <links::ResetPasswordWithLink as ServerFn>::PATH,
            Access::Public,
        ),
        (
            <links::ConfirmEmailChange as ServerFn>::PATH,
            Access::Public,
        ),
        (<account::SignOut as ServerFn>::PATH, Access::AnySession),
        (<account::Me as ServerFn>::PATH, Access::Full),
        (<tf::SecondStep as ServerFn>::PATH, Access::SecondFactor),
        (<tf::BeginAuthenticator as ServerFn>::PATH, Access::Enrol),
        (<tf::ConfirmAuthenticator as ServerFn>::PATH, Access::Enrol),
        (
            <pk::BeginPasskeyRegistration as ServerFn>::PATH,
            Access::Enrol,
        ),
        (
            <pk::FinishPasskeyRegistration as ServerFn>::PATH,
            Access::Enrol,
        ),
        (
            <pk::BeginPasskeySignIn as ServerFn>::PATH,
            Access::SecondFactor,
        ),
        (
            <pk::SecondStepPasskey as ServerFn>::PATH,
            Access::SecondFactor,
        ),
        (
            <pk::SecondStepMethods as ServerFn>::PATH,
            Access::SecondFactor,
        ),
        (<tf::EnterSetupCode as ServerFn>::PATH, Access::SetupCode),
        (<tf::SetupWizardStatus as ServerFn>::PATH, Access::Setup),
        (<tf::SkipSetup as ServerFn>::PATH, Access::Setup),
        // The console: looking is for every console role; looking after staff (step-up,
        // reminders, unlocking, resets, ending sessions) for helpdesk members too. Roles,
        // enabling and disabling accounts stay with admins (the prefix's default).
        (<su::ConsoleMe as ServerFn>::PATH, console),
        (<us::ListUsers as ServerFn>::PATH, console),
        (<us::CountUsers as ServerFn>::PATH, console),
        (<au::UserDetails as ServerFn>::PATH, console),
        (<at::AuditEvents as ServerFn>::PATH, console),
        (<rp::ComplianceReport as ServerFn>::PATH, console),
        (<su::BeginStepUpPasskey as ServerFn>::PATH, helpdesk),
        (<su::StepUpWithCode as ServerFn>::PATH, helpdesk),
        (<su::StepUpWithPasskey as ServerFn>::PATH, helpdesk),
        (<au::ResetTwoFactor as ServerFn>::PATH, helpdesk),
        (<au::UnlockUser as ServerFn>::PATH, helpdesk),
        (<au::EndUserSessions as ServerFn>::PATH, helpdesk),
        (<au::RemindUsers as ServerFn>::PATH, helpdesk),
        (<au::RemindView as ServerFn>::PATH, helpdesk),
        (<pe::SendPasswordReset as ServerFn>::PATH, helpdesk),
        (<ex::GrantException as ServerFn>::PATH, helpdesk),
        (<ex::EndException as ServerFn>::PATH, helpdesk),
    ]
}

/// Exposed for tests and documentation: the explicit access list.
pub static ENDPOINTS: std::sync::LazyLock<Vec<(&'static str, Access)>> =
    std::sync::LazyLock::new(endpoints);

/// The console's server functions, under this prefix: admins only unless listed.
pub const CONSOLE_API: &str = "/api/admin/";
/// The console's pages, under this prefix: admins only unless listed.
pub const CONSOLE_PAGES: &str = "/admin";

pub fn access_for_endpoint(path: &str) -> Access {
    ENDPOINTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, a)| *a)
        .unwrap_or(if path.starts_with(CONSOLE_API) {
            Access::Roles(roles::ADMIN)
        } else {
            Access::Full
        })
}

fn is_console_page(path: &str) -> bool {
    path == CONSOLE_PAGES || path.starts_with("/admin/")
}

/// What a page path needs. Default deny: only the pages named here are open to less than
/// a full session, so a new page, an unknown path or a spelling the router might still
/// match is closed until someone opens it here on purpose. `path` is a clean path
/// ([`is_clean_path`]) without a trailing slash.
pub fn access_for_page(path: &str) -> Access {
    match path {
        "/signin" | "/setup" | "/invitation" | "/reset-password" | "/confirm-email" => {
            Access::Public
        }
        // The console's pages open to every console role: the list, its CSV, a user's page.
        "/admin" | "/admin/users" | "/admin/users.csv" | "/admin/audit" | "/admin/audit.csv"
        | "/admin/report" | "/admin/report.csv" | "/admin/report.json" => {
            Access::Roles(roles::CONSOLE)
        }
        // Adding people is for admins, though the path looks like a user's page.
        "/admin/users/new" | "/admin/users/import" => Access::Roles(roles::ADMIN),
        _ if path
            .strip_prefix("/admin/users/")
            .is_some_and(|id| !id.contains('/')) =>
        {
            Access::Roles(roles::CONSOLE)
        }
        // OpenID Connect: open to anyone; each endpoint decides from the session (the
        // authorization endpoint) or from the app's and tokens' own credentials.
        _ if is_oidc_endpoint(path) => Access::Public,
        "/signin/verify" => Access::SecondFactor,
        "/setup-2fa" => Access::Setup,
        _ if is_console_page(path) => Access::Roles(roles::ADMIN),
        _ => Access::Full,
    }
}

/// The OpenID Connect provider's endpoints, and the forward-auth gate's.
pub fn is_oidc_endpoint(path: &str) -> bool {
    path == "/.well-known/openid-configuration"
        || path.starts_with("/oauth2/")
        || path == "/auth/forward"
        || path == "/auth/forward/start"
}

/// Endpoints apps call server to server, authenticated by their own credentials or a
/// bearer token, never by a cookie: a browser app may call them from its own origin.
pub fn is_cookieless_endpoint(path: &str) -> bool {
    matches!(path, "/oauth2/token" | "/oauth2/userinfo")
}

/// Files served as they are (the site's wasm, JS, CSS, favicon): no session needed.
fn is_static_file(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.ico"
}

/// A path as a browser sends it: absolute, no empty, `.` or `..` segments, no escapes.
/// Anything else is refused before routing, so no second spelling of a page can reach
/// the router's own normalisation.
pub fn is_clean_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        })
}

/// Where a session in `state` belongs.
pub fn home_for(state: SessionState) -> &'static str {
    match state {
        SessionState::Full => "/",
        SessionState::NeedsSecondFactor => "/signin/verify",
        SessionState::NeedsSetup | SessionState::NeedsSetupCode => "/setup-2fa",
    }
}

fn refusal_error(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::SignedOut => AppError::SignedOut,
        Refusal::NeedsSecondFactor => AppError::NeedsSecondFactor,
        Refusal::NeedsSetup => AppError::NeedsSetup,
        Refusal::NotAllowed => AppError::Forbidden,
    }
}

fn decide(caller: &CurrentCaller, need: Access) -> Result<(), Refusal> {
    let session = caller.0.as_ref().map(|c| (c.session.state, c.user.role));
    authorize(session, need)
}

/// Whether `caller` has the access `need`, as the error to answer if not.
pub fn permit(caller: &CurrentCaller, need: Access) -> Result<(), AppError> {
    decide(caller, need).map_err(refusal_error)
}

/// Resolves the session cookie and the client address into request extensions.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let client = client_info_of(&state, &req);
    // The site's files need no session: a page's dozens of wasm chunks must not each read
    // (and touch) the session in the database.
    let token = if is_static_file(req.uri().path()) {
        None
    } else {
        super::session_cookie::read(&state, req.headers())
    };
    let had_cookie = token.is_some();
    let caller = match token {
        Some(token) => match state.tessera.resolve(&token).await {
            Ok(c) => c.map(Arc::new),
            Err(e) => return error_response(e.into()),
        },
        None => None,
    };
    let ended = had_cookie && caller.is_none();
    req.extensions_mut().insert(client);
    req.extensions_mut().insert(CurrentCaller(caller));
    req.extensions_mut().insert(SessionEnded(ended));
    let path = req.uri().path();
    let waiting = (path == "/" || path == "/signin")
        .then(|| super::waiting::resume_target(&state, req.headers()))
        .flatten();
    req.extensions_mut().insert(WaitingAuthorization(waiting));
    next.run(req).await
}

/// An app's sign-in waiting for this browser to be signed in: where to resume it.
#[derive(Clone)]
pub struct WaitingAuthorization(pub Option<String>);

/// A cookie came in whose session is gone (expired, signed out elsewhere).
#[derive(Clone, Copy)]
pub struct SessionEnded(pub bool);

fn client_info_of(state: &AppState, req: &Request) -> ClientInfo {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let forwarded = state
        .web
        .trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
                .map(|s| s.trim().to_string())
        })
        .flatten()
        .filter(|s| !s.is_empty() && s.len() <= 64);
    ClientInfo {
        addr: forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
        user_agent: req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(300)
            .collect(),
    }
}

fn caller_of(req: &Request) -> CurrentCaller {
    req.extensions()
        .get::<CurrentCaller>()
        .cloned()
        .unwrap_or_default()
}

/// Page loads: a page that needs a session it does not have redirects to where the
/// session belongs. Unclean paths get 404; `/security/` is sent to `/security`.
pub async fn pages(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !is_clean_path(path) {
        return (http::StatusCode::NOT_FOUND, "Not found").into_response();
    }
    if path.starts_with("/api/") || is_static_file(path) {
        return next.run(req).await;
    }
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let target = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        return Redirect::permanent(&target).into_response();
    }
    let caller = caller_of(&req);
    // Fully signed in with an app's sign-in waiting: back to it.
    if (path == "/" || path == "/signin") && decide(&caller, Access::Full).is_ok() {
        if let Some(WaitingAuthorization(Some(to))) = req.extensions().get() {
            return Redirect::to(to).into_response();
        }
    }
    // Someone fully signed in has no business on the sign-in page.
    if path == "/signin" && decide(&caller, Access::Full).is_ok() {
        return Redirect::to("/").into_response();
    }
    match decide(&caller, access_for_page(path)) {
        Ok(()) => next.run(req).await,
        Err(Refusal::SignedOut) => {
            let ended = req.extensions().get::<SessionEnded>().is_some_and(|e| e.0);
            Redirect::to(if ended { "/signin?ended=1" } else { "/signin" }).into_response()
        }
        // Signed in fully, but not in a role this page is for (a staff member on a console
        // page): said plainly, with the status that means it.
        Err(Refusal::NotAllowed) if is_console_page(path) => forbidden_page(),
        Err(_) => {
            let state = caller
                .0
                .as_ref()
                .map(|c| c.session.state)
                .unwrap_or(SessionState::Full);
            Redirect::to(home_for(state)).into_response()
        }
    }
}

/// A 403 page for someone signed in whose role does not open a page.
fn forbidden_page() -> Response {
    let body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
        <title>No access · Tessera</title><link rel=\"stylesheet\" href=\"/pkg/tessera.css\"></head>\
        <body><main id=\"main\" class=\"page\"><section class=\"card narrow\">\
        <h1>You do not have access to this page</h1>\
        <p>It is for the organisation's administrators. Ask one of them if you need it.</p>\
        <p><a href=\"/\">Go to your account</a></p></section></main></body></html>";
    (
        http::StatusCode::FORBIDDEN,
        [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Every server function call: refuse what the session may not call, run the rest, and
/// give their errors the status each one means. A layer, not a route, so it sees every
/// `/api/` request whichever route serves it.
pub async fn api(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") || !is_clean_path(req.uri().path()) {
        return next.run(req).await;
    }
    let caller = caller_of(&req);
    if let Err(refusal) = decide(&caller, access_for_endpoint(req.uri().path())) {
        return error_response(refusal_error(refusal));
    }
    with_error_status(next.run(req).await).await
}

/// Server functions answer every error with 500; read the error and use its own status.
async fn with_error_status(response: Response) -> Response {
    if response.status() != http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return error_response(AppError::Internal);
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = http::StatusCode::from_u16(error.status()).unwrap_or(parts.status);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// An error as server functions send it, so the browser's client decodes it the same way.
pub fn error_response(error: AppError) -> Response {
    let status = http::StatusCode::from_u16(error.status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&error).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(server_fn::error::SERVER_FN_ERROR_HEADER, "guard")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Every registered server function path (from the router's registry, not a hand list),
/// for tests that call each one with each kind of session.
pub fn registered_endpoints() -> Vec<String> {
    server_fn::axum::server_fn_paths()
        .map(|(path, _method)| path.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        for ok in [
            "/",
            "/security",
            "/security/",
            "/signin/verify",
            "/pkg/tessera.js",
            "/api/sign_in",
        ] {
            assert!(is_clean_path(ok), "{ok}");
        }
        for bad in [
            "",
            "security",
            "//security",
            "/security//",
            "/./security",
            "/pkg/../security",
            "/%73ecurity",
            "/security/.",
            "/sec urity",
            "/api/../security",
        ] {
            assert!(!is_clean_path(bad), "{bad}");
        }
    }

    #[test]
    fn pages_are_closed_unless_named() {
        assert_eq!(access_for_page("/signin"), Access::Public);
        assert_eq!(access_for_page("/signin/verify"), Access::SecondFactor);
        assert_eq!(access_for_page("/setup-2fa"), Access::Setup);
        for closed in ["/", "/security", "/SECURITY", "/password", "/anything-new"] {
            assert_eq!(access_for_page(closed), Access::Full, "{closed}");
        }
    }

    /// The console's pages and server functions are for admins unless named: a new one is
    /// closed to staff, helpdesk and auditors alike until someone opens it on purpose.
    #[test]
    fn the_console_is_for_admins_unless_named() {
        let admins = Access::Roles(roles::ADMIN);
        for page in ["/admin/settings", "/admin/anything-new", "/admin/users/x/y"] {
            assert_eq!(access_for_page(page), admins, "{page}");
        }
        for page in ["/admin", "/admin/users", "/admin/users/some-id"] {
            assert_eq!(
                access_for_page(page),
                Access::Roles(roles::CONSOLE),
                "{page}"
            );
        }
        assert_eq!(access_for_page("/administrator"), Access::Full);
        assert_eq!(access_for_endpoint("/api/admin/anything_new"), admins);
        assert_eq!(access_for_endpoint("/api/anything_new"), Access::Full);
    }
}
