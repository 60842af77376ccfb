//! HTTP pieces every capability shares: the JSON extractor that answers bad bodies in API.md's
//! error shape, the refusal of text no database can store (NUL) in paths, queries and bodies,
//! the client address, per-address limits, request metrics and the 404 fallback (an HTML page
//! outside `/api`, rendered by the page the web layer sets).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::AppState;
use crate::error::AppError;
pub use crate::proxies::{Network, TrustedProxies};
use crate::ratelimit::Limit;

/// `axum::Json`, but malformed, mistyped or oversized bodies become our JSON errors
/// (400, 422, 413, 415) instead of plain-text ones, and a string holding a NUL is refused
/// (422 `invalid_text`) before any handler or database sees it.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(request.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("unreadable_body", e.body_text())
            }
        })?;
        // JSON can only spell NUL as the escape `\u0000`; the walk runs only when it is there.
        if contains(&bytes, b"\\u0000")
            && let Ok(tree) = serde_json::from_slice::<Value>(&bytes)
            && let Some(field) = nul_field(&tree)
        {
            return Err(AppError::InvalidText { field });
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(value))
    }
}

/// `application/json` or any `application/*+json`, as `axum::Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The place of the first string (or key) in `value` that holds a NUL: `bio`, `goals[2].title`;
/// `body` for a bare string.
pub fn nul_field(value: &Value) -> Option<String> {
    fn walk(value: &Value, at: &str) -> Option<String> {
        match value {
            Value::String(s) if s.contains('\0') => Some(at.to_owned()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{at}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if at.is_empty() {
                    k.replace('\0', "")
                } else {
                    format!("{at}.{}", k.replace('\0', ""))
                };
                if k.contains('\0') {
                    Some(here)
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(value, "").map(|f| if f.is_empty() { "body".into() } else { f })
}

/// The field of the first pair of a form or query string that decodes to text holding a NUL.
/// Percent-encoding is the only way to send one (`%00`), so only then are the pairs decoded.
pub fn nul_in_form(encoded: &[u8], whole: &str) -> Option<String> {
    if !contains(encoded, b"%00") {
        return None;
    }
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(encoded) else {
        return Some(whole.to_owned());
    };
    pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', ""))
}

/// Refuses a path or query holding a NUL (`%00`) for every route, API and pages alike, whatever
/// extractor reads it: 422 `invalid_text` naming the query parameter (or `path`).
pub async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let field = if contains(uri.path().as_bytes(), b"%00") {
        Some("path".to_owned())
    } else {
        uri.query().and_then(|q| nul_in_form(q.as_bytes(), "query"))
    };
    match field {
        None => next.run(request).await,
        Some(field) => error_for(uri.path(), AppError::InvalidText { field }),
    }
}

/// `axum::extract::Path`, but a malformed path value (`/topics/abc`, an id past i64) is our
/// JSON 400 instead of a plain-text one.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query`, with our JSON 400 for a malformed query.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// For PATCH bodies: deserialises a field that may be absent (outer `None`, "leave it") or null
/// (inner `None`, "clear it"). Use with `#[serde(default, deserialize_with = "crate::http::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The client's address: the peer, or, behind proxies the operator names (`trust_proxy`), the
/// address the nearest untrusted hop was seen from.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts, proxies: &TrustedProxies) -> ClientIp {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        ClientIp(proxies.client(peer, &parts.headers))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::from_parts(parts, &state.config.trusted_proxies))
    }
}

/// Per-address limit on every API request.
pub async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.limits.enabled() {
        let (parts, body) = request.into_parts();
        let ClientIp(ip) = ClientIp::from_parts(&parts, &state.config.trusted_proxies);
        if let Err(e) = state.limits.check(Limit::ApiPerIp, &ip.to_string()).await {
            return e.into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}

/// Counts requests and their latency by route template (not raw path, so ids don't explode the
/// label set).
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("mutual_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("mutual_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

/// How the site shows an error as a page (outside `/api`). The web layer sets it at start
/// (app.rs), so this lower module answers as the site does without importing the pages.
static ERROR_PAGE: std::sync::OnceLock<fn(AppError) -> Response> = std::sync::OnceLock::new();

/// Sets the page renderer of [`error_for`]; once, at start.
pub fn set_error_page(page: fn(AppError) -> Response) {
    let _ = ERROR_PAGE.set(page);
}

/// `error` as the answer to `path`: JSON under `/api`, a page elsewhere.
pub fn error_for(path: &str, error: AppError) -> Response {
    match ERROR_PAGE.get() {
        Some(page) if !path.starts_with("/api") => page(error),
        _ => error.into_response(),
    }
}

/// What an unknown `path` answers; for handlers that must look absent.
pub fn not_found_for(path: &str) -> Response {
    error_for(path, AppError::NotFound)
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> Response {
    let mut response = AppError::bad_request(
        "method_not_allowed",
        "this address does not accept that method",
    )
    .into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}
