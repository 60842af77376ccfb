//! Organiser tools (`/organise/{slug}`): plain forms and lists, without JavaScript, for a
//! group's organisers and the site's admins — themed threads on a schedule, live sessions,
//! announcements, milestone types and peer circles. Site-wide announcements live at
//! `/admin/announcements` (site admins). Everything calls the capabilities' service
//! functions; refusals come back as the form again, with the reasons in the reader's language.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;

use super::calendar::{at, span};
use super::{Ctx, Layout, PageError, WebForm, form_status, urlencode};
use crate::calendar::events::{EventStatus, NewEvent, NewSummary, SessionTime};
use crate::calendar::schedules::{NewSchedule, Repeat, ScheduleChanges, ScheduleState};
use crate::calendar::{self, announcements, events, schedules};
use crate::circles::{self, CircleRole, Meeting, NewCircle};
use crate::clock::Zone;
use crate::communities::{Access, CommunityRow, organised_community};
use crate::error::AppError;
use crate::i18n::Texts;
use crate::milestones::types::{self as mtypes, MilestoneTypeChanges, NewMilestoneType};
use crate::store::{format_ms, now_ms};

/// The zones the time-zone selects offer (where members mostly live); the reader's own is added.
const ZONES: [&str; 20] = [
    "America/Mexico_City",
    "America/Tijuana",
    "America/Cancun",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Guatemala",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Madrid",
    "Asia/Kolkata",
    "UTC",
];

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A `<select>` option: (value, selected).
type Choice = (String, bool);

