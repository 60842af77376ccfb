//! Moderation actions and the public moderation log.
//!
//! Every action is permission-checked against the target's community and written to the log
//! (moderator, target, reason, time) in the same transaction as its effect. Members of a community
//! read its log; private notes are for moderators only.

pub mod actions;
pub mod cases;
pub mod corrections;
pub mod crisis;
pub mod rules;
pub mod sanctions;
pub mod trust;

use crate::http::{Path, Query};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{MaybeAuth, serialize_time};
use crate::app::AppState;
use crate::communities::{MemberSummary, visible_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(modlog))
        .merge(actions::router())
        .merge(cases::router())
        .merge(rules::router())
        .merge(corrections::router())
}

/// What an action or a report is about.
#[derive(Deserialize, ToSchema, Debug, Clone)]
pub struct Target {
    /// `post`, `message`, `topic`, `user` or `report` (a case in the queue).
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
}

/// What automod decided about new forum content, before it is written.
pub enum Automod {
    Pass,
    /// Posted but hidden until a moderator approves (a filter's hold).
    Hold(String),
    /// A new member's first posts: held like `Hold` unless the author turns out to be staff of
    /// the community they post in (known only when the post is written).
    NewMember,
    /// Posted, visible, and in the review queue.
    Flag(String),
}

/// How automod's refusal of a filter's words begins (the filter's reason follows): the web
/// pages recognise it to tell the author why, in their language.
pub const REFUSED_BY_FILTER: &str = "this cannot be posted here: ";
/// How the refusal of a new member's post with too many links begins.
pub const REFUSED_LINKS: &str = "new members can share at most ";

/// Why automod refused text, read back from the 422's `body` reason.
pub enum Refusal<'a> {
    /// A filter's reason, as the operator wrote it in `rules.toml`.
    Filter(&'a str),
    /// Too many links for a new member.
    Links,
}

