//! Web Push (API.md "Notifications outside the site"): members' devices subscribe through the
//! browser's push service, and each new notification is delivered to them as an encrypted push
//! (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).
//!
//! A push carries `{kind, url}` and nothing else: never the words of a post, a member's name,
//! or a group's or condition's name. The service worker (`web/static/push-sw.js`) turns the kind
//! into a sentence in the member's language and opens the address when tapped.
//!
//! - The VAPID key pair is made on the first start and kept in the database
//!   (`push_vapid_keys`), so every node of a deployment signs with the same key; two nodes
//!   starting at once both insert-if-absent and then read, ending with one key.
//! - Pushes go through a durable queue (`push_outbox`, see [`queue`]), filled in the
//!   transaction that stores the notification and emptied by a worker on every node.
//! - Endpoints are members' input: [`endpoint`] keeps delivery to public https push services.

pub mod crypto;
pub mod endpoint;
pub mod queue;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use p256::SecretKey;
use p256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::app::AppState;
use crate::config::Config;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::{Json, Path};
use crate::store::{Store, now_ms};

pub(crate) use queue::has_device_sql;
pub use queue::{enqueue, wake};

/// Devices one member may have subscribed at once; a new one beyond this replaces the one
/// subscribed longest ago (browsers change endpoints and old ones are not always removed).
pub const MAX_PER_MEMBER: i64 = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_key))
        .routes(routes!(api_subscribe))
        .routes(routes!(api_unsubscribe))
}

/// The site's VAPID key pair.
pub struct Keys {
    pub signing: SigningKey,
    /// The public key, base64url of the uncompressed point, as browsers take it.
    pub public: String,
}

/// What the push worker and the routes share: the key (read once), the delivery client and the
/// settings. Cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    inner: Arc<Inner>,
}

struct Inner {
    keys: OnceCell<Keys>,
    client: reqwest::Client,
    allow_insecure: bool,
    subject: String,
}

impl Pusher {
    pub fn new(config: &Config, mail_from: &str) -> anyhow::Result<Pusher> {
        let subject = subject(config, mail_from)?;
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            // A push service answers; it never sends us elsewhere, and a proxy set in the
            // environment must not see members' endpoints.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("mutual/", env!("CARGO_PKG_VERSION")));
        if !config.push_allow_insecure {
            client = client
                .https_only(true)
                .dns_resolver(Arc::new(endpoint::PublicResolver));
        }
        Ok(Pusher {
            inner: Arc::new(Inner {
                keys: OnceCell::new(),
                client: client.build().context("building the push client")?,
                allow_insecure: config.push_allow_insecure,
                subject,
            }),
        })
    }

    /// The site's key pair, made on the first call ever and read from the database after.
    pub async fn keys(&self, store: &Store) -> AppResult<&Keys> {
        self.inner.keys.get_or_try_init(|| load_keys(store)).await
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub(crate) fn allow_insecure(&self) -> bool {
        self.inner.allow_insecure
    }

    /// The contact sent in every VAPID token (`sub`).
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }
}

/// `MUTUAL_VAPID_SUBJECT`, or the public address when it is https, or the sender of mails.
fn subject(config: &Config, mail_from: &str) -> anyhow::Result<String> {
    if let Some(s) = &config.vapid_subject {
        let ok = (s.starts_with("mailto:") && s.len() > 8)
            || (s.starts_with("https://") && reqwest::Url::parse(s).is_ok());
        anyhow::ensure!(
            ok,
            "MUTUAL_VAPID_SUBJECT must be a mailto: or https: address, got {s:?}"
        );
        return Ok(s.clone());
    }
    if let Some(url) = config
        .public_url
        .as_deref()
        .filter(|u| u.starts_with("https://"))
        .and_then(|u| reqwest::Url::parse(u).ok())
    {
        return Ok(url.origin().ascii_serialization());
    }
    Ok(format!("mailto:{mail_from}"))
}

/// Inserts a new key pair unless one is there, then reads the one that is: whichever node
/// wrote first, every node ends with the same key.
async fn load_keys(store: &Store) -> AppResult<Keys> {
    let fresh = crypto::new_secret_key();
    let mut w = store.write().await?;
    db!(
        w,
        execute,
        "INSERT INTO push_vapid_keys (id, private_key, public_key, created_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
        crypto::b64(&fresh.to_bytes()),
        crypto::b64(&crypto::public_bytes(&fresh.public_key())),
        now_ms()
    )?;
    let private = db!(
        w,
        fetch_one scalar String,
        "SELECT private_key FROM push_vapid_keys WHERE id = 1"
    )?;
    let secret = crypto::unb64(&private)
        .and_then(|b| SecretKey::from_slice(&b).ok())
        .ok_or_else(|| anyhow::anyhow!("the stored VAPID key is unreadable"))?;
    // The public key is derived, not trusted from the row, so the two can never disagree.
    let public = crypto::b64(&crypto::public_bytes(&secret.public_key()));
    Ok(Keys {
        signing: SigningKey::from(secret),
        public,
    })
}

#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// The application server key for `PushManager.subscribe`: base64url (no padding) of the
    /// uncompressed P-256 point.
    pub vapid_public_key: String,
}

