//! Any text a member writes renders to HTML that can run nothing and load nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let rendered = mutual::markdown::render(text);
    if let Err(why) = mutual::markdown::is_inert_html(&rendered.html) {
        panic!("unsafe HTML ({why}) from {text:?}: {}", rendered.html);
    }
    let _ = mutual::markdown::plain_text(text);
});
