//! What a member chooses to show of their readings: the live chart of one series shared with a
//! circle they are in (optionally "shape only", with no numbers), revocable at any time; and a
//! trend turned into a milestone post, checked against their own readings and told in words.
//! Neither ever gives anyone the rows themselves.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DAY_MS, build_chart, chart, chart_kind, parse_days, render_chart, series, svg};
use crate::accounts::{Auth, Session, User, serialize_time};
use crate::app::AppState;
use crate::circles::role_in;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::forum;
use crate::http::Json;
use crate::i18n::texts;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_share))
        .routes(routes!(api_my_shares))
        .routes(routes!(api_revoke))
        .routes(routes!(api_circle_trends))
        .routes(routes!(api_trend_chart))
        .routes(routes!(api_milestone))
}

#[derive(Deserialize, ToSchema, Debug, Default)]
pub struct NewShare {
    /// A circle the member is in.
    pub circle: i64,
    /// 7, 30 (default), 90 or 365: the window the chart shows.
    pub days: Option<i64>,
    /// A chart with no axis values and no numbers in its words.
    #[serde(default)]
    pub shape_only: bool,
}

/// A series' chart shown to a circle.
#[derive(Serialize, ToSchema, Debug, Clone, sqlx::FromRow)]
pub struct TrendShare {
    pub id: i64,
    #[serde(skip)]
    pub owner_id: i64,
    pub circle: i64,
    pub kind: String,
    pub days: i64,
    pub shape_only: bool,
    /// Whose trend (in a circle's list).
    pub owner: String,
    /// The chart, for the circle's people.
    #[sqlx(skip)]
    pub chart: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl TrendShare {
    fn with_url(mut self) -> TrendShare {
        self.chart = format!(
            "/api/v1/circles/{}/trends/{}/chart.svg",
            self.circle, self.id
        );
        self
    }
}

macro_rules! share_select {
    () => {
        "SELECT s.id, s.owner_id, s.circle_id AS circle, s.kind, s.days, s.shape_only, u.display_name AS owner, s.created_at
     FROM reading_shares s JOIN users u ON u.id = s.owner_id "
    };
}

/// The circles the member is in (id, name), for the share form.
pub async fn my_circles(conn: &mut impl AsDb, user: i64) -> AppResult<Vec<(i64, String)>> {
    Ok(db!(
        *conn,
        fetch_all as (i64, String),
        "SELECT c.id, c.name FROM circle_members cm JOIN circles c ON c.id = cm.circle_id
         JOIN memberships m ON m.community_id = cm.community_id AND m.user_id = cm.user_id AND m.status = 'active'
         WHERE cm.user_id = $1 ORDER BY c.name, c.id",
        user
    )?)
}

/// Shares the chart of one series with a circle the member is in (404 for any other circle).
pub async fn share(
    state: &AppState,
    user: &User,
    kind: &str,
    req: &NewShare,
) -> AppResult<TrendShare> {
    let kind = chart_kind(kind)?;
    let days = parse_days(req.days)?;
    {
        let mut conn = state.store.read().await?;
        if role_in(&mut conn, req.circle, user.id).await?.is_none() {
            return Err(AppError::NotFound);
        }
        crate::accounts::consent::require(&mut conn, user.id).await?;
    }
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO reading_shares (owner_id, circle_id, kind, days, shape_only, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        user.id,
        req.circle,
        kind.as_str(),
        days,
        req.shape_only,
        now_ms()
    )?;
    let found = db!(
        w,
        fetch_one as TrendShare,
        concat!(share_select!(), "WHERE s.id = $1"),
        id
    )?;
    Ok(found.with_url())
}

/// The member's own shares.
pub async fn my_shares(state: &AppState, user: &User) -> AppResult<Vec<TrendShare>> {
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as TrendShare,
        concat!(share_select!(), "WHERE s.owner_id = $1 ORDER BY s.id DESC"),
        user.id
    )?;
    Ok(rows.into_iter().map(TrendShare::with_url).collect())
}

