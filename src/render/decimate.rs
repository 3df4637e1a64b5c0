//! From samples to pixel vertices, decimated to the plot's columns when samples outnumber
//! them.
//!
//! Each sample covers its period `[t, t + step)`; a run of consecutive samples becomes a
//! path through the middles of the periods, with flat half-period caps at both ends, so a
//! lone sample is still one step wide. Samples further apart than the series' step start a
//! new run: a gap in the data is a gap in the drawing.
//!
//! With more samples than columns, drawing every sample wastes time and plotters' area fill
//! drops spikes narrower than a pixel. So samples are grouped by the column the chart's own
//! mapping puts them in (the same `backend_coord` that places the grid, or neighbouring
//! columns would disagree and the line would show gaps), and each column yields its first,
//! minimum, maximum and last value in time order (the "M4" reduction: the polyline through
//! them covers exactly the pixels the full polyline would) plus its mean for the area.
//! Grouping is a single pass with one running accumulator: no allocation per sample. When
//! the statistics pass left a rollup of the series, a column is reduced from the buckets
//! inside it and the samples at its edges ([`crate::rollup`]), and columns hold raw values,
//! scaled to rates when drawn.

use std::cell::Cell;
use std::ops::Range;

use crate::model::Series;
use crate::rollup::{Figures, Rollup};

/// One vertex in backend pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub x: i32,
    pub y: i32,
}

/// One unbroken run of samples as pixel paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    /// Through every sample, or per column first/min/max/last: the line and the envelope.
    pub line: Vec<Sample>,
    /// Per-column means when decimated (the area's top); equal to `line` otherwise.
    pub mean: Vec<Sample>,
    /// When decimated: per column, the rows the full polyline would cover (`x`, top,
    /// bottom), joins to the neighbours included. Drawn as one-pixel-wide rectangles, this
    /// is the polyline at a fraction of the cost of stroking thousands of tiny segments.
    pub spans: Vec<Span>,
    pub decimated: bool,
}

/// Rows `top..=bottom` of column `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub x: i32,
    pub top: i32,
    pub bottom: i32,
}

impl Span {
    fn include(&mut self, y: i32) {
        self.top = self.top.min(y);
        self.bottom = self.bottom.max(y);
    }
}

/// The chart's mapping from (UTC seconds, display rate) to backend pixels.
pub trait Map: Fn(f64, f64) -> (i32, i32) {}
impl<F: Fn(f64, f64) -> (i32, i32)> Map for F {}

/// The runs of `series` as pixel paths, decimated when it has more samples than `columns`.
/// Rates are values times `factor` (positive: a unit conversion). `rollup`, when given,
/// must be the series' own ([`crate::stats::SeriesStats::rollup`]): columns are then
/// reduced from its buckets.
pub fn runs(
    series: &Series,
    factor: f64,
    columns: usize,
    rollup: Option<&Rollup>,
    map: &impl Map,
) -> Vec<Run> {
    let decimate = series.len() > columns;
    let step = series.step_seconds();
    let cols = Columns::new(series, factor, rollup);
    if decimate {
        if let Some(out) = grid_runs(series, &cols, step, columns, map) {
            return out;
        }
        if let Some(out) = sorted_runs(series, &cols, step, columns, map) {
            return out;
        }
    }
    general_runs(series, factor, step, decimate, columns, map)
}

/// How a stretch of a series becomes a [`Column`].
struct Columns<'s> {
    values: &'s [f64],
    rollup: Option<&'s Rollup>,
    exact: bool,
    factor: f64,
}

