//! Text helpers shared by search, notifications and the composer: folding text so that
//! "Azúcar" finds "azucar" (without damaging Hindi), turning a query into terms, cutting a
//! highlighted snippet, and spotting personal identifiers a member is about to publish.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// At most this many terms per query, so a pasted paragraph cannot make a search expensive.
pub const MAX_QUERY_TERMS: usize = 8;

/// Letters, digits, and combining marks: a Devanagari vowel sign or virama is part of its word,
/// not a separator.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Scripts whose accents readers routinely leave out when typing (Spanish "azucar", Greek
/// without tonos). In Devanagari and most other scripts the marks are vowels and consonant
/// clusters, so removing them would turn one word into another.
fn strips_marks(base: char) -> bool {
    matches!(base as u32,
        0x0000..=0x024F        // Basic Latin to Latin Extended-B
        | 0x1E00..=0x1EFF      // Latin Extended Additional (Vietnamese)
        | 0x2C60..=0x2C7F      // Latin Extended-C
        | 0xA720..=0xA7FF      // Latin Extended-D
        | 0xAB30..=0xAB6F      // Latin Extended-E
        | 0x0370..=0x03FF      // Greek and Coptic
        | 0x1F00..=0x1FFF      // Greek Extended
        | 0x0400..=0x052F      // Cyrillic and Supplement
        | 0x1C80..=0x1C8F      // Cyrillic Extended-C
        | 0x2DE0..=0x2DFF      // Cyrillic Extended-A
        | 0xA640..=0xA69F      // Cyrillic Extended-B
    )
}

/// Letters with a stroke or ligature rather than a combining accent: NFD cannot take them apart,
/// yet people type them the plain way.
fn plain_letters(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' => "d",
        'ı' => "i",
        _ => return None,
    })
}

/// Lower-case, Unicode NFD, drop combining marks (so "Azúcar" → "azucar", "niño" → "nino"), keep
/// Devanagari and other scripts' letters intact (Hindi matras are combining marks in Unicode
/// category Mc/Mn — they are kept; only marks on Latin, Greek and Cyrillic base letters go), map
/// every non-alphanumeric char to a single space, collapse spaces, trim.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    let mut strip = false;
    for c in text.chars().flat_map(char::to_lowercase).nfd() {
        if is_combining_mark(c) {
            // A mark with no letter before it (start of text, after a space) belongs to nothing.
            if in_word && !strip {
                out.push(c);
            }
        } else if c.is_alphanumeric() {
            if !in_word && !out.is_empty() {
                out.push(' ');
            }
            in_word = true;
            strip = strips_marks(c);
            match plain_letters(c) {
                Some(s) => out.push_str(s),
                None => out.push(c),
            }
        } else {
            in_word = false;
        }
    }
    // Recompose what was kept (Hangul syllables, Devanagari), so folded text stays compact and
    // comparable with itself.
    out.nfc().collect()
}

/// A word of the original text, by char index, and whether its folded form starts with a term.
struct Word {
    start: usize,
    end: usize,
    matches: bool,
}

