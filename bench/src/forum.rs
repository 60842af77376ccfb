//! Forum scenarios: `forum-read` (the first and a deep page of a big topic at C connections for
//! D seconds) and `forum-write` (replies with markdown and mentions, C writers for D seconds).

use std::time::{Duration, Instant};

use anyhow::bail;
use rand::Rng;
use serde_json::json;

use crate::common::{Latencies, Target, report};

/// What C looping clients did in D seconds.
struct Loop {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    latencies: Latencies,
    elapsed: f64,
}

/// Runs `one(i, n)` (client i, its n-th request) in C tasks until the time is up.
async fn run_loop<F, Fut>(connections: usize, seconds: f64, one: F) -> Loop
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..connections {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match one(i, n).await {
                    Ok(()) => {
                        ok += 1;
                        lat.record(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // Do not spin on a failing server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                n += 1;
            }
            (ok, errors, first_error, lat)
        }));
    }
    let mut out = Loop {
        ok: 0,
        errors: 0,
        first_error: None,
        latencies: Latencies::default(),
        elapsed: 0.0,
    };
    for t in tasks {
        if let Ok((ok, errors, first, lat)) = t.await {
            out.ok += ok;
            out.errors += errors;
            if out.first_error.is_none() {
                out.first_error = first;
            }
            out.latencies.extend(lat);
        }
    }
    out.elapsed = started.elapsed().as_secs_f64();
    out
}

pub struct ReadArgs {
    pub topic: i64,
    /// `first`, `deep` or `both` (alternating).
    pub page: String,
    pub connections: usize,
    pub seconds: f64,
    /// Read as a signed-in member (tokens round-robin) instead of anonymously.
    pub auth: bool,
    /// The HTML page `/t/{id}` instead of the JSON API.
    pub html: bool,
}

/// GETs of a topic's first and deep pages.
pub async fn read(target: &Target, a: ReadArgs) -> anyhow::Result<bool> {
    let token = target.tokens.first().map(String::as_str);
    let topic = target
        .get_json(&format!("/api/v1/topics/{}", a.topic), token)
        .await?;
    let last_seq = topic["last_seq"].as_i64().unwrap_or(1);
    // The deep page: nine tenths of the way in (after post 9,000 of a 10,001-post topic).
    let deep_after = last_seq * 9 / 10;
    let paths = |deep: bool| -> String {
        match (a.html, deep) {
            (false, false) => format!("/api/v1/topics/{}/posts?limit=20", a.topic),
            (false, true) => format!(
                "/api/v1/topics/{}/posts?limit=20&after={deep_after}",
                a.topic
            ),
            (true, false) => format!("/t/{}", a.topic),
            (true, true) => format!("/t/{}?after={deep_after}", a.topic),
        }
    };
    let first = paths(false);
    let deep = paths(true);
    let mode = a.page.clone();
    let tokens: Vec<String> = if a.auth {
        target.tokens.clone()
    } else {
        Vec::new()
    };
    if a.auth && tokens.is_empty() {
        bail!("--auth needs --tokens-file");
    }
    let client = target.http.clone();
    let bases = target.bases.clone();
    let html = a.html;
    println!(
        "forum-read: topic {} ({} page{}, {}), {} connections, {:.0} s: {}{}",
        a.topic,
        mode,
        if mode == "both" { "s" } else { "" },
        if html { "HTML" } else { "JSON" },
        a.connections,
        a.seconds,
        if mode == "first" { &first } else { &deep },
        if a.auth {
            " as members"
        } else {
            " anonymously"
        }
    );
    let result = run_loop(a.connections, a.seconds, move |i, n| {
        let path = match mode.as_str() {
            "first" => first.clone(),
            "deep" => deep.clone(),
            _ if n % 2 == 0 => first.clone(),
            _ => deep.clone(),
        };
        let url = format!("{}{path}", bases[i % bases.len()]);
        let mut req = client.get(url);
        if !tokens.is_empty() {
            let token = &tokens[i % tokens.len()];
            // The web pages know a member by the session cookie, which holds the same token.
            req = if html {
                req.header("cookie", format!("mutual_session={token}"))
            } else {
                req.bearer_auth(token)
            };
        }
        async move {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ));
            }
            // A page of 20 posts (the last page may be shorter, never empty).
            if !html && !bytes.windows(7).any(|w| w == b"\"items\"") {
                return Err("no items in the answer".into());
            }
            Ok(())
        }
    })
    .await;
    finish_loop("forum-read", result, |f| {
        f.insert("topic".into(), json!(a.topic));
        f.insert("page".into(), json!(a.page));
        f.insert("html".into(), json!(a.html));
        f.insert("auth".into(), json!(a.auth));
        f.insert("connections".into(), json!(a.connections));
        f.insert("nodes".into(), json!(target.bases.len()));
    })
}

