//! Live sessions: organisers schedule a chat session in one of the community's rooms, offered at
//! several times of day (sibling sessions share a `series`); members say whether they are going
//! and are reminded 24 hours and 1 hour before; the room shows the session while it runs; and
//! afterwards the organiser posts a summary topic with the attendance (counts, never names).
//!
//! Once-only effects across nodes: the "session started/ended" frames are claimed with marker
//! columns (`UPDATE ... WHERE start_announced_at IS NULL`), reminders with a unique key per
//! (session, member, offset), the summary with `summary_topic_id IS NULL`.

use std::collections::HashMap;

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_time;
use crate::accounts::{Auth, MaybeAuth, User, serialize_time};
use crate::app::AppState;
use crate::communities::{
    Access, MemberSummary, find_by_id, load_access, organised_community, visible_community,
};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::forum::types::{PostBody, Title, TopicKind};
use crate::http::Json;
use crate::notify::{self, About, Kind, Recipients, Subject};
use crate::realtime::Realtime;
use crate::realtime::frames::ServerFrame;
use crate::store::{AsDb, Store, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_cancel))
        .routes(routes!(api_rsvp))
        .routes(routes!(api_summary))
        .routes(routes!(api_mine))
}

/// The longest session.
const MAX_LENGTH_MS: i64 = 12 * 3600 * 1000;
/// Reminders, in minutes before the start, smallest first.
const REMINDERS: [i64; 2] = [60, 24 * 60];
/// The most other times one request may offer a session at.
const MAX_ALSO_AT: usize = 5;
const MAX_DESCRIPTION: usize = 2000;

/// A session as a room shows it while it runs.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct LiveSession {
    pub id: i64,
    pub title: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: i64,
}

/// Where a session stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Upcoming,
    Live,
    Ended,
    Cancelled,
}

/// One of the times a session is offered at.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct SessionSlot {
    pub id: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: i64,
}

/// A live session (API.md `events`).
#[derive(Serialize, ToSchema, Debug)]
pub struct Event {
    pub id: i64,
    /// The community's address.
    pub community: String,
    pub room: i64,
    pub room_name: String,
    /// Sessions offered at several times share this id (the first session's).
    pub series: i64,
    /// Every time the series is offered at that is not cancelled, earliest first.
    pub times: Vec<SessionSlot>,
    pub title: String,
    pub description: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub ends_at: i64,
    pub status: EventStatus,
    /// How many members said they are going.
    pub going: i64,
    /// The caller's answer: null when they have not answered (or are not signed in).
    pub my_rsvp: Option<bool>,
    /// The summary topic posted after the session.
    pub summary_topic_id: Option<i64>,
    pub created_by: Option<MemberSummary>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
struct EventRow {
    id: i64,
    community_id: i64,
    community_slug: String,
    room_id: i64,
    room_name: String,
    series_id: Option<i64>,
    title: String,
    description: String,
    starts_at: i64,
    ends_at: i64,
    created_by: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    cancelled_at: Option<i64>,
    summary_topic_id: Option<i64>,
    created_at: i64,
    going: i64,
    my_rsvp: Option<bool>,
}

/// `$1` is the viewer's id (-1 for visitors).
macro_rules! event_select {
    () => {
        "SELECT e.id, e.community_id, c.slug AS community_slug, e.room_id, r.name AS room_name, e.series_id,
                e.title, e.description, e.starts_at, e.ends_at, e.created_by, u.username, u.display_name,
                e.cancelled_at, e.summary_topic_id, e.created_at,
                (SELECT COUNT(*) FROM event_rsvps v WHERE v.event_id = e.id AND v.going = TRUE) AS going,
                (SELECT v.going FROM event_rsvps v WHERE v.event_id = e.id AND v.user_id = $1) AS my_rsvp
         FROM events e JOIN rooms r ON r.id = e.room_id JOIN communities c ON c.id = e.community_id
         LEFT JOIN users u ON u.id = e.created_by "
    };
}

impl EventRow {
    fn status(&self, now: i64) -> EventStatus {
        if self.cancelled_at.is_some() {
            EventStatus::Cancelled
        } else if now >= self.ends_at {
            EventStatus::Ended
        } else if now >= self.starts_at {
            EventStatus::Live
        } else {
            EventStatus::Upcoming
        }
    }

    fn series(&self) -> i64 {
        self.series_id.unwrap_or(self.id)
    }

