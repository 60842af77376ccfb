//! A member's own pages and the public profile: `/u/{username}`, `/notifications` (which never
//! show what anyone wrote), and `/settings` (language, text size, content filters, presence;
//! for visitors, language and text size kept in cookies), and `/settings/consent` (consent to hold
//! health data: give it, see it, withdraw it).

use axum::extract::{Path, Query};
use axum::response::{Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::auth::LANGUAGES;
use super::format::{ZoneGroup, zone_groups};
use super::{Ctx, LANG_COOKIE, Layout, PageError, TEXT_COOKIE, WebForm};
use crate::accounts::consent::{self, ConsentState};
use crate::accounts::privacy::{self, ContentChoice, DeleteAccount};
use crate::accounts::types::Locale;
use crate::accounts::{self, Profile, TEXT_SIZES, UpdateMe};
use crate::error::AppError;
use crate::forum::types::ContentWarning;
use crate::notify::{self, Kind, Notification};
use crate::paging::PageParams;

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "profile.html")]
struct ProfilePage {
    l: Layout,
    profile: Profile,
    /// Their milestones the viewer may see, newest first.
    timeline: Vec<super::member::FeedEntry>,
    /// Whether the viewer follows them; none on one's own profile and for visitors.
    following: Option<bool>,
    /// Groups the viewer moderates and the member is in: warn, mute, ban from here.
    moderate: Vec<(String, String)>,
    durations: &'static [(i64, &'static str)],
    done: bool,
    /// Block and ignore (`_block_actions.html`).
    block: Option<super::blocks::BlockBox>,
}

pub async fn profile(
    ctx: Ctx,
    Path(username): Path<String>,
    Query(q): Query<super::moderation::Done>,
    Query(kept): Query<super::blocks::KeptNotice>,
) -> Result<Response, PageError> {
    let profile = accounts::profile(&ctx.state, &username).await?;
    let block = super::blocks::profile_box(&ctx, profile.user.id, &profile.user.username, &kept);
    let moderate = match &ctx.session {
        Some(s) => {
            super::moderation::moderated_groups(&ctx.state, &s.user, profile.user.id).await?
        }
        None => Vec::new(),
    };
    let page = PageParams {
        limit: Some(20),
        after: None,
    };
    let timeline =
        crate::milestones::timeline(&ctx.state, ctx.session.as_ref(), &username, &page).await?;
    let following = match &ctx.session {
        Some(s) if s.user.id != profile.user.id => Some(
            crate::milestones::follows::is_following(&ctx.state, s.user.id, profile.user.id)
                .await?,
        ),
        _ => None,
    };
    let mut l = ctx.layout(profile.user.display_name.clone()).await;
    // Being found by name in a search engine could out a member to their family.
    l.noindex = true;
    let timeline = super::member::entries(ctx.texts, timeline.items);
    Ok(ctx.send(ProfilePage {
        l,
        profile,
        timeline,
        following,
        moderate,
        durations: &super::moderation::DURATIONS,
        done: q.done.is_some(),
        block,
    }))
}

