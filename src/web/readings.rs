//! `/me/readings`: a member's private readings. One plain form logs any kind (the second number
//! is only for blood pressure), the recent list has a delete button on each, and every series
//! has its chart (an `<img>` of the SVG) with the same chart in words below it and a table of
//! the numbers in a `<details>` — readable without images or JavaScript. Below: showing a chart
//! to one's circle (and stopping), and posting a good run as a milestone.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::calendar::reader_zone;
use super::format::at;
use super::member::{GroupChoice, my_groups};
use super::{Ctx, Layout, PageError, WebForm};
use crate::error::{AppError, FieldErrors};
use crate::readings::{self, Kind, ReadingDraft, chart, share};

/// The kinds that have a chart, in the form's order.
const CHARTED: [Kind; 4] = [
    Kind::Glucose,
    Kind::BloodPressure,
    Kind::Weight,
    Kind::Steps,
];
const UNITS: [&str; 7] = ["mg/dL", "mmol/L", "mmHg", "kg", "lb", "steps", ""];

struct Row {
    id: i64,
    kind: &'static str,
    value: String,
    when: String,
    context: String,
    note: String,
}

struct Series {
    kind: &'static str,
    label: &'static str,
    words: String,
    rows: Vec<(String, String)>,
}

struct ShareItem {
    id: i64,
    label: &'static str,
    circle: String,
    days: i64,
}

#[derive(Default, Clone)]
pub struct Draft {
    kind: String,
    value: String,
    value2: String,
    unit: String,
    taken_at: String,
    context: String,
    note: String,
}

#[derive(Default)]
enum Problem {
    #[default]
    None,
    Log(Vec<String>),
    Share(Vec<String>),
    Milestone(Vec<String>),
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "readings.html")]
struct ReadingsPage {
    l: Layout,
    notice: Option<String>,
    draft: Draft,
    errors: Vec<String>,
    share_errors: Vec<String>,
    milestone_errors: Vec<String>,
    readings: Vec<Row>,
    series: Vec<Series>,
    kinds: Vec<(&'static str, &'static str)>,
    units: Vec<&'static str>,
    circles: Vec<(i64, String)>,
    shares: Vec<ShareItem>,
    groups: Vec<GroupChoice>,
}

impl ReadingsPage {
    fn unit_label<'a>(&'a self, unit: &'a str) -> &'a str {
        if unit.is_empty() {
            self.l.t("readings.unit_default")
        } else if unit == "steps" {
            self.l.t("readings.unit_steps")
        } else {
            unit
        }
    }
}

fn value_text(texts: &crate::i18n::Texts, r: &readings::Reading) -> String {
    let unit = if r.kind == Kind::Steps {
        texts.get("readings.unit_steps")
    } else {
        r.unit.as_str()
    };
    match (r.value, r.value2) {
        (Some(v), Some(d)) => format!("{}/{} {unit}", chart::number(v), chart::number(d)),
        (Some(v), None) if r.kind == Kind::Steps => {
            format!("{} {unit}", texts.number(v.round() as i64))
        }
        (Some(v), None) => format!("{} {unit}", chart::number(v)),
        _ => String::new(),
    }
}

