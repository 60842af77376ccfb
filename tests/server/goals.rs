#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Goals through the real server: setting one (with the confidence advice), privacy against
//! every other role, sharing with a community, check-ins per period, the check-in reminder sent
//! once across two nodes, and a reached goal becoming a milestone post.

use crate::common;

use std::time::Duration;

use common::{Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sets a goal; its id.
async fn goal(s: &Server, token: &str, body: Value) -> i64 {
    let (st, g) = s.post("/api/v1/me/goals", Some(token), body).await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    g["id"].as_i64().expect("goal id")
}

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

/// The ids of the goals in a list answer.
fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|a| a.iter().filter_map(|g| g["id"].as_i64()).collect())
        .unwrap_or_default()
}

async fn notifications(s: &Server, token: &str) -> Vec<Value> {
    let (st, page) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

both_backends!(
    a_goal_is_set_with_kind_advice_on_confidence,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "walkers", "members", json!({})).await;
        s.community(&admin, "elsewhere", "public", json!({})).await;
        let ana = s.register("ana").await;
        s.join(&ana, "walkers").await;

        // The contract's body alone is enough: private, with the default reminder time.
        let (st, g) = s
            .post(
                "/api/v1/me/goals",
                Some(&ana),
                json!({"title": "walk 30 minutes", "cadence": "daily"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{g}");
        assert_eq!(g["share_with"], Value::Null);
        assert_eq!(g["status"], "active");
        assert_eq!(g["remind_at"], "19:00");
        assert_eq!(g["period"]["due"], true);
        assert_eq!(g["owner"]["username"], "ana");

        let cases = [
            (
                json!({"title": "walk", "cadence": "daily", "confidence": 11}),
                "confidence",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "confidence": -1}),
                "confidence",
            ),
            (json!({"title": "walk", "cadence": "yearly"}), "cadence"),
            (json!({"title": "ab", "cadence": "daily"}), "title"),
            (
                json!({"title": "walk", "cadence": "weekly", "times_per_period": 8}),
                "times_per_period",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "times_per_period": 2}),
                "times_per_period",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "remind_at": "7pm"}),
                "remind_at",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "ends_on": "2020-01-01"}),
                "ends_on",
            ),
            // A community I am not in, and one that does not exist, are refused alike.
            (
                json!({"title": "walk", "cadence": "daily", "share_with": "elsewhere"}),
                "share_with",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "share_with": "nowhere"}),
                "share_with",
            ),
            (
                json!({"title": "walk", "cadence": "daily", "share_with_circle": 999}),
                "share_with_circle",
            ),
        ];
        for (body, field) in cases {
            let (st, e) = s.post("/api/v1/me/goals", Some(&ana), body.clone()).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
            assert!(e["error"]["fields"][field].is_array(), "{body} → {e}");
        }

        // Confidence 5: the member is encouraged to make it smaller, kindly, and may insist.
        let unsure = json!({"title": "walk 30 minutes 5 days a week", "cadence": "weekly", "times_per_period": 5, "confidence": 5});
        let (st, e) = s.post("/api/v1/me/goals", Some(&ana), unsure.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let advice = e["error"]["fields"]["confidence"][0]
            .as_str()
            .unwrap_or_default();
        assert!(
            advice.contains("smaller") && advice.contains("confirm_confidence"),
            "{e}"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("smaller"),
            "{e}"
        );
        let mut sure = unsure.clone();
        sure["confirm_confidence"] = json!(true);
        let (st, g2) = s.post("/api/v1/me/goals", Some(&ana), sure).await;
        assert_eq!(st, StatusCode::CREATED, "{g2}");
        assert_eq!(
            (g2["confidence"].as_i64(), g2["times_per_period"].as_i64()),
            (Some(5), Some(5))
        );
        // Confident enough: no question asked.
        let (st, _) = s
        .post(
            "/api/v1/me/goals",
            Some(&ana),
            json!({"title": "wear my old jeans", "cadence": "monthly", "confidence": 8, "share_with": "walkers"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);

        let (st, mine) = s.get("/api/v1/me/goals", Some(&ana)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(ids(&mine).len(), 3, "{mine}");
        assert_eq!(mine[0]["share_with"], "walkers");

        // Lowering the confidence later asks the same question; changing the title does not.
        let id = g2["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{id}"),
                Some(&ana),
                Some(json!({"confidence": 4})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, changed) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{id}"),
                Some(&ana),
                Some(json!({"title": "walk 20 minutes 4 days a week", "times_per_period": 4})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{changed}");
        assert_eq!(changed["times_per_period"], 4);
        // Unauthenticated callers are refused.
        assert_eq!(
            s.get("/api/v1/me/goals", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
);

both_backends!(
    private_goals_are_hidden_from_every_other_role,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "walkers", "members", json!({})).await;
        let mut tokens = Vec::new();
        for name in ["owner", "other", "moddy", "orga", "leader"] {
            let t = s.register(name).await;
            s.join(&t, "walkers").await;
            tokens.push(t);
        }
        let [owner, other, moddy, orga, leader] = <[String; 5]>::try_from(tokens).unwrap();
        grant(&s, &admin, "walkers", "moderator", "moddy").await;
        grant(&s, &admin, "walkers", "organiser", "orga").await;
        // A circle with the owner in it and a peer leader.
        let (st, circle) = s
            .post(
                "/api/v1/communities/walkers/circles",
                Some(&orga),
                json!({"name": "Tuesday walkers"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{circle}");
        let circle = circle["id"].as_i64().unwrap();
        for (who, role) in [("owner", "member"), ("leader", "leader")] {
            let (st, m) = s
                .call(
                    "PUT",
                    &format!("/api/v1/circles/{circle}/members/{who}"),
                    Some(&orga),
                    Some(json!({"role": role})),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{m}");
        }

        let private = goal(
            &s,
            &owner,
            json!({"title": "eat breakfast", "cadence": "daily"}),
        )
        .await;
        let shared = goal(&s, &owner, json!({"title": "walk after dinner", "cadence": "weekly", "times_per_period": 3, "share_with": "walkers"})).await;
        let (st, _) = s
            .post(
                &format!("/api/v1/goals/{private}/checkins"),
                Some(&owner),
                json!({"status": "partly", "note": "knee hurt"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);

        // Nobody else learns the private goal exists: not a member, a moderator, an organiser, the
        // peer leader of the owner's circle, or a site admin.
        for (who, token) in [
            ("other", &other),
            ("moderator", &moddy),
            ("organiser", &orga),
            ("leader", &leader),
            ("admin", &admin),
        ] {
            let (st, _) = s
                .get(&format!("/api/v1/goals/{private}"), Some(token))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{who} GET");
            let (st, _) = s
                .get(&format!("/api/v1/goals/{private}/checkins"), Some(token))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{who} check-ins");
            let (st, _) = s
                .post(
                    &format!("/api/v1/goals/{private}/checkins"),
                    Some(token),
                    json!({"status": "done"}),
                )
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{who} check in");
            let (st, _) = s
                .call(
                    "PATCH",
                    &format!("/api/v1/goals/{private}"),
                    Some(token),
                    Some(json!({"title": "mine now"})),
                )
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{who} PATCH");
            let (st, _) = s
                .call(
                    "DELETE",
                    &format!("/api/v1/goals/{private}"),
                    Some(token),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{who} DELETE");
            let (st, list) = s
                .get("/api/v1/communities/walkers/goals", Some(token))
                .await;
            assert_eq!(st, StatusCode::OK, "{who} community goals: {list}");
            assert_eq!(ids(&list), vec![shared], "{who} sees only the shared goal");
            let (_, mine) = s.get("/api/v1/me/goals", Some(token)).await;
            assert!(!ids(&mine).contains(&private), "{who}'s own list");
        }
        // Nor through the circle: the private goal is not on its list or the leader's agenda.
        let (st, circle_goals) = s
            .get(&format!("/api/v1/circles/{circle}/goals"), Some(&leader))
            .await;
        assert_eq!(st, StatusCode::OK, "{circle_goals}");
        assert!(ids(&circle_goals).is_empty(), "{circle_goals}");
        let (st, agenda) = s
            .get(&format!("/api/v1/circles/{circle}/agenda"), Some(&leader))
            .await;
        assert_eq!(st, StatusCode::OK, "{agenda}");
        assert_eq!(
            agenda["lines"].as_array().map(Vec::len),
            Some(0),
            "{agenda}"
        );

        // The shared goal: members of the community see it (without the owner's reminder time or
        // notes), but may not change it or check in for the owner.
        let (st, g) = s
            .get(&format!("/api/v1/goals/{shared}"), Some(&other))
            .await;
        assert_eq!(st, StatusCode::OK, "{g}");
        assert_eq!(
            (g["share_with"].as_str(), g["remind_at"].clone()),
            (Some("walkers"), Value::Null)
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/goals/{shared}/checkins"),
                Some(&other),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{shared}"),
                Some(&other),
                Some(json!({"title": "mine now"})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        // Outsiders see neither the goal nor the community's list.
        let outsider = s.register("outsider").await;
        assert_eq!(
            s.get(&format!("/api/v1/goals/{shared}"), Some(&outsider))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.get("/api/v1/communities/walkers/goals", Some(&outsider))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        // A member who leaves the community takes the goal out of its list.
        // Stopping sharing makes it private again.
        let (st, g) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{shared}"),
                Some(&owner),
                Some(json!({"share_with": ""})),
            )
            .await;
        assert_eq!(
            (st, g["share_with"].clone()),
            (StatusCode::OK, Value::Null),
            "{g}"
        );
        assert_eq!(
            s.get(&format!("/api/v1/goals/{shared}"), Some(&other))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // A member who leaves the community stops sharing with it and leaves their circle.
        let (st, g) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{shared}"),
                Some(&owner),
                Some(json!({"share_with": "walkers", "share_with_circle": circle})),
            )
            .await;
        assert_eq!(
            (st, g["share_with_circle"].as_i64()),
            (StatusCode::OK, Some(circle)),
            "{g}"
        );
        let (st, _) = s
            .call(
                "POST",
                "/api/v1/communities/walkers/leave",
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, list) = s
            .get("/api/v1/communities/walkers/goals", Some(&other))
            .await;
        assert!(ids(&list).is_empty(), "{list}");
        assert_eq!(
            s.get(&format!("/api/v1/goals/{shared}"), Some(&other))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.get(&format!("/api/v1/goals/{shared}"), Some(&leader))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, g) = s
            .get(&format!("/api/v1/goals/{shared}"), Some(&owner))
            .await;
        assert_eq!(
            (g["share_with"].clone(), g["share_with_circle"].clone()),
            (Value::Null, Value::Null),
            "{g}"
        );
        // The owner deletes their goal.
        assert_eq!(
            s.call(
                "DELETE",
                &format!("/api/v1/goals/{private}"),
                Some(&owner),
                None
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            s.get(&format!("/api/v1/goals/{private}"), Some(&owner))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
);

both_backends!(
    a_second_checkin_in_a_period_replaces_the_first,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "walkers", "public", json!({})).await;
        let ana = s.register("ana").await;
        let bob = s.register("bob").await;
        s.join(&ana, "walkers").await;
        s.join(&bob, "walkers").await;
        let id = goal(&s, &ana, json!({"title": "walk after dinner", "cadence": "weekly", "times_per_period": 5, "share_with": "walkers"})).await;

        let path = format!("/api/v1/goals/{id}/checkins");
        let (st, first) = s.post(&path, Some(&ana), json!({"status": "done"})).await;
        assert_eq!(st, StatusCode::CREATED, "{first}");
        let (st, second) = s
            .post(
                &path,
                Some(&ana),
                json!({"status": "partly", "note": "rain on Thursday"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "replaced: {second}");
        assert_eq!(second["period_start"], first["period_start"]);
        // Weekly periods start on a Monday.
        let start =
            chrono::NaiveDate::parse_from_str(first["period_start"].as_str().unwrap(), "%Y-%m-%d")
                .unwrap();
        assert_eq!(chrono::Datelike::weekday(&start), chrono::Weekday::Mon);

        let (st, list) = s.get(&path, Some(&ana)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(
            (list[0]["status"].as_str(), list[0]["note"].as_str()),
            (Some("partly"), Some("rain on Thursday"))
        );
        let (_, g) = s.get(&format!("/api/v1/goals/{id}"), Some(&ana)).await;
        assert_eq!(
            (
                g["period"]["checkin"].as_str(),
                g["period"]["due"].as_bool()
            ),
            (Some("partly"), Some(false)),
            "{g}"
        );
        // Community members see progress, never the note.
        let (_, list) = s.get(&path, Some(&bob)).await;
        assert_eq!(
            (list[0]["status"].as_str(), list[0]["note"].clone()),
            (Some("partly"), Value::Null)
        );
        let (_, shared) = s.get("/api/v1/communities/walkers/goals", Some(&bob)).await;
        assert_eq!(shared[0]["period"]["checkin"], "partly", "{shared}");
        assert!(!shared.to_string().contains("rain on Thursday"));

        assert_eq!(
            s.post(&path, Some(&ana), json!({"status": "maybe"}))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            s.post(
                &path,
                Some(&ana),
                json!({"status": "done", "note": "x".repeat(501)})
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // A stopped goal takes no check-ins.
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{id}"),
                Some(&ana),
                Some(json!({"status": "stopped"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, e) = s.post(&path, Some(&ana), json!({"status": "done"})).await;
        assert_eq!(
            (st, e["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("goal_closed")),
            "{e}"
        );
        // Stopped goals leave the community's list.
        let (_, shared) = s.get("/api/v1/communities/walkers/goals", Some(&bob)).await;
        assert!(ids(&shared).is_empty(), "{shared}");
    }
);

both_backends!(
    a_due_checkin_is_reminded_once_across_two_nodes,
    |b| async move {
        let opts = || ServerOptions {
            extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
            ..Default::default()
        };
        let s = Server::start_with(b, opts()).await;
        let node2 = Server::start_on(s.db.clone(), opts()).await;
        let ana = s.register("ana").await;
        let bob = s.register("bob").await;
        // Checked in first, then reminders switched on: nothing is due.
        let checked = goal(
            &s,
            &ana,
            json!({"title": "drink water", "cadence": "daily", "remind_at": ""}),
        )
        .await;
        let (st, _) = s
            .post(
                &format!("/api/v1/goals/{checked}/checkins"),
                Some(&ana),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/goals/{checked}"),
                Some(&ana),
                Some(json!({"remind_at": "00:00"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        // A reminder time of midnight: today's check-in is due at once.
        let due = goal(
            &node2,
            &ana,
            json!({"title": "walk 30 minutes", "cadence": "daily", "remind_at": "00:00"}),
        )
        .await;

        let reminders = |items: Vec<Value>| -> Vec<Value> {
            items
                .into_iter()
                .filter(|n| n["kind"] == "checkin_due")
                .collect()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if !reminders(notifications(&s, &ana).await).is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no reminder within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Both nodes keep running the job; still one reminder.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let sent = reminders(notifications(&node2, &ana).await);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["subject"], json!({"type": "goal", "id": due}));
        assert_eq!(sent[0]["url"], format!("/goals#goal-{due}"));
        // Never the words of the goal.
        assert!(!sent[0].to_string().contains("walk"));
        assert!(reminders(notifications(&s, &bob).await).is_empty());
        let (_, g) = s.get(&format!("/api/v1/goals/{due}"), Some(&ana)).await;
        assert_eq!(g["period"]["due"], true);
    }
);

both_backends!(a_reached_goal_becomes_a_milestone_post, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "walkers", "public", json!({})).await;
    let ana = s.register("ana").await;
    let bob = s.register("bob").await;
    s.join(&ana, "walkers").await;
    let private = goal(
        &s,
        &ana,
        json!({"title": "walk to the market", "cadence": "daily"}),
    )
    .await;
    // A private goal needs to be told where to post; others may not post it.
    let (st, e) = s
        .post(
            &format!("/api/v1/goals/{private}/milestone"),
            Some(&ana),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["community"].is_array(), "{e}");
    assert_eq!(
        s.post(
            &format!("/api/v1/goals/{private}/milestone"),
            Some(&bob),
            json!({})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // Posting somewhere the owner is not a member is the forum's refusal, and the goal stays active.
    s.community(&admin, "elsewhere", "public", json!({})).await;
    let (st, _) = s
        .post(
            &format!("/api/v1/goals/{private}/milestone"),
            Some(&ana),
            json!({"community": "elsewhere"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, g) = s.get(&format!("/api/v1/goals/{private}"), Some(&ana)).await;
    assert_eq!(g["status"], "active");

    // NOTE: this part needs milestone posts in `forum::create_topic` (the milestone-posts
    // branch); until that is merged, create_topic refuses kind "milestone" with 422 here.
    let shared = goal(&s, &ana, json!({"title": "walk 30 minutes 5 days a week", "cadence": "weekly", "times_per_period": 5, "share_with": "walkers"})).await;
    let (st, reached) = s
        .post(
            &format!("/api/v1/goals/{shared}/milestone"),
            Some(&ana),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reached}");
    assert_eq!(reached["goal"]["status"], "reached");
    assert_eq!(reached["topic"]["kind"], "milestone");
    assert_eq!(
        reached["topic"]["title"],
        "Goal reached: walk 30 minutes 5 days a week"
    );
    assert_eq!(reached["goal"]["milestone_topic"], reached["topic"]["id"]);
    assert!(reached["post"]["id"].is_i64());
    let (st, e) = s
        .post(
            &format!("/api/v1/goals/{shared}/milestone"),
            Some(&ana),
            json!({}),
        )
        .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_posted"))
    );
});
