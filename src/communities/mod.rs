//! Communities per condition: creation and settings, joining and leaving, requests to join a
//! private community, community-scoped roles, member lists, and the access rules every other
//! capability asks ("may this viewer see / read / post / moderate here?").

pub mod access;
pub mod types;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use access::{
    Access, RoleColumns, access_with_roles, access_with_status, load_access, organised_community,
};
use types::{CommunityRole, MemberListMode, Slug, Visibility};

use crate::accounts::types::Role;
use crate::accounts::{Auth, MaybeAuth, User, find_by_username, serialize_time};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::paging::{Page, PageParams, cursor};
use crate::realtime::frames::Revoked;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_communities, create_community))
        .routes(routes!(api_get_community, update_community))
        .routes(routes!(api_join))
        .routes(routes!(api_leave))
        .routes(routes!(list_requests))
        .routes(routes!(decide_request))
        .routes(routes!(grant_role, revoke_role))
        .routes(routes!(list_members))
}

/// A community as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CommunityRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: String,
    pub medical_notice: bool,
    pub allow_anonymous: bool,
    pub member_list: String,
    pub newcomer_alert_minutes: i64,
    pub created_at: i64,
    /// Active members, kept by the database (migration 0016).
    pub member_count: i64,
    /// Where the directory lists it.
    pub condition: String,
    pub condition_label: String,
    pub language: String,
    /// Every language, main first, separated by spaces (migration 0029).
    pub languages: String,
    pub region: String,
    pub meeting_style: String,
}

impl CommunityRow {
    pub fn visibility(&self) -> Visibility {
        Visibility::parse(&self.visibility).unwrap_or(Visibility::Private)
    }
}

pub async fn find_by_slug(conn: &mut impl AsDb, slug: &str) -> AppResult<Option<CommunityRow>> {
    Ok(db!(
        *conn,
        fetch_optional as CommunityRow,
        "SELECT id, slug, name, description, visibility, medical_notice, allow_anonymous, member_list, newcomer_alert_minutes, created_at, member_count,
                condition, condition_label, language, languages, region, meeting_style
         FROM communities WHERE slug = $1",
        slug.to_ascii_lowercase()
    )?)
}

pub async fn find_by_id(conn: &mut impl AsDb, id: i64) -> AppResult<Option<CommunityRow>> {
    Ok(db!(
        *conn,
        fetch_optional as CommunityRow,
        "SELECT id, slug, name, description, visibility, medical_notice, allow_anonymous, member_list, newcomer_alert_minutes, created_at, member_count,
                condition, condition_label, language, languages, region, meeting_style
         FROM communities WHERE id = $1",
        id
    )?)
}

/// The community and the viewer's access to it; 404 when the viewer may not know it exists.
pub async fn visible_community(
    conn: &mut impl AsDb,
    slug: &str,
    viewer: Option<&User>,
) -> AppResult<(CommunityRow, Access)> {
    let community = find_by_slug(conn, slug).await?.ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, viewer).await?;
    if !access.can_see() {
        return Err(AppError::NotFound);
    }
    Ok((community, access))
}

