#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Password reset through the real server, on SQLite and on PostgreSQL + Redis: the answer
//! never tells whether an account exists, the mail arrives (as a file, or through a tiny SMTP
//! sink in this file) with a link that works once, in time, and only if it is the newest; a
//! reset signs the member out everywhere; the outbox survives a crash; rate limits answer 429.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use common::web::{browser, csrf, get, location, post};
use common::{Backend, PASSWORD, Server, ServerOptions, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "purple-lantern-orchard-7";

fn mail_dir(s: &Server) -> PathBuf {
    s.db.dir.join("data").join("mail")
}

/// A mail file other than the address verification that signing up with an e-mail sends.
fn is_reset_mail(p: &std::path::Path) -> bool {
    p.extension().is_some_and(|x| x == "eml") && !p.to_string_lossy().ends_with("-email_verify.eml")
}

/// The mails in the folder, oldest first, once there are at least `n` (within 20 s).
async fn wait_for_mails(s: &Server, n: usize) -> Vec<String> {
    let dir = mail_dir(s);
    for _ in 0..200 {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| is_reset_mail(p))
                    .collect()
            })
            .unwrap_or_default();
        if names.len() >= n {
            names.sort();
            return names
                .iter()
                .map(|p| std::fs::read_to_string(p).unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {n} mails in {} after 20 s; log:\n{}",
        dir.display(),
        s.log_text()
    );
}

fn mail_count(s: &Server) -> usize {
    std::fs::read_dir(mail_dir(s))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| is_reset_mail(&e.path()))
                .count()
        })
        .unwrap_or(0)
}

/// The value of a header of a MIME entity (the first line of it is enough here).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
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
        Some("quoted-printable") => {
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
        _ => body.to_owned(),
    }
}

