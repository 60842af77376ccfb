//! Reports, the review queue and appeals.
//!
//! Every report joins the one open case for its target, so the queue shows each piece of content
//! once, with its reporters' weight added up: crisis first, then by weight. A case keeps a
//! snapshot of the content as first reported. Reporters are never shown to the reported member.

use std::collections::BTreeMap;

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Target, crisis, log_action, sanctions, trust};
use crate::accounts::{Auth, User, serialize_time};
use crate::app::AppState;
use crate::communities::{Access, MemberSummary, find_by_id, load_access, visible_community};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::notify::{self, About, Kind, Recipients};
use crate::paging::{Page, cursor};
use crate::store::{AsDb, now_ms};
use crate::{db, search};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(queue))
        .routes(routes!(case_detail, update_case))
        .routes(routes!(add_note))
        .routes(routes!(appeal))
        .routes(routes!(my_moderation))
}

#[derive(Deserialize, ToSchema)]
pub struct NewReport {
    pub target: Target,
    /// spam, harassment, misinformation, crisis, worried ("I'm worried about this person") or other.
    pub reason: String,
    pub note: Option<String>,
    /// For reports on a member: the community where it happened.
    pub community: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportCreated {
    pub id: i64,
    pub case_id: i64,
}

/// The most of a text a case keeps as its snapshot.
pub const SNAPSHOT_CHARS: usize = 5000;

/// What a report is about, resolved and checked.
pub struct Resolved {
    pub community_id: i64,
    pub author_id: Option<i64>,
    pub snapshot: String,
    pub target_type: &'static str,
    pub target_id: i64,
}

impl Resolved {
    /// A member's own text that screening opened a case on (`target`: its type and id).
    pub fn screened(
        community_id: i64,
        author_id: i64,
        (target_type, target_id): (&'static str, i64),
        text: &str,
    ) -> Resolved {
        Resolved {
            community_id,
            author_id: Some(author_id),
            snapshot: text.chars().take(SNAPSHOT_CHARS).collect(),
            target_type,
            target_id,
        }
    }
}

/// Finds the target and checks the caller may see it (404 otherwise).
pub async fn resolve_target(
    conn: &mut impl AsDb,
    target: &Target,
    community: Option<&str>,
    viewer: &User,
) -> AppResult<(Resolved, Access)> {
    match target.kind.as_str() {
        "post" => {
            let (community_id, author_id, body) = db!(
                *conn,
                fetch_optional as (i64, Option<i64>, String),
                "SELECT community_id, author_id, body FROM posts WHERE id = $1 AND deleted_at IS NULL AND topic_id NOT IN (SELECT id FROM topics WHERE private_to IS NOT NULL)",
                target.id
            )?
            .ok_or(AppError::NotFound)?;
            let access = readable(conn, community_id, viewer).await?;
            Ok((
                Resolved {
                    community_id,
                    author_id,
                    snapshot: body,
                    target_type: "post",
                    target_id: target.id,
                },
                access,
            ))
        }
        "message" => {
            let (community_id, author_id, body) = db!(
                *conn,
                fetch_optional as (i64, Option<i64>, String),
                "SELECT r.community_id, m.author_id, m.body FROM chat_messages m JOIN rooms r ON r.id = m.room_id
                 WHERE m.id = $1 AND m.deleted_at IS NULL AND r.community_id IS NOT NULL",
                target.id
            )?
            .ok_or(AppError::NotFound)?;
            let access = readable(conn, community_id, viewer).await?;
            Ok((
                Resolved {
                    community_id,
                    author_id,
                    snapshot: body,
                    target_type: "message",
                    target_id: target.id,
                },
                access,
            ))
        }
        // A conversation's message: its people report it; the case is the site staff's (no
        // community), kept as a `message` so hiding and deleting work as for a room's.
        "conversation_message" => {
            let (room, author_id, body) = db!(
                *conn,
                fetch_optional as (i64, Option<i64>, String),
                "SELECT m.room_id, m.author_id, m.body FROM chat_messages m JOIN rooms r ON r.id = m.room_id
                 WHERE m.id = $1 AND m.deleted_at IS NULL AND r.community_id IS NULL",
                target.id
            )?
            .ok_or(AppError::NotFound)?;
            let access = crate::conversations::room_access(conn, room, Some(viewer))
                .await?
                .ok_or(AppError::NotFound)?;
            Ok((
                Resolved {
                    community_id: crate::chat::CONVERSATIONS,
                    author_id,
                    snapshot: body,
                    target_type: "message",
                    target_id: target.id,
                },
                access,
            ))
        }
        "user" => {
            let slug = community.ok_or_else(|| {
                AppError::invalid("community", "say in which community this happened")
            })?;
            let (row, access) = visible_community(conn, slug, Some(viewer)).await?;
            let (username, display_name) = db!(
                *conn,
                fetch_optional as (String, String),
                "SELECT username, display_name FROM users WHERE id = $1",
                target.id
            )?
            .ok_or(AppError::NotFound)?;
            Ok((
                Resolved {
                    community_id: row.id,
                    author_id: Some(target.id),
                    snapshot: format!("@{username} ({display_name})"),
                    target_type: "user",
                    target_id: target.id,
                },
                access,
            ))
        }
        _ => Err(AppError::invalid(
            "target.type",
            "a report is about a post, a message, a conversation_message or a user",
        )),
    }
}

async fn readable(conn: &mut impl AsDb, community_id: i64, viewer: &User) -> AppResult<Access> {
    let community = find_by_id(conn, community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(conn, &community, Some(viewer)).await?;
    if !access.can_read() {
        return Err(AppError::NotFound);
    }
    Ok(access)
}

/// Opens (or joins) the case for a target; returns (case id, its weight now).
pub async fn open_case(conn: &mut impl AsDb, target: &Resolved, crisis: bool) -> AppResult<i64> {
    let existing = db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT id FROM mod_cases WHERE kind = 'report' AND target_type = $1 AND target_id = $2 AND state <> 'resolved'",
        target.target_type,
        target.target_id
    )?;
    if let Some(id) = existing {
        if crisis {
            db!(
                *conn,
                execute,
                "UPDATE mod_cases SET crisis = TRUE WHERE id = $1",
                id
            )?;
        }
        return Ok(id);
    }
    // The photos and voice notes it carries are kept with the words, as first reported.
    let media = match target.target_type {
        "post" => {
            crate::media::snapshot_json(conn, crate::media::Target::Post(target.target_id)).await?
        }
        "message" => {
            crate::media::snapshot_json(conn, crate::media::Target::Message(target.target_id))
                .await?
        }
        _ => "[]".to_owned(),
    };
    Ok(db!(
        *conn,
        fetch_one scalar i64,
        "INSERT INTO mod_cases (community_id, kind, target_type, target_id, author_id, crisis, snapshot, snapshot_media, created_at)
         VALUES ($1, 'report', $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        super::community_ref(target.community_id),
        target.target_type,
        target.target_id,
        target.author_id,
        crisis,
        &target.snapshot,
        media,
        now_ms()
    )?)
}

/// Tells the community's moderators (those on duty, else all) about a crisis, live.
pub async fn alert_crisis(
    conn: &mut impl AsDb,
    community_id: i64,
    case_id: i64,
    target: &Resolved,
) -> AppResult<notify::Sent> {
    alert_moderators(conn, community_id, case_id, target, Kind::CrisisReport).await
}

/// Tells the community's moderators (those on duty, else all) about a new case, live: a
/// `notification` frame on their sockets, of `kind` (`CrisisReport` is the urgent one).
pub async fn alert_moderators(
    conn: &mut impl AsDb,
    community_id: i64,
    case_id: i64,
    target: &Resolved,
    kind: Kind,
) -> AppResult<notify::Sent> {
    let mut moderators = if community_id == crate::chat::CONVERSATIONS {
        // A conversation belongs to no community: the site's moderators and admins.
        db!(
            *conn,
            fetch_all scalar i64,
            "SELECT DISTINCT user_id FROM user_roles WHERE role IN ('moderator', 'admin')"
        )?
    } else {
        db!(
            *conn,
            fetch_all scalar i64,
            "SELECT DISTINCT r.user_id FROM community_roles r JOIN moderator_duty d ON d.user_id = r.user_id AND d.on_duty = TRUE
             WHERE r.community_id = $1 AND r.role IN ('moderator', 'organiser')",
            community_id
        )?
    };
    if moderators.is_empty() {
        moderators = db!(
            *conn,
            fetch_all scalar i64,
            "SELECT DISTINCT user_id FROM community_roles WHERE community_id = $1 AND role IN ('moderator', 'organiser')",
            community_id
        )?;
    }
    let mut recipients = Recipients::default();
    for m in moderators {
        recipients.add(m, kind);
    }
    let (topic_id, post_id) = match target.target_type {
        "post" => {
            let topic = db!(*conn, fetch_one scalar i64, "SELECT topic_id FROM posts WHERE id = $1", target.target_id)?;
            (Some(topic), Some(target.target_id))
        }
        _ => (None, None),
    };
    let about = About {
        community_id: super::community_ref(community_id),
        topic_id,
        post_id,
        case_id: Some(case_id),
        subject: None,
    };
    notify::send_about(conn, &about, recipients).await
}

/// Report a post, a chat message or a member.
#[utoipa::path(post, path = "/api/v1/reports", tag = "moderation",
    request_body = NewReport,
    responses((status = 201, body = ReportCreated), (status = 404, body = ErrorBody), (status = 409, description = "you already reported this", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewReport>,
) -> AppResult<(StatusCode, axum::Json<ReportCreated>)> {
    let created = create_report(&state, &session.user, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Files a report: it joins the open case for its target (crisis reports alert the moderators on
/// duty; enough trusted reporters hide the content until a moderator looks).
pub async fn create_report(
    state: &AppState,
    user: &User,
    req: &NewReport,
) -> AppResult<ReportCreated> {
    const REASONS: &[&str] = &[
        "spam",
        "harassment",
        "misinformation",
        "crisis",
        "worried",
        "other",
    ];
    if !REASONS.contains(&req.reason.as_str()) {
        return Err(AppError::invalid(
            "reason",
            "spam, harassment, misinformation, crisis, worried or other",
        ));
    }
    let note = req.note.as_deref().unwrap_or("").trim();
    if note.chars().count() > 1000 {
        return Err(AppError::invalid(
            "note",
            "a note has at most 1,000 characters",
        ));
    }
    let (target, weight) = {
        let mut conn = state.store.read().await?;
        let (target, _) =
            resolve_target(&mut conn, &req.target, req.community.as_deref(), user).await?;
        (target, trust::report_weight(&mut conn, user.id).await?)
    };
    if req.reason == "worried"
        && let Some(person) = target.author_id
        && person != user.id
    {
        // Only someone who shares a group with the person may worry about them; anyone else
        // learns nothing, not even that the account exists.
        let mut conn = state.store.read().await?;
        let shared = db!(
            conn,
            fetch_optional scalar i64,
            "SELECT a.community_id FROM memberships a JOIN memberships b ON b.community_id = a.community_id
             WHERE a.user_id = $1 AND b.user_id = $2 AND a.status = 'active' AND b.status = 'active' LIMIT 1",
            user.id,
            person
        )?;
        if shared.is_none() {
            return Err(AppError::NotFound);
        }
    }
    if target.author_id == Some(user.id) && req.reason != "crisis" {
        return Err(AppError::invalid(
            "target",
            "you cannot report your own words; edit or delete them instead",
        ));
    }
    let crisis = req.reason == "crisis";
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let case_id = open_case(&mut tx, &target, crisis).await?;
    let report_id = db!(
        tx,
        fetch_optional scalar i64,
        "INSERT INTO reports (case_id, reporter_id, reason, note, weight, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING RETURNING id",
        case_id,
        user.id,
        req.reason.as_str(),
        note,
        weight,
        now
    )?
    .ok_or_else(|| AppError::conflict("already_reported", "you already reported this; moderators will look at it"))?;
    let case_weight = db!(tx, fetch_one scalar i64, "UPDATE mod_cases SET weight = weight + $2 WHERE id = $1 RETURNING weight", case_id, weight)?;
    // Enough trusted members agreeing hides the content until a moderator looks.
    let mut live = None;
    if case_weight >= state.rules.get().auto_hide_weight
        && matches!(target.target_type, "post" | "message")
    {
        let (hidden, frame) = super::actions::hide_content(
            &mut tx,
            target.target_type,
            target.target_id,
            "hidden after several reports, until a moderator reviews it",
        )
        .await?;
        live = frame;
        if hidden {
            log_action(
                &mut tx,
                Some(target.community_id),
                None,
                "hide",
                target.target_type,
                target.target_id,
                "hidden after several reports, pending review",
                None,
            )
            .await?;
        }
    }
    // Every report reaches the moderators on duty at once; a crisis one is marked urgent.
    let kind = if crisis {
        Kind::CrisisReport
    } else {
        Kind::NewReport
    };
    let mut pushes =
        vec![alert_moderators(&mut tx, target.community_id, case_id, &target, kind).await?];
    if req.reason == "worried"
        && let Some(person) = target.author_id
    {
        pushes.extend(send_caring_message(&mut tx, person).await?);
    }
    tx.commit().await?;
    if let Some((room, frame)) = live {
        state.realtime.publish_room(room, None, frame);
    }
    for p in pushes {
        p.publish(&state.realtime);
    }
    metrics::counter!("mutual_reports_total").increment(1);
    Ok(ReportCreated {
        id: report_id,
        case_id,
    })
}

/// A caring message with the crisis lines, at most once per person per 24 hours, so a worried
/// report cannot be turned into harassment. It names no group: the person's membership of a
/// condition group is theirs to tell.
async fn send_caring_message(conn: &mut impl AsDb, person: i64) -> AppResult<Option<notify::Sent>> {
    let day_ago = now_ms() - 24 * 3600 * 1000;
    let recent = db!(*conn, fetch_optional scalar i64, "SELECT id FROM worried_notices WHERE user_id = $1 AND sent_at > $2", person, day_ago)?;
    if recent.is_some() {
        return Ok(None);
    }
    db!(
        *conn,
        execute,
        "INSERT INTO worried_notices (user_id, sent_at) VALUES ($1, $2)",
        person,
        now_ms()
    )?;
    let mut recipients = Recipients::default();
    recipients.add(person, Kind::CaringMessage);
    let about = About {
        community_id: None,
        topic_id: None,
        post_id: None,
        case_id: None,
        subject: None,
    };
    Ok(Some(notify::send_about(conn, &about, recipients).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `open` (the default: open and in review) or `resolved`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub after: Option<String>,
    /// Show content that may hold images (blurred by default).
    pub show_media: Option<bool>,
}

/// Where a member stands on the sanction ladder (warning, timed mute, timed suspension, ban).
#[derive(Serialize, ToSchema, Default)]
pub struct Ladder {
    pub warnings: i64,
    pub mutes: i64,
    pub suspensions: i64,
    pub bans: i64,
    /// The next step if they break the rules again.
    pub next_step: String,
}

#[derive(Serialize, ToSchema)]
pub struct CaseItem {
    pub id: i64,
    /// `report` or `appeal`.
    pub kind: String,
    pub target_type: String,
    pub target_id: i64,
    /// `open`, `in_review` or `resolved`.
    pub state: String,
    pub crisis: bool,
    pub risk: Option<String>,
    pub weight: i64,
    pub report_count: i64,
    pub reasons: BTreeMap<String, i64>,
    pub author: Option<MemberSummary>,
    pub assignee: Option<MemberSummary>,
    /// The content as first reported; empty while `blurred`.
    pub snapshot: String,
    /// It may hold images: shown only with `show_media=true`.
    pub blurred: bool,
    /// The photos and voice notes it carried as first reported; empty while `blurred`.
    pub attachments: Vec<crate::media::Attachment>,
    pub ladder: Ladder,
    /// How long it has waited, in seconds.
    pub waiting_seconds: i64,
    pub resolution: Option<String>,
    /// Why automod put it here (a filter's reason, or a new member's hold), if it did.
    pub tag: Option<String>,
    /// The post still waits for approval: approve or keep it hidden.
    pub awaiting_approval: bool,
    /// For appeals: what was appealed and what the member wrote.
    pub appeal: Option<AppealView>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// An appeal as its deciding moderator sees it.
#[derive(Serialize, ToSchema)]
pub struct AppealView {
    /// The action appealed (`hide`, `mute`, `ban`...), and what it was on.
    pub action: String,
    pub target_type: String,
    pub target_id: i64,
    /// The moderator's reason for the action.
    pub action_reason: String,
    /// The member's words.
    pub text: String,
    /// Who took the action: they cannot decide the appeal.
    pub acted_by: Option<MemberSummary>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    id: i64,
    community_id: Option<i64>,
    kind: String,
    target_type: String,
    target_id: i64,
    state: String,
    crisis: bool,
    risk: Option<String>,
    weight: i64,
    author_id: Option<i64>,
    assignee_id: Option<i64>,
    snapshot: String,
    snapshot_media: String,
    acted_by: Option<i64>,
    appeal_text: Option<String>,
    resolution: Option<String>,
    created_at: i64,
    resolved_at: Option<i64>,
}

async fn member(conn: &mut impl AsDb, id: Option<i64>) -> AppResult<Option<MemberSummary>> {
    let Some(id) = id else { return Ok(None) };
    Ok(db!(
        *conn,
        fetch_optional as MemberSummary,
        "SELECT id, username, display_name FROM users WHERE id = $1",
        id
    )?)
}

pub async fn ladder(
    conn: &mut impl AsDb,
    user_id: i64,
    community_id: Option<i64>,
) -> AppResult<Ladder> {
    let counts = db!(
        *conn,
        fetch_all as (String, i64),
        "SELECT kind, COUNT(*) FROM sanctions WHERE user_id = $1 AND (community_id IS NULL OR community_id = $2) GROUP BY kind",
        user_id,
        community_id.unwrap_or(-1)
    )?;
    let get = |k: &str| {
        counts
            .iter()
            .find(|(kind, _)| kind == k)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let (warnings, mutes, suspensions, bans) =
        (get("warning"), get("mute"), get("suspend"), get("ban"));
    let next_step = if bans > 0 {
        "banned"
    } else if suspensions > 0 {
        "ban"
    } else if mutes > 0 {
        "suspension"
    } else if warnings > 0 {
        "mute"
    } else {
        "warning"
    };
    Ok(Ladder {
        warnings,
        mutes,
        suspensions,
        bans,
        next_step: next_step.into(),
    })
}

fn looks_like_media(text: &str) -> bool {
    let lower = text.to_lowercase();
    ["![", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic"]
        .iter()
        .any(|m| lower.contains(m))
}

async fn case_item(conn: &mut impl AsDb, row: CaseRow, show_media: bool) -> AppResult<CaseItem> {
    let tag = db!(
        *conn,
        fetch_optional scalar String,
        "SELECT body FROM case_notes WHERE case_id = $1 AND moderator_id IS NULL AND body LIKE 'automod: %' ORDER BY id LIMIT 1",
        row.id
    )?
    .map(|b| b.trim_start_matches("automod: ").to_owned());
    let awaiting_approval = row.target_type == "post"
        && row.state != "resolved"
        && db!(*conn, fetch_optional scalar bool, "SELECT awaiting_approval FROM posts WHERE id = $1", row.target_id)?
            .unwrap_or(false);
    let appeal = if row.kind == "appeal" {
        let logged = db!(
            *conn,
            fetch_optional as (String, String, i64, String),
            "SELECT action, target_type, target_id, reason FROM moderation_log WHERE id = $1",
            row.target_id
        )?;
        match logged {
            Some((action, target_type, target_id, action_reason)) => Some(AppealView {
                action,
                target_type,
                target_id,
                action_reason,
                text: row.appeal_text.clone().unwrap_or_default(),
                acted_by: member(conn, row.acted_by).await?,
            }),
            None => None,
        }
    } else {
        None
    };
    let reasons: BTreeMap<String, i64> = db!(
        *conn,
        fetch_all as (String, i64),
        "SELECT reason, COUNT(*) FROM reports WHERE case_id = $1 GROUP BY reason",
        row.id
    )?
    .into_iter()
    .collect();
    let report_count = reasons.values().sum();
    let attachments = crate::media::parse_snapshot(&row.snapshot_media);
    let blurred = !show_media && (looks_like_media(&row.snapshot) || !attachments.is_empty());
    let ladder = match row.author_id {
        Some(a) => ladder(conn, a, row.community_id).await?,
        None => Ladder::default(),
    };
    // A conversation's message is filed as a `message` outside any community.
    let target_type = if row.target_type == "message" && row.community_id.is_none() {
        "conversation_message".to_owned()
    } else {
        row.target_type
    };
    Ok(CaseItem {
        id: row.id,
        kind: row.kind,
        target_type,
        target_id: row.target_id,
        state: row.state,
        crisis: row.crisis,
        risk: row.risk,
        weight: row.weight,
        report_count,
        reasons,
        author: member(conn, row.author_id).await?,
        assignee: member(conn, row.assignee_id).await?,
        snapshot: if blurred { String::new() } else { row.snapshot },
        blurred,
        attachments: if blurred { Vec::new() } else { attachments },
        ladder,
        waiting_seconds: (row.resolved_at.unwrap_or_else(now_ms) - row.created_at) / 1000,
        resolution: row.resolution,
        tag,
        awaiting_approval,
        appeal,
        created_at: row.created_at,
    })
}

/// The open cases waiting in a moderator's groups, for the page header.
pub struct Waiting {
    pub count: i64,
    /// The queue that holds the most of them: a group's, or the site staff's for conversations.
    pub href: String,
}

/// The site staff's queue: the cases outside any community. Reports about a conversation's
/// message (and crisis flags raised by what was sent), and appeals against what was decided
/// outside any group (a site-wide warning, mute, ban or suspension; a conversation's message
/// hidden), which no group's moderators may decide.
macro_rules! staff_cases_where {
    () => {
        "community_id IS NULL AND ((kind = 'report' AND target_type = 'message') OR kind = 'appeal')"
    };
}

/// Site moderators and admins: the cases of their queue, open or `resolved` (crisis first, then
/// by reporters' weight); a report with the reported message and the ten before it and nothing
/// else of the conversation, an appeal with what was appealed. Anyone else: 404.
pub async fn conversation_queue(
    state: &AppState,
    user: &User,
    resolved: bool,
    show_media: bool,
) -> AppResult<Vec<CaseDetail>> {
    if !crate::conversations::is_site_staff(user) {
        return Err(AppError::NotFound);
    }
    let ids = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all scalar i64,
            concat!(
                "SELECT id FROM mod_cases WHERE ",
                staff_cases_where!(),
                " AND (state = 'resolved') = $1 ORDER BY crisis DESC, weight DESC, id LIMIT 50"
            ),
            resolved
        )?
    };
    let params = QueueParams {
        status: None,
        limit: None,
        after: None,
        show_media: Some(show_media),
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load_case(state, user, id, &params).await?);
    }
    Ok(out)
}

/// Whether case `id` is one of the site staff's queue (its web page acts only on those).
pub async fn is_staff_case(state: &AppState, id: i64) -> AppResult<bool> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_optional scalar i64,
        concat!(
            "SELECT id FROM mod_cases WHERE id = $1 AND ",
            staff_cases_where!()
        ),
        id
    )?
    .is_some())
}

/// How many cases are open in the groups the session's member moderates (None when they
/// moderate none; a count of 0 when nothing waits, so their pages still take live alerts).
/// Members who moderate nowhere, as their session knows, cost no query: every page asks this.
pub async fn waiting_for(
    state: &AppState,
    session: &crate::accounts::Session,
) -> AppResult<Option<Waiting>> {
    let user = &session.user;
    let site_staff = user.is_admin() || user.has_role(crate::accounts::types::Role::Moderator);
    if !site_staff && !session.moderates_groups {
        return Ok(None);
    }
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as (String, i64),
        "SELECT c.slug, (SELECT COUNT(*) FROM mod_cases m WHERE m.community_id = c.id AND m.state <> 'resolved') AS n
         FROM communities c
         WHERE ($2 OR c.id IN (SELECT community_id FROM community_roles WHERE user_id = $1 AND role IN ('moderator', 'organiser')))
         ORDER BY n DESC, c.slug LIMIT 50",
        user.id,
        site_staff
    )?;
    let mut count: i64 = rows.iter().map(|(_, n)| n).sum();
    let mut waiting = rows
        .into_iter()
        .next()
        .map(|(slug, n)| (n, format!("/mod/{slug}")));
    if site_staff {
        let conversations = db!(
            conn,
            fetch_one scalar i64,
            concat!(
                "SELECT COUNT(*) FROM mod_cases WHERE ",
                staff_cases_where!(),
                " AND state <> 'resolved'"
            )
        )?;
        count += conversations;
        if waiting.as_ref().is_none_or(|(n, _)| conversations > *n) {
            waiting = Some((conversations, CONVERSATION_QUEUE.to_owned()));
        }
    }
    Ok(waiting.map(|(_, href)| Waiting { count, href }))
}

/// The site staff's web queue of conversations' messages.
pub const CONVERSATION_QUEUE: &str = "/moderation/conversations";

/// Settles a case in the caller's transaction (the `resolve` flow without its checks).
pub(super) async fn close(
    conn: &mut impl AsDb,
    case_id: i64,
    moderator: i64,
    resolution: &str,
) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE mod_cases SET state = 'resolved', resolution = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1 AND state <> 'resolved'",
        case_id,
        resolution,
        moderator,
        now_ms()
    )?;
    Ok(())
}

/// Settles the open report cases about a piece of content (it was restored or approved).
pub(super) async fn close_about(
    conn: &mut impl AsDb,
    target_type: &str,
    target_id: i64,
    moderator: i64,
    resolution: &str,
) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE mod_cases SET state = 'resolved', resolution = $3, resolved_by = $4, resolved_at = $5
         WHERE kind = 'report' AND target_type = $1 AND target_id = $2 AND state <> 'resolved'",
        target_type,
        target_id,
        resolution,
        moderator,
        now_ms()
    )?;
    Ok(())
}

/// An open appeal `moderator` may decide: (community, the appealed log entry, the appellant).
pub(super) async fn appeal_to_decide(
    state: &AppState,
    moderator: &User,
    case_id: i64,
) -> AppResult<(Option<i64>, i64, Option<i64>)> {
    let (row, _) = moderated_case(state, moderator, case_id).await?;
    if row.kind != "appeal" {
        return Err(AppError::invalid("target", "this case is not an appeal"));
    }
    if row.state == "resolved" {
        return Err(AppError::conflict(
            "resolved",
            "this appeal is already decided",
        ));
    }
    if row.acted_by == Some(moderator.id) {
        return Err(AppError::forbidden(
            "a different moderator decides an appeal against your own action",
        ));
    }
    Ok((row.community_id, row.target_id, row.author_id))
}

/// Moderators: the community's review queue — crisis first, then by reporters' weight.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/reports", tag = "moderation",
    params(("slug" = String, Path), QueueParams),
    responses((status = 200, body = Page<CaseItem>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn queue(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Query(params): Query<QueueParams>,
) -> AppResult<axum::Json<Page<CaseItem>>> {
    Ok(axum::Json(
        list_queue(&state, &session.user, &slug, &params).await?,
    ))
}

/// The community's review queue for one of its moderators: crisis first, then by weight.
pub async fn list_queue(
    state: &AppState,
    user: &User,
    slug: &str,
    params: &QueueParams,
) -> AppResult<Page<CaseItem>> {
    let limit = crate::paging::PageParams {
        limit: params.limit,
        after: params.after.clone(),
    }
    .limit()?;
    let after = crate::paging::PageParams {
        limit: None,
        after: params.after.clone(),
    }
    .after_ints(3)?
    .unwrap_or_else(|| vec![2, i64::MAX, 0]);
    let resolved = match params.status.as_deref() {
        None | Some("open") => false,
        Some("resolved") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "bad_status",
                "status is open or resolved",
            ));
        }
    };
    let mut conn = state.store.read().await?;
    let (community, access) = visible_community(&mut conn, slug, Some(user)).await?;
    access.require_moderator()?;
    let rows = db!(
        conn,
        fetch_all as CaseRow,
        "SELECT id, community_id, kind, target_type, target_id, state, crisis, risk, weight, author_id, assignee_id, snapshot, snapshot_media,
                acted_by, appeal_text, resolution, created_at, resolved_at
         FROM mod_cases
         WHERE community_id = $1 AND (state = 'resolved') = $2
           AND ((CASE WHEN crisis THEN 1 ELSE 0 END) < $3
                OR ((CASE WHEN crisis THEN 1 ELSE 0 END) = $3 AND (weight < $4 OR (weight = $4 AND id > $5))))
         ORDER BY crisis DESC, weight DESC, id
         LIMIT $6",
        community.id,
        resolved,
        after[0],
        after[1],
        after[2],
        limit + 1
    )?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(case_item(&mut conn, row, params.show_media.unwrap_or(false)).await?);
    }
    Ok(Page::from_rows(items, limit, |c: &CaseItem| {
        cursor(&[i64::from(c.crisis), c.weight, c.id])
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ReportView {
    pub reporter: Option<MemberSummary>,
    pub reason: String,
    pub note: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct NoteView {
    pub moderator: Option<MemberSummary>,
    pub body: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ContextLine {
    pub id: i64,
    pub author: Option<String>,
    pub body: String,
    /// This is the reported content.
    pub reported: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseItem,
    pub reports: Vec<ReportView>,
    pub notes: Vec<NoteView>,
    /// The thread around a post, or the chat lines around a message.
    pub context: Vec<ContextLine>,
    /// For appeals: what the member wrote.
    pub appeal_text: Option<String>,
    /// For appeals: the moderator whose action is appealed (another must decide).
    pub acted_by: Option<MemberSummary>,
}

pub(super) async fn moderated_case(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(CaseRow, Access)> {
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as CaseRow,
        "SELECT id, community_id, kind, target_type, target_id, state, crisis, risk, weight, author_id, assignee_id, snapshot, snapshot_media,
                acted_by, appeal_text, resolution, created_at, resolved_at FROM mod_cases WHERE id = $1",
        id
    )?
    .ok_or(AppError::NotFound)?;
    let Some(community_id) = row.community_id else {
        // A case outside any community (a conversation's message): the site staff's.
        if !crate::conversations::is_site_staff(user) {
            return Err(AppError::NotFound);
        }
        let access = Access {
            visibility: None,
            status: None,
            roles: Vec::new(),
            site_admin: user.is_admin(),
            site_moderator: !user.is_admin(),
            user_id: Some(user.id),
        };
        return Ok((row, access));
    };
    let community = find_by_id(&mut conn, community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = load_access(&mut conn, &community, Some(user)).await?;
    if !access.is_moderator() {
        return Err(AppError::NotFound);
    }
    Ok((row, access))
}

async fn context(
    conn: &mut impl AsDb,
    target_type: &str,
    target_id: i64,
) -> AppResult<Vec<ContextLine>> {
    let rows: Vec<(i64, Option<String>, String)> = match target_type {
        "post" => db!(
            *conn,
            fetch_all as (i64, Option<String>, String),
            "SELECT p.id, u.username, p.body FROM posts p LEFT JOIN users u ON u.id = p.author_id
             JOIN posts t ON t.id = $1 AND p.topic_id = t.topic_id
             WHERE p.seq BETWEEN t.seq - 3 AND t.seq + 3 AND p.deleted_at IS NULL ORDER BY p.seq",
            target_id
        )?,
        "message" => {
            let (room, in_conversation) = db!(
                *conn,
                fetch_one as (i64, bool),
                "SELECT m.room_id, r.community_id IS NULL FROM chat_messages m JOIN rooms r ON r.id = m.room_id WHERE m.id = $1",
                target_id
            )?;
            if in_conversation {
                // A conversation is private: the reported message and the ten before it, no more.
                let mut lines = db!(
                    *conn,
                    fetch_all as (i64, Option<String>, String),
                    "SELECT m.id, u.username, m.body FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id
                     WHERE m.room_id = $1 AND m.id <= $2 ORDER BY m.id DESC LIMIT 11",
                    room,
                    target_id
                )?;
                lines.reverse();
                return Ok(lines
                    .into_iter()
                    .map(|(id, author, body)| ContextLine {
                        id,
                        author,
                        body,
                        reported: id == target_id,
                    })
                    .collect());
            }
            let mut before = db!(
                *conn,
                fetch_all as (i64, Option<String>, String),
                "SELECT m.id, u.username, m.body FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id
                 WHERE m.room_id = $1 AND m.id <= $2 ORDER BY m.id DESC LIMIT 6",
                room,
                target_id
            )?;
            before.reverse();
            let after = db!(
                *conn,
                fetch_all as (i64, Option<String>, String),
                "SELECT m.id, u.username, m.body FROM chat_messages m LEFT JOIN users u ON u.id = m.author_id
                 WHERE m.room_id = $1 AND m.id > $2 ORDER BY m.id LIMIT 5",
                room,
                target_id
            )?;
            before.into_iter().chain(after).collect()
        }
        _ => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(|(id, author, body)| ContextLine {
            id,
            author,
            body,
            reported: id == target_id,
        })
        .collect())
}

/// Moderators: one case with its reports, notes, context and the author's sanctions.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "moderation",
    params(("id" = i64, Path), ("show_media" = Option<bool>, Query)),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn case_detail(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Query(params): Query<QueueParams>,
) -> AppResult<axum::Json<CaseDetail>> {
    Ok(axum::Json(
        load_case(&state, &session.user, id, &params).await?,
    ))
}

/// One case with its reports, notes, context and the author's sanctions (moderators).
pub async fn load_case(
    state: &AppState,
    user: &User,
    id: i64,
    params: &QueueParams,
) -> AppResult<CaseDetail> {
    let (row, _) = moderated_case(state, user, id).await?;
    let mut conn = state.store.read().await?;
    let reports = db!(
        conn,
        fetch_all as (Option<i64>, String, String, i64),
        "SELECT reporter_id, reason, note, created_at FROM reports WHERE case_id = $1 ORDER BY id",
        id
    )?;
    let mut report_views = Vec::new();
    for (reporter, reason, note, created_at) in reports {
        report_views.push(ReportView {
            reporter: member(&mut conn, reporter).await?,
            reason,
            note,
            created_at,
        });
    }
    let notes = db!(
        conn,
        fetch_all as (Option<i64>, String, i64),
        "SELECT moderator_id, body, created_at FROM case_notes WHERE case_id = $1 ORDER BY id",
        id
    )?;
    let mut note_views = Vec::new();
    for (moderator, body, created_at) in notes {
        note_views.push(NoteView {
            moderator: member(&mut conn, moderator).await?,
            body,
            created_at,
        });
    }
    let show_media = params.show_media.unwrap_or(false);
    let mut context = context(&mut conn, &row.target_type, row.target_id).await?;
    if !show_media {
        for line in &mut context {
            if looks_like_media(&line.body) {
                line.body = String::new();
            }
        }
    }
    let appeal_text = row.appeal_text.clone();
    let acted_by = member(&mut conn, row.acted_by).await?;
    let case = case_item(&mut conn, row, show_media).await?;
    Ok(CaseDetail {
        case,
        reports: report_views,
        notes: note_views,
        context,
        appeal_text,
        acted_by,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct CaseChanges {
    /// `open` or `in_review` (resolve with the `resolve_report` action).
    pub state: Option<String>,
    /// A moderator's username, or `""` to unassign.
    pub assignee: Option<String>,
    /// Crisis triage: low, medium or high.
    pub risk: Option<String>,
}

/// Moderators: take a case, hand it over, or triage a crisis.
#[utoipa::path(patch, path = "/api/v1/reports/{id}", tag = "moderation",
    params(("id" = i64, Path)),
    request_body = CaseChanges,
    responses((status = 204, description = "changed"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_case(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<CaseChanges>,
) -> AppResult<StatusCode> {
    change_case(&state, &session.user, id, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a case, hands it over, or triages a crisis (moderators).
pub async fn change_case(
    state: &AppState,
    user: &User,
    id: i64,
    req: &CaseChanges,
) -> AppResult<()> {
    let (row, _) = moderated_case(state, user, id).await?;
    if row.state == "resolved" {
        return Err(AppError::conflict("resolved", "this case is resolved"));
    }
    let mut w = state.store.write().await?;
    if let Some(s) = req.state.as_deref() {
        if !matches!(s, "open" | "in_review") {
            return Err(AppError::invalid(
                "state",
                "open or in_review; resolve with the resolve_report action",
            ));
        }
        db!(
            w,
            execute,
            "UPDATE mod_cases SET state = $2 WHERE id = $1",
            id,
            s
        )?;
    }
    if let Some(r) = req.risk.as_deref() {
        if !matches!(r, "low" | "medium" | "high") {
            return Err(AppError::invalid("risk", "low, medium or high"));
        }
        db!(
            w,
            execute,
            "UPDATE mod_cases SET risk = $2 WHERE id = $1",
            id,
            r
        )?;
    }
    if let Some(name) = req.assignee.as_deref() {
        let assignee = if name.is_empty() {
            None
        } else {
            let u = crate::accounts::find_by_username(&mut w, name)
                .await?
                .ok_or_else(|| AppError::invalid("assignee", "no such member"))?;
            Some(u.id)
        };
        db!(
            w,
            execute,
            "UPDATE mod_cases SET assignee_id = $2 WHERE id = $1",
            id,
            assignee
        )?;
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct NewNote {
    pub body: String,
}

/// Moderators: a note on a case, shared with the other moderators only.
#[utoipa::path(post, path = "/api/v1/reports/{id}/notes", tag = "moderation",
    params(("id" = i64, Path)),
    request_body = NewNote,
    responses((status = 201, description = "added"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_note(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<NewNote>,
) -> AppResult<StatusCode> {
    note_case(&state, &session.user, id, &req).await?;
    Ok(StatusCode::CREATED)
}

/// Adds a moderator's note to a case.
pub async fn note_case(state: &AppState, user: &User, id: i64, req: &NewNote) -> AppResult<()> {
    moderated_case(state, user, id).await?;
    let body = req.body.trim();
    if !(1..=2000).contains(&body.chars().count()) {
        return Err(AppError::invalid(
            "body",
            "a note has 1 to 2,000 characters",
        ));
    }
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO case_notes (case_id, moderator_id, body, created_at) VALUES ($1, $2, $3, $4)",
        id,
        user.id,
        body,
        now_ms()
    )?;
    Ok(())
}

/// Resolves a case (the `resolve_report` action): reporters and appellants are told the outcome.
pub async fn resolve(
    state: &AppState,
    moderator: &User,
    case_id: i64,
    resolution: &str,
) -> AppResult<i64> {
    let (row, _) = moderated_case(state, moderator, case_id).await?;
    if row.state == "resolved" {
        return Err(AppError::conflict(
            "resolved",
            "this case is already resolved",
        ));
    }
    if row.kind == "appeal" && row.acted_by == Some(moderator.id) {
        return Err(AppError::forbidden(
            "a different moderator decides an appeal against your own action",
        ));
    }
    // None: a case outside any community (a conversation's message), logged and told as such.
    let community_id = row.community_id;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    db!(
        tx,
        execute,
        "UPDATE mod_cases SET state = 'resolved', resolution = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1",
        case_id,
        resolution,
        moderator.id,
        now
    )?;
    // Content held for review goes back into search once a moderator has looked.
    if row.target_type == "post" {
        let held = db!(
            tx,
            execute,
            "UPDATE posts SET held_for_review = FALSE WHERE id = $1 AND held_for_review = TRUE",
            row.target_id
        )?;
        if held == 1 {
            search::reindex_post(&mut tx, row.target_id).await?;
        }
    }
    let log_id = log_action(
        &mut tx,
        community_id,
        Some(moderator.id),
        "resolve_report",
        "report",
        case_id,
        resolution,
        None,
    )
    .await?;
    let mut recipients = Recipients::default();
    let reporters = db!(tx, fetch_all scalar Option<i64>, "SELECT reporter_id FROM reports WHERE case_id = $1", case_id)?;
    for r in reporters.into_iter().flatten() {
        recipients.add(r, Kind::ReportResolved);
    }
    if row.kind == "appeal"
        && let Some(a) = row.author_id
    {
        recipients.add(a, Kind::AppealDecided);
    }
    let about = About {
        community_id,
        topic_id: None,
        post_id: None,
        case_id: Some(case_id),
        subject: None,
    };
    let sent = notify::send_about(&mut tx, &about, recipients).await?;
    tx.commit().await?;
    sent.publish(&state.realtime);
    Ok(log_id)
}

#[derive(Deserialize, ToSchema)]
pub struct NewAppeal {
    /// The moderation log entry of the action appealed.
    pub log_id: i64,
    /// Why it should be undone (1–2,000 characters).
    pub text: String,
}

/// Appeal a moderation action on your content or on you, once. A different moderator decides.
#[utoipa::path(post, path = "/api/v1/appeals", tag = "moderation",
    request_body = NewAppeal,
    responses((status = 201, body = ReportCreated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn appeal(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewAppeal>,
) -> AppResult<(StatusCode, axum::Json<ReportCreated>)> {
    let created = file_appeal(&state, &session.user, req.log_id, &req.text).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Appeals a logged action on the member's content or on them, once; another moderator decides.
pub async fn file_appeal(
    state: &AppState,
    user: &User,
    log_id: i64,
    text: &str,
) -> AppResult<ReportCreated> {
    let text = text.trim();
    if !(1..=2000).contains(&text.chars().count()) {
        return Err(AppError::invalid(
            "text",
            "say why in 1 to 2,000 characters",
        ));
    }
    let mut tx = state.store.begin().await?;
    let (community_id, moderator_id, action, target_type, target_id) = db!(
        tx,
        fetch_optional as (Option<i64>, Option<i64>, String, String, i64),
        "SELECT community_id, moderator_id, action, target_type, target_id FROM moderation_log WHERE id = $1",
        log_id
    )?
    .ok_or(AppError::NotFound)?;
    let affected = affected_member(&mut tx, &target_type, target_id).await?;
    if affected != Some(user.id) || action == "resolve_report" {
        return Err(AppError::NotFound);
    }
    if !APPEALABLE.contains(&action.as_str()) {
        return Err(AppError::invalid(
            "log_id",
            "only an action against you or your words can be appealed",
        ));
    }
    let earlier = db!(tx, fetch_optional scalar i64, "SELECT id FROM mod_cases WHERE kind = 'appeal' AND target_type = 'log' AND target_id = $1", log_id)?;
    if earlier.is_some() {
        return Err(AppError::conflict(
            "already_appealed",
            "you can appeal an action once; this one is already appealed",
        ));
    }
    let snapshot = snapshot_of(&mut tx, &target_type, target_id).await?;
    let case_id = db!(
        tx,
        fetch_one scalar i64,
        "INSERT INTO mod_cases (community_id, kind, target_type, target_id, author_id, acted_by, appeal_text, snapshot, created_at)
         VALUES ($1, 'appeal', 'log', $2, $3, $4, $5, $6, $7) RETURNING id",
        community_id,
        log_id,
        user.id,
        moderator_id,
        text,
        snapshot,
        now_ms()
    )?;
    tx.commit().await?;
    Ok(ReportCreated {
        id: case_id,
        case_id,
    })
}

/// The actions a member may appeal: those against them or their words (not what undid one).
pub const APPEALABLE: &[&str] = &[
    "hide", "delete", "lock", "move", "warn", "mute", "suspend", "ban",
];

/// The actions that undo an earlier one: what they undid is no longer appealable.
const UNDOING: &[&str] = &["restore", "approve", "unmute", "unban", "unlock"];

/// The text an appeal is about, as it is now: the content's words, or the member's name.
async fn snapshot_of(conn: &mut impl AsDb, target_type: &str, target_id: i64) -> AppResult<String> {
    let text = match target_type {
        "post" => {
            db!(*conn, fetch_optional scalar String, "SELECT body FROM posts WHERE id = $1", target_id)?
        }
        "message" => {
            db!(*conn, fetch_optional scalar String, "SELECT body FROM chat_messages WHERE id = $1", target_id)?
        }
        "topic" => {
            db!(*conn, fetch_optional scalar String, "SELECT title FROM topics WHERE id = $1", target_id)?
        }
        "user" => {
            db!(*conn, fetch_optional scalar String, "SELECT '@' || username FROM users WHERE id = $1", target_id)?
        }
        _ => None,
    };
    Ok(text
        .unwrap_or_default()
        .chars()
        .take(SNAPSHOT_CHARS)
        .collect())
}

/// Whom a logged action affected: the author of the content, or the member acted on.
async fn affected_member(
    conn: &mut impl AsDb,
    target_type: &str,
    target_id: i64,
) -> AppResult<Option<i64>> {
    Ok(match target_type {
        "post" => db!(*conn, fetch_optional scalar Option<i64>, "SELECT author_id FROM posts WHERE id = $1", target_id)?.flatten(),
        "message" => db!(*conn, fetch_optional scalar Option<i64>, "SELECT author_id FROM chat_messages WHERE id = $1", target_id)?.flatten(),
        "user" => Some(target_id),
        "topic" => db!(*conn, fetch_optional scalar Option<i64>, "SELECT author_id FROM topics WHERE id = $1", target_id)?.flatten(),
        _ => None,
    })
}

#[derive(Serialize, ToSchema)]
pub struct MyModeration {
    /// Actions taken on the caller's content or on them, newest first, with the reasons.
    pub actions: Vec<super::LogEntry>,
    /// The caller's sanctions in force.
    pub sanctions_in_force: Vec<String>,
    /// The crisis lines for the caller's language.
    pub crisis_lines: Vec<crisis::CrisisLine>,
    /// The log entries the caller may still appeal: actions against them still in force, not
    /// yet appealed (never what restored or approved their words).
    pub appealable: Vec<i64>,
}

/// What moderators did about the caller's content or the caller, and why — so they can appeal.
#[utoipa::path(get, path = "/api/v1/me/moderation", tag = "moderation",
    responses((status = 200, body = MyModeration), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn my_moderation(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<MyModeration>> {
    Ok(axum::Json(for_member(&state, &session.user).await?))
}

/// What moderators did about a member's content or the member, with the reasons.
pub async fn for_member(state: &AppState, user: &User) -> AppResult<MyModeration> {
    let uid = user.id;
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as super::LogRow,
        "SELECT l.id, l.action, l.moderator_id, u.username, u.display_name, l.target_type, l.target_id, l.reason, l.private_note, l.created_at
         FROM moderation_log l LEFT JOIN users u ON u.id = l.moderator_id
         WHERE l.action <> 'resolve_report' AND l.action <> 'reveal_author' AND (
               (l.target_type = 'user' AND l.target_id = $1)
            OR (l.target_type = 'post' AND l.target_id IN (SELECT id FROM posts WHERE author_id = $1))
            OR (l.target_type = 'message' AND l.target_id IN (SELECT id FROM chat_messages WHERE author_id = $1))
            OR (l.target_type = 'topic' AND l.target_id IN (SELECT id FROM topics WHERE author_id = $1)))
         ORDER BY l.id DESC LIMIT 100",
        uid
    )?;
    let actions: Vec<super::LogEntry> = rows.into_iter().map(|r| r.into_entry(false)).collect();
    let appealed = db!(
        conn,
        fetch_all scalar i64,
        "SELECT target_id FROM mod_cases WHERE kind = 'appeal' AND target_type = 'log' AND author_id = $1",
        uid
    )?;
    let mut appealable = Vec::new();
    for (i, e) in actions.iter().enumerate() {
        let Some(target) = e.target_id else { continue };
        // A later entry on the same target (a restore, an unmute) undid or replaced it.
        let superseded = actions[..i].iter().any(|later| {
            later.target_type == e.target_type
                && later.target_id == Some(target)
                && UNDOING.contains(&later.action.as_str())
        });
        if APPEALABLE.contains(&e.action.as_str()) && !superseded && !appealed.contains(&e.id) {
            appealable.push(e.id);
        }
    }
    let active = sanctions::active(&mut conn, uid).await?;
    let crisis_lines = crisis::lines_for_member(&mut conn, uid).await?;
    Ok(MyModeration {
        actions,
        sanctions_in_force: active.iter().map(|s| s.kind.clone()).collect(),
        crisis_lines,
        appealable,
    })
}