/// A highlighted snippet of `plain` (original text, with accents) around the first place where
/// any term matches a word prefix ("azucar" matches "azúcar" and "azucarado"), about `max_chars`
/// long (cut at word boundaries, "…" at cut ends), HTML-escaped, with every matching word wrapped
/// in `<mark>…</mark>`. If nothing matches, the start of the text.
pub fn snippet(plain: &str, terms: &[String], max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    let folded_terms: Vec<String> = terms
        .iter()
        .flat_map(|t| {
            fold(t)
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let chars: Vec<char> = plain.chars().collect();
    let words = split_words(&chars, &folded_terms);
    let (start, end) = window(&chars, &words, max_chars);

    let mut out = String::with_capacity((end - start) * 2 + 16);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for word in words.iter().filter(|w| w.end > start && w.start < end) {
        let (ws, we) = (word.start.max(start), word.end.min(end));
        push_escaped(&mut out, &chars[at..ws]);
        if word.matches {
            out.push_str("<mark>");
            push_escaped(&mut out, &chars[ws..we]);
            out.push_str("</mark>");
        } else {
            push_escaped(&mut out, &chars[ws..we]);
        }
        at = we;
    }
    push_escaped(&mut out, &chars[at..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Folds word by word, so that a match found in folded form is highlighted on the original word,
/// accents and all.
fn split_words(chars: &[char], terms: &[String]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_word_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_word_char(chars[i]) {
            i += 1;
        }
        let folded = fold(&chars[start..i].iter().collect::<String>());
        let matches = !folded.is_empty() && terms.iter().any(|t| folded.starts_with(t.as_str()));
        words.push(Word {
            start,
            end: i,
            matches,
        });
    }
    words
}

/// The char range to show: the first match with a little context before it, cut at word
/// boundaries, whitespace trimmed.
fn window(chars: &[char], words: &[Word], max_chars: usize) -> (usize, usize) {
    let total = chars.len();
    let (mut start, mut end) = if total <= max_chars {
        (0, total)
    } else {
        let anchor = words.iter().find(|w| w.matches).map(|w| w.start);
        let mut start = anchor
            .map_or(0, |a| a.saturating_sub(max_chars / 4))
            // A match near the end still gets a full-length snippet.
            .min(total - max_chars);
        if start > 0 {
            start = words
                .iter()
                .map(|w| w.start)
                .find(|&s| s >= start)
                .unwrap_or(start);
            if let Some(a) = anchor {
                start = start.min(a);
            }
        }
        let mut end = (start + max_chars).min(total);
        if end < total {
            // One very long word is cut mid-word rather than shown as nothing.
            if let Some(e) = words
                .iter()
                .rev()
                .map(|w| w.end)
                .find(|&e| e <= end && e > start)
            {
                end = e;
            }
        }
        (start, end)
    };
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    (start, end)
}

fn push_escaped(out: &mut String, chars: &[char]) {
    for &c in chars {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Personal identifiers a member may be about to publish by mistake (warn before posting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    Email,
    Phone,
    Curp,
    Aadhaar,
    Ssn,
}

/// The patterns are constants; a test proves each compiles, so `None` never happens in practice
/// and costs only a missed warning if it ever did.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)*\.\p{L}{2,}",
    )
});

/// Mexico's Clave Única de Registro de Población, also written with a space, dash or slash
/// between its parts ("GODE 561231 HDFRRN 09", "GODE-56-12-31-H-DF-RRN-09").
static CURP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"(?i)\b[A-Z][AEIOUX][A-Z]{2}[ /-]?[0-9]{2}[ /-]?[0-9]{2}[ /-]?[0-9]{2}[ /-]?[HM][ /-]?[A-Z]{2}[ /-]?[B-DF-HJ-NP-TV-Z]{3}[ /-]?[A-Z0-9][ /-]?[0-9]\b",
    )
});

static SSN: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"\b([0-9]{3})-([0-9]{2})-([0-9]{4})\b"));

/// Which kinds appear in the text (each kind once, in enum order).
pub fn find_identifiers(text: &str) -> Vec<Identifier> {
    // Numbers typed with Devanagari or full-width digits are the same numbers.
    let text: String = text.chars().map(ascii_digit).collect();
    let mut found = Vec::new();
    if EMAIL.as_ref().is_some_and(|re| re.is_match(&text)) {
        found.push(Identifier::Email);
    }
    let numbers = scan_numbers(&text);
    if numbers.phone {
        found.push(Identifier::Phone);
    }
    if has_curp(&text) {
        found.push(Identifier::Curp);
    }
    if numbers.aadhaar {
        found.push(Identifier::Aadhaar);
    }
    if has_ssn(&text) {
        found.push(Identifier::Ssn);
    }
    found
}

fn ascii_digit(c: char) -> char {
    let zero = match c {
        '\u{0966}'..='\u{096F}' => 0x0966, // Devanagari
        '\u{FF10}'..='\u{FF19}' => 0xFF10, // full-width
        _ => return c,
    };
    char::from(b'0' + (c as u32 - zero) as u8)
}

