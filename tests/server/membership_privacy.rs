#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Membership stays private (issue 18): who posts in a members-only group, whether a private
//! group exists, the operating figures, what an export tells about others, worried reports,
//! return addresses, erased words in the database file, and HSTS. Each test tries what an
//! attacker would.

use crate::common;

use common::web::{browser, csrf, get, location, post, web_login};
use common::{Backend, PASSWORD, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn user_id(s: &Server, token: &str) -> i64 {
    s.get("/api/v1/me", Some(token)).await.1["id"]
        .as_i64()
        .unwrap()
}

/// Raw answer: status and body text.
async fn raw(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s.client.request(m, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.text().await.unwrap_or_default())
}

both_backends!(
    members_only_groups_show_authors_to_members_alone,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "quiet-sleeve", "members", json!({}))
            .await;
        let writer = s.register("zq_rosalind").await;
        s.join(&writer, "quiet-sleeve").await;
        let (topic, _) = s
            .topic(
                &writer,
                "quiet-sleeve",
                "Week two after surgery",
                "Tired but fine.",
            )
            .await;
        let outsider = s.register("outsider_o").await;
        let member = s.register("member_m").await;
        s.join(&member, "quiet-sleeve").await;

        for (who, token) in [("visitor", None), ("outsider", Some(outsider.as_str()))] {
            let (st, list) = s
                .get("/api/v1/communities/quiet-sleeve/topics", token)
                .await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(list["items"][0]["title"], "Week two after surgery");
            assert!(list["items"][0]["author"].is_null(), "{who}: {list}");
            let (st, one) = s.get(&format!("/api/v1/topics/{topic}"), token).await;
            assert_eq!(st, StatusCode::OK);
            assert!(one["author"].is_null(), "{who}: {one}");
            assert!(!list.to_string().contains("zq_rosalind"), "{who}: {list}");
            assert!(!one.to_string().contains("zq_rosalind"), "{who}: {one}");
        }
        // The pages too, for a visitor and a signed-in outsider.
        let visitor = browser();
        let signed_out = web_login(&s, "outsider_o").await;
        for client in [&visitor, &signed_out] {
            for path in ["/c/quiet-sleeve".to_owned(), format!("/t/{topic}")] {
                let page = get(&s, client, &path, None).await;
                assert_eq!(page.status, StatusCode::OK, "{path}");
                assert!(page.html.contains("Week two after surgery"), "{path}");
                assert!(!page.html.contains("zq_rosalind"), "{path}: {}", page.html);
            }
        }
        // The writer's public profile lists nothing of the group to outsiders either.
        let profile = get(&s, &visitor, "/u/zq_rosalind", None).await;
        assert!(!profile.html.contains("Week two after surgery"));
        let (_, hits) = s.get("/api/v1/search?q=tired", None).await;
        assert!(!hits.to_string().contains("zq_rosalind"), "{hits}");
        // Members see who wrote.
        let (_, list) = s
            .get("/api/v1/communities/quiet-sleeve/topics", Some(&member))
            .await;
        assert_eq!(list["items"][0]["author"]["username"], "zq_rosalind");
        let (_, one) = s
            .get(&format!("/api/v1/topics/{topic}"), Some(&member))
            .await;
        assert_eq!(one["author"]["username"], "zq_rosalind");
    }
);

