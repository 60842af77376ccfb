//! Settings: command-line flags, then environment variables (API.md "Operating"), then an
//! optional `mutual.toml`, then defaults — the first that names a setting wins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use crate::proxies::{Network, TrustedProxies};

/// Settings as given on the command line or in the environment; unset ones fall through to the
/// config file and then to the defaults.
#[derive(Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// Config file (TOML) with any of the settings below, by the same names in snake_case
    /// [default: ./mutual.toml when it exists]
    #[arg(long, env = "MUTUAL_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Address to serve on; `127.0.0.1:0` picks a free port and prints it [default: 127.0.0.1:8080]
    #[arg(long, env = "MUTUAL_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,

    /// Where the SQLite file and other local state live [default: ./data]
    #[arg(long, env = "MUTUAL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// `sqlite://FILE` or `postgres://...` [default: the SQLite file DATA_DIR/mutual.db]
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// `redis://...`: cross-node fan-out, presence and rate limits [default: unset, one node]
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// Key prefix in Redis, so several deployments can share one [default: mutual]
    #[arg(long, env = "MUTUAL_REDIS_PREFIX", global = true)]
    pub redis_prefix: Option<String>,

    /// The automod policy file; `crisis_lines.toml` beside it, when present, replaces the
    /// built-in crisis lines [default: ./moderation/rules.toml, else the built-in policy]
    #[arg(long, env = "MUTUAL_RULES", global = true)]
    pub rules: Option<PathBuf>,

    /// Crisis phrases file replacing the built-in ones (`moderation/crisis.toml`'s format)
    /// [default: unset: the built-in phrases]
    #[arg(long, env = "MUTUAL_CRISIS_FILE", global = true)]
    pub crisis_file: Option<PathBuf>,

    /// Crisis scorer model replacing the built-in one (`moderation/crisis-scorer.tsv`'s format)
    /// [default: unset: the built-in model]
    #[arg(long, env = "MUTUAL_CRISIS_SCORER_FILE", global = true)]
    pub crisis_scorer_file: Option<PathBuf>,

    /// `off` lifts every limit on how much and how fast (rate limits, login throttling, slow
    /// mode, new-member limits): only for load tests on a private machine [default: on]
    #[arg(long, env = "MUTUAL_RATE_LIMITS", global = true, value_parser = parse_on_off)]
    pub rate_limits: Option<bool>,

    /// `off` reads every signed-in request's session from the database, as before the session
    /// cache: for A/B measurements [default: on]
    #[arg(long, env = "MUTUAL_SESSION_CACHE", global = true, value_parser = parse_on_off)]
    pub session_cache: Option<bool>,

    /// The address members reach the site at, e.g. `https://mutual.example.org`; an https
    /// address marks the session cookie Secure [default: http://LISTEN]
    #[arg(long, env = "MUTUAL_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Behind this many proxies you run (`on` = 1), take the client address from the right of
    /// `X-Forwarded-For`, past the entries those proxies added [default: off]
    #[arg(long, env = "MUTUAL_TRUST_PROXY", global = true, value_parser = parse_hops)]
    pub trust_proxy: Option<u32>,

    /// The addresses of the proxies you run, comma-separated (`10.0.0.0/8,192.168.1.5`): the
    /// client is the first `X-Forwarded-For` entry from the right outside them; replaces
    /// TRUST_PROXY [default: unset]
    #[arg(long, env = "MUTUAL_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,

    /// Open connections per client address; more are closed at once; 0 for no cap. Proxies named
    /// by TRUST_PROXY/TRUSTED_PROXIES are not capped (limit connections in the proxy)
    /// [default: 256, or 0 when RATE_LIMITS is off]
    #[arg(long, env = "MUTUAL_CONN_PER_IP", global = true)]
    pub conn_per_ip: Option<u32>,

    /// Seconds a client has to send a request's headers, and the longest a kept-alive
    /// connection may sit idle [default: 10]
    #[arg(long, env = "MUTUAL_HEADER_TIMEOUT_SECS", global = true)]
    pub header_timeout_secs: Option<u64>,

    /// After SIGTERM, the longest to wait for requests in flight before exiting, in seconds
    /// (`/readyz` answers 503 meanwhile) [default: 30]
    #[arg(long, env = "MUTUAL_DRAIN_SECS", global = true)]
    pub drain_secs: Option<u64>,

    /// Database connections per node (readers, on SQLite) [default: 8 on SQLite, 16 on PostgreSQL]
    #[arg(long, env = "MUTUAL_DB_POOL", global = true)]
    pub db_pool: Option<u32>,

    /// Memory for topic pages kept between views, in MiB; 0 turns it off [default: 32]
    #[arg(long, env = "MUTUAL_PAGE_CACHE_MB", global = true)]
    pub page_cache_mb: Option<u64>,

    /// How often sockets are pinged, in seconds; a socket silent for about three beats is
    /// closed as dead [default: 25]
    #[arg(long, env = "MUTUAL_WS_HEARTBEAT_SECS", global = true)]
    pub ws_heartbeat_secs: Option<u64>,

    /// Chat sockets one client address may hold at once on a node (429 beyond) [default: 200]
    #[arg(long, env = "MUTUAL_WS_PER_IP", global = true)]
    pub ws_per_ip: Option<u32>,

    /// Chat sockets one account may hold at once on a node (429 beyond) [default: 20]
    #[arg(long, env = "MUTUAL_WS_PER_ACCOUNT", global = true)]
    pub ws_per_account: Option<u32>,

    /// How often each node runs the timed jobs (reminders, themed threads, anniversaries...), in
    /// seconds [default: 60]
    #[arg(long, env = "MUTUAL_JOB_INTERVAL_SECS", global = true)]
    pub job_interval_secs: Option<u64>,

    /// Log format: `text` or `json`; the level comes from RUST_LOG [default: text]
    #[arg(long, env = "MUTUAL_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,

    /// Send mail through this SMTP server: `smtp://HOST:PORT` (plain, for a relay on the same
    /// machine), `smtp://USER:PASS@HOST:587?tls=required` (STARTTLS) or `smtps://...:465`
    /// [default: unset: mails are written as files to MAIL_DIR]
    #[arg(long, env = "MUTUAL_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// Where mails go as `.eml` files when no SMTP server is set [default: DATA_DIR/mail]
    #[arg(long, env = "MUTUAL_MAIL_DIR", global = true)]
    pub mail_dir: Option<PathBuf>,

    /// The sender of mails, e.g. `Mutual <no-reply@mutual.example.org>`
    /// [default: Mutual <no-reply@HOST of PUBLIC_URL>]
    #[arg(long, env = "MUTUAL_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// `off`: this node queues mail but leaves sending it to the other nodes [default: on]
    #[arg(long, env = "MUTUAL_MAIL_DELIVERY", global = true, value_parser = parse_on_off)]
    pub mail_delivery: Option<bool>,

    /// How long a password reset link works, in seconds [default: 1800]
    #[arg(long, env = "MUTUAL_RESET_TOKEN_SECS", global = true)]
    pub reset_token_secs: Option<u64>,

    /// Immediate notification mails wait this long after the first new notification, so what
    /// arrives meanwhile goes in the same mail [default: 120]
    #[arg(long, env = "MUTUAL_MAIL_COALESCE_SECS", global = true)]
    pub mail_coalesce_secs: Option<u64>,

    /// The contact in Web Push signatures (VAPID `sub`): `mailto:ADDRESS` or `https://...`, so
    /// a push service can reach whoever runs the site
    /// [default: PUBLIC_URL when it is https, else mailto: the MAIL_FROM address]
    #[arg(long, env = "MUTUAL_VAPID_SUBJECT", global = true)]
    pub vapid_subject: Option<String>,

    /// `true` accepts push endpoints over plain http and on loopback or private addresses: for
    /// tests and development against a local push endpoint only, never in production (members
    /// choose endpoints, so this lets them make the server call into its own network)
    /// [default: false: https on public hosts only]
    #[arg(long, env = "MUTUAL_PUSH_ALLOW_INSECURE", global = true, value_parser = parse_on_off)]
    pub push_allow_insecure: Option<bool>,

    // Who may read the operating figures (membership privacy, issue 18).
    /// `/metrics` answers only requests carrying `Authorization: Bearer TOKEN`
    /// [default: unset: only on METRICS_LISTEN]
    #[arg(long, env = "MUTUAL_METRICS_TOKEN", global = true)]
    pub metrics_token: Option<String>,

    /// A second address serving `/metrics` alone, without a token, e.g. `127.0.0.1:9100`
    /// [default: unset]
    #[arg(long, env = "MUTUAL_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    // Photos and voice notes (issue 21).
    /// Where uploaded media live: `file://DIR`, or `s3://BUCKET?endpoint=URL&region=R` for an
    /// S3-compatible store that several nodes share (credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`) [default: file://DATA_DIR/media]
    #[arg(long, env = "MUTUAL_MEDIA_URL", global = true)]
    pub media_url: Option<String>,

    /// Photos and voice notes one member may upload in 24 hours (lifted with RATE_LIMITS=off)
    /// [default: 50]
    #[arg(long, env = "MUTUAL_MEDIA_DAILY_COUNT", global = true)]
    pub media_daily_count: Option<u32>,

    /// Megabytes of media one member may upload in 24 hours, as stored (lifted with
    /// RATE_LIMITS=off) [default: 100]
    #[arg(long, env = "MUTUAL_MEDIA_DAILY_MB", global = true)]
    pub media_daily_mb: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `on` (one proxy), `off` (none) or a number of proxies.
