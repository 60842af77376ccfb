//! Milestones: the community's milestone types, milestone posts (a topic or a reply of kind
//! `milestone`) and who may see their values, the community feed and a member's timeline,
//! follows, and yearly anniversary reminders.
//!
//! Numbers are private by default: others see that a member reached a milestone, not the weight
//! or the A1c ("progress without the number"), unless the member shows the value, or shows it as
//! a percentage of a baseline they keep to themselves. Nothing is ever ordered by value: feeds
//! and timelines are by time, so there is no leaderboard anywhere. "Only me" milestones are
//! topics with `private_to` set: no list, page, search, notification or moderation queue shows
//! them to anyone but their author.

pub mod anniversary;
pub mod follows;
pub mod types;

use crate::http::{Path, Query};
use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{MaybeAuth, Session, find_by_username, serialize_time};
use crate::app::AppState;
use crate::clock::Zone;
use crate::communities::{MemberSummary, visible_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::notify::{Kind, Recipients};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};
pub use types::Category;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_feed))
        .routes(routes!(api_timeline))
        .merge(types::router())
        .merge(follows::router())
}

/// The `milestone` part of a new topic or reply (API.md "Milestones, goals, organiser tools").
#[derive(Deserialize, ToSchema, Clone, Debug, Default)]
pub struct NewMilestone {
    /// The key of one of the community's milestone types, e.g. `weight_lost`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// An optional number: 25 (lb), 6.8 (A1c %)... finite, at most 1,000,000 either way.
    pub value: Option<f64>,
    /// Up to 12 characters; the type's unit when a value comes without one.
    pub unit: Option<String>,
    /// `community` (the default) or `private` (only me).
    pub visibility: Option<String>,
    /// What others see of the number: `none` (the default: the milestone without the number),
    /// `value`, or `percent` (the value as a percentage of `baseline`, e.g. "12%").
    pub show: Option<String>,
    /// The starting point for `show: "percent"` (e.g. the starting weight); never shown to
    /// anyone but the author.
    pub baseline: Option<f64>,
    /// The day it happened, `YYYY-MM-DD` (default: today in the member's time zone); not in the
    /// future. Anniversary types remind the member on this day every year.
    pub achieved_on: Option<String>,
}

/// What others see of a milestone's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Show {
    Value,
    Percent,
    None,
}

impl Show {
    fn parse(raw: &str) -> Result<Show, String> {
        match raw {
            "value" => Ok(Show::Value),
            "percent" => Ok(Show::Percent),
            "none" => Ok(Show::None),
            _ => Err("show is value, percent or none".into()),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Show::Value => "value",
            Show::Percent => "percent",
            Show::None => "none",
        }
    }
}

/// Who may see a milestone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Whoever may read the community.
    Community,
    /// Only the author.
    Private,
}

/// The largest number a milestone holds, either way: anything beyond is a typing mistake.
const MAX_VALUE: f64 = 1_000_000.0;

/// A checked milestone, ready to store with its post.
#[derive(Debug, Clone)]
pub struct Prepared {
    type_id: i64,
    amount: Option<f64>,
    unit: Option<String>,
    baseline: Option<f64>,
    show: Show,
    /// "Only me".
    pub private: bool,
    achieved_on: NaiveDate,
}

