//! Sending a chat message: the rules every message meets (length, filters, quiet hours, the
//! new-joiner delay, slow mode, sanctions, the per-account rate) and the hand-off to the writer.
//! The WebSocket `send` op and the web page's form (which works without JavaScript) both come
//! through here, so a rule never holds on one path and not on the other.

use crate::accounts::User;
use crate::app::AppState;
use crate::communities::MemberSummary;
use crate::error::{AppError, AppResult};
use crate::moderation::crisis::CrisisLine;
use crate::moderation::sanctions::{self, Active};
use crate::publish::Verdict;
use crate::ratelimit::Limit;
use crate::store::now_ms;
use crate::{db, markdown};

use super::RoomSettings;

/// New members (trust level 0) send at most one message per this many seconds.
const NEW_MEMBER_SLOW_SECONDS: i64 = 2;

/// What the rules need to know about one sender in one room.
pub struct Sender<'a> {
    pub room: i64,
    pub community_id: i64,
    pub settings: &'a RoomSettings,
    /// When the member joined the community (for the new-joiner delay).
    pub joined_at: i64,
    /// Trust level 0.
    pub new_member: bool,
    /// When they last sent to this room (for slow mode), in milliseconds.
    pub last_sent_at: Option<i64>,
    pub sanctions: &'a [Active],
}

/// A refusal: the error code of API.md's error frame and words for the member.
pub type Refusal = (&'static str, String);

/// Why this message may not be sent now, if it may not; else the screening's verdict for
/// `deliver` to carry out. `confirmed`: the member confirmed publishing personal details. The
/// attachments' alt text is screened with the words.
pub fn check(
    state: &AppState,
    sender: &Sender<'_>,
    body: &str,
    attachments: &crate::media::Checked,
    confirmed: bool,
) -> Result<Verdict, Refusal> {
    super::check_body(body)?;
    let verdict = crate::publish::screen_chat(state, &attachments.screened_with(body), confirmed)?;
    match refusal(state, sender) {
        Some(refused) => Err(refused),
        None => Ok(verdict),
    }
}

/// Why this sender may not send now, whatever the text (screened by `check`).
fn refusal(state: &AppState, sender: &Sender<'_>) -> Option<Refusal> {
    let rules = state.rules.get();
    let now = now_ms();
    let minute = (now / 60_000 % (24 * 60)) as u32;
    let room_quiet = sender
        .settings
        .quiet_hours
        .as_deref()
        .is_some_and(|q| crate::moderation::rules::in_quiet_hours(q, minute));
    if rules.quiet_now(sender.room, minute) || room_quiet {
        return Some((
            "quiet_hours",
            "this room is resting now; it opens again after its quiet hours".into(),
        ));
    }
    let limited = state.limits.enabled();
    let delay_ms = sender.settings.new_joiner_delay_minutes * 60_000;
    if limited && delay_ms > 0 && now < sender.joined_at + delay_ms {
        return Some((
            "new_joiner_delay",
            format!(
                "welcome! you can send messages here {} minutes after joining; until then, read along",
                sender.settings.new_joiner_delay_minutes
            ),
        ));
    }
    // New members chat a little slower until they have taken part for a while.
    let new_member_floor = if sender.new_member {
        NEW_MEMBER_SLOW_SECONDS
    } else {
        0
    };
    let slow = rules
        .room(sender.room)
        .map(|r| r.slow_mode_seconds as i64)
        .unwrap_or(0)
        .max(sender.settings.slow_mode_seconds.max(0))
        .max(new_member_floor);
    if limited
        && slow > 0
        && sender
            .last_sent_at
            .is_some_and(|at| now.saturating_sub(at) < slow * 1000)
    {
        return Some((
            "slow_mode",
            format!("slow mode: one message every {slow} seconds here"),
        ));
    }
    if let Some(why) = sanctions::refuses(sender.sanctions, sender.community_id, now) {
        return Some((why, format!("you cannot send messages here now ({why})")));
    }
    None
}

/// The frame that gives the author alone the crisis lines for their message `id` in `room`.
pub fn crisis_frame(room: i64, id: i64, lines: &[CrisisLine]) -> String {
    crate::realtime::frames::ServerFrame::CrisisResources {
        room,
        message_id: id,
        lines: &lines,
    }
    .to_json()
}

/// What a member sends: the words, the socket's nonce, the media checked as theirs, and the
/// message it answers (quoted by [`quote`]).
pub struct Outgoing<'a> {
    pub body: &'a str,
    pub nonce: Option<String>,
    pub attachments: crate::media::Checked,
    pub reply_to: Option<super::ReplyQuote>,
}

