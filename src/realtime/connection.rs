//! One client's socket: authentication at the upgrade, then a single loop that reads frames,
//! writes what the hub queued for it, beats the heart, and closes when the client is gone, too
//! slow, or the server shuts down.
//!
//! Replies to the client's own requests (`subscribed`, errors, `pong`) are written directly;
//! room events come through the bounded queue and are written in batches: every frame waiting
//! is queued on the socket, then one flush (a `send` per frame was a write syscall per frame
//! per recipient). A client whose queue overflows, or whose socket takes no data for
//! [`WRITE_STALL`], is behind: its queue is dropped and it gets an `error` frame with code
//! `resync` and close code 4008, so it reconnects and catches up with `since`.
//!
//! A `subscribed` backlog and live messages can overlap for a moment, so messages up to the
//! newest one the backlog carried are skipped when they arrive live (ids grow in commit order
//! within a room: the writer takes the room's row first).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use super::frames::{self, ClientFrame};
use super::hub::{ConnHandle, Outbound, PresenceChange};
use super::presence::Who;
use super::socket::{self, Socket, feed_all, feed_text, text_frames};
use crate::accounts::{MaybeAuth, User};
use crate::app::AppState;
use crate::chat;
use crate::db;
use crate::error::AppError;
use crate::moderation::sanctions::{self, Active};
use crate::store::now_ms;

/// Frames waiting for one client; past this it is too slow and gets `resync`.
const QUEUE: usize = 512;
/// Queued frames written before one flush.
const WRITE_BATCH: usize = 64;
/// A socket that takes no data for this long is behind (or gone).
const WRITE_STALL: Duration = Duration::from_secs(15);
/// How long a closing socket may take to take its last frames (`resync`, going away).
const GOODBYE: Duration = Duration::from_secs(15);
/// How often the server pings each socket (`MUTUAL_WS_HEARTBEAT_SECS`, default 25); a socket that
/// sends nothing (not even a pong) for about three beats is closed as dead.
fn heartbeat_every() -> Duration {
    static EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        let secs = std::env::var("MUTUAL_WS_HEARTBEAT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(25u64);
        Duration::from_secs(secs.max(1))
    })
}
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Messages replayed on `subscribe` with `since`; more means the client should page history.
const BACKLOG_SINCE: i64 = 500;
const BACKLOG_LATEST: i64 = 50;

