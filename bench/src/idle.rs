//! `idle-sockets`: what an idle, authenticated, subscribed socket costs the server, from the
//! server's resident memory (`/proc/<pid>/status`, VmRSS) before and after opening N of them.
//!
//! Before the first reading, each member whose token a socket will use reads the room once over
//! HTTP. That pulls the database pages their sessions, memberships and the room live on into
//! SQLite's page cache — shared, bounded by `cache_size`, and paid once however many sockets a
//! member opens — so the growth measured afterwards is the sockets' own state.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::common::{Target, open_sockets, report};

/// VmRSS of a process, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (is --pid the server's?)"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS line")?;
    Ok(kb * 1024)
}

/// Each of the first `n` members reads the room's latest message over HTTP (32 at a time).
async fn read_room_as_each(target: &Target, n: usize, room: i64) -> anyhow::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        if set.len() >= 32
            && let Some(done) = set.join_next().await
        {
            done??;
        }
        let target = target.clone();
        set.spawn(async move {
            let token = target.token(i)?.to_owned();
            target
                .get_json(&format!("/api/v1/rooms/{room}/messages?limit=1"), Some(&token))
                .await
                .map(drop)
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(())
}

pub async fn idle(target: &Target, pid: u32, sockets: usize, room: i64) -> anyhow::Result<bool> {
    // One socket first, so what every connection shares (buffers pools, the room) is paid.
    let warm = open_sockets(target, 1, room, 1).await?;
    read_room_as_each(target, sockets, room).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_bytes(pid)?;
    let held = open_sockets(target, sockets, room, 256).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_bytes(pid)?;
    let per = after.saturating_sub(before) as f64 / held.len().max(1) as f64;
    println!(
        "idle-sockets: {} subscribed sockets; server RSS {:.1} MiB → {:.1} MiB: {:.0} bytes ({:.1} KiB) per socket",
        held.len(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per,
        per / 1024.0
    );
    let mut f = serde_json::Map::new();
    f.insert("sockets".into(), json!(held.len()));
    f.insert("rss_before".into(), json!(before));
    f.insert("rss_after".into(), json!(after));
    f.insert("bytes_per_socket".into(), json!(per.round()));
    f.insert("page_cache_warmed".into(), json!(true));
    report("idle-sockets", f);
    drop(held);
    drop(warm);
    Ok(true)
}
