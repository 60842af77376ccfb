//! Moderation pages: reporting a post (`/p/{id}/report`), a group's review queue and public log
//! (`/mod/{slug}`: the queue and its action buttons for the group's moderators, the log for
//! every member), and a member's own page (`/me/moderation`): what moderators did about their
//! words and why, with an appeal for each. Plain forms throughout; no JavaScript needed.

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::forum::GroupItem;
use super::{Ctx, Layout, PageError, WebForm};
use crate::communities;
use crate::error::AppError;
use crate::forum::posts::{self, Post};
use crate::moderation::cases::{self, CaseItem, MyModeration, NewReport, QueueParams};
use crate::moderation::{self, LogEntry, Target, actions};
use crate::paging::PageParams;

/// The reasons offered on the report form, with their label keys.
const REASONS: [(&str, &str); 6] = [
    ("spam", "mod.reason_spam"),
    ("harassment", "mod.reason_harassment"),
    ("misinformation", "mod.reason_misinformation"),
    ("crisis", "mod.reason_crisis"),
    ("worried", "mod.reason_worried"),
    ("other", "mod.reason_other"),
];

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "report.html")]
struct ReportPage {
    l: Layout,
    post: Post,
    reasons: &'static [(&'static str, &'static str)],
    chosen: String,
    note: String,
    error: Option<String>,
    done: bool,
}

pub async fn report_page(ctx: Ctx, Path(id): Path<i64>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let post = posts::post_for(&ctx.state, Some(session), id).await?;
    if post.deleted {
        return Err(AppError::NotFound.into());
    }
    let l = ctx.layout(ctx.texts.get("mod.report_title")).await;
    let page = ReportPage {
        l,
        post,
        reasons: &REASONS,
        chosen: String::new(),
        note: String::new(),
        error: None,
        done: false,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

pub async fn report(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<ReportForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let post = posts::post_for(&ctx.state, Some(session), id).await?;
    let request = NewReport {
        target: Target {
            kind: "post".into(),
            id,
        },
        reason: form.reason.clone(),
        note: Some(form.note.clone()),
        community: None,
    };
    let (error, done) = match cases::create_report(&ctx.state, &session.user, &request).await {
        Ok(_) => (None, true),
        // Reporting twice is not a mistake: the moderators already have it.
        Err(AppError::Conflict { .. }) => (None, true),
        Err(AppError::Invalid { fields, .. }) => {
            let key = if fields.contains("reason") {
                "mod.choose_reason"
            } else if fields.contains("target") {
                "mod.own_words"
            } else {
                "mod.note_too_long"
            };
            (Some(ctx.texts.get(key).to_owned()), false)
        }
        Err(e) => return Err(e.into()),
    };
    let status = super::form_status(error.is_some());
    let l = ctx.layout(ctx.texts.get("mod.report_title")).await;
    let page = ReportPage {
        l,
        post,
        reasons: &REASONS,
        chosen: form.reason,
        note: form.note,
        error,
        done,
    };
    Ok(ctx.send_status(status, page))
}

/// A case in the queue, with the label keys of its reasons.
pub struct CaseLine {
    pub c: CaseItem,
    pub reasons: Vec<(String, i64)>,
    /// Content that can be hidden or restored from here.
    pub content: bool,
    /// Why automod put it here, in the reader's words when it is a new member's hold.
    pub tag: Option<String>,
    /// An appeal against the reader's own action: another moderator decides.
    pub own_action: bool,
}

/// An appeal against `me`'s own action: another moderator decides it.
fn own_action(c: &CaseItem, me: i64) -> bool {
    c.appeal
        .as_ref()
        .and_then(|a| a.acted_by.as_ref())
        .is_some_and(|m| m.id == me)
}

/// The mute lengths offered, in minutes, with their label keys.
pub const DURATIONS: [(i64, &str); 3] = [
    (60, "modweb.hour"),
    (24 * 60, "modweb.day"),
    (7 * 24 * 60, "modweb.week"),
];

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "moderation.html")]
struct QueuePage {
    l: Layout,
    g: GroupItem,
    moderator: bool,
    resolved: bool,
    cases: Vec<CaseLine>,
    durations: &'static [(i64, &'static str)],
    log: Vec<LogEntry>,
    log_next: Option<String>,
    error: Option<String>,
    done: bool,
}

