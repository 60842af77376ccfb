//! Keyset paging (API.md "Conventions"): `?limit=N&after=<cursor>` in, `{items, next}` out.
//! Cursors are opaque strings to clients; each list decides what its cursor holds.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> AppResult<i64> {
        match self.limit {
            None => Ok(20),
            Some(n) if (1..=100).contains(&n) => Ok(n),
            Some(_) => Err(AppError::bad_request(
                "bad_limit",
                "limit must be between 1 and 100",
            )),
        }
    }

    /// The cursor as a list of integers separated by `.` (e.g. `1.1700000000000.42`).
    pub fn after_ints(&self, parts: usize) -> AppResult<Option<Vec<i64>>> {
        let Some(raw) = self.after.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let values: Result<Vec<i64>, _> = raw.split('.').map(str::parse::<i64>).collect();
        match values {
            Ok(v) if v.len() == parts => Ok(Some(v)),
            _ => Err(AppError::bad_request(
                "bad_cursor",
                "`after` is not a cursor this list gave out",
            )),
        }
    }
}

pub fn cursor(parts: &[i64]) -> String {
    parts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next = if more { rows.last().map(key) } else { None };
        Page { items: rows, next }
    }
}
