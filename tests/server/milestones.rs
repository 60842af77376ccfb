#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Milestones through the real server: community milestone types and who may define them,
//! milestone topics and replies, numbers kept private ("progress without the number", percent
//! without the baseline), "only me" milestones nobody else can find, follows and their
//! notifications, celebrations, the community feed, member timelines, and anniversary reminders
//! sent once across two nodes — on SQLite and on PostgreSQL + Redis.

use crate::common;

use std::time::{Duration, Instant};

use common::{Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Starts a milestone topic; the whole answer.
async fn milestone(s: &Server, token: &str, slug: &str, title: &str, m: Value) -> Value {
    let (st, answer) = s
        .post(
            &format!("/api/v1/communities/{slug}/topics"),
            Some(token),
            json!({"title": title, "body": "Small steps, every day.", "kind": "milestone", "milestone": m}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "milestone in {slug}: {answer}");
    answer
}

async fn notifications(s: &Server, token: &str) -> Vec<Value> {
    let (st, n) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(st, StatusCode::OK, "{n}");
    n["items"].as_array().unwrap().clone()
}

fn of_kind(items: &[Value], kind: &str) -> Vec<Value> {
    items
        .iter()
        .filter(|i| i["kind"] == kind)
        .cloned()
        .collect()
}

fn ids(page: &Value, key: &str) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|i| i[key].as_i64().unwrap())
        .collect()
}

fn keys(types: &Value) -> Vec<String> {
    types
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {types}"))
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_string())
        .collect()
}

/// A community with members `names` (joined), made by a fresh admin; the admin's token.
async fn setup(s: &Server, slug: &str, visibility: &str, names: &[&str]) -> (String, Vec<String>) {
    let admin = s.admin().await;
    s.community(&admin, slug, visibility, json!({"allow_anonymous": true}))
        .await;
    let mut tokens = Vec::new();
    for n in names {
        let t = s.register(n).await;
        if visibility == "private" {
            s.join_invited(&admin, &t, slug).await;
        } else {
            s.join(&t, slug).await;
        }
        tokens.push(t);
    }
    (admin, tokens)
}

