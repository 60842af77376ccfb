//! Accounts: registration, sign-in and sign-out, the caller's own account, public profiles, and
//! the shell commands that create accounts (`mutual admin ...`).

pub mod cli;
pub mod consent;
pub mod password;
pub mod privacy;
pub mod reset;
pub mod session;
pub mod session_cache;
pub mod types;

use std::net::IpAddr;

use crate::http::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::clock::Zone;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::{ClientIp, Json};
use crate::moderation::crisis;
use crate::ratelimit::Limit;
use crate::store::{AsDb, format_ms, now_ms};
pub use session::{Auth, MaybeAuth, Session};
use types::{DisplayName, Email, Locale, Password, Role, Username};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_register))
        .routes(routes!(api_login))
        .routes(routes!(api_logout))
        .routes(routes!(api_me, api_update_me, privacy::api_erase))
        .routes(routes!(privacy::api_export))
        .routes(routes!(api_profile))
        .routes(routes!(consent::api_notice))
        .routes(routes!(consent::api_mine, consent::api_give))
        .routes(routes!(consent::api_withdraw))
        .routes(routes!(reset::api_request))
        .routes(routes!(reset::api_confirm))
}

/// A member as others see them (API.md `user`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// Site-wide roles; always includes `member`.
    pub roles: Vec<Role>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl User {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }
}

pub fn serialize_time<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_ms(*ms))
}

/// An optional instant as RFC 3339, or null.
pub fn serialize_opt_time<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&format_ms(*ms)),
        None => s.serialize_none(),
    }
}

/// Instants as a list of RFC 3339 strings.
pub fn serialize_times<S: Serializer>(ms: &[i64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ms.iter().map(|t| format_ms(*t)))
}

/// Site-wide roles of a member, `member` first.
pub async fn load_roles(conn: &mut impl AsDb, user_id: i64) -> AppResult<Vec<Role>> {
    let names = db!(*conn, fetch_all scalar String, "SELECT role FROM user_roles WHERE user_id = $1", user_id)?;
    let mut roles = vec![Role::Member];
    roles.extend(names.iter().filter_map(|n| Role::parse(n).ok()));
    roles.sort();
    roles.dedup();
    Ok(roles)
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    created_at: i64,
}

/// Looks a member up by username, ignoring case.
pub async fn find_by_username(conn: &mut impl AsDb, username: &str) -> AppResult<Option<User>> {
    let Ok(name) = Username::parse(username) else {
        return Ok(None);
    };
    let row = db!(
        *conn,
        fetch_optional as UserRow,
        "SELECT id, username, display_name, created_at FROM users WHERE username_key = $1",
        name.key()
    )?;
    let Some(row) = row else { return Ok(None) };
    let roles = load_roles(conn, row.id).await?;
    Ok(Some(User {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        roles,
        created_at: row.created_at,
    }))
}

/// A validated new account, ready to insert.
pub struct NewAccount {
    pub username: Username,
    pub display_name: String,
    pub email: Option<Email>,
    pub locale: Locale,
    /// For crisis lines; `None` follows the language.
    pub country: Option<String>,
    /// Where the member's days and hours fall.
    pub timezone: Zone,
    pub password_hash: String,
}

/// Inserts an account; 409 when the username or e-mail is taken. `ON CONFLICT DO NOTHING`
/// rather than catching the violation, because on PostgreSQL an error aborts the transaction.
pub async fn insert_account(conn: &mut impl AsDb, account: &NewAccount) -> AppResult<i64> {
    let now = now_ms();
    let id = db!(
        *conn,
        fetch_optional scalar i64,
        "INSERT INTO users (username, username_key, display_name, email, email_key, password_hash, locale, country, timezone, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10, $8, $8) ON CONFLICT DO NOTHING RETURNING id",
        account.username.as_str(),
        account.username.key(),
        &account.display_name,
        account.email.as_ref().map(|e| e.as_str().to_owned()),
        account.email.as_ref().map(Email::key),
        &account.password_hash,
        account.locale.as_str(),
        now,
        account.country.clone(),
        account.timezone.name()
    )?;
    if let Some(id) = id {
        return Ok(id);
    }
    let taken_name = db!(*conn, fetch_optional scalar i64, "SELECT id FROM users WHERE username_key = $1", account.username.key())?;
    if taken_name.is_some() {
        Err(AppError::conflict(
            "username_taken",
            "that username is taken; please choose another",
        ))
    } else {
        Err(AppError::conflict(
            "email_taken",
            "an account already uses that e-mail address",
        ))
    }
}

