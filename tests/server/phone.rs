#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Phone ergonomics on the server's side (issue #24.5), as a browser without JavaScript uses the
//! pages: passwords made of common Spanish and Hindi words are refused with words that say why,
//! "Join" tapped while signed out comes back to the group joined (through the consent page when
//! the group needs it) with only same-site return addresses, and leaving a group asks first —
//! on SQLite and on PostgreSQL + Redis.

use crate::common;

use common::web::{Page, browser, csrf, get, location, post, web_member};
use common::{CONSENT_VERSION, PASSWORD, Server};
use reqwest::StatusCode;
use serde_json::json;

/// The sign-up form sent with `password` (and `next`, when given), in `lang`.
async fn sign_up(
    s: &Server,
    client: &reqwest::Client,
    username: &str,
    password: &str,
    lang: &str,
    next: Option<&str>,
    consent: bool,
) -> Page {
    let path = match next {
        Some(n) => format!("/register?next={}", urlencode(n)),
        None => "/register".to_owned(),
    };
    let form = get(s, client, &path, Some(lang)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    let token = csrf(&form.html);
    let hidden_next = regex::Regex::new(r#"name="next" value="([^"]*)""#)
        .unwrap()
        .captures(&form.html)
        .map(|c| {
            c[1].replace("&#x2f;", "/")
                .replace("&#63;", "?")
                .replace("&#61;", "=")
        })
        .unwrap_or_default();
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("username", username),
        ("password", password),
        ("locale", lang),
        ("next", hidden_next.as_str()),
    ];
    if consent {
        fields.push(("health_data_consent", CONSENT_VERSION));
    }
    // The visitor's browser keeps asking in its language.
    let resp = client
        .post(s.url("/register"))
        .header("accept-language", lang)
        .form(&fields)
        .send()
        .await
        .expect("post");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap_or_default(),
    }
}

fn urlencode(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('=', "%3D")
        .replace('&', "%26")
}

/// Whether the client's member is in `slug` (the group page offers "New topic" to members only).
async fn is_member(s: &Server, client: &reqwest::Client, slug: &str) -> bool {
    let page = get(s, client, &format!("/c/{slug}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    page.html.contains(&format!(r#"href="/c/{slug}/new""#))
}

both_backends!(
    common_spanish_and_hindi_passwords_are_refused_saying_why,
    |b| async move {
        let s = Server::start(b).await;

        // The API refuses them as common, with the field named.
        for weak in ["contraseña", "Teamo12345", "jaimatadi123", "पासवर्ड12345"] {
            let (st, body) = s
                .post(
                    "/api/v1/auth/register",
                    None,
                    json!({"username": "probe_user", "password": weak}),
                )
                .await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{weak}: {body}");
            assert!(
                body["error"]["fields"]["password"].is_array(),
                "{weak}: {body}"
            );
        }

        // The form says, in Spanish, that it is easy to guess (not that it is too short).
        let client = browser();
        let page = sign_up(&s, &client, "lucia", "contraseña2024", "es", None, true).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.html
        );
        assert!(
            page.html
                .contains("Esa contraseña es muy fácil de adivinar"),
            "{}",
            page.html
        );
        // A short one still hears about length.
        let page = sign_up(&s, &client, "lucia", "corta", "es", None, true).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            !page
                .html
                .contains("Esa contraseña es muy fácil de adivinar")
        );
        // In Hindi, for a romanised Hindi favourite.
        let page = sign_up(&s, &client, "meera", "meradil1234", "hi", None, true).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.html.contains("यह पासवर्ड बहुत आसानी से अंदाज़ा"),
            "{}",
            page.html
        );
        // A few words only the member would put together still work.
        let page = sign_up(&s, &client, "lucia", PASSWORD, "es", None, true).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    }
);

