//! Crisis phrase patterns and guards, compiled once into regexes over normalised text.
//!
//! A pattern is words separated by spaces, matched on whole words:
//! - `{die|be dead|}`: one of the alternatives (an alternative may be several words; an empty one
//!   makes the group optional),
//! - `suicid*`: any word that begins so, `*unga`: any word that ends so ("lunga", "kudunga"),
//!   `{chhod|band}*`: any word that begins like one of the alternatives ends it,
//! - `...`: up to three other words.
//!
//! Each word is normalised like members' text (`normalise`), so "don't" or "Suicídio" may be
//! written as people write them. Guards are patterns for everyday idioms ("dying to try",
//! "me muero de risa"): the words they match are taken out of the text before the phrases are
//! looked for, so "I'm dying to try it" raises nothing while "dying to try it, and I want to die"
//! still does.

use regex::{Regex, RegexSet};

use super::concepts::{Bits, Concepts, sentences};
use super::normalise::{collapse_repeats, normalise, normalise_marked};

/// Words a `...` gap may skip.
const GAP_WORDS: usize = 3;

/// The compiled phrases and guards.
pub struct Matcher {
    /// The phrases as written, for explaining a match.
    sources: Vec<String>,
    phrases: RegexSet,
    /// The same phrases over text with its spaces taken out, for evasive spacing.
    squashed: RegexSet,
    guards: Option<Regex>,
    /// The concept layer, looked for sentence by sentence once the phrases found nothing.
    concepts: Option<Concepts>,
}

impl Matcher {
    /// Compiles phrases and guards; an error names the pattern at fault.
    pub fn new<'a>(
        phrases: impl IntoIterator<Item = &'a String>,
        guards: impl IntoIterator<Item = &'a String>,
    ) -> Result<Self, String> {
        let mut sources = Vec::new();
        let mut compiled = Vec::new();
        let mut flat = Vec::new();
        for p in phrases {
            if let Some((re, squashed)) = compile(p)? {
                sources.push(p.clone());
                compiled.push(re);
                flat.push(squashed);
            }
        }
        let mut guard_res = Vec::new();
        for g in guards {
            if let Some((re, _)) = compile(g)? {
                guard_res.push(format!("(?:{re})"));
            }
        }
        let phrases = RegexSet::new(&compiled).map_err(|e| e.to_string())?;
        let squashed = RegexSet::new(&flat).map_err(|e| e.to_string())?;
        let guards = if guard_res.is_empty() {
            None
        } else {
            Some(Regex::new(&guard_res.join("|")).map_err(|e| e.to_string())?)
        };
        Ok(Matcher {
            sources,
            phrases,
            squashed,
            guards,
            concepts: None,
        })
    }

    /// Adds the concept layer (`concepts`): a text none of the phrases match is still a match
    /// when one of its sentences, or two in a row, meets a combination of concepts.
    pub fn with_concepts(mut self, concepts: Concepts) -> Self {
        self.concepts = Some(concepts);
        self
    }

    /// The label of the first combination of concepts the text meets; `padded` is the whole text
    /// as `prepare` gives it.
    fn concept_match(&self, text: &str, padded: &str) -> Option<&str> {
        let concepts = self.concepts.as_ref()?;
        let wanted = concepts.candidates(padded);
        if wanted == 0 {
            return None;
        }
        let found: Vec<Bits> = sentences(text)
            .map(|s| concepts.present_among(&self.prepare(s).0, wanted))
            .collect();
        concepts.first_met(&found)
    }

    /// Each sentence as the phrases see it, with the concepts it holds: what a moderator needs
    /// to see why a text was, or was not, caught (the `explain_a_text` test).
    #[cfg(test)]
    pub fn trace(&self, text: &str) -> Vec<(String, Vec<&str>)> {
        sentences(text)
            .map(|s| {
                let padded = self.prepare(s).0;
                let names = self
                    .concepts
                    .as_ref()
                    .map(|c| c.names(c.present(&padded)))
                    .unwrap_or_default();
                (padded, names)
            })
            .collect()
    }

    /// The text as the phrases see it: normalised, with guarded idioms taken out; with it, when
    /// the text spaces its words evasively, the same with its spaces taken out.
    fn prepare(&self, text: &str) -> (String, Option<String>) {
        let (normalised, evasive) = normalise_marked(text);
        self.prepare_normalised(&normalised, evasive)
    }

    /// `prepare` for a text already in its normal form (`normalise_marked`).
    fn prepare_normalised(&self, normalised: &str, evasive: bool) -> (String, Option<String>) {
        let mut padded = format!(" {normalised} ");
        if let Some(guards) = &self.guards {
            // A match takes its trailing space, so a guard right after another is found on the
            // next pass; idioms rarely come more than twice in a row.
            for _ in 0..3 {
                let next = guards.replace_all(&padded, " ").into_owned();
                if next == padded {
                    break;
                }
                padded = next;
            }
        }
        let flat = evasive.then(|| collapse_repeats(&padded.replace(' ', "")));
        (padded, flat)
    }

    /// The index of the first phrase the text matches.
    fn first_match(&self, text: &str) -> Option<usize> {
        let (padded, flat) = self.prepare(text);
        if let Some(i) = self.phrases.matches(&padded).iter().next() {
            return Some(i);
        }
        flat.and_then(|f| self.squashed.matches(&f).iter().next())
    }

    pub fn is_match(&self, text: &str) -> bool {
        let (normalised, evasive) = normalise_marked(text);
        self.is_match_normalised(text, &normalised, evasive)
    }

    /// `is_match` when the caller has the text's normal form already (`normalise_marked`).
    pub fn is_match_normalised(&self, text: &str, normalised: &str, evasive: bool) -> bool {
        let (padded, flat) = self.prepare_normalised(normalised, evasive);
        self.phrases.is_match(&padded)
            || flat.is_some_and(|f| self.squashed.is_match(&f))
            || self.concept_match(text, &padded).is_some()
    }

    /// The first phrase (as written in the file) that the text matches, or else the combination
    /// of concepts it meets ("concepts: <name> (<concepts>)").
    pub fn explain(&self, text: &str) -> Option<&str> {
        match self.first_match(text) {
            Some(i) => Some(self.sources[i].as_str()),
            None => self.concept_match(text, &self.prepare(text).0),
        }
    }
}