/// The zone choices, the reader's own first, `chosen` selected.
fn zone_choices(own: Zone, chosen: &str) -> Vec<Choice> {
    let mut names: Vec<&str> = Vec::with_capacity(ZONES.len() + 1);
    names.push(own.name());
    names.extend(ZONES.iter().copied().filter(|z| *z != own.name()));
    names
        .into_iter()
        .map(|z| (z.to_owned(), z == chosen))
        .collect()
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
            .keys()
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

/// An RFC 3339 time from a service answer, shown in `zone`.
fn shown(texts: &Texts, zone: Zone, rfc3339: &str) -> String {
    calendar::parse_time(rfc3339)
        .map(|ms| at(texts, zone, ms))
        .unwrap_or_default()
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

// ---------------------------------------------------------------------------------------------
// Themed threads on a schedule

#[derive(Deserialize, Default)]
pub struct ScheduleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    until: String,
}

struct ScheduleItem {
    id: i64,
    title: String,
    repeat_key: &'static str,
    state_key: &'static str,
    paused: bool,
    /// Still changeable (not finished, not cancelled).
    open: bool,
    next: Option<String>,
    upcoming: Vec<String>,
    topics: usize,
    latest_topic: Option<i64>,
    zone: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_schedules.html")]
struct SchedulesPage {
    l: Layout,
    slug: String,
    name: String,
    zone_name: &'static str,
    items: Vec<ScheduleItem>,
    form: ScheduleForm,
    zones: Vec<Choice>,
    repeats: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<String>,
    saved: bool,
}

fn repeat_key(r: Repeat) -> &'static str {
    match r {
        Repeat::None => "organise.repeat_none",
        Repeat::Daily => "organise.repeat_daily",
        Repeat::Weekly => "organise.repeat_weekly",
        Repeat::Monthly => "organise.repeat_monthly",
    }
}

async fn render_schedules(
    ctx: Ctx,
    slug: &str,
    mut form: ScheduleForm,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (c, _, zone) = organised(&ctx, slug).await?;
    let session = ctx.require()?;
    let list = schedules::list(&ctx.state, session, slug).await?;
    let items = list
        .into_iter()
        .map(|s| ScheduleItem {
            id: s.id,
            repeat_key: repeat_key(s.repeat),
            state_key: match s.state {
                ScheduleState::Active => "organise.state_active",
                ScheduleState::Paused => "organise.state_paused",
                ScheduleState::Finished => "organise.state_finished",
                ScheduleState::Cancelled => "organise.state_cancelled",
            },
            paused: s.state == ScheduleState::Paused,
            open: matches!(s.state, ScheduleState::Active | ScheduleState::Paused),
            next: s.next_at.as_deref().map(|t| shown(ctx.texts, zone, t)),
            upcoming: s
                .upcoming
                .iter()
                .skip(1)
                .map(|t| shown(ctx.texts, zone, t))
                .collect(),
            topics: s.topics.len(),
            latest_topic: s.topics.first().map(|t| t.topic_id),
            zone: s.timezone,
            title: s.title,
        })
        .collect();
    if form.date.is_empty() {
        form.date = today(zone);
    }
    if form.timezone.is_empty() {
        form.timezone = zone.name().to_owned();
    }
    let repeats = ["none", "daily", "weekly", "monthly"]
        .into_iter()
        .map(|r| {
            let key = repeat_key(Repeat::parse(r).unwrap_or(Repeat::None));
            (
                r,
                key,
                form.repeat == r || (form.repeat.is_empty() && r == "weekly"),
            )
        })
        .collect();
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("organise.schedules_title", &[("group", &c.name)]),
        )
        .await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = SchedulesPage {
        l,
        zones: zone_choices(zone, &form.timezone),
        slug: c.slug,
        name: c.name,
        zone_name: zone.name(),
        items,
        form,
        repeats,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn schedules_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_schedules(
        ctx,
        &slug,
        ScheduleForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

pub async fn create_schedule(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<ScheduleForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let zone = Zone::parse(&form.timezone).ok();
    let first = zone.and_then(|z| local_ms(z, &form.date, &form.time));
    let until = zone.map(|z| end_of_day(z, &form.until));
    let mut bad = Vec::new();
    if zone.is_none() {
        bad.push("timezone".to_owned());
    }
    if zone.is_some() && first.is_none() {
        bad.push("first_at".to_owned());
    }
    if matches!(until, Some(Err(()))) {
        bad.push("ends_at".to_owned());
    }
    if let (Some(z), Some(first), Some(Ok(until))) = (zone, first, until) {
        let req = NewSchedule {
            title: form.title.clone(),
            body: form.body.clone(),
            first_at: format_ms(first),
            repeat: form.repeat.clone(),
            timezone: z.name().to_owned(),
            ends_at: until.map(format_ms),
            count: None,
        };
        let result = {
            let session = ctx.require()?;
            schedules::create(&ctx.state, session, &slug, &req).await
        };
        return match result {
            Ok(_) => {
                let to = done_path(&format!("/organise/{}/schedules", urlencode(&slug)));
                Ok(ctx.send(Redirect::to(&to)))
            }
            Err(e) => {
                let errors = refusal(ctx.texts, e)?;
                render_schedules(ctx, &slug, form, errors, false).await
            }
        };
    }
    let errors = reasons(ctx.texts, &bad);
    render_schedules(ctx, &slug, form, errors, false).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
}

pub async fn change_schedule(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<ActionForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let result = {
        let session = ctx.require()?;
        match form.action.as_str() {
            "pause" | "resume" => {
                let changes = ScheduleChanges {
                    paused: Some(form.action == "pause"),
                    title: None,
                    body: None,
                };
                schedules::update(&ctx.state, session, id, &changes)
                    .await
                    .map(|_| ())
            }
            "cancel" => schedules::cancel(&ctx.state, session, id).await,
            _ => Err(AppError::bad_request("bad_action", "unknown action")),
        }
    };
    match result {
        Ok(()) => {
            let to = done_path(&format!("/organise/{}/schedules", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_schedules(ctx, &slug, ScheduleForm::default(), errors, false).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live sessions

#[derive(Deserialize, Default)]
pub struct SessionForm {
    #[serde(default)]
    room: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    also_date_1: String,
    #[serde(default)]
    also_time_1: String,
    #[serde(default)]
    also_date_2: String,
    #[serde(default)]
    also_time_2: String,
    #[serde(default)]
    also_date_3: String,
    #[serde(default)]
    also_time_3: String,
}

impl SessionForm {
    fn also(&self) -> [(&str, &str); 3] {
        [
            (self.also_date_1.as_str(), self.also_time_1.as_str()),
            (self.also_date_2.as_str(), self.also_time_2.as_str()),
            (self.also_date_3.as_str(), self.also_time_3.as_str()),
        ]
    }
}

struct SessionItem {
    id: i64,
    title: String,
    room_name: String,
    when: String,
    going: i64,
    live: bool,
    /// Still to come or running: may be cancelled.
    open: bool,
    summary_topic: Option<i64>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_sessions.html")]
struct SessionsPage {
    l: Layout,
    slug: String,
    name: String,
    zone_name: &'static str,
    rooms: Vec<(i64, String, bool)>,
    lengths: Vec<(&'static str, bool)>,
    upcoming: Vec<SessionItem>,
    past: Vec<SessionItem>,
    form: SessionForm,
    errors: Vec<String>,
    saved: bool,
}

const LENGTHS: [&str; 6] = ["30", "45", "60", "90", "120", "180"];

async fn render_sessions(
    ctx: Ctx,
    slug: &str,
    mut form: SessionForm,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (c, access, zone) = organised(&ctx, slug).await?;
    let rooms = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        crate::chat::rooms_of(&ctx.state, &mut conn, &c, &access).await?
    };
    let list = events::list(&ctx.state, ctx.user(), slug).await?;
    let (mut upcoming, mut past) = (Vec::new(), Vec::new());
    for e in list {
        let item = SessionItem {
            id: e.id,
            room_name: e.room_name.clone(),
            when: span(ctx.texts, zone, e.starts_at, e.ends_at),
            going: e.going,
            live: e.status == EventStatus::Live,
            open: matches!(e.status, EventStatus::Upcoming | EventStatus::Live),
            summary_topic: e.summary_topic_id,
            title: e.title,
        };
        if item.open {
            upcoming.push(item);
        } else {
            past.push(item);
        }
    }
    if form.date.is_empty() {
        form.date = today(zone);
    }
    if form.minutes.is_empty() {
        form.minutes = "60".into();
    }
    let lengths = LENGTHS
        .into_iter()
        .map(|m| (m, form.minutes == m))
        .collect();
    let rooms = rooms
        .into_iter()
        .map(|r| {
            let chosen = form.room == r.id.to_string();
            (r.id, r.name, chosen)
        })
        .collect();
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("organise.sessions_title", &[("group", &c.name)]),
        )
        .await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = SessionsPage {
        l,
        slug: c.slug,
        name: c.name,
        zone_name: zone.name(),
        rooms,
        lengths,
        upcoming,
        past,
        form,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn sessions_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_sessions(
        ctx,
        &slug,
        SessionForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

pub async fn create_session(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<SessionForm>,
) -> Result<Response, PageError> {
    let (_, _, zone) = organised(&ctx, &slug).await?;
    let mut bad = Vec::new();
    let minutes: i64 = form.minutes.trim().parse().unwrap_or(0);
    if !(1..=12 * 60).contains(&minutes) {
        bad.push("minutes".to_owned());
    }
    let length = minutes * 60_000;
    let start = local_ms(zone, &form.date, &form.time);
    if start.is_none() {
        bad.push("starts_at".to_owned());
    }
    let mut also_at = Vec::new();
    for (date, time) in form.also() {
        if date.trim().is_empty() && time.trim().is_empty() {
            continue;
        }
        match local_ms(zone, date, time) {
            Some(s) => also_at.push(SessionTime {
                starts_at: format_ms(s),
                ends_at: format_ms(s + length),
            }),
            None => bad.push("also".to_owned()),
        }
    }
    let room = form.room.trim().parse::<i64>().ok();
    if room.is_none() {
        bad.push("room".to_owned());
    }
    if let (true, Some(start), Some(room)) = (bad.is_empty(), start, room) {
        let req = NewEvent {
            room,
            title: form.title.clone(),
            description: Some(form.description.clone()),
            starts_at: format_ms(start),
            ends_at: format_ms(start + length),
            also_at: Some(also_at),
        };
        let result = {
            let session = ctx.require()?;
            events::create(&ctx.state, session, &slug, &req).await
        };
        return match result {
            Ok(_) => {
                let to = done_path(&format!("/organise/{}/sessions", urlencode(&slug)));
                Ok(ctx.send(Redirect::to(&to)))
            }
            Err(e) => {
                let errors = refusal(ctx.texts, e)?;
                render_sessions(ctx, &slug, form, errors, false).await
            }
        };
    }
    let errors = reasons(ctx.texts, &bad);
    render_sessions(ctx, &slug, form, errors, false).await
}

pub async fn cancel_session(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form: _ }: WebForm<ActionForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let result = {
        let session = ctx.require()?;
        events::cancel(&ctx.state, session, id).await
    };
    match result {
        Ok(()) => {
            let to = done_path(&format!("/organise/{}/sessions", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SummaryForm {
    #[serde(default)]
    body: String,
}

pub async fn post_summary(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<SummaryForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let result = {
        let session = ctx.require()?;
        let req = NewSummary {
            body: form.body.clone(),
            title: None,
        };
        events::post_summary(&ctx.state, session, id, &req).await
    };
    match result {
        Ok(e) => {
            let to = match e.summary_topic_id {
                Some(t) => format!("/t/{t}"),
                None => done_path(&format!("/organise/{}/sessions", urlencode(&slug))),
            };
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_sessions(ctx, &slug, SessionForm::default(), errors, false).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Announcements (a group's, and the site's for admins)

#[derive(Deserialize, Default)]
pub struct AnnouncementForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    pinned: Option<String>,
    #[serde(default)]
    until: String,
}

struct AnnouncementItem {
    id: i64,
    title: String,
    body_html: String,
    pinned: bool,
    until: Option<String>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_announcements.html")]
struct AnnouncementsPage {
    l: Layout,
    /// The group's (slug, name); none for the site's.
    group: Option<(String, String)>,
    /// Where the forms post.
    base: String,
    zone_name: &'static str,
    items: Vec<AnnouncementItem>,
    form: AnnouncementForm,
    errors: Vec<String>,
    saved: bool,
}

/// `None` for the site-wide page.
async fn render_announcements(
    ctx: Ctx,
    slug: Option<&str>,
    form: AnnouncementForm,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (group, zone, list) = match slug {
        Some(slug) => {
            let (c, _, zone) = organised(&ctx, slug).await?;
            let list = announcements::community_list(&ctx.state, ctx.user(), slug).await?;
            (Some((c.slug, c.name)), zone, list)
        }
        None => {
            let session = ctx.require()?;
            let list = announcements::site_list(&ctx.state, session).await?;
            let zone = calendar::zone_of(&ctx.state, session.user.id).await?;
            (None, zone, list)
        }
    };
    let items = list
        .into_iter()
        .map(|a| AnnouncementItem {
            id: a.id,
            until: a.ends_at.as_deref().map(|t| shown(ctx.texts, zone, t)),
            title: a.title,
            body_html: a.body_html,
            pinned: a.pinned,
        })
        .collect();
    let (title, base) = match &group {
        Some((slug, name)) => (
            ctx.texts
                .fill("organise.announcements_title", &[("group", name)]),
            format!("/organise/{}/announcements", urlencode(slug)),
        ),
        None => (
            ctx.texts.get("organise.site_announcements").to_owned(),
            "/admin/announcements".to_owned(),
        ),
    };
    let mut l = ctx.layout(title).await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = AnnouncementsPage {
        l,
        group,
        base,
        zone_name: zone.name(),
        items,
        form,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn announcements_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_announcements(
        ctx,
        Some(&slug),
        AnnouncementForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

pub async fn site_announcements_page(
    ctx: Ctx,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_announcements(
        ctx,
        None,
        AnnouncementForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

async fn create_announcement_in(
    ctx: Ctx,
    slug: Option<&str>,
    form: AnnouncementForm,
) -> Result<Response, PageError> {
    let zone = match slug {
        Some(s) => organised(&ctx, s).await?.2,
        None => {
            let session = ctx.require()?;
            calendar::zone_of(&ctx.state, session.user.id).await?
        }
    };
    let Ok(until) = end_of_day(zone, &form.until) else {
        let errors = reasons(ctx.texts, &["ends_at".to_owned()]);
        return render_announcements(ctx, slug, form, errors, false).await;
    };
    let req = announcements::NewAnnouncement {
        title: form.title.clone(),
        body: form.body.clone(),
        pinned: Some(form.pinned.is_some()),
        starts_at: None,
        ends_at: until.map(format_ms),
    };
    let result = {
        let session = ctx.require()?;
        match slug {
            Some(s) => announcements::create_for_community(&ctx.state, session, s, &req).await,
            None => announcements::create_site(&ctx.state, session, &req).await,
        }
    };
    match result {
        Ok(_) => {
            let to = match slug {
                Some(s) => format!("/organise/{}/announcements", urlencode(s)),
                None => "/admin/announcements".to_owned(),
            };
            Ok(ctx.send(Redirect::to(&done_path(&to))))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_announcements(ctx, slug, form, errors, false).await
        }
    }
}

pub async fn create_announcement(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<AnnouncementForm>,
) -> Result<Response, PageError> {
    create_announcement_in(ctx, Some(&slug), form).await
}

pub async fn create_site_announcement(
    WebForm { ctx, form }: WebForm<AnnouncementForm>,
) -> Result<Response, PageError> {
    create_announcement_in(ctx, None, form).await
}

pub async fn delete_announcement(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form: _ }: WebForm<ActionForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    {
        let session = ctx.require()?;
        announcements::delete(&ctx.state, session, id).await?;
    }
    let to = done_path(&format!("/organise/{}/announcements", urlencode(&slug)));
    Ok(ctx.send(Redirect::to(&to)))
}

pub async fn delete_site_announcement(
    Path(id): Path<i64>,
    WebForm { ctx, form: _ }: WebForm<ActionForm>,
) -> Result<Response, PageError> {
    {
        let session = ctx.require()?;
        if !session.user.is_admin() {
            return Err(AppError::forbidden("only site admins").into());
        }
        announcements::delete(&ctx.state, session, id).await?;
    }
    Ok(ctx.send(Redirect::to(&done_path("/admin/announcements"))))
}

// ---------------------------------------------------------------------------------------------
// Milestone types

#[derive(Deserialize, Default)]
pub struct TypeForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    action: String,
}

struct TypeItem {
    key: String,
    label: String,
    unit: String,
    category_key: &'static str,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_milestone_types.html")]
struct TypesPage {
    l: Layout,
    slug: String,
    name: String,
    items: Vec<TypeItem>,
    form: TypeForm,
    categories: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<String>,
    saved: bool,
}

fn category_key(c: &str) -> &'static str {
    match c {
        "clinical" => "organise.cat_clinical",
        "non_scale" => "organise.cat_non_scale",
        "anniversary" => "organise.cat_anniversary",
        _ => "organise.cat_other",
    }
}

async fn render_types(
    ctx: Ctx,
    slug: &str,
    form: TypeForm,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (c, _, _) = organised(&ctx, slug).await?;
    let list = mtypes::list_types(&ctx.state, ctx.user(), slug).await?;
    let items = list
        .into_iter()
        .map(|t| TypeItem {
            category_key: category_key(t.category.as_str()),
            key: t.key,
            label: t.label,
            unit: t.unit.unwrap_or_default(),
        })
        .collect();
    let categories = ["other", "clinical", "non_scale", "anniversary"]
        .into_iter()
        .map(|k| (k, category_key(k), form.category == k))
        .collect();
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("organise.types_title", &[("group", &c.name)]),
        )
        .await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = TypesPage {
        l,
        slug: c.slug,
        name: c.name,
        items,
        form,
        categories,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn types_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_types(
        ctx,
        &slug,
        TypeForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

pub async fn create_type(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<TypeForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let result = {
        let session = ctx.require()?;
        let req = NewMilestoneType {
            key: form.key.clone(),
            label: form.label.clone(),
            unit: Some(form.unit.clone()),
            category: Some(if form.category.is_empty() {
                "other".to_owned()
            } else {
                form.category.clone()
            }),
        };
        mtypes::create_type(&ctx.state, session, &slug, &req).await
    };
    match result {
        Ok(_) => {
            let to = done_path(&format!("/organise/{}/milestone-types", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_types(ctx, &slug, form, errors, false).await
        }
    }
}

pub async fn change_type(
    Path((slug, key)): Path<(String, String)>,
    WebForm { ctx, form }: WebForm<TypeForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let result = {
        let session = ctx.require()?;
        if form.action == "retire" {
            mtypes::delete_type(&ctx.state, session, &slug, &key).await
        } else {
            let changes = MilestoneTypeChanges {
                label: Some(form.label.clone()),
                unit: Some(form.unit.clone()),
                category: None,
            };
            mtypes::update_type(&ctx.state, session, &slug, &key, &changes)
                .await
                .map(|_| ())
        }
    };
    match result {
        Ok(()) => {
            let to = done_path(&format!("/organise/{}/milestone-types", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_types(ctx, &slug, TypeForm::default(), errors, false).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Peer circles

#[derive(Deserialize, Default)]
pub struct CircleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    timezone: String,
}

pub(super) struct MemberItem {
    pub username: String,
    pub display_name: String,
    pub role_key: &'static str,
    pub leads: bool,
}

pub(super) fn role_key(r: CircleRole) -> &'static str {
    match r {
        CircleRole::Member => "circles.role_member",
        CircleRole::Leader => "circles.role_leader",
        CircleRole::CoLeader => "circles.role_co_leader",
    }
}

pub(super) fn members_of(c: &circles::Circle) -> Vec<MemberItem> {
    c.members
        .iter()
        .flatten()
        .map(|m| MemberItem {
            username: m.user.username.clone(),
            display_name: m.user.display_name.clone(),
            role_key: role_key(m.role),
            leads: m.role.leads(),
        })
        .collect()
}

/// "Meets every Monday at 18:00 (America/Mexico_City)".
pub(super) fn meeting_text(texts: &Texts, m: &Meeting) -> String {
    let day = WEEKDAYS
        .iter()
        .position(|d| *d == m.weekday)
        .map_or(1, |i| i + 1);
    texts.fill(
        "circles.meets",
        &[
            ("day", texts.get(&format!("calendar.wd{day}"))),
            ("time", &m.time),
            ("zone", m.timezone.as_deref().unwrap_or("UTC")),
        ],
    )
}

/// "7 of 10 places taken".
pub(super) fn people(texts: &Texts, count: i64, capacity: i64) -> String {
    texts.fill(
        "circles.people",
        &[("n", &count.to_string()), ("cap", &capacity.to_string())],
    )
}

struct CircleItem {
    id: i64,
    name: String,
    people: String,
    meeting: Option<String>,
    members: Vec<MemberItem>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_circles.html")]
struct CirclesPage {
    l: Layout,
    slug: String,
    name: String,
    items: Vec<CircleItem>,
    form: CircleForm,
    weekdays: Vec<(&'static str, String, bool)>,
    zones: Vec<Choice>,
    errors: Vec<String>,
    saved: bool,
}

async fn render_circles(
    ctx: Ctx,
    slug: &str,
    mut form: CircleForm,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (c, _, zone) = organised(&ctx, slug).await?;
    let user = ctx.require()?.user.clone();
    let list = circles::list_circles(&ctx.state, &user, slug).await?;
    let mut items = Vec::with_capacity(list.len());
    for circle in list {
        let full = circles::get_circle(&ctx.state, &user, circle.id).await?;
        items.push(CircleItem {
            id: full.id,
            meeting: full.meeting.as_ref().map(|m| meeting_text(ctx.texts, m)),
            members: members_of(&full),
            people: people(ctx.texts, full.member_count, full.capacity),
            name: full.name,
        });
    }
    if form.timezone.is_empty() {
        form.timezone = zone.name().to_owned();
    }
    if form.capacity.is_empty() {
        form.capacity = "10".into();
    }
    let weekdays = WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                *d,
                ctx.texts.get(&format!("calendar.wd{}", i + 1)).to_owned(),
                form.weekday == *d,
            )
        })
        .collect();
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("organise.circles_title", &[("group", &c.name)]),
        )
        .await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = CirclesPage {
        l,
        zones: zone_choices(zone, &form.timezone),
        slug: c.slug,
        name: c.name,
        items,
        form,
        weekdays,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn circles_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_circles(
        ctx,
        &slug,
        CircleForm::default(),
        Vec::new(),
        q.saved.is_some(),
    )
    .await
}

pub async fn create_circle(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<CircleForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let Ok(capacity) = form.capacity.trim().parse::<i64>() else {
        let errors = reasons(ctx.texts, &["capacity".to_owned()]);
        return render_circles(ctx, &slug, form, errors, false).await;
    };
    let meeting = (!form.weekday.trim().is_empty()).then(|| Meeting {
        weekday: form.weekday.clone(),
        time: form.time.clone(),
        timezone: Some(form.timezone.clone()),
    });
    let req = NewCircle {
        name: form.name.clone(),
        capacity: Some(capacity),
        meeting,
    };
    let result = {
        let user = &ctx.require()?.user;
        circles::create_circle(&ctx.state, user, &slug, &req).await
    };
    match result {
        Ok(_) => {
            let to = done_path(&format!("/organise/{}/circles", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_circles(ctx, &slug, form, errors, false).await
        }
    }
}

#[derive(Deserialize)]
pub struct PlaceForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

pub async fn add_to_circle(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<PlaceForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    let role = CircleRole::parse(if form.role.is_empty() {
        "member"
    } else {
        &form.role
    });
    let result = match role {
        Err(_) => Err(AppError::invalid(
            "role",
            "role is member, leader or co_leader",
        )),
        Ok(role) => {
            let user = &ctx.require()?.user;
            let username = form.username.trim().trim_start_matches('@');
            match circles::add_member(&ctx.state, user, id, username, role).await {
                // An unknown username: say so beside the form, not as a missing page.
                Err(AppError::NotFound) if !username.is_empty() => {
                    Err(AppError::invalid("no_such_member", "no such member"))
                }
                Err(AppError::NotFound) => Err(AppError::invalid("username", "no username")),
                other => other.map(|_| ()),
            }
        }
    };
    match result {
        Ok(()) => {
            let to = done_path(&format!("/organise/{}/circles", urlencode(&slug)));
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let errors = refusal(ctx.texts, e)?;
            render_circles(ctx, &slug, CircleForm::default(), errors, false).await
        }
    }
}

pub async fn remove_from_circle(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<PlaceForm>,
) -> Result<Response, PageError> {
    organised(&ctx, &slug).await?;
    {
        let user = &ctx.require()?.user;
        circles::remove_member(&ctx.state, user, id, form.username.trim()).await?;
    }
    let to = done_path(&format!("/organise/{}/circles", urlencode(&slug)));
    Ok(ctx.send(Redirect::to(&to)))
}
