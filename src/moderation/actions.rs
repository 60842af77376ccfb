//! Moderation actions (`POST /api/v1/moderation/actions`): each is permission-checked against the
//! target's community, takes effect in one transaction with its log entry, and reaches connected
//! clients at once (a hidden message disappears; a muted member's socket refuses sends).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Target, cases, log_action};
use crate::accounts::{Auth, User};
use crate::app::AppState;
use crate::communities::{Access, find_by_id, find_by_slug, load_access, visible_community};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::notify::{self, About, Kind, Recipients};
use crate::realtime::frames::{Frame, Revoked, ServerFrame};
use crate::store::{AsDb, Tx, now_ms};
use crate::{db, search};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(act))
        .routes(routes!(decide))
}

#[derive(Deserialize, ToSchema)]
pub struct ActionRequest {
    /// hide, restore, delete (post or message); approve, keep_hidden (a post waiting for
    /// approval); lock, unlock, pin, unpin, move (topic); warn,
    /// mute, unmute, suspend, ban, unban (user); resolve_report (report: a case id).
    pub action: String,
    pub target: Target,
    /// Shown in the community's moderation log, and to the member concerned.
    pub reason: String,
    /// For mute and suspend (required) and ban (optional): how long.
    pub duration_minutes: Option<i64>,
    /// For actions on a member: the community (not for suspend, which is site-wide). Site
    /// staff may leave it out of warn, mute, unmute, ban and unban: the sanction is site-wide.
    pub community: Option<String>,
    /// For move: the destination community.
    pub to: Option<String>,
    /// Seen only by moderators.
    pub private_note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionResult {
    /// The moderation log entry written.
    pub log_id: i64,
}

/// A frame to send once the transaction has committed.
type Live = Option<(i64, crate::realtime::frames::Encoded)>;

/// Hides a post or chat message pending review; whether it changed, and the live frame to send.
pub async fn hide_content(
    tx: &mut Tx,
    target_type: &str,
    id: i64,
    reason: &str,
) -> AppResult<(bool, Live)> {
    let now = now_ms();
    match target_type {
        "post" => {
            let n = db!(
                *tx,
                execute,
                "UPDATE posts SET hidden_at = $2, hidden_reason = $3 WHERE id = $1 AND hidden_at IS NULL",
                id,
                now,
                reason
            )?;
            if n == 1 {
                search::unindex_post(tx, id).await?;
            }
            Ok((n == 1, None))
        }
        "message" => {
            let n = db!(
                *tx,
                execute,
                "UPDATE chat_messages SET hidden_at = $2, hidden_reason = $3 WHERE id = $1 AND hidden_at IS NULL",
                id,
                now,
                reason
            )?;
            let room = db!(*tx, fetch_one scalar i64, "SELECT room_id FROM chat_messages WHERE id = $1", id)?;
            let frame = Frame::MessageDeleted {
                room,
                message_id: id,
                reason: Some("hidden"),
            }
            .encode();
            Ok((n == 1, (n == 1).then_some((room, frame))))
        }
        _ => Err(AppError::invalid(
            "target.type",
            "hide applies to a post or a message",
        )),
    }
}

async fn restore_content(tx: &mut Tx, target_type: &str, id: i64) -> AppResult<Live> {
    match target_type {
        "post" => {
            let n = db!(
                *tx,
                execute,
                "UPDATE posts SET hidden_at = NULL, hidden_reason = NULL, held_for_review = FALSE, awaiting_approval = FALSE WHERE id = $1",
                id
            )?;
            if n == 1 {
                search::reindex_post(tx, id).await?;
            }
            Ok(None)
        }
        "message" => {
            db!(
                *tx,
                execute,
                "UPDATE chat_messages SET hidden_at = NULL, hidden_reason = NULL WHERE id = $1",
                id
            )?;
            let row = db!(
                *tx,
                fetch_one as crate::chat::MessageRow,
                "SELECT m.id, m.room_id, m.author_id, u.username, u.display_name, m.body, m.body_html, m.created_at, m.edited_at
                 FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id WHERE m.id = $1",
                id
            )?;
            let room = row.room_id;
            let mut message = row.into_message(None);
            message.attachments = crate::media::for_message(tx, id).await?;
            let frame = ServerFrame::MessageRestored { message: &message }.encode();
            Ok(Some((room, frame)))
        }
        _ => Err(AppError::invalid(
            "target.type",
            "restore applies to a post or a message",
        )),
    }
}

/// The community a piece of content belongs to, and its author.
async fn owner(conn: &mut impl AsDb, target: &Target) -> AppResult<(i64, Option<i64>)> {
    let row = match target.kind.as_str() {
        "post" => db!(
            *conn,
            fetch_optional as (i64, Option<i64>),
            "SELECT community_id, author_id FROM posts WHERE id = $1 AND topic_id NOT IN (SELECT id FROM topics WHERE private_to IS NOT NULL)",
            target.id
        )?,
        "message" | "conversation_message" => db!(
            *conn,
            fetch_optional as (i64, Option<i64>),
            "SELECT COALESCE(r.community_id, 0), m.author_id FROM chat_messages m JOIN rooms r ON r.id = m.room_id WHERE m.id = $1",
            target.id
        )?,
        "topic" => db!(
            *conn,
            fetch_optional as (i64, Option<i64>),
            "SELECT community_id, author_id FROM topics WHERE id = $1 AND private_to IS NULL",
            target.id
        )?,
        _ => None,
    };
    row.ok_or(AppError::NotFound)
}

async fn moderator_access(
    conn: &mut impl AsDb,
    community_id: i64,
    user: &User,
) -> AppResult<Access> {
    if community_id == crate::chat::CONVERSATIONS {
        // A conversation's message (see `owner`): the site staff's alone.
        if !crate::conversations::is_site_staff(user) {
            return Err(AppError::NotFound);
        }
        return Ok(Access {
            visibility: None,
            status: None,
            roles: Vec::new(),
            site_admin: user.is_admin(),
            site_moderator: !user.is_admin(),
            user_id: Some(user.id),
        });
    }
    let community = find_by_id(conn, community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, Some(user)).await?;
    if !access.can_see() {
        return Err(AppError::NotFound);
    }
    access.require_moderator()?;
    Ok(access)
}

fn duration(req: &ActionRequest, required: bool) -> AppResult<Option<i64>> {
    match req.duration_minutes {
        Some(m) if (1..=60 * 24 * 365).contains(&m) => Ok(Some(now_ms() + m * 60_000)),
        Some(_) => Err(AppError::invalid(
            "duration_minutes",
            "between 1 minute and a year",
        )),
        None if required => Err(AppError::invalid(
            "duration_minutes",
            format!("{} is time-boxed: say for how many minutes", req.action),
        )),
        None => Ok(None),
    }
}

/// Take a moderation action (the community's moderators; site staff for suspensions).
#[utoipa::path(post, path = "/api/v1/moderation/actions", tag = "moderation",
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn act(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<ActionRequest>,
) -> AppResult<axum::Json<ActionResult>> {
    let log_id = take_action(&state, &session.user, &req).await?;
    Ok(axum::Json(ActionResult { log_id }))
}

/// Takes a moderation action, permission-checked, logged and live; the log entry's id.
pub async fn take_action(state: &AppState, user: &User, req: &ActionRequest) -> AppResult<i64> {
    let reason = req.reason.trim().to_owned();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters: members read it in the log",
        ));
    }
    let note = req.private_note.as_deref();
    let log_id = match (req.action.as_str(), req.target.kind.as_str()) {
        ("resolve_report", "report") => cases::resolve(state, user, req.target.id, &reason).await?,
        ("hide" | "restore" | "delete", "post" | "message" | "conversation_message")
        | ("approve" | "keep_hidden", "post") => content_action(state, user, req, &reason).await?,
        ("lock" | "unlock" | "pin" | "unpin" | "move", "topic") => {
            topic_action(state, user, req, &reason).await?
        }
        ("warn" | "mute" | "unmute" | "suspend" | "ban" | "unban", "user") => {
            member_action(state, user, req, &reason, note).await?
        }
        (
            "resolve_report" | "hide" | "restore" | "delete" | "approve" | "keep_hidden" | "lock"
            | "unlock" | "pin" | "unpin" | "move" | "warn" | "mute" | "unmute" | "suspend" | "ban"
            | "unban",
            _,
        ) => {
            return Err(AppError::invalid(
                "target.type",
                format!("{} does not apply to a {}", req.action, req.target.kind),
            ));
        }
        _ => {
            return Err(AppError::invalid(
                "action",
                "one of hide, restore, delete, approve, keep_hidden, lock, unlock, pin, unpin, move, warn, mute, unmute, suspend, ban, unban, resolve_report",
            ));
        }
    };
    metrics::counter!("mutual_moderation_actions_total", "action" => req.action.clone())
        .increment(1);
    Ok(log_id)
}

