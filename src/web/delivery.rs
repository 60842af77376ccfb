//! The web side of notifications outside the site: the e-mail and password sections of
//! `/settings` (`_settings_email.html`), the page a verification link opens
//! (`/verify-email/{token}`), and the unsubscribe page of the links in notification mails
//! (`/unsubscribe/{token}`). Following a link from a mail never changes anything by itself
//! (mail scanners follow links): each page asks with a button.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::account::{Choice, settings_page};
use super::{Ctx, Layout, PageError, WebForm};
use crate::accounts::{self, PasswordChange, UpdateMe};
use crate::delivery::{self, DeliveryKind, Frequency, unsubscribe, verify};
use crate::error::AppError;

/// What the e-mail and password forms show on the settings page.
pub struct EmailSection {
    pub address: String,
    pub has_address: bool,
    pub verified: bool,
    pub frequencies: Vec<Choice>,
    pub kinds: Vec<Choice>,
    /// What was just done, in words.
    pub done: Option<String>,
    pub address_error: Option<String>,
    pub password_error: Option<String>,
}

/// The section for the signed-in member (`None` for visitors); `done` is the `?done=` of the
/// redirect after a form.
pub async fn section(
    ctx: &Ctx,
    done: Option<&str>,
    address_error: Option<String>,
    password_error: Option<String>,
) -> Result<Option<EmailSection>, PageError> {
    let Some(session) = &ctx.session else {
        return Ok(None);
    };
    let d = delivery::get(&ctx.state, session.user.id).await?;
    let t = ctx.texts;
    let settings = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        delivery::load(&mut conn, session.user.id).await?
    };
    let done = match done {
        Some("address") => Some("delivery.address_saved"),
        Some("resent") => Some("delivery.verify_sent"),
        Some("wait") => Some("delivery.verify_not_sent"),
        Some("delivery") => Some("delivery.delivery_saved"),
        Some("password") => Some("delivery.password_changed"),
        _ => None,
    };
    Ok(Some(EmailSection {
        has_address: d.address.is_some(),
        address: d.address.unwrap_or_default(),
        verified: d.verified,
        frequencies: Frequency::ALL
            .iter()
            .map(|f| Choice {
                value: f.as_str().to_owned(),
                label: t.get(&format!("delivery.freq_{}", f.as_str())).to_owned(),
                checked: *f == d.email,
            })
            .collect(),
        kinds: DeliveryKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: t.get(&format!("delivery.kind_{}", k.as_str())).to_owned(),
                checked: settings.wants(*k),
            })
            .collect(),
        done: done.map(|k| t.get(k).to_owned()),
        address_error,
        password_error,
    }))
}

/// The settings page again with an error in one of the sections (422).
async fn refused(
    ctx: Ctx,
    address_error: Option<String>,
    password_error: Option<String>,
) -> Result<Response, PageError> {
    let email = section(&ctx, None, address_error, password_error).await?;
    let page = settings_page(&ctx, false, None, email).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}

fn changes() -> UpdateMe {
    UpdateMe {
        display_name: None,
        bio: None,
        email: None,
        locale: None,
        country: None,
        confirm_identifiers: false,
        password: None,
        content_filters: None,
        hide_presence: None,
        who_can_message: None,
        text_size: None,
        timezone: None,
    }
}

#[derive(Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    email: String,
}

