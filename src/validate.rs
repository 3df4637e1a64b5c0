//! The one gate between what a source says and the model: every answer of every source is
//! checked here, against the request that produced it, before it reaches a figure, a file
//! or the cache.
//!
//! Why a gate of its own: billing runs on these numbers, and a provider that sends a row
//! for the wrong hour, two different values for one hour, a negative or absurd value, or
//! nothing at all, must end in a refusal that names the row and the rule, never in a
//! figure. Parsers only turn text into [`Row`]s; the rules live here, once, for the Hostway
//! path, the cache (entries are checked again when read) and any later source.
//!
//! The rules ([`Rule`]), and which a flag may relax:
//! - **range**: every timestamp inside the requested days (UTC). `--lenient` drops such rows
//!   with a warning (providers that send the next midnight); the default refuses.
//! - **grid**: every timestamp on the period's grid (whole hours, or midnights UTC). Never
//!   relaxed: an off-grid row has no hour it belongs to.
//! - **duplicate**: two rows for one timestamp must be equal (they merge); different ones
//!   are refused. Never relaxed: there is no right one to pick.
//! - **value**: finite, not negative, at most [`MAX_VALUE`]. Never relaxed. The bound makes
//!   every figure computable: 10^18 scaled to bits (x8), per second of a day or to a
//!   volume (x86 400) over a century of hourly samples stays under 10^30, far inside `f64`.
//! - **count**: whole, not negative (the parsers only read whole counts) and at most
//!   [`MAX_COUNT`]. Never relaxed.
//!
//! Empty answers are judged by the caller, which knows whether the range lies in the past
//! ([`crate::fetch`]: refused unless `--allow-empty`).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::{Period, Point};
use crate::range::DateRange;

/// The version of these rules. Cache entries record the version that validated them; an
/// entry from an older version is checked again when read, and a stricter rule refuses it.
pub const RULES_VERSION: u32 = 1;

/// The largest raw value accepted: 10^18 bytes per second (8 exabit/s) for averages, or
/// an exabyte per data set for sums; far above any link, far below overflow.
pub const MAX_VALUE: f64 = 1e18;

/// The largest sample count accepted for one data set (one sample a second for 136 years).
pub const MAX_COUNT: u64 = u32::MAX as u64;

/// One data set as a source sent it, before gaps are dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// The timestamp as sent (UTC).
    pub time: DateTime<Utc>,
    /// `None` is a gap (`null`, or an empty CSV cell).
    pub value: Option<f64>,
    /// Samples behind the value, when the source says.
    pub count: Option<u64>,
}

impl From<Point> for Row {
    fn from(p: Point) -> Row {
        Row {
            time: p.time,
            value: Some(p.value),
            count: p.count,
        }
    }
}

/// Which rule a row broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A timestamp outside the requested days (relaxed by `--lenient`).
    Range,
    /// A timestamp off the period's grid.
    Grid,
    /// Two different rows for one timestamp.
    Duplicate,
    /// A value that is not finite, negative, or over [`MAX_VALUE`].
    Value,
    /// A count over [`MAX_COUNT`].
    Count,
}

impl Rule {
    /// The rule's name in messages: `range`, `grid`, `duplicate`, `value` or `count`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Range => "range",
            Rule::Grid => "grid",
            Rule::Duplicate => "duplicate",
            Rule::Value => "value",
            Rule::Count => "count",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row that broke a rule: which row (1-based, in the order the source sent them), its
/// timestamp, the rule, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("row {row} ({}): {message} [rule: {rule}]", time.format("%Y-%m-%d %H:%M:%S UTC"))]
pub struct Violation {
    /// 1-based, in the order the source sent the rows.
    pub row: usize,
    /// The row's timestamp.
    pub time: DateTime<Utc>,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong and what to do.
    pub message: String,
}

/// What an answer must fit: the request that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The requested days (UTC, both included).
    pub range: DateRange,
    /// Seconds between data sets: every timestamp is a multiple of it since the epoch
    /// (3600 for hourly data, 86 400 for daily, 300 for 5-minute buckets).
    pub step: i64,
    /// Drop rows outside the range (with a warning) instead of refusing the answer.
    pub lenient: bool,
}

