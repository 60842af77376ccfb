//! Sessions: opaque random tokens, stored only as SHA-256 hashes, revocable. The same secret
//! works as `Authorization: Bearer` and as the web session cookie; cookie-authenticated writes
//! must also carry the session's CSRF token (`X-CSRF-Token`), bearer ones need not.
//!
//! `Auth` is the extractor for handlers that need a signed-in member; `MaybeAuth` for those that
//! answer visitors too. The web pages use `from_cookie`: a form cannot send a header, so they
//! check the CSRF token sent as a form field with `Session::csrf_matches`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::User;
use super::session_cache::{Cached, Key};
use super::types::Locale;
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
    /// The member's interface language.
    pub locale: Locale,
    /// The member's country for crisis lines; `None` means from their language.
    pub country: Option<String>,
    /// The member's text size for the web pages, in percent.
    pub text_size: i32,
    /// Moderates or organises some group: pages ask for the open cases only then. A hint, never
    /// a permission (it can lag a role taken away until the session is read again).
    pub moderates_groups: bool,
    /// The members whose words this member sees collapsed (blocked or ignored).
    pub kept_away: crate::blocks::KeptAway,
    /// A sanction that stops writing (mute, ban, suspension) was in force when the session was
    /// read; without one a write needs no sanctions query (`sanctions::check_session_can_write`).
    /// Kept sessions are forgotten whenever a member's sanctions change (`bus::deliver`).
    pub under_sanction: bool,
    /// Arrived in a group by a referral link that no post of theirs has counted yet: only then
    /// does a new post ask about referrals (the session is forgotten when that changes).
    pub referred: bool,
}

impl Session {
    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, sent: &str) -> bool {
        same_secret(sent, &self.csrf_token)
    }
}

/// Requires a valid session: 401 otherwise.
pub struct Auth(pub Session);

/// A session if one was presented; a stale cookie counts as none, a bad bearer token is a 401.
pub struct MaybeAuth(pub Option<Session>);

/// 32 random bytes, URL-safe: session tokens, CSRF tokens.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()).into())
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
    record_visit(conn, user_id, now).await?;
    Ok((token, csrf))
}

/// One row per day visited: trust levels count them.
async fn record_visit(conn: &mut impl AsDb, user_id: i64, now: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "INSERT INTO user_visits (user_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        now / (24 * 3600 * 1000)
    )?;
    Ok(())
}

/// Ends one session (signing out); its sockets close.
pub async fn revoke(state: &AppState, user_id: i64, session_id: i64) -> AppResult<()> {
    let mut conn = state.store.write().await?;
    db!(
        conn,
        execute,
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        now_ms()
    )?;
    drop(conn);
    state.realtime.session_ended(user_id, session_id);
    Ok(())
}

/// Ends every session of the member but `keep` (the one changing the password, if any): whoever
/// may have learnt the old password is signed out everywhere. In the caller's transaction: once it
/// commits, the caller tells the sockets (`Realtime::sessions_ended`).
pub async fn revoke_all(conn: &mut impl AsDb, user_id: i64, keep: Option<i64>) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        user_id,
        keep.unwrap_or(0),
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
    expires_at: i64,
    user_id: i64,
    username: String,
    display_name: String,
    created_at: i64,
    content_filters: String,
    locale: String,
    country: Option<String>,
    text_size: i32,
    // Site-wide roles, read with the session so a signed-in request costs one query.
    is_moderator: bool,
    is_organiser: bool,
    is_professional: bool,
    is_admin: bool,
    moderates_groups: bool,
    /// Blocks or ignores someone: only then is the list read (a second query).
    keeps_away: bool,
    under_sanction: bool,
    referred: bool,
}

impl SessionRow {
    /// The member's site-wide roles, `member` first (as `load_roles` gives them). The match is
    /// exhaustive so that a new role cannot be forgotten in the session query.
    fn roles(&self) -> Vec<super::types::Role> {
        use super::types::Role;
        let all = [
            Role::Member,
            Role::Moderator,
            Role::Organiser,
            Role::Professional,
            Role::Admin,
        ];
        all.into_iter()
            .filter(|role| match role {
                Role::Member => true,
                Role::Moderator => self.is_moderator,
                Role::Organiser => self.is_organiser,
                Role::Professional => self.is_professional,
                Role::Admin => self.is_admin,
            })
            .collect()
    }
}

