#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The authorization sweep: every operation of the API that takes an id (read from
//! `/api/openapi.json`, so a new endpoint is swept without anyone remembering to add it) is tried
//! by an outsider against a private community's resources and by another member against a
//! member's own. The answer must never carry the resource's words, never be a success (but for
//! the few things anyone may do), never be a 5xx, and — for the outsider — be the same as for an
//! id that does not exist, so the answer does not even say the thing is there.

use crate::common;

use std::collections::BTreeMap;

use common::{Server, ws};
use reqwest::StatusCode;
use serde_json::json;

const MARKERS: [&str; 13] = [
    "SECRET-TOPIC-ALPHA",
    "SECRET-REPLY-BRAVO",
    "SECRET-TYPE-CHARLIE",
    "SECRET-CHAT-DELTA",
    "SECRET-EVENT-ECHO",
    "SECRET-SCHEDULE-FOXTROT",
    "SECRET-ANNOUNCE-GOLF",
    "SECRET-CIRCLE-HOTEL",
    "SECRET-NOTE-INDIA",
    "SECRET-GOAL-JULIET",
    "SECRET-GOAL-KILO",
    "SECRET-ONLYME-LIMA",
    "SECRET-DM-MIKE",
];

/// What each kind of `{id}` stands for, by the path segment before it.
struct Ids(BTreeMap<&'static str, i64>);

/// The path with its parameters filled in from `ids` (or with ids that do not exist).
fn fill(path: &str, ids: &Ids, slug: &str, real: bool) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let value = match *part {
            "{id}" => {
                let kind = parts.get(i.wrapping_sub(1)).copied().unwrap_or_default();
                let id = *ids.0.get(kind)?;
                if real {
                    id.to_string()
                } else {
                    "987654321".into()
                }
            }
            "{slug}" => {
                if real {
                    slug.to_owned()
                } else {
                    "no-such-group".into()
                }
            }
            "{username}" => {
                if real {
                    "owner_a".into()
                } else {
                    "no_such_member".into()
                }
            }
            // drafts (#22): a draft's key names a topic.
            "{key}" if path.contains("/drafts/") => {
                let topic = *ids.0.get("topics")?;
                if real {
                    format!("topic:{topic}")
                } else {
                    "topic:987654321".into()
                }
            }
            "{key}" => {
                if real {
                    "secret_kind".into()
                } else {
                    "no_such_kind".into()
                }
            }
            "{role}" => "moderator".into(),
            p if p.starts_with('{') => return None,
            p => p.to_owned(),
        };
        out.push(value);
    }
    Some(out.join("/"))
}

async fn answer(s: &Server, method: &str, path: &str, token: &str) -> (StatusCode, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s.client.request(m, s.url(path)).bearer_auth(token);
    if method != "GET" {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap_or_default())
}

