#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `mutual backup` while members keep posting, and `mutual restore` of that copy: every post the
//! backup holds comes back, the copy is consistent (no topic counts a reply it does not hold),
//! and a restore refuses while a server is running. On PostgreSQL both point at pg_dump.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(backup_while_serving_and_restore, |b| async move {
    let mut s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    let file = s.db.dir.join("backup.db");
    let file_arg = file.to_str().unwrap().to_owned();
    if b == Backend::Postgres {
        let (ok, _, err) = s.run_cli(&["backup", &file_arg]);
        assert!(!ok);
        assert!(err.contains("pg_dump"), "{err}");
        let (ok, _, err) = s.run_cli(&["restore", &file_arg]);
        assert!(!ok);
        assert!(err.contains("pg_restore"), "{err}");
        return;
    }
    let (topic, _) = s
        .topic(&admin, "sugar", "Before the backup", "The first post")
        .await;
    for i in 0..20 {
        s.reply(&admin, topic, json!({"body": format!("early reply {i}")}))
            .await;
    }
    // Members keep writing while the copy is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let base = s.base.clone();
        let token = admin.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acknowledged = 0;
            while !stop.load(Ordering::Relaxed) {
                let resp = client
                    .post(format!("{base}/api/v1/topics/{topic}/posts"))
                    .bearer_auth(&token)
                    .json(&json!({"body": format!("reply during the backup {acknowledged}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
                acknowledged += 1;
            }
            acknowledged
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let db = s.db.clone();
    let arg = file_arg.clone();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || common::run_cli(&db, &["backup", &arg]))
            .await
            .unwrap();
    assert!(ok, "{out}{err}");
    assert!(out.contains("checked"), "{out}");
    stop.store(true, Ordering::Relaxed);
    let during = writer.await.unwrap();
    assert!(during > 0, "nothing was written while the backup ran");
    let (ok, _, err) = s.run_cli(&["backup", &file_arg]);
    assert!(!ok && err.contains("already exists"), "{err}");
    s.reply(&admin, topic, json!({"body": "after the backup"}))
        .await;
    let live_total = s.get(&format!("/api/v1/topics/{topic}"), None).await.1["reply_count"]
        .as_i64()
        .unwrap();

    // A restore refuses while the server runs, then works once it is stopped.
    let (ok, _, err) = s.run_cli(&["restore", &file_arg]);
    assert!(!ok, "restore ran under a live server");
    assert!(err.contains("stop every"), "{err}");
    assert!(s.terminate().success());
    let (ok, out, err) = s.run_cli(&["restore", &file_arg]);
    assert!(ok, "{out}{err}");
    let s = Server::start_on(s.db.clone(), ServerOptions::default()).await;
    let t = s.get(&format!("/api/v1/topics/{topic}"), None).await.1;
    let restored = t["reply_count"].as_i64().unwrap();
    assert!(
        restored >= 20,
        "the posts before the backup are all back: {t}"
    );
    assert!(
        restored < live_total,
        "the post after the backup is not in it"
    );
    // Consistent: the topic's counters match the posts the copy holds, numbered without gaps.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(
                &format!("/api/v1/topics/{topic}/posts?limit=100{after}"),
                None,
            )
            .await
            .1;
        for p in page["items"].as_array().unwrap() {
            seen.push(p["seq"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, restored + 1);
    assert_eq!(seen, (1..=restored + 1).collect::<Vec<_>>());
    assert_eq!(t["last_seq"].as_i64().unwrap(), restored + 1);
    let (ok, _, err) = common::run_cli(&s.db, &["restore", "/no/such/backup.db"]);
    assert!(!ok, "{err}");
});
