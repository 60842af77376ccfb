//! The crisis flow: phrases that suggest someone may harm themselves (`moderation/crisis.toml`,
//! built in, or the file named by `MUTUAL_CRISIS_FILE`), and the crisis lines shown to that person alone
//! (`moderation/crisis_lines.toml`, the same list the help page shows), per country.
//!
//! Detection is a net, not a judgement: text and phrases are brought to one spelling
//! (`normalise`), then phrase patterns are looked for on word boundaries once everyday idioms
//! ("dying to try", "me muero de risa") are taken out (`patterns`). When no phrase matches, the
//! concept layer (`concepts`) looks, sentence by sentence, for combinations of concepts (oneself,
//! death and a wish or plan; all the pills and a plan; ...) that nothing rules out (someone
//! else, fear, the past). `moderation/corpus/` holds the texts it is checked against
//! (`corpus_recall_and_false_alarms` and the held-out sets).
//!
//! A match never deletes anything: the author sees the lines at once, the content leaves search
//! and public pages, an urgent case joins the queue and the moderators on duty are alerted.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::types::Locale;

mod concepts;
mod normalise;
mod patterns;
mod score;

use patterns::Matcher;
use score::Scorer;

const DEFAULT: &str = include_str!("../../moderation/crisis.toml");
const LINES: &str = include_str!("../../moderation/crisis_lines.toml");
const SCORER: &str = include_str!("../../moderation/crisis-scorer.tsv");

static LINES_FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
static PHRASES_FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
static SCORER_FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();

/// The operator's crisis phrases (`MUTUAL_CRISIS_FILE`), set at start before any text is screened.
pub fn set_phrases_file(path: Option<std::path::PathBuf>) {
    let _ = PHRASES_FILE.set(path);
}

/// The operator's crisis scorer model (`MUTUAL_CRISIS_SCORER_FILE`), set at start like the phrases.
pub fn set_scorer_file(path: Option<std::path::PathBuf>) {
    let _ = SCORER_FILE.set(path);
}

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

/// `crisis.toml`: phrase patterns and guards per language (see `patterns` for the syntax).
#[derive(Deserialize)]
struct File {
    phrases: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    guards: BTreeMap<String, Vec<String>>,
    /// The concept layer (`concepts`): concept name → language → patterns.
    #[serde(default)]
    concepts: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    combinations: Vec<concepts::Combination>,
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

/// A crisis line as a member is shown it, with its hours in their language.
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
    /// The line's own web page.
    #[serde(default)]
    pub url: String,
}

/// Compiles a crisis file's phrases and guards.
fn load(text: &str) -> Result<Matcher, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let matcher = Matcher::new(
        file.phrases.values().flatten(),
        file.guards.values().flatten(),
    )?;
    if file.combinations.is_empty() {
        return Ok(matcher);
    }
    let by_concept: BTreeMap<String, Vec<String>> = file
        .concepts
        .into_iter()
        .map(|(name, langs)| (name, langs.into_values().flatten().collect()))
        .collect();
    let layer = concepts::Concepts::new(&by_concept, &file.combinations)?;
    Ok(matcher.with_concepts(layer))
}

/// The phrases in force: those of the operator's file when it is readable and compiles, else
/// the built-in ones.
fn load_in_force(file: Option<&std::path::Path>) -> Result<Matcher, String> {
    if let Some(path) = file {
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| load(&t))
        {
            Ok(m) => return Ok(m),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "MUTUAL_CRISIS_FILE is unusable; using the built-in crisis phrases")
            }
        }
    }
    load(DEFAULT)
}

/// Compiles the phrases and reads the scorer once their files are set, just after start. Left to
/// the first screened text, it held that post or chat message (and every message of its room
/// behind it) for as long as compiling took: the 1,000-socket room's p99 was about 240 ms for it.
pub fn prepare() {
    let started = std::time::Instant::now();
    let (phrases, scorer) = (matcher().is_some(), scorer().is_some());
    tracing::info!(
        phrases,
        scorer,
        ms = started.elapsed().as_millis() as u64,
        "crisis detection ready"
    );
}

fn matcher() -> Option<&'static Matcher> {
    static MATCHER: OnceLock<Option<Matcher>> = OnceLock::new();
    MATCHER
        .get_or_init(|| {
            load_in_force(PHRASES_FILE.get().and_then(Option::as_deref))
                .map_err(
                    |e| tracing::error!(error = %e, "the built-in crisis phrases do not compile"),
                )
                .ok()
        })
        .as_ref()
}

