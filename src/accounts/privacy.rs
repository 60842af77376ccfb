//! A member's data, theirs to take and to erase (DESIGN.md "Privacy").
//!
//! `GET /api/v1/me/export` gives everything held about the member: every row of every table that
//! points at them, found from the schema's own foreign keys (so a table added later is in the
//! export without anyone remembering to add it), plus what hangs off their goals and posts.
//! Secrets (password hash, token hashes, CSRF tokens) are left out, and so is what is about other
//! people (`ABOUT_OTHERS`, `OTHER_ACTORS`): who follows or reported the member, anonymous authors.
//!
//! `DELETE /api/v1/me` erases the account: the member confirms with their password and chooses
//! what happens to what they wrote — `remove` wipes the words of their posts and messages (the
//! threads stay for the others, with placeholders), `anonymise` keeps them under "deleted
//! member". Either way the account row goes, and with it (through the foreign keys) sessions,
//! memberships, roles, reactions, reads, notifications, milestones, goals, RSVPs and circles.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use utoipa::ToSchema;

use super::{Auth, Session, password};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::Json;
use crate::store::{AsDb, Db, format_ms, now_ms};

/// Columns never exported: secrets, and lookup keys that only repeat other columns.
const SECRET_COLUMNS: [&str; 5] = [
    "password_hash",
    "token_hash",
    "csrf_token",
    "username_key",
    "email_key",
];

/// Rows that belong to the member through one of their own rows rather than pointing at them:
/// (name in the export, query by the member's id).
const THROUGH: [(&str, &str); 2] = [
    (
        "goal_checkins",
        "SELECT c.* FROM goal_checkins c JOIN goals g ON g.id = c.goal_id WHERE g.owner_id = $1 ORDER BY c.id",
    ),
    (
        "post_revisions_of_my_posts",
        "SELECT r.* FROM post_revisions r JOIN posts p ON p.id = r.post_id WHERE p.author_id = $1 ORDER BY r.id",
    ),
];

/// Lists left out: their rows are about other people, not the member — who follows them,
/// reports and cases against them (with reporters' words and risk), and what they did to others'
/// words or memberships as a moderator or organiser (a deleted anonymous post would name its
/// author), and who blocks or ignores them (a block is never told to the member blocked).
const ABOUT_OTHERS: [(&str, &str); 16] = [
    ("conversations", "ended_by"),
    ("follows", "followee_id"),
    ("member_blocks", "blocked_id"),
    ("mod_cases", "author_id"),
    ("mod_cases", "assignee_id"),
    ("mod_cases", "acted_by"),
    ("mod_cases", "resolved_by"),
    ("case_notes", "moderator_id"),
    ("moderation_log", "moderator_id"),
    ("posts", "deleted_by"),
    ("chat_messages", "deleted_by"),
    ("memberships", "decided_by"),
    ("community_roles", "granted_by"),
    ("user_roles", "granted_by"),
    ("sanctions", "created_by"),
    ("verifications", "verified_by"),
];

/// Columns that name someone else who acted on the member's rows (the moderator who deleted a
/// post, the organiser who let them in, the actor of a notification — perhaps an anonymous
/// poster): emptied unless that someone is the member.
const OTHER_ACTORS: [&str; 7] = [
    "deleted_by",
    "decided_by",
    "granted_by",
    "created_by",
    "actor_id",
    "editor_id",
    "verified_by",
];

/// Empties the [`OTHER_ACTORS`] columns that hold another member's id.
fn redact_others(rows: &mut [Value], uid: i64) {
    for row in rows {
        let Some(fields) = row.as_object_mut() else {
            continue;
        };
        for column in OTHER_ACTORS {
            if let Some(v) = fields.get_mut(column)
                && v.as_i64().is_some_and(|id| id != uid)
            {
                *v = Value::Null;
            }
        }
    }
}

/// Every (table, column) in the schema that refers to `users(id)`.
async fn user_references(conn: &mut impl AsDb) -> AppResult<Vec<(String, String)>> {
    let sql = match conn.db() {
        Db::Sqlite(_) => {
            "SELECT m.name, p.\"from\" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p
             WHERE m.type = 'table' AND p.\"table\" = 'users' ORDER BY m.name, p.\"from\""
        }
        Db::Postgres(_) => {
            "SELECT kcu.table_name::TEXT, kcu.column_name::TEXT
             FROM information_schema.referential_constraints rc
             JOIN information_schema.key_column_usage kcu
               ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
             JOIN information_schema.key_column_usage ref
               ON ref.constraint_name = rc.unique_constraint_name AND ref.constraint_schema = rc.unique_constraint_schema
             WHERE ref.table_name = 'users' AND kcu.constraint_schema = current_schema()
             ORDER BY 1, 2"
        }
    };
    Ok(db!(*conn, fetch_all as (String, String), sql)?)
}

