#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Conversations (direct messages of 2 to 8 members) through the real server: the request and
//! its answer, the starter waiting, `who_can_message`, blocks answered exactly as `nobody`,
//! leaving with a live socket, reports showing the message and the ten before it, the export,
//! erasure, and a message crossing two nodes.

use crate::common;

use std::time::Duration;

use common::web::{csrf, get, location, post, web_login};
use common::ws::{Ws, connect, next_op, send};
use common::{Backend, PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A public group with an admin and members named `names`; (admin token, member tokens).
async fn setup(s: &Server, slug: &str, names: &[&str]) -> (String, Vec<String>) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let mut tokens = Vec::new();
    for name in names {
        let t = s.register(name).await;
        s.join(&t, slug).await;
        tokens.push(t);
    }
    (admin, tokens)
}

async fn start(s: &Server, token: &str, with: &[&str], body: &str) -> (StatusCode, Value) {
    s.post(
        "/api/v1/conversations",
        Some(token),
        json!({"with": with, "body": body}),
    )
    .await
}

/// Starts a conversation that must be made; (id, room).
async fn started(s: &Server, token: &str, with: &[&str], body: &str) -> (i64, i64) {
    let (st, c) = start(s, token, with, body).await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    (
        c["conversation"]["id"].as_i64().unwrap(),
        c["conversation"]["room"].as_i64().unwrap(),
    )
}

async fn subscribe(ws: &mut Ws, room: i64) -> Value {
    send(ws, json!({"op": "subscribe", "room": room})).await;
    next_op(ws, "subscribed").await
}

/// Sends and waits for the message or the error that answers it.
async fn say(ws: &mut Ws, room: i64, body: &str) -> Value {
    let nonce = format!("n{}", body.len());
    send(
        ws,
        json!({"op": "send", "room": room, "body": body, "nonce": nonce}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        use futures_util::StreamExt;
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("an answer to the send");
        if let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["op"] == "error" || (v["op"] == "message" && v["message"]["body"] == body) {
                return v;
            }
        }
    }
}

