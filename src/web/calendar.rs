//! `/events/{id}`: a live session, where reminders and cancellations point: when it is (in the
//! member's own time zone), who may say they are going, and the other times it is offered at.
//! Also the form that dismisses an announcement shown above a page.

use axum::extract::Path;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::i18n::Texts;
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

/// "5 mar 2026, 18:00–19:00 (America/Mexico_City)", in the reader's language and zone.
fn span(texts: &Texts, zone: Zone, starts: i64, ends: i64) -> String {
    let (s, e) = (zone.local(starts), zone.local(ends));
    // The local wall time read as if it were UTC gives the local date to the date formatter.
    let local_day = s.naive_local().and_utc().timestamp_millis();
    format!(
        "{}, {}–{} ({})",
        texts.date(local_day),
        s.format("%H:%M"),
        e.format("%H:%M"),
        zone.name()
    )
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
