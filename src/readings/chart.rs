//! Server-rendered SVG charts of one series, written by hand: no script, no fonts to fetch, a
//! `viewBox` so they scale to any phone, gridlines at round numbers, points joined by a line
//! (two lines for blood pressure), and `<title>`/`<desc>` stating the series in words — the text
//! alternative. Only numbers and our own words go in; a member's notes never do, and every text
//! is XML-escaped anyway. Long series are averaged per day so the file stays small.

use std::fmt::Write;

use crate::i18n::Texts;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// More points than this are averaged per day.
const MAX_POINTS: usize = 120;

/// One point: when, the value, and the second value (diastolic) for blood pressure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub at: i64,
    pub v: f64,
    pub v2: Option<f64>,
}

/// What to draw.
pub struct Chart<'a> {
    pub texts: &'a Texts,
    /// The series' name in words ("Blood glucose").
    pub series: String,
    /// The unit the values are in ("mg/dL"); empty for counts.
    pub unit: String,
    /// Oldest first, all in `unit`.
    pub points: Vec<Point>,
    pub days: i64,
    pub now: i64,
    /// No axis values and no numbers in the words: the shape of the trend only.
    pub shape_only: bool,
    /// Whose series, for a chart shared with a circle.
    pub owner: Option<String>,
}

/// Escapes text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A number for people: whole when it is, else one decimal.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let r = (v * 10.0).round() / 10.0;
    if (r - r.round()).abs() < 1e-9 {
        format!("{}", r.round() as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A coordinate: finite and short.
fn c(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    format!("{:.1}", v)
}

/// Averages points per day (UTC) when there are too many to draw one by one.
pub fn thin(points: Vec<Point>) -> Vec<Point> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let mut out: Vec<Point> = Vec::new();
    let mut bucket: Vec<Point> = Vec::new();
    let flush = |bucket: &mut Vec<Point>, out: &mut Vec<Point>| {
        if bucket.is_empty() {
            return;
        }
        let n = bucket.len() as f64;
        let at = bucket.iter().map(|p| p.at).sum::<i64>() / bucket.len() as i64;
        let v = bucket.iter().map(|p| p.v).sum::<f64>() / n;
        let twos: Vec<f64> = bucket.iter().filter_map(|p| p.v2).collect();
        let v2 = (!twos.is_empty()).then(|| twos.iter().sum::<f64>() / twos.len() as f64);
        out.push(Point { at, v, v2 });
        bucket.clear();
    };
    let mut day = None;
    for p in points {
        let d = p.at.div_euclid(DAY_MS);
        if day != Some(d) {
            flush(&mut bucket, &mut out);
            day = Some(d);
        }
        bucket.push(p);
    }
    flush(&mut bucket, &mut out);
    out
}

/// Round gridline values covering `lo..=hi`: steps of 1, 2 or 5 times a power of ten, about
/// five lines.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if (hi - lo).abs() < 1e-9 {
        let pad = (lo.abs() * 0.1).max(1.0);
        (lo - pad, hi + pad)
    } else {
        (lo.min(hi), hi.max(lo))
    };
    let raw = (hi - lo) / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let start = (lo / step).floor() * step;
    let mut out = Vec::new();
    let mut v = start;
    while v <= hi + step * 0.999 && out.len() < 12 {
        out.push(if v.abs() < step * 1e-6 { 0.0 } else { v });
        v += step;
    }
    out
}

/// Which way the series went: the mean of its last third against its first third.
pub fn trend(points: &[Point]) -> &'static str {
    if points.len() < 3 {
        return "readings.trend_none";
    }
    let third = (points.len() / 3).max(1);
    let mean = |ps: &[Point]| ps.iter().map(|p| p.v).sum::<f64>() / ps.len() as f64;
    let first = mean(&points[..third]);
    let last = mean(&points[points.len() - third..]);
    let change = (last - first) / first.abs().max(1e-9);
    if change > 0.03 {
        "readings.trend_up"
    } else if change < -0.03 {
        "readings.trend_down"
    } else {
        "readings.trend_steady"
    }
}

