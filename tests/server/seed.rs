#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `mutual admin seed` through the real binary: a small dataset, read back through the API, and
//! the app's invariants checked by using it afterwards (replies continue the numbering, new
//! accounts and topics get fresh ids, seeded members sign in, search finds seeded posts).

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(seeds_a_small_dataset_the_api_reads_back, |b| async move {
    let server = Server::start(b).await;
    let tokens_file = server.db.dir.join("tokens.txt");
    let (ok, out, err) = server.run_cli(&[
        "admin",
        "seed",
        "--members",
        "60",
        "--communities",
        "3",
        "--posts",
        "700",
        "--big-topic-replies",
        "150",
        "--chat-messages",
        "120",
        "--tokens",
        "20",
        "--tokens-file",
        tokens_file.to_str().unwrap(),
    ]);
    assert!(ok, "seed failed: {out}{err}");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).expect("JSON line");
    let big = report["big_topic"].as_i64().unwrap();
    let room = report["room"].as_i64().unwrap();
    assert_eq!(report["community"], "seed");
    let tokens: Vec<String> = std::fs::read_to_string(&tokens_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), 20);
    let token = tokens[3].as_str();

    // The tokens are sessions of the first members, members of the first community.
    let (status, me) = server.get("/api/v1/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "seed4");
    let (status, community) = server.get("/api/v1/communities/seed", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{community}");
    assert_eq!(community["visibility"], "public");
    assert!(
        community["member_count"].as_i64().unwrap() >= 20,
        "{community}"
    );
    let (status, rooms) = server
        .get("/api/v1/communities/seed/rooms", Some(token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rooms[0]["id"].as_i64(), Some(room), "{rooms}");
    for slug in ["seed-1", "seed-2"] {
        let (status, rooms) = server
            .get(&format!("/api/v1/communities/{slug}/rooms"), Some(token))
            .await;
        assert_eq!(status, StatusCode::OK, "{rooms}");
        assert_eq!(rooms.as_array().unwrap().len(), 1, "one default room");
    }

    // The big topic: counts, and every post in order through keyset paging, read anonymously.
    let (status, topic) = server.get(&format!("/api/v1/topics/{big}"), None).await;
    assert_eq!(status, StatusCode::OK, "{topic}");
    assert_eq!(topic["reply_count"], 150);
    assert_eq!(topic["last_seq"], 151);
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/topics/{big}/posts?limit=100&after={a}"),
            None => format!("/api/v1/topics/{big}/posts?limit=100"),
        };
        let (status, page) = server.get(&path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for post in page["items"].as_array().unwrap() {
            seen += 1;
            assert_eq!(post["topic_id"], big);
            assert!(
                post["body_html"].as_str().unwrap().contains("<p>"),
                "{post}"
            );
            assert!(post["author"]["username"].as_str().is_some(), "{post}");
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 151);

    // Posts elsewhere too, and the topics of every community add up to the requested total.
    let mut total = 0;
    for slug in ["seed", "seed-1", "seed-2"] {
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/api/v1/communities/{slug}/topics?limit=100&after={a}"),
                None => format!("/api/v1/communities/{slug}/topics?limit=100"),
            };
            let (status, page) = server.get(&path, Some(tokens[0].as_str())).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for t in page["items"].as_array().unwrap() {
                assert_eq!(
                    t["last_seq"].as_i64().unwrap(),
                    t["reply_count"].as_i64().unwrap() + 1,
                    "{t}"
                );
                total += t["last_seq"].as_i64().unwrap();
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
    }
    assert_eq!(total, 700);

    // Chat history and search.
    let (status, history) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert!(
        !history["items"].as_array().unwrap().is_empty(),
        "{history}"
    );
    let (status, hits) = server
        .get("/api/v1/search?q=sugar&community=seed", Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert!(!hits["items"].as_array().unwrap().is_empty(), "{hits}");

    // The app carries on from the seeded state: a reply takes the next number, new rows get
    // fresh ids, seeded members sign in with the seed password.
    let post = server
        .reply(
            token,
            big,
            json!({"body": "After the seed: **hello** @seed1"}),
        )
        .await;
    let (_, page) = server
        .get(&format!("/api/v1/topics/{big}/posts?after=151"), None)
        .await;
    assert_eq!(page["items"][0]["id"], post["id"], "{page}");
    let (status, topic) = server.get(&format!("/api/v1/topics/{big}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(topic["last_seq"], 152);
    let (new_topic, _) = server
        .topic(token, "seed-1", "A fresh topic", "Fresh body")
        .await;
    assert!(new_topic > big);
    let newcomer = server.register("newcomer").await;
    server.join(&newcomer, "seed").await;
    let (status, login) = server
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "seed7", "password": "seeded-members-password-42"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
});
