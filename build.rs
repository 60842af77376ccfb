// Migrations are embedded by `sqlx::migrate!`; rebuild when one is added or changed.
//
// The bundled SQLite must be compiled with the flags in `.cargo/config.toml` (STAT4 off,
// MEMSTATUS off: BENCHMARKS.md, "Latest"). A build script cannot set them for another crate, but
// every build script of one cargo run sees the same environment, so what reaches this one is what
// libsqlite3-sys compiles with: refuse to build without them (e.g. `cargo install --git`, which
// reads no project config) rather than ship a slower server unnoticed.
const SQLITE_FLAGS: [&str; 2] = ["-USQLITE_ENABLE_STAT4", "-DSQLITE_DEFAULT_MEMSTATUS=0"];

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=LIBSQLITE3_FLAGS");
    let flags = std::env::var("LIBSQLITE3_FLAGS").unwrap_or_default();
    let missing: Vec<&str> = SQLITE_FLAGS
        .into_iter()
        .filter(|f| !flags.split_whitespace().any(|g| g == *f))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "LIBSQLITE3_FLAGS lacks {missing:?}, so the bundled SQLite would be built slower than \
             Mutual expects. Build from the source folder (cargo build, or cargo install --path \
             PATH, both read its .cargo/config.toml), or set it yourself:\n  \
             LIBSQLITE3_FLAGS=\"{}\" cargo install ...",
            SQLITE_FLAGS.join(" ")
        );
        std::process::exit(1);
    }
}
