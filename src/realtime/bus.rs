//! The bus that carries committed events to every node: in-process when there is no Redis,
//! Redis pub/sub when there is.
//!
//! Every event is first delivered to this node's own clients, then published; a node ignores its
//! own events coming back. So a node that loses Redis keeps serving its own clients, and when
//! Redis returns it catches up from the database on what other nodes committed meanwhile.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::frames::{Kind, Revoked};
use super::hub::{Gap, Hub, Outbound};
use crate::error::AppResult;
use crate::store::now_ms;

/// Message frames committed in a room, from the database, oldest first: since a time (ms), what
/// a node missed while it could not hear the bus; or a range of `seq`, a message still in
/// flight from another node when a later one arrived. The chat provides them; realtime only
/// replays.
pub trait Replay: Send + Sync + 'static {
    fn frames_since(&self, room: i64, since_ms: i64) -> Replayed<'_>;
    /// Messages with `from <= seq <= to`.
    fn frames_between(&self, room: i64, from: i64, to: i64) -> Replayed<'_>;
}

/// A replayed message: its id, its `seq` in the room, its frame.
pub type ReplayedMessage = (i64, i64, String);

/// The frames a [`Replay`] finds.
pub type Replayed<'a> = Pin<Box<dyn Future<Output = AppResult<Vec<ReplayedMessage>>> + Send + 'a>>;

/// One event as it crosses nodes. `frame` is the finished client frame, serialised once.
#[derive(Serialize, Deserialize, Debug)]
pub struct Envelope {
    pub node: String,
    #[serde(flatten)]
    pub target: Target,
    pub frame: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Room {
        room: i64,
        message_id: Option<i64>,
        /// A new message's place in its room (see `chat::writer`).
        #[serde(default)]
        seq: Option<i64>,
        kind: Kind,
    },
    User {
        user: i64,
    },
    Sanctions {
        user: i64,
    },
    /// A member's access to a community changed (`user`), or the community's visibility (none).
    Access {
        user: Option<i64>,
        community: i64,
        reason: Revoked,
    },
    /// A member's sessions ended: `session`, or every one but `keep`.
    Sessions {
        user: i64,
        session: Option<i64>,
        keep: Option<i64>,
    },
    /// What a member's sessions carry changed (settings, site roles): nodes forget them.
    Member {
        user: i64,
    },
}

/// Delivers an envelope to this node's clients.
pub fn deliver(hub: &Hub, target: Target, frame: Utf8Bytes) {
    match target {
        Target::Room {
            room,
            message_id,
            seq,
            kind,
        } => hub.deliver_room(room, message_id, seq, kind, &frame),
        Target::User { user } => {
            hub.deliver_user(user, || Outbound::Personal(frame.clone()));
        }
        Target::Sanctions { user } => {
            // Kept sessions carry whether a sanction is in force.
            hub.forget_sessions_of(user);
            hub.deliver_user(user, || Outbound::ReloadSanctions);
        }
        Target::Access {
            user,
            community,
            reason,
        } => {
            let item = || Outbound::Access {
                community: Some(community),
                reason,
            };
            match user {
                Some(user) => hub.deliver_user(user, item),
                None => hub.deliver_all(item),
            }
        }
        Target::Sessions {
            user,
            session,
            keep,
        } => {
            hub.forget_sessions_of(user);
            hub.deliver_sessions(user, session, keep);
        }
        Target::Member { user } => hub.forget_sessions_of(user),
    }
}

/// Failed publishes kept for retrying, at most.
const RETRY_MAX: usize = 10_000;
/// Tries per event before it is given up (about a minute with [`RETRY_EVERY`]).
const PUBLISH_ATTEMPTS: u32 = 120;
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// The Redis side: a publishing queue and a subscriber that reconnects and catches up.
pub struct RedisBus {
    queue: mpsc::Sender<String>,
    pub connected: Arc<AtomicBool>,
}