pub async fn grant_role(
    conn: &mut impl AsDb,
    user_id: i64,
    role: Role,
    granted_by: Option<i64>,
) -> AppResult<()> {
    if role == Role::Member {
        return Ok(());
    }
    db!(
        *conn,
        execute,
        "INSERT INTO user_roles (user_id, role, granted_by, granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        user_id,
        role.as_str(),
        granted_by,
        now_ms()
    )?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–30 letters a–z, digits, `_` or `-`; unique ignoring case.
    pub username: String,
    /// At least 10 characters, not a common password.
    pub password: String,
    /// Shown to others instead of the username (1–50 characters).
    pub display_name: Option<String>,
    /// Only for account recovery; never shown.
    pub email: Option<String>,
    /// `en`, `es` or `hi` (a tag like `es-MX` is accepted).
    pub locale: Option<String>,
    /// The country whose crisis lines come first: an ISO code among those with lines
    /// (`GET /api/v1/help/lines`), or absent to follow the language (en → US, es → MX, hi → IN).
    pub country: Option<String>,
    /// The member's IANA time zone ("America/Mexico_City"), as the browser reports it
    /// (`Intl.DateTimeFormat().resolvedOptions().timeZone`); absent means UTC. An unknown name
    /// is refused (422, field `timezone`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Optional and separate: consent to hold health data, naming the version of the notice
    /// read (`GET /api/v1/consent/health-data`). Without it the account works, and health data
    /// (readings, goals, milestone numbers, condition groups) is refused until it is given.
    #[serde(default)]
    pub health_data_consent: Option<consent::ConsentGrant>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: User,
    /// The bearer token; also set as the session cookie. Shown once.
    pub token: String,
    /// Send in `X-CSRF-Token` with writes that rely on the cookie.
    pub csrf_token: String,
}

/// Checks a registration and hashes its password, or names every bad field.
async fn validate_registration(req: &RegisterRequest) -> AppResult<NewAccount> {
    let mut fields = FieldErrors::new();
    let mut bad = |field: &str, why: String| fields.push(field, why);
    let username = Username::parse(&req.username)
        .map_err(|e| bad("username", e))
        .ok();
    if username.as_ref().is_some_and(Username::is_reserved) {
        bad(
            "username",
            "that username is reserved; please choose another".into(),
        );
    }
    let context: Vec<&str> = vec![req.username.as_str(), "mutual"];
    let password = Password::parse(&req.password, &context)
        .map_err(|e| bad("password", e))
        .ok();
    let display_name = match req.display_name.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => DisplayName::parse(raw)
            .map_err(|e| bad("display_name", e))
            .ok()
            .map(DisplayName::into_string),
        None => username.as_ref().map(|u| u.as_str().to_owned()),
    };
    let email = match req.email.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => Email::parse(raw).map_err(|e| bad("email", e)).ok(),
        None => None,
    };
    let locale = match req.locale.as_deref() {
        Some(raw) => Locale::parse(raw)
            .map_err(|e| bad("locale", e))
            .unwrap_or_default(),
        None => Locale::default(),
    };
    let country = crisis::parse_country(req.country.as_deref().unwrap_or(""))
        .map_err(|e| bad("country", e))
        .unwrap_or_default();
    let timezone = match req.timezone.as_deref().filter(|z| !z.trim().is_empty()) {
        Some(raw) => Zone::parse(raw)
            .map_err(|e| bad("timezone", e))
            .unwrap_or(Zone::UTC),
        None => Zone::UTC,
    };
    match (username, password, display_name) {
        (Some(username), Some(password), Some(display_name)) if fields.is_empty() => {
            Ok(NewAccount {
                username,
                display_name,
                email,
                locale,
                country,
                timezone,
                password_hash: password::hash(&password).await?,
            })
        }
        _ => Err(fields.into_error()),
    }
}

pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// Creates an account and signs it in: the new session's token (for the cookie) and CSRF token.
pub async fn register(
    state: &AppState,
    ip: IpAddr,
    user_agent: Option<&str>,
    req: &RegisterRequest,
) -> AppResult<AuthResponse> {
    state
        .limits
        .check(Limit::RegisterPerIp, &ip.to_string())
        .await?;
    let account = validate_registration(req).await?;
    let notice = req
        .health_data_consent
        .as_ref()
        .map(|grant| consent::check_grant(grant, account.locale))
        .transpose()?;
    let mut tx = state.store.begin().await?;
    let id = insert_account(&mut tx, &account).await?;
    if let Some(notice) = notice {
        consent::record(&mut tx, id, notice, consent::Source::Registration).await?;
    }
    // An address given at sign-up is verified like one added later: a link is mailed to it.
    if account.email.is_some() {
        crate::delivery::verify::address_changed(&mut tx, id, true).await?;
    }
    let (token, csrf_token) = session::create(&mut tx, id, user_agent).await?;
    let roles = load_roles(&mut tx, id).await?;
    tx.commit().await?;
    if account.email.is_some() {
        state.mail.wake();
    }
    metrics::counter!("mutual_accounts_registered_total").increment(1);
    let user = User {
        id,
        username: account.username.as_str().to_owned(),
        display_name: account.display_name,
        roles,
        created_at: now_ms(),
    };
    Ok(AuthResponse {
        user,
        token,
        csrf_token,
    })
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "account created and signed in", body = AuthResponse),
        (status = 409, description = "username or e-mail taken; or `consent_version_outdated`", body = ErrorBody),
        (status = 422, description = "invalid fields", body = ErrorBody),
        (status = 429, description = "too many accounts from this address", body = ErrorBody),
    ))]
async fn api_register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    let answer = register(&state, ip, user_agent(&headers), &req).await?;
    let jar = jar.add(session::cookie(&state, answer.token.clone()));
    Ok((StatusCode::CREATED, jar, axum::Json(answer)))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: i64,
    password_hash: String,
}

/// Checks a username and password and opens a session (throttled per address and per account).
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    user_agent: Option<&str>,
    req: &LoginRequest,
) -> AppResult<AuthResponse> {
    state
        .limits
        .check(Limit::LoginPerIp, &ip.to_string())
        .await?;
    let key = req.username.trim().to_ascii_lowercase();
    state.limits.check_login_allowed(&key).await?;
    let row = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_optional as CredentialRow,
            "SELECT id, password_hash FROM users WHERE username_key = $1",
            &key
        )?
    };
    let id = row.as_ref().map(|r| r.id);
    if !password::verify(&req.password, row.map(|r| r.password_hash)).await {
        state.limits.record_login_failure(&key).await;
        metrics::counter!("mutual_login_failures_total").increment(1);
        return Err(AppError::Unauthorized("wrong username or password".into()));
    }
    let id = id.ok_or(AppError::Unauthorized("wrong username or password".into()))?;
    state.limits.clear_login_failures(&key).await;
    let mut tx = state.store.begin().await?;
    let (token, csrf_token) = session::create(&mut tx, id, user_agent).await?;
    tx.commit().await?;
    let user = {
        let mut conn = state.store.read().await?;
        load_user(&mut conn, id).await?
    };
    Ok(AuthResponse {
        user,
        token,
        csrf_token,
    })
}

/// Sign in: a bearer token in the answer, and the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "signed in", body = AuthResponse),
        (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 429, description = "too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn api_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> AppResult<impl IntoResponse> {
    let answer = login(&state, ip, user_agent(&headers), &req).await?;
    let jar = jar.add(session::cookie(&state, answer.token.clone()));
    Ok((jar, axum::Json(answer)))
}

