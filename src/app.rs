//! The application: shared state, the router assembled from each capability's router, and the
//! serve loop with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::chat::writer::ChatWriter;
use crate::config::Config;
use crate::error::AppError;
use crate::ratelimit::RateLimiter;
use crate::realtime::Realtime;
use crate::store::Store;
use crate::{
    accounts, calendar, chat, circles, communities, forum, goals, http, milestones, moderation,
    notify, readings, search, service, web,
};

/// Largest request body accepted (a 50,000-character post in any script fits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach: one shared pointer, so the clones that every request and
/// middleware layer makes cost one atomic increment (they were a dozen, one per field).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub config: Arc<Config>,
    pub store: Store,
    pub limits: RateLimiter,
    pub redis: Option<ConnectionManager>,
    pub metrics: PrometheusHandle,
    /// The OpenAPI document, set once when the router is built.
    pub openapi: std::sync::OnceLock<String>,
    pub realtime: Arc<Realtime>,
    /// Signed-in sessions kept between requests (see `accounts::session_cache`).
    pub sessions: Arc<crate::accounts::session_cache::SessionCache>,
    pub chat: ChatWriter,
    pub rules: Arc<crate::moderation::rules::RulesHandle>,
    /// Topic pages between views (see `forum::cache`).
    pub pages: Arc<forum::cache::PageCache>,
    /// Topics, communities and members' places as topic views read them (see `forum::cache`).
    pub heads: Arc<forum::cache::Heads>,
    /// Stores replies in groups (see `forum::writer`).
    pub replies: forum::writer::ReplyWriter,
    pub mail: crate::mail::Mailer,
    /// Web Push: the site's key and the delivery client (see `push`).
    pub push: crate::push::Pusher,

    /// Where photos and voice notes live (see `media`).
    pub media: crate::media::Media,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Mutual", version = env!("CARGO_PKG_VERSION"), license(name = "AGPL-3.0-or-later"), description = "Peer-support communities: forum, live chat, moderation and organiser tools. See API.md for the conventions."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The error answers every operation can give besides its own, added to the description where a
/// handler does not list them: 429 and 503 anywhere; 401 and 403 (a cookie without its CSRF
/// token) where a sign-in is needed; 400, 413, 415 and 422 where a body is read; 400, 404 and
/// 422 where the path or query carries values.
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    let error = |why: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let has_params = path.contains('{');
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_body = operation.request_body.is_some();
            let has_query = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let mut add = |code: &str, why: &str| {
                operation
                    .responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error(why));
            };
            add("429", "too many requests: wait for `Retry-After` seconds");
            add("503", "the database is not answering; try again shortly");
            if secured {
                add("401", "not signed in, or the token was revoked");
                add(
                    "403",
                    "not allowed (or a cookie request without its CSRF token)",
                );
            }
            if has_body {
                add("400", "the body is not valid JSON");
                add("413", "the body is too large");
                add("415", "the body is not sent as application/json");
                add("422", "the body has invalid or missing fields");
            }
            if has_params || has_query {
                add("400", "a path or query value is malformed");
                add(
                    "422",
                    "a path or query value is not one this accepts (e.g. it holds NUL)",
                );
            }
            if has_params {
                add("404", "not found, or not visible to the caller");
            }
        }
    }
}

/// Every route of the API, with its OpenAPI description.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::router())
        .merge(communities::router())
        .merge(forum::router())
        .merge(chat::router())
        .merge(moderation::router())
        .merge(notify::router())
        .merge(search::router())
        .merge(milestones::router())
        .merge(goals::router())
        .merge(circles::router())
        .merge(readings::router())
        .merge(calendar::router())
        .merge(crate::directory::router())
        .merge(crate::meetings::router())
        .merge(crate::referrals::router())
        .merge(crate::blocks::router())
        .merge(crate::drafts::router())
        .merge(crate::conversations::router())
        .merge(crate::invitations::router())
        .merge(crate::delivery::router())
        .merge(crate::push::router())
        .merge(crate::media::router())
}

/// Connects to Redis lazily: a node whose Redis is down still starts and serves its own clients.
fn redis_manager(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).context("parsing REDIS_URL")?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_lazy_with_config(client, config).context("setting up Redis")
}

fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("duration_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )?
        .install_recorder()
        .context("installing the metrics recorder")
}

