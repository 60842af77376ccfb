//! Full-text search over what the caller may see: SQLite FTS5 or PostgreSQL `tsvector`.
//!
//! Both indexes hold the same tokens, made in Rust ([`analysis`]): folded words (lower case,
//! accents removed, Devanagari kept whole) and their Spanish and English stems; queries are read
//! the same way, with synonyms across languages. So "azucar" finds "azúcar", "caminar" finds
//! "caminando", and "presión" finds "blood pressure", on either database. Ranking is the
//! database's (bm25 / ts_rank); snippets are cut in Rust from the original text so highlights keep
//! their accents and look the same on both backends. A change to what is indexed is rolled out by
//! [`reindex_pending`], which migration 0031 started.

pub mod analysis;

use crate::http::Query;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::types::Role;
use crate::accounts::{MaybeAuth, Session, serialize_time};
use crate::app::AppState;
use crate::communities::MemberSummary;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::paging::cursor;
use crate::store::{AsDb, Db};
use crate::{markdown, text};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_search))
}

/// What the index holds for a post (and, for an opening post, its topic's title): made before
/// the write where it can be, so the single writer does not spend its time on it.
pub fn prepare(title: Option<&str>, body: &str) -> String {
    let mut plain = markdown::plain_text(body);
    if let Some(t) = title {
        plain = format!("{t} {plain}");
    }
    analysis::index_text(&plain)
}

/// Puts new posts in the index in one statement, `(post id, prepare's text)`. On SQLite this
/// matters beyond the round trips: once FTS5 holds uncommitted entries, every later write
/// statement of the transaction makes it flush them to disk, so the reply writer indexes its
/// group's replies last and together.
pub async fn index_many(conn: &mut impl AsDb, entries: &[(i64, String)]) -> AppResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(entries).map_err(anyhow::Error::from)?;
    let sql = match conn.db() {
        Db::Sqlite(_) => {
            "INSERT INTO post_search (rowid, text) SELECT e.value ->> 0, e.value ->> 1 FROM json_each($1) e"
        }
        Db::Postgres(_) => {
            "INSERT INTO post_search (post_id, vector)
             SELECT (e ->> 0)::bigint, to_tsvector('simple', e ->> 1) FROM jsonb_array_elements($1::jsonb) e
             ON CONFLICT (post_id) DO UPDATE SET vector = excluded.vector"
        }
    };
    db!(*conn, execute, sql, json)?;
    Ok(())
}

/// Puts a new post (and, for an opening post, its topic's title) in the index. A post already
/// indexed goes through `reindex_post`, which takes the old entry out first.
pub async fn index_post(
    conn: &mut impl AsDb,
    post_id: i64,
    title: Option<&str>,
    body: &str,
) -> AppResult<()> {
    let folded = prepare(title, body);
    match conn.db() {
        Db::Sqlite(c) => {
            sqlx::query("INSERT INTO post_search (rowid, text) VALUES ($1, $2)")
                .bind(post_id)
                .bind(folded)
                .execute(c)
                .await?;
        }
        Db::Postgres(c) => {
            sqlx::query(
                "INSERT INTO post_search (post_id, vector) VALUES ($1, to_tsvector('simple', $2))
                 ON CONFLICT (post_id) DO UPDATE SET vector = excluded.vector",
            )
            .bind(post_id)
            .bind(folded)
            .execute(c)
            .await?;
        }
    }
    Ok(())
}

