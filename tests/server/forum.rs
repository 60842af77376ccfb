#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The forum through the real server: communities and their privacy, topics and replies,
//! markdown, revisions, deletes, reactions, notifications, search, content warnings, anonymity,
//! identifier warnings and newcomer alerts — on SQLite and on PostgreSQL + Redis.

use crate::common;

use std::collections::HashSet;

use common::{Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(permission_matrix_by_visibility, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    let member = s.register("member").await;
    let outsider = s.register("outsider").await;
    let moderator = s.register("modera").await;
    for (slug, vis) in [
        ("open-group", "public"),
        ("members-group", "members"),
        ("hidden-group", "private"),
    ] {
        s.community(&admin, slug, vis, json!({})).await;
        // The member and the moderator join (private: with the admin's invitations).
        for token in [&member, &moderator] {
            if vis == "private" {
                s.join_invited(&admin, token, slug).await;
            } else {
                s.join(token, slug).await;
            }
        }
        let (st, body) = s
            .call(
                "PUT",
                &format!("/api/v1/communities/{slug}/roles/moderator/modera"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        s.topic(
            &member,
            slug,
            &format!("Hello from {slug}"),
            "Checking my sugar every morning",
        )
        .await;
    }
    // (viewer, can see community, can read posts)
    let viewers: Vec<(&str, Option<&str>)> = vec![
        ("anonymous", None),
        ("outsider", Some(&outsider)),
        ("member", Some(&member)),
        ("moderator", Some(&moderator)),
        ("admin", Some(&admin)),
    ];
    for (slug, vis) in [
        ("open-group", "public"),
        ("members-group", "members"),
        ("hidden-group", "private"),
    ] {
        for (who, token) in &viewers {
            let insider = matches!(*who, "member" | "moderator" | "admin");
            let can_see = vis != "private" || insider;
            let can_read = vis == "public" || insider;
            let (st, _) = s.get(&format!("/api/v1/communities/{slug}"), *token).await;
            assert_eq!(
                st,
                if can_see {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                },
                "{who} sees {slug}"
            );
            let (st, topics) = s
                .get(&format!("/api/v1/communities/{slug}/topics"), *token)
                .await;
            assert_eq!(
                st,
                if can_see {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                },
                "{who} lists {slug}"
            );
            let listed: Vec<String> = s.get("/api/v1/communities", *token).await.1["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["slug"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                listed.contains(&slug.to_string()),
                can_see,
                "{who} lists communities: {listed:?}"
            );
            if !can_see {
                continue;
            }
            let topic_id = topics["items"][0]["id"].as_i64().unwrap();
            let (st, topic) = s.get(&format!("/api/v1/topics/{topic_id}"), *token).await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(
                topic["title"],
                format!("Hello from {slug}"),
                "the title stub is visible"
            );
            let (st, posts) = s
                .get(&format!("/api/v1/topics/{topic_id}/posts"), *token)
                .await;
            assert_eq!(
                st,
                if can_read {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                },
                "{who} reads {slug}"
            );
            if !can_read {
                assert!(!posts.to_string().contains("sugar"), "{posts}");
            }
            let (st, hits) = s.get("/api/v1/search?q=sugar", *token).await;
            assert_eq!(st, StatusCode::OK);
            let found = hits["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["community"] == slug);
            assert_eq!(found, can_read, "{who} searching finds {slug}: {hits}");
            // Posting needs membership.
            let (st, _) = s
                .post(
                    &format!("/api/v1/topics/{topic_id}/posts"),
                    *token,
                    json!({"body": "a reply"}),
                )
                .await;
            let want = match *who {
                "anonymous" => StatusCode::UNAUTHORIZED,
                "outsider" => StatusCode::FORBIDDEN,
                "admin" | "member" | "moderator" => StatusCode::CREATED,
                _ => unreachable!(),
            };
            assert_eq!(st, want, "{who} replies in {slug}");
        }
    }
    // A private community says nothing to outsiders, even through its members list or log.
    for path in [
        "/api/v1/communities/hidden-group/members",
        "/api/v1/communities/hidden-group/modlog",
        "/api/v1/communities/hidden-group/topics",
    ] {
        let (st, body) = s.get(path, Some(&outsider)).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}: {body}");
    }
});

both_backends!(
    private_communities_are_joined_by_approved_request,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sleeve-circle", "private", json!({}))
            .await;
        let ana = s.register("ana").await;
        let luis = s.register("luis").await;
        // The address alone opens nothing; a referral link's code asks to join.
        let (st, _) = s
            .call(
                "POST",
                "/api/v1/communities/sleeve-circle/join",
                Some(&ana),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, link) = s
            .post(
                "/api/v1/communities/sleeve-circle/referrals",
                Some(&admin),
                json!({"label": "Clinic"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{link}");
        let code = link["code"].as_str().unwrap().to_owned();
        let (st, body) = s
            .post(
                "/api/v1/communities/sleeve-circle/join",
                Some(&ana),
                json!({"code": code}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED);
        assert_eq!(body["status"], "pending");
        // Pending is not membership.
        assert_eq!(
            s.get("/api/v1/communities/sleeve-circle/topics", Some(&ana))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        // Only moderators and organisers decide.
        let (st, _) = s
            .post(
                "/api/v1/communities/sleeve-circle/join",
                Some(&luis),
                json!({"code": code}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED);
        let (st, _) = s
            .post(
                "/api/v1/communities/sleeve-circle/requests/ana",
                Some(&luis),
                json!({"approve": true}),
            )
            .await;
        assert_eq!(
            st,
            StatusCode::NOT_FOUND,
            "a pending outsider cannot even see it"
        );
        let (st, reqs) = s
            .get("/api/v1/communities/sleeve-circle/requests", Some(&admin))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(reqs["items"].as_array().unwrap().len(), 2);
        let (st, _) = s
            .post(
                "/api/v1/communities/sleeve-circle/requests/ana",
                Some(&admin),
                json!({"approve": true}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = s
            .post(
                "/api/v1/communities/sleeve-circle/requests/luis",
                Some(&admin),
                json!({"approve": false}),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(
            s.get("/api/v1/communities/sleeve-circle/topics", Some(&ana))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            s.get("/api/v1/communities/sleeve-circle/topics", Some(&luis))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (_, c) = s.get("/api/v1/communities/sleeve-circle", Some(&ana)).await;
        assert_eq!(c["membership"]["status"], "active");
        assert_eq!(c["member_count"], 2);
        // Leaving ends access.
        let (st, _) = s
            .call(
                "POST",
                "/api/v1/communities/sleeve-circle/leave",
                Some(&ana),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert_eq!(
            s.get("/api/v1/communities/sleeve-circle/topics", Some(&ana))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
);

both_backends!(
    community_roles_are_granted_by_admins_and_organisers,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "bp-club", "public", json!({})).await;
        let org = s.register("org").await;
        let member = s.register("plain").await;
        let helper = s.register("helper").await;
        for t in [&org, &member, &helper] {
            s.join(t, "bp-club").await;
        }
        let put = |token: String, role: &'static str, who: &'static str| {
            let s = &s;
            async move {
                s.call(
                    "PUT",
                    &format!("/api/v1/communities/bp-club/roles/{role}/{who}"),
                    Some(&token),
                    None,
                )
                .await
                .0
            }
        };
        assert_eq!(
            put(member.clone(), "moderator", "helper").await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            put(admin.clone(), "organiser", "org").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            put(org.clone(), "moderator", "helper").await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            put(org.clone(), "superhero", "helper").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let outsider = s.register("stranger").await;
        drop(outsider);
        assert_eq!(
            put(org.clone(), "moderator", "stranger").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "only members get roles"
        );
        // The new moderator can pin; a plain member cannot.
        let (topic, _) = s
            .topic(
                &member,
                "bp-club",
                "My readings this week",
                "130/85 this morning",
            )
            .await;
        let pin = json!({"action": "pin", "target": {"type": "topic", "id": topic}, "reason": "useful for everyone"});
        assert_eq!(
            s.post("/api/v1/moderation/actions", Some(&member), pin.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.post("/api/v1/moderation/actions", Some(&helper), pin)
                .await
                .0,
            StatusCode::OK
        );
        let (_, me) = s.get("/api/v1/communities/bp-club", Some(&helper)).await;
        assert_eq!(me["membership"]["roles"], json!(["moderator"]));
        let (st, _) = s
            .call(
                "DELETE",
                "/api/v1/communities/bp-club/roles/moderator/helper",
                Some(&org),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, me) = s.get("/api/v1/communities/bp-club", Some(&helper)).await;
        assert_eq!(me["membership"]["roles"], json!([]));
    }
);

both_backends!(
    topics_list_pinned_first_then_by_activity_with_unread_counts,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "t2d", "public", json!({})).await;
        let ana = s.register("ana").await;
        let ben = s.register("ben").await;
        s.join(&ana, "t2d").await;
        s.join(&ben, "t2d").await;
        let (t1, _) = s.topic(&ana, "t2d", "First topic here", "one").await;
        let (t2, _) = s.topic(&ana, "t2d", "Second topic here", "two").await;
        let (t3, _) = s.topic(&ana, "t2d", "Third topic here", "three").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        s.reply(&ben, t1, json!({"body": "bumping the first"}))
            .await;
        let (st, _) = s
        .post("/api/v1/moderation/actions", Some(&admin), json!({"action": "pin", "target": {"type": "topic", "id": t2}, "reason": "welcome thread"}))
        .await;
        assert_eq!(st, StatusCode::OK);
        let (_, list) = s.get("/api/v1/communities/t2d/topics", Some(&ana)).await;
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![t2, t1, t3]);
        assert_eq!(list["items"][0]["pinned"], true);
        // Ana has read her own topics but not Ben's reply.
        assert_eq!(list["items"][1]["unread"], 1);
        assert_eq!(list["items"][2]["unread"], 0);
        let (_, ben_list) = s.get("/api/v1/communities/t2d/topics", Some(&ben)).await;
        assert_eq!(
            ben_list["items"][2]["unread"], 1,
            "never opened: everything is new"
        );
        s.get(&format!("/api/v1/topics/{t1}/posts"), Some(&ana))
            .await;
        let (_, list) = s.get("/api/v1/communities/t2d/topics", Some(&ana)).await;
        assert_eq!(list["items"][1]["unread"], 0);
        // Paging the list with a small limit gives the same order, each once.
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let (st, page) = s
                .get(
                    &format!("/api/v1/communities/t2d/topics?limit=1&after={after}"),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::OK);
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap()),
            );
            match page["next"].as_str() {
                Some(n) => after = n.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, vec![t2, t1, t3]);
        // Anonymous readers get no unread counts.
        let (_, anon) = s.get("/api/v1/communities/t2d/topics", None).await;
        assert!(anon["items"][0]["unread"].is_null());
        let (st, _) = s
            .get("/api/v1/communities/t2d/topics?after=garbage", None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (st, _) = s
            .get("/api/v1/communities/t2d/topics?limit=1000", None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
    }
);

both_backends!(
    replies_thread_with_reply_to_and_locked_topics_refuse,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sleeve", "public", json!({})).await;
        let ana = s.register("ana").await;
        let ben = s.register("ben").await;
        s.join(&ana, "sleeve").await;
        s.join(&ben, "sleeve").await;
        let (topic, first) = s
            .topic(
                &ana,
                "sleeve",
                "Six months after surgery",
                "Bought clothes off the rack!",
            )
            .await;
        let r1 = s
            .reply(
                &ben,
                topic,
                json!({"body": "Congratulations!", "reply_to": first}),
            )
            .await;
        let r2 = s
            .reply(
                &ana,
                topic,
                json!({"body": "Thank you Ben", "reply_to": r1["id"]}),
            )
            .await;
        let r3 = s
            .reply(&ben, topic, json!({"body": "Another branch"}))
            .await;
        assert_eq!(r1["reply_to"], first);
        assert_eq!(r2["reply_to"], r1["id"]);
        assert!(r3["reply_to"].is_null());
        assert_eq!(
            (r1["seq"].as_i64(), r2["seq"].as_i64(), r3["seq"].as_i64()),
            (Some(2), Some(3), Some(4))
        );
        // reply_to must be in the same topic.
        let (other, other_first) = s.topic(&ana, "sleeve", "Another topic entirely", "x").await;
        let (st, body) = s
            .post(
                &format!("/api/v1/topics/{topic}/posts"),
                Some(&ben),
                json!({"body": "x", "reply_to": other_first}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["reply_to"].is_array());
        let (_, t) = s.get(&format!("/api/v1/topics/{topic}"), None).await;
        assert_eq!(t["reply_count"], 3);
        // Locked: members cannot reply, moderators can.
        let (st, _) = s
        .post("/api/v1/moderation/actions", Some(&admin), json!({"action": "lock", "target": {"type": "topic", "id": other}, "reason": "resolved"}))
        .await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = s
            .post(
                &format!("/api/v1/topics/{other}/posts"),
                Some(&ben),
                json!({"body": "late"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        s.join(&admin, "sleeve").await;
        s.reply(&admin, other, json!({"body": "closing note"}))
            .await;
        // The log shows both actions with reasons.
        let (st, log) = s.get("/api/v1/communities/sleeve/modlog", Some(&ben)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(log["items"][0]["action"], "lock");
        assert_eq!(log["items"][0]["reason"], "resolved");
    }
);

both_backends!(
    paging_sees_every_post_once_while_others_write,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "busy", "public", json!({})).await;
        let mut writers = Vec::new();
        for i in 0..4 {
            let t = s.register(&format!("writer{i}")).await;
            s.join(&t, "busy").await;
            writers.push(t);
        }
        let (topic, _) = s
            .topic(&writers[0], "busy", "A very busy topic", "start")
            .await;
        let per_writer = 40;
        let mut tasks = Vec::new();
        for token in writers.clone() {
            let client = s.client.clone();
            let url = s.url(&format!("/api/v1/topics/{topic}/posts"));
            tasks.push(tokio::spawn(async move {
                for n in 0..per_writer {
                    let resp = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"body": format!("post {n}")}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), StatusCode::CREATED);
                }
            }));
        }
        // Read concurrently, page by page, following `next` and retrying the tail.
        let mut seen: Vec<i64> = Vec::new();
        let mut ids = HashSet::new();
        let mut after = 0i64;
        let total = 1 + 4 * per_writer;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while seen.len() < total as usize {
            assert!(
                std::time::Instant::now() < deadline,
                "only saw {} posts",
                seen.len()
            );
            let (st, page) = s
                .get(
                    &format!("/api/v1/topics/{topic}/posts?limit=7&after={after}"),
                    None,
                )
                .await;
            assert_eq!(st, StatusCode::OK);
            for p in page["items"].as_array().unwrap() {
                let seq = p["seq"].as_i64().unwrap();
                assert!(
                    ids.insert(p["id"].as_i64().unwrap()),
                    "post {} seen twice",
                    p["id"]
                );
                assert_eq!(seq, after + 1, "a gap or reordering: {seq} after {after}");
                after = seq;
                seen.push(seq);
            }
            if page["items"].as_array().unwrap().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    }
);

both_backends!(
    markdown_is_rendered_once_and_hostile_input_is_inert,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "mdown", "public", json!({})).await;
        let ana = s.register("ana").await;
        s.join(&ana, "mdown").await;
        let body = "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ **new**\n\n- [x] walked\n- [ ] swam\n\n[site](https://example.org)";
        let (topic, first) = s.topic(&ana, "mdown", "Markdown features", body).await;
        let (_, post) = s.get(&format!("/api/v1/posts/{first}"), None).await;
        let html = post["body_html"].as_str().unwrap();
        assert!(
            html.contains("<table>")
                && html.contains("<del>old</del>")
                && html.contains("<strong>new</strong>"),
            "{html}"
        );
        assert!(html.contains("checkbox"), "{html}");
        assert!(html.contains(r#"rel="nofollow ugc noopener""#), "{html}");
        assert_eq!(post["body"], body, "the markdown is kept as written");
        for (i, vector) in mutual::markdown::XSS_VECTORS.iter().enumerate() {
            // Text holding NUL is refused at the door (422 `invalid_text`, tests/door.rs).
            if vector.contains('\0') {
                continue;
            }
            let reply = s
                .reply(
                    &ana,
                    topic,
                    json!({"body": vector, "confirm_identifiers": true}),
                )
                .await;
            let html = reply["body_html"].as_str().unwrap();
            if let Err(why) = mutual::markdown::is_inert_html(html) {
                panic!("vector {i} {vector:?} survived as {html:?}: {why}");
            }
        }
        assert!(mutual::markdown::XSS_VECTORS.len() >= 50);
    }
);

both_backends!(edits_keep_revisions_and_deletes_are_soft, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "edits", "public", json!({})).await;
    let ana = s.register("ana").await;
    let ben = s.register("ben").await;
    let modr = s.register("modr").await;
    for t in [&ana, &ben, &modr] {
        s.join(t, "edits").await;
    }
    s.call(
        "PUT",
        "/api/v1/communities/edits/roles/moderator/modr",
        Some(&admin),
        None,
    )
    .await;
    let (topic, first) = s
        .topic(&ana, "edits", "Editing my post", "first version")
        .await;
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/api/v1/posts/{first}"),
            Some(&ben),
            Some(json!({"body": "hijack"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, post) = s
        .call(
            "PATCH",
            &format!("/api/v1/posts/{first}"),
            Some(&ana),
            Some(json!({"body": "second version"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{post}");
    assert_eq!(post["body"], "second version");
    assert!(post["edited_at"].is_string());
    s.call(
        "PATCH",
        &format!("/api/v1/posts/{first}"),
        Some(&ana),
        Some(json!({"body": "third version"})),
    )
    .await;
    for token in [&ana, &modr] {
        let (st, revs) = s
            .get(&format!("/api/v1/posts/{first}/revisions"), Some(token))
            .await;
        assert_eq!(st, StatusCode::OK);
        let bodies: Vec<&str> = revs
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["body"].as_str().unwrap())
            .collect();
        assert_eq!(bodies, vec!["first version", "second version"]);
        assert_eq!(revs[0]["editor"]["username"], "ana");
    }
    assert_eq!(
        s.get(&format!("/api/v1/posts/{first}/revisions"), Some(&ben))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Deletes: others may not; the author and moderators may; the post stays as a placeholder.
    let reply = s
        .reply(&ben, topic, json!({"body": "a reply to remove"}))
        .await;
    let rid = reply["id"].as_i64().unwrap();
    assert_eq!(
        s.call("DELETE", &format!("/api/v1/posts/{rid}"), Some(&ana), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.call("DELETE", &format!("/api/v1/posts/{rid}"), Some(&modr), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, posts) = s.get(&format!("/api/v1/topics/{topic}/posts"), None).await;
    let placeholder = &posts["items"][1];
    assert_eq!(placeholder["deleted"], true);
    assert_eq!(placeholder["body"], "");
    assert!(placeholder["author"].is_null());
    assert!(!posts.to_string().contains("a reply to remove"));
    let (_, t) = s.get(&format!("/api/v1/topics/{topic}"), None).await;
    assert_eq!(t["reply_count"], 0);
    let (_, hits) = s.get("/api/v1/search?q=remove", None).await;
    assert_eq!(
        hits["items"].as_array().unwrap().len(),
        0,
        "deleted posts leave search"
    );
    // Deleting the opening post deletes the topic.
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/v1/posts/{first}"),
            Some(&ana),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get(&format!("/api/v1/topics/{topic}"), None).await.0,
        StatusCode::NOT_FOUND
    );
});

both_backends!(reactions_are_one_per_kind_per_member, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "react", "public", json!({})).await;
    let ana = s.register("ana").await;
    let ben = s.register("ben").await;
    let cy = s.register("cyd").await;
    for t in [&ana, &ben] {
        s.join(t, "react").await;
    }
    let (topic, first) = s
        .topic(
            &ana,
            "react",
            "I crossed my legs again",
            "First time in years",
        )
        .await;
    let path = format!("/api/v1/posts/{first}/reactions");
    for _ in 0..3 {
        let (st, r) = s
            .post(&path, Some(&ben), json!({"kind": "celebrate"}))
            .await;
        assert_eq!(st, StatusCode::OK, "{r}");
    }
    s.post(&path, Some(&ben), json!({"kind": "hug"})).await;
    let (_, r) = s
        .post(&path, Some(&ana), json!({"kind": "celebrate"}))
        .await;
    assert_eq!(r["reactions"], json!({"celebrate": 2, "hug": 1}));
    assert_eq!(r["my_reactions"], json!(["celebrate"]));
    assert_eq!(
        s.post(&path, Some(&ben), json!({"kind": "angry"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        s.post(&path, Some(&cy), json!({"kind": "heart"})).await.0,
        StatusCode::FORBIDDEN,
        "members react"
    );
    let (st, r) = s
        .call("DELETE", &path, Some(&ben), Some(json!({"kind": "hug"})))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(r["reactions"], json!({"celebrate": 2}));
    let (_, post) = s.get(&format!("/api/v1/posts/{first}"), Some(&ben)).await;
    assert_eq!(post["reactions"], json!({"celebrate": 2}));
    assert_eq!(post["my_reactions"], json!(["celebrate"]));
    // The topic's page says the same to each reader, and nothing once every reaction is gone.
    let listing = format!("/api/v1/topics/{topic}/posts");
    let (_, page) = s.get(&listing, Some(&ben)).await;
    assert_eq!(page["items"][0]["my_reactions"], json!(["celebrate"]));
    let (_, page) = s.get(&listing, Some(&ana)).await;
    assert_eq!(page["items"][0]["my_reactions"], json!(["celebrate"]));
    for who in [&ana, &ben] {
        s.call(
            "DELETE",
            &path,
            Some(who),
            Some(json!({"kind": "celebrate"})),
        )
        .await;
    }
    let (_, page) = s.get(&listing, Some(&ben)).await;
    assert_eq!(page["items"][0]["reactions"], json!({}));
    assert_eq!(page["items"][0]["my_reactions"], json!([]));
});

async fn notifications(s: &Server, token: &str) -> Value {
    let (st, n) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(st, StatusCode::OK);
    n
}

both_backends!(
    mentions_replies_and_quotes_notify_without_text,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "notes", "members", json!({"allow_anonymous": true}))
            .await;
        let ana = s.register("ana").await;
        let ben = s.register("ben").await;
        let cy = s.register("cyd").await;
        let outsider = s.register("outsider").await;
        for t in [&ana, &ben, &cy] {
            s.join(t, "notes").await;
        }
        let (topic, first) = s
            .topic(
                &ana,
                "notes",
                "My A1c went up",
                "Feeling low about my numbers",
            )
            .await;
        // A reply to the topic notifies its author.
        let reply = s
            .reply(
                &ben,
                topic,
                json!({"body": "Hang in there @cyd what do you think? Also @outsider"}),
            )
            .await;
        let n = notifications(&s, &ana).await;
        assert_eq!(n["unread"], 1);
        assert_eq!(n["items"][0]["kind"], "reply");
        assert_eq!(n["items"][0]["actor"]["username"], "ben");
        assert_eq!(n["items"][0]["topic_id"], topic);
        let text = n.to_string();
        assert!(
            !text.contains("A1c") && !text.contains("numbers") && !text.contains("Hang in"),
            "no health text: {text}"
        );
        let n = notifications(&s, &cy).await;
        assert_eq!(n["items"][0]["kind"], "mention");
        // The outsider cannot read a members community, so is not told.
        assert_eq!(notifications(&s, &outsider).await["unread"], 0);
        // Answering a specific post notifies that post's author.
        s.reply(
            &cy,
            topic,
            json!({"body": "agreed", "reply_to": reply["id"]}),
        )
        .await;
        let n = notifications(&s, &ben).await;
        assert_eq!(n["items"][0]["kind"], "reply");
        assert_eq!(n["items"][0]["actor"]["username"], "cyd");
        // Quoting links the source post.
        s.reply(
            &cy,
            topic,
            json!({"body": format!("> Feeling low\n>\n> — [ana](/p/{first})\n\nSame here")}),
        )
        .await;
        let n = notifications(&s, &ana).await;
        assert_eq!(n["items"][0]["kind"], "quote");
        // Nobody is told about their own post; mentioning yourself is silent.
        let before = notifications(&s, &cy).await["unread"].as_i64().unwrap();
        s.reply(&cy, topic, json!({"body": "note to self @cydd"}))
            .await;
        assert_eq!(
            notifications(&s, &cy).await["unread"].as_i64().unwrap(),
            before
        );
        // Anonymous posts do not name their author in notifications.
        s.reply(
            &ben,
            topic,
            json!({"body": "@cyd quietly", "anonymous": true}),
        )
        .await;
        let n = notifications(&s, &cy).await;
        assert_eq!(n["items"][0]["kind"], "mention");
        assert!(n["items"][0]["actor"].is_null(), "{n}");
        // Mark read up to an id.
        let newest = n["items"][0]["id"].as_i64().unwrap();
        let (st, r) = s
            .post(
                "/api/v1/notifications/read",
                Some(&cy),
                json!({"up_to": newest}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(r["unread"], 0);
        let (_, count) = s.get("/api/v1/notifications/unread", Some(&cy)).await;
        assert_eq!(count["unread"], 0);
        assert!(
            notifications(&s, &cy).await["items"][0]["read"]
                .as_bool()
                .unwrap()
        );
    }
);

both_backends!(
    search_is_accent_and_case_insensitive_in_spanish_and_english,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "diabetes-es", "public", json!({}))
            .await;
        s.community(&admin, "private-es", "private", json!({}))
            .await;
        let ana = s.register("ana").await;
        s.join(&ana, "diabetes-es").await;
        s.join(&admin, "private-es").await;
        s.topic(
            &ana,
            "diabetes-es",
            "Azúcar alta por la mañana",
            "Mi nivel de AZÚCAR estaba en 180 después del desayuno",
        )
        .await;
        s.topic(
            &ana,
            "diabetes-es",
            "Walking after dinner",
            "My blood sugar drops when I walk after dinner",
        )
        .await;
        s.topic(
            &admin,
            "private-es",
            "Azúcar secreta",
            "Notas privadas sobre el azúcar",
        )
        .await;
        // "azucar" finds the Spanish post and, through its synonyms, the one about blood sugar.
        let (st, hits) = s.get("/api/v1/search?q=azucar", None).await;
        assert_eq!(st, StatusCode::OK);
        let items = hits["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{hits}");
        assert!(items.iter().all(|i| i["community"] == "diabetes-es"));
        let (_, hits) = s.get("/api/v1/search?q=azucar%20manana", None).await;
        let items = hits["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{hits}");
        let snippet = items[0]["snippet"].as_str().unwrap();
        assert!(
            snippet.contains("<mark>") && snippet.to_lowercase().contains("azúcar"),
            "{snippet}"
        );
        assert_eq!(
            s.get("/api/v1/search?q=MANANA", None).await.1["items"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "title words and accents"
        );
        assert_eq!(
            s.get("/api/v1/search?q=walk%20dinner", None).await.1["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.get("/api/v1/search?q=desayun", None).await.1["items"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "prefix"
        );
        assert_eq!(
            s.get("/api/v1/search?q=nothinglikethis", None).await.1["items"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        // Members of the private community find its posts; nobody else does.
        let (_, mine) = s
            .get("/api/v1/search?q=azucar&community=private-es", Some(&admin))
            .await;
        assert_eq!(mine["items"].as_array().unwrap().len(), 1);
        let (_, theirs) = s.get("/api/v1/search?q=secreta", Some(&ana)).await;
        assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
        assert_eq!(
            s.get("/api/v1/search?q=a", None).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        // Paging through hits.
        for i in 0..5 {
            s.topic(
                &ana,
                "diabetes-es",
                &format!("Ayuno número {i}"),
                "medido en ayunas",
            )
            .await;
        }
        let (_, p1) = s.get("/api/v1/search?q=ayunas&limit=3", None).await;
        assert_eq!(p1["items"].as_array().unwrap().len(), 3);
        let next = p1["next"].as_str().unwrap();
        let (_, p2) = s
            .get(
                &format!("/api/v1/search?q=ayunas&limit=3&after={next}"),
                None,
            )
            .await;
        assert_eq!(p2["items"].as_array().unwrap().len(), 2);
        assert!(p2["next"].is_null());
        let mut all: Vec<i64> = p1["items"]
            .as_array()
            .unwrap()
            .iter()
            .chain(p2["items"].as_array().unwrap())
            .map(|h| h["post_id"].as_i64().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
    }
);

both_backends!(
    content_warnings_collapse_and_anonymous_posts_hide_the_author,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "anon-ok",
            "public",
            json!({"allow_anonymous": true}),
        )
        .await;
        s.community(&admin, "named-only", "public", json!({})).await;
        let ana = s.register("ana").await;
        let ben = s.register("ben").await;
        let modr = s.register("modr").await;
        for t in [&ana, &ben, &modr] {
            s.join(t, "anon-ok").await;
            s.join(t, "named-only").await;
        }
        s.call(
            "PUT",
            "/api/v1/communities/anon-ok/roles/moderator/modr",
            Some(&admin),
            None,
        )
        .await;
        let (st, me) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&ben),
                Some(json!({"content_filters": ["weight", "food"]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(me["content_filters"], json!(["weight", "food"]));
        assert_eq!(
            s.call(
                "PATCH",
                "/api/v1/me",
                Some(&ben),
                Some(json!({"content_filters": ["spiders"]}))
            )
            .await
            .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (st, created) = s
        .post(
            "/api/v1/communities/anon-ok/topics",
            Some(&ana),
            json!({"title": "My weigh-in today", "body": "Down 3 kg", "content_warning": "weight", "anonymous": true}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let topic = created["topic"]["id"].as_i64().unwrap();
        let post = created["post"]["id"].as_i64().unwrap();
        assert_eq!(created["post"]["mine"], true);
        let (_, for_ben) = s
            .get(&format!("/api/v1/topics/{topic}/posts"), Some(&ben))
            .await;
        assert_eq!(for_ben["items"][0]["content_warning"], "weight");
        assert_eq!(for_ben["items"][0]["collapsed"], true);
        assert!(for_ben["items"][0]["author"].is_null());
        assert_eq!(for_ben["items"][0]["mine"], false);
        assert!(!for_ben.to_string().contains("\"ana\""), "{for_ben}");
        let (_, for_mod) = s
            .get(&format!("/api/v1/topics/{topic}/posts"), Some(&modr))
            .await;
        assert_eq!(for_mod["items"][0]["collapsed"], false);
        assert!(
            for_mod["items"][0]["author"].is_null(),
            "moderators also see anonymous until they reveal"
        );
        let (_, listing) = s
            .get("/api/v1/communities/anon-ok/topics", Some(&ben))
            .await;
        assert!(listing["items"][0]["author"].is_null());
        assert_eq!(listing["items"][0]["collapsed"], true);
        // Revealing is for moderators, needs a reason, and is logged.
        let reveal = format!("/api/v1/posts/{post}/reveal");
        assert_eq!(
            s.post(&reveal, Some(&ben), json!({"reason": "curious"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.post(&reveal, Some(&modr), json!({"reason": ""})).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (st, who) = s
            .post(
                &reveal,
                Some(&modr),
                json!({"reason": "threats in a reply"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(who["author"]["username"], "ana");
        let (_, log) = s
            .get("/api/v1/communities/anon-ok/modlog", Some(&ben))
            .await;
        assert_eq!(log["items"][0]["action"], "reveal_author");
        assert_eq!(log["items"][0]["reason"], "threats in a reply");
        assert!(
            !log.to_string().contains("\"ana\""),
            "the log does not name the author: {log}"
        );
        // Where the community does not allow it, anonymous posting is refused.
        let (st, body) = s
            .post(
                "/api/v1/communities/named-only/topics",
                Some(&ana),
                json!({"title": "Not anonymous here", "body": "x", "anonymous": true}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["anonymous"].is_array());
    }
);

both_backends!(
    member_lists_are_for_members_and_presence_can_be_hidden,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "listed", "public", json!({})).await;
        s.community(
            &admin,
            "unlisted",
            "public",
            json!({"member_list": "hidden"}),
        )
        .await;
        let ana = s.register("ana").await;
        let shy = s.register("shy").await;
        let outsider = s.register("outsider").await;
        for t in [&ana, &shy] {
            s.join(t, "listed").await;
            s.join(t, "unlisted").await;
        }
        s.call(
            "PATCH",
            "/api/v1/me",
            Some(&shy),
            Some(json!({"hide_presence": true})),
        )
        .await;
        let (st, list) = s
            .get("/api/v1/communities/listed/members", Some(&ana))
            .await;
        assert_eq!(st, StatusCode::OK);
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["username"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"ana") && !names.contains(&"shy"),
            "{names:?}"
        );
        let (_, for_admin) = s
            .get("/api/v1/communities/listed/members", Some(&admin))
            .await;
        assert!(
            for_admin.to_string().contains("\"shy\""),
            "moderators still see everyone"
        );
        assert_eq!(
            s.get("/api/v1/communities/listed/members", Some(&outsider))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.get("/api/v1/communities/listed/members", None).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.get("/api/v1/communities/unlisted/members", Some(&ana))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.get("/api/v1/communities/unlisted/members", Some(&admin))
                .await
                .0,
            StatusCode::OK
        );
    }
);

both_backends!(personal_identifiers_need_confirmation, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "pii", "public", json!({})).await;
    let ana = s.register("ana").await;
    s.join(&ana, "pii").await;
    let (topic, _) = s
        .topic(&ana, "pii", "Contact for rides", "Ask in the thread")
        .await;
    for (text, kind) in [
        ("Call me at +52 55 1234 5678", "phone"),
        ("write to ana.maria@example.org", "email"),
        ("my CURP is GODE561231HDFRRN09", "curp"),
    ] {
        let (st, body) = s
            .post(
                &format!("/api/v1/topics/{topic}/posts"),
                Some(&ana),
                json!({"body": text}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {body}");
        assert!(
            body["error"]["fields"]["identifiers"]
                .as_array()
                .unwrap()
                .contains(&json!(kind)),
            "{body}"
        );
        let (st, _) = s
            .post(
                &format!("/api/v1/topics/{topic}/posts"),
                Some(&ana),
                json!({"body": text, "confirm_identifiers": true}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&ana),
            json!({"body": "A1c 6.5 and 120/80 today"}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "health numbers are not identifiers"
    );
});

both_backends!(limits_name_the_offending_field, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "limits", "public", json!({})).await;
    let ana = s.register("ana").await;
    s.join(&ana, "limits").await;
    let cases = [
        (json!({"title": "Hey", "body": "ok"}), "title"),
        (json!({"title": "x".repeat(201), "body": "ok"}), "title"),
        (json!({"title": "Fine title", "body": ""}), "body"),
        (
            json!({"title": "Fine title", "body": "x".repeat(50_001)}),
            "body",
        ),
        (
            json!({"title": "Fine title", "body": "ok", "content_warning": "spiders"}),
            "content_warning",
        ),
        (
            json!({"title": "Fine title", "body": "ok", "kind": "themed"}),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let (st, answer) = s
            .post("/api/v1/communities/limits/topics", Some(&ana), body)
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(
            answer["error"]["fields"][field].is_array(),
            "{field}: {answer}"
        );
    }
    let (st, answer) = s
        .post(
            "/api/v1/communities",
            Some(&admin),
            json!({"slug": "Bad Slug", "name": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["error"]["fields"]["slug"].is_array()
            && answer["error"]["fields"]["name"].is_array(),
        "{answer}"
    );
    assert_eq!(
        s.post(
            "/api/v1/communities",
            Some(&ana),
            json!({"slug": "mine", "name": "Mine"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(
            "/api/v1/communities",
            Some(&admin),
            json!({"slug": "limits", "name": "Again"})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.get("/api/v1/topics/999999", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/api/v1/topics/abc", None).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.get("/api/v1/posts/999999", None).await.0,
        StatusCode::NOT_FOUND
    );
});

both_backends!(
    unanswered_first_topics_reach_the_welcomers,
    |b| async move {
        let s = Server::start_with(
            b,
            ServerOptions {
                extra_env: vec![("MUTUAL_JOB_INTERVAL_SECS".into(), "1".into())],
                ..Default::default()
            },
        )
        .await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "welcome",
            "members",
            json!({"newcomer_alert_minutes": 0}),
        )
        .await;
        let greeter = s.register("greeter").await;
        let newbie = s.register("newbie").await;
        let other = s.register("other").await;
        for t in [&greeter, &newbie, &other] {
            s.join(t, "welcome").await;
        }
        s.call(
            "PUT",
            "/api/v1/communities/welcome/roles/welcomer/greeter",
            Some(&admin),
            None,
        )
        .await;
        let (unanswered, _) = s
            .topic(
                &newbie,
                "welcome",
                "Hello, just diagnosed",
                "Where do I start?",
            )
            .await;
        let (answered, _) = s.topic(&other, "welcome", "Also new here", "Hi all").await;
        s.reply(&greeter, answered, json!({"body": "Welcome!"}))
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let items = loop {
            let n = notifications(&s, &greeter).await;
            let items: Vec<Value> = n["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["kind"] == "newcomer_unanswered")
                .cloned()
                .collect();
            if !items.is_empty() || std::time::Instant::now() > deadline {
                break items;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        };
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["topic_id"], unanswered);
        // Alerted once only.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let n = notifications(&s, &greeter).await;
        assert_eq!(
            n["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["kind"] == "newcomer_unanswered")
                .count(),
            1
        );
    }
);

both_backends!(
    concurrent_replies_are_stored_together_and_a_failing_one_fails_alone,
    |b| async move {
        // Replies are committed in groups (forum::writer). Thirty replies to one topic and thirty
        // to another go in at once while the second topic is deleted: every reply to the first
        // is stored and numbered without a gap, whatever group it shared with a failing one.
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "busy", "public", json!({})).await;
        let ana = s.register("ana").await;
        let ben = s.register("ben").await;
        for t in [&ana, &ben] {
            s.join(t, "busy").await;
        }
        let (kept, _) = s.topic(&ana, "busy", "Kept open", "opening words").await;
        let (doomed, doomed_first) = s.topic(&ana, "busy", "Doomed topic", "opening words").await;
        let mut calls = Vec::new();
        for i in 0..30 {
            for (topic, name) in [(kept, "kept"), (doomed, "doomed")] {
                let s = &s;
                let ben = &ben;
                calls.push(async move {
                    let (st, v) = s
                        .call(
                            "POST",
                            &format!("/api/v1/topics/{topic}/posts"),
                            Some(ben),
                            Some(json!({"body": format!("{name} reply {i}")})),
                        )
                        .await;
                    (name, st, v)
                });
            }
        }
        let first_post = format!("/api/v1/posts/{doomed_first}");
        let delete = s.call("DELETE", &first_post, Some(&ana), None);
        let (answers, (deleted, _)) = tokio::join!(futures_util::future::join_all(calls), delete);
        assert!(deleted.is_success(), "{deleted}");
        let mut acknowledged = HashSet::new();
        for (name, st, v) in &answers {
            if *name == "kept" {
                assert_eq!(*st, StatusCode::CREATED, "{v}");
                acknowledged.insert(v["post"]["body"].as_str().unwrap().to_owned());
            } else {
                assert!(
                    *st == StatusCode::CREATED || *st == StatusCode::NOT_FOUND,
                    "a reply to a deleted topic: {st} {v}"
                );
            }
        }
        let (st, page) = s
            .get(&format!("/api/v1/topics/{kept}/posts?limit=100"), None)
            .await;
        assert_eq!(st, StatusCode::OK);
        let items = page["items"].as_array().unwrap();
        let seqs: Vec<i64> = items.iter().map(|p| p["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=31).collect::<Vec<i64>>());
        let stored: HashSet<String> = items[1..]
            .iter()
            .map(|p| p["body"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(stored, acknowledged);
        assert_eq!(stored.len(), 30);
        // The topic's author heard of each reply, once.
        let (_, notes) = s.get("/api/v1/notifications?limit=100", Some(&ana)).await;
        let about_kept = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["topic_id"] == kept)
            .count();
        assert_eq!(about_kept, 30, "{notes}");
    }
);

both_backends!(a_reply_answers_as_the_post_reads_back, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "echo", "public", json!({"allow_anonymous": true}))
        .await;
    let ana = s.register("ana").await;
    let ben = s.register("ben").await;
    for t in [&ana, &ben] {
        s.join(t, "echo").await;
    }
    // Ben collapses posts about weight: his own reply under that warning says so too.
    s.call(
        "PATCH",
        "/api/v1/me",
        Some(&ben),
        Some(json!({"content_filters": ["weight"]})),
    )
    .await;
    let (topic, first) = s
        .topic(&ana, "echo", "Weigh-in day", "How did it go?")
        .await;
    let replies = [
        json!({"body": "Fine, **thanks**: see @ana"}),
        json!({"body": "Down 2 kg", "content_warning": "weight"}),
        json!({"body": "Rather not say who I am", "anonymous": true, "reply_to": first}),
        // Words of a crisis: held for review and read back as the stage left it.
        json!({"body": "I want to kill myself"}),
    ];
    for reply in replies {
        let (st, answer) = s
            .post(
                &format!("/api/v1/topics/{topic}/posts"),
                Some(&ben),
                reply.clone(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{answer}");
        let answer = answer["post"].clone();
        let id = answer["id"].as_i64().unwrap();
        let (_, read) = s.get(&format!("/api/v1/posts/{id}"), Some(&ben)).await;
        assert_eq!(
            answer, read,
            "the answer to {reply} differs from the post read back"
        );
    }
});
