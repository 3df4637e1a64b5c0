//! Figures computed from the raw samples, never from what was drawn: per series maximum,
//! average, minimum, last and total, and the percentile line.
//!
//! **Percentile method: nearest rank.** For `p` in (0, 100] over `n` samples sorted
//! ascending, the value is the sample at rank `ceil(p / 100 * n)` (1-based). It is always a
//! sample that occurred (no interpolation), which is what 95th-percentile billing uses.
//! `--percentile-of max|sum` joins receive and transmit per timestamp first; where one side
//! has no sample at a timestamp, the other side's sample stands alone.
//!
//! The pass that reads the samples also leaves each series' [`Rollup`] (per-bucket
//! minimum, maximum and sum) in its [`SeriesStats`], so drawing need not read them again.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{time_of, Scope, Series, Traffic};
use crate::rollup::{self, Bracket, Bucket, Join, Rollup};
use crate::units::{DisplayUnit, ValueUnit};

/// Which samples the percentile line is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PercentileOf {
    /// The receive samples only.
    Receive,
    /// The transmit samples only.
    Transmit,
    /// max(receive, transmit) per timestamp: the usual billing rule.
    #[default]
    Max,
    /// receive + transmit per timestamp.
    Sum,
}

impl crate::model::Named for PercentileOf {
    const ALL: &'static [PercentileOf] = &[
        PercentileOf::Receive,
        PercentileOf::Transmit,
        PercentileOf::Max,
        PercentileOf::Sum,
    ];
    const WHAT: &'static str = "percentile basis";
    fn name(self) -> &'static str {
        match self {
            PercentileOf::Receive => "receive",
            PercentileOf::Transmit => "transmit",
            PercentileOf::Max => "max",
            PercentileOf::Sum => "sum",
        }
    }
}

impl std::fmt::Display for PercentileOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::model::Named::name(*self))
    }
}

crate::model::from_str_by_name!(PercentileOf);

/// How raw values become rates, and which percentile to compute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsOptions {
    /// What the raw values are (resolved per series with its method).
    pub value_unit: ValueUnit,
    /// Bits or bytes per second, for every rate figure.
    pub unit: DisplayUnit,
    /// In (0, 100]; `None` draws and computes no percentile.
    pub percentile: Option<f64>,
    /// Which samples the percentile is taken of.
    pub percentile_of: PercentileOf,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            value_unit: ValueUnit::Auto,
            unit: DisplayUnit::Bits,
            percentile: Some(95.0),
            percentile_of: PercentileOf::Max,
        }
    }
}

/// Figures of one series. Rates are in the display unit per second; `total_bytes` is the
/// volume transferred over the samples present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesStats {
    /// The series' name, as in legends: `receive` or `receive@10.0.0.1`.
    pub name: String,
    /// The direction of traffic.
    pub scope: Scope,
    /// Number of samples.
    pub samples: usize,
    /// Samples present / samples expected between the first and last timestamp.
    pub coverage: f64,
    /// Largest rate.
    pub max: f64,
    /// When the largest rate first occurred (start of its period); `None` without samples.
    pub max_at: Option<DateTime<Utc>>,
    /// Mean rate over the samples present (gaps are not counted as zero).
    pub avg: f64,
    /// Smallest rate.
    pub min: f64,
    /// Rate of the latest sample.
    pub last: f64,
    /// Bytes transferred over the samples present.
    pub total_bytes: f64,
    /// The largest finite rate (at least 0): what the rate axis is scaled to. Gathered in
    /// the same pass as the other figures so drawing need not scan the samples again;
    /// not printed.
    #[serde(skip)]
    pub peak_rate: f64,
    /// The samples summarised per bucket, for decimation: see [`crate::rollup`]. Only for
    /// series with exact sums; not printed.
    #[serde(skip)]
    pub rollup: Option<Arc<Rollup>>,
}

/// The percentile line: which percentile, of what, and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PercentileStat {
    /// The percentile, in (0, 100].
    pub p: f64,
    /// What the samples were: receive, transmit, max, sum (or total when that is all there is).
    pub of: String,
    /// Always `nearest-rank` (see the module documentation).
    pub method: &'static str,
    /// Number of samples ranked.
    pub samples: usize,
    /// The percentile's rate, in the display unit.
    pub value: f64,
}

/// Everything `--stats json` prints and the legend shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// `bits/s` or `bytes/s`: the unit of every rate.
    pub unit: &'static str,
    /// The step between data sets, in seconds (the finest series').
    pub step_seconds: i64,
    /// Earliest timestamp over all series.
    pub start: Option<DateTime<Utc>>,
    /// Latest timestamp over all series.
    pub end: Option<DateTime<Utc>>,
    /// Figures of each non-empty series, in the traffic's order.
    pub series: Vec<SeriesStats>,
    /// The percentile line, when one was asked for and there were samples.
    pub percentile: Option<PercentileStat>,
}

impl Stats {
    /// The figures of the first series of `scope`.
    pub fn series(&self, scope: Scope) -> Option<&SeriesStats> {
        self.series.iter().find(|s| s.scope == scope)
    }

