//! Trust levels, computed from participation: account age, days visited, posts read and written,
//! and no recent sanctions. New members are limited; trusted members' reports weigh more.

use crate::db;
use crate::error::AppResult;
use crate::store::{AsDb, now_ms};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// 0 new, 1 basic, 2 member, 3 trusted.
pub async fn level(conn: &mut impl AsDb, user_id: i64) -> AppResult<u8> {
    let now = now_ms();
    // One read, and the post count stops at the highest threshold: the level is asked on every
    // post, chat message and socket connection, and a prolific member has thousands of posts.
    let (created_at, posts, recent_sanctions, days_visited, posts_read) = db!(
        *conn,
        fetch_one as (i64, i64, i64, i64, i64),
        "SELECT u.created_at,
                (SELECT COUNT(*) FROM (SELECT 1 FROM posts p WHERE p.author_id = $1 AND p.deleted_at IS NULL LIMIT 20) AS capped),
                (SELECT COUNT(*) FROM sanctions WHERE user_id = $1 AND created_at > $2),
                (SELECT COUNT(*) FROM user_visits WHERE user_id = $1),
                (SELECT CAST(COALESCE(SUM(last_read_seq), 0) AS BIGINT) FROM topic_reads WHERE user_id = $1)
         FROM users u WHERE u.id = $1",
        user_id,
        now - 90 * DAY_MS
    )?;
    let age_days = (now - created_at) / DAY_MS;
    Ok(
        if age_days >= 30
            && days_visited >= 10
            && posts_read >= 100
            && posts >= 20
            && recent_sanctions == 0
        {
            3
        } else if age_days >= 7
            && days_visited >= 3
            && posts_read >= 30
            && posts >= 5
            && recent_sanctions == 0
        {
            2
        } else if age_days >= 1 && posts >= 1 {
            1
        } else {
            0
        },
    )
}

/// How much a member's report counts toward hiding content pending review.
pub async fn report_weight(conn: &mut impl AsDb, user_id: i64) -> AppResult<i64> {
    let staff = db!(
        *conn,
        fetch_optional scalar String,
        "SELECT role FROM user_roles WHERE user_id = $1 AND role IN ('admin', 'moderator') LIMIT 1",
        user_id
    )?;
    if staff.is_some() {
        return Ok(3);
    }
    Ok(match level(conn, user_id).await? {
        3 => 3,
        2 => 2,
        _ => 1,
    })
}
