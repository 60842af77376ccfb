//! Chat rooms per community: rooms, messages (sent over the socket, stored before they are
//! delivered), history, edits and deletes that propagate live.

pub mod budget;
pub mod gateway;
pub mod reactions;
pub mod seen;
pub mod send;
pub mod writer;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, User, serialize_time};
use crate::app::AppState;
use crate::communities::{
    Access, CommunityRow, MemberSummary, find_by_id, load_access, visible_community,
};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::moderation::crisis::CrisisLine;
use crate::moderation::sanctions;
use crate::paging::cursor;
use crate::realtime::frames::{Encoded, Frame, ServerFrame};
use crate::store::{AsDb, Store, format_ms, now_ms};
use crate::{db, markdown};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rooms, create_room))
        .routes(routes!(history))
        .routes(routes!(edit_message_http, delete_message_http))
        .routes(routes!(reactions::react, reactions::unreact))
        .routes(routes!(update_room_settings))
}

/// Settings moderators change while a room runs.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default, sqlx::FromRow)]
pub struct RoomSettings {
    /// Each member may send one message per this many seconds (0: off).
    pub slow_mode_seconds: i64,
    /// Read-only hours in UTC, "22:00-07:00" (null: none).
    pub quiet_hours: Option<String>,
    /// Members who joined the community less than this many minutes ago may read but not send.
    pub new_joiner_delay_minutes: i64,
}

pub async fn room_settings(conn: &mut impl AsDb, room: i64) -> AppResult<RoomSettings> {
    Ok(db!(
        *conn,
        fetch_optional as RoomSettings,
        "SELECT slow_mode_seconds, quiet_hours, new_joiner_delay_minutes FROM rooms WHERE id = $1",
        room
    )?
    .unwrap_or_default())
}

#[derive(Deserialize, ToSchema)]
pub struct RoomSettingsChange {
    pub slow_mode_seconds: Option<i64>,
    /// `""` removes the quiet hours.
    pub quiet_hours: Option<String>,
    pub new_joiner_delay_minutes: Option<i64>,
    /// Why (shown in the moderation log).
    pub reason: String,
}

/// Moderators change a room's slow mode, quiet hours or new-joiner delay; logged, and live at once.
#[utoipa::path(patch, path = "/api/v1/rooms/{id}", tag = "chat",
    params(("id" = i64, Path)),
    request_body = RoomSettingsChange,
    responses((status = 200, body = RoomSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_room_settings(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<RoomSettingsChange>,
) -> AppResult<axum::Json<RoomSettings>> {
    Ok(axum::Json(
        change_room_settings(&state, &session.user, id, &req).await?,
    ))
}

/// Changes a room's slow mode, quiet hours or new-joiner delay (moderators); logged, and live at once.
pub async fn change_room_settings(
    state: &AppState,
    user: &User,
    id: i64,
    req: &RoomSettingsChange,
) -> AppResult<RoomSettings> {
    let reason = req.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters",
        ));
    }
    let (community_id, mut settings) = {
        let mut conn = state.store.read().await?;
        let (_, community, access) = room_access(&mut conn, id, Some(user)).await?;
        access.require_moderator()?;
        (community.id, room_settings(&mut conn, id).await?)
    };
    if let Some(s) = req.slow_mode_seconds {
        if !(0..=3600).contains(&s) {
            return Err(AppError::invalid("slow_mode_seconds", "0 to 3,600 seconds"));
        }
        settings.slow_mode_seconds = s;
    }
    if let Some(m) = req.new_joiner_delay_minutes {
        if !(0..=60 * 24 * 7).contains(&m) {
            return Err(AppError::invalid(
                "new_joiner_delay_minutes",
                "0 to 10,080 minutes",
            ));
        }
        settings.new_joiner_delay_minutes = m;
    }
    if let Some(q) = req.quiet_hours.as_deref() {
        let q = q.trim();
        if q.is_empty() {
            settings.quiet_hours = None;
        } else if crate::moderation::rules::parse_hours(q).is_some() {
            settings.quiet_hours = Some(q.to_owned());
        } else {
            return Err(AppError::invalid(
                "quiet_hours",
                "write them like \"22:00-07:00\" (UTC)",
            ));
        }
    }
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE rooms SET slow_mode_seconds = $2, quiet_hours = $3, new_joiner_delay_minutes = $4 WHERE id = $1",
        id,
        settings.slow_mode_seconds,
        settings.quiet_hours.clone(),
        settings.new_joiner_delay_minutes
    )?;
    let note = format!(
        "slow mode {} s, quiet hours {}, new-joiner delay {} min",
        settings.slow_mode_seconds,
        settings.quiet_hours.as_deref().unwrap_or("none"),
        settings.new_joiner_delay_minutes
    );
    crate::moderation::log_action(
        &mut tx,
        Some(community_id),
        Some(user.id),
        "room_settings",
        "room",
        id,
        &format!("{reason} ({note})"),
        None,
    )
    .await?;
    tx.commit().await?;
    // Connected sockets pick the new settings up from this frame.
    state.realtime.publish_room(
        id,
        None,
        ServerFrame::RoomSettings {
            room: id,
            settings: &settings,
        }
        .encode(),
    );
    Ok(settings)
}

