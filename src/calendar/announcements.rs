//! Announcements: notices shown above everything else, site-wide (by site admins) or in one
//! community (by its organisers), optionally pinned and limited in time; each member dismisses
//! them for themselves.
//!
//! Who sees a community's announcement follows who may read the community: everyone for a public
//! one, members for members-only and private ones. A private community's announcements never
//! show to outsiders, not even as a count.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, User, serialize_time};
use crate::app::AppState;
use crate::communities::{
    CommunityRow, MemberSummary, find_by_id, load_access, organised_community, visible_community,
};
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::forum::types::{PostBody, Title};
use crate::http::Json;
use crate::store::{AsDb, now_ms};
use crate::{db, markdown};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_current, api_create_site))
        .routes(routes!(api_community_list, api_create_community))
        .routes(routes!(api_delete))
        .routes(routes!(api_dismiss))
}

/// An announcement as shown.
#[derive(Serialize, ToSchema, Clone)]
pub struct Announcement {
    pub id: i64,
    /// The community's address; null for a site-wide announcement.
    pub community: Option<String>,
    pub title: String,
    /// Markdown as written.
    pub body: String,
    /// Sanitised HTML.
    pub body_html: String,
    pub pinned: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: i64,
    #[serde(serialize_with = "crate::accounts::serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<i64>,
    pub author: Option<MemberSummary>,
    /// The caller dismissed it (only in a community's full list).
    pub dismissed: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    community_id: Option<i64>,
    slug: Option<String>,
    title: String,
    body: String,
    body_html: String,
    pinned: bool,
    starts_at: i64,
    ends_at: Option<i64>,
    author_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    dismissed: bool,
    created_at: i64,
}

/// `$1` is the viewer's id (-1 for visitors).
macro_rules! announcement_select {
    () => {
        "SELECT a.id, a.community_id, c.slug, a.title, a.body, a.body_html, a.pinned, a.starts_at, a.ends_at,
                a.author_id, u.username, u.display_name,
                EXISTS (SELECT 1 FROM announcement_dismissals d WHERE d.announcement_id = a.id AND d.user_id = $1) AS dismissed,
                a.created_at
         FROM announcements a LEFT JOIN communities c ON c.id = a.community_id LEFT JOIN users u ON u.id = a.author_id "
    };
}

impl Row {
    fn view(self) -> Announcement {
        Announcement {
            id: self.id,
            community: self.slug,
            title: self.title,
            body: self.body,
            body_html: self.body_html,
            pinned: self.pinned,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            author: MemberSummary::from_columns(self.author_id, self.username, self.display_name),
            dismissed: self.dismissed,
            created_at: self.created_at,
        }
    }
}

/// What the viewer should see now: site-wide announcements and those of communities they may
/// read, that have started, not ended and not been dismissed by them; pinned first, then newest.
pub async fn current(state: &AppState, viewer: Option<&User>) -> AppResult<Vec<Announcement>> {
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            announcement_select!(),
            "WHERE a.deleted_at IS NULL AND a.starts_at <= $2 AND (a.ends_at IS NULL OR a.ends_at > $2)
               AND (a.community_id IS NULL OR c.visibility = 'public'
                    OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = a.community_id AND m.user_id = $1 AND m.status = 'active'))
               AND NOT EXISTS (SELECT 1 FROM announcement_dismissals d WHERE d.announcement_id = a.id AND d.user_id = $1)
             ORDER BY a.pinned DESC, a.created_at DESC, a.id DESC LIMIT 50"
        ),
        viewer.map_or(-1, |u| u.id),
        now_ms()
    )?;
    Ok(rows.into_iter().map(Row::view).collect())
}

/// How long the web pages reuse what they keep (visitors' list, and whether any announcement
/// shows at all): every page shows the announcements, and visitors all see the same ones. Changes
/// on this node take effect at once; elsewhere within this.
const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(2);

type Kept<T> = std::sync::Mutex<Option<(std::time::Instant, T)>>;
static FOR_VISITORS: Kept<std::sync::Arc<Vec<Announcement>>> = std::sync::Mutex::new(None);
static ANY_SHOWING: Kept<bool> = std::sync::Mutex::new(None);

fn kept<T: Clone>(kept: &Kept<T>) -> Option<T> {
    let kept = kept.lock().ok()?;
    let (at, value) = kept.as_ref()?;
    (at.elapsed() < KEPT_FOR).then(|| value.clone())
}

fn keep<T>(kept: &Kept<T>, value: T) {
    if let Ok(mut kept) = kept.lock() {
        *kept = Some((std::time::Instant::now(), value));
    }
}

