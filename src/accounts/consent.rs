//! Consent to hold health data (PRV-6: explicit, separate, unbundled, withdrawable, logged with
//! its time and the wording's version).
//!
//! The notice is versioned: its texts (one per interface language) live in
//! `web/consent/<version>.<locale>.txt`, embedded here, and every version ever shown stays here
//! so that what a member agreed to can be shown to them word for word. Changing a word means a
//! new version (a unit test pins each text's SHA-256). Each "yes" is a row in `consents` with
//! the version, language and hash of the text the member saw; withdrawing stamps it.
//!
//! Health data here: readings, goals and their check-ins, milestone values and baselines, and
//! membership of a community that has a `condition`. Creating any of it needs consent to the
//! current version ([`require`]); reading, exporting and erasing one's own data never does.
//! Withdrawal erases what was held on the consent ([`withdraw`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::types::Locale;
use super::{Auth, MaybeAuth, serialize_opt_time, serialize_time};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{Json, Query};
use crate::store::{AsDb, Tx, now_ms};

/// The kind of consent, as stored and as named in the API.
pub const HEALTH_DATA: &str = "health_data";

/// The version members are asked to agree to now.
pub const CURRENT_VERSION: &str = "health-data-2026-12";

/// One version of the notice in one language, exactly as shown.
pub struct NoticeText {
    pub version: &'static str,
    pub locale: Locale,
    pub text: &'static str,
}

/// Every version ever shown, newest first. Never edit a published text: add a version.
const NOTICES: [NoticeText; 3] = [
    NoticeText {
        version: "health-data-2026-12",
        locale: Locale::En,
        text: include_str!("../../web/consent/health-data-2026-12.en.txt"),
    },
    NoticeText {
        version: "health-data-2026-12",
        locale: Locale::Es,
        text: include_str!("../../web/consent/health-data-2026-12.es.txt"),
    },
    NoticeText {
        version: "health-data-2026-12",
        locale: Locale::Hi,
        text: include_str!("../../web/consent/health-data-2026-12.hi.txt"),
    },
];

/// The notice of `version` in `locale`, if that version exists.
pub fn notice_text(version: &str, locale: Locale) -> Option<&'static NoticeText> {
    NOTICES
        .iter()
        .find(|n| n.version == version && n.locale == locale)
}

/// The current notice in `locale` (every version exists in every interface language).
pub fn current_notice(locale: Locale) -> &'static NoticeText {
    notice_text(CURRENT_VERSION, locale).unwrap_or(&NOTICES[0])
}

fn known_version(version: &str) -> bool {
    NOTICES.iter().any(|n| n.version == version)
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl NoticeText {
    /// The text as paragraphs, for the web pages.
    pub fn paragraphs(&self) -> Vec<&'static str> {
        self.text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// The notice, as the API gives it.
#[derive(Serialize, ToSchema)]
pub struct Notice {
    /// Always `health_data`.
    pub kind: String,
    /// e.g. `health-data-2026-12`; name it when giving consent.
    pub version: String,
    pub locale: Locale,
    /// The exact wording; paragraphs are separated by a blank line.
    pub text: String,
    /// SHA-256 of `text` (hex), as kept with each consent.
    pub sha256: String,
    /// Whether this is the version asked for now.
    pub current: bool,
}

impl From<&NoticeText> for Notice {
    fn from(n: &NoticeText) -> Self {
        Notice {
            kind: HEALTH_DATA.into(),
            version: n.version.into(),
            locale: n.locale,
            text: n.text.into(),
            sha256: sha256_hex(n.text),
            current: n.version == CURRENT_VERSION,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeParams {
    /// `en`, `es` or `hi` (default: the caller's language, else the browser's, else `en`).
    pub locale: Option<String>,
    /// A version shown earlier (default: the current one).
    pub version: Option<String>,
}

/// The notice on holding health data, in the caller's language or `?locale=`.
#[utoipa::path(get, path = "/api/v1/consent/health-data", tag = "consent", operation_id = "health_data_notice",
    params(NoticeParams),
    responses((status = 200, body = Notice), (status = 404, description = "no such version", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn api_notice(
    MaybeAuth(session): MaybeAuth,
    headers: HeaderMap,
    Query(q): Query<NoticeParams>,
) -> AppResult<axum::Json<Notice>> {
    let locale = match q.locale.as_deref() {
        Some(raw) => Locale::parse(raw).map_err(|e| AppError::invalid("locale", e))?,
        None => session.map(|s| s.locale).unwrap_or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::i18n::negotiate)
                .unwrap_or_default()
        }),
    };
    let version = q.version.as_deref().unwrap_or(CURRENT_VERSION);
    let text = notice_text(version, locale).ok_or(AppError::NotFound)?;
    Ok(axum::Json(text.into()))
}

/// Consent as given at registration or later: the version of the notice the member read.
#[derive(Deserialize, ToSchema, Clone, Debug)]
pub struct ConsentGrant {
    /// The notice's version; must be the current one.
    pub version: String,
    /// The language the member read it in (default: their account's).
    pub locale: Option<String>,
}

/// Where a consent was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Registration,
    Api,
    Web,
    Seed,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Registration => "registration",
            Source::Api => "api",
            Source::Web => "web",
            Source::Seed => "seed",
        }
    }
}

/// Checks a grant before anything is stored: the current version, a language we offer.
pub fn check_grant(grant: &ConsentGrant, fallback: Locale) -> AppResult<&'static NoticeText> {
    let locale = match grant.locale.as_deref() {
        Some(raw) => Locale::parse(raw).map_err(|e| AppError::invalid("locale", e))?,
        None => fallback,
    };
    let version = grant.version.trim();
    if version == CURRENT_VERSION {
        return Ok(current_notice(locale));
    }
    if known_version(version) {
        return Err(AppError::conflict(
            "consent_version_outdated",
            format!(
                "the notice changed since version {version}: read the current one (version {CURRENT_VERSION}) at GET /api/v1/consent/health-data and consent to that"
            ),
        ));
    }
    Err(AppError::invalid(
        "version",
        format!("no notice has that version; the current one is {CURRENT_VERSION}"),
    ))
}

