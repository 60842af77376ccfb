#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Chat across two nodes sharing PostgreSQL and Redis, under the faults that used to lose
//! messages: senders on both nodes while a client resumes with `since` again and again.

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::ws::{Ws, connect, next_op, send};
use common::{Backend, Server, ServerOptions};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A community with a default room and `n` members; (member tokens, room id).
async fn setup(s: &Server, slug: &str, n: usize) -> (Vec<String>, i64) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let mut members = Vec::new();
    for i in 0..n {
        let t = s.register(&format!("{slug}{i}")).await;
        s.join(&t, slug).await;
        members.push(t);
    }
    let (_, rooms) = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), Some(&admin))
        .await;
    (members, rooms[0]["id"].as_i64().expect("default room"))
}

/// Every message id stored in the room.
async fn stored_ids(s: &Server, room: i64) -> HashSet<i64> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
    sqlx::query_scalar::<_, i64>("SELECT id FROM chat_messages WHERE room_id = $1")
        .bind(room)
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Reads message frames for `window` (or until the socket ends): the ids in the order they came.
async fn read_for(ws: &mut Ws, window: Duration) -> Vec<i64> {
    let mut ids = Vec::new();
    let until = tokio::time::Instant::now() + window;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, ws.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["op"] == "message" {
                ids.push(v["message"]["id"].as_i64().unwrap());
            }
        }
    }
    ids
}

/// Senders on both nodes; a reader that reconnects every 100 ms, alternating nodes, and resumes
/// after the last message it saw. Every stored message reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_with_since_across_nodes_misses_nothing() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    let (m, room) = setup(&one, "gapless", 5).await;
    const PER_SENDER: usize = 250;

    let mut senders = Vec::new();
    for (i, token) in m[..4].iter().enumerate() {
        let node = if i % 2 == 0 { &one } else { &two };
        let mut ws = connect(node, token).await;
        send(&mut ws, json!({"op": "subscribe", "room": room})).await;
        next_op(&mut ws, "subscribed").await;
        senders.push(tokio::spawn(async move {
            for k in 0..PER_SENDER {
                let body = format!("sender {i} message {k}");
                send(&mut ws, json!({"op": "send", "room": room, "body": body})).await;
                if k % 10 == 9 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            // Stay until this sender's own messages came back: all are stored.
            let mut mine = 0;
            while mine < PER_SENDER {
                let f = next_op(&mut ws, "message").await;
                if f["message"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with(&format!("sender {i} ")))
                {
                    mine += 1;
                }
            }
            let _ = ws.close(None).await;
        }));
    }

    let reader = m[4].clone();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut last: Option<i64> = None;
    let mut turns = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut senders_done = false;
    loop {
        let node = if turns.is_multiple_of(2) { &one } else { &two };
        turns += 1;
        let mut ws = connect(node, &reader).await;
        send(
            &mut ws,
            json!({"op": "subscribe", "room": room, "since": last.unwrap_or(0)}),
        )
        .await;
        let sub = next_op(&mut ws, "subscribed").await;
        for m in sub["backlog"].as_array().unwrap() {
            let id = m["id"].as_i64().unwrap();
            seen.insert(id);
            last = Some(id);
        }
        for id in read_for(&mut ws, Duration::from_millis(100)).await {
            seen.insert(id);
            last = Some(id);
        }
        let _ = ws.close(None).await;
        if !senders_done && senders.iter().all(|s| s.is_finished()) {
            senders_done = true;
        }
        if senders_done && seen.len() >= 4 * PER_SENDER && sub["truncated"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reader saw {} of {} after {turns} resumes",
            seen.len(),
            4 * PER_SENDER
        );
    }
    for s in senders {
        s.await.unwrap();
    }
    let stored = stored_ids(&one, room).await;
    assert_eq!(stored.len(), 4 * PER_SENDER);
    let missed: Vec<_> = stored.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "{} stored messages never reached the reader ({turns} resumes): {missed:?}",
        missed.len()
    );
}

/// Starts a Redis of this test's own on a free port (the shared one must not be stopped).
fn own_redis(port: u16) -> std::process::Child {
    std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server")
}

/// While Redis is away, a notification for a member whose socket is on the other node cannot
/// cross; its publish is retried and reaches the socket once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_events_published_while_redis_is_away_arrive_when_it_returns() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut redis = own_redis(port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("redis://127.0.0.1:{port}");
    let opts = || ServerOptions {
        extra_env: vec![("REDIS_URL".into(), url.clone())],
        redis: Some(false),
        ..Default::default()
    };
    let one = Server::start_with(Backend::Postgres, opts()).await;
    let two = Server::start_on(one.db.clone(), opts()).await;
    let (m, _) = setup(&one, "away", 2).await;
    let mut ws = connect(&two, &m[0]).await;
    send(&mut ws, json!({"op": "ping"})).await;
    next_op(&mut ws, "pong").await;

    redis.kill().unwrap();
    redis.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    one.topic(
        &m[1],
        "away",
        "While the bus is down",
        "What do you think @away0?",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut redis = own_redis(port);
    let n = next_op(&mut ws, "notification").await;
    assert_eq!(n["notification"]["kind"], "mention", "{n}");
    redis.kill().ok();
    redis.wait().ok();
}
