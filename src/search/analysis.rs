//! What goes into the search index and what a query looks for, the same on SQLite and
//! PostgreSQL: folded words, their Spanish and English stems, and synonyms across languages.
//!
//! - **Index**: a post's folded words (`text::fold`), then, for every Latin-script word whose
//!   Snowball stem (Spanish or English) differs from it, that stem. "estudio" is indexed with
//!   "estudi", "studies" with "studi".
//! - **Query**: each typed word becomes a *unit* of alternatives, any of which may match: the word
//!   itself and its two stems, each as a prefix ("caminar" looks for `caminar*`, `camin*`, so it
//!   finds "caminando" and "Caminé"). A word or phrase of the synonym list
//!   (`src/search/synonyms.toml`) becomes its whole group ("presión" also looks for "blood
//!   pressure" and "रक्तचाप"). Every unit must match.
//! - **Devanagari** words stay whole: folding keeps their vowel signs and virama, SQLite's
//!   tokenizer counts marks as word characters (migration 0031), and they are not stemmed.
//!
//! The stems are computed here, in Rust, rather than by PostgreSQL's `spanish`/`english`
//! configurations, so that both backends index the same tokens and find the same posts (the
//! tests run on both). They are the same Snowball algorithms PostgreSQL uses.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::Deserialize;

use crate::text;

/// The built-in synonym groups (data, not code: one group per line of meaning).
const SYNONYMS_FILE: &str = include_str!("synonyms.toml");

/// A stem shorter than this is too broad to look for as a prefix ("ca*").
const MIN_STEM_CHARS: usize = 3;
/// The longest synonym phrase, in words.
const MAX_PHRASE_WORDS: usize = 4;

struct Analyzer {
    spanish: Stemmer,
    english: Stemmer,
    /// Folded phrases (as word lists) and the group each belongs to.
    phrases: Vec<(Vec<String>, usize)>,
    /// Each group's folded phrases.
    groups: Vec<Vec<Vec<String>>>,
}

#[derive(Deserialize)]
struct SynonymFile {
    group: Vec<SynonymGroup>,
}

#[derive(Deserialize)]
struct SynonymGroup {
    /// Which communities the group serves; documents the list (search uses every group).
    #[allow(dead_code)]
    condition: String,
    words: Vec<String>,
}

static ANALYZER: LazyLock<Analyzer> = LazyLock::new(|| {
    // The file is part of the build and checked by a unit test: an error here is a bad build,
    // so it leaves synonyms out rather than take search down.
    let groups: Vec<Vec<Vec<String>>> = match toml::from_str::<SynonymFile>(SYNONYMS_FILE) {
        Ok(file) => file
            .group
            .iter()
            .map(|g| {
                g.words
                    .iter()
                    .map(|w| words_of(&text::fold(w)))
                    .filter(|w| !w.is_empty() && w.len() <= MAX_PHRASE_WORDS)
                    .collect()
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "search synonyms: the built-in file does not parse");
            Vec::new()
        }
    };
    let mut phrases: Vec<(Vec<String>, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.iter().map(move |p| (p.clone(), i)))
        .collect();
    // Longest first, so "presion arterial" wins over "presion".
    phrases.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    Analyzer {
        spanish: Stemmer::create(Algorithm::Spanish),
        english: Stemmer::create(Algorithm::English),
        phrases,
        groups,
    }
});

fn words_of(folded: &str) -> Vec<String> {
    folded
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Only words in Latin letters are stemmed (the stemmers know Spanish and English).
fn stemmable(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_lowercase()) && word.len() > MIN_STEM_CHARS
}

/// The word's Spanish and English stems that differ from it (and from each other).
fn stems(word: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !stemmable(word) {
        return out;
    }
    let a = &*ANALYZER;
    for stem in [a.spanish.stem(word), a.english.stem(word)] {
        if stem != word && stem.chars().count() >= MIN_STEM_CHARS && !out.iter().any(|s| *s == stem)
        {
            out.push(stem.into_owned());
        }
    }
    out
}

/// The text to index for `plain` (a post's text, its topic's title first): folded words, then
/// the stems that differ from them.
pub fn index_text(plain: &str) -> String {
    let folded = text::fold(plain);
    let mut extra: Vec<String> = Vec::new();
    for word in folded.split(' ') {
        for stem in stems(word) {
            if !extra.contains(&stem) {
                extra.push(stem);
            }
        }
    }
    if extra.is_empty() {
        folded
    } else {
        format!("{folded} {}", extra.join(" "))
    }
}

/// One alternative of a unit: a word, or a phrase of words in a row; the last word matches as a
/// prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alternative(Vec<String>);

/// What a search looks for: every unit must match, through any of its alternatives.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    units: Vec<Vec<Alternative>>,
}

/// Reads a member's query: folded words, at most `text::MAX_QUERY_TERMS` units, words of one
/// letter left out (unless part of a synonym phrase).
pub fn parse_query(q: &str) -> SearchQuery {
    let a = &*ANALYZER;
    let words = words_of(&text::fold(q));
    let mut units: Vec<Vec<Alternative>> = Vec::new();
    let mut i = 0;
    while i < words.len() && units.len() < text::MAX_QUERY_TERMS {
        let rest = &words[i..];
        let synonym = a
            .phrases
            .iter()
            .find(|(p, _)| rest.len() >= p.len() && rest[..p.len()] == p[..]);
        let unit: Vec<Alternative> = match synonym {
            Some((phrase, group)) => {
                i += phrase.len();
                let mut alts: Vec<Alternative> =
                    a.groups[*group].iter().cloned().map(Alternative).collect();
                // The typed word's stems too ("presiones" → the group, and "presion*").
                if let [word] = &phrase[..] {
                    alts.extend(stems(word).into_iter().map(|s| Alternative(vec![s])));
                }
                alts
            }
            None => {
                let word = &rest[0];
                i += 1;
                if word.chars().count() < 2 {
                    continue;
                }
                std::iter::once(word.clone())
                    .chain(stems(word))
                    .map(|w| Alternative(vec![w]))
                    .collect()
            }
        };
        if !units.contains(&unit) {
            units.push(unit);
        }
    }
    SearchQuery { units }
}

