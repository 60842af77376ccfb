//! Posts: reading a topic page by page, replying, editing (with revisions), soft deletes,
//! reactions, and revealing an anonymous author to a moderator (logged).

use std::collections::BTreeMap;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::types::{PostBody, ReactionKind};
use super::{author, parse_reactions, parse_warning, visible_topic};
use crate::accounts::{Auth, MaybeAuth, Session, User, serialize_time};
use crate::app::AppState;
use crate::communities::MemberSummary;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::notify::{self, Kind, Recipients};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};
use crate::{db, markdown, search};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_posts, api_reply))
        .routes(routes!(get_post, api_edit_post, delete_post))
        .routes(routes!(revisions))
        .routes(routes!(react, unreact))
        .routes(routes!(reveal_author))
}

/// A post (API.md `post`), as the caller may see it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Post {
    pub id: i64,
    pub topic_id: i64,
    /// Position in the topic: 1 is the opening post.
    pub seq: i64,
    /// Null for anonymous and deleted posts.
    pub author: Option<MemberSummary>,
    pub anonymous: bool,
    /// The caller wrote it.
    pub mine: bool,
    /// The post this one answers, for threaded views.
    pub reply_to: Option<i64>,
    /// Markdown as written.
    pub body: String,
    /// Sanitised HTML, rendered when written.
    pub body_html: String,
    pub content_warning: Option<String>,
    /// The caller filters this warning: show it collapsed.
    pub collapsed: bool,
    pub deleted: bool,
    /// Reaction kind → count.
    pub reactions: BTreeMap<String, i64>,
    /// The caller's own reactions.
    pub my_reactions: Vec<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<String>,
    /// A moderator hid it (others see a placeholder).
    pub hidden: bool,
    /// Why, shown to the author only; they may appeal.
    pub hidden_reason: Option<String>,
    /// To its author only, while it waits for a moderator's approval (a new member's first
    /// posts, or a filter's hold): how many hours that usually takes. Others do not see it.
    pub waiting_hours: Option<u32>,
    /// Corrections with sources, shown above the post.
    pub corrections: Vec<crate::moderation::corrections::Correction>,
    /// A milestone post's milestone, as the caller may see it: present it as a celebration.
    pub milestone: Option<crate::milestones::Milestone>,
    /// Photos and voice notes, in order (none on placeholders).
    pub attachments: Vec<crate::media::Attachment>,
    /// Present only when the caller blocks (`blocked`) or ignores (`ignored`) its author: show
    /// it collapsed ("hidden: you blocked this member"), openable. Never on anonymous posts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_for_you: Option<crate::blocks::Hidden>,
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct PostRow {
    id: i64,
    topic_id: i64,
    seq: i64,
    author_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    reply_to: Option<i64>,
    body: String,
    body_html: String,
    content_warning: Option<String>,
    anonymous: bool,
    reactions: String,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    hidden_at: Option<i64>,
    hidden_reason: Option<String>,
    held_for_review: bool,
    awaiting_approval: bool,
    /// Counted in the same query, so a page without corrections costs no extra round trip.
    correction_count: i64,
    /// Whether it is a milestone, likewise: pages without one make no milestone query.
    is_milestone: bool,
    /// Whether it carries media, likewise.
    has_media: bool,
}

impl PostRow {
    /// Roughly the bytes it holds, for the page cache's budget.
    pub(super) fn weight(&self) -> u64 {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        (self.body.len()
            + self.body_html.len()
            + self.reactions.len()
            + text(&self.username)
            + text(&self.display_name)
            + text(&self.content_warning)
            + text(&self.hidden_reason)
            + 160) as u64
    }
}

