//! Blocking and ignoring on the pages (#22.2): "Block" and "Ignore" on a member's profile, each
//! through a page that says in plain words what it does before anything happens, and the list in
//! the settings with Undo. Plain forms and links: no JavaScript needed.

use axum::extract::Path;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, safe_next, urlencode};
use crate::accounts;
use crate::blocks::{self, Kind};
use crate::error::AppError;

/// What the profile page shows about blocking: for a signed-in member looking at someone else.
pub struct BlockBox {
    pub username: String,
    pub blocked: bool,
    pub ignored: bool,
    /// What was just done, as a locale key ("you blocked ...").
    pub notice: Option<&'static str>,
}

/// `?kept=` after a block or ignore: which notice the profile shows.
#[derive(Deserialize, Default)]
pub struct KeptNotice {
    kept: Option<String>,
}

/// The profile's box for `viewer` looking at member `id` (none for visitors and oneself). The
/// state comes from the viewer's session: no query.
pub fn profile_box(ctx: &Ctx, id: i64, username: &str, q: &KeptNotice) -> Option<BlockBox> {
    let s = ctx.session.as_ref().filter(|s| s.user.id != id)?;
    let kind = s.kept_away.kind_of(id);
    let notice = match q.kept.as_deref() {
        Some("block") if kind == Some(Kind::Block) => Some("blocks.done_block"),
        Some("ignore") if kind == Some(Kind::Ignore) => Some("blocks.done_ignore"),
        Some("none") if kind.is_none() => Some("blocks.done_undo"),
        _ => None,
    };
    Some(BlockBox {
        username: username.to_owned(),
        blocked: kind == Some(Kind::Block),
        ignored: kind == Some(Kind::Ignore),
        notice,
    })
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "block_confirm.html")]
struct ConfirmPage {
    l: Layout,
    username: String,
    /// `block` or `ignore`: the form's address and the words.
    kind: &'static str,
    heading: String,
    points: Vec<&'static str>,
}

fn kind_of(path_kind: &str) -> Option<Kind> {
    match path_kind {
        "block" => Some(Kind::Block),
        "ignore" => Some(Kind::Ignore),
        _ => None,
    }
}

/// `GET /u/{username}/block` and `/ignore`: what it does, in plain words, and the button.
pub async fn confirm_page(
    ctx: Ctx,
    Path((username, what)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let kind = kind_of(&what).ok_or(AppError::NotFound)?;
    let profile = accounts::profile(&ctx.state, &username).await?;
    if profile.user.id == session.user.id {
        return Err(AppError::invalid("username", "you cannot block or ignore yourself").into());
    }
    let name = profile.user.display_name.clone();
    let (key, points, kind) = match kind {
        Kind::Block => (
            "blocks.confirm_block_title",
            vec![
                "blocks.block_point_notify",
                "blocks.block_point_hidden",
                "blocks.point_not_told",
                "blocks.point_undo",
            ],
            "block",
        ),
        Kind::Ignore => (
            "blocks.confirm_ignore_title",
            vec![
                "blocks.ignore_point_hidden",
                "blocks.ignore_point_rest",
                "blocks.point_not_told",
                "blocks.point_undo",
            ],
            "ignore",
        ),
    };
    let heading = ctx.texts.fill(key, &[("name", &name)]);
    let mut l = ctx.layout(heading.clone()).await;
    l.noindex = true;
    let page = ConfirmPage {
        l,
        username: profile.user.username,
        kind,
        heading,
        points,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct SetForm {
    /// "1" blocks (or ignores), anything else undoes it.
    #[serde(default)]
    on: String,
    /// Where to go afterwards (the settings' list); the profile when absent.
    #[serde(default)]
    back: String,
}

/// `POST /u/{username}/block` and `/ignore`: does it or undoes it, then back to the profile
/// (with a notice) or to `back`.
pub async fn set(
    Path((username, what)): Path<(String, String)>,
    WebForm { ctx, form }: WebForm<SetForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let kind = kind_of(&what).ok_or(AppError::NotFound)?;
    let on = form.on == "1";
    blocks::set(&ctx.state, session, &username, kind, on).await?;
    let to = if !form.back.is_empty() {
        safe_next(Some(&form.back))
    } else {
        let kept = match (on, kind) {
            (true, Kind::Block) => "block",
            (true, Kind::Ignore) => "ignore",
            (false, _) => "none",
        };
        format!("/u/{}?kept={kept}", urlencode(&username))
    };
    Ok(ctx.send(Redirect::to(&to)))
}

/// The settings' list: the members the viewer keeps away, asked only when there are some.
pub async fn settings_list(ctx: &Ctx) -> Result<Vec<blocks::Blocked>, PageError> {
    match &ctx.session {
        Some(s) if !s.kept_away.is_empty() => {
            let page = crate::paging::PageParams {
                limit: Some(100),
                after: None,
            };
            Ok(blocks::list(&ctx.state, s, &page).await?.items)
        }
        _ => Ok(Vec::new()),
    }
}
