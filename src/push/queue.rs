//! The push queue (`push_outbox`): one row per notification and subscribed device, added in
//! the transaction that stores the notification, then claimed, encrypted, signed and posted by
//! the worker. Claims are single conditional UPDATEs for a lease, so two nodes never post one
//! row at once; a node that dies holding a row gives it back when the lease ends (the device
//! may then get that push twice, which is harmless).
//!
//! How a push service answers decides what happens next (RFC 8030 section 5 and 7):
//! 2xx: done, the row goes. 404 or 410: the subscription is gone, and is deleted with its
//! rows. 429 and 5xx (or no answer): tried again later, after `Retry-After` when given, else
//! with back-off, until the push would be stale. Any other answer: the row is dropped.

use std::sync::LazyLock;
use std::time::Duration;

use futures_util::StreamExt;
use p256::ecdsa::SigningKey;
use tokio::sync::Notify;

use crate::app::AppState;
use crate::db;
use crate::error::AppResult;
use crate::notify::Kind;
use crate::store::{AsDb, now_ms};

use super::{crypto, endpoint};

/// A claimed row is left alone by other nodes this long (far longer than one request can take).
const LEASE_MS: i64 = 60 * 1000;
/// Waits before each retry when the push service gives no `Retry-After`.
const BACKOFF_SECS: [i64; 6] = [10, 60, 300, 900, 1800, 3600];
/// The longest `Retry-After` we follow.
const MAX_RETRY_AFTER_SECS: i64 = 3600;
/// Rows claimed per round, and posted at once.
const BATCH: i64 = 100;
const IN_FLIGHT: usize = 8;
/// VAPID tokens are valid this long (RFC 8292 allows up to 24 hours).
const TOKEN_SECS: i64 = 12 * 3600;

/// Rings this node's push worker (other nodes find the rows by polling).
static BELL: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tells this node's worker there may be pushes to send; called once the notifications'
/// transaction has committed.
pub fn wake() {
    BELL.notify_one();
}

/// Waits until woken or until `at_most` has passed.
pub async fn sleep(at_most: Duration) {
    let _ = tokio::time::timeout(at_most, BELL.notified()).await;
}

/// The SQL value "member `$1` has a device subscribed", for the notification insert to answer
/// with: most members have none, and then no push is queued and no statement spent on it.
macro_rules! has_device_sql {
    () => {
        "EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.user_id = $1)"
    };
}
pub(crate) use has_device_sql;

/// Queues a push of `kind` pointing at `url` (a path of this site) for each of the member's
/// subscribed devices, if their delivery settings want it pushed (`delivery::WANTS_PUSH`). Runs
/// in the caller's transaction as one statement, which finds no rows for members without a
/// device: it is on the reply writer's path, once per notification.
pub async fn enqueue(conn: &mut impl AsDb, user_id: i64, kind: Kind, url: &str) -> AppResult<()> {
    db!(
        *conn,
        execute,
        concat!(
            "INSERT INTO push_outbox (subscription_id, kind, url, created_at, next_attempt_at)
             SELECT s.id, $2, $3, $4, $4 FROM push_subscriptions s WHERE s.user_id = $1 AND ",
            crate::delivery::wants_push_sql!()
        ),
        user_id,
        kind.as_str(),
        url,
        now_ms(),
        crate::delivery::kind_pattern(kind)
    )?;
    Ok(())
}

/// How long a push of this kind is worth delivering (the `TTL` header), in seconds, and how
/// urgently (RFC 8030 section 5.3). A reminder or a crisis is no use tomorrow.
fn ttl_and_urgency(kind: &str) -> (i64, &'static str) {
    match kind {
        "crisis_report" | "caring_message" | "event_reminder" => (3600, "high"),
        "milestone" | "anniversary" | "leader_inactive" => (2 * 86400, "low"),
        _ => (86400, "normal"),
    }
}

#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    kind: String,
    url: String,
    created_at: i64,
    attempts: i64,
    subscription_id: i64,
    endpoint: String,
    p256dh: String,
    auth: String,
}

/// What became of one row.
enum Outcome {
    Delivered,
    /// The push service no longer knows the subscription (404/410), or we no longer accept it.
    Gone,
    /// Try again after this many seconds (429, 5xx, no answer).
    Retry(Option<i64>, String),
    /// Refused for good (another 4xx), or too old to be worth sending.
    Dropped(String),
}

