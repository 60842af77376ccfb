//! The pages' static files (one stylesheet, one small script), embedded in the binary and
//! served under `/static/{version}/{file}`. The version is a hash of their content, so browsers
//! may keep them for a year and still get a new file the moment it changes.

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

const ASSETS: [Asset; 2] = [
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
];

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in &ASSETS {
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
