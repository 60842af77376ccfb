//! The web pages (API.md "Web pages"): server-rendered HTML that works without JavaScript, in
//! the member's language. This file owns what every page shares: the router, the request
//! context (`Ctx`: who is asking, in which language and text size), the page layout, error
//! pages, the HTML security headers and the embedded static files. One module per page group
//! holds the handlers; the logic behind them lives in the capabilities' service functions.

mod account;
mod admin;
mod assets;
mod auth;
mod blocks;
mod calendar;
mod chat;
mod circles;
mod conversations;
mod csrf;
mod delivery;
mod directory;
mod format;
mod forum;
mod help;
mod invitations;
mod meetings;
mod member;
mod moderation;
mod organise;
mod pwa;

mod push;
mod readings;
mod search;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::accounts::Session;
use crate::accounts::session;
use crate::accounts::types::Locale;
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::i18n;
pub use csrf::WebForm;
use i18n::Texts;

/// Every page's Content-Security-Policy: our own files only, no inline script or style.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Visitors' language and text size live in these cookies (members' in their account).
const LANG_COOKIE: &str = "mutual_lang";
const TEXT_COOKIE: &str = "mutual_text";

/// The pages, given the state for the layers that need it.
/// Forms that may carry a photo or a voice note (multipart) take a body that large.
fn upload_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(crate::media::UPLOAD_BODY_LIMIT)
}

pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(forum::home))
        .route("/register", get(auth::register_page).post(auth::register))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route(
            "/password-reset",
            get(auth::reset_request_page).post(auth::reset_request),
        )
        .route("/password-reset/done", get(auth::reset_done))
        .route(
            "/password-reset/{token}",
            get(auth::reset_new_page).post(auth::reset_new),
        )
        .route("/c/{slug}", get(forum::community))
        .route(
            "/c/{slug}/new",
            get(forum::new_topic_page)
                .post(forum::new_topic)
                .layer(upload_limit()),
        )
        .route("/c/{slug}/chat", get(chat::default_room))
        .route("/c/{slug}/chat/{room}", get(chat::room).post(chat::send))
        .route("/c/{slug}/chat/{room}/react", post(chat::react))
        .route("/c/{slug}/milestones", get(member::feed))
        .route(
            "/c/{slug}/milestones/new",
            get(member::new_milestone_page)
                .post(member::new_milestone)
                .layer(upload_limit()),
        )
        .route("/c/{slug}/join", post(forum::join))
        .route("/c/{slug}/leave", get(forum::leave_page).post(forum::leave))
        .route(
            "/t/{id}",
            get(forum::topic).post(forum::reply).layer(upload_limit()),
        )
        .route("/p/{id}", get(forum::post_link))
        .route("/p/{id}/react", post(forum::react))
        .route(
            "/p/{id}/edit",
            get(forum::edit_post_page).post(forum::edit_post),
        )
        .route(
            "/p/{id}/report",
            get(moderation::report_page).post(moderation::report),
        )
        .route("/mod/{slug}", get(moderation::queue))
        .route("/mod/{slug}/act", post(moderation::act))
        .route(
            "/moderation/conversations",
            get(moderation::conversation_queue),
        )
        .route(
            "/moderation/conversations/act",
            post(moderation::conversation_act),
        )
        .route("/me/moderation", get(moderation::mine))
        .route("/me/cases-waiting", get(moderation::cases_waiting))
        .route("/me/moderation/appeal", post(moderation::appeal))
        .route(
            "/conversations",
            get(conversations::list).post(conversations::start),
        )
        .route(
            "/conversations/{id}",
            get(conversations::page).post(conversations::send),
        )
        .route("/me/conversations-waiting", get(conversations::waiting))
        .route("/conversations/{id}/accept", post(conversations::accept))
        .route("/conversations/{id}/decline", post(conversations::decline))
        .route("/conversations/{id}/leave", post(conversations::leave))
        .route("/conversations/{id}/react", post(conversations::react))
        .route("/u/{username}", get(account::profile))
        .route("/u/{username}/follow", post(member::follow))
        // blocks (#22.2): `{what}` is `block` or `ignore`
        .route(
            "/u/{username}/{what}",
            get(blocks::confirm_page).post(blocks::set),
        )
        .route("/goals", get(member::goals).post(member::create_goal))
        .route("/goals/{id}/checkin", post(member::check_in))
        .route("/goals/{id}/milestone", post(member::reach))
        .route("/me/readings", get(readings::page).post(readings::log))
        .route("/me/readings/{id}/delete", post(readings::delete))
        .route("/me/readings/share", post(readings::share_trend))
        .route("/me/readings/shares/{id}/revoke", post(readings::revoke))
        .route("/me/readings/milestone", post(readings::milestone))
        .route("/search", get(search::page))
        .route("/notifications", get(account::notifications))
        .route("/notifications/read", post(account::mark_read))
        .route(
            "/settings",
            get(account::settings).post(account::save_settings),
        )
        .route("/settings/email", post(delivery::save_email))
        .route("/settings/email/resend", post(delivery::resend))
        .route("/settings/delivery", post(delivery::save_delivery))
        .route("/settings/password", post(delivery::change_password))
        .route(
            "/verify-email/{token}",
            get(delivery::verify_page).post(delivery::verify),
        )
        .route(
            "/unsubscribe/{token}",
            get(delivery::unsubscribe_page).post(delivery::unsubscribe),
        )
        .route(
            "/settings/consent",
            get(account::consent_settings).post(account::give_consent),
        )
        .route(
            "/settings/consent/withdraw",
            get(account::withdraw_page).post(account::withdraw_consent),
        )
        .route(
            "/settings/delete",
            get(account::delete_page).post(account::delete_account),
        )
        .route("/admin", get(admin::page))
        .route("/admin/communities", post(admin::create_community))
        .route("/admin/roles", post(admin::grant_role))
        .route("/admin/verifications", post(admin::verify))
        .route("/help", get(help::page))
        .route("/groups", get(directory::directory))
        .route(
            "/c/{slug}/meetings",
            get(meetings::list).post(meetings::create),
        )
        .route("/c/{slug}/meetings/{id}/rsvp", post(meetings::rsvp))
        .route("/c/{slug}/meetings/{id}/cancel", post(meetings::cancel))
        .route("/me/calendar-key", post(meetings::create_key))
        .route("/me/calendar-key/revoke", post(meetings::revoke_key))
        .route(
            "/r/{code}",
            get(directory::welcome).post(directory::sign_up),
        )
        .route("/r/{code}/join", post(directory::join))
        .route(
            "/organise/{slug}/invitations",
            get(invitations::page).post(invitations::create),
        )
        .route(
            "/organise/{slug}/invitations/{code}/revoke",
            post(invitations::revoke),
        )
        .route(
            "/i/{code}",
            get(invitations::join_page).post(invitations::join),
        )
        .route(
            "/organise/{slug}/referrals",
            get(directory::referrals).post(directory::create_referral),
        )
        .route(
            "/organise/{slug}/referrals/{code}/delete",
            post(directory::delete_referral),
        )
        .route(
            "/organise/{slug}/referrals/{code}/print",
            get(directory::print),
        )
        .route("/events/{id}", get(calendar::page))
        .route("/events/{id}/rsvp", post(calendar::rsvp))
        .route("/announcements/{id}/dismiss", post(calendar::dismiss))
        .route("/c/{slug}/events", get(calendar::group_calendar))
        .route("/c/{slug}/events/{id}/rsvp", post(calendar::group_rsvp))
        .route("/circles/{id}", get(circles::page))
        .route("/organise/{slug}", get(organise::overview))
        .route(
            "/organise/{slug}/details",
            get(organise::details_page).post(organise::change_details),
        )
        .route(
            "/organise/{slug}/schedules",
            get(organise::schedules_page).post(organise::create_schedule),
        )
        .route(
            "/organise/{slug}/schedules/{id}",
            post(organise::change_schedule),
        )
        .route(
            "/organise/{slug}/sessions",
            get(organise::sessions_page).post(organise::create_session),
        )
        .route(
            "/organise/{slug}/sessions/{id}/cancel",
            post(organise::cancel_session),
        )
        .route(
            "/organise/{slug}/sessions/{id}/summary",
            post(organise::post_summary),
        )
        .route(
            "/organise/{slug}/announcements",
            get(organise::announcements_page).post(organise::create_announcement),
        )
        .route(
            "/organise/{slug}/announcements/{id}/delete",
            post(organise::delete_announcement),
        )
        .route(
            "/admin/announcements",
            get(organise::site_announcements_page).post(organise::create_site_announcement),
        )
        .route(
            "/admin/announcements/{id}/delete",
            post(organise::delete_site_announcement),
        )
        .route(
            "/organise/{slug}/milestone-types",
            get(organise::types_page).post(organise::create_type),
        )
        .route(
            "/organise/{slug}/milestone-types/{key}",
            post(organise::change_type),
        )
        .route(
            "/organise/{slug}/circles",
            get(organise::circles_page).post(organise::create_circle),
        )
        .route(
            "/organise/{slug}/circles/{id}/members",
            post(organise::add_to_circle),
        )
        .route(
            "/organise/{slug}/circles/{id}/remove",
            post(organise::remove_from_circle),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::limit_per_ip,
        ));
    pages
        .route("/static/{version}/{file}", get(assets::serve))
        .route("/static/{file}", get(assets::serve_current))
        .route("/manifest.webmanifest", get(pwa::manifest))
        .route("/sw.js", get(pwa::service_worker))
        .route("/offline", get(pwa::offline))
        .route("/push-sw.js", get(push::service_worker))
        .route("/push/texts.json", get(push::texts))
}

