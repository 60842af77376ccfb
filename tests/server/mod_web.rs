#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Moderation that decides, from the web: a new member's first posts wait for a moderator
//! (approve, keep hidden), appeals restored or upheld by a moderator other than the one who
//! acted, warn / mute / ban from the case card and the profile, a live alert for every report and
//! the open-case count in the header — on SQLite and on PostgreSQL + Redis.

use crate::common;

use common::Server;
use common::web::{csrf, get, location, post, web_login, web_member};
use common::ws::{connect, next_op};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A community with its admin and a moderator (`modpat`); (admin, moderator token).
async fn group(s: &Server, slug: &str) -> (String, String) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let moderator = s.register("modpat").await;
    s.join(&moderator, slug).await;
    let (st, _) = s
        .call(
            "PUT",
            &format!("/api/v1/communities/{slug}/roles/moderator/modpat"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    (admin, moderator)
}

async fn make_moderator(s: &Server, admin: &str, slug: &str, name: &str) -> String {
    let token = s.register(name).await;
    s.join(&token, slug).await;
    s.call(
        "PUT",
        &format!("/api/v1/communities/{slug}/roles/moderator/{name}"),
        Some(admin),
        None,
    )
    .await;
    token
}

async fn user_id(s: &Server, token: &str) -> i64 {
    s.get("/api/v1/me", Some(token)).await.1["id"]
        .as_i64()
        .unwrap()
}

/// Posts a queue form as a moderator's browser: the redirect's target.
async fn act(s: &Server, client: &reqwest::Client, slug: &str, fields: &[(&str, &str)]) -> String {
    let page = get(s, client, &format!("/mod/{slug}"), None).await;
    let token = csrf(&page.html);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    let done = post(s, client, &format!("/mod/{slug}/act"), &all).await;
    assert_eq!(
        done.status,
        StatusCode::SEE_OTHER,
        "{fields:?}: {}",
        done.html
    );
    location(&done)
}

async fn open_cases(s: &Server, slug: &str, moderator: &str) -> Vec<Value> {
    s.get(
        &format!("/api/v1/communities/{slug}/reports"),
        Some(moderator),
    )
    .await
    .1["items"]
        .as_array()
        .unwrap()
        .clone()
}

both_backends!(new_members_wait_for_a_moderator, |b| async move {
    let s = Server::start_with(
        b,
        common::ServerOptions {
            rate_limits: true,
            ..Default::default()
        },
    )
    .await;
    let (admin, moderator) = group(&s, "wait").await;
    // Staff are never held: the admin and the community's moderator post straight away.
    let (_, a) = s
        .post(
            "/api/v1/communities/wait/topics",
            Some(&admin),
            json!({"title": "Welcome", "body": "hello everyone"}),
        )
        .await;
    assert!(a["post"]["waiting_hours"].is_null(), "{a}");
    assert_eq!(a["post"]["hidden"], false);
    let (_, m) = s
        .post(
            "/api/v1/communities/wait/topics",
            Some(&moderator),
            json!({"title": "Rules", "body": "be kind"}),
        )
        .await;
    assert!(m["post"]["waiting_hours"].is_null(), "{m}");
    // A new member (in Spanish) waits, and is told so in their language.
    let author_web = web_member(&s, "nuevo", "es").await;
    let author = s.login("nuevo").await;
    s.join(&author, "wait").await;
    let reader = s.register("reader").await;
    s.join(&reader, "wait").await;
    let (_, first) = s
        .post(
            "/api/v1/communities/wait/topics",
            Some(&author),
            json!({"title": "Hola a todos", "body": "mi primer mensaje"}),
        )
        .await;
    assert_eq!(first["post"]["waiting_hours"], 24, "{first}");
    assert_eq!(
        first["post"]["hidden"], false,
        "not 'a moderator hid this': {first}"
    );
    let topic = first["topic"]["id"].as_i64().unwrap();
    let post_id = first["post"]["id"].as_i64().unwrap();
    let page = get(&s, &author_web, &format!("/t/{topic}"), None).await;
    assert!(
        page.html.contains("normalmente en menos de 24 horas"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("Un moderador ocultó"), "{}", page.html);
    // Others see nothing: not in the topic list, not as a deleted placeholder.
    let (_, topics) = s
        .get("/api/v1/communities/wait/topics", Some(&reader))
        .await;
    assert!(
        !topics["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == topic),
        "{topics}"
    );
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(&reader))
        .await;
    assert_eq!(posts["items"].as_array().unwrap().len(), 0, "{posts}");
    // The moderator sees it waiting, with the hold's tag, Approve and Keep hidden, and the
    // count of open cases in the header.
    let mod_web = web_login(&s, "modpat").await;
    let queue = get(&s, &mod_web, "/mod/wait", None).await;
    assert!(
        queue.html.contains("First posts of a new member"),
        "{}",
        queue.html
    );
    assert!(queue.html.contains(r#"value="approve""#), "{}", queue.html);
    assert!(queue.html.contains(r#"value="keep_hidden""#));
    assert!(queue.html.contains("Cases waiting: 1"), "{}", queue.html);
    assert!(queue.html.contains(r#"href="/mod/wait">Cases waiting"#));
    let case = open_cases(&s, "wait", &moderator).await[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let to = act(
        &s,
        &mod_web,
        "wait",
        &[
            ("action", "approve"),
            ("target_type", "post"),
            ("target_id", &post_id.to_string()),
            ("case_id", &case),
            ("reason", "welcome aboard"),
        ],
    )
    .await;
    assert_eq!(to, "/mod/wait?done=1");
    assert!(open_cases(&s, "wait", &moderator).await.is_empty());
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(&reader))
        .await;
    assert_eq!(posts["items"][0]["body"], "mi primer mensaje", "{posts}");
    let (_, topics) = s
        .get("/api/v1/communities/wait/topics", Some(&reader))
        .await;
    assert!(
        topics["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == topic)
    );
    // Nothing to appeal about an approval.
    let (_, mine) = s.get("/api/v1/me/moderation", Some(&author)).await;
    assert_eq!(mine["appealable"], json!([]), "{mine}");
    let page = get(&s, &author_web, "/me/moderation", None).await;
    assert!(
        !page.html.contains("/me/moderation/appeal"),
        "{}",
        page.html
    );

    // The second post waits too; kept hidden, its author sees why and may appeal.
    let second = s
        .reply(&author, topic, json!({"body": "compro oro barato"}))
        .await;
    assert_eq!(second["waiting_hours"], 24, "{second}");
    let second_id = second["id"].as_i64().unwrap();
    let case = open_cases(&s, "wait", &moderator).await[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    act(
        &s,
        &mod_web,
        "wait",
        &[
            ("action", "keep_hidden"),
            ("target_type", "post"),
            ("target_id", &second_id.to_string()),
            ("case_id", &case),
            ("reason", "selling is not allowed here"),
        ],
    )
    .await;
    assert!(open_cases(&s, "wait", &moderator).await.is_empty());
    let (_, kept) = s
        .get(&format!("/api/v1/posts/{second_id}"), Some(&author))
        .await;
    assert_eq!(kept["hidden"], true, "{kept}");
    assert_eq!(kept["hidden_reason"], "selling is not allowed here");
    assert!(kept["waiting_hours"].is_null());
    let (_, mine) = s.get("/api/v1/me/moderation", Some(&author)).await;
    assert_eq!(mine["appealable"].as_array().unwrap().len(), 1, "{mine}");
    // Restoring it closes nothing twice and takes the appeal away.
    let (st, _) = s
        .post(
            "/api/v1/moderation/actions",
            Some(&moderator),
            json!({"action": "restore", "target": {"type": "post", "id": second_id}, "reason": "changed my mind"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, mine) = s.get("/api/v1/me/moderation", Some(&author)).await;
    assert_eq!(mine["appealable"], json!([]), "{mine}");
    // Approving what is not waiting is refused.
    let (st, _) = s
        .post(
            "/api/v1/moderation/actions",
            Some(&moderator),
            json!({"action": "approve", "target": {"type": "post", "id": second_id}, "reason": "fine"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
});

both_backends!(restoring_closes_the_case_about_it, |b| async move {
    let s = Server::start(b).await;
    let (_, moderator) = group(&s, "close").await;
    let member = s.register("writer").await;
    s.join(&member, "close").await;
    let reporter = s.register("reporter").await;
    s.join(&reporter, "close").await;
    let (_, post_id) = s.topic(&member, "close", "A topic", "some words").await;
    let (st, _) = s
        .post(
            "/api/v1/reports",
            Some(&reporter),
            json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(open_cases(&s, "close", &moderator).await.len(), 1);
    s.post("/api/v1/moderation/actions", Some(&moderator), json!({"action": "hide", "target": {"type": "post", "id": post_id}, "reason": "looks like spam"})).await;
    let (st, _) = s.post("/api/v1/moderation/actions", Some(&moderator), json!({"action": "restore", "target": {"type": "post", "id": post_id}, "reason": "it was fine"})).await;
    assert_eq!(st, StatusCode::OK);
    assert!(open_cases(&s, "close", &moderator).await.is_empty());
});

both_backends!(appeals_are_decided_by_another_moderator, |b| async move {
    let s = Server::start(b).await;
    let (admin, first_mod) = group(&s, "appeal").await;
    let second_mod = make_moderator(&s, &admin, "appeal", "secondmod").await;
    let member = s.register("appellant").await;
    s.join(&member, "appeal").await;
    let reader = s.register("reader").await;
    s.join(&reader, "appeal").await;
    let member_id = user_id(&s, &member).await;
    let (topic, post_id) = s
        .topic(&member, "appeal", "My doctor", "my doctor said so")
        .await;
    let (_, hide) = s.post("/api/v1/moderation/actions", Some(&first_mod), json!({"action": "hide", "target": {"type": "post", "id": post_id}, "reason": "no source given"})).await;
    let log_id = hide["log_id"].as_i64().unwrap();
    let (st, appeal) = s
        .post(
            "/api/v1/appeals",
            Some(&member),
            json!({"log_id": log_id, "text": "I quoted my own doctor, word for word"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{appeal}");
    let case = appeal["case_id"].as_i64().unwrap().to_string();
    // The card shows the member's words and what was done, for both moderators; the one who
    // acted reads why they cannot decide, and gets no button.
    let first_web = web_login(&s, "modpat").await;
    let page = get(&s, &first_web, "/mod/appeal", None).await;
    assert!(
        page.html.contains("I quoted my own doctor, word for word"),
        "{}",
        page.html
    );
    assert!(page.html.contains("my doctor said so"), "{}", page.html);
    assert!(page.html.contains("no source given"));
    assert!(!page.html.contains("appeal against `hide`"));
    assert!(
        page.html.contains("another moderator decides this appeal"),
        "{}",
        page.html
    );
    assert!(!page.html.contains(r#"value="appeal_restore""#));
    let (st, _) = s
        .post(
            &format!("/api/v1/appeals/{case}/decision"),
            Some(&first_mod),
            json!({"decision": "restore", "reason": "my own call"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let second_web = web_login(&s, "secondmod").await;
    let page = get(&s, &second_web, "/mod/appeal", None).await;
    assert!(
        page.html.contains(r#"value="appeal_restore""#),
        "{}",
        page.html
    );
    assert!(page.html.contains(r#"value="appeal_uphold""#));
    act(
        &s,
        &second_web,
        "appeal",
        &[
            ("action", "appeal_restore"),
            ("target_type", "report"),
            ("target_id", &case),
            ("case_id", &case),
            ("reason", "quoting a doctor is fine"),
        ],
    )
    .await;
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(&reader))
        .await;
    assert_eq!(posts["items"][0]["body"], "my doctor said so", "{posts}");
    let (_, n) = s.get("/api/v1/notifications", Some(&member)).await;
    assert_eq!(n["items"][0]["kind"], "appeal_restored", "{n}");
    assert!(open_cases(&s, "appeal", &first_mod).await.is_empty());
    let (_, mine) = s.get("/api/v1/me/moderation", Some(&member)).await;
    assert_eq!(mine["appealable"], json!([]), "{mine}");

    // A mute restored on appeal is lifted; a warning upheld stands.
    let (_, mute) = s.post("/api/v1/moderation/actions", Some(&first_mod), json!({"action": "mute", "target": {"type": "user", "id": member_id}, "community": "appeal", "duration_minutes": 60, "reason": "too heated"})).await;
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&member),
            json!({"body": "muted?"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (_, appeal) = s
        .post(
            "/api/v1/appeals",
            Some(&member),
            json!({"log_id": mute["log_id"], "text": "I calmed down"}),
        )
        .await;
    let (st, _) = s
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["case_id"]),
            Some(&second_mod),
            json!({"decision": "restore", "reason": "fair enough"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&member),
            json!({"body": "back again"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, warn) = s.post("/api/v1/moderation/actions", Some(&first_mod), json!({"action": "warn", "target": {"type": "user", "id": member_id}, "community": "appeal", "reason": "mind your words"})).await;
    let (_, appeal) = s
        .post(
            "/api/v1/appeals",
            Some(&member),
            json!({"log_id": warn["log_id"], "text": "that is unfair"}),
        )
        .await;
    let (st, _) = s
        .post(
            &format!("/api/v1/appeals/{}/decision", appeal["case_id"]),
            Some(&second_mod),
            json!({"decision": "uphold", "reason": "the warning stands"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, n) = s.get("/api/v1/notifications", Some(&member)).await;
    assert_eq!(n["items"][0]["kind"], "appeal_upheld", "{n}");
    // In the member's language on their alerts page.
    let member_web = web_login(&s, "appellant").await;
    let page = get(&s, &member_web, "/notifications", None).await;
    assert!(
        page.html
            .contains("decision stays. See why on your moderation page"),
        "{}",
        page.html
    );
});

both_backends!(moderators_act_on_members_from_the_web, |b| async move {
    let s = Server::start(b).await;
    let (admin, moderator) = group(&s, "acts").await;
    let member = s.register("loud").await;
    s.join(&member, "acts").await;
    let reporter = s.register("reporter").await;
    s.join(&reporter, "acts").await;
    let other = s.register("other").await;
    s.join(&other, "acts").await;
    let member_id = user_id(&s, &member).await;
    let (topic, post_id) = s.topic(&member, "acts", "Loud voice", "buy my pills").await;
    // Every report reaches the moderator at once; a crisis one is urgent.
    let mut ws = connect(&s, &moderator).await;
    s.post(
        "/api/v1/reports",
        Some(&reporter),
        json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
    )
    .await;
    let frame = next_op(&mut ws, "notification").await;
    assert_eq!(frame["notification"]["kind"], "new_report", "{frame}");
    let (_, sad) = s.topic(&other, "acts", "Sad today", "a hard day").await;
    s.post(
        "/api/v1/reports",
        Some(&reporter),
        json!({"target": {"type": "post", "id": sad}, "reason": "crisis"}),
    )
    .await;
    let frame = next_op(&mut ws, "notification").await;
    assert_eq!(frame["notification"]["kind"], "crisis_report", "{frame}");
    // The alert names the group, so the page's alert links to its queue.
    assert_eq!(frame["notification"]["community"], "acts", "{frame}");
    // The header's count as site.js refreshes it after an alert, in the moderator's words;
    // nothing for members who moderate nothing.
    let mod_web = web_login(&s, "modpat").await;
    let waiting = get(&s, &mod_web, "/me/cases-waiting", None).await;
    assert_eq!(waiting.status, StatusCode::OK);
    let waiting: Value = serde_json::from_str(&waiting.html).unwrap();
    assert_eq!(waiting["count"], 2, "{waiting}");
    assert_eq!(waiting["href"], "/mod/acts");
    assert_eq!(waiting["label"], "Cases waiting: 2");
    let page = get(&s, &mod_web, "/", None).await;
    assert!(page.html.contains(r#"id="case-alerts""#), "{}", page.html);
    let reporter_web = web_login(&s, "reporter").await;
    let none = get(&s, &reporter_web, "/me/cases-waiting", None).await;
    assert_eq!(none.html.trim(), "null");
    let page = get(&s, &reporter_web, "/", None).await;
    assert!(!page.html.contains("case-alerts"), "{}", page.html);
    // Mute for 24 hours from the case card: the case is settled, the member cannot post.
    let queue = get(&s, &mod_web, "/mod/acts", None).await;
    assert!(queue.html.contains(r#"value="mute""#), "{}", queue.html);
    assert!(
        queue
            .html
            .contains(r#"<option value="1440">24 hours</option>"#),
        "{}",
        queue.html
    );
    let case = open_cases(&s, "acts", &moderator)
        .await
        .iter()
        .find(|c| c["target_id"] == post_id)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    act(
        &s,
        &mod_web,
        "acts",
        &[
            ("action", "mute"),
            ("duration", "1440"),
            ("target_type", "user"),
            ("target_id", &member_id.to_string()),
            ("case_id", &case),
            ("reason", "selling pills"),
        ],
    )
    .await;
    assert!(
        !open_cases(&s, "acts", &moderator)
            .await
            .iter()
            .any(|c| c["target_id"] == post_id)
    );
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&member),
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // From the profile: moderators of a shared group see the tools, others do not.
    let page = get(&s, &mod_web, "/u/loud", None).await;
    assert!(
        page.html.contains("Moderate in Community acts"),
        "{}",
        page.html
    );
    let other_web = web_login(&s, "other").await;
    let page = get(&s, &other_web, "/u/loud", None).await;
    assert!(!page.html.contains("/mod/acts/act"), "{}", page.html);
    let page = get(&s, &mod_web, "/u/loud", None).await;
    let token = csrf(&page.html);
    let id = member_id.to_string();
    let form = |action: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("back", "/u/loud".to_owned()),
            ("target_type", "user".to_owned()),
            ("target_id", id.clone()),
            ("action", action.to_owned()),
            ("reason", "see the log".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let client = mod_web.clone();
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(s, &client, "/mod/acts/act", &pairs).await
        }
    };
    let done = send(form("unmute")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(location(&done), "/u/loud?done=1");
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&member),
            json!({"body": "hi again"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let done = send(form("ban")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let (st, _) = s
        .post(
            &format!("/api/v1/topics/{topic}/posts"),
            Some(&member),
            json!({"body": "still here?"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let done = send(form("unban")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    // Lifting what is not there is said plainly, not a server error.
    let again = send(form("unban")).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.html
    );
    assert!(again.html.contains("Nothing to do"), "{}", again.html);
    // The profile tools in Hindi, for a moderator who reads Hindi.
    let hindi = web_member(&s, "hindimod", "hi").await;
    let token = s.login("hindimod").await;
    s.join(&token, "acts").await;
    s.call(
        "PUT",
        "/api/v1/communities/acts/roles/moderator/hindimod",
        Some(&admin),
        None,
    )
    .await;
    let page = get(&s, &hindi, "/u/loud", None).await;
    assert!(page.html.contains("समूह से हटाएँ"), "{}", page.html);
    assert!(page.html.contains("24 घंटे"));
});

both_backends!(
    a_member_made_moderator_sees_the_cases_on_the_next_page,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "promote", "public", json!({})).await;
        let member = s.register("soonmod").await;
        s.join(&member, "promote").await;
        let reporter = s.register("watcher").await;
        s.join(&reporter, "promote").await;
        let (_, post_id) = s
            .topic(&reporter, "promote", "Odd offer", "buy my pills")
            .await;
        s.post(
            "/api/v1/reports",
            Some(&reporter),
            json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
        )
        .await;
        let role = async |method| {
            let path = "/api/v1/communities/promote/roles/moderator/soonmod";
            let (st, _) = s.call(method, path, Some(&admin), None).await;
            assert_eq!(st, StatusCode::NO_CONTENT);
        };
        // Signed in and reading before the role: no cases in the header.
        let web = web_login(&s, "soonmod").await;
        let page = get(&s, &web, "/", None).await;
        assert!(!page.html.contains("case-alerts"), "{}", page.html);
        role("PUT").await;
        // The same session's next page shows them, though the session was kept in memory.
        let page = get(&s, &web, "/", None).await;
        assert!(page.html.contains(r#"id="case-alerts""#), "{}", page.html);
        // And once the role is taken back, the header has nothing to show.
        role("DELETE").await;
        let page = get(&s, &web, "/", None).await;
        assert!(!page.html.contains("case-alerts"), "{}", page.html);
    }
);

both_backends!(
    the_folded_menu_counts_cases_for_moderators,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, _moderator) = group(&s, "menu").await;
        let author = s.register("author").await;
        s.join(&author, "menu").await;
        let reporter = s.register("reporter").await;
        s.join(&reporter, "menu").await;
        let mod_web = web_login(&s, "modpat").await;
        let page = get(&s, &mod_web, "/", None).await;
        assert!(
            page.html
                .contains(r#"<summary class="menu-toggle">Menu</summary>"#),
            "nothing waits: {}",
            page.html
        );
        // Three reports, three cases.
        for title in ["One thing", "Another thing", "A third thing"] {
            let (_, post_id) = s.topic(&author, "menu", title, "buy my pills").await;
            let (st, r) = s
                .post(
                    "/api/v1/reports",
                    Some(&reporter),
                    json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
                )
                .await;
            assert!(st.is_success(), "{r}");
        }
        let page = get(&s, &mod_web, "/groups", None).await;
        assert!(
        page.html.contains(
            r#"<summary class="menu-toggle" aria-label="Menu, 3 cases waiting">Menu (3)</summary>"#
        ),
        "{}",
        page.html
    );
        // Live, site.js asks again after an alert: the same words.
        let waiting = get(&s, &mod_web, "/me/cases-waiting", None).await;
        let waiting: Value = serde_json::from_str(&waiting.html).unwrap();
        assert_eq!(waiting["menu"], "Menu (3)", "{waiting}");
        assert_eq!(waiting["menu_name"], "Menu, 3 cases waiting", "{waiting}");
        // In Spanish; and in Hindi for a moderator of another group with one case (the singular).
        let modpat = s.login("modpat").await;
        s.call(
            "PATCH",
            "/api/v1/me",
            Some(&modpat),
            Some(json!({"locale": "es"})),
        )
        .await;
        let page = get(&s, &mod_web, "/", None).await;
        assert!(
        page.html.contains(
            r#"<summary class="menu-toggle" aria-label="Menú, 3 casos pendientes">Menú (3)</summary>"#
        ),
        "{}",
        page.html
    );
        s.community(&admin, "otro", "public", json!({})).await;
        let hindi = make_moderator(&s, &admin, "otro", "moddev").await;
        s.call(
            "PATCH",
            "/api/v1/me",
            Some(&hindi),
            Some(json!({"locale": "hi"})),
        )
        .await;
        s.join(&author, "otro").await;
        s.join(&reporter, "otro").await;
        let (_, post_id) = s
            .topic(&author, "otro", "Something else", "buy my pills")
            .await;
        s.post(
            "/api/v1/reports",
            Some(&reporter),
            json!({"target": {"type": "post", "id": post_id}, "reason": "spam"}),
        )
        .await;
        let hindi_web = web_login(&s, "moddev").await;
        let page = get(&s, &hindi_web, "/", None).await;
        assert!(
        page.html.contains(
            r#"<summary class="menu-toggle" aria-label="मेन्यू, 1 मामला इंतज़ार में">मेन्यू (1)</summary>"#
        ),
        "{}",
        page.html
    );
        // Members who moderate nothing see no count, whatever waits.
        for who in ["reporter", "author"] {
            let client = web_login(&s, who).await;
            let page = get(&s, &client, "/", None).await;
            assert!(
                page.html.contains(r#"<summary class="menu-toggle">Menu"#),
                "{who}: {}",
                page.html
            );
            assert!(
                !page.html.contains("cases waiting") && !page.html.contains("Menu (3)"),
                "{who}"
            );
        }
    }
);

/// Posts the site staff's queue form as a browser: the answer.
async fn staff_act(
    s: &Server,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> common::web::Page {
    let page = get(s, client, "/moderation/conversations", None).await;
    let token = csrf(&page.html);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    post(s, client, "/moderation/conversations/act", &all).await
}

/// The card of case `case` in a queue page.
fn card(html: &str, case: i64) -> &str {
    html.split(&format!("id=\"case-{case}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("case {case} not in {html}"))
        .split("</article>")
        .next()
        .unwrap()
}

both_backends!(
    appeals_against_site_wide_sanctions_are_decided_by_other_staff,
    |b| async move {
        let s = Server::start(b).await;
        let (first, group_mod) = group(&s, "site").await;
        let second = s.admin().await;
        let member = s.register("appellant").await;
        s.join(&member, "site").await;
        s.set_locale(&member, "hi").await;
        let member_id = user_id(&s, &member).await;
        let name_of = |token: String| {
            let s = &s;
            async move {
                s.get("/api/v1/me", Some(&token)).await.1["username"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let first_web = web_login(&s, &name_of(first.clone()).await).await;
        let second_web = web_login(&s, &name_of(second.clone()).await).await;

        // A site-wide mute (no group), as the staff queue gives; she appeals it from her page.
        let (st, mute) = s.post("/api/v1/moderation/actions", Some(&first), json!({"action": "mute", "target": {"type": "user", "id": member_id}, "duration_minutes": 60, "reason": "insults in messages"})).await;
        assert_eq!(st, StatusCode::OK, "{mute}");
        let writes = |body: &'static str| {
            let (s, member) = (&s, member.clone());
            async move {
                s.post(
                    "/api/v1/communities/site/topics",
                    Some(&member),
                    json!({"title": "A walk this evening", "body": body}),
                )
                .await
                .0
            }
        };
        assert_eq!(writes("muted?").await, StatusCode::FORBIDDEN);
        let member_web = web_login(&s, "appellant").await;
        let mine = get(&s, &member_web, "/me/moderation", None).await;
        let log_id = mute["log_id"].as_i64().unwrap().to_string();
        assert!(
            mine.html
                .contains(&format!("name=\"log_id\" value=\"{log_id}\"")),
            "{}",
            mine.html
        );
        let sent = post(
            &s,
            &member_web,
            "/me/moderation/appeal",
            &[
                ("csrf", &csrf(&mine.html)),
                ("log_id", &log_id),
                ("text", "I was upset that day, it will not happen again"),
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
        let case = s.get("/api/v1/me/moderation", Some(&member)).await.1;
        assert_eq!(case["appealable"], json!([]), "{case}");

        // The group's moderator sees it nowhere; the staff see it in their queue, counted.
        let group_web = web_login(&s, "modpat").await;
        let page = get(&s, &group_web, "/mod/site", None).await;
        assert!(!page.html.contains("it will not happen again"));
        assert_eq!(
            get(&s, &group_web, "/moderation/conversations", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(open_cases(&s, "site", &group_mod).await.is_empty());
        let page = get(&s, &second_web, "/moderation/conversations", None).await;
        assert!(
            page.html
                .contains("href=\"/moderation/conversations\">Cases waiting: 1"),
            "{}",
            page.html
        );
        assert!(
            page.html.contains("Appeals against site-wide decisions"),
            "{}",
            page.html
        );
        let case: i64 = page
            .html
            .split("aria-labelledby=\"appeals-title\"")
            .nth(1)
            .and_then(|section| section.split("id=\"case-").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        let shown = card(&page.html, case);
        assert!(
            shown.contains("I was upset that day, it will not happen again"),
            "{shown}"
        );
        assert!(shown.contains("insults in messages"), "{shown}");
        assert!(shown.contains("value=\"appeal_restore\""), "{shown}");
        assert!(shown.contains("value=\"appeal_uphold\""), "{shown}");

        // The one who muted her reads why they cannot decide, and cannot by posting either.
        let page = get(&s, &first_web, "/moderation/conversations", None).await;
        let shown = card(&page.html, case);
        assert!(
            shown.contains("another moderator decides this appeal"),
            "{shown}"
        );
        assert!(!shown.contains("value=\"appeal_restore\""), "{shown}");
        let case_id = case.to_string();
        let refused = staff_act(
            &s,
            &first_web,
            &[
                ("case_id", &case_id),
                ("action", "appeal_restore"),
                ("reason", "my own call"),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused
                .html
                .contains("another moderator decides this appeal"),
            "{}",
            refused.html
        );
        assert_eq!(writes("still muted?").await, StatusCode::FORBIDDEN);
        // Nor does a member of staff act on an appeal as on a report.
        let wrong = staff_act(
            &s,
            &second_web,
            &[
                ("case_id", &case_id),
                ("action", "ban"),
                ("reason", "not how appeals go"),
            ],
        )
        .await;
        assert!(wrong.status.is_client_error(), "{}", wrong.html);

        // The other decides, in Spanish; a reason is needed; the mute is lifted, she is told in
        // Hindi, and the case is under "Done" with no buttons.
        s.set_locale(&second, "es").await;
        let page = get(&s, &second_web, "/moderation/conversations", None).await;
        assert!(
            page.html
                .contains("Apelaciones contra decisiones en todo el sitio"),
            "{}",
            page.html
        );
        assert!(card(&page.html, case).contains("Deshacer la acción"));
        let short = staff_act(
            &s,
            &second_web,
            &[
                ("case_id", &case_id),
                ("action", "appeal_restore"),
                ("reason", "ok"),
            ],
        )
        .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            short
                .html
                .contains("Escribe un motivo de al menos 3 letras"),
            "{}",
            short.html
        );
        let done = staff_act(
            &s,
            &second_web,
            &[
                ("case_id", &case_id),
                ("action", "appeal_restore"),
                ("reason", "she apologised, fair enough"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert_eq!(location(&done), "/moderation/conversations?done=1");
        assert_eq!(writes("back again").await, StatusCode::CREATED);
        let (_, n) = s.get("/api/v1/notifications", Some(&member)).await;
        assert_eq!(n["items"][0]["kind"], "appeal_restored", "{n}");
        let alerts = get(&s, &member_web, "/notifications", None).await;
        assert!(
            alerts
                .html
                .contains("आपकी अपील मान ली गई। मॉडरेटर ने जो किया था, वह हटा दिया गया है।"),
            "{}",
            alerts.html
        );
        let page = get(&s, &second_web, "/moderation/conversations", None).await;
        assert!(!page.html.contains(&format!("id=\"case-{case}\"")));
        let resolved = get(
            &s,
            &second_web,
            "/moderation/conversations?status=resolved",
            None,
        )
        .await;
        assert!(!card(&resolved.html, case).contains("appeal_restore"));

        // A site-wide warning upheld on appeal stands; she is told so.
        let (_, warn) = s.post("/api/v1/moderation/actions", Some(&second), json!({"action": "warn", "target": {"type": "user", "id": member_id}, "reason": "mind your words"})).await;
        let (st, appeal) = s
            .post(
                "/api/v1/appeals",
                Some(&member),
                json!({"log_id": warn["log_id"], "text": "that is unfair"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{appeal}");
        let warned = appeal["case_id"].as_i64().unwrap();
        let upheld = staff_act(
            &s,
            &first_web,
            &[
                ("case_id", &warned.to_string()),
                ("action", "appeal_uphold"),
                ("reason", "the warning stands"),
            ],
        )
        .await;
        assert_eq!(upheld.status, StatusCode::SEE_OTHER, "{}", upheld.html);
        let (_, n) = s.get("/api/v1/notifications", Some(&member)).await;
        assert_eq!(n["items"][0]["kind"], "appeal_upheld", "{n}");

        // An appeal against a group's sanction stays in that group's queue.
        let (_, group_mute) = s.post("/api/v1/moderation/actions", Some(&group_mod), json!({"action": "mute", "target": {"type": "user", "id": member_id}, "community": "site", "duration_minutes": 60, "reason": "too heated here"})).await;
        let (st, _) = s
            .post(
                "/api/v1/appeals",
                Some(&member),
                json!({"log_id": group_mute["log_id"], "text": "the group one was unfair"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let page = get(&s, &second_web, "/moderation/conversations", None).await;
        assert!(!page.html.contains("the group one was unfair"));
        let page = get(&s, &second_web, "/mod/site", None).await;
        assert!(
            page.html.contains("the group one was unfair"),
            "{}",
            page.html
        );
    }
);