/// `current`, reusing visitors' list for a moment. Signed-in members are asked each time
/// (dismissals and memberships are theirs), unless no announcement shows for anyone, which is
/// what most pages find.
pub async fn current_for_page(
    state: &AppState,
    viewer: Option<&User>,
) -> AppResult<Vec<Announcement>> {
    if viewer.is_some() {
        if !any_showing(state).await? {
            return Ok(Vec::new());
        }
        return current(state, viewer).await;
    }
    if let Some(list) = kept(&FOR_VISITORS) {
        return Ok(list.as_ref().clone());
    }
    let list = current(state, None).await?;
    keep(&FOR_VISITORS, std::sync::Arc::new(list.clone()));
    Ok(list)
}

/// Whether any announcement shows now, to anyone (kept for a moment; one that starts later
/// shows within `KEPT_FOR` of its start).
async fn any_showing(state: &AppState) -> AppResult<bool> {
    if let Some(any) = kept(&ANY_SHOWING) {
        return Ok(any);
    }
    let mut conn = state.store.read().await?;
    let any = db!(
        conn,
        fetch_one scalar bool,
        "SELECT EXISTS (SELECT 1 FROM announcements
           WHERE deleted_at IS NULL AND starts_at <= $1 AND (ends_at IS NULL OR ends_at > $1))",
        now_ms()
    )?;
    keep(&ANY_SHOWING, any);
    Ok(any)
}

/// What the pages keep is asked again on the next page (an announcement or a group's visibility
/// changed).
pub fn forget_kept() {
    forget(&FOR_VISITORS);
    forget(&ANY_SHOWING);
}

fn forget<T>(kept: &Kept<T>) {
    if let Ok(mut kept) = kept.lock() {
        *kept = None;
    }
}

/// What the caller should see now (visitors: site-wide and public communities' announcements).
#[utoipa::path(get, path = "/api/v1/announcements", tag = "calendar", operation_id = "current_announcements",
    responses((status = 200, body = Vec<Announcement>)))]
async fn api_current(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
) -> AppResult<axum::Json<Vec<Announcement>>> {
    Ok(axum::Json(
        current(&state, viewer.as_ref().map(|s| &s.user)).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewAnnouncement {
    /// 5–200 characters.
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Shown before the others.
    pub pinned: Option<bool>,
    /// RFC 3339; now when absent.
    pub starts_at: Option<String>,
    /// RFC 3339; shown until then (in the future, after `starts_at`).
    pub ends_at: Option<String>,
}

/// An announcement as written, times already read (UTC ms).
#[derive(Clone, Debug, Default)]
pub struct AnnouncementDraft {
    pub title: String,
    pub body: String,
    pub pinned: bool,
    /// Now when absent.
    pub starts_at: Option<i64>,
    /// Shown until then.
    pub ends_at: Option<i64>,
}

impl NewAnnouncement {
    /// The request with its times read; unreadable ones are refused by field.
    pub fn draft(&self) -> AppResult<AnnouncementDraft> {
        let (starts_at, ends_at) =
            super::read_span(self.starts_at.as_deref(), self.ends_at.as_deref())?;
        Ok(AnnouncementDraft {
            title: self.title.clone(),
            body: self.body.clone(),
            pinned: self.pinned.unwrap_or(false),
            starts_at,
            ends_at,
        })
    }
}

async fn insert(
    state: &AppState,
    author: &User,
    community: Option<&CommunityRow>,
    req: &AnnouncementDraft,
) -> AppResult<Announcement> {
    let now = now_ms();
    let mut fields = FieldErrors::new();
    let title = fields.check("title", Title::parse(&req.title));
    let body = fields.check("body", PostBody::parse(&req.body));
    let starts_at = req.starts_at.unwrap_or(now);
    let ends_at = req.ends_at;
    if ends_at.is_some_and(|t| t <= now || t <= starts_at) {
        fields.push("ends_at", "the end is in the future, after the start");
    }
    let (Some(title), Some(body), true) = (title, body, fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let html = markdown::render(body.as_str()).html;
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO announcements (community_id, author_id, title, body, body_html, pinned, starts_at, ends_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        community.map(|c| c.id),
        author.id,
        title.as_str(),
        body.as_str(),
        &html,
        req.pinned,
        starts_at,
        ends_at,
        now
    )?;
    drop(w);
    forget_kept();
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_one as Row,
        concat!(announcement_select!(), "WHERE a.id = $2"),
        author.id,
        id
    )?;
    Ok(row.view())
}

/// Announce something to the whole site (site admins).
#[utoipa::path(post, path = "/api/v1/announcements", tag = "calendar", operation_id = "create_site_announcement",
    request_body = NewAnnouncement,
    responses((status = 201, body = Announcement), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_site(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewAnnouncement>,
) -> AppResult<(StatusCode, axum::Json<Announcement>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_site(&state, &session.user, &req.draft()?).await?),
    ))
}

/// A site-wide announcement (site admins).
pub async fn create_site(
    state: &AppState,
    user: &User,
    req: &AnnouncementDraft,
) -> AppResult<Announcement> {
    if !user.is_admin() {
        return Err(AppError::forbidden(
            "only site admins make site-wide announcements",
        ));
    }
    insert(state, user, None, req).await
}

/// The site-wide announcements not taken down and not ended, as a site admin manages them.
pub async fn site_list(state: &AppState, user: &User) -> AppResult<Vec<Announcement>> {
    if !user.is_admin() {
        return Err(AppError::forbidden(
            "only site admins manage site-wide announcements",
        ));
    }
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            announcement_select!(),
            "WHERE a.community_id IS NULL AND a.deleted_at IS NULL AND (a.ends_at IS NULL OR a.ends_at > $2)
             ORDER BY a.pinned DESC, a.created_at DESC, a.id DESC LIMIT 50"
        ),
        user.id,
        now_ms()
    )?;
    Ok(rows.into_iter().map(Row::view).collect())
}