/// One parsed piece of a pattern.
enum Item {
    /// A normalised word (one written word may normalise to several: "self-harm" → "self harm");
    /// `stem` when any ending may follow, `suffix` when any beginning may come before.
    Word {
        words: Vec<String>,
        stem: bool,
        suffix: bool,
    },
    /// `...`
    Gap,
    /// `{a|b|}`: each alternative a run of items (an empty run makes the group optional).
    Group(Vec<Vec<Item>>),
}

/// A run of items: words, stems, gaps and `{...}` groups.
fn parse(pattern: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or("a { without its }")?;
            let inner = &after[..end];
            if inner.contains('{') {
                return Err("groups do not nest".into());
            }
            let mut alternatives: Vec<Vec<Item>> =
                inner.split('|').map(parse).collect::<Result<_, _>>()?;
            let mut tail = &after[end + 1..];
            // `{chhod|chod}*`: any word that begins like one of the alternatives ends it.
            if let Some(t) = tail.strip_prefix('*') {
                for alt in &mut alternatives {
                    match alt.last_mut() {
                        Some(Item::Word { stem, .. }) => *stem = true,
                        None => {}
                        Some(_) => return Err("a * after a group needs a word at the end".into()),
                    }
                }
                tail = t;
            }
            items.push(Item::Group(alternatives));
            rest = tail.trim_start();
            continue;
        }
        let end = rest.find([' ', '{']).unwrap_or(rest.len());
        let item = &rest[..end];
        rest = rest[end..].trim_start();
        if item.contains('}') || item.contains('|') {
            return Err("a } or | outside a group".into());
        }
        if item == "..." {
            items.push(Item::Gap);
            continue;
        }
        let (word, stem) = match item.strip_suffix('*') {
            Some(w) => (w, true),
            None => (item, false),
        };
        let (word, suffix) = match word.strip_prefix('*') {
            Some(w) if !w.is_empty() => (w, true),
            _ => (word, false),
        };
        let words: Vec<String> = if suffix {
            vec![normalise_suffix(word)?]
        } else {
            normalise(word)
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        if !words.is_empty() {
            items.push(Item::Word {
                words,
                stem,
                suffix,
            });
        }
    }
    Ok(items)
}

