//! The data model every stage shares: a [`Series`] of raw samples per [`Scope`], and the
//! request that produced it ([`Period`], [`Method`], [`Target`]).
//!
//! Values are kept exactly as the source gave them (an `f64` parsed with correct rounding);
//! unit conversion happens only when figures are computed or drawn (see [`crate::units`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A set of values known by name. `ALL` and `name` are the one definition of the names:
/// `Display`, [`Named::from_name`], the simulator's query parameters and the command
/// line's choices are derived from them, and a test holds serde's names to them.
pub trait Named: Sized + Copy + PartialEq + 'static {
    /// Every value, in the order lists and help show them.
    const ALL: &'static [Self];
    /// The name the APIs, files and flags use.
    fn name(self) -> &'static str;
    /// The value of exactly this name.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
    /// The names, comma-separated: `hourly, daily`.
    fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
        names.join(", ")
    }
    /// What one value is called in messages: `theme`, `provider`.
    const WHAT: &'static str;
    /// The value of exactly this name, or an error that lists the names.
    fn parse_name(name: &str) -> Result<Self, UnknownName> {
        Self::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
            let expected = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => names.join(""),
            };
            UnknownName {
                what: Self::WHAT,
                name: name.to_string(),
                expected,
            }
        })
    }
}

/// A name outside a [`Named`] set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{name}' (expected {expected})")]
pub struct UnknownName {
    /// What the set is ([`Named::WHAT`]).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names allowed: `light or dark`.
    pub expected: String,
}

/// `FromStr` for [`Named`] types: exactly a name, else [`UnknownName`].
#[macro_export]
#[doc(hidden)]
macro_rules! from_str_by_name {
    ($($t:ty),*) => {$(
        impl std::str::FromStr for $t {
            type Err = $crate::model::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t as $crate::model::Named>::parse_name(s)
            }
        }
    )*};
}
pub(crate) use from_str_by_name;

/// `Display` for a [`Named`] type: its name.
#[macro_export]
#[doc(hidden)]
macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::model::Named::name(*self))
            }
        }
    )*};
}
pub(crate) use display_by_name;

/// Which direction of traffic a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Traffic into the server (inbound).
    Receive,
    /// Traffic out of the server (outbound).
    Transmit,
    /// Receive plus transmit, as the provider computed it.
    Total,
}

impl Named for Scope {
    const ALL: &'static [Scope] = &[Scope::Receive, Scope::Transmit, Scope::Total];
    const WHAT: &'static str = "scope";
    fn name(self) -> &'static str {
        match self {
            Scope::Receive => "receive",
            Scope::Transmit => "transmit",
            Scope::Total => "total",
        }
    }
}

impl Scope {
    /// The lowercase name the APIs and files use: `receive`, `transmit` or `total`.
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

display_by_name!(Scope, Period, Method);

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
    /// One data set per hour.
    Hourly,
    /// One data set per day.
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

    /// The name the APIs and files use: `hourly` or `daily`.
    pub fn as_str(self) -> &'static str {
        self.name()
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

impl Named for Period {
    const ALL: &'static [Period] = &[Period::Hourly, Period::Daily];
    const WHAT: &'static str = "period";
    fn name(self) -> &'static str {
        match self {
            Period::Hourly => "hourly",
            Period::Daily => "daily",
        }
    }
}

/// How the provider consolidated the samples inside one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The average of the samples.
    Avg,
    /// The sum of the samples.
    Sum,
    /// The smallest sample.
    Min,
    /// The largest sample.
    Max,
}

impl Method {
    /// The name the APIs and files use: `avg`, `sum`, `min` or `max`.
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

impl Named for Method {
    const ALL: &'static [Method] = &[Method::Avg, Method::Sum, Method::Min, Method::Max];
    const WHAT: &'static str = "method";
    fn name(self) -> &'static str {
        match self {
            Method::Avg => "avg",
            Method::Sum => "sum",
            Method::Min => "min",
            Method::Max => "max",
        }
    }
}

