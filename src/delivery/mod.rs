//! Notifications outside the site (API.md "Notifications outside the site"): each member's
//! delivery choices (`GET`/`PATCH /api/v1/me/delivery`), the verification of their e-mail
//! address, the notification mails and digests that go through the mail outbox, and the
//! one-click unsubscribe links in them.
//!
//! Mail goes only to a verified address, in the member's language, and never says what anyone
//! wrote nor which group it was in: "2 new replies in your group", with a link to the page.
//! The `push` flag is stored here; Web Push's queue reads it (`wants_push_sql`).

pub mod mails;
pub mod unsubscribe;
pub mod verify;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::app::AppState;
use crate::clock::Zone;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::notify;
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_get, api_patch))
        .routes(routes!(verify::api_verify))
}

/// How often notifications are mailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Off,
    /// Soon after they happen, a few minutes' worth in one mail.
    Immediate,
    /// Once a day, at 08:00 in the member's time zone.
    Daily,
    /// Once a week, on Monday at 08:00 in the member's time zone.
    Weekly,
}

impl Frequency {
    pub const ALL: [Frequency; 4] = [
        Frequency::Off,
        Frequency::Immediate,
        Frequency::Daily,
        Frequency::Weekly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Off => "off",
            Frequency::Immediate => "immediate",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }

    pub fn parse(raw: &str) -> Result<Frequency, String> {
        Frequency::ALL
            .into_iter()
            .find(|f| f.as_str() == raw)
            .ok_or_else(|| "e-mail is one of off, immediate, daily, weekly".into())
    }

    fn is_digest(self) -> bool {
        matches!(self, Frequency::Daily | Frequency::Weekly)
    }
}

/// The kinds a member can turn on and off; each covers one or more kinds of notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryKind {
    Reply,
    Mention,
    EventReminder,
    CheckinDue,
    Moderation,
    /// Welcomers: a newcomer's first topic has no answer yet.
    Newcomer,
    /// Moderators: new reports and crisis reports in their groups.
    Reports,
    Milestone,
    Circle,
}

impl DeliveryKind {
    pub const ALL: [DeliveryKind; 9] = [
        DeliveryKind::Reply,
        DeliveryKind::Mention,
        DeliveryKind::EventReminder,
        DeliveryKind::CheckinDue,
        DeliveryKind::Moderation,
        DeliveryKind::Newcomer,
        DeliveryKind::Reports,
        DeliveryKind::Milestone,
        DeliveryKind::Circle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Reply => "reply",
            DeliveryKind::Mention => "mention",
            DeliveryKind::EventReminder => "event_reminder",
            DeliveryKind::CheckinDue => "checkin_due",
            DeliveryKind::Moderation => "moderation",
            DeliveryKind::Newcomer => "newcomer",
            DeliveryKind::Reports => "reports",
            DeliveryKind::Milestone => "milestone",
            DeliveryKind::Circle => "circle",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryKind> {
        DeliveryKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Which setting a notification falls under.
    pub fn of(kind: notify::Kind) -> DeliveryKind {
        use notify::Kind as N;
        match kind {
            N::Reply | N::Quote => DeliveryKind::Reply,
            N::Mention => DeliveryKind::Mention,
            N::EventReminder | N::EventCancelled => DeliveryKind::EventReminder,
            N::CheckinDue => DeliveryKind::CheckinDue,
            N::ReportResolved
            | N::AppealDecided
            | N::ContentHidden
            | N::Sanction
            | N::AppealRestored
            | N::AppealUpheld
            | N::CaringMessage => DeliveryKind::Moderation,
            N::NewcomerUnanswered => DeliveryKind::Newcomer,
            N::NewReport | N::CrisisReport => DeliveryKind::Reports,
            N::Milestone | N::Anniversary => DeliveryKind::Milestone,
            N::CircleAdded | N::LeaderInactive => DeliveryKind::Circle,
        }
    }
}

/// A member's choices as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub email: Frequency,
    pub push: bool,
    /// The kinds turned off (every kind is on until turned off).
    pub off: Vec<DeliveryKind>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            email: Frequency::Off,
            push: false,
            off: Vec::new(),
        }
    }
}

impl Settings {
    pub fn wants(&self, kind: DeliveryKind) -> bool {
        !self.off.contains(&kind)
    }

