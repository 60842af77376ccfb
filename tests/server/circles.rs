#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Peer circles through the real server: organisers make them (6–12 people), place members and
//! peer leaders, the circle's private room (HTTP history and a real WebSocket), the goals shared
//! with a circle, the leaders' agenda of due check-ins, and the alert when a leader has been
//! away for 14 days.

use crate::common;

use std::time::Duration;

use common::ws::{connect, next_op, send};
use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn grant(s: &Server, admin: &str, slug: &str, role: &str, username: &str) {
    let (st, body) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/{role}/{username}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "grant {role}: {body}");
}

async fn place(
    s: &Server,
    organiser: &str,
    circle: i64,
    username: &str,
    role: &str,
) -> (StatusCode, Value) {
    s.call(
        "PUT",
        &format!("/api/v1/circles/{circle}/members/{username}"),
        Some(organiser),
        Some(json!({"role": role})),
    )
    .await
}

/// A members-only community with an organiser; (admin, organiser) tokens.
async fn setup(s: &Server, slug: &str) -> (String, String) {
    let admin = s.admin().await;
    s.community(&admin, slug, "members", json!({})).await;
    let orga = s.register("orga").await;
    s.join(&orga, slug).await;
    grant(s, &admin, slug, "organiser", "orga").await;
    (admin, orga)
}

async fn member(s: &Server, slug: &str, name: &str) -> String {
    let t = s.register(name).await;
    s.join(&t, slug).await;
    t
}

async fn new_circle(s: &Server, orga: &str, slug: &str, body: Value) -> Value {
    let (st, c) = s
        .post(
            &format!("/api/v1/communities/{slug}/circles"),
            Some(orga),
            body,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    c
}

async fn notifications(s: &Server, token: &str) -> Vec<Value> {
    let (st, page) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|a| a.iter().filter_map(|g| g["id"].as_i64()).collect())
        .unwrap_or_default()
}

