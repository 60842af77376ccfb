//! Time zones and local dates. Times are stored as UTC milliseconds (see `store`); whatever
//! happens "on a member's day" or "every Friday at 09:00 in Mexico City" is worked out here,
//! with the IANA zone database (chrono-tz), so daylight-saving changes fall where they should.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA time zone name ("America/Mexico_City", "Asia/Kolkata", "UTC").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(Tz);

/// Old names that browsers still report (Chromium's ICU says "Asia/Calcutta"), with the name
/// the zone database uses today: members get the name the zone lists show.
const RENAMED: [(&str, &str); 12] = [
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Asia/Katmandu", "Asia/Kathmandu"),
    ("Asia/Saigon", "Asia/Ho_Chi_Minh"),
    ("Asia/Rangoon", "Asia/Yangon"),
    ("Asia/Dacca", "Asia/Dhaka"),
    ("Asia/Ulan_Bator", "Asia/Ulaanbaatar"),
    ("Europe/Kiev", "Europe/Kyiv"),
    ("America/Godthab", "America/Nuuk"),
    ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Indianapolis", "America/Indiana/Indianapolis"),
    ("Atlantic/Faeroe", "Atlantic/Faroe"),
    ("Pacific/Enderbury", "Pacific/Kanton"),
];

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    pub fn parse(raw: &str) -> Result<Zone, String> {
        let raw = raw.trim();
        let today = RENAMED
            .iter()
            .find(|(old, _)| *old == raw)
            .and_then(|(_, new)| new.parse::<Tz>().ok());
        today
            .or_else(|| raw.parse::<Tz>().ok())
            .map(Zone)
            .ok_or_else(|| {
                "a time zone is an IANA name such as America/Mexico_City or Asia/Kolkata".into()
            })
    }

    /// The stored name, or UTC when it no longer parses.
    pub fn from_stored(raw: &str) -> Zone {
        Zone::parse(raw).unwrap_or(Zone::UTC)
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn tz(self) -> Tz {
        self.0
    }

    /// The zone's short name at `ms` ("IST", "CST", "CEST") when it has one in letters; many
    /// zones only have a numeric one ("-03"), which says less than the zone's name.
    pub fn short_name(self, ms: i64) -> Option<String> {
        use chrono_tz::OffsetName;
        let local = self.local(ms);
        let abbreviation = local.offset().abbreviation()?;
        let lettered = abbreviation.chars().all(|c| c.is_ascii_alphabetic());
        (lettered && abbreviation != self.name()).then(|| abbreviation.to_owned())
    }

    /// Every zone of the database with a place in its name ("Europe/Madrid"), and UTC: the
    /// old aliases ("US/Eastern", "Etc/GMT+5") are left out of lists people choose from.
    pub fn all() -> impl Iterator<Item = Zone> {
        const REGIONS: [&str; 9] = [
            "Africa/",
            "America/",
            "Antarctica/",
            "Asia/",
            "Atlantic/",
            "Australia/",
            "Europe/",
            "Indian/",
            "Pacific/",
        ];
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .filter(|z| z.name() == "UTC" || REGIONS.iter().any(|r| z.name().starts_with(r)))
            .map(Zone)
    }

    /// The local calendar date at `ms` in this zone.
    pub fn date_at(self, ms: i64) -> NaiveDate {
        self.local(ms).date_naive()
    }

    /// `ms` as a local date and time in this zone.
    pub fn local(self, ms: i64) -> DateTime<Tz> {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&self.0)
    }

    /// The instant a local wall-clock time happens. When clocks jump forward over it (it never
    /// happens that day) the first instant after the gap is used; when they fall back and it
    /// happens twice, the first of the two.
    pub fn instant(self, local: NaiveDateTime) -> i64 {
        use chrono::offset::LocalResult;
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => t.timestamp_millis(),
            LocalResult::Ambiguous(first, _) => first.timestamp_millis(),
            LocalResult::None => {
                // Walk forward minute by minute out of the gap (gaps are at most a few hours).
                let mut probe = local;
                for _ in 0..(24 * 60) {
                    probe += chrono::Duration::minutes(1);
                    if let Some(t) = self.0.from_local_datetime(&probe).earliest() {
                        // Keep the wall-clock offset into the hour the member asked for.
                        return t.timestamp_millis();
                    }
                }
                Utc.from_utc_datetime(&local).timestamp_millis()
            }
        }
    }
}

/// A local wall-clock time written "HH:MM".
pub fn parse_hhmm(raw: &str) -> Result<NaiveTime, String> {
    let raw = raw.trim();
    if raw.len() != 5 {
        return Err("a time is written HH:MM, e.g. 19:00".into());
    }
    NaiveTime::parse_from_str(raw, "%H:%M")
        .map_err(|_| "a time is written HH:MM, e.g. 19:00".into())
}

/// A local calendar date written "YYYY-MM-DD".
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "a date is written YYYY-MM-DD, e.g. 2026-12-31".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default()
    }

    #[test]
    fn short_names_only_in_letters() {
        let at_ms = 1_780_000_000_000; // June 2026
        let kolkata = Zone::parse("Asia/Kolkata").unwrap_or(Zone::UTC);
        assert_eq!(kolkata.short_name(at_ms).as_deref(), Some("IST"));
        let mexico = Zone::parse("America/Mexico_City").unwrap_or(Zone::UTC);
        assert_eq!(mexico.short_name(at_ms).as_deref(), Some("CST"));
        let bogota = Zone::parse("America/Bogota").unwrap_or(Zone::UTC);
        assert_eq!(bogota.short_name(at_ms), None);
        assert_eq!(Zone::UTC.short_name(at_ms), None);
        assert!(Zone::all().count() > 300);
        assert!(Zone::all().all(|z| !z.name().starts_with("US/")));
    }

    #[test]
    fn zones_parse_and_refuse() {
        assert!(Zone::parse("America/Mexico_City").is_ok());
        assert!(Zone::parse("Asia/Kolkata").is_ok());
        assert!(Zone::parse("Mars/Olympus").is_err());
        // What Chromium reports in India is kept under the name the lists show.
        assert_eq!(
            Zone::parse("Asia/Calcutta").map(Zone::name),
            Ok("Asia/Kolkata")
        );
        for (_, new) in RENAMED {
            assert_eq!(Zone::parse(new).map(Zone::name), Ok(new), "{new}");
        }
        assert_eq!(Zone::from_stored("nonsense"), Zone::UTC);
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps() {
        let ny = Zone::parse("America/New_York").unwrap_or(Zone::UTC);
        // 2026-03-08 02:30 does not exist in New York: the clocks jump to 03:00 (07:00 UTC).
        let gap = ny.instant(at("2026-03-08 02:30"));
        assert_eq!(crate::store::format_ms(gap), "2026-03-08T07:00:00.000Z");
        // 2026-11-01 01:30 happens twice: the first is 05:30 UTC (still daylight time).
        let twice = ny.instant(at("2026-11-01 01:30"));
        assert_eq!(crate::store::format_ms(twice), "2026-11-01T05:30:00.000Z");
        // Mexico City has kept standard time all year since 2022.
        let mx = Zone::parse("America/Mexico_City").unwrap_or(Zone::UTC);
        assert_eq!(
            crate::store::format_ms(mx.instant(at("2026-07-03 09:00"))),
            "2026-07-03T15:00:00.000Z"
        );
    }
}