/// Who is asking, in which language and text size, and the CSRF token their forms carry.
pub struct Ctx {
    pub state: AppState,
    pub session: Option<Session>,
    pub texts: &'static Texts,
    pub text_size: i32,
    /// The member's session token, or the visitor's double-submit cookie.
    pub csrf: String,
    /// A visitor's new CSRF cookie, to set with the answer.
    new_csrf_cookie: Option<Cookie<'static>>,
    /// The path and query asked for (to come back to after logging in).
    pub here: String,
    /// The country the member gave, else the region of the browser's `Accept-Language`: the
    /// units forms offer first (kg/cm, lb/in in the United States).
    pub country: Option<String>,
}

impl Ctx {
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
        method: &Method,
        here: String,
    ) -> Result<Ctx, AppError> {
        let session = session::from_cookie(state, headers, method).await?;
        let jar = CookieJar::from_headers(headers);
        let (locale, text_size) = match &session {
            Some(s) => (s.locale, s.text_size),
            None => {
                let chosen = jar
                    .get(LANG_COOKIE)
                    .and_then(|c| Locale::parse(c.value()).ok());
                let browser = headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(i18n::negotiate);
                let size = jar
                    .get(TEXT_COOKIE)
                    .and_then(|c| c.value().parse::<i32>().ok())
                    .filter(|s| crate::accounts::TEXT_SIZES.contains(s))
                    .unwrap_or(100);
                (chosen.or(browser).unwrap_or_default(), size)
            }
        };
        let country = session
            .as_ref()
            .and_then(|s| s.country.clone())
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(i18n::accept_region)
            });
        let (csrf, new_csrf_cookie) = match &session {
            Some(s) => (s.csrf_token.clone(), None),
            None => csrf::visitor_token(state, &jar),
        };
        Ok(Ctx {
            state: state.clone(),
            session,
            texts: i18n::texts(locale),
            text_size,
            csrf,
            new_csrf_cookie,
            here,
            country,
        })
    }

    /// The weight unit this reader writes (`kg`, or `lb` in the United States).
    pub fn weight_unit(&self) -> &'static str {
        i18n::weight_unit(self.country.as_deref())
    }

    pub fn user(&self) -> Option<&crate::accounts::User> {
        self.session.as_ref().map(|s| &s.user)
    }

    /// The signed-in member, or a redirect to the login page that comes back here.
    pub fn require(&self) -> Result<&Session, PageError> {
        self.session.as_ref().ok_or(PageError::Login)
    }

    /// The layout of a page titled `title`.
    pub async fn layout(&self, title: impl Into<String>) -> Layout {
        // The unread notifications and the conversations waiting, in one statement.
        let (unread, conversations) = match &self.session {
            Some(s) => header_counts(&self.state, s.user.id)
                .await
                .unwrap_or((0, 0)),
            None => (0, 0),
        };
        // Announcements show above every page; the page still shows if they cannot be read.
        let mut announcements =
            crate::calendar::announcements::current_for_page(&self.state, self.user())
                .await
                .unwrap_or_default();
        announcements.truncate(3);
        // Moderators see how many cases wait, linking to the queue; the page shows without it.
        let cases = match &self.session {
            Some(s) => crate::moderation::cases::waiting_for(&self.state, s)
                .await
                .unwrap_or(None),
            None => None,
        };
        Layout {
            cases,
            conversations,
            announcements,
            texts: self.texts,
            title: title.into(),
            text_size: self.text_size,
            csrf: self.csrf.clone(),
            user: self.session.as_ref().map(|s| UserLink {
                username: s.user.username.clone(),
                display_name: s.user.display_name.clone(),
                is_admin: s.user.is_admin(),
            }),
            unread,
            noindex: self.session.is_some(),
            here: self.here.clone(),
            css: assets::url("site.css"),
            js: assets::url("site.js"),
        }
    }

    /// Sends a page (or any answer), setting a visitor's new CSRF cookie along with it.
    pub fn send(self, answer: impl IntoResponse) -> Response {
        let mut response = answer.into_response();
        if let Some(cookie) = self.new_csrf_cookie
            && let Ok(value) = HeaderValue::from_str(&cookie.to_string())
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }

    /// Sends a page with a status other than 200 (a form with errors: 422).
    pub fn send_status(self, status: StatusCode, answer: impl IntoResponse) -> Response {
        let mut response = self.send(answer);
        *response.status_mut() = status;
        response
    }

    /// A cookie for a visitor's own setting, kept a year.
    fn setting_cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.state.config.secure_cookies())
            .path("/")
            .max_age(cookie::time::Duration::days(365))
            .build()
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        Ok(Ctx::from_headers(state, &parts.headers, &parts.method, here).await?)
    }
}