both_backends!(
    joining_a_private_group_tells_nothing_without_a_code,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "hidden-circle",
            "private",
            json!({"condition": "type-2-diabetes"}),
        )
        .await;
        let with_consent = s.register("prober_a").await;
        let without_consent = s.register_without_consent("prober_b").await;
        // Unknown and private answer alike, whatever the caller's consent, with or without a body.
        for token in [&with_consent, &without_consent] {
            for body in [None, Some(json!({})), Some(json!({"code": "not-a-code"}))] {
                let real = raw(
                    &s,
                    "POST",
                    "/api/v1/communities/hidden-circle/join",
                    Some(token),
                    body.clone(),
                )
                .await;
                let fake = raw(
                    &s,
                    "POST",
                    "/api/v1/communities/no-such-circle/join",
                    Some(token),
                    body,
                )
                .await;
                assert_eq!(real.0, StatusCode::NOT_FOUND, "{}", real.1);
                assert_eq!(real, fake);
            }
        }
        let (_, reqs) = s
            .get("/api/v1/communities/hidden-circle/requests", Some(&admin))
            .await;
        assert_eq!(
            reqs["items"].as_array().unwrap().len(),
            0,
            "no request filed"
        );

        // Organisers make links: bad limits are refused; a single-use link lets one person in.
        let path = "/api/v1/communities/hidden-circle/invitations";
        let (st, _) = s.post(path, Some(&admin), json!({"max_uses": 0})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = s
            .post(path, Some(&admin), json!({"expires_in_hours": 0}))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = s.post(path, Some(&with_consent), json!({})).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "outsiders cannot even ask");
        let (st, made) = s
            .post(
                path,
                Some(&admin),
                json!({"max_uses": 1, "expires_in_hours": 48}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{made}");
        let code = made["code"].as_str().unwrap().to_owned();
        assert!(
            made["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/i/{code}"))
        );
        // Consent is still asked for a group about a condition, before the use is taken.
        let (st, body) = s
            .post(
                "/api/v1/communities/hidden-circle/join",
                Some(&without_consent),
                json!({"code": code}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
        let (st, body) = s
            .post(
                "/api/v1/communities/hidden-circle/join",
                Some(&with_consent),
                json!({"code": code}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "active");
        let (st, _) = s
            .get(
                "/api/v1/communities/hidden-circle/topics",
                Some(&with_consent),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        // Used up: the next person learns nothing.
        let other = s.register("prober_c").await;
        let used = raw(
            &s,
            "POST",
            "/api/v1/communities/hidden-circle/join",
            Some(&other),
            Some(json!({"code": code})),
        )
        .await;
        let fake = raw(
            &s,
            "POST",
            "/api/v1/communities/no-such-circle/join",
            Some(&other),
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(used, fake);
        let (_, list) = s.get(path, Some(&admin)).await;
        assert_eq!(list[0]["uses"], 1);
        assert_eq!(list[0]["usable"], false);
        assert!(list[0]["expires_at"].is_string());
        assert!(
            !list.to_string().contains("prober"),
            "a link does not say who used it"
        );

        // A revoked link stops working.
        let (_, open) = s.post(path, Some(&admin), json!({})).await;
        let open_code = open["code"].as_str().unwrap().to_owned();
        let (st, _) = s
            .call("DELETE", &format!("{path}/{open_code}"), Some(&admin), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = s
            .post(
                "/api/v1/communities/hidden-circle/join",
                Some(&other),
                json!({"code": open_code}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // A referral link's code asks to join, as the link itself does.
        let (_, referral) = s
            .post(
                "/api/v1/communities/hidden-circle/referrals",
                Some(&admin),
                json!({"label": "Clinic"}),
            )
            .await;
        let (st, body) = s
            .post(
                "/api/v1/communities/hidden-circle/join",
                Some(&other),
                json!({"code": referral["code"]}),
            )
            .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "pending");

        // On the web: the organiser makes a link, a signed-in member follows it and is in.
        let org = web_login(&s, &admin_name(&s, &admin).await).await;
        let page = get(&s, &org, "/organise/hidden-circle/invitations", None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let token = csrf(&page.html);
        let done = post(
            &s,
            &org,
            "/organise/hidden-circle/invitations",
            &[
                ("csrf", &token),
                ("max_uses", "1"),
                ("expires_in_hours", ""),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let (_, list) = s.get(path, Some(&admin)).await;
        let web_code = list[0]["code"].as_str().unwrap().to_owned();
        let visitor = browser();
        let bounced = get(&s, &visitor, &format!("/i/{web_code}"), None).await;
        assert_eq!(bounced.status, StatusCode::SEE_OTHER);
        assert!(location(&bounced).starts_with("/login?next="));
        s.register("web_joiner").await;
        let joiner = web_login(&s, "web_joiner").await;
        let landing = get(&s, &joiner, &format!("/i/{web_code}"), None).await;
        assert_eq!(landing.status, StatusCode::OK);
        assert!(landing.html.contains("Community hidden-circle"));
        let token = csrf(&landing.html);
        let joined = post(&s, &joiner, &format!("/i/{web_code}"), &[("csrf", &token)]).await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);
        assert_eq!(location(&joined), "/c/hidden-circle?welcome=1");
        let dead = get(&s, &joiner, &format!("/i/{web_code}"), None).await;
        assert_eq!(dead.status, StatusCode::NOT_FOUND);
    }
);

async fn admin_name(s: &Server, token: &str) -> String {
    s.get("/api/v1/me", Some(token)).await.1["username"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_backends!(
    metrics_need_the_token_or_the_private_address,
    |b| async move {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let s = Server::start_with(
            b,
            ServerOptions {
                extra_env: vec![
                    ("MUTUAL_METRICS_TOKEN".into(), "scrape-me-7".into()),
                    ("MUTUAL_METRICS_LISTEN".into(), format!("127.0.0.1:{port}")),
                ],
                ..Default::default()
            },
        )
        .await;
        let user = s.register("metrics_reader").await;
        let plain = s.client.get(s.url("/metrics")).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::NOT_FOUND);
        let text = plain.text().await.unwrap();
        assert!(!text.contains("mutual_"), "{text}");
        let unknown = s.client.get(s.url("/no-such-page")).send().await.unwrap();
        assert_eq!(
            unknown
                .text()
                .await
                .unwrap()
                .replace("%2Fno-such-page", "%2Fmetrics"),
            text,
            "as any unknown page"
        );
        for wrong in [user.as_str(), "scrape-me-8", "scrape-me-77"] {
            let r = s
                .client
                .get(s.url("/metrics"))
                .bearer_auth(wrong)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
        }
        let ok = s
            .client
            .get(s.url("/metrics"))
            .bearer_auth("scrape-me-7")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(
            ok.text()
                .await
                .unwrap()
                .contains("mutual_http_requests_total")
        );
        // The private address needs no token, and serves nothing else.
        let private = format!("http://127.0.0.1:{port}");
        let mut answer = None;
        for _ in 0..50 {
            if let Ok(r) = s.client.get(format!("{private}/metrics")).send().await {
                answer = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let answer = answer.expect("the metrics address answers");
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.text().await.unwrap().contains("mutual_"));
        let other = s
            .client
            .get(format!("{private}/api/v1/communities"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    the_export_and_the_log_tell_nothing_about_others,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "open-talk",
            "public",
            json!({"allow_anonymous": true}),
        )
        .await;
        let ana = s.register("ana_w").await;
        let fan = s.register("fan_zeta").await;
        let reporter = s.register("reporter_kappa").await;
        let moderator = s.register("mod_theta").await;
        for t in [&ana, &fan, &reporter, &moderator] {
            s.join(t, "open-talk").await;
        }
        let (st, _) = s
            .call(
                "PUT",
                "/api/v1/communities/open-talk/roles/moderator/mod_theta",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        // Someone follows Ana; someone reports her post; she posts anonymously, a moderator
        // deletes it and warns her for it.
        let (st, _) = s
            .call("PUT", "/api/v1/users/ana_w/follow", Some(&fan), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (_, named) = s
            .topic(&ana, "open-talk", "Named topic", "words REPORTED-OMEGA")
            .await;
        let (st, _) = s
        .post(
            "/api/v1/reports",
            Some(&reporter),
            json!({"target": {"type": "post", "id": named}, "reason": "spam", "note": "REPORTER-NOTE-SIGMA"}),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, anon) = s
            .post(
                "/api/v1/communities/open-talk/topics",
                Some(&ana),
                json!({"title": "Anonymous one", "body": "ANON-WORDS-PSI", "anonymous": true}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{anon}");
        let anon_post = anon["post"]["id"].as_i64().unwrap();
        let ana_id = user_id(&s, &ana).await;
        for (action, target) in [
            ("delete", json!({"type": "post", "id": anon_post})),
            ("warn", json!({"type": "user", "id": ana_id})),
        ] {
            let (st, body) = s
            .post(
                "/api/v1/moderation/actions",
                Some(&moderator),
                json!({"action": action, "target": target, "community": "open-talk", "reason": "insults"}),
            )
            .await;
            assert!(st.is_success(), "{action}: {st} {body}");
        }

        let (_, export) = s.get("/api/v1/me/export", Some(&ana)).await;
        let text = export.to_string();
        let fan_id = user_id(&s, &fan).await;
        let reporter_id = user_id(&s, &reporter).await;
        let mod_id = user_id(&s, &moderator).await;
        assert!(
            export["tables"]["follows.followee_id"].is_null(),
            "who follows her"
        );
        assert!(
            export["tables"]["mod_cases.author_id"].is_null(),
            "cases about her"
        );
        assert!(!text.contains("REPORTER-NOTE-SIGMA"));
        for (who, id) in [
            ("fan", fan_id),
            ("reporter", reporter_id),
            ("moderator", mod_id),
        ] {
            for column in [
                "follower_id",
                "reporter_id",
                "deleted_by",
                "actor_id",
                "created_by",
            ] {
                assert!(
                    !text.contains(&format!("\"{column}\":{id}")),
                    "the {who}'s id as {column} in her export"
                );
            }
        }
        assert!(text.contains("REPORTED-OMEGA"), "her own words are there");
        // The moderator's export does not list the anonymous post he deleted, nor its author.
        let (_, mod_export) = s.get("/api/v1/me/export", Some(&moderator)).await;
        let mod_text = mod_export.to_string();
        assert!(!mod_text.contains("ANON-WORDS-PSI"), "{mod_text}");
        assert!(
            !mod_text.contains(&format!("\"author_id\":{ana_id}")),
            "{mod_text}"
        );
        // The fan's export shows whom he follows: his own doing.
        let (_, fan_export) = s.get("/api/v1/me/export", Some(&fan)).await;
        assert!(fan_export["tables"]["follows.follower_id"].is_array());

        // The public log shows the deletion and the warning, but not whom the warning was for.
        let (_, log) = s
            .get("/api/v1/communities/open-talk/modlog", Some(&reporter))
            .await;
        let items = log["items"].as_array().unwrap();
        let warn = items
            .iter()
            .find(|e| e["action"] == "warn")
            .expect("warn logged");
        assert!(warn["target_id"].is_null(), "{warn}");
        let del = items
            .iter()
            .find(|e| e["action"] == "delete")
            .expect("delete logged");
        assert_eq!(del["target_id"], anon_post);
        for e in items.iter().filter(|e| e["target_type"] == "user") {
            assert!(e["target_id"].is_null(), "{e}");
        }
        // Moderators see whom.
        let (_, modlog) = s
            .get("/api/v1/communities/open-talk/modlog", Some(&moderator))
            .await;
        let warn = modlog["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "warn")
            .unwrap()
            .clone();
        assert_eq!(warn["target_id"], ana_id);
    }
);

both_backends!(
    worried_reports_come_only_from_fellow_members,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "low-days",
            "public",
            json!({"condition": "depression"}),
        )
        .await;
        s.community(&admin, "elsewhere", "public", json!({})).await;
        let person = s.register("person_p").await;
        let fellow = s.register("fellow_f").await;
        let stranger = s.register("stranger_s").await;
        s.join(&person, "low-days").await;
        s.join(&fellow, "low-days").await;
        s.join(&stranger, "elsewhere").await;
        let person_id = user_id(&s, &person).await;
        // A stranger cannot worry about anyone: the answer is the one for a person who is not there.
        let report = |slug: &str, id: i64| json!({"target": {"type": "user", "id": id}, "reason": "worried", "community": slug});
        let (st, _) = s
            .post(
                "/api/v1/reports",
                Some(&stranger),
                report("elsewhere", person_id),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st2, _) = s
            .post(
                "/api/v1/reports",
                Some(&stranger),
                report("elsewhere", 987_654),
            )
            .await;
        assert_eq!(st, st2);
        let (_, n) = s.get("/api/v1/notifications", Some(&person)).await;
        assert!(
            !n.to_string().contains("caring_message"),
            "no notice from a stranger: {n}"
        );
        // A fellow member can; the notice names no group.
        let (st, body) = s
            .post(
                "/api/v1/reports",
                Some(&fellow),
                report("low-days", person_id),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        let (_, n) = s.get("/api/v1/notifications", Some(&person)).await;
        let caring = n["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == "caring_message")
            .cloned()
            .expect("a caring message");
        assert!(caring["community"].is_null(), "{caring}");
        assert!(!n.to_string().contains("low-days"), "{n}");
    }
);

both_backends!(return_addresses_stay_on_the_site, |b| async move {
    let s = Server::start(b).await;
    s.register("roamer_r").await;
    let client = web_login(&s, "roamer_r").await;
    for bad in [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0ALocation:%20http://evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F/evil.example",
        "/%252F/evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
    ] {
        let page = get(&s, &client, &format!("/login?next={bad}"), None).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "next={bad}: {}",
            page.html
        );
        assert_eq!(location(&page), "/", "next={bad}");
    }
    let page = get(&s, &client, "/login?next=/settings%3Fa%3D1", None).await;
    assert_eq!(location(&page), "/settings?a=1");
    // Signing in through the form with a bad `next`.
    let visitor = browser();
    let form = get(&s, &visitor, "/login", None).await;
    let token = csrf(&form.html);
    let done = post(
        &s,
        &visitor,
        "/login",
        &[
            ("csrf", token.as_str()),
            ("username", "roamer_r"),
            ("password", PASSWORD),
            ("next", "/\t/evil.example"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/");
    // The reaction form's `back`.
    let admin = s.admin().await;
    s.community(&admin, "react-here", "public", json!({})).await;
    s.join(&admin, "react-here").await;
    let (_, post_id) = s.topic(&admin, "react-here", "Hello", "a post").await;
    let roamer = s.login("roamer_r").await;
    s.join(&roamer, "react-here").await;
    let page = get(&s, &client, "/c/react-here", None).await;
    let token = csrf(&page.html);
    for back in ["/%09/evil.example", "/\n/evil.example", "//evil.example"] {
        let done = post(
            &s,
            &client,
            &format!("/p/{post_id}/react"),
            &[("csrf", token.as_str()), ("kind", "heart"), ("back", back)],
        )
        .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "back={back:?}: {}",
            done.html
        );
        assert_eq!(location(&done), "/", "back={back:?}");
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_words_leave_the_sqlite_file() {
    let mut s = Server::start(Backend::Sqlite).await;
    let admin = s.admin().await;
    s.community(&admin, "erase-here", "public", json!({})).await;
    let (st, body) = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "quokkaname", "password": PASSWORD, "display_name": "Xylophonia Quokkard",
                   "email": "quokka.mail@zzexample.org", "health_data_consent": {"version": common::CONSENT_VERSION}}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    s.join(&token, "erase-here").await;
    let (topic, _) = s
        .topic(
            &token,
            "erase-here",
            "Zebrafinchword title",
            "Marmalizard words inside",
        )
        .await;
    s.reply(
        &token,
        topic,
        json!({"body": "Marmalizard again, Pangolinquest"}),
    )
    .await;
    let (st, _) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&token),
            Some(json!({"password": PASSWORD, "content": "remove"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(s.terminate().success());
    let needles: Vec<Vec<u8>> = [
        "quokkaname",
        "Xylophonia",
        "Quokkard",
        "quokka.mail",
        "zzexample",
        "Zebrafinchword",
        "Marmalizard",
        "marmalizard",
        "Pangolinquest",
        "pangolinquest",
    ]
    .iter()
    .map(|n| n.as_bytes().to_vec())
    .collect();
    let mut scanned = 0;
    for entry in std::fs::read_dir(&s.db.dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mutual.db") {
            continue;
        }
        scanned += 1;
        let bytes = std::fs::read(&path).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_slice()),
                "{name} still holds {:?}",
                String::from_utf8_lossy(n)
            );
        }
    }
    assert!(scanned >= 1, "the database file was scanned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_sites_send_strict_transport_security() {
    let s = Server::start_with(
        Backend::Sqlite,
        ServerOptions {
            extra_env: vec![(
                "MUTUAL_PUBLIC_URL".into(),
                "https://mutual.example.org".into(),
            )],
            ..Default::default()
        },
    )
    .await;
    for path in ["/", "/api/v1/communities", "/no-such-page", "/healthz"] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        let hsts = r
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(hsts.starts_with("max-age=31536000"), "{path}: {hsts:?}");
    }
    let plain = Server::start(Backend::Sqlite).await;
    let r = plain.client.get(plain.url("/")).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}