fn finish_loop(
    scenario: &str,
    mut r: Loop,
    extra: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> anyhow::Result<bool> {
    let rate = r.ok as f64 / r.elapsed.max(0.001);
    let s = r.latencies.summary();
    println!(
        "  {} ok, {} errors in {:.1} s: {rate:.0} req/s; {}",
        r.ok,
        r.errors,
        r.elapsed,
        s.text()
    );
    if let Some(e) = &r.first_error {
        println!("  first error: {e}");
    }
    let mut f = serde_json::Map::new();
    extra(&mut f);
    f.insert("seconds".into(), json!((r.elapsed * 10.0).round() / 10.0));
    f.insert("ok".into(), json!(r.ok));
    f.insert("errors".into(), json!(r.errors));
    f.insert("per_s".into(), json!(rate.round()));
    s.fields("", &mut f);
    report(scenario, f);
    Ok(r.errors == 0 && r.ok > 0)
}

pub struct WriteArgs {
    pub community: String,
    /// Replies go to this topic, or when none, spread over the community's newest topics.
    pub topic: Option<i64>,
    pub connections: usize,
    pub seconds: f64,
    /// Usernames to mention are `<prefix><n>` for n in 1..=tokens.
    pub user_prefix: String,
}

/// Replies with markdown and a mention each, as fast as C writers can.
pub async fn write(target: &Target, a: WriteArgs) -> anyhow::Result<bool> {
    let token0 = target.token(0)?.to_owned();
    let topics: Vec<i64> = match a.topic {
        Some(t) => vec![t],
        None => {
            let list = target
                .get_json(
                    &format!("/api/v1/communities/{}/topics?limit=100", a.community),
                    Some(&token0),
                )
                .await?;
            list["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|t| t["id"].as_i64()).collect())
                .unwrap_or_default()
        }
    };
    if topics.is_empty() {
        bail!("no topic to reply to in {}", a.community);
    }
    println!(
        "forum-write: {} writers replying over {} topic(s) of {} for {:.0} s",
        a.connections,
        topics.len(),
        a.community,
        a.seconds
    );
    let client = target.http.clone();
    let bases = target.bases.clone();
    let tokens = target.tokens.clone();
    let prefix = a.user_prefix.clone();
    let result = run_loop(a.connections, a.seconds, move |i, n| {
        let mut rng = rand::rng();
        let topic = topics[rng.random_range(0..topics.len())];
        let mention = format!("@{prefix}{}", rng.random_range(1..=tokens.len().max(1)));
        let body = format!(
            "Thanks {mention}, that helped. **Week {n}**: walked _every_ morning.\n\n- sugar {} mg/dL\n- slept well\n\nMore on [the clinic page](https://example.org/c/{i}).",
            90 + (n % 60)
        );
        let url = format!("{}/api/v1/topics/{topic}/posts", bases[i % bases.len()]);
        let req = client
            .post(url)
            .bearer_auth(&tokens[i % tokens.len()])
            .json(&json!({ "body": body }));
        async move {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            if status.as_u16() != 201 {
                let text = resp.text().await.unwrap_or_default();
                return Err(format!("{status}: {}", &text[..text.len().min(200)]));
            }
            let _ = resp.bytes().await;
            Ok(())
        }
    })
    .await;
    finish_loop("forum-write", result, |f| {
        f.insert("community".into(), json!(a.community));
        f.insert("connections".into(), json!(a.connections));
        f.insert("nodes".into(), json!(target.bases.len()));
    })
}
