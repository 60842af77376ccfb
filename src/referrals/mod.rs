//! Referral links: an organiser makes a link per clinic or health centre, a clinician hands it
//! to a patient (printed, with a QR code), the patient lands on a plain welcome and joins.
//!
//! Organisers see counts only — visits, joins, and joined members who went on to post — never
//! who. The only tie between a person and a link is a `referral_arrivals` row, kept from the
//! join until that member's first post in the group is counted, then deleted.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, User, serialize_time};
use crate::app::AppState;
use crate::communities::{CommunityRow, JoinResult, find_by_id, organised_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_delete))
        .routes(routes!(api_welcome))
        .routes(routes!(api_join))
}

#[derive(sqlx::FromRow)]
struct ReferralRow {
    id: i64,
    community_id: i64,
    code: String,
    label: String,
    visits: i64,
    joined: i64,
    posted: i64,
    created_at: i64,
}

macro_rules! referral_columns {
    () => {
        "id, community_id, code, label, visits, joined, posted, created_at"
    };
}

/// A link as organisers see it: counts, never people.
#[derive(Serialize, ToSchema, Debug)]
pub struct Referral {
    pub code: String,
    /// Who the link is for, e.g. "Clínica San Juan".
    pub label: String,
    pub url: String,
    /// Visits to the welcome page.
    pub visits: i64,
    /// People who joined the group through it.
    pub joined: i64,
    /// Of those, how many have posted in the group.
    pub posted: i64,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Serialize, ToSchema, Debug)]
pub struct CreatedReferral {
    pub code: String,
    pub url: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewReferral {
    /// Who the link is for (1–100 characters), e.g. "Clínica San Juan".
    pub label: String,
}

/// What a patient sees before joining: the group, not the link's label.
#[derive(Serialize, ToSchema, Debug)]
pub struct Welcome {
    pub code: String,
    pub community: String,
    pub name: String,
    pub description: String,
    pub language: String,
}

fn url_of(state: &AppState, code: &str) -> String {
    let base = state.config.public_url.as_deref().unwrap_or("");
    format!("{}/r/{}", base.trim_end_matches('/'), display(code))
}

fn view(state: &AppState, row: ReferralRow) -> Referral {
    Referral {
        url: url_of(state, &row.code),
        code: display(&row.code),
        label: row.label,
        visits: row.visits,
        joined: row.joined,
        posted: row.posted,
        created_at: row.created_at,
    }
}

/// Crockford's base 32: digits and capitals without I, L, O and U, so a code read aloud or
/// copied from paper has no look-alikes (and typing O for 0 or I/L for 1 still works).
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code: 60 bits. A code lets a patient ask to join (a moderator decides for a
/// private group), and guessing is held back by the rate limits.
const CODE_CHARS: usize = 12;

/// A random code, stored as its 12 characters; shown and linked in groups of four
/// (`K7QM-X4PT-2HZD`).
fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..CODE_CHARS)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A code as people type it — any case, with dashes or spaces, O for 0, I or L for 1 — in the
/// stored form; `None` when it is not a code of this shape (links made before codes were short
/// are looked up as written).
fn canonical(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// The form a typed code is stored in.
fn stored(typed: &str) -> String {
    canonical(typed).unwrap_or_else(|| typed.to_owned())
}

/// A stored code as shown and linked: short codes in groups of four, older ones as they are.
pub fn display(code: &str) -> String {
    if code.len() != CODE_CHARS {
        return code.to_owned();
    }
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

pub async fn create(
    state: &AppState,
    user: &User,
    slug: &str,
    req: &NewReferral,
) -> AppResult<CreatedReferral> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    let label = req.label.trim();
    let n = label.chars().count();
    if !(1..=100).contains(&n) || label.chars().any(char::is_control) {
        let mut fields = FieldErrors::new();
        fields.push("label", "a label has 1 to 100 characters");
        return Err(fields.into_error());
    }
    let code = new_code();
    let mut w = state.store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO referrals (community_id, code, label, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        community.id,
        &code,
        label,
        user.id,
        now_ms()
    )?;
    Ok(CreatedReferral {
        url: url_of(state, &code),
        code: display(&code),
    })
}

/// The community's links, newest first, with their counts.
pub async fn list(state: &AppState, user: &User, slug: &str) -> AppResult<Vec<Referral>> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    let mut conn = state.store.read().await?;
    let rows = db!(
        conn,
        fetch_all as ReferralRow,
        concat!(
            "SELECT ",
            referral_columns!(),
            " FROM referrals WHERE community_id = $1 ORDER BY id DESC LIMIT 500"
        ),
        community.id
    )?;
    Ok(rows.into_iter().map(|r| view(state, r)).collect())
}

/// One of the community's links (organisers), for the printable page.
pub async fn one(state: &AppState, user: &User, slug: &str, code: &str) -> AppResult<Referral> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as ReferralRow,
        concat!(
            "SELECT ",
            referral_columns!(),
            " FROM referrals WHERE community_id = $1 AND code = $2"
        ),
        community.id,
        stored(code)
    )?
    .ok_or(AppError::NotFound)?;
    Ok(view(state, row))
}

