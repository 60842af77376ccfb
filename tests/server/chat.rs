#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Chat through the real server with real WebSocket clients (tokio-tungstenite): rooms, the
//! gateway's frames, ordering, nonce echo, reconnect with `since`, private rooms, slow clients,
//! bad frames, edits and deletes, presence and typing, limits, sanctions, history, and two nodes
//! sharing PostgreSQL and Redis.

use crate::common;

use std::time::Duration;

use common::ws::{Ws, connect, next_op, send};
use common::{Backend, Server, ServerOptions};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn subscribe(ws: &mut Ws, room: i64, since: Option<i64>) -> Value {
    send(ws, json!({"op": "subscribe", "room": room, "since": since})).await;
    next_op(ws, "subscribed").await
}

/// A community with a default room, an admin and `n` members; (admin token, member tokens, room id).
async fn setup(s: &Server, slug: &str, visibility: &str, n: usize) -> (String, Vec<String>, i64) {
    let admin = s.admin().await;
    s.community(&admin, slug, visibility, json!({})).await;
    let mut members = Vec::new();
    for i in 0..n {
        let t = s
            .register(&format!(
                "{}{i}",
                &slug[..3.min(slug.len())].replace('-', "x")
            ))
            .await;
        s.join(&t, slug).await;
        members.push(t);
    }
    let (_, rooms) = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), Some(&admin))
        .await;
    let room = rooms[0]["id"].as_i64().expect("default room");
    (admin, members, room)
}

both_backends!(
    each_community_has_a_default_room_and_moderators_add_more,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, members, room) = setup(&s, "rooms", "public", 1).await;
        let (st, c) = s.get("/api/v1/communities/rooms", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(c["rooms"][0]["id"], room);
        assert_eq!(c["rooms"][0]["is_default"], true);
        let new = json!({"name": "Evening check-in", "topic": "How did today go?"});
        assert_eq!(
            s.post(
                "/api/v1/communities/rooms/rooms",
                Some(&members[0]),
                new.clone()
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let (st, created) = s
            .post("/api/v1/communities/rooms/rooms", Some(&admin), new)
            .await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        assert_eq!(
            s.post(
                "/api/v1/communities/rooms/rooms",
                Some(&admin),
                json!({"name": ""})
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (_, rooms) = s.get("/api/v1/communities/rooms/rooms", None).await;
        let names: Vec<&str> = rooms
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["General", "Evening check-in"]);
    }
);

both_backends!(
    messages_reach_everyone_in_order_with_the_nonce,
    |b| async move {
        let s = Server::start(b).await;
        let (_, m, room) = setup(&s, "order", "public", 3).await;
        let mut a = connect(&s, &m[0]).await;
        let mut bb = connect(&s, &m[1]).await;
        let mut c = connect(&s, &m[2]).await;
        for ws in [&mut a, &mut bb, &mut c] {
            let sub = subscribe(ws, room, None).await;
            assert_eq!(sub["room"], room);
            assert!(sub["backlog"].as_array().unwrap().is_empty());
        }
        // Two senders interleave; every listener sees one order, the order of the ids.
        for i in 0..20 {
            send(&mut a, json!({"op": "send", "room": room, "body": format!("a{i} **bold**"), "nonce": format!("na{i}")})).await;
            send(&mut bb, json!({"op": "send", "room": room, "body": format!("b{i}"), "nonce": format!("nb{i}")})).await;
        }
        let mut orders = Vec::new();
        for ws in [&mut a, &mut bb, &mut c] {
            let mut ids = Vec::new();
            let mut own_nonces = 0;
            while ids.len() < 40 {
                let f = next_op(ws, "message").await;
                let msg = &f["message"];
                ids.push(msg["id"].as_i64().unwrap());
                if msg["body"].as_str().unwrap().starts_with('a') {
                    assert!(msg["nonce"].as_str().unwrap().starts_with("na"), "{msg}");
                    assert!(
                        msg["body_html"]
                            .as_str()
                            .unwrap()
                            .contains("<strong>bold</strong>"),
                        "{msg}"
                    );
                    own_nonces += 1;
                }
                assert!(msg["author"]["username"].is_string());
                assert!(msg["created_at"].as_str().unwrap().ends_with('Z'));
            }
            assert_eq!(own_nonces, 20);
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, sorted, "messages arrive in id order");
            orders.push(ids);
        }
        assert!(
            orders.windows(2).all(|w| w[0] == w[1]),
            "everyone sees the same order"
        );
        // Everything acknowledged is stored: the history has all 40, newest first.
        let (st, history) = s
            .get(
                &format!("/api/v1/rooms/{room}/messages?limit=100"),
                Some(&m[0]),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let stored: Vec<i64> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|x| x["id"].as_i64().unwrap())
            .collect();
        assert_eq!(stored, orders[0]);
    }
);

both_backends!(reconnecting_with_since_loses_nothing, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "since", "public", 2).await;
    let mut a = connect(&s, &m[0]).await;
    let mut bb = connect(&s, &m[1]).await;
    subscribe(&mut a, room, None).await;
    subscribe(&mut bb, room, None).await;
    let mut last = 0;
    for i in 0..5 {
        send(
            &mut bb,
            json!({"op": "send", "room": room, "body": format!("before {i}")}),
        )
        .await;
        last = next_op(&mut a, "message").await["message"]["id"]
            .as_i64()
            .unwrap();
        next_op(&mut bb, "message").await;
    }
    a.close(None).await.ok();
    drop(a);
    for i in 0..7 {
        send(
            &mut bb,
            json!({"op": "send", "room": room, "body": format!("while away {i}")}),
        )
        .await;
        next_op(&mut bb, "message").await;
    }
    let mut a = connect(&s, &m[0]).await;
    let sub = subscribe(&mut a, room, Some(last)).await;
    let bodies: Vec<&str> = sub["backlog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        (0..7)
            .map(|i| format!("while away {i}"))
            .collect::<Vec<_>>()
    );
    // With no `since`, the latest 50 in order.
    let mut c = connect(&s, &m[1]).await;
    let latest = subscribe(&mut c, room, None).await;
    assert_eq!(latest["backlog"].as_array().unwrap().len(), 12);
    assert_eq!(latest["backlog"][11]["body"], "while away 6");
});

