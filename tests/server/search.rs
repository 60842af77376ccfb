#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Search by the meaning of the word, in Spanish, English and Hindi, on both backends: word
//! forms (stems), synonyms across languages, Devanagari words kept whole, the directory of groups
//! read the same way, and an index rebuilt in the background after a change to what is indexed.

use crate::common;

use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The topic ids a search finds (one hit per post; these topics have one post each).
async fn found(s: &Server, q: &str) -> Vec<i64> {
    let (st, page) = s
        .get(&format!("/api/v1/search?q={}", urlencode(q)), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{q}: {page}");
    let mut ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["topic_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn snippets(page: &Value) -> String {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snippet"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

both_backends!(word_forms_in_spanish_and_english, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "grupo", "public", json!({})).await;
    let ana = s.register("ana").await;
    s.join(&ana, "grupo").await;
    let (walking, _) = s
        .topic(&ana, "grupo", "Por las tardes", "Sigo caminando 30 minutos")
        .await;
    let (walked, _) = s
        .topic(
            &ana,
            "grupo",
            "Ayer al mediodía",
            "Caminé con mi hija al mercado",
        )
        .await;
    let (breakfast, _) = s
        .topic(&ana, "grupo", "En casa", "Mis hijos desayunan avena")
        .await;
    let (studies, _) = s
        .topic(&ana, "grupo", "Reading", "New studies on fasting came out")
        .await;
    let (other, _) = s
        .topic(&ana, "grupo", "Otra cosa", "Hoy llovió mucho")
        .await;

    assert_eq!(found(&s, "caminar").await, vec![walking, walked]);
    assert_eq!(found(&s, "desayuno").await, vec![breakfast]);
    assert_eq!(found(&s, "study").await, vec![studies]);
    assert_eq!(found(&s, "llover").await, vec![other], "llovió ~ llover");
    // Every word must match (here "mercado" narrows "caminar").
    assert_eq!(found(&s, "caminar mercado").await, vec![walked]);
    // The snippet marks the word as written, accent and all.
    let (_, page) = s.get("/api/v1/search?q=caminar", None).await;
    let marks = snippets(&page);
    assert!(
        marks.contains("<mark>caminando</mark>") && marks.contains("<mark>Caminé</mark>"),
        "{marks}"
    );
});

both_backends!(synonyms_across_languages, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "grupo", "public", json!({})).await;
    let ana = s.register("ana").await;
    s.join(&ana, "grupo").await;
    let (en, _) = s
        .topic(
            &ana,
            "grupo",
            "Morning check",
            "My blood pressure was 150/95 today",
        )
        .await;
    let (hi, _) = s
        .topic(&ana, "grupo", "सुबह की जाँच", "आज मेरा रक्तचाप ठीक था")
        .await;
    let (es, _) = s
        .topic(&ana, "grupo", "Mañana", "La presión alta me preocupa")
        .await;
    let (sugar, _) = s
        .topic(&ana, "grupo", "Fasting", "Glucose at 98 this morning")
        .await;
    let (shugar, _) = s.topic(&ana, "grupo", "शाम की जाँच", "शुगर 140 थी").await;

    let pressure = vec![en, hi, es];
    assert_eq!(found(&s, "presión").await, pressure);
    assert_eq!(found(&s, "presion arterial").await, pressure);
    assert_eq!(found(&s, "blood pressure").await, pressure);
    assert_eq!(found(&s, "रक्तचाप").await, pressure);
    assert_eq!(found(&s, "azúcar").await, vec![sugar, shugar]);
    assert_eq!(found(&s, "sugar").await, vec![sugar, shugar]);
    // A synonym unit and a plain word together: both must match.
    assert_eq!(found(&s, "presion preocupa").await, vec![es]);
});

