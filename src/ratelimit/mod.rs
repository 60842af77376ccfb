//! How much and how fast: per-address and per-account rate limits, and login throttling after
//! failed attempts.
//!
//! Limits are GCRA token buckets (a burst, refilled one request at a time). On one node they live
//! in memory (governor); with `REDIS_URL` they live in Redis so every node counts together, with
//! the same algorithm in a Lua script. If Redis stops answering, the node falls back to its own
//! memory rather than refusing everyone or letting everything through.
//! `MUTUAL_RATE_LIMITS=off` turns every check into a no-op.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota};
use redis::aio::ConnectionManager;

use crate::error::{AppError, AppResult};

/// A kind of request that is limited, with its bucket: `burst` requests at once, one more every
/// `refill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Every API request, per client address.
    ApiPerIp,
    /// Account creation, per client address.
    RegisterPerIp,
    /// Login attempts, per client address.
    LoginPerIp,
    /// Writes (POST, PATCH, PUT, DELETE), per account.
    WritePerAccount,
    /// Chat messages, per account.
    ChatPerAccount,
    /// Password reset requests, per client address.
    ResetPerIp,
    /// Password reset requests, per login typed (whether or not an account has it).
    ResetPerLogin,
}

impl Limit {
    const ALL: [Limit; 7] = [
        Limit::ApiPerIp,
        Limit::RegisterPerIp,
        Limit::LoginPerIp,
        Limit::WritePerAccount,
        Limit::ChatPerAccount,
        Limit::ResetPerIp,
        Limit::ResetPerLogin,
    ];

    fn bucket(self) -> (u32, Duration) {
        match self {
            // A person reading and posting never comes near this; a scraper does.
            Limit::ApiPerIp => (600, Duration::from_millis(50)),
            // A family or a clinic may share one address: a handful at once, then one a minute.
            Limit::RegisterPerIp => (10, Duration::from_secs(60)),
            Limit::LoginPerIp => (30, Duration::from_secs(6)),
            Limit::WritePerAccount => (60, Duration::from_millis(500)),
            // A burst for a quick exchange, then one message every 300 ms.
            Limit::ChatPerAccount => (20, Duration::from_millis(300)),
            // A shared address may hold several forgetful people; a mail bomber gets little.
            Limit::ResetPerIp => (10, Duration::from_secs(60)),
            // Three tries for someone who mistyped, then one every 15 minutes: nobody's
            // mailbox can be flooded with reset mails.
            Limit::ResetPerLogin => (3, Duration::from_secs(15 * 60)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Limit::ApiPerIp => "api",
            Limit::RegisterPerIp => "register",
            Limit::LoginPerIp => "login",
            Limit::WritePerAccount => "write",
            Limit::ChatPerAccount => "chat",
            Limit::ResetPerIp => "reset_ip",
            Limit::ResetPerLogin => "reset_login",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Limit::ApiPerIp => "too many requests from your address; please slow down",
            Limit::RegisterPerIp => {
                "too many new accounts from your address; please try again later"
            }
            Limit::LoginPerIp => {
                "too many sign-in attempts from your address; please wait a little"
            }
            Limit::WritePerAccount => "you are posting very fast; please wait a moment",
            Limit::ChatPerAccount => "you are sending messages very fast; please wait a moment",
            Limit::ResetPerIp | Limit::ResetPerLogin => {
                "too many password reset requests; please wait before asking again"
            }
        }
    }
}

/// Failed sign-ins allowed per account within the window before it is throttled.
const LOGIN_FAILURES_PER_ACCOUNT: u64 = 5;
const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    local: HashMap<Limit, DefaultKeyedRateLimiter<String>>,
    failures: Mutex<HashMap<String, (u64, tokio::time::Instant)>>,
    redis: Option<(ConnectionManager, String)>,
    gcra: redis::Script,
}

/// GCRA in Redis: KEYS[1] the bucket, ARGV[1] refill interval in ms, ARGV[2] burst.
/// Returns 0 when allowed, else the milliseconds to wait.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - tolerance - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return 0
"#;