/// Puts a post back into the index as it now stands, or keeps it out if it is deleted, hidden or
/// held for review, or in an "only me" milestone topic: the one place that decides whether a
/// stored post can be found.
pub async fn reindex_post(conn: &mut impl AsDb, post_id: i64) -> AppResult<()> {
    let visible = db!(
        *conn,
        fetch_optional as (String, Option<String>),
        "SELECT p.body, CASE WHEN p.seq = 1 THEN t.title END FROM posts p JOIN topics t ON t.id = p.topic_id
         WHERE p.id = $1 AND p.deleted_at IS NULL AND p.hidden_at IS NULL AND p.held_for_review = FALSE AND t.private_to IS NULL",
        post_id
    )?;
    match visible {
        Some((body, title)) => {
            // FTS5 has no upsert (PostgreSQL's insert replaces in place).
            if matches!(conn.db(), Db::Sqlite(_)) {
                unindex_post(conn, post_id).await?;
            }
            index_post(conn, post_id, title.as_deref(), &body).await
        }
        None => unindex_post(conn, post_id).await,
    }
}

/// Takes a post out of the index (deleted, hidden).
pub async fn unindex_post(conn: &mut impl AsDb, post_id: i64) -> AppResult<()> {
    match conn.db() {
        Db::Sqlite(c) => sqlx::query("DELETE FROM post_search WHERE rowid = $1")
            .bind(post_id)
            .execute(c)
            .await?
            .rows_affected(),
        Db::Postgres(c) => sqlx::query("DELETE FROM post_search WHERE post_id = $1")
            .bind(post_id)
            .execute(c)
            .await?
            .rows_affected(),
    };
    Ok(())
}

/// Posts re-indexed per transaction while a change to what is indexed rolls out: small enough
/// that other writers wait only a moment between batches.
const REINDEX_BATCH: i64 = 200;

/// Rolls out a change to what is indexed (a migration sets `search_reindex`): every post is
/// indexed again as it now stands, in id order, a batch per transaction, the place kept in the
/// table so a restart goes on where it stopped. New posts are indexed as usual meanwhile, and
/// re-indexing one twice (two nodes at once) only replaces its entry. Returns how many posts it
/// went through.
pub async fn reindex_pending(store: &crate::store::Store) -> AppResult<u64> {
    let mut done = 0u64;
    loop {
        let mut tx = store.begin().await?;
        let Some((from,)) = db!(
            tx,
            fetch_optional as (i64,),
            "SELECT next_post_id FROM search_reindex WHERE id = 1"
        )?
        else {
            return Ok(done);
        };
        let ids = db!(
            tx,
            fetch_all as (i64,),
            "SELECT id FROM posts WHERE id > $1 ORDER BY id LIMIT $2",
            from,
            REINDEX_BATCH
        )?;
        let Some(&(last,)) = ids.last() else {
            db!(tx, execute, "DELETE FROM search_reindex WHERE id = 1")?;
            tx.commit().await?;
            tracing::info!(posts = done, "search index rebuilt");
            return Ok(done);
        };
        for (id,) in &ids {
            reindex_post(&mut tx, *id).await?;
        }
        db!(
            tx,
            execute,
            "UPDATE search_reindex SET next_post_id = $1 WHERE id = 1",
            last
        )?;
        tx.commit().await?;
        done += ids.len() as u64;
        tokio::task::yield_now().await;
    }
}