both_backends!(join_tapped_signed_out_comes_back_joined, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "walkers", "public", json!({})).await;
    s.community(&admin, "sugar", "public", json!({})).await;
    let (st, body) = s
        .call(
            "PATCH",
            "/api/v1/communities/sugar",
            Some(&admin),
            Some(json!({"condition": "type-2-diabetes", "condition_label": "Diabetes"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");

    // A visitor's "Join" leads to sign-up carrying the group.
    let visitor = browser();
    let group = get(&s, &visitor, "/c/walkers", None).await;
    assert!(
        group
            .html
            .contains(r#"href="/register?next=%2Fc%2Fwalkers%3Fjoin%3D1""#),
        "{}",
        group.html
    );
    let done = sign_up(
        &s,
        &visitor,
        "new_walker",
        PASSWORD,
        "en",
        Some("/c/walkers?join=1"),
        false,
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(location(&done), "/c/walkers");
    assert!(is_member(&s, &visitor, "walkers").await);

    // A condition group without the consent tick: the consent page first, then joined.
    let later = browser();
    let done = sign_up(
        &s,
        &later,
        "sugar_fan",
        PASSWORD,
        "es",
        Some("/c/sugar?join=1"),
        false,
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let to = location(&done);
    assert!(to.starts_with("/settings/consent?"), "{to}");
    assert!(!is_member(&s, &later, "sugar").await);
    let consent = get(&s, &later, &to, None).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    let token = csrf(&consent.html);
    let given = post(
        &s,
        &later,
        "/settings/consent",
        &[
            ("csrf", token.as_str()),
            ("agree", "1"),
            ("version", CONSENT_VERSION),
            ("locale", "es"),
            ("next", "/c/sugar?join=1"),
        ],
    )
    .await;
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.html);
    assert_eq!(location(&given), "/c/sugar");
    assert!(is_member(&s, &later, "sugar").await);

    // Logging in instead of signing up does the same.
    s.register("old_member").await;
    let returning = browser();
    let form = get(
        &s,
        &returning,
        "/login?next=%2Fc%2Fwalkers%3Fjoin%3D1",
        None,
    )
    .await;
    let token = csrf(&form.html);
    let done = post(
        &s,
        &returning,
        "/login",
        &[
            ("csrf", token.as_str()),
            ("username", "old_member"),
            ("password", PASSWORD),
            ("next", "/c/walkers?join=1"),
        ],
    )
    .await;
    assert_eq!(location(&done), "/c/walkers");
    assert!(is_member(&s, &returning, "walkers").await);

    // Only this site's paths: another site, or a join for something that is not a group, is not
    // followed.
    for (bad, expect) in [
        ("//evil.example/c/walkers?join=1", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (
            "/c/walkers/../../admin?join=1",
            "/c/walkers/../../admin?join=1",
        ),
    ] {
        let client = browser();
        let form = get(&s, &client, "/register", None).await;
        let token = csrf(&form.html);
        let name = format!("n{}", bad.len());
        let done = post(
            &s,
            &client,
            "/register",
            &[
                ("csrf", token.as_str()),
                ("username", name.as_str()),
                ("password", PASSWORD),
                ("next", bad),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{bad}: {}", done.html);
        assert_eq!(location(&done), expect, "{bad}");
    }
});

both_backends!(leaving_a_group_asks_first, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "walkers", "public", json!({})).await;
    let rosa = web_member(&s, "rosa", "en").await;
    let token = s.login("rosa").await;
    s.join(&token, "walkers").await;
    s.topic(
        &token,
        "walkers",
        "Morning walks",
        "Who walks before breakfast?",
    )
    .await;

    // The group page: topics first, the leave link last and apart.
    let page = get(&s, &rosa, "/c/walkers", None).await;
    let topic_at = page.html.find("Morning walks").expect("topic listed");
    let leave_at = page
        .html
        .find(r#"href="/c/walkers/leave""#)
        .expect("leave link");
    assert!(topic_at < leave_at, "{}", page.html);
    assert!(!page.html.contains(r#"action="/c/walkers/leave""#));

    // A leave form sent without the confirmation only asks.
    let form_token = csrf(&page.html);
    let asked = post(
        &s,
        &rosa,
        "/c/walkers/leave",
        &[("csrf", form_token.as_str())],
    )
    .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&asked), "/c/walkers/leave");
    assert!(is_member(&s, &rosa, "walkers").await);

    let question = get(&s, &rosa, "/c/walkers/leave", None).await;
    assert_eq!(question.status, StatusCode::OK, "{}", question.html);
    assert!(
        question.html.contains("Leave Community walkers?"),
        "{}",
        question.html
    );
    assert!(question.html.contains(r#"name="confirm" value="1""#));
    let left = post(
        &s,
        &rosa,
        "/c/walkers/leave",
        &[("csrf", csrf(&question.html).as_str()), ("confirm", "1")],
    )
    .await;
    assert_eq!(location(&left), "/c/walkers?left=1");
    assert!(!is_member(&s, &rosa, "walkers").await);
    let after = get(&s, &rosa, "/c/walkers?left=1", None).await;
    assert!(after.html.contains("You left the group"));

    // Not a member: the question page sends back to the group; a visitor goes to log in.
    let again = get(&s, &rosa, "/c/walkers/leave", None).await;
    assert_eq!(location(&again), "/c/walkers");
    let visitor = browser();
    let visit = get(&s, &visitor, "/c/walkers/leave", None).await;
    assert!(
        location(&visit).starts_with("/login?next="),
        "{}",
        location(&visit)
    );
});
