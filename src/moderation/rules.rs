//! The automod policy in `moderation/rules.toml` (`MUTUAL_RULES`): word and pattern filters,
//! new-member limits, and per-room slow mode and quiet hours. The shipped file is built into the
//! binary and in force while no file is at the rules path, so the binary alone is complete.
//!
//! Loaded at start and again on SIGHUP or when the file changes. A broken file never takes the
//! server down: the last good rules stay, the error (with its line) is logged and shown to admins
//! at `GET /api/v1/admin/rules`. Automod never deletes: it rejects before posting (the author
//! sees why), holds for review, or flags to the queue.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::State;
use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rules_status))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    filters: Vec<FilterFile>,
    #[serde(default)]
    rooms: Vec<RoomRules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimitsFile {
    auto_hide_weight: i64,
    new_member_max_links: usize,
    new_member_held_posts: i64,
    review_hours: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            auto_hide_weight: 6,
            new_member_max_links: 2,
            new_member_held_posts: 2,
            review_hours: 24,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterFile {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
    action: FilterAction,
    #[serde(default)]
    reason: Option<String>,
}

/// What a matching filter does.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    /// Refused before posting; the author is told why.
    Reject,
    /// Posted, but hidden until a moderator approves it.
    Hold,
    /// Posted and visible, and put in the review queue.
    Flag,
}

/// Per-room rules, by room id.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RoomRules {
    pub room: i64,
    /// Each member may send one message per this many seconds.
    #[serde(default)]
    pub slow_mode_seconds: u64,
    /// Read-only hours in UTC, "22:00-07:00".
    #[serde(default)]
    pub quiet_hours: Option<String>,
}

struct Filter {
    regex: Regex,
    action: FilterAction,
    reason: String,
}

pub struct Rules {
    pub auto_hide_weight: i64,
    pub new_member_max_links: usize,
    pub new_member_held_posts: i64,
    /// How soon a moderator usually looks at a held post, as told to its author.
    pub review_hours: u32,
    filters: Vec<Filter>,
    rooms: Vec<RoomRules>,
}

impl Default for Rules {
    fn default() -> Self {
        let l = LimitsFile::default();
        Rules {
            auto_hide_weight: l.auto_hide_weight,
            new_member_max_links: l.new_member_max_links,
            new_member_held_posts: l.new_member_held_posts,
            review_hours: l.review_hours,
            filters: Vec::new(),
            rooms: Vec::new(),
        }
    }
}

/// The shipped policy, in force until a file is found at the rules path.
const BUILT_IN: &str = include_str!("../../moderation/rules.toml");

/// Where in the file an error is, for humans.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and checks a rules file; errors name the line.
pub fn parse(text: &str) -> Result<Rules, String> {
    let file: RulesFile = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => format!("line {}: {}", line_of(text, span.start), e.message()),
        None => e.message().to_owned(),
    })?;
    let mut filters = Vec::new();
    for (i, f) in file.filters.iter().enumerate() {
        let pattern = match (&f.pattern, f.words.is_empty()) {
            (Some(p), true) => p.clone(),
            (None, false) => format!(
                r"(?i)\b(?:{})\b",
                f.words
                    .iter()
                    .map(|w| regex::escape(w))
                    .collect::<Vec<_>>()
                    .join("|")
            ),
            _ => {
                return Err(format!(
                    "filter {}: give either `words` or `pattern`",
                    i + 1
                ));
            }
        };
        let regex = Regex::new(&pattern).map_err(|e| {
            let line = f
                .pattern
                .as_ref()
                .and_then(|p| text.find(p.as_str()))
                .map(|o| line_of(text, o))
                .unwrap_or(0);
            format!("line {line}: filter {}: bad pattern: {e}", i + 1)
        })?;
        filters.push(Filter {
            regex,
            action: f.action,
            reason: f
                .reason
                .clone()
                .unwrap_or_else(|| "the community's rules".into()),
        });
    }
    for r in &file.rooms {
        if let Some(q) = &r.quiet_hours
            && parse_hours(q).is_none()
        {
            return Err(format!(
                "room {}: quiet_hours must look like \"22:00-07:00\"",
                r.room
            ));
        }
    }
    Ok(Rules {
        auto_hide_weight: file.limits.auto_hide_weight.max(1),
        new_member_max_links: file.limits.new_member_max_links,
        new_member_held_posts: file.limits.new_member_held_posts.max(0),
        review_hours: file.limits.review_hours,
        filters,
        rooms: file.rooms,
    })
}

/// Whether a minute of the day (UTC) falls in quiet hours written "22:00-07:00".
pub fn in_quiet_hours(spec: &str, minute_of_day: u32) -> bool {
    let Some((from, to)) = parse_hours(spec) else {
        return false;
    };
    if from <= to {
        (from..to).contains(&minute_of_day)
    } else {
        minute_of_day >= from || minute_of_day < to
    }
}

/// "22:00-07:00" as minutes of the day.
pub fn parse_hours(raw: &str) -> Option<(u32, u32)> {
    let (a, b) = raw.split_once('-')?;
    let minutes = |s: &str| -> Option<u32> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    Some((minutes(a)?, minutes(b)?))
}

impl Rules {
    /// The first filter matching the text.
    pub fn check(&self, text: &str) -> Option<(FilterAction, String)> {
        self.filters
            .iter()
            .find(|f| f.regex.is_match(text))
            .map(|f| (f.action, f.reason.clone()))
    }

