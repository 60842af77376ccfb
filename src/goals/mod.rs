//! Goals: a member's action plan ("walk 30 minutes, 5 days a week") with a cadence, a confidence
//! score, check-ins per period (done / partly / missed), a reminder when a check-in is due, and
//! the step from a reached goal to a milestone post.
//!
//! Goals are private: only their owner sees them, unless the owner shares one with a community
//! they belong to or a circle they are in. Nobody else — not a moderator, an organiser, a peer
//! leader or an admin — learns that a private goal exists (404, and absent from every list).
//! Periods and reminders follow the owner's own time zone (`users.timezone`).

pub mod period;

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, Session, User, serialize_time};
use crate::app::AppState;
use crate::clock::Zone;
use crate::clock::{parse_date, parse_hhmm};
use crate::communities::{MemberSummary, visible_community};
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::notify::{self, About, Kind, Recipients, Subject};
use crate::realtime::Realtime;
use crate::store::{AsDb, Store, now_ms};
use crate::{db, forum};
pub use period::Cadence;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_my_goals, api_create_goal))
        .routes(routes!(api_get_goal, api_update_goal, api_delete_goal))
        .routes(routes!(api_list_checkins, api_check_in))
        .routes(routes!(api_community_goals))
        .routes(routes!(api_goal_milestone))
}

/// Below this confidence, a member is encouraged to make the goal smaller first.
const CONFIDENT: i64 = 7;
const CONFIDENCE_ADVICE: &str = "people who are less sure (under 7) do better with a smaller goal; make it smaller, or send again with \"confirm_confidence\": true";
const DEFAULT_REMIND_AT: &str = "19:00";
const MAX_NOTE_CHARS: usize = 500;
const MAX_DETAILS_CHARS: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    Active,
    Reached,
    Stopped,
}

impl GoalStatus {
    pub fn parse(raw: &str) -> Result<GoalStatus, String> {
        match raw.trim() {
            "active" => Ok(GoalStatus::Active),
            "reached" => Ok(GoalStatus::Reached),
            "stopped" => Ok(GoalStatus::Stopped),
            _ => Err("status is active, reached or stopped".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Active => "active",
            GoalStatus::Reached => "reached",
            GoalStatus::Stopped => "stopped",
        }
    }
}

/// How one period went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckinStatus {
    Done,
    Partly,
    Missed,
}

impl CheckinStatus {
    pub fn parse(raw: &str) -> Result<CheckinStatus, String> {
        match raw.trim() {
            "done" => Ok(CheckinStatus::Done),
            "partly" => Ok(CheckinStatus::Partly),
            "missed" => Ok(CheckinStatus::Missed),
            _ => Err("status is done, partly or missed".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckinStatus::Done => "done",
            CheckinStatus::Partly => "partly",
            CheckinStatus::Missed => "missed",
        }
    }
}

/// The period a goal is in now, in its owner's calendar.
#[derive(Serialize, ToSchema, Debug)]
pub struct ThisPeriod {
    /// The local date the period starts on (a Monday for weekly goals).
    pub start: String,
    /// The local date it ends on.
    pub last_day: String,
    /// This period's check-in, if there is one.
    pub checkin: Option<CheckinStatus>,
    /// No check-in yet this period (active goals only).
    pub due: bool,
}

/// A goal as the caller may see it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Goal {
    pub id: i64,
    pub owner: MemberSummary,
    pub title: String,
    pub details: String,
    pub cadence: Cadence,
    /// Times per period ("5 days a week": 5).
    pub times_per_period: i64,
    /// How sure the owner was, 0–10 (null when not given).
    pub confidence: Option<i64>,
    /// The community it is shared with (its address); null: not shared with one.
    pub share_with: Option<String>,
    /// The circle it is shared with; null: not shared with one.
    pub share_with_circle: Option<i64>,
    /// The last day, in the owner's calendar.
    pub ends_on: Option<String>,
    pub status: GoalStatus,
    /// The owner's reminder time ("HH:MM", local); shown to the owner alone. Null: no reminders.
    pub remind_at: Option<String>,
    pub period: ThisPeriod,
    /// The milestone post this goal became.
    pub milestone_topic: Option<i64>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

#[derive(sqlx::FromRow, Debug)]
pub struct GoalRow {
    pub id: i64,
    pub owner_id: i64,
    pub username: String,
    pub display_name: String,
    pub timezone: String,
    pub title: String,
    pub details: String,
    pub cadence: String,
    pub times_per_period: i64,
    pub confidence: Option<i64>,
    pub community_id: Option<i64>,
    pub community_slug: Option<String>,
    pub circle_id: Option<i64>,
    pub ends_on: Option<String>,
    pub status: String,
    pub remind_at: Option<String>,
    pub topic_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_period: Option<String>,
    pub last_status: Option<String>,
    pub last_note: Option<String>,
    pub last_at: Option<i64>,
}

/// The goal columns, its owner and its latest check-in; callers add the WHERE.
macro_rules! goal_select {
    () => {
        "SELECT g.id, g.owner_id, u.username, u.display_name, u.timezone, g.title, g.details, g.cadence,
                g.times_per_period, g.confidence, g.community_id, c.slug AS community_slug, g.circle_id, g.ends_on,
                g.status, g.remind_at, g.topic_id, g.created_at, g.updated_at,
                (SELECT k.period_start FROM goal_checkins k WHERE k.goal_id = g.id ORDER BY k.period_start DESC LIMIT 1) AS last_period,
                (SELECT k.status FROM goal_checkins k WHERE k.goal_id = g.id ORDER BY k.period_start DESC LIMIT 1) AS last_status,
                (SELECT k.note FROM goal_checkins k WHERE k.goal_id = g.id ORDER BY k.period_start DESC LIMIT 1) AS last_note,
                (SELECT k.created_at FROM goal_checkins k WHERE k.goal_id = g.id ORDER BY k.period_start DESC LIMIT 1) AS last_at
         FROM goals g JOIN users u ON u.id = g.owner_id LEFT JOIN communities c ON c.id = g.community_id "
    };
}

impl GoalRow {
    pub fn cadence(&self) -> Cadence {
        Cadence::parse(&self.cadence).unwrap_or(Cadence::Daily)
    }

