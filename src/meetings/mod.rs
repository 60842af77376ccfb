//! In-person meetings: organisers list where and when a group meets (a health centre's room,
//! every Tuesday at 10:00 local time), members see the next ones and may say they are going,
//! and iCalendar feeds carry a group's live sessions and meetings, or a member's own RSVPs.
//!
//! Recurrence is `calendar::schedules::Recurrence` (DST-safe local wall-clock times).
//! Who sees meetings: anyone who may read the community (public: everyone; members and private:
//! its members) — a meeting's address is not announced to people outside a closed group.
//! Calendar apps cannot send a bearer token, so a member's own feed is also reachable with a
//! secret key (`POST /api/v1/me/calendar-key`), stored hashed and revocable.

pub mod ics;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::session::{hash_token, random_secret};
use crate::accounts::{Auth, MaybeAuth, Session, User, serialize_time};
use crate::app::AppState;
use crate::calendar::parse_time;
use crate::calendar::schedules::{Recurrence, Repeat};
use crate::clock::Zone;
use crate::communities::{
    Access, CommunityRow, find_by_id, load_access, organised_community, visible_community,
};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_cancel))
        .routes(routes!(api_rsvp))
        .routes(routes!(api_community_feed))
        .routes(routes!(api_my_feed))
        .routes(routes!(api_create_key, api_revoke_key))
}

/// How many next occurrences a meeting shows.
const NEXT: usize = 5;
/// How far back and ahead feeds reach.
const FEED_PAST_MS: i64 = 30 * 24 * 3600 * 1000;
const FEED_AHEAD: usize = 26;

#[derive(sqlx::FromRow, Clone)]
struct MeetingRow {
    id: i64,
    community_id: i64,
    title: String,
    place: String,
    address: String,
    first_at: i64,
    duration_minutes: i64,
    recurrence: String,
    timezone: String,
    notes: String,
    contact: String,
    cancelled_at: Option<i64>,
    created_at: i64,
}

macro_rules! meeting_columns {
    () => {
        "id, community_id, title, place, address, first_at, duration_minutes, recurrence, timezone, notes, contact, cancelled_at, created_at"
    };
}

impl MeetingRow {
    fn rule(&self) -> Recurrence {
        Recurrence::new(
            self.first_at,
            Zone::from_stored(&self.timezone),
            Repeat::parse(&self.recurrence).unwrap_or(Repeat::None),
            None,
            None,
        )
    }

    fn duration_ms(&self) -> i64 {
        self.duration_minutes * 60_000
    }

    /// Up to `limit` occurrences not yet over at `now`: (number, start).
    fn next(&self, now: i64, limit: usize) -> Vec<(i64, i64)> {
        if self.cancelled_at.is_some() {
            return Vec::new();
        }
        let rule = self.rule();
        let Some((k, _)) = rule.first_from(0, now - self.duration_ms() + 1) else {
            return Vec::new();
        };
        (k..k + limit as i64)
            .map_while(|n| rule.at(n).map(|t| (n, t)))
            .collect()
    }
}