    fn off_column(&self) -> String {
        let mut names: Vec<&str> = self.off.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(",")
    }
}

/// Every delivery kind and whether it is on (API.md: `kinds`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Kinds {
    pub reply: bool,
    pub mention: bool,
    pub event_reminder: bool,
    pub checkin_due: bool,
    /// Moderation outcomes about you: hidden content, warnings, appeals, reports you made.
    pub moderation: bool,
    /// For welcomers: a newcomer's first topic has had no answer.
    pub newcomer: bool,
    /// For moderators: new reports in the groups you moderate.
    pub reports: bool,
    /// Milestones of members you follow, and your own anniversaries.
    pub milestone: bool,
    /// Peer circles: added to one, a leader away.
    pub circle: bool,
}

/// `GET /api/v1/me/delivery`.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub email: Frequency,
    /// Web Push notifications to this member's subscribed devices.
    pub push: bool,
    pub kinds: Kinds,
    /// The member's address, if any (set with `PATCH /api/v1/me {email}`).
    pub address: Option<String>,
    /// Whether the address is verified; mail goes only to a verified address.
    pub verified: bool,
}

impl Delivery {
    fn new(s: &Settings, address: Option<String>, verified: bool) -> Delivery {
        let on = |k| s.wants(k);
        Delivery {
            email: s.email,
            push: s.push,
            kinds: Kinds {
                reply: on(DeliveryKind::Reply),
                mention: on(DeliveryKind::Mention),
                event_reminder: on(DeliveryKind::EventReminder),
                checkin_due: on(DeliveryKind::CheckinDue),
                moderation: on(DeliveryKind::Moderation),
                newcomer: on(DeliveryKind::Newcomer),
                reports: on(DeliveryKind::Reports),
                milestone: on(DeliveryKind::Milestone),
                circle: on(DeliveryKind::Circle),
            },
            address,
            verified,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    email: String,
    push: bool,
    kinds_off: String,
}

impl SettingsRow {
    fn settings(self) -> Settings {
        Settings {
            email: Frequency::parse(&self.email).unwrap_or(Frequency::Off),
            push: self.push,
            off: self
                .kinds_off
                .split(',')
                .filter_map(DeliveryKind::parse)
                .collect(),
        }
    }
}

/// A member's delivery settings (the defaults when they never changed them).
pub async fn load(conn: &mut impl AsDb, user_id: i64) -> AppResult<Settings> {
    let row = db!(
        *conn,
        fetch_optional as SettingsRow,
        "SELECT email, push, kinds_off FROM delivery_settings WHERE user_id = $1",
        user_id
    )?;
    Ok(row.map(SettingsRow::settings).unwrap_or_default())
}

/// The SQL condition "member `$1` wants a notification of the kind matched by `$5` pushed"
/// (their `push` switch and per-kind choices, the same switches their e-mail follows), for
/// push's queue to ride on its insert; `$5` is [`kind_pattern`]. Kept here with the columns it
/// reads.
macro_rules! wants_push_sql {
    () => {
        "EXISTS (SELECT 1 FROM delivery_settings d WHERE d.user_id = $1 AND d.push
           AND (',' || d.kinds_off || ',') NOT LIKE $5)"
    };
}
pub(crate) use wants_push_sql;

/// The `LIKE` pattern for [`wants_push_sql`]: the kind's name among the comma-separated
/// `kinds_off`.
pub fn kind_pattern(kind: notify::Kind) -> String {
    format!("%,{},%", DeliveryKind::of(kind).as_str())
}

/// Turns push on, leaving every other choice as it was: subscribing a device is the member
/// asking for notifications on it. In the caller's transaction.
pub async fn turn_push_on(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "INSERT INTO delivery_settings (user_id, push, updated_at) VALUES ($1, TRUE, $2)
         ON CONFLICT (user_id) DO UPDATE SET push = TRUE, updated_at = $2",
        user_id,
        crate::store::now_ms()
    )?;
    Ok(())
}

/// The member's address and whether it is verified.
pub async fn address(conn: &mut impl AsDb, user_id: i64) -> AppResult<(Option<String>, bool)> {
    let row = db!(
        *conn,
        fetch_optional as (Option<String>, Option<i64>),
        "SELECT email, email_verified_at FROM users WHERE id = $1",
        user_id
    )?
    .ok_or(AppError::NotFound)?;
    Ok((row.0.clone(), row.0.is_some() && row.1.is_some()))
}

