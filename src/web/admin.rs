//! The site admins' page (`/admin`): start a group, give someone a role in a group, record a
//! health professional's credential check, see whether the automod rules file loaded, and reach
//! the site-wide announcements. Plain forms; every one comes back here.

use axum::extract::Query;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, form_status};
use crate::communities::{self, NewCommunity};
use crate::error::AppError;
use crate::moderation::corrections::{self, Verification};
use crate::moderation::rules::LoadStatus;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "admin.html")]
struct AdminPage {
    l: Layout,
    listing: super::directory::ListingForm,
    rules: LoadStatus,
    done: Option<&'static str>,
    error: Option<String>,
    /// What was typed into the form that failed, by field name.
    kept: Vec<(String, String)>,
}

impl AdminPage {
    fn kept(&self, name: &str) -> &str {
        self.kept
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// Only site admins come here; others get the "not allowed" page.
fn require_admin(ctx: &Ctx) -> Result<(), PageError> {
    let session = ctx.require()?;
    if !session.user.is_admin() {
        return Err(AppError::forbidden("for site admins").into());
    }
    Ok(())
}

pub async fn page(ctx: Ctx, Query(q): Query<Done>) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let done = match q.done.as_deref() {
        Some("community") => Some("admin.done_community"),
        Some("role") => Some("admin.done_role"),
        Some("verified") => Some("admin.done_verified"),
        _ => None,
    };
    render(ctx, done, None, Vec::new()).await
}

async fn render(
    ctx: Ctx,
    done: Option<&'static str>,
    error: Option<String>,
    kept: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let mut l = ctx.layout(ctx.texts.get("admin.title")).await;
    l.noindex = true;
    let status = form_status(error.is_some());
    let kept_value = |name: &str| {
        kept.iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let languages: Vec<String> = kept_value("languages")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let listing = super::directory::ListingForm::new(
        ctx.texts,
        kept_value("condition"),
        kept_value("condition_label"),
        &languages,
        kept_value("region"),
        match kept_value("meeting_style") {
            "" => "online",
            style => style,
        },
    );
    let page = AdminPage {
        l,
        listing,
        rules: ctx.state.rules.status(),
        done,
        error,
        kept,
    };
    Ok(ctx.send_status(status, page))
}

/// The reasons of a refusal in the reader's language: `admin.err_<field>`, else the
/// directory's `listing.err_<field>`, else the generic line (the API's English reasons never
/// reach the page).
fn refusal(ctx: &Ctx, e: AppError) -> Result<String, PageError> {
    match e {
        AppError::Invalid { fields, .. } => {
            let mut reasons: Vec<String> = Vec::new();
            for field in fields.names() {
                let field = field.rsplit('.').next().unwrap_or(field);
                let keys = [
                    format!("admin.err_{field}"),
                    format!("listing.err_{field}"),
                    format!("listing_ways.err_{field}"),
                ];
                let text = keys
                    .iter()
                    .map(|key| ctx.texts.get(key))
                    .find(|t| !keys.iter().any(|k| k.as_str() == *t))
                    .unwrap_or_else(|| ctx.texts.get("errors.generic"))
                    .to_owned();
                if !reasons.contains(&text) {
                    reasons.push(text);
                }
            }
            Ok(format!(
                "{} {}",
                ctx.texts.get("errors.fix"),
                reasons.join(" ")
            ))
        }
        AppError::Conflict { .. } => Ok(ctx.texts.get("admin.taken").to_owned()),
        AppError::NotFound => Ok(ctx.texts.get("admin.no_such").to_owned()),
        other => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct CommunityForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
    allow_anonymous: Option<String>,
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

pub async fn create_community(
    WebForm { ctx, form }: WebForm<CommunityForm>,
) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let user = ctx.require()?.user.clone();
    let languages = super::directory::languages_from_form(&form.language, &form.rest);
    let request = NewCommunity {
        slug: form.slug.clone(),
        name: form.name.clone(),
        description: Some(form.description.clone()),
        visibility: Some(form.visibility.clone()).filter(|v| !v.is_empty()),
        medical_notice: None,
        allow_anonymous: Some(form.allow_anonymous.is_some()),
        member_list: None,
        newcomer_alert_minutes: None,
        condition: Some(form.condition.clone()),
        condition_label: Some(super::directory::label_or_name(
            ctx.texts,
            &form.condition,
            &form.condition_label,
        )),
        language: None,
        languages: Some(languages.clone()),
        region: Some(form.region.clone()),
        meeting_style: Some(form.meeting_style.clone()).filter(|s| !s.is_empty()),
    };
    match communities::create(&ctx.state, &user, &request).await {
        Ok(c) => Ok(ctx.send(Redirect::to(&format!("/c/{}", c.slug)))),
        Err(e) => {
            let why = refusal(&ctx, e)?;
            let kept = vec![
                ("slug".into(), form.slug),
                ("name".into(), form.name),
                ("description".into(), form.description),
                ("condition".into(), form.condition),
                ("condition_label".into(), form.condition_label),
                ("languages".into(), languages.join(" ")),
                ("region".into(), form.region),
                ("meeting_style".into(), form.meeting_style),
            ];
            render(ctx, None, Some(why), kept).await
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    username: String,
}

pub async fn grant_role(WebForm { ctx, form }: WebForm<RoleForm>) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let user = ctx.require()?.user.clone();
    match communities::grant(
        &ctx.state,
        &user,
        form.slug.trim(),
        &form.role,
        form.username.trim(),
    )
    .await
    {
        Ok(()) => Ok(ctx.send(Redirect::to("/admin?done=role"))),
        Err(e) => {
            let why = refusal(&ctx, e)?;
            let kept = vec![
                ("role_slug".into(), form.slug),
                ("role_username".into(), form.username),
            ];
            render(ctx, None, Some(why), kept).await
        }
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    credential: String,
}

pub async fn verify(WebForm { ctx, form }: WebForm<VerifyForm>) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let user = ctx.require()?.user.clone();
    let request = Verification {
        username: form.username.trim().to_owned(),
        credential: form.credential.clone(),
    };
    match corrections::verify(&ctx.state, &user, &request).await {
        Ok(()) => Ok(ctx.send(Redirect::to("/admin?done=verified"))),
        Err(e) => {
            let why = refusal(&ctx, e)?;
            let kept = vec![
                ("verify_username".into(), form.username),
                ("credential".into(), form.credential),
            ];
            render(ctx, None, Some(why), kept).await
        }
    }
}
