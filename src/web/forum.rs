//! The forum's pages: the groups (`/`, with join and leave), a group's topics (`/c/{slug}`), the
//! new-topic form (`/c/{slug}/new`) and a topic (`/t/{id}`: flat or threaded, reactions,
//! replies). Every form posts back and redirects, so reading and posting need no JavaScript.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::{Ctx, Layout, PageError, WebForm, safe_next};
use crate::communities::types::Visibility;
use crate::communities::{self, Community};
use crate::drafts;
use crate::error::AppError;
use crate::forum::posts::{self, NewPost, Post, PostEdit};
use crate::forum::types::{ContentWarning, ReactionKind};
use crate::forum::{self, NewTopic, Topic};
use crate::moderation::Refusal;
use crate::moderation::crisis::{self, CrisisLine};
use crate::paging::PageParams;

/// Posts per page in the flat view; pages start at fixed post numbers so a link to a post's
/// page stays right.
const POSTS_PER_PAGE: i64 = 50;
/// The threaded view shows a topic whole, up to this many posts.
const THREADED_MAX_POSTS: usize = 500;
/// Nesting shown in the threaded view; deeper replies stay at this indent on narrow screens.
const MAX_DEPTH: usize = 4;

pub(super) const REACTIONS: [(ReactionKind, &str); 5] = [
    (ReactionKind::Heart, "❤️"),
    (ReactionKind::Hug, "🤗"),
    (ReactionKind::Celebrate, "🎉"),
    (ReactionKind::MeToo, "🙋"),
    (ReactionKind::Helpful, "💡"),
];

/// A group in a list, with what the viewer may do about it.
pub struct GroupItem {
    pub c: Community,
    pub visibility_key: &'static str,
    pub member: bool,
    pub pending: bool,
}

