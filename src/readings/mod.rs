//! Private self-monitoring (issue #10 point 4): a member logs their own readings — blood
//! glucose, blood pressure, weight, steps, free-text notes — with units and time. Only the
//! member sees them: every endpoint here is under `/me` and reads the caller's own rows, and
//! nothing else in the server (feeds, profiles, search, moderation) reads this table. A member
//! may share the *chart* of one series with a circle they are in (`share`), and turn a trend
//! into a milestone post that states it in words, without the numbers unless they opt in.
//! Readings leave with the account: the table points at `users(id) ON DELETE CASCADE`, so the
//! export finds it and deletion removes it.

pub mod chart;
pub mod share;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, Session, User, serialize_time};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::i18n::{Texts, texts};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};
use chart::{Chart, Point};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_summary))
        .routes(routes!(api_delete))
        .routes(routes!(api_chart))
        .merge(share::router())
}

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Clocks drift: a reading may be stamped this far in the future.
const FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;
/// mg/dL per mmol/L of glucose.
const MGDL_PER_MMOL: f64 = 18.0;
const LB_PER_KG: f64 = 2.204_622_6;

/// What a reading measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Glucose,
    BloodPressure,
    Weight,
    Steps,
    Note,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Glucose,
        Kind::BloodPressure,
        Kind::Weight,
        Kind::Steps,
        Kind::Note,
    ];

    pub fn parse(raw: &str) -> Result<Kind, String> {
        match raw.trim() {
            "glucose" => Ok(Kind::Glucose),
            "blood_pressure" => Ok(Kind::BloodPressure),
            "weight" => Ok(Kind::Weight),
            "steps" => Ok(Kind::Steps),
            "note" => Ok(Kind::Note),
            _ => Err("kind is glucose, blood_pressure, weight, steps or note".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Glucose => "glucose",
            Kind::BloodPressure => "blood_pressure",
            Kind::Weight => "weight",
            Kind::Steps => "steps",
            Kind::Note => "note",
        }
    }

    /// The series' name in the member's words (a `[readings]` key).
    pub fn label_key(self) -> &'static str {
        match self {
            Kind::Glucose => "readings.kind_glucose",
            Kind::BloodPressure => "readings.kind_blood_pressure",
            Kind::Weight => "readings.kind_weight",
            Kind::Steps => "readings.kind_steps",
            Kind::Note => "readings.kind_note",
        }
    }

    /// The units a reading of this kind may come in; the first is the default.
    pub fn units(self) -> &'static [&'static str] {
        match self {
            Kind::Glucose => &["mg/dL", "mmol/L"],
            Kind::BloodPressure => &["mmHg"],
            Kind::Weight => &["kg", "lb"],
            Kind::Steps => &["steps"],
            Kind::Note => &[""],
        }
    }

    /// A unit as written by the member, in its usual spelling.
    pub fn unit(self, raw: Option<&str>) -> Result<&'static str, String> {
        let units = self.units();
        let Some(raw) = raw.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(units[0]);
        };
        units
            .iter()
            .find(|u| u.eq_ignore_ascii_case(raw))
            .copied()
            .ok_or_else(|| format!("the unit is {}", units.join(" or ")))
    }

    /// Plausible values in `unit`: anything outside is a typing slip.
    fn range(self, unit: &str) -> (f64, f64) {
        match (self, unit) {
            (Kind::Glucose, "mmol/L") => (0.5, 55.0),
            (Kind::Glucose, _) => (10.0, 1000.0),
            (Kind::BloodPressure, _) => (50.0, 300.0),
            (Kind::Weight, "lb") => (20.0 * LB_PER_KG, 500.0 * LB_PER_KG),
            (Kind::Weight, _) => (20.0, 500.0),
            (Kind::Steps, _) => (0.0, 200_000.0),
            (Kind::Note, _) => (0.0, 0.0),
        }
    }

    /// `v` (in `from`) in unit `to`: mixed units in one series plot on one scale.
    pub fn convert(self, v: f64, from: &str, to: &str) -> f64 {
        match (self, from, to) {
            (Kind::Glucose, "mmol/L", "mg/dL") => v * MGDL_PER_MMOL,
            (Kind::Glucose, "mg/dL", "mmol/L") => v / MGDL_PER_MMOL,
            (Kind::Weight, "lb", "kg") => v / LB_PER_KG,
            (Kind::Weight, "kg", "lb") => v * LB_PER_KG,
            _ => v,
        }
    }
}

