//! CSRF protection for the pages' forms. A member's forms carry their session's CSRF token; a
//! visitor's (log in, join Mutual, settings) carry a random token that must match the
//! `mutual_csrf` cookie (the double-submit pattern: another site can send the cookie but cannot
//! read it to copy it into the form). `WebForm` checks either before a handler sees the form.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Ctx, PageError};
use crate::accounts::session;
use crate::app::AppState;
use crate::error::AppError;

const VISITOR_COOKIE: &str = "mutual_csrf";

/// The visitor's token: the one in their cookie, or a new one with the cookie to set.
pub fn visitor_token(state: &AppState, jar: &CookieJar) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = jar.get(VISITOR_COOKIE).filter(|c| c.value().len() >= 32) {
        return (existing.value().to_owned(), None);
    }
    let token = session::random_secret();
    let cookie = Cookie::build((VISITOR_COOKIE, token.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies())
        .path("/")
        .build();
    (token, Some(cookie))
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A posted form whose CSRF token was right, with the context of who sent it.
pub struct WebForm<T> {
    pub ctx: Ctx,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for WebForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let ctx = <Ctx as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, state,
        )
        .await?;
        let multipart = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
        if multipart {
            let request = Request::from_parts(parts, body);
            let bytes = multipart_as_form(request, state, &ctx).await?;
            return finish(ctx, &bytes);
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::bad_request("unreadable_body", e.body_text())
                }
            })?;
        check_csrf(&ctx, &bytes)?;
        finish(ctx, &bytes)
    }
}

fn check_csrf(ctx: &Ctx, bytes: &[u8]) -> Result<(), PageError> {
    let sent: CsrfField = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
    // A new visitor token means the browser sent no cookie: nothing to match against.
    let fresh_visitor = ctx.session.is_none() && ctx.new_csrf_cookie.is_some();
    if fresh_visitor || !session::same_secret(&sent.csrf, &ctx.csrf) {
        return Err(PageError::Csrf);
    }
    Ok(())
}

fn finish<T: DeserializeOwned>(ctx: Ctx, bytes: &[u8]) -> Result<WebForm<T>, PageError> {
    if let Some(field) = crate::http::nul_in_form(bytes, "form") {
        return Err(AppError::InvalidText { field }.into());
    }
    let form = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
    Ok(WebForm { ctx, form })
}

/// A `multipart/form-data` form (one that can carry a photo or voice note) turned into the
/// urlencoded fields the handlers read. The CSRF token is checked before the file is looked
/// at; a file in the part named `file` is uploaded for the signed-in member and becomes the
/// field `media_id`, or `media_error` with the reason it was refused, for the handler to show
/// beside the kept draft.
async fn multipart_as_form(
    request: Request,
    state: &AppState,
    ctx: &Ctx,
) -> Result<Vec<u8>, PageError> {
    use axum::extract::Multipart;
    let bad = |e: axum::extract::multipart::MultipartError| -> PageError {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge.into()
        } else {
            AppError::bad_request("bad_form", e.body_text()).into()
        }
    };
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::bad_request("bad_form", e.body_text()))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut file: Option<(String, Bytes)> = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            let declared = field.content_type().unwrap_or_default().to_owned();
            let data = field.bytes().await.map_err(bad)?;
            // A file input left empty still sends a part, with no bytes.
            if name == "file" && !data.is_empty() {
                file = Some((declared, data));
            }
            continue;
        }
        let value = field.text().await.map_err(bad)?;
        pairs.push((name, value));
    }
    let encoded = serde_urlencoded::to_string(&pairs)
        .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
    check_csrf(ctx, encoded.as_bytes())?;
    if let (Some((declared, data)), Some(session)) = (file, ctx.session.as_ref()) {
        // A re-sent draft already carries its upload; a new file replaces it.
        pairs.retain(|(k, _)| k != "media_id");
        match crate::media::accept(state, &session.user, &declared, data).await {
            Ok(uploaded) => pairs.push(("media_id".into(), uploaded.id.to_string())),
            Err(e) => pairs.push(("media_error".into(), media_refusal(&e).into())),
        }
    }
    let encoded = serde_urlencoded::to_string(&pairs)
        .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
    Ok(encoded.into_bytes())
}

/// The locale key that says why an upload from a form was refused.
fn media_refusal(e: &AppError) -> &'static str {
    match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "media.err_too_big",
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => "media.err_type",
        axum::http::StatusCode::TOO_MANY_REQUESTS => "media.err_quota",
        _ => "media.err_unreadable",
    }
}
