//! Verifying a member's e-mail address. Setting or changing the address stores it unverified
//! and queues a verification mail; the token in it is minted when the mail is rendered (so the
//! clear token exists only in the mail), kept as a SHA-256 hash for the address it was sent
//! to, works once, and expires after `TOKEN_SECS`. A newer mail retires the older tokens.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Delivery;
use crate::accounts::Auth;
use crate::accounts::session::{hash_token, random_secret};
use crate::accounts::types::Locale;
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::i18n;
use crate::mail::{self, Kind, Mail, render};
use crate::store::{AsDb, now_ms};

/// How long a verification link works: two days, for members who read mail now and then.
pub const TOKEN_SECS: i64 = 48 * 3600;

/// At most one verification mail a minute for a member ("send again" pressed repeatedly).
const RESEND_GAP_MS: i64 = 60 * 1000;

const INVALID_TOKEN: &str = "this link does not work any more: it was already used, it is too old, a newer one was sent, or the address changed; ask for a new one in your settings";

/// The address changed (or was removed): it is unverified, older links stop working, and a
/// verification mail is queued when there is an address. Call inside the transaction that
/// changed `users.email`.
pub async fn address_changed(
    conn: &mut impl AsDb,
    user_id: i64,
    has_address: bool,
) -> AppResult<()> {
    let now = now_ms();
    db!(
        *conn,
        execute,
        "UPDATE users SET email_verified_at = NULL WHERE id = $1",
        user_id
    )?;
    retire(conn, user_id, now).await?;
    if has_address {
        mail::enqueue(conn, user_id, Kind::EmailVerify).await?;
    }
    Ok(())
}

/// "Send again": queues a new verification mail unless the address is verified already, or one
/// was queued less than a minute ago. Whether a mail was queued.
pub async fn resend(state: &AppState, user_id: i64) -> AppResult<bool> {
    let mut tx = state.store.begin().await?;
    let (address, verified) = super::address(&mut tx, user_id).await?;
    if address.is_none() || verified {
        return Ok(false);
    }
    let recent = db!(
        tx,
        fetch_optional scalar i64,
        "SELECT id FROM mail_outbox WHERE user_id = $1 AND kind = 'email_verify' AND created_at > $2 LIMIT 1",
        user_id,
        now_ms() - RESEND_GAP_MS
    )?;
    if recent.is_some() {
        return Ok(false);
    }
    mail::enqueue(&mut tx, user_id, Kind::EmailVerify).await?;
    tx.commit().await?;
    state.mail.wake();
    Ok(true)
}

async fn retire(conn: &mut impl AsDb, user_id: i64, now: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE email_verify_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        user_id,
        now
    )?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Recipient {
    username: String,
    email: Option<String>,
    email_verified_at: Option<i64>,
    locale: String,
}

/// The verification mail with a fresh link; `None` when there is no address, or it was
/// verified meanwhile.
pub async fn compose_mail(state: &AppState, user_id: i64) -> AppResult<Option<Mail>> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let Some(who) = db!(
        tx,
        fetch_optional as Recipient,
        "SELECT username, email, email_verified_at, locale FROM users WHERE id = $1",
        user_id
    )?
    else {
        return Ok(None);
    };
    let Some(to) = who.email else { return Ok(None) };
    if who.email_verified_at.is_some() {
        return Ok(None);
    }
    let token = random_secret();
    retire(&mut tx, user_id, now).await?;
    db!(
        tx,
        execute,
        "INSERT INTO email_verify_tokens (user_id, email_key, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        user_id,
        to.to_lowercase(),
        hash_token(&token),
        now,
        now + TOKEN_SECS * 1000
    )?;
    tx.commit().await?;
    let link = format!("{}/verify-email/{token}", state.mail.base_url());
    let locale = Locale::parse(&who.locale).unwrap_or_default();
    let t = i18n::texts(locale);
    let hours = (TOKEN_SECS / 3600).to_string();
    let notice = render::Notice {
        locale,
        to: &to,
        subject: t.get("delivery.verify_subject").to_owned(),
        greeting: t.fill("mail.greeting", &[("name", &who.username)]),
        intro: vec![
            t.get("delivery.verify_why").to_owned(),
            t.fill("delivery.verify_open", &[("n", &hours)]),
        ],
        sections: Vec::new(),
        button: Some((t.get("delivery.verify_button").to_owned(), link)),
        outro: vec![t.get("delivery.verify_not_you").to_owned()],
        unsubscribe: None,
        unsubscribe_label: None,
    };
    Ok(Some(render::notice(&notice)?))
}

/// The member a live token belongs to, if it still works for their current address.
async fn live(conn: &mut impl AsDb, token: &str) -> AppResult<Option<i64>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT t.user_id FROM email_verify_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.email_key = t.email_key",
        hash_token(token),
        now_ms()
    )?)
}

/// Whether a link still works (for the web page that asks to confirm).
pub async fn peek(state: &AppState, token: &str) -> AppResult<bool> {
    let mut conn = state.store.read().await?;
    Ok(live(&mut conn, token).await?.is_some())
}

/// Verifies the address the token was sent to; the member's id. `only_for`: the signed-in
/// member, whose token it must be.
pub async fn confirm(state: &AppState, token: &str, only_for: Option<i64>) -> AppResult<i64> {
    let invalid = || AppError::invalid("token", INVALID_TOKEN);
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let user_id = live(&mut tx, token).await?.ok_or_else(invalid)?;
    if only_for.is_some_and(|me| me != user_id) {
        return Err(invalid());
    }
    // Used up in the same transaction that verifies: a second use finds nothing.
    let used = db!(
        tx,
        execute,
        "UPDATE email_verify_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        hash_token(token),
        now
    )?;
    if used != 1 {
        return Err(invalid());
    }
    db!(
        tx,
        execute,
        "UPDATE users SET email_verified_at = $2 WHERE id = $1",
        user_id,
        now
    )?;
    // Mail starts from what happens after this moment, never the backlog.
    super::restart(&mut tx, user_id).await?;
    tx.commit().await?;
    metrics::counter!("mutual_email_verified_total").increment(1);
    Ok(user_id)
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The token from the link in the mail (the last part of `/verify-email/{token}`).
    pub token: String,
}

/// Verify the caller's e-mail address with the token from the verification mail.
#[utoipa::path(post, path = "/api/v1/me/email/verify", tag = "delivery", operation_id = "verify_email",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "verified; the delivery settings", body = Delivery),
        (status = 401, body = ErrorBody),
        (status = 422, description = "the token does not work (used, too old, superseded, another address): `fields.token`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn api_verify(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<VerifyRequest>,
) -> AppResult<axum::Json<Delivery>> {
    confirm(&state, &req.token, Some(session.user.id)).await?;
    Ok(axum::Json(super::get(&state, session.user.id).await?))
}

/// Forgets tokens that can no longer be used, a day after.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let before = now_ms() - 24 * 3600 * 1000;
    let mut w = state.store.write().await?;
    Ok(db!(
        w,
        execute,
        "DELETE FROM email_verify_tokens WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)",
        before
    )?)
}
