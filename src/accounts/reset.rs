//! Password reset by e-mail, telling nobody whether an account exists.
//!
//! `POST /api/v1/auth/password-reset` answers 202 with the same body for any login. Its work
//! is the same for every login too: two rate-limit checks and one INSERT of what was typed
//! into `password_reset_requests` — no look-up, no hashing, no mail on the request path. The
//! mail worker then resolves each request: a matching account with an e-mail address gets a
//! mail in the outbox; anything else is simply dropped.
//!
//! The reset token is minted when its mail is rendered (so the clear token exists only in the
//! mail), kept as a SHA-256 hash, works once, expires after `MUTUAL_RESET_TOKEN_SECS`
//! (30 minutes), and a newer one supersedes every older one. Confirming sets the password
//! (the rules of registration), signs the member out everywhere and opens a fresh session.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session::{self, hash_token, random_secret};
use super::types::{Locale, Password};
use super::{AuthResponse, load_user, password, user_agent};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{ClientIp, Json};
use crate::mail::{self, Kind, Mail};
use crate::ratelimit::Limit;
use crate::store::{AsDb, now_ms};

/// What is said to everyone who asks, whoever they are.
pub const ACCEPTED_MESSAGE: &str = "If this matches an account that has an e-mail address, we are sending it a link to choose a new password. Check your mail in a few minutes.";

const INVALID_TOKEN: &str = "this link does not work any more: it was already used, it is too old, or a newer one was sent; please ask for a new one";

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The username or the e-mail address of the account.
    pub login: String,
}

#[derive(Serialize, ToSchema)]
pub struct ResetAccepted {
    /// Always the same text, whether or not an account matched.
    pub message: String,
}

/// The lower-cased form look-ups and rate limits use; 422 for nothing or far too much.
fn login_key(raw: &str) -> AppResult<String> {
    let login = raw.trim();
    if login.is_empty() {
        return Err(AppError::invalid(
            "login",
            "write your username or your e-mail address",
        ));
    }
    if login.chars().count() > 254 || login.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "login",
            "this is not a username or an e-mail address",
        ));
    }
    Ok(login.to_lowercase())
}

/// Records a reset request; the same answer and the same work for every login.
pub async fn request(state: &AppState, ip: IpAddr, login: &str) -> AppResult<ResetAccepted> {
    let key = login_key(login)?;
    state
        .limits
        .check(Limit::ResetPerIp, &ip.to_string())
        .await?;
    // Hashed: the rate limiter (memory or Redis) never holds the address someone typed.
    state
        .limits
        .check(Limit::ResetPerLogin, &hash_token(&key))
        .await?;
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO password_reset_requests (login_key, requested_at) VALUES ($1, $2)",
        &key,
        now_ms()
    )?;
    drop(w);
    state.mail.wake();
    metrics::counter!("mutual_password_reset_requests_total").increment(1);
    Ok(ResetAccepted {
        message: ACCEPTED_MESSAGE.into(),
    })
}

/// Turns waiting requests into mails for the accounts they name; the number queued. Each
/// request is deleted in the transaction that queues its mail, so it is handled once, by one
/// node, and what was typed does not outlive it.
pub async fn take_requests(state: &AppState) -> AppResult<usize> {
    // Looked at on a reader first: an idle node must not take SQLite's one writer every poll.
    let waiting = {
        let mut conn = state.store.read().await?;
        db!(conn, fetch_optional scalar i64, "SELECT id FROM password_reset_requests LIMIT 1")?
    };
    if waiting.is_none() {
        return Ok(0);
    }
    let mut tx = state.store.begin().await?;
    let taken = db!(
        tx,
        fetch_all as (i64, String),
        "DELETE FROM password_reset_requests
         WHERE id IN (SELECT id FROM password_reset_requests ORDER BY id LIMIT 100)
         RETURNING id, login_key"
    )?;
    let mut queued = 0;
    for (_, key) in &taken {
        // A username never holds `@` and an address always does: at most one account matches.
        let user = db!(
            tx,
            fetch_optional scalar i64,
            "SELECT id FROM users WHERE (username_key = $1 OR email_key = $1) AND email IS NOT NULL",
            key
        )?;
        if let Some(user_id) = user {
            mail::enqueue(&mut tx, user_id, Kind::PasswordReset).await?;
            queued += 1;
        }
    }
    tx.commit().await?;
    Ok(queued)
}

#[derive(sqlx::FromRow)]
struct Recipient {
    username: String,
    email: Option<String>,
    locale: String,
}

/// The reset mail for the member, with a newly minted link that supersedes every older one;
/// `None` when they have no address any more.
pub async fn compose_mail(state: &AppState, user_id: i64) -> AppResult<Option<Mail>> {
    let now = now_ms();
    let ttl_secs = state.config.reset_token_secs;
    let mut tx = state.store.begin().await?;
    let Some(who) = db!(
        tx,
        fetch_optional as Recipient,
        "SELECT username, email, locale FROM users WHERE id = $1",
        user_id
    )?
    else {
        return Ok(None);
    };
    let Some(to) = who.email else { return Ok(None) };
    let token = random_secret();
    retire_tokens(&mut tx, user_id, now).await?;
    db!(
        tx,
        execute,
        "INSERT INTO password_reset_tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        user_id,
        hash_token(&token),
        now,
        now + (ttl_secs as i64) * 1000
    )?;
    tx.commit().await?;
    let link = format!("{}/password-reset/{token}", state.mail.base_url());
    let minutes = ttl_secs.div_ceil(60);
    let locale = Locale::parse(&who.locale).unwrap_or_default();
    Ok(Some(mail::render::password_reset(
        locale,
        &to,
        &who.username,
        &link,
        minutes,
    )?))
}