/// What was asked for: one IP address of one dedicated server of one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// Account id.
    pub account: String,
    /// Dedicated server id.
    pub server: String,
    /// IP address, as the API names it.
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
    /// Start of the period the data set covers (UTC, whole seconds).
    pub time: DateTime<Utc>,
    /// The value as the source gave it, in the source's unit (see [`crate::units::ValueUnit`]).
    pub value: f64,
    /// Samples behind the value, when the source says.
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
    /// Unix seconds of `t` (as `t.timestamp()`, sub-second part dropped); fastest when
    /// called in time order.
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
    /// Granularity of the data sets, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// How the provider consolidated each period, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// Which IP of which server, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

/// A time series of one scope, sorted by time with unique timestamps.
///
/// Stored as columns: unix seconds, raw values and (only when some sample has one) counts,
/// so the passes every graph makes (figures, percentile, decimation) stream contiguous
/// `&[f64]` instead of 40-byte points. [`Point`] stays the by-value type for building,
/// exporting and comparing. Timestamps are whole seconds (the parsers refuse fractions; a
/// sub-second part given here is dropped).
///
/// Whether the timestamps form a perfect grid (every spacing equal) is recognised whenever
/// the series changes ([`Series::grid_step`]), so hot paths can map indices to times.
#[derive(Debug, Clone)]
pub struct Series {
    /// The direction of traffic measured.
    pub scope: Scope,
    /// Distinguishes series of the same scope (e.g. the IP with `--per-ip`); empty otherwise.
    pub label: String,
    /// Where the series came from, as far as known.
    pub origin: Origin,
    times: Vec<i64>,
    values: Vec<f64>,
    /// Empty when no sample has a count, else one entry per sample.
    counts: Vec<Option<u64>>,
    /// `Some(step)` when there are at least two samples and every spacing is `step > 0`.
    grid: Option<i64>,
    /// The smallest spacing between consecutive samples (`None` below two samples, or
    /// while pushed samples are out of order).
    min_spacing: Option<i64>,
    /// The sum of the values' magnitudes while every value is an integer, else NaN. At most
    /// 2^52 means no sum of values can round ([`Series::exact_sums`]).
    integral_abs: f64,
}

/// 2^52: integers up to it, and sums of them up to it, are exact in an `f64`; and
/// `(a + 2^52) - 2^52 == a` tells whether `0 <= a < 2^52` is an integer.
const TWO52: f64 = 4_503_599_627_370_496.0;

/// [`Series::integral_abs`] of one more value.
#[inline]
fn add_integral(acc: f64, v: f64) -> f64 {
    let a = v.abs();
    if (a + TWO52) - TWO52 == a {
        acc + a
    } else {
        f64::NAN
    }
}

/// Equal samples, scope, label and origin (what the columns imply is not compared).
impl PartialEq for Series {
    fn eq(&self, other: &Series) -> bool {
        self.scope == other.scope
            && self.label == other.label
            && self.origin == other.origin
            && self.times == other.times
            && self.values == other.values
            && self.counts == other.counts
    }
}

/// The by-value view of a series (the serialised shape, unchanged from when a series was
/// a `Vec<Point>`).
#[derive(Serialize, Deserialize)]
struct SeriesRepr {
    scope: Scope,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    label: String,
    #[serde(default)]
    origin: Origin,
    points: Vec<Point>,
}

impl Serialize for Series {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Points<'a>(&'a Series);
        impl Serialize for Points<'_> {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                ser.collect_seq(self.0.points())
            }
        }
        let n = if self.label.is_empty() { 3 } else { 4 };
        let mut st = ser.serialize_struct("Series", n)?;
        st.serialize_field("scope", &self.scope)?;
        if self.label.is_empty() {
            st.skip_field("label")?;
        } else {
            st.serialize_field("label", &self.label)?;
        }
        st.serialize_field("origin", &self.origin)?;
        st.serialize_field("points", &Points(self))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let r = SeriesRepr::deserialize(de)?;
        let mut s = Series::new(r.scope, r.points);
        s.label = r.label;
        s.origin = r.origin;
        Ok(s)
    }
}

