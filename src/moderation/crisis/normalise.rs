//! The one spelling crisis phrases are matched in: the same steps run over members' text and over
//! the phrases in `crisis.toml`, so the two always agree and the phrases can be written the way
//! people write.
//!
//! Steps: Unicode NFKC (full-width letters become plain ones), invisible characters and
//! apostrophes removed ("don't" = "dont"), then `text::fold` (case, Latin accents, punctuation to
//! spaces), Devanagari variants folded (nukta, chandrabindu, half-n before a consonant), letters
//! mixed with digits read as letters ("su1c1de", but "5am" and "10mg" stay), symbols inside a
//! word read as letters ("k!ll", "k*ll", "$uicide"), runs of three or more single letters joined
//! ("s u i c i d e", "k.i.l.l"), and every run of a repeated character cut to one ("dieeee",
//! "kill" → "kil"). Output is space-separated words, no leading or trailing space.

use unicode_normalization::UnicodeNormalization;

use crate::text;

const NUKTA: char = '\u{093C}';
const CHANDRABINDU: char = '\u{0901}';
const ANUSVARA: char = '\u{0902}';
const VIRAMA: char = '\u{094D}';

/// Characters that show nothing but split a word for a naive matcher: zero-width space and
/// joiners, word joiner, byte-order mark, soft hyphen, direction marks, invisible operators.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
    )
}

/// Apostrophes vanish rather than split, so "don't", "dont" and "don’t" are one word.
fn apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´')
}

/// Devanagari letters with a nukta as one code point (क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़) → the plain letter:
/// people type ज़िंदगी and जिंदगी for the same word.
fn without_nukta(c: char) -> char {
    match c {
        '\u{0958}' => 'क',
        '\u{0959}' => 'ख',
        '\u{095A}' => 'ग',
        '\u{095B}' => 'ज',
        '\u{095C}' => 'ड',
        '\u{095D}' => 'ढ',
        '\u{095E}' => 'फ',
        '\u{095F}' => 'य',
        other => other,
    }
}

fn devanagari_consonant(c: char) -> bool {
    matches!(c, '\u{0915}'..='\u{0939}' | '\u{0958}'..='\u{095F}')
}

/// Nukta dropped, chandrabindu written as anusvara (जाऊँ = जाऊं), and न्/म् before a consonant
/// written as anusvara (जिन्दगी = जिंदगी).
fn fold_devanagari(word: &str) -> String {
    let chars: Vec<char> = word
        .chars()
        .map(without_nukta)
        .filter(|&c| c != NUKTA)
        .collect();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let half_nasal = matches!(c, 'न' | 'म')
            && chars.get(i + 1) == Some(&VIRAMA)
            && chars.get(i + 2).is_some_and(|&n| devanagari_consonant(n));
        if half_nasal {
            out.push(ANUSVARA);
            i += 2;
            continue;
        }
        out.push(if c == CHANDRABINDU { ANUSVARA } else { c });
        i += 1;
    }
    out
}

/// Units and ordinals written after a number: "5am", "10mg", "2nd", "20kg".
const UNITS: &[&str] = &[
    "am", "pm", "mg", "mcg", "kg", "g", "ml", "l", "st", "nd", "rd", "th", "u", "iu", "lb", "lbs",
    "x", "k", "h", "hr", "hrs", "min", "mins", "yo", "s", "cm", "mm", "km", "kms", "yrs", "y",
];