/// Whether the text contains a crisis phrase (outside the guarded everyday idioms).
pub fn matches(body: &str) -> bool {
    matcher().is_some_and(|m| m.is_match(body))
}

/// The phrase (as written in the crisis file) that a text matches, to show moderators why it
/// was flagged.
pub fn matched_phrase(body: &str) -> Option<&'static str> {
    matcher().and_then(|m| m.explain(body))
}

/// The scorer in force: the operator's model file when it is readable and valid, else the
/// built-in one (`moderation/crisis-scorer.tsv`).
fn scorer() -> Option<&'static Scorer> {
    static SCORER_IN_FORCE: OnceLock<Option<Scorer>> = OnceLock::new();
    SCORER_IN_FORCE
        .get_or_init(|| {
            if let Some(Some(path)) = SCORER_FILE.get() {
                match std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| Scorer::parse(&t))
                {
                    Ok(s) => return Some(s),
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "MUTUAL_CRISIS_SCORER_FILE is unusable; using the built-in crisis scorer")
                    }
                }
            }
            Scorer::parse(SCORER)
                .map_err(|e| tracing::error!(error = %e, "the built-in crisis scorer is unreadable"))
                .ok()
        })
        .as_ref()
}

/// What crisis detection makes of a text. The rules (`matches`) open the crisis flow; the
/// scorer alone, a weaker signal measured beside them (`moderation/scorer-evaluation.txt`),
/// opens a "possible crisis" case for a moderator to read, and the author still sees the lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Neither the rules nor the scorer.
    Everyday,
    /// The scorer's score reached its threshold; no phrase or combination matched.
    Possible,
    /// A phrase or a combination of the rules matched.
    Crisis,
}

/// The rules first, then the scorer, on one normal form of the text.
pub fn read(body: &str) -> Reading {
    let (normalised, evasive) = normalise::normalise_marked(body);
    if matcher().is_some_and(|m| m.is_match_normalised(body, &normalised, evasive)) {
        Reading::Crisis
    } else if scorer().is_some_and(|s| s.flags_normalised(&normalised)) {
        Reading::Possible
    } else {
        Reading::Everyday
    }
}

/// The scorer's score of a text and its threshold, for the moderators' note on a possible crisis.
pub fn scored(body: &str) -> Option<(f64, f64)> {
    scorer().map(|s| (s.score(body), s.threshold()))
}

/// The country whose lines a member sees first when they have not set one.
pub fn default_country(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "US",
        Locale::Es => "MX",
        Locale::Hi => "IN",
    }
}

fn pick<'a>(map: &'a BTreeMap<String, String>, lang: &str) -> &'a str {
    map.get(lang)
        .or_else(|| map.get("en"))
        .map_or("", String::as_str)
}

fn line_for(entry: &LineEntry, locale: Locale) -> CrisisLine {
    let texts = entry.channels.iter().any(|c| c == "text");
    CrisisLine {
        text: texts.then(|| match locale {
            Locale::En => format!("Text {}", entry.number),
            Locale::Es => format!("Mensaje de texto al {}", entry.number),
            Locale::Hi => format!("{} पर मैसेज करें", entry.number),
        }),
        country: entry.country.clone(),
        languages: entry.languages.clone(),
        name: entry.name.clone(),
        phone: entry.number.clone(),
        hours: pick(&entry.hours, locale.as_str()).to_owned(),
        last_checked: entry.last_checked.to_string(),
        url: entry.url.clone(),
    }
}

/// The lines for a member: their country's lines first (whatever language those answer in: it
/// is the number that works where they are), then the other countries' lines that answer in the
/// member's language. Without a country, or one with no lines on file, the language's usual
/// country comes first (en → US, es → MX, hi → IN). Hours are in the member's language.
pub fn lines_for_country(country: Option<&str>, locale: Locale) -> Vec<CrisisLine> {
    let lang = locale.as_str();
    let wanted = country
        .map(|c| c.trim().to_ascii_uppercase())
        .map(|c| if c == "UK" { "GB".to_owned() } else { c })
        .filter(|c| entries().iter().any(|l| &l.country == c))
        .unwrap_or_else(|| default_country(locale).to_owned());
    let mut picked: Vec<&LineEntry> = entries()
        .iter()
        .filter(|l| l.country == wanted || l.languages.iter().any(|x| x == lang))
        .collect();
    // Stable: the file's order within each group.
    picked.sort_by_key(|l| l.country != wanted);
    picked.into_iter().map(|l| line_for(l, locale)).collect()
}