impl<'a> Refusal<'a> {
    pub fn of(reason: &'a str) -> Option<Refusal<'a>> {
        if let Some(why) = reason.strip_prefix(REFUSED_BY_FILTER) {
            Some(Refusal::Filter(why))
        } else if reason.starts_with(REFUSED_LINKS) {
            Some(Refusal::Links)
        } else {
            None
        }
    }
}

/// Applies `moderation/rules.toml` and the new-member limits to text about to be posted:
/// 422 naming the field when it must be refused, else what to do once it is stored.
/// `MUTUAL_RATE_LIMITS=off` lifts the new-member limits (not the word filters).
pub async fn automod_check(
    state: &AppState,
    user: &crate::accounts::User,
    text: &str,
) -> AppResult<Automod> {
    let rules = state.rules.get();
    let verdict = rules.check(text);
    if let Some((rules::FilterAction::Reject, reason)) = &verdict {
        return Err(AppError::invalid(
            "body",
            format!("{REFUSED_BY_FILTER}{reason}"),
        ));
    }
    if state.limits.enabled() {
        let mut conn = state.store.read().await?;
        if trust::level(&mut conn, user.id).await? == 0 {
            if rules::count_links(text) > rules.new_member_max_links {
                return Err(AppError::invalid(
                    "body",
                    format!(
                        "{REFUSED_LINKS}{} links in a post for now",
                        rules.new_member_max_links
                    ),
                ));
            }
            let written = db!(conn, fetch_one scalar i64, "SELECT COUNT(*) FROM posts WHERE author_id = $1", user.id)?;
            // Staff (site-wide here; of the community in `apply_automod`) are never held.
            let site_staff = user.is_admin()
                || user.has_role(crate::accounts::types::Role::Moderator)
                || user.has_role(crate::accounts::types::Role::Organiser);
            if written < rules.new_member_held_posts && !site_staff {
                return Ok(Automod::NewMember);
            }
        }
    }
    Ok(match verdict {
        Some((rules::FilterAction::Hold, reason)) => Automod::Hold(reason),
        Some((rules::FilterAction::Flag, reason)) => Automod::Flag(reason),
        _ => Automod::Pass,
    })
}

/// The automod note on a new member's held post (the tag on its case card).
pub const NEW_MEMBER_HOLD: &str = "a new member's first posts are checked by a moderator";

/// Carries out a hold or flag on a stored post, in its transaction: whether the post now waits
/// for a moderator's approval (a new member's hold is lifted for the community's staff, known
/// only here).
pub async fn apply_automod(
    conn: &mut impl AsDb,
    verdict: &Automod,
    community_id: i64,
    post_id: i64,
    author_id: i64,
    text: &str,
) -> AppResult<bool> {
    let reason = match verdict {
        Automod::Pass => return Ok(false),
        Automod::NewMember => {
            let staff = db!(*conn, fetch_optional scalar i64, "SELECT user_id FROM community_roles WHERE community_id = $1 AND user_id = $2 LIMIT 1", community_id, author_id)?;
            if staff.is_some() {
                return Ok(false);
            }
            NEW_MEMBER_HOLD
        }
        Automod::Hold(r) | Automod::Flag(r) => r.as_str(),
    };
    let held = matches!(verdict, Automod::Hold(_) | Automod::NewMember);
    if held {
        // Waiting for approval: its author sees it waiting, nobody else sees it at all.
        db!(
            *conn,
            execute,
            "UPDATE posts SET hidden_at = $2, hidden_reason = $3, awaiting_approval = TRUE WHERE id = $1",
            post_id,
            now_ms(),
            format!("held for review: {reason}")
        )?;
        crate::search::unindex_post(conn, post_id).await?;
    }
    let target = cases::Resolved::screened(community_id, author_id, ("post", post_id), text);
    let case_id = cases::open_case(conn, &target, false).await?;
    db!(
        *conn,
        execute,
        "INSERT INTO case_notes (case_id, moderator_id, body, created_at) VALUES ($1, NULL, $2, $3)",
        case_id,
        format!("automod: {reason}"),
        now_ms()
    )?;
    Ok(held)
}

/// What screening new content found: the crisis lines for its author, and the alert to send to
/// moderators once the transaction commits.
#[must_use = "publish after the transaction commits"]
pub struct Screened {
    resources: Option<Vec<crisis::CrisisLine>>,
    alert: Option<crate::notify::Sent>,
}

impl Screened {
    /// Nothing found.
    pub fn none() -> Screened {
        Screened {
            resources: None,
            alert: None,
        }
    }