fn parse_hops(s: &str) -> Result<u32, String> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    parse_on_off(s)
        .map(u32::from)
        .map_err(|_| format!("expected `on`, `off` or a number of proxies, got {s:?}"))
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected `on` or `off`, got {s:?}")),
    }
}

/// The same settings in `mutual.toml`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    rules: Option<PathBuf>,
    crisis_file: Option<PathBuf>,
    crisis_scorer_file: Option<PathBuf>,
    rate_limits: Option<OnOff>,
    session_cache: Option<OnOff>,
    public_url: Option<String>,
    trust_proxy: Option<Hops>,
    trusted_proxies: Option<String>,
    conn_per_ip: Option<u32>,
    header_timeout_secs: Option<u64>,
    drain_secs: Option<u64>,
    db_pool: Option<u32>,
    page_cache_mb: Option<u64>,
    ws_heartbeat_secs: Option<u64>,
    ws_per_ip: Option<u32>,
    ws_per_account: Option<u32>,
    job_interval_secs: Option<u64>,
    log_format: Option<LogFormat>,
    smtp_url: Option<String>,
    mail_dir: Option<PathBuf>,
    mail_from: Option<String>,
    mail_delivery: Option<OnOff>,
    reset_token_secs: Option<u64>,
    mail_coalesce_secs: Option<u64>,
    metrics_token: Option<String>,
    metrics_listen: Option<SocketAddr>,
    vapid_subject: Option<String>,
    push_allow_insecure: Option<OnOff>,

    media_url: Option<String>,
    media_daily_count: Option<u32>,
    media_daily_mb: Option<u64>,
}

