//! Crisis phrase patterns and guards, compiled once into regexes over normalised text.
//!
//! A pattern is words separated by spaces, matched on whole words:
//! - `{die|be dead|}`: one of the alternatives (an alternative may be several words; an empty one
//!   makes the group optional),
//! - `suicid*`: any word that begins so,
//! - `...`: up to three other words.
//!
//! Each word is normalised like members' text (`normalise`), so "don't" or "Suicídio" may be
//! written as people write them. Guards are patterns for everyday idioms ("dying to try",
//! "me muero de risa"): the words they match are taken out of the text before the phrases are
//! looked for, so "I'm dying to try it" raises nothing while "dying to try it, and I want to die"
//! still does.

use regex::{Regex, RegexSet};

use super::normalise::normalise;

/// Words a `...` gap may skip.
const GAP_WORDS: usize = 3;

/// The compiled phrases and guards.
pub struct Matcher {
    /// The phrases as written, for explaining a match.
    sources: Vec<String>,
    phrases: RegexSet,
    guards: Option<Regex>,
}

impl Matcher {
    /// Compiles phrases and guards; an error names the pattern at fault.
    pub fn new<'a>(
        phrases: impl IntoIterator<Item = &'a String>,
        guards: impl IntoIterator<Item = &'a String>,
    ) -> Result<Self, String> {
        let mut sources = Vec::new();
        let mut compiled = Vec::new();
        for p in phrases {
            if let Some(re) = compile(p)? {
                sources.push(p.clone());
                compiled.push(re);
            }
        }
        let mut guard_res = Vec::new();
        for g in guards {
            if let Some(re) = compile(g)? {
                guard_res.push(format!("(?:{re})"));
            }
        }
        let phrases = RegexSet::new(&compiled).map_err(|e| e.to_string())?;
        let guards = if guard_res.is_empty() {
            None
        } else {
            Some(Regex::new(&guard_res.join("|")).map_err(|e| e.to_string())?)
        };
        Ok(Matcher {
            sources,
            phrases,
            guards,
        })
    }

    /// The text as the phrases see it: normalised, with guarded idioms taken out.
    fn prepare(&self, text: &str) -> String {
        let mut padded = format!(" {} ", normalise(text));
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
        padded
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.phrases.is_match(&self.prepare(text))
    }

    /// The first phrase (as written in the file) that the text matches.
    pub fn explain(&self, text: &str) -> Option<&str> {
        let prepared = self.prepare(text);
        self.phrases
            .matches(&prepared)
            .iter()
            .next()
            .map(|i| self.sources[i].as_str())
    }
}

/// One pattern → a regex over " word word ... " (each word followed by one space, the text
/// starting with one). `None` for a pattern with no words.
fn compile(pattern: &str) -> Result<Option<String>, String> {
    let body = sequence(pattern).map_err(|e| format!("crisis pattern {pattern:?}: {e}"))?;
    Ok((!body.is_empty()).then(|| format!(" {body}")))
}

/// A run of items: words, stems, gaps and `{...}` groups.
fn sequence(pattern: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or("a { without its }")?;
            let inner = &after[..end];
            if inner.contains('{') {
                return Err("groups do not nest".into());
            }
            let alternatives = inner
                .split('|')
                .map(sequence)
                .collect::<Result<Vec<_>, _>>()?;
            out.push_str(&format!("(?:{})", alternatives.join("|")));
            rest = after[end + 1..].trim_start();
            continue;
        }
        let end = rest.find([' ', '{']).unwrap_or(rest.len());
        let item = &rest[..end];
        rest = rest[end..].trim_start();
        if item.contains('}') || item.contains('|') {
            return Err("a } or | outside a group".into());
        }
        if item == "..." {
            out.push_str(&format!("(?:[^ ]+ ){{0,{GAP_WORDS}}}"));
            continue;
        }
        let (word, stem) = match item.strip_suffix('*') {
            Some(w) => (w, true),
            None => (item, false),
        };
        // One written word may normalise to several ("self-harm" → "self harm").
        let words: Vec<String> = normalise(word).split(' ').map(regex::escape).collect();
        let Some((last, first)) = words.split_last() else {
            continue;
        };
        if last.is_empty() {
            continue;
        }
        for w in first {
            out.push_str(&format!("{w} "));
        }
        out.push_str(last);
        out.push_str(if stem { "[^ ]* " } else { " " });
    }
    Ok(out)
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
    fn bad_patterns_are_refused_by_name() {
        let p = vec!["{kill myself".to_string()];
        let err = Matcher::new(&p, &[]).err().unwrap_or_default();
        assert!(err.contains("{kill myself"), "{err}");
    }
}
