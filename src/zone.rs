//! The display zone: a fixed offset (`UTC`, `+0530`, `-0500`) or an IANA zone with daylight
//! saving (`Europe/Berlin`, `America/Chicago`) through `chrono-tz`.
//!
//! Data stays UTC everywhere; a zone only decides where local days, hours and months begin
//! (the time axis, "today" of a report, named ranges and billing cycles) and how times are
//! labelled. A local day in a daylight-saving change has 23 or 25 hours, and every function
//! here says so truthfully rather than assuming 24.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

/// A display zone. Fixed offsets stay an offset (`+0530` has no `Etc/GMT` name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset from UTC (`UTC`, `+0530`).
    Fixed(FixedOffset),
    /// An IANA zone, whose offset follows its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl Zone {
    /// Coordinated Universal Time: offset 0.
    pub const UTC: Zone = Zone::Fixed(match FixedOffset::east_opt(0) {
        Some(o) => o,
        None => panic!("UTC"),
    });

    /// `UTC`, `Z`, `GMT`, `+HHMM`, `-HHMM`, `+HH:MM`, `+HH`, or an IANA name
    /// (`Europe/Berlin`; case-insensitive).
    pub fn parse(s: &str) -> Result<Zone, ZoneError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(Zone::UTC);
        }
        if t.starts_with('+') || t.starts_with('-') {
            return parse_offset(t)
                .map(Zone::Fixed)
                .ok_or_else(|| ZoneError::BadOffset {
                    text: s.to_string(),
                });
        }
        if let Ok(tz) = t.parse::<chrono_tz::Tz>() {
            return Ok(Zone::Named(tz));
        }
        if let Some(tz) = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|z| z.name().eq_ignore_ascii_case(t))
        {
            return Ok(Zone::Named(*tz));
        }
        Err(ZoneError::Unknown {
            text: s.to_string(),
        })
    }

    /// What the graph prints: `UTC`, `UTC+05:30`, `Europe/Berlin`.
    pub fn name(&self) -> String {
        match self {
            Zone::Fixed(o) => {
                let s = o.local_minus_utc();
                if s == 0 {
                    return "UTC".to_string();
                }
                let sign = if s < 0 { '-' } else { '+' };
                let a = s.abs();
                format!("UTC{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            Zone::Named(tz) => tz.name().to_string(),
        }
    }

    /// The offset in force at `utc` (UTC seconds).
    pub fn offset_at(&self, utc: i64) -> FixedOffset {
        let Some(t) = DateTime::<Utc>::from_timestamp(utc, 0) else {
            return FixedOffset::east_opt(0).expect("UTC");
        };
        match self {
            Zone::Fixed(o) => *o,
            Zone::Named(tz) => tz.offset_from_utc_datetime(&t.naive_utc()).fix(),
        }
    }

    /// Local wall-clock time of `utc` (UTC seconds).
    pub fn local(&self, utc: i64) -> Option<NaiveDateTime> {
        let t = DateTime::<Utc>::from_timestamp(utc, 0)?;
        Some(t.naive_utc() + self.offset_at(utc))
    }

    /// The local date at the instant `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.local(now.timestamp())
            .map(|l| l.date())
            .unwrap_or_else(|| now.date_naive())
    }

    /// The UTC instant of a local wall-clock time. A time repeated when clocks go back is
    /// its first occurrence; a time skipped when they go forward is the instant the clocks
    /// jumped (so local midnight in a zone that skips it is the day's first instant).
    pub fn to_utc(&self, local: NaiveDateTime) -> i64 {
        match self {
            Zone::Fixed(o) => (local - *o).and_utc().timestamp(),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => t.timestamp(),
                LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
                LocalResult::None => {
                    // In a gap: the first instant after it. Gaps are at most a few hours,
                    // so the offset before the gap maps the time to just past the jump.
                    let before = (local - chrono::Duration::hours(6)).and_utc().timestamp();
                    let off = self.offset_at(before);
                    let guess = (local - off).and_utc().timestamp();
                    // `guess` lies after the jump; step back to the jump itself.
                    let mut lo = guess - 6 * 3600;
                    let mut hi = guess;
                    while hi - lo > 1 {
                        let mid = lo + (hi - lo) / 2;
                        if self.local(mid).is_some_and(|l| l >= local) {
                            hi = mid;
                        } else {
                            lo = mid;
                        }
                    }
                    hi
                }
            },
        }
    }

    /// UTC seconds where the local day `date` begins and where it ends (the next day's
    /// start): 24 hours apart on most days, 23 or 25 on a daylight-saving change.
    pub fn day_bounds(&self, date: NaiveDate) -> (i64, i64) {
        let start = self.to_utc(date.and_hms_opt(0, 0, 0).expect("midnight"));
        let next = date.succ_opt().unwrap_or(date);
        let end = self.to_utc(next.and_hms_opt(0, 0, 0).expect("midnight"));
        (start, end)
    }

    /// The fixed offset in force at `utc`, for services that take only an offset.
    pub fn fixed_at(&self, utc: i64) -> FixedOffset {
        self.offset_at(utc)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Why a time zone was refused; `text` is what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// A `+`/`-` offset that is not `HHMM`, `HH:MM` or `HH`, or over 14 hours.
    #[error("bad time zone '{text}' (expected UTC, +HHMM, -HHMM or a name such as Europe/Berlin)")]
    BadOffset {
        /// What was given.
        text: String,
    },
    /// Neither UTC, an offset nor an IANA name.
    #[error(
        "unknown time zone '{text}' (expected UTC, +HHMM, -HHMM or an IANA name such as \
         Europe/Berlin or America/Chicago)"
    )]
    Unknown {
        /// What was given.
        text: String,
    },
}

