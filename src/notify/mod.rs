//! Notifications: mentions, replies, quotes and newcomer alerts, stored with the post that caused
//! them (in its transaction) and listed per member.
//!
//! A notification holds ids, never the text of a post or a title, so nothing about a member's
//! health shows in a preview. Nobody is notified of content they may not read.
//!
//! Each notification also queues a Web Push to the member's subscribed devices (`push`), in the
//! same transaction: `{kind, url}`, with a path made of ids only.

pub mod newcomers;

use std::collections::BTreeMap;

use crate::http::Query;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, User, serialize_time};
use crate::app::AppState;
use crate::communities::MemberSummary;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::paging::{PageParams, cursor};
use crate::realtime::Realtime;
use crate::realtime::frames::ServerFrame;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_unread))
        .routes(routes!(api_mark_read))
}

/// Why a member is notified. When one post gives several reasons, the first in this order wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Mention,
    Quote,
    Reply,
    /// A newcomer's first topic has had no answer (to the community's welcomers).
    NewcomerUnanswered,
    /// Someone may be in crisis (to the community's moderators on duty).
    CrisisReport,
    /// Someone is worried about you: the crisis lines are at `/api/v1/me/moderation`.
    CaringMessage,
    /// A report you made was resolved.
    ReportResolved,
    /// Your appeal was decided.
    AppealDecided,
    /// A moderator hid your content: see why at `/api/v1/me/moderation`.
    ContentHidden,
    /// A moderator warned or sanctioned you.
    Sanction,
    /// A member you follow shared a milestone.
    Milestone,
    /// The anniversary of one of your milestones ("1 year since surgery"): a nudge to post.
    Anniversary,
    /// A check-in on one of your goals is due.
    CheckinDue,
    /// A live session you said you would join starts soon.
    EventReminder,
    /// You were added to a peer circle (or made one of its leaders).
    CircleAdded,
    /// A peer leader of a circle you lead or organise has been away for 14 days.
    LeaderInactive,
    /// A live session you said you would join was cancelled.
    EventCancelled,
    /// A member reported something (to the community's moderators on duty); crisis reports are
    /// `CrisisReport`.
    NewReport,
    /// Your appeal was granted: what was done is undone.
    AppealRestored,
    /// Your appeal was turned down: what was done stands.
    AppealUpheld,
}

impl Kind {
    /// Every kind, for lists of words per kind (the service worker's, `web::push`).
    pub const ALL: [Kind; 20] = [
        Kind::Mention,
        Kind::Quote,
        Kind::Reply,
        Kind::NewcomerUnanswered,
        Kind::CrisisReport,
        Kind::CaringMessage,
        Kind::ReportResolved,
        Kind::AppealDecided,
        Kind::ContentHidden,
        Kind::Sanction,
        Kind::Milestone,
        Kind::Anniversary,
        Kind::CheckinDue,
        Kind::EventReminder,
        Kind::CircleAdded,
        Kind::LeaderInactive,
        Kind::EventCancelled,
        Kind::NewReport,
        Kind::AppealRestored,
        Kind::AppealUpheld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mention => "mention",
            Kind::Reply => "reply",
            Kind::Quote => "quote",
            Kind::NewcomerUnanswered => "newcomer_unanswered",
            Kind::CrisisReport => "crisis_report",
            Kind::CaringMessage => "caring_message",
            Kind::ReportResolved => "report_resolved",
            Kind::AppealDecided => "appeal_decided",
            Kind::ContentHidden => "content_hidden",
            Kind::Sanction => "sanction",
            Kind::Milestone => "milestone",
            Kind::Anniversary => "anniversary",
            Kind::CheckinDue => "checkin_due",
            Kind::EventReminder => "event_reminder",
            Kind::CircleAdded => "circle_added",
            Kind::LeaderInactive => "leader_inactive",
            Kind::EventCancelled => "event_cancelled",
            Kind::NewReport => "new_report",
            Kind::AppealRestored => "appeal_restored",
            Kind::AppealUpheld => "appeal_upheld",
        }
    }

    pub fn parse(raw: &str) -> Option<Kind> {
        match raw {
            "mention" => Some(Kind::Mention),
            "reply" => Some(Kind::Reply),
            "quote" => Some(Kind::Quote),
            "newcomer_unanswered" => Some(Kind::NewcomerUnanswered),
            "crisis_report" => Some(Kind::CrisisReport),
            "caring_message" => Some(Kind::CaringMessage),
            "report_resolved" => Some(Kind::ReportResolved),
            "appeal_decided" => Some(Kind::AppealDecided),
            "content_hidden" => Some(Kind::ContentHidden),
            "sanction" => Some(Kind::Sanction),
            "milestone" => Some(Kind::Milestone),
            "anniversary" => Some(Kind::Anniversary),
            "checkin_due" => Some(Kind::CheckinDue),
            "event_reminder" => Some(Kind::EventReminder),
            "circle_added" => Some(Kind::CircleAdded),
            "leader_inactive" => Some(Kind::LeaderInactive),
            "event_cancelled" => Some(Kind::EventCancelled),
            "new_report" => Some(Kind::NewReport),
            "appeal_restored" => Some(Kind::AppealRestored),
            "appeal_upheld" => Some(Kind::AppealUpheld),
            _ => None,
        }
    }
}