async fn content_action(
    state: &AppState,
    user: &User,
    req: &ActionRequest,
    reason: &str,
) -> AppResult<i64> {
    let (community_id, author) = {
        let mut conn = state.store.read().await?;
        let found = owner(&mut conn, &req.target).await?;
        moderator_access(&mut conn, found.0, user).await?;
        found
    };
    // A conversation's message is a chat message like any other once its access is checked.
    let kind = match req.target.kind.as_str() {
        "conversation_message" => "message",
        other => other,
    };
    let id = req.target.id;
    let mut tx = state.store.begin().await?;
    let mut live: Live = None;
    let mut told = None;
    match req.action.as_str() {
        "hide" => {
            let (_, frame) = hide_content(&mut tx, kind, id, reason).await?;
            live = frame;
            if let Some(a) = author {
                let (topic, post) = if kind == "post" {
                    (
                        Some(
                            db!(tx, fetch_one scalar i64, "SELECT topic_id FROM posts WHERE id = $1", id)?,
                        ),
                        Some(id),
                    )
                } else {
                    (None, None)
                };
                let mut r = Recipients::default();
                r.add(a, Kind::ContentHidden);
                told = Some(
                    notify::send_about(
                        &mut tx,
                        &About {
                            community_id: super::community_ref(community_id),
                            topic_id: topic,
                            post_id: post,
                            case_id: None,
                            subject: None,
                        },
                        r,
                    )
                    .await?,
                );
            }
        }
        // Restoring or approving settles every open case about it, and the waiting is over.
        "restore" | "approve" => {
            if req.action == "approve" {
                let waiting = db!(tx, fetch_optional scalar bool, "SELECT awaiting_approval FROM posts WHERE id = $1", id)?;
                if waiting != Some(true) {
                    return Err(AppError::conflict(
                        "not_waiting",
                        "this post is not waiting for approval",
                    ));
                }
            }
            live = restore_content(&mut tx, kind, id).await?;
            cases::close_about(&mut tx, kind, id, user.id, reason).await?;
        }
        "keep_hidden" => {
            // It stays hidden as a moderator's decision: its author sees why and may appeal.
            let n = db!(
                tx,
                execute,
                "UPDATE posts SET awaiting_approval = FALSE, hidden_reason = $2 WHERE id = $1 AND awaiting_approval = TRUE",
                id,
                reason
            )?;
            if n == 0 {
                return Err(AppError::conflict(
                    "not_waiting",
                    "this post is not waiting for approval",
                ));
            }
            cases::close_about(&mut tx, kind, id, user.id, reason).await?;
        }
        _ => {
            if kind == "post" {
                crate::forum::posts::soft_delete(&mut tx, id, user.id).await?;
            } else {
                live = crate::chat::soft_delete(&mut tx, id, user.id).await?;
            }
        }
    }
    // Keeping a post hidden is a hide in the log, so its author can appeal it.
    let logged = if req.action == "keep_hidden" {
        "hide"
    } else {
        req.action.as_str()
    };
    let log_id = log_action(
        &mut tx,
        Some(community_id),
        Some(user.id),
        logged,
        kind,
        id,
        reason,
        req.private_note.as_deref(),
    )
    .await?;
    tx.commit().await?;
    if let Some((room, frame)) = live {
        state.realtime.publish_room(room, None, frame);
    }
    if let Some(t) = told {
        t.publish(&state.realtime);
    }
    Ok(log_id)
}

