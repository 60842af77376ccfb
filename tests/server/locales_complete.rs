#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Spanish and Hindi pages hold no English from the English locale file: every page a visitor,
//! a member, a moderator, an organiser and a site admin can reach (with something on it: a
//! topic, a report, a held post, a live session, a circle, a referral, a refused chat message,
//! refused forms) is rendered in es and hi through the real server, and none may show a
//! sentence of three words or more of `web/locales/en.toml` that the other language does not
//! share on purpose. Also: counts read in their grammatical form, and weights default to the
//! member's country's unit. On SQLite and on PostgreSQL + Redis.
//!
//! `LOCALES_DUMP=<dir>` writes each page's text there, to read for English that never went
//! through the locale files at all.

use crate::common;

use std::collections::HashMap;

use common::web::{self, Page, browser, csrf, post, web_login, web_member};
use common::{PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

const EN: &str = include_str!("../../web/locales/en.toml");
const ES: &str = include_str!("../../web/locales/es.toml");
const HI: &str = include_str!("../../web/locales/hi.toml");

/// `table.key` (and `table.key.one` for a plural form) → text.
fn flatten(source: &str) -> HashMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                toml::Value::Table(t) => walk(&key, t, out),
                other => panic!("{key}: {other:?} is not text"),
            }
        }
    }
    let table: toml::Table = source.parse().expect("locale file");
    let mut out = HashMap::new();
    walk("", &table, &mut out);
    out
}

/// Runs of whitespace as one space.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The English sentences a page in `lang` must not show: each piece (between `{placeholders}`)
/// of three words or more of an English text, unless `lang` has the same text for that key (a
/// name, or a word both languages use).
fn english_sentences(lang: &str) -> Vec<(String, String)> {
    let english = flatten(EN);
    let theirs = flatten(if lang == "es" { ES } else { HI });
    let placeholder = regex::Regex::new(r"\{[a-z_0-9]+\}").unwrap();
    let mut out = Vec::new();
    for (key, text) in &english {
        // Plural forms: the same text in any form of the other language is on purpose.
        let base = key
            .strip_suffix(".one")
            .or_else(|| key.strip_suffix(".other"))
            .unwrap_or(key);
        let same = [key.clone(), format!("{base}.one"), format!("{base}.other")]
            .iter()
            .any(|k| theirs.get(k) == Some(text));
        if same {
            continue;
        }
        for piece in placeholder.split(text) {
            let piece = squash(piece.trim_matches(|c: char| {
                c.is_whitespace() || matches!(c, ':' | ',' | '(' | ')' | '·' | '"' | '—')
            }));
            if piece.split(' ').count() >= 3 {
                out.push((key.clone(), piece));
            }
        }
    }
    out.sort();
    out.dedup();
    assert!(out.len() > 300, "too few English sentences: {}", out.len());
    out
}

/// What a reader sees or hears of a page: its text, and the words in attributes (labels,
/// titles, alternative text, the texts scripts show), without markup and entities.
fn page_text(html: &str) -> String {
    let scripts = regex::Regex::new(r"(?s)<(script|style)\b.*?</(script|style)>").unwrap();
    let html = scripts.replace_all(html, " ");
    let attribute = regex::Regex::new(
        r#"\s(?:aria-label|title|placeholder|alt|label|content|data-[a-z_-]+)="([^"]*)""#,
    )
    .unwrap();
    let mut parts: Vec<String> = attribute
        .captures_iter(&html)
        .map(|c| c[1].to_owned())
        .collect();
    let tags = regex::Regex::new(r"(?s)<[^>]*>").unwrap();
    parts.push(tags.replace_all(&html, " ").into_owned());
    let text = parts.join(" \n ");
    let decoded = text
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    squash(&decoded)
}

/// A page read by `client` (and its `Accept-Language`, for visitors).
async fn read(s: &Server, client: &reqwest::Client, path: &str, lang: Option<&str>) -> Page {
    web::get(s, client, path, lang).await
}

/// The pages read so far, checked together at the end (so one run names every leftover).
#[derive(Default)]
struct Seen {
    pages: Vec<(String, String, String)>,
}