/// Sends what is due; the number delivered.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    let now = now_ms();
    let due = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all as Due,
            "SELECT o.id, o.kind, o.url, o.created_at, o.attempts, o.subscription_id,
                    s.endpoint, s.p256dh, s.auth
             FROM push_outbox o JOIN push_subscriptions s ON s.id = o.subscription_id
             WHERE o.next_attempt_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until < $1)
             ORDER BY o.id LIMIT $2",
            now,
            BATCH
        )?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let keys = state.push.keys(&state.store).await?;
    let mut claimed = Vec::with_capacity(due.len());
    for row in due {
        if claim(state, row.id).await? {
            claimed.push(row);
        }
    }
    let results: Vec<(Due, Outcome)> = futures_util::stream::iter(claimed)
        .map(|row| async {
            let outcome = send_one(state, &keys.signing, &row).await;
            (row, outcome)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut delivered = 0;
    for (row, outcome) in results {
        let label = match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Retry(..) => "retry",
            Outcome::Dropped(_) => "dropped",
        };
        metrics::counter!("mutual_push_total", "outcome" => label).increment(1);
        match outcome {
            Outcome::Delivered => {
                delivered += 1;
                remove_row(state, row.id).await?;
            }
            Outcome::Gone => {
                tracing::info!(
                    subscription = row.subscription_id,
                    "push subscription gone; deleted"
                );
                let mut w = state.store.write().await?;
                db!(
                    w,
                    execute,
                    "DELETE FROM push_subscriptions WHERE id = $1",
                    row.subscription_id
                )?;
            }
            Outcome::Retry(after, why) => {
                retry_later(state, &row, after, &why).await?;
            }
            Outcome::Dropped(why) => {
                tracing::warn!(push = row.id, reason = %why, "push dropped");
                remove_row(state, row.id).await?;
            }
        }
    }
    Ok(delivered)
}

/// Takes the row for a lease; false when another node has it.
async fn claim(state: &AppState, id: i64) -> AppResult<bool> {
    let now = now_ms();
    let mut w = state.store.write().await?;
    let claimed = db!(
        w,
        execute,
        "UPDATE push_outbox SET claimed_until = $2, attempts = attempts + 1
         WHERE id = $1 AND (claimed_until IS NULL OR claimed_until < $3)",
        id,
        now + LEASE_MS,
        now
    )?;
    Ok(claimed == 1)
}

async fn remove_row(state: &AppState, id: i64) -> AppResult<()> {
    let mut w = state.store.write().await?;
    db!(w, execute, "DELETE FROM push_outbox WHERE id = $1", id)?;
    Ok(())
}

async fn retry_later(state: &AppState, row: &Due, after: Option<i64>, why: &str) -> AppResult<()> {
    let now = now_ms();
    let (ttl, _) = ttl_and_urgency(&row.kind);
    let wait = after.or_else(|| {
        usize::try_from(row.attempts)
            .ok()
            .and_then(|i| BACKOFF_SECS.get(i).copied())
    });
    let mut w = state.store.write().await?;
    match wait.filter(|w| now + w * 1000 < row.created_at + ttl * 1000) {
        Some(wait) => {
            let error: String = why.chars().take(300).collect();
            tracing::info!(push = row.id, attempt = row.attempts + 1, wait, error = %error, "push not delivered; will retry");
            db!(
                w,
                execute,
                "UPDATE push_outbox SET next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
                row.id,
                now + wait * 1000,
                error
            )?;
        }
        None => {
            tracing::warn!(push = row.id, error = %why, "push given up");
            db!(w, execute, "DELETE FROM push_outbox WHERE id = $1", row.id)?;
        }
    };
    Ok(())
}

/// Encrypts, signs and posts one push.
async fn send_one(state: &AppState, key: &SigningKey, row: &Due) -> Outcome {
    let now = now_ms();
    let (ttl, urgency) = ttl_and_urgency(&row.kind);
    let left = ttl - (now - row.created_at) / 1000;
    if left <= 0 {
        return Outcome::Dropped("stale".into());
    }
    // Checked again at sending: the policy may have been tightened since it was accepted.
    let Ok(url) = endpoint::parse(&row.endpoint, state.push.allow_insecure()) else {
        return Outcome::Gone;
    };
    let (Some(p256dh), Some(auth)) = (crypto::unb64(&row.p256dh), crypto::unb64(&row.auth)) else {
        return Outcome::Gone;
    };
    // The kind and a path of this site: nothing a member wrote, no name of anyone or anything.
    let payload = serde_json::json!({"kind": row.kind, "url": row.url}).to_string();
    let body = match crypto::encrypt(&p256dh, &auth, payload.as_bytes()) {
        Ok(body) => body,
        Err(_) => return Outcome::Gone,
    };
    let audience = url.origin().ascii_serialization();
    let authorization = crypto::vapid_authorization(
        key,
        &audience,
        state.push.subject(),
        now / 1000 + TOKEN_SECS,
    );
    let answer = state
        .push
        .client()
        .post(url)
        .header("TTL", left.to_string())
        .header("Urgency", urgency)
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", authorization)
        .body(body)
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => return Outcome::Retry(None, format!("no answer: {e}")),
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.clamp(1, MAX_RETRY_AFTER_SECS));
    match status.as_u16() {
        404 | 410 => Outcome::Gone,
        429 | 500..=599 => Outcome::Retry(retry_after, format!("answered {status}")),
        _ => Outcome::Dropped(format!("answered {status}")),
    }
}