/// Checks the milestone of a new post against the community's types and the member's calendar;
/// problems go to `fields` under `milestone.<field>`.
pub async fn prepare(
    state: &AppState,
    community_id: i64,
    author_id: i64,
    raw: Option<&NewMilestone>,
    fields: &mut FieldErrors,
) -> AppResult<Option<Prepared>> {
    let mut note = |field: &str, e: String| fields.push(format!("milestone.{field}"), e);
    let Some(m) = raw else {
        note(
            "type",
            "choose one of the community's milestone types".into(),
        );
        return Ok(None);
    };
    let (found, timezone, country) = {
        let mut conn = state.store.read().await?;
        // A number (or a baseline) is health data; a milestone without one is not (PRV-6).
        if m.value.is_some() || m.baseline.is_some() {
            crate::accounts::consent::require(&mut conn, author_id).await?;
        }
        let found = if m.kind.trim().is_empty() {
            None
        } else {
            types::find_active(&mut conn, community_id, m.kind.trim()).await?
        };
        let about = db!(
            conn,
            fetch_optional as (String, Option<String>),
            "SELECT timezone, country FROM users WHERE id = $1",
            author_id
        )?;
        let (tz, country) = about.map_or((None, None), |(tz, c)| (Some(tz), c));
        (found, tz, country)
    };
    let kind = match found {
        Some(t) => Some(t),
        None => {
            note(
                "type",
                if m.kind.trim().is_empty() {
                    "choose one of the community's milestone types".into()
                } else {
                    "this community has no milestone type with that key".into()
                },
            );
            None
        }
    };
    let number = |v: Option<f64>, field: &str, note: &mut dyn FnMut(&str, String)| match v {
        Some(v) if !v.is_finite() || v.abs() > MAX_VALUE => {
            note(
                field,
                format!("a {field} is a number between -1000000 and 1000000"),
            );
            None
        }
        other => Some(other),
    };
    let amount = number(m.value, "value", &mut note);
    let baseline = match number(m.baseline, "baseline", &mut note) {
        Some(Some(b)) if b <= 0.0 => {
            note("baseline", "a baseline is more than zero".into());
            None
        }
        other => other,
    };
    let unit = match types::parse_unit(m.unit.as_deref().unwrap_or("")) {
        Ok(u) => Some(u),
        Err(e) => {
            note("unit", e);
            None
        }
    };
    let private = match m.visibility.as_deref().unwrap_or("community") {
        "community" => Some(false),
        "private" => Some(true),
        _ => {
            note("visibility", "visibility is community or private".into());
            None
        }
    };
    let show = match Show::parse(m.show.as_deref().unwrap_or("none")) {
        Ok(Show::Value) if m.value.is_none() => {
            note("show", "showing the value needs a value".into());
            None
        }
        Ok(Show::Percent) if m.value.is_none() || m.baseline.is_none() => {
            note(
                "show",
                "a percentage needs a value and a baseline (where you started)".into(),
            );
            None
        }
        Ok(s) => Some(s),
        Err(e) => {
            note("show", e);
            None
        }
    };
    let today = Zone::from_stored(timezone.as_deref().unwrap_or("UTC")).date_at(now_ms());
    let achieved_on = match m.achieved_on.as_deref().map(str::trim) {
        None | Some("") => Some(today),
        Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) if d > today => {
                note(
                    "achieved_on",
                    "a milestone's day is not in the future".into(),
                );
                None
            }
            Ok(d) if d < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d) => {
                note("achieved_on", "a milestone's day is after 1900".into());
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                note("achieved_on", "a day is written YYYY-MM-DD".into());
                None
            }
        },
    };
    let (
        Some(kind),
        Some(amount),
        Some(baseline),
        Some(unit),
        Some(private),
        Some(show),
        Some(achieved_on),
    ) = (kind, amount, baseline, unit, private, show, achieved_on)
    else {
        return Ok(None);
    };
    // A number without a unit takes the type's (%, kg), a weight in the member's own unit (lb
    // in the United States, kg elsewhere) whichever the type was made with.
    let type_unit = kind.unit.as_deref().map(|u| {
        if types::is_weight_unit(u) {
            crate::i18n::weight_unit(country.as_deref()).to_owned()
        } else {
            u.to_owned()
        }
    });
    let unit = unit.or_else(|| amount.and(type_unit));
    Ok(Some(Prepared {
        type_id: kind.id,
        amount,
        unit,
        // Kept only when it is used: a baseline nobody sees is a number best not stored.
        baseline: if show == Show::Percent {
            baseline
        } else {
            None
        },
        show,
        private,
        achieved_on,
    }))
}

/// Where a milestone is posted.
pub struct Placement {
    pub community_id: i64,
    pub author_id: i64,
    pub topic_id: i64,
    pub post_id: i64,
}

