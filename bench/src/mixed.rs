//! `mixed-day`: a community's day compressed. Every member is online (one subscribed socket
//! each); most read (topic list, then a page of a topic), some chat, a few post replies. Reports
//! each kind's latency and the chat's delivery latency and losses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::json;
use tokio::sync::{Mutex, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::chat::{body, parse_seen};
use crate::common::{Latencies, Target, now_us, open_sockets, report, send_frame};

pub struct MixedArgs {
    pub community: String,
    pub room: i64,
    pub big_topic: i64,
    pub members: usize,
    pub seconds: f64,
    /// Mean seconds between two actions of one member.
    pub think: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Reader,
    Chatter,
    Poster,
}

fn role(i: usize) -> Role {
    match i % 20 {
        17 | 18 => Role::Chatter,
        19 => Role::Poster,
        _ => Role::Reader,
    }
}

#[derive(Default)]
struct Tally {
    reads: Latencies,
    posts: Latencies,
    sends: u64,
    errors: u64,
    first_error: Option<String>,
}

pub async fn mixed(target: &Target, a: MixedArgs) -> anyhow::Result<bool> {
    let run = now_us() % 1_000_000_000;
    let token0 = target.token(0)?.to_owned();
    let list = target
        .get_json(
            &format!("/api/v1/communities/{}/topics?limit=100", a.community),
            Some(&token0),
        )
        .await?;
    let mut topics: Vec<i64> = list["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default();
    topics.push(a.big_topic);
    let sockets = open_sockets(target, a.members, a.room, 256).await?;
    println!(
        "mixed-day: {} members online in {} (room {}), {:.0} s, an action every {:.1} s each: {} readers, {} chatters, {} posters",
        sockets.len(),
        a.community,
        a.room,
        a.seconds,
        a.think,
        (0..a.members).filter(|i| role(*i) == Role::Reader).count(),
        (0..a.members).filter(|i| role(*i) == Role::Chatter).count(),
        (0..a.members).filter(|i| role(*i) == Role::Poster).count(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let topics = Arc::new(topics);
    let mut receivers = Vec::new();
    let mut actors = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let (tx, mut rx) = ws.split();
        let tx = Arc::new(Mutex::new(tx));
        let mut stop = stop_rx.clone();
        receivers.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut errors = 0u64;
            loop {
                let frame = tokio::select! {
                    f = rx.next() => f,
                    _ = stop.wait_for(|s| *s) => break,
                };
                let now = now_us();
                match frame {
                    Some(Ok(Message::Text(t))) => match parse_seen(&t, run) {
                        Some(Ok(seen)) => lat.record(now.saturating_sub(seen.sent_us)),
                        Some(Err(_)) => errors += 1,
                        None => {}
                    },
                    Some(Ok(_)) => {}
                    _ => {
                        errors += 1;
                        break;
                    }
                }
            }
            (lat, errors)
        }));
        let target = target.clone();
        let topics = topics.clone();
        let token = target.token(i)?.to_owned();
        let community = a.community.clone();
        let (room, think) = (a.room, a.think);
        actors.push(tokio::spawn(async move {
            let mut t = Tally::default();
            let mut n = 0u64;
            let base = target.base(i).to_owned();
            loop {
                let pause = rand::rng().random_range(0.0..2.0 * think);
                let wake = Instant::now() + Duration::from_secs_f64(pause);
                if wake >= deadline {
                    break;
                }
                tokio::time::sleep_until(wake.into()).await;
                let started = Instant::now();
                let result: Result<(), String> = match role(i) {
                    Role::Reader => {
                        let topic = topics[rand::rng().random_range(0..topics.len())];
                        let list = format!("{base}/api/v1/communities/{community}/topics");
                        let page = format!("{base}/api/v1/topics/{topic}/posts?limit=20");
                        let mut r = Ok(());
                        for url in [list, page] {
                            match target.http.get(url).bearer_auth(&token).send().await {
                                Ok(resp) if resp.status().is_success() => {
                                    let _ = resp.bytes().await;
                                }
                                Ok(resp) => r = Err(format!("read: {}", resp.status())),
                                Err(e) => r = Err(format!("read: {e}")),
                            }
                        }
                        if r.is_ok() {
                            t.reads.record(started.elapsed().as_micros() as u64);
                        }
                        r
                    }
                    Role::Chatter => {
                        let f = send_frame(room, &body(run, i as u64, n), &format!("m{i}-{n}"));
                        match tx.lock().await.send(f).await {
                            Ok(()) => {
                                t.sends += 1;
                                Ok(())
                            }
                            Err(e) => Err(format!("send: {e}")),
                        }
                    }
                    Role::Poster => {
                        let topic = topics[rand::rng().random_range(0..topics.len())];
                        let resp = target
                            .http
                            .post(format!("{base}/api/v1/topics/{topic}/posts"))
                            .bearer_auth(&token)
                            .json(&json!({"body": format!("Day {n}: **still going**, thanks all. _Walked_ 20 minutes.")}))
                            .send()
                            .await;
                        match resp {
                            Ok(r) if r.status().as_u16() == 201 => {
                                let _ = r.bytes().await;
                                t.posts.record(started.elapsed().as_micros() as u64);
                                Ok(())
                            }
                            Ok(r) => Err(format!("reply: {}", r.status())),
                            Err(e) => Err(format!("reply: {e}")),
                        }
                    }
                };
                if let Err(e) = result {
                    t.errors += 1;
                    t.first_error.get_or_insert(e);
                }
                n += 1;
            }
            drop(tx);
            t
        }));
    }
    let mut total = Tally::default();
    for a in actors {
        let t = a.await?;
        total.reads.extend(t.reads);
        total.posts.extend(t.posts);
        total.sends += t.sends;
        total.errors += t.errors;
        if total.first_error.is_none() {
            total.first_error = t.first_error;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop_tx.send(true);
    let mut chat = Latencies::default();
    let mut socket_errors = 0;
    for r in receivers {
        let (lat, errors) = r.await?;
        chat.extend(lat);
        socket_errors += errors;
    }
    let expected = total.sends * a.members as u64;
    let delivered = chat.0.len() as u64;
    let lost = expected.saturating_sub(delivered);
    let (r, p, c) = (total.reads.summary(), total.posts.summary(), chat.summary());
    println!("  reads (topic list + page): {}", r.text());
    println!("  replies: {}", p.text());
    println!(
        "  chat: {} messages sent, deliveries {delivered}/{expected}, lost {lost}; {}",
        total.sends,
        c.text()
    );
    if let Some(e) = &total.first_error {
        println!("  {} errors, first: {e}", total.errors);
    }
    let mut f = serde_json::Map::new();
    f.insert("members".into(), json!(a.members));
    f.insert("nodes".into(), json!(target.bases.len()));
    f.insert("seconds".into(), json!(a.seconds));
    f.insert("reads".into(), json!(r.count));
    f.insert("replies".into(), json!(p.count));
    f.insert("chat_messages".into(), json!(total.sends));
    f.insert("lost".into(), json!(lost));
    f.insert("errors".into(), json!(total.errors + socket_errors));
    r.fields("read_", &mut f);
    p.fields("reply_", &mut f);
    c.fields("chat_", &mut f);
    report("mixed-day", f);
    Ok(lost == 0 && total.errors == 0 && socket_errors == 0)
}