/// Deletes a link: it stops working, and its counts go with it.
pub async fn delete(state: &AppState, user: &User, slug: &str, code: &str) -> AppResult<()> {
    let community = organised_community(&mut state.store.read().await?, slug, user)
        .await?
        .0;
    let mut w = state.store.write().await?;
    let n = db!(
        w,
        execute,
        "DELETE FROM referrals WHERE community_id = $1 AND code = $2",
        community.id,
        stored(code)
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

async fn by_code(conn: &mut impl AsDb, code: &str) -> AppResult<(ReferralRow, CommunityRow)> {
    let row = db!(
        *conn,
        fetch_optional as ReferralRow,
        concat!(
            "SELECT ",
            referral_columns!(),
            " FROM referrals WHERE code = $1"
        ),
        stored(code)
    )?
    .ok_or(AppError::NotFound)?;
    let community = find_by_id(conn, row.community_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((row, community))
}

/// The welcome for a link; `count` says whether this is a landing to count as a visit.
pub async fn welcome(state: &AppState, code: &str, count: bool) -> AppResult<Welcome> {
    let (row, community) = {
        let mut conn = state.store.read().await?;
        by_code(&mut conn, code).await?
    };
    let listing = crate::directory::Listing::of(&community);
    if count {
        let mut w = state.store.write().await?;
        db!(
            w,
            execute,
            "UPDATE referrals SET visits = visits + 1 WHERE id = $1",
            row.id
        )?;
    }
    Ok(Welcome {
        code: display(&row.code),
        community: community.slug,
        name: community.name,
        description: community.description,
        language: listing.language().to_owned(),
    })
}

/// Joins the link's group (private ones by request, as always); a new membership counts as a
/// join for the link, and the member is remembered only until their first post counts.
pub async fn join(state: &AppState, user: &User, code: &str) -> AppResult<(String, JoinResult)> {
    let (row, community, was_member) = {
        let mut conn = state.store.read().await?;
        let (row, community) = by_code(&mut conn, code).await?;
        let was = db!(
            conn,
            fetch_optional scalar String,
            "SELECT status FROM memberships WHERE community_id = $1 AND user_id = $2",
            community.id,
            user.id
        )?;
        (row, community, was.is_some())
    };
    let result = crate::communities::join_via(
        state,
        user,
        &community.slug,
        crate::communities::Via::Referral,
    )
    .await?;
    if !was_member {
        let mut tx = state.store.begin().await?;
        let arrived = db!(
            tx,
            execute,
            "INSERT INTO referral_arrivals (referral_id, community_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            row.id,
            community.id,
            user.id
        )?;
        if arrived > 0 {
            db!(
                tx,
                execute,
                "UPDATE referrals SET joined = joined + 1 WHERE id = $1",
                row.id
            )?;
        }
        tx.commit().await?;
        if arrived > 0 {
            // Sessions carry `referred`: the member's next post must count.
            state.realtime.member_changed(user.id);
        }
    }
    Ok((community.slug, result))
}

/// Whether `code` is a referral link to the group at `slug`.
pub async fn is_for(state: &AppState, code: &str, slug: &str) -> AppResult<bool> {
    let mut conn = state.store.read().await?;
    match by_code(&mut conn, code).await {
        Ok((_, community)) => Ok(community.slug == slug),
        Err(AppError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Called in the transaction of every forum post: the first post of a member who joined
/// through a link counts for it, and the tie between them is dropped.
pub async fn on_post(tx: &mut impl AsDb, community_id: i64, user_id: i64) -> AppResult<bool> {
    let counted = db!(
        *tx,
        execute,
        "UPDATE referrals SET posted = posted + 1 WHERE id IN
           (SELECT referral_id FROM referral_arrivals WHERE community_id = $1 AND user_id = $2)",
        community_id,
        user_id
    )?;
    if counted > 0 {
        db!(
            *tx,
            execute,
            "DELETE FROM referral_arrivals WHERE community_id = $1 AND user_id = $2",
            community_id,
            user_id
        )?;
    }
    Ok(counted > 0)
}

/// The group's referral links with their counts (organisers). Never names anyone.
#[utoipa::path(get, path = "/api/v1/communities/{slug}/referrals", tag = "referrals", operation_id = "list_referrals",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<Referral>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_list(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<Referral>>> {
    Ok(axum::Json(list(&state, &session.user, &slug).await?))
}

/// Make a referral link (organisers).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/referrals", tag = "referrals", operation_id = "create_referral",
    params(("slug" = String, Path)),
    request_body = NewReferral,
    responses((status = 201, body = CreatedReferral), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewReferral>,
) -> AppResult<(StatusCode, axum::Json<CreatedReferral>)> {
    let created = create(&state, &session.user, &slug, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Delete a referral link (organisers): it stops working.
#[utoipa::path(delete, path = "/api/v1/communities/{slug}/referrals/{code}", tag = "referrals", operation_id = "delete_referral",
    params(("slug" = String, Path), ("code" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, code)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    delete(&state, &session.user, &slug, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The welcome behind a referral link (anyone); counts as a visit.
#[utoipa::path(get, path = "/api/v1/referrals/{code}", tag = "referrals", operation_id = "referral_welcome",
    params(("code" = String, Path)),
    responses((status = 200, body = Welcome), (status = 404, body = ErrorBody)))]
async fn api_welcome(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<axum::Json<Welcome>> {
    Ok(axum::Json(welcome(&state, &code, true).await?))
}

/// Join the group behind a referral link.
#[utoipa::path(post, path = "/api/v1/referrals/{code}/join", tag = "referrals", operation_id = "referral_join",
    params(("code" = String, Path)),
    responses((status = 200, description = "joined", body = JoinResult), (status = 202, description = "request sent", body = JoinResult),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_join(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(code): Path<String>,
) -> AppResult<(StatusCode, axum::Json<JoinResult>)> {
    let (_, result) = join(&state, &session.user, &code).await?;
    let status = if result.status == "active" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, axum::Json(result)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_unambiguous_and_forgiving_to_type() {
        let code = new_code();
        assert_eq!(code.len(), CODE_CHARS);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        let shown = display(&code);
        assert_eq!(shown.len(), 14);
        assert_eq!(shown.matches('-').count(), 2);
        assert_eq!(canonical(&shown).as_deref(), Some(code.as_str()));
        assert_eq!(
            canonical(&shown.to_lowercase().replace('-', " ")).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(canonical("k7qm-x4pt-2hzo").as_deref(), Some("K7QMX4PT2HZ0"));
        assert_eq!(canonical("K7QM-X4PT-2HZl").as_deref(), Some("K7QMX4PT2HZ1"));
        assert_eq!(
            canonical("K7QM-X4PT-2HZU"),
            None,
            "U is not in the alphabet"
        );
        assert_eq!(canonical("Abc123xyz0Q9wErTy"), None, "an older code");
        assert_eq!(stored("Abc123xyz0Q9wErTy"), "Abc123xyz0Q9wErTy");
        assert_eq!(display("Abc123xyz0Q9wErTy"), "Abc123xyz0Q9wErTy");
    }
}
