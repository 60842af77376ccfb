#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The service around the API: operating endpoints, bad input, the command line, configuration,
//! migrations and graceful shutdown — on SQLite and on PostgreSQL + Redis.

use crate::common;

use std::time::Duration;

use common::{Backend, PASSWORD, Server, TestDb, run_cli, write_file};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(health_readiness_metrics_and_openapi, |b| async move {
    let s = Server::start_with(
        b,
        common::ServerOptions {
            extra_env: vec![("MUTUAL_METRICS_TOKEN".into(), "metrics-token-1".into())],
            ..Default::default()
        },
    )
    .await;
    let resp = s
        .client
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, ready) = s.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["database"], "ok");
    assert_eq!(
        ready["redis"],
        if b == Backend::Postgres {
            "ok"
        } else {
            "not_configured"
        }
    );

    s.register("metrics_user").await;
    let text = s.metrics("metrics-token-1").await;
    assert!(
        text.contains(r#"mutual_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("mutual_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("mutual_db_pool_connections"), "{text}");

    let (status, api) = s.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(api["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(api["info"]["title"], "Mutual");
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/users/{username}",
        "/healthz",
        "/readyz",
    ] {
        assert!(
            api["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(api["components"]["schemas"]["ErrorBody"].is_object());
});

/// Sends raw bytes as a JSON body.
async fn send_raw(
    s: &Server,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = s.client.post(s.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

both_backends!(bad_input_gets_clear_errors_never_500, |b| async move {
    let s = Server::start(b).await;
    let reg = "/api/v1/auth/register";
    let json_ct = Some("application/json");
    let cases: Vec<(Option<&str>, Vec<u8>, StatusCode, &str)> = vec![
        (
            json_ct,
            b"{\"username\": \"ana\",".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            json_ct,
            b"not json at all".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            json_ct,
            b"{\"username\": \"an\xff\xfe\", \"password\": \"x\"}".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            json_ct,
            br#"{"username": 42, "password": "green-kettle-river-42"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            json_ct,
            br#"{"username": "ana"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            json_ct,
            br#"[1, 2, 3]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            None,
            br#"{"username": "ana", "password": "green-kettle-river-42"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            json_ct,
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
    ];
    for (ct, body, want, code) in cases {
        let shown = String::from_utf8_lossy(&body).to_string();
        let (status, answer) = send_raw(&s, reg, ct, body).await;
        assert_eq!(status, want, "{shown:?} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{shown:?} → {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Over the body limit: 413, in the same JSON shape.
    let big = format!(
        r#"{{"username": "ana", "password": "{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    // (On a connection of its own: the server answers before reading it all, then closes.)
    let resp = reqwest::Client::new()
        .post(s.url(reg))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["code"], "payload_too_large");
    // Unknown routes under /api: JSON 404; a known route with the wrong method: 405.
    let (status, answer) = s.get("/api/v1/no/such/thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "not_found");
    let (status, answer) = s.call("DELETE", "/api/v1/auth/register", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer["error"]["code"], "method_not_allowed");
    // A path that cannot be a username is simply not found.
    let (status, _) = s.get("/api/v1/users/%F0%9F%92%A9%20x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Hostile-but-valid values are stored as text, not executed.
    let (status, body) = s
        .post(reg, None, json!({"username": "robert_tables", "password": PASSWORD, "display_name": "Robert'); DROP TABLE users;--"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, profile) = s.get("/api/v1/users/robert_tables", None).await;
    assert_eq!(profile["display_name"], "Robert'); DROP TABLE users;--");
    // The server is still healthy and never panicked.
    assert_eq!(s.get("/readyz", None).await.0, StatusCode::OK);
    assert!(!s.log_text().contains("panicked"), "{}", s.log_text());
});

both_backends!(security_headers_on_every_answer, |b| async move {
    let s = Server::start(b).await;
    for path in ["/healthz", "/api/v1/me", "/api/nowhere"] {
        let resp = s.client.get(s.url(path)).send().await.expect("send");
        assert_eq!(
            resp.headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            resp.headers().get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{path}"
        );
    }
});

both_backends!(
    sigterm_finishes_requests_in_flight_and_exits_0,
    |b| async move {
        let mut s = Server::start(b).await;
        // A registration hashes a password (tens of ms): send it, then SIGTERM while it runs.
        let client = s.client.clone();
        let url = s.url("/api/v1/auth/register");
        let in_flight = tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": "late_one", "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status())
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let status = tokio::task::spawn_blocking(move || {
            let st = s.terminate();
            (st, s)
        })
        .await
        .expect("join");
        let (exit, s) = status;
        assert!(
            exit.success(),
            "exit status {exit:?}; log:\n{}",
            s.log_text()
        );
        let answered = in_flight.await.expect("join");
        if let Ok(code) = answered {
            assert_eq!(code, StatusCode::CREATED);
        }
        assert!(s.log_text().contains("shutting down"), "{}", s.log_text());
    }
);

both_backends!(admin_create_user_from_the_shell, |b| async move {
    let s = Server::start(b).await;
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "boss",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("created user boss"), "{out}");
    let (status, login) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "boss", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["user"]["roles"], json!(["member", "admin"]));
    // Bad values are refused with the reason, and nothing is created.
    let (ok, _, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "x",
        "--password",
        PASSWORD,
    ]);
    assert!(!ok);
    assert!(err.contains("--username"), "{err}");
    let (ok, _, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "weak_one",
        "--password",
        "password1",
    ]);
    assert!(!ok);
    assert!(err.contains("--password"), "{err}");
    let (ok, _, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "Boss",
        "--password",
        PASSWORD,
    ]);
    assert!(!ok, "duplicate accepted");
    assert!(err.contains("taken"), "{err}");
});

both_backends!(
    admin_import_users_keeps_good_rows_and_reports_bad_ones,
    |b| async move {
        let s = Server::start(b).await;
        s.register("existing").await;
        let mut csv = String::from("username,display_name,email,password\n");
        for i in 0..40 {
            csv.push_str(&format!(
                "member{i},Member {i},member{i}@example.org,{PASSWORD}\n"
            ));
        }
        csv.push_str("x,Too Short,,green-kettle-river-42\n"); // line 42
        csv.push_str("weakling,Weak,,password123\n"); // line 43
        csv.push_str("member3,Duplicate,,green-kettle-river-42\n"); // line 44
        csv.push_str("existing,Taken,,green-kettle-river-42\n"); // line 45
        csv.push_str("bademail,Bad,not-an-email,green-kettle-river-42\n"); // line 46
        csv.push_str("\"Nueva Persona\",Quoted,,green-kettle-river-42\n"); // line 47
        csv.push_str("no_password,Gets One,,\n"); // line 48
        let file = write_file(&s.db.dir, "group.csv", &csv);
        let (ok, out, err) = s.run_cli(&["admin", "import-users", file.to_str().expect("path")]);
        assert!(ok, "{out}{err}");
        assert!(
            out.contains("imported 41 of 47 members; 6 rows skipped"),
            "{out}"
        );
        for line in [42, 43, 44, 45, 46, 47] {
            assert!(
                err.contains(&format!("line {line}:")),
                "line {line} not reported: {err}"
            );
        }
        for line in [2, 41, 48] {
            assert!(
                !err.contains(&format!("line {line}:")),
                "good line {line} reported: {err}"
            );
        }
        let (status, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "member39", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, profile) = s.get("/api/v1/users/member7", None).await;
        assert_eq!(profile["display_name"], "Member 7");
        // The generated password works and was written down for the organiser.
        let creds = std::fs::read_to_string(s.db.dir.join("group.credentials.csv"))
            .expect("credentials file");
        let line = creds
            .lines()
            .find(|l| l.starts_with("no_password,"))
            .expect("row for no_password");
        let generated = line.trim_start_matches("no_password,");
        let (status, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": "no_password", "password": generated}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(s.db.dir.join("group.credentials.csv"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "credentials readable by others: {mode:o}");
        }
        // A file without the header is refused outright.
        let bad = write_file(&s.db.dir, "bad.csv", "name,pw\nfoo,bar\n");
        let (ok, _, err) = s.run_cli(&["admin", "import-users", bad.to_str().expect("path")]);
        assert!(!ok);
        assert!(err.contains("header"), "{err}");
    }
);

both_backends!(
    migrations_are_safe_when_nodes_start_together,
    |b| async move {
        let db = std::sync::Arc::new(TestDb::new(b).await);
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || run_cli(&db, &["migrate"]))
            })
            .collect();
        for run in runs {
            let (ok, out, err) = run.join().expect("join");
            assert!(ok, "{out}{err}");
            assert!(out.contains("migrations applied"), "{out}");
        }
        // Two servers starting at once on the fresh database both come up and share it.
        let db2 = std::sync::Arc::new(TestDb::new(b).await);
        let (a, c) = tokio::join!(
            Server::start_on(db2.clone(), Default::default()),
            Server::start_on(db2.clone(), Default::default())
        );
        let token = a.register("shared").await;
        assert_eq!(c.get("/api/v1/me", Some(&token)).await.0, StatusCode::OK);
    }
);

/// Every setting: its environment variable as `--help` shows it, and its `mutual.toml` key.
const SETTINGS: [(&str, &str, &str); 36] = [
    ("MUTUAL_LISTEN", "listen", "\"127.0.0.1:0\""),
    ("MUTUAL_DATA_DIR", "data_dir", "\"./data\""),
    ("DATABASE_URL", "database_url", "\"sqlite://./data/all.db\""),
    ("REDIS_URL", "redis_url", "\"\""),
    ("MUTUAL_REDIS_PREFIX", "redis_prefix", "\"all\""),
    ("MUTUAL_RULES", "rules", "\"./rules.toml\""),
    ("MUTUAL_CRISIS_FILE", "crisis_file", "\"./crisis.toml\""),
    (
        "MUTUAL_CRISIS_SCORER_FILE",
        "crisis_scorer_file",
        "\"./crisis-scorer.tsv\"",
    ),
    ("MUTUAL_RATE_LIMITS", "rate_limits", "\"off\""),
    ("MUTUAL_SESSION_CACHE", "session_cache", "true"),
    (
        "MUTUAL_PUBLIC_URL",
        "public_url",
        "\"https://support.example.org\"",
    ),
    ("MUTUAL_TRUST_PROXY", "trust_proxy", "1"),
    ("MUTUAL_TRUSTED_PROXIES", "trusted_proxies", "\"127.0.0.1\""),
    ("MUTUAL_CONN_PER_IP", "conn_per_ip", "10"),
    ("MUTUAL_HEADER_TIMEOUT_SECS", "header_timeout_secs", "10"),
    ("MUTUAL_DRAIN_SECS", "drain_secs", "1"),
    ("MUTUAL_DB_POOL", "db_pool", "2"),
    ("MUTUAL_PAGE_CACHE_MB", "page_cache_mb", "1"),
    ("MUTUAL_WS_HEARTBEAT_SECS", "ws_heartbeat_secs", "5"),
    ("MUTUAL_WS_PER_IP", "ws_per_ip", "3"),
    ("MUTUAL_WS_PER_ACCOUNT", "ws_per_account", "2"),
    ("MUTUAL_JOB_INTERVAL_SECS", "job_interval_secs", "5"),
    ("MUTUAL_LOG_FORMAT", "log_format", "\"json\""),
    ("MUTUAL_SMTP_URL", "smtp_url", "\"\""),
    ("MUTUAL_MAIL_DIR", "mail_dir", "\"./mail\""),
    (
        "MUTUAL_MAIL_FROM",
        "mail_from",
        "\"Mutual <no-reply@example.org>\"",
    ),
    ("MUTUAL_MAIL_DELIVERY", "mail_delivery", "\"on\""),
    ("MUTUAL_RESET_TOKEN_SECS", "reset_token_secs", "60"),
    ("MUTUAL_MAIL_COALESCE_SECS", "mail_coalesce_secs", "1"),
    (
        "MUTUAL_VAPID_SUBJECT",
        "vapid_subject",
        "\"mailto:ops@example.org\"",
    ),
    (
        "MUTUAL_PUSH_ALLOW_INSECURE",
        "push_allow_insecure",
        "\"off\"",
    ),
    ("MUTUAL_METRICS_TOKEN", "metrics_token", "\"t\""),
    ("MUTUAL_METRICS_LISTEN", "metrics_listen", "\"127.0.0.1:0\""),
    ("MUTUAL_MEDIA_URL", "media_url", "\"file://media-here\""),
    ("MUTUAL_MEDIA_DAILY_COUNT", "media_daily_count", "10"),
    ("MUTUAL_MEDIA_DAILY_MB", "media_daily_mb", "20"),
];

#[test]
fn help_documents_every_command_and_variable() {
    let out = std::process::Command::new(common::bin())
        .env_clear()
        .arg("--help")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "migrate", "admin", "127.0.0.1:8080", "mutual.toml"] {
        assert!(
            text.contains(needle),
            "--help does not mention {needle}:\n{text}"
        );
    }
    // Exactly the settings above, no more, no fewer (MUTUAL_CONFIG names the file itself).
    let mut shown: Vec<&str> = text
        .split("[env: ")
        .skip(1)
        .filter_map(|s| s.split(['=', ']']).next())
        .filter(|name| *name != "MUTUAL_CONFIG")
        .collect();
    shown.sort_unstable();
    let mut known: Vec<&str> = SETTINGS.iter().map(|(env, _, _)| *env).collect();
    known.sort_unstable();
    assert_eq!(shown, known, "--help and the list of settings differ");
    let out = std::process::Command::new(common::bin())
        .args(["admin", "--help"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("create-user") && text.contains("import-users"),
        "{text}"
    );
}

/// Every setting has its key in `mutual.toml`.
#[test]
fn every_setting_has_a_config_file_key() {
    let dir = std::env::temp_dir().join(format!("mutual-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file: String = SETTINGS
        .iter()
        .map(|(_, key, value)| format!("{key} = {value}\n"))
        .collect();
    write_file(&dir, "mutual.toml", &file);
    let out = std::process::Command::new(common::bin())
        .env_clear()
        .current_dir(&dir)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{file}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("data/all.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Settings are read in `src/config.rs` alone, so none escapes `--help` and `mutual.toml`.
#[test]
fn settings_are_read_only_in_config() {
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("src/config.rs")
            {
                let text = std::fs::read_to_string(&path).expect("read");
                // Unit tests may read the environment (a corpus run over an operator's file).
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                if code.contains("env::var") {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    assert!(
        found.is_empty(),
        "the environment read outside config.rs: {found:?}"
    );
}

/// The SQLite in the build has the flags of `.cargo/config.toml` (the test and the server are
/// linked against the same build of it).
#[tokio::test]
async fn the_bundled_sqlite_has_the_build_flags() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(&pool)
        .await
        .expect("compile options");
    assert!(
        mutual::store::sqlite_built_as_expected(&pool).await,
        "STAT4 must be off and DEFAULT_MEMSTATUS=0: {options:?}"
    );
}

/// A GET: status, content type, body.
async fn get(url: String) -> (StatusCode, String, String) {
    let resp = reqwest::get(url).await.expect("get");
    let status = resp.status();
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    (status, kind, resp.text().await.expect("text"))
}

/// With no configuration and no files at all the server makes ./data/mutual.db (WAL) and serves
/// the whole site from what the binary carries: pages, static files, the help page's crisis
/// lines and the shipped automod policy.
#[tokio::test]
async fn zero_setup_creates_the_sqlite_database_in_data() {
    let dir = std::env::temp_dir().join(format!("mutual-zero-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut child = std::process::Command::new(common::bin())
        .env_clear()
        .env("MUTUAL_LISTEN", "127.0.0.1:0")
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .next()
        .expect("a line")
        .expect("text");
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let base = line.trim_start_matches("listening on ").to_string();
    let body = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("readyz")
        .text()
        .await
        .expect("text");
    assert!(body.contains("\"database\":\"ok\""), "{body}");
    assert!(dir.join("data/mutual.db").exists());
    assert!(dir.join("data/mutual.db-wal").exists(), "WAL mode");

    let (status, _, home) = get(format!("{base}/")).await;
    assert_eq!(status, StatusCode::OK);
    let css = home
        .split('"')
        .find(|s| s.starts_with("/static/") && s.ends_with("site.css"))
        .expect("the stylesheet's address");
    let (status, kind, text) = get(format!("{base}{css}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/css") && text.len() > 1000, "{kind}");
    let (status, _, help) = get(format!("{base}/help")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(help.contains("988"), "the built-in crisis lines");

    let admin = std::process::Command::new(common::bin())
        .env_clear()
        .current_dir(&dir)
        .args([
            "admin",
            "create-user",
            "--username",
            "zero",
            "--password",
            PASSWORD,
        ])
        .args(["--role", "admin"])
        .output()
        .expect("create admin");
    assert!(admin.status.success());
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "zero", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let rules: Value = client
        .get(format!("{base}/api/v1/admin/rules"))
        .bearer_auth(login["token"].as_str().expect("token"))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("json");
    let shipped = include_str!("../../moderation/rules.toml")
        .matches("[[filters]]")
        .count();
    assert_eq!(rules["filters"], shipped, "the built-in policy: {rules}");
    assert_eq!(rules["loaded_at"], Value::Null, "no file was read: {rules}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mutual.toml` sets what the environment does not; the environment wins over it.
#[tokio::test]
async fn config_file_sets_the_same_settings() {
    let dir = std::env::temp_dir().join(format!("mutual-toml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    write_file(
        &dir,
        "mutual.toml",
        "listen = \"127.0.0.1:0\"\ndata_dir = \"./elsewhere\"\nrate_limits = \"off\"\n",
    );
    let mut child = std::process::Command::new(common::bin())
        .env_clear()
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .next()
        .expect("a line")
        .expect("text");
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(
        dir.join("elsewhere/mutual.db").exists(),
        "data_dir from mutual.toml"
    );
    let _ = child.kill();
    let _ = child.wait();
    // A broken file is an error that names the file, not a silent default.
    write_file(&dir, "mutual.toml", "listen = 12\n");
    let out = std::process::Command::new(common::bin())
        .env_clear()
        .current_dir(&dir)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("mutual.toml"));
    let _ = std::fs::remove_dir_all(&dir);
}