/// Who should hear about one new post, deduplicated per recipient.
#[derive(Default)]
pub struct Recipients(BTreeMap<i64, Kind>);

impl Recipients {
    pub fn add(&mut self, user_id: i64, kind: Kind) {
        self.0
            .entry(user_id)
            .and_modify(|k| *k = (*k).min(kind))
            .or_insert(kind);
    }
}

/// What caused the notifications.
pub struct Cause {
    pub community_id: i64,
    pub topic_id: i64,
    pub post_id: i64,
    /// `None` when the author posted anonymously: the notification must not name them.
    pub actor_id: Option<i64>,
    pub author_id: i64,
}

/// Notifications stored in a transaction, to push live once it commits.
#[must_use = "publish after the transaction commits"]
#[derive(Default)]
pub struct Sent(Vec<(i64, serde_json::Value)>);

impl Sent {
    /// Pushes each notification to its member's open sockets, on every node, and rings this
    /// node's Web Push worker for the pushes queued with them.
    pub fn publish(self, realtime: &Realtime) {
        if !self.0.is_empty() {
            crate::push::wake();
        }
        for (user_id, notification) in self.0 {
            realtime.publish_user(
                user_id,
                ServerFrame::Notification {
                    notification: &notification,
                }
                .encode(),
            );
        }
    }
}

/// Stores the notifications for one post, skipping its author and anyone who may not read it.
pub async fn send(conn: &mut impl AsDb, cause: &Cause, recipients: Recipients) -> AppResult<Sent> {
    let now = now_ms();
    let mut sent = Vec::new();
    for (user_id, kind) in recipients.0 {
        if user_id == cause.author_id {
            continue;
        }
        // Only members who may read the community hear of it, and nobody hears of a member
        // they block (their author, even when anonymous: a block is about the person). Both
        // checks ride on the insert, so each notification stays one round trip inside the
        // writer's transaction; the block check is one primary-key probe.
        let Some((id, has_device)) = db!(
            *conn,
            fetch_optional as (i64, bool),
            concat!(
                "INSERT INTO notifications (user_id, kind, actor_id, community_id, topic_id, post_id, created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (
                     SELECT 1 FROM communities c WHERE c.id = $4 AND (
                         c.visibility = 'public'
                         OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = $1 AND m.status = 'active')
                         OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = $1 AND r.role IN ('admin', 'moderator'))))
                   AND NOT EXISTS (
                     SELECT 1 FROM member_blocks b WHERE b.blocker_id = $1 AND b.blocked_id = $8 AND b.kind = 'block')
                 RETURNING id, ",
                crate::push::has_device_sql!()
            ),
            user_id,
            kind.as_str(),
            cause.actor_id,
            cause.community_id,
            cause.topic_id,
            cause.post_id,
            now,
            cause.author_id
        )?
        else {
            continue;
        };
        if has_device {
            crate::push::enqueue(conn, user_id, kind, &format!("/p/{}", cause.post_id)).await?;
        }
        // The same fields as the list, never the words: ids, kind and where to go.
        let notification = serde_json::json!({
            "id": id, "kind": kind, "topic_id": cause.topic_id, "post_id": cause.post_id,
            "url": format!("/t/{}", cause.topic_id), "read": false, "created_at": crate::store::format_ms(now),
        });
        sent.push((user_id, notification));
    }
    Ok(Sent(sent))
}

/// What a moderation notification is about.
#[derive(Default)]
pub struct About {
    pub community_id: Option<i64>,
    pub topic_id: Option<i64>,
    pub post_id: Option<i64>,
    pub case_id: Option<i64>,
    /// What it is about when that is not a post: a goal, a live session, a circle.
    pub subject: Option<Subject>,
}

/// Something other than a post that a notification points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Subject {
    Goal(i64),
    Event(i64),
    Circle(i64),
}