/// An answer that passed: its points in time order, gaps dropped and equal duplicates
/// merged, and what leniency dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The points, in time order, gaps dropped and equal duplicates merged.
    pub points: Vec<Point>,
    /// Rows outside the range dropped under `--lenient`.
    pub dropped: usize,
    /// The first dropped row, for the warning.
    pub first_dropped: Option<Violation>,
}

/// The value rule, for parsers and the gate alike: finite, not negative, at most
/// [`MAX_VALUE`]. The message says what is wrong with `v`.
pub fn check_value(v: f64) -> Result<(), ValueError> {
    if !v.is_finite() {
        Err(ValueError::NotFinite(v))
    } else if v < 0.0 {
        Err(ValueError::Negative(v))
    } else if v > MAX_VALUE {
        Err(ValueError::TooLarge(v))
    } else {
        Ok(())
    }
}

/// Why a value breaks the value rule; each variant holds the value.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// Infinite or NaN.
    #[error("value {0} is not a finite number")]
    NotFinite(f64),
    /// Below zero.
    #[error("value {0} is negative; traffic is never below zero")]
    Negative(f64),
    /// Over [`MAX_VALUE`].
    #[error("value {0:e} is over {MAX_VALUE:e}, more than any link carries; not a traffic figure")]
    TooLarge(f64),
}

/// The count rule: at most [`MAX_COUNT`].
pub fn check_count(c: u64) -> Result<(), CountError> {
    if c > MAX_COUNT {
        Err(CountError(c))
    } else {
        Ok(())
    }
}

/// A count over [`MAX_COUNT`] (the count held).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("count {0} is over {MAX_COUNT}; not a sample count")]
pub struct CountError(pub u64);

/// Seconds since the epoch of the start of `range`, and of the day after its end.
fn bounds(range: DateRange) -> (i64, i64) {
    let start = range.start.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = range.end.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(1);
    (start.timestamp(), end.timestamp())
}

/// Checks an answer against the request that produced it (every rule), or, with no
/// request (`expect` `None`: a file read from disk), the rules that need none (value,
/// count, duplicate).
pub fn check(rows: &[Row], expect: Option<&Expect>) -> Result<Checked, Violation> {
    check_each(rows.len(), |i| rows[i], expect, true)
}

/// [`check`] of points taken before (a cache entry read back): the same rules, without
/// copying them into rows or building the points again.
pub fn check_points(points: &[Point], expect: Option<&Expect>) -> Result<(), Violation> {
    check_each(points.len(), |i| Row::from(points[i]), expect, false).map(|_| ())
}