async fn topic_action(
    state: &AppState,
    user: &User,
    req: &ActionRequest,
    reason: &str,
) -> AppResult<i64> {
    let id = req.target.id;
    let (community_id, destination) = {
        let mut conn = state.store.read().await?;
        let (community_id, _) = owner(&mut conn, &req.target).await?;
        moderator_access(&mut conn, community_id, user).await?;
        let destination = if req.action == "move" {
            let slug = req
                .to
                .as_deref()
                .ok_or_else(|| AppError::invalid("to", "move needs the destination community"))?;
            let dest = find_by_slug(&mut conn, slug)
                .await?
                .ok_or_else(|| AppError::invalid("to", "no such community"))?;
            let dest_access = load_access(&mut conn, &dest, Some(user)).await?;
            dest_access.require_moderator()?;
            Some(dest.id)
        } else {
            None
        };
        (community_id, destination)
    };
    let mut tx = state.store.begin().await?;
    match req.action.as_str() {
        "lock" => db!(
            tx,
            execute,
            "UPDATE topics SET locked = TRUE WHERE id = $1",
            id
        )?,
        "unlock" => db!(
            tx,
            execute,
            "UPDATE topics SET locked = FALSE WHERE id = $1",
            id
        )?,
        "pin" => db!(
            tx,
            execute,
            "UPDATE topics SET pinned = TRUE WHERE id = $1",
            id
        )?,
        "unpin" => db!(
            tx,
            execute,
            "UPDATE topics SET pinned = FALSE WHERE id = $1",
            id
        )?,
        _ => {
            let dest = destination.unwrap_or(community_id);
            db!(
                tx,
                execute,
                "UPDATE topics SET community_id = $2 WHERE id = $1",
                id,
                dest
            )?;
            db!(
                tx,
                execute,
                "UPDATE posts SET community_id = $2 WHERE topic_id = $1",
                id,
                dest
            )?;
            // Its milestones move to the new community's feed (keeping their type's label).
            db!(
                tx,
                execute,
                "UPDATE milestones SET community_id = $2 WHERE topic_id = $1",
                id,
                dest
            )?
        }
    };
    // A move is logged in both communities, so each log tells the whole story.
    if let Some(dest) = destination.filter(|d| *d != community_id) {
        log_action(
            &mut tx,
            Some(dest),
            Some(user.id),
            "move",
            "topic",
            id,
            reason,
            req.private_note.as_deref(),
        )
        .await?;
    }
    let log_id = log_action(
        &mut tx,
        Some(community_id),
        Some(user.id),
        &req.action,
        "topic",
        id,
        reason,
        req.private_note.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(log_id)
}

async fn member_action(
    state: &AppState,
    user: &User,
    req: &ActionRequest,
    reason: &str,
    note: Option<&str>,
) -> AppResult<i64> {
    let target_id = req.target.id;
    let site_staff = user.is_admin() || user.has_role(crate::accounts::types::Role::Moderator);
    // Site staff act outside any community on what a member wrote in a conversation (which
    // belongs to none): a warning, mute or ban without `community` is site-wide.
    let site_wide = req.action == "suspend" || (site_staff && req.community.is_none());
    let community_id = {
        let mut conn = state.store.read().await?;
        db!(conn, fetch_optional scalar i64, "SELECT id FROM users WHERE id = $1", target_id)?
            .ok_or(AppError::NotFound)?;
        if site_wide {
            if !site_staff {
                return Err(AppError::forbidden(
                    "suspensions are site-wide: only admins and site moderators suspend",
                ));
            }
            None
        } else {
            let slug = req
                .community
                .as_deref()
                .ok_or_else(|| AppError::invalid("community", "say in which community"))?;
            let (community, access) = visible_community(&mut conn, slug, Some(user)).await?;
            access.require_moderator()?;
            Some(community.id)
        }
    };
    if target_id == user.id {
        return Err(AppError::invalid("target", "you cannot act on yourself"));
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    match req.action.as_str() {
        "warn" => {
            insert_sanction(
                &mut tx,
                community_id,
                target_id,
                "warning",
                reason,
                None,
                user.id,
            )
            .await?
        }
        "mute" => {
            insert_sanction(
                &mut tx,
                community_id,
                target_id,
                "mute",
                reason,
                duration(req, true)?,
                user.id,
            )
            .await?
        }
        "suspend" => {
            insert_sanction(
                &mut tx,
                None,
                target_id,
                "suspend",
                reason,
                duration(req, true)?,
                user.id,
            )
            .await?
        }
        "ban" => {
            insert_sanction(
                &mut tx,
                community_id,
                target_id,
                "ban",
                reason,
                duration(req, false)?,
                user.id,
            )
            .await?;
            // A ban ends membership and community roles.
            db!(
                tx,
                execute,
                "DELETE FROM memberships WHERE community_id = $1 AND user_id = $2",
                community_id,
                target_id
            )?;
            db!(
                tx,
                execute,
                "DELETE FROM community_roles WHERE community_id = $1 AND user_id = $2",
                community_id,
                target_id
            )?;
            if let Some(community) = community_id {
                crate::circles::forget_member(&mut tx, community, target_id).await?;
            }
        }
        action => {
            let kind = if action == "unmute" { "mute" } else { "ban" };
            let lifted = db!(
                tx,
                execute,
                "UPDATE sanctions SET lifted_at = $4 WHERE user_id = $1 AND COALESCE(community_id, -1) = $2 AND kind = $3 AND lifted_at IS NULL",
                target_id,
                community_id.unwrap_or(-1),
                kind,
                now
            )?;
            if lifted == 0 {
                return Err(AppError::conflict(
                    "nothing_to_lift",
                    format!("this member has no {kind} in force here"),
                ));
            }
        }
    }
    let log_id = log_action(
        &mut tx,
        community_id,
        Some(user.id),
        &req.action,
        "user",
        target_id,
        reason,
        note,
    )
    .await?;
    let mut r = Recipients::default();
    r.add(target_id, Kind::Sanction);
    let told = notify::send_about(
        &mut tx,
        &About {
            community_id,
            topic_id: None,
            post_id: None,
            case_id: None,
            subject: None,
        },
        r,
    )
    .await?;
    tx.commit().await?;
    state.realtime.sanctions_changed(target_id);
    match (req.action.as_str(), community_id) {
        ("ban", Some(community)) => {
            state
                .realtime
                .access_changed(target_id, community, Revoked::Banned)
        }
        ("suspend", _) | ("ban", None) => state.realtime.sessions_ended(target_id, None),
        _ => {}
    }
    told.publish(&state.realtime);
    Ok(log_id)
}

async fn insert_sanction(
    tx: &mut Tx,
    community_id: Option<i64>,
    user_id: i64,
    kind: &str,
    reason: &str,
    until: Option<i64>,
    by: i64,
) -> AppResult<()> {
    db!(
        *tx,
        execute,
        "INSERT INTO sanctions (community_id, user_id, kind, reason, until, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        community_id,
        user_id,
        kind,
        reason,
        until,
        by,
        now_ms()
    )?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct AppealDecision {
    /// `restore` (what was done is undone) or `uphold` (it stands).
    pub decision: String,
    /// Told to the member, 3 to 500 characters.
    pub reason: String,
}

/// Moderators other than the one who acted: decide an appeal. Restoring undoes the action (a
/// hidden post or message shown again, a warning, mute, suspension or ban lifted, a topic
/// unlocked); the member is told the outcome.
#[utoipa::path(post, path = "/api/v1/appeals/{id}/decision", tag = "moderation",
    params(("id" = i64, Path)),
    request_body = AppealDecision,
    responses((status = 200, body = ActionResult), (status = 403, description = "you took the action appealed", body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn decide(
    State(state): State<AppState>,
    Auth(session): Auth,
    crate::http::Path(id): crate::http::Path<i64>,
    Json(req): Json<AppealDecision>,
) -> AppResult<axum::Json<ActionResult>> {
    let restore = match req.decision.as_str() {
        "restore" => true,
        "uphold" => false,
        _ => return Err(AppError::invalid("decision", "restore or uphold")),
    };
    let log_id = decide_appeal(&state, &session.user, id, restore, &req.reason).await?;
    Ok(axum::Json(ActionResult { log_id }))
}

/// Decides an appeal (see `decide`); the log entry written.
pub async fn decide_appeal(
    state: &AppState,
    moderator: &User,
    case_id: i64,
    restore: bool,
    reason: &str,
) -> AppResult<i64> {
    let reason = reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::invalid(
            "reason",
            "give a reason of 3 to 500 characters: the member reads it",
        ));
    }
    let (community_id, appealed, appellant) =
        cases::appeal_to_decide(state, moderator, case_id).await?;
    let mut tx = state.store.begin().await?;
    let (action, target_type, target_id) = db!(
        tx,
        fetch_one as (String, String, i64),
        "SELECT action, target_type, target_id FROM moderation_log WHERE id = $1",
        appealed
    )?;
    let mut live: Live = None;
    let mut lifted_sanction = false;
    let log_id = if restore {
        let undo = match (action.as_str(), target_type.as_str()) {
            ("hide", "post" | "message") => {
                live = restore_content(&mut tx, &target_type, target_id).await?;
                cases::close_about(&mut tx, &target_type, target_id, moderator.id, reason).await?;
                "restore"
            }
            ("lock", "topic") => {
                db!(
                    tx,
                    execute,
                    "UPDATE topics SET locked = FALSE WHERE id = $1",
                    target_id
                )?;
                "unlock"
            }
            ("warn" | "mute" | "suspend" | "ban", "user") => {
                let kind = if action == "warn" {
                    "warning"
                } else {
                    action.as_str()
                };
                // The most recent such sanction in force is the one the action put in place.
                db!(
                    tx,
                    execute,
                    "UPDATE sanctions SET lifted_at = $4 WHERE id = (
                        SELECT id FROM sanctions WHERE user_id = $1 AND kind = $2 AND COALESCE(community_id, -1) = $3 AND lifted_at IS NULL
                        ORDER BY id DESC LIMIT 1)",
                    target_id,
                    kind,
                    community_id.unwrap_or(-1),
                    now_ms()
                )?;
                lifted_sanction = true;
                match action.as_str() {
                    "mute" => "unmute",
                    "ban" => "unban",
                    _ => "lift",
                }
            }
            _ => {
                return Err(AppError::invalid(
                    "decision",
                    format!("a {action} cannot be undone from here: uphold it, or act again"),
                ));
            }
        };
        log_action(
            &mut tx,
            community_id,
            Some(moderator.id),
            undo,
            &target_type,
            target_id,
            reason,
            None,
        )
        .await?
    } else {
        log_action(
            &mut tx,
            community_id,
            Some(moderator.id),
            "resolve_report",
            "report",
            case_id,
            reason,
            None,
        )
        .await?
    };
    let outcome = if restore { "restored" } else { "upheld" };
    cases::close(
        &mut tx,
        case_id,
        moderator.id,
        &format!("{outcome}: {reason}"),
    )
    .await?;
    let mut r = Recipients::default();
    if let Some(a) = appellant {
        r.add(
            a,
            if restore {
                Kind::AppealRestored
            } else {
                Kind::AppealUpheld
            },
        );
    }
    let told = notify::send_about(
        &mut tx,
        &About {
            community_id,
            topic_id: None,
            post_id: None,
            case_id: Some(case_id),
            subject: None,
        },
        r,
    )
    .await?;
    tx.commit().await?;
    if let Some((room, frame)) = live {
        state.realtime.publish_room(room, None, frame);
    }
    if lifted_sanction {
        state.realtime.sanctions_changed(target_id);
    }
    told.publish(&state.realtime);
    metrics::counter!("mutual_moderation_actions_total", "action" => if restore { "appeal_restore" } else { "appeal_uphold" })
        .increment(1);
    Ok(log_id)
}