    pub fn room(&self, room: i64) -> Option<&RoomRules> {
        self.rooms.iter().find(|r| r.room == room)
    }

    /// Whether the room is in its quiet hours at this UTC minute of the day.
    pub fn quiet_now(&self, room: i64, minute_of_day: u32) -> bool {
        self.room(room)
            .and_then(|r| r.quiet_hours.as_deref())
            .is_some_and(|q| in_quiet_hours(q, minute_of_day))
    }
}

/// The rules in force and how the last load went.
pub struct RulesHandle {
    path: PathBuf,
    current: RwLock<Arc<Rules>>,
    status: RwLock<LoadStatus>,
}

#[derive(Serialize, ToSchema, Clone, Default)]
pub struct LoadStatus {
    pub path: String,
    /// When the rules in force were loaded (RFC 3339), if ever from the file.
    pub loaded_at: Option<String>,
    /// The last load's error; the previous good rules stay in force.
    pub error: Option<String>,
    pub filters: usize,
}

impl RulesHandle {
    /// Loads the file (a missing file means the built-in policy).
    pub fn load(path: &Path) -> Arc<RulesHandle> {
        let built_in = parse(BUILT_IN).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the built-in rules do not parse");
            Rules::default()
        });
        let handle = Arc::new(RulesHandle {
            path: path.to_path_buf(),
            status: RwLock::new(LoadStatus {
                path: path.display().to_string(),
                filters: built_in.filters.len(),
                ..LoadStatus::default()
            }),
            current: RwLock::new(Arc::new(built_in)),
        });
        handle.reload();
        handle
    }

    pub fn get(&self) -> Arc<Rules> {
        self.current.read().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn status(&self) -> LoadStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Reads the file again; keeps the last good rules when it is broken.
    pub fn reload(&self) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => return self.failed(format!("cannot read {}: {e}", self.path.display())),
        };
        match parse(&text) {
            Ok(rules) => {
                let filters = rules.filters.len();
                if let Ok(mut c) = self.current.write() {
                    *c = Arc::new(rules);
                }
                if let Ok(mut s) = self.status.write() {
                    s.loaded_at = Some(crate::store::format_ms(crate::store::now_ms()));
                    s.error = None;
                    s.filters = filters;
                }
                tracing::info!(path = %self.path.display(), filters, "rules loaded");
            }
            Err(e) => self.failed(format!("{}: {e}", self.path.display())),
        }
    }

    fn failed(&self, error: String) {
        tracing::error!(%error, "rules not reloaded; the previous rules stay in force");
        if let Ok(mut s) = self.status.write() {
            s.error = Some(error);
        }
    }

    /// Reloads on SIGHUP and when the file's modification time changes.
    pub fn watch(self: &Arc<Self>) {
        let handle = self.clone();
        tokio::spawn(async move {
            let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut seen: Option<SystemTime> = mtime(&handle.path);
            #[cfg(unix)]
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let hup_fired = async {
                    match hup.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let hup_fired = std::future::pending::<()>();
                tokio::select! {
                    _ = hup_fired => handle.reload(),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {
                        let now = mtime(&handle.path);
                        if now != seen {
                            seen = now;
                            handle.reload();
                        }
                    }
                }
            }
        });
    }
}

/// Admins: which rules file is in force, and the last load's error.
#[utoipa::path(get, path = "/api/v1/admin/rules", tag = "moderation",
    responses((status = 200, body = LoadStatus), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn rules_status(
    State(state): State<AppState>,
    Auth(session): Auth,
) -> AppResult<axum::Json<LoadStatus>> {
    if !session.user.is_admin() {
        return Err(AppError::forbidden("for admins"));
    }
    Ok(axum::Json(state.rules.status()))
}

/// Counts links in markdown (for the new-member limit).
pub fn count_links(body: &str) -> usize {
    let lower = body.to_lowercase();
    lower.matches("http://").count()
        + lower.matches("https://").count()
        + lower.matches("www.").count()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_policy_parses() {
        let rules = parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"));
        assert!(rules.check("a payday loan for you").is_some());
    }

    #[test]
    fn parses_and_names_lines() {
        let rules = parse("[limits]\nauto_hide_weight = 4\n\n[[filters]]\nwords = [\"casino\"]\naction = \"reject\"\n").expect("valid");
        assert_eq!(rules.auto_hide_weight, 4);
        assert_eq!(
            rules.check("Best CASINO deals").map(|(a, _)| a),
            Some(FilterAction::Reject)
        );
        assert_eq!(rules.check("casinos"), None);
        let err = parse("[limits]\nauto_hide_weight = \"many\"\n")
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("line 2"), "{err}");
        let err = parse("[[filters]]\npattern = \"(unclosed\"\naction = \"hold\"\n")
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("line 2") && err.contains("bad pattern"),
            "{err}"
        );
        assert!(parse("[[filters]]\nwords = [\"x\"]\naction = \"explode\"\n").is_err());
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let rules = parse("[[rooms]]\nroom = 3\nquiet_hours = \"22:00-07:00\"\n").expect("valid");
        assert!(rules.quiet_now(3, 23 * 60));
        assert!(rules.quiet_now(3, 6 * 60));
        assert!(!rules.quiet_now(3, 12 * 60));
        assert!(!rules.quiet_now(4, 23 * 60));
    }
}