fn has_curp(text: &str) -> bool {
    let Some(re) = CURP.as_ref() else {
        return false;
    };
    re.find_iter(text).any(|m| {
        // The six digits are the birth date, YYMMDD.
        let chars: Vec<char> = m
            .as_str()
            .chars()
            .filter(|c| !matches!(c, ' ' | '/' | '-'))
            .collect();
        let number = |range: std::ops::Range<usize>| -> u32 {
            chars
                .get(range)
                .and_then(|c| c.iter().collect::<String>().parse().ok())
                .unwrap_or(0)
        };
        (1..=12).contains(&number(6..8)) && (1..=31).contains(&number(8..10))
    })
}

fn has_ssn(text: &str) -> bool {
    let Some(re) = SSN.as_ref() else {
        return false;
    };
    re.captures_iter(text).any(|c| {
        let (Some(whole), Some(area), Some(group), Some(serial)) =
            (c.get(0), c.get(1), c.get(2), c.get(3))
        else {
            return false;
        };
        // Part of a longer dashed or dotted number (a phone, an account number) is not an SSN.
        let before = text[..whole.start()].chars().next_back();
        let mut after = text[whole.end()..].chars();
        let next = after.next();
        let next2 = after.next();
        let glued_before = before.is_some_and(|b| matches!(b, '-' | '.' | '_'));
        let glued_after =
            matches!(next, Some('-' | '.')) && next2.is_some_and(|n| n.is_ascii_digit());
        let area = area.as_str();
        !glued_before
            && !glued_after
            && area != "000"
            && area != "666"
            && !area.starts_with('9')
            && group.as_str() != "00"
            && serial.as_str() != "0000"
    })
}

/// A run of digits inside a written number, e.g. `555` in `(555) 123-4567`.
#[derive(Debug)]
struct Group {
    digits: String,
    /// The separator written before this group: ' ', '-', '.', '/' (a dash or slash may have a
    /// space either side), or ')' where a parenthesis touches it; `None` for the first group.
    sep: Option<char>,
}

/// Numbers written as digit groups joined by single separators, as phone numbers and Aadhaar
/// numbers are.
#[derive(Debug)]
struct Cluster {
    plus: bool,
    groups: Vec<Group>,
}

#[derive(Default)]
struct NumberFinds {
    phone: bool,
    aadhaar: bool,
}

fn scan_numbers(text: &str) -> NumberFinds {
    let mut finds = NumberFinds::default();
    for cluster in clusters(text) {
        let n = cluster.groups.len();
        // Group indexes taken by an Aadhaar: the same digits must not also count as a phone.
        let mut taken = vec![false; n];
        for (i, t) in taken.iter_mut().enumerate() {
            let g = &cluster.groups[i];
            let first = i == 0;
            if g.digits.len() == 12
                && !(first && cluster.plus)
                && starts_2_to_9(&g.digits)
                && verhoeff_valid(&g.digits)
            {
                *t = true;
                finds.aadhaar = true;
            }
        }
        for i in 0..n.saturating_sub(2) {
            let g = &cluster.groups[i..i + 3];
            let sep = g[1].sep;
            if g.iter().all(|g| g.digits.len() == 4)
                && matches!(sep, Some(' ' | '-'))
                && g[2].sep == sep
                && !(i == 0 && cluster.plus)
                && starts_2_to_9(&g[0].digits)
                && !g.iter().all(|g| is_year(&g.digits))
                && !splits_number(&cluster.groups, i, i + 3)
            {
                taken[i..i + 3].iter_mut().for_each(|t| *t = true);
                finds.aadhaar = true;
            }
        }
        // Every run of groups is a candidate ("6.5 120 5512345678" holds a phone number), but
        // only runs short enough to be one: a long list of numbers stays linear to scan.
        for i in 0..n {
            let mut digits = 0;
            for j in i + 1..=n {
                digits += cluster.groups[j - 1].digits.len();
                if digits > 13 || taken[j - 1] {
                    break;
                }
                if digits >= 10 && is_phone(&cluster, i, j) {
                    finds.phone = true;
                }
            }
        }
    }
    finds
}

fn starts_2_to_9(digits: &str) -> bool {
    digits
        .as_bytes()
        .first()
        .is_some_and(|&d| (b'2'..=b'9').contains(&d))
}