#[derive(Serialize, ToSchema, Debug)]
pub struct Meeting {
    pub id: i64,
    pub community: String,
    pub title: String,
    /// The place's name, e.g. "Centro de Salud San Juan, sala 2".
    pub place: String,
    pub address: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub first_at: i64,
    pub repeat: Repeat,
    /// The IANA zone whose wall-clock time the meeting keeps.
    pub timezone: String,
    pub duration_minutes: i64,
    /// Accessibility and practical notes (step-free entrance, glucose checks offered…).
    pub notes: String,
    pub contact: String,
    pub cancelled: bool,
    /// The next starts (RFC 3339, UTC), the one under way first.
    #[serde(serialize_with = "crate::accounts::serialize_times")]
    #[schema(value_type = Vec<String>)]
    pub next: Vec<i64>,
    /// How many members said they are going.
    pub going_count: i64,
    /// The caller's answer, if any.
    pub going: Option<bool>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

async fn view(
    conn: &mut impl AsDb,
    row: MeetingRow,
    slug: &str,
    viewer: Option<&User>,
    now: i64,
) -> AppResult<Meeting> {
    let going_count = db!(
        *conn,
        fetch_one scalar i64,
        "SELECT COUNT(*) FROM meeting_rsvps WHERE meeting_id = $1 AND going = TRUE",
        row.id
    )?;
    let going = match viewer {
        Some(u) => db!(
            *conn,
            fetch_optional scalar bool,
            "SELECT going FROM meeting_rsvps WHERE meeting_id = $1 AND user_id = $2",
            row.id,
            u.id
        )?,
        None => None,
    };
    let next = row.next(now, NEXT).into_iter().map(|(_, t)| t).collect();
    Ok(Meeting {
        id: row.id,
        community: slug.to_owned(),
        repeat: Repeat::parse(&row.recurrence).unwrap_or(Repeat::None),
        cancelled: row.cancelled_at.is_some(),
        next,
        going_count,
        going,
        title: row.title,
        place: row.place,
        address: row.address,
        first_at: row.first_at,
        timezone: row.timezone,
        duration_minutes: row.duration_minutes,
        notes: row.notes,
        contact: row.contact,
        created_at: row.created_at,
    })
}

/// The next start of any meeting of a community, for the directory.
pub async fn next_of_community(
    conn: &mut impl AsDb,
    community_id: i64,
    now: i64,
) -> AppResult<Option<i64>> {
    let rows = db!(
        *conn,
        fetch_all as MeetingRow,
        concat!(
            "SELECT ",
            meeting_columns!(),
            " FROM meetings WHERE community_id = $1 AND cancelled_at IS NULL ORDER BY id LIMIT 100"
        ),
        community_id
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| r.next(now, 1).first().map(|(_, t)| *t))
        .min())
}

