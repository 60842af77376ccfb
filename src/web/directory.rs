//! Finding a group and being referred to one: the public directory (`/groups`), the plain
//! welcome behind a referral link (`/r/{code}`, sign up and join in three steps), and the
//! organisers' referral links with a printable page and QR code per link.

use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use std::collections::BTreeMap;

use super::auth::LANGUAGES;
use super::{Ctx, Layout, PageError, WebForm, urlencode};
use crate::accounts::{self, RegisterRequest, session};
use crate::communities::organised_community;
use crate::directory::{CONDITIONS, DirectoryEntry, DirectoryQuery, MeetingStyle};
use crate::error::AppError;
use crate::http::ClientIp;
use crate::i18n::Texts;
use crate::referrals::{NewReferral, Referral, Welcome};

// ---------------------------------------------------------------------------------------------
// The directory fields of a group's forms

/// A condition the form offers.
pub struct ConditionChoice {
    pub key: String,
    pub name: String,
    pub chosen: bool,
}

/// What the directory finds a group by, as the admin's "Start a group" and the organisers'
/// "Group details" forms show it (`_listing_fields.html`).
pub struct ListingForm {
    pub condition_label: String,
    /// The main language.
    pub language: String,
    pub region: String,
    pub conditions: Vec<ConditionChoice>,
    /// The choices for the main language.
    pub languages: [(&'static str, &'static str); 3],
    /// The other languages the group may use, as boxes to tick (`also_<code>`).
    pub also: Vec<LanguageChoice>,
    /// (value, text key, chosen) of the meeting styles.
    pub styles: Vec<(&'static str, &'static str, bool)>,
}

/// A language box of the form: ticked when the group uses it besides its main language.
pub struct LanguageChoice {
    pub code: String,
    pub name: String,
    pub chosen: bool,
}

/// How the name of a language box starts (`also_en`).
const ALSO: &str = "also_";

/// The languages a group's form sent, main first: the main language, then each ticked box
/// (`also_<code>`). Other fields are ignored.
pub fn languages_from_form(main: &str, fields: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let main = main.trim();
    if !main.is_empty() {
        out.push(main.to_owned());
    }
    for name in fields.keys() {
        if let Some(code) = name.strip_prefix(ALSO)
            && !out.iter().any(|c| c == code)
        {
            out.push(code.to_owned());
        }
    }
    out
}

/// The text key that says how a group meets ("Meets online and in person").
pub fn meeting_style_key(style: MeetingStyle) -> &'static str {
    match style {
        MeetingStyle::Online => "listing_ways.meets_online",
        MeetingStyle::InPerson => "listing_ways.meets_in_person",
        MeetingStyle::Both => "listing_ways.meets_both",
    }
}

/// A language code named in itself, when we have a name; else the code.
pub fn language_name(code: &str) -> &str {
    LANGUAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, name)| name)
}

impl ListingForm {
    /// `languages` main first; `meeting_style` as sent (an unknown one chooses none).
    pub fn new(
        texts: &Texts,
        condition: &str,
        condition_label: &str,
        languages: &[String],
        region: &str,
        meeting_style: &str,
    ) -> ListingForm {
        let language = languages.first().map_or("", String::as_str);
        let others = languages.get(1..).unwrap_or_default();
        let mut also: Vec<LanguageChoice> = LANGUAGES
            .iter()
            .map(|(code, name)| LanguageChoice {
                code: (*code).to_owned(),
                name: (*name).to_owned(),
                chosen: others.iter().any(|o| o.as_str() == *code),
            })
            .collect();
        // A language set through the API that the form does not offer stays ticked.
        for code in others {
            if !also.iter().any(|a| &a.code == code) {
                also.push(LanguageChoice {
                    code: code.clone(),
                    name: code.clone(),
                    chosen: true,
                });
            }
        }
        let mut conditions: Vec<ConditionChoice> = CONDITIONS
            .iter()
            .map(|key| ConditionChoice {
                key: (*key).to_owned(),
                name: condition_name(texts, key).unwrap_or_else(|| (*key).to_owned()),
                chosen: *key == condition,
            })
            .collect();
        // A key set through the API that the form does not offer stays chosen.
        if !condition.is_empty() && !CONDITIONS.contains(&condition) {
            conditions.push(ConditionChoice {
                key: condition.to_owned(),
                name: condition.replace('-', " "),
                chosen: true,
            });
        }
        ListingForm {
            condition_label: condition_label.to_owned(),
            language: language.to_owned(),
            region: region.to_owned(),
            conditions,
            languages: LANGUAGES,
            also,
            styles: MeetingStyle::ALL
                .iter()
                .map(|s| {
                    (
                        s.as_str(),
                        meeting_style_key(*s),
                        s.as_str() == meeting_style,
                    )
                })
                .collect(),
        }
    }
}

