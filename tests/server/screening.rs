#![allow(clippy::expect_used, clippy::unwrap_used)]
//! One screening for every write of member text (API.md "Added in v1.1"): post edits meet
//! automod, the crisis flow and the identifier warning exactly as new posts do, and chat sends
//! and edits meet the crisis flow and the identifier warning — on SQLite and PostgreSQL + Redis.

use crate::common;

use common::Server;
use common::ws::{Ws, connect, next_op, send};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A community with a moderator and one member: (moderator, member).
async fn world(s: &Server, slug: &str) -> (String, String) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let moderator = s.register(&format!("{slug}mod")).await;
    s.join(&moderator, slug).await;
    let (st, body) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/moderator/{slug}mod"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let member = s.register(&format!("{slug}member")).await;
    s.join(&member, slug).await;
    (moderator, member)
}

async fn edit(s: &Server, token: &str, post: i64, body: Value) -> (StatusCode, Value) {
    s.call(
        "PATCH",
        &format!("/api/v1/posts/{post}"),
        Some(token),
        Some(body),
    )
    .await
}

/// The crisis cases in the community's queue.
async fn crisis_cases(s: &Server, moderator: &str, slug: &str) -> Vec<Value> {
    let (st, queue) = s
        .get(
            &format!("/api/v1/communities/{slug}/reports"),
            Some(moderator),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{queue}");
    queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["crisis"] == true)
        .cloned()
        .collect()
}

both_backends!(an_edit_meets_automod_as_a_new_post_does, |b| async move {
    let db = std::sync::Arc::new(common::TestDb::new(b).await);
    let path = db.dir.join("rules.toml");
    std::fs::write(
        &path,
        "[[filters]]\nwords = [\"casino\"]\naction = \"reject\"\nreason = \"no ads\"\n\n[[filters]]\nwords = [\"detox tea\"]\naction = \"hold\"\n",
    )
    .unwrap();
    let s = Server::start_on(
        db.clone(),
        common::ServerOptions {
            extra_env: vec![("MUTUAL_RULES".into(), path.display().to_string())],
            ..Default::default()
        },
    )
    .await;
    let (moderator, member) = world(&s, "editrules").await;
    let (_, post) = s
        .topic(&member, "editrules", "Evening plans", "a quiet night in")
        .await;
    // Refused as an edit exactly as it is refused as a post.
    let (st, body) = edit(&s, &member, post, json!({"body": "visit my casino"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["body"][0]
            .as_str()
            .unwrap()
            .contains("no ads"),
        "{body}"
    );
    let (_, kept) = s.get(&format!("/api/v1/posts/{post}"), Some(&member)).await;
    assert_eq!(kept["body"], "a quiet night in");
    // Held as an edit: hidden until a moderator approves, and in the queue.
    let (st, held) = edit(&s, &member, post, json!({"body": "try my detox tea"})).await;
    assert_eq!(st, StatusCode::OK, "{held}");
    assert_eq!(held["waiting_hours"], 24, "{held}");
    assert_eq!(held["body"], "try my detox tea");
    let (_, queue) = s
        .get("/api/v1/communities/editrules/reports", Some(&moderator))
        .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "{queue}");
});

both_backends!(
    an_edit_into_a_crisis_gets_the_lines_and_opens_a_case,
    |b| async move {
        let s = Server::start(b).await;
        let (moderator, member) = world(&s, "editcrisis").await;
        let (topic, post) = s
            .topic(&member, "editcrisis", "Hard week", "work was a lot")
            .await;
        assert!(crisis_cases(&s, &moderator, "editcrisis").await.is_empty());
        let (st, edited) = edit(
            &s,
            &member,
            post,
            json!({"body": "Honestly I want to die some days"}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{edited}");
        // The post's fields stay where they were; the lines come beside them.
        assert_eq!(edited["id"], post);
        assert_eq!(edited["body"], "Honestly I want to die some days");
        let lines = edited["crisis_resources"].as_array().expect("crisis lines");
        assert_eq!(lines[0]["phone"], "988");
        let cases = crisis_cases(&s, &moderator, "editcrisis").await;
        assert_eq!(cases.len(), 1, "{cases:?}");
        assert_eq!(cases[0]["target_type"], "post");
        // Held for review: it leaves public view as a new crisis post does.
        let (_, public) = s.get(&format!("/api/v1/topics/{topic}/posts"), None).await;
        assert_eq!(public["items"][0]["body"], "", "{public}");
        // An ordinary edit carries no lines.
        let (_, plain) = edit(&s, &member, post, json!({"body": "better today"})).await;
        assert!(plain.get("crisis_resources").is_none(), "{plain}");
    }
);

both_backends!(
    an_edit_with_a_phone_number_needs_confirming,
    |b| async move {
        let s = Server::start(b).await;
        let (_, member) = world(&s, "editids").await;
        let (_, post) = s
            .topic(&member, "editids", "Walking group", "who wants to walk?")
            .await;
        let text = "call me on 55 - 1234 - 5678";
        let (st, body) = edit(&s, &member, post, json!({"body": text})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["fields"]["identifiers"][0], "phone", "{body}");
        let (st, body) = edit(
            &s,
            &member,
            post,
            json!({"body": text, "confirm_identifiers": true}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["body"], text);
    }
);

/// A member's socket subscribed to the community's first room; the room id.
async fn in_room(s: &Server, token: &str, slug: &str) -> (Ws, i64) {
    let room = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), None)
        .await
        .1[0]["id"]
        .as_i64()
        .unwrap();
    let mut ws = connect(s, token).await;
    send(&mut ws, json!({"op": "subscribe", "room": room})).await;
    next_op(&mut ws, "subscribed").await;
    (ws, room)
}

both_backends!(
    a_chat_edit_into_a_crisis_gets_the_lines_and_opens_a_case,
    |b| async move {
        let s = Server::start(b).await;
        let (moderator, member) = world(&s, "chatedit").await;
        let (mut ws, room) = in_room(&s, &member, "chatedit").await;
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "long day", "nonce": "n1"}),
        )
        .await;
        let sent = next_op(&mut ws, "message").await;
        let id = sent["message"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{sent}"));
        assert!(crisis_cases(&s, &moderator, "chatedit").await.is_empty());
        send(
            &mut ws,
            json!({"op": "edit", "message": id, "body": "i want to end my life"}),
        )
        .await;
        let lines = next_op(&mut ws, "crisis_resources").await;
        assert_eq!(lines["room"], room);
        assert_eq!(lines["message_id"], id);
        assert_eq!(lines["lines"][0]["phone"], "988");
        let cases = crisis_cases(&s, &moderator, "chatedit").await;
        assert_eq!(cases.len(), 1, "{cases:?}");
        assert_eq!(cases[0]["target_type"], "message");
    }
);

