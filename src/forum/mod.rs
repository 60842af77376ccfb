//! The forum: topics in a community and the posts in them, with threading (`reply_to`),
//! markdown rendered once on write, content warnings, anonymous posting, unread counts,
//! revisions, soft deletes and reactions.
//!
//! Posts are numbered per topic (`seq`) under the topic row's lock, so the numbering is the
//! commit order and a reader paging with `after=<seq>` sees every post exactly once, even while
//! others are being written.

pub mod cache;
pub mod posts;
pub mod types;
pub mod writer;

use std::collections::BTreeMap;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, Session, User, serialize_time};
use crate::app::AppState;
use crate::communities::{
    Access, CommunityRow, MemberSummary, RoleColumns, access_with_roles, visible_community,
};
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::notify::{self, Kind, Recipients};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};
use crate::{db, markdown};
use types::{ContentWarning, PostBody, Title, TopicKind};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_topics, api_create_topic))
        .routes(routes!(api_get_topic, update_topic))
        .routes(routes!(preview))
        .merge(posts::router())
}

/// A topic as listed and shown.
#[derive(Serialize, ToSchema, Debug)]
pub struct Topic {
    pub id: i64,
    /// The community's address.
    pub community: String,
    pub title: String,
    pub kind: TopicKind,
    /// Null when posted anonymously.
    pub author: Option<MemberSummary>,
    pub anonymous: bool,
    pub pinned: bool,
    pub locked: bool,
    pub reply_count: i64,
    /// The number of the newest post.
    pub last_seq: i64,
    /// Posts the caller has not read yet (members only).
    pub unread: Option<i64>,
    /// The opening post's content warning.
    pub content_warning: Option<String>,
    /// The caller filters that warning: show the topic collapsed.
    pub collapsed: bool,
    /// Show the community's "peer experience, not medical advice" notice.
    pub medical_notice: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub last_post_at: i64,
    /// For milestone topics: the milestone, as the caller may see it.
    pub milestone: Option<crate::milestones::Milestone>,
    /// In lists, and only when the caller blocks (`blocked`) or ignores (`ignored`) who started
    /// it: show it collapsed, openable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_for_you: Option<crate::blocks::Hidden>,
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct TopicRow {
    pub id: i64,
    pub community_id: i64,
    pub title: String,
    pub kind: String,
    pub author_id: Option<i64>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub anonymous: bool,
    pub pinned: bool,
    pub locked: bool,
    pub reply_count: i64,
    pub last_seq: i64,
    pub created_at: i64,
    pub last_post_at: i64,
    pub last_read_seq: Option<i64>,
    pub content_warning: Option<String>,
    /// Set on "only me" milestone topics: nobody else may see or find them.
    pub private_to: Option<i64>,
    /// Bumped by the database whenever one of its posts changes (see `cache`).
    pub version: i64,
}

/// A member shown as the author, or nobody for anonymous posts.
pub fn author(
    anonymous: bool,
    id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
) -> Option<MemberSummary> {
    if anonymous {
        None
    } else {
        MemberSummary::from_columns(id, username, display_name)
    }
}

fn topic_view(
    row: TopicRow,
    community: &CommunityRow,
    access: &Access,
    filters: &[String],
) -> Topic {
    let collapsed = row
        .content_warning
        .as_ref()
        .is_some_and(|w| filters.contains(w));
    Topic {
        id: row.id,
        community: community.slug.clone(),
        kind: TopicKind::parse(&row.kind).unwrap_or(TopicKind::Discussion),
        // Who posts in a members-only group is health data: titles show to all, authors to
        // those who may read the posts.
        author: if access.can_read() {
            author(row.anonymous, row.author_id, row.username, row.display_name)
        } else {
            None
        },
        anonymous: row.anonymous,
        title: row.title,
        pinned: row.pinned,
        locked: row.locked,
        reply_count: row.reply_count,
        last_seq: row.last_seq,
        unread: access
            .is_member()
            .then(|| (row.last_seq - row.last_read_seq.unwrap_or(0)).max(0)),
        content_warning: row.content_warning,
        collapsed,
        medical_notice: community.medical_notice,
        created_at: row.created_at,
        last_post_at: row.last_post_at,
        milestone: None,
        hidden_for_you: None,
    }
}

/// Fills in the milestone a milestone topic opens with, for a caller who may read it.
async fn with_milestone(
    conn: &mut impl AsDb,
    mut topic: Topic,
    access: &Access,
    viewer_id: Option<i64>,
) -> AppResult<Topic> {
    if topic.kind == TopicKind::Milestone && access.can_read() {
        topic.milestone = crate::milestones::for_topic(conn, topic.id, viewer_id).await?;
    }
    Ok(topic)
}

#[derive(sqlx::FromRow)]
struct TopicInCommunity {
    #[sqlx(flatten)]
    topic: TopicRow,
    c_slug: String,
    c_name: String,
    c_description: String,
    c_visibility: String,
    c_medical_notice: bool,
    c_allow_anonymous: bool,
    c_member_list: String,
    c_newcomer_alert_minutes: i64,
    c_created_at: i64,
    c_member_count: i64,
    c_condition: String,
    c_condition_label: String,
    c_language: String,
    c_languages: String,
    c_region: String,
    c_meeting_style: String,
    m_status: Option<String>,
    #[sqlx(flatten)]
    roles: RoleColumns,
}

/// The topic, its community and the viewer's access; 404 when the viewer may not know of it.
/// Every topic view starts here: on SQLite a kept head answers with no query (`cache::Heads`).
pub async fn visible_topic(
    state: &AppState,
    topic_id: i64,
    viewer: Option<&User>,
) -> AppResult<(TopicRow, CommunityRow, Access)> {
    let viewer_id = viewer.map(|u| u.id);
    let watch = state.store.watch();
    let kept = if watch.alone() {
        let kept = state.heads.get(topic_id, viewer_id);
        metrics::counter!("mutual_topic_head_cache_total", "result" => if kept.is_some() { "hit" } else { "miss" })
            .increment(1);
        kept
    } else {
        None
    };
    let head = match kept {
        Some(head) => head,
        None => {
            let ticket = watch.ticket();
            let mut conn = state.store.read().await?;
            let head = read_head(&mut conn, topic_id, viewer_id).await?;
            drop(conn);
            if let Some(ticket) = ticket {
                watch.keep(ticket, || state.heads.put(viewer_id, &head));
            }
            head
        }
    };
    // A kept "only me" topic is its author's alone.
    if head.topic.private_to.is_some_and(|p| Some(p) != viewer_id) {
        return Err(AppError::NotFound);
    }
    let (status, roles) = head.member.unwrap_or_default();
    let access = access_with_roles(&head.community, viewer, status, &roles);
    if !access.can_see() {
        return Err(AppError::NotFound);
    }
    Ok((head.topic, head.community, access))
}

/// The topic, its community and the viewer's membership and roles, in one round trip.
async fn read_head(
    conn: &mut impl AsDb,
    topic_id: i64,
    viewer_id: Option<i64>,
) -> AppResult<cache::Head> {
    let found = db!(
        *conn,
        fetch_optional as TopicInCommunity,
        "SELECT t.id, t.community_id, t.title, t.kind, t.author_id, u.username, u.display_name, t.anonymous, t.pinned, t.locked,
                t.reply_count, t.last_seq, t.created_at, t.last_post_at, r.last_read_seq, fp.content_warning, t.private_to, t.version,
                c.slug AS c_slug, c.name AS c_name, c.description AS c_description, c.visibility AS c_visibility,
                c.medical_notice AS c_medical_notice, c.allow_anonymous AS c_allow_anonymous, c.member_list AS c_member_list,
                c.newcomer_alert_minutes AS c_newcomer_alert_minutes, c.created_at AS c_created_at, c.member_count AS c_member_count,
                c.condition AS c_condition, c.condition_label AS c_condition_label, c.language AS c_language, c.region AS c_region,
                c.languages AS c_languages, c.meeting_style AS c_meeting_style,
                m.status AS m_status,
                EXISTS (SELECT 1 FROM community_roles cr WHERE cr.community_id = t.community_id AND cr.user_id = $2 AND cr.role = 'moderator') AS r_moderator,
                EXISTS (SELECT 1 FROM community_roles cr WHERE cr.community_id = t.community_id AND cr.user_id = $2 AND cr.role = 'organiser') AS r_organiser,
                EXISTS (SELECT 1 FROM community_roles cr WHERE cr.community_id = t.community_id AND cr.user_id = $2 AND cr.role = 'welcomer') AS r_welcomer
         FROM topics t
         JOIN communities c ON c.id = t.community_id
         LEFT JOIN users u ON u.id = t.author_id
         LEFT JOIN topic_reads r ON r.topic_id = t.id AND r.user_id = $2
         LEFT JOIN posts fp ON fp.topic_id = t.id AND fp.seq = 1
         LEFT JOIN memberships m ON m.community_id = t.community_id AND m.user_id = $2
         WHERE t.id = $1 AND t.deleted_at IS NULL AND (t.private_to IS NULL OR t.private_to = $2)",
        topic_id,
        viewer_id.unwrap_or(-1)
    )?
    .ok_or(AppError::NotFound)?;
    let community = CommunityRow {
        id: found.topic.community_id,
        slug: found.c_slug,
        name: found.c_name,
        description: found.c_description,
        visibility: found.c_visibility,
        medical_notice: found.c_medical_notice,
        allow_anonymous: found.c_allow_anonymous,
        member_list: found.c_member_list,
        newcomer_alert_minutes: found.c_newcomer_alert_minutes,
        created_at: found.c_created_at,
        member_count: found.c_member_count,
        condition: found.c_condition,
        condition_label: found.c_condition_label,
        language: found.c_language,
        languages: found.c_languages,
        region: found.c_region,
        meeting_style: found.c_meeting_style,
    };
    Ok(cache::Head {
        topic: found.topic,
        community,
        member: viewer_id.map(|_| (found.m_status, found.roles)),
    })
}

/// A community's topics as `viewer` sees them: pinned first, then by latest activity.
pub async fn list_topics(
    state: &AppState,
    viewer: Option<&Session>,
    slug: &str,
    page: &PageParams,
) -> AppResult<Page<Topic>> {
    let limit = page.limit()?;
    let after = page
        .after_ints(3)?
        .unwrap_or_else(|| vec![1, i64::MAX, i64::MAX]);
    let filters = viewer
        .map(|s| s.content_filters.as_slice())
        .unwrap_or_default();
    let user = viewer.map(|s| &s.user);
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, user).await?;
    let rows = db!(
        conn,
        fetch_all as TopicRow,
        "SELECT t.id, t.community_id, t.title, t.kind, t.author_id, u.username, u.display_name, t.anonymous, t.pinned, t.locked,
                t.reply_count, t.last_seq, t.created_at, t.last_post_at, r.last_read_seq, fp.content_warning, t.private_to, t.version
         FROM topics t
         LEFT JOIN users u ON u.id = t.author_id
         LEFT JOIN topic_reads r ON r.topic_id = t.id AND r.user_id = $2
         LEFT JOIN posts fp ON fp.topic_id = t.id AND fp.seq = 1
         WHERE t.community_id = $1 AND t.deleted_at IS NULL AND (t.private_to IS NULL OR t.private_to = $2)
           AND (fp.awaiting_approval = FALSE OR t.author_id = $2)
           AND (COALESCE(fp.held_for_review, FALSE) = FALSE OR t.author_id = $2 OR $7)
           AND (t.pinned < $3 OR (t.pinned = $3 AND (t.last_post_at < $4 OR (t.last_post_at = $4 AND t.id < $5))))
         ORDER BY t.pinned DESC, t.last_post_at DESC, t.id DESC
         LIMIT $6",
        community.id,
        user.map(|u| u.id).unwrap_or(-1),
        after[0] != 0,
        after[1],
        after[2],
        limit + 1,
        // A topic held for review (words that suggest a crisis) leaves the list, title and
        // author, for all but its author and the moderators until a moderator reviews it.
        access.is_moderator()
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let mut topic = topic_view(row, &community, &access, filters);
        // Per viewer, after the shared rows: the topics of members they keep away, collapsed.
        topic.hidden_for_you = viewer.and_then(|s| s.kept_away.hides(topic.author.as_ref()));
        items.push(with_milestone(&mut conn, topic, &access, user.map(|u| u.id)).await?);
    }
    Ok(Page::from_rows(items, limit, |t: &Topic| {
        cursor(&[i64::from(t.pinned), t.last_post_at, t.id])
    }))
}