    fn view(self, times: Vec<SessionSlot>, now: i64) -> Event {
        Event {
            status: self.status(now),
            series: self.series(),
            id: self.id,
            community: self.community_slug,
            room: self.room_id,
            room_name: self.room_name,
            times,
            title: self.title,
            description: self.description,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            going: self.going,
            my_rsvp: self.my_rsvp,
            summary_topic_id: self.summary_topic_id,
            created_by: MemberSummary::from_columns(
                self.created_by,
                self.username,
                self.display_name,
            ),
            created_at: self.created_at,
        }
    }
}

impl Event {
    /// Leaves the description out for those who may see the community but not read it.
    fn for_reader(mut self, access: &Access) -> Event {
        if !access.can_read() {
            self.description.clear();
        }
        self
    }
}

async fn series_times(conn: &mut impl AsDb, series: i64) -> AppResult<Vec<SessionSlot>> {
    let rows = db!(
        *conn,
        fetch_all as (i64, i64, i64),
        "SELECT id, starts_at, ends_at FROM events WHERE (series_id = $1 OR id = $1) AND cancelled_at IS NULL
         ORDER BY starts_at, id LIMIT 20",
        series
    )?;
    Ok(rows
        .into_iter()
        .map(|(id, starts_at, ends_at)| SessionSlot {
            id,
            starts_at,
            ends_at,
        })
        .collect())
}

/// The session, and the viewer's access to its community; 404 when they may not know of it.
/// As with forum topics, visitors of a members-only community see the session but not its
/// description.
async fn visible_event(
    conn: &mut impl AsDb,
    id: i64,
    viewer: Option<&User>,
) -> AppResult<(EventRow, Access)> {
    let row = db!(
        *conn,
        fetch_optional as EventRow,
        concat!(event_select!(), "WHERE e.id = $2"),
        viewer.map_or(-1, |u| u.id),
        id
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, row.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, viewer).await?;
    if !access.can_see() {
        return Err(AppError::NotFound);
    }
    Ok((row, access))
}

async fn load_view(conn: &mut impl AsDb, id: i64, viewer: Option<&User>) -> AppResult<Event> {
    let (row, access) = visible_event(conn, id, viewer).await?;
    let times = series_times(conn, row.series()).await?;
    Ok(row.view(times, now_ms()).for_reader(&access))
}

/// One session as `viewer` sees it (404 when they may not know of it, 403 when they may not read
/// its community).
pub async fn get_event(state: &AppState, viewer: Option<&User>, id: i64) -> AppResult<Event> {
    let mut conn = state.store.read().await?;
    load_view(&mut conn, id, viewer).await
}

/// The session running in a room now, if any (the earliest started when they overlap).
pub async fn live_in_room(conn: &mut impl AsDb, room: i64) -> AppResult<Option<LiveSession>> {
    let now = now_ms();
    let row = db!(
        *conn,
        fetch_optional as (i64, String, i64, i64),
        "SELECT id, title, starts_at, ends_at FROM events
         WHERE room_id = $1 AND cancelled_at IS NULL AND starts_at <= $2 AND ends_at > $2
         ORDER BY starts_at, id LIMIT 1",
        room,
        now
    )?;
    Ok(row.map(|(id, title, starts_at, ends_at)| LiveSession {
        id,
        title,
        starts_at,
        ends_at,
    }))
}

/// The sessions running now in a community's rooms, by room.
pub async fn live_in_community(
    conn: &mut impl AsDb,
    community_id: i64,
) -> AppResult<HashMap<i64, LiveSession>> {
    let now = now_ms();
    let rows = db!(
        *conn,
        fetch_all as (i64, i64, String, i64, i64),
        "SELECT room_id, id, title, starts_at, ends_at FROM events
         WHERE community_id = $1 AND cancelled_at IS NULL AND starts_at <= $2 AND ends_at > $2
         ORDER BY starts_at DESC, id DESC",
        community_id,
        now
    )?;
    // Later rows are earlier sessions: they win, as in `live_in_room`.
    Ok(rows
        .into_iter()
        .map(|(room, id, title, starts_at, ends_at)| {
            (
                room,
                LiveSession {
                    id,
                    title,
                    starts_at,
                    ends_at,
                },
            )
        })
        .collect())
}

/// Tells a room's sockets which session runs there now (or that none does).
async fn publish_live(store: &Store, realtime: &Realtime, room: i64) -> AppResult<()> {
    let live = {
        let mut conn = store.read().await?;
        live_in_room(&mut conn, room).await?
    };
    realtime.publish_room(
        room,
        None,
        ServerFrame::Session {
            room,
            session: live.as_ref(),
        }
        .encode(),
    );
    Ok(())
}

#[derive(Deserialize, ToSchema, Clone)]
pub struct SessionTime {
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; after `starts_at`, at most 12 hours later.
    pub ends_at: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewEvent {
    /// The id of one of the community's rooms.
    pub room: i64,
    /// 5–200 characters.
    pub title: String,
    /// Plain text, up to 2,000 characters.
    pub description: Option<String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; after `starts_at` and in the future, at most 12 hours later.
    pub ends_at: String,
    /// The same session offered at other times (up to 5): sibling sessions in one series.
    pub also_at: Option<Vec<SessionTime>>,
}

/// Reads an API (start, end) pair of RFC 3339 times; the reasons go under `prefix`.
fn read_times(
    starts: &str,
    ends: &str,
    prefix: &str,
    fields: &mut FieldErrors,
) -> Option<(i64, i64)> {
    let s = fields.check(&format!("{prefix}starts_at"), parse_time(starts));
    let e = fields.check(&format!("{prefix}ends_at"), parse_time(ends));
    s.zip(e)
}

/// Checks one (start, end) pair; the instants, or the reasons under `prefix`.
fn check_times(
    (s, e): (i64, i64),
    now: i64,
    prefix: &str,
    fields: &mut FieldErrors,
) -> Option<(i64, i64)> {
    let mut bad = |f: &str, why: &str| fields.push(format!("{prefix}{f}"), why);
    if e <= s {
        bad("ends_at", "a session ends after it starts");
        return None;
    }
    if e - s > MAX_LENGTH_MS {
        bad("ends_at", "a session lasts at most 12 hours");
        return None;
    }
    if e <= now {
        bad("ends_at", "this time is already over");
        return None;
    }
    if s > now + 2 * 366 * 24 * 3600 * 1000 {
        bad("starts_at", "sessions are planned at most two years ahead");
        return None;
    }
    Some((s, e))
}

/// A session as organisers plan it, times already read (UTC ms).
#[derive(Clone, Debug)]
pub struct EventDraft {
    /// The id of one of the community's rooms.
    pub room: i64,
    pub title: String,
    pub description: String,
    pub starts_at: i64,
    pub ends_at: i64,
    /// The same session at other times: (start, end) pairs.
    pub also_at: Vec<(i64, i64)>,
}

impl NewEvent {
    /// The request with its times read; unreadable times are refused by field.
    pub fn draft(&self) -> AppResult<EventDraft> {
        let mut fields = FieldErrors::new();
        let main = read_times(&self.starts_at, &self.ends_at, "", &mut fields);
        let also_at = self.also_at.as_deref().unwrap_or_default();
        let others: Vec<_> = also_at
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                read_times(
                    &t.starts_at,
                    &t.ends_at,
                    &format!("also_at.{i}."),
                    &mut fields,
                )
            })
            .collect();
        fields.into_result()?;
        let (starts_at, ends_at) = main.unwrap_or_default();
        Ok(EventDraft {
            room: self.room,
            title: self.title.clone(),
            description: self.description.clone().unwrap_or_default(),
            starts_at,
            ends_at,
            also_at: others,
        })
    }
}