/// Unix seconds of a time (a sub-second part is dropped).
#[inline]
fn secs(t: &DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// The time of unix seconds `t`.
#[inline]
pub fn time_of(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).expect("timestamp in chrono's range")
}

impl Series {
    /// A series of `points` in any order ([`Series::normalize`]d).
    pub fn new(scope: Scope, points: Vec<Point>) -> Series {
        // Columns first, then one pass of [`Series::normalize`] (not `push`'s running
        // figures, which it would compute again).
        let times = points.iter().map(|p| secs(&p.time)).collect();
        let values = points.iter().map(|p| p.value).collect();
        let counts = if points.iter().any(|p| p.count.is_some()) {
            points.iter().map(|p| p.count).collect()
        } else {
            Vec::new()
        };
        Series::from_columns(scope, times, values, counts)
    }

    /// A series without samples.
    pub fn empty(scope: Scope) -> Series {
        Series {
            scope,
            label: String::new(),
            origin: Origin::default(),
            times: Vec::new(),
            values: Vec::new(),
            counts: Vec::new(),
            grid: None,
            min_spacing: None,
            integral_abs: 0.0,
        }
    }

    /// A series from its columns in any order ([`Series::normalize`]d). `counts` is empty
    /// (no sample has a count) or as long as `times`, as is `values`.
    pub fn from_columns(
        scope: Scope,
        times: Vec<i64>,
        values: Vec<f64>,
        counts: Vec<Option<u64>>,
    ) -> Series {
        assert_eq!(times.len(), values.len(), "one value per timestamp");
        assert!(
            counts.is_empty() || counts.len() == times.len(),
            "no counts or one per timestamp"
        );
        let mut s = Series::empty(scope);
        s.times = times;
        s.values = values;
        s.counts = if counts.iter().any(Option::is_some) {
            counts
        } else {
            Vec::new()
        };
        s.normalize();
        s
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.times.reserve(additional);
        self.values.reserve(additional);
        if !self.counts.is_empty() {
            self.counts.reserve(additional);
        }
    }

    /// Frees growth slack (a parsed series stays allocated for the whole run).
    pub fn shrink_to_fit(&mut self) {
        self.times.shrink_to_fit();
        self.values.shrink_to_fit();
        self.counts.shrink_to_fit();
    }

    /// Appends a sample. Appending out of time order (or a repeated timestamp) is allowed;
    /// [`Series::normalize`] then restores the invariant.
    pub fn push(&mut self, p: Point) {
        self.push_parts(secs(&p.time), p.value, p.count);
    }

    /// [`Series::push`] from unix seconds.
    #[inline]
    pub fn push_parts(&mut self, time: i64, value: f64, count: Option<u64>) {
        self.grid = match (self.times.len(), self.times.last()) {
            (1, Some(&last)) if time > last => Some(time - last),
            (n, Some(&last)) if n > 1 && self.grid == Some(time - last) => self.grid,
            _ => None,
        };
        self.min_spacing = match (self.times.len(), self.times.last()) {
            (1, Some(&last)) if time > last => Some(time - last),
            (n, Some(&last)) if n > 1 && time > last => {
                self.min_spacing.map(|m| m.min(time - last))
            }
            _ => None,
        };
        self.integral_abs = add_integral(self.integral_abs, value);
        if count.is_some() || !self.counts.is_empty() {
            self.counts.resize(self.times.len(), None);
            self.counts.push(count);
        }
        self.times.push(time);
        self.values.push(value);
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the series has no samples.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Unix seconds of every sample, ascending.
    #[inline]
    pub fn times(&self) -> &[i64] {
        &self.times
    }

    /// Raw values, in time order.
    #[inline]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Counts, one per sample; empty when no sample has one.
    #[inline]
    pub fn counts(&self) -> &[Option<u64>] {
        &self.counts
    }

    /// The count of sample `i`.
    #[inline]
    pub fn count(&self, i: usize) -> Option<u64> {
        self.counts.get(i).copied().flatten()
    }

    /// Sample `i` by value.
    pub fn point(&self, i: usize) -> Point {
        Point {
            time: time_of(self.times[i]),
            value: self.values[i],
            count: self.count(i),
        }
    }

    /// Every sample by value, in time order.
    pub fn points(
        &self,
    ) -> impl DoubleEndedIterator<Item = Point> + ExactSizeIterator + Clone + '_ {
        (0..self.len()).map(move |i| self.point(i))
    }