both_backends!(milestone_types_belong_to_organisers, |b| async move {
    let s = Server::start(b).await;
    let (admin, t) = setup(&s, "bari", "members", &["orga", "member"]).await;
    let (orga, member) = (&t[0], &t[1]);
    let outsider = s.register("outsider").await;
    let (st, body) = s
        .call(
            "PUT",
            "/api/v1/communities/bari/roles/organiser/orga",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    // Every community starts with the default types.
    let (st, types) = s
        .get("/api/v1/communities/bari/milestone-types", Some(member))
        .await;
    assert_eq!(st, StatusCode::OK, "{types}");
    assert_eq!(
        keys(&types),
        [
            "weight_lost",
            "a1c",
            "time_since_surgery",
            "non_scale_victory"
        ]
    );
    assert_eq!(types[0]["unit"], "lb");
    assert_eq!(types[2]["category"], "anniversary");

    // Organisers add, members and outsiders may not.
    let bp = json!({"key": "bp_lower", "label": "Blood pressure down", "unit": "mmHg", "category": "clinical"});
    let path = "/api/v1/communities/bari/milestone-types";
    for token in [member, &outsider] {
        assert_eq!(
            s.post(path, Some(token), bp.clone()).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        s.post(path, None, bp.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (st, created) = s.post(path, Some(orga), bp.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(created["label"], "Blood pressure down");
    assert_eq!(
        s.post(path, Some(orga), bp.clone()).await.0,
        StatusCode::CONFLICT
    );
    let (st, bad) = s
        .post(
            path,
            Some(orga),
            json!({"key": "Bad Key", "label": "", "unit": "far too long unit", "category": "weird"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["key", "label", "unit", "category"] {
        assert!(bad["error"]["fields"][f].is_array(), "{f}: {bad}");
    }
    // Outsiders of a members-only community may not read its types.
    assert_eq!(s.get(path, Some(&outsider)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(path, None).await.0, StatusCode::FORBIDDEN);

    // Relabel.
    let (st, changed) = s
        .call(
            "PATCH",
            "/api/v1/communities/bari/milestone-types/bp_lower",
            Some(orga),
            Some(json!({"label": "Blood pressure lower", "unit": ""})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{changed}");
    assert_eq!(changed["label"], "Blood pressure lower");
    assert_eq!(changed["unit"], Value::Null);
    assert_eq!(
        s.call(
            "PATCH",
            "/api/v1/communities/bari/milestone-types/bp_lower",
            Some(member),
            Some(json!({"label": "Mine now"})),
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call(
            "PATCH",
            "/api/v1/communities/bari/milestone-types/no_such",
            Some(orga),
            Some(json!({"label": "x"})),
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Deleting a type in use retires it: old posts keep their label, new ones are refused.
    let posted = milestone(
        &s,
        member,
        "bari",
        "Lower readings",
        json!({"type": "bp_lower"}),
    )
    .await;
    let topic = posted["topic"]["id"].as_i64().unwrap();
    assert_eq!(
        s.call(
            "DELETE",
            "/api/v1/communities/bari/milestone-types/bp_lower",
            Some(member),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (st, _) = s
        .call(
            "DELETE",
            "/api/v1/communities/bari/milestone-types/bp_lower",
            Some(orga),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, types) = s.get(path, Some(member)).await;
    assert!(!keys(&types).contains(&"bp_lower".to_string()));
    let (st, old) = s
        .get(&format!("/api/v1/topics/{topic}"), Some(member))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(old["milestone"]["label"], "Blood pressure lower");
    let (st, refused) = s
        .post(
            "/api/v1/communities/bari/topics",
            Some(member),
            json!({"title": "Again", "body": "Lower still", "kind": "milestone", "milestone": {"type": "bp_lower"}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused["error"]["fields"]["milestone.type"].is_array(),
        "{refused}"
    );
    // An unused type is simply deleted; re-adding a retired key brings it back.
    let (st, _) = s
        .call(
            "DELETE",
            "/api/v1/communities/bari/milestone-types/a1c",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, back) = s.post(path, Some(orga), bp).await;
    assert_eq!(st, StatusCode::CREATED, "{back}");
    let (_, types) = s.get(path, Some(member)).await;
    assert_eq!(
        keys(&types),
        [
            "weight_lost",
            "time_since_surgery",
            "non_scale_victory",
            "bp_lower"
        ]
    );

    // A private community's types do not exist for outsiders.
    s.community(&admin, "hidden", "private", json!({})).await;
    let hidden = "/api/v1/communities/hidden/milestone-types";
    assert_eq!(
        s.get(hidden, Some(&outsider)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.post(
            hidden,
            Some(&outsider),
            json!({"key": "abc", "label": "Abc"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (st, types) = s.get(hidden, Some(&admin)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(keys(&types).len(), 4);
});

both_backends!(milestones_are_checked_at_the_door, |b| async move {
    let s = Server::start(b).await;
    let (_, t) = setup(&s, "checks", "members", &["member"]).await;
    let member = &t[0];
    let path = "/api/v1/communities/checks/topics";
    let attempt = |m: Value| {
        let mut body = json!({"title": "A milestone", "body": "Proud today", "kind": "milestone"});
        if !m.is_null() {
            body["milestone"] = m;
        }
        body
    };
    let cases = [
        (Value::Null, "milestone.type"),
        (json!({}), "milestone.type"),
        (json!({"type": "no_such_type"}), "milestone.type"),
        (
            json!({"type": "weight_lost", "value": 1.0e9}),
            "milestone.value",
        ),
        (
            json!({"type": "weight_lost", "value": 5, "unit": "kilograms-ish"}),
            "milestone.unit",
        ),
        (
            json!({"type": "weight_lost", "value": 5, "show": "percent"}),
            "milestone.show",
        ),
        (
            json!({"type": "weight_lost", "value": 5, "baseline": -3, "show": "percent"}),
            "milestone.baseline",
        ),
        (
            json!({"type": "weight_lost", "show": "value"}),
            "milestone.show",
        ),
        (
            json!({"type": "weight_lost", "show": "loud"}),
            "milestone.show",
        ),
        (
            json!({"type": "weight_lost", "visibility": "friends"}),
            "milestone.visibility",
        ),
        (
            json!({"type": "non_scale_victory", "achieved_on": "2999-01-01"}),
            "milestone.achieved_on",
        ),
        (
            json!({"type": "non_scale_victory", "achieved_on": "yesterday"}),
            "milestone.achieved_on",
        ),
    ];
    for (m, field) in cases {
        let (st, body) = s.post(path, Some(member), attempt(m.clone())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{m}: {body}");
        assert!(body["error"]["fields"][field].is_array(), "{m}: {body}");
    }
    // A milestone on a discussion topic is refused rather than dropped.
    let (st, body) = s
        .post(
            path,
            Some(member),
            json!({"title": "Chat", "body": "Hello", "kind": "discussion", "milestone": {"type": "a1c"}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["milestone"].is_array(), "{body}");
    // Nothing was stored by the refusals.
    let (_, feed) = s
        .get("/api/v1/communities/checks/milestones", Some(member))
        .await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 0);
    // The unit defaults to the member's (kg: no country given, so not the United States); a day
    // in the past is kept.
    let ok = milestone(
        &s,
        member,
        "checks",
        "Down a size",
        json!({"type": "weight_lost", "value": 12, "achieved_on": "2024-03-05"}),
    )
    .await;
    assert_eq!(ok["topic"]["kind"], "milestone");
    assert_eq!(ok["topic"]["milestone"]["unit"], "kg");
    assert_eq!(ok["topic"]["milestone"]["achieved_on"], "2024-03-05");
    assert_eq!(ok["post"]["milestone"]["type"], "weight_lost");
});

both_backends!(numbers_stay_private_unless_shown, |b| async move {
    let s = Server::start(b).await;
    let (_, t) = setup(&s, "scale", "members", &["author", "reader"]).await;
    let (author, reader) = (&t[0], &t[1]);

    // Default: progress without the number.
    let hidden = milestone(
        &s,
        author,
        "scale",
        "A milestone today",
        json!({"type": "weight_lost", "value": 88.125, "unit": "lb"}),
    )
    .await;
    let topic = hidden["topic"]["id"].as_i64().unwrap();
    let post = hidden["post"]["id"].as_i64().unwrap();
    assert_eq!(hidden["topic"]["milestone"]["value"], 88.125, "{hidden}");
    assert_eq!(hidden["topic"]["milestone"]["show"], "none");
    assert_eq!(hidden["topic"]["milestone"]["display"], Value::Null);
    let mut seen = Vec::new();
    for path in [
        format!("/api/v1/topics/{topic}"),
        format!("/api/v1/topics/{topic}/posts"),
        format!("/api/v1/posts/{post}"),
        "/api/v1/communities/scale/topics".to_string(),
        "/api/v1/communities/scale/milestones".to_string(),
        "/api/v1/users/author/milestones".to_string(),
    ] {
        let (st, body) = s.get(&path, Some(reader)).await;
        assert_eq!(st, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        assert!(!text.contains("88.1"), "{path} shows the value: {text}");
        seen.push(body);
    }
    let m = &seen[0]["milestone"];
    assert_eq!(m["type"], "weight_lost");
    assert_eq!(m["label"], "Weight lost");
    assert_eq!(m["display"], Value::Null);
    assert!(m.get("value").is_none() && m.get("unit").is_none(), "{m}");
    assert_eq!(m["mine"], false);
    assert_eq!(seen[1]["items"][0]["milestone"]["type"], "weight_lost");
    // The author sees everything of their own.
    let (_, own) = s
        .get(&format!("/api/v1/topics/{topic}"), Some(author))
        .await;
    assert_eq!(own["milestone"]["value"], 88.125);
    assert_eq!(own["milestone"]["unit"], "lb");
    assert_eq!(own["milestone"]["mine"], true);

    // Shown as a percentage: others get "11%", never the value or the baseline.
    let pct = milestone(
        &s,
        author,
        "scale",
        "Another milestone",
        json!({"type": "weight_lost", "value": 88.125, "baseline": 777.25, "show": "percent"}),
    )
    .await;
    let topic = pct["topic"]["id"].as_i64().unwrap();
    let post = pct["post"]["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/topics/{topic}"),
        format!("/api/v1/topics/{topic}/posts"),
        format!("/api/v1/posts/{post}"),
        "/api/v1/communities/scale/topics".to_string(),
        "/api/v1/communities/scale/milestones".to_string(),
        "/api/v1/users/author/milestones".to_string(),
    ] {
        let (st, body) = s.get(&path, Some(reader)).await;
        assert_eq!(st, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        assert!(!text.contains("88.1"), "{path} shows the value: {text}");
        assert!(!text.contains("777.2"), "{path} shows the baseline: {text}");
        assert!(text.contains("11%"), "{path} lacks the percentage: {text}");
    }
    let (_, own) = s
        .get(&format!("/api/v1/topics/{topic}"), Some(author))
        .await;
    assert_eq!(own["milestone"]["display"], "11%");
    assert_eq!(own["milestone"]["baseline"], 777.25);
    assert_eq!(own["milestone"]["value"], 88.125);

    // Shown as the value.
    let shown = milestone(
        &s,
        author,
        "scale",
        "Sharing my number",
        json!({"type": "a1c", "value": 6.8, "show": "value"}),
    )
    .await;
    let topic = shown["topic"]["id"].as_i64().unwrap();
    let (_, seen) = s
        .get(&format!("/api/v1/topics/{topic}"), Some(reader))
        .await;
    assert_eq!(seen["milestone"]["value"], 6.8);
    assert_eq!(seen["milestone"]["unit"], "%");
    assert_eq!(seen["milestone"]["display"], "6.8%");
});

both_backends!(
    only_me_milestones_are_invisible_to_everyone_else,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, t) = setup(&s, "quiet", "public", &["author", "other", "modra", "fan"]).await;
        let (author, other, modra, fan) = (&t[0], &t[1], &t[2], &t[3]);
        let (st, _) = s
            .call(
                "PUT",
                "/api/v1/communities/quiet/roles/moderator/modra",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(
            s.call("PUT", "/api/v1/users/author/follow", Some(fan), None)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        let created = s
        .post(
            "/api/v1/communities/quiet/topics",
            Some(author),
            json!({"title": "Just for me", "body": "zebrafinch moment, thanks @other", "kind": "milestone",
                   "milestone": {"type": "weight_lost", "value": 10, "visibility": "private"}}),
        )
        .await;
        assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
        let topic = created.1["topic"]["id"].as_i64().unwrap();
        let post = created.1["post"]["id"].as_i64().unwrap();
        assert_eq!(created.1["topic"]["milestone"]["visibility"], "private");
        // The author's own reply in it is private too.
        let reply = s
            .reply(
                author,
                topic,
                json!({"body": "zebrafinch again", "milestone": {"type": "non_scale_victory"}}),
            )
            .await;
        assert_eq!(reply["milestone"]["visibility"], "private");

        for (who, token) in [
            ("other", Some(other.as_str())),
            ("moderator", Some(modra.as_str())),
            ("admin", Some(admin.as_str())),
            ("fan", Some(fan.as_str())),
            ("visitor", None),
        ] {
            let (_, list) = s.get("/api/v1/communities/quiet/topics", token).await;
            assert!(!ids(&list, "id").contains(&topic), "{who} lists it: {list}");
            for path in [
                format!("/api/v1/topics/{topic}"),
                format!("/api/v1/topics/{topic}/posts"),
                format!("/api/v1/posts/{post}"),
            ] {
                assert_eq!(
                    s.get(&path, token).await.0,
                    StatusCode::NOT_FOUND,
                    "{who}: {path}"
                );
            }
            let (_, feed) = s.get("/api/v1/communities/quiet/milestones", token).await;
            assert!(
                feed["items"].as_array().unwrap().is_empty(),
                "{who}: {feed}"
            );
            let (_, line) = s.get("/api/v1/users/author/milestones", token).await;
            assert!(
                line["items"].as_array().unwrap().is_empty(),
                "{who}: {line}"
            );
            let (_, hits) = s.get("/api/v1/search?q=zebrafinch", token).await;
            assert!(
                hits["items"].as_array().unwrap().is_empty(),
                "{who}: {hits}"
            );
            if let Some(token) = token {
                assert!(notifications(&s, token).await.is_empty(), "{who} was told");
                assert_eq!(
                    s.post(
                        &format!("/api/v1/posts/{post}/reactions"),
                        Some(token),
                        json!({"kind": "celebrate"})
                    )
                    .await
                    .0,
                    StatusCode::NOT_FOUND,
                    "{who} reacted"
                );
                assert_eq!(
                    s.post(
                        &format!("/api/v1/topics/{topic}/posts"),
                        Some(token),
                        json!({"body": "hi"})
                    )
                    .await
                    .0,
                    StatusCode::NOT_FOUND,
                    "{who} replied"
                );
                // Nor can it be reported, hidden, locked or corrected: moderation never sees it.
                let (st, body) = s
                    .post(
                        "/api/v1/reports",
                        Some(token),
                        json!({"target": {"type": "post", "id": post}, "reason": "other"}),
                    )
                    .await;
                assert_eq!(st, StatusCode::NOT_FOUND, "{who} reported: {body}");
                for (action, target) in [
                    ("hide", json!({"type": "post", "id": post})),
                    ("lock", json!({"type": "topic", "id": topic})),
                ] {
                    let (st, body) = s
                        .post(
                            "/api/v1/moderation/actions",
                            Some(token),
                            json!({"action": action, "target": target, "reason": "checking this"}),
                        )
                        .await;
                    assert_eq!(st, StatusCode::NOT_FOUND, "{who} {action}: {body}");
                }
                let (st, body) = s
                    .post(
                        &format!("/api/v1/posts/{post}/corrections"),
                        Some(token),
                        json!({"note": "This is not quite right at all", "source_url": "https://example.org/a1c"}),
                    )
                    .await;
                assert_eq!(st, StatusCode::NOT_FOUND, "{who} corrected: {body}");
            }
        }
        // The author has it everywhere, marked private — except search, which never holds it.
        let (_, list) = s
            .get("/api/v1/communities/quiet/topics", Some(author))
            .await;
        assert!(ids(&list, "id").contains(&topic));
        assert_eq!(
            s.get(&format!("/api/v1/topics/{topic}"), Some(author))
                .await
                .0,
            StatusCode::OK
        );
        let (_, feed) = s
            .get("/api/v1/communities/quiet/milestones", Some(author))
            .await;
        assert_eq!(ids(&feed, "post_id"), [reply["id"].as_i64().unwrap(), post]);
        assert_eq!(feed["items"][1]["milestone"]["visibility"], "private");
        let (_, line) = s.get("/api/v1/users/author/milestones", Some(author)).await;
        assert_eq!(line["items"].as_array().unwrap().len(), 2);
        let (_, hits) = s.get("/api/v1/search?q=zebrafinch", Some(author)).await;
        assert!(hits["items"].as_array().unwrap().is_empty(), "{hits}");
        // Editing it does not put it into search either.
        let (st, _) = s
            .call(
                "PATCH",
                &format!("/api/v1/posts/{post}"),
                Some(author),
                Some(json!({"body": "zebrafinch edited, @other"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, hits) = s.get("/api/v1/search?q=zebrafinch", Some(&admin)).await;
        assert!(hits["items"].as_array().unwrap().is_empty(), "{hits}");
        assert!(notifications(&s, other).await.is_empty());

        // A private milestone reply in a shared topic is refused, not quietly shared.
        let (shared, _) = s.topic(other, "quiet", "Weekly wins", "Share yours").await;
        let (st, body) = s
        .post(
            &format!("/api/v1/topics/{shared}/posts"),
            Some(author),
            json!({"body": "Mine", "milestone": {"type": "non_scale_victory", "visibility": "private"}}),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["error"]["fields"]["milestone.visibility"].is_array(),
            "{body}"
        );
    }
);

both_backends!(followers_hear_of_milestones_they_may_see, |b| async move {
    let s = Server::start(b).await;
    let (_, t) = setup(&s, "circle", "members", &["author", "friend"]).await;
    let (author, friend) = (&t[0], &t[1]);
    let stranger = s.register("stranger").await;
    for token in [friend, &stranger] {
        for _ in 0..2 {
            let (st, body) = s
                .call("PUT", "/api/v1/users/author/follow", Some(token), None)
                .await;
            assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        }
    }
    let (st, body) = s
        .call("PUT", "/api/v1/users/author/follow", Some(author), None)
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        s.call(
            "PUT",
            "/api/v1/users/nobody_here/follow",
            Some(friend),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.call("PUT", "/api/v1/users/author/follow", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (st, following) = s.get("/api/v1/me/following", Some(friend)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(following["items"].as_array().unwrap().len(), 1);
    assert_eq!(following["items"][0]["username"], "author");

    let first = milestone(
        &s,
        author,
        "circle",
        "Walked a mile",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    let topic = first["topic"]["id"].as_i64().unwrap();
    let told = of_kind(&notifications(&s, friend).await, "milestone");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["topic_id"], topic);
    assert_eq!(told[0]["actor"]["username"], "author");
    // The stranger follows but may not read this members-only community.
    assert!(notifications(&s, &stranger).await.is_empty());
    // A milestone reply tells followers too; an anonymous one does not (it would name its author).
    s.reply(
        author,
        topic,
        json!({"body": "And another", "milestone": {"type": "non_scale_victory"}}),
    )
    .await;
    assert_eq!(
        of_kind(&notifications(&s, friend).await, "milestone").len(),
        2
    );
    let (st, body) = s
        .post(
            "/api/v1/communities/circle/topics",
            Some(author),
            json!({"title": "Quietly proud", "body": "No names", "kind": "milestone", "anonymous": true,
                   "milestone": {"type": "non_scale_victory"}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(
        of_kind(&notifications(&s, friend).await, "milestone").len(),
        2
    );
    // The anonymous one stays off the author's timeline for others.
    let (_, line) = s.get("/api/v1/users/author/milestones", Some(friend)).await;
    assert_eq!(line["items"].as_array().unwrap().len(), 2, "{line}");
    // Unfollowing (twice is fine) stops them.
    for _ in 0..2 {
        assert_eq!(
            s.call("DELETE", "/api/v1/users/author/follow", Some(friend), None)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
    }
    milestone(
        &s,
        author,
        "circle",
        "Two miles",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    assert_eq!(
        of_kind(&notifications(&s, friend).await, "milestone").len(),
        2
    );
    let (_, following) = s.get("/api/v1/me/following", Some(friend)).await;
    assert!(following["items"].as_array().unwrap().is_empty());
});

both_backends!(celebrations_are_counted, |b| async move {
    let s = Server::start(b).await;
    let (_, t) = setup(&s, "party", "members", &["author", "one", "two"]).await;
    let (author, one, two) = (&t[0], &t[1], &t[2]);
    let created = milestone(
        &s,
        author,
        "party",
        "Off insulin",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    let topic = created["topic"]["id"].as_i64().unwrap();
    let post = created["post"]["id"].as_i64().unwrap();
    assert_eq!(created["topic"]["milestone"]["celebrations"], 0);
    for token in [one, two, one] {
        let (st, r) = s
            .post(
                &format!("/api/v1/posts/{post}/reactions"),
                Some(token),
                json!({"kind": "celebrate"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{r}");
    }
    let (_, seen) = s
        .get(&format!("/api/v1/topics/{topic}"), Some(author))
        .await;
    assert_eq!(seen["milestone"]["celebrations"], 2);
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(one))
        .await;
    assert_eq!(posts["items"][0]["milestone"]["celebrations"], 2);
    assert_eq!(posts["items"][0]["reactions"]["celebrate"], 2);
    let (_, feed) = s
        .get("/api/v1/communities/party/milestones", Some(two))
        .await;
    assert_eq!(feed["items"][0]["milestone"]["celebrations"], 2);
    // Taking it back counts down.
    let (st, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/posts/{post}/reactions"),
            Some(one),
            Some(json!({"kind": "celebrate"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, seen) = s.get(&format!("/api/v1/topics/{topic}"), Some(two)).await;
    assert_eq!(seen["milestone"]["celebrations"], 1);
});

both_backends!(the_feed_lists_milestones_newest_first, |b| async move {
    let s = Server::start(b).await;
    let (admin, t) = setup(&s, "wins", "members", &["alice", "bob"]).await;
    let (alice, bob) = (&t[0], &t[1]);
    let outsider = s.register("outsider").await;
    let mut posted = Vec::new();
    for (who, title, kind) in [
        (alice, "First", "non_scale_victory"),
        (bob, "Second", "weight_lost"),
        (alice, "Third", "a1c"),
    ] {
        let c = milestone(&s, who, "wins", title, json!({"type": kind})).await;
        posted.push(c["post"]["id"].as_i64().unwrap());
    }
    let (discussion, _) = s
        .topic(bob, "wins", "Just chatting", "No milestone here")
        .await;
    s.reply(alice, discussion, json!({"body": "Plain reply"}))
        .await;
    let r = s
        .reply(
            alice,
            discussion,
            json!({"body": "Milestone reply", "milestone": {"type": "non_scale_victory"}}),
        )
        .await;
    posted.push(r["id"].as_i64().unwrap());
    posted.reverse();

    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let (st, page) = s
            .get(
                &format!("/api/v1/communities/wins/milestones?limit=2&after={after}"),
                Some(bob),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page, "post_id"));
        match page["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, posted, "newest first, each once, milestones only");
    let (_, only) = s
        .get("/api/v1/communities/wins/milestones?type=a1c", Some(bob))
        .await;
    assert_eq!(ids(&only, "post_id"), [posted[1]]);
    assert_eq!(only["items"][0]["author"]["username"], "alice");
    assert_eq!(only["items"][0]["title"], "Third");
    // The timeline: one member's, in the same order.
    let (_, line) = s.get("/api/v1/users/alice/milestones", Some(bob)).await;
    assert_eq!(ids(&line, "post_id"), [posted[0], posted[1], posted[3]]);
    let (_, line) = s
        .get("/api/v1/users/alice/milestones", Some(&outsider))
        .await;
    assert!(line["items"].as_array().unwrap().is_empty(), "{line}");
    assert_eq!(
        s.get("/api/v1/users/nobody_here/milestones", None).await.0,
        StatusCode::NOT_FOUND
    );
    // Outsiders of a members-only community: 403; of a private one: 404; a bad cursor: 400.
    assert_eq!(
        s.get("/api/v1/communities/wins/milestones", Some(&outsider))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get("/api/v1/communities/wins/milestones", None).await.0,
        StatusCode::FORBIDDEN
    );
    s.community(&admin, "secret", "private", json!({})).await;
    assert_eq!(
        s.get("/api/v1/communities/secret/milestones", Some(&outsider))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(
            "/api/v1/communities/wins/milestones?after=nonsense",
            Some(bob)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    // A deleted milestone leaves the feed.
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/posts/{}", posted[0]),
            Some(alice),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, page) = s
        .get("/api/v1/communities/wins/milestones", Some(bob))
        .await;
    assert_eq!(ids(&page, "post_id"), posted[1..]);
    // Visitors read a public community's feed.
    s.community(&admin, "open", "public", json!({})).await;
    s.join(bob, "open").await;
    milestone(
        &s,
        bob,
        "open",
        "Public win",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    let (st, page) = s.get("/api/v1/communities/open/milestones", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, line) = s.get("/api/v1/users/bob/milestones", None).await;
    assert_eq!(line["items"].as_array().unwrap().len(), 1, "{line}");
});

both_backends!(anniversaries_remind_once_across_two_nodes, |b| async move {
    let options = || ServerOptions {
        extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
        ..Default::default()
    };
    let s = Server::start_with(b, options()).await;
    let second = Server::start_on(s.db.clone(), options()).await;
    let (_, t) = setup(&s, "surgery", "members", &["patient", "friend"]).await;
    let (patient, friend) = (&t[0], &t[1]);
    let (st, body) = s
        .call(
            "PATCH",
            "/api/v1/me",
            Some(patient),
            Some(json!({"timezone": "Asia/Kolkata"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Today in the member's zone, and the same day a year and two years ago.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Kolkata)
        .date_naive();
    let years_ago = |n: i32| {
        use chrono::Datelike;
        today
            .with_year(today.year() - n)
            .unwrap_or_else(|| {
                today
                    .with_day(28)
                    .unwrap()
                    .with_year(today.year() - n)
                    .unwrap()
            })
            .format("%Y-%m-%d")
            .to_string()
    };
    let shared = milestone(
        &s,
        patient,
        "surgery",
        "Surgery day",
        json!({"type": "time_since_surgery", "achieved_on": years_ago(1)}),
    )
    .await;
    let private = milestone(
        &second,
        patient,
        "surgery",
        "My own day",
        json!({"type": "time_since_surgery", "achieved_on": years_ago(2), "visibility": "private"}),
    )
    .await;
    // Not anniversaries: a weight milestone a year ago, and one from today.
    milestone(
        &s,
        patient,
        "surgery",
        "Weight",
        json!({"type": "weight_lost", "achieved_on": years_ago(1)}),
    )
    .await;
    milestone(
        &s,
        patient,
        "surgery",
        "Today",
        json!({"type": "time_since_surgery"}),
    )
    .await;
    let expected = {
        let mut v = vec![
            shared["topic"]["id"].as_i64().unwrap(),
            private["topic"]["id"].as_i64().unwrap(),
        ];
        v.sort();
        v
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = of_kind(&notifications(&s, patient).await, "anniversary");
        if n.len() >= 2 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Both nodes keep running the job; still exactly one reminder per milestone.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let n = of_kind(&notifications(&second, patient).await, "anniversary");
    let mut topics: Vec<i64> = n.iter().map(|i| i["topic_id"].as_i64().unwrap()).collect();
    topics.sort();
    assert_eq!(topics, expected, "{n:?}");
    assert!(
        n.iter()
            .all(|i| i["actor"].is_null() && i["post_id"].is_i64())
    );
    assert!(of_kind(&notifications(&s, friend).await, "anniversary").is_empty());
});

both_backends!(milestones_are_described_in_openapi, |b| async move {
    let s = Server::start(b).await;
    let (st, api) = s.get("/api/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    for path in [
        "/api/v1/communities/{slug}/milestone-types",
        "/api/v1/communities/{slug}/milestone-types/{key}",
        "/api/v1/communities/{slug}/milestones",
        "/api/v1/users/{username}/milestones",
        "/api/v1/users/{username}/follow",
        "/api/v1/me/following",
    ] {
        assert!(api["paths"][path].is_object(), "{path} missing");
    }
    let params: Vec<&str> =
        api["paths"]["/api/v1/communities/{slug}/milestones"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
    assert!(
        params.contains(&"type") && params.contains(&"after"),
        "{params:?}"
    );
    let new = &api["components"]["schemas"]["NewMilestone"]["properties"];
    for field in [
        "type",
        "value",
        "unit",
        "visibility",
        "show",
        "baseline",
        "achieved_on",
    ] {
        assert!(new[field].is_object(), "NewMilestone.{field}: {new}");
    }
    assert!(api["components"]["schemas"]["Topic"]["properties"]["milestone"].is_object());
    assert!(api["components"]["schemas"]["Post"]["properties"]["milestone"].is_object());
});

both_backends!(hidden_and_moved_milestones, |b| async move {
    let s = Server::start(b).await;
    let (admin, t) = setup(&s, "here", "members", &["author", "reader"]).await;
    let (author, reader) = (&t[0], &t[1]);
    s.community(&admin, "there", "members", json!({})).await;
    s.join(reader, "there").await;
    let hidden = milestone(
        &s,
        author,
        "here",
        "Hidden one",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    let moved = milestone(
        &s,
        author,
        "here",
        "Moved one",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    let (hidden_topic, hidden_post) = (
        hidden["topic"]["id"].as_i64().unwrap(),
        hidden["post"]["id"].as_i64().unwrap(),
    );
    let (moved_topic, moved_post) = (
        moved["topic"]["id"].as_i64().unwrap(),
        moved["post"]["id"].as_i64().unwrap(),
    );
    let (st, body) = s
        .post(
            "/api/v1/moderation/actions",
            Some(&admin),
            json!({"action": "hide", "target": {"type": "post", "id": hidden_post}, "reason": "checking this"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Others see a placeholder, with no milestone; the author still sees theirs.
    let (_, seen) = s
        .get(&format!("/api/v1/topics/{hidden_topic}"), Some(reader))
        .await;
    assert_eq!(seen["milestone"], Value::Null, "{seen}");
    let (_, posts) = s
        .get(
            &format!("/api/v1/topics/{hidden_topic}/posts"),
            Some(reader),
        )
        .await;
    assert_eq!(posts["items"][0]["milestone"], Value::Null);
    let (_, own) = s
        .get(&format!("/api/v1/topics/{hidden_topic}"), Some(author))
        .await;
    assert_eq!(own["milestone"]["type"], "non_scale_victory");
    let (_, feed) = s
        .get("/api/v1/communities/here/milestones", Some(reader))
        .await;
    assert_eq!(ids(&feed, "post_id"), [moved_post]);
    // A moved topic's milestone follows it to the other community's feed.
    let (st, body) = s
        .post(
            "/api/v1/moderation/actions",
            Some(&admin),
            json!({"action": "move", "target": {"type": "topic", "id": moved_topic}, "to": "there", "reason": "better fit"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, feed) = s
        .get("/api/v1/communities/here/milestones", Some(reader))
        .await;
    assert!(feed["items"].as_array().unwrap().is_empty(), "{feed}");
    let (_, feed) = s
        .get("/api/v1/communities/there/milestones", Some(reader))
        .await;
    assert_eq!(ids(&feed, "post_id"), [moved_post]);
    assert_eq!(feed["items"][0]["community"], "there");
});

both_backends!(followers_hear_of_staff_first_milestones, |b| async move {
    // With the new-member limits on: a member's first posts wait for a moderator, the
    // community's staff's never do, so their followers hear of them at once (issue 17).
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: true,
            ..ServerOptions::default()
        },
    )
    .await;
    let (admin, t) = setup(&s, "staffed", "public", &["newmod", "newbie", "fan"]).await;
    let (newmod, newbie, fan) = (&t[0], &t[1], &t[2]);
    let (st, body) = s
        .call(
            "PUT",
            "/api/v1/communities/staffed/roles/moderator/newmod",
            Some(&admin),
            None,
        )
        .await;
    assert!(st.is_success(), "{st}: {body}");
    for who in ["newmod", "newbie"] {
        let (st, body) = s
            .call(
                "PUT",
                &format!("/api/v1/users/{who}/follow"),
                Some(fan),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    }
    // The new moderator's first post: shown, and their followers told.
    let staff = milestone(
        &s,
        newmod,
        "staffed",
        "Ran my first 5k",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    assert_eq!(staff["post"]["waiting_hours"], Value::Null, "{staff}");
    let told = of_kind(&notifications(&s, fan).await, "milestone");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["actor"]["username"], "newmod");
    let topic = staff["topic"]["id"].as_i64().unwrap();
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(fan))
        .await;
    assert_eq!(posts["items"].as_array().map(Vec::len), Some(1), "{posts}");
    // A new member's first post waits, and nobody is told of it yet.
    let held = milestone(
        &s,
        newbie,
        "staffed",
        "Walked a mile",
        json!({"type": "non_scale_victory"}),
    )
    .await;
    assert_eq!(held["post"]["waiting_hours"], 24, "{held}");
    assert_eq!(of_kind(&notifications(&s, fan).await, "milestone").len(), 1);
});
