//! This node's connections and their room subscriptions, and delivery to them.
//!
//! Delivery never waits: each connection has a bounded queue; a frame that does not fit means the
//! client cannot keep up, so it is told to resync and closed (its `kick`), and the room moves on.
//! Frames are shared (`Utf8Bytes` is reference-counted), so a message is serialised once no
//! matter how many members receive it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

/// What a connection's writer receives.
#[derive(Debug)]
pub enum Outbound {
    /// A room event; `message_id` lets the connection drop what its backlog already carried.
    Room {
        room: i64,
        message_id: Option<i64>,
        frame: Utf8Bytes,
    },
    /// A frame for this member only (notifications).
    Personal(Utf8Bytes),
    /// The member's sanctions changed: reload them before the next send.
    ReloadSanctions,
}

#[derive(Clone)]
pub struct ConnHandle {
    pub id: u64,
    pub user_id: i64,
    /// Counted and announced in presence (false for members who hide it).
    pub visible: bool,
    pub tx: mpsc::Sender<Outbound>,
    pub kick: Arc<Notify>,
}

impl ConnHandle {
    fn push(&self, item: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(item) {
            metrics::counter!("mutual_ws_kicked_slow_total").increment(1);
            self.kick.notify_one();
        }
    }
}

#[derive(Default)]
struct Room {
    conns: HashMap<u64, ConnHandle>,
    /// Local connections per member, for presence.
    users: HashMap<i64, (u32, bool)>,
    /// Message ids delivered lately, newest last, for catching up after a bus outage.
    recent: BTreeSet<i64>,
}

const RECENT_IDS: usize = 2000;

#[derive(Default)]
pub struct Hub {
    rooms: RwLock<HashMap<i64, Room>>,
    users: RwLock<HashMap<i64, HashMap<u64, ConnHandle>>>,
    next_id: AtomicU64,
}

/// A presence change on this node: the member's first connection in the room, or their last.
pub enum PresenceChange {
    Joined,
    Left,
    None,
}

impl Hub {
    pub fn next_conn_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn connect(&self, handle: &ConnHandle) {
        if let Ok(mut users) = self.users.write() {
            users
                .entry(handle.user_id)
                .or_default()
                .insert(handle.id, handle.clone());
        }
        metrics::gauge!("mutual_ws_connections").increment(1.0);
    }

    pub fn disconnect(&self, handle: &ConnHandle) {
        if let Ok(mut users) = self.users.write()
            && let Some(conns) = users.get_mut(&handle.user_id)
        {
            conns.remove(&handle.id);
            if conns.is_empty() {
                users.remove(&handle.user_id);
            }
        }
        metrics::gauge!("mutual_ws_connections").decrement(1.0);
    }

    pub fn subscribe(&self, room: i64, handle: &ConnHandle) -> PresenceChange {
        let Ok(mut rooms) = self.rooms.write() else {
            return PresenceChange::None;
        };
        let r = rooms.entry(room).or_default();
        if r.conns.insert(handle.id, handle.clone()).is_some() {
            return PresenceChange::None;
        }
        let entry = r.users.entry(handle.user_id).or_insert((0, handle.visible));
        entry.0 += 1;
        if entry.0 == 1 && handle.visible {
            PresenceChange::Joined
        } else {
            PresenceChange::None
        }
    }

    pub fn unsubscribe(&self, room: i64, handle: &ConnHandle) -> PresenceChange {
        let Ok(mut rooms) = self.rooms.write() else {
            return PresenceChange::None;
        };
        let Some(r) = rooms.get_mut(&room) else {
            return PresenceChange::None;
        };
        if r.conns.remove(&handle.id).is_none() {
            return PresenceChange::None;
        }
        let mut change = PresenceChange::None;
        if let Some(entry) = r.users.get_mut(&handle.user_id) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                if entry.1 {
                    change = PresenceChange::Left;
                }
                r.users.remove(&handle.user_id);
            }
        }
        if r.conns.is_empty() {
            rooms.remove(&room);
        }
        change
    }

    /// Members here who are visibly in the room.
    pub fn local_online(&self, room: i64) -> usize {
        self.rooms
            .read()
            .map(|rooms| {
                rooms
                    .get(&room)
                    .map(|r| r.users.values().filter(|(_, v)| *v).count())
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Rooms with subscribers on this node.
    pub fn rooms(&self) -> Vec<i64> {
        self.rooms
            .read()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The newest message id delivered here in the room.
    pub fn newest(&self, room: i64) -> Option<i64> {
        self.rooms
            .read()
            .ok()
            .and_then(|r| r.get(&room).and_then(|r| r.recent.last().copied()))
    }

    /// Hands a room frame to every local subscriber. Pushing never blocks, so it happens under
    /// the lock without cloning the subscriber list.
    pub fn deliver_room(&self, room: i64, message_id: Option<i64>, frame: &Utf8Bytes) {
        let Ok(mut rooms) = self.rooms.write() else {
            return;
        };
        let Some(r) = rooms.get_mut(&room) else {
            return;
        };
        if let Some(id) = message_id {
            if !r.recent.insert(id) {
                return;
            }
            while r.recent.len() > RECENT_IDS {
                r.recent.pop_first();
            }
        }
        for conn in r.conns.values() {
            conn.push(Outbound::Room {
                room,
                message_id,
                frame: frame.clone(),
            });
        }
        metrics::counter!("mutual_ws_room_frames_total").increment(1);
    }

    /// Hands a frame to every local connection of one member.
    pub fn deliver_user(&self, user_id: i64, item: impl Fn() -> Outbound) {
        let targets: Vec<ConnHandle> = self
            .users
            .read()
            .map(|u| {
                u.get(&user_id)
                    .map(|c| c.values().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        for conn in targets {
            conn.push(item());
        }
    }
}
