//! Themed threads on a schedule: an organiser writes the title and body once ("Non-scale victory
//! Friday") and every occurrence becomes a `themed` topic in the community, exactly once.
//!
//! The recurrence is kept in the organiser's time zone: the wall-clock time and the weekday or
//! day of month of `first_at` there define every occurrence, so "every Friday 09:00 in New York"
//! stays at 09:00 local across daylight-saving changes. Occurrence `n` is computed from the first
//! one (never from the previous), so a monthly thread on the 31st falls on the last day of shorter
//! months and is back on the 31st after them.
//!
//! Exactly once: the job advances the schedule with a compare-and-set on `next_seq` and records
//! the occurrence under a unique key, in the same transaction as the topic, so neither two nodes
//! nor a restart can post it twice. Occurrences missed while every node was down are not all
//! posted on return: only the latest, and only if it is less than a day late.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_time;
use crate::accounts::{Auth, User, serialize_time};
use crate::app::AppState;
use crate::clock::Zone;
use crate::communities::{
    CommunityRow, MemberSummary, find_by_id, load_access, organised_community,
};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::forum::types::{PostBody, Title, TopicKind};
use crate::http::Json;
use crate::realtime::Realtime;
use crate::store::{AsDb, Store, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_cancel))
}

/// How late a missed occurrence may still be posted after every node was down.
pub const GRACE_MS: i64 = 24 * 3600 * 1000;
/// How many upcoming occurrences an answer shows.
const UPCOMING: usize = 5;

/// How often a themed thread comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Repeat {
    None,
    Daily,
    Weekly,
    Monthly,
}

impl Repeat {
    pub fn parse(raw: &str) -> Result<Repeat, String> {
        match raw {
            "none" => Ok(Repeat::None),
            "daily" => Ok(Repeat::Daily),
            "weekly" => Ok(Repeat::Weekly),
            "monthly" => Ok(Repeat::Monthly),
            _ => Err("repeat is none, daily, weekly or monthly".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Repeat::None => "none",
            Repeat::Daily => "daily",
            Repeat::Weekly => "weekly",
            Repeat::Monthly => "monthly",
        }
    }
}

/// A schedule's rule, as a pure function from occurrence number to instant.
#[derive(Clone, Copy, Debug)]
pub struct Recurrence {
    first_at: i64,
    first_local: NaiveDateTime,
    zone: Zone,
    repeat: Repeat,
    /// No occurrence after this instant.
    ends_at: Option<i64>,
    /// At most this many occurrences.
    count: Option<i64>,
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(year, month, *d).is_some())
        .unwrap_or(28)
}

impl Recurrence {
    pub fn new(
        first_at: i64,
        zone: Zone,
        repeat: Repeat,
        ends_at: Option<i64>,
        count: Option<i64>,
    ) -> Recurrence {
        Recurrence {
            first_at,
            first_local: zone.local(first_at).naive_local(),
            zone,
            repeat,
            ends_at,
            count,
        }
    }

    /// The local wall-clock time of occurrence `n` (0 is the first).
    pub fn local(&self, n: i64) -> Option<NaiveDateTime> {
        let f = self.first_local;
        match self.repeat {
            _ if n < 0 => None,
            Repeat::None => (n == 0).then_some(f),
            Repeat::Daily => f.checked_add_signed(TimeDelta::try_days(n)?),
            Repeat::Weekly => f.checked_add_signed(TimeDelta::try_weeks(n)?),
            Repeat::Monthly => {
                let months = i64::from(f.year()) * 12 + i64::from(f.month0()) + n;
                let year = i32::try_from(months.div_euclid(12)).ok()?;
                let month = u32::try_from(months.rem_euclid(12)).ok()? + 1;
                let day = f.day().min(last_day_of_month(year, month));
                Some(NaiveDate::from_ymd_opt(year, month, day)?.and_time(f.time()))
            }
        }
    }