/// `?done=1` after an action.
#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    after: Option<String>,
    done: Option<String>,
    /// `1`: show the pictures and voice notes the cases hold (they are hidden until asked).
    media: Option<String>,
}

pub async fn queue(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let resolved = q.status.as_deref() == Some("resolved");
    let done = q.done.is_some();
    let media = q.media.as_deref() == Some("1");
    render_queue(ctx, &slug, resolved, q.after, None, done, media).await
}

async fn render_queue(
    ctx: Ctx,
    slug: &str,
    resolved: bool,
    log_after: Option<String>,
    error: Option<String>,
    done: bool,
    media: bool,
) -> Result<Response, PageError> {
    let c = communities::get_community(&ctx.state, ctx.user(), slug).await?;
    let g = GroupItem::new(c);
    let moderator =
        g.c.membership
            .as_ref()
            .is_some_and(|m| m.roles.iter().any(|r| r.as_str() != "welcomer"))
            || ctx.user().is_some_and(|u| {
                u.is_admin() || u.has_role(crate::accounts::types::Role::Moderator)
            });
    let mut cases = Vec::new();
    if moderator && let Some(user) = ctx.user() {
        let params = QueueParams {
            status: Some(if resolved { "resolved" } else { "open" }.into()),
            limit: Some(50),
            after: None,
            show_media: Some(media),
        };
        let page = cases::list_queue(&ctx.state, user, slug, &params).await?;
        let me = user.id;
        cases = page
            .items
            .into_iter()
            .map(|c| CaseLine {
                reasons: c
                    .reasons
                    .iter()
                    .map(|(k, n)| (format!("mod.reason_{k}"), *n))
                    .collect(),
                content: matches!(c.target_type.as_str(), "post" | "message"),
                tag: c.tag.as_deref().map(|t| {
                    if t == moderation::NEW_MEMBER_HOLD {
                        ctx.texts.get("modweb.tag_new_member").to_owned()
                    } else if t == moderation::POSSIBLE_CRISIS {
                        ctx.texts.get("crisis_scorer.tag").to_owned()
                    } else {
                        t.to_owned()
                    }
                }),
                own_action: own_action(&c, me),
                c,
            })
            .collect();
    }
    let page = PageParams {
        limit: Some(30),
        after: log_after,
    };
    let log = moderation::log_page(&ctx.state, ctx.user(), slug, &page).await?;
    let mut l = ctx.layout(ctx.texts.get("mod.title")).await;
    l.noindex = true;
    let status = super::form_status(error.is_some());
    let page = QueuePage {
        l,
        g,
        moderator,
        resolved,
        cases,
        durations: &DURATIONS,
        log: log.items,
        log_next: log.next,
        error,
        done,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    target_type: String,
    target_id: i64,
    /// The case the action settles, when taken from the queue.
    #[serde(default)]
    case_id: Option<i64>,
    #[serde(default)]
    reason: String,
    /// For a mute: how long, in minutes.
    #[serde(default)]
    duration: Option<i64>,
    /// Where to go afterwards: a member's profile, when acting from there.
    #[serde(default)]
    back: Option<String>,
}

/// An action from the queue or a member's profile. Hiding or deleting what a case is about, or
/// warning, muting or banning its author, also settles the case with the same reason, so the
/// queue only holds what still needs a look. Approving, keeping hidden and restoring settle it
/// themselves; an appeal is restored or upheld by a moderator other than the one who acted.
pub async fn act(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<ActionForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    let result = match form.action.as_str() {
        "appeal_restore" | "appeal_uphold" => {
            let case = form.case_id.unwrap_or(form.target_id);
            let restore = form.action == "appeal_restore";
            actions::decide_appeal(&ctx.state, &user, case, restore, &form.reason).await
        }
        "hide" | "restore" | "delete" | "resolve_report" | "approve" | "keep_hidden" | "warn"
        | "mute" | "unmute" | "ban" | "unban" => take(&ctx, &user, &slug, &form).await,
        _ => {
            return Err(AppError::invalid("action", "not an action taken from this page").into());
        }
    };
    let back = form
        .back
        .filter(|b| b.starts_with("/u/") && !b.contains("//") && !b.contains('\\'));
    match result {
        Ok(_) => {
            let to = match back {
                Some(b) => format!("{b}?done=1"),
                None => format!("/mod/{slug}?done=1"),
            };
            Ok(ctx.send(Redirect::to(&to)))
        }
        Err(e) => {
            let key = match &e {
                AppError::Invalid { fields, .. } if fields.contains("reason") => {
                    "mod.reason_needed"
                }
                AppError::Invalid { fields, .. } if fields.contains("duration_minutes") => {
                    "modweb.duration_needed"
                }
                AppError::Invalid { fields, .. } if fields.contains("decision") => {
                    "modweb.cannot_undo"
                }
                AppError::Conflict { .. } => "modweb.nothing_to_do",
                AppError::Forbidden(_) if form.action.starts_with("appeal_") => {
                    "modweb.appeal_yours"
                }
                _ => return Err(e.into()),
            };
            let why = ctx.texts.get(key).to_owned();
            render_queue(ctx, &slug, false, None, Some(why), false, false).await
        }
    }
}

/// Takes one of the queue's or profile's actions through `actions::take_action`, settling the
/// case it came from when the action answers it.
async fn take(
    ctx: &Ctx,
    user: &crate::accounts::User,
    slug: &str,
    form: &ActionForm,
) -> Result<i64, AppError> {
    let member = matches!(
        form.action.as_str(),
        "warn" | "mute" | "unmute" | "ban" | "unban"
    );
    // Dismissing settles the case itself; the other actions are about what it reports.
    let target = if form.action == "resolve_report" {
        Target {
            kind: "report".into(),
            id: form.case_id.unwrap_or(form.target_id),
        }
    } else if member {
        Target {
            kind: "user".into(),
            id: form.target_id,
        }
    } else {
        Target {
            kind: form.target_type.clone(),
            id: form.target_id,
        }
    };
    let request = actions::ActionRequest {
        action: form.action.clone(),
        target,
        reason: form.reason.clone(),
        duration_minutes: if form.action == "mute" {
            form.duration
        } else {
            None
        },
        community: member.then(|| slug.to_owned()),
        to: None,
        private_note: None,
    };
    let log_id = actions::take_action(&ctx.state, user, &request).await?;
    match form.case_id {
        Some(case)
            if matches!(
                form.action.as_str(),
                "hide" | "delete" | "warn" | "mute" | "ban"
            ) =>
        {
            let settle = actions::ActionRequest {
                action: "resolve_report".into(),
                target: Target {
                    kind: "report".into(),
                    id: case,
                },
                duration_minutes: None,
                community: None,
                ..request
            };
            actions::take_action(&ctx.state, user, &settle).await
        }
        _ => Ok(log_id),
    }
}

/// The groups where `viewer` may act on `member` from their profile: those the viewer
/// moderates and the member belongs (or belonged, when banned) to, as (slug, name).
pub async fn moderated_groups(
    state: &crate::app::AppState,
    viewer: &crate::accounts::User,
    member: i64,
) -> Result<Vec<(String, String)>, AppError> {
    if viewer.id == member {
        return Ok(Vec::new());
    }
    let site_staff = viewer.is_admin() || viewer.has_role(crate::accounts::types::Role::Moderator);
    let mut conn = state.store.read().await?;
    Ok(crate::db!(
        conn,
        fetch_all as (String, String),
        "SELECT c.slug, c.name FROM communities c
         WHERE (c.id IN (SELECT community_id FROM memberships WHERE user_id = $2)
                OR c.id IN (SELECT community_id FROM sanctions WHERE user_id = $2 AND kind = 'ban'))
           AND ($3 OR c.id IN (SELECT community_id FROM community_roles WHERE user_id = $1 AND role IN ('moderator', 'organiser')))
         ORDER BY c.name LIMIT 20",
        viewer.id,
        member,
        site_staff
    )?)
}

/// The label key of a logged action.
fn action_key(action: &str) -> &'static str {
    match action {
        "hide" => "mod.action_hide",
        "restore" => "mod.action_restore",
        "delete" => "mod.action_delete",
        "lock" => "mod.action_lock",
        "unlock" => "mod.action_unlock",
        "pin" => "mod.action_pin",
        "unpin" => "mod.action_unpin",
        "move" => "mod.action_move",
        "warn" => "mod.action_warn",
        "mute" => "mod.action_mute",
        "unmute" => "mod.action_unmute",
        "suspend" => "mod.action_suspend",
        "ban" => "mod.action_ban",
        "unban" => "mod.action_unban",
        "resolve_report" => "mod.action_resolve_report",
        "reveal_author" => "mod.action_reveal_author",
        "room_settings" => "mod.action_room_settings",
        "approve" => "modweb.action_approve",
        "lift" => "modweb.action_lift",
        _ => "mod.action_other",
    }
}