    pub fn status(&self) -> GoalStatus {
        GoalStatus::parse(&self.status).unwrap_or(GoalStatus::Active)
    }

    pub fn owner(&self) -> MemberSummary {
        MemberSummary {
            id: self.owner_id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
        }
    }

    /// The local date the owner's current period started on, at `now`.
    pub fn period_start_at(&self, now: i64) -> chrono::NaiveDate {
        let zone = Zone::from_stored(&self.timezone);
        self.cadence().period_start(zone.date_at(now))
    }

    /// Whether the current period has no check-in yet (for an active goal).
    pub fn is_due(&self, now: i64) -> bool {
        self.status() == GoalStatus::Active
            && self.last_period.as_deref() != Some(self.period_start_at(now).to_string().as_str())
    }

    /// The goal as `viewer_id` sees it (the reminder time only for its owner).
    pub fn view(self, viewer_id: i64, now: i64) -> Goal {
        let cadence = self.cadence();
        let start = self.period_start_at(now);
        let start_s = start.to_string();
        let due = self.is_due(now);
        let checkin = (self.last_period.as_deref() == Some(start_s.as_str()))
            .then(|| {
                self.last_status
                    .as_deref()
                    .and_then(|s| CheckinStatus::parse(s).ok())
            })
            .flatten();
        let status = self.status();
        Goal {
            id: self.id,
            owner: self.owner(),
            title: self.title,
            details: self.details,
            cadence,
            times_per_period: self.times_per_period,
            confidence: self.confidence,
            share_with: self.community_slug,
            share_with_circle: self.circle_id,
            ends_on: self.ends_on,
            status,
            remind_at: if self.owner_id == viewer_id {
                self.remind_at
            } else {
                None
            },
            period: ThisPeriod {
                start: start_s,
                last_day: cadence.last_day(start).to_string(),
                checkin,
                due,
            },
            milestone_topic: self.topic_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// How the viewer comes to see a goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewing {
    pub owner: bool,
    /// A leader or co-leader of the circle the goal is shared with: sees check-in notes.
    pub circle_leader: bool,
}

async fn active_member(conn: &mut impl AsDb, community_id: i64, user_id: i64) -> AppResult<bool> {
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT user_id FROM memberships WHERE community_id = $1 AND user_id = $2 AND status = 'active'",
        community_id,
        user_id
    )?
    .is_some())
}

/// The goal and how `viewer` may see it; 404 when it is private to someone else.
pub async fn visible_goal(
    conn: &mut impl AsDb,
    id: i64,
    viewer: &User,
) -> AppResult<(GoalRow, Viewing)> {
    let row = db!(
        *conn,
        fetch_optional as GoalRow,
        concat!(goal_select!(), "WHERE g.id = $1"),
        id
    )?
    .ok_or(AppError::NotFound)?;
    if row.owner_id == viewer.id {
        return Ok((
            row,
            Viewing {
                owner: true,
                circle_leader: false,
            },
        ));
    }
    let circle_role = match row.circle_id {
        Some(circle) => crate::circles::role_in(conn, circle, viewer.id).await?,
        None => None,
    };
    if let Some(role) = circle_role {
        return Ok((
            row,
            Viewing {
                owner: false,
                circle_leader: role.leads(),
            },
        ));
    }
    if let Some(community) = row.community_id
        && active_member(conn, community, viewer.id).await?
        && active_member(conn, community, row.owner_id).await?
    {
        return Ok((
            row,
            Viewing {
                owner: false,
                circle_leader: false,
            },
        ));
    }
    Err(AppError::NotFound)
}

#[derive(Deserialize, ToSchema)]
pub struct NewGoal {
    /// What, how much, when: "walk 30 minutes after dinner" (3–200 characters).
    pub title: String,
    /// More about the plan (at most 2,000 characters).
    pub details: Option<String>,
    /// `daily`, `weekly` or `monthly`.
    pub cadence: String,
    /// Times per period ("5 days a week": 5); default 1, at most 7 a week, 1 for daily goals.
    pub times_per_period: Option<i64>,
    /// How sure you are that you will do it, 0–10. Under 7 is answered 422 with advice unless
    /// `confirm_confidence` is true.
    pub confidence: Option<i64>,
    /// Keep the goal as it is although confidence is under 7.
    pub confirm_confidence: Option<bool>,
    /// Share with a community you belong to (its address).
    pub share_with: Option<String>,
    /// Share with a peer circle you are in (its id).
    pub share_with_circle: Option<i64>,
    /// The last day, "YYYY-MM-DD" in your time zone.
    pub ends_on: Option<String>,
    /// Local "HH:MM" after which a missing check-in is reminded on the period's last day
    /// (default "19:00"); "" for no reminders.
    pub remind_at: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct GoalChanges {
    pub title: Option<String>,
    pub details: Option<String>,
    pub cadence: Option<String>,
    pub times_per_period: Option<i64>,
    pub confidence: Option<i64>,
    pub confirm_confidence: Option<bool>,
    /// A community's address; "" stops sharing with a community.
    pub share_with: Option<String>,
    /// A circle id; null stops sharing with a circle.
    #[serde(default, deserialize_with = "crate::http::present")]
    #[schema(value_type = Option<i64>)]
    pub share_with_circle: Option<Option<i64>>,
    /// "YYYY-MM-DD"; "" removes the end date.
    pub ends_on: Option<String>,
    /// `active`, `reached` or `stopped`.
    pub status: Option<String>,
    /// "HH:MM"; "" for no reminders.
    pub remind_at: Option<String>,
}

/// A goal's fields before checking, from a request or from the stored goal plus changes.
struct Draft {
    title: String,
    details: String,
    cadence: String,
    times: i64,
    confidence: Option<i64>,
    /// Whether the request set the confidence (only then is a low one questioned).
    confidence_set: bool,
    confirm_confidence: bool,
    share_with: Option<String>,
    share_with_circle: Option<i64>,
    ends_on: Option<String>,
    /// The request set a new end date: it must not be in the past.
    ends_on_set: bool,
    status: String,
    remind_at: Option<String>,
}

/// A goal's fields, checked.
struct Valid {
    title: String,
    details: String,
    cadence: Cadence,
    times: i64,
    confidence: Option<i64>,
    community_id: Option<i64>,
    circle_id: Option<i64>,
    ends_on: Option<String>,
    status: GoalStatus,
    remind_at: Option<String>,
}

async fn user_zone(conn: &mut impl AsDb, user_id: i64) -> AppResult<Zone> {
    let raw = db!(*conn, fetch_optional scalar String, "SELECT timezone FROM users WHERE id = $1", user_id)?;
    Ok(raw.map(|z| Zone::from_stored(&z)).unwrap_or(Zone::UTC))
}

/// Checks every field at once, so the member hears about all mistakes together; a low
/// confidence alone gets the kind advice as the message.
async fn validate(conn: &mut impl AsDb, owner: &User, d: Draft) -> AppResult<Valid> {
    let mut fields = FieldErrors::new();
    let title = d.title.trim().to_owned();
    let len = title.chars().count();
    if !(3..=200).contains(&len) || title.chars().any(char::is_control) {
        fields.push("title", "a goal has 3 to 200 characters");
    }
    let details = d.details.trim().to_owned();
    if details.chars().count() > MAX_DETAILS_CHARS {
        fields.push("details", "details have at most 2,000 characters");
    }
    let cadence = fields.check("cadence", Cadence::parse(&d.cadence));
    if let Some(c) = cadence
        && !(1..=c.max_times()).contains(&d.times)
    {
        fields.push(
            "times_per_period",
            match c {
                Cadence::Daily => "a daily goal happens once a day".to_owned(),
                _ => format!(
                    "from 1 to {} times a {}",
                    c.max_times(),
                    if c == Cadence::Weekly {
                        "week"
                    } else {
                        "month"
                    }
                ),
            },
        );
    }
    let status = fields.check("status", GoalStatus::parse(&d.status));
    let mut low_confidence = false;
    if let Some(c) = d.confidence {
        if !(0..=10).contains(&c) {
            fields.push("confidence", "confidence is a number from 0 to 10");
        } else if c < CONFIDENT && d.confidence_set && !d.confirm_confidence {
            low_confidence = true;
            fields.push("confidence", CONFIDENCE_ADVICE);
        }
    }
    let ends_on = match d
        .ends_on
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => match parse_date(raw) {
            Ok(date) => {
                let today = user_zone(conn, owner.id).await?.date_at(now_ms());
                if d.ends_on_set && date < today {
                    fields.push("ends_on", "the last day cannot be in the past");
                }
                Some(date.to_string())
            }
            Err(e) => {
                fields.push("ends_on", e);
                None
            }
        },
    };
    let remind_at = match d
        .remind_at
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(raw) => fields
            .check("remind_at", parse_hhmm(raw))
            .map(|t| t.format("%H:%M").to_string()),
    };
    let community_id = match d
        .share_with
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(slug) => {
            let id = db!(
                *conn,
                fetch_optional scalar i64,
                "SELECT c.id FROM communities c JOIN memberships m ON m.community_id = c.id
                 WHERE c.slug = $1 AND m.user_id = $2 AND m.status = 'active'",
                slug.to_ascii_lowercase(),
                owner.id
            )?;
            if id.is_none() {
                fields.push(
                    "share_with",
                    "you can share a goal only with a community you belong to",
                );
            }
            id
        }
    };
    let circle_id = match d.share_with_circle {
        None => None,
        Some(circle) => {
            if crate::circles::role_in(conn, circle, owner.id)
                .await?
                .is_none()
            {
                fields.push(
                    "share_with_circle",
                    "you can share a goal only with a circle you are in",
                );
            }
            Some(circle)
        }
    };
    if !fields.is_empty() {
        if low_confidence && fields.len() == 1 {
            return Err(AppError::Invalid {
                message: CONFIDENCE_ADVICE.into(),
                fields,
            });
        }
        return Err(fields.into_error());
    }
    let (Some(cadence), Some(status)) = (cadence, status) else {
        return Err(fields.into_error());
    };
    Ok(Valid {
        title,
        details,
        cadence,
        times: d.times,
        confidence: d.confidence,
        community_id,
        circle_id,
        ends_on,
        status,
        remind_at,
    })
}

