//! Blocking and ignoring another member (API.md v1.1 "Members to members").
//!
//! A **block** keeps someone away: they cannot message, mention, reply-notify or send
//! conversation requests to the blocker, and the blocker sees their posts and messages collapsed
//! ("hidden: you blocked this member", openable). An **ignore** only collapses. Neither is ever
//! told to the member concerned: every refusal they meet looks like the blocker's own settings.

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, Session, find_by_username};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::paging::{Page, PageParams, cursor};
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_block, api_unblock))
        .routes(routes!(api_ignore, api_unignore))
        .routes(routes!(api_list))
}

/// How one member keeps away from another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = BlockKind)]
pub enum Kind {
    Block,
    Ignore,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Block => "block",
            Kind::Ignore => "ignore",
        }
    }
}

/// Sets (`on`) or lifts the caller's block or ignore of `username`; both are idempotent. Setting
/// one kind replaces the other; lifting a kind that is not the one set changes nothing.
pub async fn set(
    state: &AppState,
    session: &Session,
    username: &str,
    kind: Kind,
    on: bool,
) -> AppResult<()> {
    let other = {
        let mut conn = state.store.read().await?;
        find_by_username(&mut conn, username)
            .await?
            .ok_or(AppError::NotFound)?
    };
    if other.id == session.user.id {
        return Err(AppError::invalid(
            "username",
            "you cannot block or ignore yourself",
        ));
    }
    let mut w = state.store.write().await?;
    if on {
        db!(
            w,
            execute,
            "INSERT INTO member_blocks (blocker_id, blocked_id, kind, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET kind = excluded.kind",
            session.user.id,
            other.id,
            kind.as_str(),
            now_ms()
        )?;
    } else {
        db!(
            w,
            execute,
            "DELETE FROM member_blocks WHERE blocker_id = $1 AND blocked_id = $2 AND kind = $3",
            session.user.id,
            other.id,
            kind.as_str()
        )?;
    }
    drop(w);
    // The blocker's sessions carry whom they keep away (`KeptAway`): read them again, on every
    // node. Nothing is told to the other member.
    state.realtime.member_changed(session.user.id);
    Ok(())
}

/// Whether `blocker` blocks `other` (not a mere ignore): `other` may not message, mention,
/// notify or send requests to `blocker`.
pub async fn blocks(conn: &mut impl AsDb, blocker: i64, other: i64) -> AppResult<bool> {
    let found = db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT blocker_id FROM member_blocks WHERE blocker_id = $1 AND blocked_id = $2 AND kind = 'block'",
        blocker,
        other
    )?;
    Ok(found.is_some())
}

/// Whether either member blocks the other (for conversations, where contact goes both ways).
pub async fn blocked_either_way(conn: &mut impl AsDb, a: i64, b: i64) -> AppResult<bool> {
    let found = db!(
        *conn,
        fetch_optional scalar i64,
        "SELECT blocker_id FROM member_blocks
         WHERE kind = 'block' AND ((blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))",
        a,
        b
    )?;
    Ok(found.is_some())
}

/// Of `candidates` (members about to be notified of something `actor` did), those who block
/// `actor` and so must not hear of it.
pub async fn blocking_among(
    conn: &mut impl AsDb,
    actor: i64,
    candidates: &[i64],
) -> AppResult<Vec<i64>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let blockers = db!(
        *conn,
        fetch_all scalar i64,
        "SELECT blocker_id FROM member_blocks WHERE blocked_id = $1 AND kind = 'block'",
        actor
    )?;
    Ok(blockers
        .into_iter()
        .filter(|b| candidates.contains(b))
        .collect())
}

/// The members whose words `viewer` sees collapsed (blocked or ignored), with the kind.
pub async fn hidden_for(conn: &mut impl AsDb, viewer: i64) -> AppResult<Vec<(i64, Kind)>> {
    let rows = db!(
        *conn,
        fetch_all as (i64, String),
        "SELECT blocked_id, kind FROM member_blocks WHERE blocker_id = $1",
        viewer
    )?;
    Ok(rows
        .into_iter()
        .map(|(id, k)| (id, Kind::parse(&k)))
        .collect())
}

/// Why the viewer sees a post or message collapsed: they block or ignore its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = HiddenForYou)]
pub enum Hidden {
    /// "hidden: you blocked this member"
    Blocked,
    /// "hidden: you are ignoring this member"
    Ignored,
}

impl Hidden {
    /// The key of its words in the locales' `[blocks]` section.
    pub fn text_key(self) -> &'static str {
        match self {
            Hidden::Blocked => "blocks.hidden_blocked",
            Hidden::Ignored => "blocks.hidden_ignored",
        }
    }
}