/// One consent as recorded.
#[derive(sqlx::FromRow, Serialize, ToSchema, Clone, Debug)]
pub struct ConsentRecord {
    pub id: i64,
    /// `health_data`.
    pub kind: String,
    pub version: String,
    pub locale: String,
    /// SHA-256 of the exact wording shown (the `sha256` of the notice).
    pub text_sha256: String,
    /// `registration`, `api`, `web` or `seed`.
    pub source: String,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub granted_at: i64,
    #[serde(serialize_with = "serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub withdrawn_at: Option<i64>,
}

const RECORD_COLUMNS: &str =
    "id, kind, version, locale, text_sha256, source, granted_at, withdrawn_at";

/// The member's consent in force: the latest not withdrawn.
async fn in_force(conn: &mut impl AsDb, user_id: i64) -> AppResult<Option<ConsentRecord>> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM consents WHERE user_id = $1 AND kind = $2 AND withdrawn_at IS NULL ORDER BY id DESC LIMIT 1"
    );
    Ok(db!(
        *conn,
        fetch_optional as ConsentRecord,
        sqlx::AssertSqlSafe(sql),
        user_id,
        HEALTH_DATA
    )?)
}

/// Whether the member has consented to the current notice and not withdrawn.
pub async fn has_current(conn: &mut impl AsDb, user_id: i64) -> AppResult<bool> {
    Ok(in_force(conn, user_id)
        .await?
        .is_some_and(|c| c.version == CURRENT_VERSION))
}

/// The door to health data: 403 `consent_required` without consent to the current notice.
pub async fn require(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    if has_current(conn, user_id).await? {
        Ok(())
    } else {
        Err(AppError::ConsentRequired)
    }
}

/// Records a checked grant (in the caller's transaction). Consenting again to the version in
/// force changes nothing; the answer says whether a new record was made.
pub async fn record(
    conn: &mut impl AsDb,
    user_id: i64,
    notice: &NoticeText,
    source: Source,
) -> AppResult<(ConsentRecord, bool)> {
    if let Some(existing) = in_force(conn, user_id).await?
        && existing.version == notice.version
    {
        return Ok((existing, false));
    }
    let sql = format!(
        "INSERT INTO consents (user_id, kind, version, locale, text_sha256, source, granted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {RECORD_COLUMNS}"
    );
    let row = db!(
        *conn,
        fetch_one as ConsentRecord,
        sqlx::AssertSqlSafe(sql),
        user_id,
        HEALTH_DATA,
        notice.version,
        notice.locale.as_str(),
        sha256_hex(notice.text),
        source.as_str(),
        now_ms()
    )?;
    Ok((row, true))
}

/// Gives consent for a signed-in member.
pub async fn give(
    state: &AppState,
    user_id: i64,
    locale: Locale,
    grant: &ConsentGrant,
    source: Source,
) -> AppResult<(ConsentRecord, bool)> {
    let notice = check_grant(grant, locale)?;
    let mut tx = state.store.begin().await?;
    let answer = record(&mut tx, user_id, notice, source).await?;
    tx.commit().await?;
    Ok(answer)
}

