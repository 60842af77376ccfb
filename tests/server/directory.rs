#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The public directory: public and members communities by condition, language and region, with
//! what each offers; private communities absent however they are searched for.

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn slugs(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(private_groups_never_appear, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "open-door", "public", json!({"name": "Diabétes Open Door", "language": "es", "region": "Jalisco, MX", "condition": "type-2-diabetes"})).await;
    s.community(&admin, "hidden-room", "private", json!({"name": "Hidden Diabetes Room", "language": "es", "region": "Jalisco, MX", "condition": "type-2-diabetes"})).await;
    s.community(&admin, "members-only", "members", json!({"name": "Sleeve Friends", "condition": "bariatric", "language": "en", "region": "US"})).await;

    // Anyone, with no sign-in: the private group is absent, even searched by its exact name.
    for (path, token) in [
        ("/api/v1/directory", None),
        ("/api/v1/directory?q=Hidden%20Diabetes%20Room", None),
        ("/api/v1/directory?q=hidden-room", Some(admin.as_str())),
        (
            "/api/v1/directory?language=es&region=Jalisco",
            Some(admin.as_str()),
        ),
    ] {
        let (st, page) = s.get(path, token).await;
        assert_eq!(st, StatusCode::OK, "{path}: {page}");
        let found = slugs(&page);
        assert!(
            !found.contains(&"hidden-room".to_string()),
            "{path}: {page}"
        );
        assert!(!page.to_string().contains("Hidden"), "{path}: {page}");
    }
    let (_, all) = s.get("/api/v1/directory", None).await;
    let found = slugs(&all);
    assert!(
        found.contains(&"open-door".into()) && found.contains(&"members-only".into()),
        "{all}"
    );
    let members = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "members-only")
        .unwrap();
    assert_eq!(members["visibility"], "members");
    assert_eq!(members["member_count"], 1);
});