fn post_view(
    row: PostRow,
    viewer_id: Option<i64>,
    filters: &[String],
    my_reactions: Vec<String>,
) -> Post {
    let mine = viewer_id.is_some() && row.author_id == viewer_id;
    // A post waiting for approval is not "hidden by a moderator": its author sees it waiting.
    let hidden = row.hidden_at.is_some() && !row.awaiting_approval;
    // Hidden posts are placeholders for everyone but their author, who sees why; posts held for
    // a crisis review stay with members but leave public view.
    let deleted = row.deleted_at.is_some()
        || (row.hidden_at.is_some() && !mine)
        || (row.held_for_review && viewer_id.is_none());
    let hidden_reason = if mine && hidden {
        row.hidden_reason.clone()
    } else {
        None
    };
    let collapsed = row
        .content_warning
        .as_ref()
        .is_some_and(|w| filters.contains(w));
    Post {
        id: row.id,
        topic_id: row.topic_id,
        seq: row.seq,
        author: if deleted {
            None
        } else {
            author(row.anonymous, row.author_id, row.username, row.display_name)
        },
        anonymous: row.anonymous,
        mine,
        reply_to: row.reply_to,
        body: if deleted { String::new() } else { row.body },
        body_html: if deleted {
            String::new()
        } else {
            row.body_html
        },
        content_warning: row.content_warning,
        collapsed,
        deleted,
        reactions: if deleted {
            BTreeMap::new()
        } else {
            parse_reactions(&row.reactions)
        },
        my_reactions,
        created_at: row.created_at,
        edited_at: row.edited_at.map(crate::store::format_ms),
        hidden,
        hidden_reason,
        // Filled in with the rules' figure by the callers that have them.
        waiting_hours: (mine && row.awaiting_approval).then_some(0),
        corrections: Vec::new(),
        milestone: None,
        attachments: Vec::new(),
        hidden_for_you: None,
    }
}

/// Says how long a post waiting for approval usually waits (the rules' `review_hours`).
pub fn with_wait(state: &AppState, mut post: Post) -> Post {
    post.waiting_hours = post.waiting_hours.map(|_| state.rules.get().review_hours);
    post
}

/// Fills in a post's milestone (none on placeholders).
async fn with_milestone(
    conn: &mut impl AsDb,
    mut post: Post,
    viewer_id: Option<i64>,
) -> AppResult<Post> {
    if !post.deleted {
        post.milestone = crate::milestones::for_post(conn, post.id, viewer_id).await?;
    }
    Ok(post)
}

async fn my_reactions(conn: &mut impl AsDb, post_id: i64, user_id: i64) -> AppResult<Vec<String>> {
    Ok(db!(
        *conn,
        fetch_all scalar String,
        "SELECT kind FROM post_reactions WHERE post_id = $1 AND user_id = $2 ORDER BY kind",
        post_id,
        user_id
    )?)
}

/// One post as `session`'s member sees it.
pub async fn load_post(conn: &mut impl AsDb, post_id: i64, session: &Session) -> AppResult<Post> {
    let row = fetch_post(conn, post_id).await?;
    let mine = my_reactions(conn, post_id, session.user.id).await?;
    shown_to_member(conn, row, session, mine).await
}

/// A post row as `session`'s member sees it, given their reactions to it.
async fn shown_to_member(
    conn: &mut impl AsDb,
    row: PostRow,
    session: &Session,
    mine: Vec<String>,
) -> AppResult<Post> {
    let is_milestone = row.is_milestone;
    let has_media = row.has_media;
    let mut post = post_view(row, Some(session.user.id), &session.content_filters, mine);
    post.hidden_for_you = session.kept_away.hides(post.author.as_ref());
    if has_media && !post.deleted {
        post.attachments = crate::media::for_post(conn, post.id).await?;
    }
    if !is_milestone {
        return Ok(post);
    }
    with_milestone(conn, post, Some(session.user.id)).await
}

/// Posts read whole, as `PostRow`: the one column list, completed with a `WHERE`.
macro_rules! select_posts {
    () => {
        "SELECT p.id, p.topic_id, p.seq, p.author_id, u.username, u.display_name, p.reply_to, p.body, p.body_html,
                p.content_warning, p.anonymous, p.reactions, p.created_at, p.edited_at, p.deleted_at,
                p.hidden_at, p.hidden_reason, p.held_for_review, p.awaiting_approval,
                (SELECT COUNT(*) FROM corrections c WHERE c.post_id = p.id) AS correction_count,
                EXISTS (SELECT 1 FROM milestones m WHERE m.post_id = p.id) AS is_milestone,
                EXISTS (SELECT 1 FROM media md WHERE md.post_id = p.id AND md.erased_at IS NULL) AS has_media
         FROM posts p LEFT JOIN users u ON u.id = p.author_id"
    };
}

async fn fetch_post(conn: &mut impl AsDb, post_id: i64) -> AppResult<PostRow> {
    db!(
        *conn,
        fetch_optional as PostRow,
        concat!(select_posts!(), " WHERE p.id = $1"),
        post_id
    )?
    .ok_or(AppError::NotFound)
}

