#![allow(clippy::expect_used, clippy::unwrap_used)]
//! When PostgreSQL restarts under load, Mutual answers fast with a clear 503 while it is down and
//! serves again by itself once it is back — no restart of Mutual, nothing acknowledged lost.
//! The test runs its own PostgreSQL cluster (initdb in a temporary folder, on a free port) so
//! stopping it cannot disturb the other tests. (Redis going away is in tests/chat.rs.)
//!
//! The dependencies between Mutual's own modules run one way too (docs/architecture.md): the
//! tests at the end read the source tree and refuse an import against that direction.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, Server, ServerOptions, TestDb};
use reqwest::StatusCode;
use serde_json::json;

/// PostgreSQL's own programs (Debian keeps them out of PATH).
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (initdb refuses root).
fn pg(bin: &Path, program: &str, args: &[&str]) -> std::process::Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    };
    cmd.args(args).output().expect("run a PostgreSQL program")
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let out = pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.dir.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let out = pg(
            &self.bin,
            "pg_ctl",
            &["-D", self.dir.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &["-D", self.dir.to_str().unwrap(), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_gives_fast_503s_and_mutual_recovers_by_itself() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let Some(bin) = pg_bin() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but PostgreSQL's programs (pg_ctl, initdb) are not installed");
        }
        eprintln!("SKIPPED: no /usr/lib/postgresql/*/bin/pg_ctl here");
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("mutual-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = Command::new("chown")
        .args(["postgres:postgres", dir.to_str().unwrap()])
        .status();
    let out = pg(
        &bin,
        "initdb",
        &[
            "-D",
            dir.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
    );
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cluster = Cluster {
        bin,
        dir: dir.clone(),
        port: free_port(),
    };
    cluster.start();

    let db = Arc::new(TestDb {
        backend: Backend::Postgres,
        url: format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port),
        dir: dir.join("mutual"),
        redis_prefix: format!("mutual-test-pg-{}", cluster.port),
    });
    std::fs::create_dir_all(&db.dir).unwrap();
    let s = Server::start_on(
        db,
        ServerOptions {
            redis: Some(false),
            ..Default::default()
        },
    )
    .await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    let (topic, _) = s
        .topic(&admin, "sugar", "Through the restart", "Still here?")
        .await;

    // Members keep posting and reading through the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let base = s.base.clone();
        let token = admin.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let (mut acknowledged, mut unavailable, mut slowest) = (Vec::new(), 0, Duration::ZERO);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let body = format!("through the restart {i}");
                let resp = client
                    .post(format!("{base}/api/v1/topics/{topic}/posts"))
                    .bearer_auth(&token)
                    .json(&json!({"body": body}))
                    .send()
                    .await
                    .unwrap();
                slowest = slowest.max(started.elapsed());
                match resp.status() {
                    StatusCode::CREATED => acknowledged.push(body),
                    StatusCode::SERVICE_UNAVAILABLE => {
                        let e: serde_json::Value = resp.json().await.unwrap();
                        assert_eq!(e["error"]["code"], "unavailable", "{e}");
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => panic!(
                        "while PostgreSQL restarts, a post was answered {other}: {}",
                        resp.text().await.unwrap_or_default()
                    ),
                }
                i += 1;
            }
            (acknowledged, unavailable, slowest)
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    cluster.stop();
    // Down: readiness says so at once, and requests fail fast instead of hanging.
    let started = Instant::now();
    let (st, ready) = s.get("/readyz", None).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["database"], "down");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readyz took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.start();
    // Back: Mutual serves again without being restarted.
    let mut back = false;
    for _ in 0..100 {
        if s.get("/readyz", None).await.0 == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "Mutual did not come back after PostgreSQL did");
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let (acknowledged, unavailable, slowest) = load.await.unwrap();
    assert!(
        unavailable > 0,
        "no request met the outage: the test did not test it"
    );
    assert!(
        slowest < Duration::from_secs(8),
        "a request hung for {slowest:?} while the database was down"
    );
    let after = s
        .reply(&admin, topic, json!({"body": "after the restart"}))
        .await;
    assert!(after["id"].as_i64().is_some());
    // Nothing acknowledged was lost.
    let mut stored = std::collections::HashSet::new();
    let mut next = String::new();
    loop {
        let page = s
            .get(
                &format!("/api/v1/topics/{topic}/posts?limit=100{next}"),
                None,
            )
            .await
            .1;
        for p in page["items"].as_array().unwrap() {
            stored.insert(p["body"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => next = format!("&after={n}"),
            None => break,
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|b| !stored.contains(*b))
        .collect();
    assert!(lost.is_empty(), "acknowledged posts lost: {lost:?}");
    eprintln!(
        "PG-RESTART {} posts acknowledged, {unavailable} answered 503, slowest {slowest:?}",
        acknowledged.len()
    );
}

/// Every `.rs` file under `dir`, with its path relative to `src/` (`forum/posts.rs`).
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The top-level modules a source file names through `crate::`, grouped imports included
/// (`use crate::{app::AppState, web};` names `app` and `web`). Comments are skipped.
fn imported_modules(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each item names a module: split at top-level commas.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        out.push(ident(&group[i..]));
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn source_tree() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    sources(&root, &root, &mut out);
    assert!(out.len() > 50, "the source tree was not found");
    out
}

/// The pages sit on top: only they, and the assembly of the application (`app.rs`), may name
/// `crate::web`. A capability that needs something the pages have (a text, a format) moves it
/// down to a shared module instead.
#[test]
fn no_module_outside_the_pages_imports_them() {
    let mut offenders = Vec::new();
    for (file, source) in source_tree() {
        if file.starts_with("web/") || file == "app.rs" || file == "main.rs" {
            continue;
        }
        if imported_modules(&source).iter().any(|m| m == "web") {
            offenders.push(file);
        }
    }
    assert!(
        offenders.is_empty(),
        "these modules import crate::web, a higher layer: {offenders:?}"
    );
}

/// The shared helpers below the capabilities (text, markdown, clock, paging, i18n, errors,
/// settings and proxies, the store) name no capability, so any capability may use them without a cycle. The one exception
/// is the language type, which i18n takes from the accounts' plain types.
#[test]
fn shared_helpers_import_no_capability() {
    let helpers = [
        "text.rs",
        "markdown.rs",
        "clock.rs",
        "paging.rs",
        "i18n.rs",
        "error.rs",
        "config.rs",
        "proxies.rs",
    ];
    let allowed = [
        "error", "store", "clock", "text", "markdown", "paging", "i18n", "config", "db", "proxies",
    ];
    let mut offenders = Vec::new();
    for (file, source) in source_tree() {
        if !(helpers.contains(&file.as_str()) || file.starts_with("store/")) {
            continue;
        }
        let mut names = imported_modules(&source);
        if file == "i18n.rs" && source.contains("crate::accounts::types::Locale") {
            // `Locale` is a plain type: accounts/types.rs imports no other module.
            names.retain(|m| m != "accounts");
        }
        for m in names {
            if !allowed.contains(&m.as_str()) {
                offenders.push(format!("{file} imports crate::{m}"));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn the_import_reader_sees_grouped_imports() {
    assert_eq!(
        imported_modules("use crate::{app::AppState, web::{self, i18n}};\n// crate::forum"),
        vec!["app", "web"]
    );
    assert_eq!(imported_modules("crate::web::not_found()"), vec!["web"]);
}