    /// Every figure is a number: an infinite or NaN one (which JSON would print as `null`,
    /// read by scripts as "no data") is an error naming it. Values that passed
    /// [`crate::validate`] never produce one; this is the last line of defence.
    pub fn check_finite(&self) -> Result<(), FigureError> {
        for s in &self.series {
            let figures = [
                ("max", s.max),
                ("avg", s.avg),
                ("min", s.min),
                ("last", s.last),
                ("total_bytes", s.total_bytes),
                ("coverage", s.coverage),
            ];
            for (name, v) in figures {
                if !v.is_finite() {
                    return Err(FigureError::Series {
                        figure: name,
                        series: s.name.clone(),
                        value: v,
                    });
                }
            }
        }
        match &self.percentile {
            Some(p) if !p.value.is_finite() => Err(FigureError::Percentile {
                p: p.p,
                value: p.value,
            }),
            _ => Ok(()),
        }
    }
}

/// A figure that came out infinite or NaN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FigureError {
    /// A series figure (`max`, `avg`, `min`, `last`, `total_bytes`, `coverage`).
    #[error("the {figure} of {series} cannot be computed ({value}); the values are out of range")]
    Series {
        /// Which figure.
        figure: &'static str,
        /// The series' column name.
        series: String,
        /// What it came out as.
        value: f64,
    },
    /// The percentile.
    #[error("the {p}th percentile cannot be computed ({value})")]
    Percentile {
        /// The percentile asked for, in (0, 100].
        p: f64,
        /// What it came out as.
        value: f64,
    },
}

/// Factor from one raw value of `series` to the display unit per second.
pub fn rate_factor(series: &Series, opts: &StatsOptions) -> f64 {
    opts.value_unit
        .resolve(series.origin.method)
        .bytes_per_second_factor(series.step_seconds())
        * opts.unit.from_bytes_per_second()
}

/// Computes every figure from the raw samples.
pub fn compute(traffic: &Traffic, opts: &StatsOptions) -> Stats {
    let span = traffic.span();
    // Series whose figures were gathered while joining them for the percentile (one pass
    // over their samples instead of two).
    let mut gathered: Vec<(&Series, Gathered)> = Vec::new();
    let percentile = opts
        .percentile
        .and_then(|p| percentile_stat(traffic, opts, p, &mut gathered));
    let series = traffic
        .series
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (acc, rollup) = gathered
                .iter()
                .find(|(g, _)| std::ptr::eq(*g, s))
                .map_or_else(|| Acc::over(s, rate_factor(s, opts)), |g| g.1.clone());
            series_stats(s, opts, acc, rollup)
        })
        .collect();
    Stats {
        unit: opts.unit.as_str(),
        step_seconds: traffic.step_seconds(),
        start: span.map(|s| s.0),
        end: span.map(|s| s.1),
        series,
        percentile,
    }
}

/// Maximum (and when it first occurred), minimum and sum of raw values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Acc {
    max: f64,
    max_at: Option<DateTime<Utc>>,
    min: f64,
    sum: f64,
    /// Largest finite rate, at least 0.
    peak: f64,
}

impl Acc {
    /// The figures of `s` whose rates are its values times `f`, and its rollup.
    fn over(s: &Series, f: f64) -> Gathered {
        with_rollup(s, Rollup::of(s.values()), f)
    }
}

/// [`Acc`] from a rollup of `s` (rates `value * f`).
///
/// - The maximum's first occurrence: the first bucket whose maximum is the largest is
///   searched.
/// - The peak rate is the maximum times the (positive) factor: multiplying by a positive
///   number keeps the order. Anything unusual (a factor that is not positive, an
///   overflowing rate) takes the peak one rate after another.
/// - The sum is the one figure whose value depends on the order of additions. The buckets'
///   sums are used only when the series' values are integers whose magnitudes add up to at
///   most 2^52 ([`Series::exact_sums`]): then no addition rounds and any order gives the
///   same sum. Otherwise the sum is taken again one value after another.
fn acc_from(s: &Series, r: &Rollup, f: f64) -> Acc {
    let values = s.values();
    let all = r
        .buckets()
        .iter()
        .fold(Bucket::EMPTY, |acc, b| acc.merge(*b));
    let (max, max_at) = if all.max == f64::NEG_INFINITY {
        (f64::NEG_INFINITY, None)
    } else {
        // The first value equal to the maximum, in the first bucket holding it (the same
        // value a strict `>` scan keeps, sign of zero included).
        let k = r
            .buckets()
            .iter()
            .position(|b| b.max == all.max)
            .expect("a bucket holds the maximum");
        let range = r.range(k);
        let i = values[range.clone()]
            .iter()
            .position(|&v| v == all.max)
            .expect("the bucket holds its maximum");
        (
            values[range.start + i],
            Some(time_of(s.times()[range.start + i])),
        )
    };
    let sum = if s.exact_sums() {
        all.sum
    } else {
        values.iter().fold(0.0, |acc, &v| acc + v)
    };
    let top = max * f;
    let peak = if f > 0.0 && top.is_finite() {
        if top > 0.0 {
            top
        } else {
            0.0
        }
    } else {
        values.iter().fold(0.0, |m, &v| {
            let r = v * f;
            if r.is_finite() && r > m {
                r
            } else {
                m
            }
        })
    };
    Acc {
        max,
        max_at,
        min: if values.is_empty() {
            f64::INFINITY
        } else {
            all.min
        },
        sum,
        peak,
    }
}

/// A series' figures and its rollup.
type Gathered = (Acc, Option<Arc<Rollup>>);

