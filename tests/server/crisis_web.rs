#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The author sees the crisis lines wherever they wrote (issue 17): the page they land on after
//! a crisis topic or reply shows their country's lines in their language, for them alone; the
//! country setting (API, sign-up, settings page); a crisis topic's title leaves public lists
//! until a moderator reviews it; bios and titles warn about personal identifiers — on SQLite and
//! PostgreSQL + Redis.

use crate::common;

use common::Server;
use common::web::{csrf, get, location, post, web_member};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A public community and its admin's token.
async fn group(s: &Server, slug: &str) -> String {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    admin
}

async fn patch_me(s: &Server, token: &str, body: Value) -> (StatusCode, Value) {
    s.call("PATCH", "/api/v1/me", Some(token), Some(body)).await
}

/// A web member of `slug` in `locale`; their client and API token.
async fn web_joined(s: &Server, name: &str, locale: &str, slug: &str) -> (reqwest::Client, String) {
    let client = web_member(s, name, locale).await;
    let token = s.login(name).await;
    s.join(&token, slug).await;
    (client, token)
}

/// Posts a new topic through the form; the page the author is sent to, and its address.
async fn web_topic(
    s: &Server,
    client: &reqwest::Client,
    slug: &str,
    title: &str,
    body: &str,
) -> (String, String) {
    let form = get(s, client, &format!("/c/{slug}/new"), None).await;
    let token = csrf(&form.html);
    let done = post(
        s,
        client,
        &format!("/c/{slug}/new"),
        &[("csrf", &token), ("title", title), ("body", body)],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let to = location(&done);
    let page = get(s, client, &to, None).await;
    assert_eq!(page.status, StatusCode::OK);
    (to, page.html)
}

both_backends!(
    the_country_is_a_setting_in_the_api_and_the_export,
    |b| async move {
        let s = Server::start(b).await;
        // Without a choice, the language's usual country.
        let en = s.register("countryen").await;
        let (_, me) = s.get("/api/v1/me", Some(&en)).await;
        assert_eq!(me["country"], "US", "{me}");
        assert_eq!(me["country_chosen"], false);
        // At sign-up.
        let (st, body) = s
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "countryes", "password": common::PASSWORD, "locale": "es", "country": "es"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let es = body["token"].as_str().unwrap().to_owned();
        let (_, me) = s.get("/api/v1/me", Some(&es)).await;
        assert_eq!(me["country"], "ES");
        assert_eq!(me["country_chosen"], true);
        // A country without lines on file is refused.
        let (st, body) = s
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": "countryde", "password": common::PASSWORD, "country": "DE"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"].get("country").is_some(), "{body}");
        // Changed, and back to the language.
        let (st, me) = patch_me(&s, &en, json!({"country": "GB"})).await;
        assert_eq!(st, StatusCode::OK, "{me}");
        assert_eq!(me["country"], "GB");
        let (st, body) = patch_me(&s, &en, json!({"country": "XX"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // My moderation page's lines follow the country.
        let (_, mine) = s.get("/api/v1/me/moderation", Some(&en)).await;
        assert_eq!(mine["crisis_lines"][0]["phone"], "116 123", "{mine}");
        // In the export.
        let (st, export) = s.get("/api/v1/me/export", Some(&en)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(export["tables"]["users"][0]["country"], "GB", "{export}");
        let (_, me) = patch_me(&s, &en, json!({"country": ""})).await;
        assert_eq!(me["country"], "US");
        assert_eq!(me["country_chosen"], false);
    }
);

both_backends!(
    the_author_lands_on_the_lines_in_their_language,
    |b| async move {
        let s = Server::start(b).await;
        group(&s, "landing").await;
        let cases = [
            (
                "landen",
                "en",
                "I want to die, some days",
                "988",
                "24 hours, every day",
                "You can talk to someone now",
            ),
            (
                "landes",
                "es",
                "hoy quiero morir",
                "800 911 2000",
                "24 horas, todos los días",
                "Puedes hablar con alguien ahora",
            ),
            (
                "landhi",
                "hi",
                "मैं आत्महत्या के बारे में सोचता हूँ",
                "14416",
                "24 घंटे, हर दिन",
                "आप अभी किसी से बात कर सकते हैं",
            ),
        ];
        let mut last = String::new();
        for (name, locale, words, phone, hours, title) in cases {
            let (client, _) = web_joined(&s, name, locale, "landing").await;
            let (to, html) = web_topic(&s, &client, "landing", "A long week", words).await;
            assert!(to.contains("crisis=1#crisis-lines"), "{to}");
            assert!(html.contains(r#"id="crisis-lines""#), "{name}: {html}");
            assert!(html.contains(r#"role="alert""#));
            assert!(html.contains(title), "{name}: {html}");
            assert!(html.contains(phone), "{name}: {phone} in {html}");
            assert!(html.contains(hours), "{name}: {hours} in {html}");
            let tel = format!(r#"href="tel:{}""#, phone.replace(' ', ""));
            assert!(html.contains(&tel), "{name}: {tel}");
            last = to;
        }
        // Someone else at the same address sees no lines.
        let (other, _) = web_joined(&s, "landother", "en", "landing").await;
        let page = get(&s, &other, &last, None).await;
        assert!(!page.html.contains("crisis-lines"), "{}", page.html);
        // An everyday topic lands without them.
        let (to, html) = web_topic(&s, &other, "landing", "Good news", "I walked today").await;
        assert!(!to.contains("crisis"), "{to}");
        assert!(!html.contains(r#"id="crisis-lines""#));
    }
);

both_backends!(
    the_lines_follow_the_country_chosen_in_settings,
    |b| async move {
        let s = Server::start(b).await;
        group(&s, "countryweb").await;
        let (client, token) = web_joined(&s, "lucia", "es", "countryweb").await;
        let form = get(&s, &client, "/settings", None).await;
        assert!(form.html.contains(r#"<select id="country" name="country""#));
        assert!(
            form.html.contains("Según mi idioma (México)"),
            "{}",
            form.html
        );
        let csrf_token = csrf(&form.html);
        let saved = post(
            &s,
            &client,
            "/settings",
            &[
                ("csrf", &csrf_token),
                ("locale", "es"),
                ("country", "ES"),
                ("timezone", "UTC"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let (_, me) = s.get("/api/v1/me", Some(&token)).await;
        assert_eq!(me["country"], "ES");
        let again = get(&s, &client, "/settings", None).await;
        assert!(
            again.html.contains(r#"<option value="ES" selected>"#),
            "{}",
            again.html
        );
        // A reply in crisis: Spain's line first, hours in Spanish.
        let (topic, _) = s
            .topic(&token, "countryweb", "Mi semana", "fue larga")
            .await;
        let page = get(&s, &client, &format!("/t/{topic}"), None).await;
        let csrf_token = csrf(&page.html);
        let done = post(
            &s,
            &client,
            &format!("/t/{topic}"),
            &[
                ("csrf", &csrf_token),
                ("body", "a veces pienso en suicidarme"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let to = location(&done);
        assert!(to.contains("crisis=1"), "{to}");
        let landed = get(&s, &client, &to, None).await;
        let html = &landed.html;
        let spain = html.find("024").expect("Spain's line");
        let mexico = html.find("800 911 2000").unwrap_or(usize::MAX);
        assert!(spain < mexico, "{html}");
        assert!(html.contains("24 horas, todos los días"));
        // The sign-up form offers the choice too.
        let anon = common::web::browser();
        let register = get(&s, &anon, "/register", Some("hi")).await;
        assert!(register.html.contains(r#"name="country""#));
        assert!(register.html.contains("भारत"), "{}", register.html);
    }
);

both_backends!(
    a_crisis_title_leaves_the_lists_until_reviewed,
    |b| async move {
        let s = Server::start(b).await;
        let admin = group(&s, "quiet").await;
        let author = s.register("quietauthor").await;
        s.join(&author, "quiet").await;
        let other = s.register("quietother").await;
        s.join(&other, "quiet").await;
        let (crisis, _) = s
            .topic(&author, "quiet", "I want to die tonight", "I cannot go on")
            .await;
        let (plain, _) = s.topic(&author, "quiet", "Walk today", "I walked").await;
        let ids = |page: &Value| -> Vec<i64> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_i64().unwrap())
                .collect()
        };
        for (who, token) in [("visitor", None), ("other member", Some(other.as_str()))] {
            let (_, list) = s.get("/api/v1/communities/quiet/topics", token).await;
            assert!(!ids(&list).contains(&crisis), "{who}: {list}");
            assert!(ids(&list).contains(&plain), "{who}: {list}");
        }
        for token in [&author, &admin] {
            let (_, list) = s.get("/api/v1/communities/quiet/topics", Some(token)).await;
            assert!(ids(&list).contains(&crisis), "{list}");
        }
        // The web list too.
        let page = get(&s, &common::web::browser(), "/c/quiet", None).await;
        assert!(
            !page.html.contains("I want to die tonight"),
            "{}",
            page.html
        );
        assert!(page.html.contains("Walk today"));
        // A reply elsewhere in the topic does not bring the title back into search.
        s.reply(
            &author,
            crisis,
            json!({"body": "thanks for reading kettle"}),
        )
        .await;
        let (_, found) = s.get("/api/v1/search?q=kettle", Some(&other)).await;
        assert_eq!(found["items"].as_array().map(Vec::len), Some(0), "{found}");
    }
);

both_backends!(bios_and_titles_warn_about_identifiers, |b| async move {
    let s = Server::start(b).await;
    group(&s, "idents").await;
    let (client, token) = web_joined(&s, "idmember", "es", "idents").await;
    for bio in [
        "Llámame al 55 1234 5678",
        "mi número 55-1234-5678",
        "tel 55/1234/5678",
        "CURP GODE 561231 HDFRRN 09",
        "escríbeme a ana@example.org",
    ] {
        let (st, body) = patch_me(&s, &token, json!({"bio": bio})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bio}: {body}");
        assert!(
            body["error"]["fields"].get("identifiers").is_some(),
            "{bio}: {body}"
        );
    }
    let (_, me) = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me["bio"], "", "nothing saved");
    let (st, me) = patch_me(
        &s,
        &token,
        json!({"bio": "Llámame al 55 1234 5678", "confirm_identifiers": true}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["bio"], "Llámame al 55 1234 5678");
    // The settings page asks, keeps the words, and publishes once confirmed.
    let form = get(&s, &client, "/settings", None).await;
    let csrf_token = csrf(&form.html);
    let fields = [
        ("csrf", csrf_token.as_str()),
        ("locale", "es"),
        ("timezone", "UTC"),
        ("bio", "Mi correo: lu@example.org"),
    ];
    let asked = post(&s, &client, "/settings", &fields).await;
    assert_eq!(
        asked.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        asked.html
    );
    assert!(asked.html.contains("Mi correo: lu@example.org"));
    assert!(asked.html.contains(r#"name="confirm_identifiers""#));
    assert!(asked.html.contains("Sí, publicarlo"), "{}", asked.html);
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm_identifiers", "1"));
    let done = post(&s, &client, "/settings", &confirmed).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let (_, me) = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me["bio"], "Mi correo: lu@example.org");
    // Titles: a new topic and a new title.
    let (st, body) = s
        .post(
            "/api/v1/communities/idents/topics",
            Some(&token),
            json!({"title": "Llámenme 55 1234 5678", "body": "hola a todos"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"].get("identifiers").is_some());
    let (topic, _) = s.topic(&token, "idents", "Hola a todos", "hola").await;
    let (st, body) = s
        .call(
            "PATCH",
            &format!("/api/v1/topics/{topic}"),
            Some(&token),
            Some(json!({"title": "Mi CURP GODE-561231-HDFRRN-09"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"].get("identifiers").is_some(),
        "{body}"
    );
    // The web form for a new topic asks about the title, too.
    let form = get(&s, &client, "/c/idents/new", None).await;
    let csrf_token = csrf(&form.html);
    let asked = post(
        &s,
        &client,
        "/c/idents/new",
        &[
            ("csrf", &csrf_token),
            ("title", "Tel 55/1234/5678"),
            ("body", "hola"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(asked.html.contains(r#"name="confirm_identifiers""#));
});

both_backends!(
    the_no_javascript_chat_offers_to_send_anyway,
    |b| async move {
        let s = Server::start(b).await;
        group(&s, "chatids").await;
        let (client, _) = web_joined(&s, "chatid", "en", "chatids").await;
        let room = get(&s, &client, "/c/chatids/chat", None).await;
        let to = location(&room);
        let page = get(&s, &client, &to, None).await;
        let csrf_token = csrf(&page.html);
        let fields = [
            ("csrf", csrf_token.as_str()),
            ("body", "call me on 555-123-4567"),
        ];
        let asked = post(&s, &client, &to, &fields).await;
        assert_eq!(
            asked.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            asked.html
        );
        assert!(asked.html.contains("555-123-4567"), "words kept");
        assert!(
            asked.html.contains(r#"name="confirm_identifiers""#),
            "{}",
            asked.html
        );
        let mut confirmed = fields.to_vec();
        confirmed.push(("confirm_identifiers", "1"));
        let sent = post(&s, &client, &to, &confirmed).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        // A crisis message: the lines, in the member's country.
        let token = s.login("chatid").await;
        patch_me(&s, &token, json!({"country": "CA"})).await;
        let fields = [("csrf", csrf_token.as_str()), ("body", "I want to die")];
        let lines = post(&s, &client, &to, &fields).await;
        assert!(
            lines.html.contains(r#"id="crisis-lines""#),
            "{}",
            lines.html
        );
        let canada = lines
            .html
            .find("9-8-8: Suicide Crisis Helpline")
            .expect("Canada's line");
        let us = lines.html.find("Lifeline").expect("the US line");
        assert!(canada < us, "{}", lines.html);
    }
);