both_backends!(private_and_members_rooms_refuse_outsiders, |b| async move {
    let s = Server::start(b).await;
    let (admin, m, private_room) = setup(&s, "secret-room", "private", 0).await;
    s.community(&admin, "members-room", "members", json!({}))
        .await;
    s.community(&admin, "open-room", "public", json!({})).await;
    let members_room = s
        .get("/api/v1/communities/members-room/rooms", Some(&admin))
        .await
        .1[0]["id"]
        .as_i64()
        .unwrap();
    let open_room = s.get("/api/v1/communities/open-room/rooms", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    drop(m);
    let outsider = s.register("outsider").await;
    // Only a pending request, through a referral link (the address alone answers 404).
    let (_, link) = s
        .post(
            "/api/v1/communities/secret-room/referrals",
            Some(&admin),
            json!({"label": "Clinic"}),
        )
        .await;
    let (st, _) = s
        .post(
            "/api/v1/communities/secret-room/join",
            Some(&outsider),
            json!({"code": link["code"]}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let mut ws = connect(&s, &outsider).await;
    send(&mut ws, json!({"op": "subscribe", "room": private_room})).await;
    let e = next_op(&mut ws, "error").await;
    assert_eq!(e["code"], "not_found", "{e}");
    send(&mut ws, json!({"op": "subscribe", "room": members_room})).await;
    assert_eq!(next_op(&mut ws, "error").await["code"], "forbidden");
    // A public community's room can be followed, but only members speak.
    subscribe(&mut ws, open_room, None).await;
    send(
        &mut ws,
        json!({"op": "send", "room": open_room, "body": "hello", "nonce": "x1"}),
    )
    .await;
    let e = next_op(&mut ws, "error").await;
    assert_eq!(
        (e["code"].as_str(), e["nonce"].as_str()),
        (Some("forbidden"), Some("x1"))
    );
    send(
        &mut ws,
        json!({"op": "send", "room": 987654, "body": "hello", "nonce": "x2"}),
    )
    .await;
    assert_eq!(next_op(&mut ws, "error").await["code"], "not_subscribed");
    // History follows the same rules.
    assert_eq!(
        s.get(
            &format!("/api/v1/rooms/{private_room}/messages"),
            Some(&outsider)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(
            &format!("/api/v1/rooms/{members_room}/messages"),
            Some(&outsider)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // No token, no socket.
    let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
    let refused = tokio_tungstenite::connect_async(url).await;
    assert!(refused.is_err(), "an anonymous socket was accepted");
});

both_backends!(
    a_client_that_stops_reading_does_not_delay_others,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                extra_env: vec![("MUTUAL_METRICS_TOKEN".into(), "slow-metrics".into())],
                ..Default::default()
            },
        )
        .await;
        let (_, m, room) = setup(&s, "slowpoke", "public", 3).await;
        let mut slow = connect(&s, &m[0]).await;
        subscribe(&mut slow, room, None).await;
        let mut fast = connect(&s, &m[1]).await;
        subscribe(&mut fast, room, None).await;
        let mut sender = connect(&s, &m[2]).await;
        subscribe(&mut sender, room, None).await;
        // The slow client never reads again. Send enough large messages (about 8 KB a frame) to
        // fill its socket buffers and its queue; the sender paces itself on its own echoes.
        let big = "word ".repeat(790);
        let total = 2000;
        let reader = tokio::spawn(async move {
            let mut got = 0;
            while got < total {
                next_op(&mut fast, "message").await;
                got += 1;
            }
            got
        });
        // The slow one is cut off rather than buffered without bound: once the server counts a
        // resync it starts reading (the server waits a bounded while for a cut-off client to take
        // its last frames, so it must not wait for the whole run on a busy machine), and finds
        // what its buffers held, then a `resync` error and close code 4008 (not a reset), so a
        // real client knows to reconnect with `since`.
        let mut slow = Some(slow);
        let mut slow_reader = None;
        for chunk in 0..total / 10 {
            for i in 0..10 {
                send(&mut sender, json!({"op": "send", "room": room, "body": format!("{} {big}", chunk * 10 + i)})).await;
            }
            for _ in 0..10 {
                next_op(&mut sender, "message").await;
            }
            if slow_reader.is_none() && resyncs(&s).await > 0 {
                let ws = slow.take().expect("the slow socket");
                slow_reader = Some(tokio::spawn(read_until_closed(ws)));
            }
        }
        let got = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("the fast client was held up")
            .unwrap();
        assert_eq!(got, total);
        let (received, saw_resync, close_code) = match slow_reader {
            Some(task) => task.await.unwrap(),
            None => panic!("the server never counted the slow client's resync"),
        };
        assert!(
            received < total,
            "the slow client got everything: nothing was bounded"
        );
        assert!(saw_resync, "no resync frame after {received} messages");
        assert_eq!(close_code, Some(4008));
        assert_eq!(s.get("/readyz", None).await.0, StatusCode::OK);
    }
);

/// How many sockets the server has cut off for falling behind (its metrics).
async fn resyncs(s: &Server) -> u64 {
    let text = s.metrics("slow-metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix("mutual_ws_resync_total "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// Reads a cut-off socket to its end: (messages read, whether a `resync` came, the close code).
async fn read_until_closed(mut slow: Ws) -> (usize, bool, Option<u16>) {
    let mut received = 0;
    let mut saw_resync = false;
    let mut close_code = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, slow.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if t.contains("\"resync\"") {
                    assert!(!saw_resync, "two resync frames");
                    saw_resync = true;
                } else if t.contains("\"op\":\"message\"") {
                    assert!(!saw_resync, "a message after the resync frame");
                    received += 1;
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                close_code = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => panic!("the slow client's socket was reset: {e}"),
            Ok(None) => break,
            Err(_) => {
                panic!("the slow client's connection was never closed ({received} messages read)")
            }
        }
    }
    (received, saw_resync, close_code)
}

both_backends!(
    bad_frames_get_error_frames_and_the_socket_lives_on,
    |b| async move {
        let s = Server::start(b).await;
        let (_, m, room) = setup(&s, "badframes", "public", 1).await;
        let mut ws = connect(&s, &m[0]).await;
        ws.send(Message::Text("{not json".into())).await.unwrap();
        assert_eq!(next_op(&mut ws, "error").await["code"], "malformed");
        send(&mut ws, json!({"op": "dance"})).await;
        assert_eq!(next_op(&mut ws, "error").await["code"], "unknown_op");
        send(&mut ws, json!({"op": "subscribe", "room": "seven"})).await;
        assert_eq!(next_op(&mut ws, "error").await["code"], "invalid");
        ws.send(Message::Binary(vec![0, 1, 2, 255].into()))
            .await
            .unwrap();
        assert_eq!(
            next_op(&mut ws, "error").await["code"],
            "binary_not_supported"
        );
        ws.send(Message::Text("x".repeat(20_000).into()))
            .await
            .unwrap();
        assert_eq!(next_op(&mut ws, "error").await["code"], "too_large");
        subscribe(&mut ws, room, None).await;
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "x".repeat(4001), "nonce": "long"}),
        )
        .await;
        let e = next_op(&mut ws, "error").await;
        assert_eq!(
            (e["code"].as_str(), e["nonce"].as_str()),
            (Some("too_long"), Some("long"))
        );
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "   ", "nonce": "blank"}),
        )
        .await;
        assert_eq!(next_op(&mut ws, "error").await["code"], "empty");
        send(&mut ws, json!({"op": "ping"})).await;
        next_op(&mut ws, "pong").await;
        send(&mut ws, json!({"op": "send", "room": room, "body": "<script>alert(1)</script> still here", "nonce": "ok"})).await;
        let msg = next_op(&mut ws, "message").await;
        assert!(
            !msg["message"]["body_html"]
                .as_str()
                .unwrap()
                .contains("<script"),
            "{msg}"
        );
        assert_eq!(s.get("/readyz", None).await.0, StatusCode::OK);
        assert!(!s.log_text().contains("panicked"));
    }
);

