//! Axis ticks: round SI steps for the rate axis and calendar-aligned ticks for the time axis.
//!
//! Both axes go through [`Ticked`], a plotters coordinate whose key points are exactly the
//! ticks chosen here, because plotters' own date coordinates pick ticks in UTC and by count,
//! while a report wants midnight, Mondays or the first of the month *in the display zone*.

use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

use crate::zone::Zone;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A linear `f64` coordinate with fixed ticks; both axes use it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticked {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
}

impl Ticked {
    pub fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        Ticked { lo, hi, ticks }
    }

    /// Fractional pixel position of `v` between `limit.0` (at `lo`) and `limit.1` (at `hi`).
    pub fn map_f(&self, v: f64, limit: (i32, i32)) -> f64 {
        let t = (v - self.lo) / (self.hi - self.lo);
        f64::from(limit.0) + t * f64::from(limit.1 - limit.0)
    }
}

/// `v.round() as i32` (halves away from zero, saturating, NaN to 0) without a call: on
/// the x86-64 baseline `f64::round` is a libm function (no SSE4.1 `roundsd`), and each
/// decimated point goes through [`Ticked::map`] twice (the call was 4% of an 8 760-point
/// graph). Adding the largest double below one half, with `v`'s sign, then truncating is
/// how LLVM lowers `round` itself where it has a truncating instruction: the same result.
#[inline(always)]
pub fn round_i32(v: f64) -> i32 {
    (v + 0.499_999_999_999_999_94_f64.copysign(v)) as i32
}

impl Ranged for Ticked {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        round_i32(self.map_f(*value, limit))
    }

    /// The ticks for bold grid lines and labels; no light lines (they would only clutter).
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Plain numbers; the chart always passes its own label formatters.
impl ValueFormatter<f64> for Ticked {
    fn format(value: &f64) -> String {
        format!("{value}")
    }
}

/// Rate-axis ticks: 0, step, 2 step, ... up to `max`, the first multiple of the step more
/// than 3 % above the data's maximum, so a peak never grazes the plot's top edge. When that
/// multiple would leave more than a quarter of the plot empty (a short plot has room for
/// one or two coarse steps), the top is instead the first fifth of a step above the peak,
/// and only the ticks under it are labelled: the axis fits the data.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTicks {
    pub max: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
}

/// Picks a 1-2-5 step so that at most `max_ticks` intervals cover `data_max`.
pub fn rate_ticks(data_max: f64, max_ticks: usize) -> RateTicks {
    let data_max = if data_max.is_finite() && data_max > 0.0 {
        data_max
    } else {
        1.0
    };
    let step = nice_step(data_max / max_ticks.max(1) as f64);
    let n = ((data_max * 1.03 / step).floor() + 1.0) as usize;
    let mut max = n as f64 * step;
    if max > data_max * 1.25 {
        let fine = step / 5.0;
        max = ((data_max * 1.03 / fine).floor() + 1.0) * fine;
    }
    RateTicks {
        max,
        step,
        ticks: (0..=n)
            .map(|i| i as f64 * step)
            .filter(|t| *t <= max * (1.0 + 1e-9))
            .collect(),
    }
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// Calendar unit of the time-axis ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeUnit {
    Hour,
    Day,
    Month,
    Year,
}

impl TimeUnit {
    /// Steps tried, smallest first, in units.
    fn steps(self) -> &'static [i64] {
        match self {
            TimeUnit::Hour => &[1, 2, 3, 4, 6, 12],
            TimeUnit::Day => &[1, 2, 3, 7, 14],
            TimeUnit::Month => &[1, 2, 3, 6],
            TimeUnit::Year => &[1, 2, 5, 10, 20, 50, 100],
        }
    }

    /// Characters of the widest label, for spacing.
    fn label_chars(self) -> usize {
        match self {
            TimeUnit::Hour | TimeUnit::Day => 6,
            TimeUnit::Month => 8,
            TimeUnit::Year => 4,
        }
    }

    fn next(self) -> Option<TimeUnit> {
        match self {
            TimeUnit::Hour => Some(TimeUnit::Day),
            TimeUnit::Day => Some(TimeUnit::Month),
            TimeUnit::Month => Some(TimeUnit::Year),
            TimeUnit::Year => None,
        }
    }
}

