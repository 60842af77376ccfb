#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Chat that feels like chat (#22 point 4), through the real server with real WebSocket
//! clients: replies quoted (and refused across rooms), reactions toggled and broadcast, read
//! positions ("seen by N") in small rooms and never for a member who hides presence, and the
//! page without JavaScript doing the same with links and forms.

use crate::common;

use std::time::Duration;

use common::web::{self, csrf, location, web_member};
use common::ws::{Ws, connect, next_op, send};
use common::{Server, ServerOptions};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn subscribe(ws: &mut Ws, room: i64) -> Value {
    send(ws, json!({"op": "subscribe", "room": room, "since": null})).await;
    next_op(ws, "subscribed").await
}

/// A public community with its default room and `n` members; (admin, members, room).
async fn setup(s: &Server, slug: &str, n: usize) -> (String, Vec<String>, i64) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let mut members = Vec::new();
    for i in 0..n {
        let t = s.register(&format!("{}{i}", &slug[..4])).await;
        s.join(&t, slug).await;
        members.push(t);
    }
    let (_, rooms) = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), Some(&admin))
        .await;
    (admin, members, rooms[0]["id"].as_i64().unwrap())
}

/// Sends a message and waits for its echo; the message.
async fn say(ws: &mut Ws, room: i64, body: &str, extra: Value) -> Value {
    let nonce = format!("n{}", rand_nonce());
    let mut frame = json!({"op": "send", "room": room, "body": body, "nonce": nonce});
    if let (Some(f), Some(e)) = (frame.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
    }
    send(ws, frame).await;
    loop {
        let f = next_any(ws).await;
        if f["op"] == "message" && f["message"]["nonce"] == nonce.as_str() {
            return f["message"].clone();
        }
        assert!(
            !(f["op"] == "error" && f["nonce"] == nonce.as_str()),
            "refused: {f}"
        );
    }
}

fn rand_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The next text frame, whatever its op.
async fn next_any(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// The frames that arrive within `wait`, whatever they are.
async fn drain(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            out.push(serde_json::from_str(&t).unwrap());
        }
    }
    out
}

async fn history(s: &Server, room: i64, token: &str) -> Vec<Value> {
    let (st, page) = s
        .get(&format!("/api/v1/rooms/{room}/messages"), Some(token))
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn by_id(items: &[Value], id: i64) -> Value {
    items
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("message {id} in {items:?}"))
}