/// (the top headers, the plain-text part decoded, the HTML part decoded).
fn parse_mail(eml: &str) -> (String, String, String) {
    let eml = eml.replace("\r\n", "\n");
    let (head, body) = eml.split_once("\n\n").unwrap();
    let boundary = regex::Regex::new(r#"boundary="?([^";\s]+)"?"#)
        .unwrap()
        .captures(head)
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
    (head.to_owned(), text, html)
}

/// The reset link in a mail's text, and its token.
fn link_of(text: &str) -> (String, String) {
    let c = regex::Regex::new(r"(https?://\S+/password-reset/([A-Za-z0-9_-]+))")
        .unwrap()
        .captures(text)
        .unwrap_or_else(|| panic!("no reset link in:\n{text}"));
    (c[1].to_owned(), c[2].to_owned())
}

async fn register_with(s: &Server, username: &str, email: Option<&str>, locale: &str) -> String {
    let mut body = json!({"username": username, "password": PASSWORD, "locale": locale});
    if let Some(e) = email {
        body["email"] = json!(e);
    }
    let (status, answer) = s.post("/api/v1/auth/register", None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["token"].as_str().unwrap().to_owned()
}

async fn ask(s: &Server, login: &str) -> (StatusCode, Value) {
    s.post("/api/v1/auth/password-reset", None, json!({"login": login}))
        .await
}

async fn confirm(s: &Server, token: &str, password: &str) -> (StatusCode, Value) {
    s.post(
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": token, "password": password}),
    )
    .await
}

async fn login_status(s: &Server, username: &str, password: &str) -> StatusCode {
    s.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
    .0
}

both_backends!(the_answer_is_the_same_for_every_login, |b| async move {
    let s = Server::start(b).await;
    register_with(&s, "ana_reset", Some("Ana.Reset@example.org"), "en").await;
    register_with(&s, "ben_noaddr", None, "en").await;
    let (first_status, first_body) = ask(&s, "ana_reset").await;
    assert_eq!(first_status, StatusCode::ACCEPTED, "{first_body}");
    assert!(
        first_body["message"]
            .as_str()
            .unwrap()
            .contains("If this matches")
    );
    for login in [
        "ben_noaddr",
        "nobody_at_all",
        "ghost@nowhere.example",
        "  Ana_Reset  ",
    ] {
        let (status, body) = ask(&s, login).await;
        assert_eq!(status, first_status, "{login}");
        assert_eq!(body, first_body, "{login}");
    }
    // Only Ana has an address: every mail written (one per request of hers, at most) is hers.
    wait_for_mails(&s, 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = wait_for_mails(&s, 1).await;
    assert!(mails.len() <= 2, "{} mails for 2 requests", mails.len());
    for mail in &mails {
        let (head, _, _) = parse_mail(mail);
        assert!(
            header(&head, "to")
                .unwrap()
                .contains("Ana.Reset@example.org"),
            "{head}"
        );
    }
    let (head, text, html) = parse_mail(&mails[0]);
    assert!(head.contains("Ana.Reset@example.org"), "{head}");
    let subject = header(&head, "subject").unwrap();
    assert_eq!(subject, "Choose a new password for Mutual");
    assert!(text.contains("Did you not ask for this?"), "{text}");
    let (link, _) = link_of(&text);
    assert!(link.starts_with(&s.base), "{link} is on this server");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    // Nothing went to the member without an address, nor to unknown logins.
    let log = s.log_text();
    assert!(
        !log.contains("ghost@nowhere.example"),
        "typed logins stay out of the log"
    );

    // An e-mail address works as the login too, whatever its case.
    let (status, body) = ask(&s, "ANA.RESET@EXAMPLE.ORG").await;
    assert_eq!((status, &body), (first_status, &first_body));

    // Nothing to say: 422, as for any malformed body.
    let (status, body) = ask(&s, "   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["login"].is_array(), "{body}");
});

both_backends!(
    a_reset_sets_the_password_and_ends_every_session,
    |b| async move {
        let s = Server::start(b).await;
        let old_a = register_with(&s, "carmen_r", Some("carmen@example.org"), "en").await;
        let old_b = s.login("carmen_r").await;
        let (status, _) = ask(&s, "carmen_r").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (_, text, _) = parse_mail(&wait_for_mails(&s, 1).await[0]);
        let (_, token) = link_of(&text);
        assert!(token.len() >= 43, "at least 32 random bytes: {token}");

        // A weak password is refused and the link keeps working.
        let (status, body) = confirm(&s, &token, "password123").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["password"].is_array(), "{body}");
        assert!(body["error"]["fields"].get("token").is_none(), "{body}");
        assert_eq!(s.get("/api/v1/me", Some(&old_a)).await.0, StatusCode::OK);

        let (status, body) = confirm(&s, &token, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["username"], "carmen_r");
        let fresh = body["token"].as_str().unwrap().to_owned();
        assert_eq!(s.get("/api/v1/me", Some(&fresh)).await.0, StatusCode::OK);
        for old in [&old_a, &old_b] {
            assert_eq!(
                s.get("/api/v1/me", Some(old)).await.0,
                StatusCode::UNAUTHORIZED,
                "sessions from before the reset are revoked"
            );
        }
        assert_eq!(
            login_status(&s, "carmen_r", PASSWORD).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_status(&s, "carmen_r", NEW_PASSWORD).await,
            StatusCode::OK
        );

        // Once only; and a used link reads exactly like one that never existed.
        let (used_status, used) = confirm(&s, &token, "another-fine-password-9").await;
        assert_eq!(used_status, StatusCode::UNPROCESSABLE_ENTITY, "{used}");
        assert!(used["error"]["fields"]["token"].is_array(), "{used}");
        let (unknown_status, unknown) = confirm(
            &s,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "another-fine-password-9",
        )
        .await;
        assert_eq!((used_status, &used), (unknown_status, &unknown));
        assert_eq!(
            login_status(&s, "carmen_r", NEW_PASSWORD).await,
            StatusCode::OK
        );
    }
);

both_backends!(an_old_link_expires, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            extra_env: vec![("MUTUAL_RESET_TOKEN_SECS".into(), "2".into())],
            ..Default::default()
        },
    )
    .await;
    register_with(&s, "dora_r", Some("dora@example.org"), "en").await;
    ask(&s, "dora_r").await;
    let (_, text, _) = parse_mail(&wait_for_mails(&s, 1).await[0]);
    let (_, token) = link_of(&text);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = confirm(&s, &token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, unknown) = confirm(&s, "not-a-token-at-all", NEW_PASSWORD).await;
    assert_eq!(
        body, unknown,
        "an expired link says no more than an unknown one"
    );
    assert_eq!(login_status(&s, "dora_r", PASSWORD).await, StatusCode::OK);
});