async fn build(
    ctx: &Ctx,
    draft: Draft,
    problem: Problem,
    notice: Option<String>,
) -> Result<ReadingsPage, PageError> {
    let session = ctx.require()?;
    let texts = ctx.texts;
    let zone = reader_zone(ctx).await?;
    let recent = readings::list(
        &ctx.state,
        &session.user,
        &readings::ListParams {
            limit: Some(50),
            ..Default::default()
        },
    )
    .await?;
    let readings = recent
        .items
        .iter()
        .map(|r| Row {
            id: r.id,
            kind: r.kind.label_key(),
            value: value_text(texts, r),
            when: at(texts, zone, r.taken_at),
            context: r.context.clone(),
            note: r.note.clone(),
        })
        .collect();
    let mut series = Vec::new();
    {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        for kind in CHARTED {
            let c = readings::build_chart(&mut conn, texts, session.user.id, kind, 90, false, None)
                .await?;
            if c.points.is_empty() {
                continue;
            }
            let words = c.description();
            let rows = readings::series(&mut conn, session.user.id, kind, 0)
                .await?
                .iter()
                .rev()
                .take(30)
                .map(|r| (at(texts, zone, r.taken_at), value_text(texts, r)))
                .collect();
            series.push(Series {
                kind: kind.as_str(),
                label: kind.label_key(),
                words,
                rows,
            });
        }
    }
    let circles = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        share::my_circles(&mut conn, session.user.id).await?
    };
    let shares = share::my_shares(&ctx.state, &session.user)
        .await?
        .into_iter()
        .map(|s| ShareItem {
            id: s.id,
            label: Kind::parse(&s.kind)
                .map(Kind::label_key)
                .unwrap_or("readings.title"),
            circle: circles
                .iter()
                .find(|(id, _)| *id == s.circle)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            days: s.days,
        })
        .collect();
    let groups = my_groups(ctx).await?;
    let (errors, share_errors, milestone_errors) = match problem {
        Problem::None => (Vec::new(), Vec::new(), Vec::new()),
        Problem::Log(e) => (e, Vec::new(), Vec::new()),
        Problem::Share(e) => (Vec::new(), e, Vec::new()),
        Problem::Milestone(e) => (Vec::new(), Vec::new(), e),
    };
    let mut l = ctx.layout(texts.get("readings.title")).await;
    l.noindex = true;
    Ok(ReadingsPage {
        l,
        notice,
        draft,
        errors,
        share_errors,
        milestone_errors,
        readings,
        series,
        kinds: Kind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label_key()))
            .collect(),
        units: UNITS.to_vec(),
        circles,
        shares,
        groups,
    })
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

pub async fn page(ctx: Ctx, Query(q): Query<Done>) -> Result<Response, PageError> {
    let notice = match q.done.as_deref() {
        Some(k @ ("saved" | "deleted" | "shared" | "revoked")) => {
            Some(ctx.texts.get(&format!("readings.{k}")).to_owned())
        }
        _ => None,
    };
    let page = build(&ctx, Draft::default(), Problem::None, notice).await?;
    Ok(ctx.send(page))
}

/// Our words for the fields a form was refused for.
fn errors(ctx: &Ctx, fields: &FieldErrors) -> Vec<String> {
    let mut out: Vec<String> = fields
        .names()
        .map(|f| match f {
            "kind" | "value" | "value2" | "unit" | "taken_at" | "context" | "note" | "days"
            | "circle" => ctx.texts.get(&format!("readings.err_{f}")).to_owned(),
            "below" | "above" => ctx.texts.get("readings.err_below").to_owned(),
            _ => ctx.texts.get("errors.generic").to_owned(),
        })
        .collect();
    out.dedup();
    out
}

fn number(raw: &str) -> Option<f64> {
    let t = raw.trim().replace(',', ".");
    if t.is_empty() {
        None
    } else {
        // Not a number: NaN, which validation refuses as missing.
        Some(t.parse::<f64>().unwrap_or(f64::NAN))
    }
}

#[derive(Deserialize, Default)]
pub struct LogForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    value2: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    taken_at: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    note: String,
}

