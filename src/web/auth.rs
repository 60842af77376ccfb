//! Joining Mutual, logging in and out, and choosing a new password from an e-mailed link: plain
//! forms that post back and redirect (no JavaScript).

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, safe_next};
use crate::accounts::reset::{self, ResetConfirm};
use crate::accounts::{self, LoginRequest, RegisterRequest, session};
use crate::error::AppError;
use crate::http::ClientIp;

/// Each language named in itself, for language pickers.
pub const LANGUAGES: [(&str, &str); 3] = [("en", "English"), ("es", "Español"), ("hi", "हिन्दी")];

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    l: Layout,
    errors: Vec<String>,
    username: String,
    display_name: String,
    email: String,
    languages: [(&'static str, &'static str); 3],
    /// The country whose crisis lines come first.
    countries: Vec<super::account::Choice>,
    notice: super::account::ConsentNotice,
    /// Only ever the member's own tick, sent back with a form that had errors.
    consent_checked: bool,
    /// The zone select: inside `<noscript>` (the browser's zone is sent instead), or shown
    /// to all when the zone sent was refused.
    zones: Vec<super::format::ZoneGroup>,
    zone_refused: bool,
    /// Where to go once signed up (a group to join, when "Join" was tapped signed out).
    next: String,
}

/// The zone a sign-up form starts on when JavaScript cannot tell: where most speakers of the
/// page's language among our members live.
fn likely_zone(locale: crate::accounts::types::Locale) -> &'static str {
    match locale.as_str() {
        "es" => "America/Mexico_City",
        "hi" => "Asia/Kolkata",
        _ => "UTC",
    }
}

