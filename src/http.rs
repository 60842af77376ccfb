//! HTTP pieces every capability shares: the JSON extractor that answers bad bodies in API.md's
//! error shape, the client address, per-address limits, request metrics and the 404 fallback
//! (an HTML page outside `/api`, see `web`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::AppError;
use crate::ratelimit::Limit;

/// `axum::Json`, but malformed, mistyped or oversized bodies become our JSON errors
/// (400, 422, 413, 415) instead of plain-text ones.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

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

/// The client's address: the peer, or the first `X-Forwarded-For` hop when the operator says a
/// trusted proxy sits in front (`MUTUAL_TRUST_PROXY=on`).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts, trust_proxy: bool) -> ClientIp {
        if trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return ClientIp(ip);
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        ClientIp(peer.unwrap_or(IpAddr::from([127, 0, 0, 1])))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::from_parts(parts, state.config.trust_proxy))
    }
}

/// Per-address limit on every API request.
pub async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.limits.enabled() {
        let (parts, body) = request.into_parts();
        let ClientIp(ip) = ClientIp::from_parts(&parts, state.config.trust_proxy);
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