/// [`runs`] of a decimated series with any spacing (gaps, irregular samples): each
/// column's samples are found by galloping over the samples from the previous column's
/// count, mapping their times with the chart's mapping ([`next_column`]: usually two or
/// three calls, where a search over seconds bisected down to the second, and a binary
/// search over the whole series missed the cache at every probe), and reduced as one
/// slice, like [`grid_runs`]; a gap (a spacing over `step`) ends the run, also inside a
/// column. `None` when a rate is not finite (or too large to sum): then
/// [`general_runs`] handles it. Produces exactly what [`general_runs`] does.
fn sorted_runs(
    series: &Series,
    cols: &Columns,
    step: i64,
    columns: usize,
    map: &impl Map,
) -> Option<Vec<Run>> {
    let (times, values, factor) = (series.times(), series.values(), cols.factor);
    let n = values.len();
    let half = step as f64 / 2.0;
    let mut acc = RunBuilder::new(step, factor, true, columns.min(n));
    let mut out = Vec::new();
    // No spacing below the step: a gap shows in a stretch's span (see first_gap_spaced).
    let spaced = series.min_spacing().is_some_and(|m| m >= step);
    let (mut i, mut count) = (0, 1);
    // The latest column and the index past it: a column cut by a gap goes on after the
    // gap in the same pixel column, whose end is already known.
    let mut known: Option<(i32, usize)> = None;
    while i < n {
        let t = times[i];
        let first = values[i] * factor;
        if !first.is_finite() {
            return None;
        }
        if acc.last_t.is_some_and(|lt| t - lt > step) {
            acc.finish(map, &mut out);
        }
        let x = map(t as f64 + half, first).0;
        let j = match known {
            Some((kx, kj)) if kx == x && i < kj => kj,
            _ => {
                let j = next_column(i, n, count, |k| map(times[k] as f64 + half, 0.0).0 > x);
                count = j - i;
                j
            }
        };
        known = Some((x, j));
        // A gap inside the column ends it (and the run) at the gap.
        let gap = if spaced {
            first_gap_spaced(&times[i..j], step)
        } else {
            first_gap(&times[i..j], step)
        };
        let j = gap.map_or(j, |k| i + k + 1);
        cols.prefetch(j + 2 * count);
        let col = cols.reduce(i..j, x)?;
        acc.add_column(t, times[j - 1], col, map);
        i = j;
    }
    acc.finish(map, &mut out);
    Some(out)
}

/// [`runs`] sample by sample: any spacing, gaps and non-finite rates.
fn general_runs(
    series: &Series,
    factor: f64,
    step: i64,
    decimate: bool,
    columns: usize,
    map: &impl Map,
) -> Vec<Run> {
    let mut out = Vec::new();
    let mut acc = RunBuilder::new(step, factor, decimate, columns.min(series.len()));
    for (&t, &value) in series.times().iter().zip(series.values()) {
        let v = value * factor;
        let breaks = acc.last_t.is_some_and(|lt| t - lt > step);
        if breaks || !v.is_finite() {
            acc.finish(map, &mut out);
        }
        if v.is_finite() {
            acc.add(t, value, map);
        }
    }
    acc.finish(map, &mut out);
    out
}

/// [`runs`] of a decimated series on a grid no coarser than its step (so one run): each
/// column's samples are an index range found from the column's end time, reduced as one
/// contiguous slice without looking at timestamps. `None` when a rate is not finite (or
/// too large to sum): then runs break, and [`general_runs`] handles that.
///
/// Produces exactly what [`general_runs`] does: the minimum, maximum and their order do
/// not depend on how the slice is scanned; the mean's sum is taken in lanes only when no
/// addition can round (see [`reduce`]), else one value after another.
fn grid_runs(
    series: &Series,
    cols: &Columns,
    step: i64,
    columns: usize,
    map: &impl Map,
) -> Option<Vec<Run>> {
    let g = series.grid_step()?;
    if g > step {
        return None;
    }
    let (t0, values, factor) = (series.times()[0], series.values(), cols.factor);
    let n = values.len();
    let half = step as f64 / 2.0;
    let mut acc = RunBuilder::new(step, factor, true, columns.min(n));
    let col_of = |k: usize| map((t0 + k as i64 * g) as f64 + half, 0.0).0;
    // The smallest sample index the column search found past the column, and its column:
    // that search's answer is the next column's first sample, whose column is then known
    // (a column does not depend on the value) and not mapped again.
    let found = Cell::new((usize::MAX, 0));
    let mut i = 0;
    let mut width = 1;
    while i < n {
        let t = t0 + i as i64 * g;
        let first = values[i] * factor;
        if !first.is_finite() {
            return None;
        }
        let x = match found.get() {
            (k, x) if k == i => x,
            _ => map(t as f64 + half, first).0,
        };
        found.set((usize::MAX, 0));
        let j = next_column(i, n, width, |k| {
            let c = col_of(k);
            if c > x && k < found.get().0 {
                found.set((k, c));
            }
            c > x
        });
        width = j - i;
        cols.prefetch(j + 2 * width);
        let col = cols.reduce(i..j, x)?;
        acc.add_column(t, t0 + (j - 1) as i64 * g, col, map);
        i = j;
    }
    let mut out = Vec::with_capacity(1);
    acc.finish(map, &mut out);
    Some(out)
}

