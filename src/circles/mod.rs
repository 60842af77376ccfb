//! Peer circles: small groups (6–12 people) inside a large community, led by peer leaders whom
//! the organisers assign. A circle has its own private chat room, a weekly meeting time, sees
//! the goals its members share with it, and gives its leaders an agenda of due check-ins for
//! the next session. When a leader has been away for 14 days, the co-leaders and the
//! community's organisers are told (once per spell away).

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Datelike, Duration, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, User, find_by_username, serialize_time};
use crate::app::AppState;
use crate::clock::Zone;
use crate::communities::{
    Access, CommunityRow, MemberSummary, find_by_id, load_access, organised_community,
    visible_community,
};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::goals::{self, CheckinStatus, Goal};
use crate::http::Json;
use crate::notify::{self, About, Kind, Recipients, Subject};
use crate::realtime::Realtime;
use crate::realtime::frames::Revoked;
use crate::store::{AsDb, Store, now_ms};

/// The stored topic of a peer circle's room (pages show it in the reader's language).
pub const ROOM_TOPIC: &str = "Peer circle";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_circles, api_create_circle))
        .routes(routes!(
            api_get_circle,
            api_update_circle,
            api_delete_circle
        ))
        .routes(routes!(api_add_member, api_remove_member))
        .routes(routes!(api_circle_goals))
        .routes(routes!(api_agenda))
}

/// A leader away this long is reported to the co-leaders and organisers.
const INACTIVE_AFTER_MS: i64 = 14 * 24 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One's place in a circle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircleRole {
    Member,
    /// A peer leader (the badge).
    Leader,
    CoLeader,
}

impl CircleRole {
    pub fn parse(raw: &str) -> Result<CircleRole, String> {
        match raw.trim() {
            "member" => Ok(CircleRole::Member),
            "leader" => Ok(CircleRole::Leader),
            "co_leader" => Ok(CircleRole::CoLeader),
            _ => Err("role is member, leader or co_leader".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CircleRole::Member => "member",
            CircleRole::Leader => "leader",
            CircleRole::CoLeader => "co_leader",
        }
    }

    /// Leaders and co-leaders run the sessions and read the agenda.
    pub fn leads(self) -> bool {
        matches!(self, CircleRole::Leader | CircleRole::CoLeader)
    }
}

/// The member's role in a circle, if they are in it and still an active member of its
/// community.
pub async fn role_in(
    conn: &mut impl AsDb,
    circle_id: i64,
    user_id: i64,
) -> AppResult<Option<CircleRole>> {
    let role = db!(
        *conn,
        fetch_optional scalar String,
        "SELECT cm.role FROM circle_members cm
         JOIN memberships m ON m.community_id = cm.community_id AND m.user_id = cm.user_id AND m.status = 'active'
         WHERE cm.circle_id = $1 AND cm.user_id = $2",
        circle_id,
        user_id
    )?;
    Ok(role.and_then(|r| CircleRole::parse(&r).ok()))
}

/// Whether the member leads or co-leads any circle (the peer leader badge).
pub async fn leads_any(conn: &mut impl AsDb, user_id: i64) -> AppResult<bool> {
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT circle_id FROM circle_members WHERE user_id = $1 AND role IN ('leader', 'co_leader') LIMIT 1",
        user_id
    )?
    .is_some())
}

/// Whether `access`'s viewer may enter chat room `room_id`: yes for ordinary rooms; for a
/// circle's room only the circle's people (still members of the community) and, for safety,
/// the community's moderators and organisers and site staff.
pub async fn may_enter_room(
    conn: &mut impl AsDb,
    room_id: i64,
    access: &Access,
) -> AppResult<bool> {
    let circle = db!(*conn, fetch_optional scalar Option<i64>, "SELECT circle_id FROM rooms WHERE id = $1", room_id)?
        .flatten();
    let Some(circle) = circle else {
        return Ok(true);
    };
    if access.is_moderator() {
        return Ok(true);
    }
    let Some(user) = access.user_id else {
        return Ok(false);
    };
    Ok(access.is_member() && role_in(conn, circle, user).await?.is_some())
}

/// Someone leaving a community leaves its circles, and their goals stop being shared there.
pub async fn forget_member(
    tx: &mut crate::store::Tx,
    community_id: i64,
    user_id: i64,
) -> AppResult<()> {
    db!(
        *tx,
        execute,
        "UPDATE goals SET circle_id = NULL WHERE owner_id = $2 AND circle_id IN (SELECT id FROM circles WHERE community_id = $1)",
        community_id,
        user_id
    )?;
    db!(
        *tx,
        execute,
        "UPDATE goals SET community_id = NULL WHERE owner_id = $2 AND community_id = $1",
        community_id,
        user_id
    )?;
    db!(
        *tx,
        execute,
        "DELETE FROM circle_leader_alerts WHERE leader_id = $2 AND circle_id IN (SELECT id FROM circles WHERE community_id = $1)",
        community_id,
        user_id
    )?;
    db!(
        *tx,
        execute,
        "DELETE FROM circle_members WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id
    )?;
    Ok(())
}

