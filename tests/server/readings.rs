#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Private readings through the real server: validation per kind and unit, the privacy of the
//! readings (no other member, moderator, organiser, admin or visitor gets them from any
//! endpoint), SVG charts for empty, single and long series, mixed units, trends shared with a
//! circle and revoked, a trend turned into a milestone only when true and without numbers, the
//! export and the account deletion, and the `/me/readings` page without JavaScript.

use crate::common;

use common::web::{self, Page, browser, csrf, location, post, web_login, web_member};
use common::{Backend, PASSWORD, Server, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A page in the member's own language.
async fn get(s: &Server, client: &reqwest::Client, path: &str) -> Page {
    web::get(s, client, path, None).await
}

const DAY_MS: i64 = 24 * 3600 * 1000;

fn ago(ms: i64) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    chrono::DateTime::from_timestamp_millis(now - ms)
        .unwrap()
        .to_rfc3339()
}

async fn log(s: &Server, token: &str, body: Value) -> (StatusCode, Value) {
    s.post("/api/v1/me/readings", Some(token), body).await
}

async fn log_ok(s: &Server, token: &str, body: Value) -> Value {
    let (st, r) = log(s, token, body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{body} → {r}");
    r
}

/// (status, content-type, cache-control, body) of a GET.
async fn raw(s: &Server, path: &str, token: Option<&str>) -> (StatusCode, String, String, String) {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (ct, cc) = (h("content-type"), h("cache-control"));
    (status, ct, cc, resp.text().await.unwrap_or_default())
}

/// Checks an SVG chart is well-formed, labelled, script-free, finite and small; returns
/// (title, desc).
fn check_svg(svg: &str) -> (String, String) {
    assert!(svg.len() < 60_000, "chart is {} bytes", svg.len());
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("role"), Some("img"));
    assert!(root.attribute("viewBox").is_some());
    let text_of = |tag: &str| {
        root.children()
            .find(|n| n.tag_name().name() == tag)
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("no <{tag}>"))
            .to_owned()
    };
    let (title, desc) = (text_of("title"), text_of("desc"));
    assert!(!title.is_empty() && !desc.is_empty());
    for n in doc.descendants() {
        assert_ne!(n.tag_name().name(), "script");
        assert_ne!(n.tag_name().name(), "foreignObject");
        for a in n.attributes() {
            assert!(!a.name().starts_with("on"), "event handler {}", a.name());
            let v = a.value();
            assert!(
                !v.contains("NaN") && !v.contains("inf") && !v.contains("javascript:"),
                "{}={v}",
                a.name()
            );
        }
    }
    (title, desc)
}

/// Every text node of an SVG: what a reader of the image (or its text alternative) gets.
fn visible_text(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" | ")
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