#[derive(Deserialize, ToSchema, Default)]
pub struct NewMeeting {
    /// 3–120 characters.
    pub title: String,
    /// The place's name (1–200 characters).
    pub place: String,
    /// Street address (1–300 characters).
    pub address: String,
    /// RFC 3339: the first meeting; its local day and time in `timezone` repeat.
    pub first_at: String,
    /// `none`, `daily`, `weekly` or `monthly` (default `weekly`).
    pub repeat: Option<String>,
    /// IANA zone, e.g. America/Mexico_City.
    pub timezone: String,
    /// 15–600, default 90.
    pub duration_minutes: Option<i64>,
    /// Accessibility notes, at most 1,000 characters.
    pub notes: Option<String>,
    /// How to reach the organisers about it, at most 200 characters.
    pub contact: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct MeetingChanges {
    pub title: Option<String>,
    pub place: Option<String>,
    pub address: Option<String>,
    pub first_at: Option<String>,
    pub repeat: Option<String>,
    pub timezone: Option<String>,
    pub duration_minutes: Option<i64>,
    pub notes: Option<String>,
    pub contact: Option<String>,
}

/// A meeting as organisers describe it, times already read: what `create` takes, and what
/// `update` checks after merging the changes into the meeting as it is.
#[derive(Clone, Debug)]
pub struct MeetingDraft {
    pub title: String,
    pub place: String,
    pub address: String,
    /// The first meeting (UTC ms); its local day and time in `zone` repeat.
    pub first_at: i64,
    pub repeat: Repeat,
    pub zone: Zone,
    pub duration_minutes: i64,
    pub notes: String,
    pub contact: String,
}

/// Changes to a meeting; `None` keeps what is there.
#[derive(Clone, Debug, Default)]
pub struct MeetingEdit {
    pub title: Option<String>,
    pub place: Option<String>,
    pub address: Option<String>,
    pub first_at: Option<i64>,
    pub repeat: Option<Repeat>,
    pub zone: Option<Zone>,
    pub duration_minutes: Option<i64>,
    pub notes: Option<String>,
    pub contact: Option<String>,
}

/// Reads an API time, zone and rule into `fields`, so one answer names every refusal.
fn read_time(raw: &str, fields: &mut FieldErrors) -> Option<i64> {
    fields.check("first_at", parse_time(raw))
}

impl NewMeeting {
    /// The request read into a draft: every refusal at once, the texts' included.
    pub fn draft(&self) -> AppResult<MeetingDraft> {
        let mut fields = FieldErrors::new();
        let first_at = read_time(&self.first_at, &mut fields);
        let repeat = fields.check(
            "repeat",
            Repeat::parse(self.repeat.as_deref().unwrap_or("weekly")),
        );
        let zone = fields.check("timezone", Zone::parse(&self.timezone));
        let draft = MeetingDraft {
            title: self.title.clone(),
            place: self.place.clone(),
            address: self.address.clone(),
            first_at: first_at.unwrap_or(0),
            repeat: repeat.unwrap_or(Repeat::None),
            zone: zone.unwrap_or(Zone::UTC),
            duration_minutes: self.duration_minutes.unwrap_or(90),
            notes: self.notes.clone().unwrap_or_default(),
            contact: self.contact.clone().unwrap_or_default(),
        };
        let draft = draft.check_into(&mut fields);
        fields.into_result()?;
        Ok(draft)
    }
}

impl MeetingChanges {
    pub fn edit(&self) -> AppResult<MeetingEdit> {
        let mut fields = FieldErrors::new();
        let first_at = self
            .first_at
            .as_deref()
            .and_then(|t| read_time(t, &mut fields));
        let repeat = self
            .repeat
            .as_deref()
            .and_then(|r| fields.check("repeat", Repeat::parse(r)));
        let zone = self
            .timezone
            .as_deref()
            .and_then(|z| fields.check("timezone", Zone::parse(z)));
        fields.into_result()?;
        Ok(MeetingEdit {
            title: self.title.clone(),
            place: self.place.clone(),
            address: self.address.clone(),
            first_at,
            repeat,
            zone,
            duration_minutes: self.duration_minutes,
            notes: self.notes.clone(),
            contact: self.contact.clone(),
        })
    }
}

fn text(raw: &str, field: &str, min: usize, max: usize, fields: &mut FieldErrors) -> String {
    let t = raw.trim();
    let n = t.chars().count();
    let multiline = field == "notes";
    if n < min
        || n > max
        || t.chars()
            .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        fields.push(field, format!("{min} to {max} characters"));
    }
    t.to_owned()
}

impl MeetingDraft {
    /// Pushes the refusals of the texts and the length into `fields`; trims the texts.
    pub fn check_into(&self, fields: &mut FieldErrors) -> MeetingDraft {
        let duration = self.duration_minutes;
        if !(15..=600).contains(&duration) {
            fields.push("duration_minutes", "between 15 and 600 minutes");
        }
        MeetingDraft {
            title: text(&self.title, "title", 3, 120, fields),
            place: text(&self.place, "place", 1, 200, fields),
            address: text(&self.address, "address", 1, 300, fields),
            notes: text(&self.notes, "notes", 0, 1000, fields),
            contact: text(&self.contact, "contact", 0, 200, fields),
            ..self.clone()
        }
    }

    /// The draft with its texts trimmed, or every refusal.
    fn checked(&self) -> AppResult<MeetingDraft> {
        let mut fields = FieldErrors::new();
        let c = self.check_into(&mut fields);
        fields.into_result()?;
        Ok(c)
    }
}

/// Lists a new in-person meeting (organisers).
pub async fn create(
    state: &AppState,
    user: &User,
    slug: &str,
    draft: &MeetingDraft,
) -> AppResult<Meeting> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    let c = draft.checked()?;
    let now = now_ms();
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO meetings (community_id, created_by, title, place, address, first_at, duration_minutes, recurrence, timezone, notes, contact, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        community.id,
        user.id,
        &c.title,
        &c.place,
        &c.address,
        c.first_at,
        c.duration_minutes,
        c.repeat.as_str(),
        c.zone.name(),
        &c.notes,
        &c.contact,
        now
    )?;
    drop(w);
    get(state, Some(user), id).await
}

