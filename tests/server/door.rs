#![allow(clippy::expect_used, clippy::unwrap_used)]
//! At the door: slow clients are timed out and capped per address while other addresses are
//! served; text no database can store (NUL) is refused on both backends, never a 500; behind a
//! proxy the client address comes from the right of `X-Forwarded-For`; `/readyz` stays 200 when
//! Redis is lost and turns 503 while draining. Time bounds are generous: the machine is shared.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{PASSWORD, Server, ServerOptions, ws};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn addr(s: &Server) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().unwrap()
}

/// A connection to the server from `from` (127.0.0.x: all of loopback is ours on Linux).
async fn connect_from(s: &Server, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr(s)).await.unwrap()
}

/// Whether the server has closed `stream` (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (a 408, say) before the close: keep reading.
            Ok(Ok(_)) => {}
        }
    }
}

/// A whole `GET path` from `from` on its own connection: the status line, or None when the
/// server closed without answering.
async fn get_from(s: &Server, from: [u8; 4], path: &str) -> Option<String> {
    let mut stream = connect_from(s, from).await;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_capped_per_address_and_timed_out() {
    let options = ServerOptions {
        extra_env: vec![
            ("MUTUAL_CONN_PER_IP".into(), "50".into()),
            ("MUTUAL_HEADER_TIMEOUT_SECS".into(), "3".into()),
        ],
        ..Default::default()
    };
    let s = Server::start_with(common::Backend::Sqlite, options).await;
    let attacker = [127, 0, 0, 1];
    let other = [127, 0, 0, 2];

    // 200 half-open requests from one address: a request line and a header, then nothing.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut stream = connect_from(&s, attacker).await;
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await;
        held.push(stream);
    }
    // And one that sends nothing at all.
    let mut silent = connect_from(&s, other).await;

    // Another address is served at once.
    let started = Instant::now();
    let answer = get_from(&s, other, "/healthz").await;
    assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"), "{answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the other address waited {:?}",
        started.elapsed()
    );

    // Past the cap the attacker's connections were closed at once; the first 50 are held.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut open = 0;
    for stream in &mut held {
        if !closed_within(stream, Duration::from_millis(20)).await {
            open += 1;
        }
    }
    assert!((40..=50).contains(&open), "{open} of 200 still open");
    // A new connection from the full address is closed without an answer.
    assert_eq!(get_from(&s, attacker, "/healthz").await, None);

    // The header timeout closes the held ones, and the silent one.
    let started = Instant::now();
    for stream in &mut held {
        assert!(
            closed_within(stream, Duration::from_secs(20)).await,
            "a half-open connection outlived the header timeout"
        );
    }
    assert!(closed_within(&mut silent, Duration::from_secs(20)).await);
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(held);

    // Their places are free again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get_from(&s, attacker, "/healthz").await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    // And a WebSocket still upgrades through the new serve loop.
    let token = s.register("door_keeper").await;
    let mut socket = ws::connect(&s, &token).await;
    ws::send(&mut socket, json!({"op": "ping", "nonce": "p"})).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
}

/// Sends one request; the status and JSON body.
async fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    s.call(method, path, token, body).await
}