pub async fn log(WebForm { ctx, form }: WebForm<LogForm>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let zone = reader_zone(&ctx).await?;
    // The form's `datetime-local` is the member's local time; an RFC 3339 time also works.
    let raw = form.taken_at.trim();
    let taken_at = if raw.is_empty() {
        Ok(None)
    } else if let Ok(local) = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        Ok(Some(zone.instant(local)))
    } else {
        crate::calendar::parse_time(raw)
            .map(Some)
            .map_err(|e| AppError::invalid("taken_at", e))
    };
    let request = taken_at.map(|taken_at| ReadingDraft {
        kind: form.kind.clone(),
        value: number(&form.value),
        value2: number(&form.value2),
        // "The usual unit" of a weight is the member's: kg, or lb in the United States.
        unit: Some(match (form.kind.as_str(), form.unit.trim()) {
            ("weight", "") => ctx.weight_unit().to_owned(),
            _ => form.unit.clone(),
        }),
        taken_at,
        context: Some(form.context.clone()),
        note: Some(form.note.clone()),
    });
    let created = match request {
        Ok(r) => readings::create(&ctx.state, &session.user, &r).await,
        Err(e) => Err(e),
    };
    let error = match created {
        Ok(_) => return Ok(ctx.send(Redirect::to("/me/readings?done=saved"))),
        Err(e) => e,
    };
    let AppError::Invalid { fields, .. } = &error else {
        return Err(error.into());
    };
    let problem = Problem::Log(errors(&ctx, fields));
    let draft = Draft {
        kind: form.kind,
        value: form.value,
        value2: form.value2,
        unit: form.unit,
        taken_at: form.taken_at,
        context: form.context,
        note: form.note,
    };
    let page = build(&ctx, draft, problem, None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}

#[derive(Deserialize, Default)]
pub struct Empty {}

pub async fn delete(
    Path(id): Path<i64>,
    WebForm { ctx, .. }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    readings::delete(&ctx.state, &session.user, id).await?;
    Ok(ctx.send(Redirect::to("/me/readings?done=deleted")))
}

#[derive(Deserialize, Default)]
pub struct ShareForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    circle: String,
    #[serde(default)]
    days: String,
    shape_only: Option<String>,
}

pub async fn share_trend(WebForm { ctx, form }: WebForm<ShareForm>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let request = share::NewShare {
        circle: form.circle.trim().parse().unwrap_or(0),
        days: form.days.trim().parse().ok(),
        shape_only: form.shape_only.is_some(),
    };
    let error = match share::share(&ctx.state, &session.user, &form.kind, &request).await {
        Ok(_) => return Ok(ctx.send(Redirect::to("/me/readings?done=shared#shares"))),
        Err(AppError::NotFound) => vec![ctx.texts.get("readings.err_circle").to_owned()],
        Err(AppError::Invalid { fields, .. }) => errors(&ctx, &fields),
        Err(e) => return Err(e.into()),
    };
    let page = build(&ctx, Draft::default(), Problem::Share(error), None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}

pub async fn revoke(
    Path(id): Path<i64>,
    WebForm { ctx, .. }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    share::revoke(&ctx.state, &session.user, id).await?;
    Ok(ctx.send(Redirect::to("/me/readings?done=revoked#shares")))
}

#[derive(Deserialize, Default)]
pub struct MilestoneForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    below: String,
    #[serde(default)]
    above: String,
    #[serde(default)]
    context: String,
    show_numbers: Option<String>,
}

pub async fn milestone(
    WebForm { ctx, form }: WebForm<MilestoneForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let request = share::TrendMilestone {
        community: form.community.clone(),
        days: form.days.trim().parse().ok(),
        below: number(&form.below),
        above: number(&form.above),
        context: Some(form.context.clone()),
        show_numbers: form.show_numbers.is_some(),
        ..Default::default()
    };
    let error = match share::milestone(&ctx.state, session, &form.kind, &request).await {
        Ok(created) => {
            return Ok(ctx.send(Redirect::to(&format!("/t/{}", created.topic.id))));
        }
        Err(AppError::Invalid { fields, .. }) => errors(&ctx, &fields),
        Err(AppError::Forbidden(_)) => vec![ctx.texts.get("readings.no_groups").to_owned()],
        Err(e) => return Err(e.into()),
    };
    let page = build(&ctx, Draft::default(), Problem::Milestone(error), None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}
