#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Drafts kept on the server (#22 point 5): the API (`/api/v1/me/drafts/{key}`), its keys and
//! limits checked at the door, each member's drafts their own (never another's, in their export,
//! erased with the account), and the pages filling them back in: after a reload, after a refused
//! form (422) and after the consent page, forgotten once the words are sent.

use crate::common;

use common::web::{self, csrf, location, web_member, web_member_without_consent};
use common::{Backend, CONSENT_VERSION, PASSWORD, Server, TestDb};
use reqwest::StatusCode;
use serde_json::json;

fn draft_path(key: &str) -> String {
    format!("/api/v1/me/drafts/{key}")
}

async fn put(s: &Server, token: &str, key: &str, body: &str) -> (StatusCode, serde_json::Value) {
    s.call(
        "PUT",
        &draft_path(key),
        Some(token),
        Some(json!({"body": body})),
    )
    .await
}

/// Drafts rows of a member, straight from the database.
async fn draft_rows(db: &TestDb, user_id: i64) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM drafts WHERE user_id = $1";
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

both_backends!(drafts_are_kept_read_and_forgotten, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "drafty", "public", json!({})).await;
    let ana = s.register("anadraft").await;
    s.join(&ana, "drafty").await;
    let (topic, _) = s.topic(&ana, "drafty", "Evening walks", "Who walks?").await;
    let (_, rooms) = s.get("/api/v1/communities/drafty/rooms", Some(&ana)).await;
    let room = rooms[0]["id"].as_i64().unwrap();

    let key = format!("topic:{topic}");
    assert_eq!(
        s.get(&draft_path(&key), Some(&ana)).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, saved) = put(&s, &ana, &key, "I walk at 6, join me").await;
    assert_eq!(st, StatusCode::OK, "{saved}");
    assert_eq!(saved["key"], key.as_str());
    assert_eq!(saved["body"], "I walk at 6, join me");
    assert!(saved["updated_at"].as_str().unwrap().ends_with('Z'));
    let (st, again) = put(&s, &ana, &key, "I walk at 7 now").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again["body"], "I walk at 7 now");
    let (st, got) = s.get(&draft_path(&key), Some(&ana)).await;
    assert_eq!(
        (st, got["body"].clone()),
        (StatusCode::OK, json!("I walk at 7 now"))
    );
    // Every kind of key; a key written with `:` encoded is the same key.
    for k in ["community:drafty".to_owned(), format!("room:{room}")] {
        assert_eq!(put(&s, &ana, &k, "words").await.0, StatusCode::OK, "{k}");
    }
    // A conversation she is not in is not found, as one that does not exist.
    assert_eq!(
        put(&s, &ana, "conversation:5", "words").await.0,
        StatusCode::NOT_FOUND
    );
    let (st, got) = s
        .get(&format!("/api/v1/me/drafts/room%3A{room}"), Some(&ana))
        .await;
    assert_eq!((st, got["body"].clone()), (StatusCode::OK, json!("words")));
    // Deleted (twice is fine); an empty draft is no draft.
    let (st, _) = s.call("DELETE", &draft_path(&key), Some(&ana), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&draft_path(&key), Some(&ana)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.call("DELETE", &draft_path(&key), Some(&ana), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (st, _) = put(&s, &ana, "community:drafty", "   ").await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get(&draft_path("community:drafty"), Some(&ana)).await.0,
        StatusCode::NOT_FOUND
    );
    // Signed in only.
    assert_eq!(
        s.get(&draft_path(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
});

both_backends!(keys_and_sizes_are_checked_at_the_door, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "doors", "public", json!({})).await;
    let ana = s.register("anadoor").await;
    let long_slug = format!("community:{}", "a".repeat(80));
    for bad in [
        "post:1",
        "topic:abc",
        "topic:-3",
        "topic:0",
        "topic:",
        "room:1.5",
        "community:Doors",
        "nothing",
        long_slug.as_str(),
    ] {
        let (st, body) = put(&s, &ana, bad, "x").await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["error"]["fields"]["key"].is_array(), "{bad}: {body}");
        let (st, _) = s.get(&draft_path(bad), Some(&ana)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let (st, body) = put(&s, &ana, "community:doors", &"x".repeat(50_001)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["body"].is_array(), "{body}");
    let (st, _) = put(&s, &ana, "community:doors", &"x".repeat(50_000)).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .call(
            "PUT",
            &draft_path("community:doors"),
            Some(&ana),
            Some(json!({"text": "x"})),
        )
        .await;
    assert!(st.is_client_error() && st != StatusCode::NOT_FOUND, "{st}");
});

both_backends!(drafts_are_their_members_own, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "ownd", "public", json!({})).await;
    s.community(&admin, "hidden", "private", json!({})).await;
    let ana = s.register("anaown").await;
    let ben = s.register("benown").await;
    s.join(&ana, "ownd").await;
    let (topic, _) = s
        .topic(&ana, "ownd", "Mine and only mine", "my words")
        .await;
    let (secret_topic, _) = s.topic(&admin, "hidden", "Private", "shh").await;
    let (_, rooms) = s
        .get("/api/v1/communities/hidden/rooms", Some(&admin))
        .await;
    let secret_room = rooms[0]["id"].as_i64().unwrap();

    let key = format!("topic:{topic}");
    put(&s, &ana, &key, "ana's words").await;
    // Ben has none under the same key, and his own changes nothing of hers.
    assert_eq!(
        s.get(&draft_path(&key), Some(&ben)).await.0,
        StatusCode::NOT_FOUND
    );
    put(&s, &ben, &key, "ben's words").await;
    s.call("DELETE", &draft_path(&key), Some(&ben), None).await;
    let (_, hers) = s.get(&draft_path(&key), Some(&ana)).await;
    assert_eq!(hers["body"], "ana's words");
    // What one may not see cannot hold a draft: 404, as for what does not exist.
    for k in [
        format!("topic:{secret_topic}"),
        format!("room:{secret_room}"),
        "community:hidden".to_owned(),
        "topic:999999".to_owned(),
        "community:nowhere".to_owned(),
    ] {
        let (st, body) = put(&s, &ben, &k, "peek").await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{k}: {body}");
    }
    assert_eq!(
        put(&s, &admin, &format!("topic:{secret_topic}"), "ok")
            .await
            .0,
        StatusCode::OK
    );

    // In the export, erased with the account.
    let (_, me) = s.get("/api/v1/me", Some(&ana)).await;
    let id = me["id"].as_i64().unwrap();
    let (_, export) = s.get("/api/v1/me/export", Some(&ana)).await;
    let rows = export["tables"]["drafts.user_id"]
        .as_array()
        .unwrap_or_else(|| panic!("drafts in the export: {}", export["tables"]));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["body"], "ana's words");
    assert_eq!(draft_rows(&s.db, id).await, 1);
    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&ana),
            Some(json!({"password": PASSWORD, "content": "remove"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(draft_rows(&s.db, id).await, 0, "erasure takes the drafts");
});

both_backends!(
    pages_restore_drafts_after_a_refusal_and_forget_them_once_sent,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "pages", "public", json!({})).await;
        let rosa = web_member(&s, "rosapage", "es").await;
        let page = web::get(&s, &rosa, "/c/pages", None).await;
        let token = csrf(&page.html);
        web::post(&s, &rosa, "/c/pages/join", &[("csrf", token.as_str())]).await;
        let starter = s.register("starterp").await;
        s.join(&starter, "pages").await;
        let (topic, _) = s
            .topic(&starter, "pages", "Sleep", "How do you sleep?")
            .await;
        let path = format!("/t/{topic}");

        // A reply refused (personal details, 422): the page keeps the words, and so does the server.
        let words = "Llámame al 55 - 1234 - 5678 y hablamos";
        let refused = web::post(
            &s,
            &rosa,
            &path,
            &[("csrf", token.as_str()), ("body", words)],
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.html
        );
        assert!(refused.html.contains(words));
        let again = web::get(&s, &rosa, &path, None).await;
        assert!(
            again.html.contains(&format!(">{words}</textarea>")),
            "restored: {}",
            again.html
        );
        assert!(
            again
                .html
                .contains(&format!("data-draft-key=\"topic:{topic}\""))
        );
        // Sent: forgotten.
        let sent = web::post(
            &s,
            &rosa,
            &path,
            &[("csrf", token.as_str()), ("body", "Duermo mejor si camino")],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        let (st, _) = rosa
            .get(s.url(&draft_path(&format!("topic:{topic}"))))
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
        assert_eq!(st, StatusCode::NOT_FOUND);
        let after = web::get(&s, &rosa, &path, None).await;
        assert!(after.html.contains("Duermo mejor si camino"));
        assert!(
            !after.html.contains("Llámame"),
            "the refused words are gone once sent"
        );

        // A new topic refused (no title): the body waits on the server for the form.
        let refused = web::post(
            &s,
            &rosa,
            "/c/pages/new",
            &[
                ("csrf", token.as_str()),
                ("title", ""),
                ("body", "Mi historia larga"),
            ],
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.html
        );
        let form = web::get(&s, &rosa, "/c/pages/new", None).await;
        assert!(
            form.html.contains(">Mi historia larga</textarea>"),
            "{}",
            form.html
        );
        assert!(form.html.contains("data-draft-key=\"community:pages\""));

        // The room's message box restores what was typed (saved by the page's script).
        let (_, rooms) = s.get("/api/v1/communities/pages/rooms", None).await;
        let room = rooms[0]["id"].as_i64().unwrap();
        let saved = rosa
            .put(s.url(&draft_path(&format!("room:{room}"))))
            .header("x-csrf-token", &token)
            .json(&json!({"body": "hola a todos"}))
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), StatusCode::OK);
        let chat = web::get(&s, &rosa, &format!("/c/pages/chat/{room}"), None).await;
        assert!(
            chat.html.contains(">hola a todos</textarea>"),
            "{}",
            chat.html
        );
        let sent = web::post(
            &s,
            &rosa,
            &format!("/c/pages/chat/{room}"),
            &[("csrf", token.as_str()), ("body", "hola a todos")],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let chat = web::get(&s, &rosa, &format!("/c/pages/chat/{room}"), None).await;
        assert!(
            !chat.html.contains(">hola a todos</textarea>"),
            "forgotten once sent"
        );
    }
);

