#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Accounts through the real server: register, login, logout, me, profiles, sessions, CSRF,
//! rate limits and login throttling — on SQLite and on PostgreSQL + Redis.

use crate::common;

use common::{PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(register_returns_user_and_working_token, |b| async move {
    let s = Server::start(b).await;
    let (status, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "Ana_M", "password": PASSWORD, "display_name": "Ana María", "locale": "es-MX"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let user = &body["user"];
    assert_eq!(user["username"], "Ana_M");
    assert_eq!(user["display_name"], "Ana María");
    assert_eq!(user["roles"], json!(["member"]));
    assert!(user["id"].is_i64());
    let created = user["created_at"].as_str().expect("created_at");
    assert!(
        created.ends_with('Z') && created.len() == 24,
        "RFC 3339 UTC with milliseconds: {created}"
    );
    let token = body["token"].as_str().expect("token");

    let (status, me) = s.get("/api/v1/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "Ana_M");
    assert_eq!(me["locale"], "es");
    assert_eq!(me["id"], user["id"]);
});

both_backends!(registration_refuses_bad_values_by_field, |b| async move {
    let s = Server::start(b).await;
    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (
            json!({"username": "x".repeat(31), "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ana maria", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ana@example.org", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "admin", "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "ana", "password": "short"}), "password"),
        (
            json!({"username": "ana", "password": "password123"}),
            "password",
        ),
        (
            json!({"username": "ana", "password": "1234567890"}),
            "password",
        ),
        (
            json!({"username": "ana", "password": PASSWORD, "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"username": "ana", "password": PASSWORD, "locale": "fr"}),
            "locale",
        ),
        (
            json!({"username": "ana", "password": PASSWORD, "display_name": "x".repeat(51)}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = s.post("/api/v1/auth/register", None, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid");
        assert!(
            answer["error"]["fields"][field].is_array(),
            "{body} should name {field}: {answer}"
        );
    }
    // Nothing half-made: the name is still free.
    s.register("ana").await;
});

both_backends!(usernames_are_unique_ignoring_case, |b| async move {
    let s = Server::start(b).await;
    s.register("Carmen").await;
    let (status, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "cARMEN", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "username_taken");
    // Login and profiles ignore case too.
    let (status, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "CARMEN", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, profile) = s.get("/api/v1/users/carmen", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["username"], "Carmen");
});

both_backends!(emails_are_unique_and_private, |b| async move {
    let s = Server::start(b).await;
    let (status, _) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "rosa", "password": PASSWORD, "email": "Rosa@Example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "rosa2", "password": PASSWORD, "email": "rosa@example.ORG"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "email_taken");
    // Another member sees the profile, never the e-mail.
    let other = s.register("luis").await;
    let (status, profile) = s.get("/api/v1/users/rosa", Some(&other)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.get("email").is_none(), "{profile}");
    assert!(profile.get("locale").is_none(), "{profile}");
    assert!(!profile.to_string().contains("example.org"));
});

both_backends!(
    login_wrong_password_and_unknown_user_look_alike,
    |b| async move {
        let s = Server::start(b).await;
        s.register("pedro").await;
        let (status, wrong) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "pedro", "password": "not-the-password-1"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, unknown) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "nobody_here", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            wrong, unknown,
            "the answers must not reveal whether the account exists"
        );
        let (status, body) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "pedro", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["user"]["username"], "pedro");
        assert!(body["token"].as_str().is_some_and(|t| t.len() > 30));
    }
);

both_backends!(logout_revokes_the_token, |b| async move {
    let s = Server::start(b).await;
    s.register("marta").await;
    let (_, login) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "marta", "password": PASSWORD}),
        )
        .await;
    let token = login["token"].as_str().expect("token").to_string();
    let (status, _) = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    // Revoked even on another node's view of the database: a fresh server on the same data.
    let second = Server::start_on(s.db.clone(), ServerOptions::default()).await;
    let (status, _) = second.get("/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

both_backends!(forged_and_missing_tokens_are_refused, |b| async move {
    let s = Server::start(b).await;
    let real = s.register("tomas").await;
    for bad in [
        "mut_forged",
        "",
        "x",
        &format!("{real}x"),
        &real[..real.len() - 1],
    ] {
        let (status, body) = s.get("/api/v1/me", Some(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "token {bad:?}: {body}");
    }
    let (status, _) = s.get("/api/v1/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = s
        .client
        .get(s.url("/api/v1/me"))
        .header("authorization", "Basic dG9tYXM6eA==")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
});

both_backends!(a_member_edits_only_their_own_account, |b| async move {
    let s = Server::start(b).await;
    let ana = s.register("ana").await;
    let luis = s.register("luis").await;
    let (status, me) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&ana),
            Some(json!({"display_name": "Ana R", "bio": "Type 2 since 2019", "locale": "hi"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Ana R");
    assert_eq!(me["locale"], "hi");
    let (_, luis_me) = s.get("/api/v1/me", Some(&luis)).await;
    assert_eq!(luis_me["display_name"], "luis");
    assert_eq!(luis_me["bio"], "");
    let (_, profile) = s.get("/api/v1/users/ana", Some(&luis)).await;
    assert_eq!(profile["bio"], "Type 2 since 2019");
    let (status, _) = s.get("/api/v1/users/nobody_at_all", Some(&luis)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

both_backends!(password_change_signs_out_other_sessions, |b| async move {
    let s = Server::start(b).await;
    let first = s.register("lucia").await;
    let (_, login) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "lucia", "password": PASSWORD}),
        )
        .await;
    let second = login["token"].as_str().expect("token").to_string();
    let (status, body) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&first),
            Some(
                json!({"password": {"current": "wrong-password-9", "new": "blue-heron-lantern-7"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&first),
            Some(json!({"password": {"current": PASSWORD, "new": "blue-heron-lantern-7"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get("/api/v1/me", Some(&first)).await.0, StatusCode::OK);
    assert_eq!(
        s.get("/api/v1/me", Some(&second)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "lucia", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "lucia", "password": "blue-heron-lantern-7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
});

both_backends!(
    cookie_sessions_need_the_csrf_token_for_writes,
    |b| async move {
        let s = Server::start(b).await;
        s.register("elena").await;
        let jar_client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let resp = jar_client
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": "elena", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(cookie.starts_with("mutual_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(
            !cookie.contains("Secure"),
            "plain http: no Secure flag ({cookie})"
        );
        let body: serde_json::Value = resp.json().await.expect("json");
        let csrf = body["csrf_token"].as_str().expect("csrf").to_string();

        // Reads work with the cookie alone.
        let me = jar_client
            .get(s.url("/api/v1/me"))
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), StatusCode::OK);
        // A write with the cookie but no CSRF token is what a forged cross-site form looks like.
        let forged = jar_client
            .patch(s.url("/api/v1/me"))
            .json(&json!({"bio": "hacked"}))
            .send()
            .await
            .expect("patch");
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let wrong = jar_client
            .patch(s.url("/api/v1/me"))
            .header("x-csrf-token", "0".repeat(csrf.len()))
            .json(&json!({"bio": "hacked"}))
            .send()
            .await
            .expect("patch");
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let ok = jar_client
            .patch(s.url("/api/v1/me"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"bio": "hello"}))
            .send()
            .await
            .expect("patch");
        assert_eq!(ok.status(), StatusCode::OK);
        let me: serde_json::Value = jar_client
            .get(s.url("/api/v1/me"))
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        assert_eq!(me["bio"], "hello");
        // Logout through the cookie clears it and revokes the session.
        let out = jar_client
            .post(s.url("/api/v1/auth/logout"))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .expect("logout");
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        let me = jar_client
            .get(s.url("/api/v1/me"))
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }
);

both_backends!(secure_cookie_behind_https_public_url, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            extra_env: vec![(
                "MUTUAL_PUBLIC_URL".into(),
                "https://mutual.example.org".into(),
            )],
            ..Default::default()
        },
    )
    .await;
    let resp = s
        .client
        .post(s.url("/api/v1/auth/register"))
        .json(&json!({"username": "sofia", "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
});

both_backends!(login_is_throttled_after_failed_attempts, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: true,
            ..Default::default()
        },
    )
    .await;
    s.register("jorge").await;
    for _ in 0..5 {
        let (status, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "jorge", "password": "guess-guess-guess"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, with a time to wait.
    let resp = s
        .client
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "jorge", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry > 60 && retry <= 15 * 60, "retry after {retry}s");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another account is not affected.
    s.register("julia").await;
    let (status, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "julia", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
});

both_backends!(
    registration_flood_from_one_address_is_limited,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                rate_limits: true,
                ..Default::default()
            },
        )
        .await;
        let mut limited = None;
        for i in 0..30 {
            let resp = s
                .client
                .post(s.url("/api/v1/auth/register"))
                .json(&json!({"username": format!("flood{i}"), "password": PASSWORD}))
                .send()
                .await
                .expect("register");
            if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                limited = Some((i, resp.headers().get("retry-after").cloned()));
                break;
            }
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
        let (at, retry) = limited.expect("registrations were never limited");
        assert!(at >= 5, "limited too early, after {at}");
        assert!(retry.is_some(), "429 without Retry-After");
    }
);

both_backends!(rate_limits_off_lifts_the_limits, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: false,
            ..Default::default()
        },
    )
    .await;
    s.register("kim").await;
    for _ in 0..8 {
        let (status, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "kim", "password": "guess-guess-guess"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "kim", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for i in 0..25 {
        s.register(&format!("many{i}")).await;
    }
});

both_backends!(writes_per_account_are_limited, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: true,
            ..Default::default()
        },
    )
    .await;
    let token = s.register("fast").await;
    let mut limited = false;
    for i in 0..200 {
        let (status, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&token),
                Some(json!({"bio": format!("bio {i}")})),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(i >= 30, "limited after only {i} writes");
            limited = true;
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    assert!(limited, "200 quick writes were never limited");
    // Reading is still fine.
    assert_eq!(s.get("/api/v1/me", Some(&token)).await.0, StatusCode::OK);
});
