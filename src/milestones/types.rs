//! A community's milestone types: organisers define what the community celebrates, each with a
//! key, a label as they write it, an optional unit and a category. Types in use are retired, not
//! deleted, so old milestone posts keep their label.

use crate::http::Path;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, Session, User};
use crate::app::AppState;
use crate::communities::{CommunityRow, organised_community, visible_community};
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_types, api_create_type))
        .routes(routes!(api_update_type, api_delete_type))
}

/// What kind of milestone a type records. `anniversary` types remind their members every year
/// on the day (see `anniversary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A1c, blood pressure, weight, medication reduced.
    Clinical,
    /// Clothes, mobility, activity, social.
    NonScale,
    /// A date worth remembering ("time since surgery", "diaversary").
    Anniversary,
    Other,
}

impl Category {
    pub fn parse(raw: &str) -> Result<Category, String> {
        match raw {
            "clinical" => Ok(Category::Clinical),
            "non_scale" => Ok(Category::NonScale),
            "anniversary" => Ok(Category::Anniversary),
            "other" => Ok(Category::Other),
            _ => Err("a category is clinical, non_scale, anniversary or other".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Clinical => "clinical",
            Category::NonScale => "non_scale",
            Category::Anniversary => "anniversary",
            Category::Other => "other",
        }
    }
}

/// A type key: snake_case, 2–40 characters, starting with a letter (`weight_lost`).
pub fn parse_key(raw: &str) -> Result<String, String> {
    let ok = (2..=40).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("a key is 2 to 40 lower-case letters, digits or _, starting with a letter".into())
    }
}

fn parse_label(raw: &str) -> Result<String, String> {
    let label = raw.trim();
    if (1..=60).contains(&label.chars().count()) && !label.chars().any(char::is_control) {
        Ok(label.to_owned())
    } else {
        Err("a label has 1 to 60 characters".into())
    }
}

/// A unit as members write it ("lb", "kg", "%", "mmHg"): up to 12 characters; empty is none.
pub fn parse_unit(raw: &str) -> Result<Option<String>, String> {
    let unit = raw.trim();
    if unit.chars().count() > 12 || unit.chars().any(char::is_control) {
        return Err("a unit has at most 12 characters".into());
    }
    Ok((!unit.is_empty()).then(|| unit.to_owned()))
}

/// A weight unit (shown to each member in their own: kg, or lb in the United States).
pub fn is_weight_unit(unit: &str) -> bool {
    ["kg", "kgs", "lb", "lbs"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(unit.trim()))
}

/// A milestone type as listed.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct MilestoneType {
    pub key: String,
    /// As the organisers wrote it.
    pub label: String,
    /// The unit members usually give (they may give another).
    pub unit: Option<String>,
    pub category: Category,
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct TypeRow {
    pub id: i64,
    pub type_key: String,
    pub label: String,
    pub unit: Option<String>,
    pub category: String,
}

impl TypeRow {
    pub fn category(&self) -> Category {
        Category::parse(&self.category).unwrap_or(Category::Other)
    }

    fn view(self) -> MilestoneType {
        MilestoneType {
            category: self.category(),
            key: self.type_key,
            label: self.label,
            unit: self.unit,
        }
    }
}

/// The types every new community starts with.
const DEFAULTS: [(&str, &str, Option<&str>, Category); 4] = [
    ("weight_lost", "Weight lost", Some("lb"), Category::Clinical),
    ("a1c", "A1c", Some("%"), Category::Clinical),
    (
        "time_since_surgery",
        "Time since surgery",
        None,
        Category::Anniversary,
    ),
    (
        "non_scale_victory",
        "Non-scale victory",
        None,
        Category::NonScale,
    ),
];

/// Gives a new community the default milestone types (in its creating transaction).
pub async fn create_defaults(conn: &mut impl AsDb, community_id: i64) -> AppResult<()> {
    let now = now_ms();
    for (key, label, unit, category) in DEFAULTS {
        db!(
            *conn,
            execute,
            "INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            community_id,
            key,
            label,
            unit,
            category.as_str(),
            now
        )?;
    }
    Ok(())
}

/// An active (not retired) type of the community by key.
pub async fn find_active(
    conn: &mut impl AsDb,
    community_id: i64,
    key: &str,
) -> AppResult<Option<TypeRow>> {
    Ok(db!(
        *conn,
        fetch_optional as TypeRow,
        "SELECT id, type_key, label, unit, category FROM milestone_types
         WHERE community_id = $1 AND type_key = $2 AND retired_at IS NULL",
        community_id,
        key
    )?)
}

