//! Conversations: direct messages between 2 to 8 members (API.md v1.1 "Members to members").
//!
//! A conversation has a room with no community (migration 0033), so its messages go over the
//! same socket, writer, bus, history and screening as a community room's; `chat::room_gate`
//! sends such rooms here for access. Only the conversation's people read it: site staff do not
//! (they see a reported message and the ten before it, in the report's case, and may end it).
//!
//! A first contact is a **request**: the starter's first message comes with it, the others accept
//! or decline, and until one accepts the starter can send nothing more. Who may start one is the
//! recipient's `who_can_message`; a block either way gets exactly the answer `nobody` gets, and
//! refuses sending in a shared conversation with the answer every closed conversation gives, so
//! a block is never told.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::types::Role;
use crate::accounts::{Auth, User, find_by_username, serialize_time};
use crate::app::AppState;
use crate::chat::CONVERSATIONS;
use crate::communities::types::Visibility;
use crate::communities::{Access, MemberSummary};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{Json, Path};
use crate::realtime::frames::{Revoked, ServerFrame};
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_start, api_list))
        .routes(routes!(api_get))
        .routes(routes!(api_accept))
        .routes(routes!(api_decline))
        .routes(routes!(api_leave))
        .routes(routes!(api_read))
        .routes(routes!(api_end))
}

/// The one answer to a send the conversation does not take now: waiting for an answer, ended,
/// or a block between its people (never told apart).
pub const CANNOT_SEND: &str = "you cannot send in this conversation now";

/// At most this many people in a conversation, the starter included.
pub const MAX_MEMBERS: usize = 8;

/// Requests a member may start per day: new members (trust level 0) few, others more.
const NEW_MEMBER_REQUESTS_PER_DAY: i64 = 3;
const REQUESTS_PER_DAY: i64 = 20;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Who may start a conversation with a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum WhoCanMessage {
    Nobody,
    /// People in the member's peer circles.
    Circles,
    /// Members of the member's groups at trust level 1 or more (and circle people).
    #[default]
    Groups,
}

impl WhoCanMessage {
    pub fn parse(raw: &str) -> Option<WhoCanMessage> {
        match raw {
            "nobody" => Some(WhoCanMessage::Nobody),
            "circles" => Some(WhoCanMessage::Circles),
            "groups" => Some(WhoCanMessage::Groups),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WhoCanMessage::Nobody => "nobody",
            WhoCanMessage::Circles => "circles",
            WhoCanMessage::Groups => "groups",
        }
    }
}

/// A member's `who_can_message` (the default when unreadable).
pub async fn who_can_message(conn: &mut impl AsDb, user: i64) -> AppResult<WhoCanMessage> {
    let raw = db!(
        *conn,
        fetch_optional scalar String,
        "SELECT who_can_message FROM users WHERE id = $1",
        user
    )?;
    Ok(raw
        .as_deref()
        .and_then(WhoCanMessage::parse)
        .unwrap_or_default())
}

/// One person of a conversation as its people see them.
#[derive(Serialize, ToSchema, Debug)]
#[schema(as = ConversationMember)]
pub struct Member {
    #[serde(flatten)]
    pub member: MemberSummary,
    /// `starter`, `invited` (not answered yet) or `accepted`.
    pub state: String,
}

/// A conversation as one of its people sees it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Conversation {
    pub id: i64,
    /// The room to `subscribe` to on the socket, and whose history is
    /// `GET /api/v1/rooms/{room}/messages`.
    pub room: i64,
    /// `requested`, `open` or `ended`.
    pub state: String,
    /// The people in it now (those who declined or left are not).
    pub members: Vec<Member>,
    /// The caller's own place: `starter`, `invited` or `accepted`.
    pub my_state: String,
    /// Messages from others the caller has not read yet.
    pub unread: i64,
    /// The caller may send now.
    pub can_send: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub last_message_at: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationCreated {
    pub conversation: Conversation,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    /// Newest activity first.
    pub items: Vec<Conversation>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    room_id: i64,
    state: String,
    created_at: i64,
    last_message_at: i64,
    my_state: String,
    unread: i64,
}

