//! The one task that stores replies, like chat's writer: the replies waiting when it is free
//! commit together as one transaction. Each reply is a handful of statements on SQLite's single
//! writer, each a round trip to the connection's thread; taking the writer, `BEGIN IMMEDIATE`
//! and `COMMIT` (with the WAL pages each commit writes) are then paid once per group instead of
//! once per reply. A group that fails is stored again one reply at a time, so one bad reply
//! fails alone. The reply is answered only once its transaction has committed. On PostgreSQL,
//! which runs transactions side by side, a few such tasks take turns gathering groups.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::types::ContentWarning;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::milestones::Prepared;
use crate::notify::{Kind, Recipients};
use crate::publish::{Staged, Verdict, Written, dispatch};
use crate::store::{Backend, Store, Tx};

/// The most replies committed together.
const BATCH: usize = 32;

/// Writer tasks on PostgreSQL (a quarter of the default pool).
const POSTGRES_WRITERS: usize = 4;

/// A reply checked and read around (what it answers, mentions and quotes), ready to store.
pub struct NewReply {
    pub topic_id: i64,
    /// The topic's author, told of replies that answer no post in particular.
    pub topic_author: Option<i64>,
    pub community_id: i64,
    pub author_id: i64,
    /// `Session::referred` of the author.
    pub referred: bool,
    pub reply_to: Option<i64>,
    pub body: String,
    pub body_html: String,
    /// What search holds for it (`search::prepare`), made before the writer; unused in an
    /// "only me" topic.
    pub search_text: String,
    pub warning: Option<ContentWarning>,
    pub anonymous: bool,
    /// In an "only me" topic: not indexed, screened or notified.
    pub private: bool,
    pub milestone: Option<Prepared>,
    pub verdict: Verdict,
    /// `Some(author)` of the post it answers (`Some(None)`: an erased author).
    pub answered: Option<Option<i64>>,
    pub mentioned: Vec<i64>,
    pub quoted: Vec<i64>,
    pub created_at: i64,
    /// Media checked as the author's own and unattached.
    pub attachments: crate::media::Checked,
}

/// A stored reply, and what to publish now that it is committed.
pub struct Stored {
    pub post_id: i64,
    /// Its number in the topic.
    pub seq: i64,
    pub staged: Staged,
}

struct Pending {
    reply: NewReply,
    done: oneshot::Sender<AppResult<Stored>>,
}

#[derive(Clone)]
pub struct ReplyWriter {
    tx: mpsc::Sender<Pending>,
}

impl ReplyWriter {
    pub fn start(store: Store) -> ReplyWriter {
        let (tx, rx) = mpsc::channel::<Pending>(1024);
        // SQLite has one writer connection. PostgreSQL runs transactions side by side, and one
        // task would make each reply wait for the network round trips of the group before it,
        // so there several tasks take turns gathering a group and commit theirs concurrently.
        let writers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers {
            let (store, rx) = (store.clone(), rx.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_group(&rx).await {
                    commit(&store, batch).await;
                }
            });
        }
        ReplyWriter { tx }
    }

    /// Stores a reply; its post id (and what to publish) once committed.
    pub async fn write(&self, reply: NewReply) -> AppResult<Stored> {
        let gone = || AppError::Unavailable("the server is shutting down".into());
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending { reply, done })
            .await
            .map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
    }
}

/// The replies waiting (at least one; `None` once the server stops), in topic order so that
/// concurrent groups take topic rows in the same order and cannot deadlock.
async fn next_group(rx: &Mutex<mpsc::Receiver<Pending>>) -> Option<Vec<Pending>> {
    let mut rx = rx.lock().await;
    let mut batch = vec![rx.recv().await?];
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
    drop(rx);
    batch.sort_by_key(|p| p.reply.topic_id);
    Some(batch)
}

async fn commit(store: &Store, batch: Vec<Pending>) {
    metrics::histogram!("mutual_reply_batch_size").record(batch.len() as f64);
    match store_all(store, &batch).await {
        Ok(stored) => {
            for (p, s) in batch.into_iter().zip(stored) {
                let _ = p.done.send(Ok(s));
            }
        }
        Err(_) if batch.len() > 1 => {
            for p in batch {
                let result = store_all(store, std::slice::from_ref(&p)).await;
                let _ = p
                    .done
                    .send(result.and_then(|mut s| s.pop().ok_or(AppError::NotFound)));
            }
        }
        Err(e) => {
            // A group of one: its own error.
            if let Some(p) = batch.into_iter().next() {
                let _ = p.done.send(Err(e));
            }
        }
    }
}

async fn store_all(store: &Store, batch: &[Pending]) -> AppResult<Vec<Stored>> {
    let mut tx = store.begin().await?;
    let mut stored = Vec::with_capacity(batch.len());
    let mut index = Vec::new();
    for p in batch {
        let (s, search) = store_one(&mut tx, &p.reply).await?;
        index.extend(search);
        stored.push(s);
    }
    // Last and together: see `search::index_many`.
    crate::search::index_many(&mut tx, &index).await?;
    tx.commit().await?;
    Ok(stored)
}

/// One reply's statements, inside the group's transaction; its search entry when the group
/// indexes it at the end.
async fn store_one(tx: &mut Tx, r: &NewReply) -> AppResult<(Stored, Option<(i64, String)>)> {
    // Taking the topic row first numbers posts in commit order (see `posts`).
    let seq = db!(
        *tx,
        fetch_optional scalar i64,
        "UPDATE topics SET last_seq = last_seq + 1, reply_count = reply_count + 1, last_post_at = $2
         WHERE id = $1 AND deleted_at IS NULL RETURNING last_seq",
        r.topic_id,
        r.created_at
    )?
    .ok_or(AppError::NotFound)?;
    let post_id = db!(
        *tx,
        fetch_one scalar i64,
        "INSERT INTO posts (topic_id, community_id, seq, author_id, reply_to, body, body_html, content_warning, anonymous, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        r.topic_id,
        r.community_id,
        seq,
        r.author_id,
        r.reply_to,
        &r.body,
        &r.body_html,
        r.warning.map(ContentWarning::as_str),
        r.anonymous,
        r.created_at
    )?;
    crate::media::attach(
        &mut *tx,
        r.author_id,
        crate::media::Target::Post(post_id),
        &r.attachments,
    )
    .await?;
    let mut recipients = Recipients::default();
    for uid in &r.mentioned {
        recipients.add(*uid, Kind::Mention);
    }
    match r.answered {
        Some(Some(parent_author)) => recipients.add(parent_author, Kind::Reply),
        Some(None) => {}
        None => {
            if let Some(topic_author) = r.topic_author {
                recipients.add(topic_author, Kind::Reply);
            }
        }
    }
    for uid in &r.quoted {
        recipients.add(*uid, Kind::Quote);
    }
    let indexed_later = !r.private && r.verdict.keeps_post_findable();
    let written = Written {
        community_id: r.community_id,
        topic_id: r.topic_id,
        post_id,
        author_id: Some(r.author_id),
        anonymous: r.anonymous,
        private: r.private,
        new: true,
        indexed_later,
        referred: r.referred,
        title: None,
        body: &r.body,
    };
    let staged =
        dispatch::stage(tx, &written, &r.verdict, r.milestone.as_ref(), recipients).await?;
    Ok((
        Stored {
            post_id,
            seq,
            staged,
        },
        indexed_later.then(|| (post_id, r.search_text.clone())),
    ))
}
