//! The public directory: public and members communities listed by condition, language and
//! region, with what each offers, for people looking for a group (and clinics looking for one
//! to refer to). Private communities never appear, however they are searched for.
//!
//! The listing fields live on `communities` (migrations 0012 and 0029) and are set at creation
//! or with `PATCH /api/v1/communities/{slug}`; this module checks them and answers the directory.

use crate::http::Query;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::serialize_time;
use crate::app::AppState;
use crate::communities::types::Visibility;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::paging::{Page, cursor};
use crate::store::{AsDb, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_directory))
}

/// Where a community is listed, as checked values ready to store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub condition: String,
    pub condition_label: String,
    /// Every language the group runs in, the main one first; no repeats.
    pub languages: Vec<String>,
    pub region: String,
    pub meeting_style: MeetingStyle,
}

/// What a request may say about the listing; `None` keeps what is stored.
#[derive(Clone, Debug, Default)]
pub struct ListingChanges<'a> {
    pub condition: Option<&'a str>,
    pub condition_label: Option<&'a str>,
    /// The main language alone (older clients): it replaces the first of `languages`, and an
    /// empty one clears them all.
    pub language: Option<&'a str>,
    /// The whole list, main first; with `language` too, that must be its first.
    pub languages: Option<&'a [String]>,
    pub region: Option<&'a str>,
    pub meeting_style: Option<&'a str>,
}

/// How a group meets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStyle {
    #[default]
    Online,
    InPerson,
    Both,
}

impl MeetingStyle {
    pub const ALL: [MeetingStyle; 3] = [
        MeetingStyle::Online,
        MeetingStyle::InPerson,
        MeetingStyle::Both,
    ];

    pub fn parse(raw: &str) -> Result<MeetingStyle, String> {
        match raw.trim() {
            "online" => Ok(MeetingStyle::Online),
            "in_person" => Ok(MeetingStyle::InPerson),
            "both" => Ok(MeetingStyle::Both),
            _ => Err("meeting_style is online, in_person or both".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStyle::Online => "online",
            MeetingStyle::InPerson => "in_person",
            MeetingStyle::Both => "both",
        }
    }
}

/// At most this many languages per group: the listing stays readable on a phone.
pub const MAX_LANGUAGES: usize = 5;

fn plain(raw: &str, max: usize, field: &str, fields: &mut FieldErrors) -> Option<String> {
    let text = raw.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        fields.push(field, format!("at most {max} characters, on one line"));
        return None;
    }
    Some(text.to_owned())
}

/// The conditions the site is made for, in the order pages offer them (their names are
/// `listing.c_<key>` in the locale files). The API takes any key of the right shape, so a group
/// for another condition can still be listed.
pub const CONDITIONS: [&str; 6] = [
    "type-1-diabetes",
    "type-2-diabetes",
    "prediabetes",
    "gestational-diabetes",
    "hypertension",
    "bariatric-surgery",
];

/// A condition key: a–z, 0–9 and `-`, up to 40 (e.g. `type-2-diabetes`); empty for none.
fn condition_key(raw: &str, fields: &mut FieldErrors) -> Option<String> {
    let key = raw.trim().to_ascii_lowercase();
    if key.len() > 40
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        fields.push(
            "condition",
            "a condition is a short key of a–z, 0–9 and -, e.g. type-2-diabetes",
        );
        return None;
    }
    Some(key)
}

/// A language: the primary subtag of a language tag (`es-MX` → `es`), 2–3 letters; empty for none.
fn language_tag(raw: &str, field: &str, fields: &mut FieldErrors) -> Option<String> {
    let primary = raw.trim().split(['-', '_']).next().unwrap_or("");
    let tag = primary.to_ascii_lowercase();
    if !(tag.is_empty()
        || (2..=3).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_lowercase()))
    {
        fields.push(field, "a language is a code such as en, es or hi");
        return None;
    }
    Some(tag)
}

/// A list of languages, main first: each checked, repeats and empty entries dropped.
fn language_list(raw: &[String], fields: &mut FieldErrors) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for one in raw {
        let tag = language_tag(one, "languages", fields)?;
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_LANGUAGES {
        fields.push("languages", format!("at most {MAX_LANGUAGES} languages"));
        return None;
    }
    Some(out)
}