/// "su1c1de" → "suicide": digits inside a word that also has letters are read as the letters they
/// stand in for. Plain numbers ("988", "180") stay as they are.
fn leet(word: &str) -> String {
    // A number with its unit or ordinal ("5am", "10mg", "2nd") is a number.
    let unit = word.trim_start_matches(|c: char| c.is_ascii_digit());
    if unit.len() < word.len() && UNITS.contains(&unit) {
        return word.to_owned();
    }
    let has_letter = word.chars().any(|c| c.is_ascii_alphabetic());
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    if !(has_letter && has_digit) {
        return word.to_owned();
    }
    word.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

/// A word of one bare letter. Hindi words of one consonant and its vowel sign ("का", "से", "है")
/// are common and never joined.
fn single_letter(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
}

/// A Devanagari word of one syllable: a consonant, then only vowel signs or a nasal mark
/// ("म", "ना", "रं"). `Some(true)` when the consonant stands bare, with no sign after it.
fn devanagari_syllable(word: &str) -> Option<bool> {
    let mut chars = word.chars();
    if !chars.next().is_some_and(devanagari_consonant) {
        return None;
    }
    let rest: Vec<char> = chars.collect();
    let sign = |&c: &char| matches!(c, '\u{093E}'..='\u{094C}' | ANUSVARA | '\u{0903}');
    rest.iter().all(sign).then_some(rest.is_empty())
}

/// How many words from the start of `words` are a Hindi word spelt out syllable by syllable
/// ("म र ना" for "मरना"): three or more one-syllable words, at least two of them a bare
/// consonant. Everyday Hindi has one-syllable words ("का", "से", "है", "न") but seldom two bare
/// consonants standing alone among them.
fn spelt_syllables(words: &[String]) -> usize {
    let run = words
        .iter()
        .take_while(|w| devanagari_syllable(w).is_some())
        .count();
    let bare = words[..run]
        .iter()
        .filter(|w| devanagari_syllable(w) == Some(true))
        .count();
    if run >= 3 && bare >= 2 { run } else { 0 }
}

/// "dieeee" → "die", "morirrrr" → "morir", and "kill" → "kil": applied to the phrases too, so
/// the two spellings meet. Digits stay ("988").
pub fn collapse_repeats(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    for c in word.chars() {
        if last != Some(c) || c.is_ascii_digit() {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// "k!ll", "k*ll", "su!c!de", "$uicide", "d|e": symbols typed for the letters they look like, read as
/// those letters when they sit inside a word (`!`, `|` and `*` between letters, `@` between letters,
/// `$` before a letter at the start of a word or between letters). "Hi!" and "$5" stay as they
/// are.
fn symbol_letter(prev: Option<char>, c: char, next: Option<char>) -> Option<char> {
    let letter = |x: Option<char>| x.is_some_and(|x| x.is_alphabetic());
    let word_start = |x: Option<char>| x.is_none_or(|x| !x.is_alphanumeric());
    match c {
        // An asterisk or bang for a letter ("k*ll", "su*cide", "d*e") most often hides an i.
        '!' | '|' | '*' if letter(prev) && letter(next) => Some('i'),
        '@' if letter(prev) && letter(next) => Some('a'),
        '$' if letter(next) && (letter(prev) || word_start(prev)) => Some('s'),
        _ => None,
    }
}

/// Zero-width joiner and non-joiner shape Indic and Arabic script; the other invisible
/// characters have no business inside a word.
fn joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// The matching form of a text: see the module comment for the steps.
pub fn normalise(input: &str) -> String {
    normalise_marked(input).0
}

/// The matching form of a text, and whether it hides words in an evasive way: letters spaced
/// out ("s u i c i d e") or an invisible character between letters ("kill\u{200B}my\u{200B}self").
/// Either way the word boundaries are not the member's own, so the matcher also looks at the
/// text with its spaces taken out (`patterns`).
pub fn normalise_marked(input: &str) -> (String, bool) {
    let chars: Vec<char> = input.nfkc().collect();
    let mut evasive = false;
    let mut cleaned = String::with_capacity(input.len());
    let mut prev_kept: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if invisible(c) {
            let next = chars[i + 1..].iter().copied().find(|&n| !invisible(n));
            if !joiner(c)
                && prev_kept.is_some_and(char::is_alphabetic)
                && next.is_some_and(char::is_alphabetic)
            {
                evasive = true;
            }
            continue;
        }
        if apostrophe(c) {
            continue;
        }
        let next = chars.get(i + 1).copied();
        let c = symbol_letter(prev_kept, c, next).unwrap_or(c);
        cleaned.push(c);
        prev_kept = Some(c);
    }
    let folded = text::fold(&cleaned);
    let words: Vec<String> = folded
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| leet(&fold_devanagari(w)))
        .collect();

    // Join runs of three or more single letters: "s u i c i d e" → "suicide".
    let mut joined: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let letters = words[i..].iter().take_while(|w| single_letter(w)).count();
        let run = letters.max(spelt_syllables(&words[i..]));
        if run >= 3 {
            joined.push(words[i..i + run].concat());
            evasive = true;
            i += run;
        } else {
            joined.push(words[i].clone());
            i += 1;
        }
    }
    let text = joined
        .iter()
        .map(|w| collapse_repeats(w))
        .collect::<Vec<_>>()
        .join(" ");
    (text, evasive)
}

#[cfg(test)]
mod tests {
    use super::{normalise, normalise_marked};

    #[test]
    fn evasions_meet_the_plain_spelling() {
        let plain = normalise("suicide");
        for evasive in [
            "s u i c i d e",
            "S.U.I.C.I.D.E",
            "ｓｕｉｃｉｄｅ",
            "sui\u{200B}cide",
            "sui\u{00AD}cide",
            "suiciiiide",
            "SUICIDE",
            "su1c1de",
        ] {
            assert_eq!(normalise(evasive), plain, "{evasive}");
        }
        assert_eq!(
            normalise("I don't want to live"),
            normalise("i dont want to live")
        );
        assert_eq!(normalise("kill myself"), normalise("k i l l myself"));
        assert_eq!(normalise("morirrrr"), normalise("morir"));
        assert_eq!(normalise("Suicídio"), normalise("suicidio"));
    }

    #[test]
    fn devanagari_variants_meet() {
        assert_eq!(normalise("मर जाऊँ"), normalise("मर जाऊं"));
        assert_eq!(normalise("ख़ुदकुशी"), normalise("खुदकुशी"));
        assert_eq!(normalise("ज़िन्दगी"), normalise("जिंदगी"));
        assert_eq!(normalise("जीने\u{200D} का"), normalise("जीने का"));
        assert_eq!(normalise("मैं ठीक हूँ।"), normalise("मैं ठीक हूं"));
    }

    #[test]
    fn symbols_for_letters_inside_words() {
        assert_eq!(
            normalise("wanna k!ll myself"),
            normalise("wanna kill myself")
        );
        assert_eq!(normalise("$uicide"), normalise("suicide"));
        assert_eq!(normalise("su!c!de"), normalise("suicide"));
        assert_eq!(normalise("d|e"), "die");
        assert_eq!(normalise("k*lling su*cide"), normalise("killing suicide"));
        assert_eq!(normalise("*so* tired"), "so tired");
        assert_eq!(normalise("Hi! $5 for me@ 3"), "hi 5 for me 3");
    }

    #[test]
    fn hindi_spelt_syllable_by_syllable_is_joined() {
        // The run takes in the one-syllable words around it ("है"); the matcher also reads the
        // text with its spaces taken out, so "बस मरना है" is found either way.
        let (spelt, evasive) = normalise_marked("बस म र ना है अब");
        assert!(spelt.contains("मरना") && evasive, "{spelt}");
        // One-syllable words of ordinary Hindi stay apart: "का", "से", "है", "न" carry signs or
        // stand alone.
        assert_eq!(normalise("घर का है न"), "घर का है न");
        assert!(!normalise_marked("ये तो है न").1);
    }

    #[test]
    fn evasive_spacing_is_marked() {
        assert!(normalise_marked("i w a n t  t o  d i e").1);
        assert!(normalise_marked("kill\u{200B}my\u{200B}self").1);
        assert_eq!(
            normalise_marked("kill\u{200B}my\u{200B}self").0,
            "kilmyself"
        );
        assert!(!normalise_marked("I want to die").1);
        assert!(!normalise_marked("a b tired, mar\u{200D} gaya").1);
        assert!(!normalise_marked("जीने\u{200D} का").1);
    }

    #[test]
    fn ordinary_words_stay_words() {
        assert_eq!(normalise("My A1c is 6.8, on 988"), "my aic is 6 8 on 988");
        assert_eq!(normalise("I want to diet"), "i want to diet");
        assert_eq!(normalise("up at 5am, 10mg"), "up at 5am 10mg");
    }
}
