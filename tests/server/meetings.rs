#![allow(clippy::expect_used, clippy::unwrap_used)]
//! In-person meetings and the iCalendar feeds: organisers list them, members see the next ones
//! across daylight-saving changes, feeds parse with an iCalendar library and carry the right
//! instants, private groups' feeds stay private, and the secret feed key works without a
//! bearer token until revoked.

use crate::common;

use common::web::{browser, csrf, get, location, post};
use common::{PASSWORD, Server};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn feed(s: &Server, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

/// Parses with the `icalendar` crate after checking the RFC 5545 line rules ourselves:
/// (uid, summary, start, end) of every event.
fn events(text: &str) -> Vec<(String, String, String, String)> {
    assert!(text.ends_with("\r\n"), "CRLF line endings");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "line over 75 octets: {line:?}");
    }
    let cal: Calendar = text.parse().expect("an iCalendar library reads the feed");
    let utc = |d: Option<DatePerhapsTime>| match d {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        }
        other => panic!("not a date-time: {other:?}"),
    };
    cal.components
        .iter()
        .filter_map(|c| c.as_event())
        .map(|e| {
            assert!(e.property_value("DTSTAMP").is_some(), "DTSTAMP");
            (
                e.get_uid().expect("UID").to_owned(),
                e.get_summary().unwrap_or_default().to_owned(),
                utc(e.get_start()),
                utc(e.get_end()),
            )
        })
        .collect()
}

/// `hh:mm` UTC on the day `days` from today, as RFC 3339 (feeds and lists both write `.000Z`).
fn day(days: i64, hhmm: &str) -> String {
    let date = (chrono::Utc::now() + chrono::Duration::days(days)).date_naive();
    format!("{date}T{hhmm}:00.000Z")
}

fn meeting(first_at: &str, zone: &str) -> Value {
    json!({"title": "Martes de glucosa, presión y café", "place": "Centro de Salud San Juan; sala 2",
           "address": "Av. Juárez 10, Guadalajara", "first_at": first_at, "repeat": "weekly",
           "timezone": zone, "duration_minutes": 60,
           "notes": "Entrada sin escalones. Revisamos glucosa y presión.", "contact": "Ana, 33 1234 5678"})
}

