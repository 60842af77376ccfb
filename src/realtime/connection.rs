//! One client's socket: a single loop that reads frames, writes what the hub queued for it, beats
//! the heart, and closes when the client is gone, too slow, or the server shuts down.
//!
//! What the client's frames mean is a [`Protocol`]'s business (the chat's room protocol, in
//! `chat::gateway`, which also owns the route: who may open a socket is an accounts question).
//! So realtime knows no room rules and depends on nothing above it. The loop is generic, not a
//! trait object: it is compiled for the one protocol, and an idle socket holds nothing more.
//!
//! Replies to the client's own requests (`subscribed`, errors, `pong`) are written directly;
//! room events come through the bounded queue and are written in batches: every frame waiting
//! is queued on the socket, then one flush (a `send` per frame was a write syscall per frame
//! per recipient). A client whose queue overflows, or whose socket takes no data for
//! [`WRITE_STALL`], is behind: its queue is dropped and it gets an `error` frame with code
//! `resync` and close code 4008, so it reconnects and catches up with `since`.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use super::Realtime;
use super::frames;
use super::hub::{ConnHandle, Outbound};
use super::socket::{Socket, feed_all, feed_text, text_frames};

/// Frames waiting for one client; past this it is too slow and gets `resync`.
const QUEUE: usize = 512;
/// Queued frames written before one flush.
const WRITE_BATCH: usize = 64;
/// A socket that takes no data for this long is behind (or gone).
const WRITE_STALL: Duration = Duration::from_secs(15);
/// How long a closed socket waits for the client's close frame before it is dropped.
const LINGER: Duration = Duration::from_secs(2);
/// How long a closing socket may take to take its last frames (`resync`, going away).
const GOODBYE: Duration = Duration::from_secs(15);

/// What a socket's frames mean; the transport calls it and writes what it answers.
pub trait Protocol: Send {
    /// A text frame from the client: the reply, one text message in pieces (none: no reply).
    fn on_text(&mut self, text: &str) -> impl Future<Output = Vec<Utf8Bytes>> + Send;
    /// An item the hub queued for this socket: what to write.
    fn on_queued(&mut self, item: Outbound) -> impl Future<Output = Write> + Send;
    /// The socket is closing, or fell behind: leave every room.
    fn on_close(&mut self);
    /// Asked after each reply: end the socket now with this close code (a client over its
    /// budget again and again).
    fn close_now(&mut self) -> Option<(u16, &'static str)> {
        None
    }
}

/// What to do with a queued item.
pub enum Write {
    Nothing,
    Frame(Utf8Bytes),
    Frames(Vec<Utf8Bytes>),
    /// End the socket with this close code.
    Close(u16, &'static str),
}

/// A connection registered with the hub, waiting for its socket's loop.
pub struct Link {
    pub handle: ConnHandle,
    rx: mpsc::Receiver<Outbound>,
    kick: Arc<Notify>,
}

impl Realtime {
    /// Registers a connection of `user_id`, opened with session `session_id`.
    pub fn connect(&self, user_id: i64, session_id: i64, visible: bool) -> Link {
        let (tx, rx) = mpsc::channel(QUEUE);
        let kick = Arc::new(Notify::new());
        let handle = ConnHandle {
            id: self.hub.next_conn_id(),
            user_id,
            session_id,
            visible,
            tx,
            kick: kick.clone(),
        };
        self.hub.connect(&handle);
        Link { handle, rx, kick }
    }
}

enum Flow {
    Continue,
    Close,
    /// The client cannot keep up: tell it to resync, then close.
    Behind,
    /// The protocol ends the socket with this close code.
    End(u16, &'static str),
}

/// Runs one socket until it closes; the hub forgets the connection after.
pub async fn run<P: Protocol>(
    mut socket: Socket,
    realtime: &Realtime,
    link: Link,
    mut protocol: P,
) {
    let Link {
        handle,
        mut rx,
        kick,
    } = link;
    let mut shutdown = realtime.shutdown_signal();
    // The server pings every beat (`MUTUAL_WS_HEARTBEAT_SECS`); no frame (or pong) from the
    // client for about three beats: it is gone.
    let mut heartbeat = tokio::time::interval(realtime.heartbeat);
    let dead_after = realtime.heartbeat * 14 / 5;
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    // Frames of a batch cut short (the client fell behind), finished before the goodbye.
    let mut unfinished = VecDeque::new();

    loop {
        let flow = tokio::select! {
            incoming = socket.next() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    // Boxed: the requests' database work would otherwise sit in every idle
                    // socket's task.
                    Message::Text(text) => {
                        let pieces = Box::pin(protocol.on_text(text.as_str())).await;
                        let flow = if pieces.is_empty() {
                            Flow::Continue
                        } else {
                            reply_pieces(&mut socket, &pieces).await
                        };
                        match (flow, protocol.close_now()) {
                            (Flow::Continue, Some((code, reason))) => Flow::End(code, reason),
                            (flow, _) => flow,
                        }
                    }
                    Message::Binary(_) => {
                        let error = frames::error("binary_not_supported", "send JSON text frames", None);
                        reply_pieces(&mut socket, &[error.into()]).await
                    }
                    Message::Close(_) => Flow::Close,
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
                }
            }
            queued = rx.recv() => match queued {
                Some(item) => write_queued(&mut protocol, &mut socket, &mut unfinished, &mut rx, item, &kick).await,
                None => Flow::Close,
            },
            _ = kick.notified() => Flow::Behind,
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > dead_after {
                    goodbye(&mut socket, &mut unfinished, &[], 4000, "no heartbeat").await;
                    Flow::Close
                } else {
                    write_now(&mut socket, Message::Ping(Bytes::new())).await
                }
            }
            _ = shutdown.changed() => {
                goodbye(&mut socket, &mut unfinished, &[], 1001, "server restarting").await;
                Flow::Close
            }
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => break,
            Flow::End(code, reason) => {
                protocol.on_close();
                goodbye(&mut socket, &mut unfinished, &[], code, reason).await;
                break;
            }
            Flow::Behind => {
                metrics::counter!("mutual_ws_resync_total").increment(1);
                protocol.on_close();
                // What is still queued is dropped: the client catches up with `since`.
                rx.close();
                while rx.try_recv().is_ok() {}
                let resync = frames::error(
                    "resync",
                    "you fell behind: reconnect and subscribe with `since` to catch up",
                    None,
                );
                goodbye(
                    &mut socket,
                    &mut unfinished,
                    &[resync.into()],
                    4008,
                    "resync",
                )
                .await;
                break;
            }
        }
    }
    protocol.on_close();
    realtime.hub.disconnect(&handle);
}