impl FromStr for Zone {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Zone::parse(s)
    }
}

/// `+HHMM`, `-HHMM`, `+HH:MM` or `+HH`, at most 14 hours.
fn parse_offset(t: &str) -> Option<FixedOffset> {
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parses_offsets_and_names() {
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::UTC);
        assert_eq!(Zone::parse("+0530").unwrap().name(), "UTC+05:30");
        assert_eq!(Zone::parse("-08:00").unwrap().name(), "UTC-08:00");
        assert_eq!(
            Zone::parse("-0500").unwrap().offset_at(0).local_minus_utc(),
            -18_000
        );
        assert_eq!(
            Zone::parse("Europe/Berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(
            Zone::parse("america/chicago").unwrap().name(),
            "America/Chicago"
        );
        assert!(Zone::parse("+2500").is_err());
        assert!(Zone::parse("Europe/Atlantis")
            .unwrap_err()
            .to_string()
            .contains("Europe/Atlantis"));
    }

    #[test]
    fn berlin_day_of_the_october_change_has_25_hours() {
        let z = Zone::parse("Europe/Berlin").unwrap();
        // 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET.
        let (s, e) = z.day_bounds(d("2026-10-25"));
        assert_eq!(e - s, 25 * 3600);
        assert_eq!(
            DateTime::from_timestamp(s, 0).unwrap().to_rfc3339(),
            "2026-10-24T22:00:00+00:00"
        );
        let (s, e) = z.day_bounds(d("2026-03-29"));
        assert_eq!(e - s, 23 * 3600, "spring change");
        let (s, e) = z.day_bounds(d("2026-10-26"));
        assert_eq!(e - s, 24 * 3600);
        // A fixed offset never changes.
        let (s, e) = Zone::parse("-0500").unwrap().day_bounds(d("2026-10-25"));
        assert_eq!((e - s, s % 86_400), (24 * 3600, 5 * 3600));
    }

    #[test]
    fn today_is_the_local_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-01T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Zone::UTC.today(now), d("2026-11-01"));
        let chicago = Zone::parse("America/Chicago").unwrap();
        assert_eq!(chicago.today(now), d("2026-10-31"));
    }

    #[test]
    fn skipped_midnight_is_the_first_instant_of_the_day() {
        // America/Santiago skipped midnight on 2022-09-11 (00:00 -> 01:00).
        let z = Zone::parse("America/Santiago").unwrap();
        let (s, e) = z.day_bounds(d("2022-09-11"));
        assert_eq!(e - s, 23 * 3600);
        assert_eq!(z.local(s).unwrap().to_string(), "2022-09-11 01:00:00");
    }
}