/// A reading to log.
#[derive(Deserialize, ToSchema, Clone, Debug, Default)]
pub struct NewReading {
    /// `glucose`, `blood_pressure`, `weight`, `steps` or `note`.
    pub kind: String,
    /// The number (systolic for blood pressure); absent for notes. Glucose 10–1000 mg/dL or
    /// 0.5–55 mmol/L; systolic 50–300; weight 20–500 kg (44–1102 lb); steps 0–200,000.
    pub value: Option<f64>,
    /// Diastolic, for blood pressure only: 30–200 and below the systolic.
    pub value2: Option<f64>,
    /// glucose `mg/dL` (default) or `mmol/L`; blood pressure `mmHg`; weight `kg` (default) or
    /// `lb`; steps `steps`. Kept as given.
    pub unit: Option<String>,
    /// RFC 3339; default now; not more than five minutes ahead.
    pub taken_at: Option<String>,
    /// When it was taken, in a few words ("fasting", "after meal"), up to 40 characters.
    pub context: Option<String>,
    /// Free text up to 500 characters (required for `note`). Never shown in charts.
    pub note: Option<String>,
}

/// A reading the member logged: theirs alone.
#[derive(Serialize, ToSchema, Debug, Clone, sqlx::FromRow)]
pub struct Reading {
    pub id: i64,
    #[serde(skip)]
    pub owner_id: i64,
    pub kind: Kind,
    pub value: Option<f64>,
    pub value2: Option<f64>,
    pub unit: String,
    pub context: String,
    pub note: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub taken_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ReadingRow {
    id: i64,
    owner_id: i64,
    kind: String,
    value: Option<f64>,
    value2: Option<f64>,
    unit: String,
    context: String,
    note: String,
    taken_at: i64,
    created_at: i64,
}

impl ReadingRow {
    fn view(self) -> Option<Reading> {
        Some(Reading {
            id: self.id,
            owner_id: self.owner_id,
            kind: Kind::parse(&self.kind).ok()?,
            value: self.value,
            value2: self.value2,
            unit: self.unit,
            context: self.context,
            note: self.note,
            taken_at: self.taken_at,
            created_at: self.created_at,
        })
    }
}

macro_rules! reading_select {
    () => {
        "SELECT id, owner_id, kind, value, value2, unit, context, note, taken_at, created_at FROM readings "
    };
}

/// A reading that passed every check, ready to store.
struct Valid {
    kind: Kind,
    value: Option<f64>,
    value2: Option<f64>,
    unit: &'static str,
    context: String,
    note: String,
    taken_at: i64,
}

fn parse_time(raw: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| "taken_at is an RFC 3339 time, e.g. 2026-03-05T07:30:00-06:00".to_owned())
}

/// A reading as the member logs it, its time already read (UTC ms; now when absent).
#[derive(Clone, Debug, Default)]
pub struct ReadingDraft {
    pub kind: String,
    pub value: Option<f64>,
    pub value2: Option<f64>,
    pub unit: Option<String>,
    pub taken_at: Option<i64>,
    pub context: Option<String>,
    pub note: Option<String>,
}

impl NewReading {
    /// The request with its time read (a blank one is now).
    pub fn draft(&self) -> AppResult<ReadingDraft> {
        let taken_at = match self.taken_at.as_deref().filter(|t| !t.trim().is_empty()) {
            None => None,
            Some(raw) => Some(parse_time(raw).map_err(|e| AppError::invalid("taken_at", e))?),
        };
        Ok(ReadingDraft {
            kind: self.kind.clone(),
            value: self.value,
            value2: self.value2,
            unit: self.unit.clone(),
            taken_at,
            context: self.context.clone(),
            note: self.note.clone(),
        })
    }
}

