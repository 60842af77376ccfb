//! The organiser tools: announcements (a group's, and the site's for admins).

use super::*;

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
    zone_name: String,
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
            let list = announcements::site_list(&ctx.state, &session.user).await?;
            let zone = calendar::zone_of(&ctx.state, session.user.id).await?;
            (None, zone, list)
        }
    };
    let items = list
        .into_iter()
        .map(|a| AnnouncementItem {
            id: a.id,
            until: a.ends_at.map(|t| at(ctx.texts, zone, t)),
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
        zone_name: crate::web::format::zone_label(ctx.texts, zone.name()),
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
    let req = announcements::AnnouncementDraft {
        title: form.title.clone(),
        body: form.body.clone(),
        pinned: form.pinned.is_some(),
        starts_at: None,
        ends_at: until,
    };
    let result = {
        let session = ctx.require()?;
        match slug {
            Some(s) => {
                announcements::create_for_community(&ctx.state, &session.user, s, &req).await
            }
            None => announcements::create_site(&ctx.state, &session.user, &req).await,
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
        announcements::delete(&ctx.state, &session.user, id).await?;
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
        announcements::delete(&ctx.state, &session.user, id).await?;
    }
    Ok(ctx.send(Redirect::to(&done_path("/admin/announcements"))))
}
