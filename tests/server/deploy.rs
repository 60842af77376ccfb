#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The deployment in `deploy/`: two nodes on PostgreSQL + Redis behind the real nginx, serving
//! through `deploy/nginx/mutual.conf` and its proxy snippet (ports and node addresses swapped in).
//! Pages, the API, a chat message crossing from one node to the other through the proxy, and the
//! client address rate limits see: the entry nginx adds to `X-Forwarded-For`, never one a client
//! wrote, and never from a peer that is not the proxy.
//!
//! Ignored by the main run; `tests/deploy.sh` installs nginx when missing and runs it.

use crate::common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::ws::{Ws, next_op, send};
use common::{Backend, PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const METRICS_TOKEN: &str = "deploy-test-metrics";

fn nginx_bin() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into()));
    path.exists().then_some(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Replaces `from` in `text`, which must hold it: the deploy files and this test move together.
fn swap(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx no longer holds {from:?}: update tests/deploy.rs"
    );
    text.replace(from, to)
}

/// nginx as one foreground process with its own prefix, killed when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// The site file for nodes `a` and `b`: plain HTTP on `http` (the redirect to https) and on
    /// `site` (the site, in place of the TLS snippet).
    fn site(a: &str, b: &str, http: u16, site: u16) -> String {
        let text = std::fs::read_to_string(repo("deploy/nginx/mutual.conf")).unwrap();
        let text = swap(&text, "server 127.0.0.1:8081 ", &format!("server {a} "));
        let text = swap(&text, "server 127.0.0.1:8082 ", &format!("server {b} "));
        let text = swap(
            &text,
            "    listen 80;\n    listen [::]:80;\n",
            &format!("    listen 127.0.0.1:{http};\n"),
        );
        let text = swap(
            &text,
            "include snippets/mutual-tls.conf;",
            &format!("listen 127.0.0.1:{site};"),
        );
        swap(
            &text,
            "include snippets/mutual-proxy.conf;",
            &format!(
                "include {};",
                repo("deploy/nginx/mutual-proxy.conf").display()
            ),
        )
    }

    /// The main configuration around a site: temp files and logs under `dir`.
    fn main_config(dir: &Path, site: &Path) -> String {
        let d = dir.display();
        format!(
            "worker_processes 1;\nmaster_process off;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {};\n}}\n",
            site.display()
        )
    }

    fn command(bin: &Path, dir: &Path, config: &Path) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(config)
            .arg("-e")
            .arg(dir.join("error.log"));
        cmd
    }

    fn start(bin: &Path, dir: PathBuf, site: &str, port: u16) -> Nginx {
        std::fs::create_dir_all(&dir).unwrap();
        let site_file = dir.join("site.conf");
        std::fs::write(&site_file, site).unwrap();
        let config = dir.join("nginx.conf");
        std::fs::write(&config, Nginx::main_config(&dir, &site_file)).unwrap();
        let test = Nginx::command(bin, &dir, &config)
            .arg("-t")
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let nginx = Nginx {
            child: Nginx::command(bin, &dir, &config)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "nginx did not listen; log:\n{}",
            std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default()
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A client whose connections come from `from` (any 127.x address is this machine).
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn register(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": username, "password": PASSWORD}));
    if let Some(x) = forwarded_for {
        req = req.header("x-forwarded-for", x);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A socket through the proxy, bearing `token`.
async fn socket(proxy: SocketAddr, token: &str) -> Ws {
    let mut request = format!("ws://{proxy}/api/v1/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket through nginx");
    ws
}

/// The sockets a node holds, from its own `/metrics`.
async fn sockets_on(node: &Server) -> f64 {
    let text = node.metrics(METRICS_TOKEN).await;
    text.lines()
        .find_map(|l| l.strip_prefix("mutual_ws_connections "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx: run by tests/deploy.sh"]
async fn two_nodes_behind_nginx() {
    let Some(nginx) = nginx_bin() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but nginx is missing (tests/deploy.sh installs it)");
        }
        eprintln!("SKIPPED: no nginx at /usr/sbin/nginx (set NGINX, or run tests/deploy.sh)");
        return;
    };
    if !common::backend_available(Backend::Postgres) {
        return;
    }
    let options = || ServerOptions {
        rate_limits: true,
        redis: Some(true),
        extra_env: vec![
            ("MUTUAL_TRUSTED_PROXIES".into(), "127.0.0.1".into()),
            ("MUTUAL_METRICS_TOKEN".into(), METRICS_TOKEN.into()),
        ],
    };
    let a = Server::start_with(Backend::Postgres, options()).await;
    let b = Server::start_on(a.db.clone(), options()).await;
    let (http_port, site_port) = (free_port(), free_port());
    let site = Nginx::site(
        a.base.trim_start_matches("http://"),
        b.base.trim_start_matches("http://"),
        http_port,
        site_port,
    );
    let _nginx = Nginx::start(&nginx, a.db.dir.join("nginx"), &site, site_port);
    let proxy = SocketAddr::from(([127, 0, 0, 1], site_port));
    let base = format!("http://{proxy}");
    let web = client_from([127, 0, 0, 1]);

    // Plain HTTP is sent to https.
    let resp = web
        .get(format!("http://127.0.0.1:{http_port}/c/x?y=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::MOVED_PERMANENTLY);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://")
    );

    // Pages, a static file and the help page, through the proxy.
    let home = web.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let home = home.text().await.unwrap();
    let css = home
        .split('"')
        .find(|s| s.starts_with("/static/") && s.ends_with("site.css"))
        .expect("the stylesheet's address on /");
    let resp = web.get(format!("{base}{css}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let help = web.get(format!("{base}/help")).send().await.unwrap();
    assert_eq!(help.status(), StatusCode::OK);
    assert_eq!(
        web.get(format!("{base}/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND,
        "the figures are not served on the public address"
    );

    // The API: an admin made from the shell signs in through the proxy and starts a group.
    let (ok, out, err) = a.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "opsadmin",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let login: Value = web
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "opsadmin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["token"].as_str().expect("token").to_string();
    let resp = web
        .post(format!("{base}/api/v1/communities"))
        .bearer_auth(&admin)
        .json(&json!({"slug": "ops", "name": "Behind the proxy", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let rooms: Value = web
        .get(format!("{base}/api/v1/communities/ops/rooms"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = rooms[0]["id"].as_i64().expect("the default room");
    let mut members = Vec::new();
    for name in ["sender", "listener"] {
        let (status, body) = register(&client_from([127, 0, 0, 5]), &base, name, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = body["token"].as_str().unwrap().to_string();
        let joined = web
            .post(format!("{base}/api/v1/communities/ops/join"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(joined.status().is_success());
        members.push(token);
    }

    // Two sockets through the proxy land on the two nodes (round robin), and a message sent on
    // one reaches the other across the Redis bus.
    let mut sender = socket(proxy, &members[0]).await;
    send(&mut sender, json!({"op": "subscribe", "room": room})).await;
    next_op(&mut sender, "subscribed").await;
    let mut listener = socket(proxy, &members[1]).await;
    send(&mut listener, json!({"op": "subscribe", "room": room})).await;
    next_op(&mut listener, "subscribed").await;
    assert_eq!(
        (sockets_on(&a).await, sockets_on(&b).await),
        (1.0, 1.0),
        "one socket on each node"
    );
    send(
        &mut sender,
        json!({"op": "send", "room": room, "body": "across the nodes", "nonce": "n1"}),
    )
    .await;
    let got = next_op(&mut listener, "message").await;
    assert_eq!(got["message"]["body"], "across the nodes");

    // Rate limits key on the address nginx saw (sign-ups: 10 a minute per address).
    let far = client_from([127, 0, 0, 2]);
    for i in 0..10 {
        let (status, body) = register(&far, &base, &format!("far{i}"), None).await;
        assert_eq!(status, StatusCode::CREATED, "sign-up {i}: {body}");
    }
    let (status, _) = register(&far, &base, "far10", None).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the 11th from one address"
    );
    // What the client writes into X-Forwarded-For is not believed...
    let (status, _) = register(&far, &base, "far11", Some("203.0.113.7")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a client's own X-Forwarded-For entry is ignored"
    );
    // ...nor from a peer that is not the proxy, even when it speaks to a node directly...
    let (status, _) = register(&far, &a.base, "far12", Some("203.0.113.8")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "X-Forwarded-For is believed only from the proxy"
    );
    // ...while another address behind the same proxy is not held back.
    let (status, body) = register(&client_from([127, 0, 0, 3]), &base, "near0", None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