both_backends!(a_newer_request_supersedes_the_older_link, |b| async move {
    let s = Server::start(b).await;
    register_with(&s, "elena_r", Some("elena@example.org"), "en").await;
    ask(&s, "elena_r").await;
    let first = wait_for_mails(&s, 1).await;
    ask(&s, "elena@example.org").await;
    let both = wait_for_mails(&s, 2).await;
    assert_eq!(both[0], first[0]);
    let (_, old) = link_of(&parse_mail(&both[0]).1);
    let (_, new) = link_of(&parse_mail(&both[1]).1);
    assert_ne!(old, new);
    let (status, body) = confirm(&s, &old, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["token"].is_array(), "{body}");
    let (status, body) = confirm(&s, &new, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
});

both_backends!(
    requests_are_rate_limited_per_login_and_per_address,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                rate_limits: true,
                ..Default::default()
            },
        )
        .await;
        for _ in 0..3 {
            assert_eq!(ask(&s, "someone_r").await.0, StatusCode::ACCEPTED);
        }
        let resp = s
            .client
            .post(s.url("/api/v1/auth/password-reset"))
            .json(&json!({"login": "SOMEONE_R"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().contains_key("retry-after"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        // Other logins from this address still go through, until the address has asked 10 times.
        for i in 0..6 {
            let (status, body) = ask(&s, &format!("other{i}@example.org")).await;
            assert_eq!(status, StatusCode::ACCEPTED, "request {i}: {body}");
        }
        assert_eq!(
            ask(&s, "yet_another").await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
);

both_backends!(
    an_acknowledged_request_survives_a_crash_and_is_sent_once,
    |b| async move {
        // The first node only queues mail; killed (SIGKILL) right after answering.
        let db = std::sync::Arc::new(TestDb::new(b).await);
        let first = Server::start_on(
            db.clone(),
            ServerOptions {
                extra_env: vec![("MUTUAL_MAIL_DELIVERY".into(), "off".into())],
                ..Default::default()
            },
        )
        .await;
        register_with(&first, "fatima_r", Some("fatima@example.org"), "en").await;
        let (status, _) = ask(&first, "fatima_r").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        drop(first);
        // Two nodes come up on the same database: the mail goes out, once.
        let a = Server::start_on(db.clone(), ServerOptions::default()).await;
        let b2 = Server::start_on(db.clone(), ServerOptions::default()).await;
        let mails = wait_for_mails(&a, 1).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        // Two mails in all: the sign-up's address verification and the reset, each by one node.
        let written = a.log_text().matches("mail written to a file").count()
            + b2.log_text().matches("mail written to a file").count();
        assert_eq!(written, 2, "sent by one node only");
        assert_eq!(mail_count(&a), 1);
        let (link, token) = link_of(&parse_mail(&mails[0]).1);
        assert!(link.starts_with("http://127.0.0.1:"), "{link}");
        let (status, body) = confirm(&b2, &token, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

both_backends!(
    the_export_shows_reset_mails_and_erasure_removes_them,
    |b| async move {
        let s = Server::start(b).await;
        let token = register_with(&s, "gita_r", Some("gita@example.org"), "hi").await;
        ask(&s, "gita_r").await;
        let (_, text, _) = parse_mail(&wait_for_mails(&s, 1).await[0]);
        assert!(
            text.contains("नमस्ते gita_r"),
            "the mail is in Hindi:\n{text}"
        );
        link_of(&text);
        let (status, export) = s.get("/api/v1/me/export", Some(&token)).await;
        assert_eq!(status, StatusCode::OK);
        let tables = &export["tables"];
        let kinds: Vec<&str> = tables["mail_outbox.user_id"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["kind"].as_str())
            .collect();
        assert!(kinds.contains(&"password_reset"), "{kinds:?}");
        let tokens = &tables["password_reset_tokens.user_id"];
        assert_eq!(tokens.as_array().unwrap().len(), 1, "{tables}");
        assert!(
            tokens[0].get("token_hash").is_none(),
            "no secrets in the export"
        );
        let (status, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(&token),
                Some(json!({"password": PASSWORD, "content": "remove"})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        for table in [
            "mail_outbox",
            "password_reset_tokens",
            "password_reset_requests",
        ] {
            assert_eq!(rows(&s.db, table).await, 0, "{table} after erasure");
        }
    }
);

async fn rows(db: &TestDb, table: &str) -> i64 {
    use sqlx::Connection;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

/// A tiny SMTP server: accepts every mail and hands over (MAIL FROM, RCPT TO, DATA).
async fn smtp_sink() -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<(String, String, String)>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut from, mut to) = (String::new(), String::new());
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to = line[8..].trim().to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 go on\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            lines.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        let _ = tx.send((from.clone(), to.clone(), data));
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

both_backends!(
    mail_goes_out_through_smtp_in_the_members_language,
    |b| async move {
        let (port, mut received) = smtp_sink().await;
        let s = Server::start_with(
            b,
            ServerOptions {
                extra_env: vec![
                    ("MUTUAL_SMTP_URL".into(), format!("smtp://127.0.0.1:{port}")),
                    (
                        "MUTUAL_MAIL_FROM".into(),
                        "Mutual <ayuda@mutual.test>".into(),
                    ),
                ],
                ..Default::default()
            },
        )
        .await;
        register_with(&s, "lucia_r", Some("lucia@example.org"), "es").await;
        assert_eq!(ask(&s, "lucia_r").await.0, StatusCode::ACCEPTED);
        // Signing up with an address mailed its verification first; the reset comes after.
        let (from, to, data) = loop {
            let mail = tokio::time::timeout(Duration::from_secs(20), received.recv())
                .await
                .expect("a mail within 20 s")
                .unwrap();
            if !mail.2.contains("verify-email") {
                break mail;
            }
        };
        assert_eq!(from, "<ayuda@mutual.test>");
        assert_eq!(to, "<lucia@example.org>");
        // Dot-stuffed lines are unstuffed by a real server; none matter for what is checked here.
        let (head, text, _) = parse_mail(&data);
        assert!(head.contains("ayuda@mutual.test"), "{head}");
        assert!(text.contains("Hola, lucia_r:"), "{text}");
        assert!(text.contains("¿No lo pediste tú?"), "{text}");
        assert_eq!(mail_count(&s), 0, "no files when SMTP is set");
        let (_, token) = link_of(&text);
        let (status, body) = confirm(&s, &token, NEW_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

both_backends!(the_web_flow_works_without_javascript, |b| async move {
    let s = Server::start(b).await;
    register_with(&s, "hana_r", Some("hana@example.org"), "en").await;
    let old = s.login("hana_r").await;
    let client = browser();
    let login = get(&s, &client, "/login", None).await;
    assert!(
        login.html.contains("href=\"/password-reset\""),
        "the login page links the form"
    );
    let form = get(&s, &client, "/password-reset", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let token = csrf(&form.html);
    // Without its CSRF token the form is refused.
    let refused = post(&s, &client, "/password-reset", &[("login", "hana_r")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Every login gets the same page.
    let known = post(
        &s,
        &client,
        "/password-reset",
        &[("csrf", &token), ("login", "hana_r")],
    )
    .await;
    let unknown = post(
        &s,
        &client,
        "/password-reset",
        &[("csrf", &token), ("login", "not_a_member")],
    )
    .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!((known.status, &known.html), (unknown.status, &unknown.html));
    assert!(known.html.contains("Check your mail"), "{}", known.html);
    assert!(
        known.html.contains("works for 30 minutes"),
        "{}",
        known.html
    );
    let empty = post(
        &s,
        &client,
        "/password-reset",
        &[("csrf", &token), ("login", "")],
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.html.contains("Please write your username"),
        "{}",
        empty.html
    );

    let (link, _) = link_of(&parse_mail(&wait_for_mails(&s, 1).await[0]).1);
    let path = link.strip_prefix(&s.base).unwrap().to_owned();
    let page = get(&s, &client, &path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("This is for the account hana_r."),
        "{}",
        page.html
    );
    let token_in_path = path.rsplit('/').next().unwrap();
    assert_eq!(
        page.html.matches(token_in_path).count(),
        1,
        "the token is in the form's address only, not in other links"
    );
    let weak = post(
        &s,
        &client,
        &path,
        &[("csrf", &token), ("password", "short")],
    )
    .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.html.contains("longer password"), "{}", weak.html);
    let done = post(
        &s,
        &client,
        &path,
        &[("csrf", &token), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(location(&done), "/password-reset/done");
    let after = get(&s, &client, "/password-reset/done", None).await;
    assert!(
        after.html.contains("You are logged in now"),
        "{}",
        after.html
    );
    assert_eq!(
        s.get("/api/v1/me", Some(&old)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The link is spent: the page says so and offers a new one.
    let again = get(&s, &client, &path, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(
        again.html.contains("This link does not work any more"),
        "{}",
        again.html
    );
    let member_csrf = csrf(&after.html);
    let replay = post(
        &s,
        &client,
        &path,
        &[("csrf", &member_csrf), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        replay.html.contains("Ask for a new link"),
        "{}",
        replay.html
    );

    // In Spanish and Hindi for visitors who read them.
    let es = get(&s, &browser(), "/password-reset", Some("es")).await;
    assert!(
        es.html.contains("Obtener una contraseña nueva"),
        "{}",
        es.html
    );
    let hi = get(&s, &browser(), "/password-reset", Some("hi")).await;
    assert!(hi.html.contains("नया पासवर्ड पाएँ"), "{}", hi.html);
});