fn validate(req: &ReadingDraft, now: i64) -> Result<Valid, AppError> {
    let mut fields = FieldErrors::new();
    let kind = fields.check("kind", Kind::parse(&req.kind));
    let taken_at = match req.taken_at {
        None => Some(now),
        Some(t) if t > now + FUTURE_SLACK_MS => {
            fields.push("taken_at", "a reading cannot be from the future");
            None
        }
        Some(t) if t < 0 => {
            fields.push("taken_at", "that time is too long ago");
            None
        }
        Some(t) => Some(t),
    };
    let context = req.context.as_deref().unwrap_or("").trim().to_owned();
    if context.chars().count() > 40 || context.chars().any(char::is_control) {
        fields.push("context", "a context has up to 40 characters on one line");
    }
    let note = req.note.as_deref().unwrap_or("").trim().to_owned();
    if note.chars().count() > 500 {
        fields.push("note", "a note has up to 500 characters");
    }
    let mut unit = None;
    if let Some(kind) = kind {
        unit = fields.check("unit", kind.unit(req.unit.as_deref()));
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        match kind {
            Kind::Note => {
                if note.is_empty() {
                    fields.push("note", "write the note");
                }
                if req.value.is_some() || req.value2.is_some() {
                    fields.push("value", "a note has no number");
                }
            }
            _ => {
                match (finite(req.value), unit) {
                    (None, _) => fields.push("value", "give the number"),
                    (Some(v), Some(u)) => {
                        let (lo, hi) = kind.range(u);
                        if v < lo || v > hi {
                            fields.push(
                                "value",
                                format!(
                                    "that does not look right: between {} and {} {u}",
                                    chart::number(lo),
                                    chart::number(hi)
                                ),
                            );
                        }
                        if kind == Kind::Steps && v.fract() != 0.0 {
                            fields.push("value", "steps are a whole number");
                        }
                    }
                    (Some(_), None) => {}
                }
                match (kind, finite(req.value2)) {
                    (Kind::BloodPressure, None) => {
                        fields.push("value2", "give the lower number (diastolic)")
                    }
                    (Kind::BloodPressure, Some(d)) => {
                        if !(30.0..=200.0).contains(&d) {
                            fields.push("value2", "the lower number is between 30 and 200");
                        } else if finite(req.value).is_some_and(|s| d >= s) {
                            fields.push("value2", "the lower number is below the upper one");
                        }
                    }
                    (_, Some(_)) => {
                        fields.push("value2", "only blood pressure has a second number")
                    }
                    (_, None) if req.value2.is_some() => {
                        fields.push("value2", "only blood pressure has a second number")
                    }
                    _ => {}
                }
            }
        }
    }
    fields.into_result()?;
    match (kind, unit, taken_at) {
        (Some(kind), Some(unit), Some(taken_at)) => Ok(Valid {
            kind,
            value: if kind == Kind::Note { None } else { req.value },
            value2: if kind == Kind::BloodPressure {
                req.value2
            } else {
                None
            },
            unit,
            context,
            note,
            taken_at,
        }),
        _ => Err(AppError::invalid("kind", "this reading is incomplete")),
    }
}

