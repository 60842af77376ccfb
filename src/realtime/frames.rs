//! WebSocket frames (API.md "Chat"): what clients send, parsed strictly into one enum, and every
//! frame the server sends, serialised here from one enum ([`ServerFrame`]).
//!
//! A room frame is serialised once per event ([`ServerFrame::encode`]) and travels with its
//! [`Kind`], so the hub and the bus act on the kind and never read the text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::presence::Who;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The largest text frame read (bytes). Larger ones get a `too_large` error frame.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// What a client may ask over the socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe {
        room: i64,
        #[serde(default)]
        since: Option<i64>,
    },
    Unsubscribe {
        room: i64,
    },
    Send {
        room: i64,
        body: String,
        #[serde(default)]
        nonce: Option<String>,
        /// Send even though the text seems to hold personal details.
        #[serde(default)]
        confirm_identifiers: bool,
        /// Photos and voice notes uploaded first: `[{id, alt}]`.
        #[serde(default)]
        attachments: Vec<crate::media::AttachmentRequest>,
        /// The id of the message of this room it answers.
        #[serde(default)]
        reply_to: Option<i64>,
    },
    Edit {
        message: i64,
        body: String,
        #[serde(default)]
        confirm_identifiers: bool,
    },
    Delete {
        message: i64,
    },
    Typing {
        room: i64,
    },
    // -- chat that feels like chat (#22): reactions and read positions --
    /// Add (`on`, the default) or take back one's reaction to a message.
    React {
        message: i64,
        kind: String,
        #[serde(default = "yes")]
        on: bool,
    },
    /// The member has seen the room up to this message (small rooms only).
    Seen {
        room: i64,
        message: i64,
    },
    Ping,
}

fn yes() -> bool {
    true
}

const OPS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "send",
    "edit",
    "delete",
    "typing",
    "react",
    "seen",
    "ping",
];

/// A frame that could not be understood: the error frame to answer with.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
    /// Echoed so the client can match the refusal to what it sent.
    pub nonce: Option<String>,
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError {
            code: "too_large",
            message: format!("frames are at most {MAX_FRAME_BYTES} bytes"),
            nonce: None,
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
        code: "malformed",
        message: format!("not JSON: {e}"),
        nonce: None,
    })?;
    let nonce = value
        .get("nonce")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(100).collect());
    // Text a database cannot store is refused here, like the HTTP API does at its door.
    if text.contains("\\u0000")
        && let Some(field) = crate::http::nul_field(&value)
    {
        return Err(FrameError {
            code: "invalid_text",
            message: format!("`{field}` contains a NUL character, which text cannot hold"),
            nonce,
        });
    }
    let Some(op) = value.get("op").and_then(Value::as_str).map(str::to_owned) else {
        return Err(FrameError {
            code: "malformed",
            message: "a frame is a JSON object with an `op`".into(),
            nonce,
        });
    };
    if !OPS.contains(&op.as_str()) {
        return Err(FrameError {
            code: "unknown_op",
            message: format!("unknown op {op:?}; known: {}", OPS.join(", ")),
            nonce,
        });
    }
    serde_json::from_value(value).map_err(|e| FrameError {
        code: "invalid",
        message: format!("{op}: {e}"),
        nonce,
    })
}