/// A community's topics: pinned first, then by latest activity.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/topics", tag = "forum", operation_id = "list_topics",
    params(("slug" = String, Path), PageParams),
    responses((status = 200, body = Page<Topic>), (status = 404, body = ErrorBody)))]
async fn api_list_topics(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<Topic>>> {
    Ok(axum::Json(
        list_topics(&state, viewer.as_ref(), &slug, &page).await?,
    ))
}

/// One topic as `viewer` sees it; 404 when they may not know of it. Visitors of a members-only
/// community get this title stub, not the posts.
pub async fn get_topic(state: &AppState, viewer: Option<&Session>, id: i64) -> AppResult<Topic> {
    let filters = viewer
        .map(|s| s.content_filters.as_slice())
        .unwrap_or_default();
    let user = viewer.map(|s| &s.user);
    let (row, community, access) = visible_topic(state, id, user).await?;
    let topic = topic_view(row, &community, &access, filters);
    if topic.kind != TopicKind::Milestone {
        return Ok(topic);
    }
    let mut conn = state.store.read().await?;
    with_milestone(&mut conn, topic, &access, user.map(|u| u.id)).await
}

/// The topic as `viewer` sees it, from a row `visible_topic` just read (the topic page reads
/// the row once for its header and its posts).
pub async fn shown_topic(
    state: &AppState,
    viewer: Option<&Session>,
    row: TopicRow,
    community: &CommunityRow,
    access: &Access,
) -> AppResult<Topic> {
    let filters = viewer
        .map(|s| s.content_filters.as_slice())
        .unwrap_or_default();
    let topic = topic_view(row, community, access, filters);
    if topic.kind != TopicKind::Milestone {
        return Ok(topic);
    }
    let mut conn = state.store.read().await?;
    with_milestone(&mut conn, topic, access, viewer.map(|s| s.user.id)).await
}

/// One topic. Visitors of a members-only community see this title stub, not the posts.
#[utoipa::path(get, path = "/api/v1/topics/{id}", tag = "forum", operation_id = "get_topic",
    params(("id" = i64, Path)),
    responses((status = 200, body = Topic), (status = 404, body = ErrorBody)))]