/// The longest chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;

#[derive(Serialize, ToSchema, Debug)]
pub struct Room {
    pub id: i64,
    /// The community's address.
    pub community: String,
    pub name: String,
    pub topic: String,
    pub is_default: bool,
    /// Members online in the room now.
    pub online: usize,
    /// The live session running in the room now, if any.
    pub live_session: Option<crate::calendar::events::LiveSession>,
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RoomRow {
    pub id: i64,
    pub community_id: i64,
    pub name: String,
    pub topic: String,
    pub is_default: bool,
}

/// A chat message (API.md `message`).
#[derive(Serialize, ToSchema, Debug)]
pub struct ChatMessage {
    pub id: i64,
    pub room: i64,
    pub author: Option<MemberSummary>,
    pub body: String,
    pub body_html: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<String>,
    /// The sender's nonce, on the live copy of a message just sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Photos and voice notes, in order (left out when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::media::Attachment>,
    /// In history only, and only when the caller blocks (`blocked`) or ignores (`ignored`) its
    /// author: show it collapsed, openable. Live frames are the same for everyone: collapse
    /// those by `GET /api/v1/me/blocks`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_for_you: Option<crate::blocks::Hidden>,
    /// The message this one answers, quoted (left out when it answers none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyQuote>,
    /// Reaction counts by kind (left out when there are none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, i64>,
    /// The viewer's own reactions, in history read over HTTP (left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub my_reactions: Vec<String>,
}

/// The message a reply answers, as its readers see it quoted: a short excerpt, or only that it
/// was deleted (`deleted: true`, no author or words).
#[derive(Serialize, ToSchema, Debug, Clone)]
#[schema(as = ChatReplyQuote)]
pub struct ReplyQuote {
    pub id: i64,
    pub author: Option<MemberSummary>,
    pub excerpt: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl ReplyQuote {
    /// Who wrote the message answered, by name ("—" for an erased author).
    pub fn author_name(&self) -> &str {
        self.author
            .as_ref()
            .map_or("—", |a| a.display_name.as_str())
    }
}

/// The longest quote of a replied-to message, in characters.
pub const EXCERPT_CHARS: usize = 100;

/// A short one-line excerpt of a message's words.
pub fn excerpt(body: &str) -> String {
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

impl ReplyQuote {
    /// The quote of a message that is gone (deleted or hidden).
    pub fn gone(id: i64) -> ReplyQuote {
        ReplyQuote {
            id,
            author: None,
            excerpt: None,
            deleted: true,
        }
    }
}

/// The columns a shown message is read with (`m`, its author `u`, the message it answers `r`
/// and that one's author `ru`), for `concat!` into each query.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.author_id, u.username, u.display_name, m.body, m.body_html, m.created_at, m.edited_at,
         m.reactions, m.reply_to_id,
         CASE WHEN r.deleted_at IS NULL AND r.hidden_at IS NULL THEN r.body END AS reply_body,
         ru.id AS reply_author_id, ru.username AS reply_username, ru.display_name AS reply_display_name"
    };
}

/// The joins [`message_columns`] reads from.
macro_rules! message_joins {
    () => {
        " FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id
          LEFT JOIN chat_messages r ON r.id = m.reply_to_id LEFT JOIN users ru ON ru.id = r.author_id "
    };
}

#[derive(sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub room_id: i64,
    pub author_id: Option<i64>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub body: String,
    pub body_html: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// The message's place in its room (selected where the order matters).
    #[sqlx(default)]
    pub seq: i64,
    /// Whether it carries media (selected where messages are shown).
    #[sqlx(default)]
    pub has_media: bool,
    /// Reaction counts as stored (`{"kind": count}`).
    #[sqlx(default)]
    pub reactions: String,
    /// The message this one answers, and what of it shows (see `message_columns!`).
    #[sqlx(default)]
    pub reply_to_id: Option<i64>,
    #[sqlx(default)]
    pub reply_body: Option<String>,
    #[sqlx(default)]
    pub reply_author_id: Option<i64>,
    #[sqlx(default)]
    pub reply_username: Option<String>,
    #[sqlx(default)]
    pub reply_display_name: Option<String>,
}

