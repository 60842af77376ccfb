//! Sanctions in force (mutes, bans, suspensions): the hooks the chat and the forum obey.

use crate::accounts::{Session, User};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::store::{AsDb, now_ms};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Active {
    /// None: site-wide.
    pub community_id: Option<i64>,
    pub kind: String,
    pub until: Option<i64>,
}

/// The member's sanctions that have not ended or been lifted.
pub async fn active(conn: &mut impl AsDb, user_id: i64) -> AppResult<Vec<Active>> {
    Ok(db!(
        *conn,
        fetch_all as Active,
        "SELECT community_id, kind, until FROM sanctions
         WHERE user_id = $1 AND lifted_at IS NULL AND kind <> 'warning' AND (until IS NULL OR until > $2)",
        user_id,
        now_ms()
    )?)
}

/// 403 when a sanction in force stops the member writing in the community (forum and chat alike).
pub async fn check_can_write(state: &AppState, user: &User, community_id: i64) -> AppResult<()> {
    let mut conn = state.store.read().await?;
    let list = active(&mut conn, user.id).await?;
    match refuses(&list, community_id, now_ms()) {
        None => Ok(()),
        Some(why) => Err(AppError::forbidden(format!(
            "you cannot post here now ({why}); see /api/v1/me/moderation for why and how to appeal"
        ))),
    }
}

/// `check_can_write` for a signed-in request: a member under no sanction when their session
/// was read needs no query (a kept session is forgotten whenever their sanctions change).
pub async fn check_session_can_write(
    state: &AppState,
    session: &Session,
    community_id: i64,
) -> AppResult<()> {
    if !session.under_sanction {
        return Ok(());
    }
    check_can_write(state, &session.user, community_id).await
}

/// Why the member may not write in the community at `now`, if a sanction says so.
pub fn refuses(active: &[Active], community_id: i64, now: i64) -> Option<&'static str> {
    active
        .iter()
        .filter(|s| s.until.is_none_or(|u| u > now))
        .find_map(|s| match (s.kind.as_str(), s.community_id) {
            ("suspend", _) | ("ban", None) => Some("suspended"),
            ("ban", Some(c)) if c == community_id => Some("banned"),
            ("mute", Some(c)) if c == community_id => Some("muted"),
            ("mute", None) => Some("muted"),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        let mute = |c, until| Active {
            community_id: c,
            kind: "mute".into(),
            until,
        };
        assert_eq!(refuses(&[mute(Some(1), Some(100))], 1, 50), Some("muted"));
        assert_eq!(refuses(&[mute(Some(1), Some(100))], 1, 150), None);
        assert_eq!(refuses(&[mute(Some(1), None)], 2, 50), None);
        let ban = Active {
            community_id: Some(2),
            kind: "ban".into(),
            until: None,
        };
        assert_eq!(refuses(&[ban], 2, 0), Some("banned"));
        let suspend = Active {
            community_id: None,
            kind: "suspend".into(),
            until: Some(10),
        };
        assert_eq!(refuses(&[suspend], 9, 5), Some("suspended"));
    }
}