both_backends!(edits_and_deletes_propagate_live, |b| async move {
    let s = Server::start(b).await;
    let (admin, m, room) = setup(&s, "edits", "public", 2).await;
    let mut a = connect(&s, &m[0]).await;
    let mut bb = connect(&s, &m[1]).await;
    subscribe(&mut a, room, None).await;
    subscribe(&mut bb, room, None).await;
    send(
        &mut a,
        json!({"op": "send", "room": room, "body": "typo heer"}),
    )
    .await;
    let id = next_op(&mut bb, "message").await["message"]["id"]
        .as_i64()
        .unwrap();
    send(
        &mut bb,
        json!({"op": "edit", "message": id, "body": "not mine"}),
    )
    .await;
    assert_eq!(next_op(&mut bb, "error").await["code"], "forbidden");
    send(
        &mut a,
        json!({"op": "edit", "message": id, "body": "typo here"}),
    )
    .await;
    let edited = next_op(&mut bb, "message_edited").await;
    assert_eq!(edited["message"]["body"], "typo here");
    assert!(edited["message"]["edited_at"].is_string());
    send(&mut bb, json!({"op": "delete", "message": id})).await;
    assert_eq!(next_op(&mut bb, "error").await["code"], "forbidden");
    // A moderator deletes over HTTP; connected clients see it go.
    let (st, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/messages/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let gone = next_op(&mut a, "message_deleted").await;
    assert_eq!(gone["message_id"], id);
    next_op(&mut bb, "message_deleted").await;
    let (_, history) = s.get(&format!("/api/v1/rooms/{room}/messages"), None).await;
    assert!(history["items"].as_array().unwrap().is_empty());
    let (_, log) = s.get("/api/v1/communities/edits/modlog", Some(&m[0])).await;
    assert_eq!(log["items"][0]["target_type"], "message");
});

both_backends!(presence_and_typing, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "presence", "public", 3).await;
    let mut a = connect(&s, &m[0]).await;
    let first = subscribe(&mut a, room, None).await;
    assert_eq!(first["online"], 1);
    let mut bb = connect(&s, &m[1]).await;
    let second = subscribe(&mut bb, room, None).await;
    assert_eq!(second["online"], 2);
    // Arrivals are announced at most once a second: one announcing only `a` may come first.
    let mut p = next_op(&mut a, "presence").await;
    if p["online"] == 1 {
        p = next_op(&mut a, "presence").await;
    }
    assert_eq!(p["online"], 2);
    assert!(
        p["joined"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "pre1"),
        "{p}"
    );
    send(&mut bb, json!({"op": "typing", "room": room})).await;
    let t = next_op(&mut a, "typing").await;
    assert_eq!(t["user"]["username"], "pre1");
    // A member who hides their presence is neither counted nor announced.
    s.call(
        "PATCH",
        "/api/v1/me",
        Some(&m[2]),
        Some(json!({"hide_presence": true})),
    )
    .await;
    let mut hidden = connect(&s, &m[2]).await;
    assert_eq!(subscribe(&mut hidden, room, None).await["online"], 2);
    bb.close(None).await.ok();
    drop(bb);
    let left = next_op(&mut a, "presence").await;
    assert_eq!(left["online"], 1, "{left}");
    assert!(
        left["left"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "pre1"),
        "{left}"
    );
});

