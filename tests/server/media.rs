//! Photos and voice notes through the real server (API.md "Media: photos and voice notes"):
//! metadata stripped, refusals, the pixel limit, who may fetch what, alt text, erasure,
//! quotas, the topic page's weight and the form a browser without JavaScript posts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Cursor;
use std::path::Path;

use common::{Backend, Server, ServerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The words hidden in the test photo's GPS block; they must never come back.
const SECRET_PLACE: &[u8] = b"SECRET-PLACE-19.4326N-99.1332W";

/// A JPEG of `w` × `h` pixels.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 120])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

/// An EXIF APP1 segment with a GPS block: a latitude reference and a processing-method entry
/// holding `SECRET_PLACE`.
fn exif_gps_segment() -> Vec<u8> {
    let mut tiff: Vec<u8> = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    // IFD0 at 8: one entry, GPSInfo (0x8825) LONG -> 26.
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x8825u16.to_be_bytes());
    tiff.extend_from_slice(&4u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&26u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD at 26: GPSLatitudeRef "N", GPSProcessingMethod -> 56.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&2u32.to_be_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0x1bu16.to_be_bytes());
    tiff.extend_from_slice(&7u16.to_be_bytes());
    tiff.extend_from_slice(&(SECRET_PLACE.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&56u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(tiff.len(), 56);
    tiff.extend_from_slice(SECRET_PLACE);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

/// A photo straight from a phone: a JPEG carrying where it was taken.
fn jpeg_with_gps(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&exif_gps_segment());
    out.extend_from_slice(&plain[2..]);
    assert!(contains(&out, SECRET_PLACE));
    out
}

/// A real JPEG whose frame header claims `w` × `h`: a decoding bomb of a few kilobytes.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut data = jpeg(16, 16);
    let sof = data
        .windows(2)
        .position(|p| p == [0xFF, 0xC0])
        .expect("a baseline frame header");
    data[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    data[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    data
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A `multipart/form-data` body with the given text fields and one file part.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----mutualtestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, content_type, data)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"IMG_2041.jpg\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads as multipart; the status and answer.
async fn upload(s: &Server, token: &str, content_type: &str, data: &[u8]) -> (StatusCode, Value) {
    let (ct, body) = multipart(&[], Some(("file", content_type, data)));
    let resp = s
        .client
        .post(s.url("/api/v1/media"))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Uploads the raw bytes with their type.
async fn upload_raw(
    s: &Server,
    token: &str,
    content_type: &str,
    data: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = s
        .client
        .post(s.url("/api/v1/media"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(data)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Fetches a media address; status, headers and bytes.
async fn fetch(
    s: &Server,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

/// Files under the node's media folder.
fn media_files(s: &Server) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&s.db.dir.join("data").join("media"), &mut out);
    out
}

/// An admin, a members-only community and a member of it.
async fn group(s: &Server, slug: &str, member: &str) -> (String, String) {
    let admin = s.admin().await;
    s.community(&admin, slug, "members", json!({})).await;
    let token = s.register(member).await;
    s.join(&token, slug).await;
    (admin, token)
}

both_backends!(
    a_photo_loses_its_gps_and_is_served_privately,
    |b| async move {
        let s = Server::start(b).await;
        let (_, ana) = group(&s, "sleeve", "ana").await;
        let (status, up) = upload(&s, &ana, "image/jpeg", &jpeg_with_gps(2400, 1200)).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        assert_eq!(up["kind"], "image");
        assert_eq!(up["content_type"], "image/jpeg");
        assert_eq!(up["width"], 1600);
        assert_eq!(up["height"], 800);
        let id = up["id"].as_i64().unwrap();
        assert_eq!(up["url"], format!("/media/{id}"));
        assert!(up["bytes"].as_i64().unwrap() > 0);

        let (status, headers, full) = fetch(&s, Some(&ana), &format!("/media/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(full.len() as i64, up["bytes"].as_i64().unwrap());
        assert!(full.starts_with(&[0xFF, 0xD8]), "a JPEG");
        assert!(!contains(&full, SECRET_PLACE), "the GPS block survived");
        assert!(!contains(&full, b"Exif"), "an EXIF block survived");
        assert!(
            !full.windows(2).any(|w| w == [0xFF, 0xE1]),
            "an APP1 segment survived"
        );
        let decoded = image::load_from_memory(&full).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (1600, 800));
        assert_eq!(headers["content-type"], "image/jpeg");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with('"') && etag.len() > 10,
            "a strong ETag: {etag}"
        );

        let again = s
            .client
            .get(s.url(&format!("/media/{id}")))
            .bearer_auth(&ana)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

        let (status, _, thumb) = fetch(&s, Some(&ana), &format!("/media/{id}?size=thumb")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!contains(&thumb, SECRET_PLACE));
        let small = image::load_from_memory(&thumb).unwrap();
        assert_eq!((small.width(), small.height()), (320, 160));

        // Raw bytes with their type work the same.
        let (status, raw) = upload_raw(&s, &ana, "image/jpeg", jpeg_with_gps(40, 30)).await;
        assert_eq!(status, StatusCode::CREATED, "{raw}");
        assert_eq!(
            (raw["width"].as_i64(), raw["height"].as_i64()),
            (Some(40), Some(30))
        );
    }
);

both_backends!(wrong_types_sizes_and_bombs_are_refused, |b| async move {
    let s = Server::start(b).await;
    let (_, ana) = group(&s, "sleeve", "ana").await;
    let (status, body) = upload(&s, &ana, "text/plain", b"hello there").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let (status, body) = upload_raw(&s, &ana, "image/gif", b"GIF89a....".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");

    let mut big = jpeg(64, 64);
    big.resize(10 * 1024 * 1024 + 10, 0);
    let (status, body) = upload_raw(&s, &ana, "image/jpeg", big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) = upload(&s, &ana, "image/jpeg", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (status, body) = upload(
        &s,
        &ana,
        "image/jpeg",
        b"\xFF\xD8\xFF\xE0 not really a photo",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["file"].is_array(), "{body}");
    let (status, body) = upload(&s, &ana, "image/png", b"\x89PNG\r\n\x1a\n broken").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // 10,000 × 10,000 pixels from a few hundred bytes: refused before decoding.
    let started = std::time::Instant::now();
    let (status, body) = upload(&s, &ana, "image/jpeg", &jpeg_claiming(10_000, 10_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["file"][0]
            .as_str()
            .unwrap()
            .contains("pixels"),
        "{body}"
    );
    let (status, body) = upload(&s, &ana, "image/jpeg", &jpeg_claiming(60_000, 60_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // Not signed in: nothing is stored.
    let resp = s
        .client
        .post(s.url("/api/v1/media"))
        .header("content-type", "image/jpeg")
        .body(jpeg(10, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(media_files(&s).is_empty(), "{:?}", media_files(&s));
});

both_backends!(
    photos_are_served_only_to_those_who_may_read_them,
    |b| async move {
        let s = Server::start(b).await;
        let (_, ana) = group(&s, "sleeve", "ana").await;
        let bea = s.register("bea").await;
        s.join(&bea, "sleeve").await;
        let carl = s.register("carl").await; // not a member

        let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(300, 200)).await;
        let id = up["id"].as_i64().unwrap();
        let url = format!("/media/{id}");
        // Unattached: the uploader's alone, even to fellow members.
        assert_eq!(fetch(&s, Some(&ana), &url).await.0, StatusCode::OK);
        assert_eq!(fetch(&s, Some(&bea), &url).await.0, StatusCode::NOT_FOUND);
        assert_eq!(fetch(&s, None, &url).await.0, StatusCode::NOT_FOUND);

        let (status, created) = s
            .post(
                "/api/v1/communities/sleeve/topics",
                Some(&ana),
                json!({"title": "Jeans off the rack", "body": "Bought these today!",
                   "attachments": [{"id": id, "alt": "Blue jeans on a shop hanger"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let a = &created["post"]["attachments"][0];
        assert_eq!(a["id"], id);
        assert_eq!(a["kind"], "image");
        assert_eq!(a["url"], url);
        assert_eq!(a["alt"], "Blue jeans on a shop hanger");
        assert_eq!(a["width"], 300);
        let topic = created["topic"]["id"].as_i64().unwrap();

        // Members read it; a non-member and a visitor get 404, as for a post they cannot read.
        assert_eq!(fetch(&s, Some(&bea), &url).await.0, StatusCode::OK);
        assert_eq!(
            fetch(&s, Some(&bea), &format!("{url}?size=thumb")).await.0,
            StatusCode::OK
        );
        assert_eq!(fetch(&s, Some(&carl), &url).await.0, StatusCode::NOT_FOUND);
        assert_eq!(fetch(&s, None, &url).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            fetch(&s, None, "/media/999999").await.0,
            StatusCode::NOT_FOUND
        );

        // The post as listed carries it too.
        let (_, page) = s
            .get(&format!("/api/v1/topics/{topic}/posts"), Some(&bea))
            .await;
        assert_eq!(page["items"][0]["attachments"][0]["id"], id);

        // Attached once: it cannot hang on a second post.
        let (status, body) = s
            .post(
                &format!("/api/v1/topics/{topic}/posts"),
                Some(&ana),
                json!({"body": "again", "attachments": [{"id": id, "alt": "jeans"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
);

both_backends!(
    alt_text_is_required_and_only_your_own_uploads_attach,
    |b| async move {
        let s = Server::start(b).await;
        let (_, ana) = group(&s, "sleeve", "ana").await;
        let bea = s.register("bea").await;
        s.join(&bea, "sleeve").await;
        let (_, up) = upload(&s, &ana, "image/png", &{
            let img = image::RgbaImage::from_fn(20, 20, |x, _| {
                image::Rgba([9, 9, 9, if x < 10 { 0 } else { 255 }])
            });
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        })
        .await;
        assert_eq!(
            up["content_type"], "image/png",
            "transparency stays PNG: {up}"
        );
        let id = up["id"].as_i64().unwrap();
        for alt in [json!(null), json!(""), json!("   "), json!("x".repeat(501))] {
            let (status, body) = s
            .post(
                "/api/v1/communities/sleeve/topics",
                Some(&ana),
                json!({"title": "My progress", "body": "Look!", "attachments": [{"id": id, "alt": alt}]}),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "alt {alt}: {body}"
            );
            assert!(
                body["error"]["fields"]["attachments[0].alt"].is_array(),
                "{body}"
            );
        }
        // Someone else's upload cannot be attached.
        let (status, body) = s
        .post(
            "/api/v1/communities/sleeve/topics",
            Some(&bea),
            json!({"title": "Not mine", "body": "Look!", "attachments": [{"id": id, "alt": "a photo"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["fields"]["attachments[0]"].is_array(),
            "{body}"
        );
        // Nothing was posted, so it is still Ana's to attach.
        let (status, body) = s
        .post(
            "/api/v1/communities/sleeve/topics",
            Some(&ana),
            json!({"title": "My progress", "body": "Look!", "attachments": [{"id": id, "alt": "A chart going down"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        // At most four per post.
        let mut many = Vec::new();
        for _ in 0..5 {
            let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(10, 10)).await;
            many.push(json!({"id": up["id"], "alt": "a photo"}));
        }
        let (status, body) = s
            .post(
                "/api/v1/communities/sleeve/topics",
                Some(&ana),
                json!({"title": "Many photos", "body": "Look!", "attachments": many}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
);

both_backends!(
    deleting_the_post_or_the_account_removes_the_files,
    |b| async move {
        let s = Server::start(b).await;
        let (_, ana) = group(&s, "sleeve", "ana").await;
        let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(100, 100)).await;
        let id = up["id"].as_i64().unwrap();
        let (topic, _) = s.topic(&ana, "sleeve", "First week", "Hello all").await;
        let reply = s
            .reply(
                &ana,
                topic,
                json!({"body": "Here I am", "attachments": [{"id": id, "alt": "Me at the park"}]}),
            )
            .await;
        assert_eq!(media_files(&s).len(), 2, "full and thumb");

        // The export lists it by address.
        let (status, export) = s.get("/api/v1/me/export", Some(&ana)).await;
        assert_eq!(status, StatusCode::OK);
        let listed = export["media"].as_array().unwrap();
        assert!(
            listed
                .iter()
                .any(|m| m["id"] == id && m["url"] == format!("/media/{id}")),
            "{listed:?}"
        );

        let (status, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/posts/{}", reply["id"]),
                Some(&ana),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            fetch(&s, Some(&ana), &format!("/media/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert!(media_files(&s).is_empty(), "{:?}", media_files(&s));

        // An account erased takes its uploads, attached or not.
        let (_, up1) = upload(&s, &ana, "image/jpeg", &jpeg(50, 50)).await;
        let (_, up2) = upload(&s, &ana, "image/jpeg", &jpeg(60, 60)).await;
        s.reply(
            &ana,
            topic,
            json!({"body": "One more", "attachments": [{"id": up1["id"], "alt": "A salad"}]}),
        )
        .await;
        assert_eq!(media_files(&s).len(), 4);
        let (status, body) = s
            .call(
                "DELETE",
                "/api/v1/me",
                Some(&ana),
                Some(json!({"password": common::PASSWORD, "content": "anonymise"})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        assert!(media_files(&s).is_empty(), "{:?}", media_files(&s));
        let bea = s.register("bea").await;
        s.join(&bea, "sleeve").await;
        for m in [&up1, &up2] {
            assert_eq!(
                fetch(&s, Some(&bea), m["url"].as_str().unwrap()).await.0,
                StatusCode::NOT_FOUND
            );
        }
    }
);

both_backends!(a_daily_quota_holds, |b| async move {
    let s = Server::start_with(
        b,
        ServerOptions {
            rate_limits: true,
            extra_env: vec![("MUTUAL_MEDIA_DAILY_COUNT".into(), "2".into())],
            ..ServerOptions::default()
        },
    )
    .await;
    let (_, ana) = group(&s, "sleeve", "ana").await;
    for _ in 0..2 {
        let (status, body) = upload(&s, &ana, "image/jpeg", &jpeg(20, 20)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let resp = s
        .client
        .post(s.url("/api/v1/media"))
        .bearer_auth(&ana)
        .header("content-type", "image/jpeg")
        .body(jpeg(20, 20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Someone else's quota is their own.
    let bea = s.register("bea").await;
    let (status, _) = upload(&s, &bea, "image/jpeg", &jpeg(20, 20)).await;
    assert_eq!(status, StatusCode::CREATED);
});

both_backends!(a_topic_page_with_photos_stays_light, |b| async move {
    let s = Server::start(b).await;
    let (_, ana) = group(&s, "sleeve", "ana").await;
    let mut attachments = Vec::new();
    for i in 0..4 {
        let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(1200 + i * 10, 900)).await;
        attachments.push(json!({"id": up["id"], "alt": format!("Progress photo {i}")}));
    }
    let (status, created) = s
        .post(
            "/api/v1/communities/sleeve/topics",
            Some(&ana),
            json!({"title": "Six months", "body": "Then and now", "attachments": attachments}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let topic = created["topic"]["id"].as_i64().unwrap();
    for i in 0..3 {
        let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(800, 800)).await;
        s.reply(&ana, topic, json!({"body": format!("Week {i}"), "content_warning": "photos",
                                    "attachments": [{"id": up["id"], "alt": format!("Before and after {i}")}]}))
            .await;
    }
    let client = common::web::web_login(&s, "ana").await;
    let page = common::web::get(&s, &client, &format!("/t/{topic}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.html;
    assert!(html.len() < 60 * 1024, "the page is {} bytes", html.len());
    assert_eq!(
        html.matches("loading=\"lazy\"").count(),
        4 + 3 * 2,
        "{html}"
    );
    assert!(html.contains("alt=\"Progress photo 0\""));
    assert!(html.contains("?size=thumb"));
    assert!(html.contains("width=\"320\" height=\"240\""), "{html}");
    // The "photos" warning: blurred in a <details> until tapped.
    assert_eq!(html.matches("<details class=\"photo-cw\">").count(), 3);
    assert!(html.contains("alt=\"Before and after 0\""));
    // No full-size photo is loaded by the page itself, only linked.
    let full_links = html.matches("<a href=\"/media/").count();
    assert_eq!(full_links, 7);
});

both_backends!(
    the_reply_form_takes_a_photo_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sleeve", "members", json!({})).await;
        let client = common::web::web_member(&s, "ana", "es").await;
        let token = s.login("ana").await;
        s.join(&token, "sleeve").await;
        let (topic, _) = s
            .topic(&token, "sleeve", "Mis jeans", "Los compré hoy")
            .await;
        let page = common::web::get(&s, &client, &format!("/t/{topic}"), None).await;
        assert!(page.html.contains("enctype=\"multipart/form-data\""));
        assert!(page.html.contains("type=\"file\""));
        let csrf = common::web::csrf(&page.html);
        let photo = jpeg_with_gps(500, 400);

        // Without alt text: refused, in Spanish, and the upload is kept for the second try.
        let (ct, body) = multipart(
            &[("csrf", &csrf), ("body", "¡Mírenlos!"), ("alt", "")],
            Some(("file", "image/jpeg", &photo)),
        );
        let resp = client
            .post(s.url(&format!("/t/{topic}")))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = resp.text().await.unwrap();
        assert!(html.contains("Por favor describa la foto"), "{html}");
        let kept = regex::Regex::new(r#"name="media_id" value="(\d+)""#)
            .unwrap()
            .captures(&html)
            .expect("the upload is kept")[1]
            .to_owned();

        let (ct, body) = multipart(
            &[
                ("csrf", &csrf),
                ("body", "¡Mírenlos!"),
                ("alt", "Unos jeans azules"),
                ("media_id", &kept),
            ],
            Some(("file", "application/octet-stream", b"")),
        );
        let resp = client
            .post(s.url(&format!("/t/{topic}")))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "{}",
            resp.text().await.unwrap()
        );
        let page = common::web::get(&s, &client, &format!("/t/{topic}"), None).await;
        assert!(
            page.html.contains("alt=\"Unos jeans azules\""),
            "{}",
            page.html
        );
        let (status, _, bytes) = fetch(&s, Some(&token), &format!("/media/{kept}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!contains(&bytes, SECRET_PLACE));

        // A form without the CSRF token uploads nothing.
        let before = media_files(&s).len();
        let (ct, body) = multipart(
            &[("body", "x"), ("alt", "y")],
            Some(("file", "image/jpeg", &photo)),
        );
        let resp = client
            .post(s.url(&format!("/t/{topic}")))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(media_files(&s).len(), before);
    }
);

#[allow(dead_code)]
fn unused(_: Backend) {}

/// Three seconds of Opus in WebM, as Chrome's MediaRecorder writes it (no duration in the
/// header): recorded once from an oscillator in Chromium.
const VOICE_WEBM: &[u8] = include_bytes!("../fixtures/voice-3s.webm");

both_backends!(
    voice_notes_are_measured_and_travel_in_chat,
    |b| async move {
        use common::ws::{connect, next_op, send};
        let s = Server::start(b).await;
        let (admin, ana) = group(&s, "sleeve", "ana").await;
        let bea = s.register("bea").await;
        s.join(&bea, "sleeve").await;
        let carl = s.register("carl").await;
        let (_, rooms) = s
            .get("/api/v1/communities/sleeve/rooms", Some(&admin))
            .await;
        let room = rooms[0]["id"].as_i64().unwrap();

        let (status, up) = upload(&s, &ana, "audio/webm;codecs=opus", VOICE_WEBM).await;
        assert_eq!(status, StatusCode::CREATED, "{up}");
        assert_eq!(up["kind"], "audio");
        assert_eq!(up["content_type"], "audio/webm");
        let ms = up["duration_ms"].as_i64().unwrap();
        assert!((2500..=3600).contains(&ms), "measured {ms} ms");
        assert!(up.get("width").is_none());
        let id = up["id"].as_i64().unwrap();
        // A video, or a file that only claims to be a voice note, is refused.
        let (status, _) = upload(&s, &ana, "video/mp4", VOICE_WEBM).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, body) = upload(&s, &ana, "audio/ogg", b"OggS but nothing more").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let mut big = VOICE_WEBM.to_vec();
        big.resize(5 * 1024 * 1024 + 1, 0);
        let (status, _) = upload(&s, &ana, "audio/webm", &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

        let mut ws_ana = connect(&s, &ana).await;
        send(
            &mut ws_ana,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        next_op(&mut ws_ana, "subscribed").await;
        let mut ws_bea = connect(&s, &bea).await;
        send(
            &mut ws_bea,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        next_op(&mut ws_bea, "subscribed").await;

        // A photo without alt text is refused in chat as in posts.
        let (_, photo) = upload(&s, &ana, "image/jpeg", &jpeg(40, 40)).await;
        send(
            &mut ws_ana,
            json!({"op": "send", "room": room, "body": "look", "nonce": "p1",
                              "attachments": [{"id": photo["id"]}]}),
        )
        .await;
        let refused = next_op(&mut ws_ana, "error").await;
        assert_eq!(refused["nonce"], "p1", "{refused}");

        send(
            &mut ws_ana,
            json!({"op": "send", "room": room, "body": "Hola, les dejo un audio", "nonce": "v1",
                              "attachments": [{"id": id}]}),
        )
        .await;
        let frame = next_op(&mut ws_bea, "message").await;
        let a = &frame["message"]["attachments"][0];
        assert_eq!(a["id"], id, "{frame}");
        assert_eq!(a["kind"], "audio");
        assert_eq!(a["url"], format!("/media/{id}"));
        assert_eq!(a["duration_ms"], ms);
        let message = frame["message"]["id"].as_i64().unwrap();

        // History and a fresh subscription carry it too.
        let (_, history) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(&bea))
            .await;
        assert_eq!(history["items"][0]["attachments"][0]["id"], id, "{history}");
        let mut ws_late = connect(&s, &bea).await;
        send(
            &mut ws_late,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        let sub = next_op(&mut ws_late, "subscribed").await;
        let last = sub["backlog"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["attachments"][0]["id"], id, "{sub}");

        // Members of the room hear it; others get 404.
        let (status, headers, bytes) = fetch(&s, Some(&bea), &format!("/media/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "audio/webm");
        assert_eq!(bytes, VOICE_WEBM);
        assert_eq!(
            fetch(&s, Some(&carl), &format!("/media/{id}")).await.0,
            StatusCode::NOT_FOUND
        );

        // Reported like text: the case keeps it, shown to moderators who ask for media.
        let (status, body) = s
            .post(
                "/api/v1/reports",
                Some(&bea),
                json!({"target": {"type": "message", "id": message}, "reason": "other"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, queue) = s
            .get(
                "/api/v1/communities/sleeve/reports?show_media=true",
                Some(&admin),
            )
            .await;
        let case = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["target_id"] == message)
            .unwrap()
            .clone();
        assert_eq!(case["attachments"][0]["id"], id, "{case}");
        let (_, queue) = s
            .get("/api/v1/communities/sleeve/reports", Some(&admin))
            .await;
        let case = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["target_id"] == message)
            .unwrap()
            .clone();
        assert_eq!(case["blurred"], true, "{case}");
        assert_eq!(case["attachments"], json!([]));

        // Deleting the message removes the file.
        let files = media_files(&s).len();
        let (status, _) = s
            .call(
                "DELETE",
                &format!("/api/v1/messages/{message}"),
                Some(&ana),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            fetch(&s, Some(&bea), &format!("/media/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(media_files(&s).len(), files - 1);
    }
);

both_backends!(
    a_reported_post_keeps_its_photo_in_the_case,
    |b| async move {
        let s = Server::start(b).await;
        let (admin, ana) = group(&s, "sleeve", "ana").await;
        let bea = s.register("bea").await;
        s.join(&bea, "sleeve").await;
        let (_, up) = upload(&s, &ana, "image/jpeg", &jpeg(64, 48)).await;
        let (topic, _) = s.topic(&ana, "sleeve", "Week one", "Hello").await;
        let post = s
        .reply(&ana, topic, json!({"body": "Before and after", "content_warning": "photos",
                                   "attachments": [{"id": up["id"], "alt": "Two photos side by side"}]}))
        .await;
        let (status, body) = s
            .post(
                "/api/v1/reports",
                Some(&bea),
                json!({"target": {"type": "post", "id": post["id"]}, "reason": "other"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, queue) = s
            .get(
                "/api/v1/communities/sleeve/reports?show_media=true",
                Some(&admin),
            )
            .await;
        let case = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["target_id"] == post["id"])
            .unwrap()
            .clone();
        assert_eq!(
            case["attachments"][0]["alt"], "Two photos side by side",
            "{case}"
        );
        // The moderator may open it.
        assert_eq!(
            fetch(&s, Some(&admin), up["url"].as_str().unwrap()).await.0,
            StatusCode::OK
        );

        // On the moderation page it is hidden until asked for, then shown with its description.
        let (_, me) = s.get("/api/v1/me", Some(&admin)).await;
        let web = common::web::web_login(&s, me["username"].as_str().unwrap()).await;
        let page = common::web::get(&s, &web, "/mod/sleeve", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("/mod/sleeve?media=1"), "{}", page.html);
        assert!(!page.html.contains("Two photos side by side"));
        let page = common::web::get(&s, &web, "/mod/sleeve?media=1", None).await;
        let thumb = format!("src=\"/media/{}?size=thumb\"", up["id"]);
        assert!(page.html.contains(&thumb), "{}", page.html);
        assert!(page.html.contains("alt=\"Two photos side by side\""));
        assert!(page.html.contains("Description given:"), "{}", page.html);
    }
);

both_backends!(a_milestone_carries_its_photo, |b| async move {
    let s = Server::start(b).await;
    let (_, ana) = group(&s, "sleeve", "ana").await;
    let bea = s.register("bea").await;
    s.join(&bea, "sleeve").await;
    let (_, up) = upload(&s, &ana, "image/webp", &{
        let img = image::RgbImage::from_fn(80, 60, |x, _| image::Rgb([x as u8, 30, 200]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::WebP)
            .unwrap();
        out
    })
    .await;
    assert_eq!(up["content_type"], "image/jpeg", "WebP in, JPEG out: {up}");
    let (status, created) = s
        .post(
            "/api/v1/communities/sleeve/topics",
            Some(&ana),
            json!({"title": "Jeans off the rack", "body": "A size 12!", "kind": "milestone",
                   "milestone": {"type": "non_scale_victory"},
                   "attachments": [{"id": up["id"], "alt": "Jeans with a size 12 label"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["post"]["attachments"][0]["alt"],
        "Jeans with a size 12 label"
    );
    let topic = created["topic"]["id"].as_i64().unwrap();
    let (_, posts) = s
        .get(&format!("/api/v1/topics/{topic}/posts"), Some(&bea))
        .await;
    assert_eq!(posts["items"][0]["attachments"][0]["id"], up["id"]);
    assert_eq!(
        fetch(&s, Some(&bea), up["url"].as_str().unwrap()).await.0,
        StatusCode::OK
    );
});

both_backends!(
    alt_text_is_screened_like_the_words_beside_it,
    |b| async move {
        use common::ws::{connect, next_op, send};
        let s = Server::start(b).await;
        let (admin, ana) = group(&s, "alts", "ana").await;

        // A crisis said in a photo's description reaches the author's crisis lines and the queue.
        let (_, photo) = upload(&s, &ana, "image/jpeg", &jpeg(40, 40)).await;
        let (st, topic) = s
            .post(
                "/api/v1/communities/alts/topics",
                Some(&ana),
                json!({"title": "My week", "body": "a photo of my walk",
                       "attachments": [{"id": photo["id"], "alt": "me on the bridge, I want to end my life"}]}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{topic}");
        let lines = topic["crisis_resources"]
            .as_array()
            .unwrap_or_else(|| panic!("no crisis lines for a crisis in alt text: {topic}"));
        assert_eq!(lines[0]["phone"], "988");
        let (_, queue) = s
            .get("/api/v1/communities/alts/reports", Some(&admin))
            .await;
        assert!(
            queue["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["crisis"] == true),
            "no crisis case: {queue}"
        );

        // A phone number in the description needs confirming, as in the words.
        let topic_id = topic["topic"]["id"].as_i64().unwrap();
        let (_, photo) = upload(&s, &ana, "image/jpeg", &jpeg(40, 40)).await;
        let (st, refused) = s
            .post(
                &format!("/api/v1/topics/{topic_id}/posts"),
                Some(&ana),
                json!({"body": "my number is on the card",
                       "attachments": [{"id": photo["id"], "alt": "a card saying call me on 55 - 1234 - 5678"}]}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(
            refused["error"]["fields"]["identifiers"][0], "phone",
            "{refused}"
        );

        // And in chat: the crisis lines frame for the author.
        let (_, rooms) = s.get("/api/v1/communities/alts/rooms", Some(&ana)).await;
        let room = rooms[0]["id"].as_i64().unwrap();
        let mut ws = connect(&s, &ana).await;
        send(
            &mut ws,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        next_op(&mut ws, "subscribed").await;
        let (_, photo) = upload(&s, &ana, "image/jpeg", &jpeg(40, 40)).await;
        send(
            &mut ws,
            json!({"op": "send", "room": room, "body": "today", "nonce": "a1",
                   "attachments": [{"id": photo["id"], "alt": "pills on the table, i want to die"}]}),
        )
        .await;
        let lines = next_op(&mut ws, "crisis_resources").await;
        assert_eq!(lines["room"], room);
        assert_eq!(lines["lines"][0]["phone"], "988");
    }
);

both_backends!(
    a_restored_chat_message_comes_back_with_its_photo,
    |b| async move {
        use common::ws::{connect, next_op, send};
        let s = Server::start(b).await;
        let (admin, ana) = group(&s, "restore", "ana").await;
        let bea = s.register("bea").await;
        s.join(&bea, "restore").await;
        let (_, rooms) = s.get("/api/v1/communities/restore/rooms", Some(&bea)).await;
        let room = rooms[0]["id"].as_i64().unwrap();
        let mut ws_bea = connect(&s, &bea).await;
        send(
            &mut ws_bea,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        next_op(&mut ws_bea, "subscribed").await;
        let mut ws_ana = connect(&s, &ana).await;
        send(
            &mut ws_ana,
            json!({"op": "subscribe", "room": room, "since": null}),
        )
        .await;
        next_op(&mut ws_ana, "subscribed").await;
        let (_, photo) = upload(&s, &ana, "image/jpeg", &jpeg(40, 40)).await;
        send(
            &mut ws_ana,
            json!({"op": "send", "room": room, "body": "my new shoes", "nonce": "r1",
                   "attachments": [{"id": photo["id"], "alt": "white walking shoes"}]}),
        )
        .await;
        let sent = next_op(&mut ws_bea, "message").await;
        let id = sent["message"]["id"].as_i64().unwrap();
        for action in ["hide", "restore"] {
            let (st, body) = s
                .post(
                    "/api/v1/moderation/actions",
                    Some(&admin),
                    json!({"action": action, "target": {"type": "message", "id": id}, "reason": "checking"}),
                )
                .await;
            assert!(st.is_success(), "{action}: {st} {body}");
        }
        next_op(&mut ws_bea, "message_deleted").await;
        let back = next_op(&mut ws_bea, "message_restored").await;
        assert_eq!(back["message"]["id"], id, "{back}");
        assert_eq!(
            back["message"]["attachments"][0]["alt"], "white walking shoes",
            "{back}"
        );
    }
);

both_backends!(
    the_chat_form_takes_a_photo_without_javascript,
    |b| async move {
        let s = Server::start(b).await;
        let admin = s.admin().await;
        s.community(&admin, "sleeve", "members", json!({})).await;
        let client = common::web::web_member(&s, "ana", "hi").await;
        let token = s.login("ana").await;
        s.join(&token, "sleeve").await;
        let (_, rooms) = s
            .get("/api/v1/communities/sleeve/rooms", Some(&token))
            .await;
        let room = rooms[0]["id"].as_i64().unwrap();
        let path = format!("/c/sleeve/chat/{room}");
        let page = common::web::get(&s, &client, &path, None).await;
        assert!(
            page.html.contains("enctype=\"multipart/form-data\""),
            "{}",
            page.html
        );
        assert!(page.html.contains("id=\"chat-file\""));
        let csrf = common::web::csrf(&page.html);
        let photo = jpeg_with_gps(300, 200);

        // Without alt text: refused in Hindi, the words and the upload kept.
        let (ct, body) = multipart(
            &[("csrf", &csrf), ("body", "मेरे नए जूते"), ("alt", "")],
            Some(("file", "image/jpeg", &photo)),
        );
        let resp = client
            .post(s.url(&path))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = resp.text().await.unwrap();
        assert!(html.contains("उसका विवरण लिखें"), "{html}");
        assert!(html.contains("मेरे नए जूते"));
        let kept = regex::Regex::new(r#"name="media_id" value="(\d+)""#)
            .unwrap()
            .captures(&html)
            .expect("the upload is kept")[1]
            .to_owned();

        let (ct, body) = multipart(
            &[
                ("csrf", &csrf),
                ("body", "मेरे नए जूते"),
                ("alt", "सफ़ेद जूते"),
                ("media_id", &kept),
            ],
            Some(("file", "application/octet-stream", b"")),
        );
        let resp = client
            .post(s.url(&path))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let (_, history) = s
            .get(&format!("/api/v1/rooms/{room}/messages"), Some(&token))
            .await;
        assert_eq!(
            history["items"][0]["attachments"][0]["alt"], "सफ़ेद जूते",
            "{history}"
        );
        let page = common::web::get(&s, &client, &path, None).await;
        assert!(page.html.contains("alt=\"सफ़ेद जूते\""), "{}", page.html);
    }
);

/// `VOICE_WEBM` with one more cluster whose packet starts at `at_ms`: a voice note that long,
/// written into the container as a recorder would (the segment's size grows to hold it).
fn webm_lasting(at_ms: u32) -> Vec<u8> {
    let mut d = VOICE_WEBM.to_vec();
    let find = |d: &[u8], what: &[u8]| d.windows(what.len()).rposition(|w| w == what).unwrap();
    // The last cluster's first SimpleBlock (0xA3, a two-byte size): its bytes are reused.
    let cluster = find(&d, &[0x1F, 0x43, 0xB6, 0x75]);
    let block = cluster + d[cluster..].iter().position(|&b| b == 0xA3).unwrap();
    assert_eq!(d[block + 1] & 0xC0, 0x40, "a two-byte size");
    let len = (((d[block + 1] & 0x3F) as usize) << 8) | d[block + 2] as usize;
    let payload = d[block + 3..block + 3 + len].to_vec();
    let mut body = vec![
        0xE7,
        0x83,
        (at_ms >> 16) as u8,
        (at_ms >> 8) as u8,
        at_ms as u8,
    ];
    body.extend([0xA3, 0x40 | (len >> 8) as u8, len as u8]);
    body.extend(&payload);
    let mut added = vec![0x1F, 0x43, 0xB6, 0x75, 0x01, 0, 0, 0, 0, 0];
    added.extend([(body.len() >> 8) as u8, body.len() as u8]);
    added.extend(body);
    // The Segment's size: an eight-byte number after its id.
    let segment = d
        .windows(4)
        .position(|w| w == [0x18, 0x53, 0x80, 0x67])
        .unwrap()
        + 4;
    assert_eq!(d[segment], 0x01, "an eight-byte size");
    let mut size = 0u64;
    for b in &d[segment + 1..segment + 8] {
        size = (size << 8) | *b as u64;
    }
    size += added.len() as u64;
    for i in 0..7 {
        d[segment + 7 - i] = (size >> (8 * i)) as u8;
    }
    d.extend(added);
    d
}

both_backends!(a_voice_note_over_two_minutes_is_refused, |b| async move {
    let s = Server::start(b).await;
    let (_, ana) = group(&s, "long", "ana").await;
    // Just under the limit is taken and measured; just over is refused, saying why.
    let (status, up) = upload(&s, &ana, "audio/webm", &webm_lasting(110_000)).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let ms = up["duration_ms"].as_i64().unwrap();
    assert!((110_000..=111_000).contains(&ms), "measured {ms} ms");
    let (status, body) = upload(&s, &ana, "audio/webm", &webm_lasting(125_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let why = body["error"]["fields"]["file"][0]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("at most 2 minutes"), "{body}");
});
