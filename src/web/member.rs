//! The member's milestone and goal pages: sharing a milestone (`/c/{slug}/milestones/new`), a
//! community's milestone feed (`/c/{slug}/milestones`), following a member
//! (`/u/{username}/follow`) and the goals page (`/goals`: set a goal, the confidence advice,
//! check-ins, and "I reached it" as a milestone). Every form works without JavaScript; the
//! logic lives in the milestones' and goals' service functions.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use serde::Deserialize;

use super::format::day;
use super::forum::{Draft, GroupItem, WarningChoice, refused, warning_choices};
use super::{Ctx, Layout, PageError, WebForm, urlencode};
use crate::accounts::Session;
use crate::communities;
use crate::communities::types::Visibility;
use crate::error::{AppError, FieldErrors};
use crate::forum::{self, NewTopic};
use crate::goals::{self, Checkin, Goal, GoalMilestone, GoalStatus, NewCheckin, NewGoal};
use crate::i18n::Texts;
use crate::milestones::{self, FeedFilter, FeedItem, Milestone, NewMilestone, Show};
use crate::paging::PageParams;

/// The milestone types every community starts with, by key and English label: these get our
/// words in the reader's language while the organisers keep the label we gave them.
const DEFAULT_TYPES: [(&str, &str); 4] = [
    ("weight_lost", "Weight lost"),
    ("a1c", "A1c"),
    ("time_since_surgery", "Time since surgery"),
    ("non_scale_victory", "Non-scale victory"),
];

/// A milestone type's label in the reader's language when it is one of ours, else as the
/// organisers wrote it.
pub fn type_label(texts: &Texts, key: &str, label: &str) -> String {
    if DEFAULT_TYPES
        .iter()
        .any(|(k, en)| *k == key && *en == label)
    {
        texts.get(&format!("milestones.type_{key}")).to_owned()
    } else {
        label.to_owned()
    }
}

/// A milestone as a celebration banner shows it: only what the reader may see.
pub struct MilestoneView {
    pub label: String,
    /// "25 lb", "12%"; none when the number is private.
    pub display: Option<String>,
    pub day: String,
    /// An "only me" milestone (shown to its author alone).
    pub only_me: bool,
    /// The author's own number that others do not see, for the author.
    pub own_number: Option<String>,
    pub celebrations: i64,
}

impl MilestoneView {
    pub fn new(texts: &Texts, m: &Milestone) -> MilestoneView {
        let own_number = match (m.mine, m.show, m.value) {
            (true, Show::None | Show::Percent, Some(v)) => Some(match m.unit.as_deref() {
                Some("%") => format!("{v}%"),
                Some(u) => format!("{v} {u}"),
                None => format!("{v}"),
            }),
            _ => None,
        };
        MilestoneView {
            label: type_label(texts, &m.kind, &m.label),
            display: m.display.clone(),
            day: day(texts, &m.achieved_on),
            only_me: m.visibility == milestones::Visibility::Private,
            own_number,
            celebrations: m.celebrations,
        }
    }
}

/// A milestone in a feed or a timeline.
pub struct FeedEntry {
    pub f: FeedItem,
    /// Always there; an option so templates can borrow it with `if let`.
    pub mv: Option<MilestoneView>,
}

pub fn entries(texts: &Texts, items: Vec<FeedItem>) -> Vec<FeedEntry> {
    items
        .into_iter()
        .map(|f| FeedEntry {
            mv: Some(MilestoneView::new(texts, &f.milestone)),
            f,
        })
        .collect()
}

/// A milestone type in a select or a filter.
pub struct TypeChoice {
    pub key: String,
    pub label: String,
    pub unit: String,
    pub selected: bool,
}