both_backends!(
    sending_too_fast_is_refused_with_a_clear_frame,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                rate_limits: true,
                ..Default::default()
            },
        )
        .await;
        let (_, m, room) = setup(&s, "flood", "public", 1).await;
        let mut ws = connect(&s, &m[0]).await;
        subscribe(&mut ws, room, None).await;
        for i in 0..40 {
            send(&mut ws, json!({"op": "send", "room": room, "body": format!("spam {i}"), "nonce": format!("n{i}")})).await;
        }
        let e = next_op(&mut ws, "error").await;
        // A new member meets the gentler slow mode first; either way the refusal is clear.
        assert!(
            e["code"] == "rate_limited" || e["code"] == "slow_mode",
            "{e}"
        );
        assert!(e["nonce"].is_string());
    }
);

both_backends!(muted_and_banned_members_cannot_send, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "sanction", "public", 2).await;
    let (_, me) = s.get("/api/v1/me", Some(&m[0])).await;
    let muted_id = me["id"].as_i64().unwrap();
    let (_, c) = s.get("/api/v1/communities/sanction", None).await;
    let community = c["id"].as_i64().unwrap();
    // The hook moderation uses: an active sanction row.
    let until = chrono::Utc::now().timestamp_millis() + 3_600_000;
    insert_sanction(&s, community, muted_id, "mute", Some(until)).await;
    let mut ws = connect(&s, &m[0]).await;
    subscribe(&mut ws, room, None).await;
    send(
        &mut ws,
        json!({"op": "send", "room": room, "body": "can I talk?", "nonce": "m1"}),
    )
    .await;
    let e = next_op(&mut ws, "error").await;
    assert_eq!(
        (e["code"].as_str(), e["nonce"].as_str()),
        (Some("muted"), Some("m1"))
    );
    // Others are unaffected.
    let mut other = connect(&s, &m[1]).await;
    subscribe(&mut other, room, None).await;
    send(
        &mut other,
        json!({"op": "send", "room": room, "body": "I can"}),
    )
    .await;
    next_op(&mut other, "message").await;
});

