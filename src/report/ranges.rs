//! Named report ranges, in SoftLayer's vocabulary, turned into inclusive date ranges.
//!
//! Relative windows end with the last *complete* day before "today", so a report run twice
//! gives the same figures and every chunk it fetches is in the past (and so cacheable):
//!
//! | name | dates (inclusive) |
//! |---|---|
//! | `day` | yesterday |
//! | `week` | the 7 days before today |
//! | `30day` | the 30 days before today |
//! | `previous_calendar_month` | the 1st to the last day of last month |
//! | `current_calendar_month` | the 1st of this month to today (partial) |
//! | `current_billing_cycle` | the last billing day on or before today, to today (partial) |
//! | `previous_billing_cycle` | the cycle before that, to the day before the current began |
//! | `specified_day` | the given `date` |
//! | `specified_range` | `start` to `end` |
//!
//! A billing day past a month's end (31 in April) falls on that month's last day. "Today"
//! is the date in the configured time zone (UTC unless set), or `--now`.

use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::range::DateRange;

/// `start..=end`, or an error saying the range ends before it starts.
fn span(start: NaiveDate, end: NaiveDate) -> Result<DateRange, RangeError> {
    DateRange::new(start, end).ok_or(RangeError::Backwards { start, end })
}

/// Why a named range has no dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The range would end before it starts.
    #[error("range ends ({end}) before it starts ({start})")]
    Backwards {
        /// The first day.
        start: NaiveDate,
        /// The last day, before `start`.
        end: NaiveDate,
    },
    /// A billing-cycle range without `billing_day`.
    #[error("a billing-cycle range needs billing_day (1-31)")]
    NoBillingDay,
    /// A `billing_day` outside 1 to 31.
    #[error("billing_day {0} out of range (1-31)")]
    BillingDay(u32),
    /// `specified_day` without `date`.
    #[error("specified_day needs a date (YYYY-MM-DD)")]
    NoDate,
    /// `specified_range` without both dates.
    #[error("specified_range needs start and end dates (YYYY-MM-DD)")]
    NoDates,
    /// A billing day in a month past the calendar's range.
    #[error("billing day {day} of {year}-{month:02} is out of the calendar's range")]
    BillingDate {
        /// The year.
        year: i32,
        /// The month, 1 to 12.
        month: u32,
        /// The billing day, 1 to 31.
        day: u32,
    },
    /// Days before a date at the start of the calendar's range.
    #[error("{days} days before {date} is out of the calendar's range")]
    DaysBefore {
        /// The day counted back from.
        date: NaiveDate,
        /// How many days back.
        days: u64,
    },
}

/// A range by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeName {
    /// `day`: yesterday.
    Day,
    /// `week`: the 7 days before today.
    Week,
    /// `30day`: the 30 days before today.
    #[serde(rename = "30day")]
    ThirtyDay,
    /// `previous_calendar_month`: all of last month.
    PreviousCalendarMonth,
    /// `current_calendar_month`: the 1st of this month to today (partial).
    CurrentCalendarMonth,
    /// `current_billing_cycle`: the last billing day on or before today, to today (partial).
    CurrentBillingCycle,
    /// `previous_billing_cycle`: the cycle before the current one.
    PreviousBillingCycle,
    /// `specified_day`: the given date.
    SpecifiedDay,
    /// `specified_range`: the given start to end, inclusive.
    SpecifiedRange,
}

impl FromStr for RangeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            format!(
                "unknown range '{s}' (expected day, week, 30day, previous_calendar_month, \
                 current_calendar_month, current_billing_cycle, previous_billing_cycle, \
                 specified_day or specified_range)"
            )
        })
    }
}

/// What a named range needs besides "today".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeParams {
    /// Day of the month a billing cycle starts (1-31).
    pub billing_day: Option<u32>,
    /// `specified_day`'s date, or `specified_range`'s start.
    pub date: Option<NaiveDate>,
    /// `specified_range`'s end.
    pub end: Option<NaiveDate>,
}

/// Resolves `name` against `today`.
pub fn resolve(
    name: RangeName,
    today: NaiveDate,
    p: &RangeParams,
) -> Result<DateRange, RangeError> {
    let yesterday = days_before(today, 1)?;
    match name {
        RangeName::Day => span(yesterday, yesterday),
        RangeName::Week => span(days_before(today, 7)?, yesterday),
        RangeName::ThirtyDay => span(days_before(today, 30)?, yesterday),
        RangeName::PreviousCalendarMonth => {
            let first_this = today.with_day(1).expect("day 1 exists");
            let last_prev = days_before(first_this, 1)?;
            span(last_prev.with_day(1).expect("day 1 exists"), last_prev)
        }
        RangeName::CurrentCalendarMonth => span(today.with_day(1).expect("day 1 exists"), today),
        RangeName::CurrentBillingCycle | RangeName::PreviousBillingCycle => {
            let day = p.billing_day.ok_or(RangeError::NoBillingDay)?;
            if !(1..=31).contains(&day) {
                return Err(RangeError::BillingDay(day));
            }
            let this_month = billing_date(today.year(), today.month(), day)?;
            let current_start = if this_month <= today {
                this_month
            } else {
                let (y, m) = previous_month(today.year(), today.month());
                billing_date(y, m, day)?
            };
            if name == RangeName::CurrentBillingCycle {
                span(current_start, today)
            } else {
                let (y, m) = previous_month(current_start.year(), current_start.month());
                span(billing_date(y, m, day)?, days_before(current_start, 1)?)
            }
        }
        RangeName::SpecifiedDay => {
            let d = p.date.ok_or(RangeError::NoDate)?;
            span(d, d)
        }
        RangeName::SpecifiedRange => {
            let (Some(s), Some(e)) = (p.date, p.end) else {
                return Err(RangeError::NoDates);
            };
            span(s, e)
        }
    }
}

