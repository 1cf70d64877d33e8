//! HTTP hardening that applies to every response and every state-changing request.

use std::sync::Arc;

use app::error::AppError;
use app::ssr::{guard::error_response, page_policy, NonceSlot, WebSettings};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, Method};

/// Reads every request body in full before any other layer looks at the request. A
/// refusal further in (the origin check, the guard) then leaves the connection clean for
/// the client's next request on it: hyper keeps a connection alive only once the body was
/// read, and otherwise closes it without saying so, failing whatever the client sends next.
/// A body over the limit is answered 413 with `Connection: close`, deliberately, without
/// reading the rest.
const SMALL_BODY: usize = 64 * 1024;
static LARGE_BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub async fn read_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let limit = app::ssr::body_limit(parts.uri.path());
    // Large bodies (a CSV import) are read before anyone is known to be allowed to send
    // them: two at a time at most, so nobody can make the server hold many.
    let _large = if limit > SMALL_BODY {
        match LARGE_BODIES.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return closing(error_response(AppError::Unavailable)),
        }
    } else {
        None
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return closing(error_response(AppError::TooLarge));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // Too long once read, or the client broke off: either way the connection is done.
        Err(_) => closing(error_response(AppError::TooLarge)),
    }
}

fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Refuses a state-changing request (anything but GET/HEAD/OPTIONS) that a browser says
/// came from another site: an `Origin` that is not ours, or `Sec-Fetch-Site: cross-site`.
/// A request with neither header is not from a browser, so it carries no ambient cookie
/// to abuse.
pub async fn check_origin(
    State(web): State<Arc<WebSettings>>,
    req: Request,
    next: Next,
) -> Response {
    // Apps call the token and userinfo endpoints with their own credentials, never a
    // cookie, so there is nothing for another site to ride on.
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || app::ssr::guard::is_cookieless_endpoint(req.uri().path());
    if !safe {
        let headers = req.headers();
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("invalid"));
        let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let origin_ok = origin.is_none_or(|o| web.accepts_origin(o));
        let site_ok = !matches!(fetch_site, Some("cross-site") | Some("same-site"));
        if !origin_ok || !site_ok {
            tracing::warn!(origin = ?origin, fetch_site = ?fetch_site, path = %req.uri().path(), "cross-origin request refused");
            return error_response(AppError::CrossOrigin);
        }
    }
    next.run(req).await
}

/// Security headers on every response. A page gets the policy for the script nonce it
/// rendered ([`NonceSlot`]); anything else gets one that allows nothing.
pub async fn headers(
    State(web): State<Arc<WebSettings>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = NonceSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    if let Some(policy) = slot
        .take()
        .and_then(|nonce| HeaderValue::from_str(&page_policy(&nonce)).ok())
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'",
            ),
        );
    }
    if web.secure_cookies {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
