//! The concept layer: beside the exact phrases, a text is also a crisis when one sentence (or two
//! sentences in a row) holds every concept of a combination and none of its blocking ones.
//!
//! A concept is a named list of patterns in `crisis.toml` (`[concepts.death]`, `[concepts.intent]`,
//! ...; the same syntax as the phrases), a combination names the concepts that must all be there
//! and those that rule it out:
//!
//! ```toml
//! [[combinations]]
//! name = "a wish or plan to die"
//! all = ["self", "death", "intent"]
//! none = ["others", "fear", "past"]
//! ```
//!
//! So "I have enough insulin to end it" (self + death + intent) is caught without a phrase for
//! it, while "I was afraid I'd die in surgery" (fear) or "my uncle died" (no intent) are not.
//! Each concept's patterns are compiled once into one regex (their alternation). A text is first
//! read, as a whole, for the concepts some combination needs (most everyday posts stop there);
//! only then is each sentence read once per concept, so a text costs time linear in its length.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

use super::patterns::compile;

/// A set of concepts, one bit each.
pub type Bits = u128;
const ONE: Bits = 1;

/// One combination as `crisis.toml` writes it.
#[derive(Deserialize, Debug, Clone)]
pub struct Combination {
    pub name: String,
    pub all: Vec<String>,
    #[serde(default)]
    pub none: Vec<String>,
}

/// A compiled combination: bit sets over the concepts.
struct Rule {
    all: Bits,
    none: Bits,
    /// The concepts of `all`, those fewest combinations use first: a rare concept ("poison",
    /// "crash") is absent from most texts, so reading it first settles most combinations at
    /// once, before the common ones ("self", "intent") are read.
    order: Vec<usize>,
    /// "concepts: <name> (<all>)", to show moderators why a text was flagged.
    label: String,
}

/// The compiled concepts and combinations.
pub struct Concepts {
    /// Each concept's patterns as one regex, by bit. (One regex per concept, asked only whether
    /// it matches, is several times faster than a `RegexSet` of every pattern.)
    concepts: Vec<Option<Regex>>,
    /// The concepts' names, by bit, to show what a sentence holds (the explaining test).
    #[cfg(test)]
    names: Vec<String>,
    rules: Vec<Rule>,
}

/// At most this many concepts (one bit each).
const MAX_CONCEPTS: usize = Bits::BITS as usize;

impl Concepts {
    /// Compiles the concepts (name → patterns, every language together) and the combinations
    /// over them; an error names the pattern or the concept at fault.
    pub fn new(
        concepts: &BTreeMap<String, Vec<String>>,
        combinations: &[Combination],
    ) -> Result<Self, String> {
        if concepts.len() > MAX_CONCEPTS {
            return Err(format!("at most {MAX_CONCEPTS} crisis concepts"));
        }
        let mut bit = BTreeMap::new();
        let mut compiled = Vec::new();
        for (i, (name, patterns)) in concepts.iter().enumerate() {
            bit.insert(name.as_str(), ONE << i);
            let mut alternatives = Vec::new();
            for p in patterns {
                if let Some((re, _)) = compile(p).map_err(|e| format!("concept {name:?}: {e}"))? {
                    alternatives.push(format!("(?:{re})"));
                }
            }
            let re = if alternatives.is_empty() {
                None
            } else {
                Some(
                    Regex::new(&alternatives.join("|"))
                        .map_err(|e| format!("concept {name:?}: {e}"))?,
                )
            };
            compiled.push(re);
        }
        let mask = |names: &[String], rule: &str| -> Result<Bits, String> {
            names.iter().try_fold(0, |m, n| {
                bit.get(n.as_str())
                    .map(|b| m | b)
                    .ok_or_else(|| format!("combination {rule:?}: no concept named {n:?}"))
            })
        };
        let mut rules = Vec::new();
        for c in combinations {
            if c.all.is_empty() {
                return Err(format!("combination {:?}: `all` is empty", c.name));
            }
            rules.push(Rule {
                all: mask(&c.all, &c.name)?,
                none: mask(&c.none, &c.name)?,
                order: Vec::new(),
                label: format!("concepts: {} ({})", c.name, c.all.join(" + ")),
            });
        }
        let uses = |i: usize| rules.iter().filter(|r| r.all & (ONE << i) != 0).count();
        let uses: Vec<usize> = (0..compiled.len()).map(uses).collect();
        for rule in &mut rules {
            let mut order: Vec<usize> = (0..compiled.len())
                .filter(|i| rule.all & (ONE << i) != 0)
                .collect();
            order.sort_by_key(|&i| uses[i]);
            rule.order = order;
        }
        Ok(Concepts {
            concepts: compiled,
            #[cfg(test)]
            names: concepts.keys().cloned().collect(),
            rules,
        })
    }

