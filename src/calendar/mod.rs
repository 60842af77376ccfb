//! Organiser tools on a calendar: themed threads on a schedule (`schedules`), live chat sessions
//! with RSVPs, reminders and summaries (`events`), and announcements members dismiss
//! (`announcements`).
//!
//! The timed parts run in `run_due`, which every node calls from its job loop; each effect is
//! claimed in the database in the transaction that does it, so it happens once however many
//! nodes run and however often they restart.

pub mod announcements;
pub mod events;
pub mod schedules;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::AppResult;
use crate::realtime::Realtime;
use crate::store::Store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(schedules::router())
        .merge(events::router())
        .merge(announcements::router())
}

/// Runs every calendar job that is due: scheduled topics, session start/end frames and
/// reminders. How many things were done.
/// One failing part does not hold the other back; the first error is answered after both ran.
pub async fn run_due(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let topics = schedules::run_due(store, realtime).await;
    let sessions = events::run_due(store, realtime).await;
    Ok(topics? + sessions?)
}

/// A member's own time zone (UTC when unset or no longer valid).
pub async fn zone_of(state: &AppState, user_id: i64) -> AppResult<crate::clock::Zone> {
    let mut conn = state.store.read().await?;
    let name = crate::db!(
        conn,
        fetch_optional scalar String,
        "SELECT timezone FROM users WHERE id = $1",
        user_id
    )?;
    Ok(name.map_or(crate::clock::Zone::UTC, |n| {
        crate::clock::Zone::from_stored(&n)
    }))
}

/// An RFC 3339 time as milliseconds since the epoch.
pub fn parse_time(raw: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| "a time is RFC 3339, e.g. 2026-03-06T09:00:00-06:00".into())
}

/// An API request's optional `starts_at` and `ends_at` read into instants; what cannot be read
/// is refused under its own field, both at once.
pub fn read_span(
    starts_at: Option<&str>,
    ends_at: Option<&str>,
) -> crate::error::AppResult<(Option<i64>, Option<i64>)> {
    let mut fields = crate::error::FieldErrors::new();
    let mut read = |f: &str, raw: Option<&str>| raw.and_then(|t| fields.check(f, parse_time(t)));
    let span = (read("starts_at", starts_at), read("ends_at", ends_at));
    fields.into_result()?;
    Ok(span)
}