fn is_year(digits: &str) -> bool {
    digits.len() == 4 && (digits.starts_with("19") || digits.starts_with("20"))
}

/// A number is only ever cut out of a longer one at a space: `12.03.2024` or `555-1234` are
/// single numbers, while "in 2019 5512345678" is two.
fn splits_number(groups: &[Group], i: usize, j: usize) -> bool {
    let cut_before = i > 0 && groups[i].sep != Some(' ');
    let cut_after = j < groups.len() && groups[j].sep != Some(' ');
    cut_before || cut_after
}

/// Whether groups `i..j` of a cluster read as a phone number: 10–13 digits and laid out the way
/// people write phone numbers rather than the way they list readings, years or dates.
fn is_phone(cluster: &Cluster, i: usize, j: usize) -> bool {
    let groups = &cluster.groups[i..j];
    let digits: usize = groups.iter().map(|g| g.digits.len()).sum();
    if !(10..=13).contains(&digits) || splits_number(&cluster.groups, i, j) {
        return false;
    }
    if groups.len() > 1 && groups.iter().all(|g| is_year(&g.digits)) {
        return false;
    }
    if contains_date(groups) {
        return false;
    }
    // Slashes join the parts of one phone number ("55/1234/5678") but also readings and
    // fractions ("120/80"): a number is only read across them when every part is slashed.
    let seps: Vec<Option<char>> = groups.iter().skip(1).map(|g| g.sep).collect();
    if seps.contains(&Some('/')) && seps.iter().any(|s| *s != Some('/')) {
        return false;
    }
    if i == 0 && cluster.plus {
        // An international prefix is deliberate: any grouping is a phone number.
        return true;
    }
    // "555 123 4567", "55 1234 5678", "98765 43210" end in a long group; lists of readings
    // ("120 135 140 128") and thousands ("1.234.567.890") do not.
    let long_last = groups.len() <= 5 && groups.last().is_some_and(|g| g.digits.len() >= 4);
    long_last || in_pairs(groups)
}

/// "55-12-34-56-78", "06 12 34 56 78": a number written in pairs after a first group of two or
/// three digits. Pairs joined by plain spaces are only a phone number when it starts with 0 (a
/// trunk prefix), so a list of two-digit readings is not one.
fn in_pairs(groups: &[Group]) -> bool {
    let Some((first, rest)) = groups.split_first() else {
        return false;
    };
    let sep = rest.first().and_then(|g| g.sep);
    rest.len() >= 3
        && (2..=3).contains(&first.digits.len())
        && rest.iter().all(|g| g.digits.len() == 2 && g.sep == sep)
        && (matches!(sep, Some('-' | '.' | '/')) || first.digits.starts_with('0'))
}

/// `12.03.2024`, `3-12-2024`, `2024-03-12`: dates are not phone numbers, even next to other
/// digits.
fn contains_date(groups: &[Group]) -> bool {
    groups.windows(3).any(|w| {
        let sep = w[1].sep;
        if !matches!(sep, Some('.' | '-' | '/')) || w[2].sep != sep {
            return false;
        }
        let short = |g: &Group| (1..=2).contains(&g.digits.len());
        (short(&w[0]) && short(&w[1]) && is_year(&w[2].digits))
            || (is_year(&w[0].digits) && short(&w[1]) && short(&w[2]))
    })
}