/// Stored languages (`"es en"`) as a list; rows from before 0029 have only `language`.
pub fn stored_languages(languages: &str, language: &str) -> Vec<String> {
    let list: Vec<String> = languages.split_whitespace().map(str::to_owned).collect();
    if list.is_empty() && !language.is_empty() {
        return vec![language.to_owned()];
    }
    list
}

impl Listing {
    /// `current` with `changes` applied and checked; problems go into `fields`.
    pub fn apply(
        current: &Listing,
        changes: &ListingChanges<'_>,
        fields: &mut FieldErrors,
    ) -> Listing {
        let condition = changes
            .condition
            .map(|c| condition_key(c, fields).unwrap_or_default())
            .unwrap_or_else(|| current.condition.clone());
        let mut condition_label = changes
            .condition_label
            .map(|c| plain(c, 60, "condition_label", fields).unwrap_or_default())
            .unwrap_or_else(|| current.condition_label.clone());
        if condition_label.is_empty() && !condition.is_empty() {
            condition_label = condition.replace('-', " ");
        }
        let main = changes
            .language
            .map(|l| language_tag(l, "language", fields).unwrap_or_default());
        let languages = match (changes.languages, main) {
            (Some(list), main) => {
                let list = language_list(list, fields).unwrap_or_default();
                // Both said: they must agree, or which one is main is a guess.
                if let Some(main) = main
                    && main != list.first().map(String::as_str).unwrap_or("")
                {
                    fields.push("language", "language must be the first of languages");
                }
                list
            }
            (None, Some(main)) if main.is_empty() => Vec::new(),
            (None, Some(main)) => {
                let mut list = vec![main.clone()];
                list.extend(
                    current
                        .languages
                        .iter()
                        .skip(1)
                        .filter(|l| **l != main)
                        .cloned(),
                );
                list
            }
            (None, None) => current.languages.clone(),
        };
        let meeting_style = changes
            .meeting_style
            .map(|m| {
                fields
                    .check("meeting_style", MeetingStyle::parse(m))
                    .unwrap_or_default()
            })
            .unwrap_or(current.meeting_style);
        Listing {
            condition,
            condition_label,
            languages,
            region: changes
                .region
                .map(|r| plain(r, 80, "region", fields).unwrap_or_default())
                .unwrap_or_else(|| current.region.clone()),
            meeting_style,
        }
    }

    /// The main language: the first; empty when none is set.
    pub fn language(&self) -> &str {
        self.languages.first().map_or("", String::as_str)
    }

    /// The listing fields of a community row.
    pub fn of(row: &crate::communities::CommunityRow) -> Listing {
        Listing {
            condition: row.condition.clone(),
            condition_label: row.condition_label.clone(),
            languages: stored_languages(&row.languages, &row.language),
            region: row.region.clone(),
            meeting_style: MeetingStyle::parse(&row.meeting_style).unwrap_or_default(),
        }
    }

    pub async fn store(&self, conn: &mut impl AsDb, community_id: i64) -> AppResult<()> {
        db!(
            *conn,
            execute,
            "UPDATE communities SET condition = $2, condition_label = $3, language = $4, languages = $5, region = $6, meeting_style = $7
             WHERE id = $1",
            community_id,
            &self.condition,
            &self.condition_label,
            self.language(),
            self.languages.join(" "),
            &self.region,
            self.meeting_style.as_str()
        )?;
        Ok(())
    }
}

/// What a group offers: the forum always, and whatever else it runs.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct Offers {
    pub forum: bool,
    /// Chat rooms open to members (circle rooms are not counted).
    pub chat_rooms: i64,
    /// Live chat sessions still to come.
    pub live_sessions: i64,
    /// Whether it runs small peer circles.
    pub circles: bool,
    /// In-person meetings it holds.
    pub meetings: i64,
    /// When the next in-person meeting starts, if any.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::accounts::serialize_opt_time"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_meeting_at: Option<i64>,
}