both_backends!(
    chat_sends_and_edits_with_a_phone_number_need_confirming,
    |b| async move {
        let s = Server::start(b).await;
        let (_, member) = world(&s, "chatids").await;
        let (mut ws, room) = in_room(&s, &member, "chatids").await;
        let text = "text me: 55/1234/5678";
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": text, "nonce": "p1"}),
        )
        .await;
        let refused = next_op(&mut ws, "error").await;
        assert_eq!(refused["code"], "identifiers", "{refused}");
        assert_eq!(refused["nonce"], "p1");
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": text, "nonce": "p2", "confirm_identifiers": true}),
        )
        .await;
        let sent = next_op(&mut ws, "message").await;
        assert_eq!(sent["message"]["body"], text, "{sent}");
        let id = sent["message"]["id"].as_i64().unwrap();
        // An edit likewise: refused, then sent once confirmed.
        let edited = "or call +52 55 1234 5678";
        send(
            &mut ws,
            json!({"op": "edit", "message": id, "body": edited}),
        )
        .await;
        let refused = next_op(&mut ws, "error").await;
        assert_eq!(refused["code"], "identifiers", "{refused}");
        send(
            &mut ws,
            json!({"op": "edit", "message": id, "body": edited, "confirm_identifiers": true}),
        )
        .await;
        let changed = next_op(&mut ws, "message_edited").await;
        assert_eq!(changed["message"]["body"], edited, "{changed}");
        // Over HTTP the same: 422 `identifiers`, then accepted with the confirmation.
        let (st, body) = s
            .call(
                "PATCH",
                &format!("/api/v1/messages/{id}"),
                Some(&member),
                Some(json!({"body": "ring 5512345678"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["identifiers"].is_array(), "{body}");
    }
);

both_backends!(a_new_title_is_screened_too, |b| async move {
    let s = Server::start(b).await;
    let (_, member) = world(&s, "retitle").await;
    let (topic, _) = s
        .topic(&member, "retitle", "Walking group", "who wants to walk?")
        .await;
    let title = "Walks: ring 55 - 1234 - 5678";
    let (st, body) = s
        .call(
            "PATCH",
            &format!("/api/v1/topics/{topic}"),
            Some(&member),
            Some(json!({"title": title})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"]["identifiers"][0], "phone", "{body}");
    let (st, body) = s
        .call(
            "PATCH",
            &format!("/api/v1/topics/{topic}"),
            Some(&member),
            Some(json!({"title": title, "confirm_identifiers": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["title"], title);
});