/// A word ending (`*unga`, `*ूंगी`) in the matching form. Normalising drops a vowel sign with no
/// letter before it, so the ending is normalised behind a letter of its script, which is then
/// taken off again.
fn normalise_suffix(ending: &str) -> Result<String, String> {
    let devanagari = ending
        .chars()
        .any(|c| ('\u{0900}'..='\u{097F}').contains(&c));
    let lead = if devanagari { 'ह' } else { 'x' };
    let folded = normalise(&format!("{lead}{ending}"));
    match folded.strip_prefix(lead) {
        Some(rest) if !rest.is_empty() && !rest.contains(' ') => Ok(rest.to_owned()),
        _ => Err(format!("the ending *{ending} is not one word")),
    }
}

/// Items → a regex over " word word ... " (each word followed by one space).
fn spaced(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Item::Word {
                words,
                stem,
                suffix,
            } => {
                if *suffix {
                    out.push_str("[^ ]*");
                }
                let (last, first) = words
                    .split_last()
                    .map_or((None, &[][..]), |(l, f)| (Some(l), f));
                for w in first {
                    out.push_str(&format!("{} ", regex::escape(w)));
                }
                if let Some(last) = last {
                    out.push_str(&regex::escape(last));
                    out.push_str(if *stem { "[^ ]* " } else { " " });
                }
            }
            Item::Gap => out.push_str(&format!("(?:[^ ]+ ){{0,{GAP_WORDS}}}")),
            Item::Group(alts) => {
                let alts: Vec<String> = alts.iter().map(|a| spaced(a)).collect();
                out.push_str(&format!("(?:{})", alts.join("|")));
            }
        }
    }
    out
}

/// Characters a stem may run on for in squashed text, and a gap.
const SQUASHED_STEM: usize = 8;
const SQUASHED_GAP: usize = 24;

/// Items → a regex over text with its spaces taken out ("iwantodie"), for texts whose word
/// boundaries are not the member's own (`normalise_marked`). Repeated letters were cut to one
/// across the lost boundaries too ("want"+"to" → "wanto"), so a word's first letter is optional
/// when the word before may end with it. `ends` holds the letters the text so far may end with
/// (`None`: anything, after a stem or gap); returns the letters this run may end with.
fn squashed(items: &[Item], ends: Option<Vec<char>>, out: &mut String) -> Option<Vec<char>> {
    let mut ends = ends;
    for item in items {
        match item {
            Item::Word {
                words,
                stem,
                suffix,
            } => {
                if *suffix {
                    out.push_str(&format!("[^ ]{{0,{SQUASHED_STEM}}}"));
                    ends = None;
                }
                let joined = words.concat();
                let mut chars = joined.chars();
                if let Some(first) = chars.next() {
                    let escaped = regex::escape(&first.to_string());
                    if ends.as_ref().is_some_and(|e| e.contains(&first)) {
                        out.push_str(&format!("(?:{escaped})?"));
                    } else {
                        out.push_str(&escaped);
                    }
                    out.push_str(&regex::escape(chars.as_str()));
                }
                if *stem {
                    out.push_str(&format!("[^ ]{{0,{SQUASHED_STEM}}}"));
                    ends = None;
                } else {
                    ends = joined.chars().last().map(|c| vec![c]);
                }
            }
            Item::Gap => {
                out.push_str(&format!("[^ ]{{0,{SQUASHED_GAP}}}"));
                ends = None;
            }
            Item::Group(alts) => {
                let mut union: Option<Vec<char>> = Some(Vec::new());
                let mut parts = Vec::new();
                for alt in alts {
                    let mut part = String::new();
                    let alt_ends = squashed(alt, ends.clone(), &mut part);
                    parts.push(part);
                    union = match (union, alt_ends) {
                        (Some(mut u), Some(a)) => {
                            u.extend(a);
                            Some(u)
                        }
                        _ => None,
                    };
                }
                out.push_str(&format!("(?:{})", parts.join("|")));
                ends = union;
            }
        }
    }
    ends
}

