//! Reactions on chat messages: the same peer-support set as posts (heart, hug, celebrate,
//! me too, helpful), one per member per kind. Added and taken back over the socket (`react`)
//! or HTTP (`/api/v1/messages/{id}/reactions`, which the page without JavaScript uses); the
//! room hears each change as a `reaction` frame with the message's counts after it. The counts
//! are kept on the message's row, so history and the backlog carry them at no extra cost.

use std::collections::BTreeMap;

use crate::http::Path;
use axum::extract::State;

use crate::accounts::{Auth, User};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::forum::posts::{ReactionRequest, Reactions};
use crate::forum::types::ReactionKind;
use crate::http::Json;
use crate::realtime::frames::ServerFrame;
use crate::realtime::presence::Who;
use crate::store::{AsDb, now_ms};

/// The member's own reactions to `message`.
async fn mine(conn: &mut impl AsDb, message: i64, user: i64) -> AppResult<Vec<String>> {
    Ok(db!(
        *conn,
        fetch_all scalar String,
        "SELECT kind FROM chat_message_reactions WHERE message_id = $1 AND user_id = $2 ORDER BY kind",
        message,
        user
    )?)
}

/// The viewer's reactions to the room's messages with ids in `from..=to` (one page of
/// history), by message.
pub async fn mine_between(
    conn: &mut impl AsDb,
    room: i64,
    user: i64,
    (from, to): (i64, i64),
) -> AppResult<BTreeMap<i64, Vec<String>>> {
    let rows = db!(
        *conn,
        fetch_all as (i64, String),
        "SELECT r.message_id, r.kind FROM chat_message_reactions r JOIN chat_messages m ON m.id = r.message_id
         WHERE m.room_id = $1 AND r.user_id = $2 AND r.message_id >= $3 AND r.message_id <= $4
         ORDER BY r.message_id, r.kind",
        room,
        user,
        from,
        to
    )?;
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (message, kind) in rows {
        out.entry(message).or_default().push(kind);
    }
    Ok(out)
}

/// Adds (`on`) or takes back the member's reaction `kind` to a message they can read (members
/// of the community only), and tells the room when it changed. The counts afterwards.
pub async fn set(
    state: &AppState,
    user: &User,
    message: i64,
    kind: &str,
    on: bool,
) -> AppResult<Reactions> {
    let kind = ReactionKind::parse(kind).map_err(|e| AppError::invalid("kind", e))?;
    let (row, _, access) = super::message_access(state, user, message).await?;
    if !access.can_post() {
        return Err(AppError::forbidden("join this community to react"));
    }
    let mut tx = state.store.begin().await?;
    let changed = if on {
        db!(
            tx,
            execute,
            "INSERT INTO chat_message_reactions (message_id, user_id, kind, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            message,
            user.id,
            kind.as_str(),
            now_ms()
        )?
    } else {
        db!(
            tx,
            execute,
            "DELETE FROM chat_message_reactions WHERE message_id = $1 AND user_id = $2 AND kind = $3",
            message,
            user.id,
            kind.as_str()
        )?
    };
    let counts: BTreeMap<String, i64> = db!(
        tx,
        fetch_all as (String, i64),
        "SELECT kind, COUNT(*) FROM chat_message_reactions WHERE message_id = $1 GROUP BY kind",
        message
    )?
    .into_iter()
    .collect();
    if changed > 0 {
        let json = serde_json::to_string(&counts).map_err(anyhow::Error::from)?;
        db!(
            tx,
            execute,
            "UPDATE chat_messages SET reactions = $2 WHERE id = $1",
            message,
            json
        )?;
    }
    let my_reactions = mine(&mut tx, message, user.id).await?;
    tx.commit().await?;
    if changed > 0 {
        let who = Who {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
        };
        let frame = ServerFrame::Reaction {
            room: row.room_id,
            message_id: message,
            kind: kind.as_str(),
            on,
            user: &who,
            reactions: &counts,
        }
        .encode();
        state.realtime.publish_room(row.room_id, None, frame);
    }
    Ok(Reactions {
        reactions: counts,
        my_reactions,
    })
}

/// React to a chat message (once per kind); the room sees the counts change.
#[utoipa::path(post, path = "/api/v1/messages/{id}/reactions", tag = "chat",
    params(("id" = i64, Path)),
    request_body = ReactionRequest,
    responses((status = 200, body = Reactions), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn react(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<ReactionRequest>,
) -> AppResult<axum::Json<Reactions>> {
    Ok(axum::Json(
        set(&state, &session.user, id, &req.kind, true).await?,
    ))
}

/// Take back a reaction to a chat message.
#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions", tag = "chat",
    params(("id" = i64, Path)),
    request_body = ReactionRequest,
    responses((status = 200, body = Reactions), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unreact(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<ReactionRequest>,
) -> AppResult<axum::Json<Reactions>> {
    Ok(axum::Json(
        set(&state, &session.user, id, &req.kind, false).await?,
    ))
}
