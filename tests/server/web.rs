#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The web pages through the real server, as a browser without JavaScript uses them: languages,
//! CSRF, security headers, the plain-form flow (register → join → topic → reply → react),
//! members-only stubs, settings and the page weight — on SQLite and on PostgreSQL + Redis.

use crate::common;

use common::web::{assert_csp, browser, csrf, get, lang, location, post, web_member};
use common::{PASSWORD, Server};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(every_page_answers_in_the_readers_language, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    let (topic, _) = s
        .topic(
            &admin,
            "sugar",
            "Morning numbers",
            "My sugar was good today",
        )
        .await;
    let visitor = browser();
    let pages = [
        "/".to_owned(),
        "/register".into(),
        "/login".into(),
        "/c/sugar".into(),
        format!("/t/{topic}"),
        format!("/t/{topic}?view=threaded"),
        "/search?q=sugar".into(),
        "/help".into(),
        "/settings".into(),
    ];
    for path in &pages {
        for (header, want) in [
            (None, "en"),
            (Some("es-MX,es;q=0.9,en;q=0.5"), "es"),
            (Some("hi-IN,hi;q=0.9"), "hi"),
            (Some("fr-FR"), "en"),
        ] {
            let p = get(&s, &visitor, path, header).await;
            assert_eq!(p.status, StatusCode::OK, "{path} {header:?}: {}", p.html);
            assert_eq!(lang(&p.html), want, "{path} with {header:?}");
            assert_csp(&p, path);
            assert!(p.html.contains("href=\"/help\""), "{path}: no help link");
        }
    }
    // Spanish and Hindi words, not only the attribute.
    let es = get(&s, &visitor, "/", Some("es")).await;
    assert!(es.html.contains("Pedir ayuda ahora"), "{}", es.html);
    let hi = get(&s, &visitor, "/", Some("hi")).await;
    assert!(hi.html.contains("अभी मदद लें"), "{}", hi.html);

    // A member's own setting wins over the browser's.
    let member = web_member(&s, "meera", "hi").await;
    for path in pages
        .iter()
        .chain(["/notifications".to_owned(), "/u/meera".to_owned()].iter())
    {
        if path == "/register" || path == "/login" {
            continue; // a member is sent on from these
        }
        let p = get(&s, &member, path, Some("es")).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.html);
        assert_eq!(lang(&p.html), "hi", "{path}");
        assert_csp(&p, path);
    }
    // Personal pages are kept out of search engines.
    for path in ["/notifications", "/settings", "/u/meera", "/search?q=sugar"] {
        let p = get(&s, &member, path, None).await;
        assert!(
            p.html.contains(r#"<meta name="robots" content="noindex">"#),
            "{path}"
        );
    }
});