impl Chart<'_> {
    fn title(&self) -> String {
        let days = self.days.to_string();
        let base = self.texts.fill(
            "readings.chart_title",
            &[("series", &self.series), ("days", &days)],
        );
        match &self.owner {
            Some(name) => format!("{name}: {base}"),
            None => base,
        }
    }

    /// The text alternative: the series in words.
    pub fn description(&self) -> String {
        let t = self.texts;
        let Some(last) = self.points.last() else {
            return t.get("readings.no_readings").to_owned();
        };
        let first = self.points[0];
        let mut parts = Vec::new();
        let from = t.date(first.at);
        let to = t.date(last.at);
        if self.shape_only {
            parts.push(t.fill("readings.desc_span", &[("from", &from), ("to", &to)]));
        } else {
            let count = t.number(self.points.len() as i64);
            parts.push(t.fill(
                "readings.desc_count",
                &[("count", &count), ("from", &from), ("to", &to)],
            ));
            let lo = self
                .points
                .iter()
                .map(|p| p.v)
                .fold(f64::INFINITY, f64::min);
            let hi = self
                .points
                .iter()
                .map(|p| p.v)
                .fold(f64::NEG_INFINITY, f64::max);
            let unit = &self.unit;
            parts.push(t.fill(
                "readings.desc_range",
                &[
                    ("low", &format!("{} {unit}", number(lo))),
                    ("high", &format!("{} {unit}", number(hi))),
                ],
            ));
            let latest = match last.v2 {
                Some(v2) => format!("{}/{} {unit}", number(last.v), number(v2)),
                None => format!("{} {unit}", number(last.v)),
            };
            parts.push(t.fill(
                "readings.desc_latest",
                &[("value", latest.trim()), ("date", &to)],
            ));
        }
        parts.push(t.get(trend(&self.points)).to_owned());
        parts.join(" ")
    }

    /// The whole SVG document.
    pub fn render(&self) -> String {
        let title = escape(&self.title());
        let desc = escape(&self.description());
        let mut s = String::with_capacity(8 * 1024);
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="t d" font-family="sans-serif" font-size="15"><title id="t">{title}</title><desc id="d">{desc}</desc><rect width="{w}" height="{h}" fill="#ffffff"/>"##,
            w = WIDTH,
            h = HEIGHT
        );
        let x0 = LEFT;
        let x1 = WIDTH - RIGHT;
        let y0 = HEIGHT - BOTTOM;
        let y1 = TOP;
        if self.points.is_empty() {
            let _ = write!(
                s,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#6b6b6b"/><text x="{}" y="{}" text-anchor="middle" font-size="20" fill="#222222">{}</text></svg>"##,
                c(x0),
                c(y1),
                c(x1 - x0),
                c(y0 - y1),
                c((x0 + x1) / 2.0),
                c((y0 + y1) / 2.0),
                escape(self.texts.get("readings.no_readings"))
            );
            return s;
        }
        // Scales: time over the window, values over round gridlines.
        let start = self.now - self.days * DAY_MS;
        let t_lo = start.min(self.points[0].at);
        let t_hi = self
            .now
            .max(self.points.last().map(|p| p.at).unwrap_or(self.now));
        let span = ((t_hi - t_lo) as f64).max(1.0);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in &self.points {
            for v in std::iter::once(p.v).chain(p.v2) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let grid = ticks(lo, hi);
        let g_lo = grid.first().copied().unwrap_or(lo);
        let g_hi = grid.last().copied().unwrap_or(hi);
        let g_span = (g_hi - g_lo).max(1e-9);
        let x = |at: i64| x0 + (at - t_lo) as f64 / span * (x1 - x0);
        let y = |v: f64| y0 - (v - g_lo) / g_span * (y0 - y1);
        // Gridlines and value labels.
        for v in &grid {
            let _ = write!(
                s,
                r##"<line x1="{}" y1="{yy}" x2="{}" y2="{yy}" stroke="#d0d0d0"/>"##,
                c(x0),
                c(x1),
                yy = c(y(*v))
            );
            if !self.shape_only {
                let _ = write!(
                    s,
                    r##"<text x="{}" y="{}" text-anchor="end" fill="#222222">{}</text>"##,
                    c(x0 - 6.0),
                    c(y(*v) + 5.0),
                    escape(&number(*v))
                );
            }
        }
        // Axes, the unit, and four dates along the bottom.
        let _ = write!(
            s,
            r##"<path d="M{} {}V{}H{}" fill="none" stroke="#444444"/>"##,
            c(x0),
            c(y1),
            c(y0),
            c(x1)
        );
        if !self.shape_only && !self.unit.is_empty() {
            let _ = write!(
                s,
                r##"<text x="4" y="{}" fill="#222222" font-size="13">{}</text>"##,
                c(y1 + 4.0),
                escape(&self.unit)
            );
        }
        for i in 0..4 {
            let at = t_lo + ((t_hi - t_lo) as f64 * f64::from(i) / 3.0) as i64;
            let anchor = match i {
                0 => "start",
                3 => "end",
                _ => "middle",
            };
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" text-anchor="{anchor}" fill="#222222" font-size="13">{}</text>"##,
                c(x(at)),
                c(y0 + 22.0),
                escape(&self.texts.date(at))
            );
        }
        // The lines and points: dark blue for the value, dark orange dashed for the second.
        let mut line = |pick: &dyn Fn(&Point) -> Option<f64>, colour: &str, dash: &str| {
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter_map(|p| pick(p).map(|v| (x(p.at), y(v))))
                .collect();
            if pts.len() > 1 {
                let mut d = String::new();
                for (i, (px, py)) in pts.iter().enumerate() {
                    let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { "L" }, c(*px), c(*py));
                }
                let _ = write!(
                    s,
                    r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#
                );
            }
            let r = if pts.len() > 60 { 2.0 } else { 4.0 };
            for (px, py) in pts {
                let _ = write!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="{r}" fill="{colour}"/>"#,
                    c(px),
                    c(py)
                );
            }
        };
        line(&|p| Some(p.v), "#1f4e99", "");
        line(&|p| p.v2, "#a34a00", r#" stroke-dasharray="6 4""#);
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::types::Locale;

    fn chart(points: Vec<Point>) -> String {
        Chart {
            texts: crate::i18n::texts(Locale::En),
            series: "Blood glucose".into(),
            unit: "mg/dL".into(),
            points,
            days: 30,
            now: 1_780_000_000_000,
            shape_only: false,
            owner: None,
        }
        .render()
    }

    #[test]
    fn gridlines_fall_on_round_numbers() {
        assert_eq!(
            ticks(92.0, 181.0),
            vec![80.0, 100.0, 120.0, 140.0, 160.0, 180.0, 200.0]
        );
        assert_eq!(ticks(5.2, 7.9), vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(
            ticks(0.0, 9000.0),
            vec![0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0]
        );
        let one = ticks(120.0, 120.0);
        assert!(
            one.first().is_some_and(|v| *v <= 120.0) && one.last().is_some_and(|v| *v >= 120.0)
        );
    }

    #[test]
    fn empty_single_and_long_series_render() {
        let empty = chart(vec![]);
        assert!(empty.contains("No readings yet"));
        let one = chart(vec![Point {
            at: 1_779_990_000_000,
            v: 120.0,
            v2: None,
        }]);
        assert_eq!(one.matches("<circle").count(), 1);
        let many: Vec<Point> = (0..2000)
            .map(|i| Point {
                at: 1_770_000_000_000 + i * 3_600_000,
                v: 100.0 + (i % 50) as f64,
                v2: None,
            })
            .collect();
        let long = chart(thin(many));
        assert!(long.len() < 60_000, "{}", long.len());
        assert!(!long.contains("NaN") && !long.contains("inf"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<a & 'b'>"), "&lt;a &amp; &apos;b&apos;&gt;");
    }
}