/// Reads a token's session from the database; `None` when it is unknown, revoked or expired.
async fn lookup(state: &AppState, key: &Key, now: i64) -> AppResult<Option<Cached>> {
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as SessionRow,
        "SELECT s.id, s.csrf_token, s.last_used_at, s.expires_at, u.id AS user_id, u.username, u.display_name, u.created_at, u.content_filters,
                u.locale, u.country, u.text_size,
                EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'moderator') AS is_moderator,
                EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'organiser') AS is_organiser,
                EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'professional') AS is_professional,
                EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'admin') AS is_admin,
                EXISTS (SELECT 1 FROM community_roles c WHERE c.user_id = u.id AND c.role IN ('moderator', 'organiser')) AS moderates_groups,
                EXISTS (SELECT 1 FROM member_blocks b WHERE b.blocker_id = u.id) AS keeps_away,
                EXISTS (SELECT 1 FROM sanctions x WHERE x.user_id = u.id AND x.lifted_at IS NULL AND x.kind <> 'warning'
                        AND (x.until IS NULL OR x.until > $2)) AS under_sanction,
                EXISTS (SELECT 1 FROM referral_arrivals a WHERE a.user_id = u.id) AS referred
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        hex(key),
        now
    )?;
    let kept_away = match &row {
        Some(r) if r.keeps_away => {
            crate::blocks::KeptAway::new(crate::blocks::hidden_for(&mut conn, r.user_id).await?)
        }
        _ => crate::blocks::KeptAway::default(),
    };
    drop(conn);
    let Some(row) = row else { return Ok(None) };
    let roles = row.roles();
    Ok(Some(Cached {
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        session: Session {
            id: row.id,
            csrf_token: row.csrf_token,
            via_cookie: false,
            content_filters: row
                .content_filters
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            locale: Locale::parse(&row.locale).unwrap_or_default(),
            country: row.country,
            text_size: row.text_size,
            moderates_groups: row.moderates_groups,
            kept_away,
            under_sanction: row.under_sanction,
            referred: row.referred,
            user: User {
                id: row.user_id,
                username: row.username,
                display_name: row.display_name,
                roles,
                created_at: row.created_at,
            },
        },
    }))
}

/// Records a use: `last_used_at`, the idle expiry, and the day's visit.
async fn touch(state: &AppState, session_id: i64, user_id: i64, now: i64) -> AppResult<()> {
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1",
        session_id,
        now,
        now + IDLE_LIFETIME_MS
    )?;
    record_visit(&mut w, user_id, now).await
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(headers);
    jar.get(COOKIE_NAME)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Compares in constant time, so a CSRF token cannot be guessed byte by byte.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The live session of `token`, if any: from the session cache when it holds it (no database
/// round trip), else from the database (and then kept). While the bus to other nodes is down the
/// cache is not used: a revocation on another node could not reach it.
async fn open(state: &AppState, token: &str, via_cookie: bool) -> AppResult<Option<Session>> {
    let key: Key = Sha256::digest(token.as_bytes()).into();
    let now = now_ms();
    let cache = &state.sessions;
    let use_cache = state.config.session_cache && state.realtime.bus_connected();
    let hit = if use_cache {
        cache.get(&key, now)
    } else {
        None
    };
    let cached = match hit {
        Some(c) => c,
        None => {
            let epoch = cache.epoch();
            let Some(c) = lookup(state, &key, now).await? else {
                return Ok(None);
            };
            if use_cache {
                metrics::counter!("mutual_session_cache_misses_total").increment(1);
                cache.store(key, c.clone(), epoch);
            }
            c
        }
    };
    // At most one write per TOUCH_EVERY_MS per session, from the cached `last_used_at`.
    if now - cached.last_used_at > TOUCH_EVERY_MS
        && cache.touch(&key, cached.last_used_at, now, now + IDLE_LIFETIME_MS)
    {
        touch(state, cached.session.id, cached.session.user.id, now).await?;
    }
    let mut session = cached.session;
    session.via_cookie = via_cookie;
    Ok(Some(session))
}

/// Writes count against the member's write limit, whichever way they authenticate.
async fn limit_writes(state: &AppState, method: &Method, session: &Session) -> AppResult<()> {
    if is_write(method) {
        state
            .limits
            .check(Limit::WritePerAccount, &session.user.id.to_string())
            .await?;
    }
    Ok(())
}

async fn authenticate(parts: &Parts, state: &AppState) -> AppResult<Option<Session>> {
    let (token, via_cookie) = if let Some(token) = bearer(parts) {
        (token.to_owned(), false)
    } else if let Some(token) = session_cookie(&parts.headers) {
        (token, true)
    } else if parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(AppError::Unauthorized(
            "use `Authorization: Bearer <token>`".into(),
        ));
    } else {
        return Ok(None);
    };
    let Some(session) = open(state, &token, via_cookie).await? else {
        if via_cookie {
            return Ok(None);
        }
        return Err(AppError::Unauthorized(
            "this token is not valid: it may have expired or been revoked; sign in again".into(),
        ));
    };
    if via_cookie && is_write(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session.csrf_matches(sent) {
            return Err(AppError::forbidden(
                "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header",
            ));
        }
    }
    limit_writes(state, &parts.method, &session).await?;
    Ok(Some(session))
}

/// The session of the `mutual_session` cookie, for the web pages; a stale cookie counts as none.
/// It does not check CSRF: the caller must compare the form's token with
/// [`Session::csrf_matches`] before acting on a write.
pub async fn from_cookie(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> AppResult<Option<Session>> {
    let Some(token) = session_cookie(headers) else {
        return Ok(None);
    };
    let session = open(state, &token, true).await?;
    if let Some(s) = &session {
        limit_writes(state, method, s).await?;
    }
    Ok(session)
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