    /// Sends the moderators' alert; the author's crisis lines, if any.
    pub fn publish(self, realtime: &crate::realtime::Realtime) -> Option<Vec<crisis::CrisisLine>> {
        if let Some(alert) = self.alert {
            alert.publish(realtime);
        }
        self.resources
    }
}

/// The crisis flow for a new post whose words the rules read as a crisis (`crisis::read`): it
/// leaves search and public pages (members still see it), an urgent case joins the queue, and
/// the author gets the crisis lines for their language. Nothing is deleted.
pub async fn screen_post(
    conn: &mut impl AsDb,
    community_id: i64,
    post_id: i64,
    author_id: i64,
    text: &str,
) -> AppResult<Screened> {
    db!(
        *conn,
        execute,
        "UPDATE posts SET held_for_review = TRUE WHERE id = $1",
        post_id
    )?;
    crate::search::unindex_post(conn, post_id).await?;
    let target = cases::Resolved::screened(community_id, author_id, ("post", post_id), text);
    let case_id = cases::open_case(conn, &target, true).await?;
    let alert = cases::alert_crisis(conn, community_id, case_id, &target).await?;
    let lines = crisis::lines_for_member(conn, author_id).await?;
    metrics::counter!("mutual_crisis_flags_total").increment(1);
    Ok(Screened {
        resources: Some(lines),
        alert: Some(alert),
    })
}

/// The tag (automod's note) on a possible crisis's case: the scorer's, not the rules' (the
/// moderators' queue shows it in their language).
pub const POSSIBLE_CRISIS: &str =
    "possible crisis: the crisis scorer, not a crisis phrase; read it and reach out if needed";

/// The second tier for a post or message the crisis scorer alone flags (`crisis::read`): an
/// ordinary, not urgent, case for a moderator to read, tagged `POSSIBLE_CRISIS` with the score
/// in a note, and the crisis lines for its author. Nothing is hidden or held: the scorer is a
/// weaker signal than the rules (`moderation/scorer-evaluation.txt`).
pub async fn screen_possible(
    conn: &mut impl AsDb,
    community_id: i64,
    (target_type, target_id): (&'static str, i64),
    author_id: i64,
    text: &str,
) -> AppResult<Vec<crisis::CrisisLine>> {
    let target = cases::Resolved::screened(community_id, author_id, (target_type, target_id), text);
    let case_id = cases::open_case(conn, &target, false).await?;
    let mut notes = vec![format!("automod: {POSSIBLE_CRISIS}")];
    if let Some((score, threshold)) = crisis::scored(text) {
        notes.push(format!(
            "crisis scorer: {score:.2} (threshold {threshold:.2})"
        ));
    }
    for note in notes {
        db!(
            *conn,
            execute,
            "INSERT INTO case_notes (case_id, moderator_id, body, created_at) VALUES ($1, NULL, $2, $3)",
            case_id,
            note,
            now_ms()
        )?;
    }
    metrics::counter!("mutual_crisis_possible_total").increment(1);
    crisis::lines_for_member(conn, author_id).await
}

/// `screen_possible` for a new post, in its transaction.
pub async fn screen_possible_post(
    conn: &mut impl AsDb,
    community_id: i64,
    post_id: i64,
    author_id: i64,
    text: &str,
) -> AppResult<Screened> {
    let lines = screen_possible(conn, community_id, ("post", post_id), author_id, text).await?;
    Ok(Screened {
        resources: Some(lines),
        alert: None,
    })
}

/// `screen_possible` for a chat message, in its own transaction (as `screen_message`).
pub async fn screen_possible_message(
    state: &AppState,
    community_id: i64,
    message_id: i64,
    author_id: i64,
    text: &str,
) -> AppResult<Vec<crisis::CrisisLine>> {
    let mut tx = state.store.begin().await?;
    let lines = screen_possible(
        &mut tx,
        community_id,
        ("message", message_id),
        author_id,
        text,
    )
    .await?;
    tx.commit().await?;
    Ok(lines)
}

/// The crisis flow for a chat message the rules read as a crisis: the case and the moderators'
/// alert (messages are not searchable or public, so nothing is held); the author's lines come
/// back to their socket.
pub async fn screen_message(
    state: &AppState,
    community_id: i64,
    message_id: i64,
    author_id: i64,
    text: &str,
) -> AppResult<Vec<crisis::CrisisLine>> {
    let mut tx = state.store.begin().await?;
    let target = cases::Resolved::screened(community_id, author_id, ("message", message_id), text);
    let case_id = cases::open_case(&mut tx, &target, true).await?;
    let alert = cases::alert_crisis(&mut tx, community_id, case_id, &target).await?;
    let lines = crisis::lines_for_member(&mut tx, author_id).await?;
    tx.commit().await?;
    alert.publish(&state.realtime);
    metrics::counter!("mutual_crisis_flags_total").increment(1);
    Ok(lines)
}

/// The community a case, log entry or notice is filed under: none for a conversation's
/// content (`chat::CONVERSATIONS`), which belongs to no community and is the site staff's.
pub fn community_ref(community_id: i64) -> Option<i64> {
    (community_id != crate::chat::CONVERSATIONS).then_some(community_id)
}

/// Writes one entry of the moderation log; its id. `moderator` is None for automatic actions.
#[allow(clippy::too_many_arguments)]
pub async fn log_action(
    conn: &mut impl AsDb,
    community_id: Option<i64>,
    moderator: Option<i64>,
    action: &str,
    target_type: &str,
    target_id: i64,
    reason: &str,
    private_note: Option<&str>,
) -> AppResult<i64> {
    Ok(db!(
        *conn,
        fetch_one scalar i64,
        "INSERT INTO moderation_log (community_id, moderator_id, action, target_type, target_id, reason, private_note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        community_id.and_then(community_ref),
        moderator,
        action,
        target_type,
        target_id,
        reason,
        private_note.map(str::trim).filter(|n| !n.is_empty()),
        now_ms()
    )?)
}

#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    pub id: i64,
    pub action: String,
    pub moderator: Option<MemberSummary>,
    pub target_type: String,
    /// Null in what members read for actions on a member (warnings, mutes, bans...): the public
    /// log names content, never the person, so "hide post 6" beside "warn a member" for the same
    /// reason cannot tie an anonymous post to its author. Moderators see it.
    pub target_id: Option<i64>,
    pub reason: String,
    /// Only for moderators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_note: Option<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct LogRow {
    id: i64,
    action: String,
    moderator_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    target_type: String,
    target_id: i64,
    reason: String,
    private_note: Option<String>,
    created_at: i64,
}

/// A community's moderation log, newest first: readable by its members.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/modlog", tag = "moderation",
    params(("slug" = String, Path), PageParams),
    responses((status = 200, body = Page<LogEntry>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn modlog(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<LogEntry>>> {
    let user = viewer.map(|s| s.user);
    Ok(axum::Json(
        log_page(&state, user.as_ref(), &slug, &page).await?,
    ))
}

/// A page of the community's moderation log, newest first; private notes only for moderators.
pub async fn log_page(
    state: &AppState,
    viewer: Option<&crate::accounts::User>,
    slug: &str,
    page: &PageParams,
) -> AppResult<Page<LogEntry>> {
    let limit = page.limit()?;
    let before = page.after_ints(1)?.map(|v| v[0]).unwrap_or(i64::MAX);
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, viewer).await?;
    if !access.can_read() {
        return Err(AppError::forbidden(
            "the moderation log is for members of this community",
        ));
    }
    let moderator = access.is_moderator();
    let rows = db!(
        conn,
        fetch_all as LogRow,
        "SELECT l.id, l.action, l.moderator_id, u.username, u.display_name, l.target_type, l.target_id, l.reason, l.private_note, l.created_at
         FROM moderation_log l LEFT JOIN users u ON u.id = l.moderator_id
         WHERE l.community_id = $1 AND l.id < $2 ORDER BY l.id DESC LIMIT $3",
        community.id,
        before,
        limit + 1
    )?;
    let items = rows
        .into_iter()
        .map(|r| LogEntry {
            id: r.id,
            action: r.action,
            moderator: MemberSummary::from_columns(r.moderator_id, r.username, r.display_name),
            target_id: (moderator || r.target_type != "user").then_some(r.target_id),
            target_type: r.target_type,
            reason: r.reason,
            private_note: if moderator { r.private_note } else { None },
            created_at: r.created_at,
        })
        .collect();
    Ok(Page::from_rows(items, limit, |e: &LogEntry| {
        cursor(&[e.id])
    }))
}

impl LogRow {
    /// The entry as shown; private notes only to moderators.
    pub fn into_entry(self, moderator: bool) -> LogEntry {
        LogEntry {
            id: self.id,
            action: self.action,
            moderator: MemberSummary::from_columns(
                self.moderator_id,
                self.username,
                self.display_name,
            ),
            target_type: self.target_type,
            target_id: Some(self.target_id),
            reason: self.reason,
            private_note: if moderator { self.private_note } else { None },
            created_at: self.created_at,
        }
    }
}