/// The caller's (`$1`) conversations they are still in, with unread counts.
macro_rules! select_rows {
    () => {
        "SELECT c.id, c.room_id, c.state, c.created_at, r.last_message_at, m.state AS my_state,
    (SELECT COUNT(*) FROM chat_messages x WHERE x.room_id = c.room_id AND x.seq > m.last_read_seq
        AND (x.author_id IS NULL OR x.author_id <> m.user_id) AND x.deleted_at IS NULL AND x.hidden_at IS NULL) AS unread
    FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id JOIN rooms r ON r.id = c.room_id
    WHERE m.user_id = $1 AND m.state IN ('starter', 'invited', 'accepted')"
    };
}

fn may_send(conversation_state: &str, my_state: &str) -> bool {
    conversation_state == "open" && matches!(my_state, "starter" | "accepted")
}

async fn shown(conn: &mut impl AsDb, row: Row) -> AppResult<Conversation> {
    let members = db!(
        *conn,
        fetch_all as (i64, String, String, String),
        "SELECT u.id, u.username, u.display_name, m.state FROM conversation_members m JOIN users u ON u.id = m.user_id
         WHERE m.conversation_id = $1 AND m.state IN ('starter', 'invited', 'accepted') ORDER BY m.updated_at, u.id",
        row.id
    )?
    .into_iter()
    .map(|(id, username, display_name, state)| Member {
        member: MemberSummary {
            id,
            username,
            display_name,
        },
        state,
    })
    .collect();
    Ok(Conversation {
        id: row.id,
        room: row.room_id,
        can_send: may_send(&row.state, &row.my_state),
        state: row.state,
        members,
        my_state: row.my_state,
        unread: row.unread,
        last_message_at: row.last_message_at,
        created_at: row.created_at,
    })
}

/// The caller's conversations, newest activity first (at most 200).
pub async fn list(state: &AppState, user: &User) -> AppResult<Vec<Conversation>> {
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as Row,
        concat!(
            select_rows!(),
            " ORDER BY r.last_message_at DESC, c.id DESC LIMIT 200"
        ),
        user.id
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(shown(&mut conn, row).await?);
    }
    Ok(out)
}

/// One of the caller's conversations; 404 when they are not (or no longer) in it.
pub async fn get(state: &AppState, user: &User, id: i64) -> AppResult<Conversation> {
    get_for(state, user.id, id).await
}

async fn get_for(state: &AppState, user: i64, id: i64) -> AppResult<Conversation> {
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as Row,
        concat!(select_rows!(), " AND c.id = $2"),
        user,
        id
    )?
    .ok_or(AppError::NotFound)?;
    shown(&mut conn, row).await
}

/// What happened to a conversation, as its people's sockets are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Requested,
    Accepted,
    Declined,
    Left,
    Ended,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Requested => "requested",
            Event::Accepted => "accepted",
            Event::Declined => "declined",
            Event::Left => "left",
            Event::Ended => "ended",
        }
    }
}

/// Tells every person still in conversation `id`, on each of their sockets on every node, what
/// happened, with the conversation as each of them sees it (their unread count, whether they may
/// send); `gone`, who just declined or left, gets the event with `{id, room, my_state}` alone.
/// Best effort: the change is committed, and the pages show it at the next load anyway.
async fn tell(state: &AppState, id: i64, event: Event, gone: Option<(i64, &str)>) {
    let people = async {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all scalar i64,
            "SELECT user_id FROM conversation_members WHERE conversation_id = $1
               AND state IN ('starter', 'invited', 'accepted')",
            id
        )
        .map_err(AppError::from)
    };
    let people = match Box::pin(people).await {
        Ok(people) => people,
        Err(e) => {
            tracing::warn!(error = %e, conversation = id, "conversations: telling its people");
            return;
        }
    };
    for person in people {
        match get_for(state, person, id).await {
            Ok(view) => {
                let frame = ServerFrame::Conversation {
                    conversation: &view,
                    event: event.as_str(),
                };
                state.realtime.publish_user(person, frame.encode());
            }
            Err(e) => tracing::warn!(error = %e, conversation = id, "conversations: a view"),
        }
    }
    if let Some((person, my_state)) = gone {
        let room = match place_room(state, id).await {
            Ok(room) => room,
            Err(_) => return,
        };
        let view = serde_json::json!({"id": id, "room": room, "my_state": my_state});
        let frame = ServerFrame::Conversation {
            conversation: &view,
            event: event.as_str(),
        };
        state.realtime.publish_user(person, frame.encode());
    }
}