/// Writes one message now.
async fn write_now(socket: &mut Socket, message: Message) -> Flow {
    match tokio::time::timeout(WRITE_STALL, socket.send(message)).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Close,
    }
}

/// Writes a reply to the client's request (one text message, fragmented when long).
async fn reply_pieces(socket: &mut Socket, pieces: &[Utf8Bytes]) -> Flow {
    let write = async {
        feed_text(socket, pieces).await?;
        socket.flush().await
    };
    match tokio::time::timeout(WRITE_STALL, write).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Close,
    }
}

/// Best effort, bounded: what a cut-short batch left, the last frames and a close frame, for a
/// socket about to be dropped.
async fn goodbye(
    socket: &mut Socket,
    unfinished: &mut VecDeque<Message>,
    last: &[Utf8Bytes],
    code: u16,
    reason: &'static str,
) {
    for frame in last {
        unfinished.extend(text_frames(std::slice::from_ref(frame)));
    }
    unfinished.push_back(Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    })));
    let close = Box::pin(async {
        feed_all(socket, unfinished).await?;
        socket.flush().await
    });
    let _ = tokio::time::timeout(GOODBYE, close).await;
    // The closing handshake: read (and drop) what the client still sends until its own close
    // frame. Dropping a socket with unread input makes the kernel answer with a reset, and a
    // reset makes the client discard what it had not read yet: the close frame among it.
    let answered = async {
        while let Some(Ok(message)) = socket.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, answered).await;
}

/// Writes `first` and whatever else is queued (up to [`WRITE_BATCH`]), then flushes once.
/// Behind when the queue overflows meanwhile or the socket takes nothing for a while.
async fn write_queued<P: Protocol>(
    protocol: &mut P,
    socket: &mut Socket,
    unfinished: &mut VecDeque<Message>,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
    kick: &Notify,
) -> Flow {
    let batch = async {
        let mut item = first;
        let mut written = 1;
        let mut end = None;
        loop {
            match protocol.on_queued(item).await {
                Write::Nothing => {}
                Write::Frame(frame) => unfinished.extend(text_frames(std::slice::from_ref(&frame))),
                Write::Frames(frames) => {
                    for frame in &frames {
                        unfinished.extend(text_frames(std::slice::from_ref(frame)));
                    }
                }
                Write::Close(code, reason) => {
                    end = Some((code, reason));
                    break;
                }
            }
            feed_all(socket, unfinished).await?;
            // Count first: an item taken from the queue must be written.
            if written == WRITE_BATCH {
                break;
            }
            match rx.try_recv() {
                Ok(next) => item = next,
                Err(_) => break,
            }
            written += 1;
        }
        socket.flush().await.map(|()| end)
    };
    tokio::select! {
        biased;
        _ = kick.notified() => Flow::Behind,
        written = tokio::time::timeout(WRITE_STALL, batch) => match written {
            Ok(Ok(None)) => Flow::Continue,
            Ok(Ok(Some((code, reason)))) => Flow::End(code, reason),
            Ok(Err(_)) => Flow::Close,
            Err(_) => Flow::Behind,
        },
    }
}