/// Logs a reading for the member.
pub async fn create(state: &AppState, user: &User, req: &ReadingDraft) -> AppResult<Reading> {
    let now = now_ms();
    let mut w = state.store.write().await?;
    crate::accounts::consent::require(&mut w, user.id).await?;
    let v = validate(req, now)?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO readings (owner_id, kind, value, value2, unit, context, note, taken_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        user.id,
        v.kind.as_str(),
        v.value,
        v.value2,
        v.unit,
        &v.context,
        &v.note,
        v.taken_at,
        now
    )?;
    Ok(Reading {
        id,
        owner_id: user.id,
        kind: v.kind,
        value: v.value,
        value2: v.value2,
        unit: v.unit.to_owned(),
        context: v.context,
        note: v.note,
        taken_at: v.taken_at,
        created_at: now,
    })
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this kind.
    pub kind: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// The member's readings, newest first (by the time taken), a page at a time.
pub async fn list(state: &AppState, user: &User, q: &ListParams) -> AppResult<Page<Reading>> {
    let paging = PageParams {
        limit: q.limit,
        after: q.after.clone(),
    };
    let limit = paging.limit()?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(Kind::parse(k).map_err(|e| AppError::invalid("kind", e))?),
        None => None,
    };
    let (at, id) = match paging.after_ints(2)? {
        Some(v) => (v[0], v[1]),
        None => (i64::MAX, i64::MAX),
    };
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as ReadingRow,
        concat!(reading_select!(), "WHERE owner_id = $1 AND ($2 = '' OR kind = $2) AND (taken_at < $3 OR (taken_at = $3 AND id < $4))
             ORDER BY taken_at DESC, id DESC LIMIT $5"),
        user.id,
        kind.map(Kind::as_str).unwrap_or(""),
        at,
        id,
        limit + 1
    )?;
    let items = rows.into_iter().filter_map(ReadingRow::view).collect();
    Ok(Page::from_rows(items, limit, |r: &Reading| {
        cursor(&[r.taken_at, r.id])
    }))
}

/// One series (oldest first) since `since`.
pub async fn series(
    conn: &mut impl AsDb,
    owner: i64,
    kind: Kind,
    since: i64,
) -> AppResult<Vec<Reading>> {
    let rows = db!(
        *conn,
        fetch_all as ReadingRow,
        concat!(
            reading_select!(),
            "WHERE owner_id = $1 AND kind = $2 AND taken_at >= $3 ORDER BY taken_at, id LIMIT 20000"
        ),
        owner,
        kind.as_str(),
        since
    )?;
    Ok(rows.into_iter().filter_map(ReadingRow::view).collect())
}

/// Deletes one of the member's readings; someone else's is 404, as if it did not exist.
pub async fn delete(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let mut w = state.store.write().await?;
    let gone = db!(
        w,
        execute,
        "DELETE FROM readings WHERE id = $1 AND owner_id = $2",
        id,
        user.id
    )?;
    if gone == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// One series at a glance.
#[derive(Serialize, ToSchema, Debug)]
pub struct SeriesSummary {
    pub kind: Kind,
    pub count: i64,
    pub latest: Option<Reading>,
    /// The unit of the averages: the latest reading's.
    pub unit: String,
    /// Mean of the last 7 and 30 days (null without readings then; notes have none).
    pub average_7_days: Option<f64>,
    pub average_30_days: Option<f64>,
    /// The same for the second value (diastolic).
    pub average2_7_days: Option<f64>,
    pub average2_30_days: Option<f64>,
}

fn mean(vs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = vs.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| (sum / n as f64 * 10.0).round() / 10.0)
}

/// Per kind the member has used: how many, the latest, and the 7- and 30-day averages.
pub async fn summary(state: &AppState, user: &User) -> AppResult<Vec<SeriesSummary>> {
    let now = now_ms();
    let mut conn = state.store.read().await?;
    let counts = db!(
        conn,
        fetch_all as (String, i64),
        "SELECT kind, COUNT(*) FROM readings WHERE owner_id = $1 GROUP BY kind",
        user.id
    )?;
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let Some((_, count)) = counts.iter().find(|(k, _)| k == kind.as_str()) else {
            continue;
        };
        let latest = db!(
            conn,
            fetch_optional as ReadingRow,
            concat!(
                reading_select!(),
                "WHERE owner_id = $1 AND kind = $2 ORDER BY taken_at DESC, id DESC LIMIT 1"
            ),
            user.id,
            kind.as_str()
        )?
        .and_then(ReadingRow::view);
        let unit = latest.as_ref().map(|r| r.unit.clone()).unwrap_or_default();
        let month = series(&mut conn, user.id, kind, now - 30 * DAY_MS).await?;
        let week: Vec<&Reading> = month
            .iter()
            .filter(|r| r.taken_at >= now - 7 * DAY_MS)
            .collect();
        let conv = |r: &Reading, v: Option<f64>| v.map(|v| kind.convert(v, &r.unit, &unit));
        out.push(SeriesSummary {
            kind,
            count: *count,
            average_7_days: mean(week.iter().filter_map(|r| conv(r, r.value))),
            average_30_days: mean(month.iter().filter_map(|r| conv(r, r.value))),
            average2_7_days: mean(week.iter().filter_map(|r| conv(r, r.value2))),
            average2_30_days: mean(month.iter().filter_map(|r| conv(r, r.value2))),
            latest,
            unit,
        });
    }
    Ok(out)
}

