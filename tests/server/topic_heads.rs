#![allow(clippy::expect_used, clippy::unwrap_used)]
//! On SQLite a topic view's head — the topic, its group, the viewer's membership, roles and
//! place in the topic — is kept in memory (`forum::cache::Heads`) and forgotten by the commit
//! that changes it. Each change below is made on the node that keeps the heads, and the very
//! next view must show it; then a second server starts on the same file and changes things, and
//! the first must show those too. On PostgreSQL nothing is kept and the same views hold.

use crate::common;

use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

const METRICS: &str = "heads-metrics-1";

fn options() -> ServerOptions {
    ServerOptions {
        extra_env: vec![("MUTUAL_METRICS_TOKEN".into(), METRICS.into())],
        ..ServerOptions::default()
    }
}

/// How many topic views were answered from kept heads.
async fn hits(s: &Server) -> u64 {
    s.metrics(METRICS)
        .await
        .lines()
        .filter(|l| l.starts_with("mutual_topic_head_cache_total") && l.contains("\"hit\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn topic(s: &Server, token: &str, id: i64) -> (StatusCode, Value) {
    s.get(&format!("/api/v1/topics/{id}"), Some(token)).await
}

async fn posts(s: &Server, token: &str, id: i64) -> StatusCode {
    s.get(&format!("/api/v1/topics/{id}/posts"), Some(token))
        .await
        .0
}

both_backends!(a_kept_head_never_hides_a_change, |b| async move {
    let a = Server::start_with(b, options()).await;
    let admin = a.admin().await;
    a.community(&admin, "heads", "members", json!({})).await;
    let ana = a.register("ana").await;
    let ben = a.register("ben").await;
    for t in [&ana, &ben] {
        a.join(t, "heads").await;
    }
    let (id, _) = a
        .topic(&ana, "heads", "Evening walks", "who walks after dinner?")
        .await;

    // Read again: later views are answered from memory on SQLite, never on PostgreSQL. The
    // setup's own writes (joins, the new topic's) may still be landing for a moment after, and
    // each rightly forgets the head, so views go on (up to 5 s) until two came from memory.
    let before = hits(&a).await;
    let mut views = 0;
    while views < 3 || (b == Backend::Sqlite && hits(&a).await - before < 2 && views < 50) {
        let (st, t) = topic(&a, &ben, id).await;
        assert_eq!((st, t["locked"].as_bool()), (StatusCode::OK, Some(false)));
        views += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let kept = hits(&a).await - before;
    match b {
        Backend::Sqlite => assert!(
            kept >= 2,
            "heads kept on SQLite: {kept} hits in {views} views"
        ),
        Backend::Postgres => assert_eq!(kept, 0, "nothing is kept on PostgreSQL"),
    }

    // Locked by a moderator.
    let (st, r) = a
        .post(
            "/api/v1/moderation/actions",
            Some(&admin),
            json!({"action": "lock", "target": {"type": "topic", "id": id}, "reason": "resolved"}),
        )
        .await;
    assert!(st.is_success(), "{st} {r}");
    assert_eq!(topic(&a, &ben, id).await.1["locked"], true);

    // The author renames herself.
    let (st, _) = a
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&ana),
            Some(json!({"display_name": "Ana R"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        topic(&a, &ben, id).await.1["author"]["display_name"],
        "Ana R"
    );

    // A reply moves the unread count; reading it moves it back.
    assert_eq!(posts(&a, &ben, id).await, StatusCode::OK);
    assert_eq!(topic(&a, &ben, id).await.1["unread"], 0);
    a.reply(&admin, id, json!({"body": "a walk a day"})).await;
    assert_eq!(topic(&a, &ben, id).await.1["unread"], 1);
    assert_eq!(posts(&a, &ben, id).await, StatusCode::OK);
    assert_eq!(topic(&a, &ben, id).await.1["unread"], 0);

    // Ben leaves the members-only group: the posts close to him at once.
    let (st, _) = a
        .post("/api/v1/communities/heads/leave", Some(&ben), json!({}))
        .await;
    assert!(st.is_success());
    assert_eq!(posts(&a, &ben, id).await, StatusCode::FORBIDDEN);
    assert!(topic(&a, &ben, id).await.1["author"].is_null());

    // A second server starts on the same database and deletes the topic there: the first
    // must answer 404 on its next view.
    a.join(&ben, "heads").await;
    assert_eq!(posts(&a, &ben, id).await, StatusCode::OK);
    assert_eq!(posts(&a, &ben, id).await, StatusCode::OK);
    let other = Server::start_on(a.db.clone(), options()).await;
    let (st, _) = other
            .post(
                "/api/v1/moderation/actions",
                Some(&admin),
                json!({"action": "unlock", "target": {"type": "topic", "id": id}, "reason": "open again"}),
            )
            .await;
    assert!(st.is_success(), "{st}");
    assert_eq!(topic(&a, &ben, id).await.1["locked"], false);
    let (st, _) = other
        .post("/api/v1/communities/heads/leave", Some(&ben), json!({}))
        .await;
    assert!(st.is_success());
    assert_eq!(posts(&a, &ben, id).await, StatusCode::FORBIDDEN);
});