/// The state for a server on `store`.
pub fn state(config: Config, store: Store) -> anyhow::Result<AppState> {
    store.start_checkpoints();
    let redis = config.redis_url.as_deref().map(redis_manager).transpose()?;
    let prefix = config.redis_prefix.clone();
    let limits = RateLimiter::new(
        config.rate_limits,
        redis.clone().map(|r| (r, prefix.clone())),
    );
    let bus = match (&config.redis_url, &redis) {
        (Some(url), Some(conn)) => Some((url.clone(), prefix, conn.clone())),
        _ => None,
    };
    let sockets = crate::realtime::SocketSettings {
        heartbeat: Duration::from_secs(config.ws_heartbeat_secs),
        per_ip: config.ws_per_ip as usize,
        per_account: config.ws_per_account as usize,
    };
    let realtime = Realtime::start(Arc::new(chat::gateway::Replay(store.clone())), bus, sockets)?;
    let sessions = Arc::new(crate::accounts::session_cache::SessionCache::default());
    realtime.hub.keep_sessions(sessions.clone());
    let chat = ChatWriter::start(store.clone(), realtime.clone());
    let rules = crate::moderation::rules::RulesHandle::load(&config.rules);
    crate::moderation::crisis::set_lines_file(&config.rules);
    crate::moderation::crisis::set_phrases_file(config.crisis_file.clone());
    crate::moderation::crisis::set_scorer_file(config.crisis_scorer_file.clone());
    // Off the start's path: a text screened meanwhile waits for it, as before.
    tokio::task::spawn_blocking(crate::moderation::crisis::prepare);
    let pages = Arc::new(forum::cache::PageCache::new(config.page_cache_mb));
    let heads = Arc::new(forum::cache::Heads::default());
    store.watch().add(heads.clone());
    let replies = forum::writer::ReplyWriter::start(store.clone());
    let mail = crate::mail::Mailer::new(&config)?;
    let push = crate::push::Pusher::new(&config, mail.from().email.as_ref())?;

    let media = crate::media::Media::open(&config.media_url)?;
    Ok(AppState(Arc::new(Shared {
        config: Arc::new(config),
        store,
        limits,
        redis,
        metrics: install_metrics()?,
        openapi: std::sync::OnceLock::new(),
        realtime,
        sessions,
        chat,
        rules,
        pages,
        heads,
        replies,
        mail,
        push,

        media,
    })))
}

/// The whole router, given its state.
pub fn router(state: AppState) -> Router {
    let api = routes()
        .route("/api/v1/ws", axum::routing::get(chat::gateway::gateway))
        // Member content is not for search engines, whatever a client does with it.
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::limit_per_ip,
        ));
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(service::router())
        .merge(api)
        .split_for_parts();
    let mut openapi = openapi;
    document_common_errors(&mut openapi);
    let _ = state
        .openapi
        .set(openapi.to_json().unwrap_or_else(|_| "{}".into()));
    let https = state.config.secure_cookies();
    http::set_error_page(web::page_for_error);
    let app = api
        .merge(web::router(&state))
        .route_layer(axum::middleware::from_fn(http::record_metrics))
        .fallback(web::fallback)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(axum::middleware::from_fn(http::refuse_nul_in_uri))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::html_layer,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| -> Response {
                AppError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
            },
        ))
        .layer(CompressionLayer::new().compress_when(compress_pages()))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    // Served over https: browsers must not fall back to plain http, where a session or a
    // member's group could be seen on the wire.
    if https {
        app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        app
    }
}

/// Gzip for the web pages and their CSS and JavaScript, where slow phone networks feel it; API
/// answers are left as they are.
fn compress_pages() -> impl Predicate {
    DefaultPredicate::new().and(
        |_: axum::http::StatusCode,
         _: axum::http::Version,
         headers: &axum::http::HeaderMap,
         _: &axum::http::Extensions| {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| {
                    t.starts_with("text/html")
                        || t.starts_with("text/css")
                        || t.starts_with("text/javascript")
                })
        },
    )
}

/// Binds with a deep accept backlog: a thousand clients reconnecting at once after a restart
/// would overflow the default of 128 and wait a second for their SYN retry.
fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    socket
        .listen(4096)
        .with_context(|| format!("listening on {addr}"))
}

/// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight (for `drain_secs` at
/// most, answering 503 on `/readyz` meanwhile) and returns.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    crate::listener::raise_fd_limit();
    let listener = bind(state.config.listen)?;
    let config = state.config.clone();
    let addr = listener.local_addr()?;
    state.mail.set_listen_address(addr);
    let mail = state.mail.describe();
    let media = state.media.store.describe();
    let store = state.store.clone();
    let realtime = state.realtime.clone();
    spawn_upkeep(&state);
    spawn_mail(&state, state.config.job_interval_secs);
    // The VAPID key is made (or read) before the first request, so every node has it at once.
    if let Err(e) = state.push.keys(&state.store).await {
        tracing::warn!(error = %e, "reading the Web Push key; will try again when needed");
    }
    spawn_push(&state, state.config.job_interval_secs);
    if let Some(metrics_addr) = state.config.metrics_listen {
        spawn_metrics_listener(metrics_addr, state.clone())?;
    }
    let app = router(state);
    // Tools wait for this exact line on stdout.
    println!("listening on http://{addr}");
    tracing::info!(%addr, backend = ?store.backend(), %mail, %media, "serving");
    crate::listener::serve(listener, app, &config, async move {
        shutdown_signal().await;
        service::start_draining();
        // Sockets are long-lived: ask them to close so shutdown does not wait on them.
        realtime.shut_down();
    })
    .await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `/metrics` alone on a second, private address (`MUTUAL_METRICS_LISTEN`).
fn spawn_metrics_listener(addr: SocketAddr, state: AppState) -> anyhow::Result<()> {
    let listener = bind(addr)?;
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "serving /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, service::metrics_only_router(state)).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}

/// Housekeeping and timed jobs. Every node runs them; jobs claim their work in the database so
/// each item is done once.
fn spawn_upkeep(state: &AppState) {
    state.rules.watch();
    let limits = state.limits.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            limits.prune();
            metrics.run_upkeep();
        }
    });
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = search::reindex_pending(&store).await {
            tracing::warn!(error = %e, "rebuilding the search index (goes on at the next start)");
        }
    });
    let store = state.store.clone();
    let realtime = state.realtime.clone();
    let every = state.config.job_interval_secs;
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        loop {
            tick.tick().await;
            if let Err(e) = notify::newcomers::alert_unanswered(&store, &realtime).await {
                tracing::warn!(error = %e, "newcomer alerts");
            }
            if let Err(e) = milestones::anniversary::run_due(&store, &realtime).await {
                tracing::warn!(error = %e, "milestone anniversaries");
            }
            if let Err(e) = goals::run_due(&store, &realtime).await {
                tracing::warn!(error = %e, "goal check-in reminders");
            }
            if let Err(e) = circles::run_due(&store, &realtime).await {
                tracing::warn!(error = %e, "circle leader inactivity");
            }
            if let Err(e) = calendar::run_due(&store, &realtime).await {
                tracing::warn!(error = %e, "calendar jobs");
            }
            if let Err(e) = crate::media::sweep(&state).await {
                tracing::warn!(error = %e, "removing erased media");
            }
        }
    });
}

/// The mail worker: password reset requests and new notifications become mails, and due
/// mails go out. It wakes when
/// this node queues something, and looks every few seconds for what other nodes queued or
/// what is due for a retry.
fn spawn_mail(state: &AppState, every_job_secs: u64) {
    let state = state.clone();
    let poll = Duration::from_secs(every_job_secs.min(5));
    tokio::spawn(async move {
        let mut last_prune = tokio::time::Instant::now();
        loop {
            if let Err(e) = accounts::reset::take_requests(&state).await {
                tracing::warn!(error = %e, "password reset requests");
            }
            if let Err(e) = crate::delivery::mails::queue_immediate(&state).await {
                tracing::warn!(error = %e, "immediate notification mails");
            }
            if let Err(e) = crate::delivery::mails::queue_digests(&state).await {
                tracing::warn!(error = %e, "notification digests");
            }
            if let Err(e) = crate::mail::outbox::deliver_due(&state).await {
                tracing::warn!(error = %e, "mail delivery");
            }
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = tokio::time::Instant::now();
                if let Err(e) = crate::mail::outbox::prune(&state).await {
                    tracing::warn!(error = %e, "pruning the mail outbox");
                }
                if let Err(e) = accounts::reset::prune(&state).await {
                    tracing::warn!(error = %e, "pruning reset tokens");
                }
                if let Err(e) = crate::delivery::verify::prune(&state).await {
                    tracing::warn!(error = %e, "pruning e-mail verification tokens");
                }
                if let Err(e) = crate::delivery::unsubscribe::prune(&state).await {
                    tracing::warn!(error = %e, "pruning unsubscribe tokens");
                }
            }
            state.mail.sleep(poll).await;
        }
    });
}

/// The push worker: due pushes go out. It wakes when this node stores a notification, and
/// looks every few seconds for what other nodes queued or what is due for a retry.
fn spawn_push(state: &AppState, every_job_secs: u64) {
    let state = state.clone();
    let poll = Duration::from_secs(every_job_secs.min(5));
    tokio::spawn(async move {
        loop {
            match crate::push::queue::deliver_due(&state).await {
                // A full batch: more may be waiting.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "push delivery"),
            }
            crate::push::queue::sleep(poll).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