/// The figures of `s` and its rollup, kept when its sums are exact (see [`crate::rollup`]).
fn with_rollup(s: &Series, r: Rollup, f: f64) -> Gathered {
    let acc = acc_from(s, &r, f);
    (acc, s.exact_sums().then(|| Arc::new(r)))
}

fn series_stats(
    s: &Series,
    opts: &StatsOptions,
    acc: Acc,
    rollup: Option<Arc<Rollup>>,
) -> SeriesStats {
    let f = rate_factor(s, opts);
    let step = s.step_seconds();
    let Acc {
        max,
        max_at,
        min,
        sum,
        peak,
    } = acc;
    let n = s.len();
    let expected = match (s.first_time(), s.last_time()) {
        (Some(a), Some(b)) => ((b - a).num_seconds() / step.max(1) + 1) as f64,
        _ => 0.0,
    };
    // Rate in bytes/s times seconds per sample = bytes per sample.
    let bytes_per_raw = f / opts.unit.from_bytes_per_second() * step as f64;
    SeriesStats {
        name: s.name(),
        scope: s.scope,
        samples: n,
        coverage: if expected > 0.0 {
            (n as f64 / expected).min(1.0)
        } else {
            0.0
        },
        max: max * f,
        max_at,
        avg: if n > 0 { sum / n as f64 * f } else { f64::NAN },
        min: min * f,
        last: s.values().last().map_or(f64::NAN, |v| v * f),
        total_bytes: sum * bytes_per_raw,
        peak_rate: peak,
        rollup,
    }
}

/// Nearest-rank percentile of `values` (reordered in place). `None` when empty.
///
/// The value is the element at rank `ceil(p / 100 * n)` in `f64::total_cmp` order. Large
/// inputs are narrowed first with one counting pass over the top 16 bits of each value's
/// total-order key (a radix select), so only the values sharing the answer's bucket are
/// partially sorted: the same element as selecting over everything, in a fraction of the
/// time at a million samples.
pub fn nearest_rank(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let k = rank_index(p, n);
    if n < RADIX_MIN {
        let (_, v, _) = values.select_nth_unstable_by(k, f64::total_cmp);
        return Some(*v);
    }
    Some(radix_select(values, k))
}

