//! What the service worker needs for Web Push (the settings section is `_settings_push.html`,
//! its script in `site.js`): `/push-sw.js`, the `push` and `notificationclick` handlers that
//! `/sw.js` imports, and `/push/texts.json`, the sentence for each kind of notification in the
//! asker's language (a push carries only `{kind, url}`; the words live here, in the locales).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use crate::notify::Kind;

pub(super) const PUSH_SW: &[u8] = include_bytes!("../../web/static/push-sw.js");

/// The push handlers, at a fixed address so `/sw.js` can import them; browsers check imported
/// scripts for changes when they update the worker.
pub async fn service_worker() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PUSH_SW,
    )
        .into_response()
}

/// The words a pushed notification shows, in the member's language (their setting; for a
/// visitor the language cookie or the browser's).
pub async fn texts(ctx: Ctx) -> Response {
    let t = ctx.texts;
    let kinds: serde_json::Map<String, serde_json::Value> = Kind::ALL
        .iter()
        .filter_map(|k| {
            let key = format!("push.kind.{}", k.as_str());
            let text = t.get(&key);
            (text != key).then(|| (k.as_str().to_owned(), text.into()))
        })
        .collect();
    let body = serde_json::json!({
        "lang": t.locale.as_str(),
        "site": t.get("site.name"),
        "other": t.get("push.other"),
        "kinds": kinds,
    });
    let answer = (
        [
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
            (
                header::VARY,
                HeaderValue::from_static("Cookie, Accept-Language"),
            ),
        ],
        axum::Json(body),
    );
    ctx.send(answer)
}

#[cfg(test)]
mod tests {
    use crate::accounts::types::Locale;
    use crate::notify::Kind;

    #[test]
    fn every_kind_has_words_for_a_push() {
        for locale in [Locale::En, Locale::Es, Locale::Hi] {
            let t = crate::i18n::texts(locale);
            for k in Kind::ALL {
                let key = format!("push.kind.{}", k.as_str());
                assert_ne!(t.get(&key), key, "{key} in {}", locale.as_str());
            }
        }
    }
}