impl QueuePage {
    fn action_key(&self, action: &str) -> &'static str {
        action_key(action)
    }

    /// The queue's address (`_queue_tabs.html`).
    fn queue_href(&self) -> String {
        format!("/mod/{}", self.g.c.slug)
    }

    /// Where its forms post (`_appeal_decision.html`).
    fn act_href(&self) -> String {
        format!("/mod/{}/act", self.g.c.slug)
    }
}

impl ConversationQueuePage {
    fn action_key(&self, action: &str) -> &'static str {
        action_key(action)
    }

    /// The queue's address (`_queue_tabs.html`).
    fn queue_href(&self) -> String {
        cases::CONVERSATION_QUEUE.to_owned()
    }

    /// Where its forms post (`_appeal_decision.html`).
    fn act_href(&self) -> String {
        format!("{}/act", cases::CONVERSATION_QUEUE)
    }
}

impl MinePage {
    fn action_key(&self, action: &str) -> &'static str {
        action_key(action)
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "my_moderation.html")]
struct MinePage {
    l: Layout,
    mine: MyModeration,
    appealed: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct MineQuery {
    appealed: Option<String>,
}

pub async fn mine(ctx: Ctx, Query(q): Query<MineQuery>) -> Result<Response, PageError> {
    render_mine(ctx, q.appealed.is_some(), None).await
}

async fn render_mine(
    ctx: Ctx,
    appealed: bool,
    error: Option<String>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let mine = cases::for_member(&ctx.state, &session.user).await?;
    let mut l = ctx.layout(ctx.texts.get("mod.mine_title")).await;
    l.noindex = true;
    let status = super::form_status(error.is_some());
    let page = MinePage {
        l,
        mine,
        appealed,
        error,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct AppealForm {
    log_id: i64,
    #[serde(default)]
    text: String,
}

pub async fn appeal(WebForm { ctx, form }: WebForm<AppealForm>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    match cases::file_appeal(&ctx.state, &user, form.log_id, &form.text).await {
        Ok(_) => Ok(ctx.send(Redirect::to("/me/moderation?appealed=1"))),
        Err(AppError::Invalid { .. }) => {
            let why = ctx.texts.get("mod.appeal_text_needed").to_owned();
            render_mine(ctx, false, Some(why)).await
        }
        Err(AppError::Conflict { .. }) => {
            let why = ctx.texts.get("mod.appeal_once").to_owned();
            render_mine(ctx, false, Some(why)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `/me/cases-waiting`: the header's count of open cases, for `site.js` to refresh after a live
/// alert (a report may open a case or join one, so the page cannot count by itself); the words
/// in the moderator's language. `null` for members who moderate nothing.
pub async fn cases_waiting(ctx: Ctx) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let waiting = cases::waiting_for(&ctx.state, session).await?;
    let answer = waiting.map(|w| {
        let label = ctx
            .texts
            .fill("modweb.open_cases", &[("n", &ctx.texts.number(w.count))]);
        let n = ctx.texts.number(w.count);
        // The folded menu's button says it too ("Menu (3)", read "Menu, 3 cases waiting").
        let (menu, menu_name) = if w.count > 0 {
            (
                ctx.texts.fill("menu_cases.menu", &[("n", &n)]),
                Some(ctx.texts.fill("menu_cases.name", &[("n", &n)])),
            )
        } else {
            (ctx.texts.get("phone.menu").to_owned(), None)
        };
        serde_json::json!({
            "count": w.count,
            "href": w.href,
            "label": label,
            "menu": menu,
            "menu_name": menu_name,
        })
    });
    Ok(ctx.send(axum::Json(answer)))
}

/// A case of the site staff's conversation queue, as its page shows it.
pub struct ConversationCase {
    pub d: cases::CaseDetail,
    pub reasons: Vec<(String, i64)>,
    /// Each report: the label key of its reason, and the reporter's note (not who they are).
    pub reports: Vec<(String, String)>,
    /// The conversation the message was sent in (gone when its room was erased), still open.
    pub conversation: Option<i64>,
    pub going_on: bool,
}

/// An appeal in the site staff's queue: against a site-wide sanction, or a conversation's
/// message hidden.
pub struct StaffAppeal {
    pub c: CaseItem,
    /// The reader took the action appealed: another member of staff decides.
    pub own_action: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "mod_conversations.html")]
struct ConversationQueuePage {
    l: Layout,
    resolved: bool,
    cases: Vec<ConversationCase>,
    appeals: Vec<StaffAppeal>,
    durations: &'static [(i64, &'static str)],
    error: Option<String>,
    done: bool,
}

/// `/moderation/conversations`: the site staff's queue of reports about conversations' messages
/// (a conversation belongs to no group, so no group's moderators see it: 404 for them), and of
/// appeals against what they decided outside any group. Each report shows the reported message
/// and the ten before it, nothing else of the conversation.
pub async fn conversation_queue(
    ctx: Ctx,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let resolved = q.status.as_deref() == Some("resolved");
    let media = q.media.as_deref() == Some("1");
    render_conversation_queue(ctx, resolved, media, None, q.done.is_some()).await
}

async fn render_conversation_queue(
    ctx: Ctx,
    resolved: bool,
    media: bool,
    error: Option<String>,
    done: bool,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let details = cases::conversation_queue(&ctx.state, &session.user, resolved, media).await?;
    let mut shown = Vec::with_capacity(details.len());
    let mut appeals = Vec::new();
    for d in details {
        if d.case.kind == "appeal" {
            appeals.push(StaffAppeal {
                own_action: own_action(&d.case, session.user.id),
                c: d.case,
            });
            continue;
        }
        let found = crate::conversations::of_message(&ctx.state, d.case.target_id).await?;
        shown.push(ConversationCase {
            reasons: d
                .case
                .reasons
                .iter()
                .map(|(k, n)| (format!("mod.reason_{k}"), *n))
                .collect(),
            reports: d
                .reports
                .iter()
                .map(|r| (format!("mod.reason_{}", r.reason), r.note.clone()))
                .collect(),
            conversation: found.as_ref().map(|(id, _)| *id),
            going_on: found.is_some_and(|(_, state)| state != "ended"),
            d,
        });
    }
    let mut l = ctx.layout(ctx.texts.get("modconv.title")).await;
    l.noindex = true;
    let status = super::form_status(error.is_some());
    let page = ConversationQueuePage {
        l,
        resolved,
        cases: shown,
        appeals,
        durations: &DURATIONS,
        error,
        done,
    };
    Ok(ctx.send_status(status, page))
}

#[derive(Deserialize)]
pub struct ConversationActionForm {
    action: String,
    case_id: i64,
    #[serde(default)]
    reason: String,
    /// For a mute: how long, in minutes.
    #[serde(default)]
    duration: Option<i64>,
}

/// An action from the staff queue: end the conversation, hide the message, warn, mute or ban its
/// author (site-wide: a conversation belongs to no group), or close the case, each settling the
/// case with the same reason; or restore or uphold an appeal, as in a group's queue (never by
/// the one whose action is appealed; the member is told).
pub async fn conversation_act(
    WebForm { ctx, form }: WebForm<ConversationActionForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let user = session.user.clone();
    if !crate::conversations::is_site_staff(&user)
        || !cases::is_staff_case(&ctx.state, form.case_id).await?
    {
        return Err(AppError::NotFound.into());
    }
    let result = conversation_action(&ctx, &user, &form).await;
    match result {
        Ok(()) => Ok(ctx.send(Redirect::to(&format!(
            "{}?done=1",
            cases::CONVERSATION_QUEUE
        )))),
        Err(e) => {
            let key = match &e {
                AppError::Invalid { fields, .. } if fields.contains("reason") => {
                    "mod.reason_needed"
                }
                AppError::Invalid { fields, .. } if fields.contains("duration_minutes") => {
                    "modweb.duration_needed"
                }
                AppError::Invalid { fields, .. } if fields.contains("decision") => {
                    "modweb.cannot_undo"
                }
                AppError::Conflict { .. } => "modweb.nothing_to_do",
                AppError::Forbidden(_) if form.action.starts_with("appeal_") => {
                    "modweb.appeal_yours"
                }
                _ => return Err(e.into()),
            };
            let why = ctx.texts.get(key).to_owned();
            render_conversation_queue(ctx, false, false, Some(why), false).await
        }
    }
}

async fn conversation_action(
    ctx: &Ctx,
    user: &crate::accounts::User,
    form: &ConversationActionForm,
) -> Result<(), AppError> {
    let state = &ctx.state;
    if let Some(restore) = match form.action.as_str() {
        "appeal_restore" => Some(true),
        "appeal_uphold" => Some(false),
        _ => None,
    } {
        actions::decide_appeal(state, user, form.case_id, restore, &form.reason).await?;
        return Ok(());
    }
    let params = QueueParams {
        status: None,
        limit: None,
        after: None,
        show_media: None,
    };
    let case = cases::load_case(state, user, form.case_id, &params)
        .await?
        .case;
    if case.state == "resolved" {
        return Err(AppError::conflict(
            "resolved",
            "this case is already resolved",
        ));
    }
    // An appeal is restored or upheld, nothing else.
    if case.kind == "appeal" {
        return Err(AppError::invalid(
            "action",
            "an appeal is restored or upheld",
        ));
    }
    let request = |action: &str, target: Target| actions::ActionRequest {
        action: action.to_owned(),
        target,
        reason: form.reason.clone(),
        duration_minutes: (action == "mute").then_some(form.duration).flatten(),
        community: None,
        to: None,
        private_note: None,
    };
    let settle = request(
        "resolve_report",
        Target {
            kind: "report".into(),
            id: case.id,
        },
    );
    match form.action.as_str() {
        "resolve_report" => {}
        "end" => {
            let (id, _) = crate::conversations::of_message(state, case.target_id)
                .await?
                .ok_or(AppError::NotFound)?;
            crate::conversations::end(state, user, id, &form.reason).await?;
        }
        "hide" => {
            let target = Target {
                kind: "conversation_message".into(),
                id: case.target_id,
            };
            actions::take_action(state, user, &request("hide", target)).await?;
        }
        "warn" | "mute" | "ban" => {
            let author = case.author.as_ref().ok_or(AppError::NotFound)?;
            let target = Target {
                kind: "user".into(),
                id: author.id,
            };
            actions::take_action(state, user, &request(&form.action, target)).await?;
        }
        _ => {
            return Err(AppError::invalid(
                "action",
                "not an action taken from this page",
            ));
        }
    }
    actions::take_action(state, user, &settle).await?;
    Ok(())
}