/// The lines for a member's language, the language's usual country first.
pub fn lines_for(locale: Locale) -> Vec<CrisisLine> {
    lines_for_country(None, locale)
}

/// A member's country setting as stored: an ISO code among the countries with lines on file
/// (`UK` is taken as `GB`), or `None` for "from my language" (an empty value).
pub fn parse_country(raw: &str) -> Result<Option<String>, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    let code = if code == "UK" { "GB".to_owned() } else { code };
    if entries().iter().any(|l| l.country == code) {
        Ok(Some(code))
    } else {
        Err("choose a country from the list, or none".into())
    }
}

/// The countries with lines on file, in the file's order: code and name in `locale`.
pub fn countries(locale: Locale) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in entries() {
        if !out.iter().any(|(c, _)| *c == l.country) {
            out.push((
                l.country.clone(),
                pick(&l.country_name, locale.as_str()).to_owned(),
            ));
        }
    }
    out
}

/// The lines for a member as stored: their country and language.
pub async fn lines_for_member(
    conn: &mut impl crate::store::AsDb,
    user_id: i64,
) -> crate::error::AppResult<Vec<CrisisLine>> {
    let (locale, country) = crate::db!(
        *conn,
        fetch_one as (String, Option<String>),
        "SELECT locale, country FROM users WHERE id = $1",
        user_id
    )?;
    Ok(lines_for_country(
        country.as_deref(),
        Locale::parse(&locale).unwrap_or_default(),
    ))
}