/// What withdrawal erased.
#[derive(Serialize, ToSchema, Debug, Default)]
pub struct Erased {
    pub readings: u64,
    /// Trends of readings shared with circles.
    pub reading_shares: u64,
    pub goals: u64,
    pub goal_checkins: u64,
    /// Milestones whose number, unit and baseline were removed (the posts stay).
    pub milestone_values: u64,
    /// Communities with a condition that the member left (or stopped asking to join).
    pub communities_left: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Withdrawal {
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub withdrawn_at: i64,
    pub erased: Erased,
}

/// Withdraws consent and, in the same transaction, erases the health data held on it: readings
/// and their shared trends, goals with their check-ins, the numbers of milestones (their posts
/// stay as ordinary posts), and membership of every community with a condition. 404 when no
/// consent is in force.
pub async fn withdraw(state: &AppState, user_id: i64) -> AppResult<Withdrawal> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let stamped = db!(
        tx,
        execute,
        "UPDATE consents SET withdrawn_at = $3 WHERE user_id = $1 AND kind = $2 AND withdrawn_at IS NULL",
        user_id,
        HEALTH_DATA,
        now
    )?;
    if stamped == 0 {
        return Err(AppError::NotFound);
    }
    let (erased, left) = erase_health_data(&mut tx, user_id).await?;
    tx.commit().await?;
    // Open sockets stop following the condition groups' rooms, on every node.
    for community in left {
        state
            .realtime
            .access_changed(user_id, community, crate::realtime::frames::Revoked::Left);
    }
    metrics::counter!("mutual_health_consent_withdrawn_total").increment(1);
    tracing::info!(
        user = user_id,
        "health-data consent withdrawn; its data erased"
    );
    Ok(Withdrawal {
        withdrawn_at: now,
        erased,
    })
}

/// Each capability forgets what it holds on the consent, in this one transaction; what was
/// erased, and the communities left.
async fn erase_health_data(tx: &mut Tx, user_id: i64) -> AppResult<(Erased, Vec<i64>)> {
    let (reading_shares, readings) = crate::readings::forget_health_data(tx, user_id).await?;
    let (goal_checkins, goals) = crate::goals::forget_health_data(tx, user_id).await?;
    let milestone_values = crate::milestones::forget_health_data(tx, user_id).await?;
    let left = crate::communities::forget_health_data(tx, user_id).await?;
    let erased = Erased {
        readings,
        reading_shares,
        goals,
        goal_checkins,
        milestone_values,
        communities_left: left.len() as u64,
    };
    Ok((erased, left))
}

/// What withdrawing would erase now, for the confirmation page.
pub struct Preview {
    pub readings: i64,
    pub goals: i64,
    pub milestone_values: i64,
    /// Names of the communities with a condition the member would leave.
    pub groups: Vec<String>,
}

pub async fn preview(state: &AppState, user_id: i64) -> AppResult<Preview> {
    let mut conn = state.store.read().await?;
    Ok(Preview {
        readings: crate::readings::count_of(&mut conn, user_id).await?,
        goals: crate::goals::count_of(&mut conn, user_id).await?,
        milestone_values: crate::milestones::count_with_values(&mut conn, user_id).await?,
        groups: crate::communities::condition_groups_of(&mut conn, user_id).await?,
    })
}

/// Whether consent is in force, in short.
#[derive(Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// In force.
    Given,
    /// Given once, then withdrawn.
    Withdrawn,
    /// Never given (accounts from before consent was asked, or who said no).
    NotGiven,
}

#[derive(Serialize, ToSchema)]
pub struct HealthDataConsent {
    pub state: ConsentState,
    /// The version in force, if any.
    pub version: Option<String>,
    /// The version asked for now.
    pub current_version: String,
    /// Health data may be added: consent is in force and to the current version.
    pub up_to_date: bool,
    #[serde(serialize_with = "serialize_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub granted_at: Option<i64>,
}

