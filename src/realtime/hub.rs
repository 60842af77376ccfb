//! This node's connections and their room subscriptions, and delivery to them.
//!
//! Delivery never waits: each connection has a bounded queue; a frame that does not fit means the
//! client cannot keep up, so it is told to resync and closed (its `kick`), and the room moves on.
//! Frames are shared (`Utf8Bytes` is reference-counted), so a message is serialised once no
//! matter how many members receive it; so is a room's latest backlog, for the moments when
//! thousands subscribe at once (see [`BacklogCache`]).
//!
//! A room's new messages are handed over in `seq` order (their place in the room, given in
//! commit order; see `chat::writer`). With several nodes, a message committed on another node
//! can arrive over the bus after a later one committed here; the later one waits in `held`
//! while the missing ones are read from the database (a committed `seq` means every lower one
//! committed too), so a client that resumes after the last message it saw never skips one.
//! This is per room, never per recipient.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::frames::{Kind, Revoked};

/// What a connection's writer receives.
#[derive(Debug)]
pub enum Outbound {
    /// A room event; `message_id` lets the connection drop what its backlog already carried.
    Room {
        room: i64,
        message_id: Option<i64>,
        /// A new message's place in the room, in order (see the module's notes).
        seq: Option<i64>,
        kind: Kind,
        frame: Utf8Bytes,
    },
    /// A frame for this member only (notifications).
    Personal(Utf8Bytes),
    /// The member's sanctions changed: reload them before the next send.
    ReloadSanctions,
    /// Access to a community's rooms (every room: `None`) may have ended: check it again.
    Access {
        community: Option<i64>,
        reason: Revoked,
    },
    /// The session behind the socket may have ended: check it, and close with 4001 if so.
    Session,
    /// The bus was away since this time (ms): send what the member missed that is kept
    /// (notifications).
    CatchUp { since_ms: i64 },
}

#[derive(Clone)]
pub struct ConnHandle {
    pub id: u64,
    pub user_id: i64,
    /// The session the socket was opened with: it closes when that session ends.
    pub session_id: i64,
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
    /// The newest message `seq` handed over (unknown until the first subscriber tells).
    last_seq: Option<i64>,
    /// Messages that arrived past a gap, by `seq`, waiting for the missing ones.
    held: BTreeMap<i64, (Option<i64>, Utf8Bytes)>,
    /// A gap is being read from the database.
    filling: bool,
}

const RECENT_IDS: usize = 2000;
/// Messages held behind a gap at most; past it the room gives up on the gap.
const HELD_MAX: usize = 4096;

/// Messages a room is missing (`from <= seq <= to`), for the filler to read from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub room: i64,
    pub from: i64,
    pub to: i64,
}

#[derive(Default)]
pub struct Hub {
    rooms: RwLock<HashMap<i64, Room>>,
    users: RwLock<HashMap<i64, HashMap<u64, ConnHandle>>>,
    next_id: AtomicU64,
    backlogs: Mutex<BacklogCache>,
    /// Where gaps go to be filled (the bus's filler task); none: gaps are given up at once.
    gaps: std::sync::OnceLock<mpsc::UnboundedSender<Gap>>,
    /// What this node keeps of members' sessions (set by the assembly: `accounts::session_cache`);
    /// the bus tells it when a member's sessions change on any node.
    sessions: std::sync::OnceLock<Arc<dyn SessionKeeper>>,
}

/// How long a room's serialised latest backlog is reused. Room events drop it at once; this
/// bounds how long what changes without one (a renamed or erased author) can show.
const BACKLOG_FRESH: Duration = Duration::from_secs(1);

/// Each room's latest backlog (the JSON array a `subscribe` without `since` answers), built once
/// and shared while it holds. Every room event that can change it (see [`Kind::changes_history`])
/// drops it and gives the room a new stamp; a backlog read from the database before that is
/// not stored, so a subscriber registered after a message was delivered never gets a backlog
/// without it.
#[derive(Default)]
struct BacklogCache {
    next_stamp: u64,
    rooms: HashMap<i64, CachedBacklog>,
}

struct CachedBacklog {
    stamp: u64,
    built: Option<(Instant, Utf8Bytes, i64)>,
}