/// The weekday names, Monday first (stored as 1–7).
/// The weekday names the API and the forms use, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A weekly meeting time, in the circle's time zone.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Meeting {
    /// `monday` … `sunday`.
    pub weekday: String,
    /// Local "HH:MM".
    pub time: String,
    /// IANA name; default UTC.
    pub timezone: Option<String>,
}

/// The next weekly session at or after `now`: `weekday` 1 (Monday) to 7 at local `time`.
pub fn next_session(weekday: u32, time: NaiveTime, zone: Zone, now: i64) -> i64 {
    let today = zone.date_at(now);
    for offset in 0..=7 {
        let day = today + Duration::days(offset);
        if day.weekday().number_from_monday() == weekday {
            let at = zone.instant(day.and_time(time));
            if at >= now {
                return at;
            }
        }
    }
    now
}

#[derive(Serialize, ToSchema, Debug)]
pub struct CircleMember {
    pub user: MemberSummary,
    pub role: CircleRole,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub added_at: i64,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct Circle {
    pub id: i64,
    /// The community's address.
    pub community: String,
    pub name: String,
    /// 6–12 people, leaders included.
    pub capacity: i64,
    pub member_count: i64,
    pub meeting: Option<Meeting>,
    /// The next session (from the meeting time); null without one.
    #[serde(serialize_with = "crate::accounts::serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_session_at: Option<i64>,
    /// The circle's private chat room.
    pub room: Option<i64>,
    /// The caller's role in the circle; null when they are not in it.
    pub my_role: Option<CircleRole>,
    /// Who is in it (on `GET /circles/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<CircleMember>>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct CircleRow {
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub capacity: i64,
    pub meeting_weekday: Option<i64>,
    pub meeting_time: Option<String>,
    pub timezone: String,
    pub created_at: i64,
    pub member_count: i64,
    pub room_id: Option<i64>,
}

macro_rules! circle_select {
    () => {
        "SELECT c.id, c.community_id, c.name, c.capacity, c.meeting_weekday, c.meeting_time, c.timezone, c.created_at,
                (SELECT COUNT(*) FROM circle_members m WHERE m.circle_id = c.id) AS member_count,
                (SELECT r.id FROM rooms r WHERE r.circle_id = c.id ORDER BY r.id LIMIT 1) AS room_id
         FROM circles c "
    };
}

impl CircleRow {
    fn meeting(&self) -> Option<(u32, NaiveTime, Zone)> {
        let day = u32::try_from(self.meeting_weekday?).ok()?;
        let time = crate::clock::parse_hhmm(self.meeting_time.as_deref()?).ok()?;
        Some((day, time, Zone::from_stored(&self.timezone)))
    }

    /// The next session at or after `now`, when the circle has a meeting time.
    pub fn next_session(&self, now: i64) -> Option<i64> {
        self.meeting()
            .map(|(day, time, zone)| next_session(day, time, zone, now))
    }

