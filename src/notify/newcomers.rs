//! Newcomers are answered: a member's first topic in a community that has had no reply for the
//! community's `newcomer_alert_minutes` is put in front of its welcomers, once.
//!
//! Every node runs this job; the `UPDATE ... WHERE newcomer_alerted_at IS NULL` claim makes sure
//! only one of them sends the alert.

use super::{Cause, Kind, Recipients, send};
use crate::db;
use crate::error::AppResult;
use crate::realtime::Realtime;
use crate::store::{Store, now_ms};

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    community_id: i64,
    author_id: Option<i64>,
    anonymous: bool,
}

/// Sends the alerts that are due; how many topics were alerted.
pub async fn alert_unanswered(store: &Store, realtime: &Realtime) -> AppResult<usize> {
    let now = now_ms();
    let candidates = {
        let mut conn = store.read().await?;
        db!(
            conn,
            fetch_all as Candidate,
            "SELECT t.id, t.community_id, t.author_id, t.anonymous FROM topics t JOIN communities c ON c.id = t.community_id
             WHERE t.first_of_author = TRUE AND t.reply_count = 0 AND t.newcomer_alerted_at IS NULL
               AND t.deleted_at IS NULL AND t.private_to IS NULL AND t.created_at <= $1 - c.newcomer_alert_minutes * 60000
             ORDER BY t.id LIMIT 200",
            now
        )?
    };
    let mut alerted = 0;
    for topic in candidates {
        let mut tx = store.begin().await?;
        let claimed = db!(
            tx,
            execute,
            "UPDATE topics SET newcomer_alerted_at = $2 WHERE id = $1 AND newcomer_alerted_at IS NULL AND reply_count = 0",
            topic.id,
            now
        )?;
        if claimed == 0 {
            continue;
        }
        let welcomers = db!(
            tx,
            fetch_all scalar i64,
            "SELECT user_id FROM community_roles WHERE community_id = $1 AND role = 'welcomer'",
            topic.community_id
        )?;
        let post_id = db!(tx, fetch_one scalar i64, "SELECT id FROM posts WHERE topic_id = $1 AND seq = 1", topic.id)?;
        let mut recipients = Recipients::default();
        for w in welcomers {
            recipients.add(w, Kind::NewcomerUnanswered);
        }
        let cause = Cause {
            community_id: topic.community_id,
            topic_id: topic.id,
            post_id,
            actor_id: if topic.anonymous {
                None
            } else {
                topic.author_id
            },
            author_id: topic.author_id.unwrap_or(-1),
        };
        let sent = send(&mut tx, &cause, recipients).await?;
        tx.commit().await?;
        sent.publish(realtime);
        alerted += 1;
    }
    Ok(alerted)
}
