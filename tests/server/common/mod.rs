//! The black-box test harness: starts the real `mutual` binary on an ephemeral port with a fresh
//! database, and speaks real HTTP to it.
//!
//! Every test written with `both_backends!` runs twice: on SQLite (a temporary file) and on
//! PostgreSQL with Redis (a database and key prefix of its own), the scale-out configuration.
//! `MUTUAL_TEST_BACKENDS` (set by `scripts/test`) says which are available; a PostgreSQL case on a
//! machine without PostgreSQL says so loudly and returns, and under `CI=true` it fails.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PASSWORD: &str = "green-kettle-river-42";

/// The version of the health-data notice members consent to now.
pub const CONSENT_VERSION: &str = "health-data-2026-12";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body on each backend: `both_backends!(name, |b| async move { ... })`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = $body;
                f($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::common::backend_available($crate::common::Backend::Postgres) {
                    return;
                }
                let f = $body;
                f($crate::common::Backend::Postgres).await;
            }
        }
    };
}

/// Whether the backend can be tested here; under CI a missing one is a failure, elsewhere a loud
/// skip.
pub fn backend_available(backend: Backend) -> bool {
    let wanted = std::env::var("MUTUAL_TEST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    if wanted.split(',').any(|b| b.trim() == name) {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the {name} backend is not available (MUTUAL_TEST_BACKENDS={wanted})");
    }
    eprintln!("SKIPPED on {name}: MUTUAL_TEST_BACKENDS={wanted} (run scripts/test to set it up)");
    false
}

fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A fresh database for one server (or several sharing it).
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: PathBuf,
    /// Key prefix in Redis, so parallel tests never see each other's keys.
    pub redis_prefix: String,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let id = unique();
        let dir = std::env::temp_dir().join(format!("mutual-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // No automod filters unless a test sets its own (the binary's built-in policy would
        // hold or refuse some of the tests' texts).
        std::fs::write(dir.join("no-rules.toml"), "").expect("rules file");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.join("mutual.db").display()),
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = postgres_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                let name = format!("t_{id}");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let (base, _) = admin.rsplit_once('/').expect("database URL with a path");
                format!("{base}/{name}")
            }
        };
        TestDb {
            backend,
            url,
            dir,
            redis_prefix: format!("mutual-test-{id}"),
        }
    }
}

/// A passing test leaves nothing behind in the temp folder; a failing one keeps its folder (the
/// servers' logs and the SQLite file) for a look.
impl Drop for TestDb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// How to start a server (rate limits off unless a test turns them on).
#[derive(Default)]
pub struct ServerOptions {
    pub rate_limits: bool,
    pub extra_env: Vec<(String, String)>,
    /// Use Redis (on by default with PostgreSQL, the scale-out configuration).
    pub redis: Option<bool>,
}

/// A running `mutual serve`, killed when dropped.
pub struct Server {
    pub base: String,
    pub db: std::sync::Arc<TestDb>,
    pub child: Option<Child>,
    pub client: reqwest::Client,
    pub log: PathBuf,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mutual")
}

/// `mutual` with the environment of a test database, ready for a subcommand.
pub fn command(db: &TestDb) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("MUTUAL_DATA_DIR", db.dir.join("data"))
        .env("MUTUAL_REDIS_PREFIX", &db.redis_prefix)
        .env("MUTUAL_RULES", db.dir.join("no-rules.toml"))
        .env("RUST_LOG", "info,sqlx=warn")
        .current_dir(&db.dir);
    cmd
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(backend, ServerOptions::default()).await
    }

    pub async fn start_with(backend: Backend, options: ServerOptions) -> Server {
        let db = std::sync::Arc::new(TestDb::new(backend).await);
        Server::start_on(db, options).await
    }

    /// Starts a server on an existing database (a second node, or a restart).
    pub async fn start_on(db: std::sync::Arc<TestDb>, options: ServerOptions) -> Server {
        let log = db.dir.join(format!("server-{}.log", unique()));
        let mut cmd = command(&db);
        cmd.env("MUTUAL_LISTEN", "127.0.0.1:0")
            .env(
                "MUTUAL_RATE_LIMITS",
                if options.rate_limits { "on" } else { "off" },
            )
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let use_redis = options.redis.unwrap_or(db.backend == Backend::Postgres);
        if use_redis {
            cmd.env("REDIS_URL", redis_url());
        }
        for (k, v) in &options.extra_env {
            cmd.env(k, v);
        }
        cmd.arg("serve");
        let mut child = cmd.spawn().expect("start mutual");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Server {
            base,
            db,
            child: Some(child),
            client,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a request; the answer's status and JSON body (`Value::Null` when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The server's `/metrics` text, read with its `MUTUAL_METRICS_TOKEN`.
    pub async fn metrics(&self, token: &str) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, token, Some(body)).await
    }

    /// Registers `username` with the test password, consenting to hold health data (as most
    /// members do); returns the token.
    pub async fn register(&self, username: &str) -> String {
        self.register_with(
            username,
            json!({"health_data_consent": {"version": CONSENT_VERSION}}),
        )
        .await
    }

    /// Registers `username` without consent to hold health data; returns the token.
    pub async fn register_without_consent(&self, username: &str) -> String {
        self.register_with(username, json!({})).await
    }

    async fn register_with(&self, username: &str, extra: Value) -> String {
        let mut body = json!({"username": username, "password": PASSWORD});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, body) = self.post("/api/v1/auth/register", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Runs `mutual ARGS` against this server's database; (success, stdout, stderr).
    pub fn run_cli(&self, args: &[&str]) -> (bool, String, String) {
        run_cli(&self.db, args)
    }

    /// Sends SIGTERM and waits; the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run_cli(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = command(db).args(args).output().expect("run mutual");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p
}