impl Seen {
    /// Keeps a page that must have answered `want` in `lang`.
    fn keep(&mut self, who: &str, path: &str, lang: &str, page: Page, want: StatusCode) {
        assert_eq!(page.status, want, "{who} {path} in {lang}: {}", page.html);
        assert_eq!(web::lang(&page.html), lang, "{who} {path}: {}", page.html);
        self.pages
            .push((format!("{who} {path}"), lang.to_owned(), page.html));
    }

    fn check(&self) {
        let dump = std::env::var("LOCALES_DUMP").ok();
        let mut found: Vec<String> = Vec::new();
        let mut checked = HashMap::new();
        for (page, lang, html) in &self.pages {
            let sentences = checked
                .entry(lang.clone())
                .or_insert_with(|| english_sentences(lang));
            let text = page_text(html);
            if let Some(dir) = &dump {
                let name: String = format!("{lang} {page}")
                    .chars()
                    .map(|c| if c.is_alphanumeric() { c } else { '_' })
                    .collect();
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(format!("{dir}/{name}.txt"), text.replace(" \n ", "\n")).unwrap();
            }
            for (key, sentence) in sentences.iter() {
                if text.contains(sentence.as_str()) {
                    found.push(format!("{lang} {page}: {key} = {sentence:?}"));
                }
            }
        }
        assert!(
            found.is_empty(),
            "English on Spanish and Hindi pages:\n{}",
            found.join("\n")
        );
    }
}

/// An admin made from the shell, in `lang`: API token and signed-in browser.
async fn admin_in(s: &Server, name: &str, lang: &str) -> (String, reqwest::Client) {
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        name,
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let token = s.login(name).await;
    set_me(s, &token, json!({"locale": lang})).await;
    (token, web_login(s, name).await)
}