impl MessageRow {
    pub fn into_message(self, nonce: Option<String>) -> ChatMessage {
        let reply_to = self.reply_to_id.map(|id| match self.reply_body {
            Some(body) => ReplyQuote {
                id,
                author: MemberSummary::from_columns(
                    self.reply_author_id,
                    self.reply_username,
                    self.reply_display_name,
                ),
                excerpt: Some(excerpt(&body)),
                deleted: false,
            },
            None => ReplyQuote::gone(id),
        });
        ChatMessage {
            id: self.id,
            room: self.room_id,
            author: MemberSummary::from_columns(self.author_id, self.username, self.display_name),
            body: self.body,
            body_html: self.body_html,
            created_at: self.created_at,
            edited_at: self.edited_at.map(format_ms),
            nonce,
            attachments: Vec::new(),
            hidden_for_you: None,
            reply_to,
            reactions: crate::forum::parse_reactions(&self.reactions),
            my_reactions: Vec::new(),
        }
    }
}

/// Messages as shown, with the media of those that carry some (one query per such message).
pub async fn shown(
    conn: &mut impl AsDb,
    rows: Vec<MessageRow>,
) -> AppResult<Vec<(i64, ChatMessage)>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (seq, has_media) = (row.seq, row.has_media);
        let mut message = row.into_message(None);
        if has_media {
            message.attachments = crate::media::for_message(conn, message.id).await?;
        }
        out.push((seq, message));
    }
    Ok(out)
}

/// `{"op":"message","message":{...}}`, serialised once for every recipient.
pub fn message_frame(message: &ChatMessage) -> Encoded {
    ServerFrame::Message { message }.encode()
}

/// What `room_gate` answers for a conversation's room in place of a community's id.
pub const CONVERSATIONS: i64 = 0;

/// The community a room belongs to (`CONVERSATIONS` for a conversation's room) and the viewer's
/// access; 404 when the viewer may not know of it. What only reads, sends, edits or deletes in a
/// room asks this, so a conversation's room gets it as a community's does (a conversation's
/// access: `conversations::room_access`).
pub async fn room_gate(
    conn: &mut impl AsDb,
    room_id: i64,
    viewer: Option<&User>,
) -> AppResult<(i64, Access)> {
    if let Some(access) = crate::conversations::room_access(conn, room_id, viewer).await? {
        return Ok((CONVERSATIONS, access));
    }
    let (_, community, access) = room_access(conn, room_id, viewer).await?;
    Ok((community.id, access))
}

/// Why a reader may not send in a room: a community asks them to join; a conversation is not
/// open to them now (waiting for an answer, ended, or someone keeps away: never told apart).
pub fn cannot_post(community_id: i64) -> &'static str {
    if community_id == CONVERSATIONS {
        crate::conversations::CANNOT_SEND
    } else {
        "join this community to chat"
    }
}

/// A community's room, its community and the viewer's access; 404 when the viewer may not know
/// of it, and for a conversation's room (see `room_gate`).
pub async fn room_access(
    conn: &mut impl AsDb,
    room_id: i64,
    viewer: Option<&User>,
) -> AppResult<(RoomRow, CommunityRow, Access)> {
    let room = db!(
        *conn,
        fetch_optional as RoomRow,
        "SELECT id, community_id, name, topic, is_default FROM rooms WHERE id = $1 AND community_id IS NOT NULL",
        room_id
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, room.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, viewer).await?;
    if !access.can_see() || !crate::circles::may_enter_room(conn, room_id, &access).await? {
        return Err(AppError::NotFound);
    }
    Ok((room, community, access))
}