async fn conversations(s: &Server, token: &str) -> Vec<Value> {
    let (st, list) = s.get("/api/v1/conversations", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list["items"].as_array().unwrap().clone()
}

both_backends!(
    a_request_waits_for_an_answer_and_the_starter_waits_too,
    |b| async move {
        let s = Server::start(b).await;
        let (_, t) = setup(&s, "talk", &["ana", "bea", "cai", "dov"]).await;
        let (ana, bea, cai, dov) = (&t[0], &t[1], &t[2], &t[3]);
        let (id, room) = started(&s, ana, &["bea"], "hello bea, sleeve buddy?").await;

        // The request carries its first message; the starter can send nothing more yet.
        let mine = &conversations(&s, ana).await[0];
        assert_eq!(mine["state"], "requested");
        assert_eq!(mine["my_state"], "starter");
        assert_eq!(mine["can_send"], false);
        let mut ana_ws = connect(&s, ana).await;
        let sub = subscribe(&mut ana_ws, room).await;
        assert_eq!(sub["backlog"][0]["body"], "hello bea, sleeve buddy?");
        let refused = say(&mut ana_ws, room, "are you there?").await;
        assert_eq!(refused["op"], "error", "{refused}");
        assert_eq!(refused["code"], "forbidden");
        let waiting_answer = refused["message"].clone();

        // Bea sees the request with one unread message, may read it, not answer before accepting.
        let hers = &conversations(&s, bea).await[0];
        assert_eq!(hers["id"], id);
        assert_eq!(hers["my_state"], "invited");
        assert_eq!(hers["unread"], 1);
        let (st, history) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(bea))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(history["items"][0]["body"], "hello bea, sleeve buddy?");
        let mut bea_ws = connect(&s, bea).await;
        subscribe(&mut bea_ws, room).await;
        assert_eq!(say(&mut bea_ws, room, "hi!").await["op"], "error");

        // Others know nothing of it.
        for outsider in [cai, dov] {
            assert!(conversations(&s, outsider).await.is_empty());
            let (st, _) = s
                .get(&format!("/api/v1/rooms/{room}/messages"), Some(outsider))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let (st, _) = s
                .get(&format!("/api/v1/conversations/{id}"), Some(outsider))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let mut ws = connect(&s, outsider).await;
            send(&mut ws, json!({"op": "subscribe", "room": room})).await;
            assert_eq!(next_op(&mut ws, "error").await["code"], "not_found");
        }
        // The starter cannot accept her own request.
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/accept"),
                Some(ana),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);

        // Accepting opens it for both, live: the starter's socket may send now.
        let (st, opened) = s
            .post(
                &format!("/api/v1/conversations/{id}/accept"),
                Some(bea),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{opened}");
        assert_eq!(opened["state"], "open");
        let mut answered = Value::Null;
        for _ in 0..50 {
            answered = say(&mut ana_ws, room, "so glad you said yes").await;
            if answered["op"] == "message" {
                break;
            }
            assert_eq!(answered["message"], waiting_answer);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(answered["op"], "message", "{answered}");
        assert_eq!(
            next_op(&mut bea_ws, "message").await["message"]["body"],
            "so glad you said yes"
        );
        assert_eq!(say(&mut bea_ws, room, "me too").await["op"], "message");
        assert_eq!(conversations(&s, bea).await[0]["unread"], 2);
        assert_eq!(conversations(&s, ana).await[0]["unread"], 1);
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/read"),
                Some(bea),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(conversations(&s, bea).await[0]["unread"], 0);

        // Declining: the request is gone for the one who declined, and not open for the starter.
        let (other, other_room) = started(&s, cai, &["dov"], "coffee chat?").await;
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{other}/decline"),
                Some(dov),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert!(conversations(&s, dov).await.is_empty());
        let (st, _) = s
            .get(&format!("/api/v1/rooms/{other_room}/messages"), Some(dov))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let theirs = &conversations(&s, cai).await[0];
        assert_eq!(theirs["state"], "requested");
        assert_eq!(theirs["members"].as_array().unwrap().len(), 1);

        // A group request: 2 to 8 people; not with oneself, not with more than 7 others.
        let (st, _) = start(&s, ana, &["bea", "cai", "dov"], "group hello").await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, _) = start(&s, ana, &["ana"], "me").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let many: Vec<&str> = vec!["bea"; 1]
            .into_iter()
            .chain(["a1", "a2", "a3", "a4", "a5", "a6", "a7"])
            .collect();
        let (st, _) = start(&s, ana, &many, "too many").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = start(&s, ana, &["bea"], "").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

both_backends!(
    who_can_message_decides_and_a_block_answers_exactly_as_nobody,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, t) = setup(&s, "asks", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        let stranger = s.register("eli").await;
        let (st, me) = s.get("/api/v1/me", Some(bea)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(me["who_can_message"], "groups");

        let set = |who: &'static str| {
            let s = &s;
            async move {
                let (st, me) = s
                    .call(
                        "PATCH",
                        "/api/v1/me",
                        Some(bea),
                        Some(json!({"who_can_message": who})),
                    )
                    .await;
                assert_eq!(st, StatusCode::OK, "{me}");
                assert_eq!(me["who_can_message"], who);
            }
        };
        // `nobody`: refused.
        set("nobody").await;
        let (st, nobody) = start(&s, ana, &["bea"], "hi").await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{nobody}");
        // `circles`: no circle in common, the same answer.
        set("circles").await;
        let (st, circles) = start(&s, ana, &["bea"], "hi").await;
        assert_eq!((st, &circles), (StatusCode::FORBIDDEN, &nobody));
        // ...but a circle in common lets her in.
        let (st, circle) = s
            .post(
                "/api/v1/communities/asks/circles",
                Some(&admin),
                json!({"name": "Tuesday circle", "capacity": 8}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{circle}");
        let circle = circle["id"].as_i64().unwrap();
        for name in ["ana", "bea"] {
            let (st, body) = s
                .call(
                    "PUT",
                    &format!("/api/v1/circles/{circle}/members/{name}"),
                    Some(&admin),
                    Some(json!({"role": "member"})),
                )
                .await;
            assert!(st.is_success(), "{body}");
        }
        let (st, c) = start(&s, ana, &["bea"], "hi from the circle").await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
        // `groups` (the default): a fellow member may, a stranger may not, with the same words.
        set("groups").await;
        let (st, _) = start(&s, ana, &["bea"], "hi again").await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, strange) = start(&s, &stranger, &["bea"], "hi").await;
        assert_eq!((st, &strange), (StatusCode::FORBIDDEN, &nobody));
        // Invalid settings are refused.
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(bea),
                Some(json!({"who_can_message": "everyone"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        // Bea blocks Ana: the very answer `nobody` gets, both ways; and in the conversation they
        // share, Ana's messages are refused with the answer any closed conversation gives.
        let (id, room) = (
            c["conversation"]["id"].as_i64().unwrap(),
            c["conversation"]["room"].as_i64().unwrap(),
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/accept"),
                Some(bea),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = s
            .call("PUT", "/api/v1/users/ana/block", Some(bea), None)
            .await;
        assert!(st.is_success());
        let (st, blocked) = start(&s, ana, &["bea"], "hi").await;
        assert_eq!((st, &blocked), (StatusCode::FORBIDDEN, &nobody));
        let (st, back) = start(&s, bea, &["ana"], "hi").await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        assert_eq!(back["error"]["code"], nobody["error"]["code"]);
        let mut ws = connect(&s, ana).await;
        subscribe(&mut ws, room).await;
        let refused = say(&mut ws, room, "why no answer?").await;
        assert_eq!(refused["op"], "error", "{refused}");
        assert_eq!(
            refused["message"],
            "you cannot send in this conversation now"
        );
        // Lifting the block lets her write again.
        let (st, _) = s
            .call("DELETE", "/api/v1/users/ana/block", Some(bea), None)
            .await;
        assert!(st.is_success());
        assert_eq!(say(&mut ws, room, "sorry!").await["op"], "message");
    }
);

/// With the limits on (production), a new member (trust level 0) may not start a conversation
/// with a fellow group member: the same answer again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_needs_trust_level_one_to_write_to_a_fellow_member() {
    let s = Server::start_with(
        Backend::Sqlite,
        ServerOptions {
            rate_limits: true,
            ..Default::default()
        },
    )
    .await;
    let (_, t) = setup(&s, "newbies", &["ana", "bea"]).await;
    let (st, body) = start(&s, &t[0], &["bea"], "hi").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["error"]["message"],
        "@bea is not taking new conversations from you"
    );
}

both_backends!(
    leaving_takes_the_room_away_from_a_live_socket,
    |b| async move {
        let s = Server::start(b).await;
        let (_, t) = setup(&s, "leave", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        let (id, room) = started(&s, ana, &["bea"], "hello").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let mut bea_ws = connect(&s, bea).await;
        subscribe(&mut bea_ws, room).await;
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/leave"),
                Some(bea),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let gone = next_op(&mut bea_ws, "unsubscribed").await;
        assert_eq!(gone["room"], room);
        assert_eq!(gone["reason"], "left");
        // Nothing more reaches her, and she cannot come back in.
        let mut ana_ws = connect(&s, ana).await;
        subscribe(&mut ana_ws, room).await;
        assert_eq!(
            say(&mut ana_ws, room, "still there?").await["op"],
            "message"
        );
        send(&mut bea_ws, json!({"op": "subscribe", "room": room})).await;
        let refused = next_op(&mut bea_ws, "error").await;
        assert_eq!(refused["code"], "not_found");
        assert!(conversations(&s, bea).await.is_empty());
        let (_, members) = s
            .get(&format!("/api/v1/conversations/{id}"), Some(ana))
            .await;
        assert_eq!(members["members"].as_array().unwrap().len(), 1);
    }
);

both_backends!(
    a_report_shows_the_message_and_the_ten_before_it_and_nothing_else,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, t) = setup(&s, "safety", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        let (id, room) = started(&s, ana, &["bea"], "message 0").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let mut ws = connect(&s, ana).await;
        subscribe(&mut ws, room).await;
        let mut ids = Vec::new();
        for i in 1..=15 {
            let m = say(&mut ws, room, &format!("message {i}")).await;
            assert_eq!(m["op"], "message", "{m}");
            ids.push(m["message"]["id"].as_i64().unwrap());
        }
        let reported = ids[12]; // "message 13"
        // Reported as a room's message it is not found; as a conversation's, it is.
        let (st, _) = s
            .post(
                "/api/v1/reports",
                Some(bea),
                json!({"target": {"type": "message", "id": reported}, "reason": "harassment"}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let outsider = s.register("cai").await;
        let (st, _) = s
            .post("/api/v1/reports", Some(&outsider), json!({"target": {"type": "conversation_message", "id": reported}, "reason": "harassment"}))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, report) = s
            .post("/api/v1/reports", Some(bea), json!({"target": {"type": "conversation_message", "id": reported}, "reason": "harassment"}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{report}");
        let case = report["case_id"].as_i64().unwrap();

        // The site's moderators see the message and the ten before it, nothing after, nothing else.
        let (st, detail) = s
            .get(&format!("/api/v1/reports/{case}"), Some(&admin))
            .await;
        assert_eq!(st, StatusCode::OK, "{detail}");
        assert_eq!(detail["target_type"], "conversation_message");
        let bodies: Vec<&str> = detail["context"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["body"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (3..=13).map(|i| format!("message {i}")).collect();
        assert_eq!(bodies, expected);
        assert_eq!(detail["context"][10]["reported"], true);
        // They do not read the conversation itself.
        let (st, _) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(&admin))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .get(&format!("/api/v1/conversations/{id}"), Some(&admin))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // A member who is no site moderator sees no case.
        let (st, _) = s.get(&format!("/api/v1/reports/{case}"), Some(bea)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Moderators hide the message (gone for both, live) and end the conversation.
        let (st, acted) = s
            .post("/api/v1/moderation/actions", Some(&admin), json!({"action": "hide", "target": {"type": "conversation_message", "id": reported}, "reason": "harassment in messages"}))
            .await;
        assert_eq!(st, StatusCode::OK, "{acted}");
        assert_eq!(
            next_op(&mut ws, "message_deleted").await["message_id"],
            reported
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/end"),
                Some(bea),
                json!({"reason": "please"}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .post(
                &format!("/api/v1/conversations/{id}/end"),
                Some(&admin),
                json!({"reason": "harassment after a report"}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let mut refused = Value::Null;
        for _ in 0..50 {
            refused = say(&mut ws, room, "one more").await;
            if refused["op"] == "error" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            refused["message"],
            "you cannot send in this conversation now"
        );
        assert_eq!(conversations(&s, bea).await[0]["state"], "ended");
        // Conversations are never in search.
        let (_, found) = s.get("/api/v1/search?q=message", Some(bea)).await;
        assert!(!found.to_string().contains("message 13"), "{found}");
    }
);

both_backends!(
    the_export_holds_my_words_and_erasure_takes_only_mine,
    |b| async move {
        let s = Server::start(b).await;
        let (_, t) = setup(&s, "mine", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        let (id, room) = started(&s, ana, &["bea"], "ANA-WORDS-ONE").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let mut ws = connect(&s, bea).await;
        subscribe(&mut ws, room).await;
        assert_eq!(say(&mut ws, room, "BEA-WORDS-TWO").await["op"], "message");

        let (st, export) = s.get("/api/v1/me/export", Some(ana)).await;
        assert_eq!(st, StatusCode::OK);
        let text = export.to_string();
        assert!(text.contains("ANA-WORDS-ONE"), "{text}");
        assert!(!text.contains("BEA-WORDS-TWO"));
        assert!(
            export["tables"]["conversation_members.user_id"].is_array(),
            "{text}"
        );
        assert_eq!(export["user"]["who_can_message"], "groups");

        // Ana erases her account, even choosing to keep her forum words: her conversation
        // messages go, Bea keeps her own.
        let (st, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(ana),
                Some(json!({"password": PASSWORD, "content": "anonymise"})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let (st, history) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(bea))
            .await;
        assert_eq!(st, StatusCode::OK);
        let bodies: Vec<&str> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies, ["BEA-WORDS-TWO"]);
        let listed = conversations(&s, bea).await;
        assert_eq!(listed[0]["members"].as_array().unwrap().len(), 1);
    }
);

/// Two nodes sharing PostgreSQL and Redis: a message sent on one reaches a socket on the other,
/// and leaving on one node takes the room from a socket on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_crosses_nodes() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    let (_, t) = setup(&one, "nodes", &["ana", "bea"]).await;
    let (ana, bea) = (&t[0], &t[1]);
    let (id, room) = started(&one, ana, &["bea"], "hello from node one").await;
    let (st, _) = two
        .post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut bea_ws = connect(&two, bea).await;
    let sub = subscribe(&mut bea_ws, room).await;
    assert_eq!(sub["backlog"][0]["body"], "hello from node one");
    let mut ana_ws = connect(&one, ana).await;
    subscribe(&mut ana_ws, room).await;
    assert_eq!(
        say(&mut ana_ws, room, "across the nodes").await["op"],
        "message"
    );
    assert_eq!(
        next_op(&mut bea_ws, "message").await["message"]["body"],
        "across the nodes"
    );
    let (st, _) = one
        .post(
            &format!("/api/v1/conversations/{id}/leave"),
            Some(bea),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let gone = next_op(&mut bea_ws, "unsubscribed").await;
    assert_eq!(gone["room"], room);
}

async fn username_of(s: &Server, token: &str) -> String {
    s.get("/api/v1/me", Some(token)).await.1["username"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Posts the conversation page's form as a browser without JavaScript does.
async fn send_form(s: &Server, client: &reqwest::Client, id: i64, body: &str) -> common::web::Page {
    let page = get(s, client, &format!("/conversations/{id}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let token = csrf(&page.html);
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        post(
            s,
            client,
            &format!("/conversations/{id}"),
            &[("csrf", &token), ("body", body)],
        ),
    )
    .await;
    answer.expect("the form's send answers")
}

both_backends!(a_conversation_works_without_javascript, |b| async move {
    let s = Server::start(b).await;
    let (_, t) = setup(&s, "nojs", &["ana", "bea"]).await;
    let (ana, bea) = (&t[0], &t[1]);
    s.set_locale(ana, "es").await;
    s.set_locale(bea, "hi").await;
    let (id, room) = started(&s, ana, &["bea"], "hola bea").await;
    let ana_web = web_login(&s, "ana").await;
    let bea_web = web_login(&s, "bea").await;

    // While the request waits the page has no form, and a post anyway is refused in words.
    let waiting = get(&s, &ana_web, &format!("/conversations/{id}"), None).await;
    assert!(
        !waiting.html.contains("id=\"composer\""),
        "{}",
        waiting.html
    );
    let refused = send_form(&s, &ana_web, id, "¿estás?").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    assert!(
        refused
            .html
            .contains("Ahora no puedes enviar mensajes en esta conversación."),
        "{}",
        refused.html
    );

    // Bea accepts with the page's button, then both send with the form alone.
    let page = get(&s, &bea_web, &format!("/conversations/{id}"), None).await;
    let done = post(
        &s,
        &bea_web,
        &format!("/conversations/{id}/accept"),
        &[("csrf", &csrf(&page.html))],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let sent = send_form(&s, &bea_web, id, "नमस्ते, कैसी हो?").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    assert_eq!(location(&sent), format!("/conversations/{id}#composer"));
    let sent = send_form(&s, &ana_web, id, "¡Muy bien, gracias!").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    for (client, what) in [(&ana_web, "es"), (&bea_web, "hi")] {
        let page = get(&s, client, &format!("/conversations/{id}"), None).await;
        assert!(page.html.contains("नमस्ते, कैसी हो?"), "{what}: {}", page.html);
        assert!(
            page.html.contains("¡Muy bien, gracias!"),
            "{what}: {}",
            page.html
        );
    }
    let (_, history) = s
        .get(&format!("/api/v1/rooms/{room}/messages"), Some(ana))
        .await;
    assert_eq!(history["items"][0]["body"], "¡Muy bien, gracias!");

    // An empty message is refused in the member's language, the page drawn again.
    let empty = send_form(&s, &bea_web, id, "   ").await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.html
    );
    assert!(empty.html.contains("role=\"alert\""), "{}", empty.html);
    assert!(empty.html.contains("lang=\"hi\""));
});

both_backends!(
    site_staff_handle_conversation_reports_in_their_web_queue,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, t) = setup(&s, "queue", &["ana", "bea", "gus"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        // Gus moderates the group: conversations are still none of his business.
        let (st, _) = s
            .call(
                "PUT",
                "/api/v1/communities/queue/roles/moderator/gus",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (id, room) = started(&s, ana, &["bea"], "message 0").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let mut ws = connect(&s, ana).await;
        subscribe(&mut ws, room).await;
        let mut ids = Vec::new();
        for i in 1..=15 {
            let m = say(&mut ws, room, &format!("message {i}")).await;
            assert_eq!(m["op"], "message", "{m}");
            ids.push(m["message"]["id"].as_i64().unwrap());
        }
        let mut cases = Vec::new();
        for (i, note) in [(12, "she keeps insulting me"), (13, "again"), (14, "")] {
            let (st, report) = s
                .post("/api/v1/reports", Some(bea), json!({"target": {"type": "conversation_message", "id": ids[i]}, "reason": "harassment", "note": note}))
                .await;
            assert_eq!(st, StatusCode::CREATED, "{report}");
            cases.push(report["case_id"].as_i64().unwrap());
        }

        // Neither the group's moderator nor a member sees the queue or acts from it.
        let gus_web = web_login(&s, "gus").await;
        let bea_web = web_login(&s, "bea").await;
        for client in [&gus_web, &bea_web] {
            let page = get(&s, client, "/moderation/conversations", None).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND);
            assert!(!page.html.contains("message 13"));
            let home = get(&s, client, "/conversations", None).await;
            assert!(
                !home.html.contains("/moderation/conversations"),
                "{}",
                home.html
            );
            let tried = post(
                &s,
                client,
                "/moderation/conversations/act",
                &[
                    ("csrf", &csrf(&home.html)),
                    ("case_id", &cases[0].to_string()),
                    ("action", "end"),
                    ("reason", "not mine to end"),
                ],
            )
            .await;
            assert_eq!(tried.status, StatusCode::NOT_FOUND);
        }
        assert_eq!(conversations(&s, bea).await[0]["state"], "open");

        // The admin's header leads to the queue; each case shows the reported message and the ten
        // before it, nothing after, and what the reporter said.
        let admin_name = username_of(&s, &admin).await;
        let staff = web_login(&s, &admin_name).await;
        let page = get(&s, &staff, "/moderation/conversations", None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(
            page.html
                .contains("href=\"/moderation/conversations\">Cases waiting: 3"),
            "{}",
            page.html
        );
        let first = page
            .html
            .split(&format!("id=\"case-{}\"", cases[0]))
            .nth(1)
            .unwrap()
            .split("</article>")
            .next()
            .unwrap();
        for i in 3..=13 {
            assert!(
                first.contains(&format!(">message {i}<")),
                "message {i}: {first}"
            );
        }
        for i in [0, 1, 2, 14, 15] {
            assert!(
                !first.contains(&format!(">message {i}<")),
                "message {i}: {first}"
            );
        }
        assert!(first.contains("Unkind or hurtful"), "{first}");
        assert!(first.contains("she keeps insulting me"), "{first}");
        assert!(first.contains("End the conversation"));
        for (locale, title) in [
            ("es", "Denuncias de conversaciones"),
            ("hi", "बातचीत की शिकायतें"),
            ("en", "Conversation reports"),
        ] {
            s.set_locale(&admin, locale).await;
            let page = get(&s, &staff, "/moderation/conversations", None).await;
            assert!(page.html.contains(title), "{locale}: {}", page.html);
            assert!(page.html.contains(&format!("lang=\"{locale}\"")));
        }

        let act = |fields: Vec<(&'static str, String)>| {
            let staff = staff.clone();
            let s = &s;
            async move {
                let page = get(s, &staff, "/moderation/conversations", None).await;
                let token = csrf(&page.html);
                let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
                all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
                post(s, &staff, "/moderation/conversations/act", &all).await
            }
        };
        // A reason is needed; then the conversation ends and its case closes.
        let short = act(vec![
            ("case_id", cases[0].to_string()),
            ("action", "end".into()),
            ("reason", "no".into()),
        ])
        .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            short.html.contains("Please write a reason"),
            "{}",
            short.html
        );
        assert_eq!(conversations(&s, bea).await[0]["state"], "open");
        let ended = act(vec![
            ("case_id", cases[0].to_string()),
            ("action", "end".into()),
            ("reason", "harassment after a report".into()),
        ])
        .await;
        assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.html);
        assert_eq!(location(&ended), "/moderation/conversations?done=1");
        assert_eq!(conversations(&s, bea).await[0]["state"], "ended");
        let (_, detail) = s
            .get(&format!("/api/v1/reports/{}", cases[0]), Some(&admin))
            .await;
        assert_eq!(detail["state"], "resolved", "{detail}");

        // A site-wide mute of the author: she cannot write in her group either.
        let muted = act(vec![
            ("case_id", cases[1].to_string()),
            ("action", "mute".into()),
            ("reason", "insults in messages".into()),
            ("duration", "60".into()),
        ])
        .await;
        assert_eq!(muted.status, StatusCode::SEE_OTHER, "{}", muted.html);
        let (st, _) = s
            .post(
                "/api/v1/communities/queue/topics",
                Some(ana),
                json!({"title": "Hello all", "body": "a walk today"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (_, detail) = s
            .get(&format!("/api/v1/reports/{}", cases[1]), Some(&admin))
            .await;
        assert_eq!(detail["state"], "resolved", "{detail}");

        // Closing the last one; the queue is empty, the closed ones are under "Done".
        let closed = act(vec![
            ("case_id", cases[2].to_string()),
            ("action", "resolve_report".into()),
            ("reason", "nothing more to do".into()),
        ])
        .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
        let page = get(&s, &staff, "/moderation/conversations?done=1", None).await;
        assert!(
            page.html.contains("No conversation reports are waiting."),
            "{}",
            page.html
        );
        let done = get(
            &s,
            &staff,
            "/moderation/conversations?status=resolved",
            None,
        )
        .await;
        for case in &cases {
            assert!(
                done.html.contains(&format!("id=\"case-{case}\"")),
                "{}",
                done.html
            );
        }
        assert!(!done.html.contains("/moderation/conversations/act"));
    }
);

/// A socket the server has registered (its pong came back), so frames for its member reach it.
async fn live_socket(s: &Server, token: &str) -> Ws {
    let mut ws = connect(s, token).await;
    send(&mut ws, json!({"op": "ping"})).await;
    next_op(&mut ws, "pong").await;
    ws
}

/// The next `conversation` frame on the socket.
async fn told(ws: &mut Ws) -> Value {
    let f = next_op(ws, "conversation").await;
    assert!(f["conversation"]["id"].is_i64(), "{f}");
    f
}

both_backends!(
    each_socket_is_told_of_requests_and_answers,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, t) = setup(&s, "told", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        let mut ana_ws = live_socket(&s, ana).await;
        let mut bea_ws = live_socket(&s, bea).await;
        let (id, room) = started(&s, ana, &["bea"], "hello bea").await;
        let f = told(&mut bea_ws).await;
        assert_eq!(f["event"], "requested");
        assert_eq!(f["conversation"]["id"], id);
        assert_eq!(f["conversation"]["room"], room);
        assert_eq!(f["conversation"]["my_state"], "invited");
        assert_eq!(f["conversation"]["unread"], 1);
        let f = told(&mut ana_ws).await;
        assert_eq!(f["event"], "requested");
        assert_eq!(f["conversation"]["my_state"], "starter");
        // The menu counts the request, in the member's words.
        let bea_web = web_login(&s, "bea").await;
        let page = get(&s, &bea_web, "/conversations", None).await;
        assert!(page.html.contains("Messages (1 new)"), "{}", page.html);
        let waiting = get(&s, &bea_web, "/me/conversations-waiting", None).await;
        assert_eq!(waiting.status, StatusCode::OK);
        let waiting: Value = serde_json::from_str(&waiting.html).unwrap();
        assert_eq!(waiting["count"], 1, "{waiting}");
        assert_eq!(waiting["label"], "Messages (1 new)");

        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let f = told(&mut ana_ws).await;
        assert_eq!(f["event"], "accepted");
        assert_eq!(f["conversation"]["can_send"], true);
        assert_eq!(told(&mut bea_ws).await["event"], "accepted");

        s.post(
            &format!("/api/v1/conversations/{id}/end"),
            Some(&admin),
            json!({"reason": "after a report"}),
        )
        .await;
        for ws in [&mut ana_ws, &mut bea_ws] {
            let f = told(ws).await;
            assert_eq!(f["event"], "ended");
            assert_eq!(f["conversation"]["state"], "ended");
            assert_eq!(f["conversation"]["can_send"], false);
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_answers_are_told_on_every_node() {
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    let (_, t) = setup(&one, "told2", &["ana", "bea", "cai"]).await;
    let (ana, bea, cai) = (&t[0], &t[1], &t[2]);
    let mut bea_one = live_socket(&one, bea).await;
    let mut bea_two = live_socket(&two, bea).await;
    let mut ana_two = live_socket(&two, ana).await;
    let mut cai_two = live_socket(&two, cai).await;

    // A request made on node one reaches Bea's sockets on both nodes.
    let (id, _) = started(&one, ana, &["bea"], "hello from node one").await;
    for ws in [&mut bea_one, &mut bea_two] {
        let f = told(ws).await;
        assert_eq!(f["event"], "requested");
        assert_eq!(f["conversation"]["id"], id);
        assert_eq!(f["conversation"]["my_state"], "invited");
    }
    // Accepted on node one: Ana's socket on node two hears it.
    one.post(
        &format!("/api/v1/conversations/{id}/accept"),
        Some(bea),
        json!({}),
    )
    .await;
    assert_eq!(told(&mut ana_two).await["event"], "requested");
    let f = told(&mut ana_two).await;
    assert_eq!(f["event"], "accepted");
    assert_eq!(f["conversation"]["id"], id);
    assert_eq!(f["conversation"]["can_send"], true);

    // Cai's request, declined on node one: Cai (node two) sees it without Bea; Bea's own sockets
    // are told too, with only the conversation's id.
    let (other, _) = started(&one, cai, &["bea"], "hi bea, it's cai").await;
    let (st, _) = one
        .post(
            &format!("/api/v1/conversations/{other}/decline"),
            Some(bea),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let f = told(&mut cai_two).await;
    assert_eq!(f["event"], "requested");
    let f = told(&mut cai_two).await;
    assert_eq!(f["event"], "declined");
    assert_eq!(f["conversation"]["id"], other);
    assert_eq!(
        f["conversation"]["members"].as_array().unwrap().len(),
        1,
        "{f}"
    );
    let f = told(&mut bea_two).await;
    assert_eq!(
        (f["event"].as_str(), f["conversation"]["id"].as_i64()),
        (Some("accepted"), Some(id))
    );
    let f = told(&mut bea_two).await;
    assert_eq!(f["event"], "requested");
    let f = told(&mut bea_two).await;
    assert_eq!(f["event"], "declined");
    assert_eq!(f["conversation"]["my_state"], "declined");
    assert!(f["conversation"]["members"].is_null(), "{f}");
}

both_backends!(
    a_reply_quoting_a_deleted_message_says_so_on_the_page,
    |b| async move {
        let s = Server::start(b).await;
        let (_, t) = setup(&s, "quotes", &["ana", "bea"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        s.set_locale(ana, "es").await;
        s.set_locale(bea, "hi").await;
        let (id, room) = started(&s, ana, &["bea"], "hola").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        let mut bea_ws = connect(&s, bea).await;
        subscribe(&mut bea_ws, room).await;
        let first = say(&mut bea_ws, room, "मेरी शुगर आज 180 थी").await;
        let first_id = first["message"]["id"].as_i64().unwrap();
        let mut ana_ws = connect(&s, ana).await;
        subscribe(&mut ana_ws, room).await;
        send(
            &mut ana_ws,
            json!({"op": "send", "room": room, "body": "¿Qué comiste?", "nonce": "q1", "reply_to": first_id}),
        )
        .await;
        let reply = next_op(&mut ana_ws, "message").await;
        assert_eq!(reply["message"]["reply_to"]["id"], first_id, "{reply}");

        // Drawn by the server, the quote shows the words; once deleted, only that it was.
        let ana_web = web_login(&s, "ana").await;
        let bea_web = web_login(&s, "bea").await;
        let page = get(&s, &ana_web, &format!("/conversations/{id}"), None).await;
        assert!(
            page.html.contains(&format!(
                "<blockquote class=\"reply-quote small\" data-reply=\"{first_id}\">"
            )),
            "{}",
            page.html
        );
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/messages/{first_id}"),
                Some(bea),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(
            next_op(&mut ana_ws, "message_deleted").await["message_id"],
            first_id
        );
        for (client, words) in [
            (&ana_web, "Un mensaje borrado"),
            (&bea_web, "हटाया गया संदेश"),
        ] {
            let page = get(&s, client, &format!("/conversations/{id}"), None).await;
            let at = page
                .html
                .find(&format!(
                    "<blockquote class=\"reply-quote muted small\" data-reply=\"{first_id}\">"
                ))
                .unwrap_or_else(|| panic!("{}", page.html));
            let quote = &page.html[at..at + page.html[at..].find("</blockquote>").unwrap()];
            assert!(quote.contains(words), "{quote}");
            assert!(!quote.contains("180"), "{quote}");
            assert!(page.html.contains("¿Qué comiste?"));
        }
    }
);

/// A conversation's messages, newest first, as the API gives them to `token`.
async fn history(s: &Server, token: &str, room: i64) -> Vec<Value> {
    let (st, page) = s
        .get(&format!("/api/v1/rooms/{room}/messages"), Some(token))
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

both_backends!(
    a_reply_and_a_reaction_work_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let (_, t) = setup(&s, "quote", &["ana", "bea", "gus"]).await;
        let (ana, bea) = (&t[0], &t[1]);
        s.set_locale(bea, "hi").await;
        let (id, room) = started(&s, ana, &["bea"], "Shall we walk on Sunday?").await;
        s.post(
            &format!("/api/v1/conversations/{id}/accept"),
            Some(bea),
            json!({}),
        )
        .await;
        // Another conversation (Ana and Gus): its message is no answer here.
        let (_, other_room) = started(&s, ana, &["gus"], "private to gus").await;
        let elsewhere = history(&s, ana, other_room).await[0]["id"]
            .as_i64()
            .unwrap();
        let asked = history(&s, ana, room).await[0]["id"].as_i64().unwrap();
        let bea_web = web_login(&s, "bea").await;
        let path = format!("/conversations/{id}");

        // Each message has a "Reply" link; it opens the composer with the message quoted.
        let page = get(&s, &bea_web, &path, None).await;
        assert!(
            page.html
                .contains(&format!("href=\"{path}?reply_to={asked}#composer\"")),
            "{}",
            page.html
        );
        assert!(page.html.contains(">जवाब दें<"), "in Hindi: {}", page.html);
        let replying = get(&s, &bea_web, &format!("{path}?reply_to={asked}"), None).await;
        assert_eq!(replying.status, StatusCode::OK);
        let box_html = replying
            .html
            .split("id=\"chat-replying\"")
            .nth(1)
            .unwrap()
            .split("</div>")
            .next()
            .unwrap();
        assert!(
            box_html.contains(&format!("name=\"reply_to\" value=\"{asked}\"")),
            "{box_html}"
        );
        assert!(box_html.contains("ana को जवाब:"), "{box_html}");
        assert!(box_html.contains("Shall we walk on Sunday?"), "{box_html}");
        assert!(
            box_html.contains(&format!("href=\"{path}#composer\"")),
            "a way out: {box_html}"
        );
        // A message of another conversation is never quoted here, even asked for.
        let stray = get(&s, &bea_web, &format!("{path}?reply_to={elsewhere}"), None).await;
        assert!(!stray.html.contains("name=\"reply_to\""), "{}", stray.html);
        assert!(!stray.html.contains("private to gus"), "{}", stray.html);

        // The form posts the answer with its quote, as the socket would.
        let token = csrf(&replying.html);
        let sent = post(
            &s,
            &bea_web,
            &path,
            &[
                ("csrf", &token),
                ("body", "हाँ, सुबह सात बजे?"),
                ("reply_to", &asked.to_string()),
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        let newest = history(&s, ana, room).await[0].clone();
        assert_eq!(newest["body"], "हाँ, सुबह सात बजे?");
        assert_eq!(newest["reply_to"]["id"], asked, "{newest}");
        let page = get(&s, &bea_web, &path, None).await;
        assert!(
            page.html.contains(&format!(
                "<blockquote class=\"reply-quote small\" data-reply=\"{asked}\">"
            )),
            "{}",
            page.html
        );

        // Checked on the server as the socket checks it: a message of another conversation, or
        // of nowhere, is refused in the member's words, and what she wrote is kept.
        for bad in [elsewhere, 999_999] {
            let refused = post(
                &s,
                &bea_web,
                &path,
                &[
                    ("csrf", &token),
                    ("body", "ये शब्द रहें"),
                    ("reply_to", &bad.to_string()),
                ],
            )
            .await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                refused.html
            );
            assert!(refused.html.contains("ये शब्द रहें"), "{}", refused.html);
            assert!(
                refused.html.contains("आपके शब्द नीचे सुरक्षित हैं"),
                "{}",
                refused.html
            );
        }
        assert_eq!(history(&s, ana, room).await.len(), 2, "nothing more sent");
        assert_eq!(history(&s, ana, other_room).await.len(), 1);
        // The refused words wait in the box on the next visit too (a draft on the server).
        let again = get(&s, &bea_web, &path, None).await;
        assert!(
            again.html.contains(">ये शब्द रहें</textarea>"),
            "{}",
            again.html
        );

        // Someone outside the conversation can neither answer in it nor react.
        let gus_web = web_login(&s, "gus").await;
        let home = get(&s, &gus_web, "/conversations", None).await;
        let gus_token = csrf(&home.html);
        let tried = post(
            &s,
            &gus_web,
            &path,
            &[
                ("csrf", &gus_token),
                ("body", "me too"),
                ("reply_to", &asked.to_string()),
            ],
        )
        .await;
        assert_eq!(tried.status, StatusCode::NOT_FOUND);
        let tried = post(
            &s,
            &gus_web,
            &format!("{path}/react"),
            &[
                ("csrf", &gus_token),
                ("message", &asked.to_string()),
                ("react", "hug:on"),
            ],
        )
        .await;
        assert_eq!(tried.status, StatusCode::NOT_FOUND);

        // A reaction with the page's button, then taken back; never on another conversation's.
        let react = |message: i64, react: &'static str| {
            let (client, token, path) = (bea_web.clone(), token.clone(), path.clone());
            let s = &s;
            async move {
                post(
                    s,
                    &client,
                    &format!("{path}/react"),
                    &[
                        ("csrf", token.as_str()),
                        ("message", &message.to_string()),
                        ("react", react),
                    ],
                )
                .await
            }
        };
        let done = react(asked, "hug:on").await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert_eq!(location(&done), format!("{path}#m-{asked}"));
        let asked_now = |items: Vec<Value>| {
            items
                .into_iter()
                .find(|m| m["id"] == asked)
                .unwrap_or_default()
        };
        assert_eq!(
            asked_now(history(&s, ana, room).await)["reactions"]["hug"],
            1
        );
        let page = get(&s, &bea_web, &path, None).await;
        assert!(
            page.html.contains("value=\"hug:off\""),
            "hers, pressed: {}",
            page.html
        );
        assert_eq!(react(asked, "hug:off").await.status, StatusCode::SEE_OTHER);
        assert!(
            asked_now(history(&s, ana, room).await)
                .get("reactions")
                .is_none_or(|r| r.get("hug").is_none())
        );
        assert_eq!(
            react(elsewhere, "hug:on").await.status,
            StatusCode::NOT_FOUND
        );
    }
);
