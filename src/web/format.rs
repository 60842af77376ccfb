//! How pages write values: times and days in the reader's language and zone, counts, and the
//! time zones the forms offer. One place, so that a date reads the same on every page.

use crate::clock::Zone;
use crate::i18n::Texts;

/// The zones most members live in, by country, offered first in every time-zone select (a
/// phone shows a long list one screen at a time): (the group's name in the locale files, zones).
const COMMON_ZONES: [(&str, &[&str]); 6] = [
    (
        "timezone.group_mx",
        &[
            "America/Mexico_City",
            "America/Monterrey",
            "America/Merida",
            "America/Cancun",
            "America/Chihuahua",
            "America/Hermosillo",
            "America/Mazatlan",
            "America/Tijuana",
        ],
    ),
    (
        "timezone.group_us",
        &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "Pacific/Honolulu",
            "America/Puerto_Rico",
        ],
    ),
    ("timezone.group_in", &["Asia/Kolkata"]),
    ("timezone.group_es", &["Europe/Madrid", "Atlantic/Canary"]),
    ("timezone.group_gb", &["Europe/London"]),
    (
        "timezone.group_ca",
        &[
            "America/Toronto",
            "America/Vancouver",
            "America/Edmonton",
            "America/Winnipeg",
            "America/Regina",
            "America/Halifax",
            "America/St_Johns",
        ],
    ),
];

/// One `<optgroup>` of a time-zone select.
pub struct ZoneGroup {
    /// The group's name, a key of the locale files.
    pub key: &'static str,
    pub zones: Vec<ZoneOption>,
}

pub struct ZoneOption {
    pub value: &'static str,
    /// "America/Mexico City": the name as people read it.
    pub label: String,
    pub selected: bool,
}

/// Every zone for a select, the common ones first by country, then all the others in
/// alphabetical order, with `selected` chosen (no zone is chosen when it names none).
pub fn zone_groups(texts: &Texts, selected: &str) -> Vec<ZoneGroup> {
    let option = |z: &'static str| ZoneOption {
        value: z,
        label: zone_label(texts, z),
        selected: z == selected,
    };
    let mut groups: Vec<ZoneGroup> = COMMON_ZONES
        .iter()
        .map(|(key, zones)| ZoneGroup {
            key,
            zones: zones.iter().map(|z| option(z)).collect(),
        })
        .collect();
    let common = |name: &str| COMMON_ZONES.iter().any(|(_, zones)| zones.contains(&name));
    let mut rest: Vec<&'static str> = Zone::all().map(Zone::name).filter(|z| !common(z)).collect();
    rest.sort_unstable();
    // A zone kept from before under an old alias stays chosen rather than silently replaced.
    if let Ok(kept) = Zone::parse(selected)
        && !common(kept.name())
        && !rest.contains(&kept.name())
    {
        rest.insert(0, kept.name());
    }
    groups.push(ZoneGroup {
        key: "timezone.group_all",
        zones: rest.into_iter().map(option).collect(),
    });
    groups
}

/// A zone's name as people read it: the city in the reader's language for the zones most
/// members live in (`timezone.z_america_mexico_city`), else the IANA name without underscores.
/// Never in brackets ("India — Kolkata"): pages put it in brackets after a time.
pub fn zone_label(texts: &Texts, name: &str) -> String {
    let key = format!("timezone.z_{}", name.to_ascii_lowercase().replace('/', "_"));
    match texts.get(&key) {
        t if t == key => name.replace('_', " "),
        t => t.to_owned(),
    }
}

/// A time with the zone it is in: "18:00 IST" where the zone has a short name in letters.
fn zone_suffix(zone: Zone, ms: i64) -> String {
    match zone.short_name(ms) {
        Some(short) => format!(" {short}"),
        None => String::new(),
    }
}

/// "5 mar 2026, 18:00–19:00 CST (Ciudad de México)", in the reader's language and zone.
pub fn span(texts: &Texts, zone: Zone, starts: i64, ends: i64) -> String {
    let (s, e) = (zone.local(starts), zone.local(ends));
    format!(
        "{}, {}–{}{} ({})",
        texts.date(local_day(zone, starts)),
        s.format("%H:%M"),
        e.format("%H:%M"),
        zone_suffix(zone, starts),
        zone_label(texts, zone.name())
    )
}

/// "5 mar 2026, 18:00", in the reader's language and zone.
pub fn at(texts: &Texts, zone: Zone, ms: i64) -> String {
    let local = zone.local(ms);
    format!(
        "{}, {}",
        texts.date(local_day(zone, ms)),
        local.format("%H:%M")
    )
}