/// Stores a checked milestone with its post (in the post's transaction).
pub async fn record(conn: &mut impl AsDb, m: &Prepared, at: &Placement) -> AppResult<i64> {
    Ok(db!(
        *conn,
        fetch_one scalar i64,
        "INSERT INTO milestones (community_id, author_id, type_id, topic_id, post_id, amount, unit, baseline, shown_as,
                                 is_private, achieved_on, achieved_md, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        at.community_id,
        at.author_id,
        m.type_id,
        at.topic_id,
        at.post_id,
        m.amount,
        m.unit.as_deref(),
        m.baseline,
        m.show.as_str(),
        m.private,
        m.achieved_on.format("%Y-%m-%d").to_string(),
        m.achieved_on.format("%m-%d").to_string(),
        now_ms()
    )?)
}

/// Adds the author's followers to a community-visible milestone's notifications
/// (`notify::send` leaves out those who may not read the community).
pub async fn add_followers(
    conn: &mut impl AsDb,
    author_id: i64,
    recipients: &mut Recipients,
) -> AppResult<()> {
    let followers = db!(
        *conn,
        fetch_all scalar i64,
        "SELECT follower_id FROM follows WHERE followee_id = $1",
        author_id
    )?;
    for id in followers {
        recipients.add(id, Kind::Milestone);
    }
    Ok(())
}

/// A milestone as the caller may see it: the number only when the author shows it (or to the
/// author), the baseline to the author alone.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct Milestone {
    pub id: i64,
    /// The type's key.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's label, as the organisers wrote it.
    pub label: String,
    pub category: Category,
    /// The number, when the caller may see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The author's starting point for a percentage (the author only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// How the number is shown to others.
    pub show: Show,
    /// What to print beside the label: "25 lb", "12%", or null for progress without the number.
    pub display: Option<String>,
    pub visibility: Visibility,
    /// `YYYY-MM-DD`.
    pub achieved_on: String,
    /// How many `celebrate` reactions the post has.
    pub celebrations: i64,
    /// The caller posted it.
    pub mine: bool,
}

/// A milestone in a feed or timeline, with the post it was shared in.
#[derive(Serialize, ToSchema, Debug)]
pub struct FeedItem {
    pub milestone: Milestone,
    pub topic_id: i64,
    pub post_id: i64,
    /// The community's address.
    pub community: String,
    pub title: String,
    /// Null for anonymous posts.
    pub author: Option<MemberSummary>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// In a group's feed and a member's timeline, only when the caller blocks (`blocked`) or
    /// ignores (`ignored`) its author: show it collapsed, openable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_for_you: Option<crate::blocks::Hidden>,
}

#[derive(sqlx::FromRow, Debug)]
struct Row {
    id: i64,
    slug: String,
    author_id: i64,
    username: Option<String>,
    display_name: Option<String>,
    anonymous: bool,
    topic_id: i64,
    post_id: i64,
    title: String,
    type_key: String,
    label: String,
    category: String,
    amount: Option<f64>,
    unit: Option<String>,
    baseline: Option<f64>,
    shown_as: String,
    is_private: bool,
    achieved_on: String,
    created_at: i64,
    celebrations: i64,
}

macro_rules! select_milestones {
    () => {
        "SELECT m.id, c.slug, m.author_id, u.username, u.display_name, p.anonymous, m.topic_id, m.post_id, t.title,
                mt.type_key, mt.label, mt.category, m.amount, m.unit, m.baseline, m.shown_as, m.is_private,
                m.achieved_on, m.created_at,
                (SELECT COUNT(*) FROM post_reactions r WHERE r.post_id = m.post_id AND r.kind = 'celebrate') AS celebrations
         FROM milestones m
         JOIN milestone_types mt ON mt.id = m.type_id
         JOIN posts p ON p.id = m.post_id
         JOIN topics t ON t.id = m.topic_id
         JOIN communities c ON c.id = m.community_id
         LEFT JOIN users u ON u.id = m.author_id "
    };
}

/// A number as people write it: `25`, `6.8`, `-3.5`.
fn format_number(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    let s = format!("{rounded}");
    s.replace('-', "\u{2212}")
}

