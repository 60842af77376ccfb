//! Interface text in English, Spanish and Hindi: `web/locales/{en,es,hi}.toml`, embedded at
//! build time; the language of a request (member's setting, else the visitor's cookie, else
//! `Accept-Language`, else English); dates written the way each language writes them; and
//! counts in the right grammatical form (CLDR plural rules, from `icu_plurals`).
//!
//! A text that shows a count may be a table of plural forms instead of one string:
//! `reports = { one = "{n} report", other = "{n} reports" }`. `fill` picks the form for the value
//! of `{n}` by the language's CLDR cardinal rules (`one`, `many`, `other`...; a missing form falls
//! back to `other`).

use std::sync::LazyLock;

// A page looks up dozens of texts; SipHash's resistance to chosen keys buys nothing for keys
// that come from our own files and templates, and cost about 3 % of a page's CPU.
use rustc_hash::FxHashMap as HashMap;

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
                HashMap::default()
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
    let mut out = HashMap::default();
    walk("", &table, &mut out)?;
    Ok(out)
}

/// The texts for `locale`.
pub fn texts(locale: Locale) -> &'static Texts {
    let index = SOURCES.iter().position(|(l, _)| *l == locale).unwrap_or(0);
    &TEXTS[index.min(TEXTS.len().saturating_sub(1))]
}

thread_local! {
    /// The CLDR plural rules of each language, in `SOURCES`' order (`None` only if the compiled
    /// data lacked one, when every count takes the `other` form). Per thread: the rules are not
    /// `Sync`, and making them takes microseconds from data compiled in.
    static PLURALS: Vec<Option<icu_plurals::PluralRules>> = SOURCES
        .iter()
        .map(|(locale, _)| {
            let id = match locale {
                Locale::En => icu_locale_core::langid!("en"),
                Locale::Es => icu_locale_core::langid!("es"),
                Locale::Hi => icu_locale_core::langid!("hi"),
            };
            icu_plurals::PluralRules::try_new_cardinal((&id).into())
                .inspect_err(|e| tracing::error!(?e, "no plural rules"))
                .ok()
        })
        .collect();
}

/// The CLDR cardinal category of the whole number `n` in `locale`: `one`, `many` or `other` for
/// our languages (English and Spanish: `one` is 1; Hindi: 0 and 1; Spanish: `many` for whole
/// millions).
pub fn plural_category(locale: Locale, n: i64) -> &'static str {
    use icu_plurals::PluralCategory as C;
    let index = SOURCES.iter().position(|(l, _)| *l == locale).unwrap_or(0);
    let category = PLURALS.with(|all| match all.get(index) {
        Some(Some(rules)) => rules.category_for(n),
        _ => C::Other,
    });
    match category {
        C::Zero => "zero",
        C::One => "one",
        C::Two => "two",
        C::Few => "few",
        C::Many => "many",
        C::Other => "other",
    }
}

