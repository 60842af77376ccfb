//! The outbox table (`mail_outbox`): rows are added in the transaction of whatever asked for
//! the mail, then claimed, rendered and sent by the worker. A row is claimed for a lease
//! longer than an SMTP conversation can last; a node that dies holding it gives it back when
//! the lease ends. A mail is never sent by two nodes at once; after a crash between handing
//! it over and marking it sent, it is sent again (a reset mail then carries a fresh link that
//! supersedes the first).

use crate::app::AppState;
use crate::db;
use crate::error::AppResult;
use crate::store::{AsDb, now_ms};

use super::Mail;
use super::render;

/// The kinds of mail, by the name stored in `mail_outbox.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PasswordReset,
    /// "Confirm your address": the token is minted when the mail is rendered.
    EmailVerify,
    /// Notifications mailed soon after they happen (the payload names the range of ids).
    Notifications,
    /// A daily or weekly summary (the payload names the range of ids).
    Digest,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PasswordReset => "password_reset",
            Kind::EmailVerify => "email_verify",
            Kind::Notifications => "notifications",
            Kind::Digest => "digest",
        }
    }

    fn parse(raw: &str) -> Option<Kind> {
        match raw {
            "password_reset" => Some(Kind::PasswordReset),
            "email_verify" => Some(Kind::EmailVerify),
            "notifications" => Some(Kind::Notifications),
            "digest" => Some(Kind::Digest),
            _ => None,
        }
    }
}

/// A claimed row is left alone by other nodes this long.
const LEASE_MS: i64 = 2 * 60 * 1000;
/// Waits before each retry; after the last, the mail is given up.
const BACKOFF_SECS: [i64; 7] = [15, 60, 300, 900, 3600, 3 * 3600, 6 * 3600];
/// Sent and given-up rows are kept this long (for "was it sent?"), then removed.
const KEEP_MS: i64 = 30 * 24 * 3600 * 1000;

/// Queues a mail of `kind` for the member, unless one of that kind is still waiting for them
/// (a second reset request while the first mail is queued sends one mail, not two).
pub async fn enqueue(conn: &mut impl AsDb, user_id: i64, kind: Kind) -> AppResult<()> {
    let now = now_ms();
    db!(
        *conn,
        execute,
        "INSERT INTO mail_outbox (user_id, kind, created_at, next_attempt_at)
         SELECT $1, $2, $3, $3
         WHERE NOT EXISTS (SELECT 1 FROM mail_outbox
                           WHERE user_id = $1 AND kind = $2 AND sent_at IS NULL AND failed_at IS NULL)",
        user_id,
        kind.as_str(),
        now
    )?;
    Ok(())
}

/// Queues a mail that says something of its own (`payload`, e.g. which notifications it
/// covers); several may wait for one member at once.
pub async fn enqueue_payload(
    conn: &mut impl AsDb,
    user_id: i64,
    kind: Kind,
    payload: &str,
) -> AppResult<()> {
    let now = now_ms();
    db!(
        *conn,
        execute,
        "INSERT INTO mail_outbox (user_id, kind, created_at, next_attempt_at, payload) VALUES ($1, $2, $3, $3, $4)",
        user_id,
        kind.as_str(),
        now,
        payload
    )?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    user_id: i64,
    kind: String,
    attempts: i64,
    payload: Option<String>,
}

