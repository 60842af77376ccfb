//! Goal periods in the member's own calendar: a daily goal's period is the local day, a weekly
//! one's the Monday-based local week, a monthly one's the calendar month. Pure functions, so the
//! calendar rules are tested without a server.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How often a goal comes round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Daily,
    Weekly,
    Monthly,
}

impl Cadence {
    pub fn parse(raw: &str) -> Result<Cadence, String> {
        match raw.trim() {
            "daily" => Ok(Cadence::Daily),
            "weekly" => Ok(Cadence::Weekly),
            "monthly" => Ok(Cadence::Monthly),
            _ => Err("cadence is daily, weekly or monthly".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
        }
    }

    /// The most times a goal can be planned per period ("7 days a week").
    pub fn max_times(self) -> i64 {
        match self {
            Cadence::Daily => 1,
            Cadence::Weekly => 7,
            Cadence::Monthly => 31,
        }
    }

    /// The first local day of the period holding `day`.
    pub fn period_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Cadence::Daily => day,
            Cadence::Weekly => {
                day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            Cadence::Monthly => day.with_day(1).unwrap_or(day),
        }
    }

    /// The last local day of the period starting on `start`.
    pub fn last_day(self, start: NaiveDate) -> NaiveDate {
        match self {
            Cadence::Daily => start,
            Cadence::Weekly => start + Duration::days(6),
            Cadence::Monthly => {
                let next = if start.month() == 12 {
                    NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
                };
                next.map(|n| n - Duration::days(1)).unwrap_or(start)
            }
        }
    }

    /// Whether a missing check-in should be reminded now: on the period's last local day, once
    /// the member's reminder time has passed (so a weekly goal is reminded on Sunday evening).
    pub fn reminder_due(self, local: NaiveDateTime, remind_at: NaiveTime) -> bool {
        let day = local.date();
        day == self.last_day(self.period_start(day)) && local.time() >= remind_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{parse_date, parse_hhmm};

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap_or_default()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default()
    }

    #[test]
    fn periods_start_on_the_day_the_monday_and_the_first() {
        // 2026-12-03 is a Thursday.
        assert_eq!(
            Cadence::Daily.period_start(d("2026-12-03")),
            d("2026-12-03")
        );
        assert_eq!(
            Cadence::Weekly.period_start(d("2026-12-03")),
            d("2026-11-30")
        );
        assert_eq!(
            Cadence::Weekly.period_start(d("2026-11-30")),
            d("2026-11-30")
        );
        assert_eq!(
            Cadence::Weekly.period_start(d("2026-12-06")),
            d("2026-11-30")
        );
        assert_eq!(
            Cadence::Monthly.period_start(d("2026-12-31")),
            d("2026-12-01")
        );
        assert_eq!(Cadence::Weekly.last_day(d("2026-11-30")), d("2026-12-06"));
        assert_eq!(Cadence::Monthly.last_day(d("2026-12-01")), d("2026-12-31"));
        assert_eq!(Cadence::Monthly.last_day(d("2028-02-01")), d("2028-02-29"));
    }

    #[test]
    fn reminders_fall_on_the_last_day_after_the_hour() {
        let seven = parse_hhmm("19:00").unwrap_or_default();
        assert!(!Cadence::Daily.reminder_due(at("2026-12-03 18:59"), seven));
        assert!(Cadence::Daily.reminder_due(at("2026-12-03 19:00"), seven));
        // A weekly goal is reminded on Sunday evening only.
        assert!(!Cadence::Weekly.reminder_due(at("2026-12-05 21:00"), seven));
        assert!(Cadence::Weekly.reminder_due(at("2026-12-06 21:00"), seven));
        assert!(Cadence::Monthly.reminder_due(at("2026-12-31 19:30"), seven));
        assert!(!Cadence::Monthly.reminder_due(at("2026-12-30 19:30"), seven));
    }

    #[test]
    fn times_and_dates_refuse_nonsense() {
        assert!(parse_hhmm("7pm").is_err());
        assert!(parse_hhmm("24:00").is_err());
        assert!(parse_hhmm("00:00").is_ok());
        assert!(parse_date("2026-02-30").is_err());
        assert!(Cadence::parse("yearly").is_err());
    }
}