/// Sign out: the token (and cookie) stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", operation_id = "logout",
    responses(
        (status = 204, description = "signed out"),
        (status = 401, description = "not signed in", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn api_logout(
    State(state): State<AppState>,
    Auth(session): Auth,
    jar: CookieJar,
) -> AppResult<impl IntoResponse> {
    session::revoke(&state, session.user.id, session.id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        jar.add(session::removal_cookie(&state)),
    ))
}

pub async fn load_user(conn: &mut impl AsDb, id: i64) -> AppResult<User> {
    let row = db!(
        *conn,
        fetch_optional as UserRow,
        "SELECT id, username, display_name, created_at FROM users WHERE id = $1",
        id
    )?
    .ok_or(AppError::NotFound)?;
    let roles = load_roles(conn, id).await?;
    Ok(User {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        roles,
        created_at: row.created_at,
    })
}

/// The caller's own account, with what only they see.
#[derive(Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    pub bio: String,
    pub email: Option<String>,
    pub locale: Locale,
    /// The country whose crisis lines the member sees first: their choice, else their
    /// language's usual country (en → US, es → MX, hi → IN).
    pub country: String,
    /// Whether `country` is the member's own choice rather than the language's default.
    pub country_chosen: bool,
    /// Content-warning kinds shown collapsed to this member.
    pub content_filters: Vec<String>,
    /// Hidden from member lists and "who's online".
    pub hide_presence: bool,
    /// Who may start a conversation with the member: `nobody`, `circles` (people in their peer
    /// circles) or `groups` (members of their groups at trust level 1 or more; the default).
    pub who_can_message: crate::conversations::WhoCanMessage,
    /// Text size on the web pages, in percent: 100, 125, 150 or 200.
    pub text_size: i32,
    /// IANA time zone: reminders and anniversaries arrive on the member's own day.
    pub timezone: String,
    /// Leads or co-leads a peer circle (the peer leader badge; shown to the member themself and
    /// as `role` in the circle's member list, not on the public profile, which would say where
    /// they belong).
    pub peer_leader: bool,
    /// The token to send in `X-CSRF-Token` with cookie-authenticated writes.
    pub csrf_token: String,
}

#[derive(sqlx::FromRow)]
struct PrivateRow {
    bio: String,
    email: Option<String>,
    locale: String,
    country: Option<String>,
    content_filters: String,
    hide_presence: bool,
    text_size: i32,
    timezone: String,
    who_can_message: String,
}

/// The member's own account, settings included.
pub async fn load_me(state: &AppState, session: &Session) -> AppResult<Me> {
    let mut conn = state.store.read().await?;
    let user = load_user(&mut conn, session.user.id).await?;
    let user_id = user.id;
    let row = db!(
        conn,
        fetch_one as PrivateRow,
        "SELECT bio, email, locale, country, content_filters, hide_presence, text_size, timezone, who_can_message FROM users WHERE id = $1",
        user.id
    )?;
    let locale = Locale::parse(&row.locale).unwrap_or_default();
    Ok(Me {
        user,
        bio: row.bio,
        email: row.email,
        locale,
        country_chosen: row.country.is_some(),
        country: row
            .country
            .unwrap_or_else(|| crisis::default_country(locale).to_owned()),
        content_filters: row
            .content_filters
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        hide_presence: row.hide_presence,
        who_can_message: crate::conversations::WhoCanMessage::parse(&row.who_can_message)
            .unwrap_or_default(),
        text_size: row.text_size,
        timezone: row.timezone,
        peer_leader: crate::circles::leads_any(&mut conn, user_id).await?,
        csrf_token: session.csrf_token.clone(),
    })
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", operation_id = "me",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_me(State(state): State<AppState>, Auth(session): Auth) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(load_me(&state, &session).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMe {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    /// An address, or `""` to remove it.
    pub email: Option<String>,
    pub locale: Option<String>,
    /// An ISO code among the countries with crisis lines, or `""` to follow the language.
    pub country: Option<String>,
    /// Publish a bio that seems to hold personal details (e-mail, phone, ID number); without
    /// it such a bio is refused with 422 `identifiers`.
    #[serde(default)]
    pub confirm_identifiers: bool,
    /// Changing the password signs out every other session.
    pub password: Option<PasswordChange>,
    /// Content-warning kinds to show collapsed: weight, photos, self_harm, food, other.
    pub content_filters: Option<Vec<String>>,
    /// Leave me out of member lists and "who's online".
    pub hide_presence: Option<bool>,
    /// Who may start a conversation with me: `nobody`, `circles` or `groups`.
    #[serde(default)]
    pub who_can_message: Option<String>,
    /// Text size on the web pages, in percent: 100, 125, 150 or 200.
    pub text_size: Option<i32>,
    /// IANA time zone, e.g. America/Mexico_City.
    pub timezone: Option<String>,
}

