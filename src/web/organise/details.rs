//! The organiser tools: the group's details — name, description, and what the directory finds it
//! by (condition, language, area).

use super::*;
use crate::communities::{self, CommunityChanges};
use crate::web::directory::{ListingForm, label_or_name};

#[derive(Deserialize, Default)]
pub struct DetailsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    condition_label: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    region: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_details.html")]
struct DetailsPage {
    l: Layout,
    slug: String,
    /// The group's name as stored (for the way back).
    name: String,
    form_name: String,
    description: String,
    listing: ListingForm,
    errors: Vec<String>,
    saved: bool,
}

async fn render_details(
    ctx: Ctx,
    slug: &str,
    form: Option<DetailsForm>,
    errors: Vec<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let (c, _, _) = organised(&ctx, slug).await?;
    let form = form.unwrap_or_else(|| DetailsForm {
        name: c.name.clone(),
        description: c.description.clone(),
        condition: c.condition.clone(),
        condition_label: c.condition_label.clone(),
        language: c.language.clone(),
        region: c.region.clone(),
    });
    let listing = ListingForm::new(
        ctx.texts,
        &form.condition,
        &form.condition_label,
        &form.language,
        &form.region,
    );
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("listing.details_title", &[("group", &c.name)]),
        )
        .await;
    l.noindex = true;
    let status = form_status(!errors.is_empty());
    let page = DetailsPage {
        l,
        slug: c.slug,
        name: c.name,
        form_name: form.name,
        description: form.description,
        listing,
        errors,
        saved,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn details_page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    render_details(ctx, &slug, None, Vec::new(), q.saved.is_some()).await
}

pub async fn change_details(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<DetailsForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let changes = CommunityChanges {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        condition: Some(form.condition.clone()),
        condition_label: Some(label_or_name(
            ctx.texts,
            &form.condition,
            &form.condition_label,
        )),
        language: Some(form.language.clone()),
        region: Some(form.region.clone()),
        ..CommunityChanges::default()
    };
    match communities::change_community(&ctx.state, &user, &slug, &changes).await {
        Ok(c) => {
            let base = format!("/organise/{}/details", urlencode(&c.slug));
            Ok(ctx.send(Redirect::to(&done_path(&base))))
        }
        Err(e) => {
            let errors = listing_refusal(ctx.texts, e)?;
            render_details(ctx, &slug, Some(form), errors, false).await
        }
    }
}

/// The reasons for a refusal, `listing.err_<field>` in the reader's language.
fn listing_refusal(texts: &Texts, e: AppError) -> Result<Vec<String>, PageError> {
    let AppError::Invalid { fields, .. } = &e else {
        return Err(e.into());
    };
    let mut out: Vec<String> = Vec::new();
    for field in fields.names() {
        let key = format!("listing.err_{}", field.rsplit('.').next().unwrap_or(field));
        let text = match texts.get(&key) {
            t if t == key => texts.get("errors.generic").to_owned(),
            t => t.to_owned(),
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}
