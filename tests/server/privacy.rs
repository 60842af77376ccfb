#![allow(clippy::expect_used, clippy::unwrap_used)]
//! A member's data through the real server: the export holds everything about them and nothing
//! secret, and deleting the account leaves nothing of theirs anywhere in the database — checked by
//! reading every column of every table, on SQLite and on PostgreSQL.

use crate::common;

use common::{Backend, PASSWORD, Server, TestDb, ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every value of every column of every table, as text, with where it was found.
async fn every_value(db: &TestDb) -> Vec<(String, String)> {
    use sqlx::{Connection, Row};
    let mut found = Vec::new();
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for column in columns {
                    // BLOBs too (the search index keeps its words in them).
                    let sql = format!("SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\"");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    for row in rows {
                        let bytes: Option<Vec<u8>> = row.try_get(0).unwrap_or(None);
                        if let Some(b) = bytes {
                            found.push((
                                format!("{table}.{column}"),
                                String::from_utf8_lossy(&b).into_owned(),
                            ));
                        }
                    }
                }
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns WHERE table_schema = current_schema()",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for (table, column) in columns {
                let sql = format!("SELECT \"{column}\"::TEXT FROM \"{table}\"");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for row in rows {
                    let text: Option<String> = row.try_get(0).unwrap_or(None);
                    if let Some(t) = text {
                        found.push((format!("{table}.{column}"), t));
                    }
                }
            }
        }
    }
    found
}

/// Where any of `needles` still appears (case-insensitive).
async fn traces(db: &TestDb, needles: &[&str]) -> Vec<String> {
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    every_value(db)
        .await
        .into_iter()
        .filter(|(_, v)| {
            let v = v.to_lowercase();
            needles.iter().any(|n| holds(&v, n))
        })
        .map(|(place, v)| format!("{place}: {}", v.chars().take(80).collect::<String>()))
        .collect()
}

