//! Conversations on the web: `/conversations` (the list with unread counts, requests to accept
//! or decline, and the form that starts one: the profile's "Message" button lands there), and one
//! conversation at `/conversations/{id}`, shown as a room's chat is — server-rendered messages and
//! a form that sends without JavaScript; with it, `site.js` makes the same markup live.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::chat::{MessageView, ReactForm};
use super::{Ctx, Layout, PageError, WebForm};
use crate::chat::{self, ReplyQuote};
use crate::conversations::{self, Conversation, NewConversation};
use crate::error::AppError;
use crate::moderation::crisis::CrisisLine;

const MESSAGES_SHOWN: i64 = 50;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "conversations.html")]
struct ListPage {
    l: Layout,
    requests: Vec<Conversation>,
    others: Vec<Conversation>,
    /// The start form: to whom, and the words kept after a refusal.
    to: String,
    draft: String,
    error: Option<String>,
    identifiers: bool,
}

impl ListPage {
    /// The others in a conversation, by name, for the viewer `me`.
    fn names(&self, c: &Conversation) -> String {
        names(c, self.l.user.as_ref().map(|u| u.username.as_str()))
    }
}

fn names(c: &Conversation, me: Option<&str>) -> String {
    let others: Vec<&str> = c
        .members
        .iter()
        .filter(|m| Some(m.member.username.as_str()) != me)
        .map(|m| m.member.display_name.as_str())
        .collect();
    if others.is_empty() {
        "—".to_owned()
    } else {
        others.join(", ")
    }
}

#[derive(Deserialize)]
pub struct To {
    to: Option<String>,
}

pub async fn list(ctx: Ctx, Query(q): Query<To>) -> Result<Response, PageError> {
    render_list(ctx, q.to.unwrap_or_default(), String::new(), None, false).await
}

