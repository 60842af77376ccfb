#![allow(clippy::expect_used, clippy::unwrap_used)]
//! When PostgreSQL restarts under load, Mutual answers fast with a clear 503 while it is down and
//! serves again by itself once it is back — no restart of Mutual, nothing acknowledged lost.
//! The test runs its own PostgreSQL cluster (initdb in a temporary folder, on a free port) so
//! stopping it cannot disturb the other tests. (Redis going away is in tests/chat.rs.)

mod common;

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