impl<'s> Columns<'s> {
    /// `rollup` is used only when it is `series`' own and the series' sums are exact.
    fn new(series: &'s Series, factor: f64, rollup: Option<&'s Rollup>) -> Columns<'s> {
        let exact = series.exact_sums();
        Columns {
            values: series.values(),
            rollup: rollup.filter(|r| exact && r.len() == series.len()),
            exact,
            factor,
        }
    }

    /// Asks for the samples a column edge near `k` reads from the rollup's bucket, ahead
    /// of their use: after the statistics pass streamed the whole series through, those
    /// are in no cache, and each column's edges otherwise wait for memory.
    #[inline]
    fn prefetch(&self, k: usize) {
        if let Some(rollup) = self.rollup {
            if k < self.values.len() {
                crate::rollup::prefetch(&self.values[rollup.bucket_of(k)]);
            }
        }
    }

    /// The column of samples `r` (non-empty), as [`Column::add`] one by one would leave
    /// it: from the rollup's buckets when there is one, else from one read of the stretch.
    /// `None` when a rate is not finite or their sum overflows (the sample-by-sample path
    /// then breaks the run there).
    ///
    /// The minimum, maximum and which came first do not depend on the order of the scan.
    /// The sum does: buckets and lanes give the sum of one value after another only when
    /// the series' sums are exact ([`Series::exact_sums`]), else it is taken one by one.
    fn reduce(&self, r: Range<usize>, x: i32) -> Option<Column> {
        let values = self.values;
        let f = match self.rollup {
            Some(rollup) => rollup.figures(values, r.clone()),
            None => Figures::of(&values[r.clone()]),
        };
        // A NaN or an infinity shows in the sum; the rates of the others lie between
        // those of the minimum and the maximum.
        let finite = |v: f64| (v * self.factor).is_finite();
        if !(f.sum.is_finite() && finite(f.min) && finite(f.max)) {
            return None;
        }
        let sum = if self.exact {
            f.sum
        } else {
            values[r.clone()].iter().fold(0.0, |s, &v| s + v)
        };
        if !finite(sum) {
            return None;
        }
        Some(Column {
            x,
            first: values[r.start],
            last: values[r.end - 1],
            min: f.min,
            max: f.max,
            min_first: f.min_first,
            sum,
            n: u32::try_from(r.len()).ok()?,
            until: 0,
        })
    }
}

/// Per-column running figures, in raw values: rates are taken when the column is drawn
/// (raw value times the positive factor, which keeps the order).
#[derive(Debug, Clone, Copy)]
struct Column {
    x: i32,
    first: f64,
    last: f64,
    min: f64,
    max: f64,
    /// Whether the minimum came before the maximum.
    min_first: bool,
    sum: f64,
    n: u32,
    /// First sample time (UTC seconds) that maps to a later column.
    until: i64,
}

impl Column {
    fn new(x: i32, v: f64, until: i64) -> Column {
        Column {
            until,
            x,
            first: v,
            last: v,
            min: v,
            max: v,
            min_first: true,
            sum: v,
            n: 1,
        }
    }

    fn add(&mut self, v: f64) {
        if v < self.min {
            self.min = v;
            self.min_first = false;
        }
        if v > self.max {
            self.max = v;
            self.min_first = true;
        }
        self.last = v;
        self.sum += v;
        self.n += 1;
    }
}