/// `GET /api/v1/ws`: the WebSocket upgrade (bearer header or session cookie).
pub async fn gateway(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let session = match MaybeAuth::from_request_parts(&mut parts, &state).await {
        Ok(MaybeAuth(Some(s))) => s,
        Ok(MaybeAuth(None)) => {
            return AppError::Unauthorized("sign in first: the chat needs an account".into())
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    // A cookie travels with any page's request: only our own pages may open a cookie socket.
    if session.via_cookie && !same_origin(&parts.headers) {
        return AppError::forbidden("this page may not open a chat connection for you")
            .into_response();
    }
    let upgrade = match socket::upgrade(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused.into_response(),
    };
    let ip = crate::http::ClientIp::from_parts(&parts, &state.config.trusted_proxies).0;
    // MUTUAL_RATE_LIMITS=off (load tests from one machine) lifts these caps with the rest.
    let quota = state
        .limits
        .enabled()
        .then(|| state.realtime.quota.take(ip, session.user.id));
    let place = match quota {
        None => None,
        Some(Ok(place)) => Some(place),
        Some(Err(refused)) => {
            metrics::counter!("mutual_ws_refused_total", "why" => format!("{refused:?}"))
                .increment(1);
            let message = match refused {
                super::quota::Refused::Address => {
                    "too many chat connections from your network; close some and try again"
                }
                super::quota::Refused::Account => {
                    "too many chat connections for your account; close other tabs and try again"
                }
            };
            return AppError::RateLimited {
                retry_after: Duration::from_secs(30),
                message: message.into(),
            }
            .into_response();
        }
    };
    let Ok(permit) = state.realtime.slots.clone().try_acquire_owned() else {
        return AppError::Unavailable(
            "too many connections right now; please try again shortly".into(),
        )
        .into_response();
    };
    let visible = {
        let hidden = match state.store.read().await {
            Ok(mut conn) => {
                db!(conn, fetch_optional scalar bool, "SELECT hide_presence FROM users WHERE id = $1", session.user.id).ok().flatten()
            }
            Err(_) => None,
        };
        !hidden.unwrap_or(false)
    };
    upgrade.accept(move |socket| async move {
        run(socket, state, session.user, visible).await;
        drop(permit);
        drop(place);
    })
}

fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

/// What the connection knows about a room it subscribed to.
struct Sub {
    community_id: i64,
    can_post: bool,
    settings: chat::RoomSettings,
    /// When the member joined the community (for the new-joiner delay).
    joined_at: i64,
    /// Live messages up to this id were in the `subscribed` backlog.
    skip_upto: i64,
}

struct Conn {
    state: AppState,
    user: User,
    who: Who,
    handle: ConnHandle,
    subs: HashMap<i64, Sub>,
    sanctions: Vec<Active>,
    typing_at: HashMap<i64, Instant>,
    /// Last send per room (milliseconds), for slow mode.
    sent_at: HashMap<i64, i64>,
    /// Trust level 0 when the socket opened.
    new_member: bool,
}

enum Flow {
    Continue,
    Close,
    /// The client cannot keep up: tell it to resync, then close.
    Behind,
}

async fn run(mut socket: Socket, state: AppState, user: User, visible: bool) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let kick = Arc::new(Notify::new());
    let handle = ConnHandle {
        id: state.realtime.hub.next_conn_id(),
        user_id: user.id,
        visible,
        tx,
        kick: kick.clone(),
    };
    state.realtime.hub.connect(&handle);
    // Boxed, like every database read here: inline, their states would sit in every idle
    // socket's task.
    let (sanctions, new_member) = Box::pin(async {
        match state.store.read().await {
            Ok(mut c) => (
                sanctions::active(&mut c, user.id).await.unwrap_or_default(),
                crate::moderation::trust::level(&mut c, user.id)
                    .await
                    .unwrap_or(0)
                    == 0,
            ),
            Err(_) => (Vec::new(), true),
        }
    })
    .await;
    let who = Who {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
    };
    let mut shutdown = state.realtime.shutdown_signal();
    let mut conn = Conn {
        state,
        user,
        who,
        handle,
        subs: HashMap::new(),
        sanctions,
        typing_at: HashMap::new(),
        sent_at: HashMap::new(),
        new_member,
    };
    let mut heartbeat = tokio::time::interval(heartbeat_every());
    // No frame (or pong) from the client for this long: it is gone.
    let dead_after = heartbeat_every() * 14 / 5;
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    // Frames of a batch cut short (the client fell behind), finished before the goodbye.
    let mut unfinished = VecDeque::new();

    loop {
        let flow = tokio::select! {
            incoming = socket.next() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    // Boxed: the requests' database work would otherwise sit in every idle
                    // socket's task.
                    Message::Text(text) => Box::pin(conn.on_text(&mut socket, text.as_str())).await,
                    Message::Binary(_) => reply(&mut socket, frames::error("binary_not_supported", "send JSON text frames", None)).await,
                    Message::Close(_) => Flow::Close,
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
                }
            }
            queued = rx.recv() => match queued {
                Some(item) => conn.write_queued(&mut socket, &mut unfinished, &mut rx, item, &kick).await,
                None => Flow::Close,
            },
            _ = kick.notified() => Flow::Behind,
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > dead_after {
                    goodbye(&mut socket, &mut unfinished, &[], 4000, "no heartbeat").await;
                    Flow::Close
                } else {
                    write_now(&mut socket, Message::Ping(Bytes::new())).await
                }
            }
            _ = shutdown.changed() => {
                goodbye(&mut socket, &mut unfinished, &[], 1001, "server restarting").await;
                Flow::Close
            }
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => break,
            Flow::Behind => {
                metrics::counter!("mutual_ws_resync_total").increment(1);
                conn.leave_all();
                // What is still queued is dropped: the client catches up with `since`.
                rx.close();
                while rx.try_recv().is_ok() {}
                let resync = frames::error(
                    "resync",
                    "you fell behind: reconnect and subscribe with `since` to catch up",
                    None,
                );
                goodbye(
                    &mut socket,
                    &mut unfinished,
                    &[resync.into()],
                    4008,
                    "resync",
                )
                .await;
                break;
            }
        }
    }
    conn.leave_all();
    conn.state.realtime.hub.disconnect(&conn.handle);
}

