//! One-click unsubscribe (RFC 8058). Each notification mail carries its own random token, kept
//! as a SHA-256 hash with the member and the kind it turns off (none: all e-mail). The token is
//! the only credential: `POST /unsubscribe/{token}` needs no session and no CSRF token, since a
//! forged request could only do what the link's owner asked for by following it. `GET` only
//! shows a page with a button, because mail scanners follow links.

use super::{DeliveryKind, Frequency};
use crate::accounts::session::{hash_token, random_secret};
use crate::app::AppState;
use crate::db;
use crate::error::AppResult;
use crate::store::{AsDb, now_ms};

/// Tokens older than this stop working (mails are not read a year later; the settings page is
/// always there).
const KEEP_MS: i64 = 365 * 24 * 3600 * 1000;

/// A new token for one mail; the clear token goes into the mail's link only.
pub async fn mint(
    conn: &mut impl AsDb,
    user_id: i64,
    kind: Option<DeliveryKind>,
) -> AppResult<String> {
    let token = random_secret();
    db!(
        *conn,
        execute,
        "INSERT INTO mail_unsubscribe_tokens (user_id, kind, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        user_id,
        kind.map(DeliveryKind::as_str),
        hash_token(&token),
        now_ms()
    )?;
    Ok(token)
}

/// What a token turns off: `Some(None)` all e-mail, `Some(Some(kind))` one kind; `None` when
/// the token is unknown or too old.
pub async fn peek(state: &AppState, token: &str) -> AppResult<Option<Option<DeliveryKind>>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let mut conn = state.store.read().await?;
    let row = db!(
        conn,
        fetch_optional as (i64, Option<String>),
        "SELECT user_id, kind FROM mail_unsubscribe_tokens WHERE token_hash = $1 AND created_at > $2",
        hash_token(token),
        now_ms() - KEEP_MS
    )?;
    Ok(row.map(|(_, kind)| kind.as_deref().and_then(DeliveryKind::parse)))
}

/// Turns off what the token names (or, with `all`, every e-mail); what was turned off, or
/// `None` for an unknown token. Doing it twice is harmless.
pub async fn apply(
    state: &AppState,
    token: &str,
    all: bool,
) -> AppResult<Option<Option<DeliveryKind>>> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let mut tx = state.store.begin().await?;
    let Some((user_id, kind)) = db!(
        tx,
        fetch_optional as (i64, Option<String>),
        "SELECT user_id, kind FROM mail_unsubscribe_tokens WHERE token_hash = $1 AND created_at > $2",
        hash_token(token),
        now_ms() - KEEP_MS
    )?
    else {
        return Ok(None);
    };
    let kind = if all {
        None
    } else {
        kind.as_deref().and_then(DeliveryKind::parse)
    };
    let before = super::load(&mut tx, user_id).await?;
    let mut new = before.clone();
    match kind {
        Some(k) => {
            if !new.off.contains(&k) {
                new.off.push(k);
            }
        }
        None => new.email = Frequency::Off,
    }
    super::save(&mut tx, user_id, &before, &new).await?;
    tx.commit().await?;
    metrics::counter!("mutual_mail_unsubscribes_total").increment(1);
    tracing::info!(
        user = user_id,
        kind = kind.map_or("all", DeliveryKind::as_str),
        "unsubscribed from a mail link"
    );
    Ok(Some(kind))
}

/// Forgets tokens too old to work.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let mut w = state.store.write().await?;
    Ok(db!(
        w,
        execute,
        "DELETE FROM mail_unsubscribe_tokens WHERE created_at < $1",
        now_ms() - KEEP_MS
    )?)
}
