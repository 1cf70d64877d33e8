//! HTTP hardening that applies to every response and every state-changing request.

use std::sync::Arc;

use app::error::AppError;
use app::ssr::{guard::error_response, WebSettings};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{header, HeaderValue, Method};

/// Refuses a state-changing request (anything but GET/HEAD/OPTIONS) that a browser says
/// came from another site: an `Origin` that is not ours, or `Sec-Fetch-Site: cross-site`.
/// A request with neither header is not from a browser, so it carries no ambient cookie
/// to abuse.
pub async fn check_origin(
    State(web): State<Arc<WebSettings>>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
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

/// Security headers on every response. Pages bring their own nonce-based CSP; anything
/// else gets one that allows nothing.
pub async fn headers(State(web): State<Arc<WebSettings>>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
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