both_backends!(organisers_make_circles_of_six_to_twelve, |b| async move {
    let s = Server::start(b).await;
    let (admin, orga) = setup(&s, "sugar").await;
    let ana = member(&s, "sugar", "ana").await;

    let good = json!({"name": "Thursday circle", "capacity": 6,
        "meeting": {"weekday": "thursday", "time": "18:00", "timezone": "America/Mexico_City"}});
    assert_eq!(
        s.post(
            "/api/v1/communities/sugar/circles",
            Some(&ana),
            good.clone()
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    for (body, field) in [
        (json!({"name": "Small", "capacity": 5}), "capacity"),
        (json!({"name": "Large", "capacity": 13}), "capacity"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "Someday", "meeting": {"weekday": "funday", "time": "18:00"}}),
            "meeting",
        ),
        (
            json!({"name": "Late", "meeting": {"weekday": "monday", "time": "25:00"}}),
            "meeting",
        ),
        (
            json!({"name": "Nowhere", "meeting": {"weekday": "monday", "time": "18:00", "timezone": "Mars/Base"}}),
            "meeting",
        ),
    ] {
        let (st, e) = s
            .post(
                "/api/v1/communities/sugar/circles",
                Some(&orga),
                body.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
        assert!(e["error"]["fields"][field].is_array(), "{body} → {e}");
    }
    let c = new_circle(&s, &orga, "sugar", good).await;
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        (c["capacity"].as_i64(), c["member_count"].as_i64()),
        (Some(6), Some(0))
    );
    assert_eq!(c["meeting"]["weekday"], "thursday");
    assert!(c["room"].is_i64(), "{c}");
    // The next session is a Thursday at 18:00 in Mexico City (UTC−6 all year): 00:00 UTC Friday.
    let next =
        chrono::DateTime::parse_from_rfc3339(c["next_session_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        chrono::Datelike::weekday(&next.with_timezone(&chrono::Utc)),
        chrono::Weekday::Fri,
        "{c}"
    );
    assert_eq!(next.format("%H:%M").to_string(), "00:00");
    // A default capacity of 12.
    let other = new_circle(&s, &orga, "sugar", json!({"name": "Other circle"})).await;
    assert_eq!(other["capacity"], 12);

    // Six places, a leader among them; the seventh is refused.
    let (st, m) = place(&s, &orga, id, "ana", "leader").await;
    assert_eq!(
        (st, m["role"].as_str()),
        (StatusCode::CREATED, Some("leader")),
        "{m}"
    );
    for i in 1..6 {
        member(&s, "sugar", &format!("m{i}x")).await;
        let (st, m) = place(&s, &orga, id, &format!("m{i}x"), "member").await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
    }
    member(&s, "sugar", "seventh").await;
    let (st, e) = place(&s, &orga, id, "seventh", "member").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("circle_full")),
        "{e}"
    );
    // Changing a role in a full circle is fine (200, not a new place).
    let (st, m) = place(&s, &orga, id, "m1x", "co_leader").await;
    assert_eq!(
        (st, m["role"].as_str()),
        (StatusCode::OK, Some("co_leader")),
        "{m}"
    );
    // One circle per member per community.
    let (st, e) = place(&s, &orga, other["id"].as_i64().unwrap(), "ana", "member").await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("in_another_circle")),
        "{e}"
    );
    // Only active members of the community; only organisers place people; roles are checked.
    s.register("stranger").await;
    assert_eq!(
        place(
            &s,
            &orga,
            other["id"].as_i64().unwrap(),
            "stranger",
            "member"
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        place(&s, &orga, other["id"].as_i64().unwrap(), "nobody", "member")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        place(&s, &orga, other["id"].as_i64().unwrap(), "seventh", "chief")
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        place(&s, &ana, id, "seventh", "member").await.0,
        StatusCode::FORBIDDEN
    );
    // Capacity cannot drop below the people already in it.
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/api/v1/circles/{id}"),
            Some(&orga),
            Some(json!({"capacity": 12, "name": "Thursday walkers"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/api/v1/circles/{id}"),
            Some(&orga),
            Some(json!({"capacity": 6})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = place(&s, &orga, id, "seventh", "member").await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");

    // The member list shows roles, leaders first: the peer leader badge.
    let (st, got) = s.get(&format!("/api/v1/circles/{id}"), Some(&ana)).await;
    assert_eq!(st, StatusCode::OK, "{got}");
    assert_eq!(
        (got["name"].as_str(), got["my_role"].as_str()),
        (Some("Thursday walkers"), Some("leader"))
    );
    let members = got["members"].as_array().unwrap();
    assert_eq!(members.len(), 6);
    assert_eq!(
        (
            members[0]["user"]["username"].as_str(),
            members[0]["role"].as_str()
        ),
        (Some("ana"), Some("leader"))
    );
    assert_eq!(members[1]["role"], "co_leader");
    // The peer leader badge on the leader's own account.
    assert_eq!(s.get("/api/v1/me", Some(&ana)).await.1["peer_leader"], true);
    let m4 = s.login("m4x").await;
    assert_eq!(s.get("/api/v1/me", Some(&m4)).await.1["peer_leader"], false);
    // Being placed is notified, without words.
    let added: Vec<Value> = notifications(&s, &ana)
        .await
        .into_iter()
        .filter(|n| n["kind"] == "circle_added")
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["subject"], json!({"type": "circle", "id": id}));

    // Members see their own circle only; organisers and admins see all; outsiders nothing.
    let seventh = s.login("seventh").await;
    let (_, list) = s.get("/api/v1/communities/sugar/circles", Some(&ana)).await;
    assert_eq!(ids(&list), vec![id], "{list}");
    let (_, list) = s
        .get("/api/v1/communities/sugar/circles", Some(&seventh))
        .await;
    assert!(ids(&list).is_empty(), "{list}");
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}"), Some(&seventh))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = s
        .get("/api/v1/communities/sugar/circles", Some(&orga))
        .await;
    assert_eq!(ids(&list).len(), 2, "{list}");
    let (_, list) = s
        .get("/api/v1/communities/sugar/circles", Some(&admin))
        .await;
    assert_eq!(ids(&list).len(), 2, "{list}");
    let stranger = s.login("stranger").await;
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}"), Some(&stranger))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A private community's circles do not exist for outsiders.
    s.community(&admin, "hidden", "private", json!({})).await;
    assert_eq!(
        s.get("/api/v1/communities/hidden/circles", Some(&stranger))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Leaving: members leave themselves; only organisers take others out.
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{id}/members/m2x"),
            Some(&ana),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let m3 = s.login("m3x").await;
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{id}/members/m3x"),
            Some(&m3),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{id}/members/m2x"),
            Some(&orga),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, got) = s.get(&format!("/api/v1/circles/{id}"), Some(&orga)).await;
    assert_eq!(got["member_count"], 4);
    // Closing a circle (organisers).
    let other_id = other["id"].as_i64().unwrap();
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{other_id}"),
            Some(&ana),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{other_id}"),
            Some(&orga),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get(&format!("/api/v1/circles/{other_id}"), Some(&orga))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
});