async fn place_room(state: &AppState, id: i64) -> AppResult<i64> {
    let mut conn = state.store.read().await?;
    db!(
        conn,
        fetch_optional scalar i64,
        "SELECT room_id FROM conversations WHERE id = $1",
        id
    )?
    .ok_or(AppError::NotFound)
}

/// How many of the member's conversations wait for them: requests to answer, and conversations
/// with messages from others they have not read (the menu's count).
pub async fn waiting(state: &AppState, user: &User) -> AppResult<i64> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_one scalar i64,
        concat!("SELECT ", waiting_sql!()),
        user.id
    )?)
}

/// The SQL value "how many of member `$1`'s conversations wait for them" (`waiting`), for the
/// pages' header to ask in one statement with the unread notifications.
macro_rules! waiting_sql {
    () => {
        "(SELECT COUNT(*) FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = $1 AND (m.state = 'invited' OR (m.state IN ('starter', 'accepted') AND EXISTS (
            SELECT 1 FROM chat_messages x WHERE x.room_id = c.room_id AND x.seq > m.last_read_seq
              AND (x.author_id IS NULL OR x.author_id <> m.user_id) AND x.deleted_at IS NULL AND x.hidden_at IS NULL))))"
    };
}
pub(crate) use waiting_sql;

/// For `chat::room_gate`: `None` when the room is not a conversation's; else the viewer's access
/// as the chat reads it (its people who have not declined or left read; those who may send now
/// post), or 404. Site staff get no reading right here.
pub async fn room_access(
    conn: &mut impl AsDb,
    room: i64,
    viewer: Option<&User>,
) -> AppResult<Option<Access>> {
    let Some((id, conversation_state)) = db!(
        *conn,
        fetch_optional as (i64, String),
        "SELECT id, state FROM conversations WHERE room_id = $1",
        room
    )?
    else {
        return Ok(None);
    };
    let viewer = viewer.ok_or(AppError::NotFound)?;
    let mine = db!(
        *conn,
        fetch_optional scalar String,
        "SELECT state FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        id,
        viewer.id
    )?;
    let Some(mine) = mine.filter(|s| matches!(s.as_str(), "starter" | "invited" | "accepted"))
    else {
        return Err(AppError::NotFound);
    };
    // Readers without posting are shown as a public room's visitors; posters as its members.
    let posting = may_send(&conversation_state, &mine);
    Ok(Some(Access {
        visibility: Some(Visibility::Public),
        status: posting.then(|| "active".to_owned()),
        roles: Vec::new(),
        site_admin: false,
        site_moderator: false,
        user_id: Some(viewer.id),
    }))
}