    /// Every sample by value.
    pub fn to_points(&self) -> Vec<Point> {
        self.points().collect()
    }

    /// `Some(step)` when the series has at least two samples spaced exactly `step` seconds
    /// apart throughout: sample `i` is at `times()[0] + i * step`.
    #[inline]
    pub fn grid_step(&self) -> Option<i64> {
        self.grid
    }

    /// The smallest spacing between consecutive samples, in seconds (`None` below two
    /// samples). When it is at least the step, a stretch of `k` samples spanning exactly
    /// `(k - 1) * step` has no gap, which decimation uses to find gaps without scanning.
    #[inline]
    pub fn min_spacing(&self) -> Option<i64> {
        self.min_spacing
    }

    /// Whether every value is an integer and their magnitudes add up to at most 2^52. Then
    /// every partial sum of any of the values (and of the values times a power of two) is
    /// exact, so sums may be taken in any order, in vector lanes, and still equal the sum
    /// taken one value after another. Traffic counters are integers, so this holds for
    /// real data.
    #[inline]
    pub fn exact_sums(&self) -> bool {
        self.integral_abs <= TWO52
    }

    /// Removes the samples at positions `range`.
    pub fn remove_range(&mut self, range: std::ops::Range<usize>) {
        self.times.drain(range.clone());
        self.values.drain(range.clone());
        if !self.counts.is_empty() {
            self.counts.drain(range);
            if self.counts.iter().all(Option::is_none) {
                self.counts = Vec::new();
            }
        }
        self.grid = detect_grid(&self.times);
        self.min_spacing = min_spacing(&self.times);
        self.integral_abs = self.values.iter().fold(0.0, |a, &v| add_integral(a, v));
    }

    /// Sorts by time and merges duplicate timestamps (the later point wins: chunk edges
    /// repeat the same data set).
    pub fn normalize(&mut self) {
        if !self.times.windows(2).all(|w| w[0] < w[1]) {
            let mut order: Vec<usize> = (0..self.len()).collect();
            order.sort_by_key(|&i| self.times[i]); // stable: later duplicates stay later
            let mut keep: Vec<usize> = Vec::with_capacity(order.len());
            for i in order {
                match keep.last_mut() {
                    Some(last) if self.times[*last] == self.times[i] => *last = i,
                    _ => keep.push(i),
                }
            }
            self.times = keep.iter().map(|&i| self.times[i]).collect();
            self.values = keep.iter().map(|&i| self.values[i]).collect();
            if !self.counts.is_empty() {
                self.counts = keep.iter().map(|&i| self.counts[i]).collect();
            }
        }
        if self.counts.iter().all(Option::is_none) {
            self.counts = Vec::new();
        }
        self.grid = detect_grid(&self.times);
        self.min_spacing = min_spacing(&self.times);
        self.integral_abs = self.values.iter().fold(0.0, |a, &v| add_integral(a, v));
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
        if let Some(g) = self.grid {
            return snap_step(g);
        }
        infer_step(&self.times)
    }

    pub(crate) fn first_time(&self) -> Option<DateTime<Utc>> {
        self.times.first().map(|&t| time_of(t))
    }

    pub(crate) fn last_time(&self) -> Option<DateTime<Utc>> {
        self.times.last().map(|&t| time_of(t))
    }

