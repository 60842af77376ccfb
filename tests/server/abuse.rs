#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Abuse does not take the site down: one address opening socket after socket, flooding sign-ups,
//! logins and the chat is held back (429 with `Retry-After`, `rate_limited` frames), while a
//! member on another address keeps being served. Clients are told apart by `X-Forwarded-For`
//! behind a trusted proxy, as in production. Latency is printed, not asserted (BENCHMARKS.md).

use crate::common;

use std::time::{Duration, Instant};

use common::{PASSWORD, Server, ServerOptions};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ATTACKER: &str = "203.0.113.66";
const MEMBER: &str = "198.51.100.7";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket from `ip`, or the HTTP status that refused it.
async fn socket_from(s: &Server, token: &str, ip: &str) -> Result<Socket, u16> {
    let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected socket error: {e}"),
    }
}

async fn register_from(s: &Server, name: &str, ip: &str) -> (StatusCode, Value) {
    let resp = s
        .client
        .post(s.url("/api/v1/auth/register"))
        .header("x-forwarded-for", ip)
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The member's reading latency over `n` page loads, in milliseconds: (p50, p99, refused).
async fn member_reads(s: &Server, token: &str, topic: i64, n: usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(n);
    let mut refused = 0;
    for _ in 0..n {
        let started = Instant::now();
        let resp = s
            .client
            .get(s.url(&format!("/api/v1/topics/{topic}/posts")))
            .bearer_auth(token)
            .header("x-forwarded-for", MEMBER)
            .send()
            .await
            .unwrap();
        if resp.status() != StatusCode::OK {
            refused += 1;
        }
        let _ = resp.bytes().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), refused)
}

both_backends!(one_address_cannot_crowd_out_the_others, |b| async move {
    let options = ServerOptions {
        rate_limits: true,
        extra_env: vec![
            ("MUTUAL_TRUST_PROXY".into(), "on".into()),
            ("MUTUAL_WS_PER_IP".into(), "12".into()),
            ("MUTUAL_WS_PER_ACCOUNT".into(), "4".into()),
        ],
        ..Default::default()
    };
    let s = Server::start_with(b, options).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    let (topic, _) = s
        .topic(&admin, "sugar", "A quiet evening", "How is everyone?")
        .await;
    let (_, member) = register_from(&s, "steady_member", MEMBER).await;
    let member = member["token"].as_str().unwrap().to_owned();
    let mut attackers = Vec::new();
    for i in 0..4 {
        let (st, body) = register_from(&s, &format!("noisy{i}"), ATTACKER).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        attackers.push(body["token"].as_str().unwrap().to_owned());
    }
    let (p50_before, p99_before, refused) = member_reads(&s, &member, topic, 60).await;
    assert_eq!(refused, 0);

    // Sockets: four per account, twelve per address; the member's still opens.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(
            socket_from(&s, &attackers[0], ATTACKER)
                .await
                .expect("within the account's share"),
        );
    }
    assert_eq!(
        socket_from(&s, &attackers[0], ATTACKER).await.err(),
        Some(429)
    );
    for token in &attackers[1..3] {
        for _ in 0..4 {
            held.push(
                socket_from(&s, token, ATTACKER)
                    .await
                    .expect("within the address's share"),
            );
        }
    }
    assert_eq!(held.len(), 12);
    assert_eq!(
        socket_from(&s, &attackers[3], ATTACKER).await.err(),
        Some(429),
        "the address is full"
    );
    let mut mine = socket_from(&s, &member, MEMBER)
        .await
        .expect("another address is not held back");
    // A closed socket gives its place back (the server notices the close at once).
    let mut closing = held.pop().unwrap();
    closing.close(None).await.unwrap();
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = socket_from(&s, &attackers[3], ATTACKER).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reopened.is_some(),
        "a closed socket's place was not given back"
    );

    // Floods from the attacker's address while the member reads.
    let base = s.base.clone();
    let flood = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let (mut limited, mut sent) = (0, 0);
        for i in 0..60 {
            for (path, body) in [
                (
                    "/api/v1/auth/register",
                    json!({"username": format!("flood{i}"), "password": PASSWORD}),
                ),
                (
                    "/api/v1/auth/login",
                    json!({"username": "steady_member", "password": "wrong password!"}),
                ),
            ] {
                let resp = client
                    .post(format!("{base}{path}"))
                    .header("x-forwarded-for", ATTACKER)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    assert!(resp.headers().contains_key("retry-after"));
                    limited += 1;
                }
            }
        }
        (limited, sent)
    });
    // A chat flood: far more than a person types.
    let room = s.get("/api/v1/communities/sugar/rooms", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    s.join(&attackers[0], "sugar").await;
    let chat = &mut held[0];
    chat.send(Message::Text(
        json!({"op": "subscribe", "room": room, "since": null})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    for i in 0..120 {
        let frame = json!({"op": "send", "room": room, "body": format!("spam {i}"), "nonce": i.to_string()});
        chat.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    let (p50_during, p99_during, refused) = member_reads(&s, &member, topic, 60).await;
    let (limited, sent) = flood.await.unwrap();
    assert!(
        limited > sent / 3,
        "the sign-up and login flood was not held back: {limited} of {sent}"
    );
    assert_eq!(
        refused, 0,
        "the member on another address was refused during the flood"
    );
    let mut rate_limited = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, chat.next()).await {
        if let Message::Text(t) = msg {
            let f: Value = serde_json::from_str(&t).unwrap();
            if f["op"] == "error" && (f["code"] == "rate_limited" || f["code"] == "slow_mode") {
                rate_limited += 1;
            }
            if f["op"] == "error" && f["nonce"] == "119" {
                break;
            }
        }
    }
    assert!(
        rate_limited > 50,
        "the chat flood was not held back: {rate_limited} refusals"
    );
    // The member's own socket still works.
    mine.send(Message::Text(json!({"op": "ping"}).to_string().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(Message::Text(t))) = mine.next().await {
            if t.contains("pong") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(pong, Ok(true));
    eprintln!(
        "ABUSE-LATENCY backend={b:?} member p50 {p50_before:.1} ms / p99 {p99_before:.1} ms before; p50 {p50_during:.1} ms / p99 {p99_during:.1} ms during the floods; {limited} of {sent} flood requests limited; {rate_limited} chat sends refused"
    );
});