    fn view(self, community: &CommunityRow, my_role: Option<CircleRole>) -> Circle {
        let meeting = self.meeting().map(|(day, time, zone)| Meeting {
            weekday: WEEKDAYS
                .get(day.saturating_sub(1) as usize)
                .copied()
                .unwrap_or("monday")
                .to_owned(),
            time: time.format("%H:%M").to_string(),
            timezone: Some(zone.name().to_owned()),
        });
        Circle {
            next_session_at: self.next_session(now_ms()),
            id: self.id,
            community: community.slug.clone(),
            name: self.name,
            capacity: self.capacity,
            member_count: self.member_count,
            meeting,
            room: self.room_id,
            my_role,
            members: None,
            created_at: self.created_at,
        }
    }
}

/// What a viewer is to a circle.
struct CircleAccess {
    circle: CircleRow,
    community: CommunityRow,
    access: Access,
    role: Option<CircleRole>,
}

/// The circle and the viewer's place; 404 unless they are in it or moderate the community.
async fn circle_access(conn: &mut impl AsDb, id: i64, viewer: &User) -> AppResult<CircleAccess> {
    let circle = db!(
        *conn,
        fetch_optional as CircleRow,
        concat!(circle_select!(), "WHERE c.id = $1"),
        id
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, circle.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, Some(viewer)).await?;
    let role = if access.is_member() {
        role_in(conn, id, viewer.id).await?
    } else {
        None
    };
    if role.is_none() && !access.is_moderator() {
        return Err(AppError::NotFound);
    }
    Ok(CircleAccess {
        circle,
        community,
        access,
        role,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct NewCircle {
    /// 2–60 characters.
    pub name: String,
    /// 6–12 people, leaders included; default 12.
    pub capacity: Option<i64>,
    pub meeting: Option<Meeting>,
}

#[derive(Deserialize, ToSchema)]
pub struct CircleChanges {
    pub name: Option<String>,
    /// 6–12, and not below the number already in the circle.
    pub capacity: Option<i64>,
    /// null removes the meeting time.
    #[serde(default, deserialize_with = "crate::http::present")]
    #[schema(value_type = Option<Meeting>)]
    pub meeting: Option<Option<Meeting>>,
}

fn check_name(raw: &str, fields: &mut FieldErrors) -> String {
    let name = raw.trim().to_owned();
    if !(2..=60).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        fields.push("name", "a circle's name has 2 to 60 characters");
    }
    name
}

fn check_capacity(capacity: i64, fields: &mut FieldErrors) {
    if !(6..=12).contains(&capacity) {
        fields.push("capacity", "a circle holds 6 to 12 people");
    }
}

/// A weekly meeting time as the service takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyTime {
    pub weekday: chrono::Weekday,
    pub time: NaiveTime,
    pub zone: Zone,
}

impl WeeklyTime {
    /// The stored columns: (weekday 1–7, "HH:MM", zone name).
    fn columns(self) -> (i64, String, String) {
        (
            i64::from(self.weekday.number_from_monday()),
            self.time.format("%H:%M").to_string(),
            self.zone.name().to_owned(),
        )
    }
}

impl Meeting {
    /// The API's words read into a weekly time; what cannot be read goes under `meeting`.
    pub fn read(&self, fields: &mut FieldErrors) -> Option<WeeklyTime> {
        let weekday = self.weekday.trim().parse::<chrono::Weekday>().ok();
        if weekday.is_none() {
            fields.push("meeting", "weekday is monday, tuesday, … or sunday");
        }
        let time = fields.check("meeting", crate::clock::parse_hhmm(&self.time));
        let zone = match self.timezone.as_deref() {
            None => Some(Zone::UTC),
            Some(z) => fields.check("meeting", Zone::parse(z)),
        };
        Some(WeeklyTime {
            weekday: weekday?,
            time: time?,
            zone: zone?,
        })
    }
}

/// A circle as organisers make it.
#[derive(Clone, Debug)]
pub struct CircleDraft {
    pub name: String,
    /// 6–12 people, leaders included.
    pub capacity: i64,
    pub meeting: Option<WeeklyTime>,
}

/// Changes to a circle; `None` keeps what is there (`Some(None)` removes the meeting time).
#[derive(Clone, Debug, Default)]
pub struct CircleEdit {
    pub name: Option<String>,
    pub capacity: Option<i64>,
    pub meeting: Option<Option<WeeklyTime>>,
}

impl NewCircle {
    pub fn draft(&self) -> AppResult<CircleDraft> {
        let mut fields = FieldErrors::new();
        let meeting = self.meeting.as_ref().and_then(|m| m.read(&mut fields));
        fields.into_result()?;
        Ok(CircleDraft {
            name: self.name.clone(),
            capacity: self.capacity.unwrap_or(12),
            meeting,
        })
    }
}

impl CircleChanges {
    pub fn edit(&self) -> AppResult<CircleEdit> {
        let mut fields = FieldErrors::new();
        let meeting = match &self.meeting {
            None => None,
            Some(None) => Some(None),
            Some(Some(m)) => m.read(&mut fields).map(Some),
        };
        fields.into_result()?;
        Ok(CircleEdit {
            name: self.name.clone(),
            capacity: self.capacity,
            meeting,
        })
    }
}

/// Organisers make a circle in their community, with its private room.
pub async fn create_circle(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &CircleDraft,
) -> AppResult<Circle> {
    let (community, _) = {
        let mut conn = state.store.read().await?;
        organised_community(&mut conn, slug, user).await?
    };
    let mut fields = FieldErrors::new();
    let name = check_name(&req.name, &mut fields);
    let capacity = req.capacity;
    check_capacity(capacity, &mut fields);
    fields.into_result()?;
    let (day, time, zone) = req.meeting.map(WeeklyTime::columns).unzip3();
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO circles (community_id, name, capacity, meeting_weekday, meeting_time, timezone, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        community.id,
        &name,
        capacity,
        day,
        time,
        zone.unwrap_or_else(|| "UTC".into()),
        user.id,
        now
    )?;
    db!(
        tx,
        execute,
        "INSERT INTO rooms (community_id, name, topic, is_default, created_by, created_at, circle_id) VALUES ($1, $2, $3, FALSE, $4, $5, $6)",
        community.id,
        &name,
        ROOM_TOPIC,
        user.id,
        now,
        id
    )?;
    tx.commit().await?;
    let mut conn = state.store.read().await?;
    let found = circle_access(&mut conn, id, user).await?;
    Ok(found.circle.view(&found.community, found.role))
}

trait Unzip3<A, B, C> {
    fn unzip3(self) -> (Option<A>, Option<B>, Option<C>);
}

impl<A, B, C> Unzip3<A, B, C> for Option<(A, B, C)> {
    fn unzip3(self) -> (Option<A>, Option<B>, Option<C>) {
        match self {
            Some((a, b, c)) => (Some(a), Some(b), Some(c)),
            None => (None, None, None),
        }
    }
}

/// Make a peer circle (organisers); it gets a private chat room.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/circles", tag = "circles", operation_id = "create_circle",
    params(("slug" = String, Path)),
    request_body = NewCircle,
    responses((status = 201, body = Circle), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_circle(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewCircle>,
) -> AppResult<(StatusCode, axum::Json<Circle>)> {
    let circle = create_circle(&state, &session.user, &slug, &req.draft()?).await?;
    Ok((StatusCode::CREATED, axum::Json(circle)))
}

/// A community's circles: all of them for its moderators and organisers, the caller's own for
/// everyone else.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/circles", tag = "circles", operation_id = "list_circles",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Circle>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list_circles(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Circle>>> {
    Ok(axum::Json(
        list_circles(&state, &session.user, &slug).await?,
    ))
}

/// The community's circles `user` may see: all for its moderators and organisers, else their own.
pub async fn list_circles(state: &AppState, user: &User, slug: &str) -> AppResult<Vec<Circle>> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, Some(user)).await?;
    let rows = db!(
        conn,
        fetch_all as CircleRow,
        concat!(
            circle_select!(),
            "WHERE c.community_id = $1 AND ($2 OR ($3 AND EXISTS (SELECT 1 FROM circle_members cm WHERE cm.circle_id = c.id AND cm.user_id = $4)))
             ORDER BY c.name, c.id"
        ),
        community.id,
        access.is_moderator(),
        access.is_member(),
        user.id
    )?;
    let mut circles = Vec::with_capacity(rows.len());
    for row in rows {
        let role = role_in(&mut conn, row.id, user.id).await?;
        circles.push(row.view(&community, role));
    }
    Ok(circles)
}

