//! The crisis flow: phrases that suggest someone may harm themselves (`moderation/crisis.toml`,
//! or the file named by `MUTUAL_CRISIS_FILE`), and the crisis lines shown to that person alone
//! (`moderation/crisis_lines.toml`, the same list the help page shows).
//!
//! A match never deletes anything: the author sees the lines at once, the content leaves search
//! and public pages, an urgent case joins the queue and the moderators on duty are alerted.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::types::Locale;
use crate::text;

const DEFAULT: &str = include_str!("../../moderation/crisis.toml");
const LINES: &str = include_str!("../../moderation/crisis_lines.toml");

static LINES_FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();

/// Where admins keep the crisis lines: `crisis_lines.toml` beside the rules file. Read at start;
/// when it is missing or broken, the copy built into the binary is used.
pub fn set_lines_file(rules: &std::path::Path) {
    let path = rules
        .parent()
        .map(|d| d.join("crisis_lines.toml"))
        .filter(|p| p.exists());
    let _ = LINES_FILE.set(path);
}

/// The crisis lines file's text: the admins' file when present and valid, else the built-in one.
pub fn lines_text() -> std::borrow::Cow<'static, str> {
    if let Some(Some(path)) = LINES_FILE.get() {
        match std::fs::read_to_string(path) {
            Ok(text) if toml::from_str::<LinesFile>(&text).is_ok() => return text.into(),
            Ok(_) => {
                tracing::error!(path = %path.display(), "crisis lines file is invalid; using the built-in lines")
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the crisis lines file")
            }
        }
    }
    LINES.into()
}

#[derive(Deserialize)]
struct File {
    phrases: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct LinesFile {
    line: Vec<LineEntry>,
}

/// One crisis line as `crisis_lines.toml` holds it (the help page shows these in full).
#[derive(Deserialize, Debug)]
pub struct LineEntry {
    /// ISO country code.
    pub country: String,
    /// Country name per language code.
    pub country_name: BTreeMap<String, String>,
    pub name: String,
    pub number: String,
    /// call, text, chat.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Opening hours per language code.
    pub hours: BTreeMap<String, String>,
    /// Languages the line answers in.
    pub languages: Vec<String>,
    pub url: String,
    /// When someone last confirmed the number works.
    pub last_checked: chrono::NaiveDate,
}

/// Every crisis line from the file, read once at start.
pub fn entries() -> &'static [LineEntry] {
    static ENTRIES: OnceLock<Vec<LineEntry>> = OnceLock::new();
    ENTRIES.get_or_init(|| match toml::from_str::<LinesFile>(&lines_text()) {
        Ok(f) => f.line,
        Err(e) => {
            tracing::error!(error = %e, "the crisis lines file is unreadable");
            Vec::new()
        }
    })
}

/// A crisis line, kept as data with the date it was last checked.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
pub struct CrisisLine {
    /// ISO country code, or `INT` for everywhere.
    pub country: String,
    pub languages: Vec<String>,
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub text: Option<String>,
    pub hours: String,
    pub last_checked: String,
}

struct Crisis {
    /// Folded phrases, so "suicidarme" matches "Suicidarme" and "suícidio" alike.
    phrases: Vec<String>,
    lines: Vec<CrisisLine>,
}

fn load(text: &str) -> Result<Crisis, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let phrases = file
        .phrases
        .values()
        .flatten()
        .map(|p| text::fold(p))
        .filter(|p| !p.is_empty())
        .collect();
    let lines = entries()
        .iter()
        .map(|l| CrisisLine {
            text: l
                .channels
                .iter()
                .any(|c| c == "text")
                .then(|| format!("Text {}", l.number)),
            country: l.country.clone(),
            languages: l.languages.clone(),
            name: l.name.clone(),
            phone: l.number.clone(),
            hours: l.hours.get("en").cloned().unwrap_or_default(),
            last_checked: l.last_checked.to_string(),
        })
        .collect();
    Ok(Crisis { phrases, lines })
}

fn crisis() -> &'static Crisis {
    static CRISIS: OnceLock<Crisis> = OnceLock::new();
    CRISIS.get_or_init(|| {
        let operator = std::env::var("MUTUAL_CRISIS_FILE").ok().and_then(|p| std::fs::read_to_string(p).ok());
        if let Some(t) = operator {
            match load(&t) {
                Ok(c) => return c,
                Err(e) => tracing::error!(error = %e, "MUTUAL_CRISIS_FILE is invalid; using the built-in crisis data"),
            }
        }
        load(DEFAULT).unwrap_or(Crisis { phrases: Vec::new(), lines: Vec::new() })
    })
}

/// Whether the text contains a crisis phrase.
pub fn matches(body: &str) -> bool {
    let folded = format!(" {} ", text::fold(body));
    crisis().phrases.iter().any(|p| {
        folded.contains(&format!(" {p} ")) || (p.contains(' ') && folded.contains(p.as_str()))
    })
}

/// The lines for a member's language (their country first where known), then the international one.
pub fn lines_for(locale: Locale) -> Vec<CrisisLine> {
    let lang = locale.as_str();
    let preferred = match locale {
        Locale::En => "US",
        Locale::Es => "MX",
        Locale::Hi => "IN",
    };
    let mut lines: Vec<CrisisLine> = crisis()
        .lines
        .iter()
        .filter(|l| l.languages.iter().any(|x| x == lang))
        .cloned()
        .collect();
    lines.sort_by_key(|l| l.country != preferred);
    lines
}

/// Every line, for the help page and for admins.
pub fn all_lines() -> Vec<CrisisLine> {
    crisis().lines.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_in_three_languages() {
        assert!(matches("Some days I want to die, honestly"));
        assert!(matches("A veces pienso en SUICIDARME"));
        assert!(matches("hoy quiero morir"));
        assert!(matches("मैं आत्महत्या के बारे में सोचता हूँ"));
        assert!(!matches("My sugar was 180 this morning"));
        assert!(
            !matches("I cut my sugar intake"),
            "phrases match whole words"
        );
    }

    #[test]
    fn lines_by_language() {
        assert_eq!(lines_for(Locale::Es)[0].country, "MX");
        assert_eq!(lines_for(Locale::Hi)[0].phone, "14416");
        assert_eq!(lines_for(Locale::En)[0].phone, "988");
        assert!(
            lines_for(Locale::En)
                .iter()
                .all(|l| !l.last_checked.is_empty())
        );
    }
}
