//! The data model every stage shares: a [`Series`] of raw samples per [`Scope`], and the
//! request that produced it ([`Period`], [`Method`], [`Target`]).
//!
//! Values are kept exactly as the source gave them (an `f64` parsed with correct rounding);
//! unit conversion happens only when figures are computed or drawn (see [`crate::units`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which direction of traffic a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Receive,
    Transmit,
    /// Receive plus transmit, as the provider computed it.
    Total,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Receive, Scope::Transmit, Scope::Total];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Receive => "receive",
            Scope::Transmit => "transmit",
            Scope::Total => "total",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "receive" | "rx" | "in" | "inbound" => Ok(Scope::Receive),
            "transmit" | "tx" | "out" | "outbound" => Ok(Scope::Transmit),
            "total" => Ok(Scope::Total),
            other => Err(format!(
                "unknown scope '{other}' (expected receive, transmit or total)"
            )),
        }
    }
}

/// Granularity of the data sets a provider returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hourly,
    Daily,
}

impl Period {
    /// Seconds covered by one data set.
    pub fn seconds(self) -> i64 {
        match self {
            Period::Hourly => 3600,
            Period::Daily => 86_400,
        }
    }

    /// Data sets per calendar day (hourly = 24, daily = 1).
    pub fn sets_per_day(self) -> i64 {
        86_400 / self.seconds()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hourly => "hourly",
            Period::Daily => "daily",
        }
    }

    /// The period whose step is `seconds`, if any.
    pub fn from_seconds(seconds: i64) -> Option<Period> {
        match seconds {
            3600 => Some(Period::Hourly),
            86_400 => Some(Period::Daily),
            _ => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the provider consolidated the samples inside one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Avg,
    Sum,
    Min,
    Max,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Avg => "avg",
            Method::Sum => "sum",
            Method::Min => "min",
            Method::Max => "max",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was asked for: one IP address of one dedicated server of one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub account: String,
    pub server: String,
    pub ip: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.account, self.server, self.ip)
    }
}

/// One data set: a timestamp (UTC, start of the period), the raw value and, when the source
/// says, how many samples stand behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub time: DateTime<Utc>,
    pub value: f64,
    pub count: Option<u64>,
}

/// Unix timestamps of points in time order, equal to `DateTime::timestamp` but computing
/// the calendar part once per day instead of once per point (hourly data changes day every
/// 24 points; at a million points the per-point calendar arithmetic was a measurable part
/// of each graph).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stamper {
    day: Option<chrono::NaiveDate>,
    base: i64,
}

impl Stamper {
    #[inline]
    pub fn stamp(&mut self, t: &DateTime<Utc>) -> i64 {
        use chrono::Timelike;
        let n = t.naive_utc();
        let d = n.date();
        if self.day != Some(d) {
            self.day = Some(d);
            self.base = d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
        }
        self.base + i64::from(n.time().num_seconds_from_midnight())
    }
}

/// Where a series came from. Every field is optional: a file on disk may say nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// A time series of one scope, sorted by time with unique timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub scope: Scope,
    /// Distinguishes series of the same scope (e.g. the IP with `--per-ip`); empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default)]
    pub origin: Origin,
    pub points: Vec<Point>,
}

impl Series {
    pub fn new(scope: Scope, points: Vec<Point>) -> Series {
        let mut s = Series {
            scope,
            label: String::new(),
            origin: Origin::default(),
            points,
        };
        s.normalize();
        s
    }

    /// Sorts by time and merges duplicate timestamps (the later point wins: chunk edges
    /// repeat the same data set).
    pub fn normalize(&mut self) {
        if !self.points.windows(2).all(|w| w[0].time < w[1].time) {
            self.points.sort_by_key(|p| p.time);
            let mut out: Vec<Point> = Vec::with_capacity(self.points.len());
            for p in self.points.drain(..) {
                match out.last_mut() {
                    Some(last) if last.time == p.time => *last = p,
                    _ => out.push(p),
                }
            }
            self.points = out;
        }
    }

    /// The name shown in legends and column headers: `receive`, or `receive@10.0.0.1`.
    pub fn name(&self) -> String {
        column_name(self.scope, &self.label, false)
    }

    /// The header of this series' count column: `receive_count`, `receive_count@10.0.0.1`.
    pub fn count_name(&self) -> String {
        column_name(self.scope, &self.label, true)
    }

    /// The step between data sets in seconds: the period when known, otherwise the
    /// smallest positive spacing seen (hourly when there is nothing to infer from).
    pub fn step_seconds(&self) -> i64 {
        if let Some(p) = self.origin.period {
            return p.seconds();
        }
        infer_step(&self.points)
    }

    pub fn first_time(&self) -> Option<DateTime<Utc>> {
        self.points.first().map(|p| p.time)
    }

    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.points.last().map(|p| p.time)
    }
}

/// Export column name of a scope and label: `receive`, `receive_count@10.0.0.1`.
pub fn column_name(scope: Scope, label: &str, count: bool) -> String {
    let suffix = if count { "_count" } else { "" };
    if label.is_empty() {
        format!("{scope}{suffix}")
    } else {
        format!("{scope}{suffix}@{label}")
    }
}