/// The first index in `i + 1..=n` where `past` holds (`n` when none; `past` is monotone
/// and false at `i`): galloping from `guess` ahead (the previous column's width, so
/// usually two calls of the chart's mapping), then bisection.
fn next_column(i: usize, n: usize, guess: usize, past: impl Fn(usize) -> bool) -> usize {
    let past = |k: usize| k >= n || past(k);
    let start = (i + guess.max(1)).min(n);
    // Invariant once found: !past(lo) (or lo == i), past(hi).
    let (mut lo, mut hi);
    if past(start) {
        hi = start;
        let mut step = 1;
        loop {
            let probe = hi.saturating_sub(step);
            if probe <= i {
                lo = i;
                break;
            }
            if past(probe) {
                hi = probe;
                step *= 2;
            } else {
                lo = probe;
                break;
            }
        }
    } else {
        lo = start;
        let mut step = 1;
        loop {
            let probe = (lo + step).min(n);
            if past(probe) {
                hi = probe;
                break;
            }
            lo = probe;
            step *= 2;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if past(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// The first time after `t` whose sample the chart maps past column `x` (`i64::MAX` when
/// none within 2^40 s), searched from `guess` seconds ahead (the previous column's width).
///
/// Found with the chart's own mapping ([`next_column`]: usually two calls per column), so
/// each sample then costs one integer comparison instead of a mapping.
fn column_end(t: i64, x: i32, half: f64, guess: i64, map: &impl Map) -> i64 {
    const NONE: usize = 1 << 40;
    let guess = usize::try_from(guess).unwrap_or(1);
    let k = next_column(0, NONE, guess, |k| {
        map((t + k as i64) as f64 + half, 0.0).0 > x
    });
    if k >= NONE {
        i64::MAX
    } else {
        t + k as i64
    }
}

/// Where columns end, remembered from one column to the next.
struct Edge {
    /// The latest column and the first time past it.
    x: Option<i32>,
    until: i64,
    /// Seconds from the latest column's first sample to the next column: where the next
    /// column's end is looked for first.
    width: i64,
}

impl Edge {
    fn new() -> Edge {
        Edge {
            x: None,
            until: i64::MAX,
            width: 1,
        }
    }

    /// The first time after `t` that maps past column `x` ([`column_end`]). A column cut
    /// by a gap goes on in the same pixel column after it, whose end is already known:
    /// searching for it from mid-column would miss the guess and bisect over seconds.
    fn end(&mut self, t: i64, x: i32, half: f64, map: &impl Map) -> i64 {
        if self.x == Some(x) && t < self.until {
            return self.until;
        }
        let until = column_end(t, x, half, self.width, map);
        if until != i64::MAX {
            self.width = until - t;
        }
        (self.x, self.until) = (Some(x), until);
        until
    }
}

/// The first `k` with `times[k + 1] - times[k] > step`. Spacings are compared 32 at a
/// time without an early exit (so the loop vectorizes), then located in the chunk that
/// has one.
fn first_gap(times: &[i64], step: i64) -> Option<usize> {
    let (a, b) = (times.get(..times.len().saturating_sub(1))?, times.get(1..)?);
    let mut base = 0;
    for (ca, cb) in a.chunks(32).zip(b.chunks(32)) {
        if ca
            .iter()
            .zip(cb)
            .fold(false, |g, (x, y)| g | (y - x > step))
        {
            return ca
                .iter()
                .zip(cb)
                .position(|(x, y)| y - x > step)
                .map(|k| base + k);
        }
        base += ca.len();
    }
    None
}

/// [`first_gap`] when no spacing is below `step`: then `times[..=m]` has no gap exactly
/// when it spans `m * step`, so the first gap is found by bisection on that, without
/// reading the stretch.
fn first_gap_spaced(times: &[i64], step: i64) -> Option<usize> {
    let whole = |m: usize| times[m] - times[0] == m as i64 * step;
    let last = times.len().checked_sub(1)?;
    if whole(last) {
        return None;
    }
    // whole(lo) and !whole(hi): the first spacing over the step is between them.
    let (mut lo, mut hi) = (0, last);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if whole(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// Builds one run at a time.
struct RunBuilder {
    step: i64,
    /// Raw value to rate.
    factor: f64,
    decimate: bool,
    capacity: usize,
    run: Run,
    col: Option<Column>,
    /// Time and raw value of the run's latest sample.
    last_t: Option<i64>,
    last_v: f64,
    first_mean: Option<f64>,
    edge: Edge,
}

impl RunBuilder {
    fn new(step: i64, factor: f64, decimate: bool, capacity: usize) -> RunBuilder {
        RunBuilder {
            step,
            factor,
            decimate,
            capacity,
            run: Run::default(),
            col: None,
            last_t: None,
            last_v: 0.0,
            first_mean: None,
            edge: Edge::new(),
        }
    }

    /// A sample of raw value `raw` (whose rate is finite).
    fn add(&mut self, t: i64, raw: f64, map: &impl Map) {
        let half = self.step as f64 / 2.0;
        let v = raw * self.factor;
        if self.last_t.is_none() {
            self.reserve();
            push(&mut self.run.line, map(t as f64, v));
        }
        self.last_t = Some(t);
        self.last_v = raw;
        if !self.decimate {
            push(&mut self.run.line, map(t as f64 + half, v));
            return;
        }
        match &mut self.col {
            Some(c) if t < c.until => c.add(raw),
            _ => {
                self.flush(map);
                let x = map(t as f64 + half, v).0;
                let until = self.edge.end(t, x, half, map);
                self.col = Some(Column::new(x, raw, until));
            }
        }
    }

    /// A whole column whose samples ran from time `t` to `last_t`, as [`RunBuilder::add`]
    /// of each would have built it.
    fn add_column(&mut self, t: i64, last_t: i64, col: Column, map: &impl Map) {
        if self.last_t.is_none() {
            self.reserve();
            push(&mut self.run.line, map(t as f64, col.first * self.factor));
        }
        self.flush(map);
        self.last_t = Some(last_t);
        self.last_v = col.last;
        self.col = Some(col);
    }

    /// Room for a whole graph's vertices, for the first run only: later runs (after gaps)
    /// grow as needed, so a series with a thousand gaps does not reserve a thousand times.
    fn reserve(&mut self) {
        let cap = std::mem::take(&mut self.capacity) * 4 + 2;
        self.run.line.reserve(cap);
        self.run
            .mean
            .reserve(if self.decimate { cap / 4 } else { 0 });
    }

    /// Emits the current column's vertices.
    fn flush(&mut self, map: &impl Map) {
        let Some(c) = self.col.take() else {
            return;
        };
        let f = self.factor;
        let y = |raw: f64| map(0.0, raw * f).1;
        let join = self.run.line.last().map(|p| p.y);
        // Each figure is mapped once (the mapping is pure; the line, the span and the join
        // used to map the first, minimum and maximum again: 8 mappings a column, now 5).
        let (y_first, y_min, y_max, y_last) = (y(c.first), y(c.min), y(c.max), y(c.last));
        let m4 = if c.min_first {
            [y_first, y_min, y_max, y_last]
        } else {
            [y_first, y_max, y_min, y_last]
        };
        for v in m4 {
            push(&mut self.run.line, (c.x, v));
        }
        let mut span = Span {
            x: c.x,
            top: y_max,
            bottom: y_min,
        };
        // The segment from the previous column's last value to this column's first is
        // split between the two columns at its middle row.
        if let Some(prev) = join {
            let mid = (prev + y_first) / 2;
            span.include(mid);
            if let Some(last) = self.run.spans.last_mut() {
                last.include(mid);
            }
        }
        self.run.spans.push(span);
        let mean = c.sum / f64::from(c.n); // raw, like the other figures
        if self.first_mean.is_none() {
            self.first_mean = Some(mean);
            let start = self.run.line[0];
            push(&mut self.run.mean, (start.x, y(mean)));
        }
        push(&mut self.run.mean, (c.x, y(mean)));
    }

    /// Closes the run with its trailing cap and moves it to `out`.
    fn finish(&mut self, map: &impl Map, out: &mut Vec<Run>) {
        let Some(lt) = self.last_t.take() else {
            return;
        };
        self.flush(map);
        let end = map((lt + self.step) as f64, self.last_v * self.factor);
        push(&mut self.run.line, end);
        let mut run = std::mem::take(&mut self.run);
        if self.decimate {
            if let Some(m) = run.mean.last().copied() {
                push(&mut run.mean, (end.0, m.y));
            }
        } else {
            run.mean = run.line.clone();
        }
        run.decimated = self.decimate;
        self.first_mean = None;
        out.push(run);
    }
}

/// Appends a vertex, skipping repeats and merging straight continuations (a flat stretch
/// becomes one segment: fewer vertices, and no anti-aliasing seams at needless joins).
fn push(path: &mut Vec<Sample>, (x, y): (i32, i32)) {
    let new = Sample { x, y };
    match path.as_slice() {
        [.., last] if *last == new => {}
        [.., a, b] if straight(*a, *b, new) => *path.last_mut().expect("two points") = new,
        _ => path.push(new),
    }
}

/// Whether `b` lies on the way from `a` to `c`, in the same direction.
fn straight(a: Sample, b: Sample, c: Sample) -> bool {
    let (dx1, dy1) = (i64::from(b.x - a.x), i64::from(b.y - a.y));
    let (dx2, dy2) = (i64::from(c.x - b.x), i64::from(c.y - b.y));
    (dx1 * dy2 == dy1 * dx2) & (dx1 * dx2 + dy1 * dy2 > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Point, Scope};
    use chrono::{Duration, TimeZone, Utc};

    fn hourly(values: &[f64]) -> Series {
        let t0 = Utc.with_ymd_and_hms(2015, 5, 5, 0, 0, 0).unwrap();
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                time: t0 + Duration::hours(i as i64),
                value,
                count: None,
            })
            .collect();
        Series::new(Scope::Receive, points)
    }

    /// 100 columns over the series' span; y = 1000 - value.
    fn mapper(s: &Series) -> impl Map {
        let t0 = s.times()[0] as f64;
        let t1 = *s.times().last().unwrap() as f64 + 3600.0;
        move |t: f64, v: f64| {
            (
                ((t - t0) / (t1 - t0) * 99.0).round() as i32,
                1000 - v as i32,
            )
        }
    }

    #[test]
    fn few_samples_pass_through_midpoints_with_caps() {
        let s = hourly(&[10.0, 20.0]);
        let runs = runs(&s, 1.0, 100, None, &mapper(&s));
        assert_eq!(runs.len(), 1);
        let ys: Vec<i32> = runs[0].line.iter().map(|p| p.y).collect();
        assert_eq!(ys, vec![990, 990, 980, 980]);
        let flat = hourly(&[10.0; 20]);
        let line = &super::runs(&flat, 1.0, 100, None, &mapper(&flat))[0].line;
        assert_eq!(line.len(), 2, "a flat stretch is one segment");
        assert!(!runs[0].decimated);
    }

    #[test]
    fn many_samples_keep_each_columns_extremes_and_mean() {
        let mut values = vec![100.0; 5000];
        values[2345] = 900.0;
        values[4000] = 0.0;
        let s = hourly(&values);
        let runs = runs(&s, 1.0, 100, None, &mapper(&s));
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert!(r.decimated);
        assert!(r.line.len() <= 4 * 100 + 2, "{} vertices", r.line.len());
        assert_eq!(
            r.line.iter().map(|p| p.y).min(),
            Some(100),
            "the spike's top"
        );
        assert_eq!(r.line.iter().map(|p| p.y).max(), Some(1000), "the dip");
        // The spike's column mean is diluted by ~50 samples of 100.
        let spike_mean = r.mean.iter().map(|p| p.y).min().unwrap();
        assert!((850..=890).contains(&spike_mean), "{spike_mean}");
        assert!(r.line.windows(2).all(|w| w[0].x <= w[1].x), "left to right");
    }

    #[test]
    fn columns_hold_exactly_the_samples_the_mapping_puts_there() {
        let values: Vec<f64> = (0..7919).map(|i| f64::from((i * 7919) % 613)).collect();
        let s = hourly(&values);
        let map = mapper(&s);
        let r = &runs(&s, 1.0, 100, None, &map)[0];
        for span in &r.spans {
            let in_col: Vec<f64> = s
                .points()
                .filter(|p| map(p.time.timestamp() as f64 + 1800.0, 0.0).0 == span.x)
                .map(|p| p.value)
                .collect();
            let max = in_col.iter().copied().fold(f64::MIN, f64::max);
            let min = in_col.iter().copied().fold(f64::MAX, f64::min);
            // The span covers the column's extremes (and may extend to meet neighbours).
            assert!(span.top <= 1000 - max as i32, "column {}", span.x);
            assert!(span.bottom >= 1000 - min as i32, "column {}", span.x);
            assert!(r
                .line
                .iter()
                .any(|p| p.x == span.x && p.y == 1000 - max as i32));
        }
        assert_eq!(r.spans.len(), 100);
    }

    /// A xorshift generator: property-style cases without a dependency.
    fn rng(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn sorted_fast_path_equals_the_general_path() {
        // Gappy and irregular series: missing stretches, doubled spacing, odd seconds.
        for seed in 1..=40u64 {
            let mut next = rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
            let n = 200 + (next() % 20_000) as usize;
            let kind = seed % 4;
            let t0 = Utc.with_ymd_and_hms(2015, 5, 5, 0, 0, 0).unwrap();
            let mut t = 0i64;
            let points: Vec<Point> = (0..n)
                .map(|_| {
                    t += match next() % 50 {
                        0 => 3600 * (2 + (next() % 30) as i64), // a gap
                        1 if kind == 1 => 1800,                 // finer than the step
                        2 if kind == 2 => 3600 + 17,            // irregular
                        _ => 3600,
                    };
                    let value = match kind {
                        3 => (next() % 1_000_000) as f64 / 7.0,
                        _ => (next() % 1_000_000) as f64,
                    };
                    Point {
                        time: t0 + Duration::seconds(t),
                        value,
                        count: None,
                    }
                })
                .collect();
            let mut s = Series::new(Scope::Receive, points);
            assert_eq!(s.grid_step(), None);
            if kind == 1 {
                // Declared hourly with half-hour samples: spacings below the step, so gaps
                // are found by scanning rather than by spans.
                s.origin.period = Some(crate::model::Period::Hourly);
                assert!(s.min_spacing().unwrap() < s.step_seconds());
            }
            same_as_general(
                &s,
                &mut next,
                &format!("seed {seed} n {n}"),
                |s, cols, st, c, m| sorted_runs(s, cols, st, c, m),
            );
        }
    }

    type MapRef<'a> = &'a dyn Fn(f64, f64) -> (i32, i32);

    /// Checks that `fast` decimates `s` exactly as [`general_runs`] does, for a random
    /// column count and plot width and several rate factors.
    fn same_as_general<F>(s: &Series, next: &mut impl FnMut() -> u64, label: &str, fast: F)
    where
        F: Fn(&Series, &Columns, i64, usize, &MapRef) -> Option<Vec<Run>>,
    {
        let step = s.step_seconds();
        let columns = 20 + (next() % 700) as usize;
        let (a, b) = (
            s.times()[0] as f64,
            *s.times().last().unwrap() as f64 + 3600.0,
        );
        let width = columns as f64 + (next() % 50) as f64;
        let map: MapRef = &move |t: f64, v: f64| {
            (
                ((t - a) / (b - a) * width).round() as i32,
                (1000.0 - v * 0.01).round() as i32,
            )
        };
        let rollup = Rollup::of(s.values());
        for factor in [1.0, 8.0, 0.125, 8.0 / 3600.0, 3.0] {
            let general = general_runs(s, factor, step, true, columns, &map);
            // With and without the rollup (used only for exact sums).
            for rollup in [None, Some(&rollup)] {
                let cols = Columns::new(s, factor, rollup);
                let got = fast(s, &cols, step, columns, &map).expect("finite rates");
                assert_eq!(got, general, "{label} factor {factor} {}", rollup.is_some());
            }
        }
    }

    #[test]
    fn first_gap_finds_the_first_spacing_over_the_step() {
        let mut times: Vec<i64> = (0..100).map(|i| i * 10).collect();
        assert_eq!(first_gap(&times, 10), None);
        assert_eq!(first_gap(&[], 10), None);
        assert_eq!(first_gap(&[5], 10), None);
        for k in [0usize, 31, 32, 33, 70, 98] {
            let mut t = times.clone();
            for v in &mut t[k + 1..] {
                *v += 1;
            }
            assert_eq!(first_gap(&t, 10), Some(k), "gap after {k}");
        }
        times[50] += 3; // two gaps: 49-50 and... only the first counts
        times[80] += 30;
        assert_eq!(first_gap(&times, 10), Some(49));
        // With no spacing below the step, bisection on spans finds the same.
        for t in [
            (0..100).map(|i| i * 10).collect::<Vec<i64>>(),
            (0..100).map(|i| i * 10 + (i / 37) * 5).collect(),
            (0..100).map(|i| i * 10 + (i / 99) * 5).collect(),
            (0..100).map(|i| i * 15).collect(),
            vec![0, 30],
            vec![7],
            vec![],
        ] {
            assert_eq!(first_gap_spaced(&t, 10), first_gap(&t, 10), "{t:?}");
        }
    }

    #[test]
    fn next_column_finds_the_first_index_past_the_column() {
        // Every boundary position, from every guess, equals the linear scan's answer.
        for n in 1..40usize {
            for i in 0..n {
                for edge in i + 1..=n + 1 {
                    let want = (i + 1..=n).find(|&k| k >= edge).unwrap_or(n);
                    for guess in [0, 1, 2, 3, 7, 50] {
                        let got = next_column(i, n, guess, |k| k >= edge);
                        assert_eq!(got, want, "n {n} i {i} edge {edge} guess {guess}");
                    }
                }
            }
        }
    }

    #[test]
    fn grid_fast_path_equals_the_general_path() {
        for seed in 1..=40u64 {
            let mut next = rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let n = 200 + (next() % 20_000) as usize;
            let kind = seed % 5;
            let values: Vec<f64> = (0..n)
                .map(|_| match kind {
                    0 => (next() % 1_000_000) as f64,       // integers
                    1 => (next() % 7) as f64,               // many ties
                    2 => (next() % 1_000_000) as f64 / 7.0, // fractions
                    3 => (next() % 2_000) as f64 - 1_000.0, // negatives
                    _ => 42.0,                              // all equal
                })
                .collect();
            let s = hourly(&values);
            assert_eq!(s.grid_step(), Some(3600));
            same_as_general(
                &s,
                &mut next,
                &format!("seed {seed} n {n}"),
                |s, cols, st, c, m| grid_runs(s, cols, st, c, m),
            );
        }
    }

    #[test]
    fn grid_fast_path_declines_what_it_cannot_do() {
        let mut values = vec![5.0; 3000];
        values[1234] = f64::INFINITY;
        let s = hourly(&values);
        let cols = |s| Columns::new(s, 1.0, None);
        assert!(grid_runs(&s, &cols(&s), 3600, 100, &mapper(&s)).is_none());
        // runs() then falls back and breaks the run where the rate is not finite.
        assert_eq!(runs(&s, 1.0, 100, None, &mapper(&s)).len(), 2);
        let s = hourly(&[1.0; 3000]);
        assert!(
            grid_runs(&s, &cols(&s), 1800, 100, &mapper(&s)).is_none(),
            "coarser than the step"
        );
        let mut gap = hourly(&[1.0; 3000]);
        gap.remove_range(10..20);
        assert!(grid_runs(&gap, &cols(&gap), 3600, 100, &mapper(&gap)).is_none());
    }

    #[test]
    fn gaps_split_runs_even_when_decimating() {
        let s = {
            let mut s = hourly(&vec![1.0; 3000]);
            s.remove_range(1000..1100);
            s
        };
        let runs = runs(&s, 1.0, 100, None, &mapper(&s));
        assert_eq!(runs.len(), 2);
        assert!(runs[0].line.last().unwrap().x < runs[1].line[0].x);
    }
}