/// The community for someone who may read it: 404 when they may not know of it, 403 when they
/// may see it but not read it (as the forum answers).
async fn readable(
    conn: &mut impl AsDb,
    slug: &str,
    viewer: Option<&User>,
) -> AppResult<CommunityRow> {
    let (community, access) = visible_community(conn, slug, viewer).await?;
    if !access.can_read() {
        return Err(AppError::forbidden(
            "join this community to see its milestones",
        ));
    }
    Ok(community)
}

/// A community's milestone types in use today, in the order they were made.
pub async fn list_types(
    state: &AppState,
    viewer: Option<&User>,
    slug: &str,
) -> AppResult<Vec<MilestoneType>> {
    let mut conn = state.store.read().await?;
    let community = readable(&mut conn, slug, viewer).await?;
    let rows = db!(
        conn,
        fetch_all as TypeRow,
        "SELECT id, type_key, label, unit, category FROM milestone_types
         WHERE community_id = $1 AND retired_at IS NULL ORDER BY id",
        community.id
    )?;
    Ok(rows.into_iter().map(TypeRow::view).collect())
}

/// The community's milestone types (for whoever may read the community).
#[utoipa::path(get, path = "/api/v1/communities/{slug}/milestone-types", tag = "milestones", operation_id = "list_milestone_types",
    params(("slug" = String, Path)),
    responses((status = 200, body = Vec<MilestoneType>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn api_list_types(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(slug): Path<String>,
) -> AppResult<axum::Json<Vec<MilestoneType>>> {
    Ok(axum::Json(
        list_types(&state, viewer.as_ref().map(|s| &s.user), &slug).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewMilestoneType {
    /// snake_case, 2–40 characters, unique in the community.
    pub key: String,
    /// 1–60 characters.
    pub label: String,
    /// Up to 12 characters.
    pub unit: Option<String>,
    /// `clinical`, `non_scale`, `anniversary` or `other` (the default).
    pub category: Option<String>,
}

/// Organisers add a milestone type; re-adding a retired key brings it back.
pub async fn create_type(
    state: &AppState,
    session: &Session,
    slug: &str,
    req: &NewMilestoneType,
) -> AppResult<MilestoneType> {
    let community = organised_community(&mut state.store.read().await?, slug, &session.user)
        .await?
        .0;
    let mut fields = FieldErrors::new();
    let key = fields.check("key", parse_key(&req.key));
    let label = fields.check("label", parse_label(&req.label));
    let unit = fields.check("unit", parse_unit(req.unit.as_deref().unwrap_or("")));
    let category = fields.check(
        "category",
        Category::parse(req.category.as_deref().unwrap_or("other")),
    );
    let (Some(key), Some(label), Some(unit), Some(category)) = (key, label, unit, category) else {
        return Err(fields.into_error());
    };
    let mut w = state.store.write().await?;
    let stored = db!(
        w,
        fetch_optional as TypeRow,
        "INSERT INTO milestone_types (community_id, type_key, label, unit, category, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (community_id, type_key) DO UPDATE
           SET label = excluded.label, unit = excluded.unit, category = excluded.category, retired_at = NULL
           WHERE milestone_types.retired_at IS NOT NULL
         RETURNING id, type_key, label, unit, category",
        community.id,
        &key,
        &label,
        unit.as_deref(),
        category.as_str(),
        now_ms()
    )?
    .ok_or_else(|| {
        AppError::conflict(
            "milestone_type_exists",
            "this community already has a milestone type with that key",
        )
    })?;
    Ok(stored.view())
}

/// Add a milestone type (the community's organisers).
#[utoipa::path(post, path = "/api/v1/communities/{slug}/milestone-types", tag = "milestones", operation_id = "create_milestone_type",
    params(("slug" = String, Path)),
    request_body = NewMilestoneType,
    responses((status = 201, body = MilestoneType), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_create_type(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(slug): Path<String>,
    Json(req): Json<NewMilestoneType>,
) -> AppResult<(StatusCode, axum::Json<MilestoneType>)> {
    let created = create_type(&state, &session, &slug, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[derive(Deserialize, ToSchema)]
pub struct MilestoneTypeChanges {
    pub label: Option<String>,
    /// `""` removes it.
    pub unit: Option<String>,
    pub category: Option<String>,
}

/// Organisers relabel a type, change its unit or its category; old posts show the new label.
pub async fn update_type(
    state: &AppState,
    session: &Session,
    slug: &str,
    key: &str,
    req: &MilestoneTypeChanges,
) -> AppResult<MilestoneType> {
    let community = organised_community(&mut state.store.read().await?, slug, &session.user)
        .await?
        .0;
    let current = {
        let mut conn = state.store.read().await?;
        find_active(&mut conn, community.id, key)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let mut fields = FieldErrors::new();
    let label = match req.label.as_deref() {
        Some(l) => fields.check("label", parse_label(l)),
        None => Some(current.label.clone()),
    };
    let unit = match req.unit.as_deref() {
        Some(u) => fields.check("unit", parse_unit(u)),
        None => Some(current.unit.clone()),
    };
    let category = match req.category.as_deref() {
        Some(c) => fields.check("category", Category::parse(c)),
        None => Some(current.category()),
    };
    let (Some(label), Some(unit), Some(category)) = (label, unit, category) else {
        return Err(fields.into_error());
    };
    let mut w = state.store.write().await?;
    let stored = db!(
        w,
        fetch_optional as TypeRow,
        "UPDATE milestone_types SET label = $2, unit = $3, category = $4 WHERE id = $1 AND retired_at IS NULL
         RETURNING id, type_key, label, unit, category",
        current.id,
        &label,
        unit.as_deref(),
        category.as_str()
    )?
    .ok_or(AppError::NotFound)?;
    Ok(stored.view())
}

/// Change a milestone type (the community's organisers).
#[utoipa::path(patch, path = "/api/v1/communities/{slug}/milestone-types/{key}", tag = "milestones", operation_id = "update_milestone_type",
    params(("slug" = String, Path), ("key" = String, Path)),
    request_body = MilestoneTypeChanges,
    responses((status = 200, body = MilestoneType), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_update_type(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, key)): Path<(String, String)>,
    Json(req): Json<MilestoneTypeChanges>,
) -> AppResult<axum::Json<MilestoneType>> {
    Ok(axum::Json(
        update_type(&state, &session, &slug, &key, &req).await?,
    ))
}

/// Organisers remove a type: deleted when no milestone uses it, else retired (no new posts of
/// that type; old ones keep their label).
pub async fn delete_type(
    state: &AppState,
    session: &Session,
    slug: &str,
    key: &str,
) -> AppResult<()> {
    let community = organised_community(&mut state.store.read().await?, slug, &session.user)
        .await?
        .0;
    let mut tx = state.store.begin().await?;
    let id = db!(
        tx,
        fetch_optional scalar i64,
        "SELECT id FROM milestone_types WHERE community_id = $1 AND type_key = $2 AND retired_at IS NULL",
        community.id,
        key
    )?
    .ok_or(AppError::NotFound)?;
    let in_use = db!(
        tx,
        fetch_optional scalar i64,
        "SELECT id FROM milestones WHERE type_id = $1 LIMIT 1",
        id
    )?;
    if in_use.is_some() {
        db!(
            tx,
            execute,
            "UPDATE milestone_types SET retired_at = $2 WHERE id = $1",
            id,
            now_ms()
        )?;
    } else {
        db!(tx, execute, "DELETE FROM milestone_types WHERE id = $1", id)?;
    }
    tx.commit().await?;
    Ok(())
}

/// Remove a milestone type (the community's organisers); one in use is retired instead.
#[utoipa::path(delete, path = "/api/v1/communities/{slug}/milestone-types/{key}", tag = "milestones", operation_id = "delete_milestone_type",
    params(("slug" = String, Path), ("key" = String, Path)),
    responses((status = 204, description = "deleted, or retired when in use"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_delete_type(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((slug, key)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    delete_type(&state, &session, &slug, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_labels_units() {
        assert!(parse_key("weight_lost").is_ok());
        assert!(parse_key("a1c").is_ok());
        assert!(parse_key("a").is_err());
        assert!(parse_key("Weight").is_err());
        assert!(parse_key("1st").is_err());
        assert!(parse_key("non-scale").is_err());
        assert!(parse_key(&"a".repeat(41)).is_err());
        assert!(parse_label("  ").is_err());
        assert_eq!(parse_label(" A1c ").ok().as_deref(), Some("A1c"));
        assert_eq!(parse_unit("").ok(), Some(None));
        assert!(parse_unit("thirteen char").is_err());
    }
}