/// Forum helpers on top of the raw calls.
impl Server {
    /// An admin made from the shell, signed in.
    pub async fn admin(&self) -> String {
        let name = format!("admin{}", unique().replace('_', ""));
        let name = &name[..name.len().min(30)];
        let (ok, out, err) = self.run_cli(&[
            "admin",
            "create-user",
            "--username",
            name,
            "--password",
            PASSWORD,
            "--role",
            "admin",
        ]);
        assert!(ok, "{out}{err}");
        self.login(name).await
    }

    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// Creates a community as `admin` with extra settings merged in.
    pub async fn community(
        &self,
        admin: &str,
        slug: &str,
        visibility: &str,
        extra: Value,
    ) -> Value {
        let mut body =
            json!({"slug": slug, "name": format!("Community {slug}"), "visibility": visibility});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, answer) = self.post("/api/v1/communities", Some(admin), body).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "create community {slug}: {answer}"
        );
        answer
    }

    /// Joins (public/members communities: at once).
    pub async fn join(&self, token: &str, slug: &str) {
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/v1/communities/{slug}/join"),
                Some(token),
                None,
            )
            .await;
        assert!(
            status == StatusCode::OK || status == StatusCode::ACCEPTED,
            "join {slug}: {status} {body}"
        );
    }

    /// A single-use invitation to `slug`, made by `organiser`; its code.
    pub async fn invitation(&self, organiser: &str, slug: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/communities/{slug}/invitations"),
                Some(organiser),
                json!({"max_uses": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "invitation to {slug}: {body}");
        body["code"].as_str().expect("code").to_string()
    }

    /// Lets `token` into the private community `slug` with an invitation from `organiser` (a
    /// private community cannot be joined by its address alone).
    pub async fn join_invited(&self, organiser: &str, token: &str, slug: &str) {
        let code = self.invitation(organiser, slug).await;
        let (status, body) = self
            .post(
                &format!("/api/v1/communities/{slug}/join"),
                Some(token),
                json!({"code": code}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "join {slug} invited: {body}");
        assert_eq!(body["status"], "active");
    }

    /// Starts a topic; returns (topic id, first post id).
    pub async fn topic(&self, token: &str, slug: &str, title: &str, body: &str) -> (i64, i64) {
        let (status, answer) = self
            .post(
                &format!("/api/v1/communities/{slug}/topics"),
                Some(token),
                json!({"title": title, "body": body}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "topic in {slug}: {answer}");
        (
            answer["topic"]["id"].as_i64().expect("topic id"),
            answer["post"]["id"].as_i64().expect("post id"),
        )
    }

    /// Sets the member's language (their pages and mails).
    pub async fn set_locale(&self, token: &str, locale: &str) {
        let (st, body) = self
            .call(
                "PATCH",
                "/api/v1/me",
                Some(token),
                Some(json!({"locale": locale})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }

    /// Replies; returns the new post.
    pub async fn reply(&self, token: &str, topic: i64, body: Value) -> Value {
        let (status, answer) = self
            .post(&format!("/api/v1/topics/{topic}/posts"), Some(token), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "reply in {topic}: {answer}");
        answer["post"].clone()
    }
}

pub mod web;

/// WebSocket client helpers (tokio-tungstenite, a real client).
pub mod ws {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    use super::Server;

    pub type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    pub async fn connect(s: &Server, token: &str) -> Ws {
        let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        ws
    }

    pub async fn send(ws: &mut Ws, frame: Value) {
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }

    /// The next frame with this op, skipping others (presence, typing...).
    pub async fn next_op(ws: &mut Ws, op: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, ws.next())
                .await
                .unwrap_or_else(|_| panic!("no `{op}` frame within 10 s"));
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("server frames are JSON");
                    if v["op"] == op {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("socket ended waiting for `{op}`: {other:?}"),
            }
        }
    }
}
