//! Writing iCalendar (RFC 5545): CRLF line endings, lines folded at 75 octets, escaped text,
//! times in UTC. Recurring meetings are written as their explicit occurrences (each its own
//! UID), which every calendar app reads the same way and which keeps daylight-saving rules on
//! our side (`calendar::schedules::Recurrence`).

/// One event of a feed.
pub struct Item {
    pub uid: String,
    pub start: i64,
    pub end: i64,
    pub summary: String,
    pub location: String,
    pub description: String,
    pub url: String,
}

/// `ms` as a UTC DATE-TIME: `20260306T150000Z`.
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// TEXT escaping: backslash, semicolon, comma and newlines.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded so no physical line exceeds 75 octets (never inside a
/// UTF-8 sequence), each ended with CRLF.
fn line(out: &mut String, content: &str) {
    let mut used = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// A whole VCALENDAR with `items`, stamped `now`.
pub fn calendar(name: &str, items: &[Item], now: i64) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Mutual//Mutual peer support//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    let stamp = utc(now);
    for item in items {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", escape(&item.uid)));
        line(&mut out, &format!("DTSTAMP:{stamp}"));
        line(&mut out, &format!("DTSTART:{}", utc(item.start)));
        line(&mut out, &format!("DTEND:{}", utc(item.end)));
        line(&mut out, &format!("SUMMARY:{}", escape(&item.summary)));
        if !item.location.is_empty() {
            line(&mut out, &format!("LOCATION:{}", escape(&item.location)));
        }
        if !item.description.is_empty() {
            line(
                &mut out,
                &format!("DESCRIPTION:{}", escape(&item.description)),
            );
        }
        if !item.url.is_empty() {
            line(&mut out, &format!("URL:{}", item.url));
        }
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "ñ".repeat(60));
        line(&mut out, &long);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), long);
    }

    #[test]
    fn escapes_text_and_writes_utc() {
        assert_eq!(escape("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
        assert_eq!(utc(0), "19700101T000000Z");
        let cal = calendar("x", &[], 0);
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\n") && cal.ends_with("END:VCALENDAR\r\n"));
        assert!(!cal.replace("\r\n", "").contains('\n'));
    }
}