/// The 0-based position in sorted order of the nearest-rank `p`th percentile of `n > 0`
/// values: rank `ceil(p / 100 * n)`, at least 1 and at most `n`.
fn rank_index(p: f64, n: usize) -> usize {
    ((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as usize - 1
}

/// Below this many values a plain selection is as fast as counting.
const RADIX_MIN: usize = 16 * 1024;

/// `f64::total_cmp` order as an unsigned integer order.
#[inline]
fn order_key(v: f64) -> u64 {
    let b = v.to_bits() as i64;
    let k = b ^ ((((b >> 63) as u64) >> 1) as i64);
    (k as u64) ^ (1 << 63)
}

/// The element at 0-based position `k` of `values` sorted by `f64::total_cmp`.
fn radix_select(values: &mut [f64], k: usize) -> f64 {
    let mut counts = vec![0u32; 1 << 16];
    for &v in values.iter() {
        counts[(order_key(v) >> 48) as usize] += 1;
    }
    let mut below = 0usize;
    let mut bucket = 0usize;
    for (b, &c) in counts.iter().enumerate() {
        if below + c as usize > k {
            bucket = b;
            break;
        }
        below += c as usize;
    }
    // Move the bucket's values to the front, then select among them.
    let mut m = 0;
    for i in 0..values.len() {
        if (order_key(values[i]) >> 48) as usize == bucket {
            values.swap(m, i);
            m += 1;
        }
    }
    let (_, v, _) = values[..m].select_nth_unstable_by(k - below, f64::total_cmp);
    *v
}

/// Rates of every series of `scope`, summed per timestamp, in time order. Series are sorted
/// with unique timestamps ([`Series::normalize`]), so joining them is a linear merge.
fn scope_rates(traffic: &Traffic, scope: Scope, opts: &StatsOptions) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    for s in traffic.series.iter().filter(|s| s.scope == scope) {
        let f = rate_factor(s, opts);
        let rates: Vec<(i64, f64)> = s
            .times()
            .iter()
            .zip(s.values())
            .map(|(&t, &v)| (t, v * f))
            .collect();
        out = if out.is_empty() {
            rates
        } else {
            merge(&out, &rates, |a, b| a + b)
        };
    }
    out
}

/// Joins two time-ordered lists, folding values that share a timestamp with `op`; a
/// timestamp present in one list only keeps its value.
fn merge(a: &[(i64, f64)], b: &[(i64, f64)], op: impl Fn(f64, f64) -> f64) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ta, tb) = (a[i].0, b[j].0);
        if ta == tb {
            out.push((ta, op(a[i].1, b[j].1)));
            i += 1;
            j += 1;
        } else if ta < tb {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn percentile_stat<'t>(
    traffic: &'t Traffic,
    opts: &StatsOptions,
    p: f64,
    gathered: &mut Vec<(&'t Series, Gathered)>,
) -> Option<PercentileStat> {
    if let Some(stat) = percentile_single(traffic, opts, p, gathered) {
        return stat;
    }
    let rx = scope_rates(traffic, Scope::Receive, opts);
    let tx = scope_rates(traffic, Scope::Transmit, opts);
    let (of, samples) = match (opts.percentile_of, rx.is_empty(), tx.is_empty()) {
        (_, true, true) => ("total", scope_rates(traffic, Scope::Total, opts)),
        (PercentileOf::Receive, false, _) | (_, false, true) => ("receive", rx),
        (PercentileOf::Transmit, _, false) | (_, true, false) => ("transmit", tx),
        (PercentileOf::Max, false, false) => ("max", merge(&rx, &tx, f64::max)),
        (PercentileOf::Sum, false, false) => ("sum", merge(&rx, &tx, |a, b| a + b)),
    };
    let mut values: Vec<f64> = samples.into_iter().map(|x| x.1).collect();
    finish_percentile(of, &mut values, p)
}

fn finish_percentile(of: &str, values: &mut [f64], p: f64) -> Option<PercentileStat> {
    let n = values.len();
    let value = nearest_rank(values, p)?;
    Some(PercentileStat {
        p,
        of: of.to_string(),
        method: "nearest-rank",
        samples: n,
        value,
    })
}

thread_local! {
    /// The percentile's samples, reused from graph to graph.
    static SAMPLES: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`percentile_stat`] when every scope has at most one non-empty series (the usual case):
/// the same samples, joined straight from the points into one reused buffer instead of
/// through per-scope `(time, rate)` vectors. `None` when some scope has several series.
///
/// When it joins receive and transmit, it also gathers their figures into `gathered`.
fn percentile_single<'t>(
    traffic: &'t Traffic,
    opts: &StatsOptions,
    p: f64,
    gathered: &mut Vec<(&'t Series, Gathered)>,
) -> Option<Option<PercentileStat>> {
    let one = |scope: Scope| -> Option<Option<&'t Series>> {
        let mut it = traffic
            .series
            .iter()
            .filter(|s| s.scope == scope && !s.is_empty());
        let first = it.next();
        if it.next().is_some() {
            None
        } else {
            Some(first)
        }
    };
    let (rx, tx, total) = (
        one(Scope::Receive)?,
        one(Scope::Transmit)?,
        one(Scope::Total)?,
    );
    // The rates of `s`, alone in `out` (a bracket pass that missed leaves values there).
    let rates = |s: Option<&Series>, out: &mut Vec<f64>| {
        out.clear();
        if let Some(s) = s {
            let f = rate_factor(s, opts);
            out.extend(s.values().iter().map(|v| v * f));
        }
    };
    SAMPLES.with(|buf| {
        let mut buf = buf.borrow_mut();
        let out = &mut *buf;
        out.clear();
        let stat = match (opts.percentile_of, rx, tx) {
            (_, None, None) => {
                rates(total, out);
                finish_percentile("total", out, p)
            }
            (PercentileOf::Receive, Some(r), _) | (_, Some(r), None) => {
                series_percentile(r, "receive", opts, p, out, gathered).unwrap_or_else(|| {
                    rates(Some(r), out);
                    finish_percentile("receive", out, p)
                })
            }
            (PercentileOf::Transmit, _, Some(t)) | (_, None, Some(t)) => {
                series_percentile(t, "transmit", opts, p, out, gathered).unwrap_or_else(|| {
                    rates(Some(t), out);
                    finish_percentile("transmit", out, p)
                })
            }
            (PercentileOf::Max, Some(r), Some(t)) => {
                join_percentile(r, t, opts, p, Combine::Max, out, gathered)
            }
            (PercentileOf::Sum, Some(r), Some(t)) => {
                join_percentile(r, t, opts, p, Combine::Sum, out, gathered)
            }
        };
        if out.capacity() > 4 * out.len().max(1 << 16) {
            *out = Vec::new(); // do not keep a huge buffer for small graphs
        }
        Some(stat)
    })
}

/// The percentile of one series' rates through the bracket pass ([`bracket_pass`] with
/// nothing to join: each sample's joined value is its rate), which also gathers the
/// series' figures and rollup into `gathered`, so its samples are read once for both.
/// `None` below [`BRACKET_MIN`] samples or when the bracket misses: the caller selects
/// among all the rates. The value is the one [`nearest_rank`] picks among them.
fn series_percentile<'t>(
    s: &'t Series,
    of: &str,
    opts: &StatsOptions,
    p: f64,
    buf: &mut Vec<f64>,
    gathered: &mut Vec<(&'t Series, Gathered)>,
) -> Option<Option<PercentileStat>> {
    let n = s.len();
    if n < BRACKET_MIN {
        return None;
    }
    let f = rate_factor(s, opts);
    let rank = rank_index(p, n);
    let alone = Join::new((s.values(), 0), (&[], 0), (f, 1.0), |x: f64, _| x);
    let (value, pass) = bracket_pass(&alone, n, rank, buf)?;
    gathered.push((s, with_rollup(s, pass.a, f)));
    Some(Some(PercentileStat {
        p,
        of: of.to_string(),
        method: "nearest-rank",
        samples: n,
        value,
    }))
}

/// How receive and transmit join per timestamp for the percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    Max,
    Sum,
}

impl Combine {
    fn of(self) -> &'static str {
        match self {
            Combine::Max => "max",
            Combine::Sum => "sum",
        }
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Combine::Max => a.max(b),
            Combine::Sum => a + b,
        }
    }
}