async fn set_me(s: &Server, token: &str, body: Value) {
    let (st, answer) = s.call("PATCH", "/api/v1/me", Some(token), Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
}

async fn give_role(s: &Server, admin: &str, slug: &str, role: &str, who: &str) {
    let (st, body) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/{role}/{who}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
}

/// The people of one language: browsers signed in, and API tokens.
struct People {
    member: (reqwest::Client, String),
    newcomer: (reqwest::Client, String),
    moderator: reqwest::Client,
    organiser: (reqwest::Client, String),
    admin: reqwest::Client,
}

async fn people(s: &Server, admin: &str, lang: &str) -> People {
    let mut tokens: Vec<String> = Vec::new();
    let mut clients: Vec<reqwest::Client> = Vec::new();
    // Sign-ups are limited per address: one new member (whose first post waits) is enough.
    let newcomer = if lang == "hi" { "nuevo" } else { "miembro" };
    for role in ["miembro", newcomer, "moder", "orga"] {
        let name = format!("{role}_{lang}");
        if role == "miembro" && !clients.is_empty() {
            clients.push(clients[0].clone());
            tokens.push(tokens[0].clone());
            continue;
        }
        clients.push(web_member(s, &name, lang).await);
        let token = s.login(&name).await;
        s.join(&token, "grupo").await;
        tokens.push(token);
    }
    give_role(s, admin, "grupo", "moderator", &format!("moder_{lang}")).await;
    give_role(s, admin, "grupo", "organiser", &format!("orga_{lang}")).await;
    let (_, admin) = admin_in(s, &format!("adm_{lang}"), lang).await;
    People {
        member: (clients[0].clone(), tokens[0].clone()),
        newcomer: (clients[1].clone(), tokens[1].clone()),
        moderator: clients[2].clone(),
        organiser: (clients[3].clone(), tokens[3].clone()),
        admin,
    }
}

both_backends!(spanish_and_hindi_pages_hold_no_english, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            // The new-member hold and slow mode are part of what pages say.
            rate_limits: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let admin = s.admin().await;
    s.community(&admin, "grupo", "public", json!({})).await;
    let (_, community) = s.get("/api/v1/communities/grupo", None).await;
    let room = community["rooms"][0]["id"]
        .as_i64()
        .expect("the default room");
    let (topic, post_id) = s.topic(&admin, "grupo", "Zxq hola", "Zxq uno dos").await;
    let es = people(&s, &admin, "es").await;
    let hi = people(&s, &admin, "hi").await;

    // Something on every page: a live session with one person going, a circle, a referral, an
    // invitation, a report, a milestone, a goal, a reading, a held first post.
    let orga = &es.organiser.1;
    let starts = chrono::Utc::now() + chrono::Duration::days(1);
    let (st, event) = s
        .post(
            "/api/v1/communities/grupo/events",
            Some(orga),
            json!({"room": room, "title": "Zxq charla",
                   "starts_at": starts.to_rfc3339(),
                   "ends_at": (starts + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{event}");
    let event = event["id"].as_i64().unwrap();
    let (st, going) = s
        .post(
            &format!("/api/v1/events/{event}/rsvp"),
            Some(&es.member.1),
            json!({"going": true}),
        )
        .await;
    assert!(st.is_success(), "{going}");
    let (st, circle) = s
        .post(
            "/api/v1/communities/grupo/circles",
            Some(orga),
            json!({"name": "Zxq jueves", "capacity": 6,
                   "meeting": {"weekday": "thursday", "time": "18:00", "timezone": "America/Mexico_City"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{circle}");
    let circle = circle["id"].as_i64().unwrap();
    let (st, referral) = s
        .post(
            "/api/v1/communities/grupo/referrals",
            Some(orga),
            json!({"label": "Zxq clínica"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{referral}");
    let referral = referral["code"].as_str().unwrap().to_owned();
    let invitation = s.invitation(orga, "grupo").await;
    let (st, report) = s
        .post(
            "/api/v1/reports",
            Some(&es.member.1),
            json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{report}");
    let (st, milestone) = s
        .post(
            "/api/v1/communities/grupo/topics",
            Some(&es.member.1),
            json!({"title": "Zxq logro", "body": "Zxq tres", "kind": "milestone",
                   "milestone": {"type": "weight_lost", "value": 3}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{milestone}");
    let (st, goal) = s
        .post(
            "/api/v1/me/goals",
            Some(&es.member.1),
            json!({"title": "Zxq caminar", "cadence": "daily"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{goal}");
    let (st, reading) = s
        .post(
            "/api/v1/me/readings",
            Some(&es.member.1),
            json!({"kind": "glucose", "value": 110, "unit": "mg/dL",
                   "taken_at": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reading}");
    // A new member's first topic waits for a moderator.
    let (st, held) = s
        .post(
            "/api/v1/communities/grupo/topics",
            Some(&hi.newcomer.1),
            json!({"title": "Zxq primero", "body": "Zxq cuatro"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{held}");
    let held = held["topic"]["id"].as_i64().unwrap();

    let mut seen = Seen::default();
    let ok = StatusCode::OK;
    for (lang, p) in [("es", &es), ("hi", &hi)] {
        let visitor = browser();
        for path in [
            "/".to_owned(),
            "/register".into(),
            "/login".into(),
            "/password-reset".into(),
            "/help".into(),
            "/groups".into(),
            "/search?q=zxq".into(),
            "/settings".into(),
            "/c/grupo".into(),
            format!("/c/grupo/chat/{room}"),
            "/c/grupo/milestones".into(),
            "/c/grupo/events".into(),
            "/c/grupo/meetings".into(),
            format!("/t/{topic}"),
            "/u/miembro_es".into(),
            format!("/events/{event}"),
            format!("/r/{referral}"),
            // The service worker asks for it in the page's language.
            format!("/offline?lang={lang}"),
        ] {
            let page = read(&s, &visitor, &path, Some(lang)).await;
            seen.keep("visitor", &path, lang, page, ok);
        }
        // An invitation leads a visitor to sign up first.
        let invited = read(&s, &visitor, &format!("/i/{invitation}"), Some(lang)).await;
        assert_eq!(invited.status, StatusCode::SEE_OTHER);
        let missing = read(&s, &visitor, "/c/no-such-group", Some(lang)).await;
        seen.keep("visitor", "404", lang, missing, StatusCode::NOT_FOUND);
        // Refused forms: sign-up and log-in.
        let form = read(&s, &visitor, "/register", Some(lang)).await;
        let token = csrf(&form.html);
        let refused = visitor
            .post(s.url("/register"))
            .header("accept-language", lang)
            .form(&[
                ("csrf", token.as_str()),
                ("username", "x"),
                ("password", "short"),
                ("locale", lang),
                ("email", "not-an-address"),
                ("timezone", "Mars/Base"),
            ])
            .send()
            .await
            .unwrap();
        let page = Page {
            status: refused.status(),
            headers: refused.headers().clone(),
            html: refused.text().await.unwrap(),
        };
        seen.keep(
            "visitor",
            "POST /register",
            lang,
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
        );

        let (member, _) = &p.member;
        let me = format!("miembro_{lang}");
        for path in [
            "/".to_owned(),
            "/settings".into(),
            "/notifications".into(),
            "/goals".into(),
            "/me/readings".into(),
            "/me/moderation".into(),
            "/settings/consent".into(),
            "/settings/delete".into(),
            "/settings/consent/withdraw".into(),
            "/c/grupo".into(),
            "/c/grupo/new".into(),
            "/c/grupo/milestones".into(),
            "/c/grupo/milestones/new".into(),
            format!("/c/grupo/chat/{room}"),
            "/c/grupo/events".into(),
            "/c/grupo/meetings".into(),
            format!("/t/{topic}"),
            format!("/p/{post_id}/report"),
            format!("/u/{me}"),
            "/u/miembro_es".into(),
            format!("/events/{event}"),
            "/help".into(),
            "/search?q=zxq".into(),
            "/groups".into(),
        ] {
            let page = read(&s, member, &path, None).await;
            seen.keep("member", &path, lang, page, ok);
        }
        // Refused: an empty topic, and chat faster than a new member may (slow mode).
        let form = read(&s, member, "/c/grupo/new", None).await;
        let empty = post(
            &s,
            member,
            "/c/grupo/new",
            &[("csrf", &csrf(&form.html)), ("title", ""), ("body", "")],
        )
        .await;
        seen.keep(
            "member",
            "POST /c/grupo/new",
            lang,
            empty,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        let chat = format!("/c/grupo/chat/{room}");
        let token = csrf(&read(&s, member, &chat, None).await.html);
        let first = post(&s, member, &chat, &[("csrf", &token), ("body", "Zxq uno")]).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
        let slow = post(&s, member, &chat, &[("csrf", &token), ("body", "Zxq dos")]).await;
        let slow_words =
            flatten(if lang == "es" { ES } else { HI })["chat.refused_slow_mode"].clone();
        assert!(
            slow.html.contains(&slow_words),
            "slow mode in {lang}: {}",
            slow.html
        );
        seen.keep(
            "member",
            "POST chat (slow)",
            lang,
            slow,
            StatusCode::UNPROCESSABLE_ENTITY,
        );

        // The new member sees their first topic waiting.
        if lang == "hi" {
            let page = read(&s, &p.newcomer.0, &format!("/t/{held}"), None).await;
            seen.keep("newcomer", "/t/held", lang, page, ok);
        }

        for path in ["/mod/grupo".to_owned(), "/mod/grupo?status=resolved".into()] {
            let page = read(&s, &p.moderator, &path, None).await;
            seen.keep("moderator", &path, lang, page, ok);
        }

        let (organiser, _) = &p.organiser;
        for path in [
            "/organise/grupo".to_owned(),
            "/organise/grupo/details".into(),
            "/organise/grupo/schedules".into(),
            "/organise/grupo/sessions".into(),
            "/organise/grupo/announcements".into(),
            "/organise/grupo/milestone-types".into(),
            "/organise/grupo/circles".into(),
            "/organise/grupo/invitations".into(),
            "/organise/grupo/referrals".into(),
            format!("/organise/grupo/referrals/{referral}/print"),
            format!("/circles/{circle}"),
            format!("/c/grupo/chat/{room}"),
            "/c/grupo/events".into(),
        ] {
            let page = read(&s, organiser, &path, None).await;
            seen.keep("organiser", &path, lang, page, ok);
        }

        for path in ["/admin", "/admin/announcements"] {
            let page = read(&s, &p.admin, path, None).await;
            seen.keep("admin", path, lang, page, ok);
        }
        // Refused admin forms: a bad address, a role for someone who is not a member.
        let form = read(&s, &p.admin, "/admin", None).await;
        let token = csrf(&form.html);
        let bad = post(
            &s,
            &p.admin,
            "/admin/communities",
            &[
                ("csrf", token.as_str()),
                ("slug", "X"),
                ("name", "Zxq"),
                ("visibility", "public"),
            ],
        )
        .await;
        seen.keep(
            "admin",
            "POST /admin/communities",
            lang,
            bad,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        let role = post(
            &s,
            &p.admin,
            "/admin/roles",
            &[
                ("csrf", token.as_str()),
                ("slug", "grupo"),
                ("username", &format!("adm_{lang}")),
                ("role", "moderator"),
            ],
        )
        .await;
        seen.keep(
            "admin",
            "POST /admin/roles",
            lang,
            role,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    seen.check();

    // Counts in their grammatical form: one person going, one report.
    let calendar = read(&s, &es.member.0, "/c/grupo/events", None).await.html;
    assert!(calendar.contains("1 va a ir"), "{calendar}");
    let queue = read(&s, &es.moderator, "/mod/grupo", None).await.html;
    assert!(queue.contains("1 reporte<"), "{queue}");
    // The room every group starts with, by its name in the reader's language.
    let chat = read(&s, &hi.member.0, &format!("/c/grupo/chat/{room}"), None)
        .await
        .html;
    assert!(chat.contains("सामान्य"), "{chat}");
});

// A member's weights default to their country's unit: kg outside the United States, lb in it;
// without a country, the browser's region says.
both_backends!(weights_default_to_the_members_country, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "peso", "public", json!({})).await;
    // Through the API: the country the member gave, else kg.
    let mut units = Vec::new();
    for (name, country) in [
        ("ana_mx", Some("MX")),
        ("bob_us", Some("US")),
        ("chen", None),
    ] {
        let mut body = json!({"username": name, "password": PASSWORD,
            "health_data_consent": {"version": common::CONSENT_VERSION}});
        if let Some(c) = country {
            body["country"] = json!(c);
        }
        let (st, answer) = s.post("/api/v1/auth/register", None, body).await;
        assert_eq!(st, StatusCode::CREATED, "{answer}");
        let token = answer["token"].as_str().unwrap().to_owned();
        s.join(&token, "peso").await;
        let (st, made) = s
            .post(
                "/api/v1/communities/peso/topics",
                Some(&token),
                json!({"title": "Zxq menos peso", "body": "Zxq cinco", "kind": "milestone",
                       "milestone": {"type": "weight_lost", "value": 5}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{made}");
        let (_, feed) = s
            .get(&format!("/api/v1/users/{name}/milestones"), Some(&token))
            .await;
        units.push(
            feed["items"][0]["milestone"]["unit"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(units, ["kg", "lb", "kg"], "ana (MX), bob (US), chen (none)");

    // On the web: the form offers the reader's unit; a weight logged with "the usual unit" is
    // stored in it. Dana gave no country: her browser's region decides.
    let dana = web_member(&s, "dana", "en").await;
    let dana_api = s.login("dana").await;
    s.join(&dana_api, "peso").await;
    for (accept, unit) in [("en-US,en;q=0.9", "lb"), ("es-MX,es;q=0.9", "kg")] {
        let form = dana
            .get(s.url("/c/peso/milestones/new"))
            .header("accept-language", accept)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            form.contains(&format!("({unit})</option>")),
            "{accept}: {form}"
        );
        assert!(
            !form.contains(&format!(
                "({})</option>",
                if unit == "lb" { "kg" } else { "lb" }
            )),
            "{accept}: {form}"
        );
        let readings = dana
            .get(s.url("/me/readings"))
            .header("accept-language", accept)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let logged = dana
            .post(s.url("/me/readings"))
            .header("accept-language", accept)
            .form(&[
                ("csrf", csrf(&readings).as_str()),
                ("kind", "weight"),
                ("value", "70"),
                ("unit", ""),
                ("taken_at", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(logged.status(), StatusCode::SEE_OTHER);
        let (_, mine) = s.get("/api/v1/me/readings", Some(&dana_api)).await;
        let newest = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|r| r["id"].as_i64())
            .cloned()
            .unwrap();
        assert_eq!(newest["unit"], unit, "{accept}: {mine}");
    }
    // A country she gives wins over the browser.
    set_me(&s, &dana_api, json!({"country": "MX"})).await;
    let form = dana
        .get(s.url("/c/peso/milestones/new"))
        .header("accept-language", "en-US")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("(kg)</option>"), "{form}");
});
