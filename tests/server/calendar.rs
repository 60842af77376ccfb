#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Organiser tools on a calendar through the real server: themed threads on a schedule (exactly
//! once with two nodes and a restart, DST through `upcoming`), live sessions (RSVPs, reminders,
//! the room showing a running session, summaries) and announcements — on SQLite and on
//! PostgreSQL + Redis.

use crate::common;

use std::time::Duration;

use common::{Server, ServerOptions, ws};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A server whose timed jobs run every second.
fn fast_jobs() -> ServerOptions {
    ServerOptions {
        extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
        ..ServerOptions::default()
    }
}

/// RFC 3339 for `secs` seconds from now.
fn from_now(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A community with `orga` as an organiser and `member` as a plain member; private communities
/// let them in with invitations.
async fn setup(s: &Server, admin: &str, slug: &str, visibility: &str, people: &[&str]) {
    s.community(admin, slug, visibility, json!({})).await;
    for who in people {
        let token = s.login(who).await;
        if visibility == "private" {
            s.join_invited(admin, &token, slug).await;
        } else {
            s.join(&token, slug).await;
        }
    }
}

async fn make_organiser(s: &Server, admin: &str, slug: &str, who: &str) {
    let (st, body) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/organiser/{who}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
}

/// Topics in the community titled `title`.
async fn topics_titled(s: &Server, token: &str, slug: &str, title: &str) -> Vec<Value> {
    let (st, page) = s
        .get(&format!("/api/v1/communities/{slug}/topics"), Some(token))
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["title"] == title)
        .cloned()
        .collect()
}