/// What every page's frame needs.
pub struct Layout {
    pub texts: &'static Texts,
    pub title: String,
    pub text_size: i32,
    pub csrf: String,
    /// The member, when signed in.
    pub user: Option<UserLink>,
    pub unread: i64,
    /// Keep search engines out: pages about a member, or a non-public community.
    pub noindex: bool,
    pub here: String,
    pub css: String,
    pub js: String,
    /// What the reader should see now (at most 3), above the page.
    pub announcements: Vec<crate::calendar::announcements::Announcement>,
    /// For moderators: the open cases in their groups, and the queue with the most of them.
    pub cases: Option<crate::moderation::cases::Waiting>,
    /// Conversation requests to answer and conversations with unread messages.
    pub conversations: i64,
}

pub struct UserLink {
    pub username: String,
    pub display_name: String,
    /// A site admin: the menu offers the admin page.
    pub is_admin: bool,
}

impl Layout {
    pub fn lang(&self) -> &'static str {
        self.texts.locale.as_str()
    }

    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key)
    }

    /// The cases waiting in the groups the member moderates; 0 for everyone else.
    pub fn cases_waiting(&self) -> i64 {
        self.cases.as_ref().map_or(0, |w| w.count)
    }

    /// The language speech synthesis reads the page in (the "listen" buttons).
    pub fn speech_lang(&self) -> &'static str {
        match self.texts.locale {
            Locale::Es => "es-MX",
            Locale::Hi => "hi-IN",
            Locale::En => "en",
        }
    }

    /// `key` with `{n}` filled in.
    pub fn n(&self, key: &str, n: impl std::fmt::Display) -> String {
        let raw = n.to_string();
        // Whole numbers are grouped the reader's way (12,34,567 in Hindi).
        let shown = raw
            .parse::<i64>()
            .map(|v| self.texts.number(v))
            .unwrap_or(raw);
        self.texts.fill(key, &[("n", &shown)])
    }

    /// The singular form of a count's text (`{n}` left in), for scripts to fill.
    pub fn one<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.plural(key, 1)
    }

    /// `key` with `{name}` filled in by `value`.
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        self.texts.fill(key, &[(name, value)])
    }

    // Dates arrive by reference: askama passes template arguments that way.
    pub fn date(&self, ms: &i64) -> String {
        self.texts.date(*ms)
    }

    /// `key` with `{date}` filled in.
    pub fn dated(&self, key: &str, ms: &i64) -> String {
        self.texts.fill(key, &[("date", &self.texts.date(*ms))])
    }

    /// The class on `<html>` that sets the text size.
    pub fn html_class(&self) -> String {
        if self.text_size > 100 {
            format!("ts-{}", self.text_size)
        } else {
            String::new()
        }
    }

    /// "Join" for a visitor: sign-up, then back to the group, joined (`forum::after_sign_in`).
    pub fn join_href(&self, slug: &str) -> String {
        format!("/register?next={}", urlencode(&format!("/c/{slug}?join=1")))
    }

    /// `page` (`/login` or `/register`) carrying a return address on to the other one.
    pub fn with_next(&self, page: &str, next: &str) -> String {
        if next == "/" {
            page.to_owned()
        } else {
            format!("{page}?next={}", urlencode(next))
        }
    }

    /// The login link, coming back here afterwards.
    pub fn login_href(&self) -> String {
        format!("/login?next={}", urlencode(&self.here))
    }
}