    /// The first time at which two samples disagree (another value or count), in time
    /// order. Equal duplicates are not a conflict: [`Series::normalize`] merges them.
    pub(crate) fn conflict(&self) -> Option<Conflict> {
        if self.times.windows(2).all(|w| w[0] < w[1]) {
            return None;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| self.times[i]); // stable: the first sample comes first
        order
            .windows(2)
            .find_map(|w| self.disagree(self, w[0], w[1]))
    }

    /// The first time at which this series and `other` (both normalized) disagree.
    pub(crate) fn conflict_with(&self, other: &Series) -> Option<Conflict> {
        let (mut i, mut j) = (0, 0);
        while i < self.len() && j < other.len() {
            match self.times[i].cmp(&other.times[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    if let Some(c) = self.disagree(other, i, j) {
                        return Some(c);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        None
    }

    fn disagree(&self, other: &Series, i: usize, j: usize) -> Option<Conflict> {
        let same = self.times[i] == other.times[j]
            && self.values[i] == other.values[j]
            && self.count(i) == other.count(j);
        (self.times[i] == other.times[j] && !same).then(|| Conflict {
            time: time_of(self.times[i]),
            first: self.values[i],
            second: other.values[j],
        })
    }

    /// Appends `other`'s samples and [`Series::normalize`]s (on a shared timestamp,
    /// `other`'s sample wins).
    pub fn append(&mut self, other: &Series) {
        self.reserve(other.len());
        for i in 0..other.len() {
            self.push_parts(other.times[i], other.values[i], other.count(i));
        }
        self.normalize();
    }
}

impl Extend<Point> for Series {
    fn extend<I: IntoIterator<Item = Point>>(&mut self, iter: I) {
        for p in iter {
            self.push(p);
        }
    }
}

/// Series summed per scope into buckets of `step` seconds (1: per timestamp), each value
/// multiplied by its series' factor; a series without a sample in a bucket adds nothing
/// there, and counts add where given. The one summing rule of the crate: a server's IPs
/// (fetch), a pool's members (report), SoftLayer's hours into UTC days. The sums carry no
/// label or origin: the caller says what they are.
pub fn sum_series<'a>(
    parts: impl IntoIterator<Item = (&'a Series, f64)>,
    step: i64,
) -> Vec<Series> {
    let step = step.max(1);
    let mut sums: std::collections::BTreeMap<
        Scope,
        std::collections::BTreeMap<i64, (f64, Option<u64>)>,
    > = Default::default();
    for (series, factor) in parts {
        let by_bucket = sums.entry(series.scope).or_default();
        for i in 0..series.len() {
            let bucket = series.times[i].div_euclid(step) * step;
            let cell = by_bucket.entry(bucket).or_insert((0.0, None));
            cell.0 += series.values[i] * factor;
            cell.1 = match (cell.1, series.count(i)) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            };
        }
    }
    sums.into_iter()
        .filter(|(_, buckets)| !buckets.is_empty())
        .map(|(scope, buckets)| {
            let (times, cells): (Vec<i64>, Vec<(f64, Option<u64>)>) = buckets.into_iter().unzip();
            let (values, counts) = cells.into_iter().unzip();
            Series::from_columns(scope, times, values, counts)
        })
        .collect()
}

/// Two samples for one time that disagree: no rule can tell which is right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conflict {
    /// The timestamp both samples claim.
    pub time: DateTime<Utc>,
    /// The value seen first (in time order, or of the series asked).
    pub first: f64,
    /// The value that contradicts it (a later sample, or the other series').
    pub second: f64,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "two samples for {} disagree ({} and {}) [rule: duplicate]",
            self.time.format("%Y-%m-%d %H:%M:%S UTC"),
            self.first,
            self.second
        )
    }
}

/// `Some(step)` when `times` has at least two entries, all `step > 0` apart.
pub fn detect_grid(times: &[i64]) -> Option<i64> {
    let (&first, &second) = (times.first()?, times.get(1)?);
    let step = second - first;
    if step <= 0 {
        return None;
    }
    // Exact without overflow worries: every spacing equal means the ends agree, and the
    // windows check below confirms each one (one cheap vectorizable pass).
    let last = *times.last()?;
    if (last - first).checked_rem(step) != Some(0)
        || (last - first) / step != times.len() as i64 - 1
    {
        return None;
    }
    times
        .windows(2)
        .all(|w| w[1].wrapping_sub(w[0]) == step)
        .then_some(step)
}

