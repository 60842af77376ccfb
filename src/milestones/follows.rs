//! Following a member to hear about their milestones. Following is quiet: the member followed is
//! not told, and a follower hears only of milestones in communities they may read.

use crate::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, Session, find_by_username};
use crate::app::AppState;
use crate::communities::MemberSummary;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::paging::{Page, PageParams, cursor};
use crate::store::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_follow, api_unfollow))
        .routes(routes!(api_following))
}

/// Follows (`on`) or stops following a member; both are idempotent.
pub async fn set_follow(
    state: &AppState,
    session: &Session,
    username: &str,
    on: bool,
) -> AppResult<()> {
    let followee = {
        let mut conn = state.store.read().await?;
        find_by_username(&mut conn, username)
            .await?
            .ok_or(AppError::NotFound)?
    };
    if followee.id == session.user.id {
        return Err(AppError::invalid("username", "you cannot follow yourself"));
    }
    let mut w = state.store.write().await?;
    if on {
        db!(
            w,
            execute,
            "INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            session.user.id,
            followee.id,
            now_ms()
        )?;
    } else {
        db!(
            w,
            execute,
            "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2",
            session.user.id,
            followee.id
        )?;
    }
    Ok(())
}

/// Follow a member: hear when they share a milestone you may see.
#[utoipa::path(put, path = "/api/v1/users/{username}/follow", tag = "milestones", operation_id = "follow",
    params(("username" = String, Path)),
    responses((status = 204, description = "following"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_follow(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set_follow(&state, &session, &username, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop following a member.
#[utoipa::path(delete, path = "/api/v1/users/{username}/follow", tag = "milestones", operation_id = "unfollow",
    params(("username" = String, Path)),
    responses((status = 204, description = "not following"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_unfollow(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    set_follow(&state, &session, &username, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `follower_id` follows `followee_id` (for the profile's Follow / Unfollow button).
pub async fn is_following(state: &AppState, follower_id: i64, followee_id: i64) -> AppResult<bool> {
    let mut conn = state.store.read().await?;
    let found = db!(
        conn,
        fetch_optional scalar i64,
        "SELECT follower_id FROM follows WHERE follower_id = $1 AND followee_id = $2",
        follower_id,
        followee_id
    )?;
    Ok(found.is_some())
}

/// The members the caller follows, by id.
pub async fn following(
    state: &AppState,
    session: &Session,
    page: &PageParams,
) -> AppResult<Page<MemberSummary>> {
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as MemberSummary,
        "SELECT u.id, u.username, u.display_name FROM follows f JOIN users u ON u.id = f.followee_id
         WHERE f.follower_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
        session.user.id,
        after,
        limit + 1
    )?;
    Ok(Page::from_rows(rows, limit, |m: &MemberSummary| {
        cursor(&[m.id])
    }))
}

/// The members you follow.
#[utoipa::path(get, path = "/api/v1/me/following", tag = "milestones", operation_id = "following",
    params(PageParams),
    responses((status = 200, body = Page<MemberSummary>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_following(
    State(state): State<AppState>,
    Auth(session): Auth,
    Query(page): Query<PageParams>,
) -> AppResult<axum::Json<Page<MemberSummary>>> {
    Ok(axum::Json(following(&state, &session, &page).await?))
}