#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct DirectoryEntry {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// `public` or `members` (private communities are never listed).
    pub visibility: Visibility,
    /// A short key such as `type-2-diabetes`; empty when not set.
    pub condition: String,
    pub condition_label: String,
    /// The main language: `en`, `es`, `hi`…; empty when not set (the first of `languages`).
    pub language: String,
    /// Every language the group runs in, the main one first.
    pub languages: Vec<String>,
    pub region: String,
    /// `online`, `in_person` or `both`.
    pub meeting_style: MeetingStyle,
    pub member_count: i64,
    pub offers: Offers,
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Deserialize, IntoParams, Debug, Default, Clone)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Words to find in the name, description, condition or region (accents and case ignored).
    pub q: Option<String>,
    /// A language code (`es`, or a tag such as `es-MX`): groups running in it, main or not.
    pub language: Option<String>,
    /// Part of the region, e.g. `Jalisco` or `MX`.
    pub region: Option<String>,
    /// A condition key, e.g. `hypertension`.
    pub condition: Option<String>,
    /// `online` (groups meeting online, or both ways), `in_person` (in person, or both ways)
    /// or `both` (only groups meeting both ways).
    pub meeting_style: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    id: i64,
    slug: String,
    name: String,
    description: String,
    visibility: String,
    condition: String,
    condition_label: String,
    language: String,
    languages: String,
    region: String,
    meeting_style: String,
    created_at: i64,
    member_count: i64,
}

impl ListedRow {
    /// Words, stems and synonyms as in the forum's search ("presión" finds a group about
    /// hypertension).
    fn matches(&self, query: &crate::search::analysis::SearchQuery, region: &str) -> bool {
        if !region.is_empty() && !crate::text::fold(&self.region).contains(region) {
            return false;
        }
        query.matches_text(&format!(
            "{} {} {} {} {}",
            self.name, self.description, self.condition, self.condition_label, self.region
        ))
    }
}

/// What a community offers, counted now.
pub async fn offers(conn: &mut impl AsDb, community_id: i64, now: i64) -> AppResult<Offers> {
    let (chat_rooms, live_sessions, circles, meetings) = db!(
        *conn,
        fetch_one as (i64, i64, i64, i64),
        "SELECT (SELECT COUNT(*) FROM rooms WHERE community_id = $1 AND circle_id IS NULL),
                (SELECT COUNT(*) FROM events WHERE community_id = $1 AND cancelled_at IS NULL AND ends_at > $2),
                (SELECT COUNT(*) FROM circles WHERE community_id = $1),
                (SELECT COUNT(*) FROM meetings WHERE community_id = $1 AND cancelled_at IS NULL)",
        community_id,
        now
    )?;
    let next = crate::meetings::next_of_community(conn, community_id, now).await?;
    Ok(Offers {
        forum: true,
        chat_rooms,
        live_sessions,
        circles: circles > 0,
        meetings,
        next_meeting_at: next,
    })
}

/// Public and members communities matching the query, oldest first, a page at a time.
/// Searching is done on folded text in the server: the directory is small (groups, not posts),
/// and folding must match `crate::text::fold` exactly, which SQL cannot do on both backends.
pub async fn search(state: &AppState, query: &DirectoryQuery) -> AppResult<Page<DirectoryEntry>> {
    let page = crate::paging::PageParams {
        limit: query.limit,
        after: query.after.clone(),
    };
    let limit = page.limit()?;
    let after = page.after_ints(1)?.map(|v| v[0]).unwrap_or(0);
    let terms = crate::search::analysis::parse_query(query.q.as_deref().unwrap_or(""));
    let mut ignored = FieldErrors::new();
    let language = language_tag(
        query.language.as_deref().unwrap_or(""),
        "language",
        &mut ignored,
    )
    .unwrap_or_default();
    // Stored as "es en": a code is found between spaces.
    let language_like = format!("% {language} %");
    let style = match query.meeting_style.as_deref().map(str::trim) {
        None | Some("") => "",
        Some(raw) => MeetingStyle::parse(raw)
            .map_err(|why| AppError::bad_request("bad_meeting_style", why))?
            .as_str(),
    };
    let condition = query
        .condition
        .as_deref()
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let region = crate::text::fold(query.region.as_deref().unwrap_or(""));
    let now = now_ms();
    let mut conn = state.store.read().await?;
    let mut found = Vec::new();
    let mut from = after;
    // Batches in id order until a page (and one more, to know there is a next) is found.
    'outer: loop {
        let rows = db!(
            conn,
            fetch_all as ListedRow,
            "SELECT id, slug, name, description, visibility, condition, condition_label, language, languages, region, meeting_style, created_at, member_count
             FROM communities
             WHERE id > $1 AND visibility IN ('public', 'members')
               AND ($2 = '' OR (' ' || languages || ' ') LIKE $4) AND ($3 = '' OR condition = $3)
               AND ($5 = '' OR meeting_style = $5 OR ($5 <> 'both' AND meeting_style = 'both'))
             ORDER BY id LIMIT 200",
            from,
            &language,
            &condition,
            &language_like,
            style
        )?;
        let Some(last) = rows.last().map(|r| r.id) else {
            break;
        };
        for row in rows {
            if row.matches(&terms, &region) {
                found.push(row);
                if found.len() as i64 > limit {
                    break 'outer;
                }
            }
        }
        from = last;
    }
    let mut items = Vec::with_capacity(found.len());
    for row in found {
        let offers = offers(&mut conn, row.id, now).await?;
        items.push(DirectoryEntry {
            id: row.id,
            visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Members),
            slug: row.slug,
            name: row.name,
            description: row.description,
            condition: row.condition,
            condition_label: row.condition_label,
            languages: stored_languages(&row.languages, &row.language),
            language: row.language,
            region: row.region,
            meeting_style: MeetingStyle::parse(&row.meeting_style).unwrap_or_default(),
            member_count: row.member_count,
            offers,
            created_at: row.created_at,
        });
    }
    Ok(Page::from_rows(items, limit, |e| cursor(&[e.id])))
}