/// Every line, hours in English, for admins.
pub fn all_lines() -> Vec<CrisisLine> {
    entries().iter().map(|l| line_for(l, Locale::En)).collect()
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
        assert!(!matches("I want to diet before surgery"));
    }

    /// `heldout4-*.txt`, written before the concept layer was run on it and measured once at the
    /// end of that round (en 33%, es 58%, hi and hi-Latn 63%; false alarms en 10%, es 5%). The
    /// round-three concepts were then built by sign of risk with its misses in view (none of its
    /// lines was copied into a phrase), so it is held to the bar like the earlier held-out sets.
    #[test]
    fn heldout4_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout4-crisis.txt"));
        let everyday = corpus(read_corpus("heldout4-everyday.txt"));
        assert!(crisis.len() >= 40 && everyday.len() >= 80);
        let failures = measure(&m, "heldout4", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// What matching costs per message (debug build, so an upper bound): the everyday and the
    /// crisis texts of the corpora, timed apart, and all of them run together as one long post
    /// (time grows with length only). Printed, not asserted: the machine varies.
    #[test]
    fn cost_per_message_printed() {
        let m = in_force();
        let time = |texts: &[&str]| {
            let start = std::time::Instant::now();
            let caught = texts.iter().filter(|t| m.is_match(t)).count();
            (start.elapsed() / texts.len().max(1) as u32, caught)
        };
        let (mut everyday, mut crisis): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for name in ["", "heldout-", "heldout3-"] {
            let file = |kind: &str| read_corpus(Box::leak(format!("{name}{kind}.txt").into()));
            everyday.extend(corpus(file("everyday")).into_iter().map(|(_, t)| t));
            crisis.extend(corpus(file("crisis")).into_iter().map(|(_, t)| t));
        }
        let (per_everyday, false_alarms) = time(&everyday);
        let (per_crisis, caught) = time(&crisis);
        let long = everyday.join(". ");
        let (long_took, _) = time(&[long.as_str()]);
        println!(
            "{} everyday texts: {per_everyday:?} a text ({false_alarms} caught); {} crisis texts: \
             {per_crisis:?} a text ({caught} caught); one post of {} bytes: {long_took:?}",
            everyday.len(),
            crisis.len(),
            long.len()
        );
    }

    /// `heldout5-*.txt`, written blind (by someone who never saw the phrases, guards or
    /// concepts) and measured once per round: before round three recall 69%, after it 76%, false
    /// alarms 0.8% both times (`moderation/README.md`). Round four studied its misses by kind of
    /// wording, so it is now held to the bar like the other held-out sets.
    #[test]
    fn heldout5_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout5-crisis.txt"));
        let everyday = corpus(read_corpus("heldout5-everyday.txt"));
        assert!(crisis.len() >= 100 && everyday.len() >= 200);
        let failures = measure(&m, "heldout5", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// `heldout6-*.txt`, written blind on 2026-12-07 (178 crisis lines, 344 everyday posts) while
    /// round four was built, by someone who never saw the phrases, guards or corpora, and measured
    /// once after it (recall 70%, en 58%; false alarms 2.6%). Round five studied its misses by kind
    /// of wording, so it is now held to the bar like the other held-out sets.
    #[test]
    fn heldout6_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout6-crisis.txt"));
        let everyday = corpus(read_corpus("heldout6-everyday.txt"));
        assert!(crisis.len() >= 150 && everyday.len() >= 300);
        let failures = measure(&m, "heldout6", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// A blind set's figures, printed and not held to the bar; it must still hold at least
    /// `crisis` and `everyday` lines (a file cut short would print flattering figures).
    fn printed(set: &str, crisis: usize, everyday: usize) {
        let m = in_force();
        let file = |kind: &str| corpus(read_corpus(&format!("{set}-{kind}.txt")));
        let (c, e) = (file("crisis"), file("everyday"));
        assert!(c.len() >= crisis && e.len() >= everyday);
        let below = measure(&m, &format!("{set} (printed only)"), &c, &e);
        println!("{set} below the bar: {below:?}");
    }

    /// `heldout7-*.txt`, written blind on 2026-12-07 (212 crisis lines, 428 everyday posts) while
    /// round five was built, by someone who never saw the phrases, guards, concepts or corpora,
    /// and measured once after it: recall 42% (en 30%, es 50%, hi 51%, hi-Latn 41%), false
    /// alarms 3.3%, against 36% and 3.7% with the rules of the start of the round. Printed, not
    /// held to the bar: it is the figure for unseen text, and the next round may study it (then
    /// write a new blind set).
    #[test]
    fn heldout7_printed() {
        printed("heldout7", 200, 400);
    }

    /// `heldout8-*.txt`, written blind on 2026-12-07 (240 crisis lines, 480 everyday posts) by
    /// someone who saw neither the rules nor the corpora nor the scorer, and measured once after
    /// the scorer was built (`measure_files`): the rules alone 44% (en 44%, es 43%, hi 42%,
    /// hi-Latn 48%) with 2.1% false alarms; the rules then the scorer, as the server reads a text,
    /// 65% (en 69%, es 67%, hi 55%, hi-Latn 67%) with 3.3%. Printed, not held to the bar; the
    /// scorer has been trained on it since (heldout9's round).
    #[test]
    fn heldout8_printed() {
        printed("heldout8", 240, 480);
    }

    /// `heldout9-*.txt`, written blind on 2026-12-07 (240 crisis lines, 480 everyday posts) by
    /// someone who saw neither the rules nor the corpora nor the scorer, and measured once before
    /// anything was tuned on it (`measure_files`, the scorer of heldout8's round): the rules alone
    /// 39% (en 49%, es 40%, hi 33%, hi-Latn 31%) with 2.5% false alarms; the rules then the
    /// scorer 62.5% (en 79%, es 70%, hi 45%, hi-Latn 50%) with 3.5%. The scorer has been trained
    /// on it since (and on train10, Hindi: 38% with both tiers, 5.2% false alarms, measured once
    /// before). Printed, not held to the bar.
    #[test]
    fn heldout9_printed() {
        printed("heldout9", 240, 480);
    }

    /// `heldout10-*.txt`, written blind on 2026-12-08 (240 crisis lines, 480 everyday posts) by
    /// someone who saw neither the rules nor the corpora nor the scorer, asked for the oblique
    /// and euphemistic wordings above all, and measured once before anything was tuned on it
    /// (`measure_files`, the scorer of train10's round): the rules alone 23% (en 23%, es 27%,
    /// hi 23%, hi-Latn 18%) with 1.0% false alarms; the rules then the scorer 54% (en 62%, es 52%,
    /// hi 52%, hi-Latn 52%) with 1.9%. The scorer has been trained on it since (with train11,
    /// 400/800 in the four languages: 58% and 2.5% measured once before; and train12, Hindi and
    /// Spanish, 360/720: 68% and 4.6%). Printed, not held to the bar.
    #[test]
    fn heldout10_printed() {
        printed("heldout10", 240, 480);
    }

    /// The server's second tier (`read`): the rules first, then the scorer. The text of the
    /// server test `a_possible_crisis_opens_a_review_case_and_shows_the_lines_without_hiding`
    /// is missed by the rules and flagged by the built-in scorer; a crisis phrase reads as a
    /// crisis, an everyday post as nothing.
    #[test]
    fn the_scorer_is_a_second_tier_after_the_rules() {
        let scorer_only = "my therapist is away and I don't trust myself with the knives tonight";
        assert!(
            !matches(scorer_only),
            "the rules now catch it: pick another text"
        );
        assert_eq!(read(scorer_only), Reading::Possible);
        assert_eq!(read("Some days I just want to die"), Reading::Crisis);
        assert_eq!(read("My sugar was 180 this morning"), Reading::Everyday);
        let (score, threshold) = scored(scorer_only).unwrap_or_default();
        assert!(score >= threshold, "{score} < {threshold}");
    }

    /// Round five's kinds of wording in the built-in file, each with an everyday look-alike:
    /// euphemisms, a height and the nerve, giving things away quietly, a burden said indirectly,
    /// and jokes, a friend's words or a question for a class that only look alike.
    #[test]
    fn round_five_kinds_in_the_built_in_file() {
        let m = load(DEFAULT).unwrap_or_else(|e| panic!("crisis phrases: {e}"));
        for crisis in [
            "I'm going to take myself out of the picture, it's better that way",
            "I sat on the roof of my building for an hour trying to work up to it",
            "found homes for my cats and cancelled my phone plan. feeling lighter than in years",
            "My family would get their lives back if I wasn't here anymore",
            "estoy parada en el puente y no sé si bajarme",
            "मेरे बाद मेरी बेटी का ध्यान रखना",
            "bhagwan bas ab mujhe bula lo",
        ] {
            assert!(m.explain(crisis).is_some(), "missed: {crisis}");
        }
        for everyday in [
            "Taking myself out for a walk after dinner, doctor's orders",
            "Sat on the roof deck of my building for an hour reading, so nice",
            "Reading about the warning signs of suicide so I can look out for my brother",
            "For my pharmacology class: what are the symptoms of an insulin overdose? I want to know",
            "me voy a matar de risa con este meme",
            "meri dost bolti hai uska jeene ka mann nahi karta, kya karun?",
            "haste haste mar jaungi, ye video dekho",
        ] {
            assert_eq!(m.explain(everyday), None, "{everyday}");
        }
    }

    /// Round four's kinds of wording in the built-in file, each with an everyday look-alike: a
    /// wish not to wake up, nobody caring, "no aguanto", "sab khatam", and talk about suicide
    /// that is someone else's.
    #[test]
    fn round_four_kinds_in_the_built_in_file() {
        let m = load(DEFAULT).unwrap_or_else(|e| panic!("crisis phrases: {e}"));
        for crisis in [
            "honestly I'd be okay if I never woke up",
            "no one would even notice if I vanished for good",
            "ya no aguanto, quiero que todo esto se acabe",
            "sab khatam kar dena hai mujhe",
            "I keep counting my pills. There are enough now.",
            "अब म र ना है",
        ] {
            assert!(m.explain(crisis).is_some(), "missed: {crisis}");
        }
        for everyday in [
            "Read a news story about a teen suicide, so sad",
            "My friend said she felt suicidal after the divorce, how can I help?",
            "ya no quiero seguir con la dieta de la luna",
            "mera dost bol raha tha ki wo marna chahta hai",
            "Hoy me tomé todas mis pastillas con el desayuno",
            "I hope my son will take me to the clinic tomorrow",
        ] {
            assert_eq!(m.explain(everyday), None, "{everyday}");
        }
    }

    /// The concept layer of the built-in file catches wordings no phrase was written for, and
    /// leaves their everyday look-alikes alone.
    #[test]
    fn concepts_in_the_built_in_file() {
        let m = load(DEFAULT).unwrap_or_else(|e| panic!("crisis phrases: {e}"));
        for crisis in [
            "I have enough insulin to do it",
            "how many units would be fatal for me",
            "if i skip my insulin long enough DKA will finish me off and thats what i want",
            "bought a rope today. I know what I'm going to do with it",
            "tengo guardadas las pastillas, esta noche me las tomo todas",
            "aaj raat sari goliyan kha lungi",
            "काश मैं सुबह उठूँ ही नहीं",
        ] {
            let why = m.explain(crisis);
            assert!(why.is_some(), "missed: {crisis}");
        }
        for everyday in [
            "I want to diet",
            "My uncle committed suicide years ago",
            "The nurse said I could die if I skip my pills",
            "I was afraid I'd die in surgery",
            "can I take all my pills at once in the morning?",
            "What's a fatal blood sugar level?",
            "me muero de hambre",
            "mar gaya thak ke",
            "aaj raat saari goliyan ek saath le lun kya?",
            "Goodbye everyone, I'm going on vacation for two weeks",
        ] {
            assert_eq!(m.explain(everyday), None, "{everyday}");
        }
        // The explanation names the combination and its concepts.
        assert_eq!(
            m.explain("tengo suficiente insulina para acabar con todo"),
            Some("concepts: a wish or plan to die (self + death + intent)")
        );
    }

    /// A corpus file's text, read when the test runs (so a moderator's new line needs no
    /// rebuild). Leaked: the tests keep it for their whole run.
    fn read_corpus(name: &str) -> &'static str {
        let path = format!("{}/moderation/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Box::leak(text.into_boxed_str())
    }

    /// `CRISIS_EXPLAIN="some text" cargo test --lib explain_a_text -- --ignored --nocapture`:
    /// what the detector makes of a text, sentence by sentence (its normalised words and the
    /// concepts each holds), and what it matched. For moderators writing a phrase or a concept.
    #[test]
    #[ignore = "a tool: reads CRISIS_EXPLAIN"]
    fn explain_a_text() {
        let m = in_force();
        let texts = std::env::var("CRISIS_EXPLAIN").unwrap_or_default();
        for text in texts.lines().filter(|l| !l.trim().is_empty()) {
            println!("{text}\n  => {:?}", m.explain(text));
            for (words, concepts) in m.trace(text) {
                println!("  [{}] {concepts:?}", words.trim());
            }
        }
    }

    /// `CRISIS_MEASURE="crisis.txt everyday.txt" cargo test --lib measure_files -- --ignored
    /// --nocapture`: the same figures for a pair of corpus files of one's own (a new set written
    /// blind, before it is added to the repository).
    #[test]
    #[ignore = "a tool: reads CRISIS_MEASURE"]
    fn measure_files() {
        let m = in_force();
        let paths = std::env::var("CRISIS_MEASURE").unwrap_or_default();
        let mut paths = paths.split_whitespace();
        let mut read = |what: &str| -> Vec<(&'static str, &'static str)> {
            let path = paths
                .next()
                .unwrap_or_else(|| panic!("CRISIS_MEASURE: no {what} file"));
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            corpus(Box::leak(text.into_boxed_str()))
        };
        let (crisis, everyday) = (read("crisis"), read("everyday"));
        let below = measure(&m, "your files", &crisis, &everyday);
        println!("below the bar: {below:?}");
        // What the server does with the built-in phrases: the rules, then the scorer (`super::read`).
        println!("== the rules, then the scorer (a crisis or a possible crisis)");
        let mut tags: Vec<&str> = crisis.iter().chain(&everyday).map(|(t, _)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        let flagged = |t: &str| super::read(t) != Reading::Everyday;
        for tag in tags.into_iter().chain(["all"]) {
            let count = |set: &[(&str, &str)]| -> (usize, usize) {
                let ours: Vec<&str> = set
                    .iter()
                    .filter(|(t, _)| tag == "all" || *t == tag)
                    .map(|(_, x)| *x)
                    .collect();
                (ours.iter().filter(|t| flagged(t)).count(), ours.len())
            };
            let ((caught, c), (alarms, e)) = (count(&crisis), count(&everyday));
            println!(
                "{tag:8} recall {:5.1}% ({caught}/{c})   false alarms {:4.1}% ({alarms}/{e})",
                100.0 * caught as f64 / c.max(1) as f64,
                100.0 * alarms as f64 / e.max(1) as f64
            );
        }
    }

    /// `cargo test --release --lib crisis_cost -- --ignored --nocapture`: what screening costs
    /// each reply and chat message, in microseconds per everyday text (the rules, then the
    /// scorer): a tool for comparing changes on one machine, never a pass mark.
    #[test]
    #[ignore = "a tool: timings"]
    fn crisis_cost() {
        let everyday = corpus(read_corpus("everyday.txt"));
        let texts: Vec<&str> = everyday.iter().map(|(_, t)| *t).collect();
        let rounds = 20;
        let per_text = |f: &dyn Fn(&str) -> bool| {
            let start = std::time::Instant::now();
            let mut hits = 0;
            for _ in 0..rounds {
                hits += texts.iter().filter(|t| f(t)).count();
            }
            let us = start.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64;
            (us, hits / rounds)
        };
        let scorer = super::scorer().unwrap_or_else(|| panic!("no scorer"));
        for (name, f) in [
            (
                "normalise",
                &(|t: &str| !normalise::normalise(t).is_empty()) as &dyn Fn(&str) -> bool,
            ),
            ("rules", &|t: &str| super::matches(t)),
            ("scorer", &|t: &str| {
                scorer.flags_normalised(&normalise::normalise(t))
            }),
            ("read", &|t: &str| super::read(t) != Reading::Everyday),
        ] {
            let (us, hits) = per_text(f);
            println!(
                "{name:10} {us:7.1} µs per text ({hits} of {} flagged)",
                texts.len()
            );
        }
    }

    /// `CRISIS_VERDICTS=texts.txt cargo test --lib verdicts_printed -- --ignored --nocapture`:
    /// for each line of the file (a text, or `tag | text`), the rules' verdict as one line
    /// `verdict<TAB>0 or 1<TAB>what matched<TAB>normalised text<TAB>text`, for
    /// `scripts/crisis_scorer.py` (the rules beside the scorer, with the `crisis.toml` in force or
    /// `MUTUAL_CRISIS_FILE`'s; the normalised text checks the script's copy of `normalise`).
    #[test]
    #[ignore = "a tool: reads CRISIS_VERDICTS"]
    fn verdicts_printed() {
        let m = in_force();
        let path = std::env::var("CRISIS_VERDICTS").unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let body = line.split_once(" | ").map_or(line, |(_, t)| t).trim();
            let why = m.explain(body);
            println!(
                "verdict\t{}\t{}\t{}\t{body}",
                u8::from(why.is_some()),
                why.unwrap_or("-"),
                normalise::normalise(body)
            );
        }
    }

    /// One corpus file: `tag | text` per line, `#` comments.
    fn corpus(text: &'static str) -> Vec<(&'static str, &'static str)> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(" | "))
            .map(|(tag, t)| (tag.trim(), t.trim()))
            .collect()
    }

    /// The phrases in force: the built-in ones, or those of the file `MUTUAL_CRISIS_FILE` names
    /// (how an operator checks their own file against the corpus).
    /// A file that does not compile fails the test rather than falling back to the built-in one.
    fn in_force() -> Matcher {
        match std::env::var_os("MUTUAL_CRISIS_FILE") {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| load(&t))
                .unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy())),
            None => load(DEFAULT).unwrap_or_else(|e| panic!("crisis phrases: {e}")),
        }
    }

    /// Per tag, the share of `crisis` texts the matcher catches and of `everyday` texts it
    /// wrongly catches, printed with every miss and false alarm; returns the tags below the bar
    /// (recall under 90% or false alarms over 2%).
    fn measure(
        m: &Matcher,
        name: &str,
        crisis: &[(&'static str, &'static str)],
        everyday: &[(&'static str, &'static str)],
    ) -> Vec<&'static str> {
        let mut tags: Vec<&str> = crisis.iter().chain(everyday).map(|(t, _)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        println!(
            "== {name}: {} crisis, {} everyday",
            crisis.len(),
            everyday.len()
        );
        let mut failures = Vec::new();
        for tag in tags {
            let ours = |set: &[(&'static str, &'static str)]| -> Vec<&'static str> {
                set.iter()
                    .filter(|(t, _)| *t == tag)
                    .map(|(_, x)| *x)
                    .collect()
            };
            let (c, e) = (ours(crisis), ours(everyday));
            let missed: Vec<&str> = c.iter().copied().filter(|t| !m.is_match(t)).collect();
            let alarms: Vec<(&str, &str)> = e
                .iter()
                .filter_map(|t| m.explain(t).map(|p| (*t, p)))
                .collect();
            let recall = if c.is_empty() {
                1.0
            } else {
                1.0 - missed.len() as f64 / c.len() as f64
            };
            let false_rate = if e.is_empty() {
                0.0
            } else {
                alarms.len() as f64 / e.len() as f64
            };
            println!(
                "{tag:8} recall {:5.1}% ({}/{})   false alarms {:4.1}% ({}/{})",
                recall * 100.0,
                c.len() - missed.len(),
                c.len(),
                false_rate * 100.0,
                alarms.len(),
                e.len()
            );
            for t in &missed {
                println!("    missed: {t}");
            }
            for (t, p) in &alarms {
                println!("    false alarm: {t}    <- {p}");
            }
            if recall < 0.9 || false_rate > 0.02 {
                failures.push(tag);
            }
        }
        failures
    }

    /// The phrases in force (the built-in ones, or `MUTUAL_CRISIS_FILE`'s) against
    /// `moderation/corpus/`: per language, at least 90% of the crisis texts must match and at
    /// most 2% of the everyday posts. Run with `--nocapture` to see the rates and every miss.
    #[test]
    fn corpus_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("crisis.txt"));
        let everyday = corpus(read_corpus("everyday.txt"));
        assert!(crisis.len() >= 150 && everyday.len() >= 300);
        let failures = measure(&m, "corpus", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// The same bar on `heldout-*.txt`, texts written before the phrases were read and never
    /// tuned on sentence by sentence: how the phrases do on posts nobody wrote a phrase for.
    #[test]
    fn heldout_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout-crisis.txt"));
        let everyday = corpus(read_corpus("heldout-everyday.txt"));
        assert!(crisis.len() >= 80 && everyday.len() >= 150);
        let failures = measure(&m, "heldout", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// `heldout2-*.txt`, written after the phrase tuning and measured once (en 67%, es 80%, hi 67%,
    /// hi-Latn 83%); the concept layers were built with its misses in view, so it is held to the
    /// bar like the other held-out sets.
    #[test]
    fn heldout2_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout2-crisis.txt"));
        let everyday = corpus(read_corpus("heldout2-everyday.txt"));
        assert!(crisis.len() >= 30 && everyday.len() >= 60);
        let failures = measure(&m, "heldout2", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
    }

    /// `heldout3-*.txt`, written blind on 2026-12-07 before the concept layer and measured once
    /// with the phrases alone (en 60%, es 53%, hi 60%, hi-Latn 70%, evasion 80%; false alarms up
    /// to 10%); the concept layer was then built against it, so it is held to the bar like the
    /// first held-out set.
    #[test]
    fn heldout3_recall_and_false_alarms() {
        let m = in_force();
        let crisis = corpus(read_corpus("heldout3-crisis.txt"));
        let everyday = corpus(read_corpus("heldout3-everyday.txt"));
        assert!(crisis.len() >= 100 && everyday.len() >= 200);
        let failures = measure(&m, "heldout3", &crisis, &everyday);
        assert!(failures.is_empty(), "below the bar: {failures:?}");
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

    #[test]
    fn lines_by_country_first_in_the_members_language() {
        let spain = lines_for_country(Some("es"), Locale::En);
        assert_eq!(spain[0].phone, "024");
        assert!(spain[0].hours.starts_with("24 hours"), "{spain:?}");
        assert!(
            spain[1..]
                .iter()
                .all(|l| l.languages.iter().any(|x| x == "en"))
        );
        let uk = lines_for_country(Some("UK"), Locale::Es);
        assert_eq!(uk[0].phone, "116 123");
        assert!(uk[0].hours.starts_with("24 horas"), "{uk:?}");
        assert_eq!(lines_for_country(Some("CA"), Locale::Hi)[0].country, "CA");
        assert!(
            lines_for_country(Some("IN"), Locale::Hi)[0]
                .hours
                .contains("घंटे")
        );
        assert_eq!(parse_country(" es "), Ok(Some("ES".to_owned())));
        assert_eq!(parse_country("uk"), Ok(Some("GB".to_owned())));
        assert_eq!(parse_country(""), Ok(None));
        assert!(parse_country("DE").is_err());
        // No lines on file for the country: the language's usual country first.
        assert_eq!(lines_for_country(Some("DE"), Locale::Es)[0].country, "MX");
        assert_eq!(lines_for_country(None, Locale::En)[0].country, "US");
    }
}
