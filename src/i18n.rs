//! Interface text in English, Spanish and Hindi: `web/locales/{en,es,hi}.toml`, embedded at
//! build time; the language of a request (member's setting, else the visitor's cookie, else
//! `Accept-Language`, else English); and dates written the way each language writes them.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::accounts::types::Locale;

const SOURCES: [(Locale, &str); 3] = [
    (Locale::En, include_str!("../web/locales/en.toml")),
    (Locale::Es, include_str!("../web/locales/es.toml")),
    (Locale::Hi, include_str!("../web/locales/hi.toml")),
];

/// The texts of one language, by dotted key (`nav.home`).
pub struct Texts {
    pub locale: Locale,
    map: HashMap<String, String>,
}

static TEXTS: LazyLock<Vec<Texts>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(locale, source)| Texts {
            locale: *locale,
            map: parse(source).unwrap_or_else(|e| {
                tracing::error!(locale = locale.as_str(), error = %e, "unreadable locale file");
                HashMap::new()
            }),
        })
        .collect()
});

/// Flattens a TOML file of tables of strings into `table.key` → text.
fn parse(source: &str) -> Result<HashMap<String, String>, String> {
    fn walk(
        prefix: &str,
        table: &toml::Table,
        out: &mut HashMap<String, String>,
    ) -> Result<(), String> {
        for (key, value) in table {
            let full = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::String(s) => {
                    out.insert(full, s.clone());
                }
                toml::Value::Table(t) => walk(&full, t, out)?,
                _ => return Err(format!("{full}: only text is allowed")),
            }
        }
        Ok(())
    }
    let table: toml::Table = source.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = HashMap::new();
    walk("", &table, &mut out)?;
    Ok(out)
}

/// The texts for `locale`.
pub fn texts(locale: Locale) -> &'static Texts {
    let index = SOURCES.iter().position(|(l, _)| *l == locale).unwrap_or(0);
    &TEXTS[index.min(TEXTS.len().saturating_sub(1))]
}

impl Texts {
    /// The text for `key`; English when this language lacks it, the key itself when both do
    /// (a unit test keeps that from happening).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.map
            .get(key)
            .or_else(|| texts(Locale::En).map.get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// A whole number as this language groups its digits: 1,234,567 in English and Latin
    /// American Spanish, 12,34,567 in Hindi (lakh and crore).
    pub fn number(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sign = if n < 0 { "-" } else { "" };
        let len = digits.len();
        let mut out = String::with_capacity(len + len / 2 + 1);
        for (i, c) in digits.chars().enumerate() {
            let left = len - i;
            let comma_before = match self.locale {
                // The last three digits, then pairs.
                Locale::Hi => i > 0 && (left == 3 || (left > 3 && (left - 3).is_multiple_of(2))),
                _ => i > 0 && left.is_multiple_of(3),
            };
            if comma_before {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// A date as this language writes it ("Mar 5, 2026", "5 mar 2026", "5 मार्च 2026").
    pub fn date(&self, ms: i64) -> String {
        use chrono::Datelike;
        let Some(day) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        let month = format!("date.m{}", day.month());
        self.fill(
            "date.format",
            &[
                ("day", &day.day().to_string()),
                ("month", self.get(&month)),
                ("year", &day.year().to_string()),
            ],
        )
    }
}

/// The best of our languages in an `Accept-Language` header, by its quality values.
pub fn negotiate(header: &str) -> Option<Locale> {
    let mut best: Option<(f32, Locale)> = None;
    for item in header.split(',') {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        if let Ok(locale) = Locale::parse(tag)
            && best.is_none_or(|(q, _)| quality > q)
        {
            best = Some((quality, locale));
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_as_each_language_writes_them() {
        assert_eq!(texts(Locale::En).number(1_234_567), "1,234,567");
        assert_eq!(texts(Locale::Es).number(1_000), "1,000");
        assert_eq!(texts(Locale::Hi).number(1_234_567), "12,34,567");
        assert_eq!(texts(Locale::Hi).number(100_000), "1,00,000");
        assert_eq!(texts(Locale::Hi).number(999), "999");
        assert_eq!(texts(Locale::En).number(-12_000), "-12,000");
        assert_eq!(texts(Locale::En).number(0), "0");
    }

    #[test]
    fn every_key_exists_in_every_language() {
        let parsed: Vec<(Locale, HashMap<String, String>)> = SOURCES
            .iter()
            .map(|(l, s)| {
                (
                    *l,
                    parse(s).unwrap_or_else(|e| panic!("{}: {e}", l.as_str())),
                )
            })
            .collect();
        let (_, english) = &parsed[0];
        assert!(english.len() > 100, "the English file looks empty");
        for (locale, map) in &parsed {
            let mut missing: Vec<&String> =
                english.keys().filter(|k| !map.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{} lacks {missing:?}", locale.as_str());
            let mut extra: Vec<&String> =
                map.keys().filter(|k| !english.contains_key(*k)).collect();
            extra.sort();
            assert!(
                extra.is_empty(),
                "{} has keys English lacks: {extra:?}",
                locale.as_str()
            );
            for (key, text) in map {
                assert!(
                    !text.trim().is_empty(),
                    "{}: {key} is empty",
                    locale.as_str()
                );
                // A placeholder must survive translation, or the value is lost.
                for name in ["{n}", "{name}", "{date}", "{q}", "{kind}", "{kinds}"] {
                    assert_eq!(
                        english[key].contains(name),
                        text.contains(name),
                        "{}: {key} and English disagree on {name}",
                        locale.as_str()
                    );
                }
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_offered() {
        assert_eq!(negotiate("es-MX,es;q=0.9,en;q=0.8"), Some(Locale::Es));
        assert_eq!(negotiate("fr-FR, hi;q=0.5, en;q=0.4"), Some(Locale::Hi));
        assert_eq!(negotiate("en;q=0.2, es;q=0.7"), Some(Locale::Es));
        assert_eq!(negotiate("fr, de"), None);
        assert_eq!(negotiate("es;q=0"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn dates_follow_the_language() {
        let ms = 1_772_668_800_000; // 2026-03-05
        assert_eq!(texts(Locale::En).date(ms), "Mar 5, 2026");
        assert_eq!(texts(Locale::Es).date(ms), "5 mar 2026");
        assert_eq!(texts(Locale::Hi).date(ms), "5 मार्च 2026");
    }
}