/// A notification in words: who did what, never what they wrote.
pub struct NotificationItem {
    pub n: Notification,
    pub text: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    l: Layout,
    items: Vec<NotificationItem>,
    newest: i64,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct After {
    after: Option<String>,
}

pub async fn notifications(ctx: Ctx, Query(q): Query<After>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let page = PageParams {
        limit: Some(50),
        after: q.after,
    };
    let list = notify::list(&ctx.state, &session.user, &page).await?;
    let someone = ctx.texts.get("notify.someone");
    let items: Vec<NotificationItem> = list
        .items
        .into_iter()
        .map(|n| {
            let key = match n.kind {
                Kind::Mention => "notify.mention",
                Kind::Quote => "notify.quote",
                Kind::Reply => "notify.reply",
                Kind::NewcomerUnanswered => "notify.newcomer_unanswered",
                Kind::CrisisReport => "notify.crisis_report",
                Kind::CaringMessage => "notify.caring_message",
                Kind::ReportResolved => "notify.report_resolved",
                Kind::AppealDecided => "notify.appeal_decided",
                Kind::ContentHidden => "notify.content_hidden",
                Kind::Sanction => "notify.sanction",
                Kind::Milestone => "notify.milestone",
                Kind::Anniversary => "notify.anniversary",
                Kind::CheckinDue => "notify.checkin_due",
                Kind::EventReminder => "notify.event_reminder",
                Kind::CircleAdded => "notify.circle_added",
                Kind::LeaderInactive => "notify.leader_inactive",
                Kind::EventCancelled => "notify.event_cancelled",
                Kind::NewReport => "notify.new_report",
                Kind::AppealRestored => "notify.appeal_restored",
                Kind::AppealUpheld => "notify.appeal_upheld",
            };
            let name = n
                .actor
                .as_ref()
                .map_or(someone, |a| a.display_name.as_str());
            NotificationItem {
                text: ctx.texts.fill(key, &[("name", name)]),
                n,
            }
        })
        .collect();
    let mut l = ctx.layout(ctx.texts.get("notify.title")).await;
    l.noindex = true;
    let page = NotificationsPage {
        l,
        newest: items.first().map_or(0, |i| i.n.id),
        items,
        next: list.next,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct MarkReadForm {
    #[serde(default)]
    up_to: i64,
}

pub async fn mark_read(
    WebForm { ctx, form }: WebForm<MarkReadForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    notify::mark_read(&ctx.state, &session.user, form.up_to).await?;
    Ok(ctx.send(Redirect::to("/notifications")))
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "settings.html")]
pub(super) struct SettingsPage {
    l: Layout,
    saved: bool,
    member: bool,
    languages: Vec<Choice>,
    sizes: Vec<Choice>,
    filters: Vec<Choice>,
    hide_presence: bool,
    /// Who may start a conversation with the member (`conversations.who_*`).
    who_can_message: Vec<Choice>,
    zones: Vec<ZoneGroup>,
    /// The country whose crisis lines come first; the first choice follows the language.
    countries: Vec<Choice>,
    bio: String,
    /// The personal details the bio seems to hold, in words, when the member must confirm.
    bio_identifiers: Option<String>,
    /// E-mail alerts and the password change (`_settings_email.html`); members only.
    email: Option<super::delivery::EmailSection>,
    /// The members blocked or ignored (`_settings_blocks.html`).
    kept_away: Vec<crate::blocks::Blocked>,
}

/// The countries with crisis lines, in the reader's language; `""` follows the language.
pub(super) fn country_choices(ctx: &Ctx, chosen: Option<&str>) -> Vec<Choice> {
    let locale = ctx.texts.locale;
    let usual = crate::moderation::crisis::default_country(locale);
    let names = crate::moderation::crisis::countries(locale);
    let usual_name = names
        .iter()
        .find(|(c, _)| c == usual)
        .map_or(usual, |(_, n)| n.as_str());
    let mut out = vec![Choice {
        value: String::new(),
        label: ctx
            .texts
            .fill("crisis_web.country_auto", &[("country", usual_name)]),
        checked: chosen.is_none(),
    }];
    out.extend(names.iter().map(|(code, name)| Choice {
        value: code.clone(),
        label: name.clone(),
        checked: chosen == Some(code.as_str()),
    }));
    out
}

#[derive(Deserialize)]
pub struct SavedParam {
    saved: Option<String>,
    /// What the e-mail or password forms just did (`super::delivery::Done`).
    done: Option<String>,
}

pub async fn settings(ctx: Ctx, Query(q): Query<SavedParam>) -> Result<Response, PageError> {
    let email = super::delivery::section(&ctx, q.done.as_deref(), None, None).await?;
    let page = settings_page(&ctx, q.saved.is_some(), None, email).await?;
    Ok(ctx.send(page))
}

/// The settings page; `bio_refused` is a bio sent back for confirmation: its words and the
/// details it seems to hold; `email` the e-mail and password section as it should show.
pub(super) async fn settings_page(
    ctx: &Ctx,
    saved: bool,
    bio_refused: Option<(String, String)>,
    email: Option<super::delivery::EmailSection>,
) -> Result<SettingsPage, PageError> {
    let me = match &ctx.session {
        Some(s) => Some(accounts::load_me(&ctx.state, s).await?),
        None => None,
    };
    let lang = ctx.texts.locale.as_str();
    let filters = me
        .as_ref()
        .map(|m| m.content_filters.clone())
        .unwrap_or_default();
    let mut l = ctx.layout(ctx.texts.get("settings.title")).await;
    l.noindex = true;
    let countries = country_choices(
        ctx,
        me.as_ref()
            .filter(|m| m.country_chosen)
            .map(|m| m.country.as_str()),
    );
    let (bio, bio_identifiers) = match bio_refused {
        Some((bio, kinds)) => (bio, Some(kinds)),
        None => (me.as_ref().map(|m| m.bio.clone()).unwrap_or_default(), None),
    };
    Ok(SettingsPage {
        saved,
        member: me.is_some(),
        countries,
        bio,
        bio_identifiers,
        languages: LANGUAGES
            .iter()
            .map(|(code, name)| Choice {
                value: (*code).to_owned(),
                label: (*name).to_owned(),
                checked: *code == lang,
            })
            .collect(),
        sizes: TEXT_SIZES
            .iter()
            .map(|s| Choice {
                value: s.to_string(),
                label: format!("{s} %"),
                checked: *s == ctx.text_size,
            })
            .collect(),
        filters: ContentWarning::ALL
            .iter()
            .map(|w| Choice {
                value: w.as_str().to_owned(),
                label: ctx.texts.get(&format!("cw.{}", w.as_str())).to_owned(),
                checked: filters.iter().any(|f| f == w.as_str()),
            })
            .collect(),
        hide_presence: me.as_ref().is_some_and(|m| m.hide_presence),
        who_can_message: ["groups", "circles", "nobody"]
            .iter()
            .map(|w| Choice {
                value: (*w).to_owned(),
                label: ctx.texts.get(&format!("conversations.who_{w}")).to_owned(),
                checked: me
                    .as_ref()
                    .map_or(*w == "groups", |m| m.who_can_message.as_str() == *w),
            })
            .collect(),
        zones: zone_groups(
            ctx.texts,
            me.as_ref().map_or("UTC", |m| m.timezone.as_str()),
        ),
        email,
        kept_away: super::blocks::settings_list(ctx).await?,
        l,
    })
}

/// The settings form, as name–value pairs: checkboxes repeat the `filters` name.
pub async fn save_settings(
    jar: CookieJar,
    WebForm { ctx, form }: WebForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let locale = value("locale").and_then(|v| Locale::parse(&v).ok());
    let text_size = value("text_size")
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|s| TEXT_SIZES.contains(s));
    let Some(session) = &ctx.session else {
        let mut jar = jar;
        if let Some(locale) = locale {
            jar = jar.add(ctx.setting_cookie(LANG_COOKIE, locale.as_str().to_owned()));
        }
        if let Some(size) = text_size {
            jar = jar.add(ctx.setting_cookie(TEXT_COOKIE, size.to_string()));
        }
        return Ok(ctx.send((jar, Redirect::to("/settings?saved=1"))));
    };
    let changes = UpdateMe {
        display_name: None,
        bio: value("bio"),
        email: None,
        locale: locale.map(|l| l.as_str().to_owned()),
        country: value("country"),
        confirm_identifiers: value("confirm_identifiers").is_some(),
        password: None,
        content_filters: Some(
            form.iter()
                .filter(|(k, _)| k == "filters")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        hide_presence: Some(value("hide_presence").is_some()),
        who_can_message: value("who_can_message"),
        text_size,
        timezone: value("timezone"),
    };
    match accounts::update_me(&ctx.state, session, &changes).await {
        Ok(_) => Ok(ctx.send(Redirect::to("/settings?saved=1"))),
        Err(e) => {
            // A bio that seems to hold personal details: the page again, the words kept, and
            // the question. Nothing was saved.
            if !matches!(&e, AppError::Invalid { fields, .. } if fields.contains("identifiers")) {
                return Err(e.into());
            }
            let mut draft = super::forum::Draft::default();
            let status = super::forum::refused(&ctx, e, &mut draft)?;
            let kinds = draft.identifiers.unwrap_or_default();
            let bio = changes.bio.unwrap_or_default();
            let email = super::delivery::section(&ctx, None, None, None).await?;
            let page = settings_page(&ctx, false, Some((bio, kinds)), email).await?;
            Ok(ctx.send_status(status, page))
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "delete_account.html")]
struct DeletePage {
    l: Layout,
    error: Option<String>,
    remove: bool,
}

/// `/settings/delete`: what deleting means, the two choices, and the password to confirm.
pub async fn delete_page(ctx: Ctx) -> Result<Response, PageError> {
    ctx.require()?;
    let mut l = ctx.layout(ctx.texts.get("account.delete_title")).await;
    l.noindex = true;
    let page = DeletePage {
        l,
        error: None,
        remove: true,
    };
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    content: String,
}

pub async fn delete_account(
    jar: CookieJar,
    WebForm { ctx, form }: WebForm<DeleteForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?.clone();
    let content = if form.content == "anonymise" {
        ContentChoice::Anonymise
    } else {
        ContentChoice::Remove
    };
    let request = DeleteAccount {
        password: form.password,
        content,
    };
    match privacy::erase(&ctx.state, &session, &request).await {
        Ok(()) => {
            let jar = jar.add(crate::accounts::session::removal_cookie(&ctx.state));
            Ok(ctx.send((jar, Redirect::to("/?deleted=1"))))
        }
        Err(AppError::Invalid { .. }) => {
            let mut l = ctx.layout(ctx.texts.get("account.delete_title")).await;
            l.noindex = true;
            let page = DeletePage {
                error: Some(ctx.texts.get("account.wrong_password").to_owned()),
                remove: content == ContentChoice::Remove,
                l,
            };
            Ok(ctx.send_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Consent to hold health data: `/settings/consent` (the notice, the choice, its history) and
// `/settings/consent/withdraw` (what withdrawing does, then doing it). The same page answers
// (403) any page whose action needs consent, so the member can give it there and come back.

/// The current notice, ready for a page (and the sign-up forms).
pub struct ConsentNotice {
    pub version: &'static str,
    pub lang: &'static str,
    pub paragraphs: Vec<&'static str>,
}

impl ConsentNotice {
    pub fn new(locale: Locale) -> ConsentNotice {
        let n = consent::current_notice(locale);
        ConsentNotice {
            version: n.version,
            lang: n.locale.as_str(),
            paragraphs: n.paragraphs(),
        }
    }
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "consent.html")]
pub(super) struct ConsentPage {
    l: Layout,
    notice: ConsentNotice,
    /// Where the member was refused, when they came from there.
    needed: bool,
    /// What the member's consent is now, in words.
    status: String,
    /// In force and to the current text: offer withdrawal instead of the form.
    up_to_date: bool,
    /// Given at some point and not withdrawn (an older text included).
    in_force: bool,
    done: Option<String>,
    error: Option<String>,
    next: String,
    /// (when and to what, withdrawn when)
    history: Vec<(String, Option<String>)>,
}

/// The consent page for the signed-in member.
pub(super) async fn consent_page(
    ctx: &Ctx,
    next: String,
    needed: bool,
    done: Option<String>,
    error: Option<String>,
) -> Result<ConsentPage, PageError> {
    let session = ctx.require()?;
    let mine = consent::mine(&ctx.state, session.user.id).await?;
    let t = ctx.texts;
    let hd = &mine.health_data;
    let status = match hd.state {
        ConsentState::Given if hd.up_to_date => t.fill(
            "consent.state_given",
            &[("date", &t.date(hd.granted_at.unwrap_or_default()))],
        ),
        ConsentState::Given => t.get("consent.state_old").to_owned(),
        ConsentState::Withdrawn => t.fill(
            "consent.state_withdrawn",
            &[(
                "date",
                &t.date(
                    mine.history
                        .first()
                        .and_then(|h| h.record.withdrawn_at)
                        .unwrap_or_default(),
                ),
            )],
        ),
        ConsentState::NotGiven => t.get("consent.state_not_given").to_owned(),
    };
    let history = mine
        .history
        .iter()
        .map(|h| {
            let language = LANGUAGES
                .iter()
                .find(|(code, _)| *code == h.record.locale)
                .map_or(h.record.locale.as_str(), |(_, name)| name);
            (
                t.fill(
                    "consent.history_given",
                    &[
                        ("date", &t.date(h.record.granted_at)),
                        ("version", &h.record.version),
                        ("language", language),
                    ],
                ),
                h.record
                    .withdrawn_at
                    .map(|at| t.fill("consent.history_withdrawn", &[("date", &t.date(at))])),
            )
        })
        .collect();
    let mut l = ctx.layout(t.get("consent.title")).await;
    l.noindex = true;
    Ok(ConsentPage {
        l,
        notice: ConsentNotice::new(t.locale),
        needed,
        status,
        up_to_date: hd.up_to_date,
        in_force: hd.state == ConsentState::Given,
        done,
        error,
        next,
        history,
    })
}

#[derive(Deserialize)]
pub struct ConsentParams {
    next: Option<String>,
    done: Option<String>,
    /// Sent here by an action that needs consent.
    needed: Option<String>,
}

pub async fn consent_settings(
    ctx: Ctx,
    Query(q): Query<ConsentParams>,
) -> Result<Response, PageError> {
    let done = match q.done.as_deref() {
        Some("saved") => Some(ctx.texts.get("consent.saved").to_owned()),
        Some("withdrawn") => Some(ctx.texts.get("consent.withdrawn").to_owned()),
        _ => None,
    };
    let next = super::safe_next(q.next.as_deref().or(Some("/settings")));
    let page = consent_page(&ctx, next, q.needed.is_some(), done, None).await?;
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct ConsentForm {
    /// The checkbox: present only when ticked.
    agree: Option<String>,
    /// The version of the text the page showed.
    #[serde(default)]
    version: String,
    /// The language the page showed it in.
    #[serde(default)]
    locale: String,
    next: Option<String>,
}

pub async fn give_consent(
    WebForm { ctx, form }: WebForm<ConsentForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let next = super::safe_next(form.next.as_deref().or(Some("/settings")));
    let refuse = |key: &str| Some(ctx.texts.get(key).to_owned());
    let error = if form.agree.is_none() {
        refuse("consent.err_tick")
    } else {
        let grant = consent::ConsentGrant {
            version: form.version.clone(),
            locale: Some(form.locale.clone()).filter(|l| !l.is_empty()),
        };
        match consent::give(
            &ctx.state,
            session.user.id,
            ctx.texts.locale,
            &grant,
            consent::Source::Web,
        )
        .await
        {
            Ok(_) => {
                // Back where they were refused, if that was a page to come back to (a group
                // joined while signed out is joined now).
                let to = if next == "/settings" {
                    "/settings/consent?done=saved".to_owned()
                } else {
                    super::forum::after_sign_in(&ctx, &session.user, next).await
                };
                return Ok(ctx.send(Redirect::to(&to)));
            }
            Err(AppError::Conflict { .. } | AppError::Invalid { .. }) => {
                refuse("consent.err_outdated")
            }
            Err(e) => return Err(e.into()),
        }
    };
    let page = consent_page(&ctx, next, false, None, error).await?;
    Ok(ctx.send_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, page))
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "consent_withdraw.html")]
struct WithdrawPage {
    l: Layout,
    p: consent::Preview,
}

pub async fn withdraw_page(ctx: Ctx) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let p = consent::preview(&ctx.state, session.user.id).await?;
    let mut l = ctx.layout(ctx.texts.get("consent.withdraw_title")).await;
    l.noindex = true;
    Ok(ctx.send(WithdrawPage { l, p }))
}

pub async fn withdraw_consent(
    WebForm { ctx, form: _ }: WebForm<super::auth::Empty>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    match consent::withdraw(&ctx.state, session.user.id).await {
        // Nothing in force (a second tap): the page says how things stand.
        Ok(_) | Err(AppError::NotFound) => {
            Ok(ctx.send(Redirect::to("/settings/consent?done=withdrawn")))
        }
        Err(e) => Err(e.into()),
    }
}
