//! Invitation links on the web: organisers make and revoke them at
//! `/organise/{slug}/invitations`; `/i/{code}` is where a signed-in visitor joins with one.
//! A wrong, used-up or expired code is the plain 404 page, as for any unknown address.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, urlencode};
use crate::communities::visible_community;
use crate::error::AppError;
use crate::invitations::{Invitation, NewInvitation};

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_invitations.html")]
struct InvitationsPage {
    l: Layout,
    slug: String,
    name: String,
    saved: bool,
    errors: Vec<String>,
    links: Vec<Invitation>,
}

#[derive(Deserialize, Default)]
pub struct SavedParam {
    saved: Option<String>,
}

async fn invitations_page(
    ctx: Ctx,
    slug: &str,
    saved: bool,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let community = crate::invitations::organised(&ctx.state, &user, slug).await?;
    let links = crate::invitations::list(&ctx.state, &user, slug).await?;
    let mut l = ctx.layout(ctx.texts.get("invitations.title")).await;
    l.noindex = true;
    let status = super::form_status(!errors.is_empty());
    let page = InvitationsPage {
        l,
        slug: community.slug,
        name: community.name,
        saved,
        errors,
        links,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn page(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<SavedParam>,
) -> Result<Response, PageError> {
    invitations_page(ctx, &slug, q.saved.is_some(), Vec::new()).await
}

#[derive(Deserialize)]
pub struct NewForm {
    #[serde(default)]
    max_uses: String,
    #[serde(default)]
    expires_in_hours: String,
}

/// An empty box is "no limit"; anything but a whole number is an error.
fn optional_number(raw: &str) -> Result<Option<i64>, ()> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| ())
}

pub async fn create(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<NewForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let (Ok(max_uses), Ok(expires_in_hours)) = (
        optional_number(&form.max_uses),
        optional_number(&form.expires_in_hours),
    ) else {
        let errors = vec![ctx.texts.get("invitations.number_error").to_owned()];
        return invitations_page(ctx, &slug, false, errors).await;
    };
    let req = NewInvitation {
        max_uses,
        expires_in_hours,
    };
    match crate::invitations::create(&ctx.state, &user, &slug, &req).await {
        Ok(_) => Ok(ctx.send(Redirect::to(&format!(
            "/organise/{}/invitations?saved=1",
            urlencode(&slug)
        )))),
        Err(AppError::Invalid { .. }) => {
            let errors = vec![ctx.texts.get("invitations.number_error").to_owned()];
            invitations_page(ctx, &slug, false, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn revoke(
    Path((slug, code)): Path<(String, String)>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    match crate::invitations::revoke(&ctx.state, &user, &slug, &code).await {
        // Revoking twice (two tabs) is not worth an error page.
        Ok(()) | Err(AppError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ctx.send(Redirect::to(&format!(
        "/organise/{}/invitations?saved=1",
        urlencode(&slug)
    ))))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "invitation.html")]
struct JoinPage {
    l: Layout,
    code: String,
    name: String,
    description: String,
}

/// The page behind a link: the group's name and a button. Visitors sign in first.
pub async fn join_page(ctx: Ctx, Path(code): Path<String>) -> Result<Response, PageError> {
    ctx.require()?;
    let found = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        crate::invitations::usable_by_code(&mut conn, &code).await?
    };
    let Some((_, community)) = found else {
        return Err(AppError::NotFound.into());
    };
    let mut l = ctx.layout(community.name.clone()).await;
    l.noindex = true;
    let page = JoinPage {
        l,
        code,
        name: community.name,
        description: community.description,
    };
    Ok(ctx.send(page))
}

/// Joins with the link, then goes to the group (or to the consent page first, for a group about
/// a condition, which brings the member back here).
pub async fn join(
    Path(code): Path<String>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let slug = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        match crate::invitations::usable_by_code(&mut conn, &code).await? {
            Some((_, community)) => community.slug,
            None => return Err(AppError::NotFound.into()),
        }
    };
    let to = match crate::communities::join_with_code(&ctx.state, &user, &slug, &code).await {
        Ok(_) => {
            // Only a group the member can now see is a place to go.
            let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
            visible_community(&mut conn, &slug, Some(&user)).await?;
            format!("/c/{}?welcome=1", urlencode(&slug))
        }
        Err(AppError::ConsentRequired) => format!(
            "/settings/consent?needed=1&next={}",
            urlencode(&format!("/i/{code}"))
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(ctx.send(Redirect::to(&to)))
}