/// The value as a whole percentage of the baseline ("12%", "−12%" for a negative value), or
/// none when there is nothing to divide by.
pub fn percent_display(value: f64, baseline: f64) -> Option<String> {
    if !(baseline > 0.0 && value.is_finite()) {
        return None;
    }
    let pct = (value / baseline * 100.0).round();
    let sign = if pct < 0.0 { "\u{2212}" } else { "" };
    Some(format!("{sign}{}%", pct.abs()))
}

fn display(
    show: Show,
    amount: Option<f64>,
    unit: Option<&str>,
    baseline: Option<f64>,
) -> Option<String> {
    match (show, amount) {
        (Show::Value, Some(v)) => Some(match unit {
            Some("%") => format!("{}%", format_number(v)),
            Some(u) => format!("{} {u}", format_number(v)),
            None => format_number(v),
        }),
        (Show::Percent, Some(v)) => percent_display(v, baseline?),
        _ => None,
    }
}

fn view(row: Row, viewer_id: Option<i64>) -> Milestone {
    let mine = viewer_id == Some(row.author_id);
    let show = Show::parse(&row.shown_as).unwrap_or(Show::None);
    let shown = display(show, row.amount, row.unit.as_deref(), row.baseline);
    let number_visible = mine || show == Show::Value;
    Milestone {
        id: row.id,
        kind: row.type_key,
        label: row.label,
        category: Category::parse(&row.category).unwrap_or(Category::Other),
        value: row.amount.filter(|_| number_visible),
        unit: row.unit.filter(|_| number_visible),
        baseline: row.baseline.filter(|_| mine),
        show,
        display: shown,
        visibility: if row.is_private {
            Visibility::Private
        } else {
            Visibility::Community
        },
        achieved_on: row.achieved_on,
        celebrations: row.celebrations,
        mine,
    }
}

fn feed_item(row: Row, viewer_id: Option<i64>) -> FeedItem {
    FeedItem {
        topic_id: row.topic_id,
        post_id: row.post_id,
        community: row.slug.clone(),
        title: row.title.clone(),
        author: crate::forum::author(
            row.anonymous,
            Some(row.author_id),
            row.username.clone(),
            row.display_name.clone(),
        ),
        created_at: row.created_at,
        hidden_for_you: None,
        milestone: view(row, viewer_id),
    }
}

/// Feed items for `viewer`, folded where they keep the author away (blocked or ignored).
fn feed_items(rows: Vec<Row>, viewer: Option<&Session>) -> Vec<FeedItem> {
    let viewer_id = viewer.map(|s| s.user.id);
    rows.into_iter()
        .map(|r| {
            let mut item = feed_item(r, viewer_id);
            item.hidden_for_you = viewer.and_then(|s| s.kept_away.hides(item.author.as_ref()));
            item
        })
        .collect()
}

/// The milestone of one post, for a caller already allowed to read the post; none on what is a
/// placeholder for them (deleted, hidden by a moderator, held from visitors).
pub async fn for_post(
    conn: &mut impl AsDb,
    post_id: i64,
    viewer_id: Option<i64>,
) -> AppResult<Option<Milestone>> {
    let row = db!(
        *conn,
        fetch_optional as Row,
        concat!(
            select_milestones!(),
            "WHERE m.post_id = $1 AND (m.is_private = FALSE OR m.author_id = $2) AND p.deleted_at IS NULL
               AND (m.author_id = $2 OR (p.hidden_at IS NULL AND (p.held_for_review = FALSE OR $2 <> -1)))"
        ),
        post_id,
        viewer_id.unwrap_or(-1)
    )?;
    Ok(row.map(|r| view(r, viewer_id)))
}

