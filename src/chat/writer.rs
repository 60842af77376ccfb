//! The one task that stores chat messages: it commits whatever is waiting as one transaction,
//! then publishes each message. Awaiting one insert per message inside each connection makes
//! the database and the fan-out fight for the cores (CRATES.md measured ~120 messages/s);
//! committing groups keeps up with the room. A message is always stored before it is delivered.
//!
//! Each message gets its room's next `seq` from the counter on the room's row, taken in the same
//! transaction: the row lock orders commits, so within a room `seq` grows in commit order, on
//! every node, without gaps (what the hub relies on to notice a message still in flight).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{ChatMessage, message_frame};
use crate::communities::MemberSummary;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::realtime::Realtime;
use crate::store::{Store, Tx, now_ms};

/// The most messages committed together.
const BATCH: usize = 256;

pub struct Pending {
    pub room: i64,
    pub author: MemberSummary,
    pub body: String,
    pub body_html: String,
    pub nonce: Option<String>,
    /// Media checked as the author's own and unattached.
    pub attachments: crate::media::Checked,
    /// The message it answers, quoted once at send (see `send::quote`).
    pub reply_to: Option<super::ReplyQuote>,
    pub done: oneshot::Sender<AppResult<i64>>,
}

#[derive(Clone)]
pub struct ChatWriter {
    tx: mpsc::Sender<Pending>,
}

impl ChatWriter {
    pub fn start(store: Store, realtime: Arc<Realtime>) -> ChatWriter {
        let (tx, mut rx) = mpsc::channel::<Pending>(8192);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                commit(&store, &realtime, std::mem::take(&mut batch)).await;
            }
        });
        ChatWriter { tx }
    }

    /// Stores and publishes a message; the id once it is committed.
    // Each argument is one column of the message; a struct for them would only repeat `Pending`.
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        room: i64,
        author: MemberSummary,
        body: String,
        body_html: String,
        nonce: Option<String>,
        attachments: crate::media::Checked,
        reply_to: Option<super::ReplyQuote>,
    ) -> AppResult<i64> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending {
                room,
                author,
                body,
                body_html,
                nonce,
                attachments,
                reply_to,
                done,
            })
            .await
            .map_err(|_| AppError::Unavailable("the chat is shutting down".into()))?;
        wait.await
            .map_err(|_| AppError::Unavailable("the chat is shutting down".into()))?
    }
}

/// Stores the batch in one transaction: each message's (id, seq).
async fn insert_all(store: &Store, batch: &[Pending], now: i64) -> AppResult<Vec<(i64, i64)>> {
    let mut tx: Tx = store.begin().await?;
    // Each room's row once, in id order (no deadlocks between nodes), taking as many seqs as
    // the batch has messages for it; the lock holds until the commit.
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for p in batch {
        *counts.entry(p.room).or_default() += 1;
    }
    let mut next: BTreeMap<i64, i64> = BTreeMap::new();
    for (room, count) in counts {
        let last = db!(
            tx,
            fetch_one scalar i64,
            "UPDATE rooms SET last_message_at = $2, message_seq = message_seq + $3 WHERE id = $1 RETURNING message_seq",
            room,
            now,
            count
        )?;
        next.insert(room, last - count + 1);
    }
    let mut stored = Vec::with_capacity(batch.len());
    for p in batch {
        let seq = next.get(&p.room).copied().unwrap_or(0);
        next.insert(p.room, seq + 1);
        let id = db!(
            tx,
            fetch_one scalar i64,
            "INSERT INTO chat_messages (room_id, author_id, body, body_html, created_at, seq, reply_to_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            p.room,
            p.author.id,
            &p.body,
            &p.body_html,
            now,
            seq,
            p.reply_to.as_ref().map(|q| q.id)
        )?;
        crate::media::attach(
            &mut tx,
            p.author.id,
            crate::media::Target::Message(id),
            &p.attachments,
        )
        .await?;
        stored.push((id, seq));
    }
    tx.commit().await?;
    Ok(stored)
}

async fn commit(store: &Store, realtime: &Realtime, batch: Vec<Pending>) {
    let now = now_ms();
    metrics::histogram!("mutual_chat_batch_size").record(batch.len() as f64);
    match insert_all(store, &batch, now).await {
        Ok(ids) => {
            for (p, (id, seq)) in batch.into_iter().zip(ids) {
                publish(realtime, p, id, seq, now);
            }
        }
        Err(_) if batch.len() > 1 => {
            // One bad message must not sink the others: store them one by one.
            for p in batch {
                match insert_all(store, std::slice::from_ref(&p), now).await {
                    Ok(ids) => {
                        if let Some((id, seq)) = ids.first().copied() {
                            publish(realtime, p, id, seq, now);
                        }
                    }
                    Err(e) => {
                        let _ = p.done.send(Err(e));
                    }
                }
            }
        }
        Err(e) => {
            // The cause is for the log: a database's own words never reach a client.
            tracing::warn!(error = %e, "storing chat messages");
            for p in batch {
                let _ = p.done.send(Err(AppError::Unavailable(
                    "the message was not stored; please try again shortly".into(),
                )));
            }
        }
    }
}

fn publish(realtime: &Realtime, p: Pending, id: i64, seq: i64, now: i64) {
    let message = ChatMessage {
        id,
        room: p.room,
        author: Some(p.author),
        body: p.body,
        body_html: p.body_html,
        created_at: now,
        edited_at: None,
        nonce: p.nonce,
        attachments: p.attachments.shown(),
        hidden_for_you: None,
        reply_to: p.reply_to,
        reactions: Default::default(),
        my_reactions: Vec::new(),
    };
    realtime.publish_message(p.room, id, seq, message_frame(&message));
    metrics::counter!("mutual_chat_messages_total").increment(1);
    let _ = p.done.send(Ok(id));
}