impl Texts {
    /// The text for `key`; English when this language lacks it, the key itself when both do
    /// (a unit test keeps that from happening). For a table of plural forms, its `other` form.
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        let english = &texts(Locale::En).map;
        self.map
            .get(key)
            .or_else(|| english.get(key))
            .or_else(|| {
                let other = format!("{key}.other");
                self.map.get(&other).or_else(|| english.get(&other))
            })
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// The form of `key` for the count `n`: `key.<category>`, else `key.other`, else `key` as
    /// one string (a text that does not vary).
    pub fn plural<'a>(&'a self, key: &'a str, n: i64) -> &'a str {
        let category = plural_category(self.locale, n);
        let english = &texts(Locale::En).map;
        let own = self
            .map
            .get(&format!("{key}.{category}"))
            .or_else(|| self.map.get(&format!("{key}.other")));
        match own {
            Some(text) => text,
            // English lacks this key in this language: English's own form for `n`.
            None if !self.map.contains_key(key) && self.locale != Locale::En => {
                let category = plural_category(Locale::En, n);
                english
                    .get(&format!("{key}.{category}"))
                    .or_else(|| english.get(&format!("{key}.other")))
                    .map(String::as_str)
                    .unwrap_or_else(|| self.get(key))
            }
            None => self.get(key),
        }
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

    /// The text for `key` with each `{name}` replaced by its value; when `{n}` is a whole
    /// number (grouped or not), in the form for that count.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let count = values
            .iter()
            .find(|(name, _)| *name == "n")
            .and_then(|(_, v)| v.replace(',', "").parse::<i64>().ok());
        let mut text = match count {
            Some(n) => self.plural(key, n),
            None => self.get(key),
        };
        // One pass: a value is never read again for placeholders of its own.
        let mut out = String::with_capacity(text.len() + 32);
        while let Some(open) = text.find('{') {
            out.push_str(&text[..open]);
            let after = &text[open + 1..];
            let filled = after.find('}').and_then(|close| {
                let name = &after[..close];
                let (_, value) = values.iter().find(|(n, _)| *n == name)?;
                Some((*value, close))
            });
            match filled {
                Some((value, close)) => {
                    out.push_str(value);
                    text = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    text = after;
                }
            }
        }
        out.push_str(text);
        out
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

/// The region of the first language tag of an `Accept-Language` header that names one, as an
/// upper-case ISO code: `es-MX,es;q=0.9` → `MX`, `en-us` → `US`, `hi` → none.
pub fn accept_region(header: &str) -> Option<String> {
    header.split(',').find_map(|item| {
        let tag = item.split(';').next().unwrap_or_default().trim();
        // language[-script][-region]: the region is two letters (or three digits, not a country).
        tag.split(['-', '_'])
            .skip(1)
            .find(|part| part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase)
    })
}

/// Pounds and inches for members in the United States, kilograms and centimetres everywhere
/// else (and when the country is not known: most of our members measure in kg).
pub fn uses_pounds(country: Option<&str>) -> bool {
    country.is_some_and(|c| c.trim().eq_ignore_ascii_case("US"))
}

/// The weight unit a member in `country` writes: `lb` in the United States, else `kg`.
pub fn weight_unit(country: Option<&str>) -> &'static str {
    if uses_pounds(country) { "lb" } else { "kg" }
}

/// The length unit a member in `country` writes: `in` in the United States, else `cm`.
pub fn length_unit(country: Option<&str>) -> &'static str {
    if uses_pounds(country) { "in" } else { "cm" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_filled_in_once() {
        let en = texts(Locale::En);
        assert_eq!(
            en.fill("mail.greeting", &[("name", "ana")]),
            en.get("mail.greeting").replace("{name}", "ana")
        );
        // A member's name that looks like a placeholder stays as written; unknown ones stay too.
        let greeting = en.fill("mail.greeting", &[("name", "{n}"), ("n", "5")]);
        assert!(
            greeting.contains("{n}") && !greeting.contains("{name}"),
            "{greeting}"
        );
        assert_eq!(en.fill("home.members", &[("n", "1,234")]), "Members: 1,234");
        assert_eq!(en.fill("no.such.key {x}", &[]), "no.such.key {x}");
    }

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

    const CATEGORIES: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

    /// A flattened key without its plural form (`mod.reports.one` → `mod.reports`), and the
    /// form, when `key` is one form of a table of plural forms in `map` (one with `one` and
    /// `other`: every language here has both; `cw.other` alone is a plain key).
    fn split_form<'a>(map: &HashMap<String, String>, key: &'a str) -> (&'a str, Option<&'a str>) {
        match key.rsplit_once('.') {
            Some((base, form))
                if CATEGORIES.contains(&form)
                    && map.contains_key(&format!("{base}.other"))
                    && map.contains_key(&format!("{base}.one")) =>
            {
                (base, Some(form))
            }
            _ => (key, None),
        }
    }

    /// The `{name}` placeholders of a text, sorted.
    fn placeholders(text: &str) -> Vec<String> {
        let re = regex::Regex::new(r"\{[a-z_0-9]+\}").unwrap_or_else(|e| panic!("{e}"));
        let mut out: Vec<String> = re.find_iter(text).map(|m| m.as_str().to_owned()).collect();
        out.sort();
        out.dedup();
        out
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
        let bases = |map: &HashMap<String, String>| -> std::collections::BTreeSet<String> {
            map.keys()
                .map(|k| split_form(map, k).0.to_owned())
                .collect()
        };
        let english_bases = bases(english);
        for (locale, map) in &parsed {
            let lang = locale.as_str();
            let own = bases(map);
            let missing: Vec<&String> = english_bases.difference(&own).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            let extra: Vec<&String> = own.difference(&english_bases).collect();
            assert!(extra.is_empty(), "{lang} has keys English lacks: {extra:?}");
            for (key, text) in map {
                assert!(!text.trim().is_empty(), "{lang}: {key} is empty");
                let (base, form) = split_form(map, key);
                if let Some(form) = form {
                    // Every language here has `one` besides `other` (CLDR); a form the
                    // language's rules never pick would never be shown.
                    let sample = match form {
                        "one" => Some(1),
                        "many" => Some(1_000_000),
                        "other" => Some(5),
                        _ => None,
                    };
                    assert_eq!(
                        sample.map(|n| plural_category(*locale, n)),
                        Some(form),
                        "{lang}: {key} is a form {lang} does not use"
                    );
                    assert!(
                        map.contains_key(&format!("{base}.one")),
                        "{lang}: {base} has plural forms but no `one`"
                    );
                }
                // A placeholder must survive translation, or the value is lost; every plural
                // form shows the same values as English's `other` form.
                let theirs = english
                    .get(base)
                    .or_else(|| english.get(&format!("{base}.other")))
                    .unwrap_or_else(|| panic!("{lang}: {key} has no English"));
                assert_eq!(
                    placeholders(theirs),
                    placeholders(text),
                    "{lang}: {key} and English disagree on placeholders"
                );
            }
        }
    }