/// What the header counts for a member on every page: their unread notifications and the
/// conversations waiting for them, in one statement (each was its own round trip).
async fn header_counts(state: &AppState, user_id: i64) -> crate::error::AppResult<(i64, i64)> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_one as (i64, i64),
        concat!(
            "SELECT ",
            crate::notify::unread_sql!(),
            ", ",
            crate::conversations::waiting_sql!()
        ),
        user_id
    )?)
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// A page's status: 422 when it shows a form sent back with an error, else 200.
pub fn form_status(has_error: bool) -> StatusCode {
    if has_error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// The one gate for every return address the web takes (`next`, `back`): only a path of this
/// site, else `/`. Browsers forgive a lot (`/\t/evil.example` and `/\\evil.example` both leave
/// the site), so the text and each percent-decoding of it must start with one `/`, and hold no
/// backslash and no control character (which would also make the `Location` header invalid).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    let mut text = path.to_owned();
    // A proxy or a browser may decode once more than we do: check a few layers down.
    for _ in 0..4 {
        let bad = !text.starts_with('/')
            || text.starts_with("//")
            || text.chars().any(|c| c.is_control() || c == '\\');
        if bad {
            return false;
        }
        match percent_decode(&text) {
            Some(decoded) if decoded == text => return true,
            Some(decoded) => text = decoded,
            None => return false,
        }
    }
    false
}

/// `%XX` sequences decoded; `None` when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a page could not be shown; the `html_layer` turns it into a page in the reader's
/// language (handlers cannot, because the failure may come before the language is known).
#[derive(Debug)]
pub enum PageError {
    App(AppError),
    /// The page is for members: go and log in.
    Login,
    /// The form's CSRF token was missing or wrong.
    Csrf,
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError::App(e)
    }
}

