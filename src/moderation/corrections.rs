//! Misinformation without deletion: correction notes with a source, written by moderators, peer
//! leaders (organisers and welcomers) and verified professionals; the credential checks behind
//! the professional badge; and moderators' duty status for crisis alerts.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::types::Role;
use crate::accounts::{Auth, MaybeAuth, User, find_by_username, grant_role, serialize_time};
use crate::app::AppState;
use crate::communities::types::CommunityRole;
use crate::communities::{MemberSummary, find_by_id, load_access};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_corrections, add_correction))
        .routes(routes!(verify_professional))
        .routes(routes!(set_duty))
}

#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct Correction {
    pub id: i64,
    pub post_id: i64,
    pub author: Option<MemberSummary>,
    /// Whether the author is a verified health professional.
    pub by_professional: bool,
    pub note: String,
    pub source_url: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct CorrectionRow {
    id: i64,
    post_id: i64,
    author_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    professional: Option<String>,
    note: String,
    source_url: String,
    created_at: i64,
}

/// Corrections on every post of a topic, oldest first: shown at the top of the thread.
pub async fn for_topic(conn: &mut impl AsDb, topic_id: i64) -> AppResult<Vec<Correction>> {
    for_posts(conn, topic_id, 0, i64::MAX).await
}

/// Corrections on the posts numbered after `after` up to `last` (one page), oldest first.
pub async fn for_posts(
    conn: &mut impl AsDb,
    topic_id: i64,
    after: i64,
    last: i64,
) -> AppResult<Vec<Correction>> {
    let rows = db!(
        *conn,
        fetch_all as CorrectionRow,
        "SELECT c.id, c.post_id, c.author_id, u.username, u.display_name,
                (SELECT r.role FROM user_roles r WHERE r.user_id = c.author_id AND r.role = 'professional') AS professional,
                c.note, c.source_url, c.created_at
         FROM corrections c JOIN posts p ON p.id = c.post_id LEFT JOIN users u ON u.id = c.author_id
         WHERE p.topic_id = $1 AND p.seq > $2 AND p.seq <= $3 AND p.deleted_at IS NULL ORDER BY c.id",
        topic_id,
        after,
        last
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Correction {
            id: r.id,
            post_id: r.post_id,
            author: MemberSummary::from_columns(r.author_id, r.username, r.display_name),
            by_professional: r.professional.is_some(),
            note: r.note,
            source_url: r.source_url,
            created_at: r.created_at,
        })
        .collect())
}