/// The percentile of `a` and `b` joined per timestamp: on one time grid (or the same
/// timestamps) in one pass that also gathers both series' figures and rollups into
/// `gathered` ([`grid_join`]), else through [`merge_into`].
fn join_percentile<'t>(
    a: &'t Series,
    b: &'t Series,
    opts: &StatsOptions,
    p: f64,
    op: Combine,
    out: &mut Vec<f64>,
    gathered: &mut Vec<(&'t Series, Gathered)>,
) -> Option<PercentileStat> {
    if let Some((value, n, ga, gb)) = grid_join(a, b, opts, p, op, out) {
        gathered.extend([(a, ga), (b, gb)]);
        return Some(PercentileStat {
            p,
            of: op.of().to_string(),
            method: "nearest-rank",
            samples: n,
            value,
        });
    }
    out.clear();
    merge_into(a, b, opts, |x, y| op.apply(x, y), out);
    finish_percentile(op.of(), out, p)
}

/// [`merge`] of two series' rates, values only, appended to `out`.
fn merge_into(
    a: &Series,
    b: &Series,
    opts: &StatsOptions,
    op: impl Fn(f64, f64) -> f64,
    out: &mut Vec<f64>,
) {
    let (fa, fb) = (rate_factor(a, opts), rate_factor(b, opts));
    let (ta, va, tb, vb) = (a.times(), a.values(), b.times(), b.values());
    out.reserve(ta.len().max(tb.len()));
    let (mut i, mut j) = (0, 0);
    while i < ta.len() && j < tb.len() {
        if ta[i] == tb[j] {
            out.push(op(va[i] * fa, vb[j] * fb));
            i += 1;
            j += 1;
        } else if ta[i] < tb[j] {
            out.push(va[i] * fa);
            i += 1;
        } else {
            out.push(vb[j] * fb);
            j += 1;
        }
    }
    out.extend(va[i..].iter().map(|v| v * fa));
    out.extend(vb[j..].iter().map(|v| v * fb));
}

/// Where `a` and `b` sit on one timeline of their shared grid: `a[i]` and `b[j]` share a
/// timestamp when `i + ua == j + ub`. Also for the very same timestamps, gaps included
/// (receive and transmit usually come from the same data sets, so their gaps coincide).
/// `None` when neither holds or they do not overlap.
fn timeline(a: &Series, b: &Series) -> Option<(usize, usize)> {
    let (na, nb) = (a.len(), b.len());
    match (a.grid_step(), b.grid_step()) {
        (Some(g), Some(h)) if g == h => {
            let (t0a, t0b) = (a.times()[0], b.times()[0]);
            if (t0b - t0a) % g != 0 {
                return None;
            }
            let d = (t0b - t0a) / g;
            let (ua, ub) = if d >= 0 {
                (0, usize::try_from(d).ok()?)
            } else {
                (usize::try_from(-d).ok()?, 0)
            };
            // Overlapping: each starts before the other ends.
            (ua < ub + nb && ub < ua + na).then_some((ua, ub))
        }
        _ if a.times() == b.times() => Some((0, 0)),
        _ => None,
    }
}

/// Values sampled to bracket the percentile before the joining pass.
const SAMPLE: usize = 8192;
/// Sample ranks on each side of the estimated one that the bracket spans for quantile
/// `q`: three standard deviations of a sample quantile's rank (`sqrt(SAMPLE q (1 - q))`)
/// and 8 more, so the bracket misses the wanted rank about once in 1 000 graphs (then the
/// general join answers); a wider bracket keeps more values for every graph.
fn spread(q: f64) -> usize {
    (3.0 * (SAMPLE as f64 * q * (1.0 - q)).sqrt()).ceil() as usize + 8
}
/// Below this many joined values, materializing them and selecting is as fast.
const BRACKET_MIN: usize = 64 * 1024;

/// Receive and transmit on one timeline ([`timeline`]): one streaming pass
/// ([`rollup::pair_pass`]) gathers both series' figures and rollups and the percentile
/// without storing the joined values:
///
/// A sample of the joined values gives two pivots that very likely bracket the wanted
/// rank; the pass counts the values below the lower pivot and keeps only those between
/// the two (a percent or two) in `buf`, among which the element of the wanted rank is
/// selected. When the bracket misses (or a value is NaN or infinite), `None`: the caller
/// computes everything the general way. The result is exactly the nearest-rank element of
/// [`nearest_rank`] over the joined values.
///
/// The maximum of two rates with the same factor is the factor times the maximum of the
/// raw values (scaling by a positive number keeps the order, rounding included), so then
/// the pass joins raw values and only the answer is scaled.
///
/// Returns the percentile, the number of joined values and what was gathered of `a` and `b`.
fn grid_join(
    a: &Series,
    b: &Series,
    opts: &StatsOptions,
    p: f64,
    op: Combine,
    buf: &mut Vec<f64>,
) -> Option<(f64, usize, Gathered, Gathered)> {
    let (ua, ub) = timeline(a, b)?;
    let n = (ua + a.len()).max(ub + b.len());
    if n < BRACKET_MIN {
        return None;
    }
    let (fa, fb) = (rate_factor(a, opts), rate_factor(b, opts));
    let (va, vb) = (a.values(), b.values());
    let rank = rank_index(p, n);
    let (value, pass) = if op == Combine::Max && fa == fb && fa > 0.0 {
        let (v, pass) = bracket_pass(&rollup::max_join((va, ua), (vb, ub)), n, rank, buf)?;
        (v * fa, pass)
    } else if op == Combine::Sum {
        // `Combine::Sum.apply(x * fa, y * fb)`, which the AVX2 pass knows.
        bracket_pass(
            &rollup::sum_join((va, ua), (vb, ub), (fa, fb)),
            n,
            rank,
            buf,
        )?
    } else {
        let rates = move |x: f64, y: f64| op.apply(x * fa, y * fb);
        bracket_pass(
            &Join::new((va, ua), (vb, ub), (fa, fb), rates),
            n,
            rank,
            buf,
        )?
    };
    let ga = with_rollup(a, pass.a, fa);
    let gb = with_rollup(b, pass.b, fb);
    Some((value, n, ga, gb))
}