/// Checked by `chat::send::deliver` at every message to a conversation's room: the sender may
/// send now (the starter's first message alone while the request waits), and no block stands
/// between them and the others. Refusals all read `CANNOT_SEND`.
pub async fn check_can_send(state: &AppState, room: i64, user: i64) -> AppResult<()> {
    let mut conn = state.store.read().await?;
    let found = db!(
        conn,
        fetch_optional as (i64, String, i64, Option<String>),
        "SELECT c.id, c.state, r.message_seq, m.state FROM conversations c JOIN rooms r ON r.id = c.room_id
         LEFT JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = $2
         WHERE c.room_id = $1",
        room,
        user
    )?;
    let Some((id, conversation_state, seq, mine)) = found else {
        return Err(AppError::NotFound);
    };
    let mine = mine.unwrap_or_default();
    let first_message = conversation_state == "requested" && mine == "starter" && seq == 0;
    if !(may_send(&conversation_state, &mine) || first_message) {
        return Err(AppError::forbidden(CANNOT_SEND));
    }
    let others = db!(
        conn,
        fetch_all scalar i64,
        "SELECT user_id FROM conversation_members WHERE conversation_id = $1 AND user_id <> $2
           AND state IN ('starter', 'invited', 'accepted')",
        id,
        user
    )?;
    for other in others {
        if crate::blocks::blocked_either_way(&mut conn, user, other).await? {
            return Err(AppError::forbidden(CANNOT_SEND));
        }
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct NewConversation {
    /// The others' usernames: 1 to 7.
    pub with: Vec<String>,
    /// The first message, delivered with the request.
    pub body: String,
    /// Send even though the text seems to hold a phone number or national id.
    #[serde(default)]
    pub confirm_identifiers: bool,
}

/// The one answer to a request someone does not take, whatever the reason (their setting, a
/// block either way, no group in common): the reason is theirs.
fn not_taking(username: &str) -> AppError {
    AppError::forbidden(format!(
        "@{username} is not taking new conversations from you"
    ))
}

/// Whether `recipient` takes a new conversation from `starter` (see `not_taking`).
async fn takes_request(
    conn: &mut impl AsDb,
    starter: i64,
    starter_trust_ok: bool,
    recipient: i64,
) -> AppResult<bool> {
    if crate::blocks::blocked_either_way(conn, starter, recipient).await? {
        return Ok(false);
    }
    let setting = who_can_message(conn, recipient).await?;
    if setting == WhoCanMessage::Nobody {
        return Ok(false);
    }
    let circle = db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT a.circle_id FROM circle_members a JOIN circle_members b ON b.circle_id = a.circle_id
         WHERE a.user_id = $1 AND b.user_id = $2 LIMIT 1",
        starter,
        recipient
    )?;
    if circle.is_some() {
        return Ok(true);
    }
    if setting == WhoCanMessage::Circles || !starter_trust_ok {
        return Ok(false);
    }
    let group = db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT a.community_id FROM memberships a JOIN memberships b ON b.community_id = a.community_id
         WHERE a.user_id = $1 AND b.user_id = $2 AND a.status = 'active' AND b.status = 'active' LIMIT 1",
        starter,
        recipient
    )?;
    Ok(group.is_some())
}

/// Starts a conversation: the request with its first message (screened as a chat message is).
pub async fn start(
    state: &AppState,
    user: &User,
    req: &NewConversation,
) -> AppResult<Conversation> {
    let mut names: Vec<String> = Vec::new();
    for name in &req.with {
        let name = name.trim().trim_start_matches('@');
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    if names.is_empty() || names.len() > MAX_MEMBERS - 1 {
        return Err(AppError::invalid(
            "with",
            format!("write to 1 to {} members", MAX_MEMBERS - 1),
        ));
    }
    crate::chat::check_body(&req.body).map_err(|(_, why)| AppError::invalid("body", why))?;
    let verdict = crate::publish::screen_chat(state, &req.body, req.confirm_identifiers).map_err(
        |(code, why)| AppError::invalid(if code == "identifiers" { code } else { "body" }, why),
    )?;
    crate::moderation::sanctions::check_can_write(state, user, CONVERSATIONS).await?;
    let mut recipients = Vec::with_capacity(names.len());
    {
        let mut conn = state.store.read().await?;
        let limited = state.limits.enabled();
        let level = crate::moderation::trust::level(&mut conn, user.id).await?;
        // MUTUAL_RATE_LIMITS=off lifts the trust level, as it lifts the other new-member limits.
        let trust_ok = !limited || level >= 1;
        for name in &names {
            let other = find_by_username(&mut conn, name)
                .await?
                .ok_or_else(|| AppError::invalid("with", format!("there is no member @{name}")))?;
            if other.id == user.id {
                return Err(AppError::invalid(
                    "with",
                    "a conversation is with someone else",
                ));
            }
            if !takes_request(&mut conn, user.id, trust_ok, other.id).await? {
                return Err(not_taking(&other.username));
            }
            recipients.push(other);
        }
        if limited {
            let per_day = if level == 0 {
                NEW_MEMBER_REQUESTS_PER_DAY
            } else {
                REQUESTS_PER_DAY
            };
            let sent = db!(
                conn,
                fetch_one scalar i64,
                "SELECT COUNT(*) FROM conversations WHERE started_by = $1 AND created_at > $2",
                user.id,
                now_ms() - DAY_MS
            )?;
            if sent >= per_day {
                return Err(AppError::RateLimited {
                    retry_after: std::time::Duration::from_secs(3600),
                    message: format!(
                        "you can start {per_day} conversations a day; try again tomorrow"
                    ),
                });
            }
        }
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let room = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO rooms (community_id, name, topic, is_default, created_by, created_at) VALUES (NULL, '', '', FALSE, $1, $2) RETURNING id",
        user.id,
        now
    )?;
    let id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO conversations (room_id, started_by, state, created_at) VALUES ($1, $2, 'requested', $3) RETURNING id",
        room,
        user.id,
        now
    )?;
    db!(
        tx,
        execute,
        "INSERT INTO conversation_members (conversation_id, user_id, state, updated_at) VALUES ($1, $2, 'starter', $3)",
        id,
        user.id,
        now
    )?;
    for other in &recipients {
        db!(
            tx,
            execute,
            "INSERT INTO conversation_members (conversation_id, user_id, state, updated_at) VALUES ($1, $2, 'invited', $3)",
            id,
            other.id,
            now + 1
        )?;
    }
    tx.commit().await?;
    let message = crate::chat::send::Outgoing {
        body: &req.body,
        nonce: None,
        attachments: crate::media::Checked::default(),
        reply_to: None,
    };
    if let Err(e) =
        crate::chat::send::deliver(state, user, room, CONVERSATIONS, message, &verdict).await
    {
        // No request without its message.
        let mut w = state.store.write().await?;
        db!(w, execute, "DELETE FROM rooms WHERE id = $1", room)?;
        return Err(e);
    }
    tell(state, id, Event::Requested, None).await;
    get(state, user, id).await
}