/// `trust_proxy` in the config file: on/off as below, or a number of proxies.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(untagged)]
enum Hops {
    Count(u32),
    OnOff(OnOff),
}

impl From<Hops> for u32 {
    fn from(v: Hops) -> u32 {
        match v {
            Hops::Count(n) => n,
            Hops::OnOff(o) => u32::from(bool::from(o)),
        }
    }
}

/// `true`/`false` or `"on"`/`"off"` in the config file.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(untagged)]
enum OnOff {
    Bool(bool),
    Word(OnOffWord),
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum OnOffWord {
    On,
    Off,
}

impl From<OnOff> for bool {
    fn from(v: OnOff) -> bool {
        match v {
            OnOff::Bool(b) => b,
            OnOff::Word(OnOffWord::On) => true,
            OnOff::Word(OnOffWord::Off) => false,
        }
    }
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    pub rules: PathBuf,
    /// Crisis phrases replacing the built-in ones.
    pub crisis_file: Option<PathBuf>,
    /// Crisis scorer model replacing the built-in one.
    pub crisis_scorer_file: Option<PathBuf>,
    pub rate_limits: bool,
    /// Whether sessions are kept in memory (`accounts::session_cache`).
    pub session_cache: bool,
    pub public_url: Option<String>,
    /// Whose `X-Forwarded-For` entries are believed (see `http::TrustedProxies`).
    pub trusted_proxies: TrustedProxies,
    /// Open connections per client address; 0 is no cap.
    pub conn_per_ip: u32,
    pub header_timeout_secs: u64,
    pub drain_secs: u64,
    pub db_pool: u32,
    pub page_cache_mb: u64,
    pub ws_heartbeat_secs: u64,
    /// Chat sockets per client address and per account, on one node.
    pub ws_per_ip: u32,
    pub ws_per_account: u32,
    pub job_interval_secs: u64,
    pub log_format: LogFormat,
    pub smtp_url: Option<String>,
    pub mail_dir: PathBuf,
    pub mail_from: Option<String>,
    pub mail_delivery: bool,
    pub reset_token_secs: u64,
    pub mail_coalesce_secs: u64,
    pub metrics_token: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    /// The VAPID contact; `None` derives it (see `push::Pusher`).
    pub vapid_subject: Option<String>,
    /// Push endpoints over http and on local addresses are accepted (tests only).
    pub push_allow_insecure: bool,