async fn load_view(state: &AppState, id: i64, viewer: &User) -> AppResult<Goal> {
    let mut conn = state.store.read().await?;
    let (row, _) = visible_goal(&mut conn, id, viewer).await?;
    Ok(row.view(viewer.id, now_ms()))
}

/// Sets a goal for `owner`, private unless shared.
pub async fn create_goal(state: &AppState, owner: &User, req: &NewGoal) -> AppResult<Goal> {
    let draft = Draft {
        title: req.title.clone(),
        details: req.details.clone().unwrap_or_default(),
        cadence: req.cadence.clone(),
        times: req.times_per_period.unwrap_or(1),
        confidence: req.confidence,
        confidence_set: true,
        confirm_confidence: req.confirm_confidence.unwrap_or(false),
        share_with: req.share_with.clone(),
        share_with_circle: req.share_with_circle,
        ends_on: req.ends_on.clone(),
        ends_on_set: true,
        status: "active".into(),
        remind_at: Some(
            req.remind_at
                .clone()
                .unwrap_or_else(|| DEFAULT_REMIND_AT.into()),
        ),
    };
    let valid = {
        let mut conn = state.store.read().await?;
        crate::accounts::consent::require(&mut conn, owner.id).await?;
        validate(&mut conn, owner, draft).await?
    };
    let now = now_ms();
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO goals (owner_id, title, details, cadence, times_per_period, confidence, community_id, circle_id, ends_on, status, remind_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        owner.id,
        &valid.title,
        &valid.details,
        valid.cadence.as_str(),
        valid.times,
        valid.confidence,
        valid.community_id,
        valid.circle_id,
        valid.ends_on.clone(),
        valid.status.as_str(),
        valid.remind_at.clone(),
        now
    )?;
    drop(w);
    load_view(state, id, owner).await
}

