//! Real time: the WebSocket gateway (`GET /api/v1/ws`, one socket per client carrying every room
//! it subscribes to) and the bus that carries committed events to every node.
//!
//! - `frames`: what clients send, and every frame the server sends ([`frames::ServerFrame`]);
//! - `connection`: one socket's read/write loop, bounded queue and heartbeats, driving a
//!   [`connection::Protocol`] (chat's room protocol, `chat::gateway`);
//! - `hub`: this node's connections and subscriptions, and delivery to them;
//! - `bus`: Redis pub/sub between nodes (none with one node);
//! - `presence`: online counts and joined/left announcements.

pub mod bus;
pub mod connection;
pub mod frames;
pub mod hub;
pub mod presence;
pub mod quota;
pub mod socket;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::{Semaphore, watch};

use bus::{Envelope, RedisBus, Replay, Target};
use frames::{Encoded, Revoked};
use hub::Hub;
use presence::Presence;

/// Sockets per node; beyond this the upgrade answers 503.
const MAX_SOCKETS: usize = 18_000;

pub struct Realtime {
    pub hub: Arc<Hub>,
    pub presence: Presence,
    node: String,
    redis: Option<RedisBus>,
    shutdown: watch::Sender<bool>,
    /// Bounds the sockets one node holds (the machine allows 20,000 open files per process).
    pub slots: Arc<Semaphore>,
    /// Bounds the sockets of one address and of one account.
    pub quota: Arc<quota::Quota>,
    /// How often each socket is pinged.
    pub heartbeat: Duration,
}

/// The sockets' settings (`MUTUAL_WS_*`).
#[derive(Clone, Copy, Debug)]
pub struct SocketSettings {
    pub heartbeat: Duration,
    pub per_ip: usize,
    pub per_account: usize,
}

impl Realtime {
    /// `replay`: what a node missed during a bus outage; `redis`: URL, key prefix and a
    /// connection, for the many-node mode.
    pub fn start(
        replay: Arc<dyn Replay>,
        redis: Option<(String, String, ConnectionManager)>,
        sockets: SocketSettings,
    ) -> anyhow::Result<Arc<Realtime>> {
        let node = format!("{:016x}", rand::random::<u64>());
        let hub = Arc::new(Hub::default());
        bus::spawn_filler(hub.clone(), replay.clone());
        let (bus, presence) = match redis {
            Some((url, prefix, conn)) => {
                let bus = RedisBus::start(
                    &url,
                    &prefix,
                    node.clone(),
                    hub.clone(),
                    replay,
                    conn.clone(),
                )?;
                (Some(bus), Presence::new(Some((conn, prefix, node.clone()))))
            }
            None => (None, Presence::new(None)),
        };
        let (shutdown, _) = watch::channel(false);
        let realtime = Arc::new(Realtime {
            hub,
            presence,
            node,
            redis: bus,
            shutdown,
            slots: Arc::new(Semaphore::new(MAX_SOCKETS)),
            quota: Arc::new(quota::Quota::new(sockets.per_ip, sockets.per_account)),
            heartbeat: sockets.heartbeat,
        });
        Presence::spawn(realtime.clone());
        Ok(realtime)
    }

    fn publish(&self, target: Target, frame: String) {
        let Some(bus) = &self.redis else {
            // The frame's bytes move into the shared buffer every recipient's socket reads.
            bus::deliver(&self.hub, target, frame.into());
            return;
        };
        let envelope = Envelope {
            node: self.node.clone(),
            target,
            frame,
        };
        let payload = serde_json::to_string(&envelope);
        bus::deliver(&self.hub, target, envelope.frame.into());
        if let Ok(payload) = payload {
            bus.publish(payload);
        }
    }

    /// Sends a committed room event to every subscriber on every node.
    pub fn publish_room(&self, room: i64, message_id: Option<i64>, frame: Encoded) {
        let target = Target::Room {
            room,
            message_id,
            seq: None,
            kind: frame.kind,
        };
        self.publish(target, frame.json);
    }

    /// Sends a new message, `seq` in its room, to every subscriber on every node; each node
    /// hands a room's messages over in `seq` order (see `hub`).
    pub fn publish_message(&self, room: i64, message_id: i64, seq: i64, frame: Encoded) {
        let target = Target::Room {
            room,
            message_id: Some(message_id),
            seq: Some(seq),
            kind: frame.kind,
        };
        self.publish(target, frame.json);
    }

    /// Sends a frame to every connection of one member, on every node.
    pub fn publish_user(&self, user: i64, frame: Encoded) {
        self.publish(Target::User { user }, frame.json);
    }

    /// Tells a member's connections, on every node, to reload their sanctions at once.
    pub fn sanctions_changed(&self, user: i64) {
        self.publish(Target::Sanctions { user }, String::new());
    }

    /// A member left a community, was removed or banned: their sockets, on every node, check
    /// their subscriptions to its rooms again and drop those they lost.
    pub fn access_changed(&self, user: i64, community: i64, reason: Revoked) {
        let target = Target::Access {
            user: Some(user),
            community,
            reason,
        };
        self.publish(target, String::new());
    }

    /// A community's visibility changed: every socket following its rooms checks them again.
    pub fn visibility_changed(&self, community: i64) {
        let target = Target::Access {
            user: None,
            community,
            reason: Revoked::Visibility,
        };
        self.publish(target, String::new());
    }

    /// One session ended (signing out): its sockets, on every node, close with 4001.
    pub fn session_ended(&self, user: i64, session: i64) {
        let target = Target::Sessions {
            user,
            session: Some(session),
            keep: None,
        };
        self.publish(target, String::new());
    }

    /// Every session of the member but `keep` ended, or the member may no longer use any
    /// (suspension): the sockets check theirs and close with 4001.
    pub fn sessions_ended(&self, user: i64, keep: Option<i64>) {
        let target = Target::Sessions {
            user,
            session: None,
            keep,
        };
        self.publish(target, String::new());
    }

    /// What a member's sessions carry (settings, site roles) changed: every node forgets its
    /// kept copies, so the next request reads them again. Call after the change commits.
    pub fn member_changed(&self, user: i64) {
        self.publish(Target::Member { user }, String::new());
    }

    /// Whether the bus to other nodes is up (always true with one node).
    pub fn bus_connected(&self) -> bool {
        self.redis
            .as_ref()
            .is_none_or(|b| b.connected.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every socket to close (going away) so shutdown does not wait on them.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }
}