/// A community's meetings (cancelled ones left out), for whoever may read it.
pub async fn list(state: &AppState, viewer: Option<&User>, slug: &str) -> AppResult<Vec<Meeting>> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, viewer).await?;
    if !access.can_read() {
        return Err(AppError::NotFound);
    }
    let rows = db!(
        conn,
        fetch_all as MeetingRow,
        concat!(
            "SELECT ",
            meeting_columns!(),
            " FROM meetings WHERE community_id = $1 AND cancelled_at IS NULL ORDER BY id LIMIT 200"
        ),
        community.id
    )?;
    let now = now_ms();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view(&mut conn, row, &community.slug, viewer, now).await?);
    }
    // The soonest first; those with no next meeting last.
    out.sort_by_key(|m| (m.next.is_empty(), m.next.first().copied()));
    Ok(out)
}

async fn load(
    conn: &mut impl AsDb,
    viewer: Option<&User>,
    id: i64,
) -> AppResult<(MeetingRow, CommunityRow, Access)> {
    let row = db!(
        *conn,
        fetch_optional as MeetingRow,
        concat!(
            "SELECT ",
            meeting_columns!(),
            " FROM meetings WHERE id = $1"
        ),
        id
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, row.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, viewer).await?;
    if !access.can_read() {
        return Err(AppError::NotFound);
    }
    Ok((row, community, access))
}

pub async fn get(state: &AppState, viewer: Option<&User>, id: i64) -> AppResult<Meeting> {
    let mut conn = state.store.read().await?;
    let (row, community, _) = load(&mut conn, viewer, id).await?;
    view(&mut conn, row, &community.slug, viewer, now_ms()).await
}

/// Changes a meeting (organisers).
pub async fn update(
    state: &AppState,
    user: &User,
    id: i64,
    edit: &MeetingEdit,
) -> AppResult<Meeting> {
    let row = {
        let mut conn = state.store.read().await?;
        let (row, _, access) = load(&mut conn, Some(user), id).await?;
        access.require_organiser()?;
        row
    };
    let merged = MeetingDraft {
        title: edit.title.clone().unwrap_or(row.title),
        place: edit.place.clone().unwrap_or(row.place),
        address: edit.address.clone().unwrap_or(row.address),
        first_at: edit.first_at.unwrap_or(row.first_at),
        repeat: edit
            .repeat
            .unwrap_or_else(|| Repeat::parse(&row.recurrence).unwrap_or(Repeat::None)),
        zone: edit
            .zone
            .unwrap_or_else(|| Zone::from_stored(&row.timezone)),
        duration_minutes: edit.duration_minutes.unwrap_or(row.duration_minutes),
        notes: edit.notes.clone().unwrap_or(row.notes),
        contact: edit.contact.clone().unwrap_or(row.contact),
    };
    let c = merged.checked()?;
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE meetings SET title = $2, place = $3, address = $4, first_at = $5, duration_minutes = $6, recurrence = $7,
                timezone = $8, notes = $9, contact = $10, updated_at = $11 WHERE id = $1",
        id,
        &c.title,
        &c.place,
        &c.address,
        c.first_at,
        c.duration_minutes,
        c.repeat.as_str(),
        c.zone.name(),
        &c.notes,
        &c.contact,
        now_ms()
    )?;
    drop(w);
    get(state, Some(user), id).await
}

/// Cancels a meeting for good (organisers): it leaves lists and feeds.
pub async fn cancel(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    {
        let mut conn = state.store.read().await?;
        let (_, _, access) = load(&mut conn, Some(user), id).await?;
        access.require_organiser()?;
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE meetings SET cancelled_at = $2 WHERE id = $1 AND cancelled_at IS NULL",
        id,
        now_ms()
    )?;
    Ok(())
}

