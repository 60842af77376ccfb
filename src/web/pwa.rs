//! What makes the site an installable app (API.md v1.1: `/manifest.webmanifest`, `/sw.js`): the
//! web app manifest in the reader's language, the service worker (`web/static/sw.js`, with this
//! build's version and addresses filled in) and the offline page it keeps. Pages work the same
//! without any of it.

use std::sync::LazyLock;

use axum::extract::Query;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Ctx, assets};
use crate::accounts::types::Locale;
use crate::i18n::{self, Texts};

/// site.css's `--brand` (the header bar) and `--paper` (the page).
const THEME_COLOUR: &str = "#0b4f8a";
const BACKGROUND_COLOUR: &str = "#ffffff";

const SERVICE_WORKER: &str = include_str!("../../web/static/sw.js");
const OFFLINE_TEMPLATE: &str = include_str!("../../web/templates/offline.html");

/// The push handlers (`src/web/push.rs`), imported by the worker.
const PUSH_SCRIPT: &str = "/push-sw.js";

/// This build's service worker: a new version (any static file, the worker or the offline page
/// changed, or a new release) makes browsers install it and drop the old caches.
static WORKER: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    hash.update(assets::version());
    hash.update(SERVICE_WORKER);
    hash.update(OFFLINE_TEMPLATE);
    hash.update(super::push::PUSH_SW);
    hash.update(env!("CARGO_PKG_VERSION"));
    let version: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    // What a kept page needs to look right offline.
    let precache = json!([assets::url("site.css"), assets::url("site.js")]).to_string();
    SERVICE_WORKER
        .replace("__VERSION__", &version)
        .replace("__ASSETS_VERSION__", assets::version())
        .replace("__PRECACHE__", &precache)
        .replace("__PUSH__", &json!(PUSH_SCRIPT).to_string())
});

/// The manifest's `dir`: every language offered is written left to right.
fn direction(_locale: Locale) -> &'static str {
    "ltr"
}

/// `/manifest.webmanifest`, in the language the pages are shown in (the member's, else the
/// visitor's choice or browser's).
pub async fn manifest(ctx: Ctx) -> Response {
    let t = ctx.texts;
    let icon = |name: &str, size: &str, purpose: &str| json!({"src": assets::url(name), "sizes": size, "type": "image/png", "purpose": purpose});
    let body = json!({
        "id": "/",
        "name": t.get("pwa.name"),
        "short_name": t.get("site.name"),
        "description": t.get("site.tagline"),
        "lang": t.locale.as_str(),
        "dir": direction(t.locale),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            icon("icon-192.png", "192x192", "any"),
            icon("icon-512.png", "512x512", "any"),
            icon("icon-maskable-512.png", "512x512", "maskable"),
        ],
    });
    let answer = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/manifest+json"),
            ),
            // It follows the reader's language: never shared between readers.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
            (
                header::VARY,
                HeaderValue::from_static("Cookie, Accept-Language"),
            ),
        ],
        body.to_string(),
    );
    // No visitor's CSRF cookie: nothing here is a form.
    answer.into_response()
}

/// `/sw.js`: served from the root so that its scope is the whole site.
pub async fn service_worker() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            // Browsers look for a new worker on every visit; it must never be stale.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("service-worker-allowed"),
                HeaderValue::from_static("/"),
            ),
        ],
        WORKER.as_str(),
    )
        .into_response()
}

#[derive(askama::Template)]
#[template(path = "offline.html")]
struct OfflinePage {
    t: &'static Texts,
    lang: &'static str,
    css: String,
}

#[derive(Deserialize)]
pub struct OfflineQuery {
    lang: Option<String>,
}

/// `/offline?lang=es`: the page the service worker shows when the network is gone. It holds
/// nothing about whoever fetched it, so the worker may keep one per language.
pub async fn offline(Query(q): Query<OfflineQuery>) -> Response {
    let locale = q
        .lang
        .as_deref()
        .and_then(|l| Locale::parse(l).ok())
        .unwrap_or_default();
    let t = i18n::texts(locale);
    let page = OfflinePage {
        t,
        lang: locale.as_str(),
        css: assets::url("site.css"),
    };
    match askama::Template::render(&page) {
        Ok(html) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the offline page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
