//! Chat scenarios: `chat-fanout` (N sockets in one room, M messages at R/s: delivery latency
//! and losses) and `chat-throughput` (how many messages/s are stored and delivered into a room
//! with N listeners). Every message body carries `lg:<run>:<sender>:<seq>:<send time µs>`, so
//! any receiver measures its latency and spots what it missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{Mutex, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Latencies, Target, WsRx, WsTx, now_us, open_sockets, report, send_frame};

/// One of our messages, as found in a delivered frame.
pub struct Seen {
    pub sender: u64,
    pub seq: u64,
    pub sent_us: u64,
}

/// Finds our marker in a `message` frame without a full JSON parse (the client shares the cores
/// with the server, so it must stay cheap). `None` for other frames. Also checks the message has
/// a stored id.
pub fn parse_seen(text: &str, run: u64) -> Option<Result<Seen, String>> {
    if !text.contains("\"op\":\"message\"") {
        return None;
    }
    let marker = format!("lg:{run}:");
    let start = text.find(&marker)? + marker.len();
    let mut parts = text[start..]
        .split(|c: char| !c.is_ascii_digit() && c != ':')
        .next()?
        .split(':');
    let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
    let (Some(sender), Some(seq), Some(sent_us)) = (next(), next(), next()) else {
        return Some(Err(format!("unreadable marker in {text}")));
    };
    if !text.contains("\"id\":") {
        return Some(Err(format!("a message without a stored id: {text}")));
    }
    Some(Ok(Seen {
        sender,
        seq,
        sent_us,
    }))
}

pub fn body(run: u64, sender: u64, seq: u64) -> String {
    format!(
        "lg:{run}:{sender}:{seq}:{} checking in, **sugar** was fine after the walk",
        now_us()
    )
}

fn run_id() -> u64 {
    now_us() % 1_000_000_000
}

/// What one receiving socket saw.
#[derive(Default)]
struct Received {
    latencies: Latencies,
    /// Per (sender, seq) of the fan-out: seen or not.
    got: Vec<bool>,
    count: u64,
    duplicates: u64,
    errors: Vec<String>,
}

/// Reads a socket until it has `expected` of our messages, or `stop` says the run is over.
async fn receive(
    mut rx: WsRx,
    run: u64,
    expected: usize,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let mut r = Received {
        got: vec![false; expected],
        ..Default::default()
    };
    loop {
        if r.count as usize >= expected && expected > 0 {
            break;
        }
        let frame = tokio::select! {
            f = rx.next() => f,
            _ = stop.wait_for(|s| *s) => break,
        };
        let now = now_us();
        match frame {
            Some(Ok(Message::Text(t))) => match parse_seen(&t, run) {
                Some(Ok(seen)) => {
                    let i = seen.seq as usize;
                    if i < r.got.len() {
                        if r.got[i] {
                            r.duplicates += 1;
                            continue;
                        }
                        r.got[i] = true;
                    }
                    r.count += 1;
                    r.latencies.record(now.saturating_sub(seen.sent_us));
                }
                Some(Err(e)) => r.errors.push(e),
                None => {
                    if t.contains("\"op\":\"error\"") {
                        r.errors.push(t.to_string());
                    }
                }
            },
            Some(Ok(Message::Close(c))) => {
                r.errors.push(format!("closed by the server: {c:?}"));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                r.errors.push(format!("socket error: {e}"));
                break;
            }
            None => {
                r.errors.push("socket ended".into());
                break;
            }
        }
    }
    r
}

pub struct FanoutArgs {
    pub room: i64,
    pub sockets: usize,
    pub messages: usize,
    pub rate: f64,
    pub senders: usize,
    pub verify_stored: bool,
    pub token_for_history: Option<String>,
}