impl GroupItem {
    pub fn new(c: Community) -> GroupItem {
        let status = c.membership.as_ref().map(|m| m.status.as_str());
        GroupItem {
            visibility_key: match c.visibility {
                Visibility::Public => "home.public",
                Visibility::Members => "home.members_only",
                Visibility::Private => "home.private",
            },
            member: status == Some("active"),
            pending: status == Some("pending"),
            c,
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    groups: Vec<GroupItem>,
    /// The visitor just deleted their account.
    deleted: bool,
}

#[derive(Deserialize)]
pub struct HomeQuery {
    deleted: Option<String>,
}

pub async fn home(ctx: Ctx, Query(q): Query<HomeQuery>) -> Result<Response, PageError> {
    let mut groups = Vec::new();
    let mut page = PageParams {
        limit: Some(100),
        after: None,
    };
    // A server holds tens of groups, not thousands: show them all.
    loop {
        let batch = communities::list_communities(&ctx.state, ctx.user(), &page).await?;
        groups.extend(batch.items.into_iter().map(GroupItem::new));
        match batch.next {
            Some(next) if groups.len() < 1000 => page.after = Some(next),
            _ => break,
        }
    }
    let page = HomePage {
        l: ctx.layout(ctx.texts.get("home.title")).await,
        groups,
        deleted: q.deleted.is_some() && ctx.session.is_none(),
    };
    Ok(ctx.send(page))
}

/// The label key of a content warning kind.
fn warning_key(kind: &str) -> String {
    format!(
        "cw.{}",
        ContentWarning::parse(kind).map_or("other", |w| w.as_str())
    )
}

pub struct TopicItem {
    pub t: Topic,
    pub warning: Option<String>,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "community.html")]
struct CommunityPage {
    l: Layout,
    g: GroupItem,
    /// The reader organises this group: link to the organiser tools.
    organiser: bool,
    topics: Vec<TopicItem>,
    next: Option<String>,
    left: bool,
}

#[derive(Deserialize)]
pub struct After {
    after: Option<String>,
    /// Back from leaving: say that it is done.
    left: Option<String>,
}

pub async fn community(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<After>,
) -> Result<Response, PageError> {
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    let page = PageParams {
        limit: Some(30),
        after: q.after,
    };
    let list = forum::list_topics(&ctx.state, ctx.session.as_ref(), &slug, &page).await?;
    let organiser = match ctx.user() {
        Some(u) => {
            let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
            communities::visible_community(&mut conn, &slug, Some(u))
                .await?
                .1
                .is_organiser()
        }
        None => false,
    };
    let mut l = ctx.layout(c.name.clone()).await;
    l.noindex |= c.visibility != Visibility::Public;
    let page = CommunityPage {
        l,
        organiser,
        g: GroupItem::new(c),
        topics: list
            .items
            .into_iter()
            .map(|t| TopicItem {
                warning: t.content_warning.as_deref().map(warning_key),
                t,
            })
            .collect(),
        next: list.next,
        left: q.left.is_some(),
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct NextForm {
    next: Option<String>,
}

pub async fn join(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<NextForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    communities::join(&ctx.state, &session.user, &slug).await?;
    let next = safe_next(form.next.as_deref());
    Ok(ctx.send(Redirect::to(&next)))
}

/// A "Join" tapped while signed out comes back as `next` = `/c/{slug}?join=1` through sign-up,
/// log-in and the consent page; the group's slug when `next` is that.
fn join_intent(next: &str) -> Option<&str> {
    let slug = next.strip_prefix("/c/")?.strip_suffix("?join=1")?;
    let plain = !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plain.then_some(slug)
}

/// Where a member goes after signing up, logging in or consenting, given the `next` they came
/// with (already through `safe_next`): for a join started while signed out, the group, joined
/// (or the request to join made), or the consent page first when the group needs it.
pub(super) async fn after_sign_in(ctx: &Ctx, user: &crate::accounts::User, next: String) -> String {
    let Some(slug) = join_intent(&next) else {
        return next;
    };
    match communities::join(&ctx.state, user, slug).await {
        Ok(_) => format!("/c/{slug}"),
        Err(AppError::ConsentRequired) => {
            format!(
                "/settings/consent?needed=1&next={}",
                super::urlencode(&next)
            )
        }
        // Invitation only, banned, unknown: the group's page says what is possible.
        Err(_) => format!("/c/{slug}"),
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "leave.html")]
struct LeavePage {
    l: Layout,
    g: GroupItem,
}

/// `GET /c/{slug}/leave`: the question before leaving (works without JavaScript).
pub async fn leave_page(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    ctx.require()?;
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    let g = GroupItem::new(c);
    if !g.member {
        return Ok(ctx.send(Redirect::to(&format!("/c/{slug}"))));
    }
    let mut l = ctx
        .layout(ctx.texts.fill("phone.leave_title", &[("group", &g.c.name)]))
        .await;
    l.noindex = true;
    Ok(ctx.send(LeavePage { l, g }))
}

#[derive(Deserialize)]
pub struct LeaveForm {
    /// "1" from the confirmation page's button; without it nothing happens but the question.
    confirm: Option<String>,
}

pub async fn leave(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<LeaveForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    if form.confirm.as_deref() != Some("1") {
        return Ok(ctx.send(Redirect::to(&format!("/c/{slug}/leave"))));
    }
    match communities::leave(&ctx.state, &session.user, &slug).await {
        // Leaving twice (two tabs) is not worth an error page.
        Ok(()) | Err(AppError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ctx.send(Redirect::to(&format!("/c/{slug}?left=1"))))
}

/// What the author typed, kept when the form comes back with a question or an error.
#[derive(Default)]
pub struct Draft {
    pub title: String,
    pub body: String,
    pub warning: String,
    pub anonymous: bool,
    pub reply_to: Option<i64>,
    pub errors: Vec<String>,
    /// The personal details the text seems to hold, in words, when the author must confirm.
    pub identifiers: Option<String>,
    /// A file uploaded with a refused draft, kept so it is not sent again.
    pub media_id: Option<i64>,
    /// Its alt text as typed.
    pub alt: String,
    /// drafts (#22): the key the page's script saves the words under as they are typed
    /// (none: an edit, which is not a draft).
    pub key: Option<String>,
}

/// The attachment a page's form carries: the file it sent (or kept from a refused draft) with
/// its alt text; or why the file could not be taken, as a 422 on `file`.
pub(super) fn form_attachments(
    ctx: &Ctx,
    media_id: &str,
    alt: &str,
    media_error: &str,
) -> Result<Vec<crate::media::AttachmentRequest>, AppError> {
    if !media_error.is_empty() {
        // Only our own keys (see `csrf::media_refusal`) are shown.
        let key = if media_error.starts_with("media.err_") {
            media_error
        } else {
            "media.err_unreadable"
        };
        return Err(AppError::invalid("file", ctx.texts.get(key)));
    }
    Ok(media_id
        .trim()
        .parse::<i64>()
        .ok()
        .map(|id| {
            vec![crate::media::AttachmentRequest {
                id,
                alt: Some(alt.to_owned()),
            }]
        })
        .unwrap_or_default())
}

/// Our words for a refused post: field errors, or the personal-details question.
pub(super) fn refused(ctx: &Ctx, e: AppError, draft: &mut Draft) -> Result<StatusCode, PageError> {
    let AppError::Invalid { fields, .. } = &e else {
        return Err(e.into());
    };
    if let Some(kinds) = fields.get("identifiers") {
        let words: Vec<&str> = kinds
            .iter()
            .map(|k| match k.as_str() {
                "email" => ctx.texts.get("compose.id_email"),
                "phone" => ctx.texts.get("compose.id_phone"),
                // The identifier kinds of `text::Identifier`: Mexico's CURP, India's Aadhaar,
                // the US SSN.
                "curp" | "aadhaar" | "ssn" | "national_id" => {
                    ctx.texts.get("compose.id_national_id")
                }
                _ => ctx.texts.get("compose.id_other"),
            })
            .collect();
        draft.identifiers = Some(words.join(", "));
        return Ok(StatusCode::UNPROCESSABLE_ENTITY);
    }
    draft.errors = fields
        .names()
        .map(|f| match f {
            // Automod's refusal: the reason, so the author knows what to change.
            "body" => match fields
                .get("body")
                .and_then(|why| why.iter().find_map(|w| Refusal::of(w)))
            {
                Some(Refusal::Filter(reason)) => {
                    ctx.texts.fill("compose.refused", &[("reason", reason)])
                }
                Some(Refusal::Links) => {
                    let n = ctx.state.rules.get().new_member_max_links as i64;
                    ctx.texts
                        .fill("compose.too_many_links", &[("n", &ctx.texts.number(n))])
                }
                None => ctx.texts.get("errors.body").to_owned(),
            },
            "title" => ctx.texts.get("errors.title").to_owned(),
            "file" => fields
                .get("file")
                .and_then(|why| why.first().cloned())
                .unwrap_or_else(|| ctx.texts.get("media.err_unreadable").to_owned()),
            f if f.starts_with("attachments") && f.ends_with(".alt") => {
                ctx.texts.get("media.err_alt").to_owned()
            }
            f if f.starts_with("attachments") => ctx.texts.get("media.err_attach").to_owned(),
            "milestone.type"
            | "milestone.value"
            | "milestone.baseline"
            | "milestone.unit"
            | "milestone.visibility"
            | "milestone.show"
            | "milestone.achieved_on" => ctx
                .texts
                .get(&format!("milestones.err_{}", &f["milestone.".len()..]))
                .to_owned(),
            _ => ctx.texts.get("errors.generic").to_owned(),
        })
        .collect();
    Ok(StatusCode::UNPROCESSABLE_ENTITY)
}

/// The content-warning choices, with the draft's selected.
pub struct WarningChoice {
    pub value: &'static str,
    pub key: String,
    pub selected: bool,
}

pub(super) fn warning_choices(selected: &str) -> Vec<WarningChoice> {
    let mut choices = vec![WarningChoice {
        value: "",
        key: "cw.none".into(),
        selected: selected.is_empty(),
    }];
    choices.extend(ContentWarning::ALL.iter().map(|w| WarningChoice {
        value: w.as_str(),
        key: format!("cw.{}", w.as_str()),
        selected: selected == w.as_str(),
    }));
    choices
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "new_topic.html")]
struct NewTopicPage {
    l: Layout,
    g: GroupItem,
    draft: Draft,
    warnings: Vec<WarningChoice>,
}

pub async fn new_topic_page(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    // drafts (#22): what the member was writing here, title and words, kept on the server.
    let (title, body) = drafts::topic_of(&ctx.state, session.user.id, &slug).await;
    let page = NewTopicPage {
        l: ctx.layout(ctx.texts.get("compose.title")).await,
        g: GroupItem::new(c),
        draft: Draft {
            title,
            body,
            key: Some(drafts::Key::Community(slug.clone()).to_string()),
            ..Draft::default()
        },
        warnings: warning_choices(""),
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct TopicForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    content_warning: String,
    anonymous: Option<String>,
    confirm_identifiers: Option<String>,
    #[serde(default)]
    media_id: String,
    #[serde(default)]
    alt: String,
    #[serde(default)]
    media_error: String,
}

pub async fn new_topic(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<TopicForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let attachments = form_attachments(&ctx, &form.media_id, &form.alt, &form.media_error);
    let request = NewTopic {
        title: form.title.clone(),
        body: form.body.clone(),
        kind: None,
        milestone: None,
        content_warning: Some(form.content_warning.clone()).filter(|w| !w.is_empty()),
        anonymous: Some(form.anonymous.is_some()),
        confirm_identifiers: Some(form.confirm_identifiers.is_some()),
        attachments: attachments.as_ref().cloned().unwrap_or_default(),
    };
    let created = match attachments {
        Ok(_) => forum::create_topic(&ctx.state, session, &slug, &request).await,
        Err(e) => Err(e),
    };
    drafts::after_topic_form(
        &ctx.state,
        session.user.id,
        &drafts::Key::Community(slug.clone()),
        &form.title,
        &form.body,
        created.as_ref().err(),
    )
    .await;
    let error = match created {
        Ok(created) => {
            let to = landing(
                format!("/t/{}", created.topic.id),
                created.crisis_resources.is_some(),
                None,
            );
            return Ok(ctx.send(Redirect::to(&to)));
        }
        Err(e) => e,
    };
    let mut draft = Draft {
        title: form.title,
        body: form.body,
        anonymous: form.anonymous.is_some(),
        media_id: form.media_id.trim().parse().ok(),
        alt: form.alt,
        key: Some(drafts::Key::Community(slug.clone()).to_string()),
        ..Draft::default()
    };
    let status = refused(&ctx, error, &mut draft)?;
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    let page = NewTopicPage {
        l: ctx.layout(ctx.texts.get("compose.title")).await,
        g: GroupItem::new(c),
        warnings: warning_choices(&form.content_warning),
        draft,
    };
    Ok(ctx.send_status(status, page))
}

/// One reaction button (or count, for those who cannot react).
pub struct ReactionButton {
    pub kind: &'static str,
    pub emoji: &'static str,
    pub key: String,
    pub count: i64,
    pub mine: bool,
}

/// A post as the topic page shows it.
pub struct PostItem {
    pub p: Post,
    /// Indent in the threaded view.
    pub depth: usize,
    /// The number of the post this one answers.
    pub parent_seq: Option<i64>,
    pub warning: Option<String>,
    pub reactions: Vec<ReactionButton>,
    /// A milestone post's celebration banner, and its "Celebrate" button shown apart.
    pub milestone: Option<super::member::MilestoneView>,
    pub celebrate: Option<ReactionButton>,
}

impl PostItem {
    /// Its photos are under the "photos" content warning: shown blurred until tapped.
    pub fn photos_hidden(&self) -> bool {
        self.p.content_warning.as_deref() == Some("photos")
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "topic.html")]
struct TopicPage {
    l: Layout,
    t: Topic,
    g: GroupItem,
    /// The viewer may read the posts (else: a title stub).
    readable: bool,
    posts: Vec<PostItem>,
    threaded: bool,
    /// The address of this view, to come back to after a reaction.
    back: String,
    next_after: Option<i64>,
    draft: Draft,
    /// The post number a reply will answer.
    reply_to_seq: Option<i64>,
    warnings: Vec<WarningChoice>,
    /// The crisis lines, for the author who just wrote words that suggest a crisis.
    crisis: Vec<CrisisLine>,
}

impl TopicPage {
    /// Whether any post on the page carries a correction (listed at the top of the thread).
    fn has_corrections(&self) -> bool {
        self.posts
            .iter()
            .any(|p| !p.p.deleted && !p.p.corrections.is_empty())
    }
}

#[derive(Deserialize, Default)]
pub struct TopicQuery {
    view: Option<String>,
    after: Option<i64>,
    reply_to: Option<i64>,
    /// Set on the page the author lands on when their words suggested a crisis.
    crisis: Option<String>,
}

/// Where the author lands after posting: `to`, with the crisis lines at the top when the words
/// suggested a crisis (`#crisis-lines` takes them, and the focus, there), else at `anchor`.
pub(super) fn landing(to: String, crisis: bool, anchor: Option<String>) -> String {
    if crisis {
        let sep = if to.contains('?') { '&' } else { '?' };
        format!("{to}{sep}crisis=1#crisis-lines")
    } else {
        match anchor {
            Some(a) => format!("{to}#{a}"),
            None => to,
        }
    }
}

pub async fn topic(
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<TopicQuery>,
) -> Result<Response, PageError> {
    // drafts (#22): the reply the member was writing, kept on the server.
    let body = match ctx.user() {
        Some(user) => drafts::body_of(&ctx.state, user.id, &drafts::Key::Topic(id)).await,
        None => String::new(),
    };
    let draft = Draft {
        reply_to: q.reply_to,
        body,
        ..Draft::default()
    };
    let page = topic_page(&ctx, id, &q, draft).await?;
    Ok(ctx.send(page))
}

async fn topic_page(
    ctx: &Ctx,
    id: i64,
    q: &TopicQuery,
    mut draft: Draft,
) -> Result<TopicPage, PageError> {
    draft.key = Some(drafts::Key::Topic(id).to_string());
    let viewer = ctx.session.as_ref();
    // One read of the topic and its community serves the header, the access check and the posts.
    let (row, community, access) = forum::visible_topic(&ctx.state, id, ctx.user()).await?;
    let threaded = q.view.as_deref() == Some("threaded");
    let after = q.after.unwrap_or(0).max(0);
    let (readable, posts, more) = match load_posts(ctx, &row, &access, threaded, after).await {
        Ok((posts, more)) => (true, posts, more),
        Err(AppError::Forbidden(_)) => (false, Vec::new(), false),
        Err(e) => return Err(e.into()),
    };
    let t = forum::shown_topic(&ctx.state, viewer, row, &community, &access).await?;
    let c = communities::view(community, &access);
    let member = c.membership.as_ref().is_some_and(|m| m.status == "active");
    let mut items = arrange(posts, threaded, member);
    for item in &mut items {
        if let Some(m) = &item.p.milestone {
            item.milestone = Some(super::member::MilestoneView::new(ctx.texts, m));
            item.celebrate = item
                .reactions
                .iter()
                .position(|r| r.kind == ReactionKind::Celebrate.as_str())
                .map(|i| item.reactions.remove(i));
        }
    }
    let next_after = (more && !threaded)
        .then(|| items.last().map(|p| p.p.seq))
        .flatten();
    let reply_to_seq = draft
        .reply_to
        .and_then(|rid| items.iter().find(|p| p.p.id == rid).map(|p| p.p.seq));
    let mut back = format!("/t/{id}");
    match (threaded, after) {
        (true, _) => back.push_str("?view=threaded"),
        (false, 0) => {}
        (false, n) => back.push_str(&format!("?after={n}")),
    }
    // The lines are for the author alone: only a viewer with a post in the topic sees them, in
    // their own country and language.
    let crisis = match viewer {
        Some(s)
            if q.crisis.is_some() && forum::has_posted_in(&ctx.state, id, s.user.id).await? =>
        {
            crisis::lines_for_country(s.country.as_deref(), s.locale)
        }
        _ => Vec::new(),
    };
    let mut l = ctx.layout(t.title.clone()).await;
    l.noindex |= c.visibility != Visibility::Public || !crisis.is_empty();
    Ok(TopicPage {
        crisis,
        l,
        warnings: warning_choices(&draft.warning),
        g: GroupItem::new(c),
        t,
        readable,
        posts: items,
        threaded,
        back,
        next_after,
        reply_to_seq,
        draft,
    })
}

/// The posts to show: one page in order, or the whole topic for the threaded view.
async fn load_posts(
    ctx: &Ctx,
    topic: &forum::TopicRow,
    access: &communities::Access,
    threaded: bool,
    after: i64,
) -> Result<(Vec<Post>, bool), AppError> {
    let viewer = ctx.session.as_ref();
    if !threaded {
        let page = PageParams {
            limit: Some(POSTS_PER_PAGE),
            after: Some(after.to_string()),
        };
        let list = posts::posts_of(&ctx.state, viewer, topic, access, &page).await?;
        return Ok((list.items, list.next.is_some()));
    }
    let mut all = Vec::new();
    let mut page = PageParams {
        limit: Some(100),
        after: None,
    };
    loop {
        let list = posts::posts_of(&ctx.state, viewer, topic, access, &page).await?;
        all.extend(list.items);
        match list.next {
            Some(next) if all.len() < THREADED_MAX_POSTS => page.after = Some(next),
            _ => return Ok((all, false)),
        }
    }
}

/// Orders posts for the view and works out what each one shows: in the threaded view each
/// reply follows the post it answers, indented.
fn arrange(posts: Vec<Post>, threaded: bool, can_react: bool) -> Vec<PostItem> {
    let seq_of: HashMap<i64, i64> = posts.iter().map(|p| (p.id, p.seq)).collect();
    let order: Vec<(usize, usize)> = if threaded {
        let mut children: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        let mut roots = Vec::new();
        for (i, p) in posts.iter().enumerate() {
            match p.reply_to.filter(|r| seq_of.contains_key(r)) {
                Some(parent) => children.entry(parent).or_default().push(i),
                None => roots.push(i),
            }
        }
        let mut order = Vec::with_capacity(posts.len());
        let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|i| (i, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            order.push((i, depth));
            if let Some(kids) = children.get(&posts[i].id) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        order
    } else {
        (0..posts.len()).map(|i| (i, 0)).collect()
    };
    let mut slots: Vec<Option<Post>> = posts.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, depth)| {
            let p = slots.get_mut(i)?.take()?;
            let reactions = if p.deleted {
                Vec::new()
            } else {
                REACTIONS
                    .iter()
                    .map(|(kind, emoji)| ReactionButton {
                        kind: kind.as_str(),
                        emoji,
                        key: format!("reaction.{}", kind.as_str()),
                        count: p.reactions.get(kind.as_str()).copied().unwrap_or(0),
                        mine: p.my_reactions.iter().any(|m| m == kind.as_str()),
                    })
                    .filter(|r| can_react || r.count > 0)
                    .collect()
            };
            Some(PostItem {
                depth: depth.min(MAX_DEPTH),
                parent_seq: p.reply_to.and_then(|r| seq_of.get(&r).copied()),
                warning: p.content_warning.as_deref().map(warning_key),
                reactions,
                milestone: None,
                celebrate: None,
                p,
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    content_warning: String,
    #[serde(default)]
    view: String,
    anonymous: Option<String>,
    confirm_identifiers: Option<String>,
    #[serde(default)]
    media_id: String,
    #[serde(default)]
    alt: String,
    #[serde(default)]
    media_error: String,
}

pub async fn reply(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<ReplyForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let reply_to = form.reply_to.trim().parse::<i64>().ok();
    let attachments = form_attachments(&ctx, &form.media_id, &form.alt, &form.media_error);
    let request = NewPost {
        body: form.body.clone(),
        reply_to,
        milestone: None,
        content_warning: Some(form.content_warning.clone()).filter(|w| !w.is_empty()),
        anonymous: Some(form.anonymous.is_some()),
        confirm_identifiers: Some(form.confirm_identifiers.is_some()),
        attachments: attachments.as_ref().cloned().unwrap_or_default(),
    };
    let threaded = form.view == "threaded";
    let replied = match attachments {
        Ok(_) => posts::reply(&ctx.state, session, id, &request).await,
        Err(e) => Err(e),
    };
    drafts::after_form(
        &ctx.state,
        session.user.id,
        &drafts::Key::Topic(id),
        &form.body,
        replied.as_ref().err(),
    )
    .await;
    let error = match replied {
        Ok(created) => {
            let seq = created.post.seq;
            let (to, anchor) = if threaded {
                (format!("/t/{id}?view=threaded"), format!("post-{seq}"))
            } else {
                post_page(id, seq)
            };
            let to = landing(to, created.crisis_resources.is_some(), Some(anchor));
            return Ok(ctx.send(Redirect::to(&to)));
        }
        Err(e) => e,
    };
    let mut draft = Draft {
        body: form.body,
        warning: form.content_warning,
        anonymous: form.anonymous.is_some(),
        reply_to,
        media_id: form.media_id.trim().parse().ok(),
        alt: form.alt,
        ..Draft::default()
    };
    let status = refused(&ctx, error, &mut draft)?;
    let q = TopicQuery {
        view: threaded.then(|| "threaded".to_owned()),
        ..TopicQuery::default()
    };
    let page = topic_page(&ctx, id, &q, draft).await?;
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct ReactForm {
    #[serde(default)]
    kind: String,
    /// "1" adds the reaction, anything else takes it back.
    #[serde(default)]
    on: String,
    back: Option<String>,
}

pub async fn react(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<ReactForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    posts::set_reaction(&ctx.state, session, id, &form.kind, form.on == "1").await?;
    let back = safe_next(form.back.as_deref());
    Ok(ctx.send(Redirect::to(&back)))
}

/// Where post `seq` of topic `topic` shows in the flat view: its page, scrolled to it.
fn post_address(topic: i64, seq: i64) -> String {
    let (page, anchor) = post_page(topic, seq);
    format!("{page}#{anchor}")
}

/// Post `seq`'s page in the flat view and its anchor there.
fn post_page(topic: i64, seq: i64) -> (String, String) {
    let after = (seq - 1) / POSTS_PER_PAGE * POSTS_PER_PAGE;
    let page = if after == 0 {
        format!("/t/{topic}")
    } else {
        format!("/t/{topic}?after={after}")
    };
    (page, format!("post-{seq}"))
}

/// `/p/{id}`: a post's own address (quotes and moderation pages link to it), sent on to its
/// place in the topic.
pub async fn post_link(ctx: Ctx, Path(id): Path<i64>) -> Result<Response, PageError> {
    let post = posts::post_for(&ctx.state, ctx.session.as_ref(), id).await?;
    let to = post_address(post.topic_id, post.seq);
    Ok(ctx.send(Redirect::to(&to)))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "edit_post.html")]
struct EditPostPage {
    l: Layout,
    post: Post,
    draft: Draft,
    warnings: Vec<WarningChoice>,
}

/// The post `session`'s member may edit: their own, not deleted (as the API decides).
async fn own_post(ctx: &Ctx, id: i64) -> Result<Post, PageError> {
    let session = ctx.require()?;
    let post = posts::post_for(&ctx.state, Some(session), id).await?;
    if post.deleted {
        return Err(AppError::NotFound.into());
    }
    if !post.mine {
        return Err(AppError::forbidden("only the author edits a post").into());
    }
    Ok(post)
}

async fn edit_page(ctx: &Ctx, post: Post, draft: Draft) -> EditPostPage {
    EditPostPage {
        l: ctx.layout(ctx.texts.get("post_edit.title")).await,
        warnings: warning_choices(&draft.warning),
        post,
        draft,
    }
}

/// `/p/{id}/edit`: the author's post as they wrote it, to change.
pub async fn edit_post_page(ctx: Ctx, Path(id): Path<i64>) -> Result<Response, PageError> {
    let post = own_post(&ctx, id).await?;
    let draft = Draft {
        body: post.body.clone(),
        warning: post.content_warning.clone().unwrap_or_default(),
        ..Draft::default()
    };
    let page = edit_page(&ctx, post, draft).await;
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    content_warning: String,
    confirm_identifiers: Option<String>,
}

/// Saves an edit, screened as new text: back to the post (to the crisis lines when the new words
/// suggest a crisis), or the form again with the words kept and what to change.
pub async fn edit_post(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<EditForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let request = PostEdit {
        body: form.body.clone(),
        content_warning: Some(form.content_warning.clone()),
        confirm_identifiers: Some(form.confirm_identifiers.is_some()),
    };
    let error = match posts::edit_post(&ctx.state, session, id, &request).await {
        Ok(edited) => {
            let (to, anchor) = post_page(edited.post.topic_id, edited.post.seq);
            let to = landing(to, edited.crisis_resources.is_some(), Some(anchor));
            return Ok(ctx.send(Redirect::to(&to)));
        }
        Err(e) => e,
    };
    let mut draft = Draft {
        body: form.body,
        warning: form.content_warning,
        ..Draft::default()
    };
    let status = refused(&ctx, error, &mut draft)?;
    let post = own_post(&ctx, id).await?;
    let page = edit_page(&ctx, post, draft).await;
    Ok(ctx.send_status(status, page))
}
