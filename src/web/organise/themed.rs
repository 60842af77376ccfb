//! The organiser tools: themed threads on a schedule.

use super::*;

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
    zone_name: String,
    items: Vec<ScheduleItem>,
    form: ScheduleForm,
    zones: Vec<ZoneGroup>,
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
    let list = schedules::list(&ctx.state, &session.user, slug).await?;
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
            next: s.next_at.map(|t| at(ctx.texts, zone, t)),
            upcoming: s
                .upcoming
                .iter()
                .skip(1)
                .map(|&t| at(ctx.texts, zone, t))
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
        zones: zone_choices(ctx.texts, zone, &form.timezone),
        slug: c.slug,
        name: c.name,
        zone_name: crate::web::format::zone_label(ctx.texts, zone.name()),
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
    let repeat = Repeat::parse(form.repeat.trim()).ok();
    if repeat.is_none() {
        bad.push("repeat".to_owned());
    }
    if let (Some(zone), Some(first_at), Some(Ok(ends_at)), Some(repeat)) =
        (zone, first, until, repeat)
    {
        let req = ScheduleDraft {
            title: form.title.clone(),
            body: form.body.clone(),
            first_at,
            repeat,
            zone,
            ends_at,
            count: None,
        };
        let result = {
            let session = ctx.require()?;
            schedules::create(&ctx.state, &session.user, &slug, &req).await
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
                schedules::update(&ctx.state, &session.user, id, &changes)
                    .await
                    .map(|_| ())
            }
            "cancel" => schedules::cancel(&ctx.state, &session.user, id).await,
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
