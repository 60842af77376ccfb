//! "Seen by N" in small rooms: how far each member has read a room, kept per room and member
//! (`room_reads`), told to the room as `seen` frames and given with `subscribed`.
//!
//! Only in rooms whose people are few (a peer circle's room, a small group; a conversation's
//! room too, as a room like any other): in a big room it would say little and cost a write per
//! reader. Members who hide their presence are neither counted nor shown, and see no counts:
//! their positions are never told, and a member who hides presence later drops out at once
//! (positions are read with the setting).

use serde::Serialize;
use serde_json::Value;

use crate::db;
use crate::error::AppResult;
use crate::realtime::presence::Who;
use crate::store::{AsDb, now_ms};

/// Rooms with at most this many people show who has seen what.
pub const SMALL_ROOM: i64 = 20;

/// One member's read position.
#[derive(Serialize, Debug, Clone)]
pub struct Position {
    pub user: Who,
    /// The newest message of the room they have seen.
    pub message: i64,
}

/// How many people the room is for: a peer circle's room, its circle; a conversation's room,
/// those in it (at most eight); another room, its community's members (the kept count: one subscribe of 10,000 members must not count rows).
pub async fn audience(conn: &mut impl AsDb, room: i64) -> AppResult<i64> {
    Ok(db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT CASE WHEN r.circle_id IS NOT NULL
                THEN (SELECT COUNT(*) FROM circle_members cm WHERE cm.circle_id = r.circle_id)
                WHEN r.community_id IS NULL
                THEN (SELECT COUNT(*) FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
                      WHERE c.room_id = r.id AND cm.state IN ('starter', 'invited', 'accepted'))
                ELSE (SELECT c.member_count FROM communities c WHERE c.id = r.community_id)
           END
         FROM rooms r WHERE r.id = $1",
        room
    )?
    .unwrap_or(i64::MAX))
}

/// Whether the room is small enough for read positions.
pub async fn is_small(conn: &mut impl AsDb, room: i64) -> AppResult<bool> {
    Ok(audience(conn, room).await? <= SMALL_ROOM)
}

/// The room's read positions of members who show their presence.
pub async fn positions(conn: &mut impl AsDb, room: i64) -> AppResult<Vec<Position>> {
    let rows = db!(
        *conn,
        fetch_all as (i64, String, String, i64),
        "SELECT u.id, u.username, u.display_name, rr.message_id FROM room_reads rr JOIN users u ON u.id = rr.user_id
         WHERE rr.room_id = $1 AND u.hide_presence = FALSE ORDER BY u.id",
        room
    )?;
    Ok(rows
        .into_iter()
        .map(|(id, username, display_name, message)| Position {
            user: Who {
                id,
                username,
                display_name,
            },
            message,
        })
        .collect())
}

/// The positions as the `seen` of a `subscribed` answer.
pub fn as_value(positions: &[Position]) -> Value {
    serde_json::to_value(positions).unwrap_or(Value::Array(Vec::new()))
}

/// Moves the member's position in the room forward to `message`, a message of that room; false
/// when it was already there or further (or the message is not the room's).
pub async fn mark(conn: &mut impl AsDb, room: i64, user: i64, message: i64) -> AppResult<bool> {
    let moved = db!(
        *conn,
        execute,
        "INSERT INTO room_reads (room_id, user_id, message_id, read_at)
         SELECT $1, $2, m.id, $4 FROM chat_messages m WHERE m.id = $3 AND m.room_id = $1
         ON CONFLICT (room_id, user_id) DO UPDATE SET message_id = excluded.message_id, read_at = excluded.read_at
         WHERE room_reads.message_id < excluded.message_id",
        room,
        user,
        message,
        now_ms()
    )?;
    Ok(moved > 0)
}

/// Whether the member hides their presence (then "seen" is off for them).
pub async fn hides_presence(conn: &mut impl AsDb, user: i64) -> AppResult<bool> {
    Ok(db!(
        *conn,
        fetch_optional scalar bool,
        "SELECT hide_presence FROM users WHERE id = $1",
        user
    )?
    .unwrap_or(true))
}