/// `POST /settings/email`: the address is stored unverified and a verification mail is queued
/// (`accounts::update_me`, as `PATCH /api/v1/me {email}` does).
pub async fn save_email(
    WebForm { ctx, form }: WebForm<AddressForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?.clone();
    let req = UpdateMe {
        email: Some(form.email.trim().to_owned()),
        ..changes()
    };
    match accounts::update_me(&ctx.state, &session, &req).await {
        Ok(_) => Ok(ctx.send(Redirect::to("/settings?done=address#email"))),
        Err(AppError::Invalid { .. }) => {
            let why = ctx.texts.get("delivery.address_invalid").to_owned();
            refused(ctx, Some(why), None).await
        }
        Err(AppError::Conflict { .. }) => {
            let why = ctx.texts.get("delivery.address_taken").to_owned();
            refused(ctx, Some(why), None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /settings/email/resend`: "send the mail again".
pub async fn resend(
    WebForm { ctx, form: _ }: WebForm<super::auth::Empty>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let sent = verify::resend(&ctx.state, session.user.id).await?;
    let to = if sent {
        "/settings?done=resent#email"
    } else {
        "/settings?done=wait#email"
    };
    Ok(ctx.send(Redirect::to(to)))
}

/// `POST /settings/delivery`: how often, and which kinds (checkboxes repeat `kinds`).
pub async fn save_delivery(
    WebForm { ctx, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let chosen: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "kinds")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut kinds = serde_json::Map::new();
    for k in DeliveryKind::ALL {
        kinds.insert(k.as_str().into(), chosen.contains(&k.as_str()).into());
    }
    let mut body = serde_json::json!({ "kinds": kinds });
    if let Some((_, freq)) = form.iter().find(|(k, _)| k == "email") {
        body["email"] = freq.clone().into();
    }
    delivery::update(&ctx.state, session.user.id, &body).await?;
    Ok(ctx.send(Redirect::to("/settings?done=delivery#email")))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

/// `POST /settings/password`: the API's password change (`PATCH /api/v1/me {password}`), which
/// ends every other session of the member and keeps this one.
pub async fn change_password(
    WebForm { ctx, form }: WebForm<PasswordForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?.clone();
    let req = UpdateMe {
        password: Some(PasswordChange {
            current: form.current,
            new: form.new,
        }),
        ..changes()
    };
    match accounts::update_me(&ctx.state, &session, &req).await {
        Ok(_) => Ok(ctx.send(Redirect::to("/settings?done=password#password"))),
        Err(AppError::Invalid { fields, .. }) => {
            let key = if fields.contains("password.current") {
                "delivery.password_wrong"
            } else if super::auth::is_too_common(fields.get("password.new")) {
                "phone.password_common"
            } else {
                "delivery.password_weak"
            };
            let why = ctx.texts.get(key).to_owned();
            refused(ctx, None, Some(why)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    l: Layout,
    token: String,
    /// The link works: ask to confirm.
    valid: bool,
    done: bool,
}

/// A page that names a secret in its address must not carry it into links (the language
/// picker's return address): `here` points at the settings.
async fn verify_answer(mut ctx: Ctx, token: String, valid: bool, done: bool) -> Response {
    ctx.here = "/settings".into();
    let title = if done {
        "delivery.verify_done_title"
    } else if valid {
        "delivery.verify_title"
    } else {
        "delivery.verify_invalid_title"
    };
    let mut l = ctx.layout(ctx.texts.get(title)).await;
    l.noindex = true;
    let status = if valid || done {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let token = if valid { token } else { String::new() };
    ctx.send_status(
        status,
        VerifyPage {
            l,
            token,
            valid,
            done,
        },
    )
}

/// `GET /verify-email/{token}`: the confirm button, or why the link no longer works.
pub async fn verify_page(ctx: Ctx, Path(token): Path<String>) -> Result<Response, PageError> {
    let valid = verify::peek(&ctx.state, &token).await?;
    Ok(verify_answer(ctx, token, valid, false).await)
}

/// `POST /verify-email/{token}`: works signed in or not; the token is the proof.
pub async fn verify(
    Path(token): Path<String>,
    WebForm { ctx, form: _ }: WebForm<super::auth::Empty>,
) -> Result<Response, PageError> {
    match verify::confirm(&ctx.state, &token, None).await {
        Ok(_) => Ok(verify_answer(ctx, token, false, true).await),
        Err(AppError::Invalid { .. }) => Ok(verify_answer(ctx, token, false, false).await),
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    l: Layout,
    token: String,
    /// The question to confirm; `None` when the link does not work.
    question: Option<String>,
    /// The link turns off one kind: offer "all" beside it.
    kind_only: bool,
    /// What was turned off, in words.
    done: Option<String>,
}

fn kind_words(ctx: &Ctx, kind: DeliveryKind) -> String {
    ctx.texts
        .get(&format!("delivery.kind_{}", kind.as_str()))
        .to_owned()
}

async fn unsubscribe_answer(
    mut ctx: Ctx,
    status: StatusCode,
    token: String,
    question: Option<String>,
    kind_only: bool,
    done: Option<String>,
) -> Response {
    ctx.here = "/settings".into();
    let mut l = ctx.layout(ctx.texts.get("delivery.unsub_title")).await;
    l.noindex = true;
    ctx.send_status(
        status,
        UnsubscribePage {
            l,
            token,
            question,
            kind_only,
            done,
        },
    )
}

/// `GET /unsubscribe/{token}`: asks, changes nothing.
pub async fn unsubscribe_page(ctx: Ctx, Path(token): Path<String>) -> Result<Response, PageError> {
    let Some(kind) = unsubscribe::peek(&ctx.state, &token).await? else {
        return Ok(unsubscribe_answer(
            ctx,
            StatusCode::NOT_FOUND,
            String::new(),
            None,
            false,
            None,
        )
        .await);
    };
    let question = match kind {
        Some(k) => ctx.texts.fill(
            "delivery.unsub_intro_kind",
            &[("kind", &kind_words(&ctx, k))],
        ),
        None => ctx.texts.get("delivery.unsub_intro_all").to_owned(),
    };
    Ok(unsubscribe_answer(
        ctx,
        StatusCode::OK,
        token,
        Some(question),
        kind.is_some(),
        None,
    )
    .await)
}

/// `POST /unsubscribe/{token}`: the mail client's one-click (`List-Unsubscribe=One-Click`) or
/// the page's button; `all=1` turns every alert mail off. No session and no CSRF token: the
/// token in the address is the credential.
pub async fn unsubscribe(
    ctx: Ctx,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let all = form.iter().any(|(k, v)| k == "all" && v == "1");
    match unsubscribe::apply(&ctx.state, &token, all).await? {
        Some(kind) => {
            let done = match kind {
                Some(k) => ctx.texts.fill(
                    "delivery.unsub_done_kind",
                    &[("kind", &kind_words(&ctx, k))],
                ),
                None => ctx.texts.get("delivery.unsub_done_all").to_owned(),
            };
            Ok(
                unsubscribe_answer(ctx, StatusCode::OK, String::new(), None, false, Some(done))
                    .await,
            )
        }
        None => {
            Ok(
                unsubscribe_answer(ctx, StatusCode::NOT_FOUND, String::new(), None, false, None)
                    .await,
            )
        }
    }
}