    /// The instant of occurrence `n`; `None` past the schedule's end. A local time that falls in
    /// a daylight-saving gap happens at the first instant after it; one that happens twice, at
    /// the first of the two.
    pub fn at(&self, n: i64) -> Option<i64> {
        if self.count.is_some_and(|c| n >= c) {
            return None;
        }
        let ms = if n == 0 {
            self.first_at
        } else {
            self.zone.instant(self.local(n)?)
        };
        if self.ends_at.is_some_and(|e| ms > e) {
            return None;
        }
        Some(ms)
    }

    /// The first occurrence from number `n` on that happens at or after `ms`: (number, instant).
    pub fn first_from(&self, n: i64, ms: i64) -> Option<(i64, i64)> {
        // Bounded: a daily schedule paused for a century is still found.
        let from = n.max(0);
        for k in from..from + 40_000 {
            let t = self.at(k)?;
            if t >= ms {
                return Some((k, t));
            }
        }
        None
    }

    /// The latest occurrence from number `n` on that is due at `now`: (number, instant).
    pub fn latest_due(&self, n: i64, now: i64) -> Option<(i64, i64)> {
        let mut best = None;
        let from = n.max(0);
        for k in from..from + 40_000 {
            match self.at(k) {
                Some(t) if t <= now => best = Some((k, t)),
                _ => break,
            }
        }
        best
    }

    /// Up to `limit` occurrence instants from number `n` on.
    pub fn upcoming(&self, n: i64, limit: usize) -> Vec<i64> {
        (n.max(0)..n.max(0) + limit as i64)
            .map_while(|k| self.at(k))
            .collect()
    }
}

/// Where a schedule stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleState {
    Active,
    Paused,
    /// Every occurrence has happened (or `ends_at`/`count` was reached).
    Finished,
    Cancelled,
}

/// A topic a schedule created.
#[derive(Serialize, ToSchema)]
pub struct ScheduledTopic {
    pub topic_id: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub occurs_at: i64,
}

/// A themed-thread schedule as organisers see it.
#[derive(Serialize, ToSchema)]
pub struct Schedule {
    pub id: i64,
    /// The community's address.
    pub community: String,
    pub title: String,
    /// Markdown, as each topic's opening post.
    pub body: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub first_at: i64,
    pub repeat: Repeat,
    /// The IANA zone whose wall clock the recurrence follows.
    pub timezone: String,
    #[serde(serialize_with = "crate::accounts::serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<i64>,
    /// At most this many occurrences.
    pub count: Option<i64>,
    pub state: ScheduleState,
    /// The next occurrence to be posted (null unless active).
    #[serde(serialize_with = "crate::accounts::serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_at: Option<i64>,
    /// The next occurrence instants (up to 5; empty unless active).
    #[serde(serialize_with = "crate::accounts::serialize_times")]
    #[schema(value_type = Vec<String>)]
    pub upcoming: Vec<i64>,
    /// The topics created so far, newest first (at most 50).
    pub topics: Vec<ScheduledTopic>,
    pub created_by: Option<MemberSummary>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: i64,
    community_id: i64,
    created_by: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    title: String,
    body: String,
    first_at: i64,
    recurrence: String,
    timezone: String,
    ends_at: Option<i64>,
    max_count: Option<i64>,
    next_seq: i64,
    next_at: Option<i64>,
    paused: bool,
    cancelled_at: Option<i64>,
    created_at: i64,
}

macro_rules! schedule_select {
    () => {
        "SELECT s.id, s.community_id, s.created_by, u.username, u.display_name, s.title, s.body, s.first_at,
                s.recurrence, s.timezone, s.ends_at, s.max_count, s.next_seq, s.next_at, s.paused,
                s.cancelled_at, s.created_at
         FROM schedules s LEFT JOIN users u ON u.id = s.created_by "
    };
}

impl ScheduleRow {
    fn repeat(&self) -> Repeat {
        Repeat::parse(&self.recurrence).unwrap_or(Repeat::None)
    }

    fn recurrence(&self) -> Recurrence {
        Recurrence::new(
            self.first_at,
            Zone::from_stored(&self.timezone),
            self.repeat(),
            self.ends_at,
            self.max_count,
        )
    }

    fn state(&self) -> ScheduleState {
        if self.cancelled_at.is_some() {
            ScheduleState::Cancelled
        } else if self.next_at.is_none() {
            ScheduleState::Finished
        } else if self.paused {
            ScheduleState::Paused
        } else {
            ScheduleState::Active
        }
    }
}

