//! A group's chat (`/c/{slug}/chat`, one room at `/c/{slug}/chat/{room}`): the room's recent
//! messages rendered on the server, older ones a link away, and a form that sends — so it works
//! without JavaScript. With JavaScript, `site.js` subscribes over the WebSocket from the newest
//! message shown, so the page goes live without reloading or missing anything, and reconnects
//! by itself.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::forum::{GroupItem, REACTIONS, ReactionButton};
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
    messages: Vec<MessageView>,
    /// The message the composer answers (`?reply_to=`), quoted.
    replying: Option<chat::ReplyQuote>,
    /// "Seen by N" under the newest message, in a small room.
    seen_line: Option<String>,
    /// `before` for the link to older messages.
    older: Option<String>,
    readable: bool,
    draft: String,
    media_id: Option<i64>,
    alt: String,
    error: Option<String>,
    /// The message was refused for personal details: offer to send it anyway.
    identifiers: bool,
    crisis: Vec<CrisisLine>,
    /// "Live now: <title> until <time>" when a live session runs in the room.
    live_banner: Option<(i64, String)>,
    /// The reader's zone: each message shows its day and time there.
    zone: crate::clock::Zone,
    /// Whom the reader blocks or ignores, for the script collapsing live messages.
    kept_away: String,
}

#[derive(Deserialize)]
pub struct Older {
    before: Option<i64>,
    /// Answer this message (the "Reply" link).
    reply_to: Option<i64>,
}

/// A message as the page shows it, with its reaction buttons.
pub struct MessageView {
    pub m: ChatMessage,
    /// Every kind, with counts and whether the reader gave it.
    pub reactions: Vec<ReactionButton>,
}

impl MessageView {
    pub fn new(m: ChatMessage) -> MessageView {
        let reactions = REACTIONS
            .iter()
            .map(|(kind, emoji)| ReactionButton {
                kind: kind.as_str(),
                emoji,
                key: format!("reaction.{}", kind.as_str()),
                count: m.reactions.get(kind.as_str()).copied().unwrap_or(0),
                mine: m.my_reactions.iter().any(|k| k == kind.as_str()),
            })
            .collect();
        MessageView { m, reactions }
    }

    /// Whether any reaction was given (counts shown outside the menu).
    pub fn reacted(&self) -> bool {
        self.reactions.iter().any(|r| r.count > 0)
    }
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
    let refusal = Refusal {
        reply_to: q.reply_to,
        ..Refusal::default()
    };
    render(ctx, &slug, room, q.before, refusal, Vec::new()).await
}

/// A refused message, shown again with its words kept and why.
#[derive(Default)]
struct Refusal {
    draft: String,
    /// A file sent with the refused message, kept so it is not uploaded again.
    media_id: Option<i64>,
    alt: String,
    error: Option<String>,
    /// Refused for personal details only: the author may confirm.
    identifiers: bool,
    /// The message being answered.
    reply_to: Option<i64>,
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
        mut draft,
        media_id,
        alt,
        error,
        identifiers,
        reply_to,
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
                if let Some(s) = &ctx.session {
                    crate::blocks::mark_messages(&s.kept_away, &mut items);
                }
                items.reverse();
                (items, page.next, true)
            }
            Err(AppError::Forbidden(_)) => (Vec::new(), None, false),
            Err(e) => return Err(e.into()),
        };
    // What the member was writing here, kept on the server (a reload, another device).
    if let Some(user) = ctx.user()
        && readable
        && draft.is_empty()
    {
        draft =
            crate::drafts::body_of(&ctx.state, user.id, &crate::drafts::Key::Room(room_id)).await;
    }
    let replying = match (reply_to, ctx.user()) {
        (Some(id), Some(_)) if readable => chat::send::quote(&ctx.state, room_id, id).await.ok(),
        _ => None,
    };
    let seen_line = if readable && before.is_none() {
        seen_line(&ctx, room_id, messages.last()).await
    } else {
        None
    };
    let messages = messages.into_iter().map(MessageView::new).collect();
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
        replying,
        seen_line,
        older,
        readable,
        draft,
        media_id,
        alt,
        error,
        identifiers,
        crisis,
        live_banner,
        zone,
        kept_away: ctx
            .session
            .as_ref()
            .map(|s| s.kept_away.for_script())
            .unwrap_or_default(),
    };
    Ok(ctx.send_status(status, page))
}

/// In a small room, for a reader who shows presence: marks the newest message seen by the reader
/// and says how many others have seen it ("Seen by N"; none yet: nothing).
async fn seen_line(ctx: &Ctx, room: i64, newest: Option<&ChatMessage>) -> Option<String> {
    let (user, newest) = (ctx.user()?, newest?);
    let counted = async {
        let mut w = ctx.state.store.write().await?;
        if chat::seen::hides_presence(&mut w, user.id).await?
            || !chat::seen::is_small(&mut w, room).await?
        {
            return Ok::<_, AppError>(None);
        }
        chat::seen::mark(&mut w, room, user.id, newest.id).await?;
        let author = newest.author.as_ref().map(|a| a.id);
        let n = chat::seen::positions(&mut w, room)
            .await?
            .iter()
            .filter(|p| p.message >= newest.id && Some(p.user.id) != author)
            .count();
        Ok(Some(n))
    };
    match counted.await {
        Ok(Some(n)) if n > 0 => Some(
            ctx.texts
                .fill("chat_feel.seen_by", &[("n", &ctx.texts.number(n as i64))]),
        ),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "chat page: read positions");
            None
        }
    }
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
    confirm_identifiers: Option<String>,
    /// A photo or voice note sent with the form (see `csrf::multipart_as_form`).
    #[serde(default)]
    media_id: String,
    #[serde(default)]
    alt: String,
    #[serde(default)]
    media_error: String,
    /// The message this one answers ("" or absent: none).
    #[serde(default)]
    reply_to: String,
}

