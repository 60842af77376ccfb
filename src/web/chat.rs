//! A group's chat (`/c/{slug}/chat`, one room at `/c/{slug}/chat/{room}`): the room's recent
//! messages rendered on the server, older ones a link away, and a form that sends — so it works
//! without JavaScript. With JavaScript, `site.js` subscribes over the WebSocket from the newest
//! message shown, so the page goes live without reloading or missing anything, and reconnects
//! by itself.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::forum::GroupItem;
use super::{Ctx, Layout, PageError, WebForm};
use crate::chat::{self, ChatMessage, Room};
use crate::communities::types::Visibility;
use crate::communities::{self, visible_community};
use crate::error::AppError;
use crate::moderation::crisis::CrisisLine;

/// Messages shown on the page; older ones are a link away.
const MESSAGES_SHOWN: i64 = 50;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "chat.html")]
struct ChatPage {
    l: Layout,
    g: GroupItem,
    rooms: Vec<Room>,
    /// The room shown, in `rooms`.
    current: usize,
    /// Oldest first.
    messages: Vec<ChatMessage>,
    /// `before` for the link to older messages.
    older: Option<String>,
    readable: bool,
    draft: String,
    error: Option<String>,
    /// The message was refused for personal details: offer to send it anyway.
    identifiers: bool,
    crisis: Vec<CrisisLine>,
    /// "Live now: <title> until <time>" when a live session runs in the room.
    live_banner: Option<(i64, String)>,
    /// The reader's zone: each message shows its day and time there.
    zone: crate::clock::Zone,
}

#[derive(Deserialize)]
pub struct Older {
    before: Option<i64>,
}

pub async fn default_room(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    let rooms = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        let (community, access) = visible_community(&mut conn, &slug, ctx.user()).await?;
        chat::rooms_of(&ctx.state, &mut conn, &community, &access).await?
    };
    let first = rooms.first().ok_or(AppError::NotFound)?;
    Ok(ctx.send(Redirect::to(&format!("/c/{slug}/chat/{}", first.id))))
}

pub async fn room(
    ctx: Ctx,
    Path((slug, room)): Path<(String, i64)>,
    Query(q): Query<Older>,
) -> Result<Response, PageError> {
    render(ctx, &slug, room, q.before, Refusal::default(), Vec::new()).await
}

/// A refused message, shown again with its words kept and why.
#[derive(Default)]
struct Refusal {
    draft: String,
    error: Option<String>,
    /// Refused for personal details only: the author may confirm.
    identifiers: bool,
}

async fn render(
    ctx: Ctx,
    slug: &str,
    room_id: i64,
    before: Option<i64>,
    refusal: Refusal,
    crisis: Vec<CrisisLine>,
) -> Result<Response, PageError> {
    let Refusal {
        draft,
        error,
        identifiers,
    } = refusal;
    let c = communities::get_community(&ctx.state, ctx.user(), slug).await?;
    let mut rooms = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        let (community, access) = visible_community(&mut conn, slug, ctx.user()).await?;
        chat::rooms_of(&ctx.state, &mut conn, &community, &access).await?
    };
    for r in &mut rooms {
        r.name = super::format::room_name(ctx.texts, &r.name);
        r.topic = super::format::room_topic(ctx.texts, &r.topic);
    }
    // A room of another group is not found here.
    let Some(current) = rooms.iter().position(|r| r.id == room_id) else {
        return Err(AppError::NotFound.into());
    };
    let room = &rooms[current];
    let (messages, older, readable) =
        match chat::read_history(&ctx.state, ctx.user(), room_id, before, MESSAGES_SHOWN).await {
            Ok(page) => {
                let mut items = page.items;
                items.reverse();
                (items, page.next, true)
            }
            Err(AppError::Forbidden(_)) => (Vec::new(), None, false),
            Err(e) => return Err(e.into()),
        };
    let zone = super::calendar::reader_zone(&ctx).await?;
    let live_banner = match &room.live_session {
        Some(live) => {
            let until = zone.local(live.ends_at).format("%H:%M").to_string();
            Some((
                live.id,
                ctx.texts.fill(
                    "calendar.live_now",
                    &[("title", &live.title), ("time", &until)],
                ),
            ))
        }
        None => None,
    };
    let title = format!("{} · {}", room.name, c.name);
    let mut l = ctx.layout(title).await;
    l.noindex |= c.visibility != Visibility::Public;
    let status = super::form_status(error.is_some());
    let page = ChatPage {
        l,
        g: GroupItem::new(c),
        rooms,
        current,
        messages,
        older,
        readable,
        draft,
        error,
        identifiers,
        crisis,
        live_banner,
        zone,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
    confirm_identifiers: Option<String>,
}

impl ChatPage {
    fn room(&self) -> Option<&Room> {
        self.rooms.get(self.current)
    }

    /// A message's day and time in the reader's zone ("5 mar 2026, 18:00 IST").
    fn when(&self, ms: &i64) -> String {
        super::format::at_zoned(self.l.texts, self.zone, *ms)
    }

    /// A message's moment for `<time datetime>`.
    fn stamp(&self, ms: &i64) -> String {
        crate::store::format_ms(*ms)
    }
}

/// The form's send (no JavaScript): back to the room, or the room with the refusal and the
/// words kept so nothing typed is lost.
pub async fn send(
    Path((slug, room)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<MessageForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    match chat::send::from_form(
        &ctx.state,
        &user,
        room,
        &form.body,
        form.confirm_identifiers.is_some(),
    )
    .await
    {
        Ok((_, None)) => Ok(ctx.send(Redirect::to(&format!("/c/{slug}/chat/{room}#composer")))),
        // Words that suggest a crisis: the room again, with the crisis lines for them alone.
        Ok((_, Some(lines))) => render(ctx, &slug, room, None, Refusal::default(), lines).await,
        Err(e) => {
            let identifiers =
                matches!(&e, AppError::Invalid { fields, .. } if fields.contains("identifiers"));
            let key = match &e {
                _ if identifiers => "crisis_web.chat_identifiers",
                AppError::Invalid { .. } if form.body.trim().is_empty() => "chat.empty",
                AppError::Invalid { .. } if form.body.chars().count() > chat::MAX_MESSAGE_CHARS => {
                    "chat.too_long"
                }
                AppError::Invalid { .. } => "chat.rejected",
                AppError::Forbidden(_) => "chat.not_now",
                AppError::BadRequest { code, .. } => match *code {
                    "slow_mode" => "chat.refused_slow_mode",
                    "quiet_hours" => "chat.refused_quiet_hours",
                    "new_joiner_delay" => "chat.refused_new_joiner_delay",
                    _ => return Err(e.into()),
                },
                AppError::RateLimited { .. } => "errors.rate_limited",
                _ => return Err(e.into()),
            };
            let why = ctx.texts.get(key).to_owned();
            let refusal = Refusal {
                draft: form.body,
                error: Some(why),
                identifiers,
            };
            render(ctx, &slug, room, None, refusal, Vec::new()).await
        }
    }
}