impl Subject {
    fn columns(self) -> (&'static str, i64) {
        match self {
            Subject::Goal(id) => ("goal", id),
            Subject::Event(id) => ("event", id),
            Subject::Circle(id) => ("circle", id),
        }
    }

    fn from_columns(kind: Option<&str>, id: Option<i64>) -> Option<Subject> {
        match (kind?, id?) {
            ("goal", id) => Some(Subject::Goal(id)),
            ("event", id) => Some(Subject::Event(id)),
            ("circle", id) => Some(Subject::Circle(id)),
            _ => None,
        }
    }

    /// The web page it lives on.
    pub fn url(self) -> String {
        match self {
            Subject::Goal(id) => format!("/goals#goal-{id}"),
            Subject::Event(id) => format!("/events/{id}"),
            Subject::Circle(id) => format!("/circles/{id}"),
        }
    }
}

/// Stores notifications that need no read check and name no actor: moderation notices (to
/// moderators, or to the member concerned) and reminders about a member's own goals, sessions
/// and circles. Never the words.
pub async fn send_about(
    conn: &mut impl AsDb,
    about: &About,
    recipients: Recipients,
) -> AppResult<Sent> {
    let now = now_ms();
    let mut sent = Vec::new();
    let (subject_type, subject_id) = about.subject.map(Subject::columns).unzip();
    // The live frame names the community as the listing does (a moderator's alert links to
    // its queue).
    let community = match about.community_id {
        Some(id) if !recipients.0.is_empty() => {
            db!(*conn, fetch_optional scalar String, "SELECT slug FROM communities WHERE id = $1", id)?
        }
        _ => None,
    };
    for (user_id, kind) in recipients.0 {
        let id = db!(
            *conn,
            fetch_one scalar i64,
            "INSERT INTO notifications (user_id, kind, community_id, topic_id, post_id, case_id, subject_type, subject_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            user_id,
            kind.as_str(),
            about.community_id,
            about.topic_id,
            about.post_id,
            about.case_id,
            subject_type,
            subject_id,
            now
        )?;
        crate::push::enqueue(conn, user_id, kind, &push_path(kind, about)).await?;
        let url = about
            .subject
            .map(Subject::url)
            .or_else(|| about.topic_id.map(|t| format!("/t/{t}")));
        let notification = serde_json::json!({
            "id": id, "kind": kind, "community": community, "topic_id": about.topic_id, "post_id": about.post_id, "case_id": about.case_id,
            "subject": about.subject, "url": url, "read": false, "created_at": crate::store::format_ms(now),
        });
        sent.push((user_id, notification));
    }
    Ok(Sent(sent))
}

/// Where a pushed notification leads: a page made of ids, never a group's address (a private
/// group's address can name a condition, and the lock screen is not private).
fn push_path(kind: Kind, about: &About) -> String {
    if let Some(subject) = about.subject {
        return subject.url();
    }
    match kind {
        Kind::CaringMessage
        | Kind::ContentHidden
        | Kind::Sanction
        | Kind::ReportResolved
        | Kind::AppealDecided
        | Kind::AppealRestored
        | Kind::AppealUpheld => "/me/moderation".into(),
        // Moderators' alerts: the alerts page links on to the right queue.
        Kind::NewReport | Kind::CrisisReport => "/notifications".into(),
        _ => about
            .post_id
            .map(|p| format!("/p/{p}"))
            .or_else(|| about.topic_id.map(|t| format!("/t/{t}")))
            .unwrap_or_else(|| "/notifications".into()),
    }
}

/// Ids of the members named, lower-cased, that exist.
pub async fn resolve_usernames(conn: &mut impl AsDb, names: &[String]) -> AppResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let id = db!(*conn, fetch_optional scalar i64, "SELECT id FROM users WHERE username_key = $1", name.to_ascii_lowercase())?;
        ids.extend(id);
    }
    Ok(ids)
}

/// A notification as the member sees it: what happened and where, never the words.
#[derive(Serialize, ToSchema)]
pub struct Notification {
    pub id: i64,
    pub kind: Kind,
    /// Who did it; null when they posted anonymously.
    pub actor: Option<MemberSummary>,
    /// The community's address.
    pub community: Option<String>,
    pub topic_id: Option<i64>,
    pub post_id: Option<i64>,
    /// What it is about when that is not a post (a goal, a live session, a circle).
    pub subject: Option<Subject>,
    /// Where to go: the web page of the post or of the subject.
    pub url: Option<String>,
    pub read: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    actor_id: Option<i64>,
    actor_username: Option<String>,
    actor_display_name: Option<String>,
    community_slug: Option<String>,
    topic_id: Option<i64>,
    post_id: Option<i64>,
    post_seq: Option<i64>,
    subject_type: Option<String>,
    subject_id: Option<i64>,
    created_at: i64,
    read_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next: Option<String>,
    /// Unread notifications in all.
    pub unread: i64,
}

