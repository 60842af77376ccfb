#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The public directory: public and members communities by condition, language and region, with
//! what each offers; private communities absent however they are searched for.

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn slugs(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(private_groups_never_appear, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "open-door", "public", json!({"name": "Diabétes Open Door", "language": "es", "region": "Jalisco, MX", "condition": "type-2-diabetes"})).await;
    s.community(&admin, "hidden-room", "private", json!({"name": "Hidden Diabetes Room", "language": "es", "region": "Jalisco, MX", "condition": "type-2-diabetes"})).await;
    s.community(&admin, "members-only", "members", json!({"name": "Sleeve Friends", "condition": "bariatric", "language": "en", "region": "US"})).await;

    // Anyone, with no sign-in: the private group is absent, even searched by its exact name.
    for (path, token) in [
        ("/api/v1/directory", None),
        ("/api/v1/directory?q=Hidden%20Diabetes%20Room", None),
        ("/api/v1/directory?q=hidden-room", Some(admin.as_str())),
        (
            "/api/v1/directory?language=es&region=Jalisco",
            Some(admin.as_str()),
        ),
    ] {
        let (st, page) = s.get(path, token).await;
        assert_eq!(st, StatusCode::OK, "{path}: {page}");
        let found = slugs(&page);
        assert!(
            !found.contains(&"hidden-room".to_string()),
            "{path}: {page}"
        );
        assert!(!page.to_string().contains("Hidden"), "{path}: {page}");
    }
    let (_, all) = s.get("/api/v1/directory", None).await;
    let found = slugs(&all);
    assert!(
        found.contains(&"open-door".into()) && found.contains(&"members-only".into()),
        "{all}"
    );
    let members = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "members-only")
        .unwrap();
    assert_eq!(members["visibility"], "members");
    assert_eq!(members["member_count"], 1);
});

both_backends!(search_folds_accents_and_filters, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "guadalajara", "public", json!({"name": "Diabétes Guadalajara", "language": "es-MX", "region": "Jalisco, MX", "condition": "type-2-diabetes", "condition_label": "Diabetes tipo 2"})).await;
    s.community(&admin, "delhi-bp", "public", json!({"name": "Delhi pressure club", "language": "hi", "region": "Delhi, IN", "condition": "hypertension"})).await;
    s.community(&admin, "boston-bp", "members", json!({"name": "Boston BP", "language": "en", "region": "Massachusetts, US", "condition": "hypertension"})).await;

    let (_, page) = s.get("/api/v1/directory?q=diabetes", None).await;
    assert_eq!(slugs(&page), ["guadalajara"], "{page}");
    let (_, page) = s
        .get("/api/v1/directory?q=DIABÉTES%20guadalajara", None)
        .await;
    assert_eq!(slugs(&page), ["guadalajara"], "{page}");
    let entry = &page["items"][0];
    assert_eq!(entry["language"], "es");
    assert_eq!(entry["condition_label"], "Diabetes tipo 2");
    let (_, page) = s.get("/api/v1/directory?q=hypertension", None).await;
    assert_eq!(slugs(&page), ["delhi-bp", "boston-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?language=hi", None).await;
    assert_eq!(slugs(&page), ["delhi-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?region=us", None).await;
    assert_eq!(slugs(&page), ["boston-bp"], "{page}");
    let (_, page) = s
        .get(
            "/api/v1/directory?condition=hypertension&region=delhi",
            None,
        )
        .await;
    assert_eq!(slugs(&page), ["delhi-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?q=nothing-like-this", None).await;
    assert!(slugs(&page).is_empty());

    // Keyset paging over the filtered list.
    let (_, first) = s.get("/api/v1/directory?q=bp&limit=1", None).await;
    let (_, one) = s
        .get("/api/v1/directory?condition=hypertension&limit=1", None)
        .await;
    assert_eq!(slugs(&one), ["delhi-bp"], "{one} {first}");
    let next = one["next"].as_str().expect("a next page");
    let (_, two) = s
        .get(
            &format!("/api/v1/directory?condition=hypertension&limit=1&after={next}"),
            None,
        )
        .await;
    assert_eq!(slugs(&two), ["boston-bp"], "{two}");
    assert!(two["next"].is_null(), "{two}");
    let (st, _) = s.get("/api/v1/directory?after=garbage", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Organisers set the listing with PATCH; bad values are refused by name.
    let (st, c) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&admin),
            Some(json!({"region": "Boston, US", "language": "es"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["region"], "Boston, US");
    assert_eq!(c["condition"], "hypertension");
    let (_, page) = s.get("/api/v1/directory?language=es", None).await;
    assert_eq!(slugs(&page), ["guadalajara", "boston-bp"], "{page}");
    let (st, e) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&admin),
            Some(json!({"condition": "Not A Key!", "language": "english"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e.to_string().contains("condition") && e.to_string().contains("language"),
        "{e}"
    );
    let member = s.register("plainmember").await;
    s.join(&member, "boston-bp").await;
    let (st, _) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&member),
            Some(json!({"region": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
});

both_backends!(entries_say_what_each_group_offers, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "busy", "public", json!({})).await;
    s.community(&admin, "quiet", "public", json!({})).await;
    let (_, rooms) = s.get("/api/v1/communities/busy/rooms", Some(&admin)).await;
    let room = rooms[0]["id"].as_i64().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let (st, ev) = s
        .post(
            "/api/v1/communities/busy/events",
            Some(&admin),
            json!({"room": room, "title": "Ask a nurse", "starts_at": soon, "ends_at": later}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ev}");
    let (st, m) = s.post("/api/v1/communities/busy/meetings", Some(&admin), json!({"title": "Tuesday circle", "place": "Centro de Salud", "address": "Av. Juárez 10", "first_at": soon, "repeat": "weekly", "timezone": "America/Mexico_City"})).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let (st, c) = s
        .post(
            "/api/v1/communities/busy/circles",
            Some(&admin),
            json!({"name": "Morning walkers"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let member = s.register("walker").await;
    s.join(&member, "busy").await;

    let (_, page) = s.get("/api/v1/directory", None).await;
    let items = page["items"].as_array().unwrap();
    let busy = items.iter().find(|c| c["slug"] == "busy").unwrap();
    let quiet = items.iter().find(|c| c["slug"] == "quiet").unwrap();
    assert_eq!(busy["member_count"], 2, "{busy}");
    let o = &busy["offers"];
    assert_eq!(o["forum"], true);
    assert!(o["chat_rooms"].as_i64().unwrap() >= 1, "{o}");
    assert_eq!(o["live_sessions"], 1, "{o}");
    assert_eq!(o["circles"], true, "{o}");
    assert_eq!(o["meetings"], 1, "{o}");
    assert_eq!(o["next_meeting_at"], m["next"][0], "{o} {m}");
    let q = &quiet["offers"];
    assert_eq!(
        (
            q["live_sessions"].as_i64(),
            q["circles"].as_bool(),
            q["meetings"].as_i64()
        ),
        (Some(0), Some(false), Some(0)),
        "{q}"
    );
    assert!(q.get("next_meeting_at").is_none(), "{q}");
});