/// The directory of groups anyone can find (no sign-in needed): public and members
/// communities, never private ones.
#[utoipa::path(get, path = "/api/v1/directory", tag = "directory", operation_id = "directory",
    params(DirectoryQuery),
    responses((status = 200, body = Page<DirectoryEntry>), (status = 400, body = ErrorBody)))]
async fn api_directory(
    State(state): State<AppState>,
    Query(query): Query<DirectoryQuery>,
) -> AppResult<axum::Json<Page<DirectoryEntry>>> {
    Ok(axum::Json(search(&state, &query).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_checks_and_keeps() {
        let mut fields = FieldErrors::new();
        let l = Listing::apply(
            &Listing::default(),
            &ListingChanges {
                condition: Some("Type-2-Diabetes"),
                language: Some("es-MX"),
                region: Some(" Jalisco, MX "),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(fields.is_empty());
        assert_eq!(l.condition, "type-2-diabetes");
        assert_eq!(l.condition_label, "type 2 diabetes");
        assert_eq!(l.languages, ["es"]);
        assert_eq!(l.region, "Jalisco, MX");
        let bad = Listing::apply(
            &l,
            &ListingChanges {
                condition: Some("no spaces please"),
                language: Some("español"),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(fields.contains("condition") && fields.contains("language"));
        assert_eq!(bad.region, "Jalisco, MX");
    }

    #[test]
    fn languages_main_first() {
        let mut fields = FieldErrors::new();
        let list = ["es-MX".to_owned(), "en".to_owned(), "ES".to_owned()];
        let l = Listing::apply(
            &Listing::default(),
            &ListingChanges {
                languages: Some(&list),
                meeting_style: Some("both"),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(fields.is_empty());
        assert_eq!(l.languages, ["es", "en"]);
        assert_eq!(l.language(), "es");
        assert_eq!(l.meeting_style, MeetingStyle::Both);
        // An older client sets only the main language: it replaces the first, the others stay.
        let l = Listing::apply(
            &l,
            &ListingChanges {
                language: Some("hi"),
                ..Default::default()
            },
            &mut fields,
        );
        assert_eq!(l.languages, ["hi", "en"]);
        assert_eq!(l.meeting_style, MeetingStyle::Both);
        let cleared = Listing::apply(
            &l,
            &ListingChanges {
                language: Some(""),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(cleared.languages.is_empty() && fields.is_empty());
        // Refused: a main language that is not the list's first, too many, an unknown style.
        let six: Vec<String> = ["en", "es", "hi", "pt", "fr", "de"]
            .map(String::from)
            .to_vec();
        Listing::apply(
            &l,
            &ListingChanges {
                language: Some("hi"),
                languages: Some(&six[..2]),
                meeting_style: Some("sometimes"),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(fields.contains("language") && fields.contains("meeting_style"));
        let mut fields = FieldErrors::new();
        Listing::apply(
            &l,
            &ListingChanges {
                languages: Some(&six),
                ..Default::default()
            },
            &mut fields,
        );
        assert!(fields.contains("languages"));
    }
}