/// N sockets in one room, M messages at R/s from a few of them; every socket must get every
/// message.
pub async fn fanout(target: &Target, a: FanoutArgs) -> anyhow::Result<bool> {
    let run = run_id();
    let started = Instant::now();
    let sockets = open_sockets(target, a.sockets, a.room, 256).await?;
    let connect_s = started.elapsed().as_secs_f64();
    println!(
        "chat-fanout: {} sockets subscribed to room {} in {connect_s:.1} s over {} node(s)",
        sockets.len(),
        a.room,
        target.bases.len()
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut senders: Vec<Arc<Mutex<WsTx>>> = Vec::new();
    let mut readers = Vec::new();
    let mut idle_sinks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (tx, rx) = ws.split();
        if i < a.senders.max(1) {
            senders.push(Arc::new(Mutex::new(tx)));
        } else {
            idle_sinks.push(tx);
        }
        readers.push(tokio::spawn(receive(rx, run, a.messages, stop_rx.clone())));
    }
    let send_errors = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(1.0 / a.rate.max(0.001));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let send_started = Instant::now();
    for seq in 0..a.messages {
        ticker.tick().await;
        let s = seq % senders.len();
        let sender = senders[s].clone();
        let errors = send_errors.clone();
        let frame = send_frame(a.room, &body(run, s as u64, seq as u64), &format!("n{seq}"));
        tokio::spawn(async move {
            if sender.lock().await.send(frame).await.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let send_s = send_started.elapsed().as_secs_f64();
    // Everything sent: give stragglers up to 10 s, then stop whoever still waits.
    let waiting = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let _ = stop_tx.send(true);
    });
    let mut all = Latencies::default();
    let mut received = 0u64;
    let mut duplicates = 0u64;
    let mut errors = Vec::new();
    let mut short_sockets = 0;
    for r in readers {
        let r = r.await?;
        received += r.count;
        duplicates += r.duplicates;
        if (r.count as usize) < a.messages {
            short_sockets += 1;
        }
        errors.extend(r.errors);
        all.extend(r.latencies);
    }
    waiting.abort();
    drop(idle_sinks);
    let expected = (a.messages * a.sockets) as u64;
    let lost = expected.saturating_sub(received);
    let mut stored_ok = true;
    let mut stored = None;
    if a.verify_stored
        && let Some(token) = &a.token_for_history
    {
        let n = count_stored(target, a.room, run, token, a.messages).await?;
        stored_ok = n == a.messages;
        stored = Some(n);
    }
    let s = all.summary();
    let send_err = send_errors.load(Ordering::Relaxed);
    println!(
        "  sent {} messages at {:.1}/s ({} send errors); deliveries {received}/{expected}, lost {lost} ({short_sockets} sockets short), duplicates {duplicates}",
        a.messages,
        a.messages as f64 / send_s.max(0.001),
        send_err
    );
    println!("  delivery latency: {}", s.text());
    if let Some(n) = stored {
        println!("  stored in history: {n}/{}", a.messages);
    }
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    let mut f = serde_json::Map::new();
    f.insert("sockets".into(), json!(a.sockets));
    f.insert("nodes".into(), json!(target.bases.len()));
    f.insert("messages".into(), json!(a.messages));
    f.insert("rate".into(), json!(a.rate));
    f.insert("deliveries".into(), json!(received));
    f.insert("lost".into(), json!(lost));
    f.insert("duplicates".into(), json!(duplicates));
    f.insert("errors".into(), json!(errors.len() as u64 + send_err));
    f.insert("stored".into(), json!(stored));
    f.insert("connect_s".into(), json!((connect_s * 10.0).round() / 10.0));
    s.fields("", &mut f);
    report("chat-fanout", f);
    Ok(lost == 0 && errors.is_empty() && send_err == 0 && stored_ok && duplicates == 0)
}

/// How many of this run's messages the room's history holds (newest first, paged by `before`).
async fn count_stored(
    target: &Target,
    room: i64,
    run: u64,
    token: &str,
    expected: usize,
) -> anyhow::Result<usize> {
    let marker = format!("lg:{run}:");
    let mut found = 0;
    let mut before: Option<i64> = None;
    for _ in 0..(expected / 50 + 20) {
        let path = match before {
            Some(b) => format!("/api/v1/rooms/{room}/messages?limit=100&before={b}"),
            None => format!("/api/v1/rooms/{room}/messages?limit=100"),
        };
        let page = target.get_json(&path, Some(token)).await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        let mut ours = 0;
        for m in &items {
            if m["body"].as_str().is_some_and(|b| b.starts_with(&marker)) {
                ours += 1;
            }
            if let Some(id) = m["id"].as_i64() {
                before = Some(before.map_or(id, |b: i64| b.min(id)));
            }
        }
        found += ours;
        if found >= expected || (ours == 0 && found > 0) {
            break;
        }
    }
    Ok(found)
}

pub struct ThroughputArgs {
    pub room: i64,
    pub listeners: usize,
    pub senders: usize,
    pub window: usize,
    pub seconds: f64,
}

/// Senders keep `window` messages each in flight (the echo of one lets the next go) for a
/// while; stored messages/s is what came back, and every listener must get each of them.
pub async fn throughput(target: &Target, a: ThroughputArgs) -> anyhow::Result<bool> {
    let run = run_id();
    let listeners = open_sockets(target, a.listeners, a.room, 256).await?;
    let sender_socks = open_sockets(target, a.senders.max(1), a.room, 64).await?;
    println!(
        "chat-throughput: {} listeners and {} senders in room {}, {:.0} s, window {}",
        listeners.len(),
        sender_socks.len(),
        a.room,
        a.seconds,
        a.window
    );
    // Listeners only count: expected is unknown in advance, so they stop on the signal.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readers = Vec::new();
    let mut sinks = Vec::new();
    for ws in listeners {
        let (tx, rx) = ws.split();
        sinks.push(tx);
        readers.push(tokio::spawn(receive(rx, run, 0, stop_rx.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for (s, ws) in sender_socks.into_iter().enumerate() {
        let window = a.window.max(1);
        let room = a.room;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let mut lat = Latencies::default();
            let mut sent = 0u64;
            let mut acked = 0u64;
            let mut errors = Vec::new();
            let key = s as u64 + 1_000_000;
            // The sender's own stream also carries the other senders' messages: skip those.
            while (sent as usize) < window {
                let f = send_frame(room, &body(run, key, sent), &format!("t{sent}"));
                if let Err(e) = tx.send(f).await {
                    errors.push(e.to_string());
                    break;
                }
                sent += 1;
            }
            while acked < sent {
                let frame = tokio::time::timeout(Duration::from_secs(10), rx.next()).await;
                let t = match frame {
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(_))) => continue,
                    Ok(other) => {
                        errors.push(format!("sender socket ended: {other:?}"));
                        break;
                    }
                    Err(_) => {
                        errors.push(format!("no echo for 10 s ({acked}/{sent})"));
                        break;
                    }
                };
                match parse_seen(&t, run) {
                    Some(Ok(seen)) if seen.sender == key => {
                        acked += 1;
                        lat.record(now_us().saturating_sub(seen.sent_us));
                        if Instant::now() < deadline {
                            let f = send_frame(room, &body(run, key, sent), &format!("t{sent}"));
                            if let Err(e) = tx.send(f).await {
                                errors.push(e.to_string());
                                break;
                            }
                            sent += 1;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => errors.push(e),
                    None if t.contains("\"op\":\"error\"") => {
                        errors.push(t.to_string());
                        // A refused message frees its slot.
                        acked += 1;
                    }
                    None => {}
                }
            }
            (acked, lat, errors)
        }));
    }
    let started = Instant::now();
    let mut acked = 0;
    let mut lat = Latencies::default();
    let mut errors = Vec::new();
    for t in tasks {
        let (a, l, e) = t.await?;
        acked += a;
        lat.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the listeners drain, then stop them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let mut delivered = 0u64;
    let mut lost_sockets = 0;
    let mut listener_errors = Vec::new();
    for r in readers {
        let r = r.await?;
        delivered += r.count;
        if r.count < acked {
            lost_sockets += 1;
        }
        listener_errors.extend(r.errors);
    }
    drop(sinks);
    let expected = acked * a.listeners as u64;
    let lost = expected.saturating_sub(delivered);
    let rate = acked as f64 / elapsed.max(0.001);
    let s = lat.summary();
    println!(
        "  stored and echoed {acked} messages in {elapsed:.1} s: {rate:.0} messages/s; listener deliveries {delivered}/{expected} ({:.0}/s), lost {lost} ({lost_sockets} sockets short)",
        delivered as f64 / elapsed.max(0.001)
    );
    println!("  send→echo latency: {}", s.text());
    for e in errors.iter().chain(listener_errors.iter()).take(5) {
        println!("  error: {e}");
    }
    let mut f = serde_json::Map::new();
    f.insert("listeners".into(), json!(a.listeners));
    f.insert("senders".into(), json!(a.senders));
    f.insert("nodes".into(), json!(target.bases.len()));
    f.insert("seconds".into(), json!((elapsed * 10.0).round() / 10.0));
    f.insert("stored".into(), json!(acked));
    f.insert("messages_per_s".into(), json!(rate.round()));
    f.insert(
        "deliveries_per_s".into(),
        json!((delivered as f64 / elapsed.max(0.001)).round()),
    );
    f.insert("lost".into(), json!(lost));
    f.insert(
        "errors".into(),
        json!((errors.len() + listener_errors.len()) as u64),
    );
    s.fields("echo_", &mut f);
    report("chat-throughput", f);
    if acked == 0 {
        bail!("no message was stored: {:?}", errors.first());
    }
    Ok(lost == 0 && errors.is_empty() && listener_errors.is_empty())
}