    /// The concepts found in one sentence as the phrases see it (normalised, padded with spaces,
    /// guarded idioms taken out), as a bit set.
    #[cfg(test)]
    pub fn present(&self, padded: &str) -> Bits {
        self.present_among(padded, Bits::MAX)
    }

    /// The concepts of `wanted` found in one sentence: only those are read.
    pub fn present_among(&self, padded: &str, wanted: Bits) -> Bits {
        self.concepts
            .iter()
            .enumerate()
            .filter(|(i, _)| wanted & (ONE << i) != 0)
            .filter(|(_, re)| re.as_ref().is_some_and(|re| re.is_match(padded)))
            .fold(0, |m, (i, _)| m | ONE << i)
    }

    /// The names of the concepts in a bit set (for the explaining test).
    #[cfg(test)]
    pub fn names(&self, found: Bits) -> Vec<&str> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| found & (ONE << i) != 0)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    /// Whether a whole text (prepared like a sentence) holds every concept of some combination,
    /// reading each concept at most once and only as far as needed. When it does not, no
    /// sentence of it can meet a combination.
    #[cfg(test)]
    pub fn possible(&self, padded: &str) -> bool {
        self.candidates(padded) != 0
    }

    /// The concepts worth reading sentence by sentence: those (wanted or blocking) of every
    /// combination whose concepts the whole text holds; 0 when there is none. A text's sentences
    /// are then read for these alone, so a text near one combination costs little more than
    /// one that is near none.
    pub fn candidates(&self, padded: &str) -> Bits {
        let (mut known, mut found) = (0, 0);
        let mut wanted: Bits = 0;
        for rule in &self.rules {
            let met = rule.order.iter().all(|&i| {
                let b = ONE << i;
                if known & b == 0 {
                    known |= b;
                    let hit = self
                        .concepts
                        .get(i)
                        .and_then(Option::as_ref)
                        .is_some_and(|re| re.is_match(padded));
                    if hit {
                        found |= b;
                    }
                }
                found & b != 0
            });
            if met {
                wanted |= rule.all | rule.none;
            }
        }
        wanted
    }

    /// The label of the first combination met by one sentence or by two in a row, given each
    /// sentence's concepts in order.
    pub fn first_met(&self, sentences: &[Bits]) -> Option<&str> {
        let met = |m: Bits| {
            self.rules
                .iter()
                .find(|r| m & r.all == r.all && m & r.none == 0)
        };
        let mut previous = None;
        for &m in sentences {
            let found = met(m).or_else(|| previous.and_then(|p: Bits| met(p | m)));
            if let Some(rule) = found {
                return Some(rule.label.as_str());
            }
            previous = Some(m);
        }
        None
    }
}

