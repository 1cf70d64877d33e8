//! The forward-auth gate's two endpoints.
//!
//! - `GET /auth/forward`: what the reverse proxy (nginx `auth_request`, Caddy
//!   `forward_auth`, Traefik `forwardAuth`) asks before every request to a protected site.
//!   200 with `Remote-User` (the email address), `Remote-Email`, `Remote-Name` and
//!   `Remote-Role` lets it through; 401 means "sign in at Tessera" and carries, in
//!   `Location`, where to send the browser; 403 is a refusal, with an explanation (and the
//!   same `Location`, which shows it as a Tessera page).
//! - `GET /auth/forward/start?rd=<address>`: in the browser, on Tessera's own host. With a
//!   full session it sets the gate cookie on the parent domain and sends the browser back
//!   to `rd` — only if that is a registered protected site; otherwise it has the person
//!   sign in first (the address waits, [`super::waiting`]).
//!
//! The gate's cookie is its own (`__Secure-tessera_gate`, `Domain` = the gate domain,
//! HttpOnly, Secure, SameSite=Lax); the session's `__Host-` cookie is never widened.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use tessera_core::service::{normalise_host, ClientInfo, GateCheck, GateHost};

use super::oidc::page;
use super::waiting::{clear, keep, read_cookie, waiting, Kind};
use super::{AppState, CurrentCaller};

const GATE_COOKIE: &str = "__Secure-tessera_gate";

/// The address the proxy is asking about: `X-Original-URL` (nginx, as the README's
/// configuration sets it) or `X-Forwarded-Proto`/`-Host`/`-Uri` (Caddy, Traefik). The
/// proxy sets these itself; a client calling this endpoint directly learns only what its
/// own cookie opens.
fn original_url(headers: &HeaderMap) -> Option<Uri> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let text = match get("x-original-url") {
        Some(url) => url.to_string(),
        None => format!(
            "{}://{}{}",
            get("x-forwarded-proto")?,
            get("x-forwarded-host")?,
            get("x-forwarded-uri").unwrap_or("/")
        ),
    };
    let uri: Uri = text.parse().ok()?;
    (uri.scheme().is_some() && uri.authority().is_some()).then_some(uri)
}

fn host_of(uri: &Uri) -> String {
    normalise_host(
        uri.authority().map(|a| a.as_str()).unwrap_or(""),
        uri.scheme_str().unwrap_or("https"),
    )
}

/// Whether `host` (maybe with a port) is the gate domain or below it.
fn within(host: &str, domain: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    name == domain || name.ends_with(&format!(".{domain}"))
}

fn start_url(state: &AppState, original: &Uri) -> String {
    let rd: String = form_urlencoded::byte_serialize(original.to_string().as_bytes()).collect();
    format!("{}/auth/forward/start?rd={rd}", state.web.public_origin)
}

fn gate_off() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "The gate is off",
        "This Tessera does not protect other sites (TESSERA_GATE_DOMAIN is not set).",
        None,
    )
}

/// `GET /auth/forward`
pub async fn forward(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(domain) = state.web.gate_domain.clone() else {
        return gate_off();
    };
    let Some(original) = original_url(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "The proxy did not say which address it asks about (X-Original-URL, or X-Forwarded-Proto/-Host/-Uri).",
        )
            .into_response();
    };
    let host = host_of(&original);
    if !within(&host, &domain) {
        return not_protected();
    }
    let token = read_cookie(&headers, GATE_COOKIE);
    let check = match state.tessera.gate_check(&host, token).await {
        Ok(check) => check,
        Err(e) => return super::guard::error_response(e.into()),
    };
    match check {
        GateCheck::Allow(user) => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            for (name, value) in [
                ("remote-user", user.email.as_str()),
                ("remote-email", user.email.as_str()),
                ("remote-name", user.display_name.as_str()),
                ("remote-role", user.role.as_str()),
            ] {
                // A name is UTF-8; header bytes carry it as they are.
                if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                    h.insert(name, value);
                }
            }
            response
        }
        GateCheck::SignIn => {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(to) = HeaderValue::from_str(&start_url(&state, &original)) {
                response.headers_mut().insert(header::LOCATION, to);
            }
            response
        }
        GateCheck::Refused(refusal) => {
            let mut response = page(
                StatusCode::FORBIDDEN,
                "Not open to you",
                &refusal.message,
                None,
            );
            if let Ok(to) = HeaderValue::from_str(&start_url(&state, &original)) {
                response.headers_mut().insert(header::LOCATION, to);
            }
            response
        }
        GateCheck::Unknown => not_protected(),
    }
}

fn not_protected() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Not a protected site",
        "This address is not registered with Tessera's gate, so nobody is let through. Tell your administrator.",
        None,
    )
}

/// `GET /auth/forward/start?rd=…`
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(domain) = state.web.gate_domain.clone() else {
        return gate_off();
    };
    let query = query.unwrap_or_default();
    let (rd, resumed) = if query == "resume=1" {
        match waiting(&state, &headers).filter(|w| w.kind == Kind::Gate) {
            Some(w) => (w.text, true),
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Sign-in request expired",
                    "Go back to the site you were opening and try again.",
                    None,
                )
            }
        }
    } else {
        let rd = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "rd")
            .map(|(_, v)| v.into_owned());
        match rd {
            Some(rd) => (rd, false),
            None => return not_protected(),
        }
    };
    // Only back to a registered site on https under the gate domain: never an open
    // redirect.
    let site = match rd.parse::<Uri>() {
        Ok(uri)
            if uri.scheme_str() == Some("https")
                && uri.authority().is_some()
                && rd.len() <= 2000
                && within(&host_of(&uri), &domain) =>
        {
            match state.tessera.gate_host(&host_of(&uri)).await {
                Ok(Some(site)) if site.enabled => site,
                Ok(_) => return not_protected(),
                Err(e) => return super::guard::error_response(e.into()),
            }
        }
        _ => return not_protected(),
    };
    let full = caller
        .0
        .as_deref()
        .filter(|c| c.session.state == tessera_core::session::SessionState::Full);
    let Some(signed_in) = full else {
        let to = match caller.0.as_deref() {
            Some(c) => super::guard::home_for(c.session.state),
            None => "/signin",
        };
        let mut response = Redirect::to(to).into_response();
        response.headers_mut().append(
            header::SET_COOKIE,
            keep(&state, Kind::Gate, state.tessera.now(), &rd),
        );
        return response;
    };
    let mut response = match state.tessera.gate_pass(&site, signed_in, &client).await {
        Err(e) => return super::guard::error_response(e.into()),
        Ok(Err(refusal)) => refused(&site, &refusal.message),
        Ok(Ok(token)) => {
            let mut response = Redirect::to(&rd).into_response();
            let cookie = format!(
                "{GATE_COOKIE}={token}; Domain={domain}; Path=/; HttpOnly; Secure; SameSite=Lax"
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
    };
    if resumed {
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear(&state));
    }
    response
}

fn refused(site: &GateHost, message: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        &format!("You cannot open {} yet", site.name),
        message,
        None,
    )
}