both_backends!(
    forms_carry_csrf_and_posts_without_it_are_refused,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "heart", "public", json!({})).await;
        // Visitors' forms: a double-submit token.
        let visitor = browser();
        let login = get(&s, &visitor, "/login", None).await;
        let token = csrf(&login.html);
        assert!(
            login
                .headers
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap_or_default().starts_with("mutual_csrf=")),
            "no CSRF cookie"
        );
        let fields = [("username", "nobody"), ("password", PASSWORD)];
        let refused = post(&s, &visitor, "/login", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_csp(&refused, "/login 403");
        let forged = post(
            &s,
            &visitor,
            "/login",
            &[
                ("csrf", "not-the-token-at-all-not-the-token"),
                ("username", "x"),
                ("password", "y"),
            ],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // A browser with no cookie at all (another site's form) is refused too.
        let fresh = post(
            &s,
            &browser(),
            "/login",
            &[("csrf", &token), ("username", "x"), ("password", "y")],
        )
        .await;
        assert_eq!(fresh.status, StatusCode::FORBIDDEN);
        let wrong_password = post(
            &s,
            &visitor,
            "/login",
            &[
                ("csrf", &token),
                ("username", "nobody"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(wrong_password.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong_password.html.contains("do not match"));

        // Members' forms: the session's token.
        let member = web_member(&s, "tomas", "es").await;
        let home = get(&s, &member, "/", None).await;
        let token = csrf(&home.html);
        for html in [&home.html, &get(&s, &member, "/settings", None).await.html] {
            let forms = html.matches("<form method=\"post\"").count()
                + html
                    .matches("<form class=\"inline\" method=\"post\"")
                    .count();
            let fields = html.matches("name=\"csrf\"").count();
            assert!(
                forms > 0 && fields >= forms,
                "{forms} forms, {fields} CSRF fields"
            );
        }
        for fields in [vec![], vec![("csrf", "wrong")]] {
            let p = post(&s, &member, "/c/heart/join", &fields).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{fields:?}");
        }
        // The header the JSON API takes does not stand in for the form field.
        let p = member
            .post(s.url("/c/heart/join"))
            .header("x-csrf-token", &token)
            .form(&[("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(p.status(), StatusCode::FORBIDDEN);
        let joined = post(
            &s,
            &member,
            "/c/heart/join",
            &[("csrf", &token), ("next", "/c/heart")],
        )
        .await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&joined), "/c/heart");
        // Coming back only to our own pages.
        let p = post(
            &s,
            &member,
            "/c/heart/leave",
            &[
                ("csrf", &token),
                ("confirm", "1"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
        // Left, and back to the group's page, never to the address given.
        assert_eq!(location(&p), "/c/heart?left=1");
        // Logging out needs the token too, then the session is gone.
        assert_eq!(
            post(&s, &member, "/logout", &[]).await.status,
            StatusCode::FORBIDDEN
        );
        let out = post(&s, &member, "/logout", &[("csrf", &token)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        let after = get(&s, &member, "/notifications", None).await;
        assert_eq!(after.status, StatusCode::SEE_OTHER);
        assert!(location(&after).starts_with("/login?next=%2Fnotifications"));
    }
);

both_backends!(a_member_posts_with_plain_forms_only, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(
        &admin,
        "sleeve",
        "members",
        json!({"allow_anonymous": true, "medical_notice": true}),
    )
    .await;
    let ana = web_member(&s, "ana_m", "es").await;
    let home = get(&s, &ana, "/", None).await;
    let token = csrf(&home.html);
    assert!(home.html.contains("Unirme"), "{}", home.html);
    let joined = post(
        &s,
        &ana,
        "/c/sleeve/join",
        &[("csrf", &token), ("next", "/c/sleeve")],
    )
    .await;
    assert_eq!(location(&joined), "/c/sleeve");
    let group = get(&s, &ana, "/c/sleeve", None).await;
    assert!(group.html.contains("/c/sleeve/new"), "{}", group.html);
    let form = get(&s, &ana, "/c/sleeve/new", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains(r#"name="anonymous""#));

    // Bad fields come back with the text kept, in the member's language.
    let bad = post(
        &s,
        &ana,
        "/c/sleeve/new",
        &[
            ("csrf", &token),
            ("title", "Hi"),
            ("body", "Mi primera semana"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("El título necesita"), "{}", bad.html);
    assert!(bad.html.contains("Mi primera semana"));

    // A phone number in the text: a question first, then a confirmation.
    let body = "Mi primera semana después de la manga. Llámenme al 555-123-4567";
    let fields = [
        ("csrf", token.as_str()),
        ("title", "Mi primera semana"),
        ("body", body),
    ];
    let asked = post(&s, &ana, "/c/sleeve/new", &fields).await;
    assert_eq!(asked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        asked.html.contains("un número de teléfono"),
        "{}",
        asked.html
    );
    assert!(asked.html.contains(r#"name="confirm_identifiers""#));
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm_identifiers", "1"));
    let created = post(&s, &ana, "/c/sleeve/new", &confirmed).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let topic_url = location(&created);
    assert!(topic_url.starts_with("/t/"), "{topic_url}");
    let topic_id: i64 = topic_url[3..].parse().unwrap();

    // Another member replies to the opening post, anonymously.
    let ben = web_member(&s, "ben_k", "en").await;
    let token_b = csrf(&get(&s, &ben, "/", None).await.html);
    post(&s, &ben, "/c/sleeve/join", &[("csrf", &token_b)]).await;
    let page = get(&s, &ben, &topic_url, None).await;
    assert!(page.html.contains("not medical advice"), "{}", page.html);
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic_id}/posts"), Some(&admin))
        .await;
    let first_id = posts["items"][0]["id"].as_i64().unwrap();
    let with_reply = get(&s, &ben, &format!("{topic_url}?reply_to={first_id}"), None).await;
    assert!(
        with_reply
            .html
            .contains(&format!(r#"name="reply_to" value="{first_id}""#))
    );
    let replied = post(
        &s,
        &ben,
        &topic_url,
        &[
            ("csrf", &token_b),
            ("body", "Welcome! The first week is the hardest."),
            ("reply_to", &first_id.to_string()),
            ("anonymous", "1"),
        ],
    )
    .await;
    assert_eq!(replied.status, StatusCode::SEE_OTHER, "{}", replied.html);
    assert_eq!(location(&replied), format!("{topic_url}#post-2"));
    let flat = get(&s, &ana, &topic_url, None).await;
    assert!(flat.html.contains("The first week is the hardest"));
    assert!(flat.html.contains("Miembro anónimo"), "{}", flat.html);
    assert!(
        !flat.html.contains("ben_k"),
        "an anonymous author was named"
    );
    let threaded = get(&s, &ana, &format!("{topic_url}?view=threaded"), None).await;
    assert!(
        threaded.html.contains(r#"class="post d1" id="post-2""#),
        "{}",
        threaded.html
    );

    // Ana reacts to the reply; the button shows it and can take it back.
    let reply_id = s
        .get(&format!("/api/v1/topics/{topic_id}/posts"), Some(&admin))
        .await
        .1["items"][1]["id"]
        .as_i64()
        .unwrap();
    let reacted = post(
        &s,
        &ana,
        &format!("/p/{reply_id}/react"),
        &[
            ("csrf", &token),
            ("kind", "hug"),
            ("on", "1"),
            ("back", &format!("{topic_url}#post-2")),
        ],
    )
    .await;
    assert_eq!(reacted.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&reacted), format!("{topic_url}#post-2"));
    let page = get(&s, &ana, &topic_url, None).await;
    assert!(
        page.html
            .contains(r#"aria-pressed="true"><span aria-hidden="true">🤗</span> Abrazo <span class="count">1</span>"#),
        "{}",
        page.html
    );
    // The header counts the unread reply, in her language.
    assert!(page.html.contains("Avisos (1 nuevo)"), "{}", page.html);
    let (_, post_json) = s
        .get(&format!("/api/v1/posts/{reply_id}"), Some(&admin))
        .await;
    assert_eq!(post_json["reactions"]["hug"], 1);

    // Ana hears of the reply without its words.
    let alerts = get(&s, &ana, "/notifications", None).await;
    assert!(
        alerts.html.contains("Alguien te respondió"),
        "{}",
        alerts.html
    );
    assert!(!alerts.html.contains("hardest"));
    assert!(alerts.html.contains(&format!("/t/{topic_id}#post-2")));

    // Search marks the match.
    let found = get(&s, &ana, "/search?q=hardest", None).await;
    assert!(
        found.html.contains("<mark>hardest</mark>"),
        "{}",
        found.html
    );
});

both_backends!(members_only_topics_show_visitors_a_stub, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "private-ish", "members", json!({}))
        .await;
    s.community(&admin, "open", "public", json!({})).await;
    s.join(&admin, "private-ish").await;
    s.join(&admin, "open").await;
    let (closed, _) = s
        .topic(
            &admin,
            "private-ish",
            "After the surgery",
            "The secret words of the post",
        )
        .await;
    let (open, _) = s
        .topic(&admin, "open", "Walking club", "We walk at seven")
        .await;
    let visitor = browser();
    let stub = get(&s, &visitor, &format!("/t/{closed}"), None).await;
    assert_eq!(stub.status, StatusCode::OK);
    assert!(stub.html.contains("After the surgery"));
    assert!(!stub.html.contains("secret words"), "{}", stub.html);
    assert!(
        stub.html
            .contains("Only members of this group can read this topic")
    );
    assert!(
        stub.html
            .contains(r#"<meta name="robots" content="noindex">"#)
    );
    let group = get(&s, &visitor, "/c/private-ish", None).await;
    assert!(
        group
            .html
            .contains(r#"<meta name="robots" content="noindex">"#)
    );
    let public = get(&s, &visitor, &format!("/t/{open}"), None).await;
    assert!(public.html.contains("We walk at seven"));
    assert!(!public.html.contains("noindex"));
    // A private community does not exist for visitors: the HTML 404.
    s.community(&admin, "hidden", "private", json!({})).await;
    let hidden = get(&s, &visitor, "/c/hidden", Some("es")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(
        hidden.html.contains("No encontramos la página"),
        "{}",
        hidden.html
    );
    assert_csp(&hidden, "/c/hidden");
    let unknown = get(&s, &visitor, "/no/such/page", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.html.starts_with("<!doctype html>"));
    assert!(unknown.html.contains("href=\"/help\""));
    // Under /api it stays JSON.
    let (status, body) = s.get("/api/v1/nothing/here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
});

both_backends!(
    settings_change_text_size_filters_and_language,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "scale", "public", json!({})).await;
        s.join(&admin, "scale").await;
        let (topic, _) = s
            .topic(&admin, "scale", "Weigh-in Friday", "Starting the week")
            .await;
        s.reply(
            &admin,
            topic,
            json!({"body": "Down 4 kg this month", "content_warning": "weight"}),
        )
        .await;
        let member = web_member(&s, "carla", "en").await;
        let token = csrf(&get(&s, &member, "/settings", None).await.html);
        let saved = post(
            &s,
            &member,
            "/settings",
            &[
                ("csrf", &token),
                ("locale", "es"),
                ("text_size", "150"),
                ("filters", "weight"),
                ("filters", "food"),
            ],
        )
        .await;
        assert_eq!(location(&saved), "/settings?saved=1");
        let page = get(&s, &member, &format!("/t/{topic}"), Some("en")).await;
        assert!(
            page.html
                .starts_with("<!doctype html>\n<html lang=\"es\" class=\"ts-150\">"),
            "{}",
            &page.html[..80]
        );
        assert!(
            page.html.contains("<details class=\"cw\">"),
            "{}",
            page.html
        );
        assert!(
            page.html
                .contains("Aviso de contenido: Cifras de peso. Toca para ver.")
        );
        let settings = get(&s, &member, "/settings", None).await;
        assert!(settings.html.contains(r#"value="weight" checked"#));
        assert!(settings.html.contains(r#"value="150" checked"#));
        // The JSON API sees the same settings.
        let (_, me) = s.get("/api/v1/me", Some(&s.login("carla").await)).await;
        assert_eq!(me["text_size"], 150);
        assert_eq!(me["locale"], "es");
        assert_eq!(me["content_filters"], json!(["weight", "food"]));
        // Visitors keep theirs in cookies.
        let visitor = browser();
        let token = csrf(&get(&s, &visitor, "/settings", None).await.html);
        post(
            &s,
            &visitor,
            "/settings",
            &[("csrf", &token), ("locale", "hi"), ("text_size", "200")],
        )
        .await;
        let page = get(&s, &visitor, "/", Some("es")).await;
        assert!(
            page.html.contains("<html lang=\"hi\" class=\"ts-200\">"),
            "{}",
            &page.html[..80]
        );
    }
);

both_backends!(a_topic_page_weighs_under_60_kb_compressed, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "weight", "public", json!({})).await;
    s.join(&admin, "weight").await;
    let (topic, _) = s
        .topic(
            &admin,
            "weight",
            "How was your week?",
            "Tell us one good thing and one hard thing.",
        )
        .await;
    // A full first page: 50 posts of a few sentences each, with reactions to render.
    for i in 0..60 {
        s.reply(
            &admin,
            topic,
            json!({"body": format!("Week {i}: I walked after dinner four times and my sugar was steadier. The hard part was the weekend, with family food everywhere. **Small steps** still count.")}),
        )
        .await;
    }
    let member = web_member(&s, "weigher", "en").await;
    let token = csrf(&get(&s, &member, "/", None).await.html);
    post(&s, &member, "/c/weight/join", &[("csrf", &token)]).await;
    let fetch = |path: String| {
        let member = member.clone();
        let url = s.url(&path);
        async move {
            let resp = member
                .get(url)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            let encoding = resp
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let cache = resp
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let bytes = resp.bytes().await.unwrap();
            (encoding, cache, bytes.len())
        }
    };
    let html = get(&s, &member, &format!("/t/{topic}"), None).await.html;
    assert_eq!(html.matches(" id=\"post-").count(), 50, "one page of posts");
    let assets: Vec<String> = regex::Regex::new(r#"(?:href|src)="(/static/[^"]+)""#)
        .unwrap()
        .captures_iter(&html)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(assets.len(), 2, "{assets:?}");
    let mut total = 0;
    for path in std::iter::once(format!("/t/{topic}")).chain(assets.iter().cloned()) {
        let (encoding, cache, len) = fetch(path.clone()).await;
        assert_eq!(encoding.as_deref(), Some("gzip"), "{path}");
        if path.starts_with("/static/") {
            assert!(cache.unwrap_or_default().contains("immutable"), "{path}");
        }
        total += len;
    }
    assert!(
        total < 60 * 1024,
        "a topic page weighs {total} bytes compressed"
    );
});

both_backends!(preview_renders_sanitised_html_for_members, |b| async move {
    let s = Server::start(b).await;
    let token = s.register("previewer").await;
    let (status, body) = s
        .post(
            "/api/v1/preview",
            Some(&token),
            json!({"body": "**Hi** <script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let html = body["html"].as_str().unwrap();
    assert!(html.contains("<strong>Hi</strong>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let (status, _) = s.post("/api/v1/preview", None, json!({"body": "x"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .post("/api/v1/preview", Some(&token), json!({"body": "  "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
});

both_backends!(
    chat_page_reads_and_sends_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sugar", "public", json!({})).await;
        s.community(&admin, "sleeve", "members", json!({})).await;
        let rooms = s.get("/api/v1/communities/sugar/rooms", None).await.1;
        let room = rooms[0]["id"].as_i64().unwrap();
        let member = web_member(&s, "rosa", "es").await;
        // Not a member yet: the room is readable (public) but the page offers joining, no composer.
        let page = get(&s, &member, "/c/sugar/chat", None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&page), format!("/c/sugar/chat/{room}"));
        let page = get(&s, &member, &format!("/c/sugar/chat/{room}"), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_csp(&page, "chat");
        assert_eq!(lang(&page.html), "es");
        assert!(!page.html.contains(r#"id="composer""#));
        let token = csrf(&page.html);
        post(
            &s,
            &member,
            "/c/sugar/join",
            &[("csrf", &token), ("next", "/")],
        )
        .await;

        // A message sent with the plain form is stored and shown to everyone, rendered.
        let page = get(&s, &member, &format!("/c/sugar/chat/{room}"), None).await;
        assert!(page.html.contains(r#"id="composer""#), "{}", page.html);
        let sent = post(
            &s,
            &member,
            &format!("/c/sugar/chat/{room}"),
            &[
                ("csrf", &token),
                ("body", "Hola, I walked **20 minutes** today"),
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        assert_eq!(location(&sent), format!("/c/sugar/chat/{room}#composer"));
        let history = s
            .get(&format!("/api/v1/rooms/{room}/messages"), None)
            .await
            .1;
        assert_eq!(
            history["items"][0]["body"],
            "Hola, I walked **20 minutes** today"
        );
        let visitor = browser();
        let page = get(&s, &visitor, &format!("/c/sugar/chat/{room}"), None).await;
        assert!(
            page.html.contains("<strong>20 minutes</strong>"),
            "{}",
            page.html
        );

        // An empty message keeps the page, says why in the member's language; no CSRF, no send.
        let empty = post(
            &s,
            &member,
            &format!("/c/sugar/chat/{room}"),
            &[("csrf", &token), ("body", "   ")],
        )
        .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty.html.contains("Escribe algo primero."),
            "{}",
            empty.html
        );
        let forged = post(
            &s,
            &member,
            &format!("/c/sugar/chat/{room}"),
            &[("csrf", "wrong"), ("body", "forged")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let history = s
            .get(&format!("/api/v1/rooms/{room}/messages"), None)
            .await
            .1;
        assert_eq!(history["items"].as_array().unwrap().len(), 1);

        // A members-only group's chat is not shown to visitors, and another group's room is not here.
        let sleeve_room = s.get("/api/v1/communities/sleeve/rooms", None).await.1[0]["id"]
            .as_i64()
            .unwrap();
        let page = get(&s, &visitor, &format!("/c/sleeve/chat/{sleeve_room}"), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.html.contains(r#"id="messages""#));
        let page = get(&s, &visitor, &format!("/c/sugar/chat/{sleeve_room}"), None).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    moderation_pages_report_hide_explain_and_appeal,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sugar", "public", json!({})).await;
        let ana = web_member(&s, "ana", "en").await;
        let ben = web_member(&s, "ben", "en").await;
        let moderator = web_member(&s, "modera", "en").await;
        for name in ["ana", "ben", "modera"] {
            let token = s.login(name).await;
            s.join(&token, "sugar").await;
        }
        let (st, body) = s
            .call(
                "PUT",
                "/api/v1/communities/sugar/roles/moderator/modera",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        let ana_token = s.login("ana").await;
        let (topic, post_id) = s
            .topic(
                &ana_token,
                "sugar",
                "Fasting tips",
                "You are all lazy, just stop eating",
            )
            .await;

        // Ben reports it with the form; his own posts have no report link.
        let page = get(&s, &ben, &format!("/t/{topic}"), None).await;
        assert!(
            page.html.contains(&format!("/p/{post_id}/report")),
            "{}",
            page.html
        );
        let form = get(&s, &ben, &format!("/p/{post_id}/report"), None).await;
        assert_eq!(form.status, StatusCode::OK);
        assert_csp(&form, "report");
        let token = csrf(&form.html);
        let missing = post(
            &s,
            &ben,
            &format!("/p/{post_id}/report"),
            &[("csrf", token.as_str())],
        )
        .await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.html.contains("Please choose what is wrong."));
        let sent = post(
            &s,
            &ben,
            &format!("/p/{post_id}/report"),
            &[
                ("csrf", token.as_str()),
                ("reason", "harassment"),
                ("note", "Calling people lazy"),
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
        assert!(sent.html.contains("The moderators have it."));

        // Members read the log but not the queue; the moderator sees the case and hides the post.
        let page = get(&s, &ben, "/mod/sugar", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("Moderation log"));
        assert!(!page.html.contains("Review queue"));
        assert!(!page.html.contains("just stop eating"));
        let page = get(&s, &moderator, "/mod/sugar", None).await;
        assert!(page.html.contains("Review queue"), "{}", page.html);
        assert!(page.html.contains("just stop eating"), "{}", page.html);
        let case = regex::Regex::new(r#"name="case_id" value="(\d+)""#)
            .unwrap()
            .captures(&page.html)
            .expect("a case with a form")[1]
            .to_owned();
        let token = csrf(&page.html);
        let post_s = post_id.to_string();
        let short = post(
            &s,
            &moderator,
            "/mod/sugar/act",
            &[
                ("csrf", token.as_str()),
                ("case_id", case.as_str()),
                ("target_type", "post"),
                ("target_id", post_s.as_str()),
                ("action", "hide"),
                ("reason", "no"),
            ],
        )
        .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        let hidden = post(
            &s,
            &moderator,
            "/mod/sugar/act",
            &[
                ("csrf", token.as_str()),
                ("case_id", case.as_str()),
                ("target_type", "post"),
                ("target_id", post_s.as_str()),
                ("action", "hide"),
                ("reason", "Calling members lazy is unkind"),
            ],
        )
        .await;
        assert_eq!(hidden.status, StatusCode::SEE_OTHER, "{}", hidden.html);
        let page = get(&s, &moderator, "/mod/sugar", None).await;
        assert!(page.html.contains("Nothing is waiting"), "{}", page.html);
        assert!(page.html.contains("Calling members lazy is unkind"));

        // The author sees the post with why it was hidden; others see a placeholder.
        let page = get(&s, &ana, &format!("/t/{topic}"), None).await;
        assert!(
            page.html.contains("A moderator hid this post"),
            "{}",
            page.html
        );
        assert!(page.html.contains("Calling members lazy is unkind"));
        let page = get(&s, &ben, &format!("/t/{topic}"), None).await;
        assert!(!page.html.contains("just stop eating"));

        // The author appeals once from their own page.
        let mine = get(&s, &ana, "/me/moderation", None).await;
        assert!(
            mine.html.contains("Calling members lazy is unkind"),
            "{}",
            mine.html
        );
        let log_id = regex::Regex::new(r#"name="log_id" value="(\d+)""#)
            .unwrap()
            .captures(&mine.html)
            .expect("an appeal form")[1]
            .to_owned();
        let token = csrf(&mine.html);
        let appeal = post(
            &s,
            &ana,
            "/me/moderation/appeal",
            &[
                ("csrf", token.as_str()),
                ("log_id", log_id.as_str()),
                ("text", "I was rude, sorry; I rewrote it"),
            ],
        )
        .await;
        assert_eq!(appeal.status, StatusCode::SEE_OTHER, "{}", appeal.html);
        let again = post(
            &s,
            &ana,
            "/me/moderation/appeal",
            &[
                ("csrf", token.as_str()),
                ("log_id", log_id.as_str()),
                ("text", "Please"),
            ],
        )
        .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.html.contains("You already appealed this one."));
        // Someone else's action is not theirs to appeal.
        let ben_token = csrf(&get(&s, &ben, "/me/moderation", None).await.html);
        let other = post(
            &s,
            &ben,
            "/me/moderation/appeal",
            &[
                ("csrf", ben_token.as_str()),
                ("log_id", log_id.as_str()),
                ("text", "mine?"),
            ],
        )
        .await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
        // A post's own address leads to its place in the topic.
        let link = get(&s, &ben, &format!("/p/{post_id}"), None).await;
        assert_eq!(location(&link), format!("/t/{topic}#post-1"));
    }
);

both_backends!(
    settings_keep_a_time_zone_export_and_delete_the_account,
    |b| async move {
        let s = Server::start(b).await;
        let member = web_member(&s, "teresa", "es").await;
        let page = get(&s, &member, "/settings", None).await;
        assert!(
            page.html.contains(r#"<option value="America/Mexico_City""#),
            "{}",
            page.html
        );
        let token = csrf(&page.html);
        let saved = post(
            &s,
            &member,
            "/settings",
            &[
                ("csrf", token.as_str()),
                ("locale", "es"),
                ("text_size", "100"),
                ("timezone", "America/Mexico_City"),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        let page = get(&s, &member, "/settings", None).await;
        assert!(
            page.html
                .contains(r#"<option value="America/Mexico_City" selected>"#),
            "{}",
            page.html
        );
        // The export is a download, for the signed-in member only.
        let export = member.get(s.url("/api/v1/me/export")).send().await.unwrap();
        assert_eq!(export.status(), StatusCode::OK);
        assert!(
            export.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let data: serde_json::Value = export.json().await.unwrap();
        assert_eq!(data["user"]["username"], "teresa");

        // Deleting: the wrong password keeps the account; the right one ends it and signs out.
        let page = get(&s, &member, "/settings/delete", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_csp(&page, "delete");
        let token = csrf(&page.html);
        let wrong = post(
            &s,
            &member,
            "/settings/delete",
            &[
                ("csrf", token.as_str()),
                ("content", "remove"),
                ("password", "not my password"),
            ],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            wrong.html.contains("Esa contraseña no es correcta"),
            "{}",
            wrong.html
        );
        let forged = post(
            &s,
            &member,
            "/settings/delete",
            &[
                ("csrf", "forged"),
                ("content", "remove"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let done = post(
            &s,
            &member,
            "/settings/delete",
            &[
                ("csrf", token.as_str()),
                ("content", "remove"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert_eq!(location(&done), "/?deleted=1");
        let home = get(&s, &member, "/?deleted=1", Some("es")).await;
        assert!(
            home.html.contains("Tu cuenta está borrada"),
            "{}",
            home.html
        );
        let (st, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "teresa", "password": PASSWORD}),
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
);

/// A site admin made from the shell, signed in through the login form.
async fn web_admin(s: &Server, username: &str) -> reqwest::Client {
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        username,
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let client = browser();
    let form = get(s, &client, "/login", None).await;
    let token = csrf(&form.html);
    let done = post(
        s,
        &client,
        "/login",
        &[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    client
}

both_backends!(
    the_admin_page_starts_groups_gives_roles_and_verifies,
    |b| async move {
        let s = Server::start(b).await;
        let admin = web_admin(&s, "siteadmin").await;
        let member = web_member(&s, "nurse_ana", "en").await;
        // Members are not let in; the menu offers the page to admins only.
        let page = get(&s, &member, "/admin", None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(!page.html.contains(r#"href="/admin""#));
        let page = get(&s, &admin, "/admin", None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains(r#"href="/admin""#));
        assert!(page.html.contains("Automatic moderation rules"));
        assert_csp(&page, "admin");
        let token = csrf(&page.html);

        let bad = post(
            &s,
            &admin,
            "/admin/communities",
            &[
                ("csrf", token.as_str()),
                ("slug", "No Spaces!"),
                ("name", "Sleeve life"),
                ("visibility", "members"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.html.contains("Sleeve life"),
            "what was typed is kept: {}",
            bad.html
        );
        let made = post(
            &s,
            &admin,
            "/admin/communities",
            &[
                ("csrf", token.as_str()),
                ("slug", "sleeve-life"),
                ("name", "Sleeve life"),
                ("description", "After surgery"),
                ("visibility", "public"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        assert_eq!(location(&made), "/c/sleeve-life");
        let again = post(
            &s,
            &admin,
            "/admin/communities",
            &[
                ("csrf", token.as_str()),
                ("slug", "sleeve-life"),
                ("name", "Another"),
                ("visibility", "public"),
            ],
        )
        .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.html.contains("already taken"));
        let (st, c) = s.get("/api/v1/communities/sleeve-life", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(c["visibility"], "public");

        // Roles go only to members of the group; the moderator can then see the review queue.
        let role = [
            ("csrf", token.as_str()),
            ("slug", "sleeve-life"),
            ("username", "nurse_ana"),
            ("role", "moderator"),
        ];
        let refused = post(&s, &admin, "/admin/roles", &role).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let ana = s.login("nurse_ana").await;
        s.join(&ana, "sleeve-life").await;
        let given = post(&s, &admin, "/admin/roles", &role).await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.html);
        let queue = get(&s, &member, "/mod/sleeve-life", None).await;
        assert!(queue.html.contains("Review queue"), "{}", queue.html);

        // A credential check gives the professional badge.
        let verified = post(
            &s,
            &admin,
            "/admin/verifications",
            &[
                ("csrf", token.as_str()),
                ("username", "nurse_ana"),
                ("credential", "RN licence 12345, state board lookup"),
            ],
        )
        .await;
        assert_eq!(verified.status, StatusCode::SEE_OTHER, "{}", verified.html);
        let me = s.get("/api/v1/me", Some(&ana)).await.1;
        assert!(
            me["roles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "professional"),
            "{me}"
        );
        let nobody = post(
            &s,
            &admin,
            "/admin/verifications",
            &[
                ("csrf", token.as_str()),
                ("username", "nobody_here"),
                ("credential", "RN licence 12345"),
            ],
        )
        .await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
        let forged = post(
            &s,
            &member,
            "/admin/communities",
            &[("csrf", "x"), ("slug", "sneaky"), ("name", "Sneaky group")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
);

both_backends!(
    a_planted_session_cookie_never_becomes_the_victims_session,
    |b| async move {
        let s = Server::start(b).await;
        let attacker = s.register("mallory").await;
        s.register("victima").await;
        // The attacker plants their own session cookie in the victim's browser, then waits.
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(
            &format!("mutual_session={attacker}; Path=/"),
            &s.base.parse().unwrap(),
        );
        let victim = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // With the planted cookie the login form's CSRF token is the attacker's own, which they know.
        let token = s.get("/api/v1/me", Some(&attacker)).await.1["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let done = post(
            &s,
            &victim,
            "/login",
            &[
                ("csrf", token.as_str()),
                ("username", "victima"),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let set = done
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("mutual_session="))
            .expect("login sets a new session cookie")
            .to_owned();
        assert!(
            !set.contains(&attacker),
            "the planted token was kept: {set}"
        );
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        // The planted token is still only the attacker's own session.
        let me = s.get("/api/v1/me", Some(&attacker)).await.1;
        assert_eq!(me["username"], "mallory");
        let page = get(&s, &victim, "/settings", None).await;
        assert!(
            page.html.contains("victima"),
            "the victim is signed in as themselves"
        );
    }
);
