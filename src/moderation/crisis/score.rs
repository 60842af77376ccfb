//! The crisis scorer: a second, statistical reading of a post beside the rules
//! (`moderation/crisis-scorer.tsv`, trained by `scripts/crisis_scorer.py`, which computes the same
//! score). A post's features are its words (`w:`), word pairs (`b:`) and groups of 3 to 5 letters
//! inside a word (`c:`, `<` and `>` mark its edges), after the rules' own normalisation; each
//! counts 1/sqrt(the number of its features). The score is the model's bias plus the weights of
//! the features it knows; at the threshold or above, the post is a possible crisis, if it has at
//! least `min_words` words: short chat lines ("I agree", "I did it!") are mostly their "I", and
//! the corpora it was trained and measured on hold few of them.
//!
//! The file is plain text a moderator can read: `#` comments (how it was trained), then
//! `threshold<TAB>value`, `min_words<TAB>value`, `bias<TAB>value` and one `feature<TAB>weight`
//! per line.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::normalise::normalise;

/// A feature's name hashed as it is built (FNV-1a, 64 bits): screening a post makes no string
/// per feature, and the model's names are hashed the same way when it is read.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const START: Fnv = Fnv(0xcbf2_9ce4_8422_2325);

    fn with(self, bytes: &[u8]) -> Fnv {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Fnv(h)
    }
}

/// The keys are hashes already: the map uses them as they are.
#[derive(Default)]
struct Hashed(u64);

impl Hasher for Hashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash = BuildHasherDefault<Hashed>;

pub struct Scorer {
    threshold: f64,
    min_words: usize,
    bias: f64,
    weights: HashMap<u64, f64, ByHash>,
}

