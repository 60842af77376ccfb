#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Consent to hold health data (PRV-6) through the real server: asked separately and optional
//! at sign-up, refused health actions without it (`consent_required`), given later to the
//! current version only, recorded with its date, version, language and wording, withdrawn with
//! the documented erasure, its history kept, in the export, and gone with the account. The web
//! pages: the unticked box, the consent page in place of a refused action, the withdrawal page.

use crate::common;

use common::web::{self, browser, csrf, lang, location, web_member_without_consent};
use common::{Backend, CONSENT_VERSION, PASSWORD, Server, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An admin, a community for a condition (`t2d`) and one without (`cafe`).
async fn setup(s: &Server) -> String {
    let admin = s.admin().await;
    s.community(
        &admin,
        "t2d",
        "members",
        json!({"condition": "type-2-diabetes", "condition_label": "Type 2 diabetes"}),
    )
    .await;
    s.community(&admin, "cafe", "public", json!({})).await;
    admin
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn reading(s: &Server, token: &str, value: f64) -> (StatusCode, Value) {
    s.post(
        "/api/v1/me/readings",
        Some(token),
        json!({"kind": "glucose", "value": value, "context": "fasting"}),
    )
    .await
}

async fn goal(s: &Server, token: &str) -> (StatusCode, Value) {
    s.post(
        "/api/v1/me/goals",
        Some(token),
        json!({"title": "Walk after dinner", "cadence": "daily", "confidence": 8}),
    )
    .await
}

async fn milestone(s: &Server, token: &str, m: Value) -> (StatusCode, Value) {
    s.post(
        "/api/v1/communities/cafe/topics",
        Some(token),
        json!({"title": "A good week for me", "body": "I kept going, one day at a time.", "kind": "milestone", "milestone": m}),
    )
    .await
}

async fn join(s: &Server, token: &str, slug: &str) -> (StatusCode, Value) {
    s.call(
        "POST",
        &format!("/api/v1/communities/{slug}/join"),
        Some(token),
        None,
    )
    .await
}

fn assert_consent_required(st: StatusCode, body: &Value, what: &str) {
    assert_eq!(st, StatusCode::FORBIDDEN, "{what}: {body}");
    assert_eq!(code(body), "consent_required", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("POST /api/v1/me/consents"),
        "{what}: the message says how to give consent: {message}"
    );
}

both_backends!(
    without_consent_health_data_is_refused_and_with_it_allowed,
    |b| async move {
        let s = Server::start(b).await;
        let admin = setup(&s).await;
        let ana = s.register_without_consent("ana").await;
        s.join(&ana, "cafe").await;

        let (st, mine) = s.get("/api/v1/me/consents", Some(&ana)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(mine["health_data"]["state"], "not_given", "{mine}");
        assert_eq!(mine["health_data"]["up_to_date"], false);
        assert_eq!(mine["history"], json!([]));

        let (st, body) = reading(&s, &ana, 110.0).await;
        assert_consent_required(st, &body, "a reading");
        let (st, body) = goal(&s, &ana).await;
        assert_consent_required(st, &body, "a goal");
        let (st, body) = join(&s, &ana, "t2d").await;
        assert_consent_required(st, &body, "joining a condition group");
        let (st, body) = milestone(&s, &ana, json!({"type": "weight_lost", "value": 12})).await;
        assert_consent_required(st, &body, "a milestone with a value");
        // What is not health data works as before.
        let (st, body) = milestone(&s, &ana, json!({"type": "non_scale_victory"})).await;
        assert_eq!(
            st,
            StatusCode::CREATED,
            "a milestone without a number: {body}"
        );
        let (st, _) = s.get("/api/v1/me/readings", Some(&ana)).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "reading one's own data needs no consent"
        );
        let (st, _) = s.get("/api/v1/me/export", Some(&ana)).await;
        assert_eq!(st, StatusCode::OK, "export needs no consent");
        // Nothing was stored by the refused calls.
        let (_, list) = s.get("/api/v1/me/readings", Some(&ana)).await;
        assert_eq!(list["items"], json!([]));
        let (_, goals) = s.get("/api/v1/me/goals", Some(&ana)).await;
        assert_eq!(goals, json!([]));
        let (_, t2d) = s.get("/api/v1/communities/t2d", Some(&ana)).await;
        assert!(t2d["membership"].is_null(), "{t2d}");

        // The notice, in Spanish, then consent to it.
        let (st, notice) = s
            .get("/api/v1/consent/health-data?locale=es", Some(&ana))
            .await;
        assert_eq!(st, StatusCode::OK, "{notice}");
        assert_eq!(notice["version"], CONSENT_VERSION);
        assert_eq!(notice["locale"], "es");
        assert_eq!(notice["current"], true);
        let text = notice["text"].as_str().unwrap().to_owned();
        assert!(text.contains("datos de salud"), "{text}");
        let (st, given) = s
            .post(
                "/api/v1/me/consents",
                Some(&ana),
                json!({"version": CONSENT_VERSION, "locale": "es"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{given}");
        let (st, again) = s
            .post(
                "/api/v1/me/consents",
                Some(&ana),
                json!({"kind": "health_data", "version": CONSENT_VERSION}),
            )
            .await;
        assert_eq!(
            st,
            StatusCode::OK,
            "consenting twice changes nothing: {again}"
        );
        assert_eq!(again["id"], given["id"]);

        // The record: when, which version, which language, which words.
        let (_, mine) = s.get("/api/v1/me/consents", Some(&ana)).await;
        assert_eq!(mine["health_data"]["state"], "given", "{mine}");
        assert_eq!(mine["health_data"]["up_to_date"], true);
        assert_eq!(mine["health_data"]["version"], CONSENT_VERSION);
        let history = mine["history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "{mine}");
        let record = &history[0];
        assert_eq!(record["kind"], "health_data");
        assert_eq!(record["version"], CONSENT_VERSION);
        assert_eq!(record["locale"], "es");
        assert_eq!(record["source"], "api");
        assert_eq!(record["text_sha256"], notice["sha256"]);
        assert_eq!(
            record["text"], notice["text"],
            "the exact wording agreed to"
        );
        assert!(record["withdrawn_at"].is_null());
        let granted = chrono::DateTime::parse_from_rfc3339(record["granted_at"].as_str().unwrap())
            .expect("an RFC 3339 time");
        let age = chrono::Utc::now().signed_duration_since(granted);
        assert!(age.num_seconds().abs() < 120, "granted just now: {granted}");

        // Now health data is welcome.
        let (st, body) = reading(&s, &ana, 110.0).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let (st, g) = goal(&s, &ana).await;
        assert_eq!(st, StatusCode::CREATED, "{g}");
        let (st, body) = s
            .post(
                &format!("/api/v1/goals/{}/checkins", g["id"]),
                Some(&ana),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let (st, body) = join(&s, &ana, "t2d").await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let (st, body) = milestone(&s, &ana, json!({"type": "weight_lost", "value": 12})).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");

        // An account made before consent was asked (here: from the shell) is asked the first time.
        let (st, body) = reading(&s, &admin, 100.0).await;
        assert_consent_required(st, &body, "an account without any consent on record");
    }
);

both_backends!(only_the_current_version_is_accepted, |b| async move {
    let s = Server::start(b).await;
    setup(&s).await;
    let bo = s.register_without_consent("bob").await;
    let (st, body) = s
        .post(
            "/api/v1/me/consents",
            Some(&bo),
            json!({"version": "health-data-2020-01"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let why = body["error"]["fields"]["version"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains(CONSENT_VERSION),
        "names the current version: {why}"
    );
    let (st, body) = s
        .post(
            "/api/v1/me/consents",
            Some(&bo),
            json!({"kind": "marketing", "version": CONSENT_VERSION}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = s
        .post(
            "/api/v1/me/consents",
            Some(&bo),
            json!({"version": CONSENT_VERSION, "locale": "fr"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, _) = s
        .post(
            "/api/v1/me/consents",
            None,
            json!({"version": CONSENT_VERSION}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (_, mine) = s.get("/api/v1/me/consents", Some(&bo)).await;
    assert_eq!(mine["history"], json!([]), "nothing recorded: {mine}");
    let (st, body) = reading(&s, &bo, 100.0).await;
    assert_consent_required(st, &body, "after refused grants");

    // At registration: a wrong version refuses the whole sign-up, so nothing half-made stays.
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "cyd", "password": PASSWORD, "health_data_consent": {"version": "health-data-2020-01"}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "cyd", "password": PASSWORD, "locale": "hi", "health_data_consent": {"version": CONSENT_VERSION}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let cy = body["token"].as_str().unwrap().to_owned();
    let (_, mine) = s.get("/api/v1/me/consents", Some(&cy)).await;
    assert_eq!(mine["history"][0]["source"], "registration", "{mine}");
    assert_eq!(
        mine["history"][0]["locale"], "hi",
        "the notice in the account's language"
    );
    let (_, hi) = s.get("/api/v1/consent/health-data?locale=hi", None).await;
    assert_eq!(mine["history"][0]["text_sha256"], hi["sha256"]);

    // The notice: unknown versions are absent; the default language follows the browser.
    let (st, _) = s
        .get(
            "/api/v1/consent/health-data?version=health-data-2020-01",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s.get("/api/v1/consent/health-data?locale=xx", None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = s
        .client
        .get(s.url("/api/v1/consent/health-data"))
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap();
    let notice: Value = answer.json().await.unwrap();
    assert_eq!(notice["locale"], "es", "{notice}");
});

both_backends!(
    withdrawal_erases_health_data_and_keeps_the_history,
    |b| async move {
        let s = Server::start(b).await;
        setup(&s).await;
        let dee = s.register("deedee").await;
        let other = s.register("other").await;
        s.join(&dee, "cafe").await;
        s.join(&other, "cafe").await;
        s.join(&dee, "t2d").await;
        s.join(&other, "t2d").await;
        for v in [120.0, 105.0] {
            let (st, body) = reading(&s, &dee, v).await;
            assert_eq!(st, StatusCode::CREATED, "{body}");
        }
        reading(&s, &other, 99.0).await;
        let (_, g) = goal(&s, &dee).await;
        let (st, _) = s
            .post(
                &format!("/api/v1/goals/{}/checkins", g["id"]),
                Some(&dee),
                json!({"status": "partly"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, posted) = milestone(
        &s,
        &dee,
        json!({"type": "weight_lost", "value": 25, "unit": "lb", "show": "percent", "baseline": 250}),
    )
    .await;
        assert_eq!(st, StatusCode::CREATED, "{posted}");
        let topic = posted["topic"]["id"].as_i64().unwrap();
        let (_, before) = s.get(&format!("/api/v1/topics/{topic}"), Some(&dee)).await;
        assert_eq!(before["milestone"]["value"], json!(25.0), "{before}");
        assert_eq!(before["milestone"]["display"], "10%", "{before}");

        let (st, done) = s
            .call(
                "DELETE",
                "/api/v1/me/consents/health-data",
                Some(&dee),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{done}");
        assert_eq!(
            done["erased"],
            json!({"readings": 2, "reading_shares": 0, "goals": 1, "goal_checkins": 1, "milestone_values": 1, "communities_left": 1}),
            "{done}"
        );

        // Erased: readings, goals, the milestone's numbers, the condition group.
        let (_, list) = s.get("/api/v1/me/readings", Some(&dee)).await;
        assert_eq!(list["items"], json!([]));
        let (_, goals) = s.get("/api/v1/me/goals", Some(&dee)).await;
        assert_eq!(goals, json!([]));
        let (st, after) = s.get(&format!("/api/v1/topics/{topic}"), Some(&dee)).await;
        assert_eq!(st, StatusCode::OK, "the milestone post stays: {after}");
        assert!(after["milestone"]["value"].is_null(), "{after}");
        assert!(after["milestone"]["baseline"].is_null(), "{after}");
        assert!(after["milestone"]["unit"].is_null(), "{after}");
        assert!(after["milestone"]["display"].is_null(), "{after}");
        assert_eq!(after["milestone"]["show"], "none", "{after}");
        assert_eq!(
            after["milestone"]["type"], "weight_lost",
            "still a milestone, without its number"
        );
        let (_, posts) = s
            .get(&format!("/api/v1/topics/{topic}/posts"), Some(&dee))
            .await;
        assert_eq!(
            posts["items"][0]["body"], "I kept going, one day at a time.",
            "the words stay"
        );
        let (_, t2d) = s.get("/api/v1/communities/t2d", Some(&dee)).await;
        assert!(
            t2d["membership"].is_null(),
            "left the condition group: {t2d}"
        );
        let (_, cafe) = s.get("/api/v1/communities/cafe", Some(&dee)).await;
        assert_eq!(cafe["membership"]["status"], "active", "other groups stay");
        // Another member's data is untouched.
        let (_, theirs) = s.get("/api/v1/me/readings", Some(&other)).await;
        assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
        let (_, t2d) = s.get("/api/v1/communities/t2d", Some(&other)).await;
        assert_eq!(t2d["membership"]["status"], "active");

        // Refused again from now on; withdrawing twice finds nothing in force.
        let (st, body) = reading(&s, &dee, 100.0).await;
        assert_consent_required(st, &body, "after withdrawal");
        let (st, body) = join(&s, &dee, "t2d").await;
        assert_consent_required(st, &body, "rejoining after withdrawal");
        let (st, _) = s
            .call(
                "DELETE",
                "/api/v1/me/consents/health-data",
                Some(&dee),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // History: the withdrawn consent stays on record; a new one is a new row.
        let (_, mine) = s.get("/api/v1/me/consents", Some(&dee)).await;
        assert_eq!(mine["health_data"]["state"], "withdrawn", "{mine}");
        assert!(mine["history"][0]["withdrawn_at"].is_string(), "{mine}");
        let (st, _) = s
            .post(
                "/api/v1/me/consents",
                Some(&dee),
                json!({"version": CONSENT_VERSION}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
        let (_, mine) = s.get("/api/v1/me/consents", Some(&dee)).await;
        let history = mine["history"].as_array().unwrap();
        assert_eq!(history.len(), 2, "{mine}");
        assert!(history[0]["withdrawn_at"].is_null(), "newest first");
        assert!(history[1]["withdrawn_at"].is_string());
        assert_eq!(history[1]["source"], "registration");
        let (st, _) = reading(&s, &dee, 100.0).await;
        assert_eq!(st, StatusCode::CREATED);
    }
);

/// The consent rows of a member, straight from the database.
async fn consent_rows(db: &TestDb, user_id: i64) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM consents WHERE user_id = $1";
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

both_backends!(
    export_holds_the_consents_and_erasure_removes_them,
    |b| async move {
        let s = Server::start(b).await;
        setup(&s).await;
        let eve = s.register("evelyn").await;
        s.call(
            "DELETE",
            "/api/v1/me/consents/health-data",
            Some(&eve),
            None,
        )
        .await;
        s.post(
            "/api/v1/me/consents",
            Some(&eve),
            json!({"version": CONSENT_VERSION, "locale": "es"}),
        )
        .await;
        let (_, me) = s.get("/api/v1/me", Some(&eve)).await;
        let id = me["id"].as_i64().unwrap();
        let (st, export) = s.get("/api/v1/me/export", Some(&eve)).await;
        assert_eq!(st, StatusCode::OK);
        let rows = export["tables"]["consents.user_id"]
            .as_array()
            .unwrap_or_else(|| panic!("the export lists consents: {}", export["tables"]));
        assert_eq!(rows.len(), 2, "{rows:?}");
        let (_, es) = s.get("/api/v1/consent/health-data?locale=es", None).await;
        assert!(rows.iter().any(|r| r["locale"] == "es"
            && r["text_sha256"] == es["sha256"]
            && r["withdrawn_at"].is_null()));
        assert!(rows.iter().any(|r| r["withdrawn_at"].is_i64()));
        assert_eq!(consent_rows(&s.db, id).await, 2);

        let (st, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(&eve),
                Some(json!({"password": PASSWORD, "content": "remove"})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(
            consent_rows(&s.db, id).await,
            0,
            "erasure takes the consents"
        );
    }
);

both_backends!(
    web_sign_up_asks_separately_and_pages_ask_when_needed,
    |b| async move {
        let s = Server::start(b).await;
        setup(&s).await;

        // The sign-up form: the notice and its own box, never ticked.
        let client = browser();
        let form = web::get(&s, &client, "/register", Some("es")).await;
        let boxes: Vec<&str> = form
            .html
            .split('<')
            .filter(|tag| tag.contains("name=\"health_data_consent\""))
            .collect();
        assert_eq!(boxes.len(), 1, "one consent box");
        assert!(boxes[0].contains("type=\"checkbox\""), "{}", boxes[0]);
        assert!(
            !boxes[0].contains("checked"),
            "never pre-ticked: {}",
            boxes[0]
        );
        assert!(
            form.html.contains("datos de salud"),
            "the notice in Spanish"
        );

        // Signed up without it: joining the condition group shows the consent page instead.
        let fay = web_member_without_consent(&s, "fayla", "es").await;
        let page = web::get(&s, &fay, "/c/t2d", None).await;
        let token = csrf(&page.html);
        let refused = fay
            .post(s.url("/c/t2d/join"))
            .header("referer", s.url("/c/t2d"))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let html = refused.text().await.unwrap();
        assert_eq!(lang(&html), "es");
        assert!(html.contains("necesita tu sí"), "says why: {html}");
        assert!(
            html.contains("action=\"/settings/consent\""),
            "offers the form"
        );
        assert!(
            html.contains("name=\"next\" value=\"/c/t2d\""),
            "comes back: {html}"
        );

        // The box left unticked: asked again, nothing recorded.
        let again = web::post(
            &s,
            &fay,
            "/settings/consent",
            &[
                ("csrf", token.as_str()),
                ("version", CONSENT_VERSION),
                ("locale", "es"),
                ("next", "/c/t2d"),
            ],
        )
        .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.html.contains("Marca la casilla"), "{}", again.html);
        let given = web::post(
            &s,
            &fay,
            "/settings/consent",
            &[
                ("csrf", token.as_str()),
                ("agree", "1"),
                ("version", CONSENT_VERSION),
                ("locale", "es"),
                ("next", "/c/t2d"),
            ],
        )
        .await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.html);
        assert_eq!(location(&given), "/c/t2d");
        let joined = web::post(&s, &fay, "/c/t2d/join", &[("csrf", token.as_str())]).await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);

        // Settings: the choice, the date, and the way back out.
        let settings = web::get(&s, &fay, "/settings/consent", None).await;
        assert_eq!(settings.status, StatusCode::OK);
        assert!(
            settings.html.contains("Dijiste que sí el"),
            "{}",
            settings.html
        );
        assert!(settings.html.contains("/settings/consent/withdraw"));
        let confirm = web::get(&s, &fay, "/settings/consent/withdraw", None).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(
            confirm.html.contains("Community t2d"),
            "names the group it leaves"
        );
        assert!(
            confirm.html.contains("No se puede deshacer"),
            "{}",
            confirm.html
        );
        let withdrawn = web::post(
            &s,
            &fay,
            "/settings/consent/withdraw",
            &[("csrf", token.as_str())],
        )
        .await;
        assert_eq!(withdrawn.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&withdrawn), "/settings/consent?done=withdrawn");
        let after = web::get(&s, &fay, "/c/t2d", None).await;
        assert!(
            after.html.contains("action=\"/c/t2d/join\""),
            "no longer a member: the group offers to join"
        );
        let settings = web::get(&s, &fay, "/settings/consent?done=withdrawn", None).await;
        assert!(
            settings.html.contains("Retiraste tu sí"),
            "{}",
            settings.html
        );

        // Ticked at sign-up: recorded from the form, in the language of the page.
        let gus = common::web::web_member(&s, "gustavo", "hi").await;
        let page = web::get(&s, &gus, "/settings/consent", None).await;
        assert_eq!(lang(&page.html), "hi");
        assert!(
            page.html.contains("/settings/consent/withdraw"),
            "{}",
            page.html
        );
    }
);

both_backends!(seeded_members_have_consented, |b| async move {
    let s = Server::start(b).await;
    let tokens_file = s.db.dir.join("tokens.txt");
    let (ok, out, err) = s.run_cli(&[
        "admin",
        "seed",
        "--members",
        "5",
        "--communities",
        "1",
        "--posts",
        "20",
        "--big-topic-replies",
        "5",
        "--chat-messages",
        "5",
        "--tokens",
        "2",
        "--tokens-file",
        tokens_file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    let tokens = std::fs::read_to_string(&tokens_file).unwrap();
    let token = tokens.lines().next().unwrap();
    let (_, mine) = s.get("/api/v1/me/consents", Some(token)).await;
    assert_eq!(mine["health_data"]["up_to_date"], true, "{mine}");
    assert_eq!(mine["history"][0]["source"], "seed");
    let (st, body) = reading(&s, token, 100.0).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
});