/// Changes the owner's goal.
pub async fn update_goal(
    state: &AppState,
    owner: &User,
    id: i64,
    req: &GoalChanges,
) -> AppResult<Goal> {
    let row = {
        let mut conn = state.store.read().await?;
        let (row, viewing) = visible_goal(&mut conn, id, owner).await?;
        if !viewing.owner {
            return Err(AppError::forbidden("only the goal's owner changes it"));
        }
        row
    };
    let draft = Draft {
        title: req.title.clone().unwrap_or(row.title),
        details: req.details.clone().unwrap_or(row.details),
        cadence: req.cadence.clone().unwrap_or(row.cadence),
        times: req.times_per_period.unwrap_or(row.times_per_period),
        confidence: req.confidence.or(row.confidence),
        confidence_set: req.confidence.is_some(),
        confirm_confidence: req.confirm_confidence.unwrap_or(false),
        share_with: req.share_with.clone().or(row.community_slug),
        share_with_circle: match req.share_with_circle {
            Some(change) => change,
            None => row.circle_id,
        },
        ends_on_set: req.ends_on.is_some(),
        ends_on: req.ends_on.clone().or(row.ends_on),
        status: req.status.clone().unwrap_or(row.status),
        remind_at: req.remind_at.clone().or(row.remind_at),
    };
    let valid = {
        let mut conn = state.store.read().await?;
        validate(&mut conn, owner, draft).await?
    };
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE goals SET title = $2, details = $3, cadence = $4, times_per_period = $5, confidence = $6, community_id = $7,
                circle_id = $8, ends_on = $9, status = $10, remind_at = $11, updated_at = $12
         WHERE id = $1",
        id,
        &valid.title,
        &valid.details,
        valid.cadence.as_str(),
        valid.times,
        valid.confidence,
        valid.community_id,
        valid.circle_id,
        valid.ends_on.clone(),
        valid.status.as_str(),
        valid.remind_at.clone(),
        now_ms()
    )?;
    drop(w);
    load_view(state, id, owner).await
}

