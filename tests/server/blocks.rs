#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Blocking and ignoring (#22 point 2, API.md v1.1 "Members to members"): the API is idempotent
//! and validated; a blocked member's mentions, replies and quotes never reach the blocker; the
//! blocker (and only the blocker) sees their posts and chat messages collapsed, in the API and
//! on the pages; the blocked member sees no difference at all; the list is the member's own and
//! goes with an erased account.

use crate::common;

use common::web::{self, web_login};
use common::{Backend, PASSWORD, Server, TestDb, ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put(s: &Server, token: &str, path: &str) -> StatusCode {
    s.call("PUT", path, Some(token), None).await.0
}

async fn delete(s: &Server, token: &str, path: &str) -> StatusCode {
    s.call("DELETE", path, Some(token), None).await.0
}

async fn blocks_of(s: &Server, token: &str) -> Vec<(String, String)> {
    let (st, list) = s.get("/api/v1/me/blocks", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["username"].as_str().unwrap().to_owned(),
                b["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn notifications(s: &Server, token: &str) -> Value {
    let (st, n) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{n}");
    n
}

/// The kinds of `token`'s notifications caused by `actor`, newest first.
async fn notified_by(s: &Server, token: &str, actor: &str) -> Vec<String> {
    notifications(s, token).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["actor"]["username"] == actor)
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A public group with `ana`, `ben` and `cyd` in it; their tokens.
async fn group(s: &Server) -> (String, String, String) {
    let admin = s.admin().await;
    s.community(&admin, "garden", "public", json!({"allow_anonymous": true}))
        .await;
    let ana = s.register("ana").await;
    let ben = s.register("ben").await;
    let cyd = s.register("cyd").await;
    for t in [&ana, &ben, &cyd] {
        s.join(t, "garden").await;
    }
    (ana, ben, cyd)
}

fn post_by<'a>(page: &'a Value, id: &Value) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == *id)
        .unwrap_or_else(|| panic!("post {id} not in {page}"))
}