async fn insert_sanction(s: &Server, community: i64, user: i64, kind: &str, until: Option<i64>) {
    let now = chrono::Utc::now().timestamp_millis();
    let sql = "INSERT INTO sanctions (community_id, user_id, kind, reason, until, created_at) VALUES ($1, $2, $3, 'test', $4, $5)";
    match s.db.backend {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query(sql)
                .bind(community)
                .bind(user)
                .bind(kind)
                .bind(until)
                .bind(now)
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query(sql)
                .bind(community)
                .bind(user)
                .bind(kind)
                .bind(until)
                .bind(now)
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

both_backends!(history_pages_newest_first, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "history", "public", 1).await;
    let mut ws = connect(&s, &m[0]).await;
    subscribe(&mut ws, room, None).await;
    for i in 0..25 {
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": format!("m{i}")}),
        )
        .await;
        next_op(&mut ws, "message").await;
    }
    let mut seen = Vec::new();
    let mut before = String::new();
    loop {
        let path = format!("/api/v1/rooms/{room}/messages?limit=10{before}");
        let (st, page) = s.get(&path, None).await;
        assert_eq!(st, StatusCode::OK);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["body"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..25).rev().map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        s.get(&format!("/api/v1/rooms/{room}/messages?limit=0"), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.get("/api/v1/rooms/424242/messages", None).await.0,
        StatusCode::NOT_FOUND
    );
});

