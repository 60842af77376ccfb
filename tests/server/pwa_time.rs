#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The installable site and local time through the real server, on SQLite and on PostgreSQL +
//! Redis: the web app manifest in each language, the service worker's address and headers, the
//! offline page; the time zone taken at sign-up (and a bogus one refused), a live session
//! scheduled in one zone read in another, and chat times on the page drawn without JavaScript.

use crate::common;

use chrono::TimeZone;
use common::web::{self, browser, csrf, location, post};
use common::{PASSWORD, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The first capture of `pattern` in `text`.
fn capture(text: &str, pattern: &str) -> String {
    let re = regex::Regex::new(pattern).unwrap();
    re.captures(text)
        .unwrap_or_else(|| panic!("no {pattern} in:\n{text}"))[1]
        .to_owned()
}

async fn fetch(
    s: &Server,
    client: &reqwest::Client,
    path: &str,
    lang: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = client.get(s.url(path));
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Signs up through the form with these extra fields; the answer.
async fn sign_up(
    s: &Server,
    client: &reqwest::Client,
    username: &str,
    locale: &str,
    extra: &[(&str, &str)],
) -> web::Page {
    let form = web::get(s, client, "/register", Some(locale)).await;
    let token = csrf(&form.html);
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("username", username),
        ("password", PASSWORD),
        ("locale", locale),
    ];
    fields.extend_from_slice(extra);
    post(s, client, "/register", &fields).await
}

async fn me(s: &Server, username: &str) -> Value {
    let token = s.login(username).await;
    let (st, body) = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

both_backends!(manifest_follows_the_readers_language, |b| async move {
    let s = Server::start(b).await;
    let visitor = browser();
    for (accept, lang) in [("es-MX,es;q=0.9", "es"), ("hi-IN", "hi"), ("en-GB", "en")] {
        let (st, headers, text) = fetch(&s, &visitor, "/manifest.webmanifest", Some(accept)).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        assert_eq!(
            header(&headers, "content-type"),
            "application/manifest+json"
        );
        let m: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["lang"], lang, "{m}");
        assert_eq!(m["dir"], "ltr");
        assert_eq!(m["start_url"], "/");
        assert_eq!(m["scope"], "/");
        assert_eq!(m["display"], "standalone");
        assert_eq!(m["short_name"], "Mutual");
        assert!(m["name"].as_str().unwrap().starts_with("Mutual"), "{m}");
        // The colours of site.css: the header's brand blue on white paper.
        assert_eq!(m["theme_color"], "#0b4f8a");
        assert_eq!(m["background_color"], "#ffffff");
        let icons = m["icons"].as_array().unwrap();
        let sizes: Vec<(&str, &str)> = icons
            .iter()
            .map(|i| (i["sizes"].as_str().unwrap(), i["purpose"].as_str().unwrap()))
            .collect();
        assert_eq!(
            sizes,
            [
                ("192x192", "any"),
                ("512x512", "any"),
                ("512x512", "maskable")
            ]
        );
        // Every icon is there, a PNG of its stated size.
        for icon in icons {
            let src = icon["src"].as_str().unwrap();
            let resp = visitor.get(s.url(src)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{src}");
            assert_eq!(header(resp.headers(), "content-type"), "image/png");
            let bytes = resp.bytes().await.unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{src}");
            let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
            let stated: u32 = icon["sizes"].as_str().unwrap()[..3].parse().unwrap();
            assert_eq!(width, stated, "{src}");
        }
        // Pages link to it.
        let home = web::get(&s, &visitor, "/", Some(accept)).await;
        assert!(
            home.html
                .contains(r#"<link rel="manifest" href="/manifest.webmanifest" crossorigin="use-credentials">"#),
            "linked with the cookies, so a member's language holds"
        );
    }
    // A member's own language wins over the browser's.
    let member = browser();
    let done = sign_up(&s, &member, "priya", "hi", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let (_, _, text) = fetch(&s, &member, "/manifest.webmanifest", Some("en")).await;
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["lang"], "hi");
});

both_backends!(service_worker_covers_the_whole_site, |b| async move {
    let s = Server::start(b).await;
    let client = browser();
    let (st, headers, js) = fetch(&s, &client, "/sw.js", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        header(&headers, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&headers, "service-worker-allowed"), "/");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    // The build's version names the caches; the stylesheet it keeps is the one pages link to.
    let version = capture(&js, r#"var VERSION = "([0-9a-f]{12})";"#);
    assert!(
        !regex::Regex::new("__[A-Z_]+__").unwrap().is_match(&js),
        "every placeholder is filled in"
    );
    let home = web::get(&s, &client, "/", None).await;
    let css = capture(&home.html, r#"<link rel="stylesheet" href="([^"]+)">"#);
    assert!(js.contains(&format!("\"{css}\"")), "{css} precached");
    assert!(js.contains("importScripts("), "push handlers imported");
    assert!(js.contains("mutual-shell-"), "{version}");
    // The push helpers' file is guarded: asking for it never breaks the site.
    let (st, _, _) = fetch(&s, &client, "/static/site.js", None).await;
    assert_eq!(st, StatusCode::OK, "a built-in file at its fixed address");

    // The offline page, in each language, holds nothing about whoever fetched it.
    let member = browser();
    let done = sign_up(&s, &member, "lucia", "es", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    for (lang, words) in [
        ("es", "Estás sin conexión"),
        ("hi", "आप ऑफ़लाइन हैं"),
        ("en", "You are offline"),
    ] {
        let (st, headers, html) = fetch(&s, &member, &format!("/offline?lang={lang}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(header(&headers, "content-type").starts_with("text/html"));
        assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
        assert!(html.contains(words), "{html}");
        assert!(!html.contains("lucia"), "no member's name: {html}");
        assert!(!html.contains("csrf"), "no token: {html}");
        assert!(!header(&headers, "content-security-policy").is_empty());
    }
});

both_backends!(sign_up_keeps_the_browsers_zone, |b| async move {
    let s = Server::start(b).await;
    // With JavaScript: the hidden field the script fills in.
    let form = web::get(&s, &browser(), "/register", Some("es")).await;
    assert!(form.html.contains(r#"name="browser_timezone""#));
    assert!(
        form.html.contains("<noscript>"),
        "the select waits for no-JS"
    );
    // The common zones come first, by country, then every other zone.
    let groups: Vec<String> = regex::Regex::new(r#"<optgroup label="([^"]+)">"#)
        .unwrap()
        .captures_iter(&form.html)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(
        groups,
        [
            "México",
            "Estados Unidos",
            "India",
            "España",
            "Reino Unido",
            "Canadá",
            "Todas las zonas horarias"
        ]
    );
    assert!(form.html.contains(r#"<option value="Africa/Nairobi">"#));
    assert!(
        form.html
            .contains(r#"<option value="America/Mexico_City" selected>"#),
        "Spanish speakers start on Mexico City"
    );

    let js = browser();
    let done = sign_up(
        &s,
        &js,
        "ana",
        "es",
        &[("browser_timezone", "America/Tijuana")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(me(&s, "ana").await["timezone"], "America/Tijuana");
    // Chromium still names Kolkata by its old name: kept under today's.
    let done = sign_up(
        &s,
        &browser(),
        "dev",
        "hi",
        &[("browser_timezone", "Asia/Calcutta")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(me(&s, "dev").await["timezone"], "Asia/Kolkata");

    // Without JavaScript: the select.
    let no_js = browser();
    let done = sign_up(&s, &no_js, "ravi", "hi", &[("timezone", "Asia/Kolkata")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(me(&s, "ravi").await["timezone"], "Asia/Kolkata");
    // Neither: UTC, to change in settings.
    let done = sign_up(&s, &browser(), "plain", "en", &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(me(&s, "plain").await["timezone"], "UTC");

    // A zone no one has heard of: the form again (in the visitor's language), saying so, with
    // the select in plain sight.
    let bogus = browser();
    let refused = sign_up(
        &s,
        &bogus,
        "marta",
        "es",
        &[("browser_timezone", "Mars/Olympus_Mons")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .html
            .contains("We do not know that time zone. Please choose one from the list."),
        "{}",
        refused.html
    );
    assert!(!refused.html.contains("<noscript>"));
    assert!(
        refused
            .html
            .contains(r#"<select id="timezone" name="timezone""#)
    );
    let (st, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "marta", "password": PASSWORD}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "no account was made");
    // The API refuses it the same way, by field.
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "marta", "password": PASSWORD, "timezone": "Nowhere/Atlantis"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("timezone"), "{body}");
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "marta", "password": PASSWORD, "timezone": "Europe/Madrid"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(me(&s, "marta").await["timezone"], "Europe/Madrid");
});

both_backends!(session_in_mexico_city_read_in_kolkata, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    // The organiser lives in London but runs the session for Mexico City.
    let orga = browser();
    let done = sign_up(&s, &orga, "orga", "en", &[("timezone", "Europe/London")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let orga_api = s.login("orga").await;
    s.join(&orga_api, "sugar").await;
    let (st, body) = s
        .call(
            "PUT",
            "/api/v1/communities/sugar/roles/organiser/orga",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    let page = web::get(&s, &orga, "/organise/sugar/sessions", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // The zone picker starts on the organiser's own zone.
    assert!(
        page.html
            .contains(r#"<option value="Europe/London" selected>"#)
    );
    let room = capture(
        &page.html,
        r#"<select id="e-room" name="room">\s*<option value="(\d+)""#,
    );
    let token = csrf(&page.html);
    let made = post(
        &s,
        &orga,
        "/organise/sugar/sessions",
        &[
            ("csrf", &token),
            ("room", &room),
            ("title", "Evening check-in"),
            ("description", ""),
            ("date", "2027-01-15"),
            ("time", "09:00"),
            ("minutes", "60"),
            ("timezone", "America/Mexico_City"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    assert_eq!(location(&made), "/organise/sugar/sessions?saved=1");
    // 09:00 in Mexico City is 15:00 UTC: the organiser reads it in London's winter time.
    let listed = web::get(&s, &orga, "/organise/sugar/sessions", None).await;
    assert!(
        listed.html.contains("15:00–16:00 GMT (London)"),
        "{}",
        listed.html
    );
    let event = capture(
        &listed.html,
        r#"<a href="/events/(\d+)">Evening check-in</a>"#,
    );

    // A member in Kolkata sees it at 20:30 her time, named as such.
    let priya = browser();
    let done = sign_up(
        &s,
        &priya,
        "priya",
        "en",
        &[("browser_timezone", "Asia/Kolkata")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let shown = web::get(&s, &priya, &format!("/events/{event}"), None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    assert!(
        shown.html.contains("20:30–21:30 IST (India — Kolkata)"),
        "{}",
        shown.html
    );
    let calendar = web::get(&s, &priya, "/c/sugar/events", None).await;
    assert!(calendar.html.contains("20:30"), "{}", calendar.html);

    // A zone that does not exist is refused, not read as UTC.
    let token = csrf(&listed.html);
    let refused = post(
        &s,
        &orga,
        "/organise/sugar/sessions",
        &[
            ("csrf", &token),
            ("room", &room),
            ("title", "Lost session"),
            ("date", "2027-01-16"),
            ("time", "09:00"),
            ("minutes", "60"),
            ("timezone", "Mars/Olympus_Mons"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("Please choose a time zone."),
        "{}",
        refused.html
    );
});

both_backends!(chat_times_on_the_page_without_javascript, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    let priya = browser();
    let done = sign_up(&s, &priya, "priya", "hi", &[("timezone", "Asia/Kolkata")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let api = s.login("priya").await;
    s.join(&api, "sugar").await;
    let first = web::get(&s, &priya, "/c/sugar/chat", None).await;
    let room_path = location(&first);
    let page = web::get(&s, &priya, &room_path, None).await;
    let token = csrf(&page.html);
    let sent = post(
        &s,
        &priya,
        &room_path,
        &[("csrf", &token), ("body", "Walked after dinner today")],
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);

    let page = web::get(&s, &priya, &room_path, None).await;
    assert!(page.html.contains("Walked after dinner today"));
    let stamp = capture(
        &page.html,
        r#"<time class="muted small when" datetime="([^"]+)">"#,
    );
    let shown = capture(
        &page.html,
        r#"<time class="muted small when" datetime="[^"]+">([^<]+)</time>"#,
    );
    // The time as it was in Kolkata, with the zone's short name.
    let at = chrono::DateTime::parse_from_rfc3339(&stamp).unwrap();
    let local = chrono_tz::Asia::Kolkata.from_utc_datetime(&at.naive_utc());
    let expected = format!("{} IST", local.format("%H:%M"));
    assert!(shown.ends_with(&expected), "{shown:?} vs {expected:?}");

    // A visitor reads the same message in UTC, where the zone's name says nothing more.
    let visitor = web::get(&s, &browser(), &room_path, None).await;
    let shown = capture(
        &visitor.html,
        r#"<time class="muted small when" datetime="[^"]+">([^<]+)</time>"#,
    );
    assert!(
        shown.ends_with(&at.naive_utc().format("%H:%M").to_string()),
        "{shown}"
    );
});
