#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Web Push through the real server, on SQLite and on PostgreSQL + Redis. A tiny push service
//! in this file (axum on an ephemeral port) plays the browser's push service: a member
//! subscribes with a key pair and auth secret made here, a reply to her topic is pushed, and
//! the push is checked the way a browser would: the VAPID token's signature against
//! `/api/v1/push/key`, its audience and expiry, then the aes128gcm body decrypted with the
//! subscription's private key (RFC 8291), holding exactly `{kind, url}`.

use crate::common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::web::{get, web_member};
use common::{Backend, Server, ServerOptions, TestDb};
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha256::Sha256;
use tokio::sync::mpsc;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// One request the push service received.
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The statuses the push service answers next, each with its `Retry-After`.
type Script = Arc<Mutex<VecDeque<(u16, Option<&'static str>)>>>;

/// A push service on loopback: records each POST and answers with the next scripted status
/// (201 once the script is empty).
struct PushService {
    base: String,
    received: mpsc::UnboundedReceiver<Received>,
    script: Script,
}

impl PushService {
    async fn start() -> PushService {
        let (tx, received) = mpsc::unbounded_channel();
        let script: Script = Arc::default();
        let answers = script.clone();
        let app = axum::Router::new().route(
            "/push/{name}",
            axum::routing::post(
                move |axum::extract::Path(name): axum::extract::Path<String>,
                      headers: HeaderMap,
                      body: Bytes| {
                    let tx = tx.clone();
                    let answers = answers.clone();
                    async move {
                        // The answer is chosen before the test hears of the request, so a status the
                        // test scripts next is for the next request.
                        let (status, retry_after) =
                            answers.lock().unwrap().pop_front().unwrap_or((201, None));
                        let _ = tx.send(Received {
                            path: name,
                            headers,
                            body,
                        });
                        let mut out = HeaderMap::new();
                        if let Some(r) = retry_after {
                            out.insert("retry-after", r.parse().unwrap());
                        }
                        (AxumStatus::from_u16(status).unwrap(), out)
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        PushService {
            base: format!("http://{addr}"),
            received,
            script,
        }
    }

    fn answer_next(&self, status: u16, retry_after: Option<&'static str>) {
        self.script.lock().unwrap().push_back((status, retry_after));
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(20), self.received.recv())
            .await
            .expect("a push within 20 s")
            .expect("push service running")
    }
}

/// A browser's side of a subscription: its key pair and auth secret.
struct Device {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Device {
    fn new() -> Device {
        Device {
            secret: SecretKey::generate(),
            auth: rand::random(),
        }
    }

    fn public(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "keys": {"p256dh": b64(&self.public()), "auth": b64(&self.auth)}})
    }

    /// RFC 8291 section 3 and RFC 8188 from the receiving end: the plaintext with its padding
    /// and delimiter removed.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        assert!(body.len() > 86, "an aes128gcm header and a record");
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap());
        assert!(rs >= 18, "record size {rs}");
        let idlen = body[20] as usize;
        assert_eq!(
            idlen, 65,
            "the key id is the server's uncompressed public key"
        );
        let as_public = &body[21..21 + idlen];
        let sealed = &body[21 + idlen..];
        assert!(
            sealed.len() <= rs as usize,
            "one record of at most rs bytes"
        );
        let as_key = PublicKey::from_sec1_bytes(as_public).expect("a P-256 point");
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), as_key.as_affine());
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(&self.public());
        key_info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&key_info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(&Nonce::from(nonce), sealed)
            .expect("the body decrypts with the subscription's keys");
        // A last record: data, then 0x02, then zeros.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "the last-record delimiter");
        plain
    }
}

