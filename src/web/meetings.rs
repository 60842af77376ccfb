//! A group's in-person meetings (`/c/{slug}/meetings`): where and when, the next dates in the
//! place's own time, "I'm going" for members, the group's calendar feed, and for organisers a
//! form to list a meeting and buttons to cancel one.

use axum::extract::Path;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::format::{ZoneGroup, zone_groups};
use super::{Ctx, Layout, PageError, WebForm};
use crate::calendar::schedules::Repeat;
use crate::clock::Zone;
use crate::error::{AppError, FieldErrors};
use crate::meetings::{self, MeetingDraft};

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "meetings.html")]
struct MeetingsPage {
    l: Layout,
    slug: String,
    name: String,
    member: bool,
    organiser: bool,
    meetings: Vec<MeetingItem>,
    errors: Vec<String>,
    form: MeetingForm,
    zones: Vec<ZoneGroup>,
}

struct MeetingItem {
    id: i64,
    title: String,
    place: String,
    address: String,
    notes: String,
    contact: String,
    repeat_key: &'static str,
    next: Vec<String>,
    going: bool,
    going_count: i64,
}

#[derive(Deserialize, Default)]
pub struct MeetingForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    contact: String,
}

async fn page(
    ctx: Ctx,
    slug: &str,
    errors: Vec<String>,
    form: MeetingForm,
) -> Result<Response, PageError> {
    let c = crate::communities::get_community(&ctx.state, ctx.user(), slug).await?;
    let list = meetings::list(&ctx.state, ctx.user(), slug).await?;
    let member = c.membership.as_ref().is_some_and(|m| m.status == "active");
    let organiser = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        let (_, access) =
            crate::communities::visible_community(&mut conn, slug, ctx.user()).await?;
        access.is_organiser()
    };
    let items = list
        .into_iter()
        .map(|m| {
            let zone = Zone::from_stored(&m.timezone);
            let dur = m.duration_minutes * 60_000;
            MeetingItem {
                next: m
                    .next
                    .iter()
                    .map(|&t| super::format::span(ctx.texts, zone, t, t + dur))
                    .collect(),
                repeat_key: match m.repeat.as_str() {
                    "weekly" => "meetings.weekly",
                    "monthly" => "meetings.monthly",
                    "daily" => "meetings.daily",
                    _ => "meetings.once",
                },
                id: m.id,
                title: m.title,
                place: m.place,
                address: m.address,
                notes: m.notes,
                contact: m.contact,
                going: m.going == Some(true),
                going_count: m.going_count,
            }
        })
        .collect();
    // A new meeting's zone is the organiser's own until they choose another.
    let chosen = if form.timezone.is_empty() {
        super::calendar::reader_zone(&ctx).await?.name().to_owned()
    } else {
        form.timezone.clone()
    };
    let zones = zone_groups(ctx.texts, &chosen);
    let mut l = ctx
        .layout(ctx.texts.fill("meetings.page_title", &[("group", &c.name)]))
        .await;
    l.noindex = c.visibility != crate::communities::types::Visibility::Public;
    let status = super::form_status(!errors.is_empty());
    let page = MeetingsPage {
        l,
        slug: c.slug,
        name: c.name,
        member,
        organiser,
        meetings: items,
        errors,
        form,
        zones,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn list(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    page(ctx, &slug, Vec::new(), MeetingForm::default()).await
}

pub async fn create(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<MeetingForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let mut fields = FieldErrors::new();
    let zone = fields.check("timezone", Zone::parse(&form.timezone));
    let first_at = chrono::NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d")
        .ok()
        .zip(chrono::NaiveTime::parse_from_str(form.time.trim(), "%H:%M").ok())
        .map(|(d, t)| {
            zone.unwrap_or(Zone::UTC)
                .instant(chrono::NaiveDateTime::new(d, t))
        });
    if first_at.is_none() {
        fields.push("first_at", "a date and a time");
    }
    let repeat = match form.repeat.trim() {
        "" => Some(Repeat::Weekly),
        r => fields.check("repeat", Repeat::parse(r)),
    };
    let draft = MeetingDraft {
        title: form.title.clone(),
        place: form.place.clone(),
        address: form.address.clone(),
        first_at: first_at.unwrap_or(0),
        repeat: repeat.unwrap_or(Repeat::None),
        zone: zone.unwrap_or(Zone::UTC),
        duration_minutes: 90,
        notes: form.notes.clone(),
        contact: form.contact.clone(),
    };
    let result = if fields.is_empty() {
        meetings::create(&ctx.state, &user, &slug, &draft).await
    } else {
        // The date or zone is unreadable: say so together with whatever else is wrong.
        draft.check_into(&mut fields);
        Err(fields.into_error())
    };
    match result {
        Ok(_) => Ok(ctx.send(Redirect::to(&format!("/c/{slug}/meetings")))),
        Err(AppError::Invalid { fields, .. }) => {
            let errors = fields
                .names()
                .map(|f| match f {
                    "title" | "place" | "address" | "first_at" => {
                        ctx.texts.get(&format!("meetings.error_{f}")).to_owned()
                    }
                    _ => ctx.texts.get("errors.generic").to_owned(),
                })
                .collect();
            page(ctx, &slug, errors, form).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct GoingForm {
    #[serde(default)]
    going: String,
}

pub async fn rsvp(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<GoingForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    meetings::rsvp(&ctx.state, &user, id, form.going == "yes").await?;
    Ok(ctx.send(Redirect::to(&format!("/c/{slug}/meetings#meeting-{id}"))))
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn cancel(
    Path((slug, id)): Path<(String, i64)>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    meetings::cancel(&ctx.state, &user, id).await?;
    Ok(ctx.send(Redirect::to(&format!("/c/{slug}/meetings"))))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "calendar_key.html")]
struct KeyPage {
    l: Layout,
    url: Option<String>,
}

/// Makes (or replaces) the member's secret calendar address and shows it once.
pub async fn create_key(WebForm { ctx, form: _ }: WebForm<Empty>) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let key = meetings::create_key(&ctx.state, &user).await?;
    let mut l = ctx.layout(ctx.texts.get("meetings.key_title")).await;
    l.noindex = true;
    Ok(ctx.send(KeyPage {
        l,
        url: Some(key.url),
    }))
}

/// Revokes it: calendar apps using the old address stop getting updates.
pub async fn revoke_key(WebForm { ctx, form: _ }: WebForm<Empty>) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    meetings::revoke_key(&ctx.state, &user).await?;
    let mut l = ctx.layout(ctx.texts.get("meetings.key_title")).await;
    l.noindex = true;
    Ok(ctx.send(KeyPage { l, url: None }))
}