/// Every frame the server sends. Domain payloads (a chat message, a room's settings, a
/// notification, a live session, crisis lines) are borrowed as `T`, so their owners keep their
/// types and this module knows none of them; frames without one use the default `T = ()`.
#[derive(Serialize, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ServerFrame<'a, T: Serialize = ()> {
    Message {
        message: &'a T,
    },
    MessageEdited {
        message: &'a T,
    },
    MessageRestored {
        message: &'a T,
    },
    MessageDeleted {
        room: i64,
        message_id: i64,
        /// `hidden` when a moderator hid it.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    },
    Typing {
        room: i64,
        user: &'a Who,
    },
    Presence {
        room: i64,
        online: usize,
        joined: &'a [Who],
        left: &'a [Who],
    },
    RoomSettings {
        room: i64,
        settings: &'a T,
    },
    /// The live session running in a room now (`null`: none).
    Session {
        room: i64,
        session: Option<&'a T>,
    },
    Notification {
        notification: &'a T,
    },
    /// To the author alone, after a message that suggests a crisis.
    CrisisResources {
        room: i64,
        message_id: i64,
        lines: &'a T,
    },
    /// The head of the answer to `subscribe`; the backlog is appended to it (see
    /// [`ServerFrame::encode_with_backlog`]).
    Subscribed {
        room: i64,
        online: usize,
        truncated: bool,
        live_session: Option<&'a T>,
        /// Read positions in a small room (`[{user, message}]`); absent elsewhere, and for
        /// members who hide their presence.
        #[serde(skip_serializing_if = "Option::is_none")]
        seen: Option<&'a Value>,
    },
    /// A member's reaction added (`on`) or taken back, with the message's counts after it.
    Reaction {
        room: i64,
        message_id: i64,
        kind: &'a str,
        on: bool,
        user: &'a Who,
        reactions: &'a T,
    },
    /// Read positions that moved in a small room: `[{user, message}]`.
    Seen {
        room: i64,
        seen: &'a T,
    },
    /// To each person of a conversation, on every socket and node: it was `requested`,
    /// `accepted`, `declined`, `left` or `ended` (`conversation` as that person sees it; only
    /// `{id, room, my_state}` for the one who declined or left).
    Conversation {
        conversation: &'a T,
        event: &'a str,
    },
    Unsubscribed {
        room: i64,
        /// Why the server ended the subscription (absent when the client asked).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Revoked>,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<i64>,
    },
    Pong,
}

/// Why a member's access to a community's rooms may have ended (the `reason` of a server's
/// `unsubscribed`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Revoked {
    Left,
    Removed,
    Banned,
    Visibility,
}

/// A frame without a domain payload.
pub type Frame<'a> = ServerFrame<'a, ()>;

/// What a frame is, as data for the fan-out (the `op` of its text).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Message,
    MessageEdited,
    MessageRestored,
    MessageDeleted,
    Typing,
    Presence,
    RoomSettings,
    Session,
    Notification,
    CrisisResources,
    Subscribed,
    Unsubscribed,
    Error,
    Pong,
    Reaction,
    Seen,
    Conversation,
}

impl Kind {
    /// Whether a room frame of this kind can change what the room's history shows: everything
    /// but typing, presence and read positions, which change nothing a message carries.
    pub fn changes_history(self) -> bool {
        !matches!(self, Kind::Typing | Kind::Presence | Kind::Seen)
    }
}

/// A frame serialised once, with its kind.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub kind: Kind,
    pub json: String,
}

impl<T: Serialize> ServerFrame<'_, T> {
    pub fn kind(&self) -> Kind {
        match self {
            ServerFrame::Message { .. } => Kind::Message,
            ServerFrame::MessageEdited { .. } => Kind::MessageEdited,
            ServerFrame::MessageRestored { .. } => Kind::MessageRestored,
            ServerFrame::MessageDeleted { .. } => Kind::MessageDeleted,
            ServerFrame::Typing { .. } => Kind::Typing,
            ServerFrame::Presence { .. } => Kind::Presence,
            ServerFrame::RoomSettings { .. } => Kind::RoomSettings,
            ServerFrame::Session { .. } => Kind::Session,
            ServerFrame::Notification { .. } => Kind::Notification,
            ServerFrame::CrisisResources { .. } => Kind::CrisisResources,
            ServerFrame::Subscribed { .. } => Kind::Subscribed,
            ServerFrame::Unsubscribed { .. } => Kind::Unsubscribed,
            ServerFrame::Error { .. } => Kind::Error,
            ServerFrame::Pong => Kind::Pong,
            ServerFrame::Reaction { .. } => Kind::Reaction,
            ServerFrame::Seen { .. } => Kind::Seen,
            ServerFrame::Conversation { .. } => Kind::Conversation,
        }
    }

    /// The frame's text. Serialising these types cannot fail (no maps with non-string keys);
    /// should a payload's own `Serialize` fail, the client gets a generic error frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            tracing::error!(error = %e, kind = ?self.kind(), "a frame could not be serialised");
            r#"{"op":"error","code":"error","message":"something went wrong on our side"}"#
                .to_owned()
        })
    }

    /// The frame serialised once, for fan-out.
    pub fn encode(&self) -> Encoded {
        Encoded {
            kind: self.kind(),
            json: self.to_json(),
        }
    }

    /// `{...fields, "backlog": <backlog>}` in pieces: the backlog (a JSON array) is a shared
    /// buffer, never copied per subscriber.
    pub fn encode_with_backlog(&self, backlog: Utf8Bytes) -> [Utf8Bytes; 3] {
        let head = self.to_json();
        let head = head.strip_suffix('}').unwrap_or(&head);
        [
            format!("{head},\"backlog\":").into(),
            backlog,
            Utf8Bytes::from_static("}"),
        ]
    }
}

