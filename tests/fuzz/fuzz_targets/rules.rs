//! Any rules.toml an operator saves loads or is refused with a reason; the rules that load can
//! be applied to any text without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(rules) = mutual::moderation::rules::parse(text) {
        let _ = rules.check(text);
        let _ = rules.quiet_now(1, 600);
    }
});