fn check_description(raw: Option<&str>, fields: &mut FieldErrors) -> String {
    let d = raw.unwrap_or("").trim();
    if d.chars().count() > MAX_DESCRIPTION {
        fields.push("description", "a description has at most 2,000 characters");
    }
    d.replace('\0', "")
}

/// Schedules a session (and its siblings at the other times) in the community at `slug`:
/// organisers only; the room must be one of the community's.
pub async fn create(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &EventDraft,
) -> AppResult<Event> {
    let (community, room_ok) = {
        let mut conn = state.store.read().await?;
        let (community, _) = organised_community(&mut conn, slug, user).await?;
        let room = db!(
            conn,
            fetch_optional scalar i64,
            "SELECT id FROM rooms WHERE id = $1 AND community_id = $2",
            req.room,
            community.id
        )?;
        (community, room.is_some())
    };
    let now = now_ms();
    let mut fields = FieldErrors::new();
    if !room_ok {
        fields.push("room", "choose one of this community's rooms");
    }
    let title = fields.check("title", Title::parse(&req.title));
    let description = check_description(Some(&req.description), &mut fields);
    let main = check_times((req.starts_at, req.ends_at), now, "", &mut fields);
    if req.also_at.len() > MAX_ALSO_AT {
        fields.push("also_at", "offer a session at most 6 times in one go");
    }
    let mut slots = Vec::new();
    for (i, t) in req.also_at.iter().take(MAX_ALSO_AT).enumerate() {
        slots.extend(check_times(*t, now, &format!("also_at.{i}."), &mut fields));
    }
    let (Some(title), Some((starts_at, ends_at)), true) = (title, main, fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let mut tx = state.store.begin().await?;
    let insert = "INSERT INTO events (community_id, room_id, series_id, title, description, starts_at, ends_at, created_by, created_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    let id = db!(
        tx,
        fetch_one scalar i64,
        insert,
        community.id,
        req.room,
        None::<i64>,
        title.as_str(),
        &description,
        starts_at,
        ends_at,
        user.id,
        now
    )?;
    db!(
        tx,
        execute,
        "UPDATE events SET series_id = id WHERE id = $1",
        id
    )?;
    for (s, e) in slots {
        db!(
            tx,
            fetch_one scalar i64,
            insert,
            community.id,
            req.room,
            id,
            title.as_str(),
            &description,
            s,
            e,
            user.id,
            now
        )?;
    }
    tx.commit().await?;
    // A session created while it already runs shows in its room at once.
    if starts_at <= now {
        publish_live(&state.store, &state.realtime, req.room).await?;
    }
    let mut conn = state.store.read().await?;
    load_view(&mut conn, id, Some(user)).await
}