/// What the viewer's membership looks like, in answers.
#[derive(Serialize, ToSchema, Debug)]
pub struct MembershipView {
    /// `active` or `pending` (a request to join a private community).
    pub status: String,
    pub roles: Vec<CommunityRole>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct Community {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    /// Show the "peer experience, not medical advice" notice with posts.
    pub medical_notice: bool,
    pub allow_anonymous: bool,
    pub member_list: MemberListMode,
    pub member_count: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// The caller's membership, if any.
    pub membership: Option<MembershipView>,
    /// Where the directory lists it (see `GET /api/v1/directory`).
    pub condition: String,
    pub condition_label: String,
    /// The main language (the first of `languages`).
    pub language: String,
    /// Every language the group runs in, the main one first.
    pub languages: Vec<String>,
    pub region: String,
    /// `online`, `in_person` or `both`.
    pub meeting_style: crate::directory::MeetingStyle,
    /// Chat rooms (on the single-community answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<crate::chat::Room>>,
}

/// The community as `access` may see it (no rooms: those are on the single-community answer).
pub fn view(row: CommunityRow, access: &Access) -> Community {
    let listing = crate::directory::Listing::of(&row);
    Community {
        languages: listing.languages,
        meeting_style: listing.meeting_style,
        visibility: row.visibility(),
        condition: row.condition,
        condition_label: row.condition_label,
        language: row.language,
        region: row.region,
        id: row.id,
        member_list: MemberListMode::parse(&row.member_list).unwrap_or(MemberListMode::Members),
        slug: row.slug,
        name: row.name,
        description: row.description,
        medical_notice: row.medical_notice,
        allow_anonymous: row.allow_anonymous,
        member_count: row.member_count,
        created_at: row.created_at,
        membership: access.status.as_ref().map(|status| MembershipView {
            status: status.clone(),
            roles: access.roles.clone(),
        }),
        rooms: None,
    }
}

/// Communities the viewer may see (private ones only to their members), oldest first.
pub async fn list_communities(
    state: &AppState,
    viewer: Option<&User>,
    page: &PageParams,
) -> AppResult<Page<Community>> {
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let viewer_id = viewer.map(|u| u.id).unwrap_or(-1);
    let sees_all = viewer.is_some_and(|u| u.is_admin() || u.has_role(Role::Moderator));
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as CommunityRow,
        "SELECT id, slug, name, description, visibility, medical_notice, allow_anonymous, member_list, newcomer_alert_minutes, created_at, member_count,
                condition, condition_label, language, languages, region, meeting_style
         FROM communities c
         WHERE c.id > $1 AND (c.visibility <> 'private' OR $2 OR EXISTS
               (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = $3 AND m.status = 'active'))
         ORDER BY c.id LIMIT $4",
        after,
        sees_all,
        viewer_id,
        limit + 1
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let access = load_access(&mut conn, &row, viewer).await?;
        items.push(view(row, &access));
    }
    Ok(Page::from_rows(items, limit, |c| cursor(&[c.id])))
}

/// Communities the caller may see (private ones only to their members).
#[utoipa::path(get, path = "/api/v1/communities", tag = "communities", operation_id = "list_communities",
    params(PageParams),
    responses((status = 200, body = Page<Community>), (status = 400, body = ErrorBody)))]