/// [`check`] of the `n` rows `row` gives; the points are built only when `collect`.
fn check_each(
    n: usize,
    row: impl Fn(usize) -> Row,
    expect: Option<&Expect>,
    collect: bool,
) -> Result<Checked, Violation> {
    let fail = |i: usize, r: &Row, rule: Rule, message: String| Violation {
        row: i + 1,
        time: r.time,
        rule,
        message,
    };
    let mut dropped = 0;
    let mut first_dropped = None;
    // (time, row index) of the rows kept, for the duplicate check after sorting.
    let mut kept: Vec<(i64, usize)> = Vec::with_capacity(n);
    let request = expect.map(|e| (e, e.step.max(1), bounds(e.range)));
    for i in 0..n {
        let r = &row(i);
        let t = r.time.timestamp();
        if let Some((e, step, (lo, hi))) = request {
            if t.rem_euclid(step) != 0 || r.time.timestamp_subsec_nanos() != 0 {
                return Err(fail(i, r, Rule::Grid, format!("not on {}", grid(step))));
            }
            if t < lo || t >= hi {
                let v = fail(
                    i,
                    r,
                    Rule::Range,
                    format!("outside the requested days {} (UTC)", e.range),
                );
                if e.lenient {
                    dropped += 1;
                    first_dropped.get_or_insert(v);
                    continue;
                }
                return Err(Violation {
                    message: format!("{}; --lenient drops such rows with a warning", v.message),
                    ..v
                });
            }
        }
        if let Some(v) = r.value {
            check_value(v).map_err(|e| fail(i, r, Rule::Value, e.to_string()))?;
        }
        if let Some(c) = r.count {
            check_count(c).map_err(|e| fail(i, r, Rule::Count, e.to_string()))?;
        }
        kept.push((t, i));
    }
    // An answer is usually in order already; with times only rising, it has no
    // duplicate either, and nothing is left to check.
    if kept.windows(2).all(|w| w[0].0 < w[1].0) && !collect {
        return Ok(Checked {
            points: Vec::new(),
            dropped,
            first_dropped,
        });
    }
    if !kept.is_sorted() {
        kept.sort_unstable();
    }
    let mut points = Vec::with_capacity(if collect { kept.len() } else { 0 });
    let mut last: Option<(i64, usize)> = None;
    for &(t, i) in &kept {
        let r = &row(i);
        if let Some((lt, li)) = last {
            if lt == t {
                let first = &row(li);
                if first.value != r.value || first.count != r.count {
                    return Err(fail(
                        i,
                        r,
                        Rule::Duplicate,
                        format!(
                            "a second row for this time ({} after row {}'s {}); the answer \
                             contradicts itself",
                            shown(r),
                            li + 1,
                            shown(first)
                        ),
                    ));
                }
                continue;
            }
        }
        last = Some((t, i));
        if let (true, Some(value)) = (collect, r.value) {
            points.push(Point {
                time: r.time,
                value,
                count: r.count,
            });
        }
    }
    Ok(Checked {
        points,
        dropped,
        first_dropped,
    })
}

/// What the grid of `step` seconds is, in words.
fn grid(step: i64) -> String {
    match Period::from_seconds(step) {
        Some(Period::Hourly) => "a whole hour, as hourly data sets are".into(),
        Some(Period::Daily) => "midnight UTC, as daily data sets are".into(),
        None if step % 60 == 0 => {
            format!("a {}-minute boundary, as these data sets are", step / 60)
        }
        None => format!("a multiple of {step} s, as these data sets are"),
    }
}