/// The corrections attached to a topic's posts (what shows above each post and atop the thread).
#[utoipa::path(get, path = "/api/v1/topics/{id}/corrections", tag = "moderation",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Correction>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_corrections(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Vec<Correction>>> {
    let user = viewer.map(|s| s.user);
    let (_, _, access) = crate::forum::visible_topic(&state, id, user.as_ref()).await?;
    let mut conn = state.store.read().await?;
    if !access.can_read() {
        return Err(AppError::forbidden("join this community to read its posts"));
    }
    Ok(axum::Json(for_topic(&mut conn, id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewCorrection {
    /// What is wrong and what is right, plainly (10–1,000 characters).
    pub note: String,
    /// Where the right information comes from (an http(s) address).
    pub source_url: String,
}

/// Attach a correction with a source to a post (moderators, peer leaders, verified professionals).
#[utoipa::path(post, path = "/api/v1/posts/{id}/corrections", tag = "moderation",
    params(("id" = i64, Path)),
    request_body = NewCorrection,
    responses((status = 201, body = Correction), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_correction(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
    Json(req): Json<NewCorrection>,
) -> AppResult<(StatusCode, axum::Json<Correction>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(correct_post(&state, &session.user, id, &req).await?),
    ))
}

/// Adds a moderator's correction to a post that spreads misinformation.
pub async fn correct_post(
    state: &AppState,
    user: &User,
    id: i64,
    req: &NewCorrection,
) -> AppResult<Correction> {
    let note = req.note.trim();
    if !(10..=1000).contains(&note.chars().count()) {
        return Err(AppError::invalid(
            "note",
            "a correction has 10 to 1,000 characters",
        ));
    }
    let source = req.source_url.trim();
    if !(source.starts_with("https://") || source.starts_with("http://"))
        || source.len() > 500
        || source.contains(char::is_whitespace)
    {
        return Err(AppError::invalid(
            "source_url",
            "give the source as an http(s) address",
        ));
    }
    let topic_id = {
        let mut conn = state.store.read().await?;
        let (community_id, topic_id) = db!(
            conn,
            fetch_optional as (i64, i64),
            "SELECT community_id, topic_id FROM posts WHERE id = $1 AND deleted_at IS NULL AND topic_id NOT IN (SELECT id FROM topics WHERE private_to IS NOT NULL)",
            id
        )?
        .ok_or(AppError::NotFound)?;
        let community = find_by_id(&mut conn, community_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let access = load_access(&mut conn, &community, Some(user)).await?;
        if !access.can_read() {
            return Err(AppError::NotFound);
        }
        let peer_leader = access
            .roles
            .iter()
            .any(|r| matches!(r, CommunityRole::Organiser | CommunityRole::Welcomer));
        if !(access.is_moderator() || peer_leader || user.has_role(Role::Professional)) {
            return Err(AppError::forbidden(
                "corrections come from moderators, peer leaders and verified professionals",
            ));
        }
        topic_id
    };
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO corrections (post_id, author_id, note, source_url, created_at) VALUES ($1, $2, $3, $4, $5)",
        id,
        user.id,
        note,
        source,
        now_ms()
    )?;
    drop(w);
    let mut conn = state.store.read().await?;
    let created = for_topic(&mut conn, topic_id)
        .await?
        .into_iter()
        .rev()
        .find(|c| c.post_id == id)
        .ok_or(AppError::NotFound)?;
    Ok(created)
}

#[derive(Deserialize, ToSchema)]
pub struct Verification {
    pub username: String,
    /// What was checked, how and where, e.g. "RN licence 12345, state board lookup".
    pub credential: String,
}

/// Admins: record a credential check and grant the verified professional badge.
#[utoipa::path(post, path = "/api/v1/admin/verifications", tag = "moderation",
    request_body = Verification,
    responses((status = 201, description = "verified"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn verify_professional(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<Verification>,
) -> AppResult<StatusCode> {
    verify(&state, &session.user, &req).await?;
    Ok(StatusCode::CREATED)
}

/// Records a credential check and grants the verified professional badge (site admins).
pub async fn verify(
    state: &AppState,
    user: &crate::accounts::User,
    req: &Verification,
) -> AppResult<()> {
    if !user.is_admin() {
        return Err(AppError::forbidden("only admins verify professionals"));
    }
    let credential = req.credential.trim();
    if !(5..=500).contains(&credential.chars().count()) {
        return Err(AppError::invalid(
            "credential",
            "say what was checked, how and where (5 to 500 characters)",
        ));
    }
    let mut tx = state.store.begin().await?;
    let target = find_by_username(&mut tx, &req.username)
        .await?
        .ok_or(AppError::NotFound)?;
    db!(
        tx,
        execute,
        "INSERT INTO verifications (user_id, credential, verified_by, created_at) VALUES ($1, $2, $3, $4)",
        target.id,
        credential,
        user.id,
        now_ms()
    )?;
    grant_role(&mut tx, target.id, Role::Professional, Some(user.id)).await?;
    tx.commit().await?;
    // Site roles ride with the sessions: every node reads the member's again.
    state.realtime.member_changed(target.id);
    Ok(())
}

#[derive(Deserialize, ToSchema)]
pub struct Duty {
    pub on_duty: bool,
    /// The hours you usually cover, for the other moderators (e.g. "Mon–Fri 18:00–21:00 CST").
    pub hours: Option<String>,
}

/// Moderators mark themselves on or off duty: crisis alerts go to those on duty first.
#[utoipa::path(put, path = "/api/v1/me/duty", tag = "moderation",
    request_body = Duty,
    responses((status = 204, description = "saved"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_duty(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<Duty>,
) -> AppResult<StatusCode> {
    change_duty(&state, &session.user, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a moderator on or off duty: crisis alerts go to those on duty first.
pub async fn change_duty(state: &AppState, user: &User, req: &Duty) -> AppResult<()> {
    let hours = req.hours.as_deref().unwrap_or("").trim();
    if hours.chars().count() > 200 {
        return Err(AppError::invalid("hours", "at most 200 characters"));
    }
    let mut w = state.store.write().await?;
    let moderates = db!(
        w,
        fetch_optional scalar i64,
        "SELECT user_id FROM community_roles WHERE user_id = $1 AND role IN ('moderator', 'organiser') LIMIT 1",
        user.id
    )?;
    if moderates.is_none() && !user.is_admin() && !user.has_role(Role::Moderator) {
        return Err(AppError::forbidden("duty is for moderators"));
    }
    db!(
        w,
        execute,
        "INSERT INTO moderator_duty (user_id, on_duty, hours, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET on_duty = excluded.on_duty, hours = excluded.hours, updated_at = excluded.updated_at",
        user.id,
        req.on_duty,
        hours,
        now_ms()
    )?;
    Ok(())
}