both_backends!(the_consent_page_loses_nothing, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sleeve", "public", json!({})).await;
    // A new member who has not consented to hold health data shares a milestone with a number.
    let fay = web_member_without_consent(&s, "faydraft", "es").await;
    let page = web::get(&s, &fay, "/c/sleeve", None).await;
    let token = csrf(&page.html);
    let joined = web::post(&s, &fay, "/c/sleeve/join", &[("csrf", token.as_str())]).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);
    let path = "/c/sleeve/milestones/new";
    let form = web::get(&s, &fay, path, None).await;
    assert_eq!(form.status, StatusCode::OK);
    let words = "Hoy me puse unos vaqueros de antes";
    let refused = fay
        .post(s.url(path))
        .header("referer", s.url(path))
        .form(&[
            ("csrf", token.as_str()),
            ("title", "Vaqueros"),
            ("body", words),
            ("value", "10"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("action=\"/settings/consent\""),
        "the consent page: {html}"
    );
    assert!(
        html.contains(&format!("name=\"next\" value=\"{path}\"")),
        "{html}"
    );
    // Consent given: back to the form, with the words.
    let given = web::post(
        &s,
        &fay,
        "/settings/consent",
        &[
            ("csrf", token.as_str()),
            ("agree", "1"),
            ("version", CONSENT_VERSION),
            ("locale", "es"),
            ("next", path),
        ],
    )
    .await;
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.html);
    assert_eq!(location(&given), path);
    let back = web::get(&s, &fay, path, None).await;
    assert!(
        back.html.contains(&format!(">{words}</textarea>")),
        "{}",
        back.html
    );
    assert!(back.html.contains("value=\"Vaqueros\""), "{}", back.html);
    // The same draft, title and words, waits in the new-topic form of the group.
    let new_topic = web::get(&s, &fay, "/c/sleeve/new", None).await;
    assert!(new_topic.html.contains(words));
    assert!(
        new_topic.html.contains("value=\"Vaqueros\""),
        "{}",
        new_topic.html
    );
});

