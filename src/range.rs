//! Date ranges and how a long range is cut into requests.
//!
//! The Hostway API takes whole days (`startDate`..`endDate`, both inclusive, UTC) and refuses
//! a response of more than `limit` data sets (500). A range of any length is therefore cut
//! into runs of whole days that each ask for at most `limit` sets: 20 days of hourly data,
//! 500 days of daily data. The server's own count is authoritative (its sample 403 refuses
//! 125 daily sets), so a chunk it still refuses is halved again ([`DateRange::halve`]).
//!
//! Everything here is pure, so the arithmetic is tested without a server.

use std::fmt;

use chrono::{Days, NaiveDate};

use crate::model::Period;

/// The Hostway API's documented maximum number of data sets per response.
pub const DEFAULT_LIMIT: u32 = 500;

/// An inclusive range of whole UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateRange {
    /// First day, included.
    pub start: NaiveDate,
    /// Last day, included (never before `start`).
    pub end: NaiveDate,
}

impl DateRange {
    /// A range from `start` to `end`, both included; `None` when `end` is before `start`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
        (start <= end).then_some(DateRange { start, end })
    }

    /// Number of days covered (at least 1).
    pub fn days(&self) -> u64 {
        (self.end - self.start).num_days() as u64 + 1
    }

    /// Number of data sets a request for this range asks for.
    pub fn sets(&self, period: Period) -> u64 {
        self.days() * period.sets_per_day() as u64
    }

    /// The two halves of a range of two days or more (the first half gets the odd day).
    pub fn halve(&self) -> Option<(DateRange, DateRange)> {
        let days = self.days();
        if days < 2 {
            return None;
        }
        let first_end = self.start + Days::new(days.div_ceil(2) - 1);
        Some((
            DateRange {
                start: self.start,
                end: first_end,
            },
            DateRange {
                start: first_end + Days::new(1),
                end: self.end,
            },
        ))
    }

    /// The part of this range on or after `day`, if any.
    pub fn from_day(&self, day: NaiveDate) -> Option<DateRange> {
        DateRange::new(self.start.max(day), self.end)
    }

    /// The part of this range before `day`, if any.
    pub fn before_day(&self, day: NaiveDate) -> Option<DateRange> {
        DateRange::new(self.start, self.end.min(day.pred_opt()?))
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl serde::Serialize for DateRange {
    /// As `START..END`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Whole days one request may cover so that it asks for at most `limit` sets (at least 1:
/// a limit below one day's sets still asks day by day, and the server decides).
pub fn days_per_chunk(period: Period, limit: u32) -> u64 {
    (u64::from(limit) / period.sets_per_day() as u64).max(1)
}

/// Cuts `range` into consecutive chunks of whole days, in order, that cover it exactly and
/// each ask for at most `limit` sets of `period`.
pub fn split(range: DateRange, period: Period, limit: u32) -> Vec<DateRange> {
    split_days(range, days_per_chunk(period, limit))
}

/// Cuts `range` into consecutive chunks of `step` whole days (at least 1; the last may be
/// shorter), in order, covering it exactly.
pub fn split_days(range: DateRange, step: u64) -> Vec<DateRange> {
    let step = step.max(1);
    let mut chunks = Vec::with_capacity(range.days().div_ceil(step) as usize);
    let mut start = range.start;
    loop {
        let end = (start + Days::new(step - 1)).min(range.end);
        chunks.push(DateRange { start, end });
        if end >= range.end {
            return chunks;
        }
        start = end + Days::new(1);
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DateError {
        text: s.to_string(),
    })
}

/// A date that is not `YYYY-MM-DD` (or no such day); `text` is what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad date '{text}' (expected YYYY-MM-DD)")]
pub struct DateError {
    /// The text as given, untrimmed.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn r(a: &str, b: &str) -> DateRange {
        DateRange::new(d(a), d(b)).unwrap()
    }

    /// Chunks are in order, touch end to end, cover the range exactly and stay under limit.
    fn check(range: DateRange, period: Period, limit: u32) -> Vec<DateRange> {
        let chunks = split(range, period, limit);
        assert_eq!(chunks.first().unwrap().start, range.start);
        assert_eq!(chunks.last().unwrap().end, range.end);
        for w in chunks.windows(2) {
            assert_eq!(w[0].end.succ_opt().unwrap(), w[1].start, "gap or overlap");
        }
        let total: u64 = chunks.iter().map(DateRange::days).sum();
        assert_eq!(total, range.days());
        let floor = u64::from(limit).max(period.sets_per_day() as u64);
        for c in &chunks {
            assert!(c.sets(period) <= floor, "{c} asks {} sets", c.sets(period));
        }
        chunks
    }

    #[test]
    fn two_years_hourly_are_20_day_chunks() {
        let chunks = check(r("2023-01-01", "2024-12-31"), Period::Hourly, 500);
        assert_eq!(chunks.len(), 37); // 731 days / 20
        assert_eq!(chunks[0], r("2023-01-01", "2023-01-20"));
        assert_eq!(chunks[36], r("2024-12-21", "2024-12-31"));
        assert!(chunks.iter().all(|c| c.sets(Period::Hourly) <= 480));
    }

    #[test]
    fn daily_chunks_hold_500_days() {
        let chunks = check(r("2015-01-01", "2017-12-31"), Period::Daily, 500);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].days(), 500);
    }

    #[test]
    fn every_length_and_limit_is_covered_exactly() {
        let start = d("2024-02-27"); // crosses a leap day
        for days in 1..=70u64 {
            let range = DateRange::new(start, start + Days::new(days - 1)).unwrap();
            for limit in [1, 23, 24, 47, 48, 100, 500] {
                check(range, Period::Hourly, limit);
                check(range, Period::Daily, limit);
            }
        }
    }

    #[test]
    fn single_day_is_one_chunk() {
        let range = r("2015-05-05", "2015-05-05");
        assert_eq!(split(range, Period::Hourly, 500), vec![range]);
        assert_eq!(range.sets(Period::Hourly), 24);
    }

    #[test]
    fn halving_covers_the_range_and_stops_at_one_day() {
        let (a, b) = r("2015-01-01", "2015-01-05").halve().unwrap();
        assert_eq!(
            (a, b),
            (r("2015-01-01", "2015-01-03"), r("2015-01-04", "2015-01-05"))
        );
        let (a, b) = r("2015-01-01", "2015-01-02").halve().unwrap();
        assert_eq!((a.days(), b.days()), (1, 1));
        assert_eq!(r("2015-01-01", "2015-01-01").halve(), None);
    }

    #[test]
    fn clamping_to_a_minimum_date() {
        let range = r("2015-01-01", "2015-01-31");
        assert_eq!(
            range.from_day(d("2015-01-10")),
            Some(r("2015-01-10", "2015-01-31"))
        );
        assert_eq!(
            range.before_day(d("2015-01-10")),
            Some(r("2015-01-01", "2015-01-09"))
        );
        assert_eq!(range.from_day(d("2015-02-01")), None);
        assert_eq!(range.before_day(d("2015-01-01")), None);
        assert_eq!(range.before_day(d("2016-01-01")), Some(range));
    }

    #[test]
    fn end_before_start_is_not_a_range() {
        assert_eq!(DateRange::new(d("2015-01-02"), d("2015-01-01")), None);
        assert!(parse_date("2015-13-01").is_err());
    }
}
