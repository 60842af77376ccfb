#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Live revocation (API.md "Added in v1.1"): a socket's subscriptions follow access, and a socket
//! whose session ends is closed with 4001, on every node.

use crate::common;

use std::time::{Duration, Instant};

use common::ws::{Ws, connect, next_op, send};
use common::{Backend, PASSWORD, Server, ServerOptions};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn subscribe(ws: &mut Ws, room: i64) -> Value {
    send(ws, json!({"op": "subscribe", "room": room})).await;
    next_op(ws, "subscribed").await
}

async fn room_of(s: &Server, token: &str, slug: &str) -> i64 {
    let (_, rooms) = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), Some(token))
        .await;
    rooms[0]["id"].as_i64().expect("default room")
}

/// Lets `who` into a community (a private one with an invitation, as joining one otherwise
/// answers as for an unknown slug).
async fn let_in(s: &Server, admin: &str, slug: &str, _who: &str, token: &str) {
    let (_, c) = s
        .get(&format!("/api/v1/communities/{slug}"), Some(admin))
        .await;
    if c["visibility"] == "private" {
        s.join_invited(admin, token, slug).await;
    } else {
        s.join(token, slug).await;
    }
}

/// The frames before the answer to a ping: what the socket got meanwhile.
async fn frames_until_pong(ws: &mut Ws) -> Vec<Value> {
    send(ws, json!({"op": "ping"})).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["op"] == "pong" {
                    return seen;
                }
                seen.push(v);
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no pong: {other:?}"),
        }
    }
}

/// The close code the server ends the socket with.
async fn close_code(ws: &mut Ws) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                return frame.map(|f| u16::from(f.code)).unwrap_or(1005);
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket was not closed with a close frame: {other:?}"),
        }
    }
}

both_backends!(
    leaving_a_private_group_ends_its_subscriptions,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "quiet-group", "private", json!({}))
            .await;
        let leaver = s.register("leaver").await;
        let stayer = s.register("stayer").await;
        let_in(&s, &admin, "quiet-group", "leaver", &leaver).await;
        let_in(&s, &admin, "quiet-group", "stayer", &stayer).await;
        let room = room_of(&s, &admin, "quiet-group").await;
        let mut gone = connect(&s, &leaver).await;
        let mut here = connect(&s, &stayer).await;
        subscribe(&mut gone, room).await;
        subscribe(&mut here, room).await;

        let (st, body) = s
            .call(
                "POST",
                "/api/v1/communities/quiet-group/leave",
                Some(&leaver),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let frame = next_op(&mut gone, "unsubscribed").await;
        assert_eq!(
            frame,
            json!({"op": "unsubscribed", "room": room, "reason": "left"})
        );

        send(&mut here, json!({"op": "typing", "room": room})).await;
        send(
            &mut here,
            json!({"op": "send", "room": room, "body": "after you left", "nonce": "a"}),
        )
        .await;
        assert_eq!(next_op(&mut here, "message").await["message"]["nonce"], "a");
        let later = frames_until_pong(&mut gone).await;
        assert!(
            later
                .iter()
                .all(|f| f["room"] != room && f["message"].is_null()),
            "frames of a room left: {later:?}"
        );
        send(
            &mut gone,
            json!({"op": "send", "room": room, "body": "still here?", "nonce": "b"}),
        )
        .await;
        let refused = next_op(&mut gone, "error").await;
        assert_eq!(refused["code"], "not_subscribed", "{refused}");
        send(&mut gone, json!({"op": "subscribe", "room": room})).await;
        assert_eq!(next_op(&mut gone, "error").await["code"], "not_found");
        // The member who stayed hears on.
        let (_, history) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(&stayer))
            .await;
        assert!(history.to_string().contains("after you left"));
    }
);

both_backends!(
    withdrawing_consent_ends_the_condition_groups_subscriptions,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "sleeve-circle",
            "private",
            json!({"condition": "bariatric-surgery", "condition_label": "After bariatric surgery"}),
        )
        .await;
        let member = s.register("withdrawer").await;
        let_in(&s, &admin, "sleeve-circle", "withdrawer", &member).await;
        let room = room_of(&s, &admin, "sleeve-circle").await;
        let mut ws = connect(&s, &member).await;
        subscribe(&mut ws, room).await;

        let (st, body) = s
            .call(
                "DELETE",
                "/api/v1/me/consents/health-data",
                Some(&member),
                None,
            )
            .await;
        assert!(st.is_success(), "withdraw: {st} {body}");
        let frame = next_op(&mut ws, "unsubscribed").await;
        assert_eq!(
            frame,
            json!({"op": "unsubscribed", "room": room, "reason": "left"})
        );
    }
);

