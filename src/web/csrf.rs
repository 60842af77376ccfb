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
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::bad_request("unreadable_body", e.body_text())
                }
            })?;
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
        // A new visitor token means the browser sent no cookie: nothing to match against.
        let fresh_visitor = ctx.session.is_none() && ctx.new_csrf_cookie.is_some();
        if fresh_visitor || !session::same_secret(&sent.csrf, &ctx.csrf) {
            return Err(PageError::Csrf);
        }
        if let Some(field) = crate::http::nul_in_form(&bytes, "form") {
            return Err(AppError::InvalidText { field }.into());
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::bad_request("bad_form", e.to_string()))?;
        Ok(WebForm { ctx, form })
    }
}