/// The member a live token belongs to (their id and username), without using it up.
async fn live_token(conn: &mut impl AsDb, token: &str) -> AppResult<Option<(i64, String)>> {
    Ok(db!(
        *conn,
        fetch_optional as (i64, String),
        "SELECT u.id, u.username FROM password_reset_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2",
        hash_token(token),
        now_ms()
    )?)
}

/// The username a reset link is for, if the link still works (for the web form).
pub async fn peek(state: &AppState, token: &str) -> AppResult<Option<String>> {
    if token.len() > 100 {
        return Ok(None);
    }
    let mut conn = state.store.read().await?;
    Ok(live_token(&mut conn, token).await?.map(|(_, name)| name))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirm {
    /// The token from the link in the mail (the last part of `/password-reset/{token}`).
    pub token: String,
    /// The new password: at least 10 characters, not a common one.
    pub password: String,
}

fn invalid_token() -> AppError {
    AppError::invalid("token", INVALID_TOKEN)
}

/// Sets the new password if the token still works; signs the member out everywhere else and
/// in here.
pub async fn confirm(
    state: &AppState,
    ip: IpAddr,
    user_agent: Option<&str>,
    req: &ResetConfirm,
) -> AppResult<AuthResponse> {
    state
        .limits
        .check(Limit::LoginPerIp, &ip.to_string())
        .await?;
    if req.token.len() > 100 {
        return Err(invalid_token());
    }
    let (user_id, username) = {
        let mut conn = state.store.read().await?;
        live_token(&mut conn, &req.token)
            .await?
            .ok_or_else(invalid_token)?
    };
    let new = Password::parse(&req.password, &[username.as_str(), "mutual"])
        .map_err(|e| AppError::invalid("password", e))?;
    let hash = password::hash(&new).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // Used up here, in the same transaction as the change: a second use finds nothing.
    let used = db!(
        tx,
        execute,
        "UPDATE password_reset_tokens SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        hash_token(&req.token),
        now
    )?;
    if used != 1 {
        return Err(invalid_token());
    }
    retire_tokens(&mut tx, user_id, now).await?;
    db!(
        tx,
        execute,
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        user_id,
        hash,
        now
    )?;
    session::revoke_all(&mut tx, user_id, None).await?;
    let (token, csrf_token) = session::create(&mut tx, user_id, user_agent).await?;
    tx.commit().await?;
    // Every older session ended: their sockets check theirs and close (the new one has none).
    state.realtime.sessions_ended(user_id, None);
    // Whoever was locked out by wrong guesses may sign in with the new password at once.
    state
        .limits
        .clear_login_failures(&username.to_ascii_lowercase())
        .await;
    metrics::counter!("mutual_password_resets_total").increment(1);
    tracing::info!(user = user_id, "password reset through an e-mailed link");
    let user = {
        let mut conn = state.store.read().await?;
        load_user(&mut conn, user_id).await?
    };
    Ok(AuthResponse {
        user,
        token,
        csrf_token,
    })
}

/// Drops the member's reset requests still waiting (at erasure: they name the member by what
/// was typed, not by a foreign key).
pub async fn forget_requests(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "DELETE FROM password_reset_requests WHERE login_key IN
           (SELECT username_key FROM users WHERE id = $1
            UNION SELECT email_key FROM users WHERE id = $1 AND email_key IS NOT NULL)",
        user_id
    )?;
    Ok(())
}

/// Forgets tokens that can no longer be used, a day after.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let before = now_ms() - 24 * 3600 * 1000;
    let mut w = state.store.write().await?;
    Ok(db!(
        w,
        execute,
        "DELETE FROM password_reset_tokens WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)",
        before
    )?)
}

/// Ask for a link to choose a new password. The answer is the same whether or not an account
/// matches, and whether or not it has an e-mail address.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", operation_id = "request_password_reset",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "accepted; a mail goes out if an account with an e-mail address matches", body = ResetAccepted),
        (status = 422, description = "no login given", body = ErrorBody),
        (status = 429, description = "too many requests from this address or for this login", body = ErrorBody),
    ))]
pub async fn api_request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<ResetRequest>,
) -> AppResult<impl IntoResponse> {
    let answer = request(&state, ip, &req.login).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(answer)))
}

/// Choose a new password with the token from the mail: every session ends, and a new one
/// starts (a bearer token in the answer, and the session cookie).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", operation_id = "confirm_password_reset",
    request_body = ResetConfirm,
    responses(
        (status = 200, description = "password changed and signed in", body = AuthResponse),
        (status = 422, description = "the token does not work (used, too old, superseded or unknown: `fields.token`), or the password is too weak (`fields.password`)", body = ErrorBody),
        (status = 429, description = "too many attempts from this address", body = ErrorBody),
    ))]
pub async fn api_confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<ResetConfirm>,
) -> AppResult<impl IntoResponse> {
    let answer = confirm(&state, ip, user_agent(&headers), &req).await?;
    let jar = jar.add(session::cookie(&state, answer.token.clone()));
    Ok((jar, axum::Json(answer)))
}

/// Ends every unused reset link of the member (a newer one, or the password just changed).
async fn retire_tokens(tx: &mut impl AsDb, user_id: i64, now: i64) -> AppResult<()> {
    db!(
        *tx,
        execute,
        "UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        user_id,
        now
    )?;
    Ok(())
}
