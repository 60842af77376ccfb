#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Notifications by e-mail through the real server, on SQLite and on PostgreSQL + Redis,
//! reading the `.eml` files the server writes: address verification (a token that works
//! once, in time), no mail to an unverified address, an immediate mail that says nothing of
//! what was written nor where (in the member's language, with RFC 8058 headers), one-click
//! unsubscribe without a cookie, digests grouped by community that respect the kinds, and
//! strict validation of the delivery settings.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Jobs every second, immediate mails after one second.
fn fast() -> ServerOptions {
    ServerOptions {
        extra_env: vec![
            ("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into()),
            ("MUTUAL_MAIL_COALESCE_SECS".into(), "1".into()),
        ],
        ..ServerOptions::default()
    }
}

fn mail_dir(s: &Server) -> PathBuf {
    s.db.dir.join("data").join("mail")
}

/// A mail as written: its file name, top headers (unfolded), plain text and HTML.
#[derive(Debug, Clone)]
struct Eml {
    name: String,
    head: String,
    text: String,
    html: String,
}

impl Eml {
    fn header(&self, name: &str) -> Option<String> {
        header(&self.head, name).map(str::to_owned)
    }
    fn to(&self) -> String {
        self.header("to").unwrap_or_default()
    }
    fn subject(&self) -> String {
        decode_words(&self.header("subject").unwrap_or_default())
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// RFC 2047 encoded words (`=?utf-8?b?...?=`), as lettre writes non-ASCII subjects.
fn decode_words(raw: &str) -> String {
    let re = regex::Regex::new(r"=\?(?i:utf-8)\?([bBqQ])\?([^?]*)\?=").unwrap();
    let mut out = String::new();
    let mut last = 0;
    for c in re.captures_iter(raw) {
        let m = c.get(0).unwrap();
        let between = &raw[last..m.start()];
        if !between.trim().is_empty() {
            out.push_str(between);
        }
        let bytes = if c[1].eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(&c[2])
                .unwrap()
        } else {
            decode_qp(&c[2].replace('_', " ")).into_bytes()
        };
        out.push_str(&String::from_utf8(bytes).unwrap());
        last = m.end();
    }
    out.push_str(&raw[last..]);
    out
}

fn decode_qp(body: &str) -> String {
    let unwrapped = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = unwrapped.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn decode(body: &str, encoding: Option<&str>) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        Some("base64") => {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap(),
            )
            .unwrap()
        }
        Some("quoted-printable") => decode_qp(body),
        _ => body.to_owned(),
    }
}