both_backends!(search_folds_accents_and_filters, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "guadalajara", "public", json!({"name": "Diabétes Guadalajara", "language": "es-MX", "region": "Jalisco, MX", "condition": "type-2-diabetes", "condition_label": "Diabetes tipo 2"})).await;
    s.community(&admin, "delhi-bp", "public", json!({"name": "Delhi pressure club", "language": "hi", "region": "Delhi, IN", "condition": "hypertension"})).await;
    s.community(&admin, "boston-bp", "members", json!({"name": "Boston BP", "language": "en", "region": "Massachusetts, US", "condition": "hypertension"})).await;

    let (_, page) = s.get("/api/v1/directory?q=diabetes", None).await;
    assert_eq!(slugs(&page), ["guadalajara"], "{page}");
    let (_, page) = s
        .get("/api/v1/directory?q=DIABÉTES%20guadalajara", None)
        .await;
    assert_eq!(slugs(&page), ["guadalajara"], "{page}");
    let entry = &page["items"][0];
    assert_eq!(entry["language"], "es");
    assert_eq!(entry["condition_label"], "Diabetes tipo 2");
    let (_, page) = s.get("/api/v1/directory?q=hypertension", None).await;
    assert_eq!(slugs(&page), ["delhi-bp", "boston-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?language=hi", None).await;
    assert_eq!(slugs(&page), ["delhi-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?region=us", None).await;
    assert_eq!(slugs(&page), ["boston-bp"], "{page}");
    let (_, page) = s
        .get(
            "/api/v1/directory?condition=hypertension&region=delhi",
            None,
        )
        .await;
    assert_eq!(slugs(&page), ["delhi-bp"], "{page}");
    let (_, page) = s.get("/api/v1/directory?q=nothing-like-this", None).await;
    assert!(slugs(&page).is_empty());

    // Keyset paging over the filtered list.
    let (_, first) = s.get("/api/v1/directory?q=bp&limit=1", None).await;
    let (_, one) = s
        .get("/api/v1/directory?condition=hypertension&limit=1", None)
        .await;
    assert_eq!(slugs(&one), ["delhi-bp"], "{one} {first}");
    let next = one["next"].as_str().expect("a next page");
    let (_, two) = s
        .get(
            &format!("/api/v1/directory?condition=hypertension&limit=1&after={next}"),
            None,
        )
        .await;
    assert_eq!(slugs(&two), ["boston-bp"], "{two}");
    assert!(two["next"].is_null(), "{two}");
    let (st, _) = s.get("/api/v1/directory?after=garbage", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Organisers set the listing with PATCH; bad values are refused by name.
    let (st, c) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&admin),
            Some(json!({"region": "Boston, US", "language": "es"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["region"], "Boston, US");
    assert_eq!(c["condition"], "hypertension");
    let (_, page) = s.get("/api/v1/directory?language=es", None).await;
    assert_eq!(slugs(&page), ["guadalajara", "boston-bp"], "{page}");
    let (st, e) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&admin),
            Some(json!({"condition": "Not A Key!", "language": "english"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e.to_string().contains("condition") && e.to_string().contains("language"),
        "{e}"
    );
    let member = s.register("plainmember").await;
    s.join(&member, "boston-bp").await;
    let (st, _) = s
        .call(
            "PATCH",
            "/api/v1/communities/boston-bp",
            Some(&member),
            Some(json!({"region": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
});

both_backends!(entries_say_what_each_group_offers, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "busy", "public", json!({})).await;
    s.community(&admin, "quiet", "public", json!({})).await;
    let (_, rooms) = s.get("/api/v1/communities/busy/rooms", Some(&admin)).await;
    let room = rooms[0]["id"].as_i64().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let (st, ev) = s
        .post(
            "/api/v1/communities/busy/events",
            Some(&admin),
            json!({"room": room, "title": "Ask a nurse", "starts_at": soon, "ends_at": later}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ev}");
    let (st, m) = s.post("/api/v1/communities/busy/meetings", Some(&admin), json!({"title": "Tuesday circle", "place": "Centro de Salud", "address": "Av. Juárez 10", "first_at": soon, "repeat": "weekly", "timezone": "America/Mexico_City"})).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let (st, c) = s
        .post(
            "/api/v1/communities/busy/circles",
            Some(&admin),
            json!({"name": "Morning walkers"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let member = s.register("walker").await;
    s.join(&member, "busy").await;

    let (_, page) = s.get("/api/v1/directory", None).await;
    let items = page["items"].as_array().unwrap();
    let busy = items.iter().find(|c| c["slug"] == "busy").unwrap();
    let quiet = items.iter().find(|c| c["slug"] == "quiet").unwrap();
    assert_eq!(busy["member_count"], 2, "{busy}");
    let o = &busy["offers"];
    assert_eq!(o["forum"], true);
    assert!(o["chat_rooms"].as_i64().unwrap() >= 1, "{o}");
    assert_eq!(o["live_sessions"], 1, "{o}");
    assert_eq!(o["circles"], true, "{o}");
    assert_eq!(o["meetings"], 1, "{o}");
    assert_eq!(o["next_meeting_at"], m["next"][0], "{o} {m}");
    let q = &quiet["offers"];
    assert_eq!(
        (
            q["live_sessions"].as_i64(),
            q["circles"].as_bool(),
            q["meetings"].as_i64()
        ),
        (Some(0), Some(false), Some(0)),
        "{q}"
    );
    assert!(q.get("next_meeting_at").is_none(), "{q}");
});

both_backends!(
    groups_in_several_languages_and_how_they_meet,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        let c = s
            .community(
                &admin,
                "bilingue",
                "public",
                json!({"languages": ["es-MX", "en", "ES"], "meeting_style": "both"}),
            )
            .await;
        // The main language first; `language` stays for older clients, as the first of them.
        assert_eq!(c["language"], "es", "{c}");
        assert_eq!(c["languages"], json!(["es", "en"]), "{c}");
        assert_eq!(c["meeting_style"], "both", "{c}");
        // An older client says one language: it is the whole list; a group meets online unless told.
        let c = s
            .community(&admin, "solo-en", "public", json!({"language": "en"}))
            .await;
        assert_eq!(
            (&c["languages"], &c["meeting_style"]),
            (&json!(["en"]), &json!("online")),
            "{c}"
        );
        s.community(
            &admin,
            "sala-hi",
            "members",
            json!({"languages": ["hi"], "meeting_style": "in_person"}),
        )
        .await;
        s.community(
            &admin,
            "secreto",
            "private",
            json!({"languages": ["es", "en"], "meeting_style": "both"}),
        )
        .await;

        // Found by any of its languages, and by how it meets (online and in person each take in
        // the groups that meet both ways).
        for (query, want) in [
            ("language=en", vec!["bilingue", "solo-en"]),
            ("language=es", vec!["bilingue"]),
            ("language=es-MX", vec!["bilingue"]),
            ("language=pt", vec![]),
            ("language=hi", vec!["sala-hi"]),
            ("meeting_style=online", vec!["bilingue", "solo-en"]),
            ("meeting_style=in_person", vec!["bilingue", "sala-hi"]),
            ("meeting_style=both", vec!["bilingue"]),
            ("language=en&meeting_style=in_person", vec!["bilingue"]),
            ("language=hi&meeting_style=online", vec![]),
        ] {
            let (st, page) = s.get(&format!("/api/v1/directory?{query}"), None).await;
            assert_eq!(st, StatusCode::OK, "{query}: {page}");
            assert_eq!(slugs(&page), want, "{query}: {page}");
        }
        let (st, e) = s
            .get("/api/v1/directory?meeting_style=sometimes", None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
        let (_, page) = s.get("/api/v1/directory?language=en", None).await;
        let entry = &page["items"][0];
        assert_eq!(entry["languages"], json!(["es", "en"]), "{entry}");
        assert_eq!(entry["language"], "es", "{entry}");
        assert_eq!(entry["meeting_style"], "both", "{entry}");

        // PATCH: the whole list, or (older clients) the main language alone, which replaces the
        // first; the style on its own.
        let patch = |body: Value| {
            let s = &s;
            let admin = admin.clone();
            async move {
                s.call(
                    "PATCH",
                    "/api/v1/communities/bilingue",
                    Some(&admin),
                    Some(body),
                )
                .await
            }
        };
        let (st, c) = patch(json!({"language": "hi"})).await;
        assert_eq!(st, StatusCode::OK, "{c}");
        assert_eq!(c["languages"], json!(["hi", "en"]), "{c}");
        assert_eq!(c["meeting_style"], "both", "{c}");
        let (_, page) = s.get("/api/v1/directory?language=es", None).await;
        assert!(slugs(&page).is_empty(), "{page}");
        let (st, c) = patch(json!({"languages": ["en", "es"], "meeting_style": "online"})).await;
        assert_eq!(st, StatusCode::OK, "{c}");
        assert_eq!(
            (&c["language"], &c["languages"], &c["meeting_style"]),
            (&json!("en"), &json!(["en", "es"]), &json!("online")),
            "{c}"
        );
        let (_, page) = s
            .get("/api/v1/directory?meeting_style=in_person", None)
            .await;
        assert_eq!(slugs(&page), ["sala-hi"], "{page}");
        let (_, c) = s.get("/api/v1/communities/bilingue", None).await;
        assert_eq!(c["languages"], json!(["en", "es"]), "{c}");
        // Refused by name, and nothing changes.
        for (body, field) in [
            (json!({"languages": ["english"]}), "languages"),
            (
                json!({"languages": ["en", "es", "hi", "pt", "fr", "de"]}),
                "languages",
            ),
            (
                json!({"languages": ["es", "en"], "language": "en"}),
                "language",
            ),
            (json!({"meeting_style": "sometimes"}), "meeting_style"),
        ] {
            let (st, e) = patch(body.clone()).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
            assert!(e.to_string().contains(field), "{body}: {e}");
        }
        let (st, e) = s
            .post(
                "/api/v1/communities",
                Some(&admin),
                json!({"slug": "mal", "name": "Mal grupo", "meeting_style": "sometimes"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (_, c) = s.get("/api/v1/communities/bilingue", None).await;
        assert_eq!(
            (&c["languages"], &c["meeting_style"]),
            (&json!(["en", "es"]), &json!("online")),
            "{c}"
        );
        // An empty main language clears them all.
        let (_, c) = patch(json!({"language": ""})).await;
        assert_eq!(c["languages"], json!([]), "{c}");
        assert_eq!(c["language"], "", "{c}");
    }
);

both_backends!(
    group_forms_set_languages_and_how_they_meet,
    |b| async move {
        use common::web::{csrf, get, location, post, web_login, web_member};
        let s = Server::start(b).await;
        let (ok, out, err) = s.run_cli(&[
            "admin",
            "create-user",
            "--username",
            "siteadmin",
            "--password",
            common::PASSWORD,
            "--role",
            "admin",
        ]);
        assert!(ok, "{out}{err}");
        // The admin's "Start a group" form: a main language, others ticked, how it meets.
        let admin = web_login(&s, "siteadmin").await;
        let form = get(&s, &admin, "/admin", None).await;
        for field in [
            r#"name="also_en" value="1""#,
            r#"name="also_es" value="1""#,
            r#"name="also_hi" value="1""#,
            r#"<input type="radio" name="meeting_style" value="online" checked>"#,
            r#"<input type="radio" name="meeting_style" value="in_person">"#,
            "Meets online and in person",
        ] {
            assert!(form.html.contains(field), "{field}: {}", form.html);
        }
        let made = post(
            &s,
            &admin,
            "/admin/communities",
            &[
                ("csrf", csrf(&form.html).as_str()),
                ("slug", "dos-lenguas"),
                ("name", "Dos lenguas"),
                ("description", ""),
                ("visibility", "public"),
                ("condition", "type-2-diabetes"),
                ("condition_label", ""),
                ("language", "es"),
                ("also_en", "1"),
                ("also_es", "1"),
                ("meeting_style", "both"),
                ("region", "Texas, US"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
        let (_, c) = s.get("/api/v1/communities/dos-lenguas", None).await;
        assert_eq!(
            (&c["languages"], &c["meeting_style"]),
            (&json!(["es", "en"]), &json!("both")),
            "{c}"
        );
        // A refused form keeps the boxes and the style as they were sent.
        let form = get(&s, &admin, "/admin", None).await;
        let refused = post(
            &s,
            &admin,
            "/admin/communities",
            &[
                ("csrf", csrf(&form.html).as_str()),
                ("slug", "x"),
                ("name", "Otro"),
                ("language", "en"),
                ("also_hi", "1"),
                ("meeting_style", "in_person"),
            ],
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.html.contains(r#"name="also_hi" value="1" checked"#),
            "{}",
            refused.html
        );
        assert!(
            refused.html.contains(r#"value="in_person" checked"#),
            "{}",
            refused.html
        );

        // The directory page, in Spanish: found by its second language and by how it meets, and
        // it says both in plain words.
        let visitor = common::web::browser();
        let page = get(
            &s,
            &visitor,
            "/groups?language=en&meeting_style=in_person",
            Some("es"),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("Dos lenguas"), "{}", page.html);
        assert!(
            page.html.contains("Idiomas: Español, English"),
            "{}",
            page.html
        );
        assert!(
            page.html.contains("Se reúne en línea y en persona"),
            "{}",
            page.html
        );
        assert!(
            page.html
                .contains(r#"<option value="in_person" selected>En persona</option>"#),
            "{}",
            page.html
        );
        let page = get(
            &s,
            &visitor,
            "/groups?meeting_style=online&language=hi",
            Some("es"),
        )
        .await;
        assert!(!page.html.contains("Dos lenguas"), "{}", page.html);

        // The organiser's group details, in Hindi: what is stored is ticked; a change is saved.
        let api_admin = s.login("siteadmin").await;
        let orga = web_member(&s, "orga", "hi").await;
        let orga_api = s.login("orga").await;
        s.join(&orga_api, "dos-lenguas").await;
        let (st, _) = s
            .call(
                "PUT",
                "/api/v1/communities/dos-lenguas/roles/organiser/orga",
                Some(&api_admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let form = get(&s, &orga, "/organise/dos-lenguas/details", None).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        for field in [
            "समूह कैसे मिलता है",
            "ऑनलाइन और आमने-सामने मिलता है",
            r#"name="also_en" value="1" checked"#,
            r#"<input type="radio" name="meeting_style" value="both" checked>"#,
        ] {
            assert!(form.html.contains(field), "{field}: {}", form.html);
        }
        assert!(!form.html.contains(r#"name="also_hi" value="1" checked"#));
        let token = csrf(&form.html);
        let fields = |style: &'static str| {
            vec![
                ("csrf", token.clone()),
                ("name", "Dos lenguas".to_owned()),
                ("description", String::new()),
                ("condition", "type-2-diabetes".to_owned()),
                ("condition_label", String::new()),
                ("language", "hi".to_owned()),
                ("also_es", "1".to_owned()),
                ("meeting_style", style.to_owned()),
                ("region", "Texas, US".to_owned()),
            ]
        };
        let send = |v: Vec<(&'static str, String)>| {
            let s = &s;
            let orga = orga.clone();
            async move {
                let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post(s, &orga, "/organise/dos-lenguas/details", &pairs).await
            }
        };
        let refused = send(fields("sometimes")).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.html.contains("चुनें कि समूह कैसे मिलता है।"),
            "{}",
            refused.html
        );
        assert!(
            refused.html.contains(r#"name="also_es" value="1" checked"#),
            "{}",
            refused.html
        );
        let saved = send(fields("in_person")).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        assert_eq!(location(&saved), "/organise/dos-lenguas/details?saved=1");
        let (_, c) = s.get("/api/v1/communities/dos-lenguas", None).await;
        assert_eq!(
            (&c["language"], &c["languages"], &c["meeting_style"]),
            (&json!("hi"), &json!(["hi", "es"]), &json!("in_person")),
            "{c}"
        );
        let (_, page) = s.get("/api/v1/directory?language=en", None).await;
        assert!(slugs(&page).is_empty(), "{page}");
        let (_, page) = s
            .get(
                "/api/v1/directory?language=es&meeting_style=in_person",
                None,
            )
            .await;
        assert_eq!(slugs(&page), ["dos-lenguas"], "{page}");
    }
);
