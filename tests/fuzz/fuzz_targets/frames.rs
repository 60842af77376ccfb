//! Any WebSocket text frame parses to a frame or a refusal; it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = mutual::realtime::frames::parse(text);
});