fn parse(name: String, eml: &str) -> Eml {
    let eml = eml.replace("\r\n", "\n");
    let (head, body) = eml.split_once("\n\n").unwrap();
    // Long headers are folded onto continuation lines.
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let boundary = regex::Regex::new(r#"boundary="?([^";\s]+)"?"#)
        .unwrap()
        .captures(&head)
        .map(|c| c[1].to_owned())
        .expect("a multipart mail");
    let (mut text, mut html) = (String::new(), String::new());
    for part in body.split(&format!("--{boundary}")) {
        let Some((part_head, part_body)) = part.trim_start_matches('\n').split_once("\n\n") else {
            continue;
        };
        let kind = header(part_head, "content-type").unwrap_or_default();
        let decoded = decode(part_body, header(part_head, "content-transfer-encoding"));
        if kind.starts_with("text/plain") {
            text = decoded;
        } else if kind.starts_with("text/html") {
            html = decoded;
        }
    }
    Eml {
        name,
        head,
        text,
        html,
    }
}

/// Every mail written so far, oldest first.
fn mails(s: &Server) -> Vec<Eml> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(mail_dir(s))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            parse(name, &std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// Mails of `kind` (the outbox kind in the file name) to `to`.
fn mails_to(s: &Server, kind: &str, to: &str) -> Vec<Eml> {
    mails(s)
        .into_iter()
        .filter(|m| m.name.ends_with(&format!("-{kind}.eml")) && m.to().contains(to))
        .collect()
}

/// Waits (up to 20 s) until there are at least `n` mails of `kind` to `to`.
async fn wait_mails(s: &Server, kind: &str, to: &str, n: usize) -> Vec<Eml> {
    for _ in 0..200 {
        let found = mails_to(s, kind, to);
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {n} {kind} mails to {to} after 20 s; mails: {:?}\nlog:\n{}",
        mails(s).iter().map(|m| &m.name).collect::<Vec<_>>(),
        s.log_text()
    );
}

fn token_in(text: &str, path: &str) -> String {
    let re = regex::Regex::new(&format!(r"https?://\S+/{path}/([A-Za-z0-9_-]+)")).unwrap();
    re.captures(text)
        .unwrap_or_else(|| panic!("no /{path}/ link in:\n{text}"))[1]
        .to_owned()
}

async fn patch(s: &Server, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    s.call("PATCH", path, Some(token), Some(body)).await
}

/// Sets the address and verifies it through the mailed link; the number of verification mails
/// to that address so far must be `nth`.
async fn verified_address(s: &Server, token: &str, address: &str) {
    let (st, body) = patch(s, "/api/v1/me", token, json!({"email": address})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let mail = wait_mails(s, "email_verify", address, 1)
        .await
        .pop()
        .unwrap();
    let code = token_in(&mail.text, "verify-email");
    let (st, body) = s
        .post(
            "/api/v1/me/email/verify",
            Some(token),
            json!({"token": code}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
}

/// Runs one statement against the test database (time travel on data, as other job tests do).
async fn sql(s: &Server, statement: &str, user: &str) {
    use sqlx::Connection;
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .bind(user)
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .bind(user)
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

async fn digest_due_at(s: &Server, user: &str) -> i64 {
    use sqlx::Connection;
    let q = "SELECT digest_due_at FROM delivery_settings WHERE user_id = (SELECT id FROM users WHERE username_key = $1)";
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_scalar(q)
                .bind(user)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_scalar(q)
                .bind(user)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

both_backends!(verification_token_works_once_and_in_time, |b| async move {
    let s = Server::start_with(b, fast()).await;
    let ana = s.register("ana_v").await;
    let (st, d) = s.get("/api/v1/me/delivery", Some(&ana)).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["email"], "off");
    assert_eq!(d["push"], false);
    assert_eq!(d["kinds"]["reply"], true);
    assert_eq!(d["kinds"]["newcomer"], true);
    assert_eq!(d["verified"], false);

    let (st, body) = patch(
        &s,
        "/api/v1/me",
        &ana,
        json!({"email": "ana.v@example.org"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, d) = s.get("/api/v1/me/delivery", Some(&ana)).await;
    assert_eq!(d["address"], "ana.v@example.org");
    assert_eq!(d["verified"], false);
    let mail = wait_mails(&s, "email_verify", "ana.v@example.org", 1)
        .await
        .pop()
        .unwrap();
    assert!(mail.header("list-unsubscribe").is_none());
    let code = token_in(&mail.text, "verify-email");
    assert!(mail.html.contains(&format!("/verify-email/{code}")));

    // A wrong token, then someone else's session, are refused.
    let (st, body) = s
        .post(
            "/api/v1/me/email/verify",
            Some(&ana),
            json!({"token": "not-a-token"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["token"].is_array(), "{body}");
    let ben = s.register("ben_v").await;
    let (st, _) = s
        .post(
            "/api/v1/me/email/verify",
            Some(&ben),
            json!({"token": code}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // The link page asks before it changes anything (a mail scanner only GETs).
    let page = s
        .client
        .get(s.url(&format!("/verify-email/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (_, d) = s.get("/api/v1/me/delivery", Some(&ana)).await;
    assert_eq!(d["verified"], false);

    let (st, d) = s
        .post(
            "/api/v1/me/email/verify",
            Some(&ana),
            json!({"token": code}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["verified"], true);
    // Once only.
    let (st, _) = s
        .post(
            "/api/v1/me/email/verify",
            Some(&ana),
            json!({"token": code}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // A new address is unverified again, and its token expires.
    let (st, _) = patch(
        &s,
        "/api/v1/me",
        &ana,
        json!({"email": "ana.new@example.org"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (_, d) = s.get("/api/v1/me/delivery", Some(&ana)).await;
    assert_eq!(d["verified"], false);
    let mail = wait_mails(&s, "email_verify", "ana.new@example.org", 1)
        .await
        .pop()
        .unwrap();
    let code = token_in(&mail.text, "verify-email");
    sql(
        &s,
        "UPDATE email_verify_tokens SET expires_at = 0 WHERE user_id = (SELECT id FROM users WHERE username_key = $1)",
        "ana_v",
    )
    .await;
    let (st, _) = s
        .post(
            "/api/v1/me/email/verify",
            Some(&ana),
            json!({"token": code}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let page = s
        .client
        .get(s.url(&format!("/verify-email/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
});

both_backends!(bad_delivery_values_are_422, |b| async move {
    let s = Server::start(b).await;
    let ana = s.register("ana_bad").await;
    for (body, field) in [
        (json!({"email": "hourly"}), "email"),
        (json!({"email": 1}), "email"),
        (json!({"push": "yes"}), "push"),
        (json!({"kinds": {"gossip": true}}), "kinds.gossip"),
        (json!({"kinds": {"reply": "no"}}), "kinds.reply"),
        (json!({"kinds": ["reply"]}), "kinds"),
        (json!({"frequency": "daily"}), "frequency"),
    ] {
        let (st, answer) = patch(&s, "/api/v1/me/delivery", &ana, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert!(answer["error"]["code"].is_string(), "{answer}");
        assert!(
            answer["error"]["fields"][field].is_array(),
            "{body} → {answer}"
        );
    }
    // Nothing of a refused patch was saved, and a good one is.
    let (st, answer) = patch(
        &s,
        "/api/v1/me/delivery",
        &ana,
        json!({"email": "weekly", "kinds": {"reply": false}, "push": "on"}),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, d) = s.get("/api/v1/me/delivery", Some(&ana)).await;
    assert_eq!(d["email"], "off");
    let (st, d) = patch(
        &s,
        "/api/v1/me/delivery",
        &ana,
        json!({"email": "weekly", "push": true, "kinds": {"reply": false}}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["email"], "weekly");
    assert_eq!(d["push"], true);
    assert_eq!(d["kinds"]["reply"], false);
    assert_eq!(d["kinds"]["mention"], true);
    let (st, _) = s.get("/api/v1/me/delivery", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
});

both_backends!(
    an_immediate_reply_mail_says_nothing_private_and_unsubscribes_in_one_click,
    |b| async move {
        let s = Server::start_with(b, fast()).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "dt2",
            "members",
            json!({"name": "Diabetes Tipo Dos Escondida"}),
        )
        .await;
        let rosa = s.register("rosa_es").await;
        let tom = s.register("tom_unverified").await;
        let carl = s.register("carl_replies").await;
        for t in [&rosa, &tom, &carl] {
            s.join(t, "dt2").await;
        }
        let (st, _) = patch(&s, "/api/v1/me", &rosa, json!({"locale": "es"})).await;
        assert_eq!(st, StatusCode::OK);
        verified_address(&s, &rosa, "rosa@example.org").await;
        // Tom gives an address but never confirms it.
        let (st, _) = patch(&s, "/api/v1/me", &tom, json!({"email": "tom@example.org"})).await;
        assert_eq!(st, StatusCode::OK);
        for t in [&rosa, &tom] {
            let (st, d) = patch(&s, "/api/v1/me/delivery", t, json!({"email": "immediate"})).await;
            assert_eq!(st, StatusCode::OK, "{d}");
        }
        let (rosa_topic, _) = s
            .topic(
                &rosa,
                "dt2",
                "Mi glucosa secreta de hoy",
                "Cuerpo del tema privado",
            )
            .await;
        let (tom_topic, _) = s
            .topic(&tom, "dt2", "Tom private title", "Tom private body")
            .await;
        s.reply(
            &carl,
            rosa_topic,
            json!({"body": "Respuesta íntima número uno"}),
        )
        .await;
        s.reply(&carl, tom_topic, json!({"body": "Reply to Tom, private"}))
            .await;

        let mail = wait_mails(&s, "notifications", "rosa@example.org", 1)
            .await
            .pop()
            .unwrap();
        // In Spanish, and saying only what happened.
        assert_eq!(
            mail.subject(),
            "Una respuesta nueva en tu grupo",
            "{mail:?}"
        );
        assert!(
            mail.text.contains("Una respuesta nueva en tu grupo"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains(&format!("/t/{rosa_topic}")),
            "{}",
            mail.text
        );
        for secret in [
            "glucosa",
            "secreta",
            "íntima",
            "Respuesta íntima",
            "Diabetes",
            "Escondida",
            "dt2",
            "carl_replies",
        ] {
            let all = format!(
                "{}\n{}\n{}\n{}",
                mail.subject(),
                mail.head,
                mail.text,
                mail.html
            );
            assert!(!all.contains(secret), "{secret} in the mail:\n{all}");
        }
        // RFC 2369 / RFC 8058 headers; no mailto (nothing here reads incoming mail).
        let list = mail.header("list-unsubscribe").expect("List-Unsubscribe");
        assert_eq!(
            mail.header("list-unsubscribe-post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let url = regex::Regex::new(r"<(https?://[^>]+/unsubscribe/[A-Za-z0-9_-]+)>")
            .unwrap()
            .captures(&list)
            .unwrap_or_else(|| panic!("no https link in {list}"))[1]
            .to_owned();
        assert!(mail.text.contains(&url), "the footer links to it too");

        // Tom's address is not verified: nothing for him, even after a while.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(mails_to(&s, "notifications", "tom@example.org").is_empty());

        // A mail scanner's GET changes nothing; the one-click POST, with no cookie, does.
        let anon = reqwest::Client::new();
        let page = anon.get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("<form method=\"post\""));
        let (_, d) = s.get("/api/v1/me/delivery", Some(&rosa)).await;
        assert_eq!(d["kinds"]["reply"], true);
        let done = anon
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        let (_, d) = s.get("/api/v1/me/delivery", Some(&rosa)).await;
        assert_eq!(d["kinds"]["reply"], false, "{d}");
        assert_eq!(d["email"], "immediate", "only that kind is off: {d}");
        // A made-up token changes nothing.
        let bad = anon
            .post(s.url("/unsubscribe/made-up-token"))
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::NOT_FOUND);

        // Replies are off now: the next one is not mailed.
        s.reply(&carl, rosa_topic, json!({"body": "Otra respuesta"}))
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(mails_to(&s, "notifications", "rosa@example.org").len(), 1);
    }
);

both_backends!(
    a_daily_digest_groups_by_community_and_respects_kinds,
    |b| async move {
        let s = Server::start_with(b, fast()).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "alpha",
            "public",
            json!({"name": "Hipertension Alpha"}),
        )
        .await;
        s.community(&admin, "beta", "public", json!({"name": "Bariatric Beta"}))
            .await;
        let dana = s.register("dana_digest").await;
        let eve = s.register("eve_writes").await;
        for slug in ["alpha", "beta"] {
            s.join(&dana, slug).await;
            s.join(&eve, slug).await;
        }
        verified_address(&s, &dana, "dana@example.org").await;
        let (st, d) = patch(
            &s,
            "/api/v1/me/delivery",
            &dana,
            json!({"email": "daily", "kinds": {"mention": false}}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{d}");
        // The first digest is scheduled at 08:00 of the member's day, in the future.
        let due = digest_due_at(&s, "dana_digest").await;
        assert!(due > chrono::Utc::now().timestamp_millis());

        let (a, _) = s
            .topic(&dana, "alpha", "Alpha title private", "x body")
            .await;
        let (b2, _) = s.topic(&dana, "beta", "Beta title private", "y body").await;
        s.reply(&eve, a, json!({"body": "alpha reply one"})).await;
        s.reply(&eve, a, json!({"body": "alpha reply two"})).await;
        s.reply(&eve, b2, json!({"body": "beta reply"})).await;
        // A mention in a topic Dana did not start: mentions are off for her.
        let (other, _) = s.topic(&eve, "beta", "Eve's topic", "hello").await;
        s.reply(&eve, other, json!({"body": "@dana_digest look here"}))
            .await;
        // Nothing before the digest is due.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(mails_to(&s, "digest", "dana@example.org").is_empty());
        assert!(mails_to(&s, "notifications", "dana@example.org").is_empty());

        // 08:00 comes (time travel on data): one digest.
        sql(
            &s,
            "UPDATE delivery_settings SET digest_due_at = 1000 WHERE user_id = (SELECT id FROM users WHERE username_key = $1)",
            "dana_digest",
        )
        .await;
        let mail = wait_mails(&s, "digest", "dana@example.org", 1)
            .await
            .pop()
            .unwrap();
        assert_eq!(mail.subject(), "Your daily summary from Mutual");
        let text = &mail.text;
        assert!(text.contains("In one of your groups (1)"), "{text}");
        assert!(text.contains("In one of your groups (2)"), "{text}");
        assert!(text.contains("2 new replies in your group"), "{text}");
        assert!(text.contains("A new reply in your group"), "{text}");
        assert!(text.contains(&format!("/t/{a}")), "{text}");
        assert!(text.contains(&format!("/t/{b2}")), "{text}");
        assert!(!text.contains("mentioned"), "mentions are off: {text}");
        assert!(!text.contains(&format!("/t/{other}")), "{text}");
        for secret in [
            "Alpha title",
            "Hipertension",
            "Bariatric",
            "alpha reply",
            "eve_writes",
        ] {
            assert!(
                !text.contains(secret) && !mail.html.contains(secret),
                "{secret}:\n{text}"
            );
        }
        assert!(mail.header("list-unsubscribe").is_some());
        // The next one is scheduled again, and nothing is sent twice.
        assert!(digest_due_at(&s, "dana_digest").await > chrono::Utc::now().timestamp_millis());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(mails_to(&s, "digest", "dana@example.org").len(), 1);
    }
);

both_backends!(
    an_address_given_at_sign_up_is_verified_by_mail,
    |b| async move {
        let s = Server::start_with(b, fast()).await;
        let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "rosa_signup", "password": common::PASSWORD, "email": "rosa@example.org", "locale": "es"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let (_, d) = s.get("/api/v1/me/delivery", Some(&token)).await;
        assert_eq!(d["address"], "rosa@example.org", "{d}");
        assert_eq!(d["verified"], false);
        // The link arrives in her language and confirms the address.
        let mail = wait_mails(&s, "email_verify", "rosa@example.org", 1)
            .await
            .pop()
            .unwrap();
        assert!(
            mail.header("content-language")
                .is_some_and(|l| l.starts_with("es"))
                || mail.text.contains("dirección"),
            "not in Spanish:\n{}",
            mail.text
        );
        let code = token_in(&mail.text, "verify-email");
        let (st, body) = s
            .post(
                "/api/v1/me/email/verify",
                Some(&token),
                json!({"token": code}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (_, d) = s.get("/api/v1/me/delivery", Some(&token)).await;
        assert_eq!(d["verified"], true);
        // Signing up without an address sends nothing.
        s.register("sin_correo").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(mails_to(&s, "email_verify", "rosa@example.org").len(), 1);
        assert_eq!(mails(&s).len(), 1, "only Rosa's verification");
    }
);

both_backends!(
    a_weekly_digest_comes_once_a_week_in_her_language,
    |b| async move {
        let s = Server::start_with(b, fast()).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "semana",
            "public",
            json!({"name": "Presion Alta Semana"}),
        )
        .await;
        let lupe = s.register("lupe_weekly").await;
        let eve = s.register("eve_weekly").await;
        s.join(&lupe, "semana").await;
        s.join(&eve, "semana").await;
        let (st, _) = patch(&s, "/api/v1/me", &lupe, json!({"locale": "es"})).await;
        assert_eq!(st, StatusCode::OK);
        verified_address(&s, &lupe, "lupe@example.org").await;
        let (st, d) = patch(&s, "/api/v1/me/delivery", &lupe, json!({"email": "weekly"})).await;
        assert_eq!(st, StatusCode::OK, "{d}");
        let (topic, _) = s.topic(&lupe, "semana", "Mi semana privada", "hola").await;
        s.reply(&eve, topic, json!({"body": "animo Lupe"})).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(mails_to(&s, "digest", "lupe@example.org").is_empty());
        sql(
        &s,
        "UPDATE delivery_settings SET digest_due_at = 1000 WHERE user_id = (SELECT id FROM users WHERE username_key = $1)",
        "lupe_weekly",
    )
    .await;
        let mail = wait_mails(&s, "digest", "lupe@example.org", 1)
            .await
            .pop()
            .unwrap();
        assert!(mail.text.contains(&format!("/t/{topic}")), "{}", mail.text);
        for secret in ["Mi semana", "Presion", "animo Lupe", "eve_weekly"] {
            assert!(!mail.text.contains(secret), "{secret}:\n{}", mail.text);
        }
        assert!(
            !mail.subject().contains("summary"),
            "not in Spanish: {}",
            mail.subject()
        );
        // The next one is a week away (give or take the hour of a daylight-saving change).
        let next = digest_due_at(&s, "lupe_weekly").await;
        let now = chrono::Utc::now().timestamp_millis();
        assert!(
            next > now + 6 * 86_400_000,
            "next digest at {next}, now {now}"
        );
        assert!(
            next <= now + 8 * 86_400_000,
            "next digest at {next}, now {now}"
        );
    }
);
