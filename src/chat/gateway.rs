//! The chat's room protocol over the socket (`GET /api/v1/ws`, API.md "Chat"): who may open a
//! socket, subscribe rules and access checks, the backlog and `since`, sanctions on a socket,
//! send, edit, delete and typing, and live revocation: a socket's subscriptions follow access
//! (`unsubscribed` with a reason), and a socket whose session ended is closed with 4001.
//!
//! The chat owns the route and drives realtime's primitives (`Realtime::connect`,
//! `connection::run` with [`ChatSocket`] as its `Protocol`, the hub and presence), so the
//! dependencies run one way: chat uses realtime, realtime knows nothing of rooms or accounts.
//!
//! A `subscribed` backlog and live messages can overlap for a moment, so messages up to the
//! newest one the backlog carried are skipped when they arrive live. Both go by the message's
//! `seq` in its room, given in commit order (`chat::writer`), which the hub hands over in order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::accounts::{MaybeAuth, User};
use crate::app::AppState;
use crate::chat;
use crate::chat::budget::{Ask, Budget, Refusal};
use crate::db;
use crate::error::AppError;
use crate::moderation::sanctions::{self, Active};
use crate::realtime::bus;
use crate::realtime::connection::{self, Protocol, Write};
use crate::realtime::frames::{self, ClientFrame, Frame, Kind, Revoked, ServerFrame};
use crate::realtime::hub::{ConnHandle, Outbound, PresenceChange};
use crate::realtime::presence::Who;
use crate::realtime::quota;
use crate::store::{Store, now_ms};

const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Messages replayed on `subscribe` with `since`; more means the client should page history.
const BACKLOG_SINCE: i64 = 500;
const BACKLOG_LATEST: i64 = 50;

/// What a node that lost the bus missed: the rooms' committed messages, from the database.
pub struct Replay(pub Store);