both_backends!(readings_are_checked_per_kind_and_unit, |b| async move {
    let s = Server::start(b).await;
    let me = s.register("rosa").await;
    let refused = [
        (json!({"kind": "glucose", "value": 5}), "value"),
        (json!({"kind": "glucose", "value": 1200}), "value"),
        (
            json!({"kind": "glucose", "value": 80, "unit": "mmol/L"}),
            "value",
        ),
        (
            json!({"kind": "glucose", "value": 100, "unit": "kg"}),
            "unit",
        ),
        (json!({"kind": "glucose"}), "value"),
        (
            json!({"kind": "glucose", "value": 100, "value2": 60}),
            "value2",
        ),
        (json!({"kind": "blood_pressure", "value": 120}), "value2"),
        (
            json!({"kind": "blood_pressure", "value": 320, "value2": 80}),
            "value",
        ),
        (
            json!({"kind": "blood_pressure", "value": 120, "value2": 20}),
            "value2",
        ),
        (
            json!({"kind": "blood_pressure", "value": 80, "value2": 120}),
            "value2",
        ),
        (json!({"kind": "weight", "value": 10}), "value"),
        (
            json!({"kind": "weight", "value": 700, "unit": "kg"}),
            "value",
        ),
        (json!({"kind": "steps", "value": -1}), "value"),
        (json!({"kind": "steps", "value": 250000}), "value"),
        (json!({"kind": "steps", "value": 10.5}), "value"),
        (json!({"kind": "note"}), "note"),
        (json!({"kind": "note", "note": "x".repeat(501)}), "note"),
        (json!({"kind": "note", "note": "fine", "value": 3}), "value"),
        (json!({"kind": "sleep", "value": 8}), "kind"),
        (
            json!({"kind": "weight", "value": 80, "taken_at": "yesterday"}),
            "taken_at",
        ),
        (
            json!({"kind": "weight", "value": 80, "taken_at": ago(-DAY_MS)}),
            "taken_at",
        ),
        (
            json!({"kind": "weight", "value": 80, "context": "c".repeat(41)}),
            "context",
        ),
    ];
    for (body, field) in refused {
        let (st, err) = log(&s, &me, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(err["error"]["fields"][field].is_array(), "{body}: {err}");
    }
    // Plausible readings in every kind, units kept as given.
    let g = log_ok(&s, &me, json!({"kind": "glucose", "value": 6.1, "unit": "mmol/l", "context": "fasting", "taken_at": ago(3 * DAY_MS)})).await;
    assert_eq!(g["unit"], "mmol/L");
    assert_eq!(g["context"], "fasting");
    log_ok(
        &s,
        &me,
        json!({"kind": "glucose", "value": 140, "taken_at": ago(2 * DAY_MS)}),
    )
    .await;
    let bp = log_ok(
        &s,
        &me,
        json!({"kind": "blood_pressure", "value": 128, "value2": 82}),
    )
    .await;
    assert_eq!(bp["unit"], "mmHg");
    assert_eq!(bp["value2"], 82.0);
    log_ok(
        &s,
        &me,
        json!({"kind": "weight", "value": 210.5, "unit": "lb"}),
    )
    .await;
    log_ok(&s, &me, json!({"kind": "steps", "value": 8000})).await;
    // A few minutes' clock drift is fine.
    log_ok(
        &s,
        &me,
        json!({"kind": "note", "note": "Walked after lunch", "taken_at": ago(-60_000)}),
    )
    .await;

    // Newest first, by kind, a page at a time.
    let (st, page) = s.get("/api/v1/me/readings?limit=2", Some(&me)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["kind"], "note");
    let next = page["next"].as_str().unwrap();
    let (_, rest) = s
        .get(
            &format!("/api/v1/me/readings?limit=100&after={next}"),
            Some(&me),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 4);
    assert!(rest["next"].is_null());
    let (_, glucose) = s.get("/api/v1/me/readings?kind=glucose", Some(&me)).await;
    let values: Vec<f64> = glucose["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![140.0, 6.1]);
    let (st, _) = s.get("/api/v1/me/readings?kind=sleep", Some(&me)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // The summary averages in the latest reading's unit (6.1 mmol/L ≈ 109.8 mg/dL).
    let (st, summary) = s.get("/api/v1/me/readings/summary", Some(&me)).await;
    assert_eq!(st, StatusCode::OK, "{summary}");
    let g = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "glucose")
        .unwrap();
    assert_eq!(g["count"], 2);
    assert_eq!(g["unit"], "mg/dL");
    assert_eq!(g["average_7_days"], 124.9);
    let bp_sum = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "blood_pressure")
        .unwrap();
    assert_eq!(bp_sum["average2_7_days"], 82.0);

    // Deleting: one's own, once.
    let id = bp["id"].as_i64().unwrap();
    let (st, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/me/readings/{id}"),
            Some(&me),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = s
        .call(
            "DELETE",
            &format!("/api/v1/me/readings/{id}"),
            Some(&me),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
});

both_backends!(no_one_else_sees_a_members_readings, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    let lucia = s.register("lucia").await;
    s.join(&lucia, "sugar").await;
    s.topic(&lucia, "sugar", "Hello all", "Glad to be here")
        .await;
    let r = log_ok(
        &s,
        &lucia,
        json!({"kind": "glucose", "value": 137.5, "note": "zanahoria secreta"}),
    )
    .await;
    let id = r["id"].as_i64().unwrap();
    log_ok(&s, &lucia, json!({"kind": "weight", "value": 93.75})).await;

    let other = s.register("pedro").await;
    s.join(&other, "sugar").await;
    let moderator = s.register("moni").await;
    s.join(&moderator, "sugar").await;
    grant(&s, &admin, "sugar", "moderator", "moni").await;
    let organiser = s.register("olga").await;
    s.join(&organiser, "sugar").await;
    grant(&s, &admin, "sugar", "organiser", "olga").await;

    let secret =
        |body: &str| body.contains("137.5") || body.contains("93.75") || body.contains("zanahoria");
    for (who, token) in [
        ("member", Some(other.as_str())),
        ("moderator", Some(moderator.as_str())),
        ("organiser", Some(organiser.as_str())),
        ("admin", Some(admin.as_str())),
        ("visitor", None),
    ] {
        let want = if token.is_some() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        // Every readings endpoint answers about the caller's own readings, never Lucía's.
        for path in [
            "/api/v1/me/readings",
            "/api/v1/me/readings?kind=glucose",
            "/api/v1/me/readings/summary",
            "/api/v1/me/readings/glucose/chart.svg",
            "/api/v1/me/readings/weight/chart.svg?days=365",
            "/api/v1/me/readings/shares",
        ] {
            let (st, _, _, body) = raw(&s, path, token).await;
            assert_eq!(st, want, "{who} {path}: {body}");
            assert!(!secret(&body), "{who} {path}: {body}");
        }
        let (st, _) = s
            .call("DELETE", &format!("/api/v1/me/readings/{id}"), token, None)
            .await;
        assert_eq!(
            st,
            if token.is_some() {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNAUTHORIZED
            },
            "{who}"
        );
        let (st, _) = s
            .post(
                "/api/v1/me/readings/glucose/milestone",
                token,
                json!({"community": "sugar", "below": 200}),
            )
            .await;
        assert!(
            st == StatusCode::UNPROCESSABLE_ENTITY || st == StatusCode::UNAUTHORIZED,
            "{who}: {st}"
        );
        // Nor does anything else: feeds, profiles, timelines, search, topics.
        for path in [
            "/api/v1/users/lucia",
            "/api/v1/users/lucia/milestones",
            "/api/v1/communities/sugar/milestones",
            "/api/v1/communities/sugar/topics",
            "/api/v1/search?q=137.5",
            "/api/v1/search?q=zanahoria",
            "/api/v1/me",
        ] {
            let (_, _, _, body) = raw(&s, path, token).await;
            assert!(!secret(&body), "{who} {path}: {body}");
        }
        if let Some(t) = token {
            let (st, _, _, body) = raw(&s, "/api/v1/me/export", Some(t)).await;
            assert_eq!(st, StatusCode::OK);
            assert!(!secret(&body), "{who}'s export holds Lucía's readings");
        }
    }
    // Lucía's own reading is still there.
    let (_, mine) = s.get("/api/v1/me/readings", Some(&lucia)).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
});

both_backends!(
    charts_for_empty_single_long_and_mixed_series,
    |b| async move {
        let s = Server::start(b).await;
        let me = s.register("carmen").await;

        let (st, ct, cc, svg) = raw(&s, "/api/v1/me/readings/glucose/chart.svg", Some(&me)).await;
        assert_eq!(st, StatusCode::OK, "{svg}");
        assert!(ct.starts_with("image/svg+xml"), "{ct}");
        assert_eq!(cc, "private, no-store");
        let (title, desc) = check_svg(&svg);
        assert!(title.contains("Blood sugar"), "{title}");
        assert!(desc.contains("No readings yet"), "{desc}");
        assert!(svg.contains(">No readings yet<"));
        for bad in [
            "/api/v1/me/readings/note/chart.svg",
            "/api/v1/me/readings/sleep/chart.svg",
        ] {
            let (st, ..) = raw(&s, bad, Some(&me)).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{bad}");
        }
        let (st, ..) = raw(
            &s,
            "/api/v1/me/readings/glucose/chart.svg?days=12",
            Some(&me),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        // One reading: one point, said in words.
        log_ok(&s, &me, json!({"kind": "weight", "value": 81.5, "note": "<script>alert(1)</script>", "taken_at": ago(DAY_MS)})).await;
        let (_, _, _, svg) = raw(&s, "/api/v1/me/readings/weight/chart.svg", Some(&me)).await;
        let (_, desc) = check_svg(&svg);
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(
            desc.contains("1 readings") || desc.contains("81.5 kg"),
            "{desc}"
        );
        assert!(desc.contains("Latest 81.5 kg"), "{desc}");
        assert!(!svg.contains("alert"), "notes never go in a chart");

        // Mixed units plot on one scale: 7 mmol/L is 126 mg/dL.
        log_ok(
            &s,
            &me,
            json!({"kind": "glucose", "value": 7, "unit": "mmol/L", "taken_at": ago(3 * DAY_MS)}),
        )
        .await;
        log_ok(
            &s,
            &me,
            json!({"kind": "glucose", "value": 100, "unit": "mg/dL", "taken_at": ago(2 * DAY_MS)}),
        )
        .await;
        let (_, _, _, svg) = raw(&s, "/api/v1/me/readings/glucose/chart.svg", Some(&me)).await;
        let (_, desc) = check_svg(&svg);
        assert!(
            desc.contains("Lowest 100 mg/dL, highest 126 mg/dL"),
            "{desc}"
        );
        assert!(desc.contains("Latest 100 mg/dL"), "{desc}");

        // Blood pressure: two lines.
        for (i, (sys, dia)) in [(130, 85), (126, 82), (121, 79)].iter().enumerate() {
            log_ok(&s, &me, json!({"kind": "blood_pressure", "value": sys, "value2": dia, "taken_at": ago((3 - i as i64) * DAY_MS)})).await;
        }
        let (_, _, _, svg) = raw(
            &s,
            "/api/v1/me/readings/blood_pressure/chart.svg",
            Some(&me),
        )
        .await;
        let (_, desc) = check_svg(&svg);
        assert_eq!(
            svg.matches("<path d=\"M").count(),
            3,
            "axes and two lines: {svg}"
        );
        assert!(desc.contains("Latest 121/79 mmHg"), "{desc}");
        assert!(desc.contains("Going down"), "{desc}");

        // A long series: 1,500 readings over most of a year, averaged per day.
        let now = chrono::Utc::now().timestamp_millis();
        let mut pending = Vec::new();
        for i in 0..1500i64 {
            let at = chrono::DateTime::from_timestamp_millis(now - 3_600_000 - i * 5 * 3_600_000)
                .unwrap()
                .to_rfc3339();
            let body = json!({"kind": "steps", "value": 3000 + (i * 37) % 9000, "taken_at": at});
            let (s, me) = (&s, &me);
            pending.push(async move { log(s, me, body).await.0 });
            if pending.len() == 16 {
                for st in futures_util::future::join_all(pending.drain(..)).await {
                    assert_eq!(st, StatusCode::CREATED);
                }
            }
        }
        for st in futures_util::future::join_all(pending).await {
            assert_eq!(st, StatusCode::CREATED);
        }
        let (st, _, _, svg) = raw(
            &s,
            "/api/v1/me/readings/steps/chart.svg?days=365",
            Some(&me),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        let (title, desc) = check_svg(&svg);
        assert!(title.contains("Steps") && title.contains("365"), "{title}");
        assert!(desc.contains("steps"), "{desc}");
        assert!(
            svg.matches("<circle").count() <= 366,
            "thinned to a point a day"
        );
        // In Spanish, the words follow the member.
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&me),
                Some(json!({"locale": "es"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (_, _, _, svg) =
            raw(&s, "/api/v1/me/readings/steps/chart.svg?days=90", Some(&me)).await;
        let (title, desc) = check_svg(&svg);
        assert!(
            title.contains("Pasos") && title.contains("90 días"),
            "{title}"
        );
        assert!(desc.contains("mediciones"), "{desc}");
    }
);

/// A members-only group with a circle of Lucía and Pedro; (admin, lucia, pedro, outsider in
/// the group, circle id).
async fn circle_setup(s: &Server) -> (String, String, String, String, i64) {
    let admin = s.admin().await;
    s.community(&admin, "sleeve", "members", json!({})).await;
    let orga = s.register("orga").await;
    s.join(&orga, "sleeve").await;
    grant(s, &admin, "sleeve", "organiser", "orga").await;
    let lucia = s.register("lucia").await;
    s.join(&lucia, "sleeve").await;
    let pedro = s.register("pedro").await;
    s.join(&pedro, "sleeve").await;
    let ana = s.register("ana").await;
    s.join(&ana, "sleeve").await;
    let (st, c) = s
        .post(
            "/api/v1/communities/sleeve/circles",
            Some(&orga),
            json!({"name": "Tuesday walkers"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{c}");
    let circle = c["id"].as_i64().unwrap();
    for name in ["lucia", "pedro"] {
        let (st, body) = s
            .call(
                "PUT",
                &format!("/api/v1/circles/{circle}/members/{name}"),
                Some(&orga),
                Some(json!({"role": "member"})),
            )
            .await;
        assert!(st.is_success(), "{body}");
    }
    (admin, lucia, pedro, ana, circle)
}

both_backends!(
    a_trend_is_shared_with_a_circle_and_revoked,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, lucia, pedro, ana, circle) = circle_setup(&s).await;
        for (i, v) in [142.5, 137.5, 131.5].iter().enumerate() {
            log_ok(&s, &lucia, json!({"kind": "glucose", "value": v, "note": "zanahoria", "taken_at": ago((5 - i as i64) * DAY_MS)})).await;
        }
        // Before any share the circle sees nothing.
        let (st, list) = s
            .get(&format!("/api/v1/circles/{circle}/trends"), Some(&pedro))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list, json!([]));

        // Only a circle she is in; only kinds with a chart; round windows.
        let (st, _) = s
            .post(
                "/api/v1/me/readings/glucose/share",
                Some(&lucia),
                json!({"circle": circle + 999}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .post(
                "/api/v1/me/readings/glucose/share",
                Some(&ana),
                json!({"circle": circle}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .post(
                "/api/v1/me/readings/note/share",
                Some(&lucia),
                json!({"circle": circle}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = s
            .post(
                "/api/v1/me/readings/glucose/share",
                Some(&lucia),
                json!({"circle": circle, "days": 45}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        let (st, shape) = s
            .post(
                "/api/v1/me/readings/glucose/share",
                Some(&lucia),
                json!({"circle": circle, "days": 30, "shape_only": true}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{shape}");
        let (st, full) = s
            .post(
                "/api/v1/me/readings/glucose/share",
                Some(&lucia),
                json!({"circle": circle, "days": 90}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{full}");
        let (st, list) = s
            .get(&format!("/api/v1/circles/{circle}/trends"), Some(&pedro))
            .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert!(!list.to_string().contains("137.5"));

        let shape_url = shape["chart"].as_str().unwrap().to_owned();
        let (st, ct, _, svg) = raw(&s, &shape_url, Some(&pedro)).await;
        assert_eq!(st, StatusCode::OK, "{svg}");
        assert!(ct.starts_with("image/svg+xml"));
        let (title, desc) = check_svg(&svg);
        assert!(title.contains("lucia"), "{title}");
        assert!(desc.contains("Going down"), "{desc}");
        // Shape only: no values on the axis or in the words (the four date labels only).
        let words = visible_text(&svg);
        for n in ["137", "142", "131", "mg/dL", "140", "130", "120"] {
            assert!(!words.contains(n), "shape-only chart shows {n}: {words}");
        }
        assert_eq!(svg.matches("<text").count(), 4, "{svg}");
        assert!(!svg.contains("zanahoria"));
        // With numbers when she chose so.
        let (_, _, _, svg) = raw(&s, full["chart"].as_str().unwrap(), Some(&pedro)).await;
        let (_, desc) = check_svg(&svg);
        assert!(desc.contains("Latest 131.5 mg/dL"), "{desc}");

        // Outside the circle: nothing, not even the organiser-free admin or a group member.
        for token in [&ana, &admin] {
            let (st, _) = s
                .get(&format!("/api/v1/circles/{circle}/trends"), Some(token))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND);
            let (st, ..) = raw(&s, &shape_url, Some(token)).await;
            assert_eq!(st, StatusCode::NOT_FOUND);
        }
        let (st, ..) = raw(&s, &shape_url, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        // The raw readings stay hers: the circle member's readings endpoints show only his own.
        let (_, _, _, body) = raw(&s, "/api/v1/me/readings", Some(&pedro)).await;
        assert!(!body.contains("137.5"));

        // The circle's page shows the charts with their words, to the circle's people only.
        let pedro_web = web_login(&s, "pedro").await;
        let page = get(&s, &pedro_web, &format!("/circles/{circle}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.html.contains("Charts shared with the circle"),
            "{}",
            page.html
        );
        assert!(
            page.html.contains(&format!("src=\"{shape_url}\"")),
            "{}",
            page.html
        );
        assert!(page.html.contains("lucia — Readings from"), "{}", page.html);
        assert!(!page.html.contains("zanahoria"));
        let ana_web = web_login(&s, "ana").await;
        let page = get(&s, &ana_web, &format!("/circles/{circle}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        let orga_web = web_login(&s, "orga").await;
        let page = get(&s, &orga_web, &format!("/circles/{circle}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.html.contains("Charts shared with the circle"),
            "overseers do not see members' charts"
        );

        // Revoking: only the owner; then the chart is gone.
        let sid = shape["id"].as_i64().unwrap();
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/me/readings/shares/{sid}"),
                Some(&pedro),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, mine) = s.get("/api/v1/me/readings/shares", Some(&lucia)).await;
        assert_eq!(mine.as_array().unwrap().len(), 2);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/me/readings/shares/{sid}"),
                Some(&lucia),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, ..) = raw(&s, &shape_url, Some(&pedro)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, list) = s
            .get(&format!("/api/v1/circles/{circle}/trends"), Some(&pedro))
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1);
    }
);

both_backends!(a_trend_becomes_a_milestone_only_when_true, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "sugar", "public", json!({})).await;
    let lucia = s.register("lucia").await;
    s.join(&lucia, "sugar").await;
    let pedro = s.register("pedro").await;
    s.join(&pedro, "sugar").await;
    let path = "/api/v1/me/readings/glucose/milestone";

    // No readings: nothing to claim.
    let (st, err) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "sugar", "below": 130}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let values = [112.25, 118.75, 121.5, 109.25, 126.5];
    for (i, v) in values.iter().enumerate() {
        log_ok(&s, &lucia, json!({"kind": "glucose", "value": v, "context": "fasting", "taken_at": ago((29 - 7 * i as i64) * DAY_MS)})).await;
    }
    log_ok(&s, &lucia, json!({"kind": "glucose", "value": 168.5, "context": "after meal", "taken_at": ago(DAY_MS / 2)})).await;
    // Not true: one reading is over 130, or over 120 among the fasting ones.
    for body in [
        json!({"community": "sugar", "below": 130}),
        json!({"community": "sugar", "below": 120, "context": "fasting"}),
        json!({"community": "sugar", "above": 110, "context": "fasting"}),
    ] {
        let (st, err) = s.post(path, Some(&lucia), body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
    }
    for body in [
        json!({"community": "sugar"}),
        json!({"community": "sugar", "below": 130, "above": 100}),
        json!({"community": "sugar", "below": 130, "days": 2}),
        json!({"community": "sugar", "below": 130, "unit": "kg"}),
    ] {
        let (st, _) = s.post(path, Some(&lucia), body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    // Too few readings in a short window.
    let (st, _) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "sugar", "below": 130, "days": 7, "context": "fasting"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // A group she is not in.
    s.community(&admin, "other", "public", json!({})).await;
    let (st, _) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "other", "below": 130, "context": "fasting"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // True: every fasting reading in 30 days under 130 (7.2 mmol/L = 129.6 mg/dL also works).
    let (st, created) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "sugar", "below": 130, "context": "fasting"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(created["topic"]["kind"], "milestone");
    let topic = created["topic"]["id"].as_i64().unwrap();
    let (st, _) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "sugar", "below": 7.2, "unit": "mmol/L", "context": "fasting"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);

    // What another member sees holds none of her numbers, nor the line.
    let mut seen = String::new();
    for p in [
        format!("/api/v1/topics/{topic}"),
        format!("/api/v1/topics/{topic}/posts"),
        "/api/v1/communities/sugar/milestones".into(),
        "/api/v1/users/lucia/milestones".into(),
    ] {
        let (st, body) = s.get(&p, Some(&pedro)).await;
        assert_eq!(st, StatusCode::OK, "{p}: {body}");
        seen.push_str(&body.to_string());
    }
    assert!(seen.contains("Blood sugar"), "{seen}");
    for n in [
        "112.25",
        "118.75",
        "121.5",
        "109.25",
        "126.5",
        "168.5",
        "under 130",
        "130 mg",
        "7.2 mmol",
        "mg/dL",
    ] {
        assert!(!seen.contains(n), "{n} in {seen}");
    }
    // Opting in puts the line (not the readings) in the words.
    let (st, created) = s
        .post(
            path,
            Some(&lucia),
            json!({"community": "sugar", "below": 130, "context": "fasting", "show_numbers": true}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let text = created.to_string();
    assert!(text.contains("130 mg/dL"), "{text}");
    assert!(!text.contains("112.25"));
});

async fn rows_left(db: &TestDb) -> i64 {
    use sqlx::Connection;
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM readings) + (SELECT COUNT(*) FROM reading_shares)",
            )
            .fetch_one(&mut c)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM readings) + (SELECT COUNT(*) FROM reading_shares)",
            )
            .fetch_one(&mut c)
            .await
            .unwrap()
        }
    }
}

both_backends!(readings_leave_with_the_account, |b| async move {
    let s = Server::start(b).await;
    let (_admin, lucia, _pedro, _ana, circle) = circle_setup(&s).await;
    log_ok(
        &s,
        &lucia,
        json!({"kind": "glucose", "value": 137.5, "context": "fasting"}),
    )
    .await;
    log_ok(
        &s,
        &lucia,
        json!({"kind": "blood_pressure", "value": 131, "value2": 84.5}),
    )
    .await;
    let (st, _) = s
        .post(
            "/api/v1/me/readings/glucose/share",
            Some(&lucia),
            json!({"circle": circle}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);

    let (st, _, _, text) = raw(&s, "/api/v1/me/export", Some(&lucia)).await;
    assert_eq!(st, StatusCode::OK);
    let export: Value = serde_json::from_str(&text).unwrap();
    let readings = export["tables"]["readings.owner_id"]
        .as_array()
        .expect("readings in the export");
    assert_eq!(readings.len(), 2, "{text}");
    assert!(
        readings
            .iter()
            .any(|r| r["value"] == 137.5 && r["context"] == "fasting")
    );
    assert!(readings.iter().any(|r| r["value2"] == 84.5));
    assert_eq!(
        export["tables"]["reading_shares.owner_id"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(rows_left(&s.db).await >= 3);

    let (st, body) = s
        .call(
            "DELETE",
            "/api/v1/me",
            Some(&lucia),
            Some(json!({"password": PASSWORD, "content": "remove"})),
        )
        .await;
    assert!(st.is_success(), "{body}");
    assert_eq!(rows_left(&s.db).await, 0);
});

// ---- The page, without JavaScript ----

both_backends!(the_readings_page_works_without_javascript, |b| async move {
    let s = Server::start(b).await;
    let visitor = browser();
    let p = get(&s, &visitor, "/me/readings").await;
    assert!(p.status.is_redirection(), "{}", p.status);
    assert!(location(&p).starts_with("/login"), "{}", location(&p));

    let me = web_member(&s, "marta", "es").await;
    let page = get(&s, &me, "/me/readings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Solo tú puedes verlas"), "{}", page.html);
    assert!(page.html.contains("<html lang=\"es\""));
    assert!(page.html.contains("noindex"));
    let token = csrf(&page.html);
    // The goals page links here.
    let goals = get(&s, &me, "/goals").await;
    assert!(goals.html.contains("href=\"/me/readings\""));

    // CSRF is required.
    let p = post(
        &s,
        &me,
        "/me/readings",
        &[("kind", "weight"), ("value", "80")],
    )
    .await;
    assert!(p.status.is_client_error(), "{}", p.status);
    // A slip is refused with the reason in Spanish; what was typed stays.
    let p = post(
        &s,
        &me,
        "/me/readings",
        &[
            ("csrf", &token),
            ("kind", "glucose"),
            ("value", "1500"),
            ("unit", ""),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("Revisa el número"), "{}", p.html);
    assert!(p.html.contains("value=\"1500\""));
    // Logged with a comma decimal and a local time.
    let p = post(
        &s,
        &me,
        "/me/readings",
        &[
            ("csrf", &token),
            ("kind", "glucose"),
            ("value", "6,4"),
            ("unit", "mmol/L"),
            ("taken_at", "2026-01-05T07:30"),
            ("context", "en ayunas"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let p = post(
        &s,
        &me,
        "/me/readings",
        &[
            ("csrf", &token),
            ("kind", "blood_pressure"),
            ("value", "128"),
            ("value2", "83"),
            ("unit", ""),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let page = get(&s, &me, "/me/readings?done=saved").await;
    assert!(page.html.contains("Guardada"));
    assert!(page.html.contains("128/83 mmHg"), "{}", page.html);
    assert!(page.html.contains("6.4 mmol/L"));
    assert!(page.html.contains("en ayunas"));
    assert!(
        page.html
            .contains("src=\"/api/v1/me/readings/blood_pressure/chart.svg?days=90\"")
    );
    assert!(page.html.contains("La gráfica en palabras"));
    assert!(
        page.html.contains("La última: 128/83 mmHg"),
        "{}",
        page.html
    );
    // The chart the page shows answers to the page's cookie.
    let chart = get(
        &s,
        &me,
        "/api/v1/me/readings/blood_pressure/chart.svg?days=90",
    )
    .await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(chart.html.contains("Presión arterial"));

    // Delete from the list.
    let re = regex::Regex::new(r#"action="/me/readings/(\d+)/delete""#).unwrap();
    let id = re.captures(&page.html).unwrap()[1].to_owned();
    let p = post(
        &s,
        &me,
        &format!("/me/readings/{id}/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = post(
        &s,
        &me,
        &format!("/me/readings/{id}/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Someone else cannot delete hers.
    let other = web_member(&s, "otro", "en").await;
    let theirs = get(&s, &other, "/me/readings").await;
    assert!(!theirs.html.contains("128/83") && !theirs.html.contains("en ayunas"));
    let remaining = get(&s, &me, "/me/readings").await;
    let id2 = re.captures(&remaining.html).unwrap()[1].to_owned();
    let t2 = csrf(&theirs.html);
    let p = post(
        &s,
        &other,
        &format!("/me/readings/{id2}/delete"),
        &[("csrf", &t2)],
    )
    .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(theirs.html.contains("Only you can see these."));
});