/// Says whether the member is going (members of the group only).
pub async fn rsvp(state: &AppState, user: &User, id: i64, going: bool) -> AppResult<Meeting> {
    {
        let mut conn = state.store.read().await?;
        let (row, _, access) = load(&mut conn, Some(user), id).await?;
        if !access.is_member() {
            return Err(AppError::forbidden("join the group to say you are going"));
        }
        if row.cancelled_at.is_some() {
            return Err(AppError::conflict(
                "cancelled",
                "this meeting was cancelled",
            ));
        }
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO meeting_rsvps (meeting_id, user_id, going, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (meeting_id, user_id) DO UPDATE SET going = excluded.going, updated_at = excluded.updated_at",
        id,
        user.id,
        going,
        now_ms()
    )?;
    drop(w);
    get(state, Some(user), id).await
}

fn base_url(state: &AppState) -> String {
    state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned()
}

fn uid_host(state: &AppState) -> String {
    let base = base_url(state);
    let host = base
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if host.is_empty() {
        "mutual.local".into()
    } else {
        host.into()
    }
}

fn meeting_items(state: &AppState, row: &MeetingRow, community: &str, now: i64) -> Vec<ics::Item> {
    let host = uid_host(state);
    let location = format!("{}, {}", row.place, row.address);
    let description = [row.notes.as_str(), row.contact.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    row.next(now - FEED_PAST_MS, FEED_AHEAD)
        .into_iter()
        .map(|(n, start)| ics::Item {
            uid: format!("meeting-{}-{n}@{host}", row.id),
            start,
            end: start + row.duration_ms(),
            summary: row.title.clone(),
            location: location.clone(),
            description: description.clone(),
            url: format!("{}/c/{community}", base_url(state)),
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    title: String,
    description: String,
    starts_at: i64,
    ends_at: i64,
}

fn session_item(state: &AppState, e: SessionRow) -> ics::Item {
    ics::Item {
        uid: format!("session-{}@{}", e.id, uid_host(state)),
        start: e.starts_at,
        end: e.ends_at,
        summary: e.title,
        location: String::new(),
        description: e.description,
        url: format!("{}/events/{}", base_url(state), e.id),
    }
}

/// A community's live sessions and meetings as iCalendar; 404 to those who may not read it.
pub async fn community_feed(
    state: &AppState,
    viewer: Option<&User>,
    slug: &str,
) -> AppResult<String> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, viewer).await?;
    if !access.can_read() {
        return Err(AppError::NotFound);
    }
    let now = now_ms();
    let sessions = db!(
        conn,
        fetch_all as SessionRow,
        "SELECT id, title, description, starts_at, ends_at FROM events
         WHERE community_id = $1 AND cancelled_at IS NULL AND ends_at > $2 ORDER BY starts_at, id LIMIT 300",
        community.id,
        now - FEED_PAST_MS
    )?;
    let meetings = db!(
        conn,
        fetch_all as MeetingRow,
        concat!(
            "SELECT ",
            meeting_columns!(),
            " FROM meetings WHERE community_id = $1 AND cancelled_at IS NULL ORDER BY id LIMIT 200"
        ),
        community.id
    )?;
    let mut items: Vec<ics::Item> = sessions
        .into_iter()
        .map(|e| session_item(state, e))
        .collect();
    for m in &meetings {
        items.extend(meeting_items(state, m, &community.slug, now));
    }
    Ok(ics::calendar(&community.name, &items, now))
}

/// The live sessions and meetings a member said they are going to, in groups they still
/// belong to.
pub async fn member_feed(state: &AppState, user_id: i64) -> AppResult<String> {
    let mut conn = state.store.read().await?;
    let now = now_ms();
    let sessions = db!(
        conn,
        fetch_all as SessionRow,
        "SELECT e.id, e.title, e.description, e.starts_at, e.ends_at FROM events e
         JOIN event_rsvps v ON v.event_id = e.id AND v.user_id = $1 AND v.going = TRUE
         JOIN memberships m ON m.community_id = e.community_id AND m.user_id = $1 AND m.status = 'active'
         WHERE e.cancelled_at IS NULL AND e.ends_at > $2 ORDER BY e.starts_at, e.id LIMIT 300",
        user_id,
        now - FEED_PAST_MS
    )?;
    let meetings = db!(
        conn,
        fetch_all as (i64, String),
        "SELECT g.id, c.slug FROM meetings g
         JOIN meeting_rsvps v ON v.meeting_id = g.id AND v.user_id = $1 AND v.going = TRUE
         JOIN memberships m ON m.community_id = g.community_id AND m.user_id = $1 AND m.status = 'active'
         JOIN communities c ON c.id = g.community_id
         WHERE g.cancelled_at IS NULL ORDER BY g.id LIMIT 200",
        user_id
    )?;
    let mut items: Vec<ics::Item> = sessions
        .into_iter()
        .map(|e| session_item(state, e))
        .collect();
    for (id, slug) in meetings {
        let row = db!(
            conn,
            fetch_one as MeetingRow,
            concat!(
                "SELECT ",
                meeting_columns!(),
                " FROM meetings WHERE id = $1"
            ),
            id
        )?;
        items.extend(meeting_items(state, &row, &slug, now));
    }
    Ok(ics::calendar("Mutual", &items, now))
}

#[derive(Serialize, ToSchema)]
pub struct CalendarKey {
    /// The secret feed address for a calendar app; shown once. Anyone with it sees the
    /// member's RSVP'd sessions and meetings, so it is replaced by asking again and revoked
    /// with DELETE.
    pub url: String,
    pub key: String,
}

/// Makes (or replaces) the member's secret feed key.
pub async fn create_key(state: &AppState, user: &User) -> AppResult<CalendarKey> {
    let key = random_secret();
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO calendar_keys (user_id, key_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET key_hash = excluded.key_hash, created_at = excluded.created_at",
        user.id,
        hash_token(&key),
        now_ms()
    )?;
    Ok(CalendarKey {
        url: format!("{}/api/v1/me/calendar.ics?key={key}", base_url(state)),
        key,
    })
}

pub async fn revoke_key(state: &AppState, user: &User) -> AppResult<()> {
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "DELETE FROM calendar_keys WHERE user_id = $1",
        user.id
    )?;
    Ok(())
}

fn calendar_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        body,
    )
        .into_response()
}

