#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The session cache (issue #20.1): signed-in requests are answered from sessions kept in memory,
//! and whatever changes a session — signing out, a password change, a site role, a setting the
//! session carries — shows on the next request, on the node that made the change at once and
//! on every other node as soon as the bus carries it (PostgreSQL + Redis, two nodes).
//!
//! Each test first uses the token on every node, so that the session is kept there: without
//! the forgetting, the kept copy would answer for a minute (the cache's longest age).

use crate::common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::{Backend, PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

/// How long another node may take to hear an event over the bus (it takes milliseconds; the
/// cache would answer for a minute without it).
const BUS: Duration = Duration::from_secs(2);

/// Polls `check` until it holds, for at most [`BUS`]; panics with `what` otherwise.
async fn soon<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < BUS,
            "{what}: still not so after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(s: &Server, token: &str) -> StatusCode {
    s.get("/api/v1/me", Some(token)).await.0
}

/// The `lang` of the home page as the member with the session cookie `token` sees it.
async fn page_lang(s: &Server, token: &str) -> String {
    let html = s
        .client
        .get(s.url("/"))
        .header("cookie", format!("mutual_session={token}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    let start = html.find("<html lang=\"").expect("html lang") + "<html lang=\"".len();
    html[start..start + html[start..].find('"').expect("quote")].to_string()
}

async fn two_nodes() -> Option<(Server, Server)> {
    if !common::backend_available(Backend::Postgres) {
        return None;
    }
    let one = Server::start(Backend::Postgres).await;
    let two = Server::start_on(one.db.clone(), ServerOptions::default()).await;
    Some((one, two))
}

both_backends!(a_signed_out_token_is_refused_at_once, |b| async move {
    let s = Server::start(b).await;
    let token = s.register("gone_soon").await;
    for _ in 0..3 {
        assert_eq!(status(&s, &token).await, StatusCode::OK);
    }
    let (st, _) = s
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(status(&s, &token).await, StatusCode::UNAUTHORIZED);
});

both_backends!(a_language_change_shows_on_the_next_page, |b| async move {
    let s = Server::start(b).await;
    let token = s.register("cambia_idioma").await;
    assert_eq!(page_lang(&s, &token).await, "en");
    assert_eq!(page_lang(&s, &token).await, "en");
    let (st, body) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&token),
            Some(json!({"locale": "es"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(page_lang(&s, &token).await, "es");
});

both_backends!(
    a_password_change_signs_out_the_other_sessions_at_once,
    |b| async move {
        let s = Server::start(b).await;
        let first = s.register("new_secret").await;
        let second = s.login("new_secret").await;
        assert_eq!(status(&s, &second).await, StatusCode::OK);
        let (st, body) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&first),
                Some(json!({"password": {"current": PASSWORD, "new": "blue-heron-lantern-7"}})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(status(&s, &second).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&s, &first).await, StatusCode::OK);
    }
);

/// Signing out on node one: the token is refused on node one at once and on node two as soon as
/// the bus carries it, though node two had it kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_token_is_refused_on_every_node() {
    let Some((one, two)) = two_nodes().await else {
        return;
    };
    let token = one.register("two_places").await;
    for s in [&one, &two, &two] {
        assert_eq!(status(s, &token).await, StatusCode::OK);
    }
    let (st, _) = one
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(status(&one, &token).await, StatusCode::UNAUTHORIZED);
    soon("node two refuses the signed-out token", || async {
        status(&two, &token).await == StatusCode::UNAUTHORIZED
    })
    .await;
}

/// A password change on node one signs the member's other sessions out on both nodes; the
/// session that made it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_other_sessions_on_every_node() {
    let Some((one, two)) = two_nodes().await else {
        return;
    };
    let first = one.register("both_nodes").await;
    let second = two.login("both_nodes").await;
    for s in [&one, &two] {
        assert_eq!(status(s, &first).await, StatusCode::OK);
        assert_eq!(status(s, &second).await, StatusCode::OK);
    }
    let (st, body) = one
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&first),
            Some(json!({"password": {"current": PASSWORD, "new": "blue-heron-lantern-7"}})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(status(&one, &second).await, StatusCode::UNAUTHORIZED);
    soon("node two refuses the other session", || async {
        status(&two, &second).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(status(&one, &first).await, StatusCode::OK);
    assert_eq!(status(&two, &first).await, StatusCode::OK);
}

/// A site role granted on node one (the verified professional badge) counts on node two's next
/// requests, though node two had the session kept without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_role_counts_on_every_node() {
    let Some((one, two)) = two_nodes().await else {
        return;
    };
    let admin = one.admin().await;
    one.community(&admin, "open-door", "public", json!({}))
        .await;
    let author = one.register("asks_things").await;
    one.join(&author, "open-door").await;
    let (_, post) = one
        .topic(
            &author,
            "open-door",
            "Insulin and exercise",
            "Does exercise change my dose?",
        )
        .await;
    let nurse = one.register("nurse_rita").await;
    one.join(&nurse, "open-door").await;
    let correction = json!({"note": "Exercise can lower blood sugar; ask your care team how to adjust.", "source_url": "https://www.example.org/insulin-exercise"});
    let path = format!("/api/v1/posts/{post}/corrections");
    for s in [&one, &two] {
        let (st, body) = s.post(&path, Some(&nurse), correction.clone()).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "not verified yet: {body}");
    }
    let (st, body) = one
        .post(
            "/api/v1/admin/verifications",
            Some(&admin),
            json!({"username": "nurse_rita", "credential": "RN licence 123, state board lookup"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = one.post(&path, Some(&nurse), correction.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "node one: {body}");
    soon("node two knows the new role", || async {
        two.post(&path, Some(&nurse), correction.clone()).await.0 == StatusCode::CREATED
    })
    .await;
}

/// A language change on node one shows on node two's next page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_language_change_shows_on_every_node() {
    let Some((one, two)) = two_nodes().await else {
        return;
    };
    let token = one.register("idioma_nodos").await;
    for s in [&one, &two] {
        assert_eq!(page_lang(s, &token).await, "en");
    }
    let (st, body) = one
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&token),
            Some(json!({"locale": "hi"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(page_lang(&one, &token).await, "hi");
    soon("node two shows the new language", || async {
        page_lang(&two, &token).await == "hi"
    })
    .await;
}
