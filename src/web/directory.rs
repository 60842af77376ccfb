//! Finding a group and being referred to one: the public directory (`/groups`), the plain
//! welcome behind a referral link (`/r/{code}`, sign up and join in three steps), and the
//! organisers' referral links with a printable page and QR code per link.

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::auth::LANGUAGES;
use super::{Ctx, Layout, PageError, WebForm, urlencode};
use crate::accounts::{self, RegisterRequest, session};
use crate::communities::organised_community;
use crate::directory::{DirectoryEntry, DirectoryQuery};
use crate::error::AppError;
use crate::http::ClientIp;
use crate::referrals::{NewReferral, Referral, Welcome};

// ---------------------------------------------------------------------------------------------
// The directory

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "directory.html")]
struct DirectoryPage {
    l: Layout,
    q: String,
    language: String,
    region: String,
    groups: Vec<GroupEntry>,
    next: Option<String>,
    languages: [(&'static str, &'static str); 3],
}

struct GroupEntry {
    e: DirectoryEntry,
    next_meeting: Option<i64>,
}

impl DirectoryPage {
    fn next_href(&self, after: &str) -> String {
        format!(
            "/groups?q={}&language={}&region={}&after={}",
            urlencode(&self.q),
            urlencode(&self.language),
            urlencode(&self.region),
            urlencode(after)
        )
    }

    /// A language code named in the reader's words, when we have them.
    fn language_name(&self, code: &str) -> &'static str {
        LANGUAGES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("", |(_, name)| name)
    }
}

pub async fn directory(ctx: Ctx, Query(q): Query<DirectoryQuery>) -> Result<Response, PageError> {
    let page = crate::directory::search(&ctx.state, &q).await?;
    let groups = page
        .items
        .into_iter()
        .map(|e| GroupEntry {
            next_meeting: e.offers.next_meeting_at,
            e,
        })
        .collect();
    let page = DirectoryPage {
        l: ctx.layout(ctx.texts.get("directory.title")).await,
        q: q.q.unwrap_or_default(),
        language: q.language.unwrap_or_default(),
        region: q.region.unwrap_or_default(),
        groups,
        next: page.next,
        languages: LANGUAGES,
    };
    Ok(ctx.send(page))
}

// ---------------------------------------------------------------------------------------------
// The welcome behind a referral link

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "referral.html")]
struct WelcomePage {
    l: Layout,
    w: Welcome,
    signed_in: bool,
    errors: Vec<String>,
    username: String,
    display_name: String,
    languages: [(&'static str, &'static str); 3],
    notice: super::account::ConsentNotice,
    consent_checked: bool,
}

pub async fn welcome(ctx: Ctx, Path(code): Path<String>) -> Result<Response, PageError> {
    let w = crate::referrals::welcome(&ctx.state, &code, true).await?;
    let mut l = ctx.layout(w.name.clone()).await;
    l.noindex = true;
    let page = WelcomePage {
        l,
        signed_in: ctx.session.is_some(),
        w,
        errors: Vec::new(),
        username: String::new(),
        display_name: String::new(),
        languages: LANGUAGES,
        notice: super::account::ConsentNotice::new(ctx.texts.locale),
        consent_checked: false,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    display_name: Option<String>,
    locale: Option<String>,
    /// Filled by `site.js` from the browser; absent without JavaScript (UTC, set in settings).
    browser_timezone: Option<String>,
    health_data_consent: Option<String>,
    consent_locale: Option<String>,
}

/// Signs up and joins the group in one form, then goes to the group.
pub async fn sign_up(
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Path(code): Path<String>,
    WebForm { ctx, form }: WebForm<SignUpForm>,
) -> Result<Response, PageError> {
    let w = crate::referrals::welcome(&ctx.state, &code, false).await?;
    let request = RegisterRequest {
        username: form.username.clone(),
        password: form.password,
        display_name: form.display_name.clone(),
        email: None,
        locale: form.locale,
        country: None,
        timezone: form.browser_timezone.clone(),
        health_data_consent: super::auth::consent_grant(
            form.health_data_consent.as_deref(),
            form.consent_locale.as_deref(),
        ),
    };
    match accounts::register(&ctx.state, ip, accounts::user_agent(&headers), &request).await {
        Ok(answer) => {
            let jar = jar.add(session::cookie(&ctx.state, answer.token));
            let to = match crate::referrals::join(&ctx.state, &answer.user, &code).await {
                Ok(_) => format!("/c/{}?welcome=1", w.community),
                // A group for a condition, and the box left unticked: the account is made;
                // the consent page explains, then brings them back to join.
                Err(AppError::ConsentRequired) => {
                    format!(
                        "/settings/consent?needed=1&next={}",
                        urlencode(&format!("/r/{code}"))
                    )
                }
                Err(e) => return Err(e.into()),
            };
            Ok(ctx.send((jar, Redirect::to(&to))))
        }
        Err(e) => {
            let Some(errors) = super::auth::messages(&ctx, &e) else {
                return Err(e.into());
            };
            let mut l = ctx.layout(w.name.clone()).await;
            l.noindex = true;
            let page = WelcomePage {
                l,
                signed_in: false,
                w,
                errors,
                username: form.username,
                display_name: form.display_name.unwrap_or_default(),
                languages: LANGUAGES,
                notice: super::account::ConsentNotice::new(ctx.texts.locale),
                consent_checked: form.health_data_consent.is_some(),
            };
            Ok(ctx.send_status(e.status(), page))
        }
    }
}

#[derive(Deserialize)]
pub struct Empty {}

/// A signed-in visitor joins through the link.
pub async fn join(
    Path(code): Path<String>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let (slug, _) = crate::referrals::join(&ctx.state, &session.user, &code).await?;
    Ok(ctx.send(Redirect::to(&format!("/c/{slug}"))))
}

// ---------------------------------------------------------------------------------------------
// Organisers' referral links

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "org_referrals.html")]
struct ReferralsPage {
    l: Layout,
    slug: String,
    name: String,
    saved: bool,
    errors: Vec<String>,
    label: String,
    links: Vec<Referral>,
    languages: [(&'static str, &'static str); 3],
}