both_backends!(replies_are_quoted_and_stay_in_their_room, |b| async move {
    let s = Server::start(b).await;
    let (admin, m, room) = setup(&s, "reply", 2).await;
    let (st, other) = s
        .post(
            "/api/v1/communities/reply/rooms",
            Some(&admin),
            json!({"name": "Evenings"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{other}");
    let other_room = other["id"].as_i64().unwrap();
    let mut a = connect(&s, &m[0]).await;
    let mut bb = connect(&s, &m[1]).await;
    subscribe(&mut a, room).await;
    subscribe(&mut bb, room).await;
    subscribe(&mut a, other_room).await;

    let long = format!("Walked **twice** today.\n\nMy feet {}", "ache ".repeat(40));
    let first = say(&mut a, room, &long, json!({})).await;
    let first_id = first["id"].as_i64().unwrap();
    assert!(
        first.get("reply_to").is_none(),
        "no quote on a plain message: {first}"
    );
    let answer = say(
        &mut bb,
        room,
        "So proud of you",
        json!({"reply_to": first_id}),
    )
    .await;
    let quote = &answer["reply_to"];
    assert_eq!(quote["id"], first_id, "{answer}");
    assert_eq!(quote["author"]["username"], "repl0");
    let excerpt = quote["excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with("Walked **twice** today. My feet ache"),
        "{excerpt}"
    );
    assert!(
        excerpt.chars().count() <= 100 && excerpt.ends_with('…'),
        "{excerpt}"
    );
    // The other listener gets the same quote live.
    let live = next_op(&mut a, "message").await;
    assert_eq!(live["message"]["reply_to"]["id"], first_id, "{live}");

    // A message of another room, or one that does not exist: a clear refusal, nothing sent.
    let elsewhere = say(&mut a, other_room, "other room", json!({})).await;
    for bad in [elsewhere["id"].as_i64().unwrap(), first_id + 100_000] {
        send(
            &mut bb,
            json!({"op": "send", "room": room, "body": "hm", "nonce": "x1", "reply_to": bad}),
        )
        .await;
        let refused = next_op(&mut bb, "error").await;
        assert_eq!(refused["code"], "reply_not_found", "{refused}");
        assert_eq!(refused["nonce"], "x1");
    }

    // History carries the quote; once the answered message is deleted, only that it was.
    let items = history(&s, room, &m[1]).await;
    assert_eq!(
        items.len(),
        2,
        "the refused replies were not stored: {items:?}"
    );
    assert_eq!(
        by_id(&items, answer["id"].as_i64().unwrap())["reply_to"]["excerpt"],
        excerpt
    );
    let (st, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/messages/{first_id}"),
            Some(&m[0]),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let items = history(&s, room, &m[1]).await;
    let gone = &by_id(&items, answer["id"].as_i64().unwrap())["reply_to"];
    assert_eq!(gone["id"], first_id);
    assert_eq!(gone["deleted"], true, "{gone}");
    assert!(
        gone["excerpt"].is_null() && gone["author"].is_null(),
        "{gone}"
    );
    // A deleted message cannot be answered.
    send(
        &mut bb,
        json!({"op": "send", "room": room, "body": "late", "nonce": "x2", "reply_to": first_id}),
    )
    .await;
    assert_eq!(next_op(&mut bb, "error").await["code"], "reply_not_found");
});

both_backends!(the_page_without_javascript_replies_too, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "nojs", 1).await;
    let mut a = connect(&s, &m[0]).await;
    subscribe(&mut a, room).await;
    let first = say(&mut a, room, "Anyone up for a walk?", json!({})).await;
    let first_id = first["id"].as_i64().unwrap();

    let client = web_member(&s, "carmen", "es").await;
    let page = web::get(&s, &client, "/c/nojs", None).await;
    let token = csrf(&page.html);
    let joined = web::post(&s, &client, "/c/nojs/join", &[("csrf", token.as_str())]).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);
    let path = format!("/c/nojs/chat/{room}");
    let page = web::get(&s, &client, &path, None).await;
    assert!(
        page.html
            .contains(&format!("{path}?reply_to={first_id}#composer")),
        "a Reply link per message"
    );
    assert!(page.html.contains(">Responder<"), "in Spanish");
    let replying = web::get(&s, &client, &format!("{path}?reply_to={first_id}"), None).await;
    assert!(
        replying.html.contains("Respondiendo a"),
        "{}",
        replying.html
    );
    assert!(
        replying
            .html
            .contains(&format!("name=\"reply_to\" value=\"{first_id}\""))
    );
    let token = csrf(&replying.html);
    let sent = web::post(
        &s,
        &client,
        &path,
        &[
            ("csrf", token.as_str()),
            ("body", "Yes! 6pm?"),
            ("reply_to", &first_id.to_string()),
        ],
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    let live = next_op(&mut a, "message").await;
    assert_eq!(live["message"]["reply_to"]["id"], first_id, "{live}");
    let page = web::get(&s, &client, &path, None).await;
    assert!(
        page.html.contains("class=\"reply-quote small\"")
            && page.html.contains("Anyone up for a walk?</blockquote>"),
        "quoted above the answer: {}",
        page.html
    );
    // Answering a message of nowhere: refused, the words kept.
    let refused = web::post(
        &s,
        &client,
        &path,
        &[
            ("csrf", token.as_str()),
            ("body", "keep these words"),
            ("reply_to", "999999"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("keep these words"));
    assert!(
        refused.html.contains("Tus palabras siguen abajo"),
        "{}",
        refused.html
    );
});

both_backends!(reactions_toggle_and_reach_the_room, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "react", 2).await;
    let outsider = s.register("passerby").await;
    let mut a = connect(&s, &m[0]).await;
    let mut bb = connect(&s, &m[1]).await;
    subscribe(&mut a, room).await;
    subscribe(&mut bb, room).await;
    let msg = say(&mut a, room, "First week without soda", json!({})).await;
    let id = msg["id"].as_i64().unwrap();
    assert!(
        msg.get("reactions").is_none(),
        "no counts before any: {msg}"
    );
    next_op(&mut bb, "message").await;

    // a hugs: b hears it, with the counts.
    send(&mut a, json!({"op": "react", "message": id, "kind": "hug"})).await;
    let heard = next_op(&mut bb, "reaction").await;
    assert_eq!(heard["room"], room);
    assert_eq!(heard["message_id"], id);
    assert_eq!(heard["kind"], "hug");
    assert_eq!(heard["on"], true);
    assert_eq!(heard["user"]["username"], "reac0");
    assert_eq!(heard["reactions"], json!({"hug": 1}));
    assert_eq!(
        next_op(&mut a, "reaction").await["reactions"],
        json!({"hug": 1})
    );
    // Once per member per kind: again changes nothing; b's counts.
    send(
        &mut a,
        json!({"op": "react", "message": id, "kind": "hug", "on": true}),
    )
    .await;
    send(
        &mut bb,
        json!({"op": "react", "message": id, "kind": "hug"}),
    )
    .await;
    send(
        &mut bb,
        json!({"op": "react", "message": id, "kind": "me_too"}),
    )
    .await;
    let mut last = Value::Null;
    for _ in 0..2 {
        last = next_op(&mut a, "reaction").await;
        assert_eq!(
            last["user"]["username"], "reac1",
            "a's repeat was no change: {last}"
        );
    }
    assert_eq!(last["reactions"], json!({"hug": 2, "me_too": 1}));
    for _ in 0..2 {
        assert_eq!(
            next_op(&mut bb, "reaction").await["user"]["username"],
            "reac1"
        );
    }
    // Taken back.
    send(
        &mut a,
        json!({"op": "react", "message": id, "kind": "hug", "on": false}),
    )
    .await;
    let back = next_op(&mut bb, "reaction").await;
    assert_eq!(
        (back["on"].clone(), back["reactions"].clone()),
        (json!(false), json!({"hug": 1, "me_too": 1}))
    );

    // History carries the counts, and the reader's own.
    let mine = by_id(&history(&s, room, &m[1]).await, id);
    assert_eq!(mine["reactions"], json!({"hug": 1, "me_too": 1}));
    assert_eq!(mine["my_reactions"], json!(["hug", "me_too"]));
    let theirs = by_id(&history(&s, room, &m[0]).await, id);
    assert!(theirs.get("my_reactions").is_none(), "{theirs}");
    // The subscribe backlog too.
    let mut c = connect(&s, &m[0]).await;
    let sub = subscribe(&mut c, room).await;
    assert_eq!(
        sub["backlog"][0]["reactions"],
        json!({"hug": 1, "me_too": 1})
    );

    // Not a kind, not a member: refused.
    send(
        &mut a,
        json!({"op": "react", "message": id, "kind": "thumbs_up"}),
    )
    .await;
    assert_eq!(next_op(&mut a, "error").await["code"], "invalid");
    let path = format!("/api/v1/messages/{id}/reactions");
    let (st, _) = s
        .post(&path, Some(&outsider), json!({"kind": "heart"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Over HTTP: added and taken back, the room told.
    let (st, r) = s.post(&path, Some(&m[0]), json!({"kind": "heart"})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["my_reactions"], json!(["heart"]));
    assert_eq!(next_op(&mut bb, "reaction").await["kind"], "heart");
    let (st, r) = s
        .call("DELETE", &path, Some(&m[0]), Some(json!({"kind": "heart"})))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(r["reactions"], json!({"hug": 1, "me_too": 1}));
    assert_eq!(next_op(&mut bb, "reaction").await["on"], false);
    let (st, _) = s
        .post(
            "/api/v1/messages/999999/reactions",
            Some(&m[0]),
            json!({"kind": "heart"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The page without JavaScript: a form per message, back to it.
    let client = web_member(&s, "rosa", "en").await;
    let page = web::get(&s, &client, "/c/react", None).await;
    let token = csrf(&page.html);
    web::post(&s, &client, "/c/react/join", &[("csrf", token.as_str())]).await;
    let chat = web::get(&s, &client, &format!("/c/react/chat/{room}"), None).await;
    assert!(
        chat.html.contains("value=\"celebrate:on\""),
        "{}",
        chat.html
    );
    let done = web::post(
        &s,
        &client,
        &format!("/c/react/chat/{room}/react"),
        &[
            ("csrf", token.as_str()),
            ("message", &id.to_string()),
            ("react", "celebrate:on"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(location(&done), format!("/c/react/chat/{room}#m-{id}"));
    let heard = next_op(&mut bb, "reaction").await;
    assert_eq!(heard["user"]["username"], "rosa");
    let chat = web::get(&s, &client, &format!("/c/react/chat/{room}"), None).await;
    assert!(
        chat.html
            .contains("value=\"celebrate:off\" data-kind=\"celebrate\" aria-pressed=\"true\""),
        "the reader's own shows pressed: {}",
        chat.html
    );
});

both_backends!(
    reactions_are_rate_limited_like_other_frames,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                rate_limits: true,
                ..Default::default()
            },
        )
        .await;
        let (_, m, room) = setup(&s, "flood", 1).await;
        let mut a = connect(&s, &m[0]).await;
        subscribe(&mut a, room).await;
        let id = say(&mut a, room, "hi", json!({})).await["id"]
            .as_i64()
            .unwrap();
        for i in 0..30 {
            let on = i % 2 == 0;
            send(
                &mut a,
                json!({"op": "react", "message": id, "kind": "heart", "on": on}),
            )
            .await;
        }
        let frames = drain(&mut a, Duration::from_secs(3)).await;
        assert!(
            frames
                .iter()
                .any(|f| f["op"] == "error" && f["code"] == "rate_limited"),
            "{frames:?}"
        );
    }
);

both_backends!(
    small_rooms_say_who_has_seen_but_never_the_hidden,
    |b| async move {
        let s = Server::start(b).await;
        let (_, m, room) = setup(&s, "seen", 3).await;
        // c hides their presence: never counted, never shown, and sees no counts.
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&m[2]),
                Some(json!({"hide_presence": true})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let mut a = connect(&s, &m[0]).await;
        let mut bb = connect(&s, &m[1]).await;
        let mut c = connect(&s, &m[2]).await;
        let sub = subscribe(&mut a, room).await;
        assert_eq!(
            sub["seen"],
            json!([]),
            "a small room gives positions: {sub}"
        );
        subscribe(&mut bb, room).await;
        let hidden = subscribe(&mut c, room).await;
        assert!(
            hidden.get("seen").is_none(),
            "off for a member hiding presence: {hidden}"
        );

        let first = say(&mut a, room, "Morning all", json!({})).await["id"]
            .as_i64()
            .unwrap();
        let second = say(&mut a, room, "Sugar 5.8 today", json!({})).await["id"]
            .as_i64()
            .unwrap();
        // c reads first: nothing is told. Then b reads: a hears b alone.
        send(
            &mut c,
            json!({"op": "seen", "room": room, "message": second}),
        )
        .await;
        send(
            &mut bb,
            json!({"op": "seen", "room": room, "message": first}),
        )
        .await;
        let told = next_op(&mut a, "seen").await;
        assert_eq!(told["room"], room);
        assert_eq!(told["seen"][0]["user"]["username"], "seen1", "{told}");
        assert_eq!(told["seen"][0]["message"], first);
        // Forward only: an older position changes nothing; a newer one is told.
        send(
            &mut bb,
            json!({"op": "seen", "room": room, "message": first}),
        )
        .await;
        send(
            &mut bb,
            json!({"op": "seen", "room": room, "message": second}),
        )
        .await;
        let told = next_op(&mut a, "seen").await;
        assert_eq!(told["seen"][0]["message"], second, "{told}");
        // A message of no room of theirs is not a position.
        send(
            &mut bb,
            json!({"op": "seen", "room": room, "message": second + 1000}),
        )
        .await;

        // Someone arriving gets the positions with `subscribed`: b's, never c's.
        let mut d = connect(&s, &m[0]).await;
        let sub = subscribe(&mut d, room).await;
        let seen = sub["seen"].as_array().unwrap();
        assert_eq!(seen.len(), 1, "{sub}");
        assert_eq!(seen[0]["user"]["username"], "seen1");
        assert_eq!(seen[0]["message"], second);

        // The page without JavaScript says it under the newest message.
        let client = web::web_login(&s, "seen0").await;
        let page = web::get(&s, &client, &format!("/c/seen/chat/{room}"), None).await;
        assert!(page.html.contains("Seen by 1<"), "{}", page.html);

        // Hiding presence later takes a member out at once.
        s.call(
            "PATCH",
            "/api/v1/me",
            Some(&m[1]),
            Some(json!({"hide_presence": true})),
        )
        .await;
        let mut e = connect(&s, &m[0]).await;
        assert_eq!(
            subscribe(&mut e, room).await["seen"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "a's own, from the page"
        );
    }
);

both_backends!(big_rooms_keep_no_read_positions, |b| async move {
    let s = Server::start(b).await;
    let (_, m, room) = setup(&s, "crowd", 21).await;
    let mut a = connect(&s, &m[0]).await;
    let sub = subscribe(&mut a, room).await;
    assert!(sub.get("seen").is_none(), "over 20 people: {sub}");
    let id = say(&mut a, room, "hello crowd", json!({})).await["id"]
        .as_i64()
        .unwrap();
    let mut bb = connect(&s, &m[1]).await;
    subscribe(&mut bb, room).await;
    send(&mut bb, json!({"op": "seen", "room": room, "message": id})).await;
    let frames = drain(&mut a, Duration::from_millis(700)).await;
    assert!(frames.iter().all(|f| f["op"] != "seen"), "{frames:?}");
});
