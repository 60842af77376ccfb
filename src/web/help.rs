//! `/help`, the "Get help now" page every page links to in the same place: crisis lines per
//! country from `moderation/crisis_lines.toml` (data with a "last checked" date, embedded at
//! build time), the reader's language first.

use axum::response::Response;
use std::collections::BTreeMap;

use super::{Ctx, Layout, PageError};

use crate::moderation::crisis::{LineEntry as CrisisLine, entries};

/// A line in the reader's words.
pub struct LineView {
    /// ISO country code, for the entry's anchor (`/help#line-MX`).
    pub code: String,
    pub country: String,
    pub name: String,
    pub number: String,
    /// `tel:` address (digits only).
    pub tel: String,
    pub channels: Vec<String>,
    pub hours: String,
    pub languages: String,
    pub url: String,
    pub checked_ms: i64,
}

#[derive(askama::Template, askama_web::WebTemplate)]
#[template(path = "help.html")]
struct HelpPage {
    l: Layout,
    lines: Vec<LineView>,
}

fn pick(map: &BTreeMap<String, String>, lang: &str) -> String {
    map.get(lang)
        .or_else(|| map.get("en"))
        .cloned()
        .unwrap_or_default()
}

pub async fn page(ctx: Ctx) -> Result<Response, PageError> {
    let lang = ctx.texts.locale.as_str();
    let mut lines: Vec<&CrisisLine> = entries().iter().collect();
    // Lines that answer in the reader's language first; the file's order otherwise.
    lines.sort_by_key(|l| !l.languages.iter().any(|x| x == lang));
    let language_names = |codes: &[String]| {
        codes
            .iter()
            .map(|c| match c.as_str() {
                "en" => "English",
                "es" => "Español",
                "hi" => "हिन्दी",
                "fr" => "Français",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let views = lines
        .into_iter()
        .map(|line| LineView {
            code: line.country.clone(),
            country: pick(&line.country_name, lang),
            name: line.name.clone(),
            tel: line.number.chars().filter(char::is_ascii_digit).collect(),
            number: line.number.clone(),
            channels: line
                .channels
                .iter()
                .map(|c| match c.as_str() {
                    "text" => ctx.texts.get("help.text").to_owned(),
                    "chat" => ctx.texts.get("help.chat").to_owned(),
                    _ => ctx.texts.get("help.call").to_owned(),
                })
                .collect(),
            hours: pick(&line.hours, lang),
            languages: language_names(&line.languages),
            url: line.url.clone(),
            checked_ms: line
                .last_checked
                .and_hms_opt(12, 0, 0)
                .map_or(0, |d| d.and_utc().timestamp_millis()),
        })
        .collect();
    let page = HelpPage {
        l: ctx.layout(ctx.texts.get("help.title")).await,
        lines: views,
    };
    Ok(ctx.send(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crisis_lines_file_reads() {
        let countries: Vec<&str> = entries().iter().map(|l| l.country.as_str()).collect();
        for country in ["US", "MX", "IN", "ES", "GB", "CA"] {
            assert!(countries.contains(&country), "{country}");
        }
        for line in entries().iter() {
            for lang in ["en", "es", "hi"] {
                assert!(
                    line.country_name.contains_key(lang),
                    "{} {lang}",
                    line.country
                );
                assert!(line.hours.contains_key(lang), "{} {lang}", line.country);
            }
        }
    }
}
