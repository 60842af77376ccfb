//! How pages write values: times and days in the reader's language and zone, counts, and the
//! time zones the forms offer. One place, so that a date reads the same on every page.

use crate::clock::Zone;
use crate::i18n::Texts;

/// The zones the time-zone selects offer, where members mostly live (a member's own zone, when
/// it is not here, is added by the form).
pub const ZONES: [&str; 22] = [
    "America/Mexico_City",
    "America/Monterrey",
    "America/Tijuana",
    "America/Cancun",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Guatemala",
    "America/Bogota",
    "America/Lima",
    "America/Santiago",
    "America/Argentina/Buenos_Aires",
    "Europe/London",
    "Europe/Madrid",
    "Asia/Dubai",
    "Asia/Kolkata",
    "UTC",
];

/// "5 mar 2026, 18:00–19:00 (America/Mexico_City)", in the reader's language and zone.
pub fn span(texts: &Texts, zone: Zone, starts: i64, ends: i64) -> String {
    let (s, e) = (zone.local(starts), zone.local(ends));
    format!(
        "{}, {}–{} ({})",
        texts.date(local_day(zone, starts)),
        s.format("%H:%M"),
        e.format("%H:%M"),
        zone.name()
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
