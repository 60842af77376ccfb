#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Referral links: organisers make them and see counts (visits, joins, posts) through the real
//! flow, never who; members cannot; deleting a link stops it.

mod common;

use common::Server;
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
        assert!(
            code.len() >= 16 && code.chars().all(|c| c.is_ascii_alphanumeric()),
            "{code}"
        );
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
            (Some(3), Some(2), Some(1)),
            "{link}"
        );
        assert_eq!(link["label"], "Clínica San Juan");
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