/// A community's in-person meetings (soonest first) with their next occurrences.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/meetings", tag = "meetings", operation_id = "list_meetings",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Meeting>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_list(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Meeting>>> {
    let viewer = viewer.map(|s| s.user);
    Ok(axum::Json(list(&state, viewer.as_ref(), &slug).await?))
}

/// List an in-person meeting (organisers).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/meetings", tag = "meetings", operation_id = "create_meeting",
    params(("slug" = String, Path)),
    request_body = NewMeeting,
    responses((status = 201, body = Meeting), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewMeeting>,
) -> AppResult<(StatusCode, axum::Json<Meeting>)> {
    let m = create(&state, &session.user, &slug, &req.draft()?).await?;
    Ok((StatusCode::CREATED, axum::Json(m)))
}

/// One meeting.
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "meetings", operation_id = "get_meeting",
    params(("id" = i64, Path)),
    responses((status = 200, body = Meeting), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_get(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Meeting>> {
    let viewer = viewer.map(|s| s.user);
    Ok(axum::Json(get(&state, viewer.as_ref(), id).await?))
}

/// Change a meeting (organisers).
#[utoipa::path(patch, path = "/api/v1/meetings/{id}", tag = "meetings", operation_id = "update_meeting",
    params(("id" = i64, Path)),
    request_body = MeetingChanges,
    responses((status = 200, body = Meeting), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<MeetingChanges>,
) -> AppResult<axum::Json<Meeting>> {
    Ok(axum::Json(
        update(&state, &session.user, id, &req.edit()?).await?,
    ))
}

/// Cancel a meeting (organisers).
#[utoipa::path(delete, path = "/api/v1/meetings/{id}", tag = "meetings", operation_id = "cancel_meeting",
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

#[derive(Deserialize, ToSchema)]
pub struct MeetingRsvp {
    pub going: bool,
}

/// Say whether you are going (members); RSVP'd meetings appear in your calendar feed.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/rsvp", tag = "meetings", operation_id = "rsvp_meeting",
    params(("id" = i64, Path)),
    request_body = MeetingRsvp,
    responses((status = 200, body = Meeting), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_rsvp(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<MeetingRsvp>,
) -> AppResult<axum::Json<Meeting>> {
    Ok(axum::Json(
        rsvp(&state, &session.user, id, req.going).await?,
    ))
}

/// The group's live sessions and in-person meetings as an iCalendar feed (private and
/// members groups: members only).
#[utoipa::path(get, path = "/api/v1/communities/{slug}/calendar.ics", tag = "meetings", operation_id = "community_calendar",
    params(("slug" = String, Path)),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_community_feed(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let viewer = viewer.map(|s| s.user);
    Ok(calendar_response(
        community_feed(&state, viewer.as_ref(), &slug).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedKey {
    /// The secret key from `POST /api/v1/me/calendar-key` (for apps that cannot sign in).
    pub key: Option<String>,
}

/// The caller's RSVP'd live sessions and meetings as an iCalendar feed: signed in, or with
/// the secret `key`.
#[utoipa::path(get, path = "/api/v1/me/calendar.ics", tag = "meetings", operation_id = "my_calendar",
    params(FeedKey),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar", body = String), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn api_my_feed(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Query(key): Query<FeedKey>,
) -> AppResult<Response> {
    let user_id = match (key.key.as_deref().filter(|k| !k.is_empty()), viewer) {
        (Some(k), _) => {
            let mut conn = state.store.read().await?;
            db!(
                conn,
                fetch_optional scalar i64,
                "SELECT user_id FROM calendar_keys WHERE key_hash = $1",
                hash_token(k)
            )?
            .ok_or_else(|| AppError::Unauthorized("that calendar key is not valid".into()))?
        }
        (None, Some(Session { user, .. })) => user.id,
        (None, None) => {
            return Err(AppError::Unauthorized(
                "sign in or use your calendar key".into(),
            ));
        }
    };
    Ok(calendar_response(member_feed(&state, user_id).await?))
}

/// Make a secret calendar-feed address (replacing any earlier one).
#[utoipa::path(post, path = "/api/v1/me/calendar-key", tag = "meetings", operation_id = "create_calendar_key",
    responses((status = 201, body = CalendarKey), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_key(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<(StatusCode, axum::Json<CalendarKey>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_key(&state, &session.user).await?),
    ))
}

/// Revoke the secret calendar-feed address.
#[utoipa::path(delete, path = "/api/v1/me/calendar-key", tag = "meetings", operation_id = "revoke_calendar_key",
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_revoke_key(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<StatusCode> {
    revoke_key(&state, &session.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_time(s).unwrap_or(0)
    }

    fn row(first: &str, zone: &str) -> MeetingRow {
        MeetingRow {
            id: 1,
            community_id: 1,
            title: "t".into(),
            place: "p".into(),
            address: "a".into(),
            first_at: ms(first),
            duration_minutes: 60,
            recurrence: "weekly".into(),
            timezone: zone.into(),
            notes: String::new(),
            contact: String::new(),
            cancelled_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn next_keeps_local_time_across_dst_and_includes_the_one_under_way() {
        // Tuesdays 10:00 in New York; clocks go forward on Sunday 2026-03-08.
        let r = row("2026-03-03T10:00:00-05:00", "America/New_York");
        let next = r.next(ms("2026-03-03T10:30:00-05:00"), 3);
        let shown: Vec<String> = next
            .iter()
            .map(|(_, t)| crate::store::format_ms(*t))
            .collect();
        assert_eq!(
            shown,
            [
                "2026-03-03T15:00:00.000Z",
                "2026-03-10T14:00:00.000Z",
                "2026-03-17T14:00:00.000Z"
            ]
        );
        let mut cancelled = r.clone();
        cancelled.cancelled_at = Some(1);
        assert!(cancelled.next(0, 3).is_empty());
    }
}