impl RateLimiter {
    /// `redis`: the shared connection and the key prefix of this deployment.
    pub fn new(enabled: bool, redis: Option<(ConnectionManager, String)>) -> RateLimiter {
        let local = Limit::ALL
            .into_iter()
            .map(|limit| {
                let (burst, refill) = limit.bucket();
                let quota = Quota::with_period(refill)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
                (limit, DefaultKeyedRateLimiter::keyed(quota))
            })
            .collect();
        RateLimiter {
            inner: Arc::new(Inner {
                enabled,
                local,
                failures: Mutex::new(HashMap::new()),
                redis,
                gcra: redis::Script::new(GCRA_LUA),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Takes one request from `key`'s bucket, or answers 429 with how long to wait.
    pub async fn check(&self, limit: Limit, key: &str) -> AppResult<()> {
        if !self.inner.enabled {
            return Ok(());
        }
        let wait = match self.check_redis(limit, key).await {
            Some(wait) => wait,
            None => self.check_local(limit, key),
        };
        match wait {
            None => Ok(()),
            Some(retry_after) => {
                metrics::counter!("mutual_rate_limited_total", "limit" => limit.name())
                    .increment(1);
                Err(AppError::RateLimited {
                    retry_after,
                    message: limit.message().into(),
                })
            }
        }
    }

    fn check_local(&self, limit: Limit, key: &str) -> Option<Duration> {
        let limiter = self.inner.local.get(&limit)?;
        match limiter.check_key(&key.to_string()) {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))),
        }
    }

    /// `None` when there is no Redis or it did not answer: the caller falls back to memory.
    async fn check_redis(&self, limit: Limit, key: &str) -> Option<Option<Duration>> {
        let (conn, prefix) = self.inner.redis.as_ref()?;
        let (burst, refill) = limit.bucket();
        let mut conn = conn.clone();
        let result: redis::RedisResult<i64> = self
            .inner
            .gcra
            .key(format!("{prefix}:rl:{}:{key}", limit.name()))
            .arg(refill.as_millis() as u64)
            .arg(burst)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(0) => Some(None),
            Ok(ms) => Some(Some(Duration::from_millis(ms.max(1) as u64))),
            Err(err) => {
                tracing::warn!(error = %err, "rate limit: Redis did not answer, counting on this node");
                None
            }
        }
    }

    /// Before checking a password: refuses when the account has failed too often lately.
    pub async fn check_login_allowed(&self, account_key: &str) -> AppResult<()> {
        if !self.inner.enabled {
            return Ok(());
        }
        let (count, remaining) = self.failures(account_key).await;
        if count >= LOGIN_FAILURES_PER_ACCOUNT {
            metrics::counter!("mutual_rate_limited_total", "limit" => "login_failures")
                .increment(1);
            return Err(AppError::RateLimited {
                retry_after: remaining,
                message:
                    "too many wrong passwords for this account; please wait before trying again"
                        .into(),
            });
        }
        Ok(())
    }

    /// Counts a failed sign-in against the account.
    pub async fn record_login_failure(&self, account_key: &str) {
        if !self.inner.enabled {
            return;
        }
        if let Some((conn, prefix)) = &self.inner.redis {
            let mut conn = conn.clone();
            let key = format!("{prefix}:loginfail:{account_key}");
            let result: redis::RedisResult<()> = redis::pipe()
                .atomic()
                .incr(&key, 1)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(LOGIN_FAILURE_WINDOW.as_millis() as u64)
                .arg("NX")
                .ignore()
                .query_async(&mut conn)
                .await;
            if result.is_ok() {
                return;
            }
        }
        let now = tokio::time::Instant::now();
        if let Ok(mut map) = self.inner.failures.lock() {
            let entry = map.entry(account_key.to_string()).or_insert((0, now));
            if now.duration_since(entry.1) > LOGIN_FAILURE_WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A successful sign-in clears the account's failures.
    pub async fn clear_login_failures(&self, account_key: &str) {
        if !self.inner.enabled {
            return;
        }
        if let Some((conn, prefix)) = &self.inner.redis {
            let mut conn = conn.clone();
            let _: redis::RedisResult<()> = redis::cmd("DEL")
                .arg(format!("{prefix}:loginfail:{account_key}"))
                .query_async(&mut conn)
                .await;
        }
        if let Ok(mut map) = self.inner.failures.lock() {
            map.remove(account_key);
        }
    }

    /// (failures in the window, time until the window ends).
    async fn failures(&self, account_key: &str) -> (u64, Duration) {
        if let Some((conn, prefix)) = &self.inner.redis {
            let mut conn = conn.clone();
            let key = format!("{prefix}:loginfail:{account_key}");
            let result: redis::RedisResult<(Option<u64>, i64)> = redis::pipe()
                .get(&key)
                .pttl(&key)
                .query_async(&mut conn)
                .await;
            if let Ok((count, ttl)) = result {
                return (
                    count.unwrap_or(0),
                    Duration::from_millis(ttl.max(1000) as u64),
                );
            }
        }
        let now = tokio::time::Instant::now();
        match self
            .inner
            .failures
            .lock()
            .ok()
            .and_then(|map| map.get(account_key).copied())
        {
            Some((count, since)) if now.duration_since(since) <= LOGIN_FAILURE_WINDOW => (
                count,
                LOGIN_FAILURE_WINDOW.saturating_sub(now.duration_since(since)),
            ),
            _ => (0, Duration::ZERO),
        }
    }

    /// Forgets idle buckets so memory stays bounded; run now and then.
    pub fn prune(&self) {
        for limiter in self.inner.local.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = tokio::time::Instant::now();
        if let Ok(mut map) = self.inner.failures.lock() {
            map.retain(|_, (_, since)| now.duration_since(*since) <= LOGIN_FAILURE_WINDOW);
        }
    }
}