/// Writes one message now.
async fn write_now(socket: &mut Socket, message: Message) -> Flow {
    match tokio::time::timeout(WRITE_STALL, socket.send(message)).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Close,
    }
}

/// Writes a reply to the client's request (one text message, fragmented when long).
async fn reply_pieces(socket: &mut Socket, pieces: &[Utf8Bytes]) -> Flow {
    let write = async {
        feed_text(socket, pieces).await?;
        socket.flush().await
    };
    match tokio::time::timeout(WRITE_STALL, write).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Close,
    }
}

async fn reply(socket: &mut Socket, frame: String) -> Flow {
    reply_pieces(socket, &[frame.into()]).await
}

/// Best effort, bounded: what a cut-short batch left, the last frames and a close frame, for a
/// socket about to be dropped.
async fn goodbye(
    socket: &mut Socket,
    unfinished: &mut VecDeque<Message>,
    last: &[Utf8Bytes],
    code: u16,
    reason: &'static str,
) {
    for frame in last {
        unfinished.extend(text_frames(std::slice::from_ref(frame)));
    }
    unfinished.push_back(Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    })));
    let close = Box::pin(async {
        feed_all(socket, unfinished).await?;
        socket.flush().await
    });
    let _ = tokio::time::timeout(GOODBYE, close).await;
}

impl Conn {
    /// Writes `first` and whatever else is queued (up to [`WRITE_BATCH`]), then flushes once.
    /// Behind when the queue overflows meanwhile or the socket takes nothing for a while.
    async fn write_queued(
        &mut self,
        socket: &mut Socket,
        unfinished: &mut VecDeque<Message>,
        rx: &mut mpsc::Receiver<Outbound>,
        first: Outbound,
        kick: &Notify,
    ) -> Flow {
        let batch = async {
            let mut item = first;
            let mut written = 1;
            loop {
                if let Some(frame) = self.frame_for(item).await {
                    unfinished.extend(text_frames(std::slice::from_ref(&frame)));
                    feed_all(socket, unfinished).await?;
                }
                // Count first: an item taken from the queue must be written.
                if written == WRITE_BATCH {
                    break;
                }
                match rx.try_recv() {
                    Ok(next) => item = next,
                    Err(_) => break,
                }
                written += 1;
            }
            socket.flush().await
        };
        tokio::select! {
            biased;
            _ = kick.notified() => Flow::Behind,
            written = tokio::time::timeout(WRITE_STALL, batch) => match written {
                Ok(Ok(())) => Flow::Continue,
                Ok(Err(_)) => Flow::Close,
                Err(_) => Flow::Behind,
            },
        }
    }