async fn api_get_topic(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Topic>> {
    Ok(axum::Json(get_topic(&state, viewer.as_ref(), id).await?))
}

/// Parses the optional content warning of a request.
pub fn parse_warning(raw: Option<&str>, fields: &mut FieldErrors) -> Option<ContentWarning> {
    raw.filter(|s| !s.is_empty())
        .and_then(|w| fields.check("content_warning", ContentWarning::parse(w)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewTopic {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// `discussion` (default), `milestone` (with `milestone`) or `themed` (organisers).
    pub kind: Option<String>,
    /// The milestone, for `kind: "milestone"`.
    pub milestone: Option<crate::milestones::NewMilestone>,
    /// weight, photos, self_harm, food or other: collapsed for members who filter it.
    pub content_warning: Option<String>,
    /// Post as "anonymous member" where the community allows it.
    pub anonymous: Option<bool>,
    /// Publish even though the text seems to hold an e-mail, phone number or national id.
    pub confirm_identifiers: Option<bool>,
    /// Photos and voice notes you uploaded, with alt text: `[{id, alt}]`.
    #[serde(default)]
    pub attachments: Vec<crate::media::AttachmentRequest>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTopic {
    pub topic: Topic,
    pub post: posts::Post,
    /// Shown to the author alone when their words suggest they may be in crisis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_resources: Option<Vec<crate::moderation::crisis::CrisisLine>>,
}

/// Start a topic (members of the community).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/topics", tag = "forum", operation_id = "create_topic",
    params(("slug" = String, Path)),
    request_body = NewTopic,
    responses((status = 201, body = CreatedTopic), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_topic(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewTopic>,
) -> AppResult<(StatusCode, axum::Json<CreatedTopic>)> {
    let created = create_topic(&state, &session, &slug, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Starts a topic in the community at `slug` with its opening post, indexes it and notifies
/// the members it mentions or quotes. Only members post; text that seems to hold personal
/// details is refused (422 `identifiers`) until the author confirms it.
pub async fn create_topic(
    state: &AppState,
    session: &Session,
    slug: &str,
    req: &NewTopic,
) -> AppResult<CreatedTopic> {
    let (community, access) = {
        let mut conn = state.store.read().await?;
        visible_community(&mut conn, slug, Some(&session.user)).await?
    };
    if !access.can_post() {
        return Err(AppError::forbidden("join this community to start a topic"));
    }
    crate::moderation::sanctions::check_session_can_write(state, session, community.id).await?;
    let mut fields = FieldErrors::new();
    let title = fields.check("title", Title::parse(&req.title));
    let body = fields.check("body", PostBody::parse(&req.body));
    let kind = match req.kind.as_deref() {
        // A milestone without a kind makes a milestone topic.
        None if req.milestone.is_some() => Some(TopicKind::Milestone),
        None => Some(TopicKind::Discussion),
        Some(k) => match TopicKind::parse(k) {
            Ok(TopicKind::Themed) if !access.is_organiser() => {
                fields.push("kind", "only organisers start themed topics");
                None
            }
            Ok(k) if k != TopicKind::Milestone && req.milestone.is_some() => {
                fields.push("milestone", "a milestone goes with kind milestone");
                None
            }
            Ok(k) => Some(k),
            Err(e) => {
                fields.push("kind", e);
                None
            }
        },
    };
    let warning = parse_warning(req.content_warning.as_deref(), &mut fields);
    let anonymous = req.anonymous.unwrap_or(false);
    if anonymous && !community.allow_anonymous {
        fields.push("anonymous", "this community does not allow anonymous posts");
    }
    let milestone = if kind == Some(TopicKind::Milestone) {
        crate::milestones::prepare(
            state,
            community.id,
            session.user.id,
            req.milestone.as_ref(),
            &mut fields,
        )
        .await?
    } else {
        None
    };
    let attachments =
        crate::media::check_attachments(state, &session.user, &req.attachments, &mut fields)
            .await?;
    // "Only me": no one else may see the topic, find it, be notified of it or review it.
    let private = milestone.as_ref().is_some_and(|m| m.private);
    let (Some(title), Some(body), Some(kind)) = (title, body, kind) else {
        return Err(fields.into_error());
    };
    fields.into_result()?;
    let verdict = crate::publish::screen(
        state,
        &session.user,
        &attachments.screened_with(&format!("{}\n{}", title.as_str(), body.as_str())),
        req.confirm_identifiers.unwrap_or(false),
    )
    .await?;
    let rendered = markdown::render(body.as_str());
    let now = now_ms();

    let mut tx = state.store.begin().await?;
    let earlier = db!(
        tx,
        fetch_optional scalar i64,
        "SELECT id FROM topics WHERE community_id = $1 AND author_id = $2 AND private_to IS NULL LIMIT 1",
        community.id,
        session.user.id
    )?;
    let topic_id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO topics (community_id, author_id, title, kind, anonymous, last_seq, reply_count, first_of_author, created_at, last_post_at, private_to)
         VALUES ($1, $2, $3, $4, $5, 1, 0, $6, $7, $7, $8) RETURNING id",
        community.id,
        session.user.id,
        title.as_str(),
        kind.as_str(),
        anonymous,
        earlier.is_none() && !private,
        now,
        private.then_some(session.user.id)
    )?;
    let post_id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO posts (topic_id, community_id, seq, author_id, body, body_html, content_warning, anonymous, created_at)
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8) RETURNING id",
        topic_id,
        community.id,
        session.user.id,
        body.as_str(),
        &rendered.html,
        warning.map(ContentWarning::as_str),
        anonymous,
        now
    )?;
    crate::media::attach(
        &mut tx,
        session.user.id,
        crate::media::Target::Post(post_id),
        &attachments,
    )
    .await?;
    let mut recipients = Recipients::default();
    if !private {
        for id in notify::resolve_usernames(&mut tx, &rendered.mentions).await? {
            recipients.add(id, Kind::Mention);
        }
        for id in posts::quoted_authors(&mut tx, body.as_str()).await? {
            recipients.add(id, Kind::Quote);
        }
    }
    let written = crate::publish::Written {
        community_id: community.id,
        topic_id,
        post_id,
        author_id: Some(session.user.id),
        anonymous,
        private,
        new: true,
        indexed_later: false,
        referred: session.referred,
        title: Some(title.as_str()),
        body: body.as_str(),
    };
    let staged = crate::publish::dispatch::stage(
        &mut tx,
        &written,
        &verdict,
        milestone.as_ref(),
        recipients,
    )
    .await?;
    db!(
        tx,
        execute,
        "INSERT INTO topic_reads (user_id, topic_id, last_read_seq) VALUES ($1, $2, 1)",
        session.user.id,
        topic_id
    )?;
    tx.commit().await?;
    let crisis_resources =
        staged.publish(&state.realtime, session.locale, session.country.as_deref());
    metrics::counter!("mutual_posts_created_total").increment(1);

    let (row, community, access) = visible_topic(state, topic_id, Some(&session.user)).await?;
    let mut conn = state.store.read().await?;
    let post = posts::with_wait(state, posts::load_post(&mut conn, post_id, session).await?);
    let topic = topic_view(row, &community, &access, &session.content_filters);
    Ok(CreatedTopic {
        topic: with_milestone(&mut conn, topic, &access, Some(session.user.id)).await?,
        post,
        crisis_resources,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct TopicChanges {
    pub title: Option<String>,
    /// Publish even though the title seems to hold personal details.
    pub confirm_identifiers: Option<bool>,
}

/// Retitle a topic (its author, or a moderator).
#[utoipa::path(patch, path = "/api/v1/topics/{id}", tag = "forum",
    params(("id" = i64, Path)),
    request_body = TopicChanges,
    responses((status = 200, body = Topic), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_topic(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<TopicChanges>,
) -> AppResult<axum::Json<Topic>> {
    Ok(axum::Json(change_topic(&state, &session, id, &req).await?))
}

/// Retitles a topic (its author, or a moderator); the new title is screened like new text.
pub async fn change_topic(
    state: &AppState,
    session: &Session,
    id: i64,
    req: &TopicChanges,
) -> AppResult<Topic> {
    let (row, community, access) = visible_topic(state, id, Some(&session.user)).await?;
    let is_author = row.author_id == Some(session.user.id) && access.can_post();
    if !is_author && !access.is_moderator() {
        return Err(AppError::forbidden(
            "only the author or a moderator changes a topic",
        ));
    }
    if let Some(raw) = &req.title {
        let title = Title::parse(raw).map_err(|e| AppError::invalid("title", e))?;
        // A new title is screened as new text; what it sets off lands on the opening post.
        let verdict = crate::publish::screen(
            state,
            &session.user,
            title.as_str(),
            req.confirm_identifiers.unwrap_or(false),
        )
        .await?;
        let mut tx = state.store.begin().await?;
        db!(
            tx,
            execute,
            "UPDATE topics SET title = $2 WHERE id = $1",
            id,
            title.as_str()
        )?;
        let first = db!(
            tx,
            fetch_optional as (i64, Option<i64>),
            "SELECT id, author_id FROM posts WHERE topic_id = $1 AND seq = 1",
            id
        )?;
        let staged = match first {
            Some((post_id, first_author)) => {
                let written = crate::publish::Written {
                    community_id: community.id,
                    topic_id: id,
                    post_id,
                    // The case names the topic's author, whoever retitled it.
                    author_id: first_author,
                    anonymous: row.anonymous,
                    private: row.private_to.is_some(),
                    new: false,
                    indexed_later: false,
                    referred: false,
                    title: Some(title.as_str()),
                    body: "",
                };
                Some(
                    crate::publish::dispatch::stage(
                        &mut tx,
                        &written,
                        &verdict,
                        None,
                        Recipients::default(),
                    )
                    .await?,
                )
            }
            None => None,
        };
        tx.commit().await?;
        if let Some(staged) = staged {
            // The topic answer has no place for crisis lines; the case reaches moderators.
            let _ = staged.publish(&state.realtime, session.locale, session.country.as_deref());
        }
    }
    let (row, community, access) = visible_topic(state, id, Some(&session.user)).await?;
    Ok(topic_view(
        row,
        &community,
        &access,
        &session.content_filters,
    ))
}

/// Reaction counts as stored with the post.
pub fn parse_reactions(raw: &str) -> BTreeMap<String, i64> {
    serde_json::from_str(raw).unwrap_or_default()
}

#[derive(Deserialize, ToSchema)]
pub struct PreviewRequest {
    /// Markdown, as it would be posted.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewAnswer {
    /// Sanitised HTML, exactly as the post would show.
    pub html: String,
}

/// Renders a draft the way it would be stored, without storing it: the composer's preview.
pub fn preview_html(body: &str) -> AppResult<String> {
    let body = PostBody::parse(body).map_err(|e| AppError::invalid("body", e))?;
    Ok(markdown::render(body.as_str()).html)
}

/// Preview a post: the sanitised HTML a draft would become (signed-in members).
#[utoipa::path(post, path = "/api/v1/preview", tag = "forum",
    request_body = PreviewRequest,
    responses((status = 200, body = PreviewAnswer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn preview(
    Auth(_session): Auth,
    Json(req): Json<PreviewRequest>,
) -> AppResult<axum::Json<PreviewAnswer>> {
    Ok(axum::Json(PreviewAnswer {
        html: preview_html(&req.body)?,
    }))
}

/// Inserts a topic with its opening post in `tx`, indexed for search and read by its author:
/// for topics the server starts itself (scheduled themed threads, session summaries) from text
/// an organiser wrote and the caller validated. It goes through the same dispatcher as members'
/// posts with the staff verdict (`Verdict::staff`: no automod, new-member rule or crisis case)
/// and notifies nobody. `author_id` `None` leaves it without author.
pub(crate) async fn insert_topic(
    tx: &mut crate::store::Tx,
    community_id: i64,
    author_id: Option<i64>,
    title: &str,
    kind: TopicKind,
    body: &str,
) -> AppResult<(i64, i64)> {
    let rendered = markdown::render(body);
    let now = now_ms();
    let topic_id = db!(
        *tx,
        fetch_one scalar i64,
        "INSERT INTO topics (community_id, author_id, title, kind, anonymous, last_seq, reply_count, first_of_author, created_at, last_post_at)
         VALUES ($1, $2, $3, $4, FALSE, 1, 0, FALSE, $5, $5) RETURNING id",
        community_id,
        author_id,
        title,
        kind.as_str(),
        now
    )?;
    let post_id = db!(
        *tx,
        fetch_one scalar i64,
        "INSERT INTO posts (topic_id, community_id, seq, author_id, body, body_html, anonymous, created_at)
         VALUES ($1, $2, 1, $3, $4, $5, FALSE, $6) RETURNING id",
        topic_id,
        community_id,
        author_id,
        body,
        &rendered.html,
        now
    )?;
    let written = crate::publish::Written {
        community_id,
        topic_id,
        post_id,
        author_id,
        anonymous: false,
        private: false,
        new: true,
        indexed_later: false,
        referred: false,
        title: Some(title),
        body,
    };
    // Nothing to publish: no recipients, and the staff verdict opens no case. The callers
    // commit later, so nothing could be published here anyway.
    let staged = crate::publish::dispatch::stage(
        tx,
        &written,
        &crate::publish::Verdict::staff(),
        None,
        Recipients::default(),
    )
    .await?;
    staged.discard();
    if let Some(uid) = author_id {
        db!(
            *tx,
            execute,
            "INSERT INTO topic_reads (user_id, topic_id, last_read_seq) VALUES ($1, $2, 1)",
            uid,
            topic_id
        )?;
    }
    metrics::counter!("mutual_posts_created_total").increment(1);
    Ok((topic_id, post_id))
}

/// Whether the member wrote a post in the topic (the crisis lines on its page are for them).
pub async fn has_posted_in(state: &AppState, topic_id: i64, user_id: i64) -> AppResult<bool> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_one scalar bool,
        "SELECT EXISTS (SELECT 1 FROM posts WHERE topic_id = $1 AND author_id = $2)",
        topic_id,
        user_id
    )?)
}