/// Authors of the posts a body quotes: a quote links its source as `/p/{id}`.
pub async fn quoted_authors(conn: &mut impl AsDb, body: &str) -> AppResult<Vec<i64>> {
    let mut ids = Vec::new();
    for (i, _) in body.match_indices("/p/").take(20) {
        let digits: String = body[i + 3..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(post_id) = digits.parse::<i64>() {
            let author = db!(*conn, fetch_optional scalar Option<i64>, "SELECT author_id FROM posts WHERE id = $1", post_id)?;
            ids.extend(author.flatten());
        }
    }
    Ok(ids)
}

/// The posts of a topic in order, `after` the given post number.
#[utoipa::path(get, path = "/api/v1/topics/{id}/posts", tag = "forum", operation_id = "list_posts",
    params(("id" = i64, Path), PageParams),
    responses((status = 200, body = Page<Post>), (status = 403, description = "members only", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_list_posts(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<Post>>> {
    Ok(axum::Json(
        list_posts(&state, viewer.as_ref(), id, &page).await?,
    ))
}

/// One page of a topic's posts in order, as `viewer` sees them; 403 when they may see the topic
/// but not read it. Reading moves a member's place in the topic forward (for unread counts).
pub async fn list_posts(
    state: &AppState,
    viewer: Option<&Session>,
    id: i64,
    page: &PageParams,
) -> AppResult<Page<Post>> {
    let seen = visible_topic(state, id, viewer.map(|s| &s.user)).await?;
    posts_of(state, viewer, &seen.0, &seen.2, page).await
}

/// A page of `topic`'s posts for a viewer whose `access` was just checked with the topic row
/// (the topic page reads both once for its header and its posts).
pub async fn posts_of(
    state: &AppState,
    viewer: Option<&Session>,
    topic: &super::TopicRow,
    access: &crate::communities::Access,
    page: &PageParams,
) -> AppResult<Page<Post>> {
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let filters = viewer
        .map(|s| s.content_filters.as_slice())
        .unwrap_or_default();
    let viewer_id = viewer.map(|s| s.user.id);
    let id = topic.id;
    if !access.can_read() {
        return Err(AppError::forbidden("join this community to read its posts"));
    }
    let key = super::cache::PageKey {
        topic: id,
        after,
        rows: limit + 1,
    };
    let stamp = super::cache::Stamp {
        last_seq: topic.last_seq,
        version: topic.version,
    };
    let mut conn = state.store.read().await?;
    let rows = match state.pages.get(&key, stamp) {
        Some(rows) => rows,
        None => {
            let rows = std::sync::Arc::new(db!(
                conn,
                fetch_all as PostRow,
                concat!(
                    select_posts!(),
                    " WHERE p.topic_id = $1 AND p.seq > $2 ORDER BY p.seq LIMIT $3"
                ),
                id,
                after,
                limit + 1
            )?);
            state.pages.put(key, stamp, rows.clone());
            rows
        }
    };
    let last_seq = rows.iter().take(limit as usize).map(|r| r.seq).max();
    let mut mine: Vec<(i64, String)> = Vec::new();
    // The viewer's own reactions, asked only when the page has any reaction at all (the rows
    // carry their counts as a JSON object: "{}" when there are none).
    let reacted = rows
        .iter()
        .take(limit as usize)
        .any(|r| r.reactions.len() > 2);
    if let (Some(uid), Some(last), true) = (viewer_id, last_seq, reacted) {
        mine = db!(
            conn,
            fetch_all as (i64, String),
            "SELECT r.post_id, r.kind FROM post_reactions r JOIN posts p ON p.id = r.post_id
             WHERE p.topic_id = $1 AND p.seq > $2 AND p.seq <= $3 AND r.user_id = $4 ORDER BY r.kind",
            id,
            after,
            last,
            uid
        )?;
    }
    let corrections = match last_seq {
        Some(last) if rows.iter().any(|r| r.correction_count > 0) => {
            crate::moderation::corrections::for_posts(&mut conn, id, after, last).await?
        }
        _ => Vec::new(),
    };
    let milestones = match last_seq {
        Some(last) if rows.iter().any(|r| r.is_milestone) => {
            crate::milestones::for_posts(&mut conn, id, after, last, viewer_id).await?
        }
        _ => Vec::new(),
    };
    let media = match last_seq {
        Some(last) if rows.iter().any(|r| r.has_media) => {
            crate::media::for_posts(&mut conn, id, after, last).await?
        }
        _ => Vec::new(),
    };
    drop(conn);
    // Reading advances the member's place in the topic (never backwards), for unread counts.
    if let (Some(uid), Some(last), true) = (viewer_id, last_seq, access.is_member())
        && last > topic.last_read_seq.unwrap_or(0)
    {
        let mut w = state.store.write().await?;
        db!(
            w,
            execute,
            "INSERT INTO topic_reads (user_id, topic_id, last_read_seq) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, topic_id) DO UPDATE SET last_read_seq = excluded.last_read_seq
             WHERE topic_reads.last_read_seq < excluded.last_read_seq",
            uid,
            id,
            last
        )?;
    }
    let hours = state.rules.get().review_hours;
    // A post waiting for approval is simply absent for everyone but its author.
    let items = rows
        .iter()
        .filter(|r| !r.awaiting_approval || (viewer_id.is_some() && r.author_id == viewer_id))
        .map(|r| {
            let reacted = mine
                .iter()
                .filter(|(p, _)| *p == r.id)
                .map(|(_, k)| k.clone())
                .collect();
            let mut post = post_view(r.clone(), viewer_id, filters, reacted);
            // The cached rows are everyone's; the collapse is this viewer's alone.
            if let Some(s) = viewer {
                post.hidden_for_you = s.kept_away.hides(post.author.as_ref());
            }
            post.waiting_hours = post.waiting_hours.map(|_| hours);
            post.corrections = corrections
                .iter()
                .filter(|c| c.post_id == post.id)
                .cloned()
                .collect();
            if !post.deleted {
                post.milestone = milestones
                    .iter()
                    .find(|(p, _)| *p == post.id)
                    .map(|(_, m)| m.clone());
                post.attachments = media
                    .iter()
                    .filter(|(p, _)| *p == post.id)
                    .map(|(_, a)| a.clone())
                    .collect();
            }
            post
        })
        .collect();
    Ok(Page::from_rows(items, limit, |p: &Post| cursor(&[p.seq])))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPost {
    /// Markdown.
    pub body: String,
    /// The id of the post this answers (in the same topic).
    pub reply_to: Option<i64>,
    /// Makes the reply a milestone post.
    pub milestone: Option<crate::milestones::NewMilestone>,
    pub content_warning: Option<String>,
    pub anonymous: Option<bool>,
    pub confirm_identifiers: Option<bool>,
    /// Photos and voice notes you uploaded, with alt text: `[{id, alt}]`.
    #[serde(default)]
    pub attachments: Vec<crate::media::AttachmentRequest>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedPost {
    pub post: Post,
    /// Shown to the author alone when their words suggest they may be in crisis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_resources: Option<Vec<crate::moderation::crisis::CrisisLine>>,
}

/// Reply in a topic (members of its community).
#[utoipa::path(post, path = "/api/v1/topics/{id}/posts", tag = "forum", operation_id = "reply",
    params(("id" = i64, Path)),
    request_body = NewPost,
    responses((status = 201, body = CreatedPost), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_reply(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<NewPost>,
) -> AppResult<(StatusCode, axum::Json<CreatedPost>)> {
    let created = reply(&state, &session, id, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Replies in topic `id` (to the topic, or to one of its posts with `reply_to`), indexes the
/// post and notifies whom it answers, mentions or quotes. Members only; not in a locked topic
/// unless a moderator; personal details need the author's confirmation (422 `identifiers`).
pub async fn reply(
    state: &AppState,
    session: &Session,
    id: i64,
    req: &NewPost,
) -> AppResult<CreatedPost> {
    let (topic, community, access) = visible_topic(state, id, Some(&session.user)).await?;
    if !access.can_post() {
        return Err(AppError::forbidden("join this community to reply"));
    }
    crate::moderation::sanctions::check_session_can_write(state, session, community.id).await?;
    if topic.locked && !access.is_moderator() {
        return Err(AppError::forbidden("this topic is locked"));
    }
    let mut fields = FieldErrors::new();
    let body = fields.check("body", PostBody::parse(&req.body));
    let warning = parse_warning(req.content_warning.as_deref(), &mut fields);
    let anonymous = req.anonymous.unwrap_or(false);
    if anonymous && !community.allow_anonymous {
        fields.push("anonymous", "this community does not allow anonymous posts");
    }
    // Replies in an "only me" topic are only the author's too.
    let private = topic.private_to.is_some();
    let milestone = match &req.milestone {
        Some(m) if m.visibility.as_deref() == Some("private") && !private => {
            fields.push(
                "milestone.visibility",
                "an \"only me\" milestone is a topic of its own: start one with kind milestone",
            );
            None
        }
        Some(m) => {
            crate::milestones::prepare(state, community.id, session.user.id, Some(m), &mut fields)
                .await?
                .map(|mut m| {
                    m.private = private;
                    m
                })
        }
        None => None,
    };
    let attachments =
        crate::media::check_attachments(state, &session.user, &req.attachments, &mut fields)
            .await?;
    let Some(body) = body.filter(|_| fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let verdict = crate::publish::screen(
        state,
        &session.user,
        &attachments.screened_with(body.as_str()),
        req.confirm_identifiers.unwrap_or(false),
    )
    .await?;
    let rendered = markdown::render(body.as_str());
    let now = now_ms();

    // What the reply answers, mentions and quotes is read before the write transaction, so the
    // single writer is held only for the writes.
    let (answered, mentioned, quoted) = {
        let mut conn = state.store.read().await?;
        let answered = match req.reply_to {
            Some(parent) => Some(
                db!(
                    conn,
                    fetch_optional as (Option<i64>,),
                    "SELECT author_id FROM posts WHERE id = $1 AND topic_id = $2",
                    parent,
                    id
                )?
                .ok_or_else(|| AppError::invalid("reply_to", "that post is not in this topic"))?
                .0,
            ),
            None => None,
        };
        if private {
            (answered, Vec::new(), Vec::new())
        } else {
            let mentioned = notify::resolve_usernames(&mut conn, &rendered.mentions).await?;
            let quoted = quoted_authors(&mut conn, body.as_str()).await?;
            (answered, mentioned, quoted)
        }
    };

    let stored = state
        .replies
        .write(super::writer::NewReply {
            topic_id: id,
            topic_author: topic.author_id,
            community_id: community.id,
            author_id: session.user.id,
            referred: session.referred,
            reply_to: req.reply_to,
            body: body.as_str().to_owned(),
            body_html: rendered.html.clone(),
            search_text: if private {
                String::new()
            } else {
                crate::search::prepare(None, body.as_str())
            },
            warning,
            anonymous,
            private,
            milestone,
            verdict,
            answered,
            mentioned,
            quoted,
            created_at: now,
            attachments: attachments.clone(),
        })
        .await?;
    let post_id = stored.post_id;
    let as_written = stored.staged.row_as_written();
    let crisis_resources =
        stored
            .staged
            .publish(&state.realtime, session.locale, session.country.as_deref());
    metrics::counter!("mutual_posts_created_total").increment(1);

    let post = if as_written && attachments.is_empty() {
        // Nothing changed the row after the insert: answer from what was written (a new post
        // has no reactions, corrections or edits yet), without a round trip.
        let row = PostRow {
            id: post_id,
            topic_id: id,
            seq: stored.seq,
            author_id: Some(session.user.id),
            username: Some(session.user.username.clone()),
            display_name: Some(session.user.display_name.clone()),
            reply_to: req.reply_to,
            body: body.into_string(),
            body_html: rendered.html,
            content_warning: warning.map(|w| w.as_str().to_owned()),
            anonymous,
            reactions: "{}".into(),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            hidden_at: None,
            hidden_reason: None,
            held_for_review: false,
            awaiting_approval: false,
            correction_count: 0,
            is_milestone: false,
            has_media: false,
        };
        post_view(
            row,
            Some(session.user.id),
            &session.content_filters,
            Vec::new(),
        )
    } else {
        // Held, under review or a milestone: read back what the write's stage made of it.
        let mut conn = state.store.read().await?;
        let row = fetch_post(&mut conn, post_id).await?;
        shown_to_member(&mut conn, row, session, Vec::new()).await?
    };
    Ok(CreatedPost {
        post: with_wait(state, post),
        crisis_resources,
    })
}

/// The post, its topic's access for the caller, and whether they may read it.
async fn readable_post(
    state: &AppState,
    post_id: i64,
    viewer: Option<&crate::accounts::User>,
) -> AppResult<(
    PostRow,
    crate::communities::CommunityRow,
    crate::communities::Access,
)> {
    let row = {
        let mut conn = state.store.read().await?;
        fetch_post(&mut conn, post_id).await?
    };
    let (_, community, access) = visible_topic(state, row.topic_id, viewer).await?;
    if !access.can_read() {
        return Err(AppError::forbidden("join this community to read its posts"));
    }
    Ok((row, community, access))
}

/// One post.
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "forum",
    params(("id" = i64, Path)),
    responses((status = 200, body = Post), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_post(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Post>> {
    Ok(axum::Json(post_for(&state, viewer.as_ref(), id).await?))
}

/// One post as `viewer` sees it; 403/404 as for its topic.
pub async fn post_for(state: &AppState, viewer: Option<&Session>, id: i64) -> AppResult<Post> {
    let (row, _, _) = readable_post(state, id, viewer.map(|s| &s.user)).await?;
    let has_media = row.has_media;
    let mut post = post_for_row(state, viewer, id, row).await?;
    if has_media && !post.deleted {
        let mut conn = state.store.read().await?;
        post.attachments = crate::media::for_post(&mut conn, id).await?;
    }
    Ok(post)
}

async fn post_for_row(
    state: &AppState,
    viewer: Option<&Session>,
    id: i64,
    row: PostRow,
) -> AppResult<Post> {
    match viewer {
        Some(session) => {
            let mut conn = state.store.read().await?;
            let mine = my_reactions(&mut conn, id, session.user.id).await?;
            let mut post = post_view(row, Some(session.user.id), &session.content_filters, mine);
            post.hidden_for_you = session.kept_away.hides(post.author.as_ref());
            post.waiting_hours = post.waiting_hours.map(|_| state.rules.get().review_hours);
            with_milestone(&mut conn, post, Some(session.user.id)).await
        }
        None => {
            let mut conn = state.store.read().await?;
            let post = post_view(row, None, &[], Vec::new());
            with_milestone(&mut conn, post, None).await
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PostEdit {
    pub body: String,
    /// A new warning; `""` removes it; absent keeps it.
    pub content_warning: Option<String>,
    pub confirm_identifiers: Option<bool>,
}

/// A post after an edit: the post's own fields, and the crisis lines as for a new post.
#[derive(Serialize, ToSchema)]
pub struct EditedPost {
    #[serde(flatten)]
    pub post: Post,
    /// Shown to the author alone when their words suggest they may be in crisis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_resources: Option<Vec<crate::moderation::crisis::CrisisLine>>,
}

/// Edit your post; the previous text is kept as a revision. The new text is screened exactly
/// as a new post is.
#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "forum",
    params(("id" = i64, Path)),
    request_body = PostEdit,
    responses((status = 200, body = EditedPost), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_edit_post(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<PostEdit>,
) -> AppResult<axum::Json<EditedPost>> {
    Ok(axum::Json(edit_post(&state, &session, id, &req).await?))
}

/// Edits the author's post `id`: screened as new text (automod, identifiers, crisis, the
/// new-member hold), the old text kept as a revision, re-indexed, and only members the edit
/// newly mentions notified.
pub async fn edit_post(
    state: &AppState,
    session: &Session,
    id: i64,
    req: &PostEdit,
) -> AppResult<EditedPost> {
    let (row, community, _) = readable_post(state, id, Some(&session.user)).await?;
    if row.author_id != Some(session.user.id) {
        return Err(AppError::forbidden("only the author edits a post"));
    }
    if row.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    crate::moderation::sanctions::check_session_can_write(state, session, community.id).await?;
    let mut fields = FieldErrors::new();
    let body = fields.check("body", PostBody::parse(&req.body));
    let warning = match req.content_warning.as_deref() {
        None => row.content_warning.clone(),
        Some("") => None,
        Some(w) => parse_warning(Some(w), &mut fields).map(|w| w.as_str().to_owned()),
    };
    let Some(body) = body.filter(|_| fields.is_empty()) else {
        return Err(fields.into_error());
    };
    let verdict = crate::publish::screen(
        state,
        &session.user,
        body.as_str(),
        req.confirm_identifiers.unwrap_or(false),
    )
    .await?;
    let rendered = markdown::render(body.as_str());
    let before = markdown::render(&row.body).mentions;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "INSERT INTO post_revisions (post_id, editor_id, body, created_at) VALUES ($1, $2, $3, $4)",
        id,
        session.user.id,
        &row.body,
        now
    )?;
    db!(
        tx,
        execute,
        "UPDATE posts SET body = $2, body_html = $3, content_warning = $4, edited_at = $5 WHERE id = $1",
        id,
        body.as_str(),
        &rendered.html,
        warning,
        now
    )?;
    // Only members newly mentioned by the edit hear about it.
    let private = db!(tx, fetch_one scalar Option<i64>, "SELECT private_to FROM topics WHERE id = $1", row.topic_id)?.is_some();
    let added: Vec<String> = rendered
        .mentions
        .iter()
        .filter(|m| !before.contains(m))
        .cloned()
        .collect();
    let mut recipients = Recipients::default();
    if !private {
        for uid in notify::resolve_usernames(&mut tx, &added).await? {
            recipients.add(uid, Kind::Mention);
        }
    }
    let written = crate::publish::Written {
        community_id: community.id,
        topic_id: row.topic_id,
        post_id: id,
        author_id: Some(session.user.id),
        anonymous: row.anonymous,
        private,
        new: false,
        indexed_later: false,
        referred: false,
        title: None,
        body: body.as_str(),
    };
    let staged =
        crate::publish::dispatch::stage(&mut tx, &written, &verdict, None, recipients).await?;
    tx.commit().await?;
    let crisis_resources =
        staged.publish(&state.realtime, session.locale, session.country.as_deref());
    let mut conn = state.store.read().await?;
    Ok(EditedPost {
        post: with_wait(state, load_post(&mut conn, id, session).await?),
        crisis_resources,
    })
}

/// Delete a post (its author or a moderator). The post stays as a placeholder so replies keep
/// their place; deleting the opening post deletes the topic.
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "forum",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_post(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    remove_post(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a post (its author or a moderator); the opening post takes its topic with it.
pub async fn remove_post(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let (row, community, access) = readable_post(state, id, Some(user)).await?;
    let is_author = row.author_id == Some(user.id);
    if !is_author && !access.is_moderator() {
        return Err(AppError::forbidden(
            "only the author or a moderator deletes a post",
        ));
    }
    if row.deleted_at.is_some() {
        return Ok(());
    }
    let mut tx = state.store.begin().await?;
    if soft_delete(&mut tx, id, user.id).await? && !is_author {
        crate::moderation::log_action(
            &mut tx,
            Some(community.id),
            Some(user.id),
            "delete",
            "post",
            id,
            "deleted by a moderator",
            None,
        )
        .await?;
    }
    tx.commit().await?;
    // Its photos and voice notes go now, not at the next upkeep.
    if let Err(e) = crate::media::sweep(state).await {
        tracing::warn!(error = %e, "removing a deleted post's media");
    }
    Ok(())
}

/// Soft-deletes a post in a transaction: it stays as a placeholder, leaves search, and takes its
/// topic with it when it opens the topic. Whether it was deleted now.
pub async fn soft_delete(tx: &mut crate::store::Tx, id: i64, by: i64) -> AppResult<bool> {
    let now = now_ms();
    let Some((seq, topic_id)) = db!(
        *tx,
        fetch_optional as (i64, i64),
        "UPDATE posts SET deleted_at = $2, deleted_by = $3 WHERE id = $1 AND deleted_at IS NULL RETURNING seq, topic_id",
        id,
        now,
        by
    )?
    else {
        return Ok(false);
    };
    if seq == 1 {
        db!(
            *tx,
            execute,
            "UPDATE topics SET deleted_at = $2 WHERE id = $1",
            topic_id,
            now
        )?;
    } else {
        db!(
            *tx,
            execute,
            "UPDATE topics SET reply_count = reply_count - 1 WHERE id = $1 AND reply_count > 0",
            topic_id
        )?;
    }
    search::unindex_post(tx, id).await?;
    crate::media::erase_for_post(&mut *tx, id).await?;
    Ok(true)
}

#[derive(Serialize, ToSchema)]
pub struct Revision {
    pub id: i64,
    pub editor: Option<MemberSummary>,
    /// The text before this edit.
    pub body: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    id: i64,
    editor_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    body: String,
    created_at: i64,
}

/// Earlier versions of a post, oldest first: for its author and moderators.
#[utoipa::path(get, path = "/api/v1/posts/{id}/revisions", tag = "forum",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Revision>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn revisions(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Vec<Revision>>> {
    Ok(axum::Json(post_revisions(&state, &session.user, id).await?))
}

/// A post's earlier versions (its author and moderators).
pub async fn post_revisions(state: &AppState, user: &User, id: i64) -> AppResult<Vec<Revision>> {
    let (row, _, access) = readable_post(state, id, Some(user)).await?;
    if row.author_id != Some(user.id) && !access.is_moderator() {
        return Err(AppError::forbidden(
            "revisions are for the author and moderators",
        ));
    }
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as RevisionRow,
        "SELECT r.id, r.editor_id, u.username, u.display_name, r.body, r.created_at
         FROM post_revisions r LEFT JOIN users u ON u.id = r.editor_id WHERE r.post_id = $1 ORDER BY r.id",
        id
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Revision {
            id: r.id,
            editor: author(
                row.anonymous && !access.is_moderator() && r.editor_id != Some(user.id),
                r.editor_id,
                r.username,
                r.display_name,
            ),
            body: r.body,
            created_at: r.created_at,
        })
        .collect())
}

#[derive(Deserialize, ToSchema)]
pub struct ReactionRequest {
    /// heart, hug, celebrate, me_too or helpful.
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reactions {
    pub reactions: BTreeMap<String, i64>,
    pub my_reactions: Vec<String>,
}

/// Adds (`on`) or takes back one of the member's reactions to a post; members of the community
/// only. Answers the post's counts afterwards.
pub async fn set_reaction(
    state: &AppState,
    session: &Session,
    post_id: i64,
    kind: &str,
    on: bool,
) -> AppResult<Reactions> {
    let kind = ReactionKind::parse(kind).map_err(|e| AppError::invalid("kind", e))?;
    let (row, _, access) = readable_post(state, post_id, Some(&session.user)).await?;
    if !access.can_post() {
        return Err(AppError::forbidden("join this community to react"));
    }
    if row.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    let mut tx = state.store.begin().await?;
    if on {
        db!(
            tx,
            execute,
            "INSERT INTO post_reactions (post_id, user_id, kind, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            post_id,
            session.user.id,
            kind.as_str(),
            now_ms()
        )?;
    } else {
        db!(
            tx,
            execute,
            "DELETE FROM post_reactions WHERE post_id = $1 AND user_id = $2 AND kind = $3",
            post_id,
            session.user.id,
            kind.as_str()
        )?;
    }
    let counts: BTreeMap<String, i64> = db!(
        tx,
        fetch_all as (String, i64),
        "SELECT kind, COUNT(*) FROM post_reactions WHERE post_id = $1 GROUP BY kind",
        post_id
    )?
    .into_iter()
    .collect();
    let json = serde_json::to_string(&counts).map_err(anyhow::Error::from)?;
    db!(
        tx,
        execute,
        "UPDATE posts SET reactions = $2 WHERE id = $1",
        post_id,
        json
    )?;
    let mine = my_reactions(&mut tx, post_id, session.user.id).await?;
    tx.commit().await?;
    Ok(Reactions {
        reactions: counts,
        my_reactions: mine,
    })
}

/// React to a post (once per kind).
#[utoipa::path(post, path = "/api/v1/posts/{id}/reactions", tag = "forum",
    params(("id" = i64, Path)),
    request_body = ReactionRequest,
    responses((status = 200, body = Reactions), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn react(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<ReactionRequest>,
) -> AppResult<axum::Json<Reactions>> {
    Ok(axum::Json(
        set_reaction(&state, &session, id, &req.kind, true).await?,
    ))
}

/// Take a reaction back.
#[utoipa::path(delete, path = "/api/v1/posts/{id}/reactions", tag = "forum",
    params(("id" = i64, Path)),
    request_body = ReactionRequest,
    responses((status = 200, body = Reactions), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn unreact(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<ReactionRequest>,
) -> AppResult<axum::Json<Reactions>> {
    Ok(axum::Json(
        set_reaction(&state, &session, id, &req.kind, false).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RevealRequest {
    /// Why the author must be known (logged).
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    pub author: MemberSummary,
}

/// Moderators: who wrote an anonymous post. The reveal and its reason are logged.
#[utoipa::path(post, path = "/api/v1/posts/{id}/reveal", tag = "moderation",
    params(("id" = i64, Path)),
    request_body = RevealRequest,
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn reveal_author(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<RevealRequest>,
) -> AppResult<axum::Json<Revealed>> {
    Ok(axum::Json(
        reveal_post_author(&state, &session.user, id, &req).await?,
    ))
}

/// Shows moderators who wrote an anonymous post, with a logged reason.
pub async fn reveal_post_author(
    state: &AppState,
    user: &User,
    id: i64,
    req: &RevealRequest,
) -> AppResult<Revealed> {
    let (row, community, access) = readable_post(state, id, Some(user)).await?;
    if !access.is_moderator() {
        return Err(AppError::forbidden(
            "only moderators reveal an anonymous author",
        ));
    }
    let reason = req.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters",
        ));
    }
    if !row.anonymous {
        return Err(AppError::invalid("id", "this post is not anonymous"));
    }
    let (Some(author_id), Some(username), Some(display_name)) =
        (row.author_id, row.username, row.display_name)
    else {
        return Err(AppError::NotFound);
    };
    let mut w = state.store.write().await?;
    crate::moderation::log_action(
        &mut w,
        Some(community.id),
        Some(user.id),
        "reveal_author",
        "post",
        id,
        reason,
        None,
    )
    .await?;
    Ok(Revealed {
        author: MemberSummary {
            id: author_id,
            username,
            display_name,
        },
    })
}
