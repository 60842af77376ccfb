//! What every scenario shares: the target server and its tokens, WebSocket clients that speak
//! API.md's frames, latency percentiles, and the one-JSON-line report.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type WsTx = SplitSink<Ws, Message>;
pub type WsRx = SplitStream<Ws>;

/// The server under test (one or several nodes) and the members' bearer tokens.
#[derive(Clone)]
pub struct Target {
    /// Base URLs (`http://127.0.0.1:8080`); clients are spread over them round-robin.
    pub bases: Vec<String>,
    pub tokens: Vec<String>,
    pub http: reqwest::Client,
}

impl Target {
    pub fn new(
        bases: Vec<String>,
        tokens_file: Option<&Path>,
        pool: usize,
    ) -> anyhow::Result<Self> {
        let tokens = match tokens_file {
            Some(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading {}", p.display()))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool.max(1))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Target {
            bases: bases
                .into_iter()
                .map(|b| b.trim_end_matches('/').to_owned())
                .collect(),
            tokens,
            http,
        })
    }

    pub fn base(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }

    pub fn token(&self, i: usize) -> anyhow::Result<&str> {
        if self.tokens.is_empty() {
            bail!("no tokens: give --tokens-file (written by `mutual admin seed --tokens-file`)");
        }
        Ok(&self.tokens[i % self.tokens.len()])
    }

    /// A GET answered with JSON; fails on any status but 200.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> anyhow::Result<Value> {
        let mut req = self.http.get(format!("{}{path}", self.base(0)));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// The id of a room of community `slug` (its default room).
    pub async fn default_room(&self, slug: &str, token: &str) -> anyhow::Result<i64> {
        let rooms = self
            .get_json(&format!("/api/v1/communities/{slug}/rooms"), Some(token))
            .await?;
        let list = rooms.get("items").unwrap_or(&rooms);
        list.as_array()
            .and_then(|a| a.first())
            .and_then(|r| r["id"].as_i64())
            .with_context(|| format!("no room in {slug}: {rooms}"))
    }
}

/// Microseconds since the Unix epoch: the send timestamp carried in message bodies, comparable
/// across processes on one machine.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Opens an authenticated socket to node `node` of the target.
pub async fn connect(target: &Target, node: usize, token: &str) -> anyhow::Result<Ws> {
    let base = target.base(node);
    let url = format!("{}/api/v1/ws", base.replacen("http", "ws", 1));
    let mut req = url.as_str().into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // tungstenite's default 128 KiB read buffer per socket made 10,000 clients cost 3 GB and
    // slowed the load generator more than the server; frames here are small.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

/// Subscribes and waits for `subscribed` (other frames before it are dropped).
pub async fn subscribe(ws: &mut Ws, room: i64) -> anyhow::Result<()> {
    ws.send(Message::text(
        json!({"op": "subscribe", "room": room, "since": null}).to_string(),
    ))
    .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no `subscribed` within 30 s")?;
        match frame {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t)?;
                match v["op"].as_str() {
                    Some("subscribed") => return Ok(()),
                    Some("error") => bail!("subscribe refused: {v}"),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("socket closed before `subscribed`"),
        }
    }
}

/// Opens `n` subscribed sockets, `parallel` handshakes at a time, tokens and nodes round-robin.
pub async fn open_sockets(
    target: &Target,
    n: usize,
    room: i64,
    parallel: usize,
) -> anyhow::Result<Vec<Ws>> {
    open_sockets_from(target, 0, n, room, parallel).await
}

/// As `open_sockets`, for the members whose tokens come `first` onwards.
pub async fn open_sockets_from(
    target: &Target,
    first: usize,
    n: usize,
    room: i64,
    parallel: usize,
) -> anyhow::Result<Vec<Ws>> {
    let mut out: Vec<Option<Ws>> = (0..n).map(|_| None).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < n || !set.is_empty() {
        while next < n && set.len() < parallel {
            let target = target.clone();
            let i = next;
            set.spawn(async move {
                let token = target.token(first + i)?.to_owned();
                let mut ws = connect(&target, i, &token).await?;
                subscribe(&mut ws, room).await?;
                anyhow::Ok((i, ws))
            });
            next += 1;
        }
        if let Some(done) = set.join_next().await {
            let (i, ws) = done??;
            out[i] = Some(ws);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// A message frame to send.
pub fn send_frame(room: i64, body: &str, nonce: &str) -> Message {
    Message::text(json!({"op": "send", "room": room, "body": body, "nonce": nonce}).to_string())
}

/// Latencies in microseconds, summarised as percentiles.
#[derive(Default)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn record(&mut self, us: u64) {
        self.0.push(us);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// (p50, p90, p99, max) in milliseconds.
    pub fn summary(&mut self) -> Summary {
        self.0.sort_unstable();
        let at = |p: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            let i = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len()) - 1;
            self.0[i] as f64 / 1000.0
        };
        Summary {
            count: self.0.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: self.0.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    pub fn text(&self) -> String {
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            self.p50, self.p90, self.p99, self.max, self.count
        )
    }

    /// The figures as JSON fields with a prefix (`"read_p99_ms"`).
    pub fn fields(&self, prefix: &str, into: &mut serde_json::Map<String, Value>) {
        let r = |x: f64| (x * 100.0).round() / 100.0;
        into.insert(format!("{prefix}p50_ms"), json!(r(self.p50)));
        into.insert(format!("{prefix}p90_ms"), json!(r(self.p90)));
        into.insert(format!("{prefix}p99_ms"), json!(r(self.p99)));
        into.insert(format!("{prefix}max_ms"), json!(r(self.max)));
    }
}

/// Prints the run's one JSON line: `{"scenario": ..., figures...}`.
pub fn report(scenario: &str, mut fields: serde_json::Map<String, Value>) {
    let mut line = serde_json::Map::new();
    line.insert("scenario".into(), json!(scenario));
    line.append(&mut fields);
    println!("{}", Value::Object(line));
}