async fn type_choices(ctx: &Ctx, slug: &str, selected: &str) -> Result<Vec<TypeChoice>, AppError> {
    let types = milestones::types::list_types(&ctx.state, ctx.user(), slug).await?;
    Ok(types
        .into_iter()
        .map(|t| TypeChoice {
            label: type_label(ctx.texts, &t.key, &t.label),
            selected: t.key == selected,
            // A weight in the reader's unit (kg, lb in the United States).
            unit: match t.unit {
                Some(u) if milestones::types::is_weight_unit(&u) => ctx.weight_unit().to_owned(),
                other => other.unwrap_or_default(),
            },
            key: t.key,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// The feed.

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "milestones.html")]
struct FeedPage {
    l: Layout,
    g: GroupItem,
    /// The viewer may read the feed (else: the members-only stub).
    readable: bool,
    items: Vec<FeedEntry>,
    types: Vec<TypeChoice>,
    kind: String,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct FeedQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<String>,
}

pub async fn feed(
    ctx: Ctx,
    Path(slug): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Result<Response, PageError> {
    let c = communities::get_community(&ctx.state, ctx.user(), &slug).await?;
    let kind = q.kind.clone().unwrap_or_default();
    let filter = FeedFilter {
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
    };
    let page = PageParams {
        limit: Some(20),
        after: q.after.clone(),
    };
    let (readable, items, next) =
        match milestones::feed(&ctx.state, ctx.session.as_ref(), &slug, &filter, &page).await {
            Ok(list) => (true, list.items, list.next),
            Err(AppError::Forbidden(_)) => (false, Vec::new(), None),
            Err(e) => return Err(e.into()),
        };
    let types = if readable {
        type_choices(&ctx, &slug, &kind).await?
    } else {
        Vec::new()
    };
    let mut l = ctx
        .layout(
            ctx.texts
                .fill("milestones.feed_title", &[("name", &c.name)]),
        )
        .await;
    l.noindex |= c.visibility != Visibility::Public;
    let page = FeedPage {
        items: entries(ctx.texts, items),
        g: GroupItem::new(c),
        readable,
        types,
        next: next.map(|n| urlencode(&n)),
        kind: urlencode(&kind),
        l,
    };
    Ok(ctx.send(page))
}

// ---------------------------------------------------------------------------------------------
// Sharing a milestone.

/// What the member typed in the milestone part of the form, kept when it comes back.
pub struct MilestoneDraft {
    pub value: String,
    pub unit: String,
    pub show: String,
    pub baseline: String,
    pub visibility: String,
    pub achieved_on: String,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "new_milestone.html")]
struct NewMilestonePage {
    l: Layout,
    g: GroupItem,
    draft: Draft,
    warnings: Vec<WarningChoice>,
    m: MilestoneDraft,
    types: Vec<TypeChoice>,
    /// Today in the member's time zone: the latest day the date field takes.
    today: String,
}

/// Today in the member's own calendar, `YYYY-MM-DD`.
async fn today(ctx: &Ctx, session: &Session) -> Result<String, AppError> {
    let me = crate::accounts::load_me(&ctx.state, session).await?;
    let zone = crate::clock::Zone::from_stored(&me.timezone);
    Ok(zone
        .date_at(crate::store::now_ms())
        .format("%Y-%m-%d")
        .to_string())
}

async fn new_milestone_form(
    ctx: &Ctx,
    slug: &str,
    kind: &str,
    mut draft: Draft,
    m: MilestoneDraft,
) -> Result<NewMilestonePage, PageError> {
    let session = ctx.require()?;
    draft.key = Some(crate::drafts::Key::Community(slug.to_owned()).to_string());
    let c = communities::get_community(&ctx.state, ctx.user(), slug).await?;
    let g = GroupItem::new(c);
    if !g.member {
        return Err(AppError::forbidden("join this community to share a milestone").into());
    }
    let today = today(ctx, session).await?;
    let m = MilestoneDraft {
        achieved_on: if m.achieved_on.is_empty() {
            today.clone()
        } else {
            m.achieved_on
        },
        ..m
    };
    let mut l = ctx.layout(ctx.texts.get("milestones.share_title")).await;
    l.noindex = true;
    Ok(NewMilestonePage {
        l,
        types: type_choices(ctx, slug, kind).await?,
        warnings: warning_choices(&draft.warning),
        g,
        draft,
        m,
        today,
    })
}

pub async fn new_milestone_page(ctx: Ctx, Path(slug): Path<String>) -> Result<Response, PageError> {
    let m = MilestoneDraft {
        value: String::new(),
        unit: String::new(),
        show: "none".into(),
        baseline: String::new(),
        visibility: "community".into(),
        achieved_on: String::new(),
    };
    // drafts (#22): what the member was writing (say, before the consent page), restored.
    let (title, body) = match ctx.user() {
        Some(user) => crate::drafts::topic_of(&ctx.state, user.id, &slug).await,
        None => (String::new(), String::new()),
    };
    let draft = Draft {
        title,
        body,
        ..Draft::default()
    };
    let page = new_milestone_form(&ctx, &slug, "", draft, m).await?;
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct MilestoneForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    content_warning: String,
    anonymous: Option<String>,
    confirm_identifiers: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    show: String,
    #[serde(default)]
    baseline: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    achieved_on: String,
    #[serde(default)]
    media_id: String,
    #[serde(default)]
    alt: String,
    #[serde(default)]
    media_error: String,
}

/// A number as a member types it ("25", "6,8" in Spanish); `Err` for anything else.
fn number(raw: &str) -> Result<Option<f64>, ()> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or(())
}

pub async fn new_milestone(
    Path(slug): Path<String>,
    WebForm { ctx, form }: WebForm<MilestoneForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let value = number(&form.value);
    let baseline = number(&form.baseline);
    let show = Some(form.show.clone()).filter(|s| !s.is_empty());
    let mut draft = Draft {
        title: form.title.clone(),
        body: form.body.clone(),
        warning: form.content_warning.clone(),
        anonymous: form.anonymous.is_some(),
        media_id: form.media_id.trim().parse().ok(),
        alt: form.alt.clone(),
        ..Draft::default()
    };
    let attachments =
        super::forum::form_attachments(&ctx, &form.media_id, &form.alt, &form.media_error);
    // A number without a unit: the type's as this member reads it (kg, lb in the United States
    // even when the member gave no country, from the browser's region).
    let unit = match form.unit.trim() {
        "" if value.as_ref().is_ok_and(Option::is_some) => type_choices(&ctx, &slug, &form.kind)
            .await
            .ok()
            .and_then(|types| types.into_iter().find(|t| t.selected))
            .map(|t| t.unit)
            .filter(|u| !u.is_empty()),
        "" => None,
        given => Some(given.to_owned()),
    };
    let status = match (value, baseline) {
        (Ok(value), Ok(baseline)) => {
            let request = NewTopic {
                title: form.title.clone(),
                body: form.body.clone(),
                kind: Some("milestone".into()),
                milestone: Some(NewMilestone {
                    kind: form.kind.clone(),
                    value,
                    unit,
                    visibility: Some(form.visibility.clone()).filter(|v| !v.is_empty()),
                    baseline: baseline.filter(|_| show.as_deref() == Some("percent")),
                    show,
                    achieved_on: Some(form.achieved_on.clone()).filter(|d| !d.is_empty()),
                }),
                content_warning: Some(form.content_warning.clone()).filter(|w| !w.is_empty()),
                anonymous: Some(form.anonymous.is_some()),
                confirm_identifiers: Some(form.confirm_identifiers.is_some()),
                attachments: attachments.as_ref().cloned().unwrap_or_default(),
            };
            let created = match attachments {
                Ok(_) => forum::create_topic(&ctx.state, session, &slug, &request).await,
                Err(e) => Err(e),
            };
            crate::drafts::after_topic_form(
                &ctx.state,
                session.user.id,
                &crate::drafts::Key::Community(slug.clone()),
                &form.title,
                &form.body,
                created.as_ref().err(),
            )
            .await;
            match created {
                Ok(created) => {
                    let to = super::forum::landing(
                        format!("/t/{}", created.topic.id),
                        created.crisis_resources.is_some(),
                        None,
                    );
                    return Ok(ctx.send(Redirect::to(&to)));
                }
                Err(e) => refused(&ctx, e, &mut draft)?,
            }
        }
        (value, baseline) => {
            if value.is_err() {
                draft
                    .errors
                    .push(ctx.texts.get("milestones.err_value").to_owned());
            }
            if baseline.is_err() {
                draft
                    .errors
                    .push(ctx.texts.get("milestones.err_baseline").to_owned());
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let m = MilestoneDraft {
        value: form.value,
        unit: form.unit,
        show: if form.show.is_empty() {
            "none".into()
        } else {
            form.show
        },
        baseline: form.baseline,
        visibility: if form.visibility.is_empty() {
            "community".into()
        } else {
            form.visibility
        },
        achieved_on: form.achieved_on,
    };
    let page = new_milestone_form(&ctx, &slug, &form.kind, draft, m).await?;
    Ok(ctx.send_status(status, page))
}

// ---------------------------------------------------------------------------------------------
// Following.

#[derive(Deserialize)]
pub struct FollowForm {
    /// "1" follows, anything else stops following.
    #[serde(default)]
    on: String,
}

pub async fn follow(
    Path(username): Path<String>,
    WebForm { ctx, form }: WebForm<FollowForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    milestones::follows::set_follow(&ctx.state, session, &username, form.on == "1").await?;
    Ok(ctx.send(Redirect::to(&format!("/u/{}", urlencode(&username)))))
}

// ---------------------------------------------------------------------------------------------
// Goals.

/// A group of mine, for the share and milestone selects.
pub struct GroupChoice {
    pub slug: String,
    pub name: String,
}

pub struct CheckinItem {
    pub c: Checkin,
    pub period: String,
    pub status_key: String,
}

pub struct GoalItem {
    pub g: Goal,
    pub cadence_text: String,
    /// This period's status, in words.
    pub period_text: String,
    /// This period already has a check-in: a new one replaces it.
    pub checked_in: bool,
    pub checkins: Vec<CheckinItem>,
    pub active: bool,
    pub checkin_errors: Vec<String>,
    pub reach_errors: Vec<String>,
}

/// What the member typed in the goal form, kept when it comes back.
pub struct GoalDraft {
    pub title: String,
    pub details: String,
    pub cadence: String,
    pub times: String,
    pub confidence: String,
    pub share_with: String,
    pub remind_at: String,
}

impl Default for GoalDraft {
    fn default() -> Self {
        GoalDraft {
            title: String::new(),
            details: String::new(),
            cadence: "weekly".into(),
            times: "1".into(),
            confidence: String::new(),
            share_with: String::new(),
            remind_at: "19:00".into(),
        }
    }
}

/// A form error on one goal's check-in or milestone form.
enum Problem {
    None,
    Checkin(i64, Vec<String>),
    Reach(i64, Vec<String>),
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "goals.html")]
struct GoalsPage {
    l: Layout,
    goals: Vec<GoalItem>,
    groups: Vec<GroupChoice>,
    types: Vec<TypeChoice>,
    form: GoalDraft,
    /// The confidence was under 7: the friendly advice, with "Keep this goal".
    advice: bool,
    errors: Vec<String>,
    notice: Option<String>,
}

impl GoalsPage {
    fn confidence_choices(&self) -> Vec<String> {
        (0..=10).map(|n| n.to_string()).collect()
    }
}

fn cadence_text(texts: &Texts, g: &Goal) -> String {
    let n = g.times_per_period.to_string();
    let key = match (g.cadence, g.times_per_period) {
        (goals::Cadence::Daily, _) => "goals.every_day",
        (goals::Cadence::Weekly, 1) => "goals.once_a_week",
        (goals::Cadence::Weekly, _) => "goals.times_a_week",
        (goals::Cadence::Monthly, 1) => "goals.once_a_month",
        (goals::Cadence::Monthly, _) => "goals.times_a_month",
    };
    texts.fill(key, &[("n", &n)])
}

pub(super) async fn my_groups(ctx: &Ctx) -> Result<Vec<GroupChoice>, AppError> {
    let mut groups = Vec::new();
    let mut page = PageParams {
        limit: Some(100),
        after: None,
    };
    loop {
        let batch = communities::list_communities(&ctx.state, ctx.user(), &page).await?;
        groups.extend(
            batch
                .items
                .into_iter()
                .map(GroupItem::new)
                .filter(|g| g.member)
                .map(|g| GroupChoice {
                    slug: g.c.slug,
                    name: g.c.name,
                }),
        );
        match batch.next {
            Some(next) if groups.len() < 500 => page.after = Some(next),
            _ => return Ok(groups),
        }
    }
}

async fn goals_page(
    ctx: &Ctx,
    form: GoalDraft,
    advice: bool,
    errors: Vec<String>,
    problem: Problem,
    notice: Option<String>,
) -> Result<GoalsPage, PageError> {
    let session = ctx.require()?;
    let texts = ctx.texts;
    let mine = goals::my_goals(&ctx.state, &session.user).await?;
    let mut items = Vec::with_capacity(mine.len());
    for g in mine {
        let checkins = goals::list_checkins(&ctx.state, &session.user, g.id, 5)
            .await?
            .into_iter()
            .map(|c| CheckinItem {
                period: day(texts, &c.period_start),
                status_key: format!("goals.status_{}", c.status.as_str()),
                c,
            })
            .collect();
        let active = g.status == GoalStatus::Active;
        let period_text = match (g.status, g.period.checkin) {
            (GoalStatus::Active, Some(c)) => texts.fill(
                "goals.period_checked",
                &[("status", texts.get(&format!("goals.status_{}", c.as_str())))],
            ),
            (GoalStatus::Active, None) => texts.fill(
                "goals.period_due",
                &[("date", &day(texts, &g.period.last_day))],
            ),
            (status, _) => texts
                .get(&format!("goals.goal_{}", status.as_str()))
                .to_owned(),
        };
        let (checkin_errors, reach_errors) = match &problem {
            Problem::Checkin(id, e) if *id == g.id => (e.clone(), Vec::new()),
            Problem::Reach(id, e) if *id == g.id => (Vec::new(), e.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        items.push(GoalItem {
            cadence_text: cadence_text(texts, &g),
            period_text,
            checked_in: g.period.checkin.is_some(),
            checkins,
            active,
            checkin_errors,
            reach_errors,
            g,
        });
    }
    let groups = my_groups(ctx).await?;
    // "I reached it" offers the types of all my groups; a type the chosen group lacks comes
    // back as a plain error.
    let mut types: Vec<TypeChoice> = Vec::new();
    for group in groups.iter().take(20) {
        for t in type_choices(ctx, &group.slug, "non_scale_victory").await? {
            if !types.iter().any(|k| k.key == t.key) {
                types.push(t);
            }
        }
    }
    let mut l = ctx.layout(texts.get("goals.title")).await;
    l.noindex = true;
    Ok(GoalsPage {
        l,
        goals: items,
        groups,
        types,
        form,
        advice,
        errors,
        notice,
    })
}

#[derive(Deserialize, Default)]
pub struct GoalsQuery {
    created: Option<i64>,
    checked: Option<i64>,
    replaced: Option<String>,
}

pub async fn goals(ctx: Ctx, Query(q): Query<GoalsQuery>) -> Result<Response, PageError> {
    let notice = if q.created.is_some() {
        Some(ctx.texts.get("goals.created").to_owned())
    } else if q.checked.is_some() {
        Some(
            ctx.texts
                .get(if q.replaced.is_some() {
                    "goals.checkin_replaced"
                } else {
                    "goals.checkin_saved"
                })
                .to_owned(),
        )
    } else {
        None
    };
    let page = goals_page(
        &ctx,
        GoalDraft::default(),
        false,
        Vec::new(),
        Problem::None,
        notice,
    )
    .await?;
    Ok(ctx.send(page))
}

#[derive(Deserialize)]
pub struct GoalForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    cadence: String,
    #[serde(default)]
    times_per_period: String,
    #[serde(default)]
    confidence: String,
    #[serde(default)]
    share_with: String,
    #[serde(default)]
    remind_at: String,
    confirm_confidence: Option<String>,
}

/// Our words for the fields a goal form was refused for.
fn goal_errors(texts: &Texts, fields: &FieldErrors, skip: &str) -> Vec<String> {
    fields
        .names()
        .filter(|f| *f != skip)
        .map(|f| match f {
            "title" | "details" | "cadence" | "times_per_period" | "confidence" | "share_with"
            | "remind_at" | "status" | "note" | "community" | "identifiers" => {
                texts.get(&format!("goals.err_{f}")).to_owned()
            }
            "milestone.type" => texts.get("milestones.err_type").to_owned(),
            _ => texts.get("errors.generic").to_owned(),
        })
        .collect()
}

pub async fn create_goal(WebForm { ctx, form }: WebForm<GoalForm>) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let confidence = form.confidence.trim().parse::<i64>().ok();
    let request = NewGoal {
        title: form.title.clone(),
        details: Some(form.details.clone()),
        cadence: form.cadence.clone(),
        times_per_period: form.times_per_period.trim().parse::<i64>().ok(),
        confidence,
        confirm_confidence: Some(form.confirm_confidence.is_some()),
        share_with: Some(form.share_with.clone()).filter(|s| !s.is_empty()),
        share_with_circle: None,
        ends_on: None,
        remind_at: Some(form.remind_at.trim().to_owned()),
    };
    let error = match goals::create_goal(&ctx.state, &session.user, &request).await {
        Ok(goal) => {
            let to = format!("/goals?created={0}#goal-{0}", goal.id);
            return Ok(ctx.send(Redirect::to(&to)));
        }
        Err(e) => e,
    };
    let AppError::Invalid { fields, .. } = &error else {
        return Err(error.into());
    };
    let low = confidence.is_some_and(|c| (0..7).contains(&c));
    let advice = low && fields.contains("confidence");
    let errors = goal_errors(ctx.texts, fields, if advice { "confidence" } else { "" });
    let draft = GoalDraft {
        title: form.title,
        details: form.details,
        cadence: form.cadence,
        times: form.times_per_period,
        confidence: form.confidence,
        share_with: form.share_with,
        remind_at: form.remind_at,
    };
    let page = goals_page(&ctx, draft, advice, errors, Problem::None, None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}

#[derive(Deserialize)]
pub struct CheckinForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
}

pub async fn check_in(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<CheckinForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let request = NewCheckin {
        status: form.status,
        note: Some(form.note),
    };
    let error = match goals::check_in(&ctx.state, &session.user, id, &request).await {
        Ok((_, replaced)) => {
            let flag = if replaced { "&replaced=1" } else { "" };
            let to = format!("/goals?checked={id}{flag}#goal-{id}");
            return Ok(ctx.send(Redirect::to(&to)));
        }
        Err(e) => e,
    };
    let AppError::Invalid { fields, .. } = &error else {
        return Err(error.into());
    };
    let problem = Problem::Checkin(id, goal_errors(ctx.texts, fields, ""));
    let page = goals_page(&ctx, GoalDraft::default(), false, Vec::new(), problem, None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}

#[derive(Deserialize)]
pub struct ReachForm {
    #[serde(default)]
    community: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    visibility: String,
}

pub async fn reach(
    Path(id): Path<i64>,
    WebForm { ctx, form }: WebForm<ReachForm>,
) -> Result<Response, PageError> {
    let session = ctx.require()?;
    let title = {
        let mut conn = ctx.state.store.read().await.map_err(AppError::from)?;
        let (row, _) = goals::visible_goal(&mut conn, id, &session.user).await?;
        row.title
    };
    // The post speaks the member's language, not the API's English default.
    let short: String = title.chars().take(150).collect();
    let request = GoalMilestone {
        community: Some(form.community).filter(|c| !c.is_empty()),
        kind: Some(form.kind).filter(|k| !k.is_empty()),
        title: Some(ctx.texts.fill("goals.reached_title", &[("title", &short)])),
        body: Some(ctx.texts.fill("goals.reached_body", &[("title", &title)])),
        visibility: Some(form.visibility).filter(|v| !v.is_empty()),
        value: None,
        unit: None,
        confirm_identifiers: None,
    };
    let error = match goals::reach(&ctx.state, session, id, &request).await {
        Ok(reached) => return Ok(ctx.send(Redirect::to(&format!("/t/{}", reached.topic.id)))),
        Err(e) => e,
    };
    let AppError::Invalid { fields, .. } = &error else {
        return Err(error.into());
    };
    let problem = Problem::Reach(id, goal_errors(ctx.texts, fields, ""));
    let page = goals_page(&ctx, GoalDraft::default(), false, Vec::new(), problem, None).await?;
    Ok(ctx.send_status(StatusCode::UNPROCESSABLE_ENTITY, page))
}