/// The window a chart covers.
pub fn parse_days(raw: Option<i64>) -> AppResult<i64> {
    match raw.unwrap_or(30) {
        d @ (7 | 30 | 90 | 365) => Ok(d),
        _ => Err(AppError::invalid("days", "days is 7, 30, 90 or 365")),
    }
}

/// A kind that has a chart (notes have none).
pub fn chart_kind(raw: &str) -> AppResult<Kind> {
    match Kind::parse(raw) {
        Ok(Kind::Note) | Err(_) => Err(AppError::NotFound),
        Ok(k) => Ok(k),
    }
}

/// The chart of `owner`'s `kind` over the last `days` days, in the reader's language. Values
/// are converted to the unit of the latest reading.
pub async fn build_chart<'t>(
    conn: &mut impl AsDb,
    texts: &'t Texts,
    owner: i64,
    kind: Kind,
    days: i64,
    shape_only: bool,
    owner_name: Option<String>,
) -> AppResult<Chart<'t>> {
    let now = now_ms();
    let rows = series(conn, owner, kind, now - days * DAY_MS).await?;
    let unit = rows
        .last()
        .map(|r| r.unit.clone())
        .unwrap_or_else(|| kind.units()[0].to_owned());
    let points = rows
        .iter()
        .filter_map(|r| {
            let v = kind.convert(r.value?, &r.unit, &unit);
            let v2 = r.value2.map(|d| kind.convert(d, &r.unit, &unit));
            v.is_finite().then_some(Point {
                at: r.taken_at,
                v,
                v2,
            })
        })
        .collect();
    Ok(Chart {
        texts,
        series: texts.get(kind.label_key()).to_owned(),
        unit: if kind == Kind::Steps {
            texts.get("readings.unit_steps").to_owned()
        } else {
            unit
        },
        points: chart::thin(points),
        days,
        now,
        shape_only,
        owner: owner_name,
    })
}

/// [`build_chart`] drawn as SVG.
pub async fn render_chart(
    conn: &mut impl AsDb,
    texts: &Texts,
    owner: i64,
    kind: Kind,
    days: i64,
    shape_only: bool,
    owner_name: Option<String>,
) -> AppResult<String> {
    Ok(
        build_chart(conn, texts, owner, kind, days, shape_only, owner_name)
            .await?
            .render(),
    )
}

/// An SVG answer that no cache keeps.
pub fn svg(body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    // Opened on its own, the chart may load nothing and run nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The member's readings, newest first.
#[utoipa::path(get, path = "/api/v1/me/readings", tag = "readings", operation_id = "my_readings",
    params(ListParams),
    responses((status = 200, body = Page<Reading>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Query(q): Query<ListParams>,
) -> AppResult<axum::Json<Page<Reading>>> {
    Ok(axum::Json(list(&state, &session.user, &q).await?))
}

/// Log a reading (only the member will see it).
#[utoipa::path(post, path = "/api/v1/me/readings", tag = "readings", operation_id = "log_reading",
    request_body = NewReading,
    responses((status = 201, body = Reading), (status = 401, body = ErrorBody),
              (status = 403, description = "`consent_required`: no consent to hold health data", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewReading>,
) -> AppResult<(StatusCode, axum::Json<Reading>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create(&state, &session.user, &req.draft()?).await?),
    ))
}