/// The quote of message `id` for a reply sent to `room`, read once per send (never per
/// recipient); refused unless it is a message of this room its reader can see.
pub async fn quote(state: &AppState, room: i64, id: i64) -> Result<super::ReplyQuote, Refusal> {
    let not_here = || {
        (
            "reply_not_found",
            "the message you are replying to is not in this room (or was deleted)".to_owned(),
        )
    };
    let found = async {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_optional as (i64, Option<i64>, Option<String>, Option<String>, String),
            "SELECT m.room_id, m.author_id, u.username, u.display_name, m.body
             FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id
             WHERE m.id = $1 AND m.deleted_at IS NULL AND m.hidden_at IS NULL",
            id
        )
        .map_err(AppError::from)
    };
    match Box::pin(found).await {
        Ok(Some((in_room, author_id, username, display_name, body))) if in_room == room => {
            Ok(super::ReplyQuote {
                id,
                author: MemberSummary::from_columns(author_id, username, display_name),
                excerpt: Some(super::excerpt(&body)),
                deleted: false,
            })
        }
        Ok(_) => Err(not_here()),
        Err(e) => {
            tracing::warn!(error = %e, "chat: reading a replied-to message");
            Err((
                "unavailable",
                "the message could not be sent; please try again shortly".to_owned(),
            ))
        }
    }
}

/// Counts the message against the member's rate, stores it and publishes it (stored before
/// anyone receives it); the id, and the crisis lines when the words suggest the author may be
/// in crisis (for them alone).
pub async fn deliver(
    state: &AppState,
    user: &User,
    room: i64,
    community_id: i64,
    message: Outgoing<'_>,
    verdict: &Verdict,
) -> AppResult<(i64, Option<Vec<CrisisLine>>)> {
    let Outgoing {
        body,
        nonce,
        attachments,
        reply_to,
    } = message;
    state
        .limits
        .check(Limit::ChatPerAccount, &user.id.to_string())
        .await?;
    if community_id == super::CONVERSATIONS {
        // Checked at each message: an answer, a block or a moderator's end may have come since
        // the socket subscribed.
        crate::conversations::check_can_send(state, room, user.id).await?;
    }
    let html = markdown::render(body).html;
    let author = MemberSummary {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
    };
    let id = state
        .chat
        .send(
            room,
            author,
            body.to_owned(),
            html,
            nonce,
            attachments,
            reply_to,
        )
        .await?;
    let lines = verdict
        .apply_message(state, community_id, id, user.id)
        .await;
    Ok((id, lines))
}

/// A message sent from the web page's form: the same rules as the socket, with what a socket
/// keeps in memory (the room's settings, the member's sanctions, their last message here)
/// read from the database instead.
pub async fn from_form(
    state: &AppState,
    user: &User,
    room: i64,
    body: &str,
    attachments: &[crate::media::AttachmentRequest],
    reply_to: Option<i64>,
    confirmed: bool,
) -> AppResult<(i64, Option<Vec<CrisisLine>>)> {
    let mut conn = state.store.read().await?;
    let (community_id, access) = super::room_gate(&mut conn, room, Some(user)).await?;
    if !access.can_read() {
        return Err(AppError::forbidden(
            "join this community to follow its chat",
        ));
    }
    if !access.can_post() {
        return Err(AppError::forbidden(super::cannot_post(community_id)));
    }
    let settings = super::room_settings(&mut conn, room).await?;
    let joined_at = db!(
        conn,
        fetch_optional scalar i64,
        "SELECT created_at FROM memberships WHERE community_id = $1 AND user_id = $2",
        community_id,
        user.id
    )?
    .unwrap_or(0);
    let last_sent_at = db!(
        conn,
        fetch_optional scalar Option<i64>,
        "SELECT MAX(created_at) FROM chat_messages WHERE room_id = $1 AND author_id = $2",
        room,
        user.id
    )?
    .flatten();
    let active = sanctions::active(&mut conn, user.id).await?;
    let new_member = crate::moderation::trust::level(&mut conn, user.id).await? == 0;
    drop(conn);
    let sender = Sender {
        room,
        community_id,
        settings: &settings,
        joined_at,
        new_member,
        last_sent_at,
        sanctions: &active,
    };
    let mut fields = crate::error::FieldErrors::new();
    let attachments =
        crate::media::check_attachments(state, user, attachments, &mut fields).await?;
    fields.into_result()?;
    let verdict = match check(state, &sender, body, &attachments, confirmed) {
        Ok(verdict) => verdict,
        Err(("identifiers", why)) => return Err(AppError::invalid("identifiers", why)),
        Err(("empty" | "too_long" | "rejected", why)) => {
            return Err(AppError::invalid("body", why));
        }
        // The page says why in the reader's language, by the code.
        Err((code @ ("slow_mode" | "quiet_hours" | "new_joiner_delay"), why)) => {
            return Err(AppError::bad_request(code, why));
        }
        Err((_, why)) => return Err(AppError::forbidden(why)),
    };
    let reply_to = match reply_to {
        Some(id) => Some(quote(state, room, id).await.map_err(|(code, why)| {
            if code == "reply_not_found" {
                AppError::invalid("reply_to", why)
            } else {
                AppError::Unavailable(why)
            }
        })?),
        None => None,
    };
    let message = Outgoing {
        body,
        nonce: None,
        attachments,
        reply_to,
    };
    deliver(state, user, room, community_id, message, &verdict).await
}
