//! Media in an S3-compatible store shared by two nodes (issue 21, point 8): a photo uploaded on
//! node A is served by node B, to members only, and deleting the post removes it for both.
//! Runs against the SeaweedFS that `scripts/test` starts (`TEST_S3_URL`); without it the test
//! says so loudly and returns, and under `CI=true` it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Cursor;

use common::{Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The settings that point a node at the test bucket, or `None` (with a loud skip).
fn s3_env() -> Option<Vec<(String, String)>> {
    match std::env::var("TEST_S3_URL") {
        Ok(url) if !url.is_empty() => Some(vec![
            ("MUTUAL_MEDIA_URL".into(), url),
            (
                "AWS_ACCESS_KEY_ID".into(),
                std::env::var("TEST_S3_KEY_ID").unwrap_or_else(|_| "mutualtest".into()),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                std::env::var("TEST_S3_SECRET").unwrap_or_else(|_| "mutualtestsecret".into()),
            ),
        ]),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but TEST_S3_URL is not set: scripts/test starts SeaweedFS");
            }
            eprintln!("SKIPPED: TEST_S3_URL is not set (run scripts/test, which starts SeaweedFS)");
            None
        }
    }
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 7])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

async fn fetch(s: &Server, token: Option<&str>, path: &str) -> (StatusCode, Vec<u8>) {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.bytes().await.unwrap().to_vec())
}

fn local_media_is_empty(s: &Server) -> bool {
    let dir = s.db.dir.join("data").join("media");
    std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none())
}

both_backends!(
    a_photo_uploaded_on_one_node_is_served_by_another,
    |b| async move {
        let Some(env) = s3_env() else { return };
        let options = || ServerOptions {
            extra_env: env.clone(),
            ..ServerOptions::default()
        };
        let a = Server::start_with(b, options()).await;
        let node_b = Server::start_on(a.db.clone(), options()).await;
        let admin = a.admin().await;
        a.community(&admin, "sleeve", "members", json!({})).await;
        let ana = a.register("ana").await;
        a.join(&ana, "sleeve").await;
        let bea = a.register("bea").await;
        a.join(&bea, "sleeve").await;
        let carl = a.register("carl").await;

        let resp = a
            .client
            .post(a.url("/api/v1/media"))
            .bearer_auth(&ana)
            .header("content-type", "image/jpeg")
            .body(jpeg(900, 600))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let up: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{up}\n{}", a.log_text());
        let id = up["id"].as_i64().unwrap();
        let url = format!("/media/{id}");
        // Unattached: the uploader's alone, on either node.
        let (status, from_a) = fetch(&a, Some(&ana), &url).await;
        assert_eq!(status, StatusCode::OK);
        let (status, from_b) = fetch(&node_b, Some(&ana), &url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(from_a, from_b);
        assert_eq!(
            fetch(&node_b, Some(&bea), &url).await.0,
            StatusCode::NOT_FOUND
        );

        let (status, created) = a
            .post(
                "/api/v1/communities/sleeve/topics",
                Some(&ana),
                json!({"title": "Jeans off the rack", "body": "At last!",
                   "attachments": [{"id": id, "alt": "Blue jeans on a hanger"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let post = created["post"]["id"].as_i64().unwrap();

        // Node B serves both sizes to a member, and nothing to a non-member.
        let (status, full) = fetch(&node_b, Some(&bea), &url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(full, from_a);
        let (status, thumb) = fetch(&node_b, Some(&bea), &format!("{url}?size=thumb")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(image::load_from_memory(&thumb).unwrap().width(), 320);
        assert_eq!(
            fetch(&node_b, Some(&carl), &url).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(fetch(&node_b, None, &url).await.0, StatusCode::NOT_FOUND);
        // Nothing was written to either node's own disk.
        assert!(local_media_is_empty(&a) && local_media_is_empty(&node_b));

        // Deleted on node B: gone for everyone, the bytes removed from the bucket by then.
        let (status, _) = node_b
            .call("DELETE", &format!("/api/v1/posts/{post}"), Some(&ana), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(fetch(&a, Some(&ana), &url).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            fetch(&node_b, Some(&ana), &url).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            erased_rows_left(&a).await,
            0,
            "every erased media's bytes were removed"
        );
    }
);

/// Media rows still waiting for their bytes to be removed (none once the sweep succeeded).
async fn erased_rows_left(s: &Server) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT COUNT(*) FROM media";
    if s.db.url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&s.db.url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&s.db.url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}