both_backends!(nul_characters_are_refused_at_the_door, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "door", "public", json!({})).await;
    s.join(&admin, "door").await;
    let member = s.register("nul_tester").await;
    let nul = "a\u{0}b";
    // (method, path, token, body, the field the refusal names)
    type Case<'a> = (&'a str, String, Option<&'a str>, Option<Value>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/auth/login".into(),
            None,
            Some(json!({"username": nul, "password": PASSWORD})),
            "username",
        ),
        (
            "POST",
            "/api/v1/auth/register".into(),
            None,
            Some(json!({"username": nul, "password": PASSWORD})),
            "username",
        ),
        (
            "GET",
            "/api/v1/directory?condition=%00".into(),
            None,
            None,
            "condition",
        ),
        ("GET", "/api/v1/directory?q=a%00b".into(), None, None, "q"),
        (
            "GET",
            "/api/v1/search?q=hello&community=%00".into(),
            Some(&member),
            None,
            "community",
        ),
        (
            "GET",
            "/api/v1/communities/do%00or".into(),
            None,
            None,
            "path",
        ),
        (
            "PATCH",
            "/api/v1/me".into(),
            Some(&member),
            Some(json!({"bio": nul})),
            "bio",
        ),
        (
            "POST",
            "/api/v1/me/goals".into(),
            Some(&member),
            Some(json!({"title": nul, "cadence": "daily"})),
            "title",
        ),
        (
            "POST",
            "/api/v1/me/readings".into(),
            Some(&member),
            Some(
                json!({"kind": nul, "value": 1, "unit": "kg", "taken_at": "2026-01-01T00:00:00Z"}),
            ),
            "kind",
        ),
        (
            "POST",
            "/api/v1/communities".into(),
            Some(&admin),
            Some(json!({"slug": "nul", "name": nul, "visibility": "public"})),
            "name",
        ),
        (
            "POST",
            "/api/v1/communities/door/rooms".into(),
            Some(&admin),
            Some(json!({"name": nul})),
            "name",
        ),
        (
            "POST",
            "/api/v1/communities/door/topics".into(),
            Some(&admin),
            Some(json!({"title": "A title", "body": nul})),
            "body",
        ),
    ];
    for (method, path, token, body, field) in cases {
        let (st, answer) = send(&s, method, &path, token, body).await;
        assert_eq!(
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {answer}"
        );
        assert_eq!(answer["error"]["code"], "invalid_text", "{method} {path}");
        assert!(
            answer["error"]["fields"].get(field).is_some(),
            "{method} {path} should name `{field}`: {answer}"
        );
    }
    // A page's query too, as a page.
    let resp = s
        .client
        .get(s.url("/directory?condition=%00"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A chat send over the socket gets an error frame, and the socket lives on.
    let (_, rooms) = s.get("/api/v1/communities/door/rooms", Some(&admin)).await;
    let room = rooms[0]["id"].as_i64().expect("default room");
    let mut socket = ws::connect(&s, &admin).await;
    ws::send(
        &mut socket,
        json!({"op": "send", "room": room, "body": nul, "nonce": "n1"}),
    )
    .await;
    let error = ws::next_op(&mut socket, "error").await;
    assert_eq!(error["code"], "invalid_text", "{error}");
    assert_eq!(error["nonce"], "n1");
    // The socket lives on: a second one is refused the same way.
    ws::send(
        &mut socket,
        json!({"op": "send", "room": room, "body": nul, "nonce": "n2"}),
    )
    .await;
    assert_eq!(ws::next_op(&mut socket, "error").await["nonce"], "n2");
    assert!(!s.log_text().contains("invalid byte sequence"));
});

both_backends!(
    behind_one_proxy_the_client_is_read_from_the_right,
    |b| async move {
        let options = ServerOptions {
            rate_limits: true,
            extra_env: vec![("MUTUAL_TRUST_PROXY".into(), "on".into())],
            ..Default::default()
        };
        let s = Server::start_with(b, options).await;
        // The client writes any first entries it likes; our proxy appends the address it saw.
        let mut created = 0;
        let mut limited = 0;
        for i in 0..15 {
            let resp = s
                .client
                .post(s.url("/api/v1/auth/register"))
                .header("x-forwarded-for", format!("10.9.{i}.1, 198.51.100.20"))
                .json(&json!({"username": format!("rotating{i}"), "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            match resp.status() {
                StatusCode::CREATED => created += 1,
                StatusCode::TOO_MANY_REQUESTS => limited += 1,
                other => panic!("sign-up {i}: {other}"),
            }
        }
        assert!(limited >= 5, "created {created}, limited {limited}");
        // Another client behind the same proxy is not held back.
        let resp = s
            .client
            .post(s.url("/api/v1/auth/register"))
            .header("x-forwarded-for", "198.51.100.21")
            .json(&json!({"username": "someone_else", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_stays_ready_when_redis_is_lost() {
    let options = ServerOptions {
        redis: Some(false),
        extra_env: vec![("REDIS_URL".into(), "redis://127.0.0.1:1".into())],
        ..Default::default()
    };
    let s = Server::start_with(common::Backend::Sqlite, options).await;
    let (st, ready) = s.get("/readyz", None).await;
    assert_eq!(st, StatusCode::OK, "{ready}");
    assert_eq!(ready["redis"], "down", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_answers_503_and_is_bounded() {
    let options = ServerOptions {
        extra_env: vec![("MUTUAL_DRAIN_SECS".into(), "3".into())],
        ..Default::default()
    };
    let mut s = Server::start_with(common::Backend::Sqlite, options).await;
    // A request half sent when SIGTERM arrives is still answered, and /readyz says draining.
    let mut in_flight = connect_from(&s, [127, 0, 0, 1]).await;
    in_flight
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A connection that never finishes its request must not hold the exit past the bound.
    let mut stuck = connect_from(&s, [127, 0, 0, 1]).await;
    stuck.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = s.child.as_ref().unwrap().id();
    let started = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    in_flight.write_all(b"\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), in_flight.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("draining"), "{answer}");
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the drain took {:?}",
        started.elapsed()
    );
    drop(stuck);
}