impl Scorer {
    /// Reads a model file; what is wrong with it, with its line, otherwise.
    pub fn parse(text: &str) -> Result<Scorer, String> {
        let (mut threshold, mut bias, mut min_words) = (None, None, 0);
        let mut weights = HashMap::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .rsplit_once('\t')
                .ok_or_else(|| format!("line {}: no tab", n + 1))?;
            if key == "min_words" {
                min_words = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("line {}: min_words must be a whole number", n + 1))?;
                continue;
            }
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| format!("line {}: {value:?} is not a number", n + 1))?;
            match key {
                "threshold" => threshold = Some(value),
                "bias" => bias = Some(value),
                _ => {
                    if weights
                        .insert(Fnv::START.with(key.as_bytes()).0, value)
                        .is_some()
                    {
                        return Err(format!(
                            "line {}: {key:?} is there twice (or shares a hash)",
                            n + 1
                        ));
                    }
                }
            }
        }
        Ok(Scorer {
            threshold: threshold.ok_or("no threshold line")?,
            min_words,
            bias: bias.ok_or("no bias line")?,
            weights,
        })
    }

    /// The score of a text (higher: more like the crisis posts it was trained on).
    pub fn score(&self, text: &str) -> f64 {
        self.score_features(&Features::of(&normalise(text)))
    }

    fn score_features(&self, feats: &Features) -> f64 {
        if feats.distinct.is_empty() {
            return self.bias;
        }
        // Summed in the order the features first appear, the same on every run.
        let sum: f64 = feats
            .distinct
            .iter()
            .filter_map(|f| self.weights.get(f))
            .sum();
        self.bias + sum / (feats.distinct.len() as f64).sqrt()
    }

    /// Whether a text, already in the rules' normal form (`normalise`), is long enough and its
    /// score reaches the threshold.
    pub fn flags_normalised(&self, normalised: &str) -> bool {
        let feats = Features::of(normalised);
        feats.words >= self.min_words && self.score_features(&feats) >= self.threshold
    }

    #[cfg(test)]
    pub fn flags(&self, text: &str) -> bool {
        self.flags_normalised(&normalise(text))
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

/// A text's distinct features (hashed, in the order they first appear), and how many words it has.
struct Features {
    distinct: Vec<u64>,
    words: usize,
}

impl Features {
    fn of(normalised: &str) -> Features {
        let word = Fnv::START.with(b"w:");
        let pair = Fnv::START.with(b"b:");
        let group = Fnv::START.with(b"c:");
        let mut seen: HashSet<u64, ByHash> = HashSet::default();
        let mut distinct = Vec::new();
        let mut add = |h: Fnv| {
            if seen.insert(h.0) {
                distinct.push(h.0);
            }
        };
        let (mut padded, mut bounds) = (String::new(), Vec::new());
        let mut words = 0;
        let mut previous: Option<&str> = None;
        for w in normalised.split(' ').filter(|w| !w.is_empty()) {
            words += 1;
            add(word.with(w.as_bytes()));
            if let Some(p) = previous {
                add(pair.with(p.as_bytes()).with(b"_").with(w.as_bytes()));
            }
            previous = Some(w);
            padded.clear();
            padded.push('<');
            padded.push_str(w);
            padded.push('>');
            bounds.clear();
            bounds.extend(padded.char_indices().map(|(i, _)| i));
            bounds.push(padded.len());
            let chars = bounds.len() - 1;
            for n in 3..=5 {
                for i in 0..(chars + 1).saturating_sub(n) {
                    add(group.with(&padded.as_bytes()[bounds[i]..bounds[i + n]]));
                }
            }
        }
        Features { distinct, words }
    }

    #[cfg(test)]
    fn contains(&self, name: &str) -> bool {
        self.distinct.contains(&Fnv::START.with(name.as_bytes()).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_of_a_text() {
        let f = Features::of(&normalise("I can't go on!!"));
        assert_eq!(f.words, 4);
        for want in [
            "w:i",
            "w:cant",
            "b:cant_go",
            "b:go_on",
            "c:<i>",
            "c:<ca",
            "c:ant>",
            "c:<cant",
        ] {
            assert!(f.contains(want), "{want}");
        }
        // Groups of 3 to 5 characters, the edges counted.
        assert!(!f.contains("c:<cant>") && !f.contains("c:<g"));
        // "i", "cant", "go", "on"; 3 pairs; groups: <i> | <ca can ant nt> <can cant ant> <cant cant>
        // | <go go> <go> | <on on> <on>.
        assert_eq!(f.distinct.len(), 4 + 3 + 1 + 9 + 3 + 3);
        assert!(Features::of(&normalise("  ")).distinct.is_empty());
    }

    /// The built-in model scores as `scripts/crisis_scorer.py score` does (printed to 6 places
    /// there): the same normalisation, features and sum, in every language and an evasion.
    #[test]
    fn the_built_in_model_scores_as_the_training_script() {
        let s = Scorer::parse(super::super::SCORER).unwrap_or_else(|e| panic!("{e}"));
        for (text, python) in [
            (
                "I have 40 of my sleeping pills saved up. I think this weekend.",
                2.104994,
            ),
            ("Honestly I want to die some days", 1.887076),
            ("My sugar was 180 this morning", -3.423253),
            (
                "ya no puedo más con esto, hoy me despido de todos",
                3.020670,
            ),
            ("आज रात के बाद मैं किसी को परेशान नहीं करूंगा", 1.795847),
            (
                "bas aaj raat ke baad kisi ko pareshan nahi karungi",
                3.309546,
            ),
            ("ｓｕｉｃｉｄｅ k*ll m y s e l f", 2.894793),
            ("", -1.650400),
        ] {
            let rust = s.score(text);
            assert!(
                (rust - python).abs() < 5e-6,
                "{text}: {rust} against {python}"
            );
        }
        assert!((s.threshold() - 0.9148).abs() < 1e-12);
        // Short chat lines are not scored, however high their score.
        let short = "Honestly I want to die some days";
        assert!(s.score(short) >= s.threshold() && !s.flags(short));
        assert!(s.flags("I have 40 of my sleeping pills saved up. I think this weekend."));
    }

    #[test]
    fn a_broken_file_is_refused() {
        assert!(Scorer::parse("threshold\t1\n").is_err());
        assert!(Scorer::parse("threshold\t1\nbias\tx\n").is_err());
        let s = Scorer::parse("# c\nthreshold\t0.1\nbias\t-1\nw:die\t3\n")
            .unwrap_or_else(|e| panic!("{e}"));
        // "die": w:die and 6 letter groups, so 3/sqrt(7) above the bias.
        assert!((s.score("die") - (-1.0 + 3.0 / 7f64.sqrt())).abs() < 1e-12);
        assert!(s.score("die") > s.score("diet"));
        assert!((s.threshold() - 0.1).abs() < 1e-12);
        assert!(s.flags("die") && !s.flags("my diet"));
        let long = Scorer::parse("threshold\t0.5\nmin_words\t2\nbias\t0\nw:die\t3\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!long.flags("die") && long.flags("die die"));
        assert!(Scorer::parse("threshold\t1\nmin_words\t1.5\nbias\t0\n").is_err());
    }
}