/// Time-axis ticks (UTC seconds) and how to label them.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTicks {
    pub unit: TimeUnit,
    pub step: i64,
    pub ticks: Vec<i64>,
    /// Span in seconds, which decides between weekday and month day labels.
    span: i64,
    zone: Zone,
}

/// The unit a span calls for: hours up to two days, days up to about two months, months up
/// to two years, years beyond.
pub fn unit_for_span(span_seconds: i64) -> TimeUnit {
    match span_seconds {
        s if s <= 2 * DAY => TimeUnit::Hour,
        s if s <= 62 * DAY => TimeUnit::Day,
        s if s <= 731 * DAY => TimeUnit::Month,
        _ => TimeUnit::Year,
    }
}

/// Ticks over `[start, end]` (UTC seconds) on natural boundaries of the display zone, no
/// more than fit in `width_px` with labels of `font_px`.
pub fn time_ticks(start: i64, end: i64, zone: Zone, width_px: f64, font_px: f64) -> TimeTicks {
    let span = (end - start).max(1);
    let mut unit = unit_for_span(span);
    let (step, ticks) = 'fit: loop {
        let label_px = unit.label_chars() as f64 * font_px * 0.62 + 1.8 * font_px;
        let max_ticks = ((width_px / label_px).floor() as usize).max(2);
        for &step in unit.steps() {
            let ticks = ticks_of(unit, step, start, end, zone);
            if ticks.len() <= max_ticks {
                break 'fit (step, ticks);
            }
        }
        match unit.next() {
            Some(u) => unit = u,
            None => {
                let step = ((span / (365 * DAY)) / max_ticks as i64).max(1) * 100;
                break (step, ticks_of(unit, step, start, end, zone));
            }
        }
    };
    TimeTicks {
        unit,
        step,
        ticks,
        span,
        zone,
    }
}

/// Every boundary of `step` units inside `[start, end]`, on the display zone's wall clock:
/// ticks are found in local time and each is turned back into its UTC instant, so across a
/// daylight-saving change the local midnights are 23 or 25 hours apart, as they are.
fn ticks_of(unit: TimeUnit, step: i64, start: i64, end: i64, zone: Zone) -> Vec<i64> {
    let local = |t: i64| zone.local(t).map(|l| l.and_utc().timestamp()).unwrap_or(t);
    // Local seconds, widened by the largest offset change so no boundary is missed.
    let (lo, hi) = (local(start) - 2 * HOUR, local(end) + 2 * HOUR);
    let locals = match unit {
        TimeUnit::Hour => aligned(lo, hi, step * HOUR, 0),
        // Weekly ticks fall on Mondays (1970-01-01 was a Thursday, 3 days after one).
        TimeUnit::Day if step % 7 == 0 => aligned(lo, hi, step * DAY, -3 * DAY),
        TimeUnit::Day => aligned(lo, hi, step * DAY, 0),
        TimeUnit::Month | TimeUnit::Year => {
            let months = if unit == TimeUnit::Year {
                step * 12
            } else {
                step
            };
            month_ticks(lo, hi, months)
        }
    };
    let mut out: Vec<i64> = locals
        .into_iter()
        .filter_map(|l| DateTime::from_timestamp(l, 0))
        .map(|l| zone.to_utc(l.naive_utc()))
        .filter(|t| (start..=end).contains(t))
        .collect();
    out.dedup();
    out
}

/// Multiples of `step` (shifted by `phase`) in `[lo, hi]`.
fn aligned(lo: i64, hi: i64, step: i64, phase: i64) -> Vec<i64> {
    let first = (lo - phase).div_euclid(step) * step + phase;
    let first = if first < lo { first + step } else { first };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= hi)
        .collect()
}

/// First days of months whose index (year × 12 + month) is a multiple of `months`, in
/// `[lo, hi]` (local seconds).
fn month_ticks(lo: i64, hi: i64, months: i64) -> Vec<i64> {
    let Some(start) = DateTime::from_timestamp(lo, 0) else {
        return Vec::new();
    };
    let mut index = i64::from(start.year()) * 12 + i64::from(start.month0());
    index = index.div_euclid(months) * months;
    let mut out = Vec::new();
    loop {
        let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
        let Some(t) = NaiveDate::from_ymd_opt(y as i32, m as u32, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp())
        else {
            return out;
        };
        if t > hi {
            return out;
        }
        if t >= lo {
            out.push(t);
        }
        index += months;
    }
}