/// `{"op":"error", ...}`.
pub fn error(code: &str, message: &str, nonce: Option<&str>) -> String {
    Frame::Error {
        code,
        message,
        nonce,
        room: None,
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_keep_their_wire_shape() {
        let json = |f: &Frame| serde_json::from_str::<Value>(&f.to_json()).ok();
        assert_eq!(json(&Frame::Pong), Some(serde_json::json!({"op": "pong"})));
        assert_eq!(
            json(&Frame::Error {
                code: "forbidden",
                message: "no",
                nonce: None,
                room: Some(3)
            }),
            Some(
                serde_json::json!({"op": "error", "code": "forbidden", "message": "no", "room": 3})
            )
        );
        assert_eq!(
            json(&Frame::MessageDeleted {
                room: 1,
                message_id: 2,
                reason: None
            }),
            Some(serde_json::json!({"op": "message_deleted", "room": 1, "message_id": 2}))
        );
        let settings = serde_json::json!({"slow_mode_seconds": 5});
        let frame = ServerFrame::RoomSettings {
            room: 4,
            settings: &settings,
        };
        assert_eq!(frame.kind(), Kind::RoomSettings);
        assert_eq!(
            serde_json::from_str::<Value>(&frame.to_json()).ok(),
            Some(serde_json::json!({"op": "room_settings", "room": 4, "settings": settings}))
        );
        let pieces = Frame::Subscribed {
            room: 1,
            online: 2,
            truncated: false,
            live_session: None,
            seen: None,
        }
        .encode_with_backlog("[]".into());
        let text: String = pieces.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            serde_json::from_str::<Value>(&text).ok(),
            Some(
                serde_json::json!({"op": "subscribed", "room": 1, "online": 2, "truncated": false, "live_session": null, "backlog": []})
            )
        );
    }

    #[test]
    fn typing_and_presence_keep_the_backlog_other_frames_drop_it() {
        for kind in [Kind::Typing, Kind::Presence, Kind::Seen] {
            assert!(!kind.changes_history(), "{kind:?}");
        }
        for kind in [
            Kind::Message,
            Kind::MessageEdited,
            Kind::MessageDeleted,
            Kind::MessageRestored,
            Kind::RoomSettings,
            Kind::Reaction,
        ] {
            assert!(kind.changes_history(), "{kind:?}");
        }
    }

    #[test]
    fn parses_known_ops() {
        assert!(matches!(parse(r#"{"op":"ping"}"#), Ok(ClientFrame::Ping)));
        assert!(matches!(
            parse(r#"{"op":"subscribe","room":3,"since":null}"#),
            Ok(ClientFrame::Subscribe {
                room: 3,
                since: None
            })
        ));
        assert!(matches!(
            parse(r#"{"op":"send","room":3,"body":"hi","nonce":"n1"}"#),
            Ok(ClientFrame::Send { room: 3, .. })
        ));
    }

    #[test]
    fn refuses_bad_frames_with_a_code() {
        assert_eq!(parse("{nope").map_err(|e| e.code).err(), Some("malformed"));
        assert_eq!(parse("[1,2]").map_err(|e| e.code).err(), Some("malformed"));
        assert_eq!(
            parse(r#"{"op":"dance"}"#).map_err(|e| e.code).err(),
            Some("unknown_op")
        );
        assert_eq!(
            parse(r#"{"op":"send","room":"x","body":"hi"}"#)
                .map_err(|e| e.code)
                .err(),
            Some("invalid")
        );
        let e = parse(r#"{"op":"send","body":"hi","nonce":"abc"}"#).err();
        assert_eq!(
            e.map(|e| (e.code, e.nonce)),
            Some(("invalid", Some("abc".to_string())))
        );
        assert_eq!(
            parse(&"x".repeat(MAX_FRAME_BYTES + 1))
                .map_err(|e| e.code)
                .err(),
            Some("too_large")
        );
    }
}