/// Whether `value` holds `needle`; a number only as a whole number, not as digits inside another
/// one (a timestamp's seconds or a time in epoch seconds may hold a weight's digits by chance).
fn holds(value: &str, needle: &str) -> bool {
    if needle.parse::<f64>().is_err() {
        return value.contains(needle);
    }
    value.match_indices(needle).any(|(i, _)| {
        let before = value[..i].chars().next_back();
        let after = value[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// A member who has done a bit of everything; their token.
async fn busy_member(s: &Server, admin: &str, name: &str, words: &str, weight: f64) -> String {
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": name, "password": PASSWORD, "email": format!("{name}@example.org"), "display_name": format!("{name} display"),
                   "health_data_consent": {"version": common::CONSENT_VERSION}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    s.join(&token, "sugar").await;
    let (topic, post) = s
        .topic(
            &token,
            "sugar",
            &format!("About {words}"),
            &format!("I eat {words} every day"),
        )
        .await;
    s.reply(
        &token,
        topic,
        json!({"body": format!("More {words} please"), "reply_to": post}),
    )
    .await;
    let (st, _) = s
        .post(
            &format!("/api/v1/posts/{post}/reactions"),
            Some(admin),
            json!({"kind": "hug"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    s.post(
        &format!("/api/v1/posts/{post}/reactions"),
        Some(&token),
        json!({"kind": "heart"}),
    )
    .await;
    let (st, m) = s
        .post(
            "/api/v1/communities/sugar/topics",
            Some(&token),
            json!({"title": format!("Milestone {words}"), "body": format!("Lost weight with {words}"), "kind": "milestone",
                   "milestone": {"type": "weight_lost", "value": weight, "unit": "lb"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let (st, g) = s
        .post(
            "/api/v1/me/goals",
            Some(&token),
            json!({"title": format!("Walk with {words}"), "cadence": "daily", "confidence": 8}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let goal = g["id"].as_i64().unwrap();
    let (st, c) = s
        .post(
            &format!("/api/v1/goals/{goal}/checkins"),
            Some(&token),
            json!({"status": "partly", "note": format!("rain and {words}")}),
        )
        .await;
    assert!(st.is_success(), "{c}");
    let (st, _) = s
        .call("PUT", "/api/v1/users/helper/follow", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&token),
            Some(json!({"bio": format!("I like {words}"), "timezone": "America/Mexico_City"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // A chat message, through the real socket.
    let room = s.get("/api/v1/communities/sugar/rooms", None).await.1[0]["id"]
        .as_i64()
        .unwrap();
    let mut socket = ws::connect(s, &token).await;
    ws::send(
        &mut socket,
        json!({"op": "subscribe", "room": room, "since": null}),
    )
    .await;
    ws::next_op(&mut socket, "subscribed").await;
    ws::send(
        &mut socket,
        json!({"op": "send", "room": room, "body": format!("chat about {words}"), "nonce": "n1"}),
    )
    .await;
    ws::next_op(&mut socket, "message").await;
    token
}

both_backends!(export_holds_everything_and_no_secret, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    s.register("helper").await;
    let lucia = busy_member(&s, &admin, "lucia_q7", "zanahoria", 137.25).await;
    let other = busy_member(&s, &admin, "pedro_x3", "nopales", 41.25).await;

    let resp = s
        .client
        .get(s.url("/api/v1/me/export"))
        .bearer_auth(&lucia)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("attachment"), "{disposition}");
    let text = resp.text().await.unwrap();
    let export: Value = serde_json::from_str(&text).unwrap();
    let tables = &export["tables"];
    assert_eq!(tables["users"][0]["email"], "lucia_q7@example.org");
    assert_eq!(tables["users"][0]["timezone"], "America/Mexico_City");
    for (table, needle) in [
        ("posts.author_id", "I eat zanahoria every day"),
        ("topics.author_id", "About zanahoria"),
        ("chat_messages.author_id", "chat about zanahoria"),
        ("goals.owner_id", "Walk with zanahoria"),
        ("goal_checkins", "rain and zanahoria"),
        ("milestones.author_id", "137.25"),
        ("post_reactions.user_id", "heart"),
        ("follows.follower_id", ""),
        ("sessions.user_id", ""),
        ("memberships.user_id", "active"),
    ] {
        let list = tables[table].to_string();
        assert!(
            tables[table].is_array(),
            "{table} missing from the export: {}",
            tables
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(list.contains(needle), "{table} lacks {needle}: {list}");
    }
    // Nothing secret, and nothing of another member's.
    assert!(!text.contains("$argon2"), "a password hash leaked");
    assert!(!text.contains("token_hash") && !text.contains("csrf_token"));
    assert!(!text.contains(&lucia), "a token leaked");
    assert!(
        !text.contains("nopales"),
        "another member's words are in the export"
    );
    let (st, _) = s.get("/api/v1/me/export", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    drop(other);
});

both_backends!(deleting_an_account_leaves_nothing_of_it, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    s.join(&admin, "sugar").await;
    s.register("helper").await;
    let lucia = busy_member(&s, &admin, "lucia_q7", "zanahoria", 137.25).await;
    let pedro = busy_member(&s, &admin, "pedro_x3", "nopales", 41.25).await;
    // Someone else answered Lucia's topic: their reply must survive her leaving.
    let lucia_topic = s.get("/api/v1/communities/sugar/topics", None).await.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "About zanahoria")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    s.reply(
        &admin,
        lucia_topic,
        json!({"body": "Welcome! Carrots are great."}),
    )
    .await;

    // The password is checked; a wrong one changes nothing.
    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&lucia),
            Some(json!({"password": "not it at all", "content": "remove"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&lucia),
            Some(json!({"password": PASSWORD, "content": "shred"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!traces(&s.db, &["lucia_q7"]).await.is_empty());

    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&lucia),
            Some(json!({"password": PASSWORD, "content": "remove"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, _) = s.get("/api/v1/me", Some(&lucia)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = s
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "lucia_q7", "password": PASSWORD}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // No trace of her name, e-mail, words or health numbers in any table, index included.
    let left = traces(
        &s.db,
        &["lucia_q7", "lucia_q7@example.org", "zanahoria", "137.25"],
    )
    .await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    // The thread stays for the others, with her post as a placeholder.
    let posts = s
        .get(&format!("/api/v1/topics/{lucia_topic}/posts"), Some(&admin))
        .await
        .1;
    let items = posts["items"].as_array().unwrap();
    assert_eq!(items[0]["deleted"], true);
    assert!(
        items
            .iter()
            .any(|p| p["body"] == "Welcome! Carrots are great.")
    );
    let (_, found) = s.get("/api/v1/search?q=zanahoria", Some(&admin)).await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(0), "{found}");

    // Pedro keeps his words, as "deleted member".
    let (st, _) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&pedro),
            Some(json!({"password": PASSWORD, "content": "anonymise"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let left = traces(&s.db, &["pedro_x3", "pedro_x3@example.org", "41.25"]).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    let topics = s.get("/api/v1/communities/sugar/topics", None).await.1;
    let kept = topics["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "About nopales")
        .expect("an anonymised topic stays");
    assert!(kept["author"].is_null());
    let (_, found) = s.get("/api/v1/search?q=nopales", Some(&admin)).await;
    assert!(!found["items"].as_array().unwrap().is_empty());
});