/// The members a viewer keeps away, read with their session (so a page costs no query for
/// it) and read again when they block, ignore or undo (`set` tells the session caches). Empty
/// for almost everyone: then it holds nothing and every check is one branch.
#[derive(Clone, Debug, Default)]
pub struct KeptAway(Option<std::sync::Arc<[(i64, Kind)]>>);

impl KeptAway {
    pub fn new(list: Vec<(i64, Kind)>) -> KeptAway {
        if list.is_empty() {
            KeptAway(None)
        } else {
            KeptAway(Some(list.into()))
        }
    }

    /// Whether the viewer keeps nobody away (the common path).
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// How the viewer keeps `member` away, if they do.
    pub fn kind_of(&self, member: i64) -> Option<Kind> {
        self.0
            .as_ref()?
            .iter()
            .find(|(id, _)| *id == member)
            .map(|(_, k)| *k)
    }

    /// Whether words by `author` (as shown: `None` for anonymous or erased authors, whom no
    /// collapse may point at) are shown collapsed to the viewer, and why.
    pub fn hides(&self, author: Option<&crate::communities::MemberSummary>) -> Option<Hidden> {
        self.hides_member(author.map(|a| a.id))
    }

    /// [`KeptAway::hides`] by a member's id (`None`: an anonymous or erased author).
    pub fn hides_member(&self, member: Option<i64>) -> Option<Hidden> {
        match self.kind_of(member?)? {
            Kind::Block => Some(Hidden::Blocked),
            Kind::Ignore => Some(Hidden::Ignored),
        }
    }

    /// `id:blocked,id:ignored`: the list for the chat page's script, which collapses live
    /// messages as the server collapses the ones it draws.
    pub fn for_script(&self) -> String {
        self.0
            .iter()
            .flat_map(|l| l.iter())
            .map(|(id, k)| match k {
                Kind::Block => format!("{id}:blocked"),
                Kind::Ignore => format!("{id}:ignored"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Marks the chat messages the viewer sees collapsed.
pub fn mark_messages(kept: &KeptAway, messages: &mut [crate::chat::ChatMessage]) {
    if kept.is_empty() {
        return;
    }
    for m in messages {
        m.hidden_for_you = kept.hides(m.author.as_ref());
    }
}

/// A member the caller blocks or ignores, as their settings list shows it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Blocked {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub kind: Kind,
}

impl Blocked {
    /// `block` or `ignore`: the page address that undoes it.
    pub fn kind_path(&self) -> &'static str {
        self.kind.as_str()
    }
}

impl Kind {
    fn parse(stored: &str) -> Kind {
        if stored == "block" {
            Kind::Block
        } else {
            Kind::Ignore
        }
    }
}

/// The members the caller blocks or ignores, newest id last.
pub async fn list(
    state: &AppState,
    session: &Session,
    page: &PageParams,
) -> AppResult<Page<Blocked>> {
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as (i64, String, String, String),
        "SELECT u.id, u.username, u.display_name, b.kind FROM member_blocks b JOIN users u ON u.id = b.blocked_id
         WHERE b.blocker_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
        session.user.id,
        after,
        limit + 1
    )?;
    let rows = rows
        .into_iter()
        .map(|(id, username, display_name, kind)| Blocked {
            id,
            username,
            display_name,
            kind: Kind::parse(&kind),
        })
        .collect();
    Ok(Page::from_rows(rows, limit, |m: &Blocked| cursor(&[m.id])))
}

/// Block a member: they can no longer message, mention or notify you, and you see their words
/// collapsed. They are not told.
#[utoipa::path(put, path = "/api/v1/users/{username}/block", tag = "blocks", operation_id = "block",
    params(("username" = String, Path)),
    responses((status = 204, description = "blocked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_block(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set(&state, &session, &username, Kind::Block, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock a member.
#[utoipa::path(delete, path = "/api/v1/users/{username}/block", tag = "blocks", operation_id = "unblock",
    params(("username" = String, Path)),
    responses((status = 204, description = "not blocked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_unblock(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set(&state, &session, &username, Kind::Block, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ignore a member: their posts and messages are shown collapsed to you; nothing else changes.
#[utoipa::path(put, path = "/api/v1/users/{username}/ignore", tag = "blocks", operation_id = "ignore",
    params(("username" = String, Path)),
    responses((status = 204, description = "ignored"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_ignore(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set(&state, &session, &username, Kind::Ignore, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop ignoring a member.
#[utoipa::path(delete, path = "/api/v1/users/{username}/ignore", tag = "blocks", operation_id = "unignore",
    params(("username" = String, Path)),
    responses((status = 204, description = "not ignored"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_unignore(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set(&state, &session, &username, Kind::Ignore, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The members you block or ignore.
#[utoipa::path(get, path = "/api/v1/me/blocks", tag = "blocks", operation_id = "list_blocks",
    params(PageParams),
    responses((status = 200, body = Page<Blocked>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<Blocked>>> {
    Ok(axum::Json(list(&state, &session, &page).await?))
}