/// Two server processes sharing PostgreSQL and Redis: a message sent on one reaches subscribers
/// on the other, and presence counts span both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_across_nodes() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    let (_, m, room) = setup(&one, "nodes", "public", 2).await;
    let mut a = connect(&one, &m[0]).await;
    let mut bb = connect(&two, &m[1]).await;
    subscribe(&mut a, room, None).await;
    let sub = subscribe(&mut bb, room, None).await;
    assert_eq!(sub["online"], 2, "presence spans nodes: {sub}");
    for i in 0..10 {
        send(&mut bb, json!({"op": "send", "room": room, "body": format!("from node two {i}"), "nonce": format!("n{i}")})).await;
    }
    for i in 0..10 {
        let f = next_op(&mut a, "message").await;
        assert_eq!(f["message"]["body"], format!("from node two {i}"));
    }
    send(
        &mut a,
        json!({"op": "send", "room": room, "body": "back from node one"}),
    )
    .await;
    assert_eq!(
        next_op(&mut bb, "message").await["message"]["body"],
        "from node two 0"
    );
    let mut last = Value::Null;
    for _ in 0..10 {
        last = next_op(&mut bb, "message").await;
    }
    assert_eq!(last["message"]["body"], "back from node one");
}

/// A node that loses Redis keeps serving its own clients, and catches up from the database on
/// what the other node committed when Redis returns. Uses a Redis of its own, so stopping it
/// disturbs no other test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_redis_keeps_serving_and_catches_up() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let start_redis = || {
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
    };
    let mut redis = start_redis();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("redis://127.0.0.1:{port}");
    let opts = || ServerOptions {
        extra_env: vec![("REDIS_URL".into(), url.clone())],
        redis: Some(false),
        ..Default::default()
    };
    let one = Server::start_with(Backend::Postgres, opts()).await;
    let two = Server::start_on(one.db.clone(), opts()).await;
    let (_, m, room) = setup(&one, "outage", "public", 3).await;
    let mut a = connect(&one, &m[0]).await;
    let mut a2 = connect(&one, &m[2]).await;
    let mut bb = connect(&two, &m[1]).await;
    subscribe(&mut a, room, None).await;
    subscribe(&mut a2, room, None).await;
    subscribe(&mut bb, room, None).await;
    send(
        &mut bb,
        json!({"op": "send", "room": room, "body": "before the outage"}),
    )
    .await;
    assert_eq!(
        next_op(&mut a, "message").await["message"]["body"],
        "before the outage"
    );

    redis.kill().unwrap();
    redis.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, ready) = one.get("/readyz", None).await;
    assert_eq!(ready["redis"], "down", "{ready}");
    // Node one still serves its own clients.
    send(
        &mut a2,
        json!({"op": "send", "room": room, "body": "local while Redis is down"}),
    )
    .await;
    assert_eq!(
        next_op(&mut a, "message").await["message"]["body"],
        "local while Redis is down"
    );
    // Node two's message is stored, but cannot cross yet.
    send(
        &mut bb,
        json!({"op": "send", "room": room, "body": "from node two during the outage"}),
    )
    .await;
    next_op(&mut bb, "message").await;

    let mut redis = start_redis();
    let caught = next_op(&mut a, "message").await;
    assert_eq!(caught["message"]["body"], "from node two during the outage");
    let (st, _) = one.get("/readyz", None).await;
    assert_eq!(st, StatusCode::OK);
    redis.kill().ok();
    redis.wait().ok();
}

both_backends!(
    notifications_arrive_over_the_socket_without_text,
    |b| async move {
        let s = Server::start(b).await;
        let (_, m, _) = setup(&s, "live-notes", "public", 2).await;
        let mut ws = connect(&s, &m[0]).await;
        send(&mut ws, json!({"op": "ping"})).await;
        next_op(&mut ws, "pong").await;
        s.topic(
            &m[1],
            "live-notes",
            "Question about my insulin",
            "What do you think @liv0?",
        )
        .await;
        let n = next_op(&mut ws, "notification").await;
        assert_eq!(n["notification"]["kind"], "mention");
        assert!(n["notification"]["id"].is_i64());
        let text = n.to_string();
        assert!(
            !text.contains("insulin") && !text.contains("What do you"),
            "no health text: {text}"
        );
    }
);