impl TimeTicks {
    /// The label of tick `t` (UTC seconds) in the display zone, without date context.
    pub fn label(&self, t: i64) -> String {
        let Some(local) = self.zone.local(t) else {
            return String::new();
        };
        local.format(self.format(&local)).to_string()
    }

    fn format(&self, local: &chrono::NaiveDateTime) -> &'static str {
        match self.unit {
            TimeUnit::Hour if local.hour() == 0 && local.minute() == 0 => "%a %d",
            TimeUnit::Hour => "%H:%M",
            TimeUnit::Day if self.step < 7 && self.span <= 16 * DAY => "%a %d",
            TimeUnit::Day => "%b %d",
            TimeUnit::Month => "%b %Y",
            TimeUnit::Year => "%Y",
        }
    }

    /// Every tick's label, with date context so a lone picture says when it is: the first
    /// tick that carries a date, and each one whose month differs from the one before,
    /// also gives the month and year ("Fri 20 Nov 2026"); when no tick of an hourly axis
    /// falls on midnight, the first tick gives its date.
    pub fn labels(&self) -> Vec<String> {
        let locals: Vec<Option<chrono::NaiveDateTime>> =
            self.ticks.iter().map(|t| self.zone.local(*t)).collect();
        let dated = |l: &chrono::NaiveDateTime| match self.unit {
            TimeUnit::Hour => l.hour() == 0 && l.minute() == 0,
            TimeUnit::Day => true,
            TimeUnit::Month | TimeUnit::Year => false,
        };
        let any_dated = locals.iter().flatten().any(dated);
        let mut last_month: Option<(i32, u32)> = None;
        locals
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let Some(l) = l else {
                    return String::new();
                };
                let plain = l.format(self.format(l)).to_string();
                if self.unit >= TimeUnit::Month {
                    return plain;
                }
                if !dated(l) {
                    if i == 0 && !any_dated {
                        return l.format("%d %b %Y %H:%M").to_string();
                    }
                    return plain;
                }
                let month = (l.year(), l.month());
                let context = last_month != Some(month);
                last_month = Some(month);
                if !context {
                    plain
                } else if self.format(l) == "%b %d" {
                    l.format("%b %d, %Y").to_string()
                } else {
                    l.format("%a %d %b %Y").to_string()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn ts(y: i32, mo: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap().timestamp()
    }

    fn utc() -> Zone {
        Zone::UTC
    }

    #[test]
    fn round_i32_is_round_as_i32() {
        assert_eq!(0.499_999_999_999_999_94_f64, 0.5f64.next_down());
        let mut vals = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4503599627370495.5,
            4503599627370497.0,
            2_147_483_647.4,
            2_147_483_647.5,
            2_147_483_646.5,
            -2_147_483_648.4,
            -2_147_483_648.5,
            -2_147_483_647.5,
            2_147_483_648.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ];
        // A deterministic spread of ordinary coordinates, halves, near-halves, any bits.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 4000.0 - 2000.0;
            vals.extend([v, v.trunc() + 0.5, v.trunc() - 0.5, f64::from_bits(x)]);
        }
        for v in vals {
            for w in [v, v.next_up(), v.next_down()] {
                assert_eq!(round_i32(w), w.round() as i32, "{w:e}");
            }
        }
    }

    #[test]
    fn rate_ticks_are_round_and_cover_the_max() {
        let t = rate_ticks(755e6, 5);
        assert_eq!(t.step, 200e6);
        assert_eq!(t.max, 800e6);
        assert_eq!(t.ticks.len(), 5);
        assert_eq!(rate_ticks(1000.0, 5).max, 1200.0);
        assert_eq!(
            rate_ticks(119.5, 6).max,
            140.0,
            "headroom over a near-tick peak"
        );
        assert!(rate_ticks(0.0, 4).max > 0.0);
        // One or two coarse steps over a short plot: the top follows the peak instead of
        // doubling it.
        let short = rate_ticks(1.01e6, 2);
        assert!(
            short.max >= 1.01e6 * 1.03 && short.max <= 1.01e6 * 1.25,
            "{short:?}"
        );
        assert_eq!(short.ticks, vec![0.0, 1e6]);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(3.0), 5.0);
    }

    #[test]
    fn one_day_gets_hour_ticks_with_date_at_midnight() {
        let tt = time_ticks(ts(2015, 5, 5, 0), ts(2015, 5, 6, 0), utc(), 740.0, 11.0);
        assert_eq!(tt.unit, TimeUnit::Hour);
        assert_eq!(tt.ticks[0], ts(2015, 5, 5, 0));
        assert!(tt.ticks.iter().all(|t| t % (tt.step * HOUR) == 0));
        assert_eq!(tt.label(tt.ticks[0]), "Tue 05");
        assert_eq!(tt.label(tt.ticks[1]), format!("{:02}:00", tt.step));
    }

    #[test]
    fn ticks_follow_the_display_zone() {
        let ist = Zone::parse("+0530").unwrap();
        let tt = time_ticks(ts(2015, 5, 1, 0), ts(2015, 5, 31, 0), ist, 740.0, 11.0);
        assert_eq!(tt.unit, TimeUnit::Day);
        // Local midnight at +05:30 is 18:30 UTC.
        assert!(tt.ticks.iter().all(|t| (t + 19_800) % DAY == 0));
        assert_eq!(ist.name(), "UTC+05:30");
    }

    #[test]
    fn month_and_year_ticks_fall_on_the_first() {
        let tt = time_ticks(ts(2015, 1, 10, 0), ts(2016, 1, 10, 0), utc(), 740.0, 11.0);
        assert_eq!(tt.unit, TimeUnit::Month);
        let first = DateTime::from_timestamp(tt.ticks[0], 0).unwrap();
        assert_eq!((first.day(), first.hour()), (1, 0));
        assert_eq!(tt.label(ts(2015, 3, 1, 0)), "Mar 2015");
        let yy = time_ticks(ts(2010, 3, 1, 0), ts(2016, 3, 1, 0), utc(), 740.0, 11.0);
        assert_eq!(yy.unit, TimeUnit::Year);
        assert_eq!(yy.label(yy.ticks[0]), "2011");
    }

    #[test]
    fn weekly_ticks_are_mondays() {
        let tt = time_ticks(ts(2015, 3, 1, 0), ts(2015, 4, 30, 0), utc(), 600.0, 11.0);
        assert_eq!((tt.unit, tt.step), (TimeUnit::Day, 7));
        let d = DateTime::from_timestamp(tt.ticks[0], 0).unwrap();
        assert_eq!(d.weekday(), chrono::Weekday::Mon);
    }

    #[test]
    fn berlin_ticks_at_local_midnights_across_the_october_change() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // 2026-10-24 00:00 CEST to 2026-10-27 00:00 CET.
        let tt = time_ticks(
            ts(2026, 10, 23, 22),
            ts(2026, 10, 26, 23),
            berlin,
            740.0,
            11.0,
        );
        let midnights: Vec<i64> = tt
            .ticks
            .iter()
            .copied()
            .filter(|t| berlin.local(*t).unwrap().hour() == 0)
            .collect();
        assert_eq!(
            midnights,
            vec![
                ts(2026, 10, 23, 22),
                ts(2026, 10, 24, 22),
                ts(2026, 10, 25, 23),
                ts(2026, 10, 26, 23)
            ]
        );
        // The local day of the change is 25 hours long on the axis.
        assert_eq!(midnights[2] - midnights[1], 25 * HOUR);
        assert!(tt.label(midnights[2]).starts_with("Mon 26"));
    }

    #[test]
    fn labels_carry_month_and_year_at_the_start_and_at_month_changes() {
        // 10 days across a month end: daily ticks.
        let tt = time_ticks(ts(2026, 11, 25, 0), ts(2026, 12, 4, 0), utc(), 740.0, 11.0);
        let labels = tt.labels();
        assert_eq!(labels[0], "Wed 25 Nov 2026");
        assert_eq!(labels[1], "Thu 26");
        let dec = tt
            .ticks
            .iter()
            .position(|t| *t == ts(2026, 12, 1, 0))
            .unwrap();
        assert_eq!(labels[dec], "Tue 01 Dec 2026");
        // One day: the midnight tick gives the date.
        let day = time_ticks(ts(2026, 11, 20, 0), ts(2026, 11, 21, 0), utc(), 740.0, 11.0);
        assert_eq!(day.labels()[0], "Fri 20 Nov 2026");
        assert!(day.labels()[1].ends_with(":00"));
        // Hours without a midnight: the first tick is dated.
        let hours = time_ticks(
            ts(2026, 11, 20, 6),
            ts(2026, 11, 20, 18),
            utc(),
            740.0,
            11.0,
        );
        assert_eq!(hours.labels()[0], "20 Nov 2026 06:00");
    }
}
