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

use std::collections::{BTreeSet, HashMap};

use super::normalise::normalise;

pub struct Scorer {
    threshold: f64,
    min_words: usize,
    bias: f64,
    weights: HashMap<String, f64>,
}

impl Scorer {
    /// Reads a model file; what is wrong with it, with its line, otherwise.
    pub fn parse(text: &str) -> Result<Scorer, String> {
        let (mut threshold, mut bias, mut min_words) = (None, None, 0);
        let mut weights = HashMap::new();
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
                    weights.insert(key.to_owned(), value);
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
        self.score_features(&features(text).0)
    }

    fn score_features(&self, feats: &BTreeSet<String>) -> f64 {
        if feats.is_empty() {
            return self.bias;
        }
        // In a fixed order, so the sum is the same on every run (and as Python's, to rounding).
        let sum: f64 = feats
            .iter()
            .filter_map(|f| self.weights.get(f.as_str()))
            .sum();
        self.bias + sum / (feats.len() as f64).sqrt()
    }

    /// Whether the text is long enough and its score reaches the threshold.
    pub fn flags(&self, text: &str) -> bool {
        let (feats, words) = features(text);
        words >= self.min_words && self.score_features(&feats) >= self.threshold
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

/// The distinct features of a text, and how many words it has.
fn features(text: &str) -> (BTreeSet<String>, usize) {
    let normalised = normalise(text);
    let words: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
    let mut feats = BTreeSet::new();
    for w in &words {
        feats.insert(format!("w:{w}"));
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        for n in 3..=5 {
            for gram in padded.windows(n) {
                feats.insert(format!("c:{}", gram.iter().collect::<String>()));
            }
        }
    }
    for pair in words.windows(2) {
        feats.insert(format!("b:{}_{}", pair[0], pair[1]));
    }
    (feats, words.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_of_a_text() {
        let (f, words) = features("I can't go on!!");
        assert_eq!(words, 4);
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
            assert!(f.contains(want), "{want}: {f:?}");
        }
        // Groups of 3 to 5 characters, the edges counted.
        assert!(!f.contains("c:<cant>") && !f.contains("c:<g"), "{f:?}");
        assert!(features("  ").0.is_empty());
    }

    /// The built-in model scores as `scripts/crisis_scorer.py score` does (printed to 6 places
    /// there): the same normalisation, features and sum, in every language and an evasion.
    #[test]
    fn the_built_in_model_scores_as_the_training_script() {
        let s = Scorer::parse(super::super::SCORER).unwrap_or_else(|e| panic!("{e}"));
        for (text, python) in [
            (
                "I have 40 of my sleeping pills saved up. I think this weekend.",
                1.745999,
            ),
            ("Honestly I want to die some days", 2.013214),
            ("My sugar was 180 this morning", -3.984033),
            (
                "ya no puedo más con esto, hoy me despido de todos",
                2.066350,
            ),
            ("आज रात के बाद मैं किसी को परेशान नहीं करूंगा", 0.900360),
            (
                "bas aaj raat ke baad kisi ko pareshan nahi karungi",
                0.537523,
            ),
            ("ｓｕｉｃｉｄｅ k*ll m y s e l f", 3.028109),
            ("", -1.379700),
        ] {
            let rust = s.score(text);
            assert!(
                (rust - python).abs() < 5e-6,
                "{text}: {rust} against {python}"
            );
        }
        assert!((s.threshold() - 0.5245).abs() < 1e-12);
        // Short chat lines are not scored, however high their score.
        assert!(s.score("I agree") >= s.threshold() && !s.flags("I agree"));
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
