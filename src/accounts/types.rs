//! Account values that refuse bad input at the door: once a `Username` or `Password` exists,
//! deeper code never checks it again.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// 3–30 ASCII letters, digits, `_` or `-`; unique ignoring case (compare `key()`).
/// ASCII only, so that look-alike letters from other scripts cannot impersonate a member, and an
/// e-mail address can never be a username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let s = raw.trim();
        let len = s.chars().count();
        if !(3..=30).contains(&len) {
            return Err("a username has 3 to 30 characters".into());
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err("a username may use only letters a–z, digits, `_` and `-`".into());
        }
        Ok(Username(s.to_string()))
    }

    /// Names a member may not take for themselves, so nobody can pass as staff or as the system.
    pub fn is_reserved(&self) -> bool {
        const RESERVED: &[&str] = &[
            "admin",
            "administrator",
            "anonymous",
            "deleted",
            "mod",
            "moderator",
            "moderators",
            "mutual",
            "root",
            "staff",
            "support",
            "system",
            "help",
            "organiser",
            "organizer",
        ];
        RESERVED.contains(&self.key().as_str())
    }

    /// The case-folded form that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// At least 10 characters, at most 256, and not one that is common or easy to guess.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    const MAX_CHARS: usize = 256;
    /// The reason given for a common password; pages recognise it to explain in the reader's
    /// language that the password is easy to guess (not too short).
    pub const TOO_COMMON: &'static str = "this password is too common or easy to guess; try a few words that only you would put together";

    /// `context` holds words the password must not simply repeat (the username, say).
    pub fn parse(raw: &str, context: &[&str]) -> Result<Password, String> {
        let len = raw.chars().count();
        if len < Self::MIN_CHARS {
            return Err(format!(
                "a password has at least {} characters",
                Self::MIN_CHARS
            ));
        }
        if len > Self::MAX_CHARS {
            return Err(format!(
                "a password has at most {} characters",
                Self::MAX_CHARS
            ));
        }
        if is_common(raw, context) || is_listed_word(raw) {
            return Err(Self::TOO_COMMON.into());
        }
        Ok(Password(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Common passwords, keyboard walks, repeats and dictionary words with trivial changes, as judged
/// by zxcvbn's frequency lists (score below 2: crackable within about a million guesses).
fn is_common(password: &str, context: &[&str]) -> bool {
    // zxcvbn's cost grows with length; the first 64 characters decide it well enough.
    let head: String = password.chars().take(64).collect();
    (zxcvbn::zxcvbn(&head, context).score() as u8) < 2
}

/// Words people often build passwords from in English, Spanish and Hindi (romanised and in
/// Devanagari), which zxcvbn's English lists do not know ("contraseña", "teamo", "jaimatadi").
const COMMON_WORDS: &str = include_str!("common_words.txt");

fn common_words() -> &'static std::collections::HashSet<String> {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        COMMON_WORDS
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .map(|w| fold_accents(&w.to_lowercase()))
            .collect()
    })
}

/// "Contraseña" and "contrasena" are the same guess.
fn fold_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// A password that is a listed word (or one repeated, or two joined) once digits, spaces and
/// symbols are taken out, read plainly and with look-alike digits as letters ("c0ntr4s3ña").
/// Devanagari vowel signs and virama are kept: only ASCII digits, punctuation and spaces go.
fn is_listed_word(password: &str) -> bool {
    let lower = fold_accents(&password.to_lowercase());
    let plain: String = lower
        .chars()
        .filter(|c| !(c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()))
        .collect();
    let leet: String = lower
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .filter(|c| !(c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()))
        .collect();
    [plain, leet].iter().any(|core| is_made_of_words(core))
}

fn is_made_of_words(core: &str) -> bool {
    let words = common_words();
    if core.is_empty() {
        return false;
    }
    if words.contains(core) {
        return true;
    }
    // Split points on character boundaries: one word repeated, or two listed words joined.
    core.char_indices().skip(1).any(|(i, _)| {
        let (head, tail) = core.split_at(i);
        words.contains(head) && (words.contains(tail) || tail.trim_start_matches(head).is_empty())
    })
}

/// What others see as the member's name: 1–50 characters, no control characters. Defaults to
/// the username. Not a real name unless the member chooses so.
#[derive(Clone, Debug)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<DisplayName, String> {
        let s = raw.trim();
        let len = s.chars().count();
        if !(1..=50).contains(&len) {
            return Err("a display name has 1 to 50 characters".into());
        }
        if s.chars().any(char::is_control) {
            return Err("a display name may not contain control characters".into());
        }
        Ok(DisplayName(s.to_string()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An optional e-mail address, used only for account recovery; never shown to others.
#[derive(Clone, Debug)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let s = raw.trim();
        let bad = || "this does not look like an e-mail address".to_string();
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Email(s.to_string()))
    }

    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The interface languages: English, Spanish and Hindi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Es,
    Hi,
}

impl Locale {
    /// Accepts a language tag such as `es`, `es-MX` or `hi_IN`.
    pub fn parse(raw: &str) -> Result<Locale, String> {
        let primary = raw
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Ok(Locale::En),
            "es" => Ok(Locale::Es),
            "hi" => Ok(Locale::Hi),
            _ => Err("the languages offered are en, es and hi".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::Hi => "hi",
        }
    }
}

/// Site-wide roles. Every account is a `member`; the others are granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Moderator,
    Organiser,
    Professional,
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Role, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(Role::Member),
            "moderator" => Ok(Role::Moderator),
            "organiser" | "organizer" => Ok(Role::Organiser),
            "professional" => Ok(Role::Professional),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: member, moderator, organiser, professional or admin"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Organiser => "organiser",
            Role::Professional => "professional",
            Role::Admin => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ana_m-2").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(31)).is_err());
        assert!(Username::parse("ana maría").is_err());
        assert!(Username::parse("josé").is_err());
        assert!(Username::parse("a@b.co").is_err());
        assert_eq!(
            Username::parse("AnaM").map(|u| u.key()),
            Ok("anam".to_string())
        );
        assert!(Username::parse("Admin").is_ok_and(|u| u.is_reserved()));
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("short", &[]).is_err());
        assert!(Password::parse("password123", &[]).is_err());
        assert!(Password::parse("1234567890", &[]).is_err());
        assert!(Password::parse("qwertyuiop", &[]).is_err());
        assert!(Password::parse("aaaaaaaaaaaa", &[]).is_err());
        assert!(Password::parse("green-kettle-river-42", &[]).is_ok());
    }

    #[test]
    fn passwords_made_of_common_spanish_and_hindi_words() {
        for weak in [
            "contraseña",
            "Contrasena2024",
            "c0ntr4s3ña!",
            "teamo12345",
            "teamomucho1",
            "miamor miamor",
            "jaimatadi123",
            "Radhe Radhe 1",
            "meradil1234",
            "पासवर्ड12345",
            "प्यार प्यार 12",
        ] {
            assert_eq!(
                Password::parse(weak, &[]).err().as_deref(),
                Some(Password::TOO_COMMON),
                "{weak} should be refused as common"
            );
        }
        // Words of these languages that are not common passwords, put together, still pass.
        for fine in [
            "tetera-rio-verde-42",
            "मेरी नीली साइकिल चली",
            "chai ki patti neeli",
        ] {
            assert!(Password::parse(fine, &[]).is_ok(), "{fine} should pass");
        }
    }

    #[test]
    fn locales() {
        assert_eq!(Locale::parse("es-MX"), Ok(Locale::Es));
        assert_eq!(Locale::parse("HI_in"), Ok(Locale::Hi));
        assert!(Locale::parse("fr").is_err());
    }
}