impl SearchQuery {
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// An FTS5 MATCH expression. Words hold only letters, digits and marks (folded), so quoting
    /// them is safe.
    pub fn fts5(&self) -> String {
        self.units
            .iter()
            .map(|unit| {
                let alts: Vec<String> = unit
                    .iter()
                    .map(|Alternative(w)| format!("\"{}\"*", w.join(" ")))
                    .collect();
                format!("({})", alts.join(" OR "))
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// A `to_tsquery('simple', …)` expression: phrases with `<->`, the last word a prefix.
    pub fn tsquery(&self) -> String {
        self.units
            .iter()
            .map(|unit| {
                let alts: Vec<String> = unit
                    .iter()
                    .map(|Alternative(w)| {
                        let last = w.len() - 1;
                        w.iter()
                            .enumerate()
                            .map(|(n, word)| {
                                if n == last {
                                    format!("'{word}':*")
                                } else {
                                    format!("'{word}'")
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(" <-> ")
                    })
                    .collect();
                format!("({})", alts.join(" | "))
            })
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// Whether `plain` holds every unit, read the way the index reads a post (for short lists
    /// searched in memory, such as the directory of groups).
    pub fn matches_text(&self, plain: &str) -> bool {
        let indexed = index_text(plain);
        let tokens: Vec<&str> = indexed.split(' ').collect();
        self.units.iter().all(|unit| {
            unit.iter().any(|Alternative(words)| {
                let n = words.len();
                tokens.windows(n).any(|window| {
                    window[..n - 1]
                        .iter()
                        .zip(&words[..n - 1])
                        .all(|(t, w)| t == w)
                        && window[n - 1].starts_with(words[n - 1].as_str())
                })
            })
        })
    }

    /// Every word the snippet should highlight (a word of the text matches when it starts with
    /// one of these).
    pub fn highlights(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for Alternative(words) in self.units.iter().flatten() {
            for w in words {
                if !out.contains(w) {
                    out.push(w.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_synonym_file_parses_and_every_phrase_folds_to_words() {
        let file: SynonymFile = toml::from_str(SYNONYMS_FILE).unwrap();
        assert!(file.group.len() >= 5);
        for g in &file.group {
            assert!(
                ["diabetes", "hypertension", "bariatric", "general"]
                    .contains(&g.condition.as_str()),
                "unknown condition {:?}",
                g.condition
            );
            for w in &g.words {
                let words = words_of(&text::fold(w));
                assert!(
                    !words.is_empty() && words.len() <= MAX_PHRASE_WORDS,
                    "synonym {w:?} is empty or longer than {MAX_PHRASE_WORDS} words"
                );
            }
        }
        assert_eq!(ANALYZER.groups.len(), file.group.len());
    }

    #[test]
    fn spanish_and_english_word_forms_share_a_stem() {
        for (a, b) in [
            ("caminar", "caminando"),
            ("caminar", "camine"),
            ("desayuno", "desayunan"),
            ("walking", "walked"),
            ("studies", "study"),
        ] {
            let query = parse_query(a);
            let index = index_text(b);
            let found = query.units[0]
                .iter()
                .any(|Alternative(w)| index.split(' ').any(|t| t.starts_with(w[0].as_str())));
            assert!(
                found,
                "{a} should find {b} (query {query:?}, index {index:?})"
            );
        }
    }

    #[test]
    fn a_synonym_brings_its_group_and_phrases_win_over_words() {
        let q = parse_query("Presión arterial alta");
        assert_eq!(q.units.len(), 2, "{q:?}");
        assert!(q.units[0].contains(&Alternative(vec!["blood".into(), "pressure".into()])));
        assert!(q.units[0].contains(&Alternative(vec!["रक्तचाप".into()])));
        assert!(q.fts5().contains("\"blood pressure\"*"));
        assert!(q.tsquery().contains("'blood' <-> 'pressure':*"));
    }

    #[test]
    fn short_texts_are_matched_like_the_index() {
        let q = parse_query("presión");
        assert!(q.matches_text("Hypertension support, Jalisco"));
        assert!(q.matches_text("Vivir con la presión alta"));
        assert!(!q.matches_text("Diabetes tipo 2"));
        assert!(parse_query("caminar grupo").matches_text("Grupo de caminata y caminando"));
        assert!(!parse_query("caminar grupo").matches_text("Caminando juntos"));
    }

    #[test]
    fn devanagari_is_neither_split_nor_stemmed() {
        assert_eq!(index_text("रक्तचाप की दवा"), "रक्तचाप की दवा");
        let q = parse_query("नींद");
        assert_eq!(q.units, vec![vec![Alternative(vec!["नींद".into()])]]);
    }

    #[test]
    fn one_letter_words_are_left_out_and_units_are_capped() {
        assert!(parse_query("a y o").is_empty());
        let many = parse_query("uno dos tres cuatro cinco seis siete ocho nueve diez");
        assert_eq!(many.units.len(), text::MAX_QUERY_TERMS);
    }
}