/// Stops sharing (the owner only; anyone else's is 404).
pub async fn revoke(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let mut w = state.store.write().await?;
    let gone = db!(
        w,
        execute,
        "DELETE FROM reading_shares WHERE id = $1 AND owner_id = $2",
        id,
        user.id
    )?;
    if gone == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The trends shared with a circle whose sharers are still in it: for the circle's people only
/// (404 for everyone else, moderators and organisers included — these are health data).
pub async fn circle_trends(
    state: &AppState,
    user: &User,
    circle: i64,
) -> AppResult<Vec<TrendShare>> {
    let mut conn = state.store.read().await?;
    if role_in(&mut conn, circle, user.id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let rows = db!(
        conn,
        fetch_all as TrendShare,
        concat!(share_select!(), "WHERE s.circle_id = $1
               AND EXISTS (SELECT 1 FROM circle_members cm JOIN memberships m ON m.community_id = cm.community_id AND m.user_id = cm.user_id AND m.status = 'active'
                           WHERE cm.circle_id = s.circle_id AND cm.user_id = s.owner_id)
             ORDER BY s.id DESC"),
        circle
    )?;
    Ok(rows.into_iter().map(TrendShare::with_url).collect())
}

/// A trend shared with a circle, with its chart in words (the text alternative).
pub struct TrendView {
    pub share: TrendShare,
    pub words: String,
}

/// The circle's shared trends for its page: each with the words of its chart.
pub async fn circle_trend_views(
    state: &AppState,
    viewer: &Session,
    circle: i64,
) -> AppResult<Vec<TrendView>> {
    let shares = circle_trends(state, &viewer.user, circle).await?;
    let t = texts(viewer.locale);
    let mut conn = state.store.read().await?;
    let mut out = Vec::with_capacity(shares.len());
    for share in shares {
        let Ok(kind) = chart_kind(&share.kind) else {
            continue;
        };
        let c = build_chart(
            &mut conn,
            t,
            share.owner_id,
            kind,
            share.days,
            share.shape_only,
            None,
        )
        .await?;
        out.push(TrendView {
            words: format!("{} — {}", share.owner, c.description()),
            share,
        });
    }
    Ok(out)
}

/// A shared trend's chart, drawn from the sharer's readings now, in the viewer's language.
pub async fn trend_chart(
    state: &AppState,
    viewer: &Session,
    circle: i64,
    id: i64,
) -> AppResult<String> {
    let mut conn = state.store.read().await?;
    if role_in(&mut conn, circle, viewer.user.id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let found = db!(
        conn,
        fetch_optional as (i64, String, i64, bool, String),
        "SELECT s.owner_id, s.kind, s.days, s.shape_only, u.display_name FROM reading_shares s JOIN users u ON u.id = s.owner_id
         WHERE s.id = $1 AND s.circle_id = $2",
        id,
        circle
    )?;
    let Some((owner, kind, days, shape_only, name)) = found else {
        return Err(AppError::NotFound);
    };
    if role_in(&mut conn, circle, owner).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let kind = chart_kind(&kind)?;
    render_chart(
        &mut conn,
        texts(viewer.locale),
        owner,
        kind,
        days,
        shape_only,
        Some(name),
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/me/readings/{kind}/share", tag = "readings", operation_id = "share_trend",
    params(("kind" = String, Path, description = "glucose, blood_pressure, weight or steps")),
    request_body = NewShare,
    responses((status = 201, body = TrendShare), (status = 401, body = ErrorBody),
              (status = 403, description = "`consent_required`: no consent to hold health data", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_share(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(kind): Path<String>,
    Json(req): Json<NewShare>,
) -> AppResult<(StatusCode, axum::Json<TrendShare>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(share(&state, &session.user, &kind, &req).await?),
    ))
}

/// The trends I share.
#[utoipa::path(get, path = "/api/v1/me/readings/shares", tag = "readings", operation_id = "my_trend_shares",
    responses((status = 200, body = Vec<TrendShare>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_my_shares(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Vec<TrendShare>>> {
    Ok(axum::Json(my_shares(&state, &session.user).await?))
}

/// Stop sharing a trend.
#[utoipa::path(delete, path = "/api/v1/me/readings/shares/{id}", tag = "readings", operation_id = "revoke_trend_share",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_revoke(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    revoke(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The trends shared with a circle (its people only).
#[utoipa::path(get, path = "/api/v1/circles/{id}/trends", tag = "readings", operation_id = "circle_trends",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TrendShare>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_circle_trends(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Vec<TrendShare>>> {
    Ok(axum::Json(circle_trends(&state, &session.user, id).await?))
}

/// A shared trend's chart (the circle's people only).
#[utoipa::path(get, path = "/api/v1/circles/{id}/trends/{share}/chart.svg", tag = "readings", operation_id = "circle_trend_chart",
    params(("id" = i64, Path), ("share" = i64, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_trend_chart(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((id, share)): Path<(i64, i64)>,
) -> AppResult<Response> {
    Ok(svg(trend_chart(&state, &session, id, share).await?))
}

/// A trend to post as a milestone.
#[derive(Deserialize, ToSchema, Debug, Default, Clone)]
pub struct TrendMilestone {
    /// The community to post in (the member's).
    pub community: String,
    /// The topic's title; default a sentence about the trend, without numbers.
    pub title: Option<String>,
    /// The last 7–365 days (default 30).
    pub days: Option<i64>,
    /// Every reading in the window was below this (in `unit`; systolic for blood pressure)...
    pub below: Option<f64>,
    /// ...or above this.
    pub above: Option<f64>,
    /// The unit of `below`/`above`; default the series' first unit (mg/dL, kg...).
    pub unit: Option<String>,
    /// Only readings with this context ("fasting").
    pub context: Option<String>,
    /// Put the threshold in the post (default: no numbers at all).
    #[serde(default)]
    pub show_numbers: bool,
    /// As for topics: publish even if the title seems to hold an identifier.
    pub confirm_identifiers: Option<bool>,
}

/// Checks the claim against the member's own readings and posts it as a milestone: 422 when the
/// readings do not bear it out. The claim holds when there are at least three readings in the
/// window, they span at least half of it, and every one is on the right side of the line.
pub async fn milestone(
    state: &AppState,
    session: &Session,
    kind: &str,
    req: &TrendMilestone,
) -> AppResult<forum::CreatedTopic> {
    let kind = chart_kind(kind)?;
    let days = match req.days.unwrap_or(30) {
        d @ 7..=365 => d,
        _ => return Err(AppError::invalid("days", "days is between 7 and 365")),
    };
    let unit = kind
        .unit(req.unit.as_deref())
        .map_err(|e| AppError::invalid("unit", e))?;
    let (line, below) = match (
        req.below.filter(|v| v.is_finite()),
        req.above.filter(|v| v.is_finite()),
    ) {
        (Some(b), None) => (b, true),
        (None, Some(a)) => (a, false),
        _ => {
            return Err(AppError::invalid(
                "below",
                "give one number: below or above",
            ));
        }
    };
    let now = now_ms();
    let since = now - days * DAY_MS;
    let context = req
        .context
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let rows = {
        let mut conn = state.store.read().await?;
        series(&mut conn, session.user.id, kind, since).await?
    };
    let values: Vec<(i64, f64)> = rows
        .iter()
        .filter(|r| context.is_none_or(|c| r.context.eq_ignore_ascii_case(c)))
        .filter_map(|r| Some((r.taken_at, kind.convert(r.value?, &r.unit, unit))))
        .collect();
    let spans = match (values.first(), values.last()) {
        (Some(a), Some(b)) => b.0 - a.0 >= days * DAY_MS / 2,
        _ => false,
    };
    if values.len() < 3 || !spans {
        return Err(AppError::invalid(
            "days",
            "there are not enough readings in that time to show it",
        ));
    }
    let holds = values
        .iter()
        .all(|(_, v)| if below { *v < line } else { *v > line });
    if !holds {
        return Err(AppError::invalid(
            if below { "below" } else { "above" },
            "your readings in that time do not all stay on that side of the line",
        ));
    }
    let t = texts(session.locale);
    let series_name = t.get(kind.label_key());
    let days_text = days.to_string();
    let key = match (req.show_numbers, below) {
        (false, _) => "readings.milestone_body",
        (true, true) => "readings.milestone_body_below",
        (true, false) => "readings.milestone_body_above",
    };
    let limit = format!("{} {unit}", chart::number(line));
    let body = t.fill(
        key,
        &[
            ("series", series_name),
            ("days", &days_text),
            ("limit", &limit),
        ],
    );
    let title = req
        .title
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| {
            t.fill(
                "readings.milestone_title",
                &[("series", series_name), ("days", &days_text)],
            )
        });
    let topic = forum::NewTopic {
        title,
        body,
        kind: Some("milestone".into()),
        milestone: Some(crate::milestones::NewMilestone {
            kind: "non_scale_victory".into(),
            show: Some("none".into()),
            ..Default::default()
        }),
        content_warning: None,
        anonymous: None,
        confirm_identifiers: req.confirm_identifiers,
        attachments: Vec::new(),
    };
    forum::create_topic(state, session, &req.community, &topic).await
}

/// Turn a trend into a milestone post, told in words (no numbers unless `show_numbers`).
#[utoipa::path(post, path = "/api/v1/me/readings/{kind}/milestone", tag = "readings", operation_id = "trend_milestone",
    params(("kind" = String, Path, description = "glucose, blood_pressure, weight or steps")),
    request_body = TrendMilestone,
    responses((status = 201, body = forum::CreatedTopic), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_milestone(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(kind): Path<String>,
    Json(req): Json<TrendMilestone>,
) -> AppResult<(StatusCode, axum::Json<forum::CreatedTopic>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(milestone(&state, &session, &kind, &req).await?),
    ))
}