/// [`grid_join`]'s sampling, pass and selection: the joined value of rank `rank` among
/// the `n` of `j`, and what the pass gathered.
fn bracket_pass<J: Fn(f64, f64) -> f64 + Copy>(
    j: &Join<'_, J>,
    n: usize,
    rank: usize,
    buf: &mut Vec<f64>,
) -> Option<(f64, rollup::PairPass)> {
    // Spread over the whole timeline; the series overlap, so every position has a sample.
    let mut sample: Vec<f64> = (0..SAMPLE)
        .filter_map(|s| j.at(s * n / SAMPLE + n / (2 * SAMPLE)))
        .collect();
    if sample.len() < SAMPLE {
        return None;
    }
    let q = rank * SAMPLE / n;
    let spread = spread((rank as f64 + 0.5) / n as f64);
    // Near either end the bracket stays open on that side.
    let lo = match q.checked_sub(spread) {
        Some(i) => *sample.select_nth_unstable_by(i, f64::total_cmp).1,
        None => f64::NEG_INFINITY,
    };
    let hi = if q + spread < SAMPLE {
        *sample.select_nth_unstable_by(q + spread, f64::total_cmp).1
    } else {
        f64::INFINITY
    };
    let cap = (n / SAMPLE) * (4 * spread + 2) + 4096;
    buf.clear();
    buf.reserve(cap);
    let pass = rollup::pair_pass(j, Bracket { lo, hi, cap }, buf);
    // A NaN or an infinity anywhere shows in the sums (which also rule out overflow).
    let finite = |r: &Rollup| r.buckets().iter().all(|b| b.sum.is_finite());
    if pass.overflow || !finite(&pass.a) || !finite(&pass.b) {
        return None;
    }
    if rank < pass.below || rank >= pass.below + buf.len() {
        return None;
    }
    let (_, v, _) = buf.select_nth_unstable_by(rank - pass.below, f64::total_cmp);
    Some((*v, pass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn series(scope: Scope, values: &[f64]) -> Series {
        let t0 = Utc.with_ymd_and_hms(2015, 5, 5, 0, 0, 0).unwrap();
        let pts = values
            .iter()
            .enumerate()
            .map(|(i, &v)| crate::model::Point {
                time: t0 + chrono::Duration::hours(i as i64),
                value: v,
                count: None,
            })
            .collect();
        Series::new(scope, pts)
    }

    #[test]
    fn per_ip_series_of_one_scope_are_summed_per_timestamp() {
        let mut ip1 = series(Scope::Receive, &[1.0, 2.0, 3.0]);
        ip1.label = "10.0.0.1".into();
        let mut ip2 = series(Scope::Receive, &[10.0, 20.0]);
        ip2.label = "10.0.0.2".into();
        let t = Traffic::new(vec![ip1, ip2]);
        let opts = StatsOptions {
            value_unit: ValueUnit::BitsPerSecond,
            ..StatsOptions::default()
        };
        let rates: Vec<f64> = scope_rates(&t, Scope::Receive, &opts)
            .into_iter()
            .map(|x| x.1)
            .collect();
        assert_eq!(rates, vec![11.0, 22.0, 3.0]);
    }

    #[test]
    fn merge_keeps_lone_timestamps_and_folds_shared_ones() {
        let a = [(0, 1.0), (2, 5.0), (3, 1.0)];
        let b = [(1, 7.0), (2, 2.0), (4, 9.0)];
        let m = merge(&a, &b, f64::max);
        assert_eq!(m, vec![(0, 1.0), (1, 7.0), (2, 5.0), (3, 1.0), (4, 9.0)]);
        assert_eq!(merge(&a, &[], f64::max), a.to_vec());
    }

    #[test]
    fn nearest_rank_matches_definition() {
        let mut v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&mut v, 95.0), Some(19.0)); // ceil(0.95*20) = 19
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(nearest_rank(&mut v, 95.0), Some(95.0));
        assert_eq!(nearest_rank(&mut [5.0], 1.0), Some(5.0));
        assert_eq!(nearest_rank(&mut [], 95.0), None);
    }

    #[test]
    fn radix_select_matches_full_selection() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [RADIX_MIN, 50_000, 100_003] {
            let v: Vec<f64> = (0..n)
                .map(|i| match i % 97 {
                    0 => -((next() % 1000) as f64),
                    1 => 0.0,
                    2 => -0.0,
                    _ => (next() % 900_000_000) as f64 * 1.5,
                })
                .collect();
            for p in [0.1, 50.0, 95.0, 99.9, 100.0] {
                let mut a = v.clone();
                let mut b = v.clone();
                let rank = ((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as usize;
                let (_, want, _) = b.select_nth_unstable_by(rank - 1, f64::total_cmp);
                let got = nearest_rank(&mut a, p).unwrap();
                assert_eq!(got.to_bits(), want.to_bits(), "n {n} p {p}");
            }
        }
    }

    #[test]
    fn single_series_fast_path_matches_the_general_join() {
        let mut rx: Vec<f64> = (0..3000).map(|i| f64::from((i * 7919) % 613)).collect();
        rx[17] = 5000.0;
        let tx: Vec<f64> = (0..2500).map(|i| f64::from((i * 104_729) % 977)).collect();
        let mut t_rx = series(Scope::Receive, &rx);
        t_rx.remove_range(100..400); // a gap on one side only
        let t = Traffic::new(vec![t_rx, series(Scope::Transmit, &tx)]);
        for of in [
            PercentileOf::Max,
            PercentileOf::Sum,
            PercentileOf::Receive,
            PercentileOf::Transmit,
        ] {
            let opts = StatsOptions {
                value_unit: ValueUnit::BytesPerSecond,
                percentile_of: of,
                percentile: Some(95.0),
                ..StatsOptions::default()
            };
            let fast = percentile_single(&t, &opts, 95.0, &mut Vec::new())
                .unwrap()
                .unwrap();
            let rx = scope_rates(&t, Scope::Receive, &opts);
            let tx = scope_rates(&t, Scope::Transmit, &opts);
            let joined = match of {
                PercentileOf::Max => merge(&rx, &tx, f64::max),
                PercentileOf::Sum => merge(&rx, &tx, |a, b| a + b),
                PercentileOf::Receive => rx,
                PercentileOf::Transmit => tx,
            };
            let mut v: Vec<f64> = joined.into_iter().map(|x| x.1).collect();
            assert_eq!(fast.samples, v.len(), "{of:?}");
            assert_eq!(Some(fast.value), nearest_rank(&mut v, 95.0), "{of:?}");
        }
    }

    #[test]
    fn figures_gathered_while_joining_equal_a_pass_of_their_own() {
        let rx: Vec<f64> = (0..3000)
            .map(|i| f64::from((i * 7919) % 613) * 0.1)
            .collect();
        let tx: Vec<f64> = (0..2500).map(|i| f64::from((i * 104_729) % 977)).collect();
        let mut t_rx = series(Scope::Receive, &rx);
        t_rx.remove_range(100..400);
        let t = Traffic::new(vec![t_rx, series(Scope::Transmit, &tx)]);
        let opts = StatsOptions {
            value_unit: ValueUnit::BytesPerSecond,
            ..StatsOptions::default()
        };
        let fused = compute(&t, &opts);
        for (s, got) in t.series.iter().zip(&fused.series) {
            let (acc, rollup) = Acc::over(s, rate_factor(s, &opts));
            assert_eq!(*got, series_stats(s, &opts, acc, rollup));
        }
    }

    /// The percentile by definition: sort everything, take the nearest rank.
    fn sorted_rank(mut v: Vec<f64>, p: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        v[((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as usize - 1]
    }

    #[test]
    fn grid_join_percentile_equals_the_sorted_definition() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let n = BRACKET_MIN + 5_000;
        for case in 0..8 {
            let mut value = |i: usize| -> f64 {
                match case {
                    0 => (next() % 1_000_000_000) as f64,
                    1 => (next() % 5) as f64, // ties everywhere
                    2 => (next() % 2_000_000) as f64 - 1_000_000.0, // negatives
                    3 => 7.0,                 // all equal
                    4 => (next() % 1_000_000) as f64 / 3.0,
                    5 => ((i % 24) * 1000) as f64 + (next() % 10) as f64, // periodic
                    6 => -((next() % 1000) as f64) - 0.5,
                    _ => (next() % 1_000_000) as f64 * 1e-3,
                }
            };
            let rx: Vec<f64> = (0..n).map(&mut value).collect();
            let tx: Vec<f64> = (0..n - 3_000).map(&mut value).collect();
            // Aligned, transmit starting later, a gap in one series (the general join), and
            // the same gap in both (same timestamps, off the grid).
            for (offset, gap, both) in [
                (0usize, false, false),
                (1_500, false, false),
                (0, true, false),
                (0, true, true),
            ] {
                let mut t_rx = series(Scope::Receive, &rx);
                let mut t_tx = series(Scope::Transmit, &tx);
                if offset > 0 {
                    t_tx = Series::from_columns(
                        Scope::Transmit,
                        t_tx.times()
                            .iter()
                            .map(|t| t + offset as i64 * 3600)
                            .collect(),
                        t_tx.values().to_vec(),
                        Vec::new(),
                    );
                }
                if gap {
                    t_rx.remove_range(100..400);
                }
                if both {
                    // Same data sets: same length and the same gap.
                    t_rx = series(Scope::Receive, &rx[..tx.len()]);
                    t_rx.remove_range(100..400);
                    t_tx.remove_range(100..400);
                }
                let t = Traffic::new(vec![t_rx, t_tx]);
                for (of, p) in [
                    (PercentileOf::Max, 95.0),
                    (PercentileOf::Max, 0.01),
                    (PercentileOf::Sum, 50.0),
                    (PercentileOf::Max, 100.0),
                    (PercentileOf::Receive, 95.0),
                    (PercentileOf::Transmit, 99.9),
                ] {
                    let opts = StatsOptions {
                        value_unit: ValueUnit::BytesPerSecond,
                        percentile_of: of,
                        percentile: Some(p),
                        ..StatsOptions::default()
                    };
                    let rx = scope_rates(&t, Scope::Receive, &opts);
                    let tx = scope_rates(&t, Scope::Transmit, &opts);
                    let joined = match of {
                        PercentileOf::Sum => merge(&rx, &tx, |a, b| a + b),
                        PercentileOf::Receive => rx,
                        PercentileOf::Transmit => tx,
                        PercentileOf::Max => merge(&rx, &tx, f64::max),
                    };
                    let want: Vec<f64> = joined.into_iter().map(|x| x.1).collect();
                    let stats = compute(&t, &opts);
                    let got = stats.percentile.unwrap();
                    let label =
                        format!("case {case} offset {offset} gap {gap} {both} {of:?} p {p}");
                    assert_eq!(got.samples, want.len(), "{label}");
                    assert_eq!(
                        got.value.to_bits(),
                        sorted_rank(want, p).to_bits(),
                        "{label}"
                    );
                    for (s, fig) in t.series.iter().zip(&stats.series) {
                        let own = series_stats(s, &opts, slow_acc(s, rate_factor(s, &opts)), None);
                        let fig = SeriesStats {
                            rollup: None,
                            ..fig.clone()
                        };
                        assert_eq!(fig, own, "{label}");
                    }
                    let (a, b) = (&t.series[0], &t.series[1]);
                    // Heavy ties put more values in the bracket than it keeps: then the
                    // general join answers, as checked above.
                    let engaged =
                        grid_join(a, b, &opts, p, Combine::Max, &mut Vec::new()).is_some();
                    if (!gap || both) && !matches!(case, 1 | 3) && of == PercentileOf::Max {
                        assert!(engaged, "{label}: the grid join should apply");
                    }
                    // One direction alone goes through the bracket pass, gaps or not.
                    let one = match of {
                        PercentileOf::Receive => Some(a),
                        PercentileOf::Transmit => Some(b),
                        _ => None,
                    };
                    if let Some(s) = one.filter(|_| !matches!(case, 1 | 3)) {
                        let name = if s.scope == Scope::Receive {
                            "receive"
                        } else {
                            "transmit"
                        };
                        let mut gathered = Vec::new();
                        let alone =
                            series_percentile(s, name, &opts, p, &mut Vec::new(), &mut gathered);
                        assert!(alone.is_some(), "{label}: the bracket pass should apply");
                        assert_eq!(gathered.len(), 1, "{label}: its figures gathered");
                    }
                }
            }
        }
    }

    /// [`Acc`] one sample after another, as the figures are defined.
    fn slow_acc(s: &Series, f: f64) -> Acc {
        let mut acc = Acc {
            max: f64::NEG_INFINITY,
            max_at: None,
            min: f64::INFINITY,
            sum: 0.0,
            peak: 0.0,
        };
        for p in s.points() {
            if p.value > acc.max {
                acc.max = p.value;
                acc.max_at = Some(p.time);
            }
            acc.min = acc.min.min(p.value);
            acc.sum += p.value;
            let r = p.value * f;
            if r.is_finite() && r > acc.peak {
                acc.peak = r;
            }
        }
        acc
    }

    #[test]
    fn figures_from_buckets_equal_one_by_one() {
        for values in [
            vec![3.0, 9.0, 1.0, 9.0, -2.0, 9.0, 0.5],
            (0..1000)
                .map(|i| f64::from((i * 7919) % 613) * 0.1)
                .collect(),
            (0..1000).map(|i| f64::from((i * 7919) % 613)).collect(),
            vec![-5.0; 700],
            vec![1e308, 1e308, -1e308],
        ] {
            let s = series(Scope::Receive, &values);
            for f in [1.0, 8.0, 1.0 / 3600.0, 10.0] {
                assert_eq!(Acc::over(&s, f).0, slow_acc(&s, f), "{values:?} {f}");
            }
        }
    }

    #[test]
    fn figures_from_raw_bytes_per_second() {
        let t = Traffic::new(vec![series(Scope::Receive, &[1.0, 3.0, 2.0])]);
        let opts = StatsOptions {
            value_unit: ValueUnit::BytesPerSecond,
            ..StatsOptions::default()
        };
        let s = compute(&t, &opts);
        let r = s.series(Scope::Receive).unwrap();
        assert_eq!((r.max, r.min, r.last), (24.0, 8.0, 16.0)); // bits/s
        assert_eq!(r.avg, 16.0);
        assert_eq!(r.total_bytes, 6.0 * 3600.0);
        assert_eq!(r.coverage, 1.0);
    }

    #[test]
    fn percentile_of_max_joins_per_timestamp() {
        let t = Traffic::new(vec![
            series(Scope::Receive, &[10.0, 1.0, 1.0, 1.0]),
            series(Scope::Transmit, &[1.0, 2.0, 3.0, 4.0]),
        ]);
        let opts = StatsOptions {
            value_unit: ValueUnit::BitsPerSecond,
            percentile: Some(75.0),
            ..StatsOptions::default()
        };
        let p = compute(&t, &opts).percentile.unwrap();
        // max per hour: 10, 2, 3, 4 -> sorted 2,3,4,10 -> rank ceil(3) = 4
        assert_eq!((p.of.as_str(), p.value), ("max", 4.0));
        let sum = compute(
            &t,
            &StatsOptions {
                percentile_of: PercentileOf::Sum,
                ..opts
            },
        );
        // sums 11, 3, 4, 5 -> sorted 3,4,5,11 -> rank 3 = 5
        assert_eq!(sum.percentile.unwrap().value, 5.0);
    }
}