/// The milestone a topic opens with, for a caller already allowed to read the topic.
pub async fn for_topic(
    conn: &mut impl AsDb,
    topic_id: i64,
    viewer_id: Option<i64>,
) -> AppResult<Option<Milestone>> {
    let row = db!(
        *conn,
        fetch_optional as Row,
        concat!(
            select_milestones!(),
            "WHERE m.topic_id = $1 AND p.seq = 1 AND (m.is_private = FALSE OR m.author_id = $2) AND p.deleted_at IS NULL
               AND (m.author_id = $2 OR (p.hidden_at IS NULL AND (p.held_for_review = FALSE OR $2 <> -1)))"
        ),
        topic_id,
        viewer_id.unwrap_or(-1)
    )?;
    Ok(row.map(|r| view(r, viewer_id)))
}

/// The milestones of one page of a topic's posts (`after` < seq ≤ `last`), by post id.
pub async fn for_posts(
    conn: &mut impl AsDb,
    topic_id: i64,
    after: i64,
    last: i64,
    viewer_id: Option<i64>,
) -> AppResult<Vec<(i64, Milestone)>> {
    let rows = db!(
        *conn,
        fetch_all as Row,
        concat!(
            select_milestones!(),
            "WHERE m.topic_id = $1 AND p.seq > $2 AND p.seq <= $3 AND (m.is_private = FALSE OR m.author_id = $4) AND p.deleted_at IS NULL
               AND (m.author_id = $4 OR (p.hidden_at IS NULL AND (p.held_for_review = FALSE OR $4 <> -1)))"
        ),
        topic_id,
        after,
        last,
        viewer_id.unwrap_or(-1)
    )?;
    Ok(rows
        .into_iter()
        .map(|r| (r.post_id, view(r, viewer_id)))
        .collect())
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct FeedFilter {
    /// Only milestones of this type (its key).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

fn page_after(page: &PageParams) -> AppResult<(i64, i64)> {
    Ok(page
        .after_ints(2)?
        .map(|v| (v[0], v[1]))
        .unwrap_or((i64::MAX, i64::MAX)))
}

/// A community's milestones the caller may see, newest first: everyone's community milestones,
/// plus the caller's own private ones (marked private). 404 / 403 as the forum answers.
pub async fn feed(
    state: &AppState,
    viewer: Option<&Session>,
    slug: &str,
    filter: &FeedFilter,
    page: &PageParams,
) -> AppResult<Page<FeedItem>> {
    let limit = page.limit()?;
    let (before_at, before_id) = page_after(page)?;
    let user = viewer.map(|s| &s.user);
    let viewer_id = user.map(|u| u.id);
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, user).await?;
    if !access.can_read() {
        return Err(AppError::forbidden(
            "join this community to see its milestones",
        ));
    }
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            select_milestones!(),
            "WHERE m.community_id = $1 AND t.deleted_at IS NULL AND p.deleted_at IS NULL
               AND (m.author_id = $2 OR (m.is_private = FALSE AND p.hidden_at IS NULL AND (p.held_for_review = FALSE OR $7)))
               AND ($3 = '' OR mt.type_key = $3)
               AND (m.created_at < $4 OR (m.created_at = $4 AND m.id < $5))
             ORDER BY m.created_at DESC, m.id DESC LIMIT $6"
        ),
        community.id,
        viewer_id.unwrap_or(-1),
        filter.kind.as_deref().unwrap_or("").trim(),
        before_at,
        before_id,
        limit + 1,
        // Held for review: out of the feed for all but the author and the moderators.
        access.is_moderator()
    )?;
    let items = feed_items(rows, viewer);
    Ok(Page::from_rows(items, limit, |i: &FeedItem| {
        cursor(&[i.created_at, i.milestone.id])
    }))
}