async fn view(conn: &mut impl AsDb, row: ScheduleRow, slug: &str) -> AppResult<Schedule> {
    let topics = db!(
        *conn,
        fetch_all as (i64, i64),
        "SELECT o.topic_id, o.occurs_at FROM schedule_occurrences o JOIN topics t ON t.id = o.topic_id
         WHERE o.schedule_id = $1 AND t.deleted_at IS NULL ORDER BY o.occurs_at DESC LIMIT 50",
        row.id
    )?;
    let state = row.state();
    let upcoming = if state == ScheduleState::Active {
        row.recurrence().upcoming(row.next_seq, UPCOMING)
    } else {
        Vec::new()
    };
    Ok(Schedule {
        id: row.id,
        community: slug.to_owned(),
        repeat: row.repeat(),
        created_by: MemberSummary::from_columns(row.created_by, row.username, row.display_name),
        title: row.title,
        body: row.body,
        first_at: row.first_at,
        timezone: row.timezone,
        ends_at: row.ends_at,
        count: row.max_count,
        state,
        next_at: row.next_at.filter(|_| state == ScheduleState::Active),
        upcoming,
        topics: topics
            .into_iter()
            .map(|(topic_id, occurs_at)| ScheduledTopic {
                topic_id,
                occurs_at,
            })
            .collect(),
        created_at: row.created_at,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct NewSchedule {
    /// 5–200 characters: each topic's title.
    pub title: String,
    /// Markdown: each topic's opening post.
    pub body: String,
    /// RFC 3339: the first occurrence; its wall-clock time and day in `timezone` define the rest.
    pub first_at: String,
    /// none, daily, weekly or monthly.
    pub repeat: String,
    /// IANA name, e.g. America/Mexico_City.
    pub timezone: String,
    /// RFC 3339: no occurrence after this.
    pub ends_at: Option<String>,
    /// At most this many occurrences (1–1000).
    pub count: Option<i64>,
}

/// A themed thread as organisers plan it, times already read (UTC ms).
#[derive(Clone, Debug)]
pub struct ScheduleDraft {
    pub title: String,
    pub body: String,
    /// The first occurrence; its wall-clock time and day in `zone` define the rest.
    pub first_at: i64,
    pub repeat: Repeat,
    pub zone: Zone,
    /// No occurrence after this.
    pub ends_at: Option<i64>,
    /// At most this many occurrences (1–1000).
    pub count: Option<i64>,
}

impl NewSchedule {
    /// The request with its times, rule and zone read; what cannot be read is refused by field.
    pub fn draft(&self) -> AppResult<ScheduleDraft> {
        let mut fields = FieldErrors::new();
        let repeat = fields.check("repeat", Repeat::parse(self.repeat.trim()));
        let zone = fields.check("timezone", Zone::parse(&self.timezone));
        let first_at = fields.check("first_at", parse_time(&self.first_at));
        let ends_at = self
            .ends_at
            .as_deref()
            .and_then(|e| fields.check("ends_at", parse_time(e)));
        fields.into_result()?;
        Ok(ScheduleDraft {
            title: self.title.clone(),
            body: self.body.clone(),
            first_at: first_at.unwrap_or_default(),
            repeat: repeat.unwrap_or(Repeat::None),
            zone: zone.unwrap_or(Zone::UTC),
            ends_at,
            count: self.count,
        })
    }
}

/// Schedules a themed thread in the community at `slug` (organisers).
pub async fn create(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &ScheduleDraft,
) -> AppResult<Schedule> {
    let community = {
        let mut conn = state.store.read().await?;
        organised_community(&mut conn, slug, user).await?.0
    };
    let now = now_ms();
    let mut fields = FieldErrors::new();
    let title = fields.check("title", Title::parse(&req.title));
    let body = fields.check("body", PostBody::parse(&req.body));
    let (repeat, zone, first_at) = (req.repeat, req.zone, req.first_at);
    if first_at < now - 5 * 60_000 || first_at > now + 5 * 366 * 24 * 3600 * 1000 {
        fields.push("first_at", "the first time is from now to five years ahead");
    }
    let ends_at = req.ends_at;
    if ends_at.is_some_and(|e| e <= first_at) {
        fields.push("ends_at", "the end comes after the first time");
    }
    if req.count.is_some_and(|c| !(1..=1000).contains(&c)) {
        fields.push("count", "count is 1 to 1,000 occurrences");
    }
    let (Some(title), Some(body), true) = (title, body, fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO schedules (community_id, created_by, title, body, first_at, recurrence, timezone, ends_at, max_count, next_seq, next_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $5, $10) RETURNING id",
        community.id,
        user.id,
        title.as_str(),
        body.as_str(),
        first_at,
        repeat.as_str(),
        zone.name(),
        ends_at,
        req.count,
        now
    )?;
    drop(w);
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_one as ScheduleRow,
        concat!(schedule_select!(), "WHERE s.id = $1"),
        id
    )?;
    view(&mut conn, row, &community.slug).await
}

/// Schedule a themed thread: each occurrence becomes a `themed` topic exactly once (organisers).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/schedules", tag = "calendar", operation_id = "create_schedule",
    params(("slug" = String, Path)),
    request_body = NewSchedule,
    responses((status = 201, body = Schedule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewSchedule>,
) -> AppResult<(StatusCode, axum::Json<Schedule>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create(&state, &session.user, &slug, &req.draft()?).await?),
    ))
}

