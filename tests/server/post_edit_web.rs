#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Editing a post on the web (issue 17, point 2): the author's own posts carry an "Edit" link;
//! the form (no JavaScript) holds the words as written; saving is screened like new text — a
//! filter's refusal keeps the words and says why, personal details ask before publishing, and
//! words that suggest a crisis land the author on the crisis lines — on SQLite and
//! PostgreSQL + Redis.

use crate::common;

use common::Server;
use common::web::{csrf, get, location, post, web_member};
use reqwest::StatusCode;
use serde_json::json;

/// A public group, an author and another member on the web (both in `locale`), and a topic by
/// the author with one reply by them: (author's client, other's client, topic, reply post id).
async fn setup(
    s: &Server,
    slug: &str,
    locale: &str,
) -> (reqwest::Client, reqwest::Client, i64, i64) {
    let admin = s.admin().await;
    s.community(&admin, slug, "public", json!({})).await;
    let author_name = format!("{slug}author");
    let other_name = format!("{slug}other");
    let author = web_member(s, &author_name, locale).await;
    let other = web_member(s, &other_name, locale).await;
    let author_token = s.login(&author_name).await;
    let other_token = s.login(&other_name).await;
    s.join(&author_token, slug).await;
    s.join(&other_token, slug).await;
    let (topic, _) = s
        .topic(
            &other_token,
            slug,
            "Walking after dinner",
            "Who walks after dinner?",
        )
        .await;
    let reply = s
        .reply(
            &author_token,
            topic,
            json!({"body": "I walk **twenty** minutes"}),
        )
        .await;
    (author, other, topic, reply["id"].as_i64().unwrap())
}

async fn api_body(s: &Server, post_id: i64) -> String {
    let (_, p) = s.get(&format!("/api/v1/posts/{post_id}"), None).await;
    p["body"].as_str().unwrap_or_default().to_owned()
}