    /// `file://DIR` or `s3://BUCKET?...` (see `media::storage`).
    pub media_url: String,
    /// Uploads per member per 24 hours, and megabytes.
    pub media_daily_count: u32,
    pub media_daily_mb: u64,
}

impl Config {
    pub fn load(args: &SettingsArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if Path::new("mutual.toml").exists() => read_file(Path::new("mutual.toml"))?,
            None => FileSettings::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("mutual.db").display()));
        let is_postgres = database_url.starts_with("postgres");
        let rate_limits = args
            .rate_limits
            .or(file.rate_limits.map(bool::from))
            .unwrap_or(true);
        let trusted_proxies = match args
            .trusted_proxies
            .clone()
            .or(file.trusted_proxies)
            .filter(|s| !s.trim().is_empty())
        {
            Some(list) => TrustedProxies::Networks(
                list.split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(str::parse::<Network>)
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?,
            ),
            None => match args.trust_proxy.or(file.trust_proxy.map(u32::from)) {
                None | Some(0) => TrustedProxies::None,
                Some(n) => TrustedProxies::Hops(n as usize),
            },
        };
        Ok(Config {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database_url,
            redis_url: args
                .redis_url
                .clone()
                .or(file.redis_url)
                .filter(|s| !s.is_empty()),
            redis_prefix: args
                .redis_prefix
                .clone()
                .or(file.redis_prefix)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "mutual".into()),
            rules: args
                .rules
                .clone()
                .or(file.rules)
                .unwrap_or_else(|| PathBuf::from("./moderation/rules.toml")),
            crisis_file: args.crisis_file.clone().or(file.crisis_file),
            crisis_scorer_file: args.crisis_scorer_file.clone().or(file.crisis_scorer_file),
            rate_limits,
            session_cache: args
                .session_cache
                .or(file.session_cache.map(bool::from))
                .unwrap_or(true),
            public_url: args
                .public_url
                .clone()
                .or(file.public_url)
                .filter(|s| !s.is_empty()),
            trusted_proxies,
            conn_per_ip: args
                .conn_per_ip
                .or(file.conn_per_ip)
                .unwrap_or(if rate_limits { 256 } else { 0 }),
            header_timeout_secs: args
                .header_timeout_secs
                .or(file.header_timeout_secs)
                .unwrap_or(10)
                .max(1),
            drain_secs: args.drain_secs.or(file.drain_secs).unwrap_or(30),
            db_pool: args
                .db_pool
                .or(file.db_pool)
                .unwrap_or(if is_postgres { 16 } else { 8 })
                .max(1),
            page_cache_mb: args.page_cache_mb.or(file.page_cache_mb).unwrap_or(32),
            ws_heartbeat_secs: args
                .ws_heartbeat_secs
                .or(file.ws_heartbeat_secs)
                .unwrap_or(25)
                .max(1),
            ws_per_ip: args.ws_per_ip.or(file.ws_per_ip).unwrap_or(200).max(1),
            ws_per_account: args
                .ws_per_account
                .or(file.ws_per_account)
                .unwrap_or(20)
                .max(1),
            job_interval_secs: args
                .job_interval_secs
                .or(file.job_interval_secs)
                .unwrap_or(60)
                .max(1),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            smtp_url: args
                .smtp_url
                .clone()
                .or(file.smtp_url)
                .filter(|s| !s.is_empty()),
            mail_dir: args
                .mail_dir
                .clone()
                .or(file.mail_dir)
                .unwrap_or_else(|| data_dir.join("mail")),
            mail_from: args
                .mail_from
                .clone()
                .or(file.mail_from)
                .filter(|s| !s.is_empty()),
            mail_delivery: args
                .mail_delivery
                .or(file.mail_delivery.map(bool::from))
                .unwrap_or(true),
            reset_token_secs: args
                .reset_token_secs
                .or(file.reset_token_secs)
                .unwrap_or(1800)
                .max(1),
            mail_coalesce_secs: args
                .mail_coalesce_secs
                .or(file.mail_coalesce_secs)
                .unwrap_or(120),
            metrics_token: args
                .metrics_token
                .clone()
                .or(file.metrics_token)
                .filter(|s| !s.is_empty()),
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            vapid_subject: args
                .vapid_subject
                .clone()
                .or(file.vapid_subject)
                .filter(|s| !s.is_empty()),
            push_allow_insecure: args
                .push_allow_insecure
                .or(file.push_allow_insecure.map(bool::from))
                .unwrap_or(false),

            media_url: args
                .media_url
                .clone()
                .or(file.media_url)
                .unwrap_or_else(|| format!("file://{}", data_dir.join("media").display())),
            media_daily_count: args
                .media_daily_count
                .or(file.media_daily_count)
                .unwrap_or(50),
            media_daily_mb: args.media_daily_mb.or(file.media_daily_mb).unwrap_or(100),
            data_dir,
        })
    }

    /// Whether cookies must be marked Secure.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in {}", path.display()))
}