impl RedisBus {
    pub fn start(
        url: &str,
        prefix: &str,
        node: String,
        hub: Arc<Hub>,
        replay: Arc<dyn Replay>,
        manager: ConnectionManager,
    ) -> anyhow::Result<RedisBus> {
        let client = redis::Client::open(url)?;
        let channel = format!("{prefix}:events");
        let (queue, mut rx) = mpsc::channel::<String>(16_384);
        let connected = Arc::new(AtomicBool::new(false));

        let publish_channel = channel.clone();
        let mut publisher = manager;
        tokio::spawn(async move {
            // Events whose publish failed (Redis away), oldest first, sent again in order once
            // it answers: other nodes' members still get their notifications, sanctions and
            // revocations. Bounded: past it the oldest go (rooms catch up from the database).
            let mut retry: VecDeque<String> = VecDeque::new();
            let mut attempts = 0u32;
            loop {
                let payload = match retry.pop_front() {
                    Some(p) => p,
                    None => match rx.recv().await {
                        Some(p) => p,
                        None => break,
                    },
                };
                let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&publish_channel)
                    .arg(&payload)
                    .query_async(&mut publisher)
                    .await;
                if sent.is_ok() {
                    attempts = 0;
                    continue;
                }
                metrics::counter!("mutual_bus_publish_failures_total").increment(1);
                attempts += 1;
                if attempts < PUBLISH_ATTEMPTS {
                    retry.push_front(payload);
                } else {
                    attempts = 0;
                    metrics::counter!("mutual_bus_publish_dropped_total").increment(1);
                }
                while let Ok(p) = rx.try_recv() {
                    retry.push_back(p);
                }
                while retry.len() > RETRY_MAX {
                    retry.pop_front();
                    metrics::counter!("mutual_bus_publish_dropped_total").increment(1);
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
        });

        let flag = connected.clone();
        tokio::spawn(async move {
            // Since when this node may have missed other nodes' events (ms); 0 = never.
            let outage_since = AtomicI64::new(now_ms());
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            // Sessions may have ended on other nodes while this one could not
                            // hear them: forget every kept one before the cache is used again.
                            hub.forget_all_sessions();
                            flag.store(true, Ordering::Relaxed);
                            let since = outage_since.swap(0, Ordering::Relaxed);
                            if since > 0 {
                                catch_up(&hub, &*replay, since).await;
                                // Sanctions, access and sessions may have changed meanwhile on
                                // other nodes, and their events may be lost: check them again.
                                hub.deliver_all(|| Outbound::ReloadSanctions);
                                let since_ms = since - 5_000;
                                hub.deliver_all(|| Outbound::CatchUp { since_ms });
                                hub.deliver_all(|| Outbound::Access {
                                    community: None,
                                    reason: Revoked::Removed,
                                });
                                hub.deliver_all(|| Outbound::Session);
                            }
                            let mut stream = pubsub.on_message();
                            while let Some(msg) = stream.next().await {
                                let Ok(payload) = msg.get_payload::<String>() else {
                                    continue;
                                };
                                let Ok(env) = serde_json::from_str::<Envelope>(&payload) else {
                                    continue;
                                };
                                if env.node != node {
                                    deliver(&hub, env.target, env.frame.into());
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "bus: Redis not reachable"),
                }
                if flag.swap(false, Ordering::Relaxed) {
                    hub.forget_all_sessions();
                    tracing::warn!(
                        "bus: lost Redis; serving this node's clients and catching up when it returns"
                    );
                }
                if outage_since.load(Ordering::Relaxed) == 0 {
                    outage_since.store(now_ms(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Ok(RedisBus { queue, connected })
    }

    pub fn publish(&self, payload: String) {
        if self.queue.try_send(payload).is_err() {
            metrics::counter!("mutual_bus_publish_dropped_total").increment(1);
        }
    }
}

/// How long a gap may close by itself (the missing message is most often on its way over the
/// bus) before it is read from the database.
const GAP_GRACE: Duration = Duration::from_millis(40);

/// Fills the hub's gaps: waits a moment, then reads what is still missing from the database.
pub fn spawn_filler(hub: Arc<Hub>, replay: Arc<dyn Replay>) {
    let (filler, mut gaps) = mpsc::unbounded_channel::<Gap>();
    hub.set_filler(filler);
    let weak = Arc::downgrade(&hub);
    drop(hub);
    tokio::spawn(async move {
        while let Some(gap) = gaps.recv().await {
            let (weak, replay) = (weak.clone(), replay.clone());
            tokio::spawn(async move {
                tokio::time::sleep(GAP_GRACE).await;
                let Some(hub) = weak.upgrade() else { return };
                let Some(open) = hub.open_gap(gap) else {
                    // Closed meanwhile: hand over what was held.
                    hub.gap_filled(gap, Vec::new());
                    return;
                };
                let read = replay.frames_between(open.room, open.from, open.to).await;
                let messages = read.unwrap_or_else(|e| {
                    tracing::warn!(room = open.room, error = %e, "bus: reading a gap failed");
                    Vec::new()
                });
                metrics::counter!("mutual_chat_gaps_filled_total").increment(1);
                hub.gap_filled(open, messages);
            });
        }
    });
}

/// Delivers what other nodes committed while this one could not hear them.
async fn catch_up(hub: &Hub, replay: &dyn Replay, since_ms: i64) {
    // A margin for clocks and for events published just before the outage was noticed.
    let from = since_ms - 5_000;
    for room in hub.rooms() {
        match replay.frames_since(room, from).await {
            Ok(frames) => {
                let count = frames.len();
                for (id, seq, frame) in frames {
                    // Already-delivered messages are skipped by the hub.
                    hub.deliver_room(room, Some(id), Some(seq), Kind::Message, &frame.into());
                }
                tracing::info!(room, count, "bus: caught up after an outage");
            }
            Err(e) => tracing::warn!(room, error = %e, "bus: catching up failed"),
        }
    }
}