/// The text sizes offered (WCAG 1.4.4: up to 200 % without losing content).
pub const TEXT_SIZES: [i32; 4] = [100, 125, 150, 200];

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// Change the caller's display name, bio, e-mail, language or password.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", operation_id = "update_me",
    request_body = UpdateMe,
    responses((status = 200, body = Me), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update_me(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<UpdateMe>,
) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(update_me(&state, &session, &req).await?))
}

/// Applies the changes the member asked for, all or none; names every bad field at once.
pub async fn update_me(state: &AppState, session: &Session, req: &UpdateMe) -> AppResult<Me> {
    let mut fields = FieldErrors::new();
    let mut bad = |field: &str, why: String| fields.push(field, why);
    let display_name = req.display_name.as_deref().and_then(|s| {
        DisplayName::parse(s)
            .map_err(|e| bad("display_name", e))
            .ok()
    });
    let bio = req.bio.as_deref().map(str::trim).filter(|b| {
        let ok = b.chars().count() <= 500;
        if !ok {
            bad("bio", "a bio has at most 500 characters".into());
        }
        ok
    });
    let email = match req.email.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(raw) => Email::parse(raw)
            .map_err(|e| bad("email", e))
            .ok()
            .map(Some),
        None => None,
    };
    let locale = req
        .locale
        .as_deref()
        .and_then(|raw| Locale::parse(raw).map_err(|e| bad("locale", e)).ok());
    let country = req.country.as_deref().and_then(|raw| {
        crisis::parse_country(raw)
            .map_err(|e| bad("country", e))
            .ok()
    });
    let new_password = match &req.password {
        Some(change) => Password::parse(&change.new, &[session.user.username.as_str(), "mutual"])
            .map_err(|e| bad("password.new", e))
            .ok(),
        None => None,
    };
    let filters = req.content_filters.as_ref().map(|list| {
        let mut kinds: Vec<&str> = Vec::new();
        for raw in list {
            match crate::forum::types::ContentWarning::parse(raw) {
                Ok(w) if !kinds.contains(&w.as_str()) => kinds.push(w.as_str()),
                Ok(_) => {}
                Err(e) => bad("content_filters", e),
            }
        }
        kinds.join(",")
    });
    let timezone = req.timezone.as_deref().and_then(|raw| {
        crate::clock::Zone::parse(raw)
            .map_err(|e| bad("timezone", e))
            .ok()
    });
    if let Some(size) = req.text_size
        && !TEXT_SIZES.contains(&size)
    {
        fields.push("text_size", "a text size is 100, 125, 150 or 200");
    }
    let who_can_message = match req.who_can_message.as_deref() {
        Some(raw) => match crate::conversations::WhoCanMessage::parse(raw) {
            Some(who) => Some(who),
            None => {
                fields.push("who_can_message", "nobody, circles or groups");
                None
            }
        },
        None => None,
    };
    fields.into_result()?;
    if let Some(bio) = bio {
        crate::publish::screen::check_identifiers(bio, req.confirm_identifiers)?;
    }
    let new_hash = match (&req.password, new_password) {
        (Some(change), Some(new)) => {
            let current = {
                let mut conn = state.store.read().await?;
                db!(conn, fetch_one scalar String, "SELECT password_hash FROM users WHERE id = $1", session.user.id)?
            };
            if !password::verify(&change.current, Some(current)).await {
                return Err(AppError::invalid(
                    "password.current",
                    "the current password is wrong",
                ));
            }
            Some(password::hash(&new).await?)
        }
        _ => None,
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if let Some(name) = display_name {
        db!(
            tx,
            execute,
            "UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            name.into_string(),
            now
        )?;
    }
    if let Some(bio) = bio {
        db!(
            tx,
            execute,
            "UPDATE users SET bio = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            bio,
            now
        )?;
    }
    let mut mail_queued = false;
    if let Some(email) = email {
        let before = db!(tx, fetch_one scalar Option<String>, "SELECT email FROM users WHERE id = $1", session.user.id)?;
        let result = db!(
            tx,
            execute,
            "UPDATE users SET email = $2, email_key = $3, updated_at = $4 WHERE id = $1",
            session.user.id,
            email.as_ref().map(|e| e.as_str().to_owned()),
            email.as_ref().map(Email::key),
            now
        );
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AppError::conflict(
                    "email_taken",
                    "an account already uses that e-mail address",
                ));
            }
            other => other?,
        };
        // A new address (not the same one retyped) is unverified until its owner follows the
        // link mailed to it.
        if before.as_deref() != email.as_ref().map(Email::as_str) {
            crate::delivery::verify::address_changed(&mut tx, session.user.id, email.is_some())
                .await?;
            mail_queued = email.is_some();
        }
    }
    if let Some(locale) = locale {
        db!(
            tx,
            execute,
            "UPDATE users SET locale = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            locale.as_str(),
            now
        )?;
    }
    if let Some(country) = country {
        db!(
            tx,
            execute,
            "UPDATE users SET country = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            country,
            now
        )?;
    }
    if let Some(filters) = filters {
        db!(
            tx,
            execute,
            "UPDATE users SET content_filters = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            filters,
            now
        )?;
    }
    if let Some(who) = who_can_message {
        db!(
            tx,
            execute,
            "UPDATE users SET who_can_message = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            who.as_str(),
            now
        )?;
    }
    if let Some(hide) = req.hide_presence {
        db!(
            tx,
            execute,
            "UPDATE users SET hide_presence = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            hide,
            now
        )?;
    }
    if let Some(size) = req.text_size {
        db!(
            tx,
            execute,
            "UPDATE users SET text_size = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            size,
            now
        )?;
    }
    if let Some(zone) = timezone {
        let changed = db!(
            tx,
            execute,
            "UPDATE users SET timezone = $2, updated_at = $3 WHERE id = $1 AND timezone <> $2",
            session.user.id,
            zone.name(),
            now
        )?;
        if changed > 0 {
            // Digests follow the member's day: the next one moves with the zone.
            crate::delivery::reschedule(&mut tx, session.user.id).await?;
        }
    }
    let password_changed = new_hash.is_some();
    if let Some(hash) = new_hash {
        db!(
            tx,
            execute,
            "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
            session.user.id,
            hash,
            now
        )?;
        session::revoke_all(&mut tx, session.user.id, Some(session.id)).await?;
    }
    tx.commit().await?;
    if mail_queued {
        state.mail.wake();
    }
    if password_changed {
        state
            .realtime
            .sessions_ended(session.user.id, Some(session.id));
    } else {
        // The sessions carry the name, language, country, filters and text size: every node
        // reads them again on the next request.
        state.realtime.member_changed(session.user.id);
    }
    load_me(state, session).await
}

/// A member's public profile.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    #[serde(flatten)]
    pub user: User,
    pub bio: String,
}

/// A member's public profile: what they chose to show.
pub async fn profile(state: &AppState, username: &str) -> AppResult<Profile> {
    let mut conn = state.store.read().await?;
    let user = find_by_username(&mut conn, username)
        .await?
        .ok_or(AppError::NotFound)?;
    let bio = db!(conn, fetch_one scalar String, "SELECT bio FROM users WHERE id = $1", user.id)?;
    Ok(Profile { user, bio })
}

/// A member's public profile: what they chose to show.
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "accounts", operation_id = "profile",
    params(("username" = String, Path, description = "case does not matter")),
    responses((status = 200, body = Profile), (status = 404, body = ErrorBody)))]
async fn api_profile(
    State(state): State<AppState>,
    MaybeAuth(_viewer): MaybeAuth,
    Path(username): Path<String>,
) -> AppResult<axum::Json<Profile>> {
    Ok(axum::Json(profile(&state, &username).await?))
}
