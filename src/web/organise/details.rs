//! The organiser tools: the group's details — name, description, and what the directory finds it
//! by (condition, languages, how it meets, area).

use super::*;
use crate::communities::{self, CommunityChanges};
use crate::web::directory::{ListingForm, label_or_name, languages_from_form};

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
    #[serde(default)]
    meeting_style: String,
    /// The language boxes (`also_<code>`), among whatever else was sent.
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

impl DetailsForm {
    fn languages(&self) -> Vec<String> {
        languages_from_form(&self.language, &self.rest)
    }
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
    let form = form.unwrap_or_else(|| {
        let listing = crate::directory::Listing::of(&c);
        DetailsForm {
            name: c.name.clone(),
            description: c.description.clone(),
            condition: c.condition.clone(),
            condition_label: c.condition_label.clone(),
            language: listing.language().to_owned(),
            region: c.region.clone(),
            meeting_style: listing.meeting_style.as_str().to_owned(),
            rest: listing
                .languages
                .iter()
                .skip(1)
                .map(|code| (format!("also_{code}"), "1".to_owned()))
                .collect(),
        }
    });
    let listing = ListingForm::new(
        ctx.texts,
        &form.condition,
        &form.condition_label,
        &form.languages(),
        &form.region,
        &form.meeting_style,
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
        languages: Some(form.languages()),
        region: Some(form.region.clone()),
        meeting_style: Some(form.meeting_style.clone()).filter(|s| !s.is_empty()),
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

/// The reasons for a refusal, `listing.err_<field>` (or `listing_ways.err_<field>`) in the
/// reader's language.
fn listing_refusal(texts: &Texts, e: AppError) -> Result<Vec<String>, PageError> {
    let AppError::Invalid { fields, .. } = &e else {
        return Err(e.into());
    };
    let mut out: Vec<String> = Vec::new();
    for field in fields.names() {
        let field = field.rsplit('.').next().unwrap_or(field);
        let keys = [
            format!("listing.err_{field}"),
            format!("listing_ways.err_{field}"),
        ];
        let text = keys
            .iter()
            .map(|key| texts.get(key))
            .find(|t| !keys.iter().any(|k| k.as_str() == *t))
            .unwrap_or_else(|| texts.get("errors.generic"))
            .to_owned();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}