/// A presence change on this node: the member's first connection in the room, or their last.
pub enum PresenceChange {
    Joined,
    Left,
    None,
}

/// Something a node keeps about members' sessions, which must forget a member's at once when
/// they change on any node, and everything when the bus to other nodes was lost.
pub trait SessionKeeper: Send + Sync {
    fn forget_user(&self, user_id: i64);
    fn clear(&self);
}

impl Hub {
    /// Sets what keeps this node's sessions (once, at start).
    pub fn keep_sessions(&self, keeper: Arc<dyn SessionKeeper>) {
        let _ = self.sessions.set(keeper);
    }

    /// A member's sessions changed somewhere: forget what this node keeps of them.
    pub fn forget_sessions_of(&self, user_id: i64) {
        if let Some(k) = self.sessions.get() {
            k.forget_user(user_id);
        }
    }

    /// The bus was lost or came back: forget every kept session.
    pub fn forget_all_sessions(&self) {
        if let Some(k) = self.sessions.get() {
            k.clear();
        }
    }

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

    /// Registers the subscription; `newest_seq`, read before, is where a room new to this node
    /// starts its order.
    pub fn subscribe(&self, room: i64, handle: &ConnHandle, newest_seq: i64) -> PresenceChange {
        let Ok(mut rooms) = self.rooms.write() else {
            return PresenceChange::None;
        };
        let r = rooms.entry(room).or_default();
        if r.last_seq.is_none() {
            r.last_seq = Some(newest_seq);
        }
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
            if let Ok(mut cache) = self.backlogs.lock() {
                cache.rooms.remove(&room);
            }
        }
        change
    }

    /// The room's shared latest backlog and its newest id, if fresh; else a stamp to store a
    /// new one with.
    pub fn cached_backlog(&self, room: i64) -> Result<(Utf8Bytes, i64), u64> {
        let Ok(mut cache) = self.backlogs.lock() else {
            return Err(u64::MAX);
        };
        let cache = &mut *cache;
        let entry = cache.rooms.entry(room).or_insert_with(|| {
            cache.next_stamp += 1;
            CachedBacklog {
                stamp: cache.next_stamp,
                built: None,
            }
        });
        match &entry.built {
            Some((at, json, newest)) if at.elapsed() < BACKLOG_FRESH => Ok((json.clone(), *newest)),
            _ => Err(entry.stamp),
        }
    }

    /// Keeps a backlog read after `cached_backlog` gave `stamp`, unless the room changed since.
    pub fn store_backlog(&self, room: i64, stamp: u64, json: Utf8Bytes, newest: i64) {
        if let Ok(mut cache) = self.backlogs.lock()
            && let Some(entry) = cache.rooms.get_mut(&room)
            && entry.stamp == stamp
        {
            entry.built = Some((Instant::now(), json, newest));
        }
    }

    fn backlog_changed(&self, room: i64) {
        if let Ok(mut cache) = self.backlogs.lock() {
            let cache = &mut *cache;
            if let Some(entry) = cache.rooms.get_mut(&room) {
                cache.next_stamp += 1;
                entry.stamp = cache.next_stamp;
                entry.built = None;
            }
        }
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

    /// Sends gaps to `filler`, which answers with [`Hub::gap_filled`].
    pub fn set_filler(&self, filler: mpsc::UnboundedSender<Gap>) {
        let _ = self.gaps.set(filler);
    }

    /// Hands a room frame to every local subscriber; a new message (`seq`) in order, after the
    /// ones before it. Pushing never blocks, so it happens under the lock without cloning the
    /// subscriber list.
    pub fn deliver_room(
        &self,
        room: i64,
        message_id: Option<i64>,
        seq: Option<i64>,
        kind: Kind,
        frame: &Utf8Bytes,
    ) {
        let Ok(mut rooms) = self.rooms.write() else {
            return;
        };
        let Some(r) = rooms.get_mut(&room) else {
            return;
        };
        // Under the rooms lock, like `subscribe`: a subscriber registers either before this
        // frame (and gets it live) or after the cached backlog was dropped.
        if kind.changes_history() {
            self.backlog_changed(room);
        }
        match (seq, r.last_seq) {
            (Some(seq), Some(last)) if seq <= last => {}
            (Some(seq), Some(last)) if seq > last + 1 => {
                r.held.insert(seq, (message_id, frame.clone()));
                self.next_gap(room, r);
            }
            (Some(seq), _) => {
                r.last_seq = Some(seq);
                push_room(r, room, message_id, Some(seq), kind, frame);
                self.release_held(room, r);
            }
            (None, _) => {
                if let Some(id) = message_id {
                    if !r.recent.insert(id) {
                        return;
                    }
                    while r.recent.len() > RECENT_IDS {
                        r.recent.pop_first();
                    }
                }
                push_room(r, room, message_id, None, kind, frame);
            }
        }
    }

    /// What the filler read for `gap` (oldest first); the gap is closed after, found or not (a
    /// message deleted meanwhile is not read, and a failed read gives up on the gap).
    pub fn gap_filled(&self, gap: Gap, messages: Vec<(i64, i64, String)>) {
        let Ok(mut rooms) = self.rooms.write() else {
            return;
        };
        let Some(r) = rooms.get_mut(&gap.room) else {
            return;
        };
        if !r.filling {
            return;
        }
        r.filling = false;
        for (id, seq, frame) in messages {
            if r.last_seq.is_some_and(|last| seq <= last) || seq > gap.to {
                continue;
            }
            r.last_seq = Some(seq);
            push_room(
                r,
                gap.room,
                Some(id),
                Some(seq),
                Kind::Message,
                &frame.into(),
            );
        }
        r.last_seq = Some(r.last_seq.map_or(gap.to, |last| last.max(gap.to)));
        self.release_held(gap.room, r);
    }

    /// The gap before the room's first held message, if it is still open (`None`: none, or
    /// it closed meanwhile); the filler asks this after a short wait, since the missing
    /// message is most often on its way over the bus.
    pub fn open_gap(&self, gap: Gap) -> Option<Gap> {
        let rooms = self.rooms.read().ok()?;
        let r = rooms.get(&gap.room)?;
        let last = r.last_seq?;
        (r.filling && last < gap.to).then_some(Gap {
            from: last + 1,
            ..gap
        })
    }

    /// Hands over the held messages that now follow on, in order.
    fn release_held(&self, room: i64, r: &mut Room) {
        while let Some(entry) = r.held.first_entry() {
            let seq = *entry.key();
            let last = r.last_seq.unwrap_or(seq - 1);
            if seq <= last {
                entry.remove();
            } else if seq == last + 1 {
                let (id, frame) = entry.remove();
                r.last_seq = Some(seq);
                push_room(r, room, id, Some(seq), Kind::Message, &frame);
            } else {
                break;
            }
        }
        self.next_gap(room, r);
    }

    /// Asks for the gap before the first held message, unless one is being filled.
    fn next_gap(&self, room: i64, r: &mut Room) {
        if r.filling {
            return;
        }
        let (Some(last), Some(first)) = (r.last_seq, r.held.keys().next().copied()) else {
            return;
        };
        let gap = Gap {
            room,
            from: last + 1,
            to: first - 1,
        };
        let asked = r.held.len() <= HELD_MAX
            && self
                .gaps
                .get()
                .is_some_and(|filler| filler.send(gap).is_ok());
        if asked {
            r.filling = true;
        } else {
            // No filler, or one far behind: hand over what is held rather than stall the room.
            tracing::warn!(room, from = gap.from, to = gap.to, "chat: gave up on a gap");
            r.last_seq = Some(gap.to);
            self.release_held(room, r);
        }
    }

    /// Hands an item to every local connection.
    pub fn deliver_all(&self, item: impl Fn() -> Outbound) {
        let targets: Vec<ConnHandle> = self
            .users
            .read()
            .map(|u| u.values().flat_map(|c| c.values().cloned()).collect())
            .unwrap_or_default();
        for conn in targets {
            conn.push(item());
        }
    }

    /// The member's connections on this node.
    fn connections_of(&self, user_id: i64) -> Vec<ConnHandle> {
        self.users
            .read()
            .map(|u| {
                u.get(&user_id)
                    .map(|c| c.values().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Tells the member's local connections of the ended sessions (`session`, or every one but
    /// `keep`) to check them.
    pub fn deliver_sessions(&self, user_id: i64, session: Option<i64>, keep: Option<i64>) {
        let targets = self.connections_of(user_id);
        for conn in targets {
            if session.is_none_or(|s| s == conn.session_id) && keep != Some(conn.session_id) {
                conn.push(Outbound::Session);
            }
        }
    }

    /// Hands a frame to every local connection of one member.
    pub fn deliver_user(&self, user_id: i64, item: impl Fn() -> Outbound) {
        let targets = self.connections_of(user_id);
        for conn in targets {
            conn.push(item());
        }
    }
}

/// Pushes a room frame to every local subscriber.
fn push_room(
    r: &Room,
    room: i64,
    message_id: Option<i64>,
    seq: Option<i64>,
    kind: Kind,
    frame: &Utf8Bytes,
) {
    for conn in r.conns.values() {
        conn.push(Outbound::Room {
            room,
            message_id,
            seq,
            kind,
            frame: frame.clone(),
        });
    }
    metrics::counter!("mutual_ws_room_frames_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_read_before_a_room_event_is_not_kept() {
        let hub = Hub::default();
        let (tx, _rx) = mpsc::channel(4);
        let handle = member_one(tx);
        hub.subscribe(7, &handle, 0);
        let Err(stamp) = hub.cached_backlog(7) else {
            panic!("a backlog before any was built")
        };
        // A message is delivered while the backlog is being read from the database.
        hub.deliver_room(
            7,
            Some(1),
            Some(1),
            Kind::Message,
            &r#"{"op":"message"}"#.into(),
        );
        hub.store_backlog(7, stamp, "[]".into(), 0);
        assert!(hub.cached_backlog(7).is_err(), "a stale backlog was kept");
        let Err(stamp) = hub.cached_backlog(7) else {
            panic!("no stamp")
        };
        hub.store_backlog(7, stamp, "[1]".into(), 1);
        assert_eq!(
            hub.cached_backlog(7).map(|(j, n)| (j.to_string(), n)),
            Ok(("[1]".to_string(), 1))
        );
        hub.deliver_room(7, None, None, Kind::Typing, &r#"{"op":"typing"}"#.into());
        assert!(hub.cached_backlog(7).is_ok(), "typing dropped the backlog");
    }

    /// Member 1's only socket.
    fn member_one(tx: mpsc::Sender<Outbound>) -> ConnHandle {
        ConnHandle {
            id: 1,
            user_id: 1,
            session_id: 1,
            visible: true,
            tx,
            kick: Arc::new(Notify::new()),
        }
    }

    fn seqs(rx: &mut mpsc::Receiver<Outbound>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Ok(Outbound::Room { seq: Some(seq), .. }) = rx.try_recv() {
            out.push(seq);
        }
        out
    }

    #[test]
    fn messages_past_a_gap_wait_for_the_missing_ones() {
        let hub = Hub::default();
        let (filler, mut gaps) = mpsc::unbounded_channel();
        hub.set_filler(filler);
        let (tx, mut rx) = mpsc::channel(16);
        let handle = member_one(tx);
        hub.subscribe(7, &handle, 10);
        let frame: Utf8Bytes = r#"{"op":"message"}"#.into();
        hub.deliver_room(7, Some(101), Some(11), Kind::Message, &frame);
        // 12 and 13 are still on their way from another node.
        hub.deliver_room(7, Some(104), Some(14), Kind::Message, &frame);
        assert_eq!(seqs(&mut rx), vec![11]);
        let gap = gaps.try_recv().ok();
        assert_eq!(
            gap,
            Some(Gap {
                room: 7,
                from: 12,
                to: 13
            })
        );
        // 12 arrives over the bus; 13 is read from the database.
        hub.deliver_room(7, Some(102), Some(12), Kind::Message, &frame);
        assert_eq!(seqs(&mut rx), vec![12]);
        let Some(gap) = gap.and_then(|g| hub.open_gap(g)) else {
            panic!("the gap closed without 13")
        };
        assert_eq!(gap.from, 13);
        hub.gap_filled(gap, vec![(103, 13, r#"{"op":"message"}"#.to_owned())]);
        assert_eq!(seqs(&mut rx), vec![13, 14]);
        // A late copy of what was read is not handed over twice.
        hub.deliver_room(7, Some(103), Some(13), Kind::Message, &frame);
        assert!(seqs(&mut rx).is_empty());
    }
}
