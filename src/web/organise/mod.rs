//! Organiser tools (`/organise/{slug}`): plain forms and lists, without JavaScript, for a
//! group's organisers and the site's admins — themed threads on a schedule, live sessions,
//! announcements, milestone types and peer circles. Site-wide announcements live at
//! `/admin/announcements` (site admins). Everything calls the capabilities' service
//! functions; refusals come back as the form again, with the reasons in the reader's language.

mod announce;
mod details;
mod milestone_types;
mod peer_circles;
mod sessions;
mod themed;

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;

use super::format::{ZoneGroup, at, people, span, zone_groups};
use super::{Ctx, Layout, PageError, WebForm, form_status, urlencode};
use crate::calendar::events::{EventDraft, EventStatus, NewSummary};
use crate::calendar::schedules::{Repeat, ScheduleChanges, ScheduleDraft, ScheduleState};
use crate::calendar::{self, announcements, events, schedules};
use crate::circles::{self, CircleDraft, CircleRole, Meeting};
use crate::clock::Zone;
use crate::communities::{Access, CommunityRow, organised_community};
use crate::error::AppError;
use crate::i18n::Texts;
use crate::milestones::types::{self as mtypes, MilestoneTypeChanges, NewMilestoneType};
use crate::store::now_ms;
pub use announce::*;
pub use details::*;
pub use milestone_types::*;
pub use peer_circles::*;
pub use sessions::*;
pub use themed::*;

use crate::circles::WEEKDAYS;

/// The zone choices with `chosen` selected, else the organiser's own.
fn zone_choices(texts: &Texts, own: Zone, chosen: &str) -> Vec<ZoneGroup> {
    zone_groups(
        texts,
        if chosen.trim().is_empty() {
            own.name()
        } else {
            chosen
        },
    )
}

/// The community and the organiser's zone; the login page for visitors, 403 for members who
/// do not organise it, 404 when they may not know of it.
async fn organised(ctx: &Ctx, slug: &str) -> Result<(CommunityRow, Access, Zone), PageError> {
    let session = ctx.require()?;
    let (community, access) = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        organised_community(&mut conn, slug, &session.user).await?
    };
    let zone = calendar::zone_of(&ctx.state, session.user.id).await?;
    Ok((community, access, zone))
}

/// A local date ("2026-03-05") and time ("18:00") in `zone` as an instant.
fn local_ms(zone: Zone, date: &str, time: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let t = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(time.trim(), "%H:%M:%S"))
        .ok()?;
    Some(zone.instant(NaiveDateTime::new(d, t)))
}

/// The end of a local day (an optional "until" date), as an instant; `Err` when unreadable.
fn end_of_day(zone: Zone, date: &str) -> Result<Option<i64>, ()> {
    if date.trim().is_empty() {
        return Ok(None);
    }
    local_ms(zone, date, "23:59").map(Some).ok_or(())
}

/// Today in `zone`, as a date input's value.
fn today(zone: Zone) -> String {
    zone.date_at(now_ms()).format("%Y-%m-%d").to_string()
}

/// The reasons for a refusal the form can show, in the reader's language; other failures pass on.
fn refusal(texts: &Texts, e: AppError) -> Result<Vec<String>, PageError> {
    let keys: Vec<String> = match &e {
        AppError::Invalid { fields, .. } => fields
            .names()
            .map(|f| f.rsplit('.').next().unwrap_or(f).to_owned())
            .collect(),
        AppError::Conflict { code, .. } => vec![(*code).to_owned()],
        _ => return Err(e.into()),
    };
    Ok(reasons(texts, &keys))
}

/// `organise.err_<key>` for each key (the generic line when there is none), without repeats.
fn reasons(texts: &Texts, keys: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        let key = format!("organise.err_{k}");
        let text = texts.get(&key);
        let text = if text == key {
            texts.get("errors.generic").to_owned()
        } else {
            text.to_owned()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

fn done_path(base: &str) -> String {
    format!("{base}?saved=1")
}

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The overview

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "organise.html")]
struct OverviewPage {
    l: Layout,
    slug: String,
    name: String,
    admin: bool,
}

pub async fn overview(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    let (c, _, _) = organised(&ctx, &slug).await?;
    let admin = ctx.user().is_some_and(|u| u.is_admin());
    let mut l = ctx
        .layout(ctx.texts.fill("organise.title", &[("group", &c.name)]))
        .await;
    l.noindex = true;
    let page = OverviewPage {
        l,
        slug: c.slug,
        name: c.name,
        admin,
    };
    Ok(ctx.send(page))
}
