//! The organiser tools: peer circles.

use super::*;

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

pub(in crate::web) struct MemberItem {
    pub username: String,
    pub display_name: String,
    pub role_key: &'static str,
    pub leads: bool,
}

pub(in crate::web) fn role_key(r: CircleRole) -> &'static str {
    match r {
        CircleRole::Member => "circles.role_member",
        CircleRole::Leader => "circles.role_leader",
        CircleRole::CoLeader => "circles.role_co_leader",
    }
}

pub(in crate::web) fn members_of(c: &circles::Circle) -> Vec<MemberItem> {
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

/// "Meets every Monday at 18:00 (Mexico City)".
pub(in crate::web) fn meeting_text(texts: &Texts, m: &Meeting) -> String {
    let day = WEEKDAYS
        .iter()
        .position(|d| *d == m.weekday)
        .map_or(1, |i| i + 1);
    texts.fill(
        "circles.meets",
        &[
            ("day", texts.get(&format!("calendar.wd{day}"))),
            ("time", &m.time),
            (
                "zone",
                &crate::web::format::zone_label(texts, m.timezone.as_deref().unwrap_or("UTC")),
            ),
        ],
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
    zones: Vec<ZoneGroup>,
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
        zones: zone_choices(ctx.texts, zone, &form.timezone),
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
    let mut fields = crate::error::FieldErrors::new();
    let meeting = if form.weekday.trim().is_empty() {
        None
    } else {
        let words = Meeting {
            weekday: form.weekday.clone(),
            time: form.time.clone(),
            timezone: Some(form.timezone.clone()),
        };
        words.read(&mut fields)
    };
    if !fields.is_empty() {
        let errors = refusal(ctx.texts, fields.into_error())?;
        return render_circles(ctx, &slug, form, errors, false).await;
    }
    let req = CircleDraft {
        name: form.name.clone(),
        capacity,
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
