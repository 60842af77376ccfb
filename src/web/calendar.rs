//! `/events/{id}`: a live session, where reminders and cancellations point: when it is (in the
//! member's own time zone), who may say they are going, and the other times it is offered at.
//! Also the form that dismisses an announcement shown above a page.

use axum::extract::Path;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::format::{day_heading, span};
use super::{Ctx, Layout, PageError, WebForm, safe_next};
use crate::calendar::events::{self, Event, EventStatus};
use crate::clock::Zone;
use crate::communities;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "event.html")]
struct EventPage {
    l: Layout,
    e: Event,
    community_name: String,
    status_key: &'static str,
    when: String,
    /// Sibling sessions: (id, when).
    others: Vec<(i64, String)>,
    member: bool,
    going: bool,
    /// RSVPs are still open (not ended, not cancelled).
    open: bool,
}

/// The reader's zone: a member's own, UTC for visitors.
pub(super) async fn reader_zone(ctx: &Ctx) -> Result<Zone, PageError> {
    Ok(match ctx.user() {
        Some(u) => crate::calendar::zone_of(&ctx.state, u.id).await?,
        None => Zone::UTC,
    })
}

/// One session on the group's calendar.
struct CalendarItem {
    id: i64,
    title: String,
    /// "18:00–19:00".
    hours: String,
    room_name: String,
    going: i64,
    mine: bool,
    live: bool,
    /// The other times it is offered at: (id, when).
    others: Vec<(i64, String)>,
}

struct CalendarDay {
    heading: String,
    items: Vec<CalendarItem>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "calendar.html")]
struct CalendarPage {
    l: Layout,
    slug: String,
    community_name: String,
    zone_name: String,
    visitor: bool,
    member: bool,
    days: Vec<CalendarDay>,
}

/// `/c/{slug}/events`: the group's sessions still to come, by day, in the reader's zone.
pub async fn group_calendar(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    let member = c.membership.as_ref().is_some_and(|m| m.status == "active");
    let zone = reader_zone(&ctx).await?;
    let list = events::list(&ctx.state, ctx.user(), &slug).await?;
    let mut days: Vec<CalendarDay> = Vec::new();
    for e in list
        .into_iter()
        .filter(|e| matches!(e.status, EventStatus::Upcoming | EventStatus::Live))
    {
        let heading = day_heading(ctx.texts, zone, e.starts_at);
        let item = CalendarItem {
            id: e.id,
            hours: format!(
                "{}–{}",
                zone.local(e.starts_at).format("%H:%M"),
                zone.local(e.ends_at).format("%H:%M")
            ),
            room_name: super::format::room_name(ctx.texts, &e.room_name),
            going: e.going,
            mine: e.my_rsvp == Some(true),
            live: e.status == EventStatus::Live,
            others: e
                .times
                .iter()
                .filter(|t| t.id != e.id)
                .map(|t| (t.id, span(ctx.texts, zone, t.starts_at, t.ends_at)))
                .collect(),
            title: e.title,
        };
        match days.last_mut() {
            Some(day) if day.heading == heading => day.items.push(item),
            _ => days.push(CalendarDay {
                heading,
                items: vec![item],
            }),
        }
    }
    let mut l = ctx
        .layout(ctx.texts.fill("calendar.title", &[("group", &c.name)]))
        .await;
    l.noindex |= c.visibility != crate::communities::types::Visibility::Public;
    let page = CalendarPage {
        l,
        slug: c.slug,
        community_name: c.name,
        zone_name: crate::web::format::zone_label(ctx.texts, zone.name()),
        visitor: ctx.session.is_none(),
        member,
        days,
    };
    Ok(ctx.send(page))
}

/// The calendar's Going / Not going form: back to the same session on the calendar.
pub async fn group_rsvp(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<RsvpForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    events::rsvp(&ctx.state, &session.user, id, form.going == "1").await?;
    Ok(ctx.send(Redirect::to(&format!(
        "/c/{}/events#e-{id}",
        super::urlencode(&slug)
    ))))
}

pub async fn page(ctx: Ctx, Path(id): Path<i64>) -> Result<Response, PageError> {
    let e = events::get_event(&ctx.state, ctx.user(), id).await?;
    let c = communities::get_community(&ctx.state, ctx.user(), &e.community).await?;
    let member = c.membership.as_ref().is_some_and(|m| m.status == "active");
    let zone = match ctx.user() {
        Some(u) => crate::calendar::zone_of(&ctx.state, u.id).await?,
        None => Zone::UTC,
    };
    let status_key = match e.status {
        EventStatus::Upcoming => "events.upcoming",
        EventStatus::Live => "events.live",
        EventStatus::Ended => "events.ended",
        EventStatus::Cancelled => "events.cancelled",
    };
    let others = e
        .times
        .iter()
        .filter(|t| t.id != e.id)
        .map(|t| (t.id, span(ctx.texts, zone, t.starts_at, t.ends_at)))
        .collect();
    let mut l = ctx.layout(e.title.clone()).await;
    l.noindex = true;
    let mut e = e;
    e.room_name = super::format::room_name(ctx.texts, &e.room_name);
    let page = EventPage {
        when: span(ctx.texts, zone, e.starts_at, e.ends_at),
        community_name: c.name,
        status_key,
        others,
        member,
        going: e.my_rsvp == Some(true),
        open: matches!(e.status, EventStatus::Upcoming | EventStatus::Live),
        e,
        l,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct RsvpForm {
    /// "1" going, "0" not.
    going: String,
}

pub async fn rsvp(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<RsvpForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    events::rsvp(&ctx.state, &session.user, id, form.going == "1").await?;
    Ok(ctx.send(Redirect::to(&format!("/events/{id}"))))
}

#[derive(Deserialize)]
pub struct DismissForm {
    next: Option<String>,
}

pub async fn dismiss(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<DismissForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    crate::calendar::announcements::dismiss(&ctx.state, &session.user, id).await?;
    let next = safe_next(form.next.as_deref());
    Ok(ctx.send(Redirect::to(&next)))
}