/// The step of points whose period is not known, in seconds: the smallest positive spacing,
/// snapped down to a day or an hour when it is a whole number of them (providers only
/// consolidate by hour or day, so 48 hours between the only two samples means a missing
/// day, not a two-day period). 3600 when there is nothing to infer from.
pub fn infer_step(points: &[Point]) -> i64 {
    let smallest = points
        .windows(2)
        .map(|w| (w[1].time - w[0].time).num_seconds())
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(3600);
    match smallest {
        d if d % 86_400 == 0 => 86_400,
        d if d % 3600 == 0 => 3600,
        d => d,
    }
}

/// Everything one graph or export is made of: one or more series, at most one of each
/// scope and label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    pub series: Vec<Series>,
}

impl Traffic {
    pub fn new(series: Vec<Series>) -> Traffic {
        Traffic { series }
    }

    /// The unlabelled series of a scope, if present.
    pub fn get(&self, scope: Scope) -> Option<&Series> {
        self.series
            .iter()
            .find(|s| s.scope == scope && s.label.is_empty())
            .or_else(|| self.series.iter().find(|s| s.scope == scope))
    }

    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty())
    }

    /// Step of the finest series, in seconds.
    pub fn step_seconds(&self) -> i64 {
        self.series
            .iter()
            .filter(|s| !s.points.is_empty())
            .map(Series::step_seconds)
            .min()
            .unwrap_or(3600)
    }

    /// Earliest and latest timestamp over all series.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let first = self.series.iter().filter_map(Series::first_time).min()?;
        let last = self.series.iter().filter_map(Series::last_time).max()?;
        Some((first, last))
    }

    /// Records each series' inferred step as its period when it is a known one (hourly,
    /// daily), so [`Series::step_seconds`] answers in O(1) instead of scanning every sample
    /// on each of the dozen calls that statistics and drawing make (at a million points the
    /// scans were half the time of a graph). The step, and so every figure, is unchanged.
    pub fn resolve_periods(&mut self) {
        for s in self.series.iter_mut().filter(|s| s.origin.period.is_none()) {
            s.origin.period = Period::from_seconds(s.step_seconds());
        }
    }

    /// Adds a series, merging it into one of the same scope and label if present.
    pub fn merge_series(&mut self, series: Series) {
        if let Some(existing) = self
            .series
            .iter_mut()
            .find(|s| s.scope == series.scope && s.label == series.label)
        {
            existing.points.extend(series.points);
            existing.points.sort_by_key(|p| p.time);
            existing.normalize();
            if existing.origin.period.is_none() {
                existing.origin.period = series.origin.period;
            }
            if existing.origin.method.is_none() {
                existing.origin.method = series.origin.method;
            }
        } else {
            self.series.push(series);
        }
        self.series
            .sort_by(|a, b| (a.scope, &a.label).cmp(&(b.scope, &b.label)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pt(h: u32, v: f64) -> Point {
        Point {
            time: Utc.with_ymd_and_hms(2015, 5, 5, h, 0, 0).unwrap(),
            value: v,
            count: None,
        }
    }

    #[test]
    fn normalize_sorts_and_later_duplicate_wins() {
        let s = Series::new(Scope::Receive, vec![pt(2, 2.0), pt(0, 0.0), pt(2, 3.0)]);
        let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
        assert_eq!(values, vec![0.0, 3.0]);
    }

    #[test]
    fn step_is_inferred_from_smallest_spacing() {
        let s = Series::new(Scope::Receive, vec![pt(0, 1.0), pt(3, 1.0), pt(4, 1.0)]);
        assert_eq!(s.step_seconds(), 3600);
    }

    #[test]
    fn step_snaps_to_hours_and_days() {
        let s = Series::new(Scope::Receive, vec![pt(0, 1.0), pt(2, 1.0)]);
        assert_eq!(s.step_seconds(), 3600);
        let days = |d: u32| Point {
            time: Utc.with_ymd_and_hms(2015, 5, d, 0, 0, 0).unwrap(),
            value: 1.0,
            count: None,
        };
        let s = Series::new(Scope::Receive, vec![days(5), days(7)]);
        assert_eq!(s.step_seconds(), 86_400);
    }

    #[test]
    fn stamper_matches_timestamp() {
        let mut st = Stamper::default();
        let t0 = Utc.with_ymd_and_hms(1969, 12, 30, 22, 0, 0).unwrap();
        for i in 0..200i64 {
            let t = t0 + chrono::Duration::seconds(i * 1234 + 7) + chrono::Duration::nanoseconds(i);
            assert_eq!(st.stamp(&t), t.timestamp());
        }
        let far = Utc.with_ymd_and_hms(2015, 5, 5, 23, 59, 59).unwrap();
        assert_eq!(st.stamp(&far), far.timestamp());
    }

    #[test]
    fn scope_parses_aliases() {
        assert_eq!("in".parse::<Scope>().unwrap(), Scope::Receive);
        assert_eq!("Transmit".parse::<Scope>().unwrap(), Scope::Transmit);
        assert!("sideways".parse::<Scope>().is_err());
    }
}