async fn api_list_communities(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<Community>>> {
    let viewer = viewer.map(|s| s.user);
    Ok(axum::Json(
        list_communities(&state, viewer.as_ref(), &page).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewCommunity {
    /// 3–50 of a–z, 0–9 and `-`: the community's address (`/c/{slug}`).
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// `public`, `members` (the default) or `private`.
    pub visibility: Option<String>,
    pub medical_notice: Option<bool>,
    pub allow_anonymous: Option<bool>,
    /// `members` (the default: members see the member list) or `hidden` (only moderators).
    pub member_list: Option<String>,
    /// Minutes before a newcomer's unanswered first topic is shown to the welcomers (default 720).
    pub newcomer_alert_minutes: Option<i64>,
    /// Directory: a short condition key such as `type-2-diabetes` (empty for none).
    pub condition: Option<String>,
    /// Directory: the condition as people say it, e.g. "Type 2 diabetes".
    pub condition_label: Option<String>,
    /// Directory: the group's main language (`en`, `es`, `hi`…); alone, it replaces the first
    /// of `languages` (empty clears them).
    pub language: Option<String>,
    /// Directory: every language the group runs in, the main one first (at most 5).
    pub languages: Option<Vec<String>>,
    /// Directory: where it meets or whom it serves, e.g. "Jalisco, MX".
    pub region: Option<String>,
    /// Directory: `online` (the default), `in_person` or `both`.
    pub meeting_style: Option<String>,
}

fn check_name(raw: &str, fields: &mut FieldErrors) -> Option<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(3..=80).contains(&len) || name.chars().any(char::is_control) {
        fields.push("name", "a name has 3 to 80 characters");
        return None;
    }
    Some(name.to_owned())
}

fn check_description(raw: &str, fields: &mut FieldErrors) -> Option<String> {
    if raw.chars().count() > 2000 {
        fields.push("description", "a description has at most 2,000 characters");
        return None;
    }
    Some(raw.trim().to_owned())
}

fn check_minutes(raw: i64, fields: &mut FieldErrors) -> Option<i64> {
    if !(0..=60 * 24 * 30).contains(&raw) {
        fields.push("newcomer_alert_minutes", "between 0 and 43,200 minutes");
        return None;
    }
    Some(raw)
}

/// Admins create communities.
#[utoipa::path(post, path = "/api/v1/communities", tag = "communities",
    request_body = NewCommunity,
    responses((status = 201, body = Community), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_community(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewCommunity>,
) -> AppResult<(StatusCode, axum::Json<Community>)> {
    let created = create(&state, &session.user, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Creates a community (site admins): its default room and milestone types come with it, and
/// its creator joins as its organiser.
pub async fn create(state: &AppState, user: &User, req: &NewCommunity) -> AppResult<Community> {
    if !user.is_admin() {
        return Err(AppError::forbidden("only admins create communities"));
    }
    let mut fields = FieldErrors::new();
    let slug = fields.check("slug", Slug::parse(&req.slug));
    let name = check_name(&req.name, &mut fields);
    let description = check_description(req.description.as_deref().unwrap_or(""), &mut fields);
    let visibility = match req.visibility.as_deref() {
        Some(v) => fields.check("visibility", Visibility::parse(v)),
        None => Some(Visibility::Members),
    };
    let member_list = match req.member_list.as_deref() {
        Some(v) => fields.check("member_list", MemberListMode::parse(v)),
        None => Some(MemberListMode::Members),
    };
    let minutes = check_minutes(req.newcomer_alert_minutes.unwrap_or(720), &mut fields);
    let listing = crate::directory::Listing::apply(
        &crate::directory::Listing::default(),
        &crate::directory::ListingChanges {
            condition: req.condition.as_deref(),
            condition_label: req.condition_label.as_deref(),
            language: req.language.as_deref(),
            languages: req.languages.as_deref(),
            region: req.region.as_deref(),
            meeting_style: req.meeting_style.as_deref(),
        },
        &mut fields,
    );
    if !fields.is_empty() {
        return Err(fields.into_error());
    }
    let (
        Some(slug),
        Some(name),
        Some(description),
        Some(visibility),
        Some(member_list),
        Some(minutes),
    ) = (slug, name, description, visibility, member_list, minutes)
    else {
        return Err(fields.into_error());
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = db!(
        tx,
        fetch_optional scalar i64,
        "INSERT INTO communities (slug, name, description, visibility, medical_notice, allow_anonymous, member_list, newcomer_alert_minutes, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id",
        slug.as_str(),
        name,
        description,
        visibility.as_str(),
        req.medical_notice.unwrap_or(true),
        req.allow_anonymous.unwrap_or(false),
        member_list.as_str(),
        minutes,
        user.id,
        now
    )?
    .ok_or_else(|| AppError::conflict("slug_taken", "a community already uses that address"))?;
    crate::chat::create_default_room(&mut tx, id, user.id).await?;
    crate::milestones::types::create_defaults(&mut tx, id).await?;
    listing.store(&mut tx, id).await?;
    // The creator joins and organises it.
    db!(
        tx,
        execute,
        "INSERT INTO memberships (community_id, user_id, status, created_at) VALUES ($1, $2, 'active', $3)",
        id,
        user.id,
        now
    )?;
    db!(
        tx,
        execute,
        "INSERT INTO community_roles (community_id, user_id, role, granted_by, granted_at) VALUES ($1, $2, 'organiser', $2, $3)",
        id,
        user.id,
        now
    )?;
    tx.commit().await?;
    // The creator now organises a group: their sessions learn of it.
    state.realtime.member_changed(user.id);
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug.as_str(), Some(user)).await?;
    Ok(view(row, &access))
}

/// One community, with its member count and the viewer's membership; 404 when the viewer may
/// not know it exists.
pub async fn get_community(
    state: &AppState,
    viewer: Option<&User>,
    slug: &str,
) -> AppResult<Community> {
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug, viewer).await?;
    let rooms = crate::chat::rooms_of(state, &mut conn, &row, &access).await?;
    let mut community = view(row, &access);
    community.rooms = Some(rooms);
    Ok(community)
}

/// One community, with its member count and the caller's membership.
#[utoipa::path(get, path = "/api/v1/communities/{slug}", tag = "communities", operation_id = "get_community",
    params(("slug" = String, Path)),
    responses((status = 200, body = Community), (status = 404, body = ErrorBody)))]
async fn api_get_community(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Community>> {
    let viewer = viewer.map(|s| s.user);
    Ok(axum::Json(
        get_community(&state, viewer.as_ref(), &slug).await?,
    ))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct CommunityChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
    pub medical_notice: Option<bool>,
    pub allow_anonymous: Option<bool>,
    pub member_list: Option<String>,
    pub newcomer_alert_minutes: Option<i64>,
    /// Directory: a short condition key such as `type-2-diabetes` (empty for none).
    pub condition: Option<String>,
    /// Directory: the condition as people say it, e.g. "Type 2 diabetes".
    pub condition_label: Option<String>,
    /// Directory: the group's main language (`en`, `es`, `hi`…); alone, it replaces the first
    /// of `languages` (empty clears them).
    pub language: Option<String>,
    /// Directory: every language the group runs in, the main one first (at most 5).
    pub languages: Option<Vec<String>>,
    /// Directory: where it meets or whom it serves, e.g. "Jalisco, MX".
    pub region: Option<String>,
    /// Directory: `online` (the default), `in_person` or `both`.
    pub meeting_style: Option<String>,
}

/// Organisers and admins change a community's settings.
#[utoipa::path(patch, path = "/api/v1/communities/{slug}", tag = "communities",
    params(("slug" = String, Path)),
    request_body = CommunityChanges,
    responses((status = 200, body = Community), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_community(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<CommunityChanges>,
) -> AppResult<axum::Json<Community>> {
    Ok(axum::Json(
        change_community(&state, &session.user, &slug, &req).await?,
    ))
}

/// Changes a community's settings (organisers and admins).
pub async fn change_community(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &CommunityChanges,
) -> AppResult<Community> {
    let (row, _) = {
        let mut conn = state.store.read().await?;
        organised_community(&mut conn, slug, user).await?
    };
    let mut fields = FieldErrors::new();
    let name = req.name.as_deref().map(|n| check_name(n, &mut fields));
    let description = req
        .description
        .as_deref()
        .map(|d| check_description(d, &mut fields));
    let visibility = req
        .visibility
        .as_deref()
        .map(|v| fields.check("visibility", Visibility::parse(v)));
    let member_list = req
        .member_list
        .as_deref()
        .map(|v| fields.check("member_list", MemberListMode::parse(v)));
    let minutes = req
        .newcomer_alert_minutes
        .map(|m| check_minutes(m, &mut fields));
    let current = crate::directory::Listing::of(&row);
    let listing = crate::directory::Listing::apply(
        &current,
        &crate::directory::ListingChanges {
            condition: req.condition.as_deref(),
            condition_label: req.condition_label.as_deref(),
            language: req.language.as_deref(),
            languages: req.languages.as_deref(),
            region: req.region.as_deref(),
            meeting_style: req.meeting_style.as_deref(),
        },
        &mut fields,
    );
    fields.into_result()?;
    let mut tx = state.store.begin().await?;
    listing.store(&mut tx, row.id).await?;
    db!(
        tx,
        execute,
        "UPDATE communities SET name = $2, description = $3, visibility = $4, medical_notice = $5, allow_anonymous = $6,
                member_list = $7, newcomer_alert_minutes = $8 WHERE id = $1",
        row.id,
        name.flatten().unwrap_or(row.name.clone()),
        description.flatten().unwrap_or(row.description.clone()),
        visibility.flatten().map(Visibility::as_str).unwrap_or(row.visibility.as_str()),
        req.medical_notice.unwrap_or(row.medical_notice),
        req.allow_anonymous.unwrap_or(row.allow_anonymous),
        member_list.flatten().map(MemberListMode::as_str).unwrap_or(row.member_list.as_str()),
        minutes.flatten().unwrap_or(row.newcomer_alert_minutes)
    )?;
    tx.commit().await?;
    // Visitors may no longer see its announcements.
    crate::calendar::announcements::forget_kept();
    if visibility
        .flatten()
        .is_some_and(|v| v.as_str() != row.visibility)
    {
        state.realtime.visibility_changed(row.id);
    }
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug, Some(user)).await?;
    Ok(view(row, &access))
}

#[derive(Serialize, ToSchema)]
pub struct JoinResult {
    /// `active`, or `pending` until a moderator or organiser approves.
    pub status: String,
}

impl JoinResult {
    /// 200 once a member, 202 while the request waits for a moderator.
    fn status_code(&self) -> StatusCode {
        if self.status == "active" {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        }
    }
}

/// How someone comes to join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The join button or `POST .../join` alone: a private group answers as if it did not exist.
    Plain,
    /// A referral link: a request to join a private group, for its moderators to decide.
    Referral,
    /// An invitation link (its id): in at once, taking one of its uses.
    Invitation(i64),
}

/// Joins a public or members community at once. A private one answers 404, exactly as an unknown
/// address, so that joining cannot tell whether a group exists (`join_via` with a code instead).
pub async fn join(state: &AppState, user: &User, slug: &str) -> AppResult<JoinResult> {
    join_via(state, user, slug, Via::Plain).await
}

/// Joins as `via` allows. Joining twice answers the membership there is (a pending request
/// becomes a membership with an invitation).
pub async fn join_via(
    state: &AppState,
    user: &User,
    slug: &str,
    via: Via,
) -> AppResult<JoinResult> {
    let mut conn = state.store.read().await?;
    let row = find_by_slug(&mut conn, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(&mut conn, &row, Some(user)).await?;
    let private = row.visibility() == Visibility::Private && !access.site_staff();
    // Before any other answer (banned, consent needed), which would tell that it exists.
    if private && via == Via::Plain && access.status.is_none() {
        return Err(AppError::NotFound);
    }
    let invited = matches!(via, Via::Invitation(_));
    if let Some(status) = access.status
        && !(invited && status == "pending")
    {
        return Ok(JoinResult { status });
    }
    let sanctions = crate::moderation::sanctions::active(&mut conn, user.id).await?;
    drop(conn);
    if crate::moderation::sanctions::refuses(&sanctions, row.id, now_ms()) == Some("banned") {
        return Err(AppError::forbidden("you are banned from this community"));
    }
    // Belonging to a group for a condition says something about one's health (PRV-6).
    {
        let mut conn = state.store.read().await?;
        let condition = db!(conn, fetch_one scalar String, "SELECT condition FROM communities WHERE id = $1", row.id)?;
        if !condition.is_empty() {
            crate::accounts::consent::require(&mut conn, user.id).await?;
        }
    }
    let status = if private && !invited {
        "pending"
    } else {
        "active"
    };
    let mut tx = state.store.begin().await?;
    if let Via::Invitation(id) = via
        && !crate::invitations::take_use(&mut tx, id).await?
    {
        // Used up or revoked since it was read: as if it never worked.
        return Err(AppError::NotFound);
    }
    db!(
        tx,
        execute,
        "INSERT INTO memberships (community_id, user_id, status, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (community_id, user_id) DO UPDATE SET status = excluded.status",
        row.id,
        user.id,
        status,
        now_ms()
    )?;
    tx.commit().await?;
    Ok(JoinResult {
        status: status.into(),
    })
}

/// Joins with a code from an invitation or a referral link for this group; any other code is
/// no code at all.
pub async fn join_with_code(
    state: &AppState,
    user: &User,
    slug: &str,
    code: &str,
) -> AppResult<JoinResult> {
    let invitation = {
        let mut conn = state.store.read().await?;
        crate::invitations::usable_by_code(&mut conn, code).await?
    };
    if let Some((id, community)) = invitation.filter(|(_, c)| c.slug == slug) {
        return join_via(state, user, &community.slug, Via::Invitation(id)).await;
    }
    if crate::referrals::is_for(state, code, slug).await? {
        return Ok(crate::referrals::join(state, user, code).await?.1);
    }
    join(state, user, slug).await
}

/// The optional body of `POST .../join`.
#[derive(Deserialize, ToSchema, Default)]
pub struct JoinBody {
    /// An invitation or referral code for this group: the way into a private one.
    pub code: Option<String>,
}

/// Join a public or members community; a private one with an invitation code (in at once) or a
/// referral code (a request). Without one, a private community answers 404 as an unknown one.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/join", tag = "communities", operation_id = "join",
    params(("slug" = String, Path)),
    request_body(content = Option<JoinBody>, description = "optional: `{\"code\": \"...\"}`"),
    responses((status = 200, description = "joined (or already a member)", body = JoinResult),
              (status = 202, description = "request sent to the moderators", body = JoinResult),
              (status = 403, description = "banned; or `consent_required`: a community with a condition needs consent to hold health data", body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_join(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, axum::Json<JoinResult>)> {
    let body: JoinBody = if body.iter().all(u8::is_ascii_whitespace) {
        JoinBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| AppError::bad_request("bad_json", "the body is not valid JSON"))?
    };
    let result = match body
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(code) => join_with_code(&state, &session.user, &slug, code).await?,
        None => join(&state, &session.user, &slug).await?,
    };
    Ok((result.status_code(), axum::Json(result)))
}

/// Leaves a community (or withdraws a request); community roles go with it. 404 when the
/// member was not in it.
pub async fn leave(state: &AppState, user: &User, slug: &str) -> AppResult<()> {
    let row = {
        let mut conn = state.store.read().await?;
        find_by_slug(&mut conn, slug)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let mut tx = state.store.begin().await?;
    let left = leave_in(&mut tx, row.id, user.id).await?;
    tx.commit().await?;
    if left == 0 {
        return Err(AppError::NotFound);
    }
    state
        .realtime
        .access_changed(user.id, row.id, Revoked::Left);
    Ok(())
}

/// Takes the member out of every community with a condition, in the caller's transaction (their
/// health-data consent was withdrawn: belonging to such a group says something about their
/// health). The number of memberships removed.
pub async fn forget_health_data(tx: &mut crate::store::Tx, user_id: i64) -> AppResult<Vec<i64>> {
    let condition_groups = db!(
        *tx,
        fetch_all scalar i64,
        "SELECT m.community_id FROM memberships m JOIN communities c ON c.id = m.community_id
         WHERE m.user_id = $1 AND c.condition <> '' ORDER BY m.community_id",
        user_id
    )?;
    let mut left = Vec::new();
    for community_id in condition_groups {
        if leave_in(tx, community_id, user_id).await? > 0 {
            left.push(community_id);
        }
    }
    Ok(left)
}

/// The names of the communities with a condition the member is in (or asked to join), which
/// `forget_health_data` would leave.
pub async fn condition_groups_of(conn: &mut impl AsDb, user_id: i64) -> AppResult<Vec<String>> {
    Ok(db!(
        *conn,
        fetch_all scalar String,
        "SELECT c.name FROM memberships m JOIN communities c ON c.id = m.community_id
         WHERE m.user_id = $1 AND c.condition <> '' ORDER BY c.name",
        user_id
    )?)
}

/// Takes the member out of a community in the caller's transaction: membership (or request),
/// community roles and circles. The number of memberships removed (0 or 1).
pub async fn leave_in(
    tx: &mut crate::store::Tx,
    community_id: i64,
    user_id: i64,
) -> AppResult<u64> {
    let left = db!(
        *tx,
        execute,
        "DELETE FROM memberships WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id
    )?;
    db!(
        *tx,
        execute,
        "DELETE FROM community_roles WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id
    )?;
    crate::circles::forget_member(tx, community_id, user_id).await?;
    Ok(left)
}

/// Leave a community (or withdraw a request); community roles go with it.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/leave", tag = "communities", operation_id = "leave",
    params(("slug" = String, Path)),
    responses((status = 204, description = "left"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_leave(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<StatusCode> {
    leave(&state, &session.user, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member as shown in lists and on posts: no e-mail, no settings.
#[derive(Serialize, ToSchema, Clone, Debug, sqlx::FromRow)]
pub struct MemberSummary {
    pub id: i64,
    pub username: String,
    pub display_name: String,
}

impl MemberSummary {
    /// From a LEFT JOINed user's columns: none when the account is gone.
    pub fn from_columns(
        id: Option<i64>,
        username: Option<String>,
        display_name: Option<String>,
    ) -> Option<MemberSummary> {
        Some(MemberSummary {
            id: id?,
            username: username?,
            display_name: display_name?,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct JoinRequest {
    pub user: MemberSummary,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: i64,
}

#[derive(sqlx::FromRow)]
/// A member and when they joined (or asked to).
struct MembershipRow {
    id: i64,
    username: String,
    display_name: String,
    created_at: i64,
}

/// Moderators and organisers: pending requests to join.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/requests", tag = "communities",
    params(("slug" = String, Path), PageParams),
    responses((status = 200, body = Page<JoinRequest>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_requests(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<JoinRequest>>> {
    Ok(axum::Json(
        pending_requests(&state, &session.user, &slug, &page).await?,
    ))
}

/// A page of the pending requests to join (moderators and organisers).
pub async fn pending_requests(
    state: &AppState,
    user: &User,
    slug: &str,
    page: &PageParams,
) -> AppResult<Page<JoinRequest>> {
    let limit = page.limit()?;
    let after = page.after_ints(2)?.unwrap_or_else(|| vec![0, 0]);
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug, Some(user)).await?;
    access.require_moderator()?;
    let rows = db!(
        conn,
        fetch_all as MembershipRow,
        "SELECT u.id, u.username, u.display_name, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.community_id = $1 AND m.status = 'pending' AND (m.created_at > $2 OR (m.created_at = $2 AND u.id > $3))
         ORDER BY m.created_at, u.id LIMIT $4",
        row.id,
        after[0],
        after[1],
        limit + 1
    )?;
    let items = rows
        .into_iter()
        .map(|r| JoinRequest {
            user: MemberSummary {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
            },
            requested_at: r.created_at,
        })
        .collect();
    Ok(Page::from_rows(items, limit, |r: &JoinRequest| {
        cursor(&[r.requested_at, r.user.id])
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct Decision {
    pub approve: bool,
}

/// Moderators and organisers approve or refuse a request to join.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/requests/{username}", tag = "communities",
    params(("slug" = String, Path), ("username" = String, Path)),
    request_body = Decision,
    responses((status = 204, description = "decided"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn decide_request(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, username)): Path<(String, String)>,
    Json(req): Json<Decision>,
) -> AppResult<StatusCode> {
    decide_join_request(&state, &session.user, &slug, &username, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Approves or refuses `username`'s request to join (moderators and organisers).
pub async fn decide_join_request(
    state: &AppState,
    user: &User,
    slug: &str,
    username: &str,
    req: &Decision,
) -> AppResult<()> {
    let (row, access, target) = {
        let mut conn = state.store.read().await?;
        let (row, access) = visible_community(&mut conn, slug, Some(user)).await?;
        let target = find_by_username(&mut conn, username)
            .await?
            .ok_or(AppError::NotFound)?;
        (row, access, target)
    };
    access.require_moderator()?;
    let mut w = state.store.write().await?;
    let changed = if req.approve {
        db!(
            w,
            execute,
            "UPDATE memberships SET status = 'active', decided_by = $3 WHERE community_id = $1 AND user_id = $2 AND status = 'pending'",
            row.id,
            target.id,
            user.id
        )?
    } else {
        db!(
            w,
            execute,
            "DELETE FROM memberships WHERE community_id = $1 AND user_id = $2 AND status = 'pending'",
            row.id,
            target.id
        )?
    };
    if changed == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Grants `role` in the community to one of its members. Admins and organisers may.
#[utoipa::path(put, path = "/api/v1/communities/{slug}/roles/{role}/{username}", tag = "communities",
    params(("slug" = String, Path), ("role" = String, Path, description = "moderator, organiser or welcomer"), ("username" = String, Path)),
    responses((status = 204, description = "granted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn grant_role(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, role, username)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    grant(&state, &session.user, &slug, &role, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a member of the community a community role (its organisers and site admins).
pub async fn grant(
    state: &AppState,
    user: &User,
    slug: &str,
    role: &str,
    username: &str,
) -> AppResult<()> {
    let (row, target, role) = role_change_target(state, user, slug, role, username).await?;
    let mut w = state.store.write().await?;
    let is_member = db!(
        w,
        fetch_optional scalar i64,
        "SELECT user_id FROM memberships WHERE community_id = $1 AND user_id = $2 AND status = 'active'",
        row.id,
        target.id
    )?;
    if is_member.is_none() {
        return Err(AppError::invalid(
            "username",
            "only members of the community can be given a role in it",
        ));
    }
    db!(
        w,
        execute,
        "INSERT INTO community_roles (community_id, user_id, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        row.id,
        target.id,
        role.as_str(),
        user.id,
        now_ms()
    )?;
    // The member's sessions learn of the role (their pages show the cases waiting).
    state.realtime.member_changed(target.id);
    Ok(())
}

/// Takes a community role back.
#[utoipa::path(delete, path = "/api/v1/communities/{slug}/roles/{role}/{username}", tag = "communities",
    params(("slug" = String, Path), ("role" = String, Path), ("username" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_role(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, role, username)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    take_role(&state, &session.user, &slug, &role, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a community role back from `username`.
pub async fn take_role(
    state: &AppState,
    user: &User,
    slug: &str,
    role: &str,
    username: &str,
) -> AppResult<()> {
    let (row, target, role) = role_change_target(state, user, slug, role, username).await?;
    let mut w = state.store.write().await?;
    let n = db!(
        w,
        execute,
        "DELETE FROM community_roles WHERE community_id = $1 AND user_id = $2 AND role = $3",
        row.id,
        target.id,
        role.as_str()
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn role_change_target(
    state: &AppState,
    actor: &User,
    slug: &str,
    role: &str,
    username: &str,
) -> AppResult<(CommunityRow, User, CommunityRole)> {
    let role = CommunityRole::parse(role).map_err(|e| AppError::invalid("role", e))?;
    let mut conn = state.store.read().await?;
    let (row, _) = organised_community(&mut conn, slug, actor).await?;
    let target = find_by_username(&mut conn, username)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((row, target, role))
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub user: MemberSummary,
    pub roles: Vec<CommunityRole>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
}

/// The member list: members only (moderators only where the community hides it). Members who
/// hide their presence are left out for everyone but moderators.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/members", tag = "communities",
    params(("slug" = String, Path), PageParams),
    responses((status = 200, body = Page<Member>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_members(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<Member>>> {
    let viewer = viewer.map(|s| s.user);
    Ok(axum::Json(
        members(&state, viewer.as_ref(), &slug, &page).await?,
    ))
}

/// A page of the community's members, as the list's setting lets `viewer` see them.
pub async fn members(
    state: &AppState,
    viewer: Option<&User>,
    slug: &str,
    page: &PageParams,
) -> AppResult<Page<Member>> {
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug, viewer).await?;
    let moderator = access.is_moderator();
    let allowed = match MemberListMode::parse(&row.member_list).unwrap_or(MemberListMode::Hidden) {
        MemberListMode::Members => access.is_member() || moderator,
        MemberListMode::Hidden => moderator,
    };
    if !allowed {
        return Err(AppError::forbidden(
            "the member list is for members of this community",
        ));
    }
    let rows = db!(
        conn,
        fetch_all as MembershipRow,
        "SELECT u.id, u.username, u.display_name, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.community_id = $1 AND m.status = 'active' AND u.id > $2 AND ($3 OR u.hide_presence = FALSE OR u.id = $4)
         ORDER BY u.id LIMIT $5",
        row.id,
        after,
        moderator,
        viewer.map_or(-1, |u| u.id),
        limit + 1
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let roles = access::community_roles(&mut conn, row.id, r.id).await?;
        items.push(Member {
            user: MemberSummary {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
            },
            roles,
            joined_at: r.created_at,
        });
    }
    Ok(Page::from_rows(items, limit, |m| cursor(&[m.user.id])))
}
