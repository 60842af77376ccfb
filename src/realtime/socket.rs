//! The WebSocket handshake, and how text leaves the server.
//!
//! The handshake is done here rather than by axum's `WebSocketUpgrade` because axum's socket
//! writes whole messages only, and tungstenite's write buffer keeps, for the socket's life, the
//! capacity of the largest message it ever held: one ~37 KB `subscribed` backlog made every idle
//! socket hold ~37 KB. Here a long message leaves in fragments of at most [`FRAGMENT`] bytes
//! (RFC 6455 §5.4: browsers and client libraries join them), cut from shared bytes, so a room's
//! backlog is serialised once and is never copied per socket.

use std::collections::VecDeque;

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error, Message, Utf8Bytes};

use crate::error::AppError;

pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// The largest frame the server writes; longer text goes out in fragments of this size.
pub const FRAGMENT: usize = 4096;

/// A checked upgrade request, ready to be answered with 101.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// Checks an HTTP/1.1 WebSocket upgrade (RFC 6455 §4.2.1); the refusal says what is wrong.
pub fn upgrade(parts: &mut Parts) -> Result<Upgrade, AppError> {
    let refuse = |why: &str| AppError::bad_request("not_a_websocket", why);
    if parts.version != Version::HTTP_11 || parts.method != Method::GET {
        return Err(refuse("a WebSocket opens with an HTTP/1.1 GET"));
    }
    if !header_has(&parts.headers, header::CONNECTION, "upgrade") {
        return Err(refuse("`Connection` header did not include 'upgrade'"));
    }
    if !header_has(&parts.headers, header::UPGRADE, "websocket") {
        return Err(refuse("`Upgrade` header did not include 'websocket'"));
    }
    if parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse(
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return Err(refuse("`Sec-WebSocket-Key` header missing"));
    };
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        return Err(refuse("this connection cannot be upgraded"));
    };
    Ok(Upgrade { key, on_upgrade })
}

impl Upgrade {
    /// Answers 101 and runs `session` on the socket once the client has it.
    pub fn accept<F, Fut>(self, session: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        let task = async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            // Client frames are small; the read buffer grows to the largest one when needed.
            let config = WebSocketConfig::default()
                .read_buffer_size(512)
                // Frames queue up to this much before a write (`flush` writes the rest); below
                // FRAGMENT, so a fragment is written on its own and the buffer stays ~4 KiB.
                .write_buffer_size(FRAGMENT - 96)
                .max_message_size(Some(64 * 1024))
                .max_frame_size(Some(64 * 1024));
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            // Boxed once: inline, the task held the handshake's and the session's states side by
            // side (~24 KB per socket, measured).
            Box::pin(session(socket)).await;
        };
        tokio::spawn(task);
        let accept = derive_accept_key(self.key.as_bytes());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        match HeaderValue::from_str(&accept) {
            Ok(v) => {
                headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
                response
            }
            Err(_) => AppError::Internal(anyhow::anyhow!("accept key")).into_response(),
        }
    }
}

/// The frames that carry one text message made of `pieces` (each valid UTF-8): one frame when
/// it is short, else fragments of at most [`FRAGMENT`] bytes cut at character boundaries.
pub fn text_frames(pieces: &[Utf8Bytes]) -> Vec<Message> {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    if total <= FRAGMENT {
        return vec![match pieces {
            [one] => Message::Text(one.clone()),
            many => Message::Text(many.iter().map(|p| p.as_str()).collect::<String>().into()),
        }];
    }
    let mut chunks: Vec<Bytes> = Vec::with_capacity(total / FRAGMENT + pieces.len());
    for piece in pieces {
        let text = piece.as_str();
        let bytes = Bytes::from(piece.clone());
        let mut start = 0;
        while start < text.len() {
            let mut end = (start + FRAGMENT).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            chunks.push(bytes.slice(start..end));
            start = end;
        }
    }
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let opcode = if i == 0 { Data::Text } else { Data::Continue };
            Message::Frame(Frame::message(chunk, OpCode::Data(opcode), i == last))
        })
        .collect()
}

/// Queues one text message on the socket (written once the buffer fills, or on `flush`).
pub async fn feed_text(socket: &mut Socket, pieces: &[Utf8Bytes]) -> Result<(), Error> {
    for frame in text_frames(pieces) {
        socket.feed(frame).await?;
    }
    Ok(())
}

/// Hands `queue`'s frames to the socket, front first. Cancel-safe: a frame leaves the queue only
/// once the socket took it, so a write cut short (a client behind) can be finished before the
/// next message; a fragmented message must never be interleaved with another.
pub async fn feed_all(socket: &mut Socket, queue: &mut VecDeque<Message>) -> Result<(), Error> {
    while !queue.is_empty() {
        std::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await?;
        if let Some(frame) = queue.pop_front() {
            socket.start_send_unpin(frame)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(frames: &[Message]) -> String {
        let mut out = Vec::new();
        for f in frames {
            match f {
                Message::Text(t) => out.extend_from_slice(t.as_bytes()),
                Message::Frame(f) => out.extend_from_slice(f.payload()),
                other => panic!("unexpected {other:?}"),
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn short_text_is_one_frame() {
        let frames = text_frames(&["{\"a\":".into(), "1}".into()]);
        assert_eq!(frames.len(), 1);
        assert_eq!(joined(&frames), "{\"a\":1}");
    }

    #[test]
    fn long_text_is_fragmented_at_character_boundaries() {
        let middle: Utf8Bytes = "ñandú ".repeat(2000).into();
        let pieces = ["[".into(), middle.clone(), "]".into()];
        let frames = text_frames(&pieces);
        assert!(frames.len() > 2);
        for (i, f) in frames.iter().enumerate() {
            let Message::Frame(f) = f else {
                panic!("a fragment that is not a frame")
            };
            assert!(f.payload().len() <= FRAGMENT);
            assert!(
                std::str::from_utf8(f.payload()).is_ok(),
                "cut inside a character"
            );
            let want = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(f.header().opcode, OpCode::Data(want));
            assert_eq!(f.header().is_final, i == frames.len() - 1);
        }
        assert_eq!(joined(&frames), format!("[{}]", middle.as_str()));
    }
}