both_backends!(
    a_circle_room_is_private_over_http_and_websocket,
    |b| async move {
        let s = Server::start(b).await;
        let (_admin, orga) = setup(&s, "sugar").await;
        let ana = member(&s, "sugar", "ana").await;
        let bob = member(&s, "sugar", "bob").await;
        let moddy = member(&s, "sugar", "moddy").await;
        grant(&s, &_admin, "sugar", "moderator", "moddy").await;
        let c = new_circle(&s, &orga, "sugar", json!({"name": "Evening circle"})).await;
        let (id, room) = (c["id"].as_i64().unwrap(), c["room"].as_i64().unwrap());
        assert_eq!(
            place(&s, &orga, id, "ana", "member").await.0,
            StatusCode::CREATED
        );

        // The room is listed for the circle's people and moderators, not for other members.
        let rooms = |list: Value| ids(&list);
        assert!(
            rooms(s.get("/api/v1/communities/sugar/rooms", Some(&ana)).await.1).contains(&room)
        );
        assert!(
            rooms(
                s.get("/api/v1/communities/sugar/rooms", Some(&moddy))
                    .await
                    .1
            )
            .contains(&room)
        );
        let (_, bob_rooms) = s.get("/api/v1/communities/sugar/rooms", Some(&bob)).await;
        assert!(!rooms(bob_rooms.clone()).contains(&room), "{bob_rooms}");
        assert_eq!(
            bob_rooms.as_array().map(Vec::len),
            Some(1),
            "the General room stays: {bob_rooms}"
        );
        let (_, community) = s.get("/api/v1/communities/sugar", Some(&bob)).await;
        assert!(
            !rooms(community["rooms"].clone()).contains(&room),
            "{community}"
        );

        // A circle member's socket subscribes and speaks; an outsider's is told there is no room.
        let mut a = connect(&s, &ana).await;
        send(&mut a, json!({"op": "subscribe", "room": room})).await;
        next_op(&mut a, "subscribed").await;
        send(
            &mut a,
            json!({"op": "send", "room": room, "body": "my sugar was high today", "nonce": "n1"}),
        )
        .await;
        let sent = next_op(&mut a, "message").await;
        assert_eq!(sent["message"]["body"], "my sugar was high today");
        let message = sent["message"]["id"].as_i64().unwrap();
        let mut o = connect(&s, &bob).await;
        send(&mut o, json!({"op": "subscribe", "room": room})).await;
        let e = next_op(&mut o, "error").await;
        assert_eq!(e["code"], "not_found", "{e}");
        send(
            &mut o,
            json!({"op": "send", "room": room, "body": "hello?", "nonce": "n2"}),
        )
        .await;
        assert_eq!(next_op(&mut o, "error").await["code"], "not_subscribed");
        // Moderators may enter for safety.
        let mut m = connect(&s, &moddy).await;
        send(&mut m, json!({"op": "subscribe", "room": room})).await;
        let sub = next_op(&mut m, "subscribed").await;
        assert!(sub.to_string().contains("my sugar was high today"), "{sub}");

        // History and edits follow the same rule.
        let (st, h) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(&ana))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(h["items"][0]["id"], message);
        assert_eq!(
            s.get(&format!("/api/v1/rooms/{room}/messages"), Some(&bob))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.get(&format!("/api/v1/rooms/{room}/messages"), None)
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/messages/{message}"),
                Some(&bob),
                Some(json!({"body": "edited"})),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // A member banned from the community leaves the circle and its room.
        let cara = member(&s, "sugar", "cara").await;
        assert_eq!(
            place(&s, &orga, id, "cara", "member").await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            s.get(&format!("/api/v1/rooms/{room}/messages"), Some(&cara))
                .await
                .0,
            StatusCode::OK
        );
        let cara_id = s.get("/api/v1/users/cara", None).await.1["id"]
            .as_i64()
            .unwrap();
        let (st, banned) = s
        .post("/api/v1/moderation/actions", Some(&moddy), json!({"action": "ban", "target": {"type": "user", "id": cara_id}, "community": "sugar", "reason": "abuse in the circle"}))
        .await;
        assert!(st.is_success(), "{banned}");
        let (_, got) = s.get(&format!("/api/v1/circles/{id}"), Some(&orga)).await;
        assert!(!got.to_string().contains("\"cara\""), "{got}");
        assert_eq!(
            s.get(&format!("/api/v1/rooms/{room}/messages"), Some(&cara))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // Taken out of the circle, a member loses the room.
        assert_eq!(
            s.call(
                "DELETE",
                &format!("/api/v1/circles/{id}/members/ana"),
                Some(&orga),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            s.get(&format!("/api/v1/rooms/{room}/messages"), Some(&ana))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
);

both_backends!(circle_goals_and_the_leaders_agenda, |b| async move {
    let s = Server::start(b).await;
    let (_admin, orga) = setup(&s, "sugar").await;
    let lena = member(&s, "sugar", "lena").await;
    let ana = member(&s, "sugar", "ana").await;
    let cam = member(&s, "sugar", "cam").await;
    let dev = member(&s, "sugar", "dev").await;
    let c = new_circle(
        &s,
        &orga,
        "sugar",
        json!({"name": "Morning circle",
        "meeting": {"weekday": "monday", "time": "09:00", "timezone": "Asia/Kolkata"}}),
    )
    .await;
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        place(&s, &orga, id, "lena", "leader").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        place(&s, &orga, id, "ana", "member").await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        place(&s, &orga, id, "cam", "member").await.0,
        StatusCode::CREATED
    );

    let (st, shared) = s
        .post(
            "/api/v1/me/goals",
            Some(&ana),
            json!({"title": "walk after dinner", "cadence": "daily", "share_with_circle": id}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{shared}");
    let shared = shared["id"].as_i64().unwrap();
    let (_, private) = s
        .post(
            "/api/v1/me/goals",
            Some(&ana),
            json!({"title": "no sweets after 8", "cadence": "daily"}),
        )
        .await;
    let private = private["id"].as_i64().unwrap();
    let (_, cam_goal) = s
        .post("/api/v1/me/goals", Some(&cam), json!({"title": "check sugar each morning", "cadence": "daily", "share_with_circle": id}))
        .await;
    let cam_goal = cam_goal["id"].as_i64().unwrap();
    // Only a circle one is in.
    let (st, e) = s
        .post(
            "/api/v1/me/goals",
            Some(&dev),
            json!({"title": "sleep by 11", "cadence": "daily", "share_with_circle": id}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // The circle sees the shared goals, never the private one.
    for token in [&lena, &cam] {
        let (st, list) = s
            .get(&format!("/api/v1/circles/{id}/goals"), Some(token))
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let mut got = ids(&list);
        got.sort();
        assert_eq!(got, vec![shared, cam_goal], "{list}");
    }
    assert_eq!(
        s.get(&format!("/api/v1/goals/{shared}"), Some(&cam))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.get(&format!("/api/v1/goals/{private}"), Some(&lena))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}/goals"), Some(&dev))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}/goals"), Some(&orga))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Ana checks in, with a note for her leader; Cam has not: his line is due.
    let (st, _) = s
        .post(
            &format!("/api/v1/goals/{shared}/checkins"),
            Some(&ana),
            json!({"status": "partly", "note": "rain, walked indoors"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, agenda) = s
        .get(&format!("/api/v1/circles/{id}/agenda"), Some(&lena))
        .await;
    assert_eq!(st, StatusCode::OK, "{agenda}");
    let lines = agenda["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "one line per shared goal: {agenda}");
    assert_eq!(
        (lines[0]["goal"].as_i64(), lines[0]["due"].as_bool()),
        (Some(cam_goal), Some(true)),
        "due first: {agenda}"
    );
    assert_eq!(lines[0]["latest"], Value::Null);
    assert_eq!(lines[0]["owner"]["username"], "cam");
    assert_eq!(
        (lines[1]["goal"].as_i64(), lines[1]["due"].as_bool()),
        (Some(shared), Some(false))
    );
    assert_eq!(lines[1]["latest"]["status"], "partly");
    assert_eq!(lines[1]["latest"]["note"], "rain, walked indoors");
    assert!(!agenda.to_string().contains("no sweets"), "{agenda}");
    // The session is the next Monday at 09:00 in Kolkata (03:30 UTC).
    let at = chrono::DateTime::parse_from_rfc3339(agenda["session_at"].as_str().unwrap()).unwrap();
    assert_eq!(at.format("%H:%M").to_string(), "03:30", "{agenda}");
    // The leader reads the note; members do not; organisers see the agenda without notes.
    let (_, checkins) = s
        .get(&format!("/api/v1/goals/{shared}/checkins"), Some(&lena))
        .await;
    assert_eq!(checkins[0]["note"], "rain, walked indoors");
    let (_, checkins) = s
        .get(&format!("/api/v1/goals/{shared}/checkins"), Some(&cam))
        .await;
    assert_eq!(checkins[0]["note"], Value::Null);
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}/agenda"), Some(&cam))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get(&format!("/api/v1/circles/{id}/agenda"), Some(&dev))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (st, agenda) = s
        .get(&format!("/api/v1/circles/{id}/agenda"), Some(&orga))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        !agenda.to_string().contains("rain, walked indoors"),
        "{agenda}"
    );

    // Leaving the circle takes a member's goals out of it.
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/circles/{id}/members/cam"),
            Some(&cam),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = s
        .get(&format!("/api/v1/circles/{id}/goals"), Some(&lena))
        .await;
    assert_eq!(ids(&list), vec![shared], "{list}");
    assert_eq!(
        s.get(&format!("/api/v1/goals/{cam_goal}"), Some(&lena))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
});

/// Makes `username` look away for `days` days: their sessions and visits are moved back in
/// the database directly (time travel on data, so the test need not wait two weeks).
async fn backdate(s: &Server, username: &str, days: i64) {
    const DAY: i64 = 24 * 3600 * 1000;
    let then = chrono::Utc::now().timestamp_millis() - days * DAY;
    let statements: [(&'static str, i64); 3] = [
        (
            "UPDATE sessions SET last_used_at = $1 WHERE user_id = (SELECT id FROM users WHERE username_key = $2)",
            then,
        ),
        (
            "DELETE FROM user_visits WHERE day > $1 AND user_id = (SELECT id FROM users WHERE username_key = $2)",
            -1,
        ),
        (
            "INSERT INTO user_visits (user_id, day) SELECT id, $1 FROM users WHERE username_key = $2",
            then / DAY,
        ),
    ];
    match s.db.backend {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            for (sql, n) in statements {
                sqlx::query(sql)
                    .bind(n)
                    .bind(username)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            for (sql, n) in statements {
                sqlx::query(sql)
                    .bind(n)
                    .bind(username)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Rows in the leader-alert table (the inactivity spells being reported).
async fn open_alerts(s: &Server) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM circle_leader_alerts";
    match s.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

async fn wait_for<F: AsyncFn() -> bool>(what: &str, check: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

both_backends!(
    an_inactive_leader_is_reported_once_per_spell,
    |b| async move {
        let opts = || ServerOptions {
            extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
            ..Default::default()
        };
        let s = Server::start_with(b, opts()).await;
        let node2 = Server::start_on(s.db.clone(), opts()).await;
        let (_admin, orga) = setup(&s, "sugar").await;
        let lena = member(&s, "sugar", "lena").await;
        let colin = member(&s, "sugar", "colin").await;
        let ana = member(&s, "sugar", "ana").await;
        let c = new_circle(&s, &orga, "sugar", json!({"name": "Morning circle"})).await;
        let id = c["id"].as_i64().unwrap();
        assert_eq!(
            place(&s, &orga, id, "lena", "leader").await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            place(&s, &orga, id, "colin", "co_leader").await.0,
            StatusCode::CREATED
        );
        assert_eq!(
            place(&s, &orga, id, "ana", "member").await.0,
            StatusCode::CREATED
        );

        let inactive = async |token: &str| -> Vec<Value> {
            notifications(&s, token)
                .await
                .into_iter()
                .filter(|n| n["kind"] == "leader_inactive")
                .collect()
        };
        // Thirteen days away is not yet an alert.
        backdate(&s, "lena", 13).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(inactive(&colin).await.is_empty());
        // Fifteen days: the co-leader and the organiser hear, once, whichever node runs the job.
        backdate(&s, "lena", 15).await;
        wait_for("an alert to the co-leader", async || {
            !inactive(&colin).await.is_empty()
        })
        .await;
        wait_for("an alert to the organiser", async || {
            !inactive(&orga).await.is_empty()
        })
        .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let told = inactive(&colin).await;
        assert_eq!(told.len(), 1, "{told:?}");
        assert_eq!(told[0]["subject"], json!({"type": "circle", "id": id}));
        assert_eq!(told[0]["community"], "sugar");
        assert_eq!(inactive(&orga).await.len(), 1);
        assert!(
            inactive(&ana).await.is_empty(),
            "plain members are not told"
        );
        // Lena comes back (any signed-in request counts); a later spell away is reported afresh.
        let (st, _) = node2.get("/api/v1/me", Some(&lena)).await;
        assert_eq!(st, StatusCode::OK);
        wait_for("the spell to close", async || open_alerts(&s).await == 0).await;
        assert!(inactive(&lena).await.is_empty());
        backdate(&s, "lena", 20).await;
        wait_for("a second alert", async || inactive(&colin).await.len() == 2).await;
        assert_eq!(inactive(&orga).await.len(), 2);
    }
);