/// Schedule a live chat session in one of the community's rooms (organisers); `also_at` offers
/// it at other times too. Answers the first session, with every time in `times`.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/events", tag = "calendar", operation_id = "create_event",
    params(("slug" = String, Path)),
    request_body = NewEvent,
    responses((status = 201, body = Event), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewEvent>,
) -> AppResult<(StatusCode, axum::Json<Event>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create(&state, &session.user, &slug, &req.draft()?).await?),
    ))
}

/// Groups rows into answers, giving each the times of its series found among them.
fn with_times(rows: Vec<EventRow>, all: &[EventRow], now: i64) -> Vec<Event> {
    rows.into_iter()
        .map(|r| {
            let series = r.series();
            let mut times: Vec<SessionSlot> = all
                .iter()
                .filter(|o| o.series() == series)
                .map(|o| SessionSlot {
                    id: o.id,
                    starts_at: o.starts_at,
                    ends_at: o.ends_at,
                })
                .collect();
            times.sort_by_key(|t| (t.starts_at, t.id));
            r.view(times, now)
        })
        .collect()
}

/// A community's sessions: those still to come or running (earliest first), then the 20 latest
/// that ended. Cancelled ones are left out; visitors of a members-only community get no
/// descriptions.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/events", tag = "calendar", operation_id = "list_events",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Event>), (status = 404, body = ErrorBody)))]
async fn api_list(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Event>>> {
    Ok(axum::Json(
        list(&state, viewer.as_ref().map(|s| &s.user), &slug).await?,
    ))
}

/// A community's sessions as `user` may see them: to come or running, then the 20 latest ended.
pub async fn list(state: &AppState, user: Option<&User>, slug: &str) -> AppResult<Vec<Event>> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, user).await?;
    let now = now_ms();
    let uid = user.as_ref().map_or(-1, |u| u.id);
    let mut rows = db!(
        conn,
        fetch_all as EventRow,
        concat!(
            event_select!(),
            "WHERE e.community_id = $2 AND e.cancelled_at IS NULL AND e.ends_at > $3 ORDER BY e.starts_at, e.id LIMIT 100"
        ),
        uid,
        community.id,
        now
    )?;
    rows.extend(db!(
        conn,
        fetch_all as EventRow,
        concat!(
            event_select!(),
            "WHERE e.community_id = $2 AND e.cancelled_at IS NULL AND e.ends_at <= $3 ORDER BY e.starts_at DESC, e.id DESC LIMIT 20"
        ),
        uid,
        community.id,
        now
    )?);
    let all = rows.clone();
    Ok(with_times(rows, &all, now)
        .into_iter()
        .map(|e| e.for_reader(&access))
        .collect())
}

