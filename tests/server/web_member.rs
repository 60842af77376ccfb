#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The member's milestone and goal pages through the real server, as a browser without
//! JavaScript uses them: sharing a milestone with the number hidden, "only me" milestones,
//! the community feed and its members-only stub, following, goals from the confidence advice
//! to a check-in and a celebrated milestone, and CSRF on every form — on SQLite and on
//! PostgreSQL + Redis.

use crate::common;

use common::Server;
use common::web::{Page, assert_csp, browser, csrf, get, location, post, web_member};
use reqwest::StatusCode;
use serde_json::json;

/// The number in a `/t/{id}` redirect.
fn topic_id(p: &Page) -> i64 {
    let to = location(p);
    to.strip_prefix("/t/")
        .and_then(|r| r.split(['?', '#']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a topic address: {to:?} ({})", p.html))
}

/// The post id of the first reaction form on a topic page.
fn first_post_id(html: &str) -> String {
    let re = regex::Regex::new(r#"action="/p/(\d+)/react""#).unwrap();
    re.captures(html)
        .unwrap_or_else(|| panic!("no reaction form in:\n{html}"))[1]
        .to_owned()
}

/// A community with the given members, all joined.
async fn group(s: &Server, slug: &str, visibility: &str, members: &[&str]) {
    let admin = s.admin().await;
    s.community(&admin, slug, visibility, json!({})).await;
    for m in members {
        let token = s.login(m).await;
        s.join(&token, slug).await;
    }
}

/// Shares a milestone through the form; the answer.
async fn share(s: &Server, client: &reqwest::Client, slug: &str, fields: &[(&str, &str)]) -> Page {
    let path = format!("/c/{slug}/milestones/new");
    let form = get(s, client, &path, None).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    let token = csrf(&form.html);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    post(s, client, &path, &all).await
}

/// Starts a milestone topic through the API; its id.
async fn api_milestone(
    s: &Server,
    token: &str,
    slug: &str,
    title: &str,
    m: serde_json::Value,
) -> i64 {
    let (st, body) = s
        .post(
            &format!("/api/v1/communities/{slug}/topics"),
            Some(token),
            json!({"title": title, "body": "Small steps, every day.", "kind": "milestone", "milestone": m}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    body["topic"]["id"].as_i64().unwrap()
}

both_backends!(a_hidden_number_stays_hidden_from_others, |b| async move {
    let s = Server::start(b).await;
    let rosa = web_member(&s, "rosa", "en").await;
    let ben = web_member(&s, "ben", "en").await;
    let visitor = browser();
    group(&s, "sugar", "public", &["rosa", "ben"]).await;

    let form = get(&s, &rosa, "/c/sugar/milestones/new", None).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert_csp(&form, "/c/sugar/milestones/new");
    assert!(
        form.html.contains(r#"<option value="weight_lost""#),
        "{}",
        form.html
    );
    assert!(form.html.contains(r#"name="show" value="none" checked"#));
    assert!(form.html.contains("Health numbers are private"));
    // The community page and the feed lead members here.
    for path in ["/c/sugar", "/c/sugar/milestones"] {
        let page = get(&s, &rosa, path, None).await;
        assert!(
            page.html.contains(r#"href="/c/sugar/milestones/new""#),
            "{path}"
        );
    }

    let done = share(
        &s,
        &rosa,
        "sugar",
        &[
            ("title", "Down a belt notch"),
            ("body", "Slow and steady since March."),
            ("type", "weight_lost"),
            ("value", "137.5"),
            ("unit", "lb"),
            ("show", "none"),
            ("visibility", "community"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let id = topic_id(&done);
    let path = format!("/t/{id}");

    let own = get(&s, &rosa, &path, None).await;
    assert!(
        own.html.contains("Your number: 137.5 lb. Only you see it."),
        "{}",
        own.html
    );
    for (who, client) in [("ben", &ben), ("a visitor", &visitor)] {
        let page = get(&s, client, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{who}");
        assert!(page.html.contains("Weight lost"), "{who}: {}", page.html);
        assert!(page.html.contains("Reached on"), "{who}");
        assert!(!page.html.contains("137.5"), "{who} sees the number");
    }
    for p in ["/c/sugar/milestones", "/u/rosa"] {
        let page = get(&s, &ben, p, None).await;
        assert_eq!(page.status, StatusCode::OK, "{p}");
        assert!(
            page.html.contains("Down a belt notch"),
            "{p}: {}",
            page.html
        );
        assert!(!page.html.contains("137.5"), "{p} shows the number");
    }

    // Ben celebrates with the big button; everyone sees the count.
    let page = get(&s, &ben, &path, None).await;
    assert!(
        page.html
            .contains(r#"<button type="submit" class="celebrate" aria-pressed="false">Celebrate"#),
        "{}",
        page.html
    );
    let post_id = first_post_id(&page.html);
    let token = csrf(&page.html);
    let done = post(
        &s,
        &ben,
        &format!("/p/{post_id}/react"),
        &[
            ("csrf", &token),
            ("kind", "celebrate"),
            ("on", "1"),
            ("back", &path),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let page = get(&s, &ben, &path, None).await;
    assert!(
        page.html.contains(
            r#"aria-pressed="true">Celebrate <span aria-hidden="true">🎉</span> <span class="count">1</span></button>"#
        ),
        "{}",
        page.html
    );
    let page = get(&s, &visitor, &path, None).await;
    assert!(page.html.contains("Celebrations: 1"), "{}", page.html);

    // As a percentage, others see the share and never the numbers behind it.
    let done = share(
        &s,
        &rosa,
        "sugar",
        &[
            ("title", "A tenth of the way"),
            ("body", "One step at a time."),
            ("type", "weight_lost"),
            ("value", "18.7"),
            ("unit", "lb"),
            ("show", "percent"),
            ("baseline", "187"),
            ("visibility", "community"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let page = get(&s, &ben, &format!("/t/{}", topic_id(&done)), None).await;
    assert!(
        page.html
            .contains(r#"<span class="milestone-number">10%</span>"#),
        "{}",
        page.html
    );
    assert!(!page.html.contains("18.7") && !page.html.contains("187 lb"));
});

both_backends!(
    a_refused_milestone_comes_back_in_the_members_language,
    |b| async move {
        let s = Server::start(b).await;
        let lupe = web_member(&s, "lupe", "es").await;
        group(&s, "azucar", "public", &["lupe"]).await;
        let base = [
            ("title", "Mi primer logro"),
            ("body", "Caminé todos los días."),
            ("type", "non_scale_victory"),
            ("unit", "km"),
            ("visibility", "community"),
        ];
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[("show", "value")],
                "Para mostrar un número, escribe el número.",
            ),
            (&[("value", "mucho")], "Escribe el número solo con cifras"),
            (
                &[("achieved_on", "2999-01-01")],
                "Elige un día de hoy o anterior.",
            ),
        ];
        for (extra, message) in cases {
            let mut fields = base.to_vec();
            fields.extend_from_slice(extra);
            let back = share(&s, &lupe, "azucar", &fields).await;
            assert_eq!(
                back.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{extra:?}: {}",
                back.html
            );
            assert!(back.html.contains(message), "{extra:?}: {}", back.html);
            assert!(
                back.html.contains(r#"value="Mi primer logro""#),
                "the title is kept"
            );
            assert!(
                back.html.contains("Caminé todos los días."),
                "the message is kept"
            );
            assert!(back.html.contains(r#"value="km""#), "the unit is kept");
            assert!(
                back.html
                    .contains(r#"<option value="non_scale_victory" selected>"#),
                "the type is kept"
            );
        }
        // Nothing was posted.
        let feed = get(&s, &lupe, "/c/azucar/milestones", None).await;
        assert!(!feed.html.contains("Mi primer logro"));
        assert!(
            feed.html.contains("Todavía no hay logros aquí."),
            "{}",
            feed.html
        );
    }
);

both_backends!(
    an_only_me_milestone_is_not_found_by_anyone_else,
    |b| async move {
        let s = Server::start(b).await;
        let rosa = web_member(&s, "rosa", "en").await;
        let ben = web_member(&s, "ben", "en").await;
        let visitor = browser();
        group(&s, "sugar", "public", &["rosa", "ben"]).await;
        let done = share(
            &s,
            &rosa,
            "sugar",
            &[
                ("title", "My quiet little win"),
                ("body", "Just for me."),
                ("type", "a1c"),
                ("value", "6.8"),
                ("visibility", "private"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let path = format!("/t/{}", topic_id(&done));
        let own = get(&s, &rosa, &path, None).await;
        assert_eq!(own.status, StatusCode::OK);
        assert!(own.html.contains("Only you can see this."), "{}", own.html);
        for client in [&ben, &visitor] {
            assert_eq!(
                get(&s, client, &path, None).await.status,
                StatusCode::NOT_FOUND
            );
            for p in ["/c/sugar/milestones", "/u/rosa", "/c/sugar"] {
                let page = get(&s, client, p, None).await;
                assert!(!page.html.contains("My quiet little win"), "{p}");
            }
        }
        let feed = get(&s, &rosa, "/c/sugar/milestones", None).await;
        assert!(feed.html.contains("My quiet little win"));
    }
);

both_backends!(
    the_feed_pages_filters_and_keeps_members_only_groups_closed,
    |b| async move {
        let s = Server::start(b).await;
        let _rosa = web_member(&s, "rosa", "en").await;
        let visitor = browser();
        group(&s, "sugar", "public", &["rosa"]).await;
        group(&s, "sleeve", "members", &["rosa"]).await;
        let token = s.login("rosa").await;
        api_milestone(
            &s,
            &token,
            "sleeve",
            "Secret sleeve win",
            json!({"type": "non_scale_victory"}),
        )
        .await;
        let stub = get(&s, &visitor, "/c/sleeve/milestones", Some("es")).await;
        assert_eq!(stub.status, StatusCode::OK);
        assert!(
            stub.html
                .contains("Solo los miembros de este grupo pueden ver sus logros."),
            "{}",
            stub.html
        );
        assert!(!stub.html.contains("Secret sleeve win"));
        assert!(
            stub.html
                .contains(r#"<meta name="robots" content="noindex">"#)
        );

        for n in 1..=21 {
            api_milestone(
                &s,
                &token,
                "sugar",
                &format!("A1c step number {n:02}"),
                json!({"type": "a1c"}),
            )
            .await;
        }
        api_milestone(
            &s,
            &token,
            "sugar",
            "Climbed the stairs",
            json!({"type": "non_scale_victory"}),
        )
        .await;
        let first = get(&s, &visitor, "/c/sugar/milestones", None).await;
        assert_eq!(first.status, StatusCode::OK);
        let newest = first.html.find("Climbed the stairs").expect("newest");
        let older = first.html.find("A1c step number 21").expect("older");
        assert!(newest < older, "newest first");
        assert!(!first.html.contains("A1c step number 02"), "20 a page");
        let re = regex::Regex::new(r#"href="(/c/sugar/milestones\?after=[^"]+)""#).unwrap();
        let next = re
            .captures(&first.html)
            .expect("a link to older milestones")[1]
            .replace("&amp;", "&");
        let second = get(&s, &visitor, &next, None).await;
        assert!(
            second.html.contains("A1c step number 01"),
            "{}",
            second.html
        );
        assert!(second.html.contains("A1c step number 02"));
        assert!(!second.html.contains("Climbed the stairs"));

        let filtered = get(
            &s,
            &visitor,
            "/c/sugar/milestones?type=non_scale_victory",
            None,
        )
        .await;
        assert!(filtered.html.contains("Climbed the stairs"));
        assert!(!filtered.html.contains("A1c step number"));
        assert!(
            filtered
                .html
                .contains(r#"<strong aria-current="page">Non-scale victory</strong>"#)
        );
        assert!(
            filtered
                .html
                .contains(r#"href="/c/sugar/milestones?type=a1c""#)
        );
        // Items link to their topics.
        assert!(filtered.html.contains(r#"<a href="/t/"#));
    }
);

both_backends!(members_follow_and_unfollow_from_a_profile, |b| async move {
    let s = Server::start(b).await;
    let rosa = web_member(&s, "rosa", "en").await;
    let ben = web_member(&s, "ben", "en").await;
    let visitor = browser();
    let own = get(&s, &rosa, "/u/rosa", None).await;
    assert!(
        !own.html.contains(r#"action="/u/rosa/follow""#),
        "no follow button on your own page"
    );
    let page = get(&s, &visitor, "/u/rosa", None).await;
    assert!(
        !page.html.contains(r#"action="/u/rosa/follow""#),
        "visitors do not follow"
    );

    let page = get(&s, &ben, "/u/rosa", None).await;
    assert!(
        page.html.contains(r#"action="/u/rosa/follow""#),
        "{}",
        page.html
    );
    assert!(page.html.contains(">Follow</button>"));
    let token = csrf(&page.html);
    let refused = post(&s, &ben, "/u/rosa/follow", &[("on", "1")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let done = post(&s, &ben, "/u/rosa/follow", &[("csrf", &token), ("on", "1")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/u/rosa");
    let page = get(&s, &ben, "/u/rosa", None).await;
    assert!(
        page.html.contains(">Stop following</button>"),
        "{}",
        page.html
    );
    let ben_token = s.login("ben").await;
    let (_, following) = s.get("/api/v1/me/following", Some(&ben_token)).await;
    assert_eq!(following["items"][0]["username"], "rosa", "{following}");

    let done = post(&s, &ben, "/u/rosa/follow", &[("csrf", &token), ("on", "0")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = get(&s, &ben, "/u/rosa", None).await;
    assert!(page.html.contains(">Follow</button>"));
    let (_, following) = s.get("/api/v1/me/following", Some(&ben_token)).await;
    assert_eq!(following["items"].as_array().map(Vec::len), Some(0));
    let own_follow = post(
        &s,
        &rosa,
        "/u/rosa/follow",
        &[("csrf", &csrf(&own.html)), ("on", "1")],
    )
    .await;
    assert_eq!(own_follow.status, StatusCode::UNPROCESSABLE_ENTITY);
});

both_backends!(
    a_goal_from_the_advice_to_a_celebrated_milestone,
    |b| async move {
        let s = Server::start(b).await;
        let rosa = web_member(&s, "rosa", "en").await;
        let ben = web_member(&s, "ben", "en").await;
        group(&s, "sugar", "public", &["rosa", "ben"]).await;
        let visitor = browser();
        let away = get(&s, &visitor, "/goals", None).await;
        assert_eq!(away.status, StatusCode::SEE_OTHER);
        assert!(location(&away).starts_with("/login"));

        let page = get(&s, &rosa, "/goals", None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_csp(&page, "/goals");
        assert!(
            page.html.contains(r#"<a href="/goals">Goals</a>"#),
            "the member menu links here"
        );
        assert!(
            page.html.contains(r#"<option value="sugar">"#),
            "my groups to share with"
        );
        let token = csrf(&page.html);
        let goal = [
            ("csrf", token.as_str()),
            ("title", "Walk after dinner"),
            ("details", "Around the block"),
            ("cadence", "weekly"),
            ("times_per_period", "3"),
            ("confidence", "5"),
            ("share_with", ""),
            ("remind_at", "19:00"),
        ];
        let advice = post(&s, &rosa, "/goals", &goal).await;
        assert_eq!(
            advice.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            advice.html
        );
        assert!(
            advice
                .html
                .contains("People who are less sure do better with a smaller goal."),
            "{}",
            advice.html
        );
        assert!(
            advice
                .html
                .contains(r##"href="#g-title">Make it smaller</a>"##)
        );
        assert!(
            advice
                .html
                .contains(r#"name="confirm_confidence" value="1">Keep this goal</button>"#)
        );
        assert!(
            advice.html.contains(r#"value="Walk after dinner""#),
            "what was typed is kept"
        );
        assert!(advice.html.contains(r#"<option value="5" selected>"#));
        let mut keep = goal.to_vec();
        keep.push(("confirm_confidence", "1"));
        let done = post(&s, &rosa, "/goals", &keep).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let to = location(&done);
        let id: i64 = to
            .rsplit("#goal-")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{to}"));
        let page = get(&s, &rosa, "/goals", None).await;
        assert!(page.html.contains(&format!(r#"id="goal-{id}""#)));
        assert!(page.html.contains("3 times a week"));
        assert!(page.html.contains("Not checked in yet."));
        assert!(page.html.contains("Only you see this goal"));
        let other = get(&s, &ben, "/goals", None).await;
        assert!(
            !other.html.contains("Walk after dinner"),
            "goals are private"
        );

        let checkin = format!("/goals/{id}/checkin");
        let bad = post(
            &s,
            &rosa,
            &checkin,
            &[("csrf", &token), ("status", "maybe")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("Choose done, partly or missed."));
        let done = post(
            &s,
            &rosa,
            &checkin,
            &[
                ("csrf", &token),
                ("status", "partly"),
                ("note", "Rain on Tuesday"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert!(!location(&done).contains("replaced"));
        let page = get(&s, &rosa, &location(&done), None).await;
        assert!(
            page.html.contains("Check-in saved. Well done"),
            "{}",
            page.html
        );
        assert!(page.html.contains("This period: Partly"));
        assert!(page.html.contains("Rain on Tuesday"));
        assert!(page.html.contains("A new check-in replaces it."));
        let again = post(&s, &rosa, &checkin, &[("csrf", &token), ("status", "done")]).await;
        assert!(location(&again).contains("replaced=1"));
        let page = get(&s, &rosa, &location(&again), None).await;
        assert!(
            page.html
                .contains("It replaced your earlier check-in for this period.")
        );
        assert!(page.html.contains("This period: Done"));

        // A private goal needs a group to be shared in.
        let reach = format!("/goals/{id}/milestone");
        let nowhere = post(
            &s,
            &rosa,
            &reach,
            &[
                ("csrf", &token),
                ("community", ""),
                ("type", "non_scale_victory"),
            ],
        )
        .await;
        assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nowhere.html.contains("Choose a group to share it in."));
        let done = post(
            &s,
            &rosa,
            &reach,
            &[
                ("csrf", &token),
                ("community", "sugar"),
                ("type", "non_scale_victory"),
                ("visibility", "community"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let path = format!("/t/{}", topic_id(&done));
        let page = get(&s, &ben, &path, None).await;
        assert!(
            page.html.contains("Goal reached: Walk after dinner"),
            "{}",
            page.html
        );
        assert!(page.html.contains("Non-scale victory"));
        let post_id = first_post_id(&page.html);
        let done = post(
            &s,
            &ben,
            &format!("/p/{post_id}/react"),
            &[
                ("csrf", &csrf(&page.html)),
                ("kind", "celebrate"),
                ("on", "1"),
                ("back", &path),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        let page = get(&s, &rosa, &path, None).await;
        assert!(
            page.html.contains(
                r#"<span aria-hidden="true">🎉</span> <span class="count">1</span></button>"#
            ),
            "{}",
            page.html
        );
        let page = get(&s, &rosa, "/goals", None).await;
        assert!(page.html.contains("You reached this goal!"));
        assert!(
            page.html
                .contains(&format!(r#"<a href="{path}">See your milestone post</a>"#))
        );
        let twice = post(
            &s,
            &rosa,
            &reach,
            &[("csrf", &token), ("community", "sugar")],
        )
        .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        // In Hindi, the page speaks Hindi.
        let asha = web_member(&s, "asha", "hi").await;
        let page = get(&s, &asha, "/goals", None).await;
        assert!(page.html.contains("मेरे लक्ष्य"));
    }
);

both_backends!(every_member_form_needs_its_csrf_token, |b| async move {
    let s = Server::start(b).await;
    let rosa = web_member(&s, "rosa", "en").await;
    let _ben = web_member(&s, "ben", "en").await;
    group(&s, "sugar", "public", &["rosa"]).await;
    let token = s.login("rosa").await;
    let (_, goal) = s
        .post(
            "/api/v1/me/goals",
            Some(&token),
            json!({"title": "Drink water", "cadence": "daily", "share_with": "sugar"}),
        )
        .await;
    let id = goal["id"].as_i64().unwrap();
    let forms: [(String, Vec<(&str, &str)>); 5] = [
        (
            "/c/sugar/milestones/new".into(),
            vec![
                ("title", "No token here"),
                ("body", "Nope"),
                ("type", "a1c"),
            ],
        ),
        ("/u/ben/follow".into(), vec![("on", "1")]),
        (
            "/goals".into(),
            vec![("title", "No token goal"), ("cadence", "daily")],
        ),
        (format!("/goals/{id}/checkin"), vec![("status", "done")]),
        (
            format!("/goals/{id}/milestone"),
            vec![("community", "sugar")],
        ),
    ];
    for (path, fields) in &forms {
        let mut with_bad = fields.clone();
        with_bad.push(("csrf", "not-the-token"));
        for f in [fields.clone(), with_bad] {
            let refused = post(&s, &rosa, path, &f).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let (_, me) = s.get(&format!("/api/v1/goals/{id}"), Some(&token)).await;
    assert_eq!(me["status"], "active");
    assert!(
        me["period"]["due"].as_bool().unwrap_or(false),
        "no check-in was made: {me}"
    );
    let (_, following) = s.get("/api/v1/me/following", Some(&token)).await;
    assert_eq!(following["items"].as_array().map(Vec::len), Some(0));
});