/// Identifiers come from our own schema, but quote them anyway.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One row as a JSON object, whatever its table: integers, reals, text and booleans as such.
fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        if SECRET_COLUMNS.contains(&name) {
            continue;
        }
        let Ok(raw) = row.try_get_raw(i) else {
            continue;
        };
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" => row
                    .try_get::<i64, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "REAL" => row
                    .try_get::<f64, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "TEXT" => row
                    .try_get::<String, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                _ => Value::Null,
            }
        };
        out.insert(name.to_owned(), value);
    }
    out
}

fn postgres_row(row: &sqlx::postgres::PgRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        if SECRET_COLUMNS.contains(&name) {
            continue;
        }
        let Ok(raw) = row.try_get_raw(i) else {
            continue;
        };
        let value = if raw.is_null() {
            Value::Null
        } else {
            match column.type_info().name() {
                "INT8" => row
                    .try_get::<i64, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "INT4" => row
                    .try_get::<i32, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "INT2" => row
                    .try_get::<i16, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "FLOAT8" => row
                    .try_get::<f64, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "FLOAT4" => row
                    .try_get::<f32, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "BOOL" => row
                    .try_get::<bool, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row
                    .try_get::<String, _>(i)
                    .map(Value::from)
                    .unwrap_or_default(),
                _ => Value::Null,
            }
        };
        out.insert(name.to_owned(), value);
    }
    out
}

/// Rows of any query with one `$1` (the member's id), as JSON objects.
async fn rows_as_json(conn: &mut impl AsDb, sql: &str, user_id: i64) -> AppResult<Vec<Value>> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(match conn.db() {
        Db::Sqlite(c) => sqlx::query(sql)
            .bind(user_id)
            .fetch_all(c)
            .await?
            .iter()
            .map(|r| Value::Object(sqlite_row(r)))
            .collect(),
        Db::Postgres(c) => sqlx::query(sql)
            .bind(user_id)
            .fetch_all(c)
            .await?
            .iter()
            .map(|r| Value::Object(postgres_row(r)))
            .collect(),
    })
}

/// Everything held about the member, table by table. Times stay as stored (milliseconds since
/// the epoch); `exported_at` says when this was taken.
pub async fn export(state: &AppState, session: &Session) -> AppResult<Value> {
    let uid = session.user.id;
    let mut conn = state.store.read().await?;
    let mut tables = Map::new();
    let account = rows_as_json(&mut conn, "SELECT * FROM users WHERE id = $1", uid).await?;
    tables.insert("users".into(), Value::Array(account));
    for (table, column) in user_references(&mut conn).await? {
        if ABOUT_OTHERS.contains(&(table.as_str(), column.as_str())) {
            continue;
        }
        let sql = format!(
            "SELECT * FROM {} WHERE {} = $1",
            quoted(&table),
            quoted(&column)
        );
        let mut rows = rows_as_json(&mut conn, &sql, uid).await?;
        redact_others(&mut rows, uid);
        if rows.is_empty() {
            continue;
        }
        // A table can point at the member from several columns (author, editor, moderator):
        // each column is its own list, named `table.column`.
        tables.insert(format!("{table}.{column}"), Value::Array(rows));
    }
    for (name, sql) in THROUGH {
        let mut rows = rows_as_json(&mut conn, sql, uid).await?;
        redact_others(&mut rows, uid);
        if !rows.is_empty() {
            tables.insert(name.into(), Value::Array(rows));
        }
    }
    // Their photos and voice notes, by address (the bytes are theirs to fetch while signed in).
    let media = crate::media::export_list(&mut conn, uid).await?;
    // The account as `GET /me` shows it, less the session's CSRF token: the file may be kept.
    let mut me =
        serde_json::to_value(super::load_me(state, session).await?).map_err(anyhow::Error::from)?;
    if let Some(fields) = me.as_object_mut() {
        fields.remove("csrf_token");
    }
    Ok(json!({
        "format": "mutual-export-1",
        "exported_at": format_ms(now_ms()),
        "note": "Times are milliseconds since 1970-01-01 UTC. Each list holds the rows that refer to you through the column in its name.",
        "user": me,
        "media": media,
        "tables": tables,
    }))
}

