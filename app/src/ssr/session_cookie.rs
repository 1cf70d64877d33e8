//! The session cookie: HttpOnly, SameSite=Lax, Path=/, no Domain, Secure except on
//! plain-http localhost (then named without the `__Host-` prefix, which requires Secure).

use http::header::SET_COOKIE;
use http::HeaderValue;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use tessera_core::session::SessionToken;

use super::AppState;

/// Sets the cookie. `max_age_secs`: a persistent cookie ("remember me"); `None`: it ends
/// with the browser.
pub fn set(state: &AppState, token: &SessionToken, max_age_secs: Option<i64>) {
    let mut cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax",
        state.web.cookie_name(),
        token.as_cookie_value()
    );
    if let Some(age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    append(state, cookie);
}

pub fn clear(state: &AppState) {
    append(
        state,
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
            state.web.cookie_name()
        ),
    );
}

fn append(state: &AppState, mut cookie: String) {
    if state.web.secure_cookies {
        cookie.push_str("; Secure");
    }
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&cookie),
    ) {
        response.append_header(SET_COOKIE, value);
    }
}

/// Clears the cookie on a response built by hand (outside a server function).
pub fn append_clear(state: &AppState, headers: &mut http::HeaderMap) {
    let mut cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        state.web.cookie_name()
    );
    if state.web.secure_cookies {
        cookie.push_str("; Secure");
    }
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}

/// The session token in a request's cookies, if any.
pub fn read(state: &AppState, headers: &http::HeaderMap) -> Option<SessionToken> {
    let name = state.web.cookie_name();
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| SessionToken::from_cookie(v))
}