/// What `GET /api/v1/me/delivery` answers.
pub async fn get(state: &AppState, user_id: i64) -> AppResult<Delivery> {
    let mut conn = state.store.read().await?;
    let settings = load(&mut conn, user_id).await?;
    let (address, verified) = address(&mut conn, user_id).await?;
    Ok(Delivery::new(&settings, address, verified))
}

/// The hour of the member's day when digests go out.
pub const DIGEST_HOUR: u32 = 8;

/// The first digest time strictly after `after` (UTC ms): 08:00 local, every day or on Mondays.
pub fn next_digest(freq: Frequency, zone: Zone, after: i64) -> Option<i64> {
    use chrono::{Datelike, NaiveTime, Weekday};
    if !freq.is_digest() {
        return None;
    }
    let at = NaiveTime::from_hms_opt(DIGEST_HOUR, 0, 0)?;
    let mut date = zone.date_at(after);
    for _ in 0..9 {
        let when = zone.instant(date.and_time(at));
        if when > after && (freq == Frequency::Daily || date.weekday() == Weekday::Mon) {
            return Some(when);
        }
        date = date.succ_opt()?;
    }
    None
}

/// Stores the settings. When what is mailed changes (frequency), the mail job starts from the
/// member's newest notification, so turning mail on never sends the backlog, and the next
/// digest is scheduled.
pub async fn save(
    conn: &mut impl AsDb,
    user_id: i64,
    before: &Settings,
    new: &Settings,
) -> AppResult<()> {
    let now = now_ms();
    db!(
        *conn,
        execute,
        "INSERT INTO delivery_settings (user_id, email, push, kinds_off, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET email = $2, push = $3, kinds_off = $4, updated_at = $5",
        user_id,
        new.email.as_str(),
        new.push,
        new.off_column(),
        now
    )?;
    if before.email != new.email {
        restart(conn, user_id).await?;
    }
    Ok(())
}

/// Mail starts afresh from now: the watermark moves to the newest notification and the next
/// digest is scheduled in the member's time zone (also after the address is verified and when
/// the time zone changes).
pub async fn restart(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    let Some((email, timezone)) = db!(
        *conn,
        fetch_optional as (String, String),
        "SELECT d.email, u.timezone FROM delivery_settings d JOIN users u ON u.id = d.user_id WHERE d.user_id = $1",
        user_id
    )?
    else {
        return Ok(());
    };
    let freq = Frequency::parse(&email).unwrap_or(Frequency::Off);
    let due = next_digest(freq, Zone::from_stored(&timezone), now_ms());
    db!(
        *conn,
        execute,
        "UPDATE delivery_settings SET digest_due_at = $2,
             mailed_up_to = COALESCE((SELECT MAX(id) FROM notifications WHERE user_id = $1), 0)
         WHERE user_id = $1",
        user_id,
        due
    )?;
    Ok(())
}

/// The next digest moves with the member's time zone (the watermark stays).
pub async fn reschedule(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    let Some((email, timezone)) = db!(
        *conn,
        fetch_optional as (String, String),
        "SELECT d.email, u.timezone FROM delivery_settings d JOIN users u ON u.id = d.user_id WHERE d.user_id = $1",
        user_id
    )?
    else {
        return Ok(());
    };
    let freq = Frequency::parse(&email).unwrap_or(Frequency::Off);
    let due = next_digest(freq, Zone::from_stored(&timezone), now_ms());
    db!(
        *conn,
        execute,
        "UPDATE delivery_settings SET digest_due_at = $2 WHERE user_id = $1",
        user_id,
        due
    )?;
    Ok(())
}