both_backends!(
    organisers_list_meetings_and_members_see_the_next,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "tuesdays", "members", json!({})).await;
        let member = s.register("rosa").await;
        s.join(&member, "tuesdays").await;
        let outsider = s.register("stranger").await;

        // Weekly on Tuesday 10:00 New York time, starting before the change to daylight time.
        let first = "2030-03-05T10:00:00-05:00";
        let (st, e) = s
            .post(
                "/api/v1/communities/tuesdays/meetings",
                Some(&member),
                meeting(first, "America/New_York"),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
        let (st, e) = s.post("/api/v1/communities/tuesdays/meetings", Some(&admin), json!({"title": "x", "place": "", "address": "a", "first_at": "tuesday", "repeat": "hourly", "timezone": "Mars/Base"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        for f in ["title", "place", "first_at", "repeat", "timezone"] {
            assert!(e["error"]["fields"][f].is_array(), "{f}: {e}");
        }
        let (st, m) = s
            .post(
                "/api/v1/communities/tuesdays/meetings",
                Some(&admin),
                meeting(first, "America/New_York"),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{m}");
        let id = m["id"].as_i64().unwrap();
        // 10:00 local each week: 15:00 UTC before the change (2030-03-10), 14:00 after.
        assert_eq!(m["next"][0], "2030-03-05T15:00:00.000Z", "{m}");
        assert_eq!(m["next"][1], "2030-03-12T14:00:00.000Z", "{m}");
        assert_eq!(m["next"][2], "2030-03-19T14:00:00.000Z", "{m}");
        assert_eq!(m["repeat"], "weekly");

        let (st, list) = s
            .get("/api/v1/communities/tuesdays/meetings", Some(&member))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list[0]["id"], id);
        assert_eq!(
            list[0]["notes"],
            "Entrada sin escalones. Revisamos glucosa y presión."
        );
        // A members group's meetings are not shown to outsiders or visitors.
        let (st, _) = s
            .get("/api/v1/communities/tuesdays/meetings", Some(&outsider))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s.get(&format!("/api/v1/meetings/{id}"), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Update and cancel are the organisers'.
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/meetings/{id}"),
                Some(&member),
                Some(json!({"title": "Mine now"})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, m) = s
            .call(
                "PATCH",
                &format!("/api/v1/meetings/{id}"),
                Some(&admin),
                Some(json!({"repeat": "monthly"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(m["next"][1], "2030-04-05T14:00:00.000Z", "{m}");
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/meetings/{id}"),
                Some(&member),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/meetings/{id}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, list) = s
            .get("/api/v1/communities/tuesdays/meetings", Some(&member))
            .await;
        assert_eq!(list, json!([]));
        let (st, _) = s
            .post(
                &format!("/api/v1/meetings/{id}/rsvp"),
                Some(&member),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
    }
);

both_backends!(group_feed_parses_with_the_right_instants, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(
        &admin,
        "open-group",
        "public",
        json!({"name": "Grupo, abierto; de todos"}),
    )
    .await;
    s.community(&admin, "secret-group", "private", json!({}))
        .await;
    let outsider = s.register("outsider").await;
    let first = (chrono::Utc::now() + chrono::Duration::days(1))
        .with_timezone(&chrono_tz::America::Mexico_City);
    let first_at = first.format("%Y-%m-%dT%H:%M:00%:z").to_string();
    let (st, m) = s
        .post(
            "/api/v1/communities/open-group/meetings",
            Some(&admin),
            meeting(&first_at, "America/Mexico_City"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let (_, rooms) = s
        .get("/api/v1/communities/open-group/rooms", Some(&admin))
        .await;
    let room = rooms[0]["id"].as_i64().unwrap();
    let (st, ev) = s
        .post(
            "/api/v1/communities/open-group/events",
            Some(&admin),
            json!({"room": room, "title": "Pregúntale a la nutrióloga",
        "starts_at": day(40, "18:00"), "ends_at": day(40, "19:00")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ev}");
    let (st, m2) = s
        .post(
            "/api/v1/communities/secret-group/meetings",
            Some(&admin),
            meeting(&first_at, "UTC"),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{m2}");

    let (st, ctype, text) = feed(&s, "/api/v1/communities/open-group/calendar.ics", None).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(ctype, "text/calendar; charset=utf-8");
    let items = events(&text);
    let session = items
        .iter()
        .find(|e| e.1 == "Pregúntale a la nutrióloga")
        .expect("the live session");
    assert_eq!(
        (session.2.clone(), session.3.clone()),
        (day(40, "18:00"), day(40, "19:00"))
    );
    let meetings: Vec<_> = items
        .iter()
        .filter(|e| e.1 == "Martes de glucosa, presión y café")
        .collect();
    assert!(
        meetings.len() >= 10,
        "explicit weekly occurrences: {items:?}"
    );
    for (i, next) in m["next"].as_array().unwrap().iter().enumerate() {
        assert_eq!(meetings[i].2, next.as_str().unwrap(), "{items:?}");
    }
    // One hour long, each its own UID.
    let start = chrono::DateTime::parse_from_rfc3339(&meetings[0].2).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(&meetings[0].3).unwrap();
    assert_eq!((end - start).num_minutes(), 60);
    let mut uids: Vec<_> = items.iter().map(|e| e.0.clone()).collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), items.len());
    // Text is escaped: the comma and semicolon survive parsing.
    assert!(
        text.contains(
            "LOCATION:Centro de Salud San Juan\\; sala 2\\, Av. Juárez 10\\, Guadalajara"
        ),
        "{text}"
    );

    // A private group's feed is not found for outsiders or visitors.
    for token in [None, Some(outsider.as_str())] {
        let (st, _, _) = feed(&s, "/api/v1/communities/secret-group/calendar.ics", token).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, _, text) = feed(
        &s,
        "/api/v1/communities/secret-group/calendar.ics",
        Some(&admin),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!events(&text).is_empty());
});

both_backends!(
    member_feed_has_only_rsvps_and_the_key_works_until_revoked,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "club", "members", json!({})).await;
        let member = s.register("lupita").await;
        s.join(&member, "club").await;
        let (_, rooms) = s.get("/api/v1/communities/club/rooms", Some(&admin)).await;
        let room = rooms[0]["id"].as_i64().unwrap();
        let mut sessions = Vec::new();
        for (title, n) in [("Going session", 50), ("Skipped session", 51)] {
            let (start, end) = (day(n, "17:00"), day(n, "18:00"));
            let (st, ev) = s
                .post(
                    "/api/v1/communities/club/events",
                    Some(&admin),
                    json!({"room": room, "title": title, "starts_at": start, "ends_at": end}),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{ev}");
            sessions.push(ev["id"].as_i64().unwrap());
        }
        let mut meetings = Vec::new();
        for title in ["Going meeting", "Skipped meeting"] {
            // 10:00 in Mexico City (UTC-6 all year) is 16:00 UTC.
            let mut body = meeting(&day(52, "16:00"), "America/Mexico_City");
            body["title"] = json!(title);
            body["repeat"] = json!("none");
            let (st, m) = s
                .post("/api/v1/communities/club/meetings", Some(&admin), body)
                .await;
            assert_eq!(st, StatusCode::CREATED, "{m}");
            meetings.push(m["id"].as_i64().unwrap());
        }
        let (st, _) = s
            .post(
                &format!("/api/v1/events/{}/rsvp", sessions[0]),
                Some(&member),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, m) = s
            .post(
                &format!("/api/v1/meetings/{}/rsvp", meetings[0]),
                Some(&member),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{m}");
        assert_eq!(
            (m["going"].as_bool(), m["going_count"].as_i64()),
            (Some(true), Some(1))
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/meetings/{}/rsvp", meetings[1]),
                Some(&member),
                json!({"going": false}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let outsider = s.register("nosy").await;
        let (st, _) = s
            .post(
                &format!("/api/v1/meetings/{}/rsvp", meetings[0]),
                Some(&outsider),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        let (st, _, text) = feed(&s, "/api/v1/me/calendar.ics", Some(&member)).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        let items = events(&text);
        let titles: Vec<&str> = items.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(titles, ["Going session", "Going meeting"], "{items:?}");
        assert_eq!(items[0].2, day(50, "17:00"));
        assert_eq!(items[1].2, day(52, "16:00"));

        // Without a sign-in: 401; with the secret key: the same feed, until revoked.
        let (st, _, _) = feed(&s, "/api/v1/me/calendar.ics", None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, key) = s
            .post("/api/v1/me/calendar-key", Some(&member), json!({}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{key}");
        let url = key["url"].as_str().unwrap();
        let path = &url[url.find("/api/v1/").unwrap()..];
        let (st, _, by_key) = feed(&s, path, None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(events(&by_key).len(), 2);
        let (st, _, _) = feed(&s, "/api/v1/me/calendar.ics?key=not-the-key", None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, _) = s
            .call("DELETE", "/api/v1/me/calendar-key", Some(&member), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _, _) = feed(&s, path, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);

        // Leaving the group takes its items out of the feed.
        let (st, _) = s
            .post("/api/v1/communities/club/leave", Some(&member), json!({}))
            .await;
        assert!(st.is_success(), "{st}");
        let (_, _, text) = feed(&s, "/api/v1/me/calendar.ics", Some(&member)).await;
        assert!(events(&text).is_empty(), "{text}");
    }
);

both_backends!(
    organisers_add_meetings_and_members_rsvp_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "centro", "public", json!({})).await;
        let (_, me) = s.get("/api/v1/me", Some(&admin)).await;
        let name = me["username"].as_str().unwrap().to_owned();
        let orga = browser();
        let login = get(&s, &orga, "/login", None).await;
        let signed = post(
            &s,
            &orga,
            "/login",
            &[
                ("csrf", &csrf(&login.html)),
                ("username", &name),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let page = get(&s, &orga, "/c/centro/meetings", None).await;
        assert_eq!(page.status, StatusCode::OK);
        let token = csrf(&page.html);
        let form = |date: &'static str| {
            vec![
                ("title", "Martes de presión"),
                ("place", "Centro de Salud"),
                ("address", "Calle 5"),
                ("date", date),
                ("time", "10:00"),
                ("timezone", "America/Mexico_City"),
                ("repeat", "weekly"),
                ("notes", "Sin escalones"),
                ("contact", ""),
            ]
        };
        let mut fields = form("2030-06-04");
        let refused = post(&s, &orga, "/c/centro/meetings", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "CSRF required");
        let mut bad = form("not a date");
        bad.push(("csrf", &token));
        let bad = post(&s, &orga, "/c/centro/meetings", &bad).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.html.contains("Choose a date and a time."),
            "{}",
            bad.html
        );
        fields.push(("csrf", &token));
        let done = post(&s, &orga, "/c/centro/meetings", &fields).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let (_, list) = s.get("/api/v1/communities/centro/meetings", None).await;
        // 10:00 in Mexico City is 16:00 UTC.
        assert_eq!(list[0]["next"][0], "2030-06-04T16:00:00.000Z", "{list}");
        let id = list[0]["id"].as_i64().unwrap();

        // A member says they are going; a visitor sees the page but no RSVP button.
        let visitor = get(&s, &browser(), "/c/centro/meetings", Some("es")).await;
        assert!(
            visitor.html.contains("Martes de presión") && !visitor.html.contains("Voy a ir"),
            "{}",
            visitor.html
        );
        let member_token = s.register("member_web").await;
        s.join(&member_token, "centro").await;
        let member = browser();
        let login = get(&s, &member, "/login", None).await;
        post(
            &s,
            &member,
            "/login",
            &[
                ("csrf", &csrf(&login.html)),
                ("username", "member_web"),
                ("password", PASSWORD),
            ],
        )
        .await;
        let page = get(&s, &member, "/c/centro/meetings", None).await;
        assert!(
            page.html.contains("I&#39;m going") || page.html.contains("I'm going"),
            "{}",
            page.html
        );
        assert!(!page.html.contains("Cancel this meeting"));
        let going = post(
            &s,
            &member,
            &format!("/c/centro/meetings/{id}/rsvp"),
            &[("csrf", &csrf(&page.html)), ("going", "yes")],
        )
        .await;
        assert_eq!(going.status, StatusCode::SEE_OTHER);
        assert!(location(&going).ends_with(&format!("#meeting-{id}")));
        let (_, m) = s
            .get(&format!("/api/v1/meetings/{id}"), Some(&member_token))
            .await;
        assert_eq!(
            (m["going"].as_bool(), m["going_count"].as_i64()),
            (Some(true), Some(1)),
            "{m}"
        );
        let cancel = post(
            &s,
            &member,
            &format!("/c/centro/meetings/{id}/cancel"),
            &[("csrf", &csrf(&page.html))],
        )
        .await;
        assert_eq!(cancel.status, StatusCode::FORBIDDEN);

        // The member's own calendar address, from the page: it works without signing in, until stopped.
        let key_page = post(
            &s,
            &member,
            "/me/calendar-key",
            &[("csrf", &csrf(&page.html))],
        )
        .await;
        assert_eq!(key_page.status, StatusCode::OK);
        let re = regex::Regex::new(r"(/api/v1/me/calendar\.ics\?key=[A-Za-z0-9_-]+)").unwrap();
        let path = re
            .captures(&key_page.html)
            .unwrap_or_else(|| panic!("{}", key_page.html))[1]
            .to_owned();
        let (st, _, text) = feed(&s, &path, None).await;
        assert_eq!(st, StatusCode::OK);
        let items = events(&text);
        assert!(
            items.len() > 1 && items.iter().all(|e| e.1 == "Martes de presión"),
            "{text}"
        );
        assert_eq!(items[0].2, "2030-06-04T16:00:00.000Z");
        let stopped = post(
            &s,
            &member,
            "/me/calendar-key/revoke",
            &[("csrf", &csrf(&key_page.html))],
        )
        .await;
        assert_eq!(stopped.status, StatusCode::OK);
        assert!(
            stopped.html.contains("The address was stopped."),
            "{}",
            stopped.html
        );
        let (st, _, _) = feed(&s, &path, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
);
