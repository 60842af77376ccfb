//! The organiser tools: live sessions.

use super::*;

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
    /// The zone the date and times are in (the organiser's own unless they choose another).
    #[serde(default)]
    timezone: String,
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
    zone_name: String,
    zones: Vec<ZoneGroup>,
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
            room_name: crate::web::format::room_name(ctx.texts, &e.room_name),
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
    let zones = zone_choices(ctx.texts, zone, &form.timezone);
    let lengths = LENGTHS
        .into_iter()
        .map(|m| (m, form.minutes == m))
        .collect();
    let rooms = rooms
        .into_iter()
        .map(|r| {
            let chosen = form.room == r.id.to_string();
            (
                r.id,
                crate::web::format::room_name(ctx.texts, &r.name),
                chosen,
            )
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
        zone_name: crate::web::format::zone_label(ctx.texts, zone.name()),
        zones,
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
    let (_, _, own) = organised(&ctx, &slug).await?;
    let mut bad = Vec::new();
    // The times are read in the zone the organiser chose (their own when none was sent).
    let zone = if form.timezone.trim().is_empty() {
        own
    } else {
        Zone::parse(&form.timezone).unwrap_or_else(|_| {
            bad.push("timezone".to_owned());
            own
        })
    };
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
            Some(s) => also_at.push((s, s + length)),
            None => bad.push("also".to_owned()),
        }
    }
    let room = form.room.trim().parse::<i64>().ok();
    if room.is_none() {
        bad.push("room".to_owned());
    }
    if let (true, Some(start), Some(room)) = (bad.is_empty(), start, room) {
        let req = EventDraft {
            room,
            title: form.title.clone(),
            description: form.description.clone(),
            starts_at: start,
            ends_at: start + length,
            also_at,
        };
        let result = {
            let session = ctx.require()?;
            events::create(&ctx.state, &session.user, &slug, &req).await
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
        events::cancel(&ctx.state, &session.user, id).await
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
        events::post_summary(&ctx.state, &session.user, id, &req).await
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