both_backends!(
    block_and_ignore_are_idempotent_and_checked,
    |b| async move {
        let s = Server::start(b).await;
        let (ana, _ben, _cyd) = group(&s).await;
        // Twice is the same as once, both ways.
        for _ in 0..2 {
            assert_eq!(
                put(&s, &ana, "/api/v1/users/ben/block").await,
                StatusCode::NO_CONTENT
            );
        }
        assert_eq!(blocks_of(&s, &ana).await, [("ben".into(), "block".into())]);
        // Ignoring replaces the block (one row per pair); lifting the kind not set changes nothing.
        assert_eq!(
            put(&s, &ana, "/api/v1/users/ben/ignore").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete(&s, &ana, "/api/v1/users/ben/block").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(blocks_of(&s, &ana).await, [("ben".into(), "ignore".into())]);
        put(&s, &ana, "/api/v1/users/cyd/block").await;
        assert_eq!(
            blocks_of(&s, &ana).await,
            [
                ("ben".into(), "ignore".into()),
                ("cyd".into(), "block".into())
            ]
        );
        for _ in 0..2 {
            assert_eq!(
                delete(&s, &ana, "/api/v1/users/ben/ignore").await,
                StatusCode::NO_CONTENT
            );
            assert_eq!(
                delete(&s, &ana, "/api/v1/users/cyd/block").await,
                StatusCode::NO_CONTENT
            );
        }
        assert!(blocks_of(&s, &ana).await.is_empty());
        // Names are matched whatever their case.
        assert_eq!(
            put(&s, &ana, "/api/v1/users/BEN/block").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(blocks_of(&s, &ana).await, [("ben".into(), "block".into())]);
        delete(&s, &ana, "/api/v1/users/ben/block").await;

        // Oneself: 422 naming the field; nobody: 404; no session: 401.
        for method in ["PUT", "DELETE"] {
            for what in ["block", "ignore"] {
                let (st, body) = s
                    .call(
                        method,
                        &format!("/api/v1/users/ana/{what}"),
                        Some(&ana),
                        None,
                    )
                    .await;
                assert_eq!(
                    st,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{method} {what}: {body}"
                );
                assert!(body.to_string().contains("username"), "{body}");
                let (st, body) = s
                    .call(
                        method,
                        &format!("/api/v1/users/nobody_here/{what}"),
                        Some(&ana),
                        None,
                    )
                    .await;
                assert_eq!(st, StatusCode::NOT_FOUND, "{method} {what}: {body}");
                let (st, _) = s
                    .call(method, &format!("/api/v1/users/ben/{what}"), None, None)
                    .await;
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{method} {what}");
            }
        }
        assert_eq!(
            s.get("/api/v1/me/blocks", None).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert!(blocks_of(&s, &ana).await.is_empty());

        // The OpenAPI document describes the endpoints and the field clients collapse by.
        let (_, doc) = s.get("/api/openapi.json", None).await;
        assert!(doc["paths"]["/api/v1/users/{username}/block"]["put"].is_object());
        assert!(doc["paths"]["/api/v1/users/{username}/ignore"]["delete"].is_object());
        assert!(doc["paths"]["/api/v1/me/blocks"]["get"].is_object());
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas["Post"]["properties"]["hidden_for_you"].is_object(),
            "{}",
            schemas["Post"]
        );
        assert!(schemas["ChatMessage"]["properties"]["hidden_for_you"].is_object());
        assert_eq!(
            schemas["HiddenForYou"]["enum"],
            json!(["blocked", "ignored"])
        );
    }
);

both_backends!(a_blocked_member_cannot_notify_the_blocker, |b| async move {
    let s = Server::start(b).await;
    let (ana, ben, cyd) = group(&s).await;
    let (topic, first) = s
        .topic(&ana, "garden", "Tomatoes", "Mine split again")
        .await;
    assert_eq!(
        put(&s, &ana, "/api/v1/users/ben/block").await,
        StatusCode::NO_CONTENT
    );

    // A reply to her topic, a mention, an answer to her post, a quote of it: none reach her,
    // while the same reply still reaches cyd (so the reply did notify).
    let reply = s
        .reply(&ben, topic, json!({"body": "Water less, @ana and @cyd"}))
        .await;
    s.reply(&ben, topic, json!({"body": "Also this", "reply_to": first}))
        .await;
    s.reply(
        &ben,
        topic,
        json!({"body": format!("> Mine split\n>\n> — [ana](/p/{first})\n\nSame")}),
    )
    .await;
    // Anonymous or not, a block is about the person.
    s.reply(
        &ben,
        topic,
        json!({"body": "@ana quietly", "anonymous": true}),
    )
    .await;
    // An edit that adds a mention.
    let (st, body) = s
        .call(
            "PATCH",
            &format!("/api/v1/posts/{}", reply["id"]),
            Some(&ben),
            Some(json!({"body": "Water less, @ana and @cyd (edited, @ana)"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let n = notifications(&s, &ana).await;
    assert_eq!(n["unread"], 0, "{n}");
    assert!(n["items"].as_array().unwrap().is_empty(), "{n}");
    assert_eq!(
        s.get("/api/v1/notifications/unread", Some(&ana)).await.1["unread"],
        0
    );
    assert_eq!(notified_by(&s, &cyd, "ben").await, ["mention"]);

    // Others still reach her.
    s.reply(&cyd, topic, json!({"body": "@ana try mulch"}))
        .await;
    assert_eq!(notified_by(&s, &ana, "cyd").await, ["mention"]);

    // Ignoring does not silence: only a block does.
    put(&s, &ana, "/api/v1/users/ben/ignore").await;
    s.reply(&ben, topic, json!({"body": "@ana one more idea"}))
        .await;
    assert_eq!(notified_by(&s, &ana, "ben").await, ["mention"]);
    // And once the block is lifted, ben reaches her again.
    delete(&s, &ana, "/api/v1/users/ben/ignore").await;
    s.reply(
        &ben,
        topic,
        json!({"body": "Sorry to bother", "reply_to": first}),
    )
    .await;
    assert_eq!(notified_by(&s, &ana, "ben").await, ["reply", "mention"]);

    // A new topic mentioning her, while blocked again, is silent too.
    put(&s, &ana, "/api/v1/users/ben/block").await;
    let before = notifications(&s, &ana).await["items"]
        .as_array()
        .unwrap()
        .len();
    s.topic(&ben, "garden", "Seeds", "Anyone, @ana?").await;
    assert_eq!(
        notifications(&s, &ana).await["items"]
            .as_array()
            .unwrap()
            .len(),
        before
    );
    // Ben himself is told nothing: he still hears of cyd's replies as before, and his own
    // notifications carry no trace of ana's block.
    s.reply(
        &cyd,
        topic,
        json!({"body": "@ben good one", "reply_to": reply["id"]}),
    )
    .await;
    let bens = notifications(&s, &ben).await;
    assert!(!bens.to_string().contains("block"), "{bens}");
    assert_eq!(notified_by(&s, &ben, "cyd").await, ["mention"]);
});

both_backends!(the_blocker_alone_sees_the_posts_collapsed, |b| async move {
    let s = Server::start(b).await;
    let (ana, ben, cyd) = group(&s).await;
    let (topic, _) = s
        .topic(&cyd, "garden", "Compost", "How do you start?")
        .await;
    let post = s
        .reply(&ben, topic, json!({"body": "Leaves and coffee grounds"}))
        .await;
    let anonymous = s
        .reply(
            &ben,
            topic,
            json!({"body": "A secret tip", "anonymous": true}),
        )
        .await;
    let listing = format!("/api/v1/topics/{topic}/posts");
    let bens_before = s.get(&listing, Some(&ben)).await.1;
    let bens_post_before = s
        .get(&format!("/api/v1/posts/{}", post["id"]), Some(&ben))
        .await
        .1;
    // cyd reads first, so the page's rows are in the cache when ana reads.
    let cyds_before = s.get(&listing, Some(&cyd)).await.1;

    put(&s, &ana, "/api/v1/users/ben/block").await;
    let anas = s.get(&listing, Some(&ana)).await.1;
    let shown = post_by(&anas, &post["id"]);
    assert_eq!(shown["hidden_for_you"], "blocked", "{shown}");
    // Collapsed, not dropped: the words are there to open.
    assert_eq!(shown["body"], "Leaves and coffee grounds");
    // An anonymous post is never marked: that would name its author.
    assert!(
        post_by(&anas, &anonymous["id"])
            .get("hidden_for_you")
            .is_none()
    );
    let one = s
        .get(&format!("/api/v1/posts/{}", post["id"]), Some(&ana))
        .await
        .1;
    assert_eq!(one["hidden_for_you"], "blocked", "{one}");

    // Nobody else's view changes, from the same cached page: not cyd's, not ben's.
    assert_eq!(s.get(&listing, Some(&cyd)).await.1, cyds_before);
    assert_eq!(
        s.get(&listing, None).await.1["items"][1].get("hidden_for_you"),
        None
    );
    assert_eq!(s.get(&listing, Some(&ben)).await.1, bens_before);
    assert_eq!(
        s.get(&format!("/api/v1/posts/{}", post["id"]), Some(&ben))
            .await
            .1,
        bens_post_before
    );

    // Ignoring marks it `ignored`; undoing it shows it whole again.
    put(&s, &ana, "/api/v1/users/ben/ignore").await;
    let anas = s.get(&listing, Some(&ana)).await.1;
    assert_eq!(post_by(&anas, &post["id"])["hidden_for_you"], "ignored");
    delete(&s, &ana, "/api/v1/users/ben/ignore").await;
    let anas = s.get(&listing, Some(&ana)).await.1;
    assert!(post_by(&anas, &post["id"]).get("hidden_for_you").is_none());

    // The topic page: collapsed and openable for ana, plain for cyd and ben.
    put(&s, &ana, "/api/v1/users/ben/block").await;
    let page = format!("/t/{topic}");
    let cyd_web = web_login(&s, "cyd").await;
    let plain = web::get(&s, &cyd_web, &page, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(!plain.html.contains("kept-away"), "{}", plain.html);
    let ana_web = web_login(&s, "ana").await;
    let mine = web::get(&s, &ana_web, &page, None).await;
    assert_eq!(mine.status, StatusCode::OK);
    let at = mine
        .html
        .find("<details class=\"kept-away\">")
        .expect("collapsed post");
    let rest = &mine.html[at..];
    let close = rest.find("</details>").unwrap();
    assert!(
        rest[..close].contains("hidden: you blocked this member"),
        "{rest}"
    );
    assert!(
        rest[..close].contains("Leaves and coffee grounds"),
        "{rest}"
    );
    assert_eq!(mine.html.matches("class=\"kept-away\"").count(), 1);
    let ben_web = web_login(&s, "ben").await;
    let his = web::get(&s, &ben_web, &page, None).await;
    assert!(!his.html.contains("kept-away"));
    assert!(!his.html.contains("hidden: you"));
    // Again from the cache, in the other order: nobody gets another's page.
    assert!(
        !web::get(&s, &cyd_web, &page, None)
            .await
            .html
            .contains("kept-away")
    );
    // In Spanish and Hindi.
    let (st, _) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&ana),
            Some(json!({"locale": "es"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let es = web::get(&s, &ana_web, &page, None).await.html;
    assert!(es.contains("oculto: bloqueaste a este miembro"), "{es}");
    s.call(
        "PATCH",
        "/api/v1/me",
        Some(&ana),
        Some(json!({"locale": "hi"})),
    )
    .await;
    put(&s, &ana, "/api/v1/users/ben/ignore").await;
    let hi = web::get(&s, &ana_web, &page, None).await.html;
    assert!(hi.contains("छिपा हुआ: आप इस सदस्य को अनदेखा कर रहे हैं"), "{hi}");
});

both_backends!(
    chat_messages_are_collapsed_for_the_blocker_alone,
    |b| async move {
        let s = Server::start(b).await;
        let (ana, ben, cyd) = group(&s).await;
        let room = s
            .get("/api/v1/communities/garden/rooms", Some(&ana))
            .await
            .1[0]["id"]
            .as_i64()
            .unwrap();
        let mut socket = ws::connect(&s, &ben).await;
        ws::send(
            &mut socket,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        ws::next_op(&mut socket, "subscribed").await;
        ws::send(
            &mut socket,
            json!({"op": "send", "room": room, "body": "Anyone growing beans?", "nonce": "n1"}),
        )
        .await;
        let sent = ws::next_op(&mut socket, "message").await;
        assert!(sent["message"].get("hidden_for_you").is_none(), "{sent}");
        let history = format!("/api/v1/rooms/{room}/messages");
        let bens_before = s.get(&history, Some(&ben)).await.1;

        put(&s, &ana, "/api/v1/users/ben/block").await;
        let anas = s.get(&history, Some(&ana)).await.1;
        assert_eq!(anas["items"][0]["hidden_for_you"], "blocked", "{anas}");
        assert_eq!(anas["items"][0]["body"], "Anyone growing beans?");
        assert!(
            s.get(&history, Some(&cyd)).await.1["items"][0]
                .get("hidden_for_you")
                .is_none()
        );
        assert_eq!(s.get(&history, Some(&ben)).await.1, bens_before);

        // The chat page drawn by the server collapses it, and tells the script whom to
        // collapse live.
        let ben_id = s.get("/api/v1/users/ben", Some(&ana)).await.1["id"]
            .as_i64()
            .unwrap();
        let path = format!("/c/garden/chat/{room}");
        let ana_web = web_login(&s, "ana").await;
        let page = web::get(&s, &ana_web, &path, None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.html.contains(
                "<details class=\"kept-away\"><summary>hidden: you blocked this member</summary>"
            ),
            "{}",
            page.html
        );
        assert!(
            page.html
                .contains(&format!("data-kept-away=\"{ben_id}:blocked\"")),
            "{}",
            page.html
        );
        let cyd_web = web_login(&s, "cyd").await;
        let plain = web::get(&s, &cyd_web, &path, None).await;
        assert!(!plain.html.contains("<details class=\"kept-away\""));
        assert!(plain.html.contains("data-kept-away=\"\""));
        let ben_web = web_login(&s, "ben").await;
        assert!(
            !web::get(&s, &ben_web, &path, None)
                .await
                .html
                .contains("<details class=\"kept-away\"")
        );
    }
);

both_backends!(
    blocks_are_listed_private_and_erased_with_the_account,
    |b| async move {
        let s = Server::start(b).await;
        let (ana, ben, _cyd) = group(&s).await;
        put(&s, &ana, "/api/v1/users/ben/block").await;
        put(&s, &ana, "/api/v1/users/cyd/ignore").await;
        let (_, list) = s.get("/api/v1/me/blocks?limit=1", Some(&ana)).await;
        assert_eq!(list["items"][0]["username"], "ben");
        assert!(list["items"][0]["display_name"].is_string());
        let next = list["next"].as_str().expect("a second page");
        let (_, more) = s
            .get(
                &format!("/api/v1/me/blocks?limit=1&after={next}"),
                Some(&ana),
            )
            .await;
        assert_eq!(more["items"][0]["username"], "cyd");
        assert_eq!(more["items"][0]["kind"], "ignore");
        assert!(more["next"].is_null());
        assert_eq!(
            s.get("/api/v1/me/blocks?limit=0", Some(&ana)).await.0,
            StatusCode::BAD_REQUEST
        );
        // Ben's own list, and his export, hold nothing of it.
        assert!(blocks_of(&s, &ben).await.is_empty());
        let export = s.get("/api/v1/me/export", Some(&ben)).await.1;
        let tables = export["tables"].as_object().unwrap();
        assert!(
            tables.keys().all(|k| !k.starts_with("member_blocks")),
            "{:?}",
            tables.keys()
        );
        // Ana's export has what she did.
        let export = s.get("/api/v1/me/export", Some(&ana)).await.1;
        assert_eq!(
            export["tables"]["member_blocks.blocker_id"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{}",
            export["tables"]
        );

        // Ben erases his account: he leaves ana's list.
        let (st, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(&ben),
                Some(json!({"password": PASSWORD, "content": "anonymise"})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(blocks_of(&s, &ana).await, [("cyd".into(), "ignore".into())]);
        assert_eq!(rows_left(&s.db).await, 1);
        // Ana erases hers: her rows go with it (nobody can see them through the API any more,
        // so ask the database).
        let (st, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(&ana),
                Some(json!({"password": PASSWORD, "content": "remove"})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(rows_left(&s.db).await, 0);
    }
);

/// The rows of `member_blocks`, read from the database itself.
async fn rows_left(db: &TestDb) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM member_blocks";
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

both_backends!(blocking_from_the_pages_without_javascript, |b| async move {
    let s = Server::start(b).await;
    let (_ana, ben, _cyd) = group(&s).await;
    let ana_web = web_login(&s, "ana").await;
    // The profile offers both, as links to a page that says what they do.
    let profile = web::get(&s, &ana_web, "/u/ben", None).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert!(
        profile.html.contains("href=\"/u/ben/block\""),
        "{}",
        profile.html
    );
    assert!(profile.html.contains("href=\"/u/ben/ignore\""));
    // Not on one's own profile, nor for visitors.
    assert!(
        !web::get(&s, &ana_web, "/u/ana", None)
            .await
            .html
            .contains("/u/ana/block")
    );
    let visitor = web::browser();
    assert!(
        !web::get(&s, &visitor, "/u/ben", None)
            .await
            .html
            .contains("/u/ben/block")
    );
    assert_eq!(
        web::get(&s, &visitor, "/u/ben/block", None).await.status,
        StatusCode::SEE_OTHER
    );

    let confirm = web::get(&s, &ana_web, "/u/ben/block", None).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.html.contains("Block ben?"), "{}", confirm.html);
    assert!(confirm.html.contains("They are not told"));
    // Looking changes nothing.
    assert!(
        s.get("/api/v1/me/blocks", Some(&s.login("ana").await))
            .await
            .1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let token = web::csrf(&confirm.html);
    // Without the form's token, nothing happens.
    let refused = web::post(&s, &ana_web, "/u/ben/block", &[("on", "1")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let done = web::post(
        &s,
        &ana_web,
        "/u/ben/block",
        &[("csrf", &token), ("on", "1")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(web::location(&done), "/u/ben?kept=block");
    let after = web::get(&s, &ana_web, "/u/ben?kept=block", None).await.html;
    assert!(after.contains("Done: you blocked this member"), "{after}");
    assert!(after.contains("Unblock"));

    // The settings list it, with Undo.
    let settings = web::get(&s, &ana_web, "/settings", None).await.html;
    assert!(
        settings.contains("Blocked and ignored members"),
        "{settings}"
    );
    assert!(settings.contains("action=\"/u/ben/block\""));
    let undo = web::post(
        &s,
        &ana_web,
        "/u/ben/block",
        &[("csrf", &token), ("on", "0"), ("back", "/settings#blocks")],
    )
    .await;
    assert_eq!(web::location(&undo), "/settings#blocks");
    let settings = web::get(&s, &ana_web, "/settings", None).await.html;
    assert!(
        settings.contains("You have not blocked or ignored anyone"),
        "{settings}"
    );
    // A return address off the site goes home instead.
    let away = web::post(
        &s,
        &ana_web,
        "/u/ben/ignore",
        &[
            ("csrf", &token),
            ("on", "1"),
            ("back", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(web::location(&away), "/");
    // Oneself and unknown members are refused.
    assert_eq!(
        web::get(&s, &ana_web, "/u/ana/block", None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        web::get(&s, &ana_web, "/u/nobody_here/ignore", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        web::get(&s, &ana_web, "/u/ben/shove", None).await.status,
        StatusCode::NOT_FOUND
    );

    // Ben's view of ana's profile is as it always was.
    let ben_web = web_login(&s, "ben").await;
    let his = web::get(&s, &ben_web, "/u/ana", None).await.html;
    assert!(his.contains("href=\"/u/ana/block\""));
    assert!(!his.contains("Unblock") && !his.contains("You blocked") && !his.contains("ignoring"));
    let _ = ben;

    // Spanish and Hindi confirmation pages.
    let es = web_login(&s, "cyd").await;
    let cyd = s.login("cyd").await;
    s.call(
        "PATCH",
        "/api/v1/me",
        Some(&cyd),
        Some(json!({"locale": "es"})),
    )
    .await;
    assert!(
        web::get(&s, &es, "/u/ben/block", None)
            .await
            .html
            .contains("¿Bloquear a ben?")
    );
    s.call(
        "PATCH",
        "/api/v1/me",
        Some(&cyd),
        Some(json!({"locale": "hi"})),
    )
    .await;
    assert!(
        web::get(&s, &es, "/u/ben/ignore", None)
            .await
            .html
            .contains("ben को अनदेखा करें?")
    );
});

/// The `<details class="kept-away">` holding `words` in a page, if any.
fn folded_around<'a>(html: &'a str, words: &str) -> Option<&'a str> {
    html.match_indices("<details class=\"kept-away\">")
        .map(|(at, _)| {
            let rest = &html[at..];
            &rest[..rest.find("</details>").unwrap_or(rest.len())]
        })
        .find(|d| d.contains(words))
}

both_backends!(
    the_blocker_sees_topics_and_milestones_of_blocked_members_folded,
    |b| async move {
        let s = Server::start(b).await;
        let (ana, ben, cyd) = group(&s).await;
        let (tomato, _) = s
            .topic(&ben, "garden", "Tomato season again", "Mine are late")
            .await;
        // cyd's words in ben's topic: found by search, folded there for who blocks ben.
        s.reply(&cyd, tomato, json!({"body": "Try seaweed feed"}))
            .await;
        s.topic(&cyd, "garden", "Compost corner", "How do you start?")
            .await;
        let (st, m) = s
            .post(
                "/api/v1/communities/garden/topics",
                Some(&ben),
                json!({"title": "Walked to the allotment", "body": "All the way there", "kind": "milestone", "milestone": {"type": "non_scale_victory", "visibility": "community"}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
        // Others read first, so nothing they see may come from what ana sees, or the reverse.
        let list = "/api/v1/communities/garden/topics";
        let feed = "/api/v1/communities/garden/milestones";
        let cyds_list = s.get(list, Some(&cyd)).await.1;
        let cyds_feed = s.get(feed, Some(&cyd)).await.1;
        let bens_list = s.get(list, Some(&ben)).await.1;

        put(&s, &ana, "/api/v1/users/ben/block").await;
        let anas = s.get(list, Some(&ana)).await.1;
        for t in anas["items"].as_array().unwrap() {
            let by_ben = t["author"]["username"] == "ben";
            assert_eq!(t.get("hidden_for_you").is_some(), by_ben, "{t}");
            if by_ben {
                assert_eq!(t["hidden_for_you"], "blocked");
                assert!(t["title"].is_string(), "folded, not dropped");
            }
        }
        let anas_feed = s.get(feed, Some(&ana)).await.1;
        assert_eq!(
            anas_feed["items"][0]["hidden_for_you"], "blocked",
            "{anas_feed}"
        );
        assert_eq!(s.get(list, Some(&cyd)).await.1, cyds_list);
        assert_eq!(s.get(feed, Some(&cyd)).await.1, cyds_feed);
        assert_eq!(s.get(list, Some(&ben)).await.1, bens_list);
        assert!(
            !s.get(list, None)
                .await
                .1
                .to_string()
                .contains("hidden_for_you")
        );

        // The pages: folded and openable for ana (the title inside), plain for the others.
        let ana_web = web_login(&s, "ana").await;
        for path in ["/c/garden", "/c/garden/milestones", "/search?q=seaweed"] {
            let page = web::get(&s, &ana_web, path, None).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            let title = if path.contains("milestones") {
                "Walked to the allotment"
            } else {
                "Tomato season again"
            };
            let folded = folded_around(&page.html, title)
                .unwrap_or_else(|| panic!("{path}: not folded: {}", page.html));
            assert!(
                folded.contains("<summary>hidden: you blocked this member</summary>"),
                "{folded}"
            );
            assert!(
                folded_around(&page.html, "Compost corner").is_none(),
                "{path}"
            );
        }
        for who in ["cyd", "ben"] {
            let client = web_login(&s, who).await;
            for path in ["/c/garden", "/c/garden/milestones", "/search?q=seaweed"] {
                let page = web::get(&s, &client, path, None).await;
                assert!(!page.html.contains("kept-away"), "{who} {path}");
            }
        }
        // Ignoring folds it too, in the member's language.
        put(&s, &ana, "/api/v1/users/ben/ignore").await;
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&ana),
                Some(json!({"locale": "es"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let page = web::get(&s, &ana_web, "/c/garden", None).await;
        let folded = folded_around(&page.html, "Tomato season again").expect("folded");
        assert!(
            folded.contains("<summary>oculto: estás ignorando a este miembro</summary>"),
            "{folded}"
        );
    }
);

both_backends!(
    a_blocked_members_milestones_are_folded_on_their_timeline_and_topic,
    |b| async move {
        let s = Server::start(b).await;
        let (ana, ben, cyd) = group(&s).await;
        let milestone = |token: String, title: &'static str| {
            let s = &s;
            async move {
                let (st, m) = s
                    .post(
                        "/api/v1/communities/garden/topics",
                        Some(&token),
                        json!({"title": title, "body": "One step at a time", "kind": "milestone", "milestone": {"type": "non_scale_victory", "visibility": "community"}}),
                    )
                    .await;
                assert_eq!(st, StatusCode::CREATED, "{m}");
                m["topic"]["id"].as_i64().unwrap()
            }
        };
        let bens = milestone(ben.clone(), "Walked to the allotment").await;
        let cyds = milestone(cyd.clone(), "Cooked for the family").await;
        // Ben's word under Cyd's milestone; Cyd's under Ben's.
        s.reply(&ben, cyds, json!({"body": "Proud of you, from ben"}))
            .await;
        s.reply(&cyd, bens, json!({"body": "Well done, from cyd"}))
            .await;
        let timeline = "/api/v1/users/ben/milestones";
        let cyds_view = s.get(timeline, Some(&cyd)).await.1;

        put(&s, &ana, "/api/v1/users/ben/block").await;
        let anas = s.get(timeline, Some(&ana)).await.1;
        assert_eq!(anas["items"][0]["hidden_for_you"], "blocked", "{anas}");
        assert_eq!(anas["items"][0]["title"], "Walked to the allotment");
        assert_eq!(s.get(timeline, Some(&cyd)).await.1, cyds_view);
        let cyds_timeline = s.get("/api/v1/users/cyd/milestones", Some(&ana)).await.1;
        assert!(
            !cyds_timeline.to_string().contains("hidden_for_you"),
            "{cyds_timeline}"
        );

        // Ben's profile: his milestones folded for ana, openable, the title inside.
        let ana_web = web_login(&s, "ana").await;
        let profile = web::get(&s, &ana_web, "/u/ben", None).await;
        assert_eq!(profile.status, StatusCode::OK);
        let folded = folded_around(&profile.html, "Walked to the allotment")
            .unwrap_or_else(|| panic!("not folded: {}", profile.html));
        assert!(
            folded.contains("<summary>hidden: you blocked this member</summary>"),
            "{folded}"
        );
        assert!(folded.contains("milestone-head"), "{folded}");
        // His milestone's topic: the banner folded with his words; Cyd's answer open.
        let topic = web::get(&s, &ana_web, &format!("/t/{bens}"), None).await;
        let folded = folded_around(&topic.html, "One step at a time")
            .unwrap_or_else(|| panic!("not folded: {}", topic.html));
        assert!(folded.contains("milestone-head"), "{folded}");
        assert_eq!(
            topic.html.matches("class=\"milestone-head\"").count(),
            1,
            "the banner only inside the fold: {}",
            topic.html
        );
        assert!(folded_around(&topic.html, "Well done, from cyd").is_none());
        assert!(topic.html.contains("Well done, from cyd"));
        // Cyd's milestone stays open; Ben's word under it is folded.
        let topic = web::get(&s, &ana_web, &format!("/t/{cyds}"), None).await;
        assert!(folded_around(&topic.html, "Proud of you, from ben").is_some());
        assert!(folded_around(&topic.html, "One step at a time").is_none());
        let profile = web::get(&s, &ana_web, "/u/cyd", None).await;
        assert!(!profile.html.contains("kept-away"), "{}", profile.html);
        // Nobody else sees a fold.
        let cyd_web = web_login(&s, "cyd").await;
        for path in ["/u/ben".to_owned(), format!("/t/{bens}")] {
            let page = web::get(&s, &cyd_web, &path, None).await;
            assert!(!page.html.contains("kept-away"), "{path}");
        }

        // Ignoring folds them too, in the member's language.
        put(&s, &ana, "/api/v1/users/ben/ignore").await;
        s.set_locale(&ana, "hi").await;
        let profile = web::get(&s, &ana_web, "/u/ben", None).await;
        let folded = folded_around(&profile.html, "Walked to the allotment").expect("folded");
        assert!(
            folded.contains("<summary>छिपा हुआ: आप इस सदस्य को अनदेखा कर रहे हैं</summary>"),
            "{folded}"
        );
    }
);
