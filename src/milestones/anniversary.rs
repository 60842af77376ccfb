//! Anniversary reminders: on the day a milestone of an `anniversary` type ("time since surgery")
//! comes round again in the member's own time zone, the member is reminded, once a year — a
//! nudge to post. Only anniversary types remind: a yearly nudge about a weight or an A1c is not
//! something every member wants.
//!
//! Every node runs this job; the `(milestone_id, year)` key of `milestone_anniversaries`,
//! claimed in the transaction that stores the notification, makes it once on all of them.

use chrono::{Datelike, Duration, NaiveDate};

use crate::clock::Zone;
use crate::db;
use crate::error::AppResult;
use crate::notify::{self, About, Kind, Recipients};
use crate::realtime::Realtime;
use crate::store::{Store, now_ms};

/// Whether `today` is an anniversary of `achieved` (a later year, same month and day; a
/// 29 February milestone is remembered on 28 February in other years).
pub fn is_anniversary(achieved: NaiveDate, today: NaiveDate) -> bool {
    if today.year() <= achieved.year() {
        return false;
    }
    let (month, day) = (achieved.month(), achieved.day());
    if month == 2 && day == 29 && NaiveDate::from_ymd_opt(today.year(), 2, 29).is_none() {
        return today.month() == 2 && today.day() == 28;
    }
    today.month() == month && today.day() == day
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    community_id: i64,
    author_id: i64,
    topic_id: i64,
    post_id: i64,
    achieved_on: String,
    timezone: String,
}

/// Sends the anniversary reminders that are due; how many were sent.
pub async fn run_due(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let today = Zone::UTC.date_at(now);
    // Somewhere on Earth it is yesterday, today or tomorrow (UTC): those days' anniversaries,
    // and 29 February ones, are worth a look in each member's own zone.
    let days: Vec<String> = [-1, 0, 1]
        .iter()
        .map(|d| (today + Duration::days(*d)).format("%m-%d").to_string())
        .collect();
    let mut sent_count = 0;
    // Pages by id: candidates whose day has not come yet in their zone must not crowd out the
    // rest.
    let mut after_id = 0;
    loop {
        let candidates = {
            let mut conn = store.read().await?;
            db!(
                conn,
                fetch_all as Candidate,
                "SELECT m.id, m.community_id, m.author_id, m.topic_id, m.post_id, m.achieved_on, u.timezone
                 FROM milestones m
                 JOIN milestone_types mt ON mt.id = m.type_id
                 JOIN users u ON u.id = m.author_id
                 JOIN topics t ON t.id = m.topic_id
                 JOIN posts p ON p.id = m.post_id
                 WHERE mt.category = 'anniversary' AND t.deleted_at IS NULL AND p.deleted_at IS NULL
                   AND m.achieved_md IN ($1, $2, $3, '02-29')
                   AND NOT EXISTS (SELECT 1 FROM milestone_anniversaries a WHERE a.milestone_id = m.id AND a.sent_at > $4)
                   AND m.id > $5
                 ORDER BY m.id LIMIT 500",
                &days[0],
                &days[1],
                &days[2],
                // Reminded in the last four days: this year's is done (the window is three days).
                now - 4 * 24 * 3_600_000,
                after_id
            )?
        };
        let Some(last) = candidates.last() else {
            break;
        };
        after_id = last.id;
        sent_count += remind(store, realtime, candidates, now).await?;
    }
    Ok(sent_count)
}

/// Reminds the members whose anniversary it is today in their zone; how many were reminded.
async fn remind(
    store: &Store,
    realtime: &Realtime,
    candidates: Vec<Candidate>,
    now: i64,
) -> AppResult<usize> {
    let mut sent_count = 0;
    for c in candidates {
        let local = Zone::from_stored(&c.timezone).date_at(now);
        let Ok(achieved) = NaiveDate::parse_from_str(&c.achieved_on, "%Y-%m-%d") else {
            continue;
        };
        if !is_anniversary(achieved, local) {
            continue;
        }
        let mut tx = store.begin().await?;
        let claimed = db!(
            tx,
            execute,
            "INSERT INTO milestone_anniversaries (milestone_id, year, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            c.id,
            i64::from(local.year()),
            now
        )?;
        if claimed == 0 {
            continue;
        }
        let mut recipients = Recipients::default();
        recipients.add(c.author_id, Kind::Anniversary);
        let about = About {
            community_id: Some(c.community_id),
            topic_id: Some(c.topic_id),
            post_id: Some(c.post_id),
            ..About::default()
        };
        let sent = notify::send_about(&mut tx, &about, recipients).await?;
        tx.commit().await?;
        sent.publish(realtime);
        sent_count += 1;
    }
    Ok(sent_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn anniversaries_fall_on_the_day() {
        assert!(is_anniversary(d(2024, 6, 3), d(2025, 6, 3)));
        assert!(is_anniversary(d(2020, 6, 3), d(2026, 6, 3)));
        assert!(
            !is_anniversary(d(2025, 6, 3), d(2025, 6, 3)),
            "not the same year"
        );
        assert!(!is_anniversary(d(2024, 6, 3), d(2025, 6, 4)));
        // 29 February: the 28th in ordinary years, the 29th in leap years.
        assert!(is_anniversary(d(2024, 2, 29), d(2025, 2, 28)));
        assert!(!is_anniversary(d(2024, 2, 29), d(2025, 3, 1)));
        assert!(is_anniversary(d(2024, 2, 29), d(2028, 2, 29)));
        assert!(!is_anniversary(d(2024, 2, 29), d(2028, 2, 28)));
        assert!(is_anniversary(d(2023, 2, 28), d(2024, 2, 28)));
    }
}