/// A past or present consent, with the words it was given to.
#[derive(Serialize, ToSchema)]
pub struct HistoryItem {
    #[serde(flatten)]
    pub record: ConsentRecord,
    /// The exact wording agreed to.
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct MyConsents {
    pub health_data: HealthDataConsent,
    /// Every consent given, newest first, withdrawn ones included.
    pub history: Vec<HistoryItem>,
}

/// The member's consent and its history.
pub async fn mine(state: &AppState, user_id: i64) -> AppResult<MyConsents> {
    let mut conn = state.store.read().await?;
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM consents WHERE user_id = $1 AND kind = $2 ORDER BY id DESC"
    );
    let rows = db!(
        conn,
        fetch_all as ConsentRecord,
        sqlx::AssertSqlSafe(sql),
        user_id,
        HEALTH_DATA
    )?;
    let in_force = rows.iter().find(|r| r.withdrawn_at.is_none());
    let state = match (in_force, rows.is_empty()) {
        (Some(_), _) => ConsentState::Given,
        (None, false) => ConsentState::Withdrawn,
        (None, true) => ConsentState::NotGiven,
    };
    let health_data = HealthDataConsent {
        state,
        version: in_force.map(|r| r.version.clone()),
        current_version: CURRENT_VERSION.into(),
        up_to_date: in_force.is_some_and(|r| r.version == CURRENT_VERSION),
        granted_at: in_force.map(|r| r.granted_at),
    };
    let history = rows
        .iter()
        .map(|r| HistoryItem {
            text: Locale::parse(&r.locale)
                .ok()
                .and_then(|l| notice_text(&r.version, l))
                .map(|n| n.text.to_owned())
                .unwrap_or_default(),
            record: r.clone(),
        })
        .collect();
    Ok(MyConsents {
        health_data,
        history,
    })
}

/// Your consent to hold health data: whether it is in force, and every time you gave it.
#[utoipa::path(get, path = "/api/v1/me/consents", tag = "consent", operation_id = "my_consents",
    responses((status = 200, body = MyConsents), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn api_mine(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<MyConsents>> {
    Ok(axum::Json(mine(&state, session.user.id).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct GiveConsent {
    /// `health_data` (the default; the only kind so far).
    pub kind: Option<String>,
    /// The version of the notice read; must be the current one.
    pub version: String,
    /// The language it was read in (default: the account's).
    pub locale: Option<String>,
}

/// Consent to hold health data: 201 with the new record, or 200 when it was already given to
/// this version.
#[utoipa::path(post, path = "/api/v1/me/consents", tag = "consent", operation_id = "give_consent",
    request_body = GiveConsent,
    responses((status = 201, body = ConsentRecord), (status = 200, description = "already given to this version", body = ConsentRecord),
              (status = 401, body = ErrorBody), (status = 409, description = "an older version of the notice", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn api_give(
    State(state): State<AppState>,
    Auth(session): Auth,
    Json(req): Json<GiveConsent>,
) -> AppResult<(StatusCode, axum::Json<ConsentRecord>)> {
    if req.kind.as_deref().is_some_and(|k| k != HEALTH_DATA) {
        return Err(AppError::invalid(
            "kind",
            "the only kind of consent is health_data",
        ));
    }
    let grant = ConsentGrant {
        version: req.version,
        locale: req.locale,
    };
    let (record, created) =
        give(&state, session.user.id, session.locale, &grant, Source::Api).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(record)))
}

/// Withdraw consent to hold health data. What was held on it is erased at once (readings, goals
/// and check-ins, milestone numbers) and you leave condition groups; new health data is refused.
#[utoipa::path(delete, path = "/api/v1/me/consents/health-data", tag = "consent", operation_id = "withdraw_consent",
    responses((status = 200, body = Withdrawal), (status = 401, body = ErrorBody),
              (status = 404, description = "no consent in force", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn api_withdraw(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<Withdrawal>> {
    Ok(axum::Json(withdraw(&state, session.user.id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published wording never changes: a new wording is a new version. If this fails, put
    /// the old text back and add the new one under a new version.
    #[test]
    fn published_texts_are_unchanged() {
        let pinned = [
            (
                "health-data-2026-12",
                Locale::En,
                "9e0ee3e14bd259006b7d8b4c780ce89ad37e6552ff027991a456426e23485178",
            ),
            (
                "health-data-2026-12",
                Locale::Es,
                "128bc972beb854ab9bc44b0def9ed3195f21850dd0bdaa79fbac8060cb4591e0",
            ),
            (
                "health-data-2026-12",
                Locale::Hi,
                "7b060bfe74fd2531f9ac01a7ef0351070a36c46313b793a67e6b92070cd73ff9",
            ),
        ];
        for (version, locale, hash) in pinned {
            let n = notice_text(version, locale);
            assert!(n.is_some(), "{version} {locale:?} is missing");
            assert_eq!(n.map(|n| sha256_hex(n.text)).as_deref(), Some(hash));
        }
    }

    #[test]
    fn the_current_version_exists_in_every_language() {
        for locale in [Locale::En, Locale::Es, Locale::Hi] {
            assert!(notice_text(CURRENT_VERSION, locale).is_some());
        }
    }
}