/// The caller's place in a conversation they are still in: (room, conversation state, theirs).
async fn place(state: &AppState, user: &User, id: i64) -> AppResult<(i64, String, String)> {
    let mut conn = state.store.read().await?;
    db!(
        conn,
        fetch_optional as (i64, String, String),
        "SELECT c.room_id, c.state, m.state FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
         WHERE c.id = $1 AND m.user_id = $2 AND m.state IN ('starter', 'invited', 'accepted')",
        id,
        user.id
    )?
    .ok_or(AppError::NotFound)
}

/// Every socket of the conversation's people (those who declined or left too) checks its
/// subscription again: who may send changed, or someone lost the room.
async fn recheck_everyone(state: &AppState, id: i64, reason: Revoked) -> AppResult<()> {
    let people = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all scalar i64,
            "SELECT user_id FROM conversation_members WHERE conversation_id = $1",
            id
        )?
    };
    for person in people {
        state.realtime.access_changed(person, CONVERSATIONS, reason);
    }
    Ok(())
}

/// An invited member accepts: the conversation opens for everyone in it.
pub async fn accept(state: &AppState, user: &User, id: i64) -> AppResult<Conversation> {
    let (_, conversation_state, mine) = place(state, user, id).await?;
    if mine != "invited" {
        return Err(AppError::conflict(
            "not_invited",
            "you are already in this conversation",
        ));
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE conversation_members SET state = 'accepted', updated_at = $3 WHERE conversation_id = $1 AND user_id = $2",
        id,
        user.id,
        now
    )?;
    if conversation_state == "requested" {
        db!(
            tx,
            execute,
            "UPDATE conversations SET state = 'open' WHERE id = $1 AND state = 'requested'",
            id
        )?;
    }
    tx.commit().await?;
    recheck_everyone(state, id, Revoked::Left).await?;
    tell(state, id, Event::Accepted, None).await;
    get(state, user, id).await
}

/// Declining (an invited member) or leaving (anyone in it): the room is gone for them at once,
/// on every socket they have.
pub async fn step_out(state: &AppState, user: &User, id: i64, decline: bool) -> AppResult<()> {
    let (_, _, mine) = place(state, user, id).await?;
    if decline && mine != "invited" {
        return Err(AppError::conflict(
            "not_invited",
            "you are in this conversation already; leave it instead",
        ));
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE conversation_members SET state = $3, updated_at = $4 WHERE conversation_id = $1 AND user_id = $2",
        id,
        user.id,
        if decline { "declined" } else { "left" },
        now_ms()
    )?;
    drop(w);
    state
        .realtime
        .access_changed(user.id, CONVERSATIONS, Revoked::Left);
    let (event, mine) = if decline {
        (Event::Declined, "declined")
    } else {
        (Event::Left, "left")
    };
    tell(state, id, event, Some((user.id, mine))).await;
    Ok(())
}