#[derive(Deserialize, Default)]
pub struct SavedParam {
    saved: Option<String>,
}

async fn community_name(ctx: &Ctx, slug: &str) -> Result<(String, String), PageError> {
    let session = ctx.require()?;
    let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
    let (c, _) = organised_community(&mut conn, slug, &session.user).await?;
    Ok((c.slug, c.name))
}

async fn referrals_page(
    ctx: Ctx,
    slug: &str,
    saved: bool,
    errors: Vec<String>,
    label: String,
) -> Result<Response, PageError> {
    let (slug, name) = community_name(&ctx, slug).await?;
    let user = ctx.require()?.user.clone();
    let links = crate::referrals::list(&ctx.state, &user, &slug).await?;
    let mut l = ctx.layout(ctx.texts.get("referrals.title")).await;
    l.noindex = true;
    let status = super::form_status(!errors.is_empty());
    let page = ReferralsPage {
        l,
        slug,
        name,
        saved,
        errors,
        label,
        links,
        languages: LANGUAGES,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn referrals(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<SavedParam>,
) -> Result<Response, PageError> {
    referrals_page(ctx, &slug, q.saved.is_some(), Vec::new(), String::new()).await
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
}

pub async fn create_referral(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<LabelForm>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    let req = NewReferral {
        label: form.label.clone(),
    };
    match crate::referrals::create(&ctx.state, &user, &slug, &req).await {
        Ok(_) => Ok(ctx.send(Redirect::to(&format!("/organise/{slug}/referrals?saved=1")))),
        Err(AppError::Invalid { .. }) => {
            let errors = vec![ctx.texts.get("referrals.label_error").to_owned()];
            referrals_page(ctx, &slug, false, errors, form.label).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_referral(
    Path((slug, code)): Path<(String, String)>,
    WebForm { ctx, form: _ }: WebForm<Empty>,
) -> Result<Response, PageError> {
    let user = ctx.require()?.user.clone();
    crate::referrals::delete(&ctx.state, &user, &slug, &code).await?;
    Ok(ctx.send(Redirect::to(&format!("/organise/{slug}/referrals?saved=1"))))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "referral_print.html")]
struct PrintPage {
    l: Layout,
    slug: String,
    name: String,
    description: String,
    link: Referral,
    qr: String,
    languages: [(&'static str, &'static str); 3],
}

#[derive(Deserialize, Default)]
pub struct LangParam {
    lang: Option<String>,
}

/// The referral link as an inline SVG QR code (no outside service sees the link).
fn qr_svg(url: &str, label: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(url.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Drop the XML declaration (we are inside HTML) and name the image for screen readers.
    let start = svg.find("<svg").unwrap_or(0);
    let label = askama::filters::escape(label, askama::filters::Html)
        .map(|s| s.to_string())
        .unwrap_or_default();
    svg[start..].replacen(
        "<svg",
        &format!("<svg role=\"img\" aria-label=\"{label}\""),
        1,
    )
}

/// A page to print for a clinic: the group, the steps and a QR code, in the language the
/// organiser picks (`?lang=es`), whatever their own.
pub async fn print(
    mut ctx: Ctx,
    Path((slug, code)): Path<(String, String)>,
    Query(q): Query<LangParam>,
) -> Result<Response, PageError> {
    let (slug, name) = community_name(&ctx, &slug).await?;
    let user = ctx.require()?.user.clone();
    let link = crate::referrals::one(&ctx.state, &user, &slug, &code).await?;
    let welcome = crate::referrals::welcome(&ctx.state, &code, false).await?;
    if let Some(locale) = q
        .lang
        .as_deref()
        .and_then(|l| crate::accounts::types::Locale::parse(l).ok())
    {
        ctx.texts = crate::i18n::texts(locale);
    }
    let qr = qr_svg(&link.url, ctx.texts.get("referrals.qr_label"));
    let mut l = ctx.layout(name.clone()).await;
    l.noindex = true;
    let page = PrintPage {
        l,
        slug,
        name,
        description: welcome.description,
        link,
        qr,
        languages: LANGUAGES,
    };
    Ok(ctx.send(page))
}
