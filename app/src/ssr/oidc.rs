//! The OpenID Connect endpoints: discovery, keys, authorization, token, userinfo. Plain
//! axum handlers around `Tessera`'s flows (`tessera_core::service::oidc`), which decide
//! everything; here is only HTTP: parameters in, redirects, pages and JSON out.
//!
//! The authorization endpoint is a browser's top-level GET, with the Tessera session
//! cookie; when the person must sign in first, the request waits ([`super::waiting`]).
//! The token and userinfo endpoints are called server to server: they authenticate
//! the app (secret or PKCE) or the access token, never a cookie.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use tessera_core::oidc::MAX_REQUEST_LEN;
use tessera_core::service::{
    Authorize, AuthorizeRequest, ClientCredentials, ClientInfo, EndSession, EndSessionRequest,
    OAuthError, TokenRequest,
};

use super::waiting::{clear, keep, waiting, Kind};
use super::{AppState, CurrentCaller};
use crate::error::AppError;

/// `GET /.well-known/openid-configuration`
pub async fn discovery(State(state): State<AppState>) -> Response {
    match state.tessera.discovery() {
        Ok(doc) => public_json(doc),
        Err(e) => super::guard::error_response(e.into()),
    }
}

/// `GET /oauth2/jwks`
pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.tessera.jwks().await {
        Ok(set) => public_json(set),
        Err(e) => super::guard::error_response(e.into()),
    }
}

/// Public documents any app (or a browser app) may read.
fn public_json(value: serde_json::Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        value.to_string(),
    )
        .into_response()
}

/// `GET /oauth2/authorize`
pub async fn authorize(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let now = state.tessera.now();
    // Back from a sign-in: the waiting request, which is used up now either way.
    let (started_at, query, resumed) = if query == "resume=1" {
        match waiting(&state, &headers).filter(|w| w.kind == Kind::Authorize) {
            Some(w) => (w.at, w.text, true),
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Sign-in request expired",
                    "The app's sign-in request waited too long, or was already finished. Go back to the app and sign in again.",
                    None,
                )
            }
        }
    } else {
        (now, query, false)
    };
    if query.len() > MAX_REQUEST_LEN {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in request too long",
            "The app sent a sign-in request Tessera cannot keep. Tell the app's administrator.",
            None,
        );
    }
    let request: AuthorizeRequest =
        match serde_urlencoded::from_str(&query) {
            Ok(r) => r,
            Err(_) => return page(
                StatusCode::BAD_REQUEST,
                "Malformed sign-in request",
                "The app sent a sign-in request Tessera cannot read. Tell the app's administrator.",
                None,
            ),
        };
    let decision = state
        .tessera
        .authorize(&request, caller.0.as_deref(), started_at, &client)
        .await;
    let mut response = match decision {
        Err(e) => return super::guard::error_response(e.into()),
        Ok(Authorize::ErrorPage { title, message }) => {
            page(StatusCode::BAD_REQUEST, title, &message, None)
        }
        Ok(Authorize::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(Authorize::Refused { app, message, back }) => page(
            StatusCode::FORBIDDEN,
            &format!("You cannot sign in to {app} yet"),
            &message,
            Some((&format!("Back to {app}"), &back)),
        ),
        Ok(Authorize::SignIn { app: _, fresh }) => {
            // A fresh sign-in: the current session ends (the app asked for proof now).
            if fresh {
                if let Some(current) = caller.0.as_deref() {
                    if let Err(e) = state.tessera.sign_out(current, &client).await {
                        return super::guard::error_response(e.into());
                    }
                }
            }
            let to = match caller.0.as_deref() {
                Some(c) if !fresh => super::guard::home_for(c.session.state),
                _ => "/signin",
            };
            let mut response = Redirect::to(to).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                keep(&state, Kind::Authorize, started_at, &query),
            );
            if fresh {
                super::session_cookie::append_clear(&state, response.headers_mut());
            }
            return response;
        }
    };
    if resumed {
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear(&state));
    }
    response
}

/// `GET /oauth2/logout` (RP-initiated logout), and `POST` from Tessera's own
/// confirmation page (the origin check keeps other sites from posting it).
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<CurrentCaller>,
    Extension(client): Extension<ClientInfo>,
    method: http::Method,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let posted = method == http::Method::POST;
    let text = if posted {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        query.unwrap_or_default()
    };
    let Ok(request) = serde_urlencoded::from_str::<EndSessionRequest>(&text) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Malformed sign-out request",
            "The app sent a sign-out request Tessera cannot read.",
            None,
        );
    };
    let confirmed = posted && text.split('&').any(|p| p == "confirm=1");
    let answer = state
        .tessera
        .end_session(&request, caller.0.as_deref(), confirmed, &client)
        .await;
    let signed_out = caller.0.is_some();
    let mut response = match answer {
        Err(e) => return super::guard::error_response(e.into()),
        Ok(EndSession::Redirect(to)) => Redirect::to(&to).into_response(),
        Ok(EndSession::SignedOut) => page(
            StatusCode::OK,
            "You are signed out",
            "You are signed out of Tessera, and the apps you signed in to through it are being told.",
            Some(("Sign in again", "/signin")),
        ),
        Ok(EndSession::Confirm { app, fields }) => {
            return confirm_page(app.as_deref(), &fields);
        }
    };
    if signed_out {
        super::session_cookie::append_clear(&state, response.headers_mut());
    }
    response
}