/// The sessions the caller said they are going to that have not ended, earliest first.
#[utoipa::path(get, path = "/api/v1/me/events", tag = "calendar", operation_id = "my_events",
    responses((status = 200, body = Vec<Event>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_mine(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Vec<Event>>> {
    Ok(axum::Json(going_to(&state, &session.user).await?))
}

/// The sessions `user` said they are going to that have not ended, earliest first.
pub async fn going_to(state: &AppState, user: &User) -> AppResult<Vec<Event>> {
    let now = now_ms();
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as EventRow,
        concat!(
            event_select!(),
            "JOIN event_rsvps mine ON mine.event_id = e.id AND mine.user_id = $1 AND mine.going = TRUE
             JOIN memberships m ON m.community_id = e.community_id AND m.user_id = $1 AND m.status = 'active'
             WHERE e.cancelled_at IS NULL AND e.ends_at > $2 ORDER BY e.starts_at, e.id LIMIT 100"
        ),
        user.id,
        now
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let times = series_times(&mut conn, r.series()).await?;
        out.push(r.view(times, now));
    }
    Ok(out)
}

/// One session.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "calendar", operation_id = "get_event",
    params(("id" = i64, Path)),
    responses((status = 200, body = Event), (status = 404, body = ErrorBody)))]
async fn api_get(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Event>> {
    let mut conn = state.store.read().await?;
    Ok(axum::Json(
        load_view(&mut conn, id, viewer.as_ref().map(|s| &s.user)).await?,
    ))
}

/// The session for one of its community's organisers, refusing cancelled and ended ones.
async fn organised_event(state: &AppState, id: i64, user: &User) -> AppResult<EventRow> {
    let mut conn = state.store.read().await?;
    let (row, access) = visible_event(&mut conn, id, Some(user)).await?;
    access.require_organiser()?;
    Ok(row)
}

#[derive(Deserialize, ToSchema)]
pub struct EventChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    /// RFC 3339; give both times to move the session.
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
}

/// Change a session that has not ended (organisers). Moving it resets its reminders.
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "calendar", operation_id = "update_event",
    params(("id" = i64, Path)),
    request_body = EventChanges,
    responses((status = 200, body = Event), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<EventChanges>,
) -> AppResult<axum::Json<Event>> {
    Ok(axum::Json(
        update(&state, &session.user, id, &req.edit()?).await?,
    ))
}

/// Changes to a session; `None` keeps what is there (times in UTC ms).
#[derive(Clone, Debug, Default)]
pub struct EventEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
}

impl EventChanges {
    pub fn edit(&self) -> AppResult<EventEdit> {
        let (starts_at, ends_at) =
            super::read_span(self.starts_at.as_deref(), self.ends_at.as_deref())?;
        Ok(EventEdit {
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at,
            ends_at,
        })
    }
}

/// Changes a session that has not ended (organisers). Moving it resets its reminders.
pub async fn update(state: &AppState, user: &User, id: i64, req: &EventEdit) -> AppResult<Event> {
    let row = organised_event(state, id, user).await?;
    let now = now_ms();
    match row.status(now) {
        EventStatus::Cancelled => {
            return Err(AppError::conflict(
                "cancelled",
                "this session was cancelled",
            ));
        }
        EventStatus::Ended => return Err(AppError::conflict("ended", "this session has ended")),
        _ => {}
    }
    let mut fields = FieldErrors::new();
    let title = match req.title.as_deref() {
        Some(t) => fields
            .check("title", Title::parse(t))
            .map(|t| t.as_str().to_owned()),
        None => Some(row.title.clone()),
    };
    let description = match req.description.as_deref() {
        Some(d) => check_description(Some(d), &mut fields),
        None => row.description.clone(),
    };
    let moved = req.starts_at.is_some() || req.ends_at.is_some();
    let times = if moved {
        let times = (
            req.starts_at.unwrap_or(row.starts_at),
            req.ends_at.unwrap_or(row.ends_at),
        );
        check_times(times, now, "", &mut fields)
    } else {
        Some((row.starts_at, row.ends_at))
    };
    let (Some(title), Some((starts_at, ends_at)), true) = (title, times, fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE events SET title = $2, description = $3, starts_at = $4, ends_at = $5 WHERE id = $1",
        id,
        &title,
        &description,
        starts_at,
        ends_at
    )?;
    if moved {
        // Reminders and the room's frames follow the new times.
        db!(
            tx,
            execute,
            "DELETE FROM event_reminders WHERE event_id = $1",
            id
        )?;
        db!(
            tx,
            execute,
            "UPDATE events SET start_announced_at = NULL, end_announced_at = NULL WHERE id = $1",
            id
        )?;
    }
    tx.commit().await?;
    if moved {
        publish_live(&state.store, &state.realtime, row.room_id).await?;
    }
    let mut conn = state.store.read().await?;
    load_view(&mut conn, id, Some(user)).await
}