impl ChatPage {
    fn room(&self) -> Option<&Room> {
        self.rooms.get(self.current)
    }

    /// A message's day and time in the reader's zone ("5 mar 2026, 18:00 IST").
    fn when(&self, ms: &i64) -> String {
        super::format::at_zoned(self.l.texts, self.zone, *ms)
    }

    /// The room's page (`_chat_message.html`, `_chat_replying.html`).
    fn chat_href(&self) -> String {
        format!(
            "/c/{}/chat/{}",
            self.g.c.slug,
            self.room().map_or(0, |r| r.id)
        )
    }

    /// The reader may reply and react here.
    fn can_act(&self) -> bool {
        self.g.member
    }

    fn reaction_names(&self) -> String {
        reaction_names(self.l.texts)
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
    let reply_to = form.reply_to.trim().parse::<i64>().ok();
    let draft_key = crate::drafts::Key::Room(room);
    let sent =
        match super::forum::form_attachments(&ctx, &form.media_id, &form.alt, &form.media_error) {
            Ok(attachments) => {
                chat::send::from_form(
                    &ctx.state,
                    &user,
                    room,
                    &form.body,
                    &attachments,
                    reply_to,
                    form.confirm_identifiers.is_some(),
                )
                .await
            }
            Err(e) => Err(e),
        };
    // Kept on the server when refused, forgotten once sent (see `drafts::after_form`).
    let refused = sent.as_ref().err();
    crate::drafts::after_form(&ctx.state, user.id, &draft_key, &form.body, refused).await;
    match sent {
        Ok((_, None)) => Ok(ctx.send(Redirect::to(&format!("/c/{slug}/chat/{room}#composer")))),
        // Words that suggest a crisis: the room again, with the crisis lines for them alone.
        Ok((_, Some(lines))) => render(ctx, &slug, room, None, Refusal::default(), lines).await,
        Err(e) => {
            let identifiers =
                matches!(&e, AppError::Invalid { fields, .. } if fields.contains("identifiers"));
            let key = match &e {
                _ if identifiers => "crisis_web.chat_identifiers",
                AppError::Invalid { fields, .. } if fields.names().any(|f| f.ends_with(".alt")) => {
                    "chat.alt_needed"
                }
                AppError::Invalid { fields, .. }
                    if fields.names().any(|f| f.starts_with("attachments")) =>
                {
                    "chat.file_refused"
                }
                AppError::Invalid { fields, .. } if fields.contains("reply_to") => {
                    "chat_feel.reply_gone"
                }
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
            // Why a file could not be taken is already in the member's words.
            let why = match &e {
                AppError::Invalid { fields, .. } if fields.contains("file") => fields
                    .get("file")
                    .and_then(|w| w.first())
                    .cloned()
                    .unwrap_or_default(),
                _ => ctx.texts.get(key).to_owned(),
            };
            let refusal = Refusal {
                draft: form.body,
                media_id: form.media_id.trim().parse().ok(),
                alt: form.alt,
                error: Some(why),
                identifiers,
                reply_to,
            };
            render(ctx, &slug, room, None, refusal, Vec::new()).await
        }
    }
}

#[derive(Deserialize)]
pub struct ReactForm {
    /// The message reacted to.
    pub message: i64,
    /// `kind:on` adds the reaction, `kind:off` takes it back (one button each).
    #[serde(default)]
    react: String,
}

impl ReactForm {
    /// Gives or takes back the reaction the button names, by the same rules as the socket's.
    pub async fn apply(&self, ctx: &Ctx) -> Result<(), PageError> {
        let user = &ctx.require()?.user;
        let (kind, on) = match self.react.split_once(':') {
            Some((kind, "on")) => (kind, true),
            Some((kind, "off")) => (kind, false),
            _ => return Err(AppError::invalid("react", "kind:on or kind:off").into()),
        };
        chat::reactions::set(&ctx.state, user, self.message, kind, on).await?;
        Ok(())
    }
}

/// A reaction from the page without JavaScript; back to the message.
pub async fn react(
    Path((slug, room)): Path<(String, i64)>,
    WebForm { ctx, form }: WebForm<ReactForm>,
) -> Result<Response, PageError> {
    form.apply(&ctx).await?;
    let to = format!("/c/{slug}/chat/{room}#m-{}", form.message);
    Ok(ctx.send(Redirect::to(&to)))
}

/// The reaction kinds for a chat page's script: `[[kind, emoji, label], ...]` as JSON.
pub(super) fn reaction_names(texts: &crate::i18n::Texts) -> String {
    let names: Vec<[String; 3]> = REACTIONS
        .iter()
        .map(|(kind, emoji)| {
            let key = format!("reaction.{}", kind.as_str());
            let label = texts.get(&key).to_owned();
            [kind.as_str().to_owned(), (*emoji).to_owned(), label]
        })
        .collect();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}
