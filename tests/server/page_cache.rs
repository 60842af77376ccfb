#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Topic pages are kept in memory between views (`forum::cache`): a kept page must never hide a
//! change. Each change is made on a second node sharing the database, and the first node — which
//! holds the page — must show it on the very next view, as JSON and as HTML. Member counts, now
//! kept by the database, follow joins and leaves on either node.

use crate::common;

use common::{Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn page(s: &Server, topic: i64) -> Value {
    let (st, page) = s
        .get(&format!("/api/v1/topics/{topic}/posts?limit=20"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page
}

async fn html(s: &Server, topic: i64) -> String {
    let resp = reqwest::get(s.url(&format!("/t/{topic}")))
        .await
        .expect("page");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("html")
}

async fn count(s: &Server) -> Option<i64> {
    s.get("/api/v1/communities/counted", None).await.1["member_count"].as_i64()
}

/// Views the page twice on `a` (so it is kept), then checks what `seen` says about it.
async fn views_until_changed(a: &Server, topic: i64) -> (Value, String) {
    (page(a, topic).await, html(a, topic).await)
}

both_backends!(
    a_kept_page_shows_every_change_made_anywhere,
    |b| async move {
        let a = Server::start(b).await;
        let other = Server::start_on(a.db.clone(), ServerOptions::default()).await;
        let admin = a.admin().await;
        a.community(&admin, "kept", "public", json!({})).await;
        let ana = a.register("ana").await;
        let ben = a.register("ben").await;
        for t in [&ana, &ben] {
            a.join(t, "kept").await;
        }
        let (topic, first) = a
            .topic(&ana, "kept", "Walking after dinner", "first words")
            .await;
        let reply = a
            .reply(&ben, topic, json!({"body": "a reply from ben"}))
            .await;
        let reply_id = reply["id"].as_i64().unwrap();

        // Kept on the first node.
        for _ in 0..2 {
            let (p, h) = views_until_changed(&a, topic).await;
            assert_eq!(p["items"][0]["body"], "first words");
            assert!(h.contains("first words"));
        }

        // An edit on the other node.
        let (st, _) = other
            .call(
                "PATCH",
                &format!("/api/v1/posts/{first}"),
                Some(&ana),
                Some(json!({"body": "second words"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (p, h) = views_until_changed(&a, topic).await;
        assert_eq!(p["items"][0]["body"], "second words", "{p}");
        assert!(h.contains("second words") && !h.contains("first words"));

        // A reaction.
        let (st, _) = other
            .post(
                &format!("/api/v1/posts/{first}/reactions"),
                Some(&ben),
                json!({"kind": "hug"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (p, _) = views_until_changed(&a, topic).await;
        assert_eq!(p["items"][0]["reactions"], json!({"hug": 1}), "{p}");

        // A new reply.
        other
            .reply(&ana, topic, json!({"body": "a newer reply"}))
            .await;
        let (p, h) = views_until_changed(&a, topic).await;
        assert_eq!(p["items"].as_array().unwrap().len(), 3, "{p}");
        assert!(h.contains("a newer reply"));

        // Hidden by a moderator: visitors see a placeholder at once.
        let (st, hid) = other
        .post(
            "/api/v1/moderation/actions",
            Some(&admin),
            json!({"action": "hide", "target": {"type": "post", "id": reply_id}, "reason": "off topic"}),
        )
        .await;
        assert!(st.is_success(), "{st} {hid}");
        let (p, h) = views_until_changed(&a, topic).await;
        assert_eq!(p["items"][1]["deleted"], true, "{p}");
        assert!(
            !h.contains("a reply from ben"),
            "hidden words still on the page"
        );

        // Deleted by its author (a reply: deleting the opening post removes the topic).
        let newest = p["items"][2]["id"].as_i64().unwrap();
        let (st, _) = other
            .call(
                "DELETE",
                &format!("/api/v1/posts/{newest}"),
                Some(&ana),
                None,
            )
            .await;
        assert!(st.is_success(), "{st}");
        let (p, h) = views_until_changed(&a, topic).await;
        assert_eq!(p["items"][2]["deleted"], true, "{p}");
        assert!(!h.contains("a newer reply"));

        // A correction from a moderator on the opening post.
        let (st, c) = other
        .post(
            &format!("/api/v1/posts/{first}/corrections"),
            Some(&admin),
            json!({"note": "Walking after meals lowers blood sugar for most people.", "source_url": "https://www.example.org/walking"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{c}");
        let (p, _) = views_until_changed(&a, topic).await;
        assert_eq!(
            p["items"][0]["corrections"].as_array().map(Vec::len),
            Some(1),
            "{p}"
        );
    }
);

both_backends!(member_counts_follow_joins_and_leaves, |b| async move {
    let a = Server::start(b).await;
    let other = Server::start_on(a.db.clone(), ServerOptions::default()).await;
    let admin = a.admin().await;
    a.community(&admin, "counted", "public", json!({})).await;
    let start = count(&a).await.unwrap();
    let ana = a.register("ana").await;
    let ben = a.register("ben").await;
    a.join(&ana, "counted").await;
    other.join(&ben, "counted").await;
    assert_eq!(count(&a).await, Some(start + 2));
    assert_eq!(count(&other).await, Some(start + 2));
    // Joining twice counts once.
    a.join(&ana, "counted").await;
    assert_eq!(count(&a).await, Some(start + 2));
    let (st, _) = other
        .call(
            "POST",
            "/api/v1/communities/counted/leave",
            Some(&ana),
            None,
        )
        .await;
    assert!(st.is_success(), "{st}");
    assert_eq!(count(&a).await, Some(start + 1));
    // An erased account leaves the count too.
    let (st, body) = a
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&ben),
            Some(json!({"password": common::PASSWORD, "content": "remove"})),
        )
        .await;
    assert!(st.is_success(), "{st} {body}");
    assert_eq!(count(&other).await, Some(start));
    // The directory says the same.
    let (_, dir) = a.get("/api/v1/directory?q=counted", None).await;
    let listed = dir["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["slug"] == "counted"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["member_count"].as_i64(), Some(start), "{dir}");
});
