//! Drafts (API.md v1.1 "Members to members"): what a member was writing, kept on the server per
//! topic (`topic:ID`, the reply box), group (`community:SLUG`, a new topic), room (`room:ID`) and
//! conversation (`conversation:ID`), so a reload, a refused form or the consent page loses
//! nothing; a new topic's draft keeps its title too. A draft is its member's alone: only they read it, it is in their export and goes
//! with the account (the table's foreign key), and it is deleted once the words are sent.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, User, serialize_time};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::store::now_ms;

/// The longest draft, in characters (a post's limit).
pub const MAX_CHARS: usize = crate::forum::types::PostBody::MAX_CHARS;
/// The longest title a new topic's draft keeps (a topic title's limit).
pub const MAX_TITLE_CHARS: usize = crate::forum::types::Title::MAX_CHARS;
/// The longest key, in bytes (`community:` and a 50-character address fit).
const MAX_KEY_BYTES: usize = 80;
/// Drafts kept per member; saving one more forgets the oldest.
const MAX_PER_MEMBER: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_get, api_put, api_delete))
}

/// What a draft belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The reply box of a topic.
    Topic(i64),
    /// A new topic in a group.
    Community(String),
    /// A chat room's message box.
    Room(i64),
    /// A conversation's message box.
    Conversation(i64),
}

impl Key {
    /// Parses `kind:id`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Key> {
        if raw.len() > MAX_KEY_BYTES {
            return None;
        }
        let (kind, rest) = raw.split_once(':')?;
        let id = || {
            // Digits only (no sign, no spaces), a positive id.
            (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
                .then(|| rest.parse::<i64>().ok())
                .flatten()
                .filter(|id| *id > 0)
        };
        match kind {
            "topic" => id().map(Key::Topic),
            "room" => id().map(Key::Room),
            "conversation" => id().map(Key::Conversation),
            "community" => crate::communities::types::Slug::parse(rest)
                .ok()
                .filter(|s| s.as_str() == rest)
                .map(|s| Key::Community(s.as_str().to_owned())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Topic(id) => write!(f, "topic:{id}"),
            Key::Community(slug) => write!(f, "community:{slug}"),
            Key::Room(id) => write!(f, "room:{id}"),
            Key::Conversation(id) => write!(f, "conversation:{id}"),
        }
    }
}

fn parse_key(raw: &str) -> AppResult<Key> {
    Key::parse(raw).ok_or_else(|| {
        AppError::invalid(
            "key",
            "a draft key is topic:ID, community:SLUG, room:ID or conversation:ID",
        )
    })
}

/// A saved draft.
#[derive(Serialize, ToSchema, Debug, sqlx::FromRow)]
pub struct Draft {
    #[sqlx(rename = "draft_key")]
    pub key: String,
    pub body: String,
    /// A new topic's title as typed (`community:SLUG` drafts; left out when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = DraftSave)]
pub struct DraftBody {
    /// The words as typed; empty (with no title) forgets the draft.
    pub body: String,
    /// `community:SLUG` drafts only: the new topic's title as typed (at most 200 characters).
    /// Left out, the title kept stays as it is; `""` forgets it.
    #[serde(default)]
    pub title: Option<String>,
}

/// 404 unless the member may see what the key names: a draft is never a way to learn that a
/// topic, group or room exists.
async fn check_target(state: &AppState, user: &User, key: &Key) -> AppResult<()> {
    match key {
        Key::Topic(id) => {
            crate::forum::visible_topic(state, *id, Some(user)).await?;
        }
        Key::Community(slug) => {
            let mut conn = state.store.read().await?;
            crate::communities::visible_community(&mut conn, slug, Some(user)).await?;
        }
        Key::Room(id) => {
            let mut conn = state.store.read().await?;
            crate::chat::room_access(&mut conn, *id, Some(user)).await?;
        }
        // Those in the conversation (404 for anyone else, as for one that does not exist).
        Key::Conversation(id) => {
            crate::conversations::get(state, user, *id).await?;
        }
    }
    Ok(())
}

/// The member's draft for `key`, if any.
pub async fn load(state: &AppState, user_id: i64, key: &Key) -> AppResult<Option<Draft>> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_optional as Draft,
        "SELECT draft_key, body, title, updated_at FROM drafts WHERE user_id = $1 AND draft_key = $2",
        user_id,
        key.to_string()
    )?)
}