/// SQLite: merges the index's segments into one, so the words of deleted entries (kept in the
/// older segments until a merge) are gone from the file. Nothing to do on PostgreSQL, where
/// VACUUM reclaims deleted rows.
pub async fn merge_segments(conn: &mut impl AsDb) -> AppResult<()> {
    if let Db::Sqlite(c) = conn.db() {
        sqlx::query("INSERT INTO post_search (post_search) VALUES ('optimize')")
            .execute(c)
            .await?;
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find; accents and case do not matter, and a word matches words it begins.
    pub q: String,
    /// Only this community (its address).
    pub community: Option<String>,
    /// 1–50, default 20.
    pub limit: Option<i64>,
    pub after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    pub post_id: i64,
    pub topic_id: i64,
    pub topic_title: String,
    /// The community's address.
    pub community: String,
    /// Null for anonymous posts.
    pub author: Option<MemberSummary>,
    /// HTML-escaped text around the match, matches in `<mark>`; empty when collapsed.
    pub snippet: String,
    pub content_warning: Option<String>,
    /// The caller filters this post's content warning: show it collapsed.
    pub collapsed: bool,
    /// Present only when the caller blocks (`blocked`) or ignores (`ignored`) its author; the
    /// snippet is then empty, as for a collapsed post.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_for_you: Option<crate::blocks::Hidden>,
    pub url: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub next: Option<String>,
}

#[derive(sqlx::FromRow)]
struct HitRow {
    post_id: i64,
    topic_id: i64,
    seq: i64,
    title: String,
    slug: String,
    body: String,
    anonymous: bool,
    author_id: Option<i64>,
    username: Option<String>,
    display_name: Option<String>,
    content_warning: Option<String>,
    created_at: i64,
    rank: f64,
    /// Who started the topic (none when anonymously), for the viewer's blocks.
    topic_author_id: Option<i64>,
}

const SQLITE_SEARCH: &str = "
SELECT p.id AS post_id, p.topic_id, p.seq, t.title, c.slug, p.body, p.anonymous, p.author_id, u.username, u.display_name,
       p.content_warning, p.created_at, s.rank, CASE WHEN t.anonymous THEN NULL ELSE t.author_id END AS topic_author_id
FROM (SELECT rowid AS post_id, bm25(post_search) AS rank FROM post_search WHERE post_search MATCH $1) s
JOIN posts p ON p.id = s.post_id
JOIN topics t ON t.id = p.topic_id
JOIN communities c ON c.id = p.community_id
LEFT JOIN users u ON u.id = p.author_id
WHERE p.deleted_at IS NULL AND p.hidden_at IS NULL AND p.held_for_review = FALSE AND t.deleted_at IS NULL AND t.private_to IS NULL
  -- A reply does not bring back the title of a topic held for review.
  AND NOT EXISTS (SELECT 1 FROM posts fp WHERE fp.topic_id = t.id AND fp.seq = 1 AND fp.held_for_review)
  AND ($2 = '' OR c.slug = $2)
  AND (c.visibility = 'public' OR $3
       OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = $4 AND m.status = 'active'))
  AND (s.rank > $5 OR (s.rank = $5 AND p.id > $6))
ORDER BY s.rank, p.id
LIMIT $7";

const POSTGRES_SEARCH: &str = "
SELECT p.id AS post_id, p.topic_id, p.seq, t.title, c.slug, p.body, p.anonymous, p.author_id, u.username, u.display_name,
       p.content_warning, p.created_at, s.rank, CASE WHEN t.anonymous THEN NULL ELSE t.author_id END AS topic_author_id
FROM (SELECT ps.post_id, (-ts_rank(ps.vector, q))::float8 AS rank
      FROM post_search ps, to_tsquery('simple', $1) q WHERE ps.vector @@ q) s
JOIN posts p ON p.id = s.post_id
JOIN topics t ON t.id = p.topic_id
JOIN communities c ON c.id = p.community_id
LEFT JOIN users u ON u.id = p.author_id
WHERE p.deleted_at IS NULL AND p.hidden_at IS NULL AND p.held_for_review = FALSE AND t.deleted_at IS NULL AND t.private_to IS NULL
  -- A reply does not bring back the title of a topic held for review.
  AND NOT EXISTS (SELECT 1 FROM posts fp WHERE fp.topic_id = t.id AND fp.seq = 1 AND fp.held_for_review)
  AND ($2 = '' OR c.slug = $2)
  AND (c.visibility = 'public' OR $3
       OR EXISTS (SELECT 1 FROM memberships m WHERE m.community_id = c.id AND m.user_id = $4 AND m.status = 'active'))
  AND (s.rank > $5 OR (s.rank = $5 AND p.id > $6))
ORDER BY s.rank, p.id
LIMIT $7";

