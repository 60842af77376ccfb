#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Referral links: organisers make them and see counts (visits, joins, posts) through the real
//! flow, never who; members cannot; deleting a link stops it.

use crate::common;

use common::web::{browser, csrf, get, location, post};
use common::{PASSWORD, Server};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    counts_follow_the_real_flow_without_identities,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "azucar",
            "public",
            json!({"name": "Azúcar en equilibrio", "language": "es"}),
        )
        .await;
        let member = s.register("plainmember").await;
        s.join(&member, "azucar").await;

        let (st, _) = s
            .post(
                "/api/v1/communities/azucar/referrals",
                Some(&member),
                json!({"label": "Clínica San Juan"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .get("/api/v1/communities/azucar/referrals", Some(&member))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s.get("/api/v1/communities/azucar/referrals", None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, e) = s
            .post(
                "/api/v1/communities/azucar/referrals",
                Some(&admin),
                json!({"label": "  "}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

        let (st, created) = s
            .post(
                "/api/v1/communities/azucar/referrals",
                Some(&admin),
                json!({"label": "Clínica San Juan"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{created}");
        let code = created["code"].as_str().unwrap().to_owned();
        // Short enough to read aloud and type from paper: three groups of four, no look-alikes.
        let groups: Vec<&str> = code.split('-').collect();
        assert!(
            groups.len() == 3
                && groups.iter().all(|g| g.len() == 4)
                && code
                    .chars()
                    .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
            "{code}"
        );
        // Typed from paper: lower case, spaces, O for 0 and I for 1 all find the same link.
        let typed = code
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o")
            .replace('1', "i");
        let (st, welcome) = s
            .get(
                &format!("/api/v1/referrals/{}", typed.replace(' ', "%20")),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{typed}: {welcome}");
        assert!(
            created["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/r/{code}")),
            "{created}"
        );
        let (_, other) = s
            .post(
                "/api/v1/communities/azucar/referrals",
                Some(&admin),
                json!({"label": "Centro de Salud Norte"}),
            )
            .await;
        assert_ne!(other["code"], created["code"]);

        // Three patients land; two sign up and join through it; one of them posts (twice).
        for _ in 0..3 {
            let (st, w) = s.get(&format!("/api/v1/referrals/{code}"), None).await;
            assert_eq!(st, StatusCode::OK, "{w}");
            assert_eq!(w["community"], "azucar");
            assert_eq!(w["name"], "Azúcar en equilibrio");
            assert!(
                !w.to_string().contains("San Juan"),
                "the label is for organisers: {w}"
            );
        }
        let patients = [
            s.register("patientone").await,
            s.register("patienttwo").await,
        ];
        for p in &patients {
            let (st, j) = s
                .post(
                    &format!("/api/v1/referrals/{code}/join"),
                    Some(p),
                    json!({}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{j}");
            assert_eq!(j["status"], "active");
        }
        // Joining again, or an existing member using the link, is not another join.
        let (st, _) = s
            .post(
                &format!("/api/v1/referrals/{code}/join"),
                Some(&patients[0]),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = s
            .post(
                &format!("/api/v1/referrals/{code}/join"),
                Some(&member),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let (topic, _) = s
            .topic(
                &patients[0],
                "azucar",
                "Hola a todos",
                "Me acaban de diagnosticar.",
            )
            .await;
        s.reply(&patients[0], topic, json!({"body": "Gracias por leer."}))
            .await;
        s.reply(&member, topic, json!({"body": "Bienvenida."}))
            .await;

        let (st, list) = s
            .get("/api/v1/communities/azucar/referrals", Some(&admin))
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let link = list
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["code"] == code.as_str())
            .unwrap();
        assert_eq!(
            (
                link["visits"].as_i64(),
                link["joined"].as_i64(),
                link["posted"].as_i64()
            ),
            // Three landings below, and the code typed from paper above.
            (Some(4), Some(2), Some(1)),
            "{link}"
        );
        assert_eq!(link["label"], "Clínica San Juan");
        // The other patient's first post is a reply (the reply writer's path): it counts too,
        // once.
        s.reply(
            &patients[1],
            topic,
            json!({"body": "Yo también soy nueva."}),
        )
        .await;
        s.reply(&patients[1], topic, json!({"body": "Y sigo aquí."}))
            .await;
        let (_, again) = s
            .get("/api/v1/communities/azucar/referrals", Some(&admin))
            .await;
        let posted = again
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["code"] == code.as_str())
            .unwrap()["posted"]
            .as_i64();
        assert_eq!(posted, Some(2), "{again}");
        let text = list.to_string();
        for who in ["patientone", "patienttwo", "plainmember"] {
            assert!(!text.contains(who), "{who} in {text}");
        }
        let (_, me) = s.get("/api/v1/me", Some(&patients[0])).await;
        let id = me["id"].as_i64().unwrap();
        for l in list.as_array().unwrap() {
            let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 7, "{l}");
            assert!(!l.to_string().contains(&format!("\"user_id\":{id}")), "{l}");
        }

        // Deleting a link stops it.
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/communities/azucar/referrals/{code}"),
                Some(&member),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/communities/azucar/referrals/{code}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = s.get(&format!("/api/v1/referrals/{code}"), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let late = s.register("latepatient").await;
        let (st, _) = s
            .post(
                &format!("/api/v1/referrals/{code}/join"),
                Some(&late),
                json!({}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (_, list) = s
            .get("/api/v1/communities/azucar/referrals", Some(&admin))
            .await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        let (st, _) = s.get("/api/v1/referrals/not-a-code", None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
);

both_backends!(
    the_welcome_page_signs_up_and_joins_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(
            &admin,
            "presion",
            "members",
            json!({"name": "Presión bajo control"}),
        )
        .await;
        let (_, created) = s
            .post(
                "/api/v1/communities/presion/referrals",
                Some(&admin),
                json!({"label": "Centro de Salud Norte"}),
            )
            .await;
        let code = created["code"].as_str().unwrap().to_owned();

        let client = browser();
        let page = get(&s, &client, &format!("/r/{code}"), Some("es-MX,es;q=0.9")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("<html lang=\"es\""), "{}", page.html);
        assert!(
            page.html.contains("Únete en 3 pasos") && page.html.contains("Presión bajo control")
        );
        assert!(
            !page.html.contains("Centro de Salud Norte"),
            "the label is for organisers"
        );
        let token = csrf(&page.html);

        // Without the CSRF field the form is refused; a short password is explained, in Spanish, 422.
        let refused = post(
            &s,
            &client,
            &format!("/r/{code}"),
            &[("username", "maria_p"), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let bad = post(
            &s,
            &client,
            &format!("/r/{code}"),
            &[
                ("csrf", &token),
                ("username", "maria_p"),
                ("password", "short"),
                ("locale", "es"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.html.contains("role=\"alert\"") && bad.html.contains("value=\"maria_p\""),
            "{}",
            bad.html
        );
        let done = post(
            &s,
            &client,
            &format!("/r/{code}"),
            &[
                ("csrf", &token),
                ("username", "maria_p"),
                ("password", PASSWORD),
                ("locale", "es"),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        assert!(
            location(&done).starts_with("/c/presion"),
            "{}",
            location(&done)
        );
        let group = get(&s, &client, "/c/presion", None).await;
        assert_eq!(group.status, StatusCode::OK);

        let (_, list) = s
            .get("/api/v1/communities/presion/referrals", Some(&admin))
            .await;
        assert_eq!(
            (list[0]["visits"].as_i64(), list[0]["joined"].as_i64()),
            (Some(1), Some(1)),
            "{list}"
        );
        assert!(!list.to_string().contains("maria_p"));

        // The organisers' page: counts, and a printable sheet with an inline QR code; members 403.
        let (st, _) = s
            .call(
                "PATCH",
                "/api/v1/me",
                Some(&admin),
                Some(json!({"locale": "en"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let orga = browser();
        let login = get(&s, &orga, "/login", None).await;
        let (_, me) = s.get("/api/v1/me", Some(&admin)).await;
        let name = me["username"].as_str().unwrap().to_owned();
        let signed = post(
            &s,
            &orga,
            "/login",
            &[
                ("csrf", &csrf(&login.html)),
                ("username", &name),
                ("password", PASSWORD),
            ],
        )
        .await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let links = get(&s, &orga, "/organise/presion/referrals", None).await;
        assert_eq!(links.status, StatusCode::OK);
        assert!(
            links.html.contains("Joined: 1") && !links.html.contains("maria_p"),
            "{}",
            links.html
        );
        // No public address set: the page shows the whole address it was opened with, and says
        // how to make printed links right everywhere.
        let host = s.base.trim_start_matches("http://");
        assert!(
            links.html.contains(&format!("http://{host}/r/{code}"))
                && links.html.contains("MUTUAL_PUBLIC_URL"),
            "{}",
            links.html
        );
        let empty = post(
            &s,
            &orga,
            "/organise/presion/referrals",
            &[("csrf", &csrf(&links.html)), ("label", " ")],
        )
        .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        let sheet = get(
            &s,
            &orga,
            &format!("/organise/presion/referrals/{code}/print?lang=hi"),
            None,
        )
        .await;
        assert_eq!(sheet.status, StatusCode::OK);
        assert!(sheet.html.contains(&format!("http://{host}/r/{code}")));
        assert!(
            sheet.html.contains("<html lang=\"hi\"") && sheet.html.contains("<svg role=\"img\""),
            "{}",
            sheet.html
        );
        let member_view = get(&s, &client, "/organise/presion/referrals", None).await;
        assert_eq!(member_view.status, StatusCode::FORBIDDEN);
    }
);