/// The member's draft body for `key`, or "" (for pages filling a form; a failure to read one
/// never stops the page).
pub async fn body_of(state: &AppState, user_id: i64, key: &Key) -> String {
    match load(state, user_id, key).await {
        Ok(found) => found.map(|d| d.body).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "reading a draft");
            String::new()
        }
    }
}

/// The member's draft for a new topic in a group: (title, words), "" when none (for the page;
/// a failure to read one never stops it).
pub async fn topic_of(state: &AppState, user_id: i64, slug: &str) -> (String, String) {
    match load(state, user_id, &Key::Community(slug.to_owned())).await {
        Ok(Some(d)) => (d.title.unwrap_or_default(), d.body),
        Ok(None) => (String::new(), String::new()),
        Err(e) => {
            tracing::warn!(error = %e, "reading a draft");
            (String::new(), String::new())
        }
    }
}

/// Keeps `body` as the member's draft for `key` (an empty one forgets it), its title as it was.
/// No access check: callers have checked it.
pub async fn save(state: &AppState, user_id: i64, key: &Key, body: &str) -> AppResult<()> {
    save_titled(state, user_id, key, body, None).await
}

/// Checks a draft's words and title: the title belongs to a new topic's draft, within a title's
/// limit.
fn check_draft(key: &Key, body: &str, title: Option<&str>) -> AppResult<()> {
    if body.chars().count() > MAX_CHARS {
        return Err(AppError::invalid(
            "body",
            format!("a draft has at most {MAX_CHARS} characters"),
        ));
    }
    if let Some(title) = title {
        if !matches!(key, Key::Community(_)) {
            return Err(AppError::invalid(
                "title",
                "only a new topic's draft (community:SLUG) has a title",
            ));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(AppError::invalid(
                "title",
                format!("a title has at most {MAX_TITLE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// Keeps `body` and, when given, `title` (`""` forgets it) as the member's draft for `key`;
/// with no words and no title the draft is forgotten. No access check: callers have checked it.
pub async fn save_titled(
    state: &AppState,
    user_id: i64,
    key: &Key,
    body: &str,
    title: Option<&str>,
) -> AppResult<()> {
    check_draft(key, body, title)?;
    let title = title.map(str::trim);
    let titled = title.is_some_and(|t| !t.is_empty());
    if body.trim().is_empty() && !titled {
        return discard(state, user_id, key).await;
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // A title left out stays as it was (clients that only know `body` never lose one).
    db!(
        tx,
        execute,
        "INSERT INTO drafts (user_id, draft_key, body, title, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, draft_key) DO UPDATE SET body = excluded.body,
           title = CASE WHEN $6 THEN excluded.title ELSE drafts.title END, updated_at = excluded.updated_at",
        user_id,
        key.to_string(),
        body,
        title.filter(|t| !t.is_empty()),
        now,
        title.is_some()
    )?;
    // Forget the oldest beyond the cap, so drafts cannot grow without end.
    db!(
        tx,
        execute,
        "DELETE FROM drafts WHERE user_id = $1 AND draft_key IN (
           SELECT draft_key FROM drafts WHERE user_id = $1 ORDER BY updated_at DESC, draft_key LIMIT 1000000 OFFSET $2)",
        user_id,
        MAX_PER_MEMBER
    )?;
    tx.commit().await?;
    Ok(())
}

/// Like [`save_titled`], for a web form that was refused: never fails the page (logged).
pub async fn keep(state: &AppState, user_id: i64, key: &Key, body: &str, title: Option<&str>) {
    if let Err(e) = save_titled(state, user_id, key, body, title).await {
        tracing::warn!(error = %e, "keeping a refused form's draft");
    }
}

/// After a web form sent the words for `key`: forgets the draft once they were taken; keeps
/// them when refused (a 422 shown on the page, or the consent page in its place), so the form
/// fills them back in however the member returns to it. Never fails the page.
pub async fn after_form(
    state: &AppState,
    user_id: i64,
    key: &Key,
    body: &str,
    refused: Option<&AppError>,
) {
    match refused {
        None => sent(state, user_id, key).await,
        // Nothing to come back to.
        Some(AppError::NotFound) => {}
        Some(_) => keep(state, user_id, key, body, None).await,
    }
}

/// [`after_form`] for a new topic's form: its title is kept with the words.
pub async fn after_topic_form(
    state: &AppState,
    user_id: i64,
    key: &Key,
    title: &str,
    body: &str,
    refused: Option<&AppError>,
) {
    match refused {
        None => sent(state, user_id, key).await,
        Some(AppError::NotFound) => {}
        Some(_) => {
            // A title past the limit is cut to it rather than lost.
            let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
            keep(state, user_id, key, body, Some(&title)).await
        }
    }
}

/// Forgets the member's draft for `key` (the words were sent).
pub async fn discard(state: &AppState, user_id: i64, key: &Key) -> AppResult<()> {
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "DELETE FROM drafts WHERE user_id = $1 AND draft_key = $2",
        user_id,
        key.to_string()
    )?;
    Ok(())
}

/// Like [`discard`], after the words were sent: a failure only leaves a stale draft (logged).
pub async fn sent(state: &AppState, user_id: i64, key: &Key) {
    if let Err(e) = discard(state, user_id, key).await {
        tracing::warn!(error = %e, "forgetting a sent draft");
    }
}

/// Your draft for a topic's reply box, a group's new topic, a room or a conversation.
#[utoipa::path(get, path = "/api/v1/me/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = "topic:ID, community:SLUG, room:ID or conversation:ID")),
    responses((status = 200, body = Draft), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(key): Path<String>,
) -> AppResult<axum::Json<Draft>> {
    let key = parse_key(&key)?;
    let draft = load(&state, session.user.id, &key)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(axum::Json(draft))
}

/// Keep a draft (an empty body forgets it: 204).
#[utoipa::path(put, path = "/api/v1/me/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = "topic:ID, community:SLUG, room:ID or conversation:ID")),
    request_body = DraftBody,
    responses((status = 200, body = Draft), (status = 204, description = "an empty draft, forgotten"), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_put(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(key): Path<String>,
    Json(req): Json<DraftBody>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let key = parse_key(&key)?;
    check_draft(&key, &req.body, req.title.as_deref())?;
    check_target(&state, &session.user, &key).await?;
    save_titled(
        &state,
        session.user.id,
        &key,
        &req.body,
        req.title.as_deref(),
    )
    .await?;
    match load(&state, session.user.id, &key).await? {
        Some(draft) => Ok(axum::Json(draft).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Forget a draft (done for you when the words are sent).
#[utoipa::path(delete, path = "/api/v1/me/drafts/{key}", tag = "drafts",
    params(("key" = String, Path, description = "topic:ID, community:SLUG, room:ID or conversation:ID")),
    responses((status = 204, description = "forgotten (or there was none)"), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(key): Path<String>,
) -> AppResult<StatusCode> {
    let key = parse_key(&key)?;
    discard(&state, session.user.id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::Key;

    #[test]
    fn keys_have_one_shape() {
        assert_eq!(Key::parse("topic:12"), Some(Key::Topic(12)));
        assert_eq!(
            Key::parse("community:type-2"),
            Some(Key::Community("type-2".into()))
        );
        assert_eq!(Key::parse("room:3"), Some(Key::Room(3)));
        assert_eq!(Key::parse("conversation:9"), Some(Key::Conversation(9)));
        for bad in [
            "topic:",
            "topic:0",
            "topic:-1",
            "topic:+1",
            "topic: 1",
            "topic:99999999999999999999",
            "post:1",
            "community:Ab",
            "community: abc",
            "room",
            "",
        ] {
            assert_eq!(Key::parse(bad), None, "{bad}");
        }
        assert_eq!(Key::parse(&format!("community:{}", "a".repeat(80))), None);
        assert_eq!(Key::Topic(5).to_string(), "topic:5");
    }
}