/// The sentences of a text: split after `.` (when a space or the end follows, so "k.i.l.l" stays
/// one word), `!`, `?`, `;`, `।`, `॥` and line breaks. Commas do not split: "I'm a burden, they
/// would be better off" is one thought.
pub fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let ends = match c {
                '!' | '?' | ';' | '\n' | '।' | '॥' => true,
                '.' => chars.peek().is_none_or(|(_, n)| n.is_whitespace()),
                _ => false,
            };
            if ends {
                let at = i + c.len_utf8();
                let (sentence, after) = rest.split_at(at);
                rest = after;
                return Some(sentence);
            }
        }
        let sentence = rest;
        rest = "";
        Some(sentence)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concepts(defs: &[(&str, &[&str])], combos: &[(&str, &[&str], &[&str])]) -> Concepts {
        let defs: BTreeMap<String, Vec<String>> = defs
            .iter()
            .map(|(n, ps)| (n.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect();
        let combos: Vec<Combination> = combos
            .iter()
            .map(|(n, all, none)| Combination {
                name: n.to_string(),
                all: all.iter().map(|s| s.to_string()).collect(),
                none: none.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        Concepts::new(&defs, &combos).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sentences_split_on_ends_not_on_dotted_letters() {
        let s: Vec<&str> = sentences("bought a rope. k.i.l.l me! ok?fine\nलो। end").collect();
        assert_eq!(
            s,
            vec![
                "bought a rope.",
                " k.i.l.l me!",
                " ok?",
                "fine\n",
                "लो।",
                " end"
            ]
        );
        assert_eq!(sentences("").count(), 0);
        assert_eq!(sentences("no end").collect::<Vec<_>>(), vec!["no end"]);
    }

    #[test]
    fn combinations_need_all_and_none_of_the_blockers() {
        let c = concepts(
            &[
                ("self", &["i", "me"]),
                ("death", &["die", "end it"]),
                ("intent", &["want", "enough"]),
                ("fear", &["afraid"]),
            ],
            &[("wish", &["self", "death", "intent"], &["fear"])],
        );
        let self_ = c.present(" i ");
        let death = c.present(" die ");
        let intent = c.present(" want ");
        let fear = c.present(" afraid ");
        assert_eq!(
            c.first_met(&[self_ | death | intent]),
            Some("concepts: wish (self + death + intent)")
        );
        assert_eq!(c.first_met(&[self_ | death]), None);
        assert_eq!(c.first_met(&[self_ | death | intent | fear]), None);
        // Two sentences in a row are one window; three apart are not.
        assert!(c.first_met(&[self_ | intent, death]).is_some());
        assert!(c.first_met(&[self_ | intent, 0, death]).is_none());
        // A blocker in the next sentence does not undo a sentence that is a crisis on its own.
        assert!(c.first_met(&[self_ | death | intent, fear]).is_some());
    }

    #[test]
    fn a_text_without_the_needed_concepts_is_not_read_sentence_by_sentence() {
        let c = concepts(
            &[
                ("self", &["i"]),
                ("death", &["die"]),
                ("intent", &["want"]),
                ("fear", &["afraid"]),
            ],
            &[("wish", &["self", "death", "intent"], &["fear"])],
        );
        assert!(c.possible(" i want to die "));
        assert!(c.possible(" i am afraid. i want to die "));
        assert!(!c.possible(" i want to diet "));
        assert!(!c.possible(" afraid "));
    }

    #[test]
    fn concepts_match_whole_words_stems_and_endings() {
        let c = concepts(
            &[
                ("death", &["khatam kar*"]),
                ("self", &["main", "*ungi", "*ूंगी"]),
            ],
            &[("x", &["death", "self"], &[])],
        );
        assert!(c.first_met(&[c.present(" sab khatam karungi ")]).is_some());
        assert!(
            c.first_met(&[c.present(" sab khatam kar lungi ")])
                .is_some()
        );
        assert!(c.first_met(&[c.present(" khatam kar main ")]).is_some());
        assert_eq!(c.present(" khatamkar "), 0);
        assert_ne!(c.present(" खा लूंगी "), 0);
    }

    #[test]
    fn unknown_concepts_and_bad_patterns_are_refused() {
        let defs: BTreeMap<String, Vec<String>> =
            [("death".to_string(), vec!["die".to_string()])].into();
        let combo = |all: &str| Combination {
            name: "x".into(),
            all: vec![all.into()],
            none: vec![],
        };
        let err = Concepts::new(&defs, &[combo("dead")])
            .err()
            .unwrap_or_default();
        assert!(err.contains("\"dead\""), "{err}");
        let bad: BTreeMap<String, Vec<String>> =
            [("death".to_string(), vec!["{die".to_string()])].into();
        let err = Concepts::new(&bad, &[]).err().unwrap_or_default();
        assert!(err.contains("death") && err.contains("{die"), "{err}");
    }
}
