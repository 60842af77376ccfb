//! Joining Mutual, logging in and out: plain forms that post back and redirect (no JavaScript).

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, safe_next};
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
    notice: super::account::ConsentNotice,
    /// Only ever the member's own tick, sent back with a form that had errors.
    consent_checked: bool,
}

pub async fn register_page(ctx: Ctx) -> Result<Response, PageError> {
    if ctx.session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let page = RegisterPage {
        l: ctx.layout(ctx.texts.get("auth.register_title")).await,
        errors: Vec::new(),
        username: String::new(),
        display_name: String::new(),
        email: String::new(),
        languages: LANGUAGES,
        notice: super::account::ConsentNotice::new(ctx.texts.locale),
        consent_checked: false,
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
    /// The consent checkbox: the notice's version when ticked, absent otherwise.
    health_data_consent: Option<String>,
    /// The language the notice was shown in.
    consent_locale: Option<String>,
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
                .keys()
                .map(|field| match field.as_str() {
                    "username" | "password" | "display_name" | "email" | "title" | "body" | "q" => {
                        t(&format!("errors.{field}"))
                    }
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

pub async fn register(
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    WebForm { ctx, form }: WebForm<RegisterForm>,
) -> Result<Response, PageError> {
    let request = RegisterRequest {
        username: form.username.clone(),
        password: form.password,
        display_name: form.display_name.clone(),
        email: form.email.clone(),
        locale: form.locale,
        health_data_consent: consent_grant(
            form.health_data_consent.as_deref(),
            form.consent_locale.as_deref(),
        ),
    };
    match accounts::register(&ctx.state, ip, accounts::user_agent(&headers), &request).await {
        Ok(answer) => {
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            Ok(ctx.send((jar, Redirect::to("/"))))
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
                notice: super::account::ConsentNotice::new(ctx.texts.locale),
                consent_checked: form.health_data_consent.is_some(),
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
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            Ok(ctx.send((jar, Redirect::to(&next))))
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
        session::revoke(&ctx.state, s.id).await?;
    }
    let jar = jar.add(session::removal_cookie(&ctx.state));
    Ok(ctx.send((jar, Redirect::to("/"))))
}