/// The community's schedules that are not cancelled, newest first (organisers).
#[utoipa::path(get, path = "/api/v1/communities/{slug}/schedules", tag = "calendar", operation_id = "list_schedules",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Schedule>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Schedule>>> {
    Ok(axum::Json(list(&state, &session.user, &slug).await?))
}

/// The community's schedules that are not cancelled, newest first (organisers).
pub async fn list(state: &AppState, user: &User, slug: &str) -> AppResult<Vec<Schedule>> {
    let mut conn = state.store.read().await?;
    let (community, _) = organised_community(&mut conn, slug, user).await?;
    let rows = db!(
        conn,
        fetch_all as ScheduleRow,
        concat!(
            schedule_select!(),
            "WHERE s.community_id = $1 AND s.cancelled_at IS NULL ORDER BY s.id DESC LIMIT 100"
        ),
        community.id
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view(&mut conn, row, &community.slug).await?);
    }
    Ok(out)
}

/// One schedule for an organiser of its community; 404 for whoever may not know of it.
async fn load(
    conn: &mut impl AsDb,
    id: i64,
    user: &User,
) -> AppResult<(ScheduleRow, CommunityRow)> {
    let row = db!(
        *conn,
        fetch_optional as ScheduleRow,
        concat!(schedule_select!(), "WHERE s.id = $1"),
        id
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, row.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, Some(user)).await?;
    if !access.can_see() {
        return Err(AppError::NotFound);
    }
    access.require_organiser()?;
    Ok((row, community))
}