/// Checks `Authorization: vapid t=JWT, k=KEY` as a push service would (RFC 8292): the key is
/// the site's, the ES256 signature holds, the audience is the endpoint's origin, and the token
/// expires within a day.
fn check_vapid(headers: &HeaderMap, site_key: &str, audience: &str) {
    let header = headers
        .get("authorization")
        .expect("an Authorization header")
        .to_str()
        .unwrap();
    let rest = header.strip_prefix("vapid t=").expect("the vapid scheme");
    let (jwt, k) = rest.split_once(", k=").expect("t= and k=");
    assert_eq!(k, site_key, "k is the key from /api/v1/push/key");
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let key = VerifyingKey::from_sec1_bytes(&unb64(k)).unwrap();
    let signature = Signature::from_slice(&unb64(signature)).expect("64-byte r||s");
    key.verify(signed.as_bytes(), &signature)
        .expect("the token is signed with the site's key");
    let (head, claims) = signed.split_once('.').unwrap();
    let head: Value = serde_json::from_slice(&unb64(head)).unwrap();
    assert_eq!(head["alg"], "ES256");
    let claims: Value = serde_json::from_slice(&unb64(claims)).unwrap();
    assert_eq!(claims["aud"], audience);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    let sub = claims["sub"].as_str().unwrap();
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https://"),
        "{sub}"
    );
}

fn insecure() -> ServerOptions {
    ServerOptions {
        extra_env: vec![
            ("MUTUAL_PUSH_ALLOW_INSECURE".into(), "true".into()),
            ("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into()),
        ],
        ..Default::default()
    }
}

async fn site_key(s: &Server) -> String {
    let (status, body) = s.get("/api/v1/push/key", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = body["vapid_public_key"].as_str().unwrap().to_owned();
    let raw = unb64(&key);
    assert_eq!(raw.len(), 65);
    assert_eq!(raw[0], 4, "uncompressed point");
    assert!(PublicKey::from_sec1_bytes(&raw).is_ok());
    key
}

both_backends!(
    a_reply_is_pushed_encrypted_and_signed,
    |b: Backend| async move {
        let mut service = PushService::start().await;
        let s = Server::start_with(b, insecure()).await;
        let key = site_key(&s).await;
        let admin = s.admin().await;
        s.community(&admin, "knees", "public", json!({})).await;
        let alice = s.register("alice").await;
        let bob = s.register("bob").await;
        s.join(&alice, "knees").await;
        s.join(&bob, "knees").await;
        let (topic, _) = s
            .topic(
                &alice,
                "knees",
                "Stairs after surgery",
                "How long until stairs felt normal?",
            )
            .await;

        let device = Device::new();
        let endpoint = format!("{}/push/alice-phone", service.base);
        let (status, first) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&alice),
                device.subscription(&endpoint),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let id = first["id"].as_i64().unwrap();
        // The same endpoint again is the same subscription.
        let (status, again) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&alice),
                device.subscription(&endpoint),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(again["id"].as_i64(), Some(id));

        let (_, export) = s.get("/api/v1/me/export", Some(&alice)).await;
        let devices = &export["tables"]["push_subscriptions.user_id"];
        assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
        assert_eq!(devices[0]["endpoint"], endpoint.as_str());

        // The push service is busy once: the push comes again after its Retry-After.
        service.answer_next(503, Some("1"));
        let words = "Six weeks for me, and my left knee still clicks";
        let post = s.reply(&bob, topic, json!({"body": words})).await;
        let busy = service.next().await;
        let push = service.next().await;
        assert_eq!(busy.body.len(), push.body.len());
        assert_eq!(push.path, "alice-phone");

        assert_eq!(push.headers["content-encoding"], "aes128gcm");
        let ttl: i64 = push.headers["ttl"].to_str().unwrap().parse().unwrap();
        assert!(ttl > 0 && ttl <= 86400, "TTL {ttl}");
        assert_eq!(push.headers["urgency"], "normal");
        check_vapid(&push.headers, &key, &service.base);

        let plain = device.decrypt(&push.body);
        let text = String::from_utf8(plain).unwrap();
        assert!(!text.contains("knee") && !text.contains("Stairs") && !text.contains("bob"));
        let payload: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            payload,
            json!({"kind": "reply", "url": format!("/p/{}", post["id"].as_i64().unwrap())}),
            "exactly kind and url"
        );

        // A push service that answers 410 makes the server forget the subscription.
        service.answer_next(410, None);
        s.reply(&bob, topic, json!({"body": "Ice helped me"})).await;
        let gone = service.next().await;
        assert_eq!(gone.path, "alice-phone");
        // The member's data export lists her devices: this one until the 410 is taken in.
        let mut forgotten = false;
        for _ in 0..100 {
            let (status, export) = s.get("/api/v1/me/export", Some(&alice)).await;
            assert_eq!(status, StatusCode::OK);
            let devices = export["tables"]["push_subscriptions.user_id"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if devices.is_empty() {
                forgotten = true;
                break;
            }
            assert_eq!(devices[0]["endpoint"], endpoint.as_str());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            forgotten,
            "the subscription was deleted after the push service answered 410"
        );
        let (status, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/me/push-subscriptions/{id}"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "already gone");
        // No further pushes go to a forgotten device.
        s.reply(&bob, topic, json!({"body": "Me too"})).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            service.received.try_recv().is_err(),
            "nothing sent to a gone subscription"
        );
    }
);

