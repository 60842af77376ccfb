#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The organiser tools, the group calendar and the circle pages through the real server, as a
//! browser without JavaScript uses them — on SQLite and on PostgreSQL + Redis: schedules shown in
//! the organiser's zone, live sessions offered at two times and RSVPs from the calendar,
//! summaries after the end, announcements, circles and their privacy, refusals and CSRF.

use crate::common;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::web::{self, Page, assert_csp, browser, csrf, location, post, web_login};
use common::{PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::json;

/// A page in the member's own language.
async fn get(s: &Server, client: &reqwest::Client, path: &str) -> Page {
    web::get(s, client, path, None).await
}

/// The first capture of `pattern` in `html`.
fn capture(html: &str, pattern: &str) -> String {
    let re = regex::Regex::new(pattern).unwrap();
    re.captures(html)
        .unwrap_or_else(|| panic!("no {pattern} in:\n{html}"))[1]
        .to_owned()
}

/// A member signed in through the forms, with their client and an API token.
async fn web_member(s: &Server, username: &str, locale: &str) -> (reqwest::Client, String) {
    let client = browser();
    let form = get(s, &client, "/register").await;
    let token = csrf(&form.html);
    let done = post(
        s,
        &client,
        "/register",
        &[
            ("csrf", &token),
            ("username", username),
            ("password", PASSWORD),
            ("locale", locale),
            ("health_data_consent", common::CONSENT_VERSION),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let api = s.login(username).await;
    (client, api)
}

async fn set_zone(s: &Server, token: &str, zone: &str) {
    let (st, body) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(token),
            Some(json!({"timezone": zone})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
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

/// A group `sugar` with an organiser `orga` (web client, API token).
async fn group_with_organiser(s: &Server) -> (String, reqwest::Client, String) {
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    let (orga, orga_api) = web_member(s, "orga", "en").await;
    s.join(&orga_api, "sugar").await;
    make_organiser(s, &admin, "sugar", "orga").await;
    (admin, orga, orga_api)
}

fn fast_jobs() -> ServerOptions {
    ServerOptions {
        extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
        ..Default::default()
    }
}

both_backends!(
    organiser_schedules_a_thread_in_their_own_zone,
    |b| async move {
        let s = Server::start_with(b, fast_jobs()).await;
        let (_, orga, orga_api) = group_with_organiser(&s).await;
        set_zone(&s, &orga_api, "America/Mexico_City").await;

        let community = get(&s, &orga, "/c/sugar").await;
        assert!(community.html.contains("href=\"/organise/sugar\""));
        assert!(community.html.contains("href=\"/c/sugar/events\""));
        let overview = get(&s, &orga, "/organise/sugar").await;
        assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
        assert_csp(&overview, "/organise/sugar");
        for sub in [
            "schedules",
            "sessions",
            "announcements",
            "milestone-types",
            "circles",
        ] {
            assert!(
                overview.html.contains(&format!("/organise/sugar/{sub}")),
                "{sub}"
            );
        }

        let page = get(&s, &orga, "/organise/sugar/schedules").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains("America/Mexico_City"));
        let token = csrf(&page.html);
        // The first time is this minute in Mexico City: already a few seconds past.
        let zone = chrono_tz::America::Mexico_City;
        let now = Utc::now().with_timezone(&zone);
        let date = now.format("%Y-%m-%d").to_string();
        let time = now.format("%H:%M").to_string();
        let fields = [
            ("csrf", token.as_str()),
            ("title", "Monday check-in thread"),
            ("body", "How did your week go?"),
            ("date", &date),
            ("time", &time),
            ("timezone", "America/Mexico_City"),
            ("repeat", "daily"),
            ("until", ""),
        ];
        // Without the CSRF field: refused.
        let forged = post(&s, &orga, "/organise/sugar/schedules", &fields[1..]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let made = post(&s, &orga, "/organise/sugar/schedules", &fields).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        assert_eq!(location(&made), "/organise/sugar/schedules?saved=1");

        // The job posts the occurrence that is due; the page then shows tomorrow's, in Mexico City.
        let mut listed = String::new();
        for _ in 0..40 {
            listed = get(&s, &orga, "/organise/sugar/schedules").await.html;
            if listed.contains("See the latest topic") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(listed.contains("See the latest topic"), "{listed}");
        assert!(listed.contains("Topics made so far: 1"), "{listed}");
        let first_local = zone
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M")
                    .unwrap(),
            )
            .earliest()
            .unwrap();
        let next = first_local + chrono::Duration::days(1);
        let after = first_local + chrono::Duration::days(2);
        let shown = |t: chrono::DateTime<chrono_tz::Tz>| t.format("%b %-d, %Y, %H:%M").to_string();
        assert!(
            listed.contains(&format!("Next: {}", shown(next))),
            "{} not in {listed}",
            shown(next)
        );
        assert!(listed.contains(&shown(after)), "{listed}");
        assert!(listed.contains("Every day"));

        // Pause, then resume.
        let id = capture(&listed, r#"id="schedule-(\d+)""#);
        let token = csrf(&listed);
        let paused = post(
            &s,
            &orga,
            &format!("/organise/sugar/schedules/{id}"),
            &[("csrf", &token), ("action", "pause")],
        )
        .await;
        assert_eq!(paused.status, StatusCode::SEE_OTHER, "{}", paused.html);
        let listed = get(&s, &orga, "/organise/sugar/schedules").await.html;
        assert!(listed.contains("Paused"), "{listed}");
        assert!(listed.contains("value=\"resume\""));

        // Refusals come back as the form, in the organiser's words, with 422.
        let bad = post(
            &s,
            &orga,
            "/organise/sugar/schedules",
            &[
                ("csrf", &token),
                ("title", "Hi"),
                ("body", "x"),
                ("date", "2020-01-01"),
                ("time", "09:00"),
                ("timezone", "America/Mexico_City"),
                ("repeat", "weekly"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
        assert!(
            bad.html.contains("A title needs 5 to 200 characters."),
            "{}",
            bad.html
        );
        assert!(
            bad.html.contains("from now to 5 years ahead"),
            "{}",
            bad.html
        );
        let no_time = post(
            &s,
            &orga,
            "/organise/sugar/schedules",
            &[
                ("csrf", &token),
                ("title", "Monday check-in thread"),
                ("body", "Hello"),
                ("date", "someday"),
                ("time", ""),
                ("timezone", "America/Mexico_City"),
                ("repeat", "weekly"),
            ],
        )
        .await;
        assert_eq!(no_time.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            no_time.html.contains("value=\"Monday check-in thread\""),
            "words kept"
        );

        // Stop for good: no longer changeable.
        let stopped = post(
            &s,
            &orga,
            &format!("/organise/sugar/schedules/{id}"),
            &[("csrf", &token), ("action", "cancel")],
        )
        .await;
        assert_eq!(stopped.status, StatusCode::SEE_OTHER);
        let listed = get(&s, &orga, "/organise/sugar/schedules").await.html;
        assert!(
            !listed.contains(&format!("id=\"schedule-{id}\"")),
            "{listed}"
        );
    }
);

both_backends!(only_organisers_use_the_tools, |b| async move {
    let s = Server::start(b).await;
    let (admin, _, _) = group_with_organiser(&s).await;
    s.community(&admin, "hidden", "private", json!({})).await;
    let (member, member_api) = web_member(&s, "rosa", "es").await;
    s.join(&member_api, "sugar").await;
    let community = get(&s, &member, "/c/sugar").await;
    assert!(!community.html.contains("href=\"/organise/sugar\""));
    assert!(community.html.contains("href=\"/c/sugar/events\""));
    for path in [
        "/organise/sugar",
        "/organise/sugar/schedules",
        "/organise/sugar/sessions",
        "/organise/sugar/announcements",
        "/organise/sugar/milestone-types",
        "/organise/sugar/circles",
        "/admin/announcements",
    ] {
        let page = get(&s, &member, path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.html.contains("lang=\"es\""), "{path}: in her language");
    }
    // A member's forged post (with her own valid token) is refused too.
    let token = csrf(&community.html);
    let forged = post(
        &s,
        &member,
        "/organise/sugar/announcements",
        &[
            ("csrf", &token),
            ("title", "Free pills here"),
            ("body", "spam"),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // A private group she is not in: not found, not refused.
    let hidden = get(&s, &member, "/organise/hidden").await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // Visitors go to the login page.
    let visitor = get(&s, &browser(), "/organise/sugar").await;
    assert!(visitor.status.is_redirection(), "{}", visitor.status);
    assert!(
        location(&visitor).starts_with("/login"),
        "{}",
        location(&visitor)
    );
});

both_backends!(
    a_session_at_two_times_and_rsvp_from_the_calendar,
    |b| async move {
        let s = Server::start(b).await;
        let (_, orga, orga_api) = group_with_organiser(&s).await;
        let (member, member_api) = web_member(&s, "ben", "en").await;
        s.join(&member_api, "sugar").await;
        set_zone(&s, &member_api, "Asia/Kolkata").await;

        let page = get(&s, &orga, "/organise/sugar/sessions").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let token = csrf(&page.html);
        let room = capture(&page.html, r#"<option value="(\d+)""#);
        // Organiser in UTC: three hours from now, and again five hours from now.
        let first = Utc::now() + chrono::Duration::hours(3);
        let second = Utc::now() + chrono::Duration::hours(5);
        let (d1, t1) = (
            first.format("%Y-%m-%d").to_string(),
            first.format("%H:%M").to_string(),
        );
        let (d2, t2) = (
            second.format("%Y-%m-%d").to_string(),
            second.format("%H:%M").to_string(),
        );
        let made = post(
            &s,
            &orga,
            "/organise/sugar/sessions",
            &[
                ("csrf", &token),
                ("room", &room),
                ("title", "Evening sugar chat"),
                ("description", "Bring your questions."),
                ("date", &d1),
                ("time", &t1),
                ("minutes", "60"),
                ("also_date_1", &d2),
                ("also_time_1", &t2),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let listed = get(&s, &orga, "/organise/sugar/sessions").await.html;
        assert_eq!(listed.matches("Evening sugar chat").count(), 2, "{listed}");
        assert!(listed.contains("0 going"));

        // A half-given other time is refused, with the words kept.
        let half = post(
            &s,
            &orga,
            "/organise/sugar/sessions",
            &[
                ("csrf", &token),
                ("room", &room),
                ("title", "Morning walk chat"),
                ("date", &d1),
                ("time", &t1),
                ("minutes", "60"),
                ("also_date_1", &d2),
            ],
        )
        .await;
        assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            half.html.contains("Please give both a date and a time"),
            "{}",
            half.html
        );
        assert!(half.html.contains("value=\"Morning walk chat\""));

        // The member's calendar: in Kolkata time, both times, and a Going form.
        let kolkata = chrono_tz::Asia::Kolkata;
        let cal = get(&s, &member, "/c/sugar/events").await;
        assert_eq!(cal.status, StatusCode::OK, "{}", cal.html);
        assert_csp(&cal, "/c/sugar/events");
        assert!(cal.html.contains("Kolkata"), "{}", cal.html);
        let local_start = first.with_timezone(&kolkata).format("%H:%M").to_string();
        assert!(
            cal.html.contains(&local_start),
            "{local_start} in {}",
            cal.html
        );
        assert!(cal.html.contains("Also offered at"));
        let ids: Vec<String> = regex::Regex::new(r#"<li id="e-(\d+)">"#)
            .unwrap()
            .captures_iter(&cal.html)
            .map(|c| c[1].to_owned())
            .collect();
        assert_eq!(ids.len(), 2, "{}", cal.html);
        let token = csrf(&cal.html);
        let forged = post(
            &s,
            &member,
            &format!("/c/sugar/events/{}/rsvp", ids[0]),
            &[("going", "1")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let going = post(
            &s,
            &member,
            &format!("/c/sugar/events/{}/rsvp", ids[0]),
            &[("csrf", &token), ("going", "1")],
        )
        .await;
        assert_eq!(going.status, StatusCode::SEE_OTHER, "{}", going.html);
        assert_eq!(location(&going), format!("/c/sugar/events#e-{}", ids[0]));
        let cal = get(&s, &member, "/c/sugar/events").await.html;
        assert!(cal.contains("1 going"), "{cal}");
        assert!(cal.contains("You are going."));
        let listed = get(&s, &orga, "/organise/sugar/sessions").await.html;
        assert!(listed.contains("1 going"), "{listed}");

        // Visitors see UTC and are told so; they get no Going form.
        let visitor = get(&s, &browser(), "/c/sugar/events").await;
        assert_eq!(visitor.status, StatusCode::OK);
        assert!(visitor.html.contains("Times are in UTC"));
        assert!(visitor.html.contains(&first.format("%H:%M").to_string()));
        assert!(!visitor.html.contains("/rsvp"));

        // A summary before the end is refused.
        let early = post(
            &s,
            &orga,
            &format!("/organise/sugar/sessions/{}/summary", ids[0]),
            &[("csrf", &csrf(&listed)), ("body", "Too early")],
        )
        .await;
        assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            early.html.contains("after the session ends"),
            "{}",
            early.html
        );

        // A session running now shows in its room's chat page, then ends two seconds later.
        let start = Utc::now() - chrono::Duration::seconds(60);
        let end = Utc::now() + chrono::Duration::seconds(2);
        let (st, short) = s
            .post(
                "/api/v1/communities/sugar/events",
                Some(&orga_api),
                json!({"room": room.parse::<i64>().unwrap(), "title": "Quick hello chat",
                   "starts_at": start.to_rfc3339(), "ends_at": end.to_rfc3339()}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{short}");
        let chat = get(&s, &member, &format!("/c/sugar/chat/{room}"))
            .await
            .html;
        assert!(chat.contains("Live now: Quick hello chat until"), "{chat}");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let chat = get(&s, &member, &format!("/c/sugar/chat/{room}"))
            .await
            .html;
        assert!(!chat.contains("Live now:"));

        // After the end: the summary form makes the topic and links to it.
        let short_id = short["id"].as_i64().unwrap();
        let listed = get(&s, &orga, "/organise/sugar/sessions").await.html;
        assert!(listed.contains(&format!("summary-{short_id}")), "{listed}");
        let summary = post(
            &s,
            &orga,
            &format!("/organise/sugar/sessions/{short_id}/summary"),
            &[
                ("csrf", &csrf(&listed)),
                ("body", "We talked about walking after meals."),
            ],
        )
        .await;
        assert_eq!(summary.status, StatusCode::SEE_OTHER, "{}", summary.html);
        let topic = location(&summary);
        assert!(topic.starts_with("/t/"), "{topic}");
        let topic_page = get(&s, &member, &topic).await.html;
        assert!(topic_page.contains("walking after meals"));
        assert!(topic_page.contains("Attendance"));
        let listed = get(&s, &orga, "/organise/sugar/sessions").await.html;
        assert!(listed.contains(&format!("href=\"{topic}\"")), "{listed}");
        let twice = post(
            &s,
            &orga,
            &format!("/organise/sugar/sessions/{short_id}/summary"),
            &[("csrf", &csrf(&listed)), ("body", "Again")],
        )
        .await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(twice.html.contains("already has a summary"));

        // Cancelling takes it off the calendar.
        let cancelled = post(
            &s,
            &orga,
            &format!("/organise/sugar/sessions/{}/cancel", ids[1]),
            &[("csrf", &csrf(&listed))],
        )
        .await;
        assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
        let cal = get(&s, &member, "/c/sugar/events").await.html;
        assert!(!cal.contains(&format!("id=\"e-{}\"", ids[1])), "{cal}");
    }
);

both_backends!(announcements_are_made_and_taken_down, |b| async move {
    let s = Server::start(b).await;
    let (_, orga, _) = group_with_organiser(&s).await;
    let page = get(&s, &orga, "/organise/sugar/announcements").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let token = csrf(&page.html);
    let bad = post(
        &s,
        &orga,
        "/organise/sugar/announcements",
        &[("csrf", &token), ("title", "Hi"), ("body", "")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains("A title needs 5 to 200 characters."));
    let made = post(
        &s,
        &orga,
        "/organise/sugar/announcements",
        &[
            ("csrf", &token),
            ("title", "Picnic on Saturday"),
            ("body", "Meet at the **park** at noon."),
            ("pinned", "1"),
            ("until", ""),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let listed = get(&s, &orga, "/organise/sugar/announcements").await.html;
    assert!(listed.contains("Picnic on Saturday"));
    assert!(listed.contains("<strong>park</strong>"));
    let visitor = get(&s, &browser(), "/c/sugar").await.html;
    assert!(
        visitor.contains("Picnic on Saturday"),
        "shown above the group's page"
    );
    let id = capture(&listed, r#"id="announcement-(\d+)""#);
    let gone = post(
        &s,
        &orga,
        &format!("/organise/sugar/announcements/{id}/delete"),
        &[("csrf", &csrf(&listed))],
    )
    .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    let listed = get(&s, &orga, "/organise/sugar/announcements").await.html;
    assert!(!listed.contains("Picnic on Saturday"));
    assert!(
        !get(&s, &browser(), "/c/sugar")
            .await
            .html
            .contains("Picnic on Saturday")
    );

    // Site-wide: for site admins only.
    let organiser_site = get(&s, &orga, "/admin/announcements").await;
    assert_eq!(organiser_site.status, StatusCode::FORBIDDEN);
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "boss",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let boss = web_login(&s, "boss").await;
    let site = get(&s, &boss, "/admin/announcements").await;
    assert_eq!(site.status, StatusCode::OK, "{}", site.html);
    let made = post(
        &s,
        &boss,
        "/admin/announcements",
        &[
            ("csrf", &csrf(&site.html)),
            ("title", "Server upgrade tonight"),
            ("body", "We will be back in ten minutes."),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    assert!(
        get(&s, &browser(), "/")
            .await
            .html
            .contains("Server upgrade tonight")
    );
    let listed = get(&s, &boss, "/admin/announcements").await.html;
    let id = capture(&listed, r#"id="announcement-(\d+)""#);
    let gone = post(
        &s,
        &boss,
        &format!("/admin/announcements/{id}/delete"),
        &[("csrf", &csrf(&listed))],
    )
    .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(
        !get(&s, &browser(), "/")
            .await
            .html
            .contains("Server upgrade tonight")
    );
});

both_backends!(
    milestone_types_are_added_renamed_and_retired,
    |b| async move {
        let s = Server::start(b).await;
        let (_, orga, _) = group_with_organiser(&s).await;
        let page = get(&s, &orga, "/organise/sugar/milestone-types").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let token = csrf(&page.html);
        let made = post(
            &s,
            &orga,
            "/organise/sugar/milestone-types",
            &[
                ("csrf", &token),
                ("key", "steps_walked"),
                ("label", "Steps walked"),
                ("unit", "steps"),
                ("category", "non_scale"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let again = post(
            &s,
            &orga,
            "/organise/sugar/milestone-types",
            &[
                ("csrf", &token),
                ("key", "steps_walked"),
                ("label", "Steps"),
            ],
        )
        .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            again
                .html
                .contains("already has a type with that short code")
        );
        let renamed = post(
            &s,
            &orga,
            "/organise/sugar/milestone-types/steps_walked",
            &[
                ("csrf", &token),
                ("label", "Daily steps"),
                ("unit", "k steps"),
                ("action", "save"),
            ],
        )
        .await;
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.html);
        let listed = get(&s, &orga, "/organise/sugar/milestone-types").await.html;
        assert!(listed.contains("Daily steps"));
        assert!(listed.contains("value=\"k steps\""));
        let retired = post(
            &s,
            &orga,
            "/organise/sugar/milestone-types/steps_walked",
            &[("csrf", &token), ("action", "retire")],
        )
        .await;
        assert_eq!(retired.status, StatusCode::SEE_OTHER);
        let listed = get(&s, &orga, "/organise/sugar/milestone-types").await.html;
        assert!(!listed.contains("Daily steps"));
    }
);

both_backends!(circles_are_made_filled_and_private, |b| async move {
    let s = Server::start(b).await;
    let (_, orga, _) = group_with_organiser(&s).await;
    let mut members = Vec::new();
    let mut tokens = Vec::new();
    for name in ["rosa", "ben", "outsider"] {
        let (client, api) = web_member(&s, name, "en").await;
        s.join(&api, "sugar").await;
        members.push(client);
        tokens.push(api);
    }
    let page = get(&s, &orga, "/organise/sugar/circles").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let token = csrf(&page.html);
    let too_big = post(
        &s,
        &orga,
        "/organise/sugar/circles",
        &[
            ("csrf", &token),
            ("name", "Big group"),
            ("capacity", "20"),
            ("weekday", ""),
        ],
    )
    .await;
    assert_eq!(too_big.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_big.html.contains("A circle has 6 to 12 people"));
    let made = post(
        &s,
        &orga,
        "/organise/sugar/circles",
        &[
            ("csrf", &token),
            ("name", "Tuesday walkers"),
            ("capacity", "8"),
            ("weekday", "tuesday"),
            ("time", "18:30"),
            ("timezone", "America/Mexico_City"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let listed = get(&s, &orga, "/organise/sugar/circles").await.html;
    assert!(
        listed.contains("Meets every Tuesday at 18:30 (Mexico City)"),
        "{listed}"
    );
    let id = capture(&listed, r#"id="circle-(\d+)""#);
    let add = |who: &'static str, role: &'static str| {
        let (s, orga, token, id) = (&s, &orga, token.clone(), id.clone());
        async move {
            post(
                s,
                orga,
                &format!("/organise/sugar/circles/{id}/members"),
                &[("csrf", &token), ("username", who), ("role", role)],
            )
            .await
        }
    };
    assert_eq!(add("rosa", "leader").await.status, StatusCode::SEE_OTHER);
    assert_eq!(add("ben", "member").await.status, StatusCode::SEE_OTHER);
    let nobody = add("nobody_here", "member").await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nobody
            .html
            .contains("We could not find anyone with that username.")
    );
    let listed = get(&s, &orga, "/organise/sugar/circles").await.html;
    assert!(listed.contains("2 of 8 places taken"), "{listed}");
    assert!(listed.contains("@rosa"));

    // Ben shares one goal with the circle and keeps another to himself.
    let circle_id: i64 = id.parse().unwrap();
    for body in [
        json!({"title": "Walk after dinner", "cadence": "daily", "share_with_circle": circle_id}),
        json!({"title": "Secret sleep goal", "cadence": "daily"}),
    ] {
        let (st, goal) = s.post("/api/v1/me/goals", Some(&tokens[1]), body).await;
        assert_eq!(st, StatusCode::CREATED, "{goal}");
    }
    // His alert points at the circle's page.
    let alerts = get(&s, &members[1], "/notifications").await.html;
    assert!(
        alerts.contains(&format!("href=\"/circles/{id}\"")),
        "{alerts}"
    );

    // Ben, a member: who is in it, the leader badged, the next meeting, the private room.
    let ben = get(&s, &members[1], &format!("/circles/{id}")).await;
    assert_eq!(ben.status, StatusCode::OK, "{}", ben.html);
    assert_csp(&ben, "/circles/{id}");
    assert!(ben.html.contains("Tuesday walkers"));
    assert!(
        ben.html.contains("<span class=\"tag\">Leader</span>"),
        "{}",
        ben.html
    );
    assert!(ben.html.contains("Next meeting:"));
    let room = capture(&ben.html, r#"href="/c/sugar/chat/(\d+)""#);
    assert_eq!(
        get(&s, &members[1], &format!("/c/sugar/chat/{room}"))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        !ben.html.contains("For the next meeting"),
        "the agenda is for leaders"
    );
    assert!(ben.html.contains("Walk after dinner"));
    assert!(
        !ben.html.contains("Secret sleep goal"),
        "private goals stay private"
    );
    // Rosa, the leader, gets the agenda: the shared goal, not checked in yet.
    let rosa = get(&s, &members[0], &format!("/circles/{id}")).await.html;
    assert!(rosa.contains("For the next meeting"), "{rosa}");
    assert_eq!(
        rosa.matches("Walk after dinner").count(),
        2,
        "goals and agenda: {rosa}"
    );
    assert!(rosa.contains("No check-in yet"));
    assert!(!rosa.contains("Secret sleep goal"));
    // Someone not in it: not found, and the room stays hidden.
    let outsider = get(&s, &members[2], &format!("/circles/{id}")).await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&s, &members[2], &format!("/c/sugar/chat/{room}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        get(&s, &browser(), &format!("/circles/{id}"))
            .await
            .status
            .is_redirection()
    );

    // Taken out: the circle is gone for him.
    let removed = post(
        &s,
        &orga,
        &format!("/organise/sugar/circles/{id}/remove"),
        &[("csrf", &token), ("username", "ben")],
    )
    .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&s, &members[1], &format!("/circles/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // CSRF is required here too.
    let forged = post(
        &s,
        &orga,
        &format!("/organise/sugar/circles/{id}/remove"),
        &[("username", "rosa")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
});

/// The directory's slugs for a query string.
async fn directory_slugs(s: &Server, query: &str) -> Vec<String> {
    let (st, page) = s.get(&format!("/api/v1/directory?{query}"), None).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(group_details_make_the_group_findable, |b| async move {
    let s = Server::start(b).await;
    // A group started from /admin with its condition, language and area is found by each.
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "create-user",
        "--username",
        "siteadmin",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}{err}");
    let admin = web_login(&s, "siteadmin").await;
    let page = get(&s, &admin, "/admin").await;
    assert!(
        page.html
            .contains(r#"<select id="condition" name="condition">"#)
    );
    let made = post(
        &s,
        &admin,
        "/admin/communities",
        &[
            ("csrf", csrf(&page.html).as_str()),
            ("slug", "presion-gdl"),
            ("name", "Presión alta Guadalajara"),
            ("description", "Nos vemos los martes"),
            ("visibility", "public"),
            ("condition", "hypertension"),
            ("condition_label", ""),
            ("language", "es"),
            ("region", "Jalisco, MX"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    assert_eq!(
        directory_slugs(&s, "language=es&region=jalisco&condition=hypertension").await,
        vec!["presion-gdl"]
    );
    assert!(directory_slugs(&s, "language=hi").await.is_empty());
    // An empty label takes the condition's name in the admin's language, not the key.
    let (_, c) = s.get("/api/v1/communities/presion-gdl", None).await;
    assert_eq!(c["condition_label"], "High blood pressure", "{c}");

    // A group made through the API with nothing set: its organiser sets the details, in Spanish.
    let api_admin = s.login("siteadmin").await;
    s.community(&api_admin, "azucar", "members", json!({}))
        .await;
    let (orga, orga_api) = web_member(&s, "orga", "es").await;
    s.join(&orga_api, "azucar").await;
    make_organiser(&s, &api_admin, "azucar", "orga").await;
    let tools = get(&s, &orga, "/organise/azucar").await;
    assert!(tools.html.contains(r#"href="/organise/azucar/details""#));
    let form = get(&s, &orga, "/organise/azucar/details").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("Datos del grupo"), "{}", form.html);
    assert!(form.html.contains(">Diabetes tipo 2</option>"));
    let token = csrf(&form.html);
    let refused = post(
        &s,
        &orga,
        "/organise/azucar/details",
        &[
            ("csrf", token.as_str()),
            ("name", "Az"),
            ("description", ""),
            ("condition", "type-2-diabetes"),
            ("condition_label", ""),
            ("language", "es"),
            ("region", "Oaxaca"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .html
            .contains("Ponle al grupo un nombre de 3 a 80 caracteres."),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains(r#"value="Oaxaca""#),
        "what was typed is kept"
    );
    let saved = post(
        &s,
        &orga,
        "/organise/azucar/details",
        &[
            ("csrf", token.as_str()),
            ("name", "Azúcar en Oaxaca"),
            ("description", "Apoyo entre pares"),
            ("condition", "type-2-diabetes"),
            ("condition_label", ""),
            ("language", "es"),
            ("region", "Oaxaca, MX"),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    assert_eq!(location(&saved), "/organise/azucar/details?saved=1");
    assert_eq!(
        directory_slugs(&s, "condition=type-2-diabetes&region=oaxaca").await,
        vec!["azucar"]
    );
    let (_, c) = s.get("/api/v1/communities/azucar", Some(&orga_api)).await;
    assert_eq!(c["condition_label"], "Diabetes tipo 2", "{c}");
    // The directory page offers the condition filter, and it finds the group.
    let found = get(&s, &orga, "/groups?condition=type-2-diabetes&language=es").await;
    assert!(
        found
            .html
            .contains(r#"<select id="d-condition" name="condition">"#)
    );
    assert!(found.html.contains("Azúcar en Oaxaca"), "{}", found.html);
    // Members who do not organise the group get no form.
    let (member, member_api) = web_member(&s, "ana", "es").await;
    s.join(&member_api, "azucar").await;
    let page = get(&s, &member, "/organise/azucar/details").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
});