/// Search posts in every community the caller may read (or in one).
#[utoipa::path(get, path = "/api/v1/search", tag = "forum", operation_id = "search",
    params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn api_search(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Query(params): Query<SearchParams>,
) -> AppResult<axum::Json<SearchPage>> {
    Ok(axum::Json(search(&state, viewer.as_ref(), &params).await?))
}

/// Posts matching `params.q` in the communities `viewer` may read, best first; 422 when the
/// query holds no word to look for.
pub async fn search(
    state: &AppState,
    viewer: Option<&Session>,
    params: &SearchParams,
) -> AppResult<SearchPage> {
    let limit = match params.limit {
        None => 20,
        Some(n) if (1..=50).contains(&n) => n,
        Some(_) => {
            return Err(AppError::bad_request(
                "bad_limit",
                "limit must be between 1 and 50",
            ));
        }
    };
    let query = analysis::parse_query(&params.q);
    if query.is_empty() {
        return Err(AppError::invalid(
            "q",
            "type at least one word of two letters or more",
        ));
    }
    let (after_rank, after_id) = match params.after.as_deref().filter(|s| !s.is_empty()) {
        None => (f64::MIN, 0),
        Some(raw) => {
            let parts: Vec<i64> = raw.split('.').filter_map(|p| p.parse().ok()).collect();
            match parts.as_slice() {
                [bits, id] => (f64::from_bits(*bits as u64), *id),
                _ => {
                    return Err(AppError::bad_request(
                        "bad_cursor",
                        "`after` is not a cursor this list gave out",
                    ));
                }
            }
        }
    };
    let viewer_id = viewer.map(|s| s.user.id).unwrap_or(-1);
    let staff = viewer.is_some_and(|s| s.user.is_admin() || s.user.has_role(Role::Moderator));
    let filters = viewer
        .map(|s| s.content_filters.as_slice())
        .unwrap_or_default();
    let community = params
        .community
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut conn = state.store.read().await?;
    let rows: Vec<HitRow> = match conn.db() {
        Db::Sqlite(c) => {
            sqlx::query_as(SQLITE_SEARCH)
                .bind(query.fts5())
                .bind(&community)
                .bind(staff)
                .bind(viewer_id)
                .bind(after_rank)
                .bind(after_id)
                .bind(limit + 1)
                .fetch_all(c)
                .await?
        }
        Db::Postgres(c) => {
            sqlx::query_as(POSTGRES_SEARCH)
                .bind(query.tsquery())
                .bind(&community)
                .bind(staff)
                .bind(viewer_id)
                .bind(after_rank)
                .bind(after_id)
                .bind(limit + 1)
                .fetch_all(c)
                .await?
        }
    };
    let terms = query.highlights();
    let more = rows.len() as i64 > limit;
    let mut last_key = None;
    let mut items = Vec::new();
    for row in rows.into_iter().take(limit as usize) {
        last_key = Some(cursor(&[row.rank.to_bits() as i64, row.post_id]));
        let collapsed = row
            .content_warning
            .as_ref()
            .is_some_and(|w| filters.contains(w));
        let author =
            crate::forum::author(row.anonymous, row.author_id, row.username, row.display_name);
        // Words of a member the viewer keeps away, or in a topic one of them started.
        let hidden_for_you = viewer.and_then(|s| {
            s.kept_away
                .hides(author.as_ref())
                .or_else(|| s.kept_away.hides_member(row.topic_author_id))
        });
        let snippet = if collapsed || hidden_for_you.is_some() {
            String::new()
        } else {
            text::snippet(&markdown::plain_text(&row.body), &terms, 240)
        };
        items.push(SearchHit {
            post_id: row.post_id,
            topic_id: row.topic_id,
            topic_title: row.title,
            community: row.slug,
            author,
            snippet,
            content_warning: row.content_warning,
            collapsed,
            hidden_for_you,
            url: format!("/t/{}#post-{}", row.topic_id, row.seq),
            created_at: row.created_at,
        });
    }
    Ok(SearchPage {
        items,
        next: if more { last_key } else { None },
    })
}