/// Download everything held about you, as JSON.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "accounts", operation_id = "export_me",
    responses((status = 200, description = "everything held about the caller", content_type = "application/json"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn api_export(State(state): State<AppState>, Auth(session): Auth) -> AppResult<Response> {
    let data = export(&state, &session).await?;
    let mut response = axum::Json(data).into_response();
    let name = format!(
        "attachment; filename=\"mutual-{}.json\"",
        session.user.username
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What to do with the member's words when the account goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContentChoice {
    /// Wipe the words of every post and message (threads keep placeholders).
    Remove,
    /// Keep them, shown as by "deleted member".
    Anonymise,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccount {
    /// The account's password, so that a borrowed phone cannot erase it.
    pub password: String,
    /// `remove` or `anonymise`.
    pub content: ContentChoice,
}

/// The tables an erasure deletes from or overwrites, for PostgreSQL's VACUUM.
const ERASED_TABLES: &str = "users, posts, topics, post_revisions, post_search, chat_messages, mod_cases, sessions, memberships, notifications, mail_outbox, push_subscriptions, push_outbox, member_blocks";

/// Erases the account as the member chose. Their password must match.
pub async fn erase(state: &AppState, session: &Session, req: &DeleteAccount) -> AppResult<()> {
    let uid = session.user.id;
    let hash = {
        let mut conn = state.store.read().await?;
        db!(conn, fetch_one scalar String, "SELECT password_hash FROM users WHERE id = $1", uid)?
    };
    if !password::verify(&req.password, Some(hash)).await {
        return Err(AppError::invalid("password", "the password is wrong"));
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // Words in conversations are private to their people: they go whatever the choice (the
    // others keep their own), and the member leaves every conversation's room.
    db!(
        tx,
        execute,
        "UPDATE chat_messages SET body = '', body_html = '', deleted_at = COALESCE(deleted_at, $2)
         WHERE author_id = $1 AND room_id IN (SELECT id FROM rooms WHERE community_id IS NULL)",
        uid,
        now
    )?;
    if req.content == ContentChoice::Remove {
        let posts =
            db!(tx, fetch_all scalar i64, "SELECT id FROM posts WHERE author_id = $1", uid)?;
        for post in &posts {
            crate::search::unindex_post(&mut tx, *post).await?;
        }
        db!(
            tx,
            execute,
            "DELETE FROM post_revisions WHERE post_id IN (SELECT id FROM posts WHERE author_id = $1)",
            uid
        )?;
        db!(
            tx,
            execute,
            "UPDATE posts SET body = '', body_html = '', deleted_at = COALESCE(deleted_at, $2) WHERE author_id = $1",
            uid,
            now
        )?;
        // The topics they started stay for the others who answered, under a neutral title.
        db!(
            tx,
            execute,
            "UPDATE topics SET title = 'Removed by its author' WHERE author_id = $1",
            uid
        )?;
        db!(
            tx,
            execute,
            "UPDATE chat_messages SET body = '', body_html = '', deleted_at = COALESCE(deleted_at, $2) WHERE author_id = $1",
            uid,
            now
        )?;
        db!(
            tx,
            execute,
            "UPDATE mod_cases SET snapshot = '', snapshot_media = '[]' WHERE author_id = $1",
            uid
        )?;
    }
    // Photos and voice notes go whichever way the words go: they are the member's likeness
    // and voice. Marked here, removed from the store once the erasure commits.
    crate::media::erase_for_user(&mut tx, uid).await?;
    // A reset request not yet handled holds what was typed, not the member's id.
    super::reset::forget_requests(&mut tx, uid).await?;
    // The foreign keys do the rest: cascades for what is theirs, SET NULL for authorship.
    db!(tx, execute, "DELETE FROM users WHERE id = $1", uid)?;
    tx.commit().await?;
    // Its sessions went with it: its sockets close, on every node.
    state.realtime.sessions_ended(uid, None);
    // Pages kept in memory still carry the name (other nodes' copies age out in seconds).
    state.pages.clear();
    if let Err(e) = crate::media::sweep(state).await {
        tracing::warn!(error = %e, "removing an erased account's media (the upkeep retries)");
    }
    // SQLite's full-text index keeps deleted words in its segments until they are merged:
    // merge them now, so the removed words are gone from the file too.
    if req.content == ContentChoice::Remove
        && state.store.backend() == crate::store::Backend::Sqlite
    {
        let mut w = state.store.write().await?;
        crate::search::merge_segments(&mut w).await?;
    }
    // The account is gone already: a failed clean-up is for the log, not the member.
    if let Err(e) = state.store.scrub_after_erasure(ERASED_TABLES).await {
        tracing::warn!(error = %e, "clearing erased rows from the database files");
    }
    metrics::counter!("mutual_accounts_deleted_total").increment(1);
    tracing::info!(user = uid, "account erased at the member's request");
    Ok(())
}

/// Delete your account. `remove` wipes what you wrote; `anonymise` keeps it as "deleted member".
#[utoipa::path(delete, path = "/api/v1/me", tag = "accounts", operation_id = "delete_me",
    request_body = DeleteAccount,
    responses((status = 204, description = "the account and its personal data are gone"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn api_erase(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<DeleteAccount>,
) -> AppResult<StatusCode> {
    erase(&state, &session, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}