impl bus::Replay for Replay {
    fn frames_since(&self, room: i64, since_ms: i64) -> bus::Replayed<'_> {
        Box::pin(chat::frames_since(&self.0, room, since_ms))
    }

    fn frames_between(&self, room: i64, from: i64, to: i64) -> bus::Replayed<'_> {
        Box::pin(chat::frames_between(&self.0, room, from, to))
    }
}

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
    let upgrade = match crate::realtime::socket::upgrade(&mut parts) {
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
                quota::Refused::Address => {
                    "too many chat connections from your network; close some and try again"
                }
                quota::Refused::Account => {
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
    let session_id = session.id;
    upgrade.accept(move |socket| async move {
        let realtime = state.realtime.clone();
        let link = realtime.connect(session.user.id, session_id, visible);
        let chat = ChatSocket::open(state, session.user, link.handle.clone()).await;
        connection::run(socket, &realtime, link, chat).await;
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
    /// Live messages up to this `seq` were in the `subscribed` backlog.
    skip_upto: i64,
    /// Read positions are kept and told here (a small room, a member who shows presence).
    seen_on: bool,
    /// The newest message this socket said was seen here.
    seen_upto: i64,
}

/// One member's socket as the chat sees it.
pub struct ChatSocket {
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
    /// What this socket may still ask for (subscribes, backlog bytes, edits, typing).
    budget: Budget,
    /// Over budget too often: the socket is closed with 1008 after this reply.
    closing: bool,
}

impl ChatSocket {
    async fn open(state: AppState, user: User, handle: ConnHandle) -> ChatSocket {
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
        let budget = Budget::new(state.limits.enabled());
        let who = Who {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
        };
        ChatSocket {
            state,
            user,
            who,
            handle,
            subs: HashMap::new(),
            sanctions,
            typing_at: HashMap::new(),
            sent_at: HashMap::new(),
            new_member,
            budget,
            closing: false,
        }
    }
}

impl Protocol for ChatSocket {
    async fn on_text(&mut self, text: &str) -> Vec<Utf8Bytes> {
        let frame = match frames::parse(text) {
            Ok(f) => f,
            Err(e) => return vec![frames::error(e.code, &e.message, e.nonce.as_deref()).into()],
        };
        let ask = match &frame {
            ClientFrame::Subscribe { .. } => Some(Ask::Subscribe),
            ClientFrame::Edit { .. } => Some(Ask::Edit),
            ClientFrame::Typing { .. } => Some(Ask::Typing),
            ClientFrame::React { .. } => Some(Ask::React),
            ClientFrame::Seen { .. } => Some(Ask::Seen),
            _ => None,
        };
        if let Some(ask) = ask
            && let Err(refusal) = self.budget.ask(ask)
        {
            return vec![self.refuse(&frame, refusal).into()];
        }
        let answer = match frame {
            ClientFrame::Ping => Some(Frame::Pong.to_json()),
            ClientFrame::Subscribe { room, since } => return self.subscribe(room, since).await,
            ClientFrame::Unsubscribe { room } => {
                self.leave(room);
                Some(Frame::Unsubscribed { room, reason: None }.to_json())
            }
            ClientFrame::Send {
                room,
                body,
                nonce,
                confirm_identifiers,
                attachments,
                reply_to,
            } => {
                let outgoing = Draft {
                    body,
                    nonce,
                    confirmed: confirm_identifiers,
                    attachments,
                    reply_to,
                };
                self.send(room, outgoing).await
            }
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
            // The room hears the change, this socket too: nothing more to answer.
            ClientFrame::React { message, kind, on } => {
                let reacted =
                    chat::reactions::set(&self.state, &self.user, message, &kind, on).await;
                reacted.err().map(|e| error_frame(&e, None))
            }
            ClientFrame::Seen { room, message } => self.seen(room, message).await,
        };
        answer.map(|a| vec![a.into()]).unwrap_or_default()
    }

    async fn on_queued(&mut self, item: Outbound) -> Write {
        match item {
            Outbound::Room {
                room,
                seq,
                kind,
                frame,
                ..
            } => {
                let Some(sub) = self.subs.get_mut(&room) else {
                    return Write::Nothing;
                };
                // Moderators changed the room: apply it here, and show the client too.
                if kind == Kind::RoomSettings
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(frame.as_str())
                    && let Ok(settings) =
                        serde_json::from_value::<chat::RoomSettings>(v["settings"].clone())
                {
                    sub.settings = settings;
                }
                if seq.is_some_and(|seq| seq <= sub.skip_upto) {
                    return Write::Nothing;
                }
                Write::Frame(frame)
            }
            Outbound::Personal(frame) => Write::Frame(frame),
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
                Write::Nothing
            }
            Outbound::Access { community, reason } => self.recheck(community, reason).await,
            Outbound::CatchUp { since_ms } => self.missed_notifications(since_ms).await,
            Outbound::Session => {
                if self.session_alive().await {
                    Write::Nothing
                } else {
                    Write::Close(4001, "session ended")
                }
            }
        }
    }

    fn on_close(&mut self) {
        let rooms: Vec<i64> = self.subs.keys().copied().collect();
        for room in rooms {
            self.leave(room);
        }
    }

    fn close_now(&mut self) -> Option<(u16, &'static str)> {
        self.closing.then_some((1008, "too many requests"))
    }
}

impl ChatSocket {
    /// The `rate_limited` answer to a request over the socket's budget; past the last one the
    /// socket closes after it.
    fn refuse(&mut self, frame: &ClientFrame, refusal: Refusal) -> String {
        let room = match frame {
            ClientFrame::Subscribe { room, .. }
            | ClientFrame::Typing { room }
            | ClientFrame::Seen { room, .. } => Some(*room),
            _ => None,
        };
        let message = match refusal {
            Refusal::Wait(ms) => format!("too many requests on this connection; wait {ms} ms"),
            Refusal::Close => {
                self.closing = true;
                "too many requests on this connection; closing it".to_owned()
            }
        };
        Frame::Error {
            code: "rate_limited",
            message: &message,
            nonce: None,
            room,
        }
        .to_json()
    }

    /// The `subscribed` answer, in pieces: the room's latest backlog is one shared buffer.
    async fn subscribe(&mut self, room: i64, since: Option<i64>) -> Vec<Utf8Bytes> {
        let access = match self.state.store.read().await {
            Ok(mut c) => chat::room_gate(&mut c, room, Some(&self.user)).await,
            Err(e) => Err(e.into()),
        };
        let (community_id, can_post) = match access {
            Ok((community_id, access)) if access.can_read() => (community_id, access.can_post()),
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
        // Register before reading the backlog, so nothing committed in between is lost; a room
        // new to this node hands over messages in order from its newest `seq` read before.
        if !self.subs.contains_key(&room) {
            let newest = match chat::newest_seq(&self.state.store, room).await {
                Ok(newest) => newest,
                Err(e) => return vec![error_frame(&e, None).into()],
            };
            if let PresenceChange::Joined = realtime.hub.subscribe(room, &self.handle, newest) {
                realtime.presence.joined(room, self.who.clone());
                // Other nodes count this member from now, not from the next announcement.
                realtime.presence.store_local(&realtime.hub, room).await;
            }
        }
        let (backlog, newest, truncated) = match since {
            Some(_) => match chat::backlog(&self.state.store, room, since, BACKLOG_SINCE).await {
                Ok((b, newest)) => (backlog_json(&b), newest, b.len() as i64 >= BACKLOG_SINCE),
                Err(e) => return vec![error_frame(&e, None).into()],
            },
            None => match realtime.hub.cached_backlog(room) {
                Ok((json, newest)) => (json, newest, false),
                Err(stamp) => {
                    match chat::backlog(&self.state.store, room, None, BACKLOG_LATEST).await {
                        Ok((b, newest)) => {
                            let json = backlog_json(&b);
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
        let visible = self.handle.visible;
        let (settings, joined_at, live_session, seen) = match self.state.store.read().await {
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
                // Read positions only in a small room, and never for a member hiding presence.
                let seen = if visible && chat::seen::is_small(&mut c, room).await.unwrap_or(false) {
                    chat::seen::positions(&mut c, room).await.ok()
                } else {
                    None
                };
                (settings, joined.unwrap_or(0), live, seen)
            }
            Err(_) => (chat::RoomSettings::default(), 0, None, None),
        };
        let seen_value = seen.as_deref().map(chat::seen::as_value);
        let seen_upto = seen
            .iter()
            .flatten()
            .find(|p| p.user.id == self.user.id)
            .map_or(0, |p| p.message);
        self.subs.insert(
            room,
            Sub {
                community_id,
                can_post,
                settings,
                joined_at,
                skip_upto: newest,
                seen_on: seen.is_some(),
                seen_upto,
            },
        );
        let online = realtime.presence.online(&realtime.hub, room).await;
        self.budget.sent_history(backlog.len());
        ServerFrame::Subscribed {
            room,
            online,
            truncated,
            live_session: live_session.as_ref(),
            seen: seen_value.as_ref(),
        }
        .encode_with_backlog(backlog)
        .into()
    }

    /// Checks the subscriptions to a community's rooms (all: `None`) again; each one lost is
    /// dropped and the client told why. A banned member loses them whatever the community's
    /// visibility; a database error keeps them (the next check decides).
    async fn recheck(&mut self, community: Option<i64>, reason: Revoked) -> Write {
        let rooms: Vec<i64> = self
            .subs
            .iter()
            .filter(|(_, s)| community.is_none_or(|c| c == s.community_id))
            .map(|(room, _)| *room)
            .collect();
        let mut lost = Vec::new();
        for room in rooms {
            if reason == Revoked::Banned {
                lost.push(room);
                continue;
            }
            let (state, user) = (&self.state, &self.user);
            let access = Box::pin(async {
                let mut c = state.store.read().await?;
                chat::room_gate(&mut c, room, Some(user)).await
            })
            .await;
            match access {
                Ok((_, access)) if access.can_read() => {
                    if let Some(sub) = self.subs.get_mut(&room) {
                        sub.can_post = access.can_post();
                    }
                }
                Ok(_) | Err(AppError::NotFound) => lost.push(room),
                Err(e) => tracing::warn!(room, error = %e, "chat: access re-check failed"),
            }
        }
        if lost.is_empty() {
            return Write::Nothing;
        }
        let mut frames = Vec::with_capacity(lost.len());
        for room in lost {
            self.leave(room);
            let frame = Frame::Unsubscribed {
                room,
                reason: Some(reason),
            };
            frames.push(frame.to_json().into());
        }
        Write::Frames(frames)
    }

    /// Whether the socket's session still holds and the member is not suspended (refreshing
    /// the sanctions on the way). When the database cannot tell, the socket stays.
    async fn session_alive(&mut self) -> bool {
        let (state, user, session) = (&self.state, self.user.id, self.handle.session_id);
        let found = Box::pin(async {
            let mut c = state.store.read().await.ok()?;
            let live = db!(
                c,
                fetch_optional scalar i64,
                "SELECT id FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
                session,
                now_ms()
            )
            .ok()?;
            let active = sanctions::active(&mut c, user).await.ok()?;
            Some((live.is_some(), active))
        })
        .await;
        let Some((live, active)) = found else {
            return true;
        };
        let suspended = active
            .iter()
            .any(|s| s.kind == "suspend" || (s.kind == "ban" && s.community_id.is_none()));
        self.sanctions = active;
        live && !suspended
    }

    /// Notifications made while the bus was away (`since_ms`), oldest first: other nodes'
    /// pushes may have been lost (one may also arrive twice: a notification carries its id).
    async fn missed_notifications(&mut self, since_ms: i64) -> Write {
        let page = crate::paging::PageParams {
            limit: Some(50),
            after: None,
        };
        let (state, user) = (&self.state, &self.user);
        let listed = Box::pin(crate::notify::list(state, user, &page)).await;
        let Ok(listed) = listed else {
            return Write::Nothing;
        };
        let frames: Vec<Utf8Bytes> = listed
            .items
            .iter()
            .rev()
            .filter(|n| n.created_at >= since_ms)
            .map(|notification| ServerFrame::Notification { notification }.to_json().into())
            .collect();
        if frames.is_empty() {
            Write::Nothing
        } else {
            Write::Frames(frames)
        }
    }

    fn leave(&mut self, room: i64) {
        if self.subs.remove(&room).is_some()
            && let PresenceChange::Left = self.state.realtime.hub.unsubscribe(room, &self.handle)
        {
            self.state.realtime.presence.left(room, self.who.clone());
        }
    }

    async fn send(&mut self, room: i64, draft: Draft) -> Option<String> {
        let Draft {
            body,
            nonce,
            confirmed,
            attachments,
            reply_to,
        } = draft;
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
            return Some(frames::error(
                "forbidden",
                chat::cannot_post(sub.community_id),
                n,
            ));
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
        // The quote is read once here, whatever the number of recipients.
        let reply_to = match reply_to {
            Some(id) => match chat::send::quote(&self.state, room, id).await {
                Ok(quote) => Some(quote),
                Err((code, why)) => return Some(frames::error(code, &why, n)),
            },
            None => None,
        };
        let mut fields = crate::error::FieldErrors::new();
        let checked = match crate::media::check_attachments(
            &self.state,
            &self.user,
            &attachments,
            &mut fields,
        )
        .await
        {
            Ok(checked) if fields.is_empty() => checked,
            Ok(_) => return Some(error_frame(&fields.into_error(), n)),
            Err(e) => return Some(error_frame(&e, n)),
        };
        let verdict = match chat::send::check(&self.state, &sender, &body, &checked, confirmed) {
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
            chat::send::Outgoing {
                body: &body,
                nonce: nonce.clone(),
                attachments: checked,
                reply_to,
            },
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

    /// The member has seen `room` up to `message`: kept, and told to the room, in a small room
    /// and for a member who shows presence; otherwise ignored.
    async fn seen(&mut self, room: i64, message: i64) -> Option<String> {
        let Some(sub) = self.subs.get(&room) else {
            return Some(room_error(
                "not_subscribed",
                "subscribe to the room first",
                room,
            ));
        };
        if !sub.seen_on || message <= sub.seen_upto {
            return None;
        }
        let (store, user) = (&self.state.store, self.user.id);
        let moved = Box::pin(async {
            let mut w = store.write().await?;
            chat::seen::mark(&mut w, room, user, message).await
        })
        .await;
        match moved {
            Ok(true) => {
                if let Some(sub) = self.subs.get_mut(&room) {
                    sub.seen_upto = message;
                }
                let seen = [chat::seen::Position {
                    user: self.who.clone(),
                    message,
                }];
                let frame = ServerFrame::Seen { room, seen: &seen }.encode();
                self.state.realtime.publish_room(room, None, frame);
                None
            }
            Ok(false) => None,
            Err(e) => Some(error_frame(&e, None)),
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
        let frame = Frame::Typing {
            room,
            user: &self.who,
        };
        self.state.realtime.publish_room(room, None, frame.encode());
    }
}

/// A `send` as the client wrote it.
struct Draft {
    body: String,
    nonce: Option<String>,
    /// The member confirmed publishing personal details.
    confirmed: bool,
    attachments: Vec<crate::media::AttachmentRequest>,
    reply_to: Option<i64>,
}

fn backlog_json(messages: &[chat::ChatMessage]) -> Utf8Bytes {
    serde_json::to_string(messages)
        .unwrap_or_else(|_| "[]".to_owned())
        .into()
}

fn room_error(code: &str, message: &str, room: i64) -> String {
    Frame::Error {
        code,
        message,
        nonce: None,
        room: Some(room),
    }
    .to_json()
}

/// An error frame for a server-side refusal, with the code the HTTP API would use.
fn error_frame(e: &AppError, nonce: Option<&str>) -> String {
    let code = match e {
        AppError::RateLimited { .. } => "rate_limited",
        AppError::NotFound => "not_found",
        AppError::Forbidden(_) => "forbidden",
        AppError::Invalid { fields, .. } if fields.contains("identifiers") => "identifiers",
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
