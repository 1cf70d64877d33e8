//! A request waiting for the browser to sign in: an app's authorization request, or a
//! protected site the gate sent the browser from. It is kept in a short-lived cookie of
//! its own (HttpOnly, SameSite=Lax, 15 minutes) while the person signs in, and `/` sends a
//! fully signed-in browser back to it ([`resume_target`]), so the sign-in, the second step
//! and the setup wizard need no knowledge of apps.

use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue};

use super::AppState;

/// How long a request waits.
pub const WAITING_SECS: i64 = 15 * 60;

/// What is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An app's authorization request (its query string).
    Authorize,
    /// A protected site's address, to return to through the gate.
    Gate,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::Authorize => "a",
            Kind::Gate => "g",
        }
    }

    /// Where a signed-in browser resumes it.
    fn resume_path(self) -> &'static str {
        match self {
            Kind::Authorize => "/oauth2/authorize?resume=1",
            Kind::Gate => "/auth/forward/start?resume=1",
        }
    }
}

/// A waiting request: when it first came, what it is, and its text.
pub struct Waiting {
    pub at: i64,
    pub kind: Kind,
    pub text: String,
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.web.secure_cookies {
        "__Host-tessera_waiting"
    } else {
        "tessera_waiting"
    }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let mut text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        cookie_name(state)
    );
    if state.web.secure_cookies {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookie that keeps `text` waiting, first seen `at`.
pub fn keep(state: &AppState, kind: Kind, at: i64, text: &str) -> HeaderValue {
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{at}.{}.{text}", kind.code()));
    cookie(state, &value, WAITING_SECS)
}

/// The cookie that ends the wait.
pub fn clear(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

pub fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request waiting in this browser, if any and not too old.
pub fn waiting(state: &AppState, headers: &HeaderMap) -> Option<Waiting> {
    let value = read_cookie(headers, cookie_name(state))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, rest) = text.split_once('.')?;
    let (code, text) = rest.split_once('.')?;
    let kind = match code {
        "a" => Kind::Authorize,
        "g" => Kind::Gate,
        _ => return None,
    };
    let at: i64 = at.parse().ok()?;
    let now = state.tessera.now();
    (now - at <= WAITING_SECS && now >= at).then(|| Waiting {
        at,
        kind,
        text: text.to_string(),
    })
}

/// For the page guard: where a fully signed-in browser arriving at `/` (or `/signin`)
/// goes instead, because something is waiting for it.
pub fn resume_target(state: &AppState, headers: &HeaderMap) -> Option<String> {
    waiting(state, headers).map(|w| w.kind.resume_path().to_string())
}

/// The name of the app or protected site this browser's waiting request is for, for the
/// sign-in page's "Signing you in to …" line.
pub async fn waiting_for(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let waiting = waiting(state, headers)?;
    match waiting.kind {
        Kind::Authorize => {
            let id = form_urlencoded::parse(waiting.text.as_bytes())
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned())?;
            let mut conn = state.tessera.db().pool().acquire().await.ok()?;
            tessera_core::oidc::clients::by_id(&mut conn, &id)
                .await
                .ok()
                .flatten()
                .map(|app| app.name)
        }
        Kind::Gate => {
            let uri: http::Uri = waiting.text.parse().ok()?;
            let host = tessera_core::service::normalise_host(
                uri.authority()?.as_str(),
                uri.scheme_str().unwrap_or("https"),
            );
            state
                .tessera
                .gate_host(&host)
                .await
                .ok()
                .flatten()
                .map(|site| site.name)
        }
    }
}