/// The stored name of the room every community starts with (pages show it in the reader's
/// language: `web::format::room_name`).
pub const DEFAULT_ROOM: &str = "General";

/// The default room every community gets.
pub async fn create_default_room(
    conn: &mut impl AsDb,
    community_id: i64,
    created_by: i64,
) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "INSERT INTO rooms (community_id, name, topic, is_default, created_by, created_at) VALUES ($1, $2, '', TRUE, $3, $4)",
        community_id,
        DEFAULT_ROOM,
        created_by,
        now_ms()
    )?;
    Ok(())
}

/// A community's rooms as `access`'s viewer may enter them, default first: a peer circle's
/// private room only for its people and the community's moderators.
pub async fn rooms_of(
    state: &AppState,
    conn: &mut impl AsDb,
    community: &CommunityRow,
    access: &Access,
) -> AppResult<Vec<Room>> {
    let rows = db!(
        *conn,
        fetch_all as RoomRow,
        "SELECT id, community_id, name, topic, is_default FROM rooms r WHERE community_id = $1
           AND (r.circle_id IS NULL OR $2 OR ($3 AND EXISTS (SELECT 1 FROM circle_members cm WHERE cm.circle_id = r.circle_id AND cm.user_id = $4)))
         ORDER BY is_default DESC, id",
        community.id,
        access.is_moderator(),
        access.is_member(),
        access.user_id.unwrap_or(-1)
    )?;
    let mut live = crate::calendar::events::live_in_community(conn, community.id).await?;
    let mut rooms = Vec::with_capacity(rows.len());
    for r in rows {
        let online = state
            .realtime
            .presence
            .online(&state.realtime.hub, r.id)
            .await;
        rooms.push(Room {
            id: r.id,
            community: community.slug.clone(),
            name: r.name,
            topic: r.topic,
            is_default: r.is_default,
            online,
            live_session: live.remove(&r.id),
        });
    }
    Ok(rooms)
}