async fn members_of(conn: &mut impl AsDb, circle_id: i64) -> AppResult<Vec<CircleMember>> {
    let rows = db!(
        *conn,
        fetch_all as (i64, String, String, String, i64),
        "SELECT u.id, u.username, u.display_name, cm.role, cm.added_at FROM circle_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.circle_id = $1
         ORDER BY CASE cm.role WHEN 'leader' THEN 0 WHEN 'co_leader' THEN 1 ELSE 2 END, u.username_key",
        circle_id
    )?;
    Ok(rows
        .into_iter()
        .map(
            |(id, username, display_name, role, added_at)| CircleMember {
                user: MemberSummary {
                    id,
                    username,
                    display_name,
                },
                role: CircleRole::parse(&role).unwrap_or(CircleRole::Member),
                added_at,
            },
        )
        .collect())
}

/// One circle with who is in it (its people, and the community's moderators and organisers).
#[utoipa::path(get, path = "/api/v1/circles/{id}", tag = "circles", operation_id = "get_circle",
    params(("id" = i64, Path)),
    responses((status = 200, body = Circle), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get_circle(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Circle>> {
    Ok(axum::Json(get_circle(&state, &session.user, id).await?))
}

/// One circle with who is in it; 404 unless `user` is in it or moderates the community.
pub async fn get_circle(state: &AppState, user: &User, id: i64) -> AppResult<Circle> {
    let mut conn = state.store.read().await?;
    let found = circle_access(&mut conn, id, user).await?;
    let members = members_of(&mut conn, id).await?;
    let mut circle = found.circle.view(&found.community, found.role);
    circle.members = Some(members);
    Ok(circle)
}

/// Rename a circle, change its capacity or meeting time (organisers).
#[utoipa::path(patch, path = "/api/v1/circles/{id}", tag = "circles", operation_id = "update_circle",
    params(("id" = i64, Path)),
    request_body = CircleChanges,
    responses((status = 200, body = Circle), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update_circle(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<CircleChanges>,
) -> AppResult<axum::Json<Circle>> {
    Ok(axum::Json(
        update_circle(&state, &session.user, id, &req.edit()?).await?,
    ))
}

/// Renames a circle, changes its capacity or meeting time (organisers).
pub async fn update_circle(
    state: &AppState,
    user: &User,
    id: i64,
    req: &CircleEdit,
) -> AppResult<Circle> {
    let found = {
        let mut conn = state.store.read().await?;
        circle_access(&mut conn, id, user).await?
    };
    found.access.require_organiser()?;
    let row = &found.circle;
    let mut fields = FieldErrors::new();
    let name = match &req.name {
        Some(n) => check_name(n, &mut fields),
        None => row.name.clone(),
    };
    let capacity = req.capacity.unwrap_or(row.capacity);
    check_capacity(capacity, &mut fields);
    if capacity < row.member_count {
        fields.push("capacity", "the circle already has more people than that");
    }
    let meeting = match req.meeting {
        None => row
            .meeting_weekday
            .zip(row.meeting_time.clone())
            .map(|(d, t)| (d, t, row.timezone.clone())),
        Some(m) => m.map(WeeklyTime::columns),
    };
    fields.into_result()?;
    let (day, time, zone) = meeting.unzip3();
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE circles SET name = $2, capacity = $3, meeting_weekday = $4, meeting_time = $5, timezone = $6, updated_at = $7 WHERE id = $1",
        id,
        &name,
        capacity,
        day,
        time,
        zone.unwrap_or_else(|| row.timezone.clone()),
        now_ms()
    )?;
    db!(
        tx,
        execute,
        "UPDATE rooms SET name = $2 WHERE circle_id = $1",
        id,
        &name
    )?;
    tx.commit().await?;
    let mut conn = state.store.read().await?;
    let found = circle_access(&mut conn, id, user).await?;
    Ok(found.circle.view(&found.community, found.role))
}

/// Close a circle (organisers): its room goes with it; goals shared with it become private.
#[utoipa::path(delete, path = "/api/v1/circles/{id}", tag = "circles", operation_id = "delete_circle",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete_circle(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    close_circle(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes a circle (organisers): its room goes with it; goals shared with it become private.
pub async fn close_circle(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let found = {
        let mut conn = state.store.read().await?;
        circle_access(&mut conn, id, user).await?
    };
    found.access.require_organiser()?;
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE goals SET circle_id = NULL WHERE circle_id = $1",
        id
    )?;
    db!(tx, execute, "DELETE FROM circles WHERE id = $1", id)?;
    tx.commit().await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct CirclePlace {
    /// `member` (default), `leader` or `co_leader`.
    pub role: Option<String>,
}

/// Puts `username` in the circle with `role` (or changes their role); whether they were new.
pub async fn add_member(
    state: &AppState,
    organiser: &User,
    id: i64,
    username: &str,
    role: CircleRole,
) -> AppResult<(CircleMember, bool)> {
    let (found, target) = {
        let mut conn = state.store.read().await?;
        let found = circle_access(&mut conn, id, organiser).await?;
        found.access.require_organiser()?;
        let target = find_by_username(&mut conn, username)
            .await?
            .ok_or(AppError::NotFound)?;
        (found, target)
    };
    let community_id = found.community.id;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // Takes the circle's row lock, so two organisers cannot both fill the last place.
    let locked = db!(
        tx,
        execute,
        "UPDATE circles SET updated_at = $2 WHERE id = $1",
        id,
        now
    )?;
    if locked == 0 {
        return Err(AppError::NotFound);
    }
    if !is_active_member(&mut tx, community_id, target.id).await? {
        return Err(AppError::invalid(
            "username",
            "only active members of the community can be placed in one of its circles",
        ));
    }
    let current = db!(
        tx,
        fetch_optional as (i64, String, i64),
        "SELECT circle_id, role, added_at FROM circle_members WHERE community_id = $1 AND user_id = $2",
        community_id,
        target.id
    )?;
    let (added_at, new, changed) = match current {
        Some((circle, old_role, added_at)) if circle == id => {
            db!(
                tx,
                execute,
                "UPDATE circle_members SET role = $3 WHERE circle_id = $1 AND user_id = $2",
                id,
                target.id,
                role.as_str()
            )?;
            (added_at, false, old_role != role.as_str())
        }
        Some(_) => {
            return Err(AppError::conflict(
                "in_another_circle",
                "this member is already in another circle of the community",
            ));
        }
        None => {
            let count = db!(tx, fetch_one scalar i64, "SELECT COUNT(*) FROM circle_members WHERE circle_id = $1", id)?;
            let capacity =
                db!(tx, fetch_one scalar i64, "SELECT capacity FROM circles WHERE id = $1", id)?;
            if count >= capacity {
                return Err(AppError::conflict(
                    "circle_full",
                    format!("this circle is full ({capacity} people)"),
                ));
            }
            // Another organiser may have just placed them elsewhere: the unique key decides.
            let inserted = db!(
                tx,
                execute,
                "INSERT INTO circle_members (circle_id, user_id, community_id, role, added_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                id,
                target.id,
                community_id,
                role.as_str(),
                now
            )?;
            if inserted == 0 {
                return Err(AppError::conflict(
                    "in_another_circle",
                    "this member is already in another circle of the community",
                ));
            }
            (now, true, true)
        }
    };
    let sent = if changed {
        let mut recipients = Recipients::default();
        recipients.add(target.id, Kind::CircleAdded);
        let about = About {
            community_id: Some(community_id),
            subject: Some(Subject::Circle(id)),
            ..Default::default()
        };
        Some(notify::send_about(&mut tx, &about, recipients).await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(sent) = sent {
        sent.publish(&state.realtime);
    }
    Ok((
        CircleMember {
            user: MemberSummary {
                id: target.id,
                username: target.username,
                display_name: target.display_name,
            },
            role,
            added_at,
        },
        new,
    ))
}

async fn is_active_member(
    conn: &mut impl AsDb,
    community_id: i64,
    user_id: i64,
) -> AppResult<bool> {
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT user_id FROM memberships WHERE community_id = $1 AND user_id = $2 AND status = 'active'",
        community_id,
        user_id
    )?
    .is_some())
}

/// Place a member in the circle, or change their role (organisers): 201 when added, 200 when
/// only the role changed. The member is notified (`circle_added`).
#[utoipa::path(put, path = "/api/v1/circles/{id}/members/{username}", tag = "circles", operation_id = "add_circle_member",
    params(("id" = i64, Path), ("username" = String, Path)),
    request_body = CirclePlace,
    responses((status = 201, body = CircleMember), (status = 200, body = CircleMember, description = "role changed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "circle_full or in_another_circle"), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_add_member(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((id, username)): Path<(i64, String)>,
    Json(req): Json<CirclePlace>,
) -> AppResult<(StatusCode, axum::Json<CircleMember>)> {
    let role = match req.role.as_deref() {
        None => CircleRole::Member,
        Some(r) => CircleRole::parse(r).map_err(|e| AppError::invalid("role", e))?,
    };
    let (member, new) = add_member(&state, &session.user, id, &username, role).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(member)))
}

/// Take someone out of a circle (organisers), or leave it yourself. Their goals shared with the
/// circle become private again.
#[utoipa::path(delete, path = "/api/v1/circles/{id}/members/{username}", tag = "circles", operation_id = "remove_circle_member",
    params(("id" = i64, Path), ("username" = String, Path)),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_remove_member(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((id, username)): Path<(i64, String)>,
) -> AppResult<StatusCode> {
    remove_member(&state, &session.user, id, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes `username` out of the circle (organisers, or they themselves); their goals shared
/// with it become private again.
pub async fn remove_member(
    state: &AppState,
    user: &User,
    id: i64,
    username: &str,
) -> AppResult<()> {
    let session_user = user;
    let (target, community_id) = {
        let mut conn = state.store.read().await?;
        let found = circle_access(&mut conn, id, session_user).await?;
        let target = find_by_username(&mut conn, username)
            .await?
            .ok_or(AppError::NotFound)?;
        if target.id != session_user.id && !found.access.is_organiser() {
            return Err(AppError::forbidden(
                "only the community's organisers take people out of circles",
            ));
        }
        (target, found.community.id)
    };
    let mut tx = state.store.begin().await?;
    let removed = db!(
        tx,
        execute,
        "DELETE FROM circle_members WHERE circle_id = $1 AND user_id = $2",
        id,
        target.id
    )?;
    if removed == 0 {
        return Err(AppError::NotFound);
    }
    db!(
        tx,
        execute,
        "UPDATE goals SET circle_id = NULL WHERE circle_id = $1 AND owner_id = $2",
        id,
        target.id
    )?;
    db!(
        tx,
        execute,
        "DELETE FROM circle_leader_alerts WHERE circle_id = $1 AND leader_id = $2",
        id,
        target.id
    )?;
    tx.commit().await?;
    // Sockets following the circle's room check it again.
    let reason = if target.id == session_user.id {
        Revoked::Left
    } else {
        Revoked::Removed
    };
    state
        .realtime
        .access_changed(target.id, community_id, reason);
    Ok(())
}

/// The goals the circle's members share with it (the circle's people only).
#[utoipa::path(get, path = "/api/v1/circles/{id}/goals", tag = "circles", operation_id = "circle_goals",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Goal>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_circle_goals(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Vec<Goal>>> {
    Ok(axum::Json(circle_goals(&state, &session.user, id).await?))
}

/// The goals the circle's members share with it (the circle's people only: 403 for overseers).
pub async fn circle_goals(state: &AppState, user: &User, id: i64) -> AppResult<Vec<Goal>> {
    let mut conn = state.store.read().await?;
    let found = circle_access(&mut conn, id, user).await?;
    if found.role.is_none() {
        return Err(AppError::forbidden(
            "goals are shared with the circle's members, not with its overseers",
        ));
    }
    let now = now_ms();
    let rows = goals::shared_with_circle(&mut conn, id).await?;
    Ok(rows.into_iter().map(|r| r.view(user.id, now)).collect())
}

/// A member's latest check-in, as the agenda shows it.
#[derive(Serialize, ToSchema, Debug)]
pub struct LatestCheckin {
    pub period_start: String,
    pub status: CheckinStatus,
    /// What helped or got in the way: for the circle's leaders only.
    pub note: Option<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// One goal on the agenda.
#[derive(Serialize, ToSchema, Debug)]
pub struct AgendaLine {
    pub goal: i64,
    pub title: String,
    pub cadence: goals::Cadence,
    pub times_per_period: i64,
    pub owner: MemberSummary,
    /// The owner's current period (local date it starts on).
    pub period_start: String,
    /// No check-in yet for the current period: follow it up at the session.
    pub due: bool,
    pub latest: Option<LatestCheckin>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct Agenda {
    pub circle: i64,
    /// The next session, or now when the circle has no meeting time.
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub session_at: i64,
    /// One line per goal shared with the circle, due ones first.
    pub lines: Vec<AgendaLine>,
}

/// The agenda for the circle's next session: every goal shared with the circle, whether its
/// check-in is due, and its latest check-in (leaders, co-leaders and organisers; notes for the
/// circle's leaders only). Private goals never appear.
#[utoipa::path(get, path = "/api/v1/circles/{id}/agenda", tag = "circles", operation_id = "circle_agenda",
    params(("id" = i64, Path)),
    responses((status = 200, body = Agenda), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_agenda(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Agenda>> {
    Ok(axum::Json(agenda(&state, &session.user, id).await?))
}

/// The next session's agenda (the circle's leaders and the community's organisers).
pub async fn agenda(state: &AppState, user: &User, id: i64) -> AppResult<Agenda> {
    let mut conn = state.store.read().await?;
    let found = circle_access(&mut conn, id, user).await?;
    let leads = found.role.is_some_and(CircleRole::leads);
    if !leads && !found.access.is_organiser() {
        return Err(AppError::forbidden(
            "the agenda is for the circle's leaders and the community's organisers",
        ));
    }
    let now = now_ms();
    let rows = goals::shared_with_circle(&mut conn, id).await?;
    let mut lines: Vec<AgendaLine> = rows
        .into_iter()
        .map(|r| {
            let due = r.is_due(now);
            let period_start = r.period_start_at(now).to_string();
            let latest = match (&r.last_period, r.last_status.as_deref(), r.last_at) {
                (Some(p), Some(s), Some(at)) => {
                    CheckinStatus::parse(s).ok().map(|status| LatestCheckin {
                        period_start: p.clone(),
                        status,
                        note: leads.then(|| r.last_note.clone().unwrap_or_default()),
                        created_at: at,
                    })
                }
                _ => None,
            };
            AgendaLine {
                goal: r.id,
                owner: r.owner(),
                cadence: r.cadence(),
                times_per_period: r.times_per_period,
                title: r.title,
                period_start,
                due,
                latest,
            }
        })
        .collect();
    lines.sort_by_key(|l| !l.due);
    Ok(Agenda {
        circle: id,
        session_at: found.circle.next_session(now).unwrap_or(now),
        lines,
    })
}

#[derive(sqlx::FromRow)]
struct LeaderActivity {
    circle_id: i64,
    user_id: i64,
    community_id: i64,
    last_session: Option<i64>,
    last_day: Option<i64>,
    created_at: i64,
    alerted: Option<i64>,
}

impl LeaderActivity {
    /// The latest sign of life: a session used or a day visited (the account's creation for
    /// someone who never signed in).
    fn last_active(&self) -> i64 {
        match (self.last_session, self.last_day.map(|d| d * DAY_MS)) {
            (None, None) => self.created_at,
            (a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
        }
    }
}

/// Tells a circle's other leaders and the community's organisers when a leader (or co-leader)
/// has been away 14 days: once per spell away, on however many nodes (the alert row is claimed
/// in the notification's transaction), and again only after the leader has come back.
pub async fn run_due(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let leaders = {
        let mut conn = store.read().await?;
        db!(
            conn,
            fetch_all as LeaderActivity,
            "SELECT cm.circle_id, cm.user_id, cm.community_id,
                    (SELECT MAX(s.last_used_at) FROM sessions s WHERE s.user_id = cm.user_id) AS last_session,
                    (SELECT MAX(v.day) FROM user_visits v WHERE v.user_id = cm.user_id) AS last_day,
                    u.created_at,
                    (SELECT a.alerted_at FROM circle_leader_alerts a WHERE a.circle_id = cm.circle_id AND a.leader_id = cm.user_id) AS alerted
             FROM circle_members cm JOIN users u ON u.id = cm.user_id
             WHERE cm.role IN ('leader', 'co_leader')
             ORDER BY cm.circle_id, cm.user_id"
        )?
    };
    let mut alerted = 0;
    for leader in leaders {
        let away = now - leader.last_active() > INACTIVE_AFTER_MS;
        if !away {
            if leader.alerted.is_some() {
                // Back again: the next spell away is reported afresh.
                let mut w = store.write().await?;
                db!(
                    w,
                    execute,
                    "DELETE FROM circle_leader_alerts WHERE circle_id = $1 AND leader_id = $2",
                    leader.circle_id,
                    leader.user_id
                )?;
            }
            continue;
        }
        if leader.alerted.is_some() {
            continue;
        }
        let mut tx = store.begin().await?;
        let claimed = db!(
            tx,
            execute,
            "INSERT INTO circle_leader_alerts (circle_id, leader_id, alerted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            leader.circle_id,
            leader.user_id,
            now
        )?;
        if claimed == 0 {
            continue;
        }
        let others = db!(
            tx,
            fetch_all scalar i64,
            "SELECT user_id FROM circle_members WHERE circle_id = $1 AND role IN ('leader', 'co_leader') AND user_id <> $2
             UNION
             SELECT user_id FROM community_roles WHERE community_id = $3 AND role = 'organiser' AND user_id <> $2",
            leader.circle_id,
            leader.user_id,
            leader.community_id
        )?;
        let mut recipients = Recipients::default();
        for id in others {
            recipients.add(id, Kind::LeaderInactive);
        }
        let about = About {
            community_id: Some(leader.community_id),
            subject: Some(Subject::Circle(leader.circle_id)),
            ..Default::default()
        };
        let sent = notify::send_about(&mut tx, &about, recipients).await?;
        tx.commit().await?;
        sent.publish(realtime);
        alerted += 1;
    }
    Ok(alerted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::format_ms;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn the_next_session_is_the_coming_weekday_at_local_time() {
        let mx = Zone::parse("America/Mexico_City").unwrap_or(Zone::UTC);
        let six = crate::clock::parse_hhmm("18:00").unwrap_or_default();
        // Tuesday 2026-12-01 12:00 in Mexico City (18:00 UTC); Thursday sessions at 18:00 local.
        let now = ms("2026-12-01T18:00:00Z");
        assert_eq!(
            format_ms(next_session(4, six, mx, now)),
            "2026-12-04T00:00:00.000Z"
        );
        // On the day, before the hour: today; after it: next week.
        let tuesday_before = ms("2026-12-01T23:59:00Z");
        assert_eq!(
            format_ms(next_session(2, six, mx, tuesday_before)),
            "2026-12-02T00:00:00.000Z"
        );
        let tuesday_after = ms("2026-12-02T00:01:00Z");
        assert_eq!(
            format_ms(next_session(2, six, mx, tuesday_after)),
            "2026-12-09T00:00:00.000Z"
        );
    }

    #[test]
    fn sessions_keep_local_time_across_daylight_saving() {
        let ny = Zone::parse("America/New_York").unwrap_or(Zone::UTC);
        let seven = crate::clock::parse_hhmm("19:00").unwrap_or_default();
        // Monday sessions at 19:00: before the 2026-11-01 change 23:00 UTC, after it 00:00 UTC.
        assert_eq!(
            format_ms(next_session(1, seven, ny, ms("2026-10-25T12:00:00Z"))),
            "2026-10-26T23:00:00.000Z"
        );
        assert_eq!(
            format_ms(next_session(1, seven, ny, ms("2026-11-01T12:00:00Z"))),
            "2026-11-03T00:00:00.000Z"
        );
    }
}