/// Per kind: count, latest, 7- and 30-day averages.
#[utoipa::path(get, path = "/api/v1/me/readings/summary", tag = "readings", operation_id = "readings_summary",
    responses((status = 200, body = Vec<SeriesSummary>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_summary(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Vec<SeriesSummary>>> {
    Ok(axum::Json(summary(&state, &session.user).await?))
}

/// Delete one of my readings.
#[utoipa::path(delete, path = "/api/v1/me/readings/{id}", tag = "readings", operation_id = "delete_reading",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    delete(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ChartParams {
    /// 7, 30 (default), 90 or 365.
    pub days: Option<i64>,
}

/// An SVG chart of one of my series, with its text alternative in `<title>` and `<desc>`.
#[utoipa::path(get, path = "/api/v1/me/readings/{kind}/chart.svg", tag = "readings", operation_id = "reading_chart",
    params(("kind" = String, Path, description = "glucose, blood_pressure, weight or steps"), ChartParams),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_chart(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(kind): Path<String>,
    Query(q): Query<ChartParams>,
) -> AppResult<Response> {
    Ok(svg(my_chart(&state, &session, &kind, q.days).await?))
}

/// The member's own chart of `kind`, in their language.
pub async fn my_chart(
    state: &AppState,
    session: &Session,
    kind: &str,
    days: Option<i64>,
) -> AppResult<String> {
    let kind = chart_kind(kind)?;
    let days = parse_days(days)?;
    let mut conn = state.store.read().await?;
    render_chart(
        &mut conn,
        texts(session.locale),
        session.user.id,
        kind,
        days,
        false,
        None,
    )
    .await
}

/// Erases the member's readings and the trends they shared, in the caller's transaction (their
/// health-data consent was withdrawn): (shares, readings) removed.
pub async fn forget_health_data(tx: &mut crate::store::Tx, user_id: i64) -> AppResult<(u64, u64)> {
    let shares = db!(
        *tx,
        execute,
        "DELETE FROM reading_shares WHERE owner_id = $1",
        user_id
    )?;
    let readings = db!(
        *tx,
        execute,
        "DELETE FROM readings WHERE owner_id = $1",
        user_id
    )?;
    Ok((shares, readings))
}

/// How many readings `forget_health_data` would erase.
pub async fn count_of(conn: &mut impl AsDb, user_id: i64) -> AppResult<i64> {
    Ok(
        db!(*conn, fetch_one scalar i64, "SELECT COUNT(*) FROM readings WHERE owner_id = $1", user_id)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(
        kind: &str,
        value: Option<f64>,
        value2: Option<f64>,
        unit: Option<&str>,
    ) -> ReadingDraft {
        ReadingDraft {
            kind: kind.into(),
            value,
            value2,
            unit: unit.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn plausible_ranges_per_kind_and_unit() {
        let now = 1_780_000_000_000;
        assert!(validate(&new("glucose", Some(120.0), None, None), now).is_ok());
        assert!(validate(&new("glucose", Some(120.0), None, Some("mmol/l")), now).is_err());
        assert!(validate(&new("glucose", Some(6.5), None, Some("mmol/l")), now).is_ok());
        assert!(validate(&new("blood_pressure", Some(120.0), Some(80.0), None), now).is_ok());
        assert!(validate(&new("blood_pressure", Some(80.0), Some(120.0), None), now).is_err());
        assert!(validate(&new("weight", Some(600.0), None, Some("lb")), now).is_ok());
        assert!(validate(&new("weight", Some(600.0), None, Some("kg")), now).is_err());
        assert!(validate(&new("steps", Some(1.5), None, None), now).is_err());
        assert!(validate(&new("note", None, None, None), now).is_err());
    }

    #[test]
    fn units_convert_both_ways() {
        assert!((Kind::Glucose.convert(7.0, "mmol/L", "mg/dL") - 126.0).abs() < 1e-9);
        assert!((Kind::Weight.convert(100.0, "kg", "lb") - 220.46226).abs() < 1e-4);
    }
}