/// "5 mar 2026, 18:00 IST": a moment with the zone's short name where it has one.
pub fn at_zoned(texts: &Texts, zone: Zone, ms: i64) -> String {
    format!("{}{}", at(texts, zone, ms), zone_suffix(zone, ms))
}

/// The local date of `ms` in `zone`, as an instant the date formatter reads in UTC (the local
/// wall time read as if it were UTC).
pub fn local_day(zone: Zone, ms: i64) -> i64 {
    zone.local(ms).naive_local().and_utc().timestamp_millis()
}

/// "Monday, Mar 5, 2026": a day heading in the reader's language.
pub fn day_heading(texts: &Texts, zone: Zone, ms: i64) -> String {
    use chrono::Datelike;
    let weekday = zone.local(ms).weekday().number_from_monday();
    format!(
        "{}, {}",
        texts.get(&format!("calendar.wd{weekday}")),
        texts.date(local_day(zone, ms))
    )
}

/// A `YYYY-MM-DD` day as the reader's language writes it.
pub fn day(texts: &Texts, ymd: &str) -> String {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| texts.date(t.and_utc().timestamp_millis()))
        .unwrap_or_else(|| ymd.to_owned())
}

/// "7 of 10 places taken".
pub fn people(texts: &Texts, count: i64, capacity: i64) -> String {
    texts.fill(
        "circles.people",
        &[("n", &count.to_string()), ("cap", &capacity.to_string())],
    )
}

/// A chat room's name as the reader sees it: the room every group starts with is stored as
/// "General" (the API's name for it) and shown in the reader's language.
pub fn room_name(texts: &Texts, name: &str) -> String {
    if name == crate::chat::DEFAULT_ROOM {
        texts.get("chat.room_general").to_owned()
    } else {
        name.to_owned()
    }
}

/// A room's topic as the reader sees it: a peer circle's room says so in the reader's language.
pub fn room_topic(texts: &Texts, topic: &str) -> String {
    if topic == crate::circles::ROOM_TOPIC {
        texts.get("chat.room_topic_circle").to_owned()
    } else {
        topic.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::accounts::types::Locale;

    /// Brackets never nest: "IST (India — Kolkata)", not "IST (India (Kolkata))".
    fn depth(text: &str) -> i32 {
        let (mut now, mut most) = (0, 0);
        for c in text.chars() {
            match c {
                '(' => now += 1,
                ')' => now -= 1,
                _ => {}
            }
            most = most.max(now);
        }
        assert_eq!(now, 0, "unbalanced: {text}");
        most
    }

    #[test]
    fn every_zone_offered_reads_plainly() {
        // A winter and a summer day, so both short names are seen where a zone has two.
        let moments = [1_767_628_800_000_i64, 1_783_353_600_000];
        for locale in [Locale::En, Locale::Es, Locale::Hi] {
            let texts = crate::i18n::texts(locale);
            let groups = zone_groups(texts, "");
            let offered: Vec<&ZoneOption> = groups.iter().flat_map(|g| g.zones.iter()).collect();
            assert!(offered.len() > 100, "{locale:?}: {} zones", offered.len());
            for z in offered {
                let label = &z.label;
                assert!(
                    !label.is_empty() && !label.contains(['(', ')', '_']),
                    "{locale:?} {}: {label}",
                    z.value
                );
                // An old alias is shown under the zone it names now.
                let zone = Zone::parse(z.value).expect("an offered zone parses");
                let named = zone_label(texts, zone.name());
                assert!(!named.contains(['(', ')', '_']), "{locale:?}: {named}");
                for ms in moments {
                    let shown = span(texts, zone, ms, ms + 3_600_000);
                    assert!(depth(&shown) <= 1, "{locale:?}: {shown}");
                    assert!(shown.ends_with(&format!("({named})")), "{shown}");
                }
            }
        }
        // The labels in our own words, in each language.
        let kolkata = Zone::parse("Asia/Kolkata").expect("zone");
        let at = 1_767_628_800_000;
        assert_eq!(
            span(crate::i18n::texts(Locale::En), kolkata, at, at + 3_600_000),
            format!(
                "{}, 21:30–22:30 IST (India — Kolkata)",
                crate::i18n::texts(Locale::En).date(local_day(kolkata, at))
            )
        );
        assert_eq!(
            zone_label(crate::i18n::texts(Locale::Es), "America/New_York"),
            "Nueva York — hora del Este"
        );
        assert_eq!(
            zone_label(crate::i18n::texts(Locale::Hi), "Asia/Kolkata"),
            "भारत — कोलकाता"
        );
        assert_eq!(
            zone_label(
                crate::i18n::texts(Locale::En),
                "America/Argentina/Buenos_Aires"
            ),
            "America/Argentina/Buenos Aires"
        );
    }
}
