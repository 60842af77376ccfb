//! Operating endpoints: liveness, readiness (and the draining state it reports), Prometheus
//! metrics and the OpenAPI document.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .routes(routes!(openapi_json))
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "alive", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// Set once SIGTERM arrives: the node is finishing its requests and wants no new ones. One per
/// process, like the signal.
static DRAINING: AtomicBool = AtomicBool::new(false);

/// Marks this node as draining: `/readyz` answers 503 from now on.
pub fn start_draining() {
    DRAINING.store(true, Ordering::Relaxed);
}

fn draining() -> bool {
    DRAINING.load(Ordering::Relaxed)
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`; `degraded` (Redis lost: still ready, each node serves its own sockets); `down`
    /// (the database is not answering); `draining` (shutting down).
    pub status: &'static str,
    /// `ok` or `down`.
    pub database: &'static str,
    /// `ok`, `down` or `not_configured`.
    pub redis: &'static str,
}

/// 200 while the database answers, with `"redis": "down"` when Redis is lost; 503 when the
/// database is not answering or the node is draining after SIGTERM.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => "ok",
        _ => "down",
    };
    let redis = match &state.redis {
        None => "not_configured",
        Some(conn) => {
            let mut conn = conn.clone();
            let ping = redis::cmd("PING");
            match tokio::time::timeout(
                Duration::from_secs(2),
                ping.query_async::<String>(&mut conn),
            )
            .await
            {
                Ok(Ok(_)) => "ok",
                _ => "down",
            }
        }
    };
    let (code, status) = if draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if database != "ok" {
        (StatusCode::SERVICE_UNAVAILABLE, "down")
    } else if redis == "down" {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    (
        code,
        axum::Json(Readiness {
            status,
            database,
            redis,
        }),
    )
}

/// Prometheus text format: request counts and latency by route, database pool use, and more.
/// The figures (crisis flags, moderation counts) are not for the public: 404 unless the request
/// carries `Authorization: Bearer <MUTUAL_METRICS_TOKEN>` (see also [`metrics_only_router`]).
#[utoipa::path(get, path = "/metrics", tag = "service", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text", body = String),
        (status = 404, description = "without the metrics token: answered as an unknown path")))]
async fn metrics_text(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&state.config.metrics_token, presented) {
        (Some(token), Some(given)) if same_secret(token.as_bytes(), given.trim().as_bytes()) => {
            render_metrics(&state)
        }
        // Exactly what an unknown path answers, so the endpoint's existence tells nothing.
        _ => crate::http::not_found_for("/metrics"),
    }
}

/// Compares without stopping at the first differing byte, so timing does not leak the token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn render_metrics(state: &AppState) -> Response {
    for (pool, in_use, idle, max) in state.store.pool_stats() {
        metrics::gauge!("mutual_db_pool_connections", "pool" => pool, "state" => "in_use")
            .set(in_use as f64);
        metrics::gauge!("mutual_db_pool_connections", "pool" => pool, "state" => "idle")
            .set(idle as f64);
        metrics::gauge!("mutual_db_pool_max_connections", "pool" => pool).set(max as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The router for `MUTUAL_METRICS_LISTEN`: `/metrics` without a token (the operator keeps that
/// address private), nothing else.
pub fn metrics_only_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |State(state): State<AppState>| async move { render_metrics(&state) },
            ),
        )
        .with_state(state)
}

/// This API as OpenAPI 3, generated from the handlers themselves.
#[utoipa::path(get, path = "/api/openapi.json", tag = "service", responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.get().cloned().unwrap_or_default(),
    )
}