async fn put_titled(
    s: &Server,
    token: &str,
    key: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    s.call("PUT", &draft_path(key), Some(token), Some(body))
        .await
}

both_backends!(a_new_topics_draft_keeps_its_title, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "titled", "public", json!({})).await;
    let ana = s.register("anatitle").await;
    s.join(&ana, "titled").await;
    let key = "community:titled";

    // The title comes and goes with the words; left out, it stays as it was.
    let (st, d) = put_titled(
        &s,
        &ana,
        key,
        json!({"body": "my story", "title": "Knee pain again"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["title"], "Knee pain again");
    let (st, d) = put(&s, &ana, key, "my story, longer").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["title"], "Knee pain again", "{d}");
    let (_, got) = s.get(&draft_path(key), Some(&ana)).await;
    assert_eq!(
        (got["body"].as_str(), got["title"].as_str()),
        (Some("my story, longer"), Some("Knee pain again"))
    );
    // A title alone is a draft; "" forgets the title.
    let (st, d) = put_titled(&s, &ana, key, json!({"body": "", "title": "Only a title"})).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["body"], "");
    let (st, d) = put_titled(&s, &ana, key, json!({"body": "words", "title": ""})).await;
    assert_eq!(st, StatusCode::OK);
    assert!(d.get("title").is_none(), "{d}");
    // At most a title's length, and only for a new topic's draft.
    let (st, e) = put_titled(
        &s,
        &ana,
        key,
        json!({"body": "x", "title": "t".repeat(201)}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["title"].is_array(), "{e}");
    let (st, _) = put_titled(
        &s,
        &ana,
        key,
        json!({"body": "x", "title": "t".repeat(200)}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (_, rooms) = s.get("/api/v1/communities/titled/rooms", None).await;
    let room = rooms[0]["id"].as_i64().unwrap();
    let (st, e) = put_titled(
        &s,
        &ana,
        &format!("room:{room}"),
        json!({"body": "x", "title": "A title"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["title"].is_array(), "{e}");

    // The new-topic page: refused (personal details), both wait on the server for the form, in
    // the member's language; sent, both are forgotten.
    for (name, lang, title) in [
        ("rositat", "es", "Mi rodilla otra vez"),
        ("ravititle", "hi", "घुटने का दर्द फिर से"),
    ] {
        let client = web_member(&s, name, lang).await;
        let page = web::get(&s, &client, "/c/titled", None).await;
        let token = csrf(&page.html);
        web::post(&s, &client, "/c/titled/join", &[("csrf", token.as_str())]).await;
        let words = "Llámame al 55 - 1234 - 5678";
        let refused = web::post(
            &s,
            &client,
            "/c/titled/new",
            &[("csrf", token.as_str()), ("title", title), ("body", words)],
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.html
        );
        let form = web::get(&s, &client, "/c/titled/new", None).await;
        assert!(
            form.html.contains(&format!("value=\"{title}\"")),
            "{}",
            form.html
        );
        assert!(
            form.html.contains(&format!(">{words}</textarea>")),
            "{}",
            form.html
        );
        assert!(form.html.contains(&format!("lang=\"{lang}\"")));
        let sent = web::post(
            &s,
            &client,
            "/c/titled/new",
            &[
                ("csrf", token.as_str()),
                ("title", title),
                ("body", "Camino cada día"),
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        let form = web::get(&s, &client, "/c/titled/new", None).await;
        assert!(
            !form.html.contains(&format!("value=\"{title}\"")),
            "forgotten once sent"
        );
    }
});