async fn unread_count(conn: &mut impl AsDb, user_id: i64) -> AppResult<i64> {
    Ok(db!(
        *conn,
        fetch_one scalar i64,
        concat!("SELECT ", unread_sql!()),
        user_id
    )?)
}

/// The SQL value "how many of member `$1`'s notifications are unread", for the pages' header to
/// ask in one statement with the conversations waiting.
macro_rules! unread_sql {
    () => {
        "(SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL)"
    };
}
pub(crate) use unread_sql;

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", operation_id = "list",
    params(PageParams),
    responses((status = 200, body = NotificationPage), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<NotificationPage>> {
    Ok(axum::Json(list(&state, &session.user, &page).await?))
}

/// A member's notifications, newest first, with the unread count.
pub async fn list(state: &AppState, user: &User, page: &PageParams) -> AppResult<NotificationPage> {
    let limit = page.limit()?;
    let before = page.after_ints(1)?.map(|v| v[0]).unwrap_or(i64::MAX);
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as Row,
        "SELECT n.id, n.kind, n.actor_id, a.username AS actor_username, a.display_name AS actor_display_name,
                c.slug AS community_slug, n.topic_id, n.post_id, p.seq AS post_seq, n.subject_type, n.subject_id,
                n.created_at, n.read_at
         FROM notifications n
         LEFT JOIN users a ON a.id = n.actor_id
         LEFT JOIN communities c ON c.id = n.community_id
         LEFT JOIN posts p ON p.id = n.post_id
         WHERE n.user_id = $1 AND n.id < $2
         ORDER BY n.id DESC LIMIT $3",
        user.id,
        before,
        limit + 1
    )?;
    let mut items: Vec<Notification> = rows
        .into_iter()
        .filter_map(|r| {
            let subject = Subject::from_columns(r.subject_type.as_deref(), r.subject_id);
            Some(Notification {
                id: r.id,
                kind: Kind::parse(&r.kind)?,
                actor: MemberSummary::from_columns(
                    r.actor_id,
                    r.actor_username,
                    r.actor_display_name,
                ),
                community: r.community_slug,
                topic_id: r.topic_id,
                post_id: r.post_id,
                subject,
                url: subject.map(Subject::url).or_else(|| {
                    r.topic_id.map(|t| match r.post_seq {
                        Some(seq) => format!("/t/{t}#post-{seq}"),
                        None => format!("/t/{t}"),
                    })
                }),
                read: r.read_at.is_some(),
                created_at: r.created_at,
            })
        })
        .collect();
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(|n| cursor(&[n.id]))
    } else {
        None
    };
    let unread = unread_count(&mut conn, user.id).await?;
    Ok(NotificationPage {
        items,
        next,
        unread,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Unread {
    pub unread: i64,
}

/// How many of a member's notifications are unread (for a badge).
pub async fn unread(state: &AppState, user: &User) -> AppResult<i64> {
    let mut conn = state.store.read().await?;
    unread_count(&mut conn, user.id).await
}

/// How many notifications are unread (for a badge).
#[utoipa::path(get, path = "/api/v1/notifications/unread", tag = "notifications", operation_id = "unread",
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_unread(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Unread>> {
    Ok(axum::Json(Unread {
        unread: unread(&state, &session.user).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct MarkRead {
    /// Marks every notification with this id or lower as read.
    pub up_to: i64,
}

/// Marks a member's notifications read up to an id; answers how many stay unread.
pub async fn mark_read(state: &AppState, user: &User, up_to: i64) -> AppResult<i64> {
    if up_to < 0 {
        return Err(AppError::invalid("up_to", "a notification id"));
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND id <= $2 AND read_at IS NULL",
        user.id,
        up_to,
        now_ms()
    )?;
    drop(w);
    unread(state, user).await
}

/// Marks notifications read up to an id.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications", operation_id = "mark_read",
    request_body = MarkRead,
    responses((status = 200, body = Unread), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_mark_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<MarkRead>,
) -> AppResult<axum::Json<Unread>> {
    Ok(axum::Json(Unread {
        unread: mark_read(&state, &session.user, req.up_to).await?,
    }))
}