/// One schedule, with its next occurrences and the topics it created (organisers).
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "calendar", operation_id = "get_schedule",
    params(("id" = i64, Path)),
    responses((status = 200, body = Schedule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Schedule>> {
    let mut conn = state.store.read().await?;
    let (row, community) = load(&mut conn, id, &session.user).await?;
    Ok(axum::Json(view(&mut conn, row, &community.slug).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct ScheduleChanges {
    /// Pause (true) or resume (false). Occurrences that fell while paused are not posted.
    pub paused: Option<bool>,
    /// A new title for the topics still to come.
    pub title: Option<String>,
    /// A new body for the topics still to come.
    pub body: Option<String>,
}

/// Pause, resume or reword a schedule (organisers). A cancelled one cannot change (409).
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "calendar", operation_id = "update_schedule",
    params(("id" = i64, Path)),
    request_body = ScheduleChanges,
    responses((status = 200, body = Schedule), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "cancelled, or changed meanwhile", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<ScheduleChanges>,
) -> AppResult<axum::Json<Schedule>> {
    Ok(axum::Json(update(&state, &session.user, id, &req).await?))
}

/// Pauses, resumes or rewords a schedule (organisers); 409 once cancelled.
pub async fn update(
    state: &AppState,
    user: &User,
    id: i64,
    req: &ScheduleChanges,
) -> AppResult<Schedule> {
    let (row, community) = {
        let mut conn = state.store.read().await?;
        load(&mut conn, id, user).await?
    };
    if row.cancelled_at.is_some() {
        return Err(AppError::conflict(
            "cancelled",
            "this schedule was cancelled",
        ));
    }
    let mut fields = FieldErrors::new();
    let title = match req.title.as_deref().map(Title::parse) {
        Some(Err(e)) => {
            fields.push("title", e);
            None
        }
        other => other.and_then(Result::ok),
    };
    let body = match req.body.as_deref().map(PostBody::parse) {
        Some(Err(e)) => {
            fields.push("body", e);
            None
        }
        other => other.and_then(Result::ok),
    };
    fields.into_result()?;
    let paused = req.paused.unwrap_or(row.paused);
    // Resuming starts again from the next occurrence still ahead.
    let (next_seq, next_at) = if row.paused && !paused && row.next_at.is_some() {
        match row.recurrence().first_from(row.next_seq, now_ms()) {
            Some((n, t)) => (n, Some(t)),
            None => (row.next_seq, None),
        }
    } else {
        (row.next_seq, row.next_at)
    };
    let mut w = state.store.write().await?;
    // Only from the state read: a job round that moved the schedule on in between wins.
    let changed = db!(
        w,
        execute,
        "UPDATE schedules SET paused = $2, next_seq = $3, next_at = $4, title = $5, body = $6
         WHERE id = $1 AND next_seq = $7 AND cancelled_at IS NULL",
        id,
        paused,
        next_seq,
        next_at,
        title.as_ref().map_or(row.title.as_str(), Title::as_str),
        body.as_ref().map_or(row.body.as_str(), PostBody::as_str),
        row.next_seq
    )?;
    drop(w);
    if changed == 0 {
        return Err(AppError::conflict(
            "changed",
            "the schedule changed meanwhile; look again and retry",
        ));
    }
    let mut conn = state.store.read().await?;
    let (row, _) = load(&mut conn, id, user).await?;
    view(&mut conn, row, &community.slug).await
}

/// Cancel a schedule (organisers): no more topics; those already created stay.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "calendar", operation_id = "cancel_schedule",
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

/// Cancels a schedule (organisers): no more topics; those already created stay.
pub async fn cancel(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    {
        let mut conn = state.store.read().await?;
        load(&mut conn, id, user).await?;
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE schedules SET cancelled_at = $2, next_at = NULL WHERE id = $1 AND cancelled_at IS NULL",
        id,
        now_ms()
    )?;
    Ok(())
}

/// What the job does with a schedule that is due.
#[derive(Debug, PartialEq, Eq)]
pub struct Step {
    /// The occurrence to post, (number, instant): the latest due, if less than a day late.
    pub post: Option<(i64, i64)>,
    /// Where the schedule goes on to.
    pub next_seq: i64,
    pub next_at: Option<i64>,
}

/// The job's decision at `now` for a schedule whose next occurrence is number `next_seq`: every
/// due occurrence is passed, and only the latest is posted, unless it is more than a day late.
pub fn plan(rule: &Recurrence, next_seq: i64, now: i64) -> Option<Step> {
    let (k, at) = rule.latest_due(next_seq, now)?;
    Some(Step {
        post: (now - at <= GRACE_MS).then_some((k, at)),
        next_seq: k + 1,
        next_at: rule.at(k + 1),
    })
}

/// Creates the occurrences that are due as topics, each exactly once across nodes and restarts;
/// how many topics were created.
pub async fn run_due(store: &Store, _realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let due = {
        let mut conn = store.read().await?;
        db!(
            conn,
            fetch_all as ScheduleRow,
            concat!(
                schedule_select!(),
                "WHERE s.next_at IS NOT NULL AND s.next_at <= $1 AND s.paused = FALSE AND s.cancelled_at IS NULL
                 ORDER BY s.next_at LIMIT 100"
            ),
            now
        )?
    };
    let mut created = 0;
    for s in due {
        let Some(step) = plan(&s.recurrence(), s.next_seq, now) else {
            continue;
        };
        let mut tx = store.begin().await?;
        // The claim: only the node that moves `next_seq` on from what it read goes further.
        let claimed = db!(
            tx,
            execute,
            "UPDATE schedules SET next_seq = $2, next_at = $3
             WHERE id = $1 AND next_seq = $4 AND paused = FALSE AND cancelled_at IS NULL",
            s.id,
            step.next_seq,
            step.next_at,
            s.next_seq
        )?;
        if claimed == 0 {
            continue;
        }
        if let Some((k, at)) = step.post {
            let recorded = db!(
                tx,
                execute,
                "INSERT INTO schedule_occurrences (schedule_id, occurs_at, seq, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                s.id,
                at,
                k,
                now
            )?;
            if recorded == 1 {
                let author = match s.created_by {
                    Some(uid) => still_organising(&mut tx, s.community_id, uid).await?,
                    None => None,
                };
                let (topic_id, _) = crate::forum::insert_topic(
                    &mut tx,
                    s.community_id,
                    author,
                    &s.title,
                    TopicKind::Themed,
                    &s.body,
                )
                .await?;
                db!(
                    tx,
                    execute,
                    "UPDATE schedule_occurrences SET topic_id = $3 WHERE schedule_id = $1 AND occurs_at = $2",
                    s.id,
                    at,
                    topic_id
                )?;
                created += 1;
            }
        } else {
            tracing::info!(
                schedule = s.id,
                passed_to = step.next_seq,
                "skipped a themed thread more than a day late"
            );
        }
        tx.commit().await?;
    }
    Ok(created)
}

/// The schedule's creator as the topics' author while they are still an active member of the
/// community (or a site admin); otherwise the topics have no author.
async fn still_organising(
    conn: &mut impl AsDb,
    community_id: i64,
    user_id: i64,
) -> AppResult<Option<i64>> {
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT u.id FROM users u WHERE u.id = $2 AND (
             EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = $1 AND m.user_id = u.id AND m.status = 'active')
             OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'admin'))",
        community_id,
        user_id
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::format_ms;

    fn ms(s: &str) -> i64 {
        parse_time(s).unwrap_or_default()
    }

    fn zone(name: &str) -> Zone {
        Zone::parse(name).unwrap_or(Zone::UTC)
    }

    fn shown(rule: &Recurrence, n: i64) -> String {
        rule.at(n).map(format_ms).unwrap_or_default()
    }

    #[test]
    fn weekly_in_new_york_keeps_local_time_across_both_changes() {
        // Friday 2026-03-06 09:00 EST; clocks go forward on Sunday 8 March.
        let spring = Recurrence::new(
            ms("2026-03-06T14:00:00Z"),
            zone("America/New_York"),
            Repeat::Weekly,
            None,
            None,
        );
        assert_eq!(shown(&spring, 0), "2026-03-06T14:00:00.000Z");
        assert_eq!(shown(&spring, 1), "2026-03-13T13:00:00.000Z");
        assert_eq!(shown(&spring, 2), "2026-03-20T13:00:00.000Z");
        // Friday 2026-10-30 09:00 EDT; clocks go back on Sunday 1 November.
        let autumn = Recurrence::new(
            ms("2026-10-30T13:00:00Z"),
            zone("America/New_York"),
            Repeat::Weekly,
            None,
            None,
        );
        assert_eq!(shown(&autumn, 1), "2026-11-06T14:00:00.000Z");
    }

    #[test]
    fn mexico_city_and_kolkata_never_shift() {
        let mx = Recurrence::new(
            ms("2026-03-06T15:00:00Z"),
            zone("America/Mexico_City"),
            Repeat::Weekly,
            None,
            None,
        );
        assert_eq!(shown(&mx, 1), "2026-03-13T15:00:00.000Z");
        // 17 weeks later is 3 July, in what used to be summer time there.
        assert_eq!(shown(&mx, 17), "2026-07-03T15:00:00.000Z");
        let kolkata = Recurrence::new(
            ms("2026-03-01T03:30:00Z"),
            zone("Asia/Kolkata"),
            Repeat::Daily,
            None,
            None,
        );
        assert_eq!(shown(&kolkata, 30), "2026-03-31T03:30:00.000Z");
        assert_eq!(shown(&kolkata, 200), "2026-09-17T03:30:00.000Z");
    }

    #[test]
    fn monthly_on_the_31st_falls_on_the_last_day() {
        let rule = Recurrence::new(
            ms("2026-01-31T12:00:00Z"),
            Zone::UTC,
            Repeat::Monthly,
            None,
            None,
        );
        let dates: Vec<String> = rule.upcoming(0, 5).into_iter().map(format_ms).collect();
        assert_eq!(
            dates,
            [
                "2026-01-31T12:00:00.000Z",
                "2026-02-28T12:00:00.000Z",
                "2026-03-31T12:00:00.000Z",
                "2026-04-30T12:00:00.000Z",
                "2026-05-31T12:00:00.000Z",
            ]
        );
        // A leap year's February has its 29th.
        assert_eq!(shown(&rule, 25), "2028-02-29T12:00:00.000Z");
    }

    #[test]
    fn a_local_time_in_the_gap_moves_to_the_first_instant_after() {
        // Daily at 02:30 in New York: on 8 March 2026 02:30 never happens; 03:00 EDT does.
        let rule = Recurrence::new(
            ms("2026-03-07T07:30:00Z"),
            zone("America/New_York"),
            Repeat::Daily,
            None,
            None,
        );
        assert_eq!(shown(&rule, 1), "2026-03-08T07:00:00.000Z");
        assert_eq!(shown(&rule, 2), "2026-03-09T06:30:00.000Z");
    }

    #[test]
    fn after_downtime_only_the_latest_missed_occurrence_is_posted_within_a_day() {
        let daily = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::Daily,
            None,
            None,
        );
        // Down for three days, back two hours after the latest: that one is posted.
        assert_eq!(
            plan(&daily, 0, ms("2026-05-04T12:00:00Z")),
            Some(Step {
                post: Some((3, ms("2026-05-04T10:00:00Z"))),
                next_seq: 4,
                next_at: Some(ms("2026-05-05T10:00:00Z")),
            })
        );
        let weekly = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::Weekly,
            None,
            None,
        );
        // Back two days after a weekly one: skipped, on to the next week.
        assert_eq!(
            plan(&weekly, 0, ms("2026-05-03T10:00:00Z")),
            Some(Step {
                post: None,
                next_seq: 1,
                next_at: Some(ms("2026-05-08T10:00:00Z")),
            })
        );
        // Nothing due yet; a one-off finishes after it is posted.
        assert_eq!(plan(&weekly, 1, ms("2026-05-03T10:00:00Z")), None);
        let once = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::None,
            None,
            None,
        );
        assert_eq!(
            plan(&once, 0, ms("2026-05-01T10:00:01Z")).map(|s| (s.post.is_some(), s.next_at)),
            Some((true, None))
        );
    }

    #[test]
    fn ends_count_once_and_catching_up() {
        let once = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::None,
            None,
            None,
        );
        assert_eq!(once.upcoming(0, 5).len(), 1);
        let three = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::Daily,
            None,
            Some(3),
        );
        assert_eq!(three.upcoming(0, 5).len(), 3);
        let until = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::Daily,
            Some(ms("2026-05-04T09:00:00Z")),
            None,
        );
        assert_eq!(until.upcoming(0, 5).len(), 3);
        // After four days down, the latest due occurrence is the one to post.
        let daily = Recurrence::new(
            ms("2026-05-01T10:00:00Z"),
            Zone::UTC,
            Repeat::Daily,
            None,
            None,
        );
        assert_eq!(
            daily.latest_due(0, ms("2026-05-05T11:00:00Z")),
            Some((4, ms("2026-05-05T10:00:00Z")))
        );
        assert_eq!(daily.latest_due(0, ms("2026-05-01T09:00:00Z")), None);
        assert_eq!(
            daily.first_from(0, ms("2026-05-03T10:00:01Z")),
            Some((3, ms("2026-05-04T10:00:00Z")))
        );
    }
}