/// Announce something to one community (its organisers).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/announcements", tag = "calendar", operation_id = "create_community_announcement",
    params(("slug" = String, Path)),
    request_body = NewAnnouncement,
    responses((status = 201, body = Announcement), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_community(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewAnnouncement>,
) -> AppResult<(StatusCode, axum::Json<Announcement>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_for_community(&state, &session.user, &slug, &req.draft()?).await?),
    ))
}

/// An announcement to one community (its organisers).
pub async fn create_for_community(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &AnnouncementDraft,
) -> AppResult<Announcement> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    insert(state, user, Some(&community), req).await
}

/// A community's current announcements, dismissed ones included and marked (readers of the
/// community).
#[utoipa::path(get, path = "/api/v1/communities/{slug}/announcements", tag = "calendar", operation_id = "list_community_announcements",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Announcement>), (status = 403, description = "members only", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_community_list(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Announcement>>> {
    Ok(axum::Json(
        community_list(&state, viewer.as_ref().map(|s| &s.user), &slug).await?,
    ))
}

/// A community's current announcements, dismissed ones marked (readers of the community).
pub async fn community_list(
    state: &AppState,
    user: Option<&User>,
    slug: &str,
) -> AppResult<Vec<Announcement>> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, user).await?;
    if !access.can_read() {
        return Err(AppError::forbidden(
            "join this community to read its announcements",
        ));
    }
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            announcement_select!(),
            "WHERE a.community_id = $2 AND a.deleted_at IS NULL AND a.starts_at <= $3 AND (a.ends_at IS NULL OR a.ends_at > $3)
             ORDER BY a.pinned DESC, a.created_at DESC, a.id DESC LIMIT 50"
        ),
        user.map_or(-1, |u| u.id),
        community.id,
        now_ms()
    )?;
    Ok(rows.into_iter().map(Row::view).collect())
}

/// The announcement if `user` may see it (a community's only to those who may read it).
async fn visible(conn: &mut impl AsDb, id: i64, user: &User) -> AppResult<(Row, bool)> {
    let row = db!(
        *conn,
        fetch_optional as Row,
        concat!(
            announcement_select!(),
            "WHERE a.id = $2 AND a.deleted_at IS NULL"
        ),
        user.id,
        id
    )?
    .ok_or(AppError::NotFound)?;
    let may_manage = match row.community_id {
        None => user.is_admin(),
        Some(cid) => {
            let community = find_by_id(conn, cid).await?.ok_or(AppError::NotFound)?;
            let access = load_access(conn, &community, Some(user)).await?;
            if !access.can_read() {
                return Err(AppError::NotFound);
            }
            access.is_organiser()
        }
    };
    Ok((row, may_manage))
}

/// Take an announcement down (its community's organisers; site-wide ones: admins).
#[utoipa::path(delete, path = "/api/v1/announcements/{id}", tag = "calendar", operation_id = "delete_announcement",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    delete(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes an announcement down (its community's organisers; site-wide ones: admins).
pub async fn delete(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let may_manage = {
        let mut conn = state.store.read().await?;
        visible(&mut conn, id, user).await?.1
    };
    if !may_manage {
        return Err(AppError::forbidden(
            "only its community's organisers (or admins) take an announcement down",
        ));
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE announcements SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
        id,
        now_ms()
    )?;
    forget_kept();
    Ok(())
}

/// Dismiss an announcement for yourself (idempotent).
#[utoipa::path(post, path = "/api/v1/announcements/{id}/dismiss", tag = "calendar", operation_id = "dismiss_announcement",
    params(("id" = i64, Path)),
    responses((status = 204, description = "dismissed"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_dismiss(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    dismiss(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hides an announcement for `user` alone; dismissing twice is no error. 404 for what they may
/// not see.
pub async fn dismiss(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    {
        let mut conn = state.store.read().await?;
        visible(&mut conn, id, user).await?;
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO announcement_dismissals (announcement_id, user_id, dismissed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        id,
        user.id,
        now_ms()
    )?;
    Ok(())
}