/// Marks an answer as a failure for `html_layer` to render.
#[derive(Clone, Copy, Debug)]
enum Failure {
    NotFound,
    Forbidden,
    /// Health data refused without consent: the consent page takes the error page's place.
    ConsentRequired,
    Csrf,
    RateLimited,
    Server,
    BadRequest,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, failure) = match self {
            PageError::Login => return StatusCode::UNAUTHORIZED.into_response(),
            PageError::Csrf => (StatusCode::FORBIDDEN, Failure::Csrf),
            PageError::App(e) => {
                let status = e.status();
                if let AppError::Internal(err) = &e {
                    tracing::error!(error = ?err, "internal error on a page");
                }
                let failure = match &e {
                    AppError::NotFound => Failure::NotFound,
                    AppError::Forbidden(_) => Failure::Forbidden,
                    AppError::ConsentRequired => Failure::ConsentRequired,
                    AppError::RateLimited { .. } => Failure::RateLimited,
                    AppError::Unauthorized(_) => return StatusCode::UNAUTHORIZED.into_response(),
                    AppError::Internal(_) | AppError::Unavailable(_) => Failure::Server,
                    _ => Failure::BadRequest,
                };
                (status, failure)
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(failure);
        response
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    l: Layout,
    heading: String,
    message: String,
}

/// Around every answer: failures of pages become pages in the reader's language (401 becomes a
/// trip to the login page), and HTML gets the Content-Security-Policy.
pub async fn html_layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let here = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let is_api = here.starts_with("/api");
    let method = request.method().clone();
    let mut response = next.run(request).await;
    if !is_api {
        let failure = response.extensions().get::<Failure>().copied();
        if response.status() == StatusCode::UNAUTHORIZED && failure.is_none() {
            return Redirect::to(&format!("/login?next={}", urlencode(&here))).into_response();
        }
        if let Some(failure) = failure {
            response = if let Failure::ConsentRequired = failure {
                consent_needed(&state, &headers, &method, here).await
            } else {
                error_page(&state, &headers, here, response.status(), failure).await
            };
        }
    }
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    response
}

async fn error_page(
    state: &AppState,
    headers: &HeaderMap,
    here: String,
    status: StatusCode,
    failure: Failure,
) -> Response {
    // GET: looking up the session for the page's language must not count as a write.
    let ctx = match Ctx::from_headers(state, headers, &Method::GET, here).await {
        Ok(ctx) => ctx,
        Err(_) => return (status, "Something went wrong. Please try again.").into_response(),
    };
    let (heading, message) = match failure {
        Failure::NotFound => ("errors.not_found_title", "errors.not_found"),
        Failure::Forbidden | Failure::ConsentRequired => ("errors.forbidden", "errors.forbidden"),
        Failure::Csrf => ("errors.forbidden", "errors.csrf"),
        Failure::RateLimited => ("errors.rate_limited", "errors.rate_limited"),
        Failure::Server => ("errors.server_title", "errors.server"),
        Failure::BadRequest => ("errors.generic", "errors.generic"),
    };
    let mut l = ctx.layout(ctx.texts.get(heading)).await;
    l.noindex = true;
    let page = ErrorPage {
        heading: ctx.texts.get(heading).to_owned(),
        message: ctx.texts.get(message).to_owned(),
        l,
    };
    ctx.send_status(status, page)
}

/// The consent page, in place of a page whose action needs consent to hold health data (403).
/// After consenting the member goes back: to this page when it was one to look at, else to the
/// page the refused form was on.
async fn consent_needed(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    here: String,
) -> Response {
    let back = if method == Method::GET {
        here.clone()
    } else {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| {
                // Only a page of this site (the form's own), as a path.
                let host = headers.get(header::HOST)?.to_str().ok()?;
                let rest = r.split_once("://")?.1.strip_prefix(host)?;
                Some(rest.to_owned())
            })
            .unwrap_or_else(|| "/".into())
    };
    let back = safe_next(Some(&back));
    let ctx = match Ctx::from_headers(state, headers, &Method::GET, here.clone()).await {
        Ok(ctx) if ctx.session.is_some() => ctx,
        _ => {
            return error_page(
                state,
                headers,
                here,
                StatusCode::FORBIDDEN,
                Failure::Forbidden,
            )
            .await;
        }
    };
    match account::consent_page(&ctx, back, true, None, None).await {
        Ok(page) => ctx.send_status(StatusCode::FORBIDDEN, page),
        Err(_) => {
            error_page(
                state,
                headers,
                here,
                StatusCode::FORBIDDEN,
                Failure::Forbidden,
            )
            .await
        }
    }
}

/// The answer for an unknown page (the router's fallback outside `/api`).
pub fn not_found() -> Response {
    page_for_error(AppError::NotFound)
}

/// An error as a page in the reader's language (set as `http`'s error page at start).
pub fn page_for_error(error: AppError) -> Response {
    PageError::App(error).into_response()
}

/// Unknown routes (the router's fallback): JSON under `/api`, a page in the reader's language
/// elsewhere.
pub async fn fallback(request: Request) -> Response {
    crate::http::not_found_for(request.uri().path())
}