pub async fn register_page(ctx: Ctx, Query(q): Query<NextParam>) -> Result<Response, PageError> {
    let next = safe_next(q.next.as_deref());
    if ctx.session.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let page = RegisterPage {
        l: ctx.layout(ctx.texts.get("auth.register_title")).await,
        errors: Vec::new(),
        username: String::new(),
        display_name: String::new(),
        email: String::new(),
        languages: LANGUAGES,
        countries: super::account::country_choices(&ctx, None),
        notice: super::account::ConsentNotice::new(ctx.texts.locale),
        consent_checked: false,
        zones: super::format::zone_groups(ctx.texts, likely_zone(ctx.texts.locale)),
        zone_refused: false,
        next,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    display_name: Option<String>,
    email: Option<String>,
    locale: Option<String>,
    country: Option<String>,
    /// The zone chosen in the form's select (shown when JavaScript is off, or after an error).
    timezone: Option<String>,
    /// The browser's own zone, filled in by `site.js`.
    browser_timezone: Option<String>,
    /// The consent checkbox: the notice's version when ticked, absent otherwise.
    health_data_consent: Option<String>,
    /// The language the notice was shown in.
    consent_locale: Option<String>,
    next: Option<String>,
}

/// The unbundled consent of a sign-up form, when its box was ticked.
pub(super) fn consent_grant(
    version: Option<&str>,
    locale: Option<&str>,
) -> Option<crate::accounts::consent::ConsentGrant> {
    version
        .filter(|v| !v.trim().is_empty())
        .map(|v| crate::accounts::consent::ConsentGrant {
            version: v.to_owned(),
            locale: locale.map(str::to_owned),
        })
}

/// Our words for what the accounts service refused, field by field.
pub(super) fn messages(ctx: &Ctx, e: &AppError) -> Option<Vec<String>> {
    let t = |key: &str| ctx.texts.get(key).to_owned();
    match e {
        AppError::Invalid { fields, .. } => Some(
            fields
                .names()
                .map(|field| match field {
                    // Long enough but easy to guess: say so, not "pick a longer password".
                    "password" if is_too_common(fields.get(field)) => t("phone.password_common"),
                    "username" | "password" | "display_name" | "email" | "title" | "body" | "q" => {
                        t(&format!("errors.{field}"))
                    }
                    "timezone" => t("timezone.err_unknown"),
                    _ => t("errors.generic"),
                })
                .collect(),
        ),
        AppError::Conflict { code, .. } if *code == "username_taken" || *code == "email_taken" => {
            Some(vec![t(&format!("errors.{code}"))])
        }
        AppError::RateLimited { .. } => Some(vec![t("errors.rate_limited")]),
        AppError::Conflict { code, .. } if *code == "consent_version_outdated" => {
            Some(vec![t("consent.err_outdated")])
        }
        _ => None,
    }
}

/// The password was refused as common (a listed word or zxcvbn's guess), not for its length.
pub(super) fn is_too_common(reasons: Option<&[String]>) -> bool {
    reasons.is_some_and(|r| {
        r.iter()
            .any(|m| m == crate::accounts::types::Password::TOO_COMMON)
    })
}

pub async fn register(
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    WebForm { ctx, form }: WebForm<RegisterForm>,
) -> Result<Response, PageError> {
    // The select, when it was shown, is what the member chose; else what the browser said.
    let chosen_zone = [&form.timezone, &form.browser_timezone]
        .into_iter()
        .flatten()
        .find(|z| !z.trim().is_empty())
        .cloned();
    let request = RegisterRequest {
        username: form.username.clone(),
        password: form.password,
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        locale: form.locale,
        country: form.country.clone(),
        timezone: chosen_zone.clone(),
        health_data_consent: consent_grant(
            form.health_data_consent.as_deref(),
            form.consent_locale.as_deref(),
        ),
    };
    let next = safe_next(form.next.as_deref());
    match accounts::register(&ctx.state, ip, accounts::user_agent(&headers), &request).await {
        Ok(answer) => {
            let to = super::forum::after_sign_in(&ctx, &answer.user, next).await;
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            Ok(ctx.send((jar, Redirect::to(&to))))
        }
        Err(e) => {
            let Some(errors) = messages(&ctx, &e) else {
                return Err(e.into());
            };
            let page = RegisterPage {
                l: ctx.layout(ctx.texts.get("auth.register_title")).await,
                errors,
                username: form.username,
                display_name: form.display_name.unwrap_or_default(),
                email: form.email.unwrap_or_default(),
                languages: LANGUAGES,
                countries: super::account::country_choices(
                    &ctx,
                    form.country.as_deref().filter(|c| !c.is_empty()),
                ),
                notice: super::account::ConsentNotice::new(ctx.texts.locale),
                consent_checked: form.health_data_consent.is_some(),
                zones: super::format::zone_groups(
                    ctx.texts,
                    chosen_zone
                        .as_deref()
                        .unwrap_or(likely_zone(ctx.texts.locale)),
                ),
                zone_refused: matches!(&e, AppError::Invalid { fields, .. } if fields.names().any(|f| f == "timezone")),
                next,
            };
            Ok(ctx.send_status(e.status(), page))
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    errors: Vec<String>,
    username: String,
    next: String,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn login_page(ctx: Ctx, Query(q): Query<NextParam>) -> Result<Response, PageError> {
    let next = safe_next(q.next.as_deref());
    if ctx.session.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let page = LoginPage {
        l: ctx.layout(ctx.texts.get("auth.login_title")).await,
        errors: Vec::new(),
        username: String::new(),
        next,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login(
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    WebForm { ctx, form }: WebForm<LoginForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let request = LoginRequest {
        username: form.username.clone(),
        password: form.password,
    };
    match accounts::login(&ctx.state, ip, accounts::user_agent(&headers), &request).await {
        Ok(answer) => {
            let to = super::forum::after_sign_in(&ctx, &answer.user, next).await;
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            Ok(ctx.send((jar, Redirect::to(&to))))
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::RateLimited { .. })) => {
            let key = if matches!(e, AppError::Unauthorized(_)) {
                "auth.login_failed"
            } else {
                "errors.rate_limited"
            };
            let page = LoginPage {
                l: ctx.layout(ctx.texts.get("auth.login_title")).await,
                errors: vec![ctx.texts.get(key).to_owned()],
                username: form.username,
                next,
            };
            let status = if matches!(e, AppError::Unauthorized(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                e.status()
            };
            Ok(ctx.send_status(status, page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    jar: CookieJar,
    WebForm { ctx, .. }: WebForm<Empty>,
) -> Result<Response, PageError> {
    if let Some(s) = &ctx.session {
        session::revoke(&ctx.state, s.user.id, s.id).await?;
    }
    let jar = jar.add(session::removal_cookie(&ctx.state));
    Ok(ctx.send((jar, Redirect::to("/"))))
}

// Password reset: ask by username or address → the same page for every answer → the link in
// the mail opens the new-password form → signed in, with a page that says so.

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "reset_request.html")]
struct ResetRequestPage {
    l: Layout,
    errors: Vec<String>,
    login: String,
}

pub async fn reset_request_page(ctx: Ctx) -> Result<Response, PageError> {
    let page = ResetRequestPage {
        l: ctx.layout(ctx.texts.get("reset.request_title")).await,
        errors: Vec::new(),
        login: String::new(),
    };
    Ok(ctx.send(page))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "reset_sent.html")]
struct ResetSentPage {
    l: Layout,
    minutes: u64,
}

#[derive(Deserialize)]
pub struct ResetRequestForm {
    #[serde(default)]
    login: String,
}

pub async fn reset_request(
    ClientIp(ip): ClientIp,
    WebForm { ctx, form }: WebForm<ResetRequestForm>,
) -> Result<Response, PageError> {
    match reset::request(&ctx.state, ip, &form.login).await {
        Ok(_) => {
            let page = ResetSentPage {
                l: ctx.layout(ctx.texts.get("reset.sent_title")).await,
                minutes: ctx.state.config.reset_token_secs.div_ceil(60),
            };
            Ok(ctx.send(page))
        }
        Err(e @ (AppError::Invalid { .. } | AppError::RateLimited { .. })) => {
            let key = if matches!(e, AppError::Invalid { .. }) {
                "reset.login_error"
            } else {
                "errors.rate_limited"
            };
            let page = ResetRequestPage {
                l: ctx.layout(ctx.texts.get("reset.request_title")).await,
                errors: vec![ctx.texts.get(key).to_owned()],
                login: form.login,
            };
            Ok(ctx.send_status(e.status(), page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "reset_new.html")]
struct ResetNewPage {
    l: Layout,
    errors: Vec<String>,
    username: String,
    token: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "reset_invalid.html")]
struct ResetInvalidPage {
    l: Layout,
}

/// The page for a link that no longer works: 404, with the way to a new one.
async fn reset_invalid(ctx: Ctx, status: StatusCode) -> Response {
    let mut l = ctx.layout(ctx.texts.get("reset.invalid_title")).await;
    l.noindex = true;
    ctx.send_status(status, ResetInvalidPage { l })
}

/// The new-password form for the token in the path; the layout's `here` would carry the token
/// into links (the language picker's return address), so it points at the request page.
async fn reset_form(
    mut ctx: Ctx,
    token: String,
    username: String,
    errors: Vec<String>,
) -> Response {
    ctx.here = "/password-reset".into();
    let mut l = ctx.layout(ctx.texts.get("reset.new_title")).await;
    l.noindex = true;
    let status = super::form_status(!errors.is_empty());
    ctx.send_status(
        status,
        ResetNewPage {
            l,
            errors,
            username,
            token,
        },
    )
}

pub async fn reset_new_page(
    ctx: Ctx,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    match reset::peek(&ctx.state, &token).await? {
        Some(username) => Ok(reset_form(ctx, token, username, Vec::new()).await),
        None => Ok(reset_invalid(ctx, StatusCode::NOT_FOUND).await),
    }
}

#[derive(Deserialize)]
pub struct ResetNewForm {
    #[serde(default)]
    password: String,
}

pub async fn reset_new(
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    axum::extract::Path(token): axum::extract::Path<String>,
    WebForm { ctx, form }: WebForm<ResetNewForm>,
) -> Result<Response, PageError> {
    let request = ResetConfirm {
        token: token.clone(),
        password: form.password,
    };
    match reset::confirm(&ctx.state, ip, accounts::user_agent(&headers), &request).await {
        Ok(answer) => {
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            Ok(ctx.send((jar, Redirect::to("/password-reset/done"))))
        }
        Err(AppError::Invalid { fields, .. }) if fields.contains("token") => {
            Ok(reset_invalid(ctx, StatusCode::UNPROCESSABLE_ENTITY).await)
        }
        Err(e) => {
            let Some(errors) = messages(&ctx, &e) else {
                return Err(e.into());
            };
            let username = reset::peek(&ctx.state, &token).await?.unwrap_or_default();
            let mut response = reset_form(ctx, token, username, errors).await;
            *response.status_mut() = e.status();
            Ok(response)
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "reset_done.html")]
struct ResetDonePage {
    l: Layout,
}

pub async fn reset_done(ctx: Ctx) -> Result<Response, PageError> {
    let page = ResetDonePage {
        l: ctx.layout(ctx.texts.get("reset.done_title")).await,
    };
    Ok(ctx.send(page))
}