fn confirm_page(app: Option<&str>, fields: &[(&'static str, String)]) -> Response {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            )
        })
        .collect();
    let who = app.map_or("An app".to_string(), escape);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign out? · Tessera</title><link rel=\"stylesheet\" href=\"/pkg/tessera.css\"></head>\
         <body><main id=\"main\" class=\"page\"><section class=\"card narrow\">\
         <h1>Sign out of Tessera?</h1><p>{who} asks to sign you out of Tessera. You will be signed \
         out of the apps you signed in to through Tessera too.</p>\
         <form method=\"post\" action=\"/oauth2/logout\">{hidden}\
         <input type=\"hidden\" name=\"confirm\" value=\"1\">\
         <button type=\"submit\">Sign out</button> <a href=\"/\">Stay signed in</a></form>\
         </section></main></body></html>"
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A small page of Tessera's own, for what cannot go back to the app.
pub(super) fn page(
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = match link {
        Some((text, href)) => format!(
            "<p><a class=\"button\" href=\"{}\">{}</a></p>",
            escape(href),
            escape(text)
        ),
        None => "<p><a href=\"/\">Go to your Tessera account</a></p>".into(),
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Tessera</title><link rel=\"stylesheet\" href=\"/pkg/tessera.css\"></head>\
         <body><main id=\"main\" class=\"page\"><section class=\"card narrow\" role=\"alert\">\
         <h1>{title}</h1><p>{message}</p>{link}</section></main></body></html>",
        title = escape(title),
        message = escape(message),
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `POST /oauth2/token`
pub async fn token(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: TokenRequest = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return oauth_error(OAuthError {
                error: "invalid_request",
                description: "The body must be a form (application/x-www-form-urlencoded).".into(),
            })
        }
    };
    let credentials = match credentials(&headers, &form) {
        Ok(c) => c,
        Err(e) => return oauth_error(e),
    };
    match state.tessera.token(credentials, &form, &client).await {
        Ok(Ok(tokens)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::PRAGMA, "no-cache"),
            ],
            tokens.to_string(),
        )
            .into_response(),
        Ok(Err(e)) => oauth_error(e),
        Err(e) => super::guard::error_response(AppError::from(e)),
    }
}

/// The app's credentials: HTTP Basic (`client_secret_basic`), or the form's
/// `client_id`/`client_secret` (`client_secret_post`, or a public app's id alone). Both at
/// once is refused (RFC 6749 §2.3).
fn credentials(headers: &HeaderMap, form: &TokenRequest) -> Result<ClientCredentials, OAuthError> {
    let invalid = |d: &str| OAuthError {
        error: "invalid_client",
        description: d.into(),
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    match basic {
        Some(encoded) => {
            if form.client_secret.is_some() {
                return Err(invalid("Use one way to authenticate the app, not two."));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid("Malformed Basic credentials."))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| invalid("Malformed Basic credentials."))?;
            // RFC 6749 §2.3.1: both parts are form-encoded first.
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            let (Some(id), Some(secret)) = (unescape(id), unescape(secret)) else {
                return Err(invalid("Malformed Basic credentials."));
            };
            if form.client_id.as_ref().is_some_and(|f| *f != id) {
                return Err(invalid("Two different client ids."));
            }
            Ok(ClientCredentials {
                client_id: id,
                client_secret: Some(secret),
            })
        }
        None => Ok(ClientCredentials {
            client_id: form
                .client_id
                .clone()
                .ok_or_else(|| invalid("The app did not say who it is."))?,
            client_secret: form.client_secret.clone(),
        }),
    }
}

fn oauth_error(e: OAuthError) -> Response {
    let status = if e.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"error": e.error, "error_description": e.description}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\""),
        );
    }
    response
}

/// `GET` or `POST /oauth2/userinfo`, with `Authorization: Bearer <access token>`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 100);
    let answer = match token {
        Some(token) => state.tessera.userinfo(token).await,
        None => Ok(Err(OAuthError {
            error: "invalid_token",
            description: "An access token is required (Authorization: Bearer).".into(),
        })),
    };
    match answer {
        Ok(Ok(claims)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            claims.to_string(),
        )
            .into_response(),
        Ok(Err(e)) => {
            let challenge = format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                e.error, e.description
            );
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
        Err(e) => super::guard::error_response(e.into()),
    }
}
