#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Nothing acknowledged is lost: many members post and chat, the server is killed with SIGKILL
//! in the middle, and after a restart every post that was answered 201 and every chat message
//! that was echoed is there — with the topic's counters and numbering whole (nothing
//! half-written) — on SQLite and on PostgreSQL + Redis.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Server, ServerOptions, ws};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const POSTERS: usize = 6;
const CHATTERS: usize = 4;

/// Posts replies until the server stops answering; the bodies it acknowledged.
async fn post_until_gone(base: String, token: String, topic: i64, who: usize) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    for i in 0.. {
        let body = format!("post from {who} number {i}");
        let sent = client
            .post(format!("{base}/api/v1/topics/{topic}/posts"))
            .bearer_auth(&token)
            .json(&json!({"body": body}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == StatusCode::CREATED => acknowledged.push(body),
            Ok(r) => panic!("unexpected answer while serving: {}", r.status()),
            Err(_) => break,
        }
    }
    acknowledged
}

/// Sends chat messages (a few in flight at a time) until the socket dies; the bodies echoed.
async fn chat_until_gone(s_base: String, token: String, room: i64, who: usize) -> Vec<String> {
    let url = s_base.replace("http://", "ws://") + "/api/v1/ws";
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::Text(
            json!({"op": "subscribe", "room": room, "since": null})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let mut echoed = Vec::new();
    let mut next = 0;
    let mut in_flight = 0;
    loop {
        while in_flight < 4 {
            let body = format!("chat from {who} number {next}");
            let frame =
                json!({"op": "send", "room": room, "body": body, "nonce": format!("{who}-{next}")});
            if socket
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return echoed;
            }
            next += 1;
            in_flight += 1;
        }
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let f: Value = serde_json::from_str(&t).unwrap();
                if f["op"] == "message" {
                    let nonce = f["message"]["nonce"].as_str().unwrap_or_default();
                    if nonce.starts_with(&format!("{who}-")) {
                        echoed.push(f["message"]["body"].as_str().unwrap().to_owned());
                        in_flight -= 1;
                    }
                } else if f["op"] == "error" {
                    panic!("a send was refused while serving: {f}");
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => return echoed,
        }
    }
}

both_backends!(nothing_acknowledged_is_lost_to_a_sigkill, |b| async move {
    let mut s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    let (topic, _) = s.topic(&admin, "sugar", "Everyone at once", "Go!").await;
    let room = s.get("/api/v1/communities/sugar/rooms", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    let mut tasks = Vec::new();
    for who in 0..POSTERS {
        let token = s.register(&format!("poster{who}")).await;
        s.join(&token, "sugar").await;
        tasks.push(tokio::spawn(post_until_gone(
            s.base.clone(),
            token,
            topic,
            who,
        )));
    }
    let mut chats = Vec::new();
    for who in 0..CHATTERS {
        let token = s.register(&format!("chatter{who}")).await;
        s.join(&token, "sugar").await;
        chats.push(tokio::spawn(chat_until_gone(
            s.base.clone(),
            token,
            room,
            who,
        )));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL: no shutdown, no flush, no goodbye.
    let mut child = s.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let mut posts = HashSet::new();
    for t in tasks {
        posts.extend(t.await.unwrap());
    }
    let mut messages = HashSet::new();
    for t in chats {
        messages.extend(t.await.unwrap());
    }
    assert!(
        posts.len() > 10,
        "too few posts to mean anything: {}",
        posts.len()
    );
    assert!(
        messages.len() > 10,
        "too few messages to mean anything: {}",
        messages.len()
    );

    let s = Server::start_on(s.db.clone(), ServerOptions::default()).await;
    // Every acknowledged post is there, numbered without gaps, and the topic counts them all.
    let mut stored = HashSet::new();
    let mut seqs = Vec::new();
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
            assert!(
                !p["body_html"].as_str().unwrap().is_empty(),
                "half-written: {p}"
            );
            stored.insert(p["body"].as_str().unwrap().to_owned());
            seqs.push(p["seq"].as_i64().unwrap());
        }
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break,
        }
    }
    let lost: Vec<_> = posts.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged posts lost: {lost:?}");
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let t = s.get(&format!("/api/v1/topics/{topic}"), None).await.1;
    assert_eq!(t["last_seq"].as_i64().unwrap(), seqs.len() as i64, "{t}");
    assert_eq!(
        t["reply_count"].as_i64().unwrap(),
        seqs.len() as i64 - 1,
        "{t}"
    );

    // Every echoed chat message is in the room's history.
    let mut history = HashSet::new();
    let mut before = String::new();
    loop {
        let page = s
            .get(
                &format!("/api/v1/rooms/{room}/messages?limit=100{before}"),
                None,
            )
            .await
            .1;
        for m in page["items"].as_array().unwrap() {
            assert!(
                !m["body_html"].as_str().unwrap().is_empty(),
                "half-written: {m}"
            );
            history.insert(m["body"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    let lost: Vec<_> = messages.difference(&history).collect();
    assert!(lost.is_empty(), "echoed messages lost: {lost:?}");
    // The restarted server takes new writes as usual.
    let mut socket = ws::connect(&s, &admin).await;
    ws::send(
        &mut socket,
        json!({"op": "subscribe", "room": room, "since": null}),
    )
    .await;
    ws::next_op(&mut socket, "subscribed").await;
    s.reply(&admin, topic, json!({"body": "still here"})).await;
});

/// The WAL reaches the SQLite file without the writer stopping to copy it: posts written well
/// under the writer's own backstop (40 MB) are in the database file itself within seconds,
/// copied by the background checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_run_beside_the_writer() {
    let s = Server::start(common::Backend::Sqlite).await;
    let file = s.db.dir.join("mutual.db");
    let admin = s.admin().await;
    s.community(&admin, "wal", "public", json!({})).await;
    let (topic, _) = s.topic(&admin, "wal", "Long notes", "first").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = std::fs::metadata(&file).expect("db file").len();
    // About 2 MB of new pages, far under the writer's backstop.
    let words = "steady progress today ".repeat(200);
    for i in 0..400 {
        s.reply(&admin, topic, json!({"body": format!("{i} {words}")}))
            .await;
    }
    let mut grown = 0;
    for _ in 0..50 {
        grown = std::fs::metadata(&file).expect("db file").len() - before;
        if grown > 1_000_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        grown > 1_000_000,
        "the database file grew by {grown} bytes: the WAL was not checkpointed"
    );
}
