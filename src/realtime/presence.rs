//! Who is in a room: online counts and joined/left announcements.
//!
//! Changes are gathered and announced at most once a second per room, so a thousand members
//! arriving at once make a handful of frames, not a million. With Redis each node writes its own
//! count per room (with a time stamp, so a dead node's count fades out) and the total is their sum.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use serde::Serialize;

use super::Realtime;
use super::frames::Frame;
use super::hub::Hub;
use crate::store::now_ms;

/// A member as presence shows them.
#[derive(Serialize, Clone, Debug)]
pub struct Who {
    pub id: i64,
    pub username: String,
    pub display_name: String,
}

#[derive(Default)]
struct Pending {
    joined: Vec<Who>,
    left: Vec<Who>,
}

/// A node's count older than this is from a node that stopped.
const STALE_MS: i64 = 30_000;

pub struct Presence {
    pending: Mutex<HashMap<i64, Pending>>,
    redis: Option<(ConnectionManager, String, String)>,
}

impl Presence {
    /// `redis`: connection, key prefix, this node's id.
    pub fn new(redis: Option<(ConnectionManager, String, String)>) -> Presence {
        Presence {
            pending: Mutex::new(HashMap::new()),
            redis,
        }
    }

    pub fn joined(&self, room: i64, who: Who) {
        if let Ok(mut p) = self.pending.lock() {
            p.entry(room).or_default().joined.push(who);
        }
    }

    pub fn left(&self, room: i64, who: Who) {
        if let Ok(mut p) = self.pending.lock() {
            p.entry(room).or_default().left.push(who);
        }
    }

    /// Members online in the room, across nodes.
    pub async fn online(&self, hub: &Hub, room: i64) -> usize {
        let local = hub.local_online(room);
        let Some((conn, prefix, node)) = &self.redis else {
            return local;
        };
        let mut conn = conn.clone();
        let key = format!("{prefix}:presence:{room}");
        let all: redis::RedisResult<HashMap<String, String>> =
            redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await;
        let Ok(all) = all else { return local };
        let now = now_ms();
        let others: usize = all
            .iter()
            .filter(|(n, _)| *n != node)
            .filter_map(|(_, v)| v.split_once(':'))
            .filter_map(|(count, at)| Some((count.parse::<usize>().ok()?, at.parse::<i64>().ok()?)))
            .filter(|(_, at)| now - at < STALE_MS)
            .map(|(count, _)| count)
            .sum();
        local + others
    }

    /// Writes this node's count for the room.
    pub async fn store_local(&self, hub: &Hub, room: i64) {
        let Some((conn, prefix, node)) = &self.redis else {
            return;
        };
        let mut conn = conn.clone();
        let key = format!("{prefix}:presence:{room}");
        let value = format!("{}:{}", hub.local_online(room), now_ms());
        let _: redis::RedisResult<()> = redis::pipe()
            .hset(&key, node, value)
            .ignore()
            .expire(&key, 3600)
            .ignore()
            .query_async(&mut conn)
            .await;
    }

    /// Announces gathered changes once a second, and refreshes this node's counts.
    pub fn spawn(realtime: Arc<Realtime>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut since_refresh = 0u32;
            loop {
                tick.tick().await;
                let pending: HashMap<i64, Pending> = realtime
                    .presence
                    .pending
                    .lock()
                    .map(|mut p| std::mem::take(&mut *p))
                    .unwrap_or_default();
                for (room, changes) in pending {
                    realtime.presence.store_local(&realtime.hub, room).await;
                    let online = realtime.presence.online(&realtime.hub, room).await;
                    let frame = Frame::Presence {
                        room,
                        online,
                        joined: &changes.joined,
                        left: &changes.left,
                    };
                    realtime.publish_room(room, None, frame.encode());
                }
                since_refresh += 1;
                if since_refresh >= 10 {
                    since_refresh = 0;
                    for room in realtime.hub.rooms() {
                        realtime.presence.store_local(&realtime.hub, room).await;
                    }
                }
            }
        });
    }
}