/// Sends what is due; the number sent. Does nothing on a node whose delivery is off.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    let Some(transport) = state.mail.transport() else {
        return Ok(0);
    };
    let now = now_ms();
    let due = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all as Due,
            "SELECT id, user_id, kind, attempts, payload FROM mail_outbox
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
               AND (claimed_until IS NULL OR claimed_until < $1)
             ORDER BY id LIMIT 50",
            now
        )?
    };
    let mut sent = 0;
    for row in due {
        if !claim(state, row.id).await? {
            continue;
        }
        let attempt = row.attempts + 1;
        let result = match Kind::parse(&row.kind) {
            Some(kind) => {
                send_one(
                    state,
                    transport,
                    row.id,
                    row.user_id,
                    kind,
                    row.payload.as_deref(),
                )
                .await
            }
            None => Err(anyhow::anyhow!("unknown kind of mail {:?}", row.kind).into()),
        };
        match result {
            Ok(true) => {
                finish(state, row.id, Outcome::Sent).await?;
                metrics::counter!("mutual_mail_sent_total", "kind" => row.kind.clone())
                    .increment(1);
                sent += 1;
            }
            Ok(false) => {
                // Nobody to write to any more (the address was removed or is not verified), or
                // nothing left to say (read on the site meanwhile, kind turned off): no retry.
                finish(state, row.id, Outcome::NoAddress).await?;
            }
            Err(e) => {
                tracing::warn!(mail = row.id, attempt, error = %e, "mail not sent; will retry");
                metrics::counter!("mutual_mail_failures_total").increment(1);
                retry_later(state, row.id, attempt, &e.to_string()).await?;
            }
        }
    }
    Ok(sent)
}

/// Takes the row for a lease; false when another node has it or it is done.
async fn claim(state: &AppState, id: i64) -> AppResult<bool> {
    let now = now_ms();
    let mut w = state.store.write().await?;
    let claimed = db!(
        w,
        execute,
        "UPDATE mail_outbox SET claimed_until = $2, attempts = attempts + 1
         WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL
           AND (claimed_until IS NULL OR claimed_until < $3)",
        id,
        now + LEASE_MS,
        now
    )?;
    Ok(claimed == 1)
}

/// Renders and hands over one mail: false when the member has no address to send to, or the
/// mail has nothing left to say.
async fn send_one(
    state: &AppState,
    transport: &super::transport::Transport,
    id: i64,
    user_id: i64,
    kind: Kind,
    payload: Option<&str>,
) -> AppResult<bool> {
    let mail: Option<Mail> = match kind {
        Kind::PasswordReset => crate::accounts::reset::compose_mail(state, user_id).await?,
        Kind::EmailVerify => crate::delivery::verify::compose_mail(state, user_id).await?,
        Kind::Notifications | Kind::Digest => {
            crate::delivery::mails::compose(state, user_id, kind == Kind::Digest, payload).await?
        }
    };
    let Some(mail) = mail else { return Ok(false) };
    let message = render::message(&state.mail, &mail)?;
    transport
        .send(message, &format!("{id:08}-{}", kind.as_str()))
        .await?;
    Ok(true)
}

/// How a claimed row ends, when it is not retried.
enum Outcome {
    Sent,
    /// The member removed their address (or the account went) before it could be sent.
    NoAddress,
}

async fn finish(state: &AppState, id: i64, outcome: Outcome) -> AppResult<()> {
    let mut w = state.store.write().await?;
    match outcome {
        Outcome::Sent => db!(
            w,
            execute,
            "UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1",
            id,
            now_ms()
        )?,
        Outcome::NoAddress => db!(
            w,
            execute,
            "UPDATE mail_outbox SET failed_at = $2, claimed_until = NULL, last_error = 'no verified address, or nothing left to say' WHERE id = $1",
            id,
            now_ms()
        )?,
    };
    Ok(())
}

async fn retry_later(state: &AppState, id: i64, attempt: i64, error: &str) -> AppResult<()> {
    let now = now_ms();
    let error: String = error.chars().take(500).collect();
    let mut w = state.store.write().await?;
    match usize::try_from(attempt - 1)
        .ok()
        .and_then(|i| BACKOFF_SECS.get(i))
    {
        Some(wait) => db!(
            w,
            execute,
            "UPDATE mail_outbox SET next_attempt_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
            id,
            now + wait * 1000,
            error
        )?,
        None => {
            tracing::error!(mail = id, "mail given up after its last retry");
            db!(
                w,
                execute,
                "UPDATE mail_outbox SET failed_at = $2, claimed_until = NULL, last_error = $3 WHERE id = $1",
                id,
                now,
                error
            )?
        }
    };
    Ok(())
}

/// Forgets mails sent or given up long ago.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    let before = now_ms() - KEEP_MS;
    let mut w = state.store.write().await?;
    Ok(db!(
        w,
        execute,
        "DELETE FROM mail_outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (failed_at IS NOT NULL AND failed_at < $1)",
        before
    )?)
}