/// A community's milestone feed, newest first: what the caller may see.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/milestones", tag = "milestones", operation_id = "milestone_feed",
    params(("slug" = String, Path), FeedFilter, PageParams),
    responses((status = 200, body = Page<FeedItem>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_feed(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
    Query(filter): Query<FeedFilter>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<FeedItem>>> {
    Ok(axum::Json(
        feed(&state, viewer.as_ref(), &slug, &filter, &page).await?,
    ))
}

/// A member's milestones the caller may see, newest first: in communities the caller may read,
/// never anonymous or private ones (the member sees all of their own).
pub async fn timeline(
    state: &AppState,
    viewer: Option<&Session>,
    username: &str,
    page: &PageParams,
) -> AppResult<Page<FeedItem>> {
    let limit = page.limit()?;
    let (before_at, before_id) = page_after(page)?;
    let user = viewer.map(|s| &s.user);
    let viewer_id = user.map(|u| u.id);
    let staff =
        user.is_some_and(|u| u.is_admin() || u.has_role(crate::accounts::types::Role::Moderator));
    let mut conn = state.store.read().await?;
    let member = find_by_username(&mut conn, username)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            select_milestones!(),
            "WHERE m.author_id = $1 AND t.deleted_at IS NULL AND p.deleted_at IS NULL
               AND (m.author_id = $2 OR (m.is_private = FALSE AND p.anonymous = FALSE AND p.hidden_at IS NULL
                    AND (p.held_for_review = FALSE OR $3)
                    AND (c.visibility = 'public' OR $3
                         OR EXISTS (SELECT 1 FROM memberships ms WHERE ms.community_id = c.id AND ms.user_id = $2 AND ms.status = 'active'))))
               AND (m.created_at < $4 OR (m.created_at = $4 AND m.id < $5))
             ORDER BY m.created_at DESC, m.id DESC LIMIT $6"
        ),
        member.id,
        viewer_id.unwrap_or(-1),
        staff,
        before_at,
        before_id,
        limit + 1
    )?;
    let items = feed_items(rows, viewer);
    Ok(Page::from_rows(items, limit, |i: &FeedItem| {
        cursor(&[i.created_at, i.milestone.id])
    }))
}

/// A member's milestone timeline, newest first: what the caller may see.
#[utoipa::path(get, path = "/api/v1/users/{username}/milestones", tag = "milestones", operation_id = "milestone_timeline",
    params(("username" = String, Path), PageParams),
    responses((status = 200, body = Page<FeedItem>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_timeline(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(username): Path<String>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<FeedItem>>> {
    Ok(axum::Json(
        timeline(&state, viewer.as_ref(), &username, &page).await?,
    ))
}

/// Removes the numbers, units and baselines of the member's milestones in the caller's
/// transaction (their health-data consent was withdrawn); the posts stay as ordinary posts.
/// The number of milestones changed.
pub async fn forget_health_data(tx: &mut crate::store::Tx, user_id: i64) -> AppResult<u64> {
    Ok(db!(
        *tx,
        execute,
        "UPDATE milestones SET amount = NULL, unit = NULL, baseline = NULL, shown_as = 'none'
         WHERE author_id = $1 AND (amount IS NOT NULL OR unit IS NOT NULL OR baseline IS NOT NULL)",
        user_id
    )?)
}

/// How many milestones `forget_health_data` would change.
pub async fn count_with_values(conn: &mut impl AsDb, user_id: i64) -> AppResult<i64> {
    Ok(db!(
        *conn,
        fetch_one scalar i64,
        "SELECT COUNT(*) FROM milestones
         WHERE author_id = $1 AND (amount IS NOT NULL OR unit IS NOT NULL OR baseline IS NOT NULL)",
        user_id
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_hide_the_numbers() {
        assert_eq!(percent_display(25.0, 210.0).as_deref(), Some("12%"));
        assert_eq!(
            percent_display(-25.0, 210.0).as_deref(),
            Some("\u{2212}12%")
        );
        assert_eq!(percent_display(1.0, 0.0), None);
        assert_eq!(percent_display(f64::NAN, 10.0), None);
    }

    #[test]
    fn values_as_people_write_them() {
        assert_eq!(
            display(Show::Value, Some(25.0), Some("lb"), None).as_deref(),
            Some("25 lb")
        );
        assert_eq!(
            display(Show::Value, Some(6.8), Some("%"), None).as_deref(),
            Some("6.8%")
        );
        assert_eq!(display(Show::None, Some(6.8), Some("%"), None), None);
        assert_eq!(display(Show::Percent, Some(6.8), None, None), None);
    }
}