    /// What a queued item puts on the wire, if anything.
    async fn frame_for(&mut self, item: Outbound) -> Option<Utf8Bytes> {
        match item {
            Outbound::Room {
                room,
                message_id,
                frame,
            } => {
                let sub = self.subs.get_mut(&room)?;
                // Moderators changed the room: apply it here, and show the client too.
                if message_id.is_none()
                    && frame.as_str().starts_with(r#"{"op":"room_settings""#)
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(frame.as_str())
                    && let Ok(settings) =
                        serde_json::from_value::<chat::RoomSettings>(v["settings"].clone())
                {
                    sub.settings = settings;
                }
                if message_id.is_some_and(|id| id <= sub.skip_upto) {
                    return None;
                }
                Some(frame)
            }
            Outbound::Personal(frame) => Some(frame),
            Outbound::ReloadSanctions => {
                let (state, user) = (&self.state, self.user.id);
                if let Some(active) = Box::pin(async {
                    let mut c = state.store.read().await.ok()?;
                    sanctions::active(&mut c, user).await.ok()
                })
                .await
                {
                    self.sanctions = active;
                }
                None
            }
        }
    }

    async fn on_text(&mut self, socket: &mut Socket, text: &str) -> Flow {
        let frame = match frames::parse(text) {
            Ok(f) => f,
            Err(e) => {
                return reply(
                    socket,
                    frames::error(e.code, &e.message, e.nonce.as_deref()),
                )
                .await;
            }
        };
        let answer = match frame {
            ClientFrame::Ping => Some(json!({"op": "pong"}).to_string()),
            ClientFrame::Subscribe { room, since } => {
                let pieces = self.subscribe(room, since).await;
                return reply_pieces(socket, &pieces).await;
            }
            ClientFrame::Unsubscribe { room } => {
                self.leave(room);
                Some(json!({"op": "unsubscribed", "room": room}).to_string())
            }
            ClientFrame::Send {
                room,
                body,
                nonce,
                confirm_identifiers,
            } => self.send(room, body, nonce, confirm_identifiers).await,
            ClientFrame::Edit {
                message,
                body,
                confirm_identifiers,
            } => {
                let edited = chat::edit_message(
                    &self.state,
                    &self.user,
                    message,
                    &body,
                    confirm_identifiers,
                );
                match edited.await {
                    Ok(edited) => edited.crisis_frame(),
                    Err(e) => Some(error_frame(&e, None)),
                }
            }
            ClientFrame::Delete { message } => {
                match chat::delete_message(&self.state, &self.user, message).await {
                    Ok(()) => None,
                    Err(e) => Some(error_frame(&e, None)),
                }
            }
            ClientFrame::Typing { room } => {
                self.typing(room);
                None
            }
        };
        match answer {
            Some(frame) => reply(socket, frame).await,
            None => Flow::Continue,
        }
    }

    /// The `subscribed` answer, in pieces: the room's latest backlog is one shared buffer.
    async fn subscribe(&mut self, room: i64, since: Option<i64>) -> Vec<Utf8Bytes> {
        let access = match self.state.store.read().await {
            Ok(mut c) => chat::room_access(&mut c, room, Some(&self.user)).await,
            Err(e) => Err(e.into()),
        };
        let (community_id, can_post) = match access {
            Ok((_, community, access)) if access.can_read() => (community.id, access.can_post()),
            Ok(_) => {
                return vec![
                    room_error("forbidden", "join this community to follow its chat", room).into(),
                ];
            }
            Err(AppError::NotFound) => {
                return vec![room_error("not_found", "there is no such room", room).into()];
            }
            Err(e) => return vec![error_frame(&e, None).into()],
        };
        let realtime = self.state.realtime.clone();
        // Register before reading the backlog, so nothing committed in between is lost.
        if !self.subs.contains_key(&room)
            && let PresenceChange::Joined = realtime.hub.subscribe(room, &self.handle)
        {
            realtime.presence.joined(room, self.who.clone());
            // Other nodes count this member from now, not from the next announcement.
            realtime.presence.store_local(&realtime.hub, room).await;
        }
        let (backlog, newest, truncated) = match since {
            Some(after) => match chat::backlog(&self.state.store, room, since, BACKLOG_SINCE).await
            {
                Ok(b) => (
                    backlog_json(&b),
                    b.last().map_or(after, |m| m.id),
                    b.len() as i64 >= BACKLOG_SINCE,
                ),
                Err(e) => return vec![error_frame(&e, None).into()],
            },
            None => match realtime.hub.cached_backlog(room) {
                Ok((json, newest)) => (json, newest, false),
                Err(stamp) => {
                    match chat::backlog(&self.state.store, room, None, BACKLOG_LATEST).await {
                        Ok(b) => {
                            let json = backlog_json(&b);
                            let newest = b.last().map_or(0, |m| m.id);
                            realtime
                                .hub
                                .store_backlog(room, stamp, json.clone(), newest);
                            (json, newest, false)
                        }
                        Err(e) => return vec![error_frame(&e, None).into()],
                    }
                }
            },
        };
        let (settings, joined_at, live_session) = match self.state.store.read().await {
            Ok(mut c) => {
                let settings = chat::room_settings(&mut c, room).await.unwrap_or_default();
                let live = crate::calendar::events::live_in_room(&mut c, room)
                    .await
                    .ok()
                    .flatten();
                let joined = db!(
                    c,
                    fetch_optional scalar i64,
                    "SELECT created_at FROM memberships WHERE community_id = $1 AND user_id = $2",
                    community_id,
                    self.user.id
                )
                .ok()
                .flatten();
                (settings, joined.unwrap_or(0), live)
            }
            Err(_) => (chat::RoomSettings::default(), 0, None),
        };
        self.subs.insert(
            room,
            Sub {
                community_id,
                can_post,
                settings,
                joined_at,
                skip_upto: newest,
            },
        );
        let online = realtime.presence.online(&realtime.hub, room).await;
        let head = json!({"op": "subscribed", "room": room, "online": online, "truncated": truncated, "live_session": live_session}).to_string();
        // `{...fields, "backlog": [...]}`: the object without its closing brace, then the array.
        let head = head.strip_suffix('}').unwrap_or(&head);
        vec![
            format!("{head},\"backlog\":").into(),
            backlog,
            Utf8Bytes::from_static("}"),
        ]
    }

    fn leave(&mut self, room: i64) {
        if self.subs.remove(&room).is_some()
            && let PresenceChange::Left = self.state.realtime.hub.unsubscribe(room, &self.handle)
        {
            self.state.realtime.presence.left(room, self.who.clone());
        }
    }

    fn leave_all(&mut self) {
        let rooms: Vec<i64> = self.subs.keys().copied().collect();
        for room in rooms {
            self.leave(room);
        }
    }

    async fn send(
        &mut self,
        room: i64,
        body: String,
        nonce: Option<String>,
        confirmed: bool,
    ) -> Option<String> {
        let nonce = nonce.map(|n| n.chars().take(100).collect::<String>());
        let n = nonce.as_deref();
        let Some(sub) = self.subs.get(&room) else {
            return Some(frames::error(
                "not_subscribed",
                "subscribe to the room before sending",
                n,
            ));
        };
        if !sub.can_post {
            return Some(frames::error("forbidden", "join this community to chat", n));
        }
        let sender = chat::send::Sender {
            room,
            community_id: sub.community_id,
            settings: &sub.settings,
            joined_at: sub.joined_at,
            new_member: self.new_member,
            last_sent_at: self.sent_at.get(&room).copied(),
            sanctions: &self.sanctions,
        };
        let verdict = match chat::send::check(&self.state, &sender, &body, confirmed) {
            Ok(verdict) => verdict,
            Err((code, why)) => return Some(frames::error(code, &why, n)),
        };
        let community_id = sub.community_id;
        self.sent_at.insert(room, now_ms());
        match chat::send::deliver(
            &self.state,
            &self.user,
            room,
            community_id,
            &body,
            nonce.clone(),
            &verdict,
        )
        .await
        {
            // The crisis lines go to the author alone.
            Ok((id, Some(lines))) => Some(chat::send::crisis_frame(room, id, &lines)),
            Ok((_, None)) => None,
            Err(e) => Some(error_frame(&e, nonce.as_deref())),
        }
    }

    fn typing(&mut self, room: i64) {
        if !self.subs.contains_key(&room) || !self.handle.visible {
            return;
        }
        let now = Instant::now();
        if self
            .typing_at
            .get(&room)
            .is_some_and(|at| now.duration_since(*at) < TYPING_EVERY)
        {
            return;
        }
        self.typing_at.insert(room, now);
        let frame = json!({"op": "typing", "room": room, "user": self.who}).to_string();
        self.state.realtime.publish_room(room, None, frame);
    }
}

fn backlog_json(messages: &[chat::ChatMessage]) -> Utf8Bytes {
    serde_json::to_string(messages)
        .unwrap_or_else(|_| "[]".to_owned())
        .into()
}

fn room_error(code: &str, message: &str, room: i64) -> String {
    json!({"op": "error", "code": code, "message": message, "room": room}).to_string()
}

/// An error frame for a server-side refusal, with the code the HTTP API would use.
fn error_frame(e: &AppError, nonce: Option<&str>) -> String {
    let code = match e {
        AppError::RateLimited { .. } => "rate_limited",
        AppError::NotFound => "not_found",
        AppError::Forbidden(_) => "forbidden",
        AppError::Invalid { fields, .. } if fields.contains_key("identifiers") => "identifiers",
        AppError::Invalid { .. } => "invalid",
        AppError::Unavailable(_) => "unavailable",
        _ => "error",
    };
    let message = match e {
        AppError::RateLimited { retry_after, .. } => format!(
            "you are sending very fast; wait {} ms",
            retry_after.as_millis()
        ),
        AppError::Internal(_) => "something went wrong on our side".to_owned(),
        other => other.to_string(),
    };
    frames::error(code, &message, nonce)
}