/// One pattern → its spaced regex (leading space included) and its squashed one. `None` for a
/// pattern with no words.
pub(super) fn compile(pattern: &str) -> Result<Option<(String, String)>, String> {
    let items = parse(pattern).map_err(|e| format!("crisis pattern {pattern:?}: {e}"))?;
    let body = spaced(&items);
    if body.is_empty() {
        return Ok(None);
    }
    let mut flat = String::new();
    squashed(&items, Some(Vec::new()), &mut flat);
    Ok(Some((format!(" {body}"), flat)))
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    fn matcher(phrases: &[&str], guards: &[&str]) -> Matcher {
        let p: Vec<String> = phrases.iter().map(|s| s.to_string()).collect();
        let g: Vec<String> = guards.iter().map(|s| s.to_string()).collect();
        Matcher::new(&p, &g).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn patterns_match_whole_words_with_alternatives_stems_and_gaps() {
        let m = matcher(
            &[
                "want to {die|be dead}",
                "{kill|end} {myself|my life}",
                "suicid*",
                "no quiero ... vivir",
            ],
            &[],
        );
        assert!(m.is_match("I just want to die."));
        assert!(m.is_match("i want to be dead"));
        assert!(m.is_match("I'll end my life"));
        assert!(m.is_match("me quiero suicidar"));
        assert!(m.is_match("no quiero seguir aquí vivir"));
        assert!(!m.is_match("I want to diet before surgery"));
        assert!(!m.is_match("no quiero comer más pan porque quiero vivir"));
        assert_eq!(m.explain("pensé en suicidarme"), Some("suicid*"));
    }

    #[test]
    fn a_star_after_a_group_stems_every_alternative() {
        let m = matcher(&["insulin lena {chhod|band}*"], &[]);
        assert!(m.is_match("insulin lena chhod diya"));
        assert!(m.is_match("insulin lena chhodungi"));
        assert!(m.is_match("insulin lena bandh kar diya"));
        assert!(!m.is_match("insulin lena bhool gayi"));
    }

    #[test]
    fn optional_words_and_guards() {
        let m = matcher(
            &["{i|im|} dying", "cut myself"],
            &["dying to {try|see}", "cut myself a {slice|piece}"],
        );
        assert!(!m.is_match("I'm dying to try that recipe"));
        assert!(!m.is_match("I cut myself a slice of cake"));
        assert!(m.is_match("I cut myself a slice of cake and then I cut myself again"));
        assert!(m.is_match("honestly i'm dying inside"));
    }

    #[test]
    fn evasive_spacing_meets_the_phrases() {
        let m = matcher(
            &[
                "{want|wanna} to die",
                "kill myself",
                "me quiero morir",
                "suicid*",
            ],
            &[],
        );
        assert!(m.is_match("i w a n t  t o  d i e"));
        assert!(m.is_match("I W A N N A   T O   D I E"));
        assert!(m.is_match("going to kill\u{200B}my\u{200B}self"));
        assert!(m.is_match("m e  q u i e r o  m o r i r"));
        assert!(m.is_match("s u i c i d a l today"));
        assert_eq!(m.explain("k i l l  m y s e l f"), Some("kill myself"));
        // Only spaced-out or invisibly split text loses its word boundaries.
        assert!(!m.is_match("I want to diet"));
        assert!(!m.is_match("s o  t i r e d  t o d a y"));
    }

    #[test]
    fn bad_patterns_are_refused_by_name() {
        let p = vec!["{kill myself".to_string()];
        let err = Matcher::new(&p, &[]).err().unwrap_or_default();
        assert!(err.contains("{kill myself"), "{err}");
    }
}
