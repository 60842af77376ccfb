//! The pages' static files (one stylesheet, one small script, the app icons), embedded in the
//! binary and served under `/static/{version}/{file}`. The version is a hash of their content, so
//! browsers may keep them for a year and still get a new file the moment it changes. The same
//! files answer at `/static/{file}` too, briefly cached, for what must name a fixed address.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "site.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/static/site.css"),
    },
    Asset {
        name: "site.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/static/site.js"),
    },
    // The app icons (scripts/make-icons.py draws them), named in the web app manifest.
    Asset {
        name: "icon.svg",
        mime: "image/svg+xml",
        bytes: include_bytes!("../../web/static/icon.svg"),
    },
    Asset {
        name: "icon-192.png",
        mime: "image/png",
        bytes: include_bytes!("../../web/static/icon-192.png"),
    },
    Asset {
        name: "icon-512.png",
        mime: "image/png",
        bytes: include_bytes!("../../web/static/icon-512.png"),
    },
    Asset {
        name: "icon-maskable-512.png",
        mime: "image/png",
        bytes: include_bytes!("../../web/static/icon-maskable-512.png"),
    },
];

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.bytes);
    }
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The address of a static file, with the current version in it.
pub fn url(name: &str) -> String {
    format!("/static/{}/{name}", *VERSION)
}

/// The hash of every static file together.
pub fn version() -> &'static str {
    VERSION.as_str()
}

/// `/static/{file}`: today's file at a fixed address, revalidated on each use.
pub async fn serve_current(Path(file): Path<String>) -> Response {
    serve(Path((String::new(), file))).await
}

pub async fn serve(Path((version, file)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return super::not_found();
    };
    // An old version's address gets today's file, but only briefly cached.
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}
