//! Sessions: opaque random tokens, stored only as SHA-256 hashes, revocable. The same secret
//! works as `Authorization: Bearer` and as the web session cookie; cookie-authenticated writes
//! must also carry the session's CSRF token (`X-CSRF-Token`), bearer ones need not.
//!
//! `Auth` is the extractor for handlers that need a signed-in member; `MaybeAuth` for those that
//! answer visitors too.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{User, load_roles};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::ratelimit::Limit;
use crate::store::{AsDb, now_ms};

pub const COOKIE_NAME: &str = "mutual_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused for this long ends; each use pushes the end out again.
const IDLE_LIFETIME_MS: i64 = 60 * 24 * 3600 * 1000;
/// `last_used_at` is written at most this often, so reads do not become writes.
const TOUCH_EVERY_MS: i64 = 3600 * 1000;

/// A signed-in member and the session they used.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: i64,
    pub user: User,
    pub csrf_token: String,
    pub via_cookie: bool,
    /// Content-warning kinds this member wants collapsed.
    pub content_filters: Vec<String>,
}

/// Requires a valid session: 401 otherwise.
pub struct Auth(pub Session);

/// A session if one was presented; a stale cookie counts as none, a bad bearer token is a 401.
pub struct MaybeAuth(pub Option<Session>);

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new session for `user_id`: (token to hand out once, csrf token).
pub async fn create(
    conn: &mut impl AsDb,
    user_id: i64,
    user_agent: Option<&str>,
) -> AppResult<(String, String)> {
    let token = format!("mut_{}", random_secret());
    let csrf = random_secret();
    let now = now_ms();
    let agent = user_agent.map(|s| s.chars().take(200).collect::<String>());
    db!(
        *conn,
        execute,
        "INSERT INTO sessions (user_id, token_hash, csrf_token, user_agent, created_at, last_used_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
        user_id,
        hash_token(&token),
        &csrf,
        agent,
        now,
        now + IDLE_LIFETIME_MS
    )?;
    Ok((token, csrf))
}

pub async fn revoke(state: &AppState, session_id: i64) -> AppResult<()> {
    let mut conn = state.store.write().await?;
    db!(
        conn,
        execute,
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        now_ms()
    )?;
    Ok(())
}

/// The session cookie for `token`, with the flags the configuration calls for.
pub fn cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies())
        .path("/")
        .max_age(time_duration(IDLE_LIFETIME_MS))
        .build()
}

/// A cookie that tells the browser to forget the session.
pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(state, String::new());
    c.make_removal();
    c
}

fn time_duration(ms: i64) -> cookie::time::Duration {
    cookie::time::Duration::milliseconds(ms)
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    csrf_token: String,
    last_used_at: i64,
    user_id: i64,
    username: String,
    display_name: String,
    created_at: i64,
    content_filters: String,
}

/// Looks a token up; `None` when it is unknown, revoked or expired.
async fn lookup(
    state: &AppState,
    token: &str,
) -> AppResult<Option<(SessionRow, Vec<super::types::Role>)>> {
    let now = now_ms();
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as SessionRow,
        "SELECT s.id, s.csrf_token, s.last_used_at, u.id AS user_id, u.username, u.display_name, u.created_at, u.content_filters
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        hash_token(token),
        now
    )?;
    let Some(row) = row else { return Ok(None) };
    let roles = load_roles(&mut conn, row.user_id).await?;
    drop(conn);
    if now - row.last_used_at > TOUCH_EVERY_MS {
        let mut w = state.store.write().await?;
        db!(
            w,
            execute,
            "UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1",
            row.id,
            now,
            now + IDLE_LIFETIME_MS
        )?;
    }
    Ok(Some((row, roles)))
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn session_cookie(parts: &Parts) -> Option<String> {
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(&parts.headers);
    jar.get(COOKIE_NAME)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Compares in constant time, so the CSRF token cannot be guessed byte by byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn authenticate(parts: &Parts, state: &AppState) -> AppResult<Option<Session>> {
    let (token, via_cookie) = if let Some(token) = bearer(parts) {
        (token.to_owned(), false)
    } else if let Some(token) = session_cookie(parts) {
        (token, true)
    } else if parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(AppError::Unauthorized(
            "use `Authorization: Bearer <token>`".into(),
        ));
    } else {
        return Ok(None);
    };
    let Some((row, roles)) = lookup(state, &token).await? else {
        if via_cookie {
            return Ok(None);
        }
        return Err(AppError::Unauthorized(
            "this token is not valid: it may have expired or been revoked; sign in again".into(),
        ));
    };
    let session = Session {
        id: row.id,
        csrf_token: row.csrf_token,
        via_cookie,
        content_filters: row
            .content_filters
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        user: User {
            id: row.user_id,
            username: row.username,
            display_name: row.display_name,
            roles,
            created_at: row.created_at,
        },
    };
    if via_cookie && is_write(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same_secret(sent, &session.csrf_token) {
            return Err(AppError::forbidden(
                "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header",
            ));
        }
    }
    if is_write(&parts.method) {
        state
            .limits
            .check(Limit::WritePerAccount, &session.user.id.to_string())
            .await?;
    }
    Ok(Some(session))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await? {
            Some(session) => Ok(Auth(session)),
            None => Err(AppError::Unauthorized(
                "sign in first: this needs an account".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuth(authenticate(parts, state).await?))
    }
}