both_backends!(devanagari_words_stay_whole, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(&admin, "samooh", "public", json!({})).await;
    let ana = s.register("ana").await;
    s.join(&ana, "samooh").await;
    let (mine, _) = s
        .topic(&ana, "samooh", "नमस्ते", "आज सुबह मेरी नींद अच्छी थी")
        .await;
    let (walk, _) = s
        .topic(&ana, "samooh", "शाम की सैर", "हम रोज़ पार्क में टहलते हैं")
        .await;
    assert_eq!(found(&s, "मेरी").await, vec![mine]);
    assert_eq!(found(&s, "नींद").await, vec![mine]);
    // Split at its vowel signs, "मार" would be "म" + "र", as "मेरी" is: whole words do not meet.
    assert_eq!(found(&s, "मार").await, Vec::<i64>::new());
    assert_eq!(found(&s, "मिरी").await, Vec::<i64>::new());
    // A word prefix still finds the longer word ("टहल" → "टहलते").
    assert_eq!(found(&s, "टहल").await, vec![walk]);
    assert_eq!(found(&s, "सैर").await, vec![walk]);
});

/// The directory's slugs for a query.
async fn directory(s: &Server, q: &str) -> Vec<String> {
    let (st, page) = s
        .get(&format!("/api/v1/directory?q={}", urlencode(q)), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap().to_owned())
        .collect()
}

/// How many posts a search finds, through every page.
async fn count_all(s: &Server, q: &str) -> usize {
    let mut all = 0;
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/search?q={q}&limit=50&after={a}"),
            None => format!("/api/v1/search?q={q}&limit=50"),
        };
        let (_, page) = s.get(&path, None).await;
        all += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return all,
        }
    }
}

both_backends!(the_directory_reads_queries_the_same_way, |b| async move {
    let s = Server::start(b).await;
    let admin = s.admin().await;
    s.community(
        &admin,
        "htn",
        "public",
        json!({"name": "Living with hypertension", "description": "Weekly talks"}),
    )
    .await;
    s.community(
        &admin,
        "camina",
        "members",
        json!({"name": "Caminatas de los sábados", "description": "Salimos a caminar"}),
    )
    .await;
    s.community(
        &admin,
        "dulce",
        "public",
        json!({"name": "Diabetes tipo 2", "description": "Apoyo diario"}),
    )
    .await;
    assert_eq!(directory(&s, "presión").await, vec!["htn"]);
    assert_eq!(directory(&s, "रक्तचाप").await, vec!["htn"]);
    assert_eq!(directory(&s, "walking").await, vec!["camina"]);
    assert_eq!(directory(&s, "diabético").await, vec!["dulce"]);
    assert!(directory(&s, "cocina").await.is_empty());
});

/// Migration 0031 empties the index and asks for a rebuild: posts written before it are found
/// again once the server has re-indexed them in the background. Here the index of a running
/// site is emptied by hand and the rebuild asked for, then the server restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_rebuilt_in_the_background() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if !common::backend_available(backend) {
            continue;
        }
        let mut s = Server::start(backend).await;
        let admin = s.admin().await;
        s.community(&admin, "grupo", "public", json!({})).await;
        let ana = s.register("ana").await;
        s.join(&ana, "grupo").await;
        let mut topics = Vec::new();
        for i in 0..450 {
            let (t, _) = s
                .topic(&ana, "grupo", &format!("Día {i}"), "Seguimos caminando")
                .await;
            topics.push(t);
        }
        assert!(s.terminate().success());
        let empty = "INSERT INTO search_reindex (id, next_post_id) VALUES (1, 0)";
        match backend {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
                sqlx::query("INSERT INTO post_search (post_search) VALUES ('delete-all')")
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query(empty).execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
                sqlx::query("DELETE FROM post_search")
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query(empty).execute(&mut c).await.unwrap();
            }
        }
        let s = Server::start_on(s.db.clone(), ServerOptions::default()).await;
        // 450 posts are three batches of the rebuild; new posts meanwhile are indexed as usual.
        let mut all = 0;
        for _ in 0..100 {
            all = count_all(&s, "caminar").await;
            if all == topics.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(all, topics.len(), "{backend:?}");
    }
}
