//! `idle-sockets`: what an idle, authenticated, subscribed socket costs the server, from the
//! server's resident memory (`/proc/<pid>/status`, VmRSS) while opening N of them.
//!
//! The sockets open in two halves, each for different members. The first half also fills what
//! every member's first connection grows and then stops growing: SQLite's page cache (each
//! connection's `cache_size`) holding those members' rows. The second half is the figure: the
//! marginal cost of one more socket once the shared caches are full.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::common::{Target, open_sockets, open_sockets_from, report};

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

pub async fn idle(target: &Target, pid: u32, sockets: usize, room: i64) -> anyhow::Result<bool> {
    // One socket first, so what every connection shares (buffers pools, the room) is paid.
    let warm = open_sockets(target, 1, room, 1).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let half = (sockets / 2).max(1);
    let start = rss_bytes(pid)?;
    let first = open_sockets_from(target, 1, half, room, 256).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let middle = rss_bytes(pid)?;
    let second = open_sockets_from(target, 1 + half, half, room, 256).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = rss_bytes(pid)?;
    let per_first = middle.saturating_sub(start) as f64 / first.len().max(1) as f64;
    let per = end.saturating_sub(middle) as f64 / second.len().max(1) as f64;
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "idle-sockets: {} + {} subscribed sockets of distinct members; server RSS {:.1} → {:.1} → {:.1} MiB: \
         first half {:.1} KiB per socket (shared caches filling), second half {:.0} bytes ({:.1} KiB) per socket",
        first.len(),
        second.len(),
        mib(start),
        mib(middle),
        mib(end),
        per_first / 1024.0,
        per,
        per / 1024.0
    );
    let mut f = serde_json::Map::new();
    f.insert("sockets".into(), json!(first.len() + second.len()));
    f.insert("rss_before".into(), json!(start));
    f.insert("rss_middle".into(), json!(middle));
    f.insert("rss_after".into(), json!(end));
    f.insert(
        "first_half_bytes_per_socket".into(),
        json!(per_first.round()),
    );
    f.insert("bytes_per_socket".into(), json!(per.round()));
    report("idle-sockets", f);
    drop((first, second, warm));
    Ok(true)
}