async fn render_list(
    ctx: Ctx,
    to: String,
    draft: String,
    error: Option<String>,
    identifiers: bool,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let all = conversations::list(&ctx.state, &session.user).await?;
    let (requests, others): (Vec<Conversation>, Vec<Conversation>) =
        all.into_iter().partition(|c| c.my_state == "invited");
    let mut l = ctx
        .layout(ctx.texts.get("conversations.title").to_owned())
        .await;
    l.noindex = true;
    let status = super::form_status(error.is_some());
    let page = ListPage {
        l,
        requests,
        others,
        to,
        draft,
        error,
        identifiers,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    body: String,
    confirm_identifiers: Option<String>,
}

/// Starts a conversation from the form; on a refusal the list again with the words kept.
pub async fn start(WebForm { ctx, form }: WebForm<StartForm>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    let req = NewConversation {
        with: form
            .to
            .split([',', ' '])
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
        body: form.body.clone(),
        confirm_identifiers: form.confirm_identifiers.is_some(),
    };
    match conversations::start(&ctx.state, &user, &req).await {
        Ok(c) => Ok(ctx.send(Redirect::to(&format!("/conversations/{}", c.id)))),
        Err(e) => {
            let identifiers =
                matches!(&e, AppError::Invalid { fields, .. } if fields.contains("identifiers"));
            let key = match &e {
                _ if identifiers => "crisis_web.chat_identifiers",
                AppError::Invalid { fields, .. } if fields.contains("with") => {
                    "conversations.bad_to"
                }
                AppError::Invalid { .. } if form.body.trim().is_empty() => "chat.empty",
                AppError::Invalid { .. } => "chat.rejected",
                AppError::Forbidden(_) => "conversations.not_taking",
                AppError::RateLimited { .. } => "conversations.too_many",
                _ => return Err(e.into()),
            };
            let why = ctx.texts.get(key).to_owned();
            render_list(ctx, form.to, form.body, Some(why), identifiers).await
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "conversation.html")]
struct ConversationPage {
    l: Layout,
    c: Conversation,
    title: String,
    /// Oldest first, folded where the reader keeps the author away.
    messages: Vec<MessageView>,
    /// The message the composer answers (`?reply_to=`, or a refused send's), quoted.
    replying: Option<ReplyQuote>,
    older: Option<String>,
    draft: String,
    error: Option<String>,
    identifiers: bool,
    crisis: Vec<CrisisLine>,
    zone: crate::clock::Zone,
}

impl ConversationPage {
    fn when(&self, ms: &i64) -> String {
        super::format::at_zoned(self.l.texts, self.zone, *ms)
    }

    fn stamp(&self, ms: &i64) -> String {
        crate::store::format_ms(*ms)
    }

    fn reaction_names(&self) -> String {
        super::chat::reaction_names(self.l.texts)
    }

    /// The conversation's page (`_chat_message.html`, `_chat_replying.html`).
    fn chat_href(&self) -> String {
        format!("/conversations/{}", self.c.id)
    }

    /// The reader may reply and react here.
    fn can_act(&self) -> bool {
        self.c.can_send
    }
}

#[derive(Deserialize)]
pub struct Older {
    before: Option<i64>,
    /// Answer this message (its "Reply" link, without JavaScript).
    reply_to: Option<i64>,
}

pub async fn page(
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<Older>,
) -> Result<Response, PageError> {
    let refusal = Refusal {
        reply_to: q.reply_to,
        ..Refusal::default()
    };
    render(ctx, id, q.before, refusal, Vec::new()).await
}

#[derive(Default)]
struct Refusal {
    draft: String,
    error: Option<String>,
    identifiers: bool,
    /// The message being answered.
    reply_to: Option<i64>,
}

async fn render(
    ctx: Ctx,
    id: i64,
    before: Option<i64>,
    refusal: Refusal,
    crisis: Vec<CrisisLine>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    let c = conversations::get(&ctx.state, &user, id).await?;
    let history =
        chat::read_history(&ctx.state, Some(&user), c.room, before, MESSAGES_SHOWN).await?;
    if before.is_none() {
        conversations::mark_read(&ctx.state, &user, id).await?;
    }
    let mut messages = history.items;
    if let Some(s) = &ctx.session {
        crate::blocks::mark_messages(&s.kept_away, &mut messages);
    }
    messages.reverse();
    let messages = messages.into_iter().map(MessageView::new).collect();
    // Quoted only when it is a message of this conversation: the send checks it again.
    let replying = match refusal.reply_to {
        Some(quoted) if c.can_send => chat::send::quote(&ctx.state, c.room, quoted).await.ok(),
        _ => None,
    };
    // What the member was writing here, kept on the server (a reload, another device).
    let draft = if refusal.draft.is_empty() && c.can_send {
        crate::drafts::body_of(&ctx.state, user.id, &crate::drafts::Key::Conversation(id)).await
    } else {
        refusal.draft
    };
    let zone = super::calendar::reader_zone(&ctx).await?;
    let title = ctx.texts.fill(
        "conversations.with",
        &[("names", &names(&c, Some(user.username.as_str())))],
    );
    let mut l = ctx.layout(title.clone()).await;
    l.noindex = true;
    let status = super::form_status(refusal.error.is_some());
    let page = ConversationPage {
        l,
        c,
        title,
        messages,
        replying,
        older: history.next,
        draft,
        error: refusal.error,
        identifiers: refusal.identifiers,
        crisis,
        zone,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    body: String,
    confirm_identifiers: Option<String>,
    /// The message this one answers ("" or absent: none).
    #[serde(default)]
    reply_to: String,
}

/// The form's send (no JavaScript), through the same rules as the socket: a reply must answer
/// a message of this conversation, as over the socket.
pub async fn send(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<MessageForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    let c = conversations::get(&ctx.state, &user, id).await?;
    let reply_to = form.reply_to.trim().parse::<i64>().ok();
    let sent = chat::send::from_form(
        &ctx.state,
        &user,
        c.room,
        &form.body,
        &[],
        reply_to,
        form.confirm_identifiers.is_some(),
    )
    .await;
    // Kept on the server when refused, forgotten once sent (see `drafts::after_form`).
    let draft_key = crate::drafts::Key::Conversation(id);
    crate::drafts::after_form(
        &ctx.state,
        user.id,
        &draft_key,
        &form.body,
        sent.as_ref().err(),
    )
    .await;
    match sent {
        Ok((_, None)) => Ok(ctx.send(Redirect::to(&format!("/conversations/{id}#composer")))),
        Ok((_, Some(lines))) => render(ctx, id, None, Refusal::default(), lines).await,
        Err(e) => {
            let identifiers =
                matches!(&e, AppError::Invalid { fields, .. } if fields.contains("identifiers"));
            let key = match &e {
                _ if identifiers => "crisis_web.chat_identifiers",
                AppError::Invalid { fields, .. } if fields.contains("reply_to") => {
                    "chat_feel.reply_gone"
                }
                AppError::Invalid { .. } if form.body.trim().is_empty() => "chat.empty",
                AppError::Invalid { .. } if form.body.chars().count() > chat::MAX_MESSAGE_CHARS => {
                    "chat.too_long"
                }
                AppError::Invalid { .. } => "chat.rejected",
                AppError::Forbidden(_) => "conversations.cannot_send",
                AppError::RateLimited { .. } => "errors.rate_limited",
                _ => return Err(e.into()),
            };
            let refusal = Refusal {
                error: Some(ctx.texts.get(key).to_owned()),
                draft: form.body,
                identifiers,
                reply_to,
            };
            render(ctx, id, None, refusal, Vec::new()).await
        }
    }
}

/// A reaction from the page without JavaScript (or when the socket is closed); back to the
/// message. Only on a message of this conversation, by one of its members.
pub async fn react(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<ReactForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let c = conversations::get(&ctx.state, &user, id).await?;
    if crate::conversations::of_message(&ctx.state, form.message)
        .await?
        .is_none_or(|(found, _)| found != c.id)
    {
        return Err(AppError::NotFound.into());
    }
    form.apply(&ctx).await?;
    let to = format!("/conversations/{id}#m-{}", form.message);
    Ok(ctx.send(Redirect::to(&to)))
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn accept(
    Path(id): Path<i64>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    conversations::accept(&ctx.state, &user, id).await?;
    Ok(ctx.send(Redirect::to(&format!("/conversations/{id}"))))
}

pub async fn decline(
    Path(id): Path<i64>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    conversations::step_out(&ctx.state, &user, id, true).await?;
    Ok(ctx.send(Redirect::to("/conversations")))
}

pub async fn leave(
    Path(id): Path<i64>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    conversations::step_out(&ctx.state, &user, id, false).await?;
    Ok(ctx.send(Redirect::to("/conversations")))
}

/// `/me/conversations-waiting`: the menu's count of requests and unread conversations, with the
/// link's words in the member's language, for `site.js` to refresh after a live `conversation`
/// frame.
pub async fn waiting(ctx: Ctx) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let count = conversations::waiting(&ctx.state, &session.user).await?;
    let label = if count > 0 {
        ctx.texts
            .fill("convlive.nav_new", &[("n", &ctx.texts.number(count))])
    } else {
        ctx.texts.get("convlive.nav").to_owned()
    };
    Ok(ctx.send(axum::Json(
        serde_json::json!({"count": count, "label": label}),
    )))
}
