//! The organiser tools: milestone types.

use super::*;

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
    /// The label as members read it: ours in the reader's language for the types every group
    /// starts with (the field keeps what is stored).
    shown: String,
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
            shown: crate::web::member::type_label(ctx.texts, &t.key, &t.label),
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