    /// CLDR 46 cardinal rules (common/supplemental/plurals.xml), with the rules' own samples:
    /// en `one: i = 1 and v = 0` (@integer 1); es `one: n = 1` (@integer 1), `many: e = 0 and
    /// i != 0 and i % 1000000 = 0 and v = 0 or e != 0..5` (@integer 1000000, 2000000...); hi
    /// `one: i = 0 or n = 1` (@integer 0, 1); everything else `other`.
    #[test]
    fn counts_take_cldr_plural_categories() {
        for n in [0, 2, 3, 10, 11, 21, 100, 101, 1000, 999_999] {
            assert_eq!(plural_category(Locale::En, n), "other", "en {n}");
            assert_eq!(plural_category(Locale::Es, n), "other", "es {n}");
        }
        assert_eq!(plural_category(Locale::En, 1), "one");
        assert_eq!(plural_category(Locale::Es, 1), "one");
        for n in [1_000_000, 2_000_000, 10_000_000] {
            assert_eq!(plural_category(Locale::Es, n), "many", "es {n}");
            assert_eq!(plural_category(Locale::En, n), "other", "en {n}");
        }
        assert_eq!(plural_category(Locale::Es, 1_000_001), "other");
        assert_eq!(plural_category(Locale::Hi, 0), "one");
        assert_eq!(plural_category(Locale::Hi, 1), "one");
        for n in [2, 3, 10, 17, 100, 1000, 1_000_000] {
            assert_eq!(plural_category(Locale::Hi, n), "other", "hi {n}");
        }
    }

    #[test]
    fn counts_read_in_their_grammatical_form() {
        let es = texts(Locale::Es);
        assert_eq!(es.fill("events.going", &[("n", "1")]), "1 va a ir");
        assert_eq!(es.fill("events.going", &[("n", "4")]), "4 van a ir");
        let en = texts(Locale::En);
        assert_eq!(en.fill("mod.reports", &[("n", "1")]), "1 report");
        assert_eq!(en.fill("mod.reports", &[("n", "1,200")]), "1,200 reports");
        assert_eq!(en.fill("organise.minutes", &[("n", "1")]), "1 minute");
        assert_eq!(es.fill("organise.minutes", &[("n", "0")]), "0 minutos");
        // Hindi's `one` is 0 and 1.
        let hi = texts(Locale::Hi);
        assert_eq!(
            hi.fill("chat.online", &[("n", "0")]),
            hi.plural("chat.online", 1).replace("{n}", "0")
        );
        assert_ne!(hi.plural("chat.online", 0), hi.plural("chat.online", 2));
        // A table read without a count gives its `other` form, never the key.
        assert_eq!(en.get("mod.reports"), "{n} reports");
        // A text that does not vary is the same for every count.
        assert_eq!(en.fill("home.members", &[("n", "1")]), "Members: 1");
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
    fn units_follow_the_country() {
        assert_eq!(weight_unit(Some("US")), "lb");
        assert_eq!(length_unit(Some("us")), "in");
        for country in [
            Some("MX"),
            Some("IN"),
            Some("ES"),
            Some("GB"),
            Some("CA"),
            None,
        ] {
            assert_eq!(weight_unit(country), "kg", "{country:?}");
            assert_eq!(length_unit(country), "cm", "{country:?}");
        }
        assert_eq!(
            accept_region("es-MX,es;q=0.9,en;q=0.8").as_deref(),
            Some("MX")
        );
        assert_eq!(accept_region("en-us").as_deref(), Some("US"));
        assert_eq!(accept_region("hi, en-IN;q=0.5").as_deref(), Some("IN"));
        assert_eq!(accept_region("zh-Hant-TW").as_deref(), Some("TW"));
        assert_eq!(accept_region("es-419"), None);
        assert_eq!(accept_region("hi"), None);
        assert_eq!(accept_region(""), None);
    }

    #[test]
    fn dates_follow_the_language() {
        let ms = 1_772_668_800_000; // 2026-03-05
        assert_eq!(texts(Locale::En).date(ms), "Mar 5, 2026");
        assert_eq!(texts(Locale::Es).date(ms), "5 mar 2026");
        assert_eq!(texts(Locale::Hi).date(ms), "5 मार्च 2026");
    }
}
