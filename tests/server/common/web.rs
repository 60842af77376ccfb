//! The web pages as a browser without JavaScript uses them: a client that keeps cookies and does
//! not follow redirects, forms posted with their CSRF token, and the checks every page shares.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};

use super::{PASSWORD, Server};

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

pub async fn get(s: &Server, client: &reqwest::Client, path: &str, lang: Option<&str>) -> Page {
    let mut req = client.get(s.url(path));
    if let Some(l) = lang {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.expect("get");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap_or_default(),
    }
}

/// Posts a form; the answer (a redirect, or a page with errors).
pub async fn post(
    s: &Server,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let resp = client
        .post(s.url(path))
        .form(fields)
        .send()
        .await
        .expect("post");
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap_or_default(),
    }
}

pub fn location(p: &Page) -> String {
    p.headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

pub fn csrf(html: &str) -> String {
    let re = regex::Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap();
    re.captures(html)
        .unwrap_or_else(|| panic!("no CSRF field in:\n{html}"))[1]
        .to_owned()
}

pub fn lang(html: &str) -> String {
    let re = regex::Regex::new(r#"<html lang="([a-z]+)""#).unwrap();
    re.captures(html)
        .map(|c| c[1].to_owned())
        .unwrap_or_default()
}

pub fn assert_csp(p: &Page, path: &str) {
    let csp = p
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{path}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
}

/// A member signed in through the forms, with their client; they ticked the box consenting
/// to hold health data.
pub async fn web_member(s: &Server, username: &str, locale: &str) -> reqwest::Client {
    web_sign_up(s, username, locale, true).await
}

/// A member signed in through the forms who left the consent box unticked.
pub async fn web_member_without_consent(
    s: &Server,
    username: &str,
    locale: &str,
) -> reqwest::Client {
    web_sign_up(s, username, locale, false).await
}

async fn web_sign_up(s: &Server, username: &str, locale: &str, consent: bool) -> reqwest::Client {
    let client = browser();
    let form = get(s, &client, "/register", None).await;
    let token = csrf(&form.html);
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("username", username),
        ("password", PASSWORD),
        ("locale", locale),
    ];
    if consent {
        fields.push(("health_data_consent", super::CONSENT_VERSION));
    }
    let done = post(s, &client, "/register", &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    client
}

/// A member signed in through the login form.
pub async fn web_login(s: &Server, username: &str) -> reqwest::Client {
    let client = browser();
    let form = get(s, &client, "/login", None).await;
    let token = csrf(&form.html);
    let done = post(
        s,
        &client,
        "/login",
        &[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    client
}