both_backends!(
    the_author_edits_their_post_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let (author, other, topic, reply) = setup(&s, "editing", "en").await;
        let edit = format!("/p/{reply}/edit");
        // The link is on the author's own post, not on others' (nor for others on theirs).
        let page = get(&s, &author, &format!("/t/{topic}"), None).await;
        assert!(
            page.html.contains(&format!(r#"href="{edit}""#)),
            "{}",
            page.html
        );
        assert_eq!(
            page.html.matches(r#"/edit">Edit</a>"#).count(),
            1,
            "{}",
            page.html
        );
        let theirs = get(&s, &other, &format!("/t/{topic}"), None).await;
        assert!(!theirs.html.contains(&edit), "{}", theirs.html);
        // Someone else cannot open or post the form.
        let refused = get(&s, &other, &edit, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let token = csrf(&theirs.html);
        let refused = post(&s, &other, &edit, &[("csrf", &token), ("body", "mine now")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(api_body(&s, reply).await, "I walk **twenty** minutes");
        // The form holds the markdown as written.
        let form = get(&s, &author, &edit, None).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.html.contains("Edit your post"), "{}", form.html);
        assert!(
            form.html.contains(">I walk **twenty** minutes</textarea>"),
            "{}",
            form.html
        );
        let token = csrf(&form.html);
        let saved = post(
            &s,
            &author,
            &edit,
            &[
                ("csrf", &token),
                ("body", "I walk *thirty* minutes now"),
                ("content_warning", ""),
            ],
        )
        .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let to = location(&saved);
        assert_eq!(to, format!("/t/{topic}#post-2"));
        assert_eq!(api_body(&s, reply).await, "I walk *thirty* minutes now");
        let shown = get(&s, &other, &format!("/t/{topic}"), None).await;
        assert!(shown.html.contains("<em>thirty</em>"), "{}", shown.html);
        assert!(shown.html.contains("edited"));
        // Empty words are refused, the form comes back.
        let empty = post(&s, &author, &edit, &[("csrf", &token), ("body", "  ")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty.html.contains("Please write something"),
            "{}",
            empty.html
        );
        // A visitor is sent to log in.
        let visitor = get(&s, &common::web::browser(), &edit, None).await;
        assert_eq!(visitor.status, StatusCode::SEE_OTHER);
        assert!(
            location(&visitor).starts_with("/login"),
            "{}",
            location(&visitor)
        );
    }
);

both_backends!(
    a_refused_edit_keeps_the_words_and_says_why,
    |b| async move {
        // The shipped policy's advertising filter.
        let db = std::sync::Arc::new(common::TestDb::new(b).await);
        let rules = db.dir.join("rules.toml");
        std::fs::write(
        &rules,
        "[[filters]]\nwords = [\"casino\"]\naction = \"reject\"\nreason = \"advertising is not allowed here\"\n",
    )
    .unwrap();
        let options = common::ServerOptions {
            extra_env: vec![("MUTUAL_RULES".into(), rules.display().to_string())],
            ..common::ServerOptions::default()
        };
        let s = Server::start_on(db, options).await;
        let (author, _, _, reply) = setup(&s, "editrefused", "es").await;
        let edit = format!("/p/{reply}/edit");
        let form = get(&s, &author, &edit, None).await;
        assert!(form.html.contains("Editar tu publicación"), "{}", form.html);
        let token = csrf(&form.html);
        let words = "Gané mucho en el casino de la esquina";
        let refused = post(&s, &author, &edit, &[("csrf", &token), ("body", words)]).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.html
        );
        assert!(
            refused.html.contains(words),
            "the words are kept: {}",
            refused.html
        );
        assert!(
            refused
                .html
                .contains("Esto no se puede publicar aquí: advertising is not allowed here"),
            "{}",
            refused.html
        );
        assert!(refused.html.contains(r#"role="alert""#));
        assert_eq!(api_body(&s, reply).await, "I walk **twenty** minutes");
        // An ID number (a CURP) is named as one.
        let curp = post(
            &s,
            &author,
            &edit,
            &[("csrf", &token), ("body", "mi CURP GODE561231HDFRRN09")],
        )
        .await;
        assert_eq!(curp.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            curp.html.contains("un número de identificación"),
            "{}",
            curp.html
        );
        // A personal detail: asked first, the words kept, published once confirmed.
        let words = "Llámame al 55 1234 5678";
        let fields = [("csrf", token.as_str()), ("body", words)];
        let asked = post(&s, &author, &edit, &fields).await;
        assert_eq!(
            asked.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            asked.html
        );
        assert!(asked.html.contains(words));
        assert!(
            asked.html.contains("un número de teléfono"),
            "{}",
            asked.html
        );
        assert!(
            asked
                .html
                .contains(r#"name="confirm_identifiers" value="1">Publicarlo así"#),
            "{}",
            asked.html
        );
        assert_eq!(api_body(&s, reply).await, "I walk **twenty** minutes");
        let mut confirmed = fields.to_vec();
        confirmed.push(("confirm_identifiers", "1"));
        let saved = post(&s, &author, &edit, &confirmed).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        assert_eq!(api_body(&s, reply).await, words);
    }
);

both_backends!(an_edit_into_a_crisis_lands_on_the_lines, |b| async move {
    let s = Server::start(b).await;
    for (slug, locale, words, title, phone, hours) in [
        (
            "editcrisis",
            "es",
            "ya no quiero vivir, me quiero morir",
            "Puedes hablar con alguien ahora",
            "800 911 2000",
            "24 horas, todos los días",
        ),
        (
            "editcrisishi",
            "hi",
            "main marna chahta hoon",
            "आप अभी किसी से बात कर सकते हैं",
            "14416",
            "24 घंटे, हर दिन",
        ),
    ] {
        let (author, other, topic, reply) = setup(&s, slug, locale).await;
        let edit = format!("/p/{reply}/edit");
        let form = get(&s, &author, &edit, None).await;
        let token = csrf(&form.html);
        let saved = post(&s, &author, &edit, &[("csrf", &token), ("body", words)]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
        let to = location(&saved);
        assert_eq!(to, format!("/t/{topic}?crisis=1#crisis-lines"));
        let landed = get(&s, &author, &to, None).await;
        assert!(
            landed.html.contains(r#"id="crisis-lines""#),
            "{}",
            landed.html
        );
        assert!(landed.html.contains(title), "{}", landed.html);
        assert!(landed.html.contains(phone), "{}", landed.html);
        assert!(landed.html.contains(hours), "{}", landed.html);
        // For the author alone.
        let theirs = get(&s, &common::web::browser(), &to, None).await;
        assert!(!theirs.html.contains("crisis-lines"), "{}", theirs.html);
        let page = get(&s, &other, &format!("/t/{topic}"), None).await;
        assert!(!page.html.contains("crisis-lines"), "{}", page.html);
    }
    // An everyday edit lands on the post, without lines.
    let (author, _, topic, reply) = setup(&s, "editdiet", "en").await;
    let edit = format!("/p/{reply}/edit");
    let form = get(&s, &author, &edit, None).await;
    let token = csrf(&form.html);
    let saved = post(
        &s,
        &author,
        &edit,
        &[("csrf", &token), ("body", "I want to diet before surgery")],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    assert_eq!(location(&saved), format!("/t/{topic}#post-2"));
});