fn previous_month(y: i32, m: u32) -> (i32, u32) {
    if m == 1 {
        (y - 1, 12)
    } else {
        (y, m - 1)
    }
}

/// The billing day in a month, or the month's last day when the month is shorter; an
/// error past the calendar's range (year beyond what dates can hold).
fn billing_date(y: i32, m: u32, day: u32) -> Result<NaiveDate, RangeError> {
    (0..4)
        .find_map(|back| NaiveDate::from_ymd_opt(y, m, day.checked_sub(back)?))
        .ok_or(RangeError::BillingDate {
            year: y,
            month: m,
            day,
        })
}

/// `n` days before `d`, or an error at the start of the calendar's range.
fn days_before(d: NaiveDate, n: u64) -> Result<NaiveDate, RangeError> {
    d.checked_sub_days(Days::new(n))
        .ok_or(RangeError::DaysBefore { date: d, days: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn r(name: &str, today: &str, p: RangeParams) -> String {
        resolve(name.parse().unwrap(), d(today), &p)
            .unwrap()
            .to_string()
    }

    #[test]
    fn relative_windows_end_yesterday() {
        let p = RangeParams::default();
        assert_eq!(r("day", "2026-03-01", p), "2026-02-28..2026-02-28");
        assert_eq!(r("week", "2026-03-01", p), "2026-02-22..2026-02-28");
        assert_eq!(r("30day", "2026-03-01", p), "2026-01-30..2026-02-28");
    }

    #[test]
    fn calendar_months() {
        let p = RangeParams::default();
        assert_eq!(
            r("previous_calendar_month", "2026-03-15", p),
            "2026-02-01..2026-02-28"
        );
        assert_eq!(
            r("previous_calendar_month", "2024-03-01", p),
            "2024-02-01..2024-02-29"
        );
        assert_eq!(
            r("previous_calendar_month", "2026-01-10", p),
            "2025-12-01..2025-12-31"
        );
        assert_eq!(
            r("current_calendar_month", "2026-03-15", p),
            "2026-03-01..2026-03-15"
        );
    }

    #[test]
    fn billing_cycles_clamp_to_short_months() {
        let p = RangeParams {
            billing_day: Some(31),
            ..RangeParams::default()
        };
        // Cycle starts on the 31st, or the month's last day.
        assert_eq!(
            r("current_billing_cycle", "2026-03-15", p),
            "2026-02-28..2026-03-15"
        );
        assert_eq!(
            r("previous_billing_cycle", "2026-03-15", p),
            "2026-01-31..2026-02-27"
        );
        let p = RangeParams {
            billing_day: Some(10),
            ..RangeParams::default()
        };
        assert_eq!(
            r("current_billing_cycle", "2026-03-10", p),
            "2026-03-10..2026-03-10"
        );
        assert_eq!(
            r("previous_billing_cycle", "2026-03-10", p),
            "2026-02-10..2026-03-09"
        );
        assert_eq!(
            r("previous_billing_cycle", "2026-01-05", p),
            "2025-11-10..2025-12-09"
        );
    }

    #[test]
    fn edges_of_the_calendar_are_errors_not_panics() {
        // Found by fuzz target `ranges`: `NaiveDate - Days` panicked at the calendar's start,
        // and `billing_date` underflowed (`day - back`) for a month chrono cannot hold.
        let p = RangeParams {
            billing_day: Some(1),
            ..RangeParams::default()
        };
        for name in ["day", "week", "30day", "previous_calendar_month"] {
            assert!(
                resolve(name.parse().unwrap(), NaiveDate::MIN, &p).is_err(),
                "{name}"
            );
        }
        assert!(resolve(RangeName::PreviousBillingCycle, NaiveDate::MIN, &p).is_err());
        let late = RangeParams {
            billing_day: Some(31),
            ..p
        };
        assert!(resolve(RangeName::PreviousBillingCycle, NaiveDate::MIN, &late).is_err());
        assert!(resolve(RangeName::Day, NaiveDate::MAX, &p).is_ok());
    }

    #[test]
    fn specified_ranges_need_their_dates() {
        let none = RangeParams::default();
        assert!(resolve(RangeName::SpecifiedDay, d("2026-01-01"), &none).is_err());
        assert!(resolve(RangeName::CurrentBillingCycle, d("2026-01-01"), &none).is_err());
        let p = RangeParams {
            date: Some(d("2025-12-30")),
            end: Some(d("2025-12-01")),
            ..none
        };
        let e = resolve(RangeName::SpecifiedRange, d("2026-01-01"), &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("before it starts"), "{e}");
        assert!("monthly".parse::<RangeName>().is_err());
        assert_eq!("30day".parse::<RangeName>().unwrap(), RangeName::ThirtyDay);
    }
}
