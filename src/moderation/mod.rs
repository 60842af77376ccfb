//! Moderation actions and the public moderation log.
//!
//! Every action is permission-checked against the target's community and written to the log
//! (moderator, target, reason, time) in the same transaction as its effect. Members of a community
//! read its log; private notes are for moderators only.

pub mod sanctions;

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, serialize_time};
use crate::app::AppState;
use crate::communities::{MemberSummary, visible_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::forum::visible_topic;
use crate::http::Json;
use crate::paging::{Page, PageParams, cursor};
use crate::store::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(act))
        .routes(routes!(modlog))
}

#[derive(Deserialize, ToSchema, Debug)]
pub struct Target {
    /// `topic`, `post`, `message` or `user`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct ActionRequest {
    /// Offered now: `pin`, `unpin`, `lock`, `unlock` (topics).
    pub action: String,
    pub target: Target,
    /// Shown in the community's moderation log.
    pub reason: String,
    /// Seen only by moderators.
    pub private_note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionResult {
    /// The moderation log entry written.
    pub log_id: i64,
}

/// Take a moderation action (community moderators and organisers, site staff).
#[utoipa::path(post, path = "/api/v1/moderation/actions", tag = "moderation",
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn act(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<ActionRequest>,
) -> AppResult<axum::Json<ActionResult>> {
    let reason = req.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters: members read it in the log",
        ));
    }
    let (column, value) = match req.action.as_str() {
        "pin" => ("pinned", true),
        "unpin" => ("pinned", false),
        "lock" => ("locked", true),
        "unlock" => ("locked", false),
        _ => {
            return Err(AppError::invalid(
                "action",
                "the actions offered are pin, unpin, lock and unlock",
            ));
        }
    };
    if req.target.kind != "topic" {
        return Err(AppError::invalid(
            "target.type",
            format!("{} applies to a topic", req.action),
        ));
    }
    let (topic, community, access) = {
        let mut conn = state.store.read().await?;
        visible_topic(&mut conn, req.target.id, Some(&session.user)).await?
    };
    if !access.is_moderator() {
        return Err(AppError::forbidden(
            "only this community's moderators take this action",
        ));
    }
    let mut tx = state.store.begin().await?;
    if column == "pinned" {
        db!(
            tx,
            execute,
            "UPDATE topics SET pinned = $2 WHERE id = $1",
            topic.id,
            value
        )?;
    } else {
        db!(
            tx,
            execute,
            "UPDATE topics SET locked = $2 WHERE id = $1",
            topic.id,
            value
        )?;
    }
    let log_id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO moderation_log (community_id, moderator_id, action, target_type, target_id, reason, private_note, created_at)
         VALUES ($1, $2, $3, 'topic', $4, $5, $6, $7) RETURNING id",
        community.id,
        session.user.id,
        req.action.as_str(),
        topic.id,
        reason,
        req.private_note.as_deref().map(str::trim).filter(|n| !n.is_empty()),
        now_ms()
    )?;
    tx.commit().await?;
    Ok(axum::Json(ActionResult { log_id }))
}

#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    pub id: i64,
    pub action: String,
    pub moderator: Option<MemberSummary>,
    pub target_type: String,
    pub target_id: i64,
    pub reason: String,
    /// Only for moderators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_note: Option<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct LogRow {
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
    let limit = page.limit()?;
    let before = page.after_ints(1)?.map(|v| v[0]).unwrap_or(i64::MAX);
    let user = viewer.map(|s| s.user);
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, &slug, user.as_ref()).await?;
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
            moderator: match (r.moderator_id, r.username, r.display_name) {
                (Some(id), Some(username), Some(display_name)) => Some(MemberSummary {
                    id,
                    username,
                    display_name,
                }),
                _ => None,
            },
            target_type: r.target_type,
            target_id: r.target_id,
            reason: r.reason,
            private_note: if moderator { r.private_note } else { None },
            created_at: r.created_at,
        })
        .collect();
    Ok(axum::Json(Page::from_rows(items, limit, |e: &LogEntry| {
        cursor(&[e.id])
    })))
}