/// A known condition's name in the reader's language.
fn condition_name(texts: &Texts, key: &str) -> Option<String> {
    if !CONDITIONS.contains(&key) {
        return None;
    }
    let text_key = format!("listing.c_{}", key.replace('-', "_"));
    Some(texts.get(&text_key).to_owned())
}

/// The label to store: what was typed, else the condition's name in the organiser's language
/// (rather than the key), else nothing.
pub fn label_or_name(texts: &Texts, condition: &str, typed: &str) -> String {
    let typed = typed.trim();
    if !typed.is_empty() || condition.is_empty() {
        return typed.to_owned();
    }
    condition_name(texts, condition).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The directory

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "directory.html")]
struct DirectoryPage {
    l: Layout,
    q: String,
    language: String,
    region: String,
    condition: String,
    meeting_style: String,
    /// (key, name in the reader's language) of the conditions the filter offers.
    conditions: Vec<(String, String)>,
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
            "/groups?q={}&language={}&region={}&condition={}&meeting_style={}&after={}",
            urlencode(&self.q),
            urlencode(&self.language),
            urlencode(&self.region),
            urlencode(&self.condition),
            urlencode(&self.meeting_style),
            urlencode(after)
        )
    }

    /// "In Español", or "Languages: Español, English" for a group that runs in several.
    fn languages_line(&self, e: &DirectoryEntry) -> String {
        let texts = self.l.texts;
        match e.languages.as_slice() {
            [] => String::new(),
            [one] => texts.fill("directory.in_language", &[("language", language_name(one))]),
            many => {
                let names: Vec<&str> = many.iter().map(|c| language_name(c)).collect();
                texts.fill(
                    "listing_ways.in_languages",
                    &[(
                        "languages",
                        &names.join(texts.get("listing_ways.list_comma")),
                    )],
                )
            }
        }
    }

    /// "Meets online and in person".
    fn meets_line(&self, e: &DirectoryEntry) -> &'static str {
        self.l.texts.get(meeting_style_key(e.meeting_style))
    }

    /// (value, text key) of the "how it meets" filter: online and in person each find the
    /// groups that meet both ways too.
    fn style_filters(&self) -> [(&'static str, &'static str); 3] {
        [
            ("online", "listing_ways.filter_online"),
            ("in_person", "listing_ways.filter_in_person"),
            ("both", "listing_ways.filter_both"),
        ]
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
        condition: q.condition.unwrap_or_default(),
        meeting_style: q.meeting_style.unwrap_or_default(),
        conditions: CONDITIONS
            .iter()
            .map(|k| {
                let name = condition_name(ctx.texts, k).unwrap_or_else(|| (*k).to_owned());
                ((*k).to_owned(), name)
            })
            .collect(),
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
    /// No `MUTUAL_PUBLIC_URL`: the addresses shown come from how this page was asked for.
    address_guessed: bool,
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

/// The site's address for links that leave the screen (printed, in a QR code):
/// `MUTUAL_PUBLIC_URL` when set; else the address this page was asked for, and `false` so the
/// page can say the setting is missing.
fn site_base(ctx: &Ctx, headers: &HeaderMap) -> (String, bool) {
    if let Some(url) = ctx.state.config.public_url.as_deref() {
        return (url.trim_end_matches('/').to_owned(), true);
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    (format!("{scheme}://{host}"), false)
}

/// A link's address in full: links come with the configured address, or a path to complete.
fn full_url(base: &str, url: &str) -> String {
    if url.starts_with('/') {
        format!("{base}{url}")
    } else {
        url.to_owned()
    }
}

async fn referrals_page(
    ctx: Ctx,
    headers: &HeaderMap,
    slug: &str,
    saved: bool,
    errors: Vec<String>,
    label: String,
) -> Result<Response, PageError> {
    let (slug, name) = community_name(&ctx, slug).await?;
    let user = ctx.require()?.user.clone();
    let (base, configured) = site_base(&ctx, headers);
    let mut links = crate::referrals::list(&ctx.state, &user, &slug).await?;
    for link in &mut links {
        link.url = full_url(&base, &link.url);
    }
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
        address_guessed: !configured,
        languages: LANGUAGES,
    };
    Ok(ctx.send_status(status, page))
}

pub async fn referrals(
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(q): Query<SavedParam>,
) -> Result<Response, PageError> {
    referrals_page(
        ctx,
        &headers,
        &slug,
        q.saved.is_some(),
        Vec::new(),
        String::new(),
    )
    .await
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
}

pub async fn create_referral(
    headers: HeaderMap,
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
            referrals_page(ctx, &headers, &slug, false, errors, form.label).await
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
    headers: HeaderMap,
    Path((slug, code)): Path<(String, String)>,
    Query(q): Query<LangParam>,
) -> Result<Response, PageError> {
    let (slug, name) = community_name(&ctx, &slug).await?;
    let user = ctx.require()?.user.clone();
    let mut link = crate::referrals::one(&ctx.state, &user, &slug, &code).await?;
    link.url = full_url(&site_base(&ctx, &headers).0, &link.url);
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