both_backends!(a_ban_ends_the_subscription, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "banning", "public", json!({})).await;
    let member = s.register("banned").await;
    s.join(&member, "banning").await;
    let id = s.get("/api/v1/me", Some(&member)).await.1["id"].clone();
    let room = room_of(&s, &admin, "banning").await;
    let mut ws = connect(&s, &member).await;
    subscribe(&mut ws, room).await;
    let (st, body) = s
        .post(
            "/api/v1/moderation/actions",
            Some(&admin),
            json!({"action": "ban", "target": {"type": "user", "id": id}, "community": "banning", "reason": "repeated abuse"}),
        )
        .await;
    assert!(st.is_success(), "{st} {body}");
    let frame = next_op(&mut ws, "unsubscribed").await;
    assert_eq!(
        (frame["room"].as_i64(), frame["reason"].as_str()),
        (Some(room), Some("banned"))
    );
    send(&mut ws, json!({"op": "typing", "room": room})).await;
    send(
        &mut ws,
        json!({"op": "send", "room": room, "body": "let me back", "nonce": "x"}),
    )
    .await;
    assert_eq!(next_op(&mut ws, "error").await["code"], "not_subscribed");
});

both_backends!(
    a_community_made_private_drops_its_outside_followers,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "was-open", "public", json!({})).await;
        let member = s.register("insider").await;
        s.join(&member, "was-open").await;
        let outsider = s.register("outsider").await;
        let room = room_of(&s, &admin, "was-open").await;
        let mut out = connect(&s, &outsider).await;
        let mut inside = connect(&s, &member).await;
        subscribe(&mut out, room).await;
        subscribe(&mut inside, room).await;
        let (st, body) = s
            .call(
                "PATCH",
                "/api/v1/communities/was-open",
                Some(&admin),
                Some(json!({"visibility": "private"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let frame = next_op(&mut out, "unsubscribed").await;
        assert_eq!(frame["reason"], "visibility", "{frame}");
        // Members keep following.
        send(
            &mut inside,
            json!({"op": "send", "room": room, "body": "still ours", "nonce": "m"}),
        )
        .await;
        assert_eq!(
            next_op(&mut inside, "message").await["message"]["nonce"],
            "m"
        );
        let later = frames_until_pong(&mut out).await;
        assert!(later.iter().all(|f| f["message"].is_null()), "{later:?}");
    }
);

both_backends!(
    logout_and_a_password_change_close_the_sessions_sockets,
    |b| async move {
        let s = Server::start(b).await;
        let first = s.register("sessions").await;
        let second = s.login("sessions").await;
        let third = s.login("sessions").await;
        let mut one = connect(&s, &first).await;
        let mut two = connect(&s, &second).await;
        let mut three = connect(&s, &third).await;
        let (st, _) = s
            .call("POST", "/api/v1/auth/logout", Some(&first), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(close_code(&mut one).await, 4001);
        // Other sessions' sockets stay open.
        frames_until_pong(&mut two).await;
        let (st, body) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&second),
                Some(json!({"password": {"current": PASSWORD, "new": "a-new-long-passphrase-7"}})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(close_code(&mut three).await, 4001);
        // The session that changed the password keeps its socket.
        frames_until_pong(&mut two).await;
    }
);

both_backends!(erasing_the_account_closes_its_sockets, |b| async move {
    let s = Server::start(b).await;
    let token = s.register("erased").await;
    let mut ws = connect(&s, &token).await;
    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&token),
            Some(json!({"password": PASSWORD, "content": "anonymise"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(close_code(&mut ws).await, 4001);
});

/// Two nodes on PostgreSQL and Redis: the socket is on node two, the leave and the logout are
/// done on node one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_sockets_on_another_node() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    let admin = one.admin().await;
    one.community(&admin, "far-group", "private", json!({}))
        .await;
    let member = one.register("faraway").await;
    let_in(&one, &admin, "far-group", "faraway", &member).await;
    let room = room_of(&one, &admin, "far-group").await;
    let mut ws = connect(&two, &member).await;
    subscribe(&mut ws, room).await;
    let asked = Instant::now();
    let (st, _) = one
        .call(
            "POST",
            "/api/v1/communities/far-group/leave",
            Some(&member),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let frame = next_op(&mut ws, "unsubscribed").await;
    assert_eq!(frame["reason"], "left", "{frame}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let (st, _) = one
        .call("POST", "/api/v1/auth/logout", Some(&member), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(close_code(&mut ws).await, 4001);
}