/// A community's chat rooms.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/rooms", tag = "chat",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Room>), (status = 404, body = ErrorBody)))]
async fn list_rooms(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Room>>> {
    let user = viewer.map(|s| s.user);
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, &slug, user.as_ref()).await?;
    Ok(axum::Json(
        rooms_of(&state, &mut conn, &community, &access).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewRoom {
    /// 2–60 characters, e.g. "Evening check-in".
    pub name: String,
    pub topic: Option<String>,
}

/// Organisers and moderators add rooms.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/rooms", tag = "chat",
    params(("slug" = String, Path)),
    request_body = NewRoom,
    responses((status = 201, body = Room), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewRoom>,
) -> AppResult<(StatusCode, axum::Json<Room>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(add_room(&state, &session.user, &slug, &req).await?),
    ))
}

/// Adds a chat room to the community at `slug` (moderators and organisers).
pub async fn add_room(state: &AppState, user: &User, slug: &str, req: &NewRoom) -> AppResult<Room> {
    let (community, access) = {
        let mut conn = state.store.read().await?;
        visible_community(&mut conn, slug, Some(user)).await?
    };
    access.require_moderator()?;
    let name = req.name.trim();
    if !(2..=60).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "a room name has 2 to 60 characters",
        ));
    }
    let topic = req.topic.as_deref().unwrap_or("").trim();
    if topic.chars().count() > 300 {
        return Err(AppError::invalid(
            "topic",
            "a room topic has at most 300 characters",
        ));
    }
    let mut w = state.store.write().await?;
    let id = db!(
        w,
        fetch_one scalar i64,
        "INSERT INTO rooms (community_id, name, topic, is_default, created_by, created_at) VALUES ($1, $2, $3, FALSE, $4, $5) RETURNING id",
        community.id,
        name,
        topic,
        user.id,
        now_ms()
    )?;
    Ok(Room {
        id,
        community: community.slug,
        name: name.to_owned(),
        topic: topic.to_owned(),
        is_default: false,
        online: 0,
        live_session: None,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages older than this id.
    pub before: Option<i64>,
    /// 1–100, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    /// Newest first.
    pub items: Vec<ChatMessage>,
    /// Pass as `before` for older messages; null when there are none.
    pub next: Option<String>,
}

/// A room's history, newest first.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/messages", tag = "chat",
    params(("id" = i64, Path), HistoryParams),
    responses((status = 200, body = MessagePage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
    Query(params): Query<HistoryParams>,
) -> AppResult<axum::Json<MessagePage>> {
    let limit = match params.limit {
        None => 50,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(AppError::bad_request(
                "bad_limit",
                "limit must be between 1 and 100",
            ));
        }
    };
    let mut page = read_history(
        &state,
        viewer.as_ref().map(|s| &s.user),
        id,
        params.before,
        limit,
    )
    .await?;
    if let Some(s) = &viewer {
        crate::blocks::mark_messages(&s.kept_away, &mut page.items);
    }
    Ok(axum::Json(page))
}

/// A page of a room's history, newest first, older than `before`; 403 when the viewer may see
/// the room but not read it.
pub async fn read_history(
    state: &AppState,
    viewer: Option<&User>,
    id: i64,
    before: Option<i64>,
    limit: i64,
) -> AppResult<MessagePage> {
    let mut conn = state.store.read().await?;
    let (_, access) = room_gate(&mut conn, id, viewer).await?;
    if !access.can_read() {
        return Err(AppError::forbidden("join this community to read its chat"));
    }
    let rows = db!(
        conn,
        fetch_all as MessageRow,
        concat!("SELECT ", message_columns!(), ",
                EXISTS (SELECT 1 FROM media md WHERE md.message_id = m.id AND md.erased_at IS NULL) AS has_media",
         message_joins!(), "
         WHERE m.room_id = $1 AND m.id < $2 AND m.deleted_at IS NULL AND m.hidden_at IS NULL ORDER BY m.id DESC LIMIT $3"),
        id,
        before.unwrap_or(i64::MAX),
        limit + 1
    )?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<MessageRow> = rows.into_iter().take(limit as usize).collect();
    let mut items: Vec<ChatMessage> = shown(&mut conn, rows)
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    // The viewer's own reactions on this page, in one read.
    if let (Some(viewer), Some(newest), Some(oldest)) = (viewer, items.first(), items.last()) {
        let mut mine =
            reactions::mine_between(&mut conn, id, viewer.id, (oldest.id, newest.id)).await?;
        for m in &mut items {
            m.my_reactions = mine.remove(&m.id).unwrap_or_default();
        }
    }
    let next = if more {
        items.last().map(|m| cursor(&[m.id]))
    } else {
        None
    };
    Ok(MessagePage { items, next })
}

/// Messages of a room in `seq` (commit) order, oldest first: after the message `since` (an id,
/// as clients know messages), or the latest `limit`; with the newest `seq` they reach (`since`'s
/// own when none follow), for skipping what arrives live too.
pub async fn backlog(
    store: &Store,
    room: i64,
    since: Option<i64>,
    limit: i64,
) -> AppResult<(Vec<ChatMessage>, i64)> {
    let mut conn = store.read().await?;
    let (rows, floor) = match since {
        Some(after) => {
            // The message's own seq; for an id not in this room, the newest seq at or below it
            // (ids and seqs agree but for messages committed moments apart on two nodes).
            let floor = db!(
                conn,
                fetch_one scalar i64,
                "SELECT COALESCE(
                    (SELECT seq FROM chat_messages WHERE id = $2 AND room_id = $1),
                    (SELECT MAX(seq) FROM chat_messages WHERE room_id = $1 AND id <= $2),
                    0)",
                room,
                after
            )?;
            let rows = db!(
                conn,
                fetch_all as MessageRow,
                concat!("SELECT ", message_columns!(), ", m.seq,
                 EXISTS (SELECT 1 FROM media md WHERE md.message_id = m.id AND md.erased_at IS NULL) AS has_media",
                 message_joins!(), "
                 WHERE m.room_id = $1 AND m.seq > $2 AND m.deleted_at IS NULL AND m.hidden_at IS NULL ORDER BY m.seq LIMIT $3"),
                room,
                floor,
                limit
            )?;
            (rows, floor)
        }
        None => {
            let mut rows = db!(
                conn,
                fetch_all as MessageRow,
                concat!("SELECT ", message_columns!(), ", m.seq,
                 EXISTS (SELECT 1 FROM media md WHERE md.message_id = m.id AND md.erased_at IS NULL) AS has_media",
                 message_joins!(), "
                 WHERE m.room_id = $1 AND m.deleted_at IS NULL AND m.hidden_at IS NULL ORDER BY m.seq DESC LIMIT $2"),
                room,
                limit
            )?;
            rows.reverse();
            (rows, 0)
        }
    };
    let newest = rows.last().map_or(floor, |r| r.seq);
    let messages = shown(&mut conn, rows)
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    Ok((messages, newest))
}

/// The room's newest `seq` now (0: none, or no such room).
pub async fn newest_seq(store: &Store, room: i64) -> AppResult<i64> {
    let mut conn = store.read().await?;
    let seq = db!(
        conn,
        fetch_optional scalar i64,
        "SELECT message_seq FROM rooms WHERE id = $1",
        room
    )?;
    Ok(seq.unwrap_or(0))
}

fn replayed(messages: Vec<(i64, ChatMessage)>) -> Vec<crate::realtime::bus::ReplayedMessage> {
    messages
        .into_iter()
        .map(|(seq, m)| (m.id, seq, message_frame(&m).json))
        .collect()
}

/// Message frames committed in the room since a time: what a node that lost the bus missed.
pub async fn frames_since(
    store: &Store,
    room: i64,
    since_ms: i64,
) -> AppResult<Vec<crate::realtime::bus::ReplayedMessage>> {
    frames_where(store, room, since_ms, (0, i64::MAX)).await
}

/// Message frames with `from <= seq <= to`: messages a node has not heard of yet, when a later
/// one has arrived (committed, so these are too).
pub async fn frames_between(
    store: &Store,
    room: i64,
    from: i64,
    to: i64,
) -> AppResult<Vec<crate::realtime::bus::ReplayedMessage>> {
    frames_where(store, room, i64::MIN, (from, to)).await
}

/// The room's visible messages written at `since_ms` or later with a number in `seqs`, in order.
async fn frames_where(
    store: &Store,
    room: i64,
    since_ms: i64,
    (from, to): (i64, i64),
) -> AppResult<Vec<crate::realtime::bus::ReplayedMessage>> {
    let mut conn = store.read().await?;
    let rows = db!(
        conn,
        fetch_all as MessageRow,
        concat!("SELECT ", message_columns!(), ", m.seq,
                EXISTS (SELECT 1 FROM media md WHERE md.message_id = m.id AND md.erased_at IS NULL) AS has_media",
         message_joins!(), "
         WHERE m.room_id = $1 AND m.created_at >= $2 AND m.seq >= $3 AND m.seq <= $4
           AND m.deleted_at IS NULL AND m.hidden_at IS NULL ORDER BY m.seq LIMIT 2000"),
        room,
        since_ms,
        from,
        to
    )?;
    Ok(replayed(shown(&mut conn, rows).await?))
}

/// Numbers every room's messages in id order and sets the rooms' counters: for rows written
/// without the writer (the seed's bulk inserts).
pub async fn renumber_all(store: &Store) -> AppResult<()> {
    let mut tx = store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE chat_messages SET seq = numbered.n
           FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS n FROM chat_messages) AS numbered
           WHERE chat_messages.id = numbered.id"
    )?;
    db!(
        tx,
        execute,
        "UPDATE rooms SET message_seq = COALESCE((SELECT MAX(seq) FROM chat_messages WHERE room_id = rooms.id), 0)"
    )?;
    tx.commit().await?;
    Ok(())
}

/// Checks a message body: 1–4000 characters.
pub fn check_body(body: &str) -> Result<(), (&'static str, String)> {
    if body.trim().is_empty() {
        return Err(("empty", "write something first".into()));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err((
            "too_long",
            format!("a chat message has at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A message after its author's edit, and the crisis lines for them alone when its words
/// suggest a crisis.
pub struct Edited {
    pub message: ChatMessage,
    pub crisis: Option<Vec<CrisisLine>>,
}

impl Edited {
    /// The `crisis_resources` frame for the author's socket, if any.
    pub fn crisis_frame(&self) -> Option<String> {
        self.crisis
            .as_ref()
            .map(|lines| send::crisis_frame(self.message.room, self.message.id, lines))
    }
}

/// Edits a message (its author) and tells the room. The new text is screened as a sent
/// message is: 422 `body` for what the filters refuse, 422 `identifiers` unless `confirmed`,
/// and a crisis opens a case.
pub async fn edit_message(
    state: &AppState,
    user: &User,
    id: i64,
    body: &str,
    confirmed: bool,
) -> AppResult<Edited> {
    check_body(body).map_err(|(_, why)| AppError::invalid("body", why))?;
    let (row, community_id, _) = message_access(state, user, id).await?;
    if row.author_id != Some(user.id) {
        return Err(AppError::forbidden("only the author edits a message"));
    }
    sanctions::check_can_write(state, user, community_id).await?;
    let verdict = crate::publish::screen_chat(state, body, confirmed).map_err(|(code, why)| {
        AppError::invalid(if code == "identifiers" { code } else { "body" }, why)
    })?;
    let html = markdown::render(body).html;
    let now = now_ms();
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "UPDATE chat_messages SET body = $2, body_html = $3, edited_at = $4 WHERE id = $1",
        id,
        body,
        &html,
        now
    )?;
    drop(w);
    let message = MessageRow {
        body: body.to_owned(),
        body_html: html,
        edited_at: Some(now),
        ..row
    }
    .into_message(None);
    let frame = ServerFrame::MessageEdited { message: &message }.encode();
    state.realtime.publish_room(message.room, None, frame);
    let crisis = verdict
        .apply_message(state, community_id, id, user.id)
        .await;
    Ok(Edited { message, crisis })
}

/// Soft-deletes a message in a transaction; the room and the `message_deleted` frame to publish
/// once it commits (none if it was already gone).
pub async fn soft_delete(
    tx: &mut crate::store::Tx,
    id: i64,
    by: i64,
) -> AppResult<Option<(i64, Encoded)>> {
    let room = db!(
        *tx,
        fetch_optional scalar i64,
        "UPDATE chat_messages SET deleted_at = $2, deleted_by = $3 WHERE id = $1 AND deleted_at IS NULL RETURNING room_id",
        id,
        now_ms(),
        by
    )?;
    if room.is_some() {
        crate::media::erase_for_message(&mut *tx, id).await?;
    }
    Ok(room.map(|room| {
        (
            room,
            Frame::MessageDeleted {
                room,
                message_id: id,
                reason: None,
            }
            .encode(),
        )
    }))
}

/// Deletes a message (its author or a moderator) and tells the room.
pub async fn delete_message(state: &AppState, user: &User, id: i64) -> AppResult<()> {
    let (row, community_id, access) = message_access(state, user, id).await?;
    let is_author = row.author_id == Some(user.id);
    if !is_author && !access.is_moderator() {
        return Err(AppError::forbidden(
            "only the author or a moderator deletes a message",
        ));
    }
    let mut tx = state.store.begin().await?;
    let live = soft_delete(&mut tx, id, user.id).await?;
    if live.is_some() && !is_author {
        crate::moderation::log_action(
            &mut tx,
            Some(community_id),
            Some(user.id),
            "delete",
            "message",
            id,
            "deleted by a moderator",
            None,
        )
        .await?;
    }
    tx.commit().await?;
    if let Err(e) = crate::media::sweep(state).await {
        tracing::warn!(error = %e, "removing a deleted message's media");
    }
    if let Some((room, frame)) = live {
        state.realtime.publish_room(room, None, frame);
    }
    Ok(())
}

pub(crate) async fn message_access(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(MessageRow, i64, Access)> {
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as MessageRow,
        concat!(
            "SELECT ",
            message_columns!(),
            message_joins!(),
            "WHERE m.id = $1 AND m.deleted_at IS NULL"
        ),
        id
    )?
    .ok_or(AppError::NotFound)?;
    let (community_id, access) = room_gate(&mut conn, row.room_id, Some(user)).await?;
    if !access.can_read() {
        return Err(AppError::NotFound);
    }
    Ok((row, community_id, access))
}

#[derive(Deserialize, ToSchema)]
pub struct MessageEdit {
    pub body: String,
    /// Publish even though the text seems to hold a phone number or national id.
    pub confirm_identifiers: Option<bool>,
}

/// Edit your chat message; the room sees it change.
#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "chat",
    params(("id" = i64, Path)),
    request_body = MessageEdit,
    responses((status = 200, body = ChatMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn edit_message_http(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<MessageEdit>,
) -> AppResult<axum::Json<ChatMessage>> {
    let confirmed = req.confirm_identifiers.unwrap_or(false);
    let edited = edit_message(&state, &session.user, id, &req.body, confirmed).await?;
    Ok(axum::Json(edited.message))
}

/// Delete a chat message (its author or a moderator); it disappears from connected clients.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "chat",
    params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_message_http(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    delete_message(&state, &session.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