/// The smallest spacing of sorted `times` (`None` below two, or when not increasing).
pub fn min_spacing(times: &[i64]) -> Option<i64> {
    let m = times.windows(2).map(|w| w[1].wrapping_sub(w[0])).min()?;
    (m > 0).then_some(m)
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
pub fn infer_step(times: &[i64]) -> i64 {
    let smallest = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(3600);
    snap_step(smallest)
}

/// A spacing of `d` seconds as a step: a whole number of days is a day, of hours an hour.
fn snap_step(d: i64) -> i64 {
    match d {
        d if d % 86_400 == 0 => 86_400,
        d if d % 3600 == 0 => 3600,
        d => d,
    }
}

/// Everything one graph or export is made of: one or more series, at most one of each
/// scope and label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// The series, in the order they were read or fetched.
    pub series: Vec<Series>,
}

impl Traffic {
    /// Traffic of these series, as given.
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

    /// Whether no series has a sample.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(Series::is_empty)
    }

    /// Step of the finest series, in seconds.
    pub fn step_seconds(&self) -> i64 {
        self.series
            .iter()
            .filter(|s| !s.is_empty())
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
            existing.append(&series);
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

    /// Serde's names (`rename_all = "lowercase"`) are the `Named` names, both ways.
    #[test]
    fn serde_names_are_the_named_names() {
        fn check<T: Named + serde::Serialize + serde::de::DeserializeOwned + fmt::Debug>() {
            for &v in T::ALL {
                let text = serde_json::to_string(&v).unwrap();
                assert_eq!(text, format!("\"{}\"", v.name()));
                assert_eq!(serde_json::from_str::<T>(&text).unwrap(), v);
                assert_eq!(T::from_name(v.name()), Some(v));
            }
        }
        check::<Scope>();
        check::<Period>();
        check::<Method>();
        assert_eq!(Period::names(), "hourly, daily");
        assert_eq!(Method::Sum.to_string(), "sum");
    }
    use chrono::TimeZone;

    fn pt(h: u32, v: f64) -> Point {
        Point {
            time: Utc.with_ymd_and_hms(2015, 5, 5, h, 0, 0).unwrap(),
            value: v,
            count: None,
        }
    }

    #[test]
    fn sum_series_adds_per_time_or_per_bucket() {
        let a = Series::new(Scope::Receive, vec![pt(0, 1.0), pt(1, 2.0)]);
        let b = Series::new(Scope::Receive, vec![pt(1, 10.0), pt(2, 20.0)]);
        let per_time = sum_series([(&a, 1.0), (&b, 1.0)], 1);
        assert_eq!(per_time.len(), 1);
        assert_eq!(
            per_time[0].values(),
            &[1.0, 12.0, 20.0],
            "a missing hour adds nothing"
        );
        let per_day = sum_series([(&a, 3600.0), (&b, 1.0)], 86_400);
        assert_eq!(per_day[0].values(), &[3600.0 * 3.0 + 30.0]);
        assert_eq!(per_day[0].times()[0] % 86_400, 0);
    }

    #[test]
    fn normalize_sorts_and_later_duplicate_wins() {
        let s = Series::new(Scope::Receive, vec![pt(2, 2.0), pt(0, 0.0), pt(2, 3.0)]);
        assert_eq!(s.values(), &[0.0, 3.0]);
        let values: Vec<f64> = s.points().map(|p| p.value).collect();
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

    fn hours(hs: &[i64]) -> Series {
        let t0 = 1_430_784_000;
        let mut s = Series::empty(Scope::Receive);
        for &h in hs {
            s.push_parts(t0 + h * 3600, h as f64, None);
        }
        s
    }

    #[test]
    fn min_spacing_follows_pushes_removals_and_normalizing() {
        assert_eq!(hours(&[0, 1, 3, 7]).min_spacing(), Some(3600));
        assert_eq!(hours(&[0, 2, 5]).min_spacing(), Some(7200));
        assert_eq!(hours(&[4]).min_spacing(), None);
        let mut s = hours(&[3, 0, 2]); // out of order: unknown until normalized
        assert_eq!(s.min_spacing(), None);
        s.normalize();
        assert_eq!(s.min_spacing(), Some(3600));
        let mut s = hours(&[0, 1, 5, 9]);
        s.remove_range(1..2);
        assert_eq!(s.min_spacing(), Some(4 * 3600));
        assert_eq!(min_spacing(&[0, 5, 7, 20]), Some(2));
    }

    #[test]
    fn grid_is_recognised_when_built_and_pushed() {
        let grid = hours(&[0, 1, 2, 3, 4]);
        assert_eq!(grid.grid_step(), Some(3600));
        assert_eq!(detect_grid(grid.times()), Some(3600));
        let gap = hours(&[0, 1, 2, 4, 5]);
        assert_eq!(gap.grid_step(), None);
        assert_eq!(detect_grid(gap.times()), None);
        let irregular = hours(&[0, 2, 3, 5, 6]);
        assert_eq!(irregular.grid_step(), None);
        assert_eq!(detect_grid(irregular.times()), None);
        // Same ends and count as a grid, uneven inside.
        assert_eq!(detect_grid(&[0, 1, 3, 3, 4]), None);
        assert_eq!(hours(&[7]).grid_step(), None);
        assert_eq!(hours(&[]).grid_step(), None);
        assert_eq!(hours(&[0, 2, 4]).grid_step(), Some(7200));
        // Out of order while pushing; normalize finds the grid.
        let mut s = hours(&[2, 0, 1, 3]);
        assert_eq!(s.grid_step(), None);
        s.normalize();
        assert_eq!(s.grid_step(), Some(3600));
        let mut s = hours(&[0, 1, 2, 3, 4, 5]);
        s.remove_range(2..3);
        assert_eq!(s.grid_step(), None);
        s.remove_range(0..2);
        assert_eq!(s.grid_step(), Some(3600));
    }

    #[test]
    fn columns_round_trip_points_and_counts() {
        let mut s = Series::new(Scope::Receive, vec![pt(1, 1.5), pt(0, 2.0)]);
        assert!(s.counts().is_empty(), "no count, no column");
        assert_eq!(s.values(), &[2.0, 1.5]);
        let mut p = pt(2, 3.0);
        p.count = Some(7);
        s.push(p);
        assert_eq!(s.counts(), &[None, None, Some(7)]);
        assert_eq!(s.point(2), p);
        assert_eq!(s.to_points()[0], pt(0, 2.0));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"points\":[{\"time\""), "{json}");
        let back: Series = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn exact_sums_only_for_integers_that_cannot_round() {
        assert!(Series::new(Scope::Receive, vec![pt(0, 3.0), pt(1, -4.0)]).exact_sums());
        assert!(!Series::new(Scope::Receive, vec![pt(0, 3.0), pt(1, 0.5)]).exact_sums());
        let big = 2f64.powi(51);
        assert!(Series::new(Scope::Receive, vec![pt(0, big), pt(1, big)]).exact_sums());
        assert!(
            !Series::new(Scope::Receive, vec![pt(0, big), pt(1, big), pt(2, 1.0)]).exact_sums()
        );
        assert!(!Series::new(Scope::Receive, vec![pt(0, f64::INFINITY)]).exact_sums());
        assert!(!Series::new(Scope::Receive, vec![pt(0, f64::NAN)]).exact_sums());
    }

    #[test]
    fn scope_parses_aliases() {
        assert_eq!("in".parse::<Scope>().unwrap(), Scope::Receive);
        assert_eq!("Transmit".parse::<Scope>().unwrap(), Scope::Transmit);
        assert!("sideways".parse::<Scope>().is_err());
    }
}