fn shown(r: &Row) -> String {
    let value = r
        .value
        .map_or_else(|| "null".to_string(), |v| v.to_string());
    match r.count {
        Some(c) => format!("value {value}, count {c}"),
        None => format!("value {value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(h: i64, v: Option<f64>) -> Row {
        Row {
            time: Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(h),
            value: v,
            count: Some(6),
        }
    }

    fn expect(lenient: bool) -> Expect {
        let day = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        Expect {
            range: DateRange::new(day, day).unwrap(),
            step: 3600,
            lenient,
        }
    }

    #[test]
    fn a_good_answer_passes_sorted_with_gaps_dropped_and_equal_duplicates_merged() {
        let rows = [
            row(2, Some(3.0)),
            row(0, Some(1.0)),
            row(1, None),
            row(2, Some(3.0)),
        ];
        let c = check(&rows, Some(&expect(false))).unwrap();
        let values: Vec<f64> = c.points.iter().map(|p| p.value).collect();
        assert_eq!(values, [1.0, 3.0]);
        assert_eq!(c.dropped, 0);
    }

    #[test]
    fn each_rule_names_its_row() {
        let e = expect(false);
        let v = check(&[row(0, Some(1.0)), row(24, Some(1.0))], Some(&e)).unwrap_err();
        assert_eq!((v.row, v.rule), (2, Rule::Range));
        assert!(v.to_string().contains("2025-03-02 00:00:00 UTC"), "{v}");
        assert!(v.to_string().contains("--lenient"), "{v}");
        let v = check(&[row(-1, Some(1.0))], Some(&e)).unwrap_err();
        assert_eq!(v.rule, Rule::Range);
        let mut off = row(3, Some(1.0));
        off.time += chrono::Duration::minutes(30);
        let v = check(&[off], Some(&e)).unwrap_err();
        assert_eq!((v.row, v.rule), (1, Rule::Grid));
        let v = check(&[row(1, Some(1.0)), row(1, Some(2.0))], Some(&e)).unwrap_err();
        assert_eq!((v.row, v.rule), (2, Rule::Duplicate));
        let v = check(&[row(1, Some(1.0)), row(1, None)], None).unwrap_err();
        assert_eq!(v.rule, Rule::Duplicate, "a gap and a value contradict");
        let v = check(&[row(1, Some(-1.0))], None).unwrap_err();
        assert_eq!(v.rule, Rule::Value);
        let v = check(&[row(1, Some(1e300))], None).unwrap_err();
        assert_eq!(v.rule, Rule::Value);
        let v = check(&[row(1, Some(f64::NAN))], None).unwrap_err();
        assert_eq!(v.rule, Rule::Value);
        let mut big = row(1, Some(1.0));
        big.count = Some(u64::MAX);
        assert_eq!(check(&[big], None).unwrap_err().rule, Rule::Count);
    }

    #[test]
    fn lenient_drops_only_out_of_range_rows() {
        let rows = [
            row(-24 * 365, Some(9.0)),
            row(0, Some(1.0)),
            row(24, Some(5.0)),
        ];
        let c = check(&rows, Some(&expect(true))).unwrap();
        assert_eq!(c.points.len(), 1);
        assert_eq!(c.dropped, 2);
        assert_eq!(c.first_dropped.unwrap().row, 1);
        let v = check(&[row(1, Some(-1.0))], Some(&expect(true))).unwrap_err();
        assert_eq!(v.rule, Rule::Value, "leniency covers the range rule only");
    }

    #[test]
    fn daily_data_sits_on_midnights_and_five_minute_data_on_its_boundaries() {
        let e = Expect {
            step: 86_400,
            ..expect(false)
        };
        assert!(check(&[row(0, Some(1.0))], Some(&e)).is_ok());
        let v = check(&[row(1, Some(1.0))], Some(&e)).unwrap_err();
        assert_eq!(v.rule, Rule::Grid);
        assert!(v.message.contains("midnight UTC"), "{v}");
        let mut five = row(1, Some(1.0));
        five.time += chrono::Duration::minutes(7);
        let e = Expect {
            step: 300,
            ..expect(false)
        };
        let v = check(&[five], Some(&e)).unwrap_err();
        assert!(v.message.contains("5-minute boundary"), "{v}");
    }

    proptest::proptest! {
        /// Points read back are held to the rules as rows are: the same verdict and the
        /// same violation, in order or not, with duplicates, off the grid, out of the
        /// range, negative or too large.
        #[test]
        fn points_are_checked_as_their_rows(
            cells in proptest::collection::vec(
                (
                    -3i64..30,
                    proptest::prop_oneof![
                        8 => 0.0f64..1e9,
                        1 => proptest::strategy::Just(-1.0f64),
                        1 => proptest::strategy::Just(MAX_VALUE * 2.0),
                    ],
                    proptest::option::of(0u64..10),
                    proptest::bool::weighted(0.05),
                ),
                0..40,
            ),
            sorted in proptest::bool::ANY,
            lenient in proptest::bool::ANY,
            with_request in proptest::bool::ANY,
        ) {
            let mut points: Vec<Point> = cells
                .iter()
                .map(|&(h, value, count, off_grid)| Point {
                    time: row(h, None).time + chrono::Duration::seconds(i64::from(off_grid)),
                    value,
                    count,
                })
                .collect();
            if sorted {
                points.sort_by_key(|p| p.time);
            }
            let e = expect(lenient);
            let e = with_request.then_some(&e);
            let rows: Vec<Row> = points.iter().copied().map(Row::from).collect();
            proptest::prop_assert_eq!(check_points(&points, e), check(&rows, e).map(|_| ()));
        }
    }
}