both_backends!(
    themed_thread_posted_once_across_two_nodes_and_a_restart,
    |b| async move {
        let s = Server::start_with(b, fast_jobs()).await;
        let mut second = Server::start_on(s.db.clone(), fast_jobs()).await;
        let admin = s.admin().await;
        let orga = s.register("orga").await;
        setup(&s, &admin, "themes", "public", &["orga"]).await;
        make_organiser(&s, &admin, "themes", "orga").await;

        let first_at = from_now(2);
        let first = chrono::DateTime::parse_from_rfc3339(&first_at).unwrap();
        // A paused schedule posts nothing, and resuming skips what fell while it was paused.
        let (_, paused) = s
            .post(
                "/api/v1/communities/themes/schedules",
                Some(&orga),
                json!({"title": "Paused theme", "body": "Not yet", "first_at": first_at,
                       "repeat": "daily", "timezone": "UTC"}),
            )
            .await;
        let paused_id = paused["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/schedules/{paused_id}"),
                Some(&orga),
                Some(json!({"paused": true})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        // Several schedules due at once keep both nodes' job rounds busy together; half are
        // one-offs.
        let mut one_off = 0;
        for i in 0..8 {
            let repeat = if i % 2 == 0 { "weekly" } else { "none" };
            let (st, other) = s
                .post(
                    "/api/v1/communities/themes/schedules",
                    Some(&orga),
                    json!({"title": format!("Theme number {i}"), "body": "Tell us", "first_at": first_at,
                           "repeat": repeat, "timezone": "Asia/Kolkata"}),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{other}");
            if repeat == "none" {
                one_off = other["id"].as_i64().unwrap();
            }
        }
        let (st, schedule) = s
            .post(
                "/api/v1/communities/themes/schedules",
                Some(&orga),
                json!({"title": "Non-scale victory Friday", "body": "What went **well** this week?",
                   "first_at": first_at, "repeat": "daily", "timezone": "America/Mexico_City"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{schedule}");
        assert_eq!(schedule["state"], "active");
        assert_eq!(schedule["upcoming"].as_array().unwrap().len(), 5);
        assert_eq!(schedule["topics"], json!([]));
        let id = schedule["id"].as_i64().unwrap();

        // Both nodes run the job every second; the topic appears once.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if !topics_titled(&s, &orga, "themes", "Non-scale victory Friday")
                .await
                .is_empty()
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the scheduled topic never appeared"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let found = topics_titled(&s, &orga, "themes", "Non-scale victory Friday").await;
        assert_eq!(found.len(), 1, "exactly one topic: {found:?}");
        let topic = &found[0];
        assert_eq!(topic["kind"], "themed");
        assert_eq!(topic["author"]["username"], "orga");
        let topic_id = topic["id"].as_i64().unwrap();
        let (_, posts) = s
            .get(&format!("/api/v1/topics/{topic_id}/posts"), None)
            .await;
        assert!(
            posts["items"][0]["body_html"]
                .as_str()
                .unwrap()
                .contains("<strong>well</strong>"),
            "{posts}"
        );
        // Search finds it like any topic.
        let (_, hits) = s.get("/api/v1/search?q=victory", None).await;
        assert!(hits.to_string().contains("Non-scale victory"), "{hits}");

        // Stop one node, start it again; a few more job rounds change nothing.
        second.terminate();
        let _third = Server::start_on(s.db.clone(), fast_jobs()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let found = topics_titled(&s, &orga, "themes", "Non-scale victory Friday").await;
        assert_eq!(found.len(), 1, "still exactly one topic: {found:?}");
        for i in 0..8 {
            let title = format!("Theme number {i}");
            assert_eq!(
                topics_titled(&s, &orga, "themes", &title).await.len(),
                1,
                "{title}"
            );
        }
        let (_, finished) = s
            .get(&format!("/api/v1/schedules/{one_off}"), Some(&orga))
            .await;
        assert_eq!(finished["state"], "finished", "{finished}");
        assert_eq!(finished["next_at"], Value::Null);
        assert_eq!(finished["topics"].as_array().unwrap().len(), 1);
        assert!(
            topics_titled(&s, &orga, "themes", "Paused theme")
                .await
                .is_empty()
        );
        let (_, resumed) = s
            .call(
                "PATCH",
                &format!("/api/v1/schedules/{paused_id}"),
                Some(&orga),
                Some(json!({"paused": false})),
            )
            .await;
        assert_eq!(resumed["state"], "active");
        let resumed_next =
            chrono::DateTime::parse_from_rfc3339(resumed["next_at"].as_str().unwrap()).unwrap();
        assert_eq!(resumed_next - first, chrono::Duration::days(1), "{resumed}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            topics_titled(&s, &orga, "themes", "Paused theme")
                .await
                .is_empty()
        );

        let (st, schedule) = s.get(&format!("/api/v1/schedules/{id}"), Some(&orga)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            schedule["topics"].as_array().unwrap().len(),
            1,
            "{schedule}"
        );
        assert_eq!(schedule["topics"][0]["topic_id"], topic_id);
        // The next one is a day after the first, at the same local time.
        let next =
            chrono::DateTime::parse_from_rfc3339(schedule["next_at"].as_str().unwrap()).unwrap();
        assert_eq!(next - first, chrono::Duration::days(1));
    }
);

both_backends!(
    upcoming_times_follow_local_time_across_dst,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.register("orga").await;
        setup(&s, &admin, "dst", "members", &["orga"]).await;
        make_organiser(&s, &admin, "dst", "orga").await;
        let orga = s.login("orga").await;
        let schedule = |first_at: &str, repeat: &str, tz: &str| {
            json!({"title": "Weekly check-in", "body": "How are you doing?", "first_at": first_at,
               "repeat": repeat, "timezone": tz})
        };
        // Friday 5 March 2027, 09:00 in New York (EST); clocks go forward on 14 March.
        let (st, ny) = s
            .post(
                "/api/v1/communities/dst/schedules",
                Some(&orga),
                schedule("2027-03-05T09:00:00-05:00", "weekly", "America/New_York"),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{ny}");
        assert_eq!(ny["first_at"], "2027-03-05T14:00:00.000Z");
        assert_eq!(ny["next_at"], "2027-03-05T14:00:00.000Z");
        assert_eq!(
            ny["upcoming"],
            json!([
                "2027-03-05T14:00:00.000Z",
                "2027-03-12T14:00:00.000Z",
                "2027-03-19T13:00:00.000Z",
                "2027-03-26T13:00:00.000Z",
                "2027-04-02T13:00:00.000Z"
            ])
        );
        // Friday 5 November 2027, 09:00 EDT; clocks go back on 7 November.
        let (_, autumn) = s
            .post(
                "/api/v1/communities/dst/schedules",
                Some(&orga),
                schedule("2027-11-05T13:00:00Z", "weekly", "America/New_York"),
            )
            .await;
        assert_eq!(autumn["upcoming"][0], "2027-11-05T13:00:00.000Z");
        assert_eq!(autumn["upcoming"][1], "2027-11-12T14:00:00.000Z");
        // Mexico City keeps standard time all year: 15:00 UTC throughout.
        let (_, mx) = s
            .post(
                "/api/v1/communities/dst/schedules",
                Some(&orga),
                schedule("2027-03-05T15:00:00Z", "weekly", "America/Mexico_City"),
            )
            .await;
        for t in mx["upcoming"].as_array().unwrap() {
            assert!(t.as_str().unwrap().ends_with("T15:00:00.000Z"), "{mx}");
        }
        // Monthly on the 31st: the last day of shorter months.
        let (_, monthly) = s
            .post(
                "/api/v1/communities/dst/schedules",
                Some(&orga),
                schedule("2027-01-31T12:00:00Z", "monthly", "UTC"),
            )
            .await;
        assert_eq!(
            monthly["upcoming"],
            json!([
                "2027-01-31T12:00:00.000Z",
                "2027-02-28T12:00:00.000Z",
                "2027-03-31T12:00:00.000Z",
                "2027-04-30T12:00:00.000Z",
                "2027-05-31T12:00:00.000Z"
            ])
        );
        // A one-off has one occurrence; `count` limits a repeating one.
        let (_, once) = s
            .post(
                "/api/v1/communities/dst/schedules",
                Some(&orga),
                schedule("2027-01-31T12:00:00Z", "none", "UTC"),
            )
            .await;
        assert_eq!(once["upcoming"].as_array().unwrap().len(), 1);
        let mut limited = schedule("2027-01-31T12:00:00Z", "daily", "Asia/Kolkata");
        limited["count"] = json!(2);
        let (_, limited) = s
            .post("/api/v1/communities/dst/schedules", Some(&orga), limited)
            .await;
        assert_eq!(limited["upcoming"].as_array().unwrap().len(), 2);

        // Pause, resume and cancel.
        let id = ny["id"].as_i64().unwrap();
        let (st, paused) = s
            .call(
                "PATCH",
                &format!("/api/v1/schedules/{id}"),
                Some(&orga),
                Some(json!({"paused": true})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{paused}");
        assert_eq!(paused["state"], "paused");
        assert_eq!(paused["next_at"], Value::Null);
        let (_, resumed) = s
            .call(
                "PATCH",
                &format!("/api/v1/schedules/{id}"),
                Some(&orga),
                Some(json!({"paused": false, "title": "Friday check-in"})),
            )
            .await;
        assert_eq!(resumed["state"], "active");
        assert_eq!(resumed["title"], "Friday check-in");
        assert_eq!(resumed["next_at"], "2027-03-05T14:00:00.000Z");
        let (_, list) = s
            .get("/api/v1/communities/dst/schedules", Some(&orga))
            .await;
        assert_eq!(list.as_array().unwrap().len(), 6);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/schedules/{id}"),
                Some(&orga),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, cancelled) = s.get(&format!("/api/v1/schedules/{id}"), Some(&orga)).await;
        assert_eq!(cancelled["state"], "cancelled");
        assert_eq!(cancelled["upcoming"], json!([]));
        let (_, list) = s
            .get("/api/v1/communities/dst/schedules", Some(&orga))
            .await;
        assert_eq!(
            list.as_array().unwrap().len(),
            5,
            "cancelled ones leave the list"
        );
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/schedules/{id}"),
                Some(&orga),
                Some(json!({"paused": false})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
    }
);

both_backends!(
    schedules_refuse_bad_input_and_non_organisers,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        for who in ["orga", "member", "outsider"] {
            s.register(who).await;
        }
        setup(&s, &admin, "open", "public", &["orga", "member"]).await;
        setup(&s, &admin, "hidden", "private", &["orga", "member"]).await;
        make_organiser(&s, &admin, "open", "orga").await;
        make_organiser(&s, &admin, "hidden", "orga").await;
        let orga = s.login("orga").await;
        let member = s.login("member").await;
        let outsider = s.login("outsider").await;
        let good = json!({"title": "Sunday reflections", "body": "Share one thing", "first_at": from_now(3600),
                      "repeat": "weekly", "timezone": "Asia/Kolkata"});
        let with = |k: &str, v: Value| {
            let mut body = good.clone();
            body[k] = v;
            body
        };
        for (field, body) in [
            ("timezone", with("timezone", json!("Mars/Olympus"))),
            ("repeat", with("repeat", json!("fortnightly"))),
            ("first_at", with("first_at", json!("next friday"))),
            ("first_at", with("first_at", json!("2020-01-01T09:00:00Z"))),
            ("title", with("title", json!("Hi"))),
            ("body", with("body", json!("   "))),
            ("count", with("count", json!(0))),
            ("ends_at", with("ends_at", json!("2020-01-01T09:00:00Z"))),
        ] {
            let (st, err) = s
                .post("/api/v1/communities/open/schedules", Some(&orga), body)
                .await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
            assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
        }
        let (st, _) = s
            .post(
                "/api/v1/communities/open/schedules",
                Some(&member),
                good.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .post("/api/v1/communities/open/schedules", None, good.clone())
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, _) = s
            .get("/api/v1/communities/open/schedules", Some(&member))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        // A private community's schedules do not exist for outsiders.
        let (st, created) = s
            .post(
                "/api/v1/communities/hidden/schedules",
                Some(&orga),
                good.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let id = created["id"].as_i64().unwrap();
        let (st, _) = s
            .post(
                "/api/v1/communities/hidden/schedules",
                Some(&outsider),
                good.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .get(&format!("/api/v1/schedules/{id}"), Some(&outsider))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .get(&format!("/api/v1/schedules/{id}"), Some(&member))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/schedules/{id}"),
                Some(&outsider),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // Site admins organise everywhere.
        let (st, _) = s
            .get(&format!("/api/v1/schedules/{id}"), Some(&admin))
            .await;
        assert_eq!(st, StatusCode::OK);
    }
);

async fn default_room(s: &Server, token: &str, slug: &str) -> i64 {
    let (st, rooms) = s
        .get(&format!("/api/v1/communities/{slug}/rooms"), Some(token))
        .await;
    assert_eq!(st, StatusCode::OK, "{rooms}");
    rooms[0]["id"].as_i64().unwrap()
}

both_backends!(
    live_sessions_offered_at_several_times_with_rsvps,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        for who in ["orga", "member", "outsider"] {
            s.register(who).await;
        }
        setup(&s, &admin, "evenings", "members", &["orga", "member"]).await;
        setup(&s, &admin, "other", "public", &[]).await;
        setup(&s, &admin, "secret", "private", &["orga", "member"]).await;
        make_organiser(&s, &admin, "evenings", "orga").await;
        make_organiser(&s, &admin, "secret", "orga").await;
        let orga = s.login("orga").await;
        let member = s.login("member").await;
        let outsider = s.login("outsider").await;
        let room = default_room(&s, &orga, "evenings").await;
        let foreign_room = default_room(&s, &admin, "other").await;

        let (st, event) = s
        .post(
            "/api/v1/communities/evenings/events",
            Some(&orga),
            json!({"room": room, "title": "Ask a dietitian", "description": "Bring your questions",
                   "starts_at": from_now(2 * 3600), "ends_at": from_now(3 * 3600),
                   "also_at": [{"starts_at": from_now(9 * 3600), "ends_at": from_now(10 * 3600)},
                               {"starts_at": from_now(5 * 3600), "ends_at": from_now(6 * 3600)}]}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{event}");
        let id = event["id"].as_i64().unwrap();
        assert_eq!(event["series"], id);
        assert_eq!(event["status"], "upcoming");
        assert_eq!(event["room"], room);
        assert_eq!(event["going"], 0);
        assert_eq!(event["my_rsvp"], Value::Null);
        let times = event["times"].as_array().unwrap();
        assert_eq!(times.len(), 3, "{event}");
        assert!(times[0]["starts_at"].as_str() < times[1]["starts_at"].as_str());
        assert!(times[1]["starts_at"].as_str() < times[2]["starts_at"].as_str());
        let (_, list) = s
            .get("/api/v1/communities/evenings/events", Some(&member))
            .await;
        let listed = list.as_array().unwrap();
        assert_eq!(listed.len(), 3, "{list}");
        assert!(listed.iter().all(|e| e["series"] == id));
        assert_eq!(listed[0]["id"], id, "earliest first");

        // Refusals.
        let base = json!({"room": room, "title": "Evening chat", "starts_at": from_now(3600), "ends_at": from_now(7200)});
        let with = |k: &str, v: Value| {
            let mut body = base.clone();
            body[k] = v;
            body
        };
        for (field, body) in [
            ("ends_at", with("ends_at", json!(from_now(1800)))),
            ("ends_at", with("ends_at", json!(from_now(14 * 3600)))),
            ("room", with("room", json!(foreign_room))),
            ("starts_at", with("starts_at", json!("tonight"))),
            (
                "also_at.0.ends_at",
                with(
                    "also_at",
                    json!([{"starts_at": from_now(7200), "ends_at": from_now(3600)}]),
                ),
            ),
        ] {
            let (st, err) = s
                .post("/api/v1/communities/evenings/events", Some(&orga), body)
                .await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {err}");
            assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
        }
        let (st, _) = s
            .post(
                "/api/v1/communities/evenings/events",
                Some(&member),
                base.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // RSVPs: counts and the caller's own answer.
        let rsvp = |token: &str, going: bool| {
            let token = token.to_string();
            let s = &s;
            async move {
                s.post(
                    &format!("/api/v1/events/{id}/rsvp"),
                    Some(&token),
                    json!({"going": going}),
                )
                .await
            }
        };
        let (st, e) = rsvp(&member, true).await;
        assert_eq!(st, StatusCode::OK, "{e}");
        assert_eq!(
            (e["going"].clone(), e["my_rsvp"].clone()),
            (json!(1), json!(true))
        );
        let (_, e) = rsvp(&orga, true).await;
        assert_eq!(e["going"], 2);
        let (_, e) = rsvp(&member, true).await;
        assert_eq!(e["going"], 2, "saying yes twice counts once");
        let (_, e) = rsvp(&member, false).await;
        assert_eq!(
            (e["going"].clone(), e["my_rsvp"].clone()),
            (json!(1), json!(false))
        );
        let (_, mine) = s.get("/api/v1/me/events", Some(&member)).await;
        assert_eq!(mine, json!([]));
        rsvp(&member, true).await;
        let (_, mine) = s.get("/api/v1/me/events", Some(&member)).await;
        assert_eq!(mine.as_array().unwrap().len(), 1);
        assert_eq!(mine[0]["id"], id);
        let (_, seen) = s.get(&format!("/api/v1/events/{id}"), Some(&orga)).await;
        assert_eq!(
            (seen["going"].clone(), seen["my_rsvp"].clone()),
            (json!(2), json!(true))
        );

        // Visitors of a members-only community see its sessions as they see topic titles: no
        // description, and no RSVP.
        let (st, list) = s
            .get("/api/v1/communities/evenings/events", Some(&outsider))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list[0]["title"], "Ask a dietitian");
        assert_eq!(list[0]["description"], "", "{list}");
        let (st, seen) = s.get(&format!("/api/v1/events/{id}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(seen["description"], "");
        let (_, seen) = s.get(&format!("/api/v1/events/{id}"), Some(&member)).await;
        assert_eq!(seen["description"], "Bring your questions");
        let (st, _) = rsvp(&outsider, true).await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // A private community's sessions do not exist for outsiders.
        let secret_room = default_room(&s, &orga, "secret").await;
        let (st, hidden) = s
        .post(
            "/api/v1/communities/secret/events",
            Some(&orga),
            json!({"room": secret_room, "title": "Private circle", "starts_at": from_now(3600), "ends_at": from_now(7200)}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{hidden}");
        let hidden_id = hidden["id"].as_i64().unwrap();
        for path in [
            "/api/v1/communities/secret/events".to_string(),
            format!("/api/v1/events/{hidden_id}"),
        ] {
            let (st, _) = s.get(&path, Some(&outsider)).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
            let (st, _) = s.get(&path, None).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        }
        let (st, _) = s
            .post(
                &format!("/api/v1/events/{hidden_id}/rsvp"),
                Some(&outsider),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Changing and cancelling: those going hear about a cancellation.
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/events/{id}"),
                Some(&member),
                Some(json!({"title": "Mine now"})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, changed) = s
            .call(
                "PATCH",
                &format!("/api/v1/events/{id}"),
                Some(&orga),
                Some(json!({"title": "Ask a dietitian (Q&A)"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{changed}");
        assert_eq!(changed["title"], "Ask a dietitian (Q&A)");
        let (st, _) = s
            .call("DELETE", &format!("/api/v1/events/{id}"), Some(&orga), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, gone) = s.get(&format!("/api/v1/events/{id}"), Some(&member)).await;
        assert_eq!(gone["status"], "cancelled");
        let (_, list) = s
            .get("/api/v1/communities/evenings/events", Some(&member))
            .await;
        assert_eq!(
            list.as_array().unwrap().len(),
            2,
            "cancelled ones leave the list"
        );
        let (_, notes) = s.get("/api/v1/notifications", Some(&member)).await;
        let cancelled: Vec<&Value> = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "event_cancelled")
            .collect();
        assert_eq!(cancelled.len(), 1, "{notes}");
        assert_eq!(cancelled[0]["subject"], json!({"type": "event", "id": id}));
        assert_eq!(cancelled[0]["url"], format!("/events/{id}"));
        let (st, _) = rsvp(&member, true).await;
        assert_eq!(st, StatusCode::CONFLICT);
        // The organiser who cancelled is not told about their own cancellation.
        let (_, notes) = s.get("/api/v1/notifications", Some(&orga)).await;
        assert!(!notes.to_string().contains("event_cancelled"), "{notes}");
    }
);

both_backends!(reminders_arrive_once_across_two_nodes, |b| async move {
    let s = Server::start_with(b, fast_jobs()).await;
    let _second = Server::start_on(s.db.clone(), fast_jobs()).await;
    let admin = s.admin().await;
    s.register("orga").await;
    s.register("member").await;
    setup(&s, &admin, "remind", "public", &["orga", "member"]).await;
    make_organiser(&s, &admin, "remind", "orga").await;
    let orga = s.login("orga").await;
    let member = s.login("member").await;
    let room = default_room(&s, &orga, "remind").await;
    let mut ids = Vec::new();
    // The hour reminder is due in 3 s; the day reminder is due in 3 s; the last starts in half
    // an hour, so both its moments passed before the member said yes: no reminder.
    for start in [3600 + 3, 24 * 3600 + 3, 1800] {
        let (st, e) = s
            .post(
                "/api/v1/communities/remind/events",
                Some(&orga),
                json!({"room": room, "title": "Morning walk chat", "starts_at": from_now(start), "ends_at": from_now(start + 3600)}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{e}");
        let id = e["id"].as_i64().unwrap();
        let (st, _) = s
            .post(
                &format!("/api/v1/events/{id}/rsvp"),
                Some(&member),
                json!({"going": true}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        ids.push(id);
    }
    let reminders = || async {
        let (_, notes) = s.get("/api/v1/notifications", Some(&member)).await;
        notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "event_reminder")
            .map(|n| n["subject"]["id"].as_i64().unwrap())
            .collect::<Vec<i64>>()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while reminders().await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reminders never came"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = reminders().await;
    got.sort_unstable();
    assert_eq!(
        got,
        vec![ids[0], ids[1]],
        "one reminder each, none for the late yes"
    );
    // Reminders name nothing: no title in the notification.
    let (_, notes) = s.get("/api/v1/notifications", Some(&member)).await;
    assert!(!notes.to_string().contains("Morning walk"), "{notes}");
});

both_backends!(
    room_shows_a_running_session_and_its_summary_follows,
    |b| async move {
        let s = Server::start_with(b, fast_jobs()).await;
        let admin = s.admin().await;
        s.register("orga").await;
        s.register("member").await;
        setup(&s, &admin, "live", "public", &["orga", "member"]).await;
        make_organiser(&s, &admin, "live", "orga").await;
        let orga = s.login("orga").await;
        let member = s.login("member").await;
        let room = default_room(&s, &orga, "live").await;

        let mut socket = ws::connect(&s, &member).await;
        ws::send(&mut socket, json!({"op": "subscribe", "room": room})).await;
        let subscribed = ws::next_op(&mut socket, "subscribed").await;
        assert_eq!(subscribed["live_session"], Value::Null);

        // Already running (the organiser is late putting it in); it ends in 6 s.
        let (st, event) = s
        .post(
            "/api/v1/communities/live/events",
            Some(&orga),
            json!({"room": room, "title": "Tuesday drop-in", "starts_at": from_now(-60), "ends_at": from_now(6)}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{event}");
        let id = event["id"].as_i64().unwrap();
        assert_eq!(event["status"], "live");
        s.post(
            &format!("/api/v1/events/{id}/rsvp"),
            Some(&member),
            json!({"going": true}),
        )
        .await;
        let frame = ws::next_op(&mut socket, "session").await;
        assert_eq!(frame["room"], room);
        assert_eq!(frame["session"]["id"], id);
        assert_eq!(frame["session"]["title"], "Tuesday drop-in");
        let (_, rooms) = s.get("/api/v1/communities/live/rooms", None).await;
        assert_eq!(rooms[0]["live_session"]["id"], id, "{rooms}");
        let (_, community) = s.get("/api/v1/communities/live", None).await;
        assert_eq!(
            community["rooms"][0]["live_session"]["id"], id,
            "{community}"
        );
        let mut late = ws::connect(&s, &orga).await;
        ws::send(&mut late, json!({"op": "subscribe", "room": room})).await;
        let subscribed = ws::next_op(&mut late, "subscribed").await;
        assert_eq!(subscribed["live_session"]["id"], id);
        // The member writes during the session (counted in the summary).
        ws::send(
            &mut socket,
            json!({"op": "send", "room": room, "body": "Hello everyone", "nonce": "n1"}),
        )
        .await;
        ws::next_op(&mut socket, "message").await;

        // A summary waits for the end.
        let (st, err) = s
            .post(
                &format!("/api/v1/events/{id}/summary"),
                Some(&orga),
                json!({"body": "We talked about walking after meals."}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{err}");

        // When it ends the room hears so, and shows nothing.
        loop {
            let frame = ws::next_op(&mut socket, "session").await;
            if frame["session"].is_null() {
                break;
            }
        }
        let (_, rooms) = s.get("/api/v1/communities/live/rooms", None).await;
        assert_eq!(rooms[0]["live_session"], Value::Null, "{rooms}");
        let (_, ended) = s.get(&format!("/api/v1/events/{id}"), None).await;
        assert_eq!(ended["status"], "ended");

        let (st, _) = s
            .post(
                &format!("/api/v1/events/{id}/summary"),
                Some(&member),
                json!({"body": "My summary"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, summarised) = s
            .post(
                &format!("/api/v1/events/{id}/summary"),
                Some(&orga),
                json!({"body": "We talked about walking after meals."}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{summarised}");
        let topic_id = summarised["summary_topic_id"].as_i64().unwrap();
        let (_, topic) = s.get(&format!("/api/v1/topics/{topic_id}"), None).await;
        assert_eq!(topic["kind"], "themed");
        assert_eq!(topic["title"], "Summary: Tuesday drop-in");
        let (_, posts) = s
            .get(&format!("/api/v1/topics/{topic_id}/posts"), None)
            .await;
        let body = posts["items"][0]["body"].as_str().unwrap();
        assert!(body.contains("walking after meals"), "{body}");
        assert!(
            body.contains("1 member said they would come; 1 member wrote in the room"),
            "{body}"
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/events/{id}/summary"),
                Some(&orga),
                json!({"body": "Again"}),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "once only");
    }
);

both_backends!(
    announcements_follow_community_visibility_and_dismissals,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        for who in ["orga", "member", "other", "outsider"] {
            s.register(who).await;
        }
        setup(&s, &admin, "pub", "public", &["orga", "member", "other"]).await;
        setup(&s, &admin, "mem", "members", &["member"]).await;
        setup(&s, &admin, "priv", "private", &["member"]).await;
        make_organiser(&s, &admin, "pub", "orga").await;
        let orga = s.login("orga").await;
        let member = s.login("member").await;
        let other = s.login("other").await;
        let outsider = s.login("outsider").await;
        let announce = |path: &str, token: &str, title: &str, extra: Value| {
            let mut body = json!({"title": title, "body": "Please **read** this"});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (path, token) = (path.to_string(), token.to_string());
            let s = &s;
            async move { s.post(&path, Some(&token), body).await }
        };

        let (st, site) = announce(
            "/api/v1/announcements",
            &admin,
            "Site maintenance",
            json!({}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{site}");
        assert_eq!(site["community"], Value::Null);
        assert!(
            site["body_html"]
                .as_str()
                .unwrap()
                .contains("<strong>read</strong>")
        );
        let (st, _) = announce("/api/v1/announcements", &orga, "Not allowed", json!({})).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "only admins announce site-wide");
        let (st, public) = announce(
            "/api/v1/communities/pub/announcements",
            &orga,
            "Welcome week",
            json!({}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{public}");
        assert_eq!(public["community"], "pub");
        let (st, _) = announce(
            "/api/v1/communities/pub/announcements",
            &member,
            "Not an organiser",
            json!({}),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = announce(
            "/api/v1/communities/priv/announcements",
            &outsider,
            "Not even visible",
            json!({}),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, members_only) = announce(
            "/api/v1/communities/mem/announcements",
            &admin,
            "Members meeting",
            json!({}),
        )
        .await;
        let (_, private) = announce(
            "/api/v1/communities/priv/announcements",
            &admin,
            "Private news",
            json!({}),
        )
        .await;
        let (_, pinned) = announce(
            "/api/v1/announcements",
            &admin,
            "Read the new rules",
            json!({"pinned": true}),
        )
        .await;
        let (st, _) = announce(
            "/api/v1/announcements",
            &admin,
            "Later on",
            json!({"starts_at": from_now(3600)}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, soon_over) = announce(
            "/api/v1/announcements",
            &admin,
            "Short notice",
            json!({"ends_at": from_now(6)}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{soon_over}");
        let (st, err) = announce(
            "/api/v1/announcements",
            &admin,
            "Already over",
            json!({"ends_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let (st, _) = announce("/api/v1/announcements", &admin, "x", json!({})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        let titles = |token: Option<&str>| {
            let token = token.map(str::to_string);
            let s = &s;
            async move {
                let (st, list) = s.get("/api/v1/announcements", token.as_deref()).await;
                assert_eq!(st, StatusCode::OK, "{list}");
                list.as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["title"].as_str().unwrap().to_string())
                    .collect::<Vec<String>>()
            }
        };
        // Pinned first, then newest; what each may read, and nothing not yet started.
        assert_eq!(
            titles(Some(&member)).await,
            [
                "Read the new rules",
                "Short notice",
                "Private news",
                "Members meeting",
                "Welcome week",
                "Site maintenance"
            ]
        );
        let everyone_else = [
            "Read the new rules",
            "Short notice",
            "Welcome week",
            "Site maintenance",
        ];
        assert_eq!(titles(None).await, everyone_else);
        assert_eq!(titles(Some(&outsider)).await, everyone_else);

        // Dismissal is per member, idempotent, and for signed-in members of what they can see.
        let site_id = site["id"].as_i64().unwrap();
        for _ in 0..2 {
            let (st, _) = s
                .call(
                    "POST",
                    &format!("/api/v1/announcements/{site_id}/dismiss"),
                    Some(&member),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::NO_CONTENT);
        }
        assert!(
            !titles(Some(&member))
                .await
                .contains(&"Site maintenance".to_string())
        );
        assert!(
            titles(Some(&other))
                .await
                .contains(&"Site maintenance".to_string())
        );
        let (st, _) = s
            .call(
                "POST",
                &format!("/api/v1/announcements/{site_id}/dismiss"),
                None,
                None,
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let private_id = private["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "POST",
                &format!("/api/v1/announcements/{private_id}/dismiss"),
                Some(&outsider),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // A community's own list shows what was dismissed, marked.
        let (_, mine) = s
            .get("/api/v1/communities/pub/announcements", Some(&member))
            .await;
        assert_eq!(mine.as_array().unwrap().len(), 1);
        let (st, _) = s
            .get("/api/v1/communities/mem/announcements", Some(&outsider))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);

        // Taking down: the community's organisers (or admins), not members.
        let public_id = public["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/announcements/{public_id}"),
                Some(&member),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/announcements/{site_id}"),
                Some(&orga),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/announcements/{public_id}"),
                Some(&orga),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert!(!titles(None).await.contains(&"Welcome week".to_string()));
        let members_only_id = members_only["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/announcements/{members_only_id}"),
                Some(&orga),
                None,
            )
            .await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "not a member of mem: it does not exist for them"
        );

        // An announcement past its end is gone.
        assert_eq!(pinned["pinned"], true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while titles(None).await.contains(&"Short notice".to_string()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{soon_over} never ended"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
);

/// The CSRF field of a page's first form.
fn csrf_field(html: &str) -> String {
    let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap();
    re.captures(html)
        .unwrap_or_else(|| panic!("no CSRF field in:\n{html}"))[1]
        .to_owned()
}

both_backends!(
    the_session_page_shows_local_times_and_takes_rsvps,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        for who in ["orga", "member", "outsider"] {
            s.register(who).await;
        }
        setup(&s, &admin, "walks", "public", &["orga", "member"]).await;
        setup(&s, &admin, "quiet", "private", &["orga"]).await;
        make_organiser(&s, &admin, "walks", "orga").await;
        make_organiser(&s, &admin, "quiet", "orga").await;
        let orga = s.login("orga").await;
        let member = s.login("member").await;
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&member),
                Some(json!({"timezone": "America/Mexico_City"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let room = default_room(&s, &orga, "walks").await;
        let (_, event) = s
        .post(
            "/api/v1/communities/walks/events",
            Some(&orga),
            json!({"room": room, "title": "Friday walk chat", "starts_at": "2027-03-05T15:00:00Z",
                   "ends_at": "2027-03-05T16:00:00Z",
                   "also_at": [{"starts_at": "2027-03-06T01:00:00Z", "ends_at": "2027-03-06T02:00:00Z"}]}),
        )
        .await;
        let id = event["id"].as_i64().unwrap();

        // The member's browser, signed in through the login form.
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = browser.get(s.url("/login")).send().await.unwrap();
        let token = csrf_field(&login.text().await.unwrap());
        let done = browser
            .post(s.url("/login"))
            .form(&[
                ("csrf", token.as_str()),
                ("username", "member"),
                ("password", common::PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let page = browser
            .get(s.url(&format!("/events/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Friday walk chat"), "{html}");
        // 15:00 UTC is 09:00 in Mexico City; the evening time falls on the same local day.
        assert!(html.contains("09:00–10:00 CST (Mexico City)"), "{html}");
        assert!(html.contains("19:00–20:00 CST (Mexico City)"), "{html}");
        assert!(html.contains("Mar 5, 2027"), "{html}");
        assert!(html.contains("I am going"), "{html}");
        let done = browser
            .post(s.url(&format!("/events/{id}/rsvp")))
            .form(&[("csrf", csrf_field(&html).as_str()), ("going", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let (_, seen) = s.get(&format!("/api/v1/events/{id}"), Some(&member)).await;
        assert_eq!(
            (seen["going"].clone(), seen["my_rsvp"].clone()),
            (json!(1), json!(true))
        );
        let html = browser
            .get(s.url(&format!("/events/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("I can no longer go"), "{html}");
        // Without the form's token the answer is refused.
        let refused = browser
            .post(s.url(&format!("/events/{id}/rsvp")))
            .form(&[("going", "0")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);

        // Visitors see a public session in UTC and are asked to log in; a private one does not exist.
        let visitor = reqwest::Client::new();
        let html = visitor
            .get(s.url(&format!("/events/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("15:00–16:00 (UTC)"), "{html}");
        assert!(!html.contains("I am going"), "{html}");
        let quiet_room = default_room(&s, &orga, "quiet").await;
        let (_, hidden) = s
        .post(
            "/api/v1/communities/quiet/events",
            Some(&orga),
            json!({"room": quiet_room, "title": "Quiet hour", "starts_at": from_now(3600), "ends_at": from_now(7200)}),
        )
        .await;
        let hidden_id = hidden["id"].as_i64().unwrap();
        let page = browser
            .get(s.url(&format!("/events/{hidden_id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        let html = page.text().await.unwrap();
        assert!(!html.contains("Quiet hour"), "{html}");
    }
);

both_backends!(
    announcements_show_above_pages_until_dismissed,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.register("member").await;
        let browser = common::web::web_login(&s, "member").await;
        // A member's page before there is any announcement: what it kept must not hide the
        // new one.
        let page = common::web::get(&s, &browser, "/search", None).await.html;
        assert!(!page.contains("/dismiss"), "{page}");
        let (st, _) = s
            .post(
                "/api/v1/announcements",
                Some(&admin),
                json!({"title": "New crisis lines added", "body": "See **Get help now**."}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let visitor = reqwest::Client::new();
        let home = common::web::get(&s, &visitor, "/", None).await.html;
        assert!(home.contains("New crisis lines added"), "{home}");
        assert!(home.contains("<strong>Get help now</strong>"), "{home}");
        assert!(
            !home.contains("/dismiss"),
            "visitors cannot dismiss: {home}"
        );

        let page = common::web::get(&s, &browser, "/search", None).await.html;
        assert!(page.contains("New crisis lines added"), "{page}");
        let re = regex::Regex::new(r#"action="(/announcements/\d+/dismiss)""#).unwrap();
        let action = re.captures(&page).expect("a dismiss form")[1].to_owned();
        let done = browser
            .post(s.url(&action))
            .form(&[("csrf", csrf_field(&page).as_str()), ("next", "/search")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(done.headers()["location"], "/search");
        let page = common::web::get(&s, &browser, "/search", None).await.html;
        assert!(!page.contains("New crisis lines added"), "{page}");
        // Others still see it.
        let home = common::web::get(&s, &visitor, "/", None).await.html;
        assert!(home.contains("New crisis lines added"));
    }
);