/// Every (method, path) with parameters in the server's own description of itself.
async fn operations(s: &Server) -> Vec<(String, String)> {
    let doc = s.get("/api/openapi.json", None).await.1;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn grant(s: &Server, admin: &str, slug: &str, role: &str, who: &str) {
    let (st, body) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/{role}/{who}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
}

both_backends!(
    no_endpoint_hands_out_what_the_caller_may_not_see,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "hidden-group", "private", json!({}))
            .await;
        s.community(&admin, "open-group", "public", json!({})).await;
        let a = s.register("owner_a").await;
        let c = s.register("member_c").await;
        let outsider = s.register("outsider_b").await;
        for token in [&a, &c] {
            s.join_invited(&admin, token, "hidden-group").await;
            s.join(token, "open-group").await;
        }
        s.join(&outsider, "open-group").await;
        grant(&s, &admin, "hidden-group", "organiser", "owner_a").await;

        let (topic, opening) = s
            .topic(
                &a,
                "hidden-group",
                "SECRET-TOPIC-ALPHA here",
                "SECRET-TOPIC-ALPHA body",
            )
            .await;
        let reply = s
            .reply(&c, topic, json!({"body": "SECRET-REPLY-BRAVO words"}))
            .await;
        let reply = reply["id"].as_i64().unwrap();
        let (st, body) = s
            .post(
                "/api/v1/communities/hidden-group/milestone-types",
                Some(&a),
                json!({"key": "secret_kind", "label": "SECRET-TYPE-CHARLIE"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let room = s
            .get("/api/v1/communities/hidden-group/rooms", Some(&a))
            .await
            .1[0]["id"]
            .as_i64()
            .unwrap();
        let mut socket = ws::connect(&s, &a).await;
        ws::send(
            &mut socket,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        ws::next_op(&mut socket, "subscribed").await;
        ws::send(
            &mut socket,
            json!({"op": "send", "room": room, "body": "SECRET-CHAT-DELTA said", "nonce": "x"}),
        )
        .await;
        let message = ws::next_op(&mut socket, "message").await["message"]["id"]
            .as_i64()
            .unwrap();
        let soon = chrono::Utc::now() + chrono::Duration::hours(30);
        let (st, event) = s
        .post(
            "/api/v1/communities/hidden-group/events",
            Some(&a),
            json!({"room": room, "title": "SECRET-EVENT-ECHO", "starts_at": soon.to_rfc3339(), "ends_at": (soon + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{event}");
        let (st, schedule) = s
        .post(
            "/api/v1/communities/hidden-group/schedules",
            Some(&a),
            json!({"title": "SECRET-SCHEDULE-FOXTROT", "body": "Weekly prompt", "first_at": soon.to_rfc3339(), "repeat": "weekly", "timezone": "America/Mexico_City"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{schedule}");
        let (st, announcement) = s
            .post(
                "/api/v1/communities/hidden-group/announcements",
                Some(&a),
                json!({"title": "SECRET-ANNOUNCE-GOLF", "body": "News"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{announcement}");
        let (st, circle) = s
            .post(
                "/api/v1/communities/hidden-group/circles",
                Some(&a),
                json!({"name": "SECRET-CIRCLE-HOTEL", "capacity": 8}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{circle}");
        let circle = circle["id"].as_i64().unwrap();
        let (st, body) = s
            .call(
                "PUT",
                &format!("/api/v1/circles/{circle}/members/owner_a"),
                Some(&a),
                Some(json!({"role": "leader"})),
            )
            .await;
        assert!(st.is_success(), "{body}");
        let (st, report) = s
        .post("/api/v1/reports", Some(&a), json!({"target": {"type": "post", "id": reply}, "reason": "other", "note": "SECRET-NOTE-INDIA"}))
        .await;
        assert_eq!(st, StatusCode::CREATED, "{report}");
        let (st, goal) = s
            .post(
                "/api/v1/me/goals",
                Some(&a),
                json!({"title": "SECRET-GOAL-JULIET", "cadence": "daily", "confidence": 9}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{goal}");
        let (st, shared) = s
        .post("/api/v1/me/goals", Some(&a), json!({"title": "SECRET-GOAL-KILO", "cadence": "weekly", "confidence": 9, "share_with": "hidden-group"}))
        .await;
        assert_eq!(st, StatusCode::CREATED, "{shared}");
        let (st, only_me) = s
        .post(
            "/api/v1/communities/open-group/topics",
            Some(&a),
            json!({"title": "SECRET-ONLYME-LIMA", "body": "just for me", "kind": "milestone", "milestone": {"type": "non_scale_victory", "visibility": "private"}}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{only_me}");
        // A device of hers (the curve's generator is a valid public key; nothing is sent to it).
        let generator = "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";
        let (st, device) = s
            .post(
                "/api/v1/me/push-subscriptions",
                Some(&a),
                json!({"endpoint": "https://8.8.8.8/push/owner-a-phone", "keys": {"p256dh": generator, "auth": "AAECAwQFBgcICQoLDA0ODw"}}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{device}");
        let device = device["id"].as_i64().unwrap();

        let private = Ids(BTreeMap::from([
            ("topics", topic),
            ("posts", reply),
            ("rooms", room),
            ("messages", message),
            ("events", event["id"].as_i64().unwrap()),
            ("schedules", schedule["id"].as_i64().unwrap()),
            ("announcements", announcement["id"].as_i64().unwrap()),
            ("circles", circle),
            ("reports", report["case_id"].as_i64().unwrap()),
            ("goals", goal["id"].as_i64().unwrap()),
            ("push-subscriptions", device),
        ]));
        // A conversation between the two members (its room and its first message).
        let (st, dm) = s
            .post(
                "/api/v1/conversations",
                Some(&a),
                json!({"with": ["member_c"], "body": "SECRET-DM-MIKE words"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{dm}");
        let dm_room = dm["conversation"]["room"].as_i64().unwrap();
        let dm_message = s
            .get(&format!("/api/v1/rooms/{dm_room}/messages"), Some(&a))
            .await
            .1["items"][0]["id"]
            .as_i64()
            .unwrap();
        // In the public group: the opening post's author's only-me milestone, and her private
        // goal; and her conversation.
        let mine = Ids(BTreeMap::from([
            ("conversations", dm["conversation"]["id"].as_i64().unwrap()),
            ("rooms", dm_room),
            ("messages", dm_message),
            ("topics", only_me["topic"]["id"].as_i64().unwrap()),
            ("posts", only_me["post"]["id"].as_i64().unwrap()),
            ("goals", goal["id"].as_i64().unwrap()),
            ("circles", circle),
            ("reports", report["case_id"].as_i64().unwrap()),
            ("push-subscriptions", device),
        ]));

        // What anyone signed in may do to these addresses: see a member's public profile, follow
        // them, block or ignore them (their own list, never told), ask to join a group (or take
        // the request back).
        let open_to_all = |method: &str, path: &str| {
            matches!(
                (method, path),
                ("GET", "/api/v1/users/{username}")
                    | ("GET", "/api/v1/users/{username}/milestones")
                    | (
                        "PUT" | "DELETE",
                        "/api/v1/users/{username}/follow"
                            | "/api/v1/users/{username}/block"
                            | "/api/v1/users/{username}/ignore"
                    )
                    // drafts (#22): forgetting one's own draft touches nobody else's.
                    | ("DELETE", "/api/v1/me/drafts/{key}")
                    | (
                        "POST",
                        "/api/v1/communities/{slug}/join" | "/api/v1/communities/{slug}/leave"
                    )
            )
        };
        // What a fellow member of the group may do with another member's things in it.
        let fellow_may = |method: &str, path: &str| {
            let private_to_owner_or_staff = [
                "/api/v1/goals/",
                "/api/v1/circles/",
                "/api/v1/reports/",
                "/api/v1/schedules/",
            ]
            .iter()
            .any(|p| path.starts_with(p))
                || path.ends_with("/schedules")
                || path.ends_with("/reports")
                || path.ends_with("/requests");
            match method {
                "GET" => !private_to_owner_or_staff,
                _ => matches!(
                    (method, path),
                    ("POST" | "DELETE", "/api/v1/posts/{id}/reactions")
                        | ("POST" | "DELETE", "/api/v1/messages/{id}/reactions")
                        | ("PUT", "/api/v1/me/drafts/{key}")
                        | ("POST", "/api/v1/events/{id}/rsvp")
                        | ("POST", "/api/v1/announcements/{id}/dismiss")
                        | (
                            "PUT" | "DELETE",
                            "/api/v1/users/{username}/follow"
                                | "/api/v1/users/{username}/block"
                                | "/api/v1/users/{username}/ignore"
                        )
                ),
            }
        };
        let fellow = Ids(BTreeMap::from([
            ("topics", topic),
            ("posts", opening),
            ("rooms", room),
            ("messages", message),
            ("events", event["id"].as_i64().unwrap()),
            ("schedules", schedule["id"].as_i64().unwrap()),
            ("announcements", announcement["id"].as_i64().unwrap()),
            ("circles", circle),
            ("reports", report["case_id"].as_i64().unwrap()),
            ("goals", goal["id"].as_i64().unwrap()),
            ("push-subscriptions", device),
        ]));
        // What a fellow member must never see: the organisers' schedules, a circle they are not
        // in, a report, a private goal, an only-me milestone.
        let hidden_from_fellow = [
            "SECRET-SCHEDULE-FOXTROT",
            "SECRET-CIRCLE-HOTEL",
            "SECRET-NOTE-INDIA",
            "SECRET-GOAL-JULIET",
            "SECRET-ONLYME-LIMA",
        ];
        let ops = operations(&s).await;
        assert!(
            ops.len() > 40,
            "the sweep found only {} operations",
            ops.len()
        );
        let mut problems = Vec::new();
        // (who, token, ids, slug, sweep the group's own addresses too)
        for (caller, token, ids, slug, with_slug) in [
            ("outsider", &outsider, &private, "hidden-group", true),
            ("outsider", &outsider, &mine, "open-group", false),
            ("fellow member", &c, &fellow, "hidden-group", true),
        ] {
            for (method, path) in &ops {
                if path.contains("{slug}") && !with_slug {
                    continue;
                }
                // Leaving mid-sweep would change what the fellow member may see afterwards.
                if caller == "fellow member"
                    && (path.ends_with("/join") || path.ends_with("/leave"))
                {
                    continue;
                }
                let Some(real) = fill(path, ids, slug, true) else {
                    continue;
                };
                let (status, body) = answer(&s, method, &real, token).await;
                if status.is_server_error() {
                    problems.push(format!("{caller} {method} {real}: {status} {body}"));
                }
                let forbidden: &[&str] = if caller == "outsider" {
                    &MARKERS
                } else {
                    &hidden_from_fellow
                };
                if let Some(m) = forbidden.iter().find(|m| body.contains(**m)) {
                    problems.push(format!("{caller} {method} {real}: leaks {m}: {body}"));
                }
                let allowed = open_to_all(method, path)
                    || (caller == "fellow member" && fellow_may(method, path));
                if status.is_success() && !allowed {
                    problems.push(format!("{caller} {method} {real}: {status} {body}"));
                }
                // The answer about a private thing is the answer about nothing at all, joining
                // included: a private group is joined with an invitation's code, never its address.
                if caller == "outsider" && !path.contains("{username}") && !path.ends_with("/leave")
                {
                    let fake = fill(path, ids, slug, false).unwrap();
                    let (fake_status, _) = answer(&s, method, &fake, token).await;
                    if fake_status != status {
                        problems.push(format!(
                        "{caller} {method} {path}: {status} for the real one but {fake_status} for one that does not exist"
                    ));
                    }
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{} problems:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
);