/// The key browsers subscribe with (`applicationServerKey`).
#[utoipa::path(get, path = "/api/v1/push/key", tag = "push", operation_id = "push_key",
    responses((status = 200, body = PushKey)))]
async fn api_key(State(state): State<AppState>) -> AppResult<axum::Json<PushKey>> {
    let keys = state.push.keys(&state.store).await?;
    Ok(axum::Json(PushKey {
        vapid_public_key: keys.public.clone(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The browser's P-256 key: base64url of the 65-byte uncompressed point.
    pub p256dh: String,
    /// The browser's authentication secret: base64url of 16 bytes.
    pub auth: String,
}

/// What `PushSubscription.toJSON()` gives (its `expirationTime` is ignored).
#[derive(Deserialize, ToSchema)]
pub struct NewSubscription {
    /// The push service's address for this device: https, on a public host.
    pub endpoint: String,
    pub keys: SubscriptionKeys,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionId {
    pub id: i64,
}

/// A subscription's fields, checked: the endpoint against the delivery policy, the keys by
/// their encoding, length and (for `p256dh`) being a point on the curve.
struct Checked {
    endpoint: String,
    p256dh: String,
    auth: String,
}

fn check(req: &NewSubscription, allow_insecure: bool) -> AppResult<Checked> {
    let mut fields = FieldErrors::new();
    let endpoint = fields.check(
        "endpoint",
        endpoint::parse(&req.endpoint, allow_insecure)
            .map(|u| u.to_string())
            .map_err(String::from),
    );
    let p256dh = fields.check(
        "keys.p256dh",
        crypto::unb64(&req.keys.p256dh)
            .and_then(|b| crypto::parse_public_key(&b).map(|_| b))
            .map(|b| crypto::b64(&b))
            .ok_or_else(|| "base64url of an uncompressed P-256 point (65 bytes)".to_owned()),
    );
    let auth = fields.check(
        "keys.auth",
        crypto::unb64(&req.keys.auth)
            .filter(|b| b.len() == crypto::AUTH_LEN)
            .map(|b| crypto::b64(&b))
            .ok_or_else(|| "base64url of 16 bytes".to_owned()),
    );
    fields.into_result()?;
    match (endpoint, p256dh, auth) {
        (Some(endpoint), Some(p256dh), Some(auth)) => Ok(Checked {
            endpoint,
            p256dh,
            auth,
        }),
        _ => Err(AppError::invalid("keys", "the subscription's keys")),
    }
}

/// Subscribes a device of the member's; the same endpoint again updates that subscription
/// (and, sent by another member on a shared browser, becomes theirs).
pub async fn subscribe(state: &AppState, user_id: i64, req: &NewSubscription) -> AppResult<i64> {
    let sub = check(req, state.push.allow_insecure())?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let existing = db!(
        tx,
        fetch_optional as (i64, i64),
        "SELECT id, user_id FROM push_subscriptions WHERE endpoint = $1",
        &sub.endpoint
    )?;
    let id = match existing {
        Some((id, owner)) => {
            if owner != user_id {
                // Pushes queued for the previous member must not reach the new one.
                db!(
                    tx,
                    execute,
                    "DELETE FROM push_outbox WHERE subscription_id = $1",
                    id
                )?;
            }
            db!(
                tx,
                execute,
                "UPDATE push_subscriptions SET user_id = $2, p256dh = $3, auth = $4, created_at = $5 WHERE id = $1",
                id,
                user_id,
                &sub.p256dh,
                &sub.auth,
                now
            )?;
            id
        }
        None => db!(
            tx,
            fetch_one scalar i64,
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            user_id,
            &sub.endpoint,
            &sub.p256dh,
            &sub.auth,
            now
        )?,
    };
    db!(
        tx,
        execute,
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
             SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
        user_id,
        MAX_PER_MEMBER
    )?;
    // A device subscribed is the member asking for pushes; their per-kind choices still apply.
    crate::delivery::turn_push_on(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Subscribes this device to the caller's notifications. The same endpoint twice is one
/// subscription (answered 201 with its id both times).
#[utoipa::path(post, path = "/api/v1/me/push-subscriptions", tag = "push", operation_id = "push_subscribe",
    request_body = NewSubscription,
    responses((status = 201, body = SubscriptionId), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_subscribe(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<NewSubscription>,
) -> AppResult<(StatusCode, axum::Json<SubscriptionId>)> {
    let id = subscribe(&state, session.user.id, &req).await?;
    Ok((StatusCode::CREATED, axum::Json(SubscriptionId { id })))
}

/// Removes one of the member's subscriptions; false when they have none with that id.
pub async fn unsubscribe(state: &AppState, user_id: i64, id: i64) -> AppResult<bool> {
    let mut w = state.store.write().await?;
    let gone = db!(
        w,
        execute,
        "DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )?;
    Ok(gone == 1)
}

/// Stops pushes to one of the caller's devices (404 for anyone else's).
#[utoipa::path(delete, path = "/api/v1/me/push-subscriptions/{id}", tag = "push", operation_id = "push_unsubscribe",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_unsubscribe(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    if unsubscribe(&state, session.user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound)
    }
}
