//! `/search?q=`: full-text search over what the reader may see, with the matches marked.

use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

use super::{Ctx, Layout, PageError, urlencode};
use crate::error::AppError;
use crate::search::{self, SearchHit, SearchParams};

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "search.html")]
struct SearchPage {
    l: Layout,
    q: String,
    hits: Vec<SearchHit>,
    searched: bool,
    error: Option<String>,
    more: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    after: Option<String>,
}

pub async fn page(ctx: Ctx, Query(query): Query<SearchQuery>) -> Result<Response, PageError> {
    let q = query.q.unwrap_or_default();
    let mut page = SearchPage {
        l: ctx.layout(ctx.texts.get("search.title")).await,
        hits: Vec::new(),
        searched: false,
        error: None,
        more: None,
        q: q.clone(),
    };
    // Searches can name a condition: keep them out of search engines' indexes.
    page.l.noindex = true;
    if !q.trim().is_empty() {
        let params = SearchParams {
            q: q.clone(),
            community: None,
            limit: Some(20),
            after: query.after,
        };
        match search::search(&ctx.state, ctx.session.as_ref(), &params).await {
            Ok(found) => {
                page.searched = true;
                page.hits = found.items;
                page.more = found
                    .next
                    .map(|n| format!("/search?q={}&after={}", urlencode(&q), urlencode(&n)));
            }
            Err(AppError::Invalid { .. }) => {
                page.error = Some(ctx.texts.get("errors.q").to_owned())
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ctx.send(page))
}