/// The caller's goals, newest first.
#[utoipa::path(get, path = "/api/v1/me/goals", tag = "goals", operation_id = "my_goals",
    responses((status = 200, body = Vec<Goal>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_my_goals(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Vec<Goal>>> {
    Ok(axum::Json(my_goals(&state, &session.user).await?))
}

/// The member's own goals, newest first (the latest 500).
pub async fn my_goals(state: &AppState, owner: &User) -> AppResult<Vec<Goal>> {
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as GoalRow,
        concat!(
            goal_select!(),
            "WHERE g.owner_id = $1 ORDER BY g.id DESC LIMIT 500"
        ),
        owner.id
    )?;
    let now = now_ms();
    Ok(rows.into_iter().map(|r| r.view(owner.id, now)).collect())
}

/// Set a goal. Private unless `share_with` (a community you belong to) or `share_with_circle`.
#[utoipa::path(post, path = "/api/v1/me/goals", tag = "goals", operation_id = "create_goal",
    request_body = NewGoal,
    responses((status = 201, body = Goal), (status = 401, body = ErrorBody),
              (status = 403, description = "`consent_required`: no consent to hold health data", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_goal(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewGoal>,
) -> AppResult<(StatusCode, axum::Json<Goal>)> {
    let goal = create_goal(&state, &session.user, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(goal)))
}

/// One goal: its owner, or those it is shared with.
#[utoipa::path(get, path = "/api/v1/goals/{id}", tag = "goals", operation_id = "get_goal",
    params(("id" = i64, Path)),
    responses((status = 200, body = Goal), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get_goal(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Goal>> {
    Ok(axum::Json(load_view(&state, id, &session.user).await?))
}

/// Change a goal (its owner).
#[utoipa::path(patch, path = "/api/v1/goals/{id}", tag = "goals", operation_id = "update_goal",
    params(("id" = i64, Path)),
    request_body = GoalChanges,
    responses((status = 200, body = Goal), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update_goal(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<GoalChanges>,
) -> AppResult<axum::Json<Goal>> {
    Ok(axum::Json(
        update_goal(&state, &session.user, id, &req).await?,
    ))
}

/// Delete a goal and its check-ins (its owner).
#[utoipa::path(delete, path = "/api/v1/goals/{id}", tag = "goals", operation_id = "delete_goal",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete_goal(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    {
        let mut conn = state.store.read().await?;
        let (_, viewing) = visible_goal(&mut conn, id, &session.user).await?;
        if !viewing.owner {
            return Err(AppError::forbidden("only the goal's owner deletes it"));
        }
    }
    let mut w = state.store.write().await?;
    db!(w, execute, "DELETE FROM goals WHERE id = $1", id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewCheckin {
    /// `done`, `partly` or `missed`.
    pub status: String,
    /// What helped or what got in the way (at most 500 characters). Seen by you and by the
    /// leaders of the circle the goal is shared with, never by a community.
    pub note: Option<String>,
}

/// A check-in on one period of a goal.
#[derive(Serialize, ToSchema, Debug)]
pub struct Checkin {
    pub id: i64,
    pub goal: i64,
    /// The local date the period starts on.
    pub period_start: String,
    pub status: CheckinStatus,
    /// The note, for the owner and the circle's leaders; null for others.
    pub note: Option<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct CheckinRow {
    id: i64,
    goal_id: i64,
    period_start: String,
    status: String,
    note: String,
    created_at: i64,
}

impl CheckinRow {
    fn view(self, sees_notes: bool) -> Checkin {
        Checkin {
            id: self.id,
            goal: self.goal_id,
            period_start: self.period_start,
            status: CheckinStatus::parse(&self.status).unwrap_or(CheckinStatus::Missed),
            note: sees_notes.then_some(self.note),
            created_at: self.created_at,
        }
    }
}

/// Checks in on the current period of the owner's goal; a second check-in in the same period
/// replaces the first. Answers the check-in and whether it replaced one.
pub async fn check_in(
    state: &AppState,
    owner: &User,
    id: i64,
    req: &NewCheckin,
) -> AppResult<(Checkin, bool)> {
    let status = CheckinStatus::parse(&req.status).map_err(|e| AppError::invalid("status", e))?;
    let note = req.note.as_deref().unwrap_or("").trim().to_owned();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::invalid(
            "note",
            "a note has at most 500 characters",
        ));
    }
    let row = {
        let mut conn = state.store.read().await?;
        let (row, viewing) = visible_goal(&mut conn, id, owner).await?;
        if !viewing.owner {
            return Err(AppError::forbidden("only the goal's owner checks in"));
        }
        crate::accounts::consent::require(&mut conn, owner.id).await?;
        row
    };
    if row.status() != GoalStatus::Active {
        return Err(AppError::conflict(
            "goal_closed",
            "this goal is no longer active; set it active again to check in",
        ));
    }
    let now = now_ms();
    let period = row.period_start_at(now).to_string();
    let mut tx = state.store.begin().await?;
    let earlier = db!(
        tx,
        fetch_optional scalar i64,
        "SELECT id FROM goal_checkins WHERE goal_id = $1 AND period_start = $2",
        id,
        &period
    )?;
    let checkin_id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO goal_checkins (goal_id, period_start, status, note, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (goal_id, period_start) DO UPDATE SET status = excluded.status, note = excluded.note, created_at = excluded.created_at
         RETURNING id",
        id,
        &period,
        status.as_str(),
        &note,
        now
    )?;
    db!(
        tx,
        execute,
        "UPDATE goals SET updated_at = $2 WHERE id = $1",
        id,
        now
    )?;
    tx.commit().await?;
    Ok((
        Checkin {
            id: checkin_id,
            goal: id,
            period_start: period,
            status,
            note: Some(note),
            created_at: now,
        },
        earlier.is_some(),
    ))
}

/// Check in on this period: 201, or 200 when it replaces this period's earlier check-in.
#[utoipa::path(post, path = "/api/v1/goals/{id}/checkins", tag = "goals", operation_id = "check_in",
    params(("id" = i64, Path)),
    request_body = NewCheckin,
    responses((status = 201, body = Checkin), (status = 200, body = Checkin, description = "replaced this period's check-in"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_check_in(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<NewCheckin>,
) -> AppResult<(StatusCode, axum::Json<Checkin>)> {
    let (checkin, replaced) = check_in(&state, &session.user, id, &req).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(checkin)))
}

/// A goal's check-ins, newest period first (the latest 200).
#[utoipa::path(get, path = "/api/v1/goals/{id}/checkins", tag = "goals", operation_id = "list_checkins",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Checkin>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list_checkins(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Vec<Checkin>>> {
    Ok(axum::Json(
        list_checkins(&state, &session.user, id, 200).await?,
    ))
}

/// A goal's latest `limit` check-ins, newest period first, with notes for those who may read
/// them; 404 for whoever may not see the goal.
pub async fn list_checkins(
    state: &AppState,
    viewer: &User,
    id: i64,
    limit: i64,
) -> AppResult<Vec<Checkin>> {
    let mut conn = state.store.read().await?;
    let (_, viewing) = visible_goal(&mut conn, id, viewer).await?;
    let rows = db!(
        conn,
        fetch_all as CheckinRow,
        "SELECT id, goal_id, period_start, status, note, created_at FROM goal_checkins WHERE goal_id = $1
         ORDER BY period_start DESC LIMIT $2",
        id,
        limit.clamp(1, 200)
    )?;
    let notes = viewing.owner || viewing.circle_leader;
    Ok(rows.into_iter().map(|r| r.view(notes)).collect())
}

/// Goals shared with a community, as its members see them: titles, cadence and this period's
/// progress, never notes. Owners who left the community drop out.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/goals", tag = "goals", operation_id = "community_goals",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Goal>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_community_goals(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Goal>>> {
    Ok(axum::Json(
        community_goals(&state, &session.user, &slug).await?,
    ))
}

/// The goals members share with the community (members only).
pub async fn community_goals(state: &AppState, user: &User, slug: &str) -> AppResult<Vec<Goal>> {
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, Some(user)).await?;
    if !access.is_member() {
        return Err(AppError::forbidden(
            "join this community to see the goals its members share",
        ));
    }
    let rows = db!(
        conn,
        fetch_all as GoalRow,
        concat!(
            goal_select!(),
            "JOIN memberships m ON m.community_id = g.community_id AND m.user_id = g.owner_id AND m.status = 'active'
             WHERE g.community_id = $1 AND g.status <> 'stopped' ORDER BY g.updated_at DESC, g.id DESC LIMIT 200"
        ),
        community.id
    )?;
    let now = now_ms();
    Ok(rows.into_iter().map(|r| r.view(user.id, now)).collect())
}

/// The active goals shared with a circle whose owners are still in it, for its members' list
/// and its leaders' agenda.
pub async fn shared_with_circle(conn: &mut impl AsDb, circle_id: i64) -> AppResult<Vec<GoalRow>> {
    Ok(db!(
        *conn,
        fetch_all as GoalRow,
        concat!(
            goal_select!(),
            "JOIN circle_members cm ON cm.circle_id = g.circle_id AND cm.user_id = g.owner_id
             JOIN memberships m ON m.community_id = cm.community_id AND m.user_id = g.owner_id AND m.status = 'active'
             WHERE g.circle_id = $1 AND g.status = 'active' ORDER BY u.username_key, g.id LIMIT 500"
        ),
        circle_id
    )?)
}

#[derive(Deserialize, ToSchema)]
pub struct GoalMilestone {
    /// The community to post in (its address); default: the one the goal is shared with.
    pub community: Option<String>,
    /// The milestone type; default `non_scale_victory`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Default "Goal reached: <the goal's title>".
    pub title: Option<String>,
    /// Markdown; default a line naming the goal.
    pub body: Option<String>,
    /// `community` (default) or `private`.
    pub visibility: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// Publish even though the text seems to hold an e-mail, phone number or national id.
    pub confirm_identifiers: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct GoalReached {
    pub goal: Goal,
    pub topic: forum::Topic,
    pub post: forum::posts::Post,
    /// Shown to the author alone when their words suggest they may be in crisis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_resources: Option<Vec<crate::moderation::crisis::CrisisLine>>,
}

/// Marks the owner's goal reached and posts it as a milestone, in one step. The post goes
/// through the forum's own checks first; the goal is marked only once the post exists.
pub async fn reach(
    state: &AppState,
    session: &Session,
    id: i64,
    req: &GoalMilestone,
) -> AppResult<GoalReached> {
    let row = {
        let mut conn = state.store.read().await?;
        let (row, viewing) = visible_goal(&mut conn, id, &session.user).await?;
        if !viewing.owner {
            return Err(AppError::forbidden(
                "only the goal's owner posts it as a milestone",
            ));
        }
        row
    };
    if row.topic_id.is_some() {
        return Err(AppError::conflict(
            "already_posted",
            "this goal is already a milestone post",
        ));
    }
    let Some(slug) = req
        .community
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or(row.community_slug.clone())
    else {
        return Err(AppError::invalid(
            "community",
            "say which community to share the milestone with",
        ));
    };
    let short: String = row.title.chars().take(180).collect();
    let topic = forum::NewTopic {
        title: req
            .title
            .clone()
            .unwrap_or_else(|| format!("Goal reached: {short}")),
        body: req
            .body
            .clone()
            .unwrap_or_else(|| format!("I reached my goal: {}.", row.title)),
        kind: Some("milestone".into()),
        milestone: Some(crate::milestones::NewMilestone {
            kind: req
                .kind
                .clone()
                .unwrap_or_else(|| "non_scale_victory".into()),
            value: req.value,
            unit: req.unit.clone(),
            visibility: req.visibility.clone(),
            ..Default::default()
        }),
        content_warning: None,
        anonymous: None,
        confirm_identifiers: req.confirm_identifiers,
        attachments: Vec::new(),
    };
    let created = forum::create_topic(state, session, &slug, &topic).await?;
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE goals SET status = 'reached', topic_id = $2, updated_at = $3 WHERE id = $1",
        id,
        created.topic.id,
        now_ms()
    )?;
    drop(w);
    Ok(GoalReached {
        goal: load_view(state, id, &session.user).await?,
        topic: created.topic,
        post: created.post,
        crisis_resources: created.crisis_resources,
    })
}

/// Goal reached: mark it and post it as a milestone in one step (its owner).
#[utoipa::path(post, path = "/api/v1/goals/{id}/milestone", tag = "goals", operation_id = "goal_milestone",
    params(("id" = i64, Path)),
    request_body = GoalMilestone,
    responses((status = 201, body = GoalReached), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_goal_milestone(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<GoalMilestone>,
) -> AppResult<(StatusCode, axum::Json<GoalReached>)> {
    let reached = reach(&state, &session, id, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(reached)))
}

#[derive(sqlx::FromRow)]
struct Remindable {
    id: i64,
    owner_id: i64,
    cadence: String,
    remind_at: String,
    ends_on: Option<String>,
    timezone: String,
    last_reminded: Option<String>,
    last_checkin: Option<String>,
}

/// Sends "check-in due" reminders: on a period's last local day, after the owner's reminder
/// time, for an active goal with no check-in that period. Once per goal and period on however
/// many nodes: the `goal_reminders` row is claimed in the notification's transaction.
pub async fn run_due(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let candidates = {
        let mut conn = store.read().await?;
        db!(
            conn,
            fetch_all as Remindable,
            "SELECT g.id, g.owner_id, g.cadence, g.remind_at, g.ends_on, u.timezone,
                    (SELECT MAX(r.period_start) FROM goal_reminders r WHERE r.goal_id = g.id) AS last_reminded,
                    (SELECT MAX(k.period_start) FROM goal_checkins k WHERE k.goal_id = g.id) AS last_checkin
             FROM goals g JOIN users u ON u.id = g.owner_id
             WHERE g.status = 'active' AND g.remind_at IS NOT NULL ORDER BY g.id"
        )?
    };
    let mut sent_count = 0;
    for goal in candidates {
        let (Ok(cadence), Ok(at)) = (Cadence::parse(&goal.cadence), parse_hhmm(&goal.remind_at))
        else {
            continue;
        };
        let local = Zone::from_stored(&goal.timezone).local(now).naive_local();
        if !cadence.reminder_due(local, at) {
            continue;
        }
        let today = local.date().to_string();
        if goal
            .ends_on
            .as_deref()
            .is_some_and(|end| end < today.as_str())
        {
            continue;
        }
        let period = cadence.period_start(local.date()).to_string();
        if goal.last_reminded.as_deref() == Some(period.as_str())
            || goal.last_checkin.as_deref() == Some(period.as_str())
        {
            continue;
        }
        let mut tx = store.begin().await?;
        let checked = db!(
            tx,
            fetch_optional scalar i64,
            "SELECT id FROM goal_checkins WHERE goal_id = $1 AND period_start = $2",
            goal.id,
            &period
        )?;
        if checked.is_some() {
            continue;
        }
        let claimed = db!(
            tx,
            execute,
            "INSERT INTO goal_reminders (goal_id, period_start, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            goal.id,
            &period,
            now
        )?;
        if claimed == 0 {
            continue;
        }
        let mut recipients = Recipients::default();
        recipients.add(goal.owner_id, Kind::CheckinDue);
        let about = About {
            subject: Some(Subject::Goal(goal.id)),
            ..Default::default()
        };
        let sent = notify::send_about(&mut tx, &about, recipients).await?;
        tx.commit().await?;
        sent.publish(realtime);
        sent_count += 1;
    }
    Ok(sent_count)
}

/// Erases the member's goals and their check-ins, in the caller's transaction (their
/// health-data consent was withdrawn): (check-ins, goals) removed. Reminder claims go with the
/// goals (ON DELETE CASCADE).
pub async fn forget_health_data(tx: &mut crate::store::Tx, user_id: i64) -> AppResult<(u64, u64)> {
    let checkins = db!(
        *tx,
        execute,
        "DELETE FROM goal_checkins WHERE goal_id IN (SELECT id FROM goals WHERE owner_id = $1)",
        user_id
    )?;
    let goals = db!(
        *tx,
        execute,
        "DELETE FROM goals WHERE owner_id = $1",
        user_id
    )?;
    Ok((checkins, goals))
}

/// How many goals `forget_health_data` would erase.
pub async fn count_of(conn: &mut impl AsDb, user_id: i64) -> AppResult<i64> {
    Ok(db!(*conn, fetch_one scalar i64, "SELECT COUNT(*) FROM goals WHERE owner_id = $1", user_id)?)
}