/// Finds digit clusters: groups of ASCII digits, optionally parenthesised, joined by exactly one
/// space, dash or dot (or nothing after a closing parenthesis), optionally led by `+`. Groups
/// glued to letters (`A1c`, `ID1234`, `ana123@…`) are dropped.
fn clusters(text: &str) -> Vec<Cluster> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let digit_at = |i: usize| i < n && chars[i].is_ascii_digit();
    // Reads one group at `i`; returns (digits, index after it, was parenthesised).
    let group_at = |i: usize| -> Option<(String, usize, bool)> {
        let paren = i < n && chars[i] == '(';
        let mut k = if paren { i + 1 } else { i };
        let d0 = k;
        while digit_at(k) {
            k += 1;
        }
        if k == d0 {
            return None;
        }
        let digits: String = chars[d0..k].iter().collect();
        if paren {
            if k < n && chars[k] == ')' {
                return Some((digits, k + 1, true));
            }
            return None;
        }
        Some((digits, k, false))
    };
    let glued = |c: char| c.is_alphanumeric() || c == '_' || c == '@';

    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let Some((digits, mut k, mut paren)) = group_at(i) else {
            i += 1;
            continue;
        };
        let plus = i > 0 && chars[i - 1] == '+';
        let start = if plus { i - 1 } else { i };
        let glued_before = start > 0 && glued(chars[start - 1]);
        let mut groups = vec![Group { digits, sep: None }];
        loop {
            // A parenthesis may touch the next group directly: "(55)1234-5678", "1(800)".
            let spaced = k + 2 < n
                && chars[k] == ' '
                && matches!(chars[k + 1], '-' | '/')
                && chars[k + 2] == ' ';
            let (sep, next) = if spaced {
                (chars[k + 1], k + 3)
            } else if k < n && matches!(chars[k], ' ' | '-' | '.' | '/') {
                (chars[k], k + 1)
            } else if paren || (k < n && chars[k] == '(') {
                (')', k)
            } else {
                break;
            };
            match group_at(next) {
                Some((digits, after, p)) => {
                    groups.push(Group {
                        digits,
                        sep: Some(sep),
                    });
                    k = after;
                    paren = p;
                }
                None => break,
            }
        }
        let glued_after = k < n && glued(chars[k]);
        if glued_after {
            groups.pop();
        }
        let mut plus = plus;
        if glued_before && !groups.is_empty() {
            groups.remove(0);
            plus = false;
            if let Some(g) = groups.first_mut() {
                g.sep = None;
            }
        }
        if !groups.is_empty() {
            out.push(Cluster { plus, groups });
        }
        i = k.max(i + 1);
    }
    out
}

