//! Invitation links: how a private group's organisers let someone in. A private group does not
//! exist for anyone outside it, so joining it by its address answers 404 exactly as for an
//! unknown one (see `communities::join`); an invitation code — or a referral code — is what
//! opens the door. A link can be single-use (or N uses) and can expire; revoking deletes it.
//! Only a count of uses is kept, never who used the link.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, User, serialize_opt_time, serialize_time};
use crate::app::AppState;
use crate::communities::{CommunityRow, find_by_id, visible_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_revoke))
}

/// At most this many uses, and this many hours, for one link.
const MAX_USES: i64 = 1000;
const MAX_HOURS: i64 = 24 * 365;

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: i64,
    community_id: i64,
    code: String,
    max_uses: Option<i64>,
    uses: i64,
    expires_at: Option<i64>,
    created_at: i64,
}

macro_rules! invitation_columns {
    () => {
        "id, community_id, code, max_uses, uses, expires_at, created_at"
    };
}

/// A link as its group's organisers see it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Invitation {
    pub code: String,
    pub url: String,
    /// Null: any number of uses until it expires.
    pub max_uses: Option<i64>,
    pub uses: i64,
    #[serde(serialize_with = "serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    /// Whether it still lets someone in (not used up, not expired).
    pub usable: bool,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Deserialize, ToSchema, Default)]
pub struct NewInvitation {
    /// How many people may join with it (1 for a single-use link); none: no limit.
    pub max_uses: Option<i64>,
    /// Hours until it stops working; none: it does not expire.
    pub expires_in_hours: Option<i64>,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct CreatedInvitation {
    pub code: String,
    /// The page where a signed-in visitor joins with it.
    pub url: String,
}

fn url_of(state: &AppState, code: &str) -> String {
    let base = state.config.public_url.as_deref().unwrap_or("");
    format!("{}/i/{code}", base.trim_end_matches('/'))
}

fn usable(row: &InvitationRow, now: i64) -> bool {
    row.max_uses.is_none_or(|m| row.uses < m) && row.expires_at.is_none_or(|e| e > now)
}

fn view(state: &AppState, row: InvitationRow, now: i64) -> Invitation {
    Invitation {
        url: url_of(state, &row.code),
        usable: usable(&row, now),
        code: row.code,
        max_uses: row.max_uses,
        uses: row.uses,
        expires_at: row.expires_at,
        created_at: row.created_at,
    }
}

/// A random code of 22 letters and digits (about 130 bits): unguessable.
fn new_code() -> String {
    crate::accounts::session::random_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(22)
        .collect()
}

/// The community, for one of its organisers (404 to whoever may not see it, 403 to members).
pub async fn organised(state: &AppState, user: &User, slug: &str) -> AppResult<CommunityRow> {
    let mut conn = state.store.read().await?;
    let (row, access) = visible_community(&mut conn, slug, Some(user)).await?;
    if !access.is_organiser() {
        return Err(AppError::forbidden(
            "only the group's organisers make invitation links",
        ));
    }
    Ok(row)
}

pub async fn create(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &NewInvitation,
) -> AppResult<CreatedInvitation> {
    let community = organised(state, user, slug).await?;
    let mut fields = FieldErrors::new();
    if req.max_uses.is_some_and(|n| !(1..=MAX_USES).contains(&n)) {
        fields.push("max_uses", format!("from 1 to {MAX_USES} uses"));
    }
    if req
        .expires_in_hours
        .is_some_and(|h| !(1..=MAX_HOURS).contains(&h))
    {
        fields.push("expires_in_hours", format!("from 1 to {MAX_HOURS} hours"));
    }
    fields.into_result()?;
    let now = now_ms();
    let expires_at = req.expires_in_hours.map(|h| now + h * 3600 * 1000);
    let code = new_code();
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO invitations (community_id, code, max_uses, expires_at, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        community.id,
        &code,
        req.max_uses,
        expires_at,
        user.id,
        now
    )?;
    Ok(CreatedInvitation {
        url: url_of(state, &code),
        code,
    })
}

/// The group's links, newest first.
pub async fn list(state: &AppState, user: &User, slug: &str) -> AppResult<Vec<Invitation>> {
    let community = organised(state, user, slug).await?;
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as InvitationRow,
        concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE community_id = $1 ORDER BY id DESC LIMIT 500"
        ),
        community.id
    )?;
    let now = now_ms();
    Ok(rows.into_iter().map(|r| view(state, r, now)).collect())
}

/// Revokes a link: it stops working at once.
pub async fn revoke(state: &AppState, user: &User, slug: &str, code: &str) -> AppResult<()> {
    let community = organised(state, user, slug).await?;
    let mut w = state.store.write().await?;
    let n = db!(
        w,
        execute,
        "DELETE FROM invitations WHERE community_id = $1 AND code = $2",
        community.id,
        code
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// A usable invitation and its community, by code; `None` for a wrong, used-up or expired one.
pub async fn usable_by_code(
    conn: &mut impl AsDb,
    code: &str,
) -> AppResult<Option<(i64, CommunityRow)>> {
    let row = db!(
        *conn,
        fetch_optional as InvitationRow,
        concat!(
            "SELECT ",
            invitation_columns!(),
            " FROM invitations WHERE code = $1"
        ),
        code
    )?;
    let Some(row) = row.filter(|r| usable(r, now_ms())) else {
        return Ok(None);
    };
    let community = find_by_id(conn, row.community_id).await?;
    Ok(community.map(|c| (row.id, c)))
}

/// Takes one use of the invitation, if it still has one; false when it was used up, expired
/// or revoked meanwhile. Run in the transaction that makes the membership.
pub async fn take_use(conn: &mut impl AsDb, invitation_id: i64) -> AppResult<bool> {
    let n = db!(
        *conn,
        execute,
        "UPDATE invitations SET uses = uses + 1
         WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > $2)",
        invitation_id,
        now_ms()
    )?;
    Ok(n > 0)
}

/// A private group's invitation links (organisers).
#[utoipa::path(get, path = "/api/v1/communities/{slug}/invitations", tag = "communities", operation_id = "list_invitations",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Invitation>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Invitation>>> {
    Ok(axum::Json(list(&state, &session.user, &slug).await?))
}

/// Make an invitation link (organisers): single-use with `max_uses: 1`, expiring with
/// `expires_in_hours`.
#[utoipa::path(post, path = "/api/v1/communities/{slug}/invitations", tag = "communities", operation_id = "create_invitation",
    params(("slug" = String, Path)),
    request_body = NewInvitation,
    responses((status = 201, body = CreatedInvitation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewInvitation>,
) -> AppResult<(StatusCode, axum::Json<CreatedInvitation>)> {
    let created = create(&state, &session.user, &slug, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Revoke an invitation link (organisers).
#[utoipa::path(delete, path = "/api/v1/communities/{slug}/invitations/{code}", tag = "communities", operation_id = "revoke_invitation",
    params(("slug" = String, Path), ("code" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_revoke(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, code)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    revoke(&state, &session.user, &slug, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}