both_backends!(
    moderators_change_room_settings_live_and_logged,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                rate_limits: true,
                ..Default::default()
            },
        )
        .await;
        let (admin, m, room) = setup(&s, "settings", "public", 1).await;
        let mut ws = connect(&s, &m[0]).await;
        subscribe(&mut ws, room, None).await;
        let path = format!("/api/v1/rooms/{room}");
        assert_eq!(
            s.call(
                "PATCH",
                &path,
                Some(&m[0]),
                Some(json!({"slow_mode_seconds": 5, "reason": "calm down"}))
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.call(
                "PATCH",
                &path,
                Some(&admin),
                Some(json!({"quiet_hours": "25:00-99:00", "reason": "bad"}))
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let now = chrono::Utc::now();
        let h = now.format("%H").to_string().parse::<u32>().unwrap();
        let quiet = format!("{:02}:00-{:02}:00", h, (h + 1) % 24);
        let (st, settings) = s
            .call(
                "PATCH",
                &path,
                Some(&admin),
                Some(json!({"quiet_hours": quiet, "reason": "night rest"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{settings}");
        // The open socket learns it at once.
        next_op(&mut ws, "room_settings").await;
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "anyone?", "nonce": "q"}),
        )
        .await;
        assert_eq!(next_op(&mut ws, "error").await["code"], "quiet_hours");
        s.call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"quiet_hours": "", "new_joiner_delay_minutes": 30, "reason": "spam wave"})),
        )
        .await;
        next_op(&mut ws, "room_settings").await;
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "hello", "nonce": "d"}),
        )
        .await;
        assert_eq!(next_op(&mut ws, "error").await["code"], "new_joiner_delay");
        let (_, log) = s
            .get("/api/v1/communities/settings/modlog", Some(&m[0]))
            .await;
        assert_eq!(log["items"][0]["action"], "room_settings");
        assert!(
            log["items"][0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("spam wave")
        );
    }
);

/// A peer that stops answering (no frames, no pongs) is closed by the server's heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_close_dead_peers() {
    let s = Server::start_with(
        Backend::Sqlite,
        ServerOptions {
            extra_env: vec![("MUTUAL_WS_HEARTBEAT_SECS".into(), "1".into())],
            ..Default::default()
        },
    )
    .await;
    let (_, m, room) = setup(&s, "heartbeat", "public", 2).await;
    let mut alive = connect(&s, &m[0]).await;
    let mut dead = connect(&s, &m[1]).await;
    subscribe(&mut alive, room, None).await;
    subscribe(&mut dead, room, None).await;
    // `dead` now neither reads nor writes, so it never answers the server's pings; `alive` reads,
    // and tokio-tungstenite answers each ping with a pong as it does.
    let started = std::time::Instant::now();
    let left = next_op(&mut alive, "presence").await;
    let left = if left["left"].as_array().is_some_and(|l| !l.is_empty()) {
        left
    } else {
        next_op(&mut alive, "presence").await
    };
    assert_eq!(left["left"][0]["username"], "hea1", "{left}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The live one is still served.
    send(&mut alive, json!({"op": "ping"})).await;
    next_op(&mut alive, "pong").await;
    let mut closed = false;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), dead.next()).await {
        match msg {
            Ok(Message::Close(frame)) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(4000));
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the dead peer was not closed");
}

// A socket that floods `subscribe` is refused with `rate_limited` frames, then closed with 1008:
// it gets a bounded number of backlogs, not one per frame (the byte budget: `chat::budget`).
both_backends!(a_subscribe_flood_is_refused_then_closed, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: true,
            ..Default::default()
        },
    )
    .await;
    let (_, m, room) = setup(&s, "flood", "public", 1).await;
    let mut ws = connect(&s, &m[0]).await;
    subscribe(&mut ws, room, None).await;
    for _ in 0..300 {
        let frame = json!({"op": "subscribe", "room": room, "since": 0});
        if ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let (mut subscribed, mut refused, mut close) = (0, 0, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["op"] == "subscribed" {
                    subscribed += 1;
                } else if v["op"] == "error" && v["code"] == "rate_limited" {
                    assert_eq!(v["room"], room, "{v}");
                    refused += 1;
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    assert!(subscribed <= 31, "{subscribed} backlogs were sent");
    assert!(refused >= 5, "{refused} refusals");
    assert_eq!(close, Some(1008));
    // A new socket (a reconnect) has a fresh budget.
    let mut again = connect(&s, &m[0]).await;
    let sub = subscribe(&mut again, room, Some(0)).await;
    assert_eq!(sub["room"], room);
});