/// UIDAI's check digit: the only thing that tells a 12-digit Aadhaar from a 12-digit phone
/// number written without spaces.
fn verhoeff_valid(digits: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        c = D[c as usize][P[i % 8][(b - b'0') as usize] as usize];
    }
    c == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Highlight terms as a query gives them: folded words.
    fn terms(q: &str) -> Vec<String> {
        fold(q).split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn fold_strips_latin_accents_and_case() {
        assert_eq!(fold("Azúcar"), "azucar");
        assert_eq!(fold("niño"), "nino");
        assert_eq!(fold("ÁRBOL Ñandú"), "arbol nandu");
        assert_eq!(fold("Crème brûlée"), "creme brulee");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("Phở"), "pho");
        assert_eq!(fold("Ελληνικά"), "ελληνικα");
        assert_eq!(fold("Йогурт"), "иогурт");
        // Already-decomposed input folds the same way.
        assert_eq!(fold("Azu\u{301}car"), "azucar");
    }

    #[test]
    fn fold_keeps_devanagari_intact() {
        assert_eq!(fold("मधुमेह"), "मधुमेह");
        assert_eq!(fold("स्वास्थ्य"), "स्वास्थ्य");
        assert_eq!(fold("मधुमेह, रक्तचाप!"), "मधुमेह रक्तचाप");
        assert_eq!(fold("मधुमेह और Azúcar"), "मधुमेह और azucar");
        assert_eq!(fold("한국어"), "한국어");
    }

    #[test]
    fn fold_punctuation_and_spaces() {
        assert_eq!(fold("  ¡Hola,   mundo!  "), "hola mundo");
        assert_eq!(fold("A1c: 6.5%"), "a1c 6 5");
        assert_eq!(fold("it's—fine"), "it s fine");
        assert_eq!(fold(""), "");
        assert_eq!(fold("!!! ..."), "");
        assert_eq!(fold("\u{301}a"), "a");
    }

    #[test]
    fn fold_is_idempotent() {
        for s in ["Azúcar", "मधुमेह और Azúcar", "Straße", "  ¡Hola! ", "İİ"] {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }

    #[test]
    fn snippet_highlights_original_words() {
        let s = snippet("Mi azúcar bajó", &terms("azucar"), 100);
        assert_eq!(s, "Mi <mark>azúcar</mark> bajó");
        let s = snippet("El Azúcar y lo azucarado", &terms("AZUCAR"), 100);
        assert_eq!(s, "El <mark>Azúcar</mark> y lo <mark>azucarado</mark>");
        // Prefix of a word only, never the middle.
        assert_eq!(snippet("sinazucar", &terms("azucar"), 100), "sinazucar");
    }

    #[test]
    fn snippet_devanagari() {
        let s = snippet("मेरा मधुमेह नियंत्रण में है", &terms("मधुमेह"), 100);
        assert_eq!(s, "मेरा <mark>मधुमेह</mark> नियंत्रण में है");
    }

    #[test]
    fn snippet_escapes_html() {
        let s = snippet("<b>azúcar</b> & \"sal\" 'x'", &terms("azucar"), 100);
        assert_eq!(
            s,
            "&lt;b&gt;<mark>azúcar</mark>&lt;/b&gt; &amp; &quot;sal&quot; &#39;x&#39;"
        );
        let s = snippet("<script>alert(1)</script>", &terms("script"), 100);
        assert!(!s.contains("<script"), "{s}");
        assert_eq!(
            s,
            "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;"
        );
    }

    #[test]
    fn snippet_windows_around_first_match() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        let s = snippet(text, &terms("fifteen"), 40);
        assert!(s.starts_with('…'), "{s}");
        assert!(s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>fifteen</mark>"), "{s}");
        let visible = s.replace("<mark>", "").replace("</mark>", "");
        let inner = visible.trim_matches('…');
        assert!(inner.chars().count() <= 40, "{s}");
        // Whole words only at both ends.
        for w in inner.split(' ') {
            assert!(text.split(' ').any(|t| t == w), "cut word {w:?} in {s}");
        }
        // Some context before the match.
        assert!(!inner.starts_with("fifteen"), "{s}");
    }

    #[test]
    fn snippet_match_near_end_fills_window() {
        let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda";
        let s = snippet(text, &terms("lambda"), 30);
        assert!(s.starts_with('…'), "{s}");
        assert!(!s.ends_with('…'), "{s}");
        assert!(s.ends_with("<mark>lambda</mark>"), "{s}");
        let inner = s.replace("<mark>", "").replace("</mark>", "");
        assert!(inner.trim_start_matches('…').chars().count() >= 20, "{s}");
    }

    #[test]
    fn snippet_without_match_is_start() {
        let text = "uno dos tres cuatro cinco seis siete ocho nueve diez";
        assert_eq!(snippet(text, &terms("zzz"), 20), "uno dos tres cuatro…");
        assert_eq!(snippet(text, &[], 20), "uno dos tres cuatro…");
        assert_eq!(snippet("corto", &[], 20), "corto");
        assert_eq!(snippet("", &terms("x y"), 20), "");
        assert_eq!(snippet("abc", &terms("abc"), 0), "");
    }

    #[test]
    fn snippet_long_word_is_cut() {
        let text = "a".repeat(50);
        let s = snippet(&text, &[], 10);
        assert_eq!(s, format!("{}…", "a".repeat(10)));
    }

    #[test]
    fn snippet_highlights_all_terms() {
        let s = snippet(
            "Azúcar y presión, presión y azúcar",
            &terms("presion azucar"),
            100,
        );
        assert_eq!(
            s,
            "<mark>Azúcar</mark> y <mark>presión</mark>, <mark>presión</mark> y <mark>azúcar</mark>"
        );
    }

    #[test]
    fn patterns_compile() {
        assert!(EMAIL.is_some());
        assert!(CURP.is_some());
        assert!(SSN.is_some());
    }

    fn ids(s: &str) -> Vec<Identifier> {
        find_identifiers(s)
    }

    use Identifier::*;

    #[test]
    fn emails() {
        assert_eq!(
            ids("write to ana.lopez+foro@example.org please"),
            vec![Email]
        );
        assert_eq!(ids("ANA@EXAMPLE.COM.MX"), vec![Email]);
        assert_eq!(ids("josé@correo.mx"), vec![Email]);
        assert!(ids("thanks @ana for the tip").is_empty());
        assert!(ids("meet me @ home at 5").is_empty());
        assert!(ids("user@localhost").is_empty());
        assert!(ids("a@b").is_empty());
    }

    #[test]
    fn phones_true_positives() {
        for p in [
            "call me +52 55 1234 5678",
            "(555) 123-4567",
            "my number is 98765 43210",
            "+91 98765 43210",
            "555.123.4567",
            "5512345678",
            "1-800-555-1234",
            "+1 (555) 123-4567",
            "+44 20 7946 0958",
            "+33 1 23 45 67 89",
            "+919876543210",
            "tel:5551234567.",
            "whatsapp: wa.me/5215512345678",
            "on 2024-03-12 call 5512345678",
            "mi cel es ५५१२३४५६७८",
            "(55)1234-5678",
            // Spaces, dashes and slashes, however they are mixed with spaces.
            "55 - 1234 - 5678",
            "55/1234/5678",
            "55 / 1234 / 5678",
            "55-12-34-56-78",
            "55.12.34.56.78",
            "06 12 34 56 78",
            "+52 55 12 34 56 78",
        ] {
            assert_eq!(ids(p), vec![Phone], "{p}");
        }
    }

    #[test]
    fn phones_false_positives() {
        for p in [
            "A1c 6.5",
            "BP 120/80",
            "lost 45 lb since 2019",
            "last visit 12/03/2024",
            "last visit 12.03.2024 at 1030",
            "2019 2020 2021",
            "readings 120 135 140 128",
            "readings: 120 135 140 128 130 125 118",
            "$1.234.567.890 budget",
            "1,234,567,890",
            "ID1234567890",
            "ana5551234567@",
            "version 1.2.3.4.5.6.7.8.9.10",
            "192.168.100.200",
            "12345",
            "a 123-45-6789 b",
            "BP 120/80 1234567",
            "pulse 72 75 80 78 76",
            "1/2 cup, 3/4 cup, 1/3 cup",
            "12/03/2024 - 13/03/2024",
        ] {
            assert!(!ids(p).contains(&Phone), "{p}: {:?}", ids(p));
        }
    }

    fn with_check_digit(first11: &str) -> String {
        (0..10)
            .map(|d| format!("{first11}{d}"))
            .find(|s| verhoeff_valid(s))
            .unwrap_or_default()
    }

    #[test]
    fn verhoeff_known_values() {
        // Published test vector: 236 has check digit 3.
        assert!(verhoeff_valid("2363"));
        assert!(!verhoeff_valid("2364"));
        assert!(!verhoeff_valid("12a4"));
    }

    #[test]
    fn aadhaar_true_positives() {
        let n = with_check_digit("23456789012");
        assert_eq!(n.len(), 12);
        let grouped = format!("{} {} {}", &n[..4], &n[4..8], &n[8..]);
        let dashed = format!("{}-{}-{}", &n[..4], &n[4..8], &n[8..]);
        assert_eq!(ids(&format!("Aadhaar {n}")), vec![Aadhaar]);
        assert_eq!(ids(&format!("मेरा आधार {grouped} है")), vec![Aadhaar]);
        assert_eq!(ids(&dashed), vec![Aadhaar]);
        // Grouped 4-4-4 is the Aadhaar layout, whatever the check digit.
        assert_eq!(ids("2345 6789 0123"), vec![Aadhaar]);
        assert_eq!(ids("9999-8888-7777"), vec![Aadhaar]);
        // Alongside a phone, both are reported, the Aadhaar digits never as a phone.
        assert_eq!(
            ids(&format!("{grouped} and +91 98765 43210")),
            vec![Phone, Aadhaar]
        );
        assert_eq!(ids(&format!("no. 12 {grouped}")), vec![Aadhaar]);
    }

    #[test]
    fn aadhaar_false_positives() {
        // First digit 0 or 1 is never issued.
        assert!(!ids("1234 5678 9012").contains(&Aadhaar));
        assert!(!ids("0234 5678 9012").contains(&Aadhaar));
        // Ungrouped twelve digits failing the checksum: a phone number with its country code.
        let n = with_check_digit("91987654321");
        let last = n.as_bytes()[11] - b'0';
        let wrong = format!("{}{}", &n[..11], (last + 1) % 10);
        assert_eq!(ids(&wrong), vec![Phone]);
        assert_eq!(ids(&format!("+{n}")), vec![Phone]);
        assert!(ids("1998 2005 2019").is_empty());
        assert!(!ids("234 5678 9012").contains(&Aadhaar));
        assert!(!ids("23456 789 0123").contains(&Aadhaar));
        assert!(!ids("2345.6789.0123").contains(&Aadhaar));
        assert!(!ids("4111-2345-6789-0123").contains(&Aadhaar));
    }

    #[test]
    fn curp() {
        assert_eq!(ids("mi CURP es GODE561231HDFRRN09"), vec![Curp]);
        assert_eq!(ids("badd110313hcmlns09"), vec![Curp]);
        assert_eq!(ids("CURP:BADD110313HCMLNS09."), vec![Curp]);
        // With spaces, dashes or slashes between its parts.
        assert_eq!(ids("mi CURP: GODE 561231 HDFRRN 09"), vec![Curp]);
        assert_eq!(ids("GODE-561231-HDFRRN-09"), vec![Curp]);
        assert_eq!(ids("GODE/56/12/31/H/DF/RRN/0/9"), vec![Curp]);
        assert_eq!(ids("gode 56 12 31 h df rrn 09"), vec![Curp]);
        assert!(ids("GODE 561331 HDFRRN 09").is_empty());
        assert!(ids("GODE  561231 HDFRRN 09").is_empty());
        // Wrong sex letter, impossible month, vowel where a consonant goes, glued to a word.
        assert!(ids("GODE561231XDFRRN09").is_empty());
        assert!(ids("GODE561331HDFRRN09").is_empty());
        assert!(ids("GODE561231HDFRAN09").is_empty());
        assert!(ids("XGODE561231HDFRRN09").is_empty());
        assert!(ids("GODE561231HDFRRN0").is_empty());
        assert!(ids("GBDE561231HDFRRN09").is_empty());
    }

    #[test]
    fn ssn() {
        assert_eq!(ids("SSN 123-45-6789"), vec![Ssn]);
        assert_eq!(ids("(078-05-1120)"), vec![Ssn]);
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "123-00-4567",
            "123-45-0000",
            "1-123-45-6789",
            "123-45-6789-1",
            "123-456-7890",
            "12-345-6789",
            "123456789",
        ] {
            assert!(!ids(bad).contains(&Ssn), "{bad}");
        }
    }

    #[test]
    fn several_kinds_in_enum_order() {
        let n = with_check_digit("23456789012");
        let text = format!(
            "SSN 123-45-6789, aadhaar {n}, CURP GODE561231HDFRRN09, tel (555) 123-4567, ana@example.org, again ana@example.org"
        );
        assert_eq!(ids(&text), vec![Email, Phone, Curp, Aadhaar, Ssn]);
    }

    #[test]
    fn long_number_lists_scan_quickly() {
        let list = "1 ".repeat(200_000);
        let started = std::time::Instant::now();
        assert!(ids(&list).is_empty());
        let long = "7".repeat(200_000);
        assert!(ids(&long).is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn ordinary_health_talk_has_no_identifiers() {
        let text = "Down 45 lb since March 2019! A1c went from 9.1 to 6.5, BP 120/80, \
                    fasting 95-110 mg/dL, walked 10,000 steps on 12/03/2024. @ana thanks! \
                    Mi azúcar bajó a 110. मेरा वजन 5 किलो कम हुआ।";
        assert!(ids(text).is_empty(), "{:?}", ids(text));
    }

    #[test]
    fn identifier_serializes_snake_case() {
        assert_eq!(
            serde_json::to_string(&Aadhaar).ok().as_deref(),
            Some("\"aadhaar\"")
        );
        assert_eq!(
            serde_json::to_string(&vec![Email, Ssn]).ok().as_deref(),
            Some("[\"email\",\"ssn\"]")
        );
    }
}