/// Cancel a session (organisers): those going are told; the room stops showing it.
#[utoipa::path(delete, path = "/api/v1/events/{id}", tag = "calendar", operation_id = "cancel_event",
    params(("id" = i64, Path)),
    responses((status = 204, description = "cancelled"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_cancel(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    cancel(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a session (organisers), telling those going when it had not ended yet.
pub async fn cancel(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let row = organised_event(state, id, user).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let cancelled = db!(
        tx,
        execute,
        "UPDATE events SET cancelled_at = $2 WHERE id = $1 AND cancelled_at IS NULL",
        id,
        now
    )?;
    let mut sent = None;
    if cancelled == 1 && now < row.ends_at {
        let going = db!(
            tx,
            fetch_all scalar i64,
            "SELECT user_id FROM event_rsvps WHERE event_id = $1 AND going = TRUE AND user_id <> $2",
            id,
            user.id
        )?;
        let mut recipients = Recipients::default();
        for uid in going {
            recipients.add(uid, Kind::EventCancelled);
        }
        let about = About {
            community_id: Some(row.community_id),
            subject: Some(Subject::Event(id)),
            ..About::default()
        };
        sent = Some(notify::send_about(&mut tx, &about, recipients).await?);
    }
    tx.commit().await?;
    if let Some(sent) = sent {
        sent.publish(&state.realtime);
        publish_live(&state.store, &state.realtime, row.room_id).await?;
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct Rsvp {
    pub going: bool,
}

/// Say whether you are going (members of the community). Answers the session with the count.
#[utoipa::path(post, path = "/api/v1/events/{id}/rsvp", tag = "calendar", operation_id = "rsvp",
    params(("id" = i64, Path)),
    request_body = Rsvp,
    responses((status = 200, body = Event), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_rsvp(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<Rsvp>,
) -> AppResult<axum::Json<Event>> {
    Ok(axum::Json(
        rsvp(&state, &session.user, id, req.going).await?,
    ))
}

/// Records a member's answer; `going_since` keeps the first "yes" of an unbroken run of them.
pub async fn rsvp(state: &AppState, user: &User, id: i64, going: bool) -> AppResult<Event> {
    let now = now_ms();
    {
        let mut conn = state.store.read().await?;
        let (row, access) = visible_event(&mut conn, id, Some(user)).await?;
        if !access.can_post() {
            return Err(AppError::forbidden(
                "join this community to say you are going",
            ));
        }
        match row.status(now) {
            EventStatus::Cancelled => {
                return Err(AppError::conflict(
                    "cancelled",
                    "this session was cancelled",
                ));
            }
            EventStatus::Ended => {
                return Err(AppError::conflict("ended", "this session has ended"));
            }
            _ => {}
        }
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO event_rsvps (event_id, user_id, going, going_since, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event_id, user_id) DO UPDATE SET
             going = excluded.going,
             going_since = CASE WHEN excluded.going = FALSE THEN NULL
                                WHEN event_rsvps.going = TRUE THEN event_rsvps.going_since
                                ELSE excluded.going_since END,
             updated_at = excluded.updated_at",
        id,
        user.id,
        going,
        going.then_some(now),
        now
    )?;
    drop(w);
    let mut conn = state.store.read().await?;
    load_view(&mut conn, id, Some(user)).await
}

#[derive(Deserialize, ToSchema)]
pub struct NewSummary {
    /// Markdown: what was shared (no names unless people agreed). The attendance is added below.
    pub body: String,
    /// The topic's title; "Summary: <session title>" when absent.
    pub title: Option<String>,
}

/// After a session ends, its organiser posts a summary topic once; the opening post ends with
/// the attendance: how many said they would go and how many members wrote in the room during
/// the session (counts only).
pub async fn post_summary(
    state: &AppState,
    user: &User,
    id: i64,
    req: &NewSummary,
) -> AppResult<Event> {
    let row = organised_event(state, id, user).await?;
    match row.status(now_ms()) {
        EventStatus::Cancelled => {
            return Err(AppError::conflict(
                "cancelled",
                "this session was cancelled",
            ));
        }
        EventStatus::Ended => {}
        _ => {
            return Err(AppError::conflict(
                "not_ended",
                "a summary is posted after the session ends",
            ));
        }
    }
    if row.summary_topic_id.is_some() {
        return Err(AppError::conflict(
            "summary_exists",
            "this session already has its summary",
        ));
    }
    let mut fields = FieldErrors::new();
    let body = fields.check("body", PostBody::parse(&req.body));
    let title = match req.title.as_deref() {
        Some(t) => Title::parse(t),
        None => {
            let t: String = format!("Summary: {}", row.title)
                .chars()
                .take(200)
                .collect();
            Title::parse(&t)
        }
    };
    let title = fields.check("title", title);
    let (Some(body), Some(title), true) = (body, title, fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let mut tx = state.store.begin().await?;
    let going = db!(
        tx,
        fetch_one scalar i64,
        "SELECT COUNT(*) FROM event_rsvps WHERE event_id = $1 AND going = TRUE",
        id
    )?;
    let wrote = db!(
        tx,
        fetch_one scalar i64,
        "SELECT COUNT(DISTINCT author_id) FROM chat_messages
         WHERE room_id = $1 AND created_at >= $2 AND created_at < $3 AND author_id IS NOT NULL AND deleted_at IS NULL",
        row.room_id,
        row.starts_at,
        row.ends_at
    )?;
    let text = format!(
        "{}\n\n---\n\n**Attendance:** {going} {} said they would come; {wrote} {} wrote in the room during the session.",
        body.as_str().trim_end(),
        if going == 1 { "member" } else { "members" },
        if wrote == 1 { "member" } else { "members" },
    );
    let (topic_id, _) = crate::forum::insert_topic(
        &mut tx,
        row.community_id,
        Some(user.id),
        title.as_str(),
        TopicKind::Themed,
        &text,
    )
    .await?;
    let linked = db!(
        tx,
        execute,
        "UPDATE events SET summary_topic_id = $2 WHERE id = $1 AND summary_topic_id IS NULL",
        id,
        topic_id
    )?;
    if linked == 0 {
        // Someone else's summary got there first; ours rolls back.
        return Err(AppError::conflict(
            "summary_exists",
            "this session already has its summary",
        ));
    }
    tx.commit().await?;
    let mut conn = state.store.read().await?;
    load_view(&mut conn, id, Some(user)).await
}

/// Post the summary topic of a session that has ended (organisers, once: 409 after).
#[utoipa::path(post, path = "/api/v1/events/{id}/summary", tag = "calendar", operation_id = "post_event_summary",
    params(("id" = i64, Path)),
    request_body = NewSummary,
    responses((status = 201, body = Event), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_summary(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<NewSummary>,
) -> AppResult<(StatusCode, axum::Json<Event>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(post_summary(&state, &session.user, id, &req).await?),
    ))
}

#[derive(sqlx::FromRow)]
struct ReminderCandidate {
    event_id: i64,
    community_id: i64,
    starts_at: i64,
    user_id: i64,
    going_since: Option<i64>,
    least_sent: Option<i64>,
}

/// The reminder due for a member at `now`: the smallest offset whose moment has come, unless
/// that moment came before they said yes or a reminder at least as close was already sent.
/// Catching up after downtime therefore sends only the latest reminder, never an older one.
pub fn reminder_due(
    starts_at: i64,
    now: i64,
    going_since: Option<i64>,
    least_sent: Option<i64>,
) -> Option<i64> {
    if now >= starts_at {
        return None;
    }
    let offset = REMINDERS
        .into_iter()
        .find(|o| now >= starts_at - o * 60_000)?;
    let moment = starts_at - offset * 60_000;
    if going_since.is_some_and(|g| moment < g) || least_sent.is_some_and(|l| l <= offset) {
        return None;
    }
    Some(offset)
}

/// Announces sessions starting and ending in their rooms and sends the reminders that are due;
/// how many frames and reminders went out.
pub async fn run_due(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let mut done = 0;
    let (starting, ending, candidates) = {
        let mut conn = store.read().await?;
        let starting = db!(
            conn,
            fetch_all as (i64, i64),
            "SELECT id, room_id FROM events WHERE cancelled_at IS NULL AND start_announced_at IS NULL
             AND starts_at <= $1 AND ends_at > $1 ORDER BY starts_at LIMIT 200",
            now
        )?;
        let ending = db!(
            conn,
            fetch_all as (i64, i64),
            "SELECT id, room_id FROM events WHERE cancelled_at IS NULL AND start_announced_at IS NOT NULL
             AND end_announced_at IS NULL AND ends_at <= $1 ORDER BY ends_at LIMIT 200",
            now
        )?;
        let (hour, day) = (REMINDERS[0] * 60_000, REMINDERS[1] * 60_000);
        // Leaves out in SQL what `reminder_due` would refuse, so members whose reminders went
        // never crowd out those still waiting for theirs.
        let candidates = db!(
            conn,
            fetch_all as ReminderCandidate,
            "SELECT e.id AS event_id, e.community_id, e.starts_at, v.user_id, v.going_since,
                    (SELECT MIN(r.offset_minutes) FROM event_reminders r WHERE r.event_id = e.id AND r.user_id = v.user_id) AS least_sent
             FROM events e
             JOIN event_rsvps v ON v.event_id = e.id AND v.going = TRUE
             JOIN memberships m ON m.community_id = e.community_id AND m.user_id = v.user_id AND m.status = 'active'
             WHERE e.cancelled_at IS NULL AND e.starts_at > $1 AND e.starts_at <= $1 + $3
               AND NOT EXISTS (SELECT 1 FROM event_reminders r WHERE r.event_id = e.id AND r.user_id = v.user_id
                               AND (r.offset_minutes = $4 OR e.starts_at > $1 + $2))
               AND (v.going_since IS NULL
                    OR v.going_since <= CASE WHEN e.starts_at <= $1 + $2 THEN e.starts_at - $2 ELSE e.starts_at - $3 END)
             ORDER BY e.starts_at LIMIT 2000",
            now,
            hour,
            day,
            REMINDERS[0]
        )?;
        (starting, ending, candidates)
    };
    for (id, room) in starting {
        let mut w = store.write().await?;
        let claimed = db!(
            w,
            execute,
            "UPDATE events SET start_announced_at = $2 WHERE id = $1 AND start_announced_at IS NULL",
            id,
            now
        )?;
        drop(w);
        if claimed == 1 {
            publish_live(store, realtime, room).await?;
            done += 1;
        }
    }
    for (id, room) in ending {
        let mut w = store.write().await?;
        let claimed = db!(
            w,
            execute,
            "UPDATE events SET end_announced_at = $2 WHERE id = $1 AND end_announced_at IS NULL",
            id,
            now
        )?;
        drop(w);
        if claimed == 1 {
            publish_live(store, realtime, room).await?;
            done += 1;
        }
    }
    for c in candidates {
        let Some(offset) = reminder_due(c.starts_at, now, c.going_since, c.least_sent) else {
            continue;
        };
        let mut tx = store.begin().await?;
        let claimed = db!(
            tx,
            execute,
            "INSERT INTO event_reminders (event_id, user_id, offset_minutes, sent_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            c.event_id,
            c.user_id,
            offset,
            now
        )?;
        if claimed == 0 {
            continue;
        }
        let mut recipients = Recipients::default();
        recipients.add(c.user_id, Kind::EventReminder);
        let about = About {
            community_id: Some(c.community_id),
            subject: Some(Subject::Event(c.event_id)),
            ..About::default()
        };
        let sent = notify::send_about(&mut tx, &about, recipients).await?;
        tx.commit().await?;
        sent.publish(realtime);
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    #[test]
    fn reminders_fall_due_once_each_and_catch_up_with_the_latest() {
        let start = 100 * H;
        // More than a day ahead: nothing yet.
        assert_eq!(reminder_due(start, start - 25 * H, Some(0), None), None);
        // A day ahead: the 24-hour reminder.
        assert_eq!(
            reminder_due(start, start - 24 * H, Some(0), None),
            Some(1440)
        );
        // Sent already: not again.
        assert_eq!(
            reminder_due(start, start - 20 * H, Some(0), Some(1440)),
            None
        );
        // The hour: the 1-hour reminder, once.
        assert_eq!(
            reminder_due(start, start - H, Some(0), Some(1440)),
            Some(60)
        );
        assert_eq!(reminder_due(start, start - H / 2, Some(0), Some(60)), None);
        // Back after downtime half an hour before: only the 1-hour reminder, not the day one.
        assert_eq!(reminder_due(start, start - H / 2, Some(0), None), Some(60));
        // Said yes after the moment: skipped.
        assert_eq!(
            reminder_due(start, start - H / 2, Some(start - 40 * 60_000), None),
            None
        );
        // Started: never.
        assert_eq!(reminder_due(start, start, Some(0), None), None);
    }
}