both_backends!(only_the_owner_deletes, |b: Backend| async move {
    let s = Server::start_with(b, insecure()).await;
    let alice = s.register("alice").await;
    let bob = s.register("bob").await;
    let device = Device::new();
    let (status, body) = s
        .post(
            "/api/v1/me/push-subscriptions",
            Some(&alice),
            device.subscription("http://127.0.0.1:9/push/a"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let path = format!("/api/v1/me/push-subscriptions/{id}");
    let (status, body) = s.call("DELETE", &path, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = s.call("DELETE", &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.call("DELETE", &path, Some(&alice), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.call("DELETE", &path, Some(&alice), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .post(
            "/api/v1/me/push-subscriptions",
            None,
            device.subscription("http://127.0.0.1:9/push/a"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
});

/// The fields a 422 names.
fn refused_fields(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default()
}

both_backends!(endpoints_must_be_public_https, |b: Backend| async move {
    // Without MUTUAL_PUSH_ALLOW_INSECURE.
    let s = Server::start(b).await;
    let alice = s.register("alice").await;
    let device = Device::new();
    for endpoint in [
        "http://127.0.0.1:9/push/a",
        "http://push.example.net/x",
        "https://127.0.0.1/push/a",
        "https://localhost/push/a",
        "https://10.1.2.3/push/a",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/push/a",
        "https://push.example.net:8443/x",
        "file:///etc/passwd",
        "not an address",
    ] {
        let (status, body) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&alice),
                device.subscription(endpoint),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{endpoint}: {body}"
        );
        assert_eq!(
            refused_fields(&body),
            vec!["endpoint"],
            "{endpoint}: {body}"
        );
    }
    // A public https push service is accepted (nothing is sent until a notification).
    let (status, body) = s
        .post(
            "/api/v1/me/push-subscriptions",
            Some(&alice),
            device.subscription("https://updates.push.services.mozilla.com/wpush/v2/gAAAAABn"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Keys: the p256dh must be a 65-byte point on the curve, the auth secret 16 bytes.
    let endpoint = "https://fcm.googleapis.com/fcm/send/abc";
    let point = b64(&device.public());
    let mut off_curve = device.public();
    off_curve[64] ^= 1;
    let cases = [
        (
            json!({"p256dh": b64(&device.public()[..33]), "auth": b64(&device.auth)}),
            "keys.p256dh",
        ),
        (
            json!({"p256dh": b64(&off_curve), "auth": b64(&device.auth)}),
            "keys.p256dh",
        ),
        (
            json!({"p256dh": "not base64!", "auth": b64(&device.auth)}),
            "keys.p256dh",
        ),
        (
            json!({"p256dh": point, "auth": b64(&[1u8; 12])}),
            "keys.auth",
        ),
        (json!({"p256dh": point, "auth": ""}), "keys.auth"),
    ];
    for (keys, field) in cases {
        let (status, body) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&alice),
                json!({"endpoint": endpoint, "keys": keys}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{keys}: {body}");
        assert_eq!(refused_fields(&body), vec![field], "{keys}: {body}");
    }
    let (status, _) = s
        .post(
            "/api/v1/me/push-subscriptions",
            Some(&alice),
            json!({"endpoint": endpoint}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
});

both_backends!(
    two_nodes_starting_at_once_share_one_key,
    |b: Backend| async move {
        let db = Arc::new(TestDb::new(b).await);
        let first = tokio::spawn(Server::start_on(db.clone(), ServerOptions::default()));
        let second = tokio::spawn(Server::start_on(db.clone(), ServerOptions::default()));
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let key = site_key(&first).await;
        assert_eq!(site_key(&second).await, key);
        // A restart keeps it.
        drop(first);
        let third = Server::start_on(db.clone(), ServerOptions::default()).await;
        assert_eq!(site_key(&third).await, key);
    }
);

both_backends!(
    the_settings_page_has_the_device_section,
    |b: Backend| async move {
        let s = Server::start(b).await;
        for (locale, title, unsupported) in [
            (
                "es",
                "Notificaciones en este aparato",
                "Este aparato no puede recibir notificaciones",
            ),
            (
                "hi",
                "इस डिवाइस पर सूचनाएँ",
                "यह डिवाइस Mutual की सूचनाएँ नहीं पा सकता",
            ),
        ] {
            let client = web_member(&s, &format!("m{locale}"), locale).await;
            let page = get(&s, &client, "/settings", None).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.html.contains("id=\"push-device\""), "{}", page.html);
            assert!(page.html.contains(title));
            // Without JavaScript the explanation is what shows; the buttons wait hidden for it.
            assert!(page.html.contains(unsupported));
            assert!(page.html.contains("id=\"push-controls\" hidden"));
            // The service worker's words for a push, in the member's language.
            let texts = get(&s, &client, "/push/texts.json", None).await;
            assert_eq!(texts.status, StatusCode::OK);
            let texts: Value = serde_json::from_str(&texts.html).unwrap();
            assert_eq!(texts["lang"], locale);
            assert!(texts["kinds"]["reply"].as_str().is_some());
            assert_ne!(texts["kinds"]["reply"], "New reply in your group");
        }
        // Visitors have no devices to subscribe: no section.
        let visitor = common::web::browser();
        let page = get(&s, &visitor, "/settings", None).await;
        assert!(!page.html.contains("push-device"));
        // The service worker's push handlers are served with the other static files.
        let sw = s.client.get(s.url("/push-sw.js")).send().await.unwrap();
        assert_eq!(sw.status(), StatusCode::OK);
        assert!(
            sw.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let js = sw.text().await.unwrap();
        assert!(js.contains("notificationclick"));
    }
);

both_backends!(
    the_delivery_settings_govern_pushes,
    |b: Backend| async move {
        let mut service = PushService::start().await;
        let s = Server::start_with(b, insecure()).await;
        let admin = s.admin().await;
        s.community(&admin, "knees", "public", json!({})).await;
        let alice = s.register("alice").await;
        let bob = s.register("bob").await;
        s.join(&alice, "knees").await;
        s.join(&bob, "knees").await;
        let (topic, _) = s
            .topic(&alice, "knees", "Stairs after surgery", "How long?")
            .await;
        let (_, before) = s.get("/api/v1/me/delivery", Some(&alice)).await;
        assert_eq!(before["push"], false, "{before}");
        let device = Device::new();
        let endpoint = format!("{}/push/alice-tablet", service.base);
        let (status, _) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&alice),
                device.subscription(&endpoint),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // Subscribing a device is asking for pushes.
        let (_, after) = s.get("/api/v1/me/delivery", Some(&alice)).await;
        assert_eq!(after["push"], true, "{after}");

        // Replies turned off: a plain reply is not pushed, a mention still is.
        let (status, body) = s
            .call(
                "PATCH",
                "/api/v1/me/delivery",
                Some(&alice),
                Some(json!({"kinds": {"reply": false}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        s.reply(&bob, topic, json!({"body": "Six weeks for me"}))
            .await;
        s.reply(&bob, topic, json!({"body": "@alice ice helped me"}))
            .await;
        let push = service.next().await;
        let payload: Value = serde_json::from_slice(&device.decrypt(&push.body)).unwrap();
        assert_eq!(payload["kind"], "mention", "{payload}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            service.received.try_recv().is_err(),
            "the plain reply was not pushed"
        );

        // Push off: nothing more, whatever the kind.
        let (status, _) = s
            .call(
                "PATCH",
                "/api/v1/me/delivery",
                Some(&alice),
                Some(json!({"push": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        s.reply(&bob, topic, json!({"body": "@alice one more thing"}))
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(service.received.try_recv().is_err(), "push is off");
    }
);
