//! WebSocket frames (API.md "Chat"): what clients send, parsed strictly into one enum, and the
//! error frames the server answers with. Server frames for messages are built once per event by
//! the chat module and shared by every recipient.

use serde::Deserialize;
use serde_json::{Value, json};

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
    Ping,
}

const OPS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "send",
    "edit",
    "delete",
    "typing",
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

/// `{"op":"error", ...}`.
pub fn error(code: &str, message: &str, nonce: Option<&str>) -> String {
    let mut frame = json!({"op": "error", "code": code, "message": message});
    if let (Some(n), Some(obj)) = (nonce, frame.as_object_mut()) {
        obj.insert("nonce".into(), Value::String(n.to_owned()));
    }
    frame.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