/// Marks the conversation read up to its newest message.
pub async fn mark_read(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let (room, _, _) = place(state, user, id).await?;
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE conversation_members SET last_read_seq = (SELECT message_seq FROM rooms WHERE id = $3)
         WHERE conversation_id = $1 AND user_id = $2",
        id,
        user.id,
        room
    )?;
    Ok(())
}

/// Site moderators and admins act on conversations (no community's moderators do: a
/// conversation belongs to none).
pub fn is_site_staff(user: &User) -> bool {
    user.is_admin() || user.has_role(Role::Moderator)
}

/// The conversation a message was sent in, and its state (`requested`, `open` or `ended`), for
/// the site staff's queue; None when the message is not a conversation's.
pub async fn of_message(state: &AppState, message: i64) -> AppResult<Option<(i64, String)>> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_optional as (i64, String),
        "SELECT c.id, c.state FROM chat_messages m JOIN conversations c ON c.room_id = m.room_id WHERE m.id = $1",
        message
    )?)
}

#[derive(Deserialize, ToSchema)]
pub struct EndConversation {
    /// Why (in the moderation log, and the member's own moderation page).
    pub reason: String,
}

/// A site moderator ends a conversation: it stays readable to its people, nobody sends again.
pub async fn end(state: &AppState, user: &User, id: i64, reason: &str) -> AppResult<()> {
    if !is_site_staff(user) {
        return Err(AppError::NotFound);
    }
    let reason = reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters",
        ));
    }
    let mut tx = state.store.begin().await?;
    let ended = db!(
        tx,
        execute,
        "UPDATE conversations SET state = 'ended', ended_at = $2, ended_by = $3 WHERE id = $1 AND state <> 'ended'",
        id,
        now_ms(),
        user.id
    )?;
    if ended == 0 {
        let exists =
            db!(tx, fetch_optional scalar i64, "SELECT id FROM conversations WHERE id = $1", id)?;
        return match exists {
            Some(_) => Ok(()),
            None => Err(AppError::NotFound),
        };
    }
    crate::moderation::log_action(
        &mut tx,
        None,
        Some(user.id),
        "end_conversation",
        "conversation",
        id,
        reason,
        None,
    )
    .await?;
    tx.commit().await?;
    recheck_everyone(state, id, Revoked::Removed).await?;
    tell(state, id, Event::Ended, None).await;
    Ok(())
}

/// Start a conversation with 1 to 7 members: a request carrying its first message.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations",
    request_body = NewConversation,
    responses((status = 201, body = ConversationCreated), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_start(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewConversation>,
) -> AppResult<(StatusCode, axum::Json<ConversationCreated>)> {
    let conversation = start(&state, &session.user, &req).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ConversationCreated { conversation }),
    ))
}

/// The caller's conversations and requests, with unread counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    responses((status = 200, body = ConversationList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<ConversationList>> {
    Ok(axum::Json(ConversationList {
        items: list(&state, &session.user).await?,
    }))
}

/// One of the caller's conversations.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(get(&state, &session.user, id).await?))
}

/// Accept a conversation request.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/accept", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_accept(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(accept(&state, &session.user, id).await?))
}

/// Decline a conversation request (the starter is not told why).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/decline", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 204, description = "declined"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_decline(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    step_out(&state, &session.user, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave a conversation: it is gone for the caller at once.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/leave", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 204, description = "left"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_leave(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    step_out(&state, &session.user, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a conversation read up to its newest message.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 204, description = "read"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    mark_read(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Site moderators and admins: end a conversation (logged; nobody sends in it again).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/end", tag = "conversations",
    params(("id" = i64, Path)),
    request_body = EndConversation,
    responses((status = 204, description = "ended"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_end(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<EndConversation>,
) -> AppResult<StatusCode> {
    end(&state, &session.user, id, &req.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