/// Applies a `PATCH /api/v1/me/delivery` body: only `email`, `push` and `kinds`, each of the
/// right type; anything else is refused (422) rather than ignored, so a typo never looks saved.
pub fn apply_patch(current: &Settings, body: &Value) -> AppResult<Settings> {
    let mut fields = FieldErrors::new();
    let Some(obj) = body.as_object() else {
        return Err(AppError::invalid(
            "body",
            "send an object with email, push and/or kinds",
        ));
    };
    let mut new = current.clone();
    for (key, value) in obj {
        match key.as_str() {
            "email" => match value.as_str().map(Frequency::parse) {
                Some(Ok(f)) => new.email = f,
                Some(Err(e)) => fields.push("email", e),
                None => fields.push("email", "e-mail is one of off, immediate, daily, weekly"),
            },
            "push" => match value.as_bool() {
                Some(b) => new.push = b,
                None => fields.push("push", "push is true or false"),
            },
            "kinds" => match value.as_object() {
                Some(kinds) => {
                    for (name, on) in kinds {
                        let field = format!("kinds.{name}");
                        match (DeliveryKind::parse(name), on.as_bool()) {
                            (Some(kind), Some(on)) => {
                                new.off.retain(|k| *k != kind);
                                if !on {
                                    new.off.push(kind);
                                }
                            }
                            (None, _) => fields.push(
                                field,
                                format!(
                                    "not a kind; the kinds are {}",
                                    DeliveryKind::ALL.map(DeliveryKind::as_str).join(", ")
                                ),
                            ),
                            (Some(_), None) => fields.push(field, "each kind is true or false"),
                        }
                    }
                }
                None => fields.push("kinds", "kinds is an object of kind: true or false"),
            },
            other => fields.push(
                other,
                "not a delivery setting; they are email, push and kinds",
            ),
        }
    }
    fields.into_result()?;
    new.off.sort();
    new.off.dedup();
    Ok(new)
}

/// Changes the member's settings; the new state.
pub async fn update(state: &AppState, user_id: i64, body: &Value) -> AppResult<Delivery> {
    let mut tx = state.store.begin().await?;
    let before = load(&mut tx, user_id).await?;
    let new = apply_patch(&before, body)?;
    save(&mut tx, user_id, &before, &new).await?;
    tx.commit().await?;
    get(state, user_id).await
}

/// How the caller's notifications reach them outside the site.
#[utoipa::path(get, path = "/api/v1/me/delivery", tag = "delivery", operation_id = "get_delivery",
    responses((status = 200, body = Delivery), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_get(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Delivery>> {
    Ok(axum::Json(get(&state, session.user.id).await?))
}

/// A change to the delivery settings: any of the fields.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DeliveryPatch {
    pub email: Option<Frequency>,
    pub push: Option<bool>,
    /// Only the kinds named change.
    pub kinds: Option<std::collections::BTreeMap<String, bool>>,
}

/// Change how notifications reach the caller outside the site. Unknown fields or kinds and
/// values of the wrong type are refused (422, naming each field).
#[utoipa::path(patch, path = "/api/v1/me/delivery", tag = "delivery", operation_id = "update_delivery",
    request_body = DeliveryPatch,
    responses((status = 200, body = Delivery), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn api_patch(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(body): Json<Value>,
) -> AppResult<axum::Json<Delivery>> {
    Ok(axum::Json(update(&state, session.user.id, &body).await?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_are_strict() {
        let s = Settings::default();
        let ok = apply_patch(&s, &json!({"email": "weekly", "kinds": {"reply": false}})).unwrap();
        assert_eq!(ok.email, Frequency::Weekly);
        assert!(!ok.wants(DeliveryKind::Reply));
        assert!(ok.wants(DeliveryKind::Mention));
        for bad in [
            json!({"email": "hourly"}),
            json!({"email": true}),
            json!({"push": "yes"}),
            json!({"kinds": {"gossip": true}}),
            json!({"kinds": {"reply": 1}}),
            json!({"kinds": []}),
            json!({"frequency": "daily"}),
            json!([]),
        ] {
            assert!(apply_patch(&s, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_fall_at_eight_local() {
        let zone = Zone::parse("America/Mexico_City").unwrap();
        // 2026-12-07 is a Monday; 10:00 UTC is 04:00 in Mexico City.
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        let daily = next_digest(Frequency::Daily, zone, now).unwrap();
        assert_eq!(crate::store::format_ms(daily), "2026-12-07T14:00:00.000Z");
        let weekly = next_digest(Frequency::Weekly, zone, daily).unwrap();
        assert_eq!(crate::store::format_ms(weekly), "2026-12-14T14:00:00.000Z");
        assert_eq!(next_digest(Frequency::Immediate, zone, now), None);
    }
}
