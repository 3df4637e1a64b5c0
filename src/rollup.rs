//! Rollups: a series summarised per bucket of [`BUCKET`] consecutive samples (the minimum,
//! maximum and sum of each bucket's raw values), gathered by the statistics pass while it
//! reads every sample anyway. Decimation then reduces a pixel column from the buckets
//! inside it and reads only the samples at its two edges, instead of reading the whole
//! series a second time (see [`Rollup::figures`]).
//!
//! A rollup is kept only for a series whose sums are exact ([`Series::exact_sums`]:
//! integers that no addition can round, in any order), so a column's sum built from
//! buckets is the very sum of its samples, and no value is NaN or infinite.
//!
//! The pass that builds them is here too ([`pair_pass`]): one read of receive and transmit
//! side by side gathers both rollups and brackets the percentile of the joined values. At a
//! million points that pass is the costliest part of a graph, and it comes near memory
//! speed only with wide vectors, so its loops are written in lanes and compiled for
//! AVX2 and the baseline, picked at run time (`simd`; the environment variable
//! `TRAFFICGRAPH_SIMD=avx2` or `=baseline` forces a narrower path, for measuring it on a
//! machine that has a wider one). On AVX2 (and AVX-512) the joins a graph uses, the larger
//! of receive and transmit ([`max_join`]) and the sum of their rates ([`sum_join`]), and
//! the stretches where one series is alone (every [`Rollup::of`], and a percentile of one
//! direction) have kernels written out in intrinsics that keep every accumulator in a
//! register (`pair_bucket_avx2`, `lone_bucket_avx2`); the generic lanes are their
//! proptest oracle.
//!
//! [`Series::exact_sums`]: crate::model::Series::exact_sums

use std::ops::Range;

/// Samples per bucket. Decimation reads about one bucket per column edge, the pass pays
/// a few horizontal reductions per bucket: 128 keeps both small.
pub const BUCKET: usize = 128;

/// Minimum, maximum and sum of some raw values (the minimum is +inf and the maximum
/// -inf when there are none). NaNs are ignored by the minimum and maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Smallest value (+inf when none).
    pub min: f64,
    /// Largest value (-inf when none).
    pub max: f64,
    /// Sum of the values (exact only for exact sums).
    pub sum: f64,
}

impl Bucket {
    pub(crate) const EMPTY: Bucket = Bucket {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        sum: 0.0,
    };

    /// The figures of `values`, in four lanes so the loop vectorizes (the sum is exact
    /// only for exact sums).
    pub fn of(values: &[f64]) -> Bucket {
        let mut lanes = Lanes::<4>::new();
        let chunks = values.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for (k, &v) in c.iter().enumerate() {
                lanes.add(k, v);
            }
        }
        for (k, &v) in rest.iter().enumerate() {
            lanes.add(k, v);
        }
        lanes.bucket()
    }

    /// The figures of both buckets' values together.
    #[inline]
    pub fn merge(self, o: Bucket) -> Bucket {
        Bucket {
            min: if o.min < self.min { o.min } else { self.min },
            max: if o.max > self.max { o.max } else { self.max },
            sum: self.sum + o.sum,
        }
    }
}

/// A series' buckets: bucket `k` holds the samples `k * BUCKET - off .. (k + 1) * BUCKET -
/// off` (clipped to the series), so two series on one time grid can share boundaries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rollup {
    off: usize,
    len: usize,
    buckets: Vec<Bucket>,
}

/// The figures of a stretch of raw values, as a sample-by-sample scan finds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Smallest value of the stretch.
    pub min: f64,
    /// Largest value of the stretch.
    pub max: f64,
    /// In lanes or from buckets: exact only for exact sums.
    pub sum: f64,
    /// Whether the minimum's first occurrence comes no later than the maximum's.
    pub min_first: bool,
}

impl Figures {
    /// The figures of `values` (non-empty) read one by one.
    pub fn of(values: &[f64]) -> Figures {
        let b = Bucket::of(values);
        Figures {
            min: b.min,
            max: b.max,
            sum: b.sum,
            min_first: min_first(values, b.min, b.max),
        }
    }
}

/// Whether the first value equal to `min` or `max` is `min` (true when there is none):
/// `first_of(..).is_none_or(|r| r == min)`. A stretch of at most 64 values (a decimated
/// column is about a dozen) is read without an early exit into two bit masks, so the
/// search leaves no branch on where the hit lies: the early exit of [`first_of`]
/// mispredicted about once a column (3% of an 8 760-point graph went to it).
#[inline]
fn min_first(values: &[f64], min: f64, max: f64) -> bool {
    if values.len() > 64 {
        return first_of(values, min, max).is_none_or(|r| r == min);
    }
    let (mut hit, mut low) = (0u64, 0u64);
    for (k, &v) in values.iter().enumerate() {
        let is_min = v == min;
        hit |= u64::from(is_min | (v == max)) << k;
        low |= u64::from(is_min) << k;
    }
    hit == 0 || (low >> hit.trailing_zeros()) & 1 == 1
}

/// The first value equal to `min` or `max`, eight values at a time.
fn first_of(values: &[f64], min: f64, max: f64) -> Option<f64> {
    let hit = |v: f64| v == min || v == max;
    for c in values.chunks(8) {
        if c.iter().fold(false, |h, &v| h | hit(v)) {
            return c.iter().copied().find(|&v| hit(v));
        }
    }
    None
}

impl Rollup {
    /// The rollup of `values`, buckets starting at index 0: [`pair_pass`] with nothing to
    /// join and a bracket that holds nothing (every comparison with NaN is false).
    pub fn of(values: &[f64]) -> Rollup {
        let lone = Join::new((values, 0), (&[], 0), (1.0, 1.0), |x: f64, _| x);
        let nothing = Bracket {
            lo: f64::NAN,
            hi: f64::NAN,
            cap: 0,
        };
        pair_pass(&lone, nothing, &mut Vec::new()).a
    }

    /// Number of samples summarised.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no sample was summarised.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buckets, in time order (see [`Rollup::range`] for the samples of each).
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The samples of bucket `k`.
    pub fn range(&self, k: usize) -> Range<usize> {
        (k * BUCKET).saturating_sub(self.off)..((k + 1) * BUCKET - self.off).min(self.len)
    }

    /// The samples of the bucket that holds sample `i`.
    pub fn bucket_of(&self, i: usize) -> Range<usize> {
        self.range((i + self.off) / BUCKET)
    }

    /// The figures of `values[r]` (non-empty; `values` is the series this rollup was built
    /// from): the buckets wholly inside `r`, plus the samples before the first and after the
    /// last of them. Equal to [`Figures::of`] of the stretch, the sum included (exact sums).
    pub fn figures(&self, values: &[f64], r: Range<usize>) -> Figures {
        debug_assert_eq!(values.len(), self.len);
        let first = (r.start + self.off).div_ceil(BUCKET);
        let end = (r.end + self.off) / BUCKET;
        if first >= end {
            return Figures::of(&values[r]);
        }
        let (s, e) = (first * BUCKET - self.off, end * BUCKET - self.off);
        let head = Bucket::of(&values[r.start..s]);
        let tail = Bucket::of(&values[e..r.end]);
        let mid = &self.buckets[first..end];
        // The parts in time order: head, buckets, tail, merged in that order. The first
        // part holding the minimum (maximum) holds its first occurrence: the part where
        // the running minimum last went strictly down, found in the same loop. When it is
        // the same part for both, that part is scanned.
        let (mut all, mut of_min, mut of_max) = (head, 0, 0);
        for (i, b) in mid.iter().chain([&tail]).enumerate() {
            if b.min < all.min {
                of_min = i + 1;
            }
            if b.max > all.max {
                of_max = i + 1;
            }
            all = all.merge(*b);
        }
        let min_first = if of_min != of_max {
            of_min < of_max
        } else {
            let range = match of_min {
                0 => r.start..s,
                i if i <= mid.len() => self.range(first + i - 1),
                _ => e..r.end,
            };
            first_of(&values[range], all.min, all.max).is_none_or(|v| v == all.min)
        };
        Figures {
            min: all.min,
            max: all.max,
            sum: all.sum,
            min_first,
        }
    }
}

/// The percentile bracket of [`pair_pass`]: joined values below `lo` are counted, those
/// in `lo..=hi` kept (at most `cap` of them).
#[derive(Debug, Clone, Copy)]
pub struct Bracket {
    /// Joined values below this are only counted.
    pub lo: f64,
    /// Joined values from `lo` to `hi` (inclusive) are kept.
    pub hi: f64,
    /// Most values kept; more sets [`PairPass::overflow`].
    pub cap: usize,
}

/// What [`pair_pass`] found besides the values it kept.
#[derive(Debug)]
pub struct PairPass {
    /// The rollup of `Join::a`.
    pub a: Rollup,
    /// The rollup of `Join::b`.
    pub b: Rollup,
    /// Joined values below the bracket.
    pub below: usize,
    /// More than `cap` values fell in the bracket (those kept are then incomplete).
    pub overflow: bool,
}

/// How one timeline joins two series: `a[i]` and `b[j]` share a timestamp when
/// `i + ua == j + ub`; the joined value of a shared timestamp is `join(a, b)`, of a lone
/// sample its value times `ga` (`gb`).
pub struct Join<'s, J> {
    /// The first series' raw values.
    pub a: &'s [f64],
    /// Position of `a[0]` on the shared timeline.
    pub ua: usize,
    /// Factor of an `a` sample with no `b` sample at its timestamp.
    pub ga: f64,
    /// The second series' raw values.
    pub b: &'s [f64],
    /// Position of `b[0]` on the shared timeline.
    pub ub: usize,
    /// Factor of a `b` sample with no `a` sample at its timestamp.
    pub gb: f64,
    /// The joined value of a shared timestamp, from `a`'s and `b`'s values.
    pub join: J,
    /// Which of the joins the AVX2 pass has a kernel for `join` is, if any ([`max_join`],
    /// [`sum_join`]).
    kernel: Kernel,
}

/// A join the AVX2 pass knows, with what it needs to compute it in vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    /// Any closure: the generic lanes.
    Generic,
    /// [`larger`] of the raw values.
    Larger,
    /// `x * fa + y * fb`.
    Sum { fa: f64, fb: f64 },
}

/// The larger of two values, `y` when either is NaN (one compare, as a vector max does it).
#[inline(always)]
pub fn larger(x: f64, y: f64) -> f64 {
    if x > y {
        x
    } else {
        y
    }
}

/// `a` and `b` joined by the [`larger`] of their values at a shared timestamp, a lone
/// sample by its own value: [`Join::new`] with that join, which the AVX2 pass knows.
pub fn max_join<'s>(
    a: (&'s [f64], usize),
    b: (&'s [f64], usize),
) -> Join<'s, impl Fn(f64, f64) -> f64 + Copy> {
    Join {
        kernel: Kernel::Larger,
        ..Join::new(a, b, (1.0, 1.0), larger)
    }
}

/// `a` and `b` joined by the sum of their rates `x * fa + y * fb` at a shared timestamp, a
/// lone sample by its own rate: [`Join::new`] with that join, which the AVX2 pass knows.
pub fn sum_join<'s>(
    a: (&'s [f64], usize),
    b: (&'s [f64], usize),
    (fa, fb): (f64, f64),
) -> Join<'s, impl Fn(f64, f64) -> f64 + Copy> {
    Join {
        kernel: Kernel::Sum { fa, fb },
        ..Join::new(a, b, (fa, fb), move |x: f64, y: f64| x * fa + y * fb)
    }
}

impl<'s, J: Fn(f64, f64) -> f64> Join<'s, J> {
    /// `a` and `b` with their offsets on the timeline, the factors of lone samples.
    pub fn new(
        (a, ua): (&'s [f64], usize),
        (b, ub): (&'s [f64], usize),
        (ga, gb): (f64, f64),
        join: J,
    ) -> Self {
        Join {
            a,
            ua,
            ga,
            b,
            ub,
            gb,
            join,
            kernel: Kernel::Generic,
        }
    }

    /// The joined value at position `u` of the timeline; `None` where neither has a sample.
    pub fn at(&self, u: usize) -> Option<f64> {
        let x = u.checked_sub(self.ua).and_then(|i| self.a.get(i));
        let y = u.checked_sub(self.ub).and_then(|i| self.b.get(i));
        match (x, y) {
            (Some(&x), Some(&y)) => Some((self.join)(x, y)),
            (Some(&x), None) => Some(x * self.ga),
            (None, Some(&y)) => Some(y * self.gb),
            (None, None) => None,
        }
    }

    /// Positions on the timeline: up to the end of the later series.
    fn len(&self) -> usize {
        (self.ua + self.a.len()).max(self.ub + self.b.len())
    }
}

/// One read of both series: their rollups (buckets aligned on the shared timeline), the
/// count of joined values below the bracket, and the joined values inside it appended to
/// `kept`. Values above the bracket are the rest.
pub fn pair_pass<J: Fn(f64, f64) -> f64 + Copy>(
    j: &Join<'_, J>,
    br: Bracket,
    kept: &mut Vec<f64>,
) -> PairPass {
    #[cfg(target_arch = "x86_64")]
    match simd() {
        // SAFETY: `simd` picks AVX2 or AVX-512 (which implies AVX2) only when the CPU
        // has it.
        Simd::Avx512 | Simd::Avx2 => return unsafe { pair_pass_avx2(j, br, kept) },
        Simd::Baseline => {}
    }
    pair_pass_lanes::<4, J>(j, br, kept, pair_bucket, lone_bucket)
}

/// The vector width the pass runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Simd {
    Avx512,
    Avx2,
    /// The x86-64 baseline (SSE2), or whatever the target has without run-time checks.
    Baseline,
}

/// The environment variable that caps the vector width: `avx512`, `avx2` or `baseline`
/// (also `sse2`, `scalar`, `none`). Unset or unknown: the widest the CPU has. A width the
/// CPU lacks falls back to the next narrower one. Read once per process; meant for
/// measuring one path on a machine that has a wider one.
pub const SIMD_ENV: &str = "TRAFFICGRAPH_SIMD";

/// The path the pass takes on this CPU under [`SIMD_ENV`].
pub(crate) fn simd() -> Simd {
    static PICKED: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    *PICKED.get_or_init(|| {
        let cap = match std::env::var(SIMD_ENV).as_deref().map(str::trim) {
            Ok("avx2") => Simd::Avx2,
            Ok("baseline" | "sse2" | "scalar" | "none") => Simd::Baseline,
            _ => Simd::Avx512,
        };
        pick(cap)
    })
}

/// The widest path up to `cap` that this CPU runs.
#[allow(unused_variables)]
fn pick(cap: Simd) -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if cap == Simd::Avx512 && std::arch::is_x86_feature_detected!("avx512f") {
            return Simd::Avx512;
        }
        if cap != Simd::Baseline && std::arch::is_x86_feature_detected!("avx2") {
            return Simd::Avx2;
        }
    }
    Simd::Baseline
}

/// The pass on AVX2, also where the CPU has AVX-512: kernels written out in four lanes of
/// intrinsics for the joins a graph uses ([`pair_bucket_avx2`]) and for the stretches
/// where one series is alone ([`lone_bucket_avx2`], which is also every [`Rollup::of`]);
/// the generic eight lanes for any other join. On the AMD EPYC (Zen 4) this was measured on, eight
/// AVX-512 lanes written out the same way drew a million-point graph in 1.70 ms against
/// 1.40 with these, and the generic eight lanes in 1.63 (docs/bench-table.md).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pair_pass_avx2<J: Fn(f64, f64) -> f64 + Copy>(
    j: &Join<'_, J>,
    br: Bracket,
    kept: &mut Vec<f64>,
) -> PairPass {
    let lone =
        |a: &_, g, br, below: &mut _, kept: Option<&mut _>| lone_bucket_avx2(a, g, br, below, kept);
    match j.kernel {
        Kernel::Larger => {
            let full = |a: &_, b: &_, _, br, below: &mut _, kept: Option<&mut _>| {
                pair_bucket_avx2(a, b, Larger, br, below, kept)
            };
            pair_pass_lanes::<4, J>(j, br, kept, full, lone)
        }
        Kernel::Sum { fa, fb } => {
            let full = |a: &_, b: &_, _, br, below: &mut _, kept: Option<&mut _>| {
                pair_bucket_avx2(a, b, SumOf { fa, fb }, br, below, kept)
            };
            pair_pass_lanes::<4, J>(j, br, kept, full, lone)
        }
        // Any other join (the larger of two rates with different factors): the generic
        // code, in eight lanes, which compile better than four for AVX2 (a million
        // points' sum of rates took 1.76 ms in eight generic lanes, 3.37 in four).
        Kernel::Generic => {
            let full = |a: &_, b: &_, join, br, below: &mut _, kept: Option<&mut _>| {
                pair_bucket(a, b, join, br, below, kept)
            };
            let lone = |a: &_, g, br, below: &mut _, kept: Option<&mut _>| {
                lone_bucket(a, g, br, below, kept)
            };
            pair_pass_lanes::<8, J>(j, br, kept, full, lone)
        }
    }
}

/// [`pair_pass`] in `L` lanes (a power of two, at least 2, so one bucket's `BUCKET / L`
/// steps fit the 64 bits of a lane's bracket history), `full` taking the stretches where
/// both series have a whole bucket. The callers pass `full` as a closure written inside
/// their `#[target_feature]` function, never as the function item `pair_bucket`: a
/// function item is called through a shim compiled without those features, which made
/// the AVX-512 pass a third slower.
#[inline(always)]
fn pair_pass_lanes<const L: usize, J: Fn(f64, f64) -> f64 + Copy>(
    j: &Join<'_, J>,
    br: Bracket,
    kept: &mut Vec<f64>,
    full: impl Fn(
        &[f64; BUCKET],
        &[f64; BUCKET],
        J,
        Bracket,
        &mut [u64; L],
        Option<&mut Vec<f64>>,
    ) -> (Bucket, Bucket),
    lone: impl Fn(&[f64; BUCKET], f64, Bracket, &mut [u64; L], Option<&mut Vec<f64>>) -> Bucket,
) -> PairPass {
    let (na, nb) = (j.a.len(), j.b.len());
    let union = j.len();
    let mut ra = Rollup {
        off: j.ua % BUCKET,
        len: na,
        buckets: Vec::with_capacity(na.div_ceil(BUCKET) + 1),
    };
    let mut rb = Rollup {
        off: j.ub % BUCKET,
        len: nb,
        buckets: Vec::with_capacity(nb.div_ceil(BUCKET) + 1),
    };
    let mut lanes_below = [0u64; L];
    let mut below = 0usize;
    let mut overflow = false;
    // A series' part of the timeline's bucket `u0..u0 + BUCKET`.
    let part = |v: &'_ [f64], start: usize, u0: usize| -> Range<usize> {
        let s = u0.max(start).min(start + v.len()) - start;
        let e = (u0 + BUCKET).max(start).min(start + v.len()) - start;
        s..e
    };
    for u0 in (0..union).step_by(BUCKET) {
        // No software prefetch: the hardware follows the two sequential streams, and
        // asking for each line four buckets ahead made a 1M graph 5-10% slower with the
        // AVX2 kernel (render floor 5, docs/bench-table.md).
        let (pa, pb) = (part(j.a, j.ua, u0), part(j.b, j.ub, u0));
        let keep = !overflow;
        if pa.len() == BUCKET && pb.len() == BUCKET {
            let (xa, xb) = (&j.a[pa], &j.b[pb]);
            let (ba, bb) = full(
                xa.try_into().expect("a whole bucket"),
                xb.try_into().expect("a whole bucket"),
                j.join,
                br,
                &mut lanes_below,
                keep.then_some(&mut *kept),
            );
            ra.buckets.push(ba);
            rb.buckets.push(bb);
        } else if pa.len() == BUCKET && pb.is_empty() {
            let xa = &j.a[pa];
            ra.buckets.push(lone(
                xa.try_into().expect("a whole bucket"),
                j.ga,
                br,
                &mut lanes_below,
                keep.then_some(&mut *kept),
            ));
        } else if pb.len() == BUCKET && pa.is_empty() {
            let xb = &j.b[pb];
            rb.buckets.push(lone(
                xb.try_into().expect("a whole bucket"),
                j.gb,
                br,
                &mut lanes_below,
                keep.then_some(&mut *kept),
            ));
        } else {
            // A bucket at an end of the timeline: one value at a time.
            if !pa.is_empty() {
                ra.buckets.push(Bucket::of(&j.a[pa.clone()]));
            }
            if !pb.is_empty() {
                rb.buckets.push(Bucket::of(&j.b[pb.clone()]));
            }
            for m in (u0..(u0 + BUCKET).min(union)).filter_map(|u| j.at(u)) {
                below += usize::from(m < br.lo);
                if keep && m >= br.lo && m <= br.hi {
                    kept.push(m);
                }
            }
        }
        overflow |= kept.len() > br.cap;
    }
    below += lanes_below.iter().map(|&c| c as usize).sum::<usize>();
    PairPass {
        a: ra,
        b: rb,
        below,
        overflow,
    }
}

/// Asks the CPU to load `v` into the cache ahead of its use (decimation's column edges,
/// which the hardware cannot guess).
#[inline(always)]
pub(crate) fn prefetch(v: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = v.as_ptr();
        for line in (0..v.len()).step_by(8) {
            // SAFETY: `p + line` lies inside `v`; SSE is part of the x86_64 baseline, and
            // a prefetch only hints: it reads nothing and cannot fault.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p.add(line).cast(),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Per-lane minimum, maximum and sum.
#[derive(Clone, Copy)]
struct Lanes<const L: usize> {
    min: [f64; L],
    max: [f64; L],
    sum: [f64; L],
}

impl<const L: usize> Lanes<L> {
    #[inline(always)]
    fn new() -> Self {
        Lanes {
            min: [f64::INFINITY; L],
            max: [f64::NEG_INFINITY; L],
            sum: [0.0; L],
        }
    }

    #[inline(always)]
    fn add(&mut self, k: usize, v: f64) {
        self.min[k] = if v < self.min[k] { v } else { self.min[k] };
        self.max[k] = if v > self.max[k] { v } else { self.max[k] };
        self.sum[k] += v;
    }

    #[inline(always)]
    /// The lanes merged, halving their number each round so the merge stays in vectors.
    /// The order of additions is not one by one, which only matters for sums that are not
    /// exact, and those are taken again one by one ([`crate::stats`]).
    fn bucket(mut self) -> Bucket {
        let mut half = L / 2;
        while half > 0 {
            for k in 0..half {
                let o = Bucket {
                    min: self.min[k + half],
                    max: self.max[k + half],
                    sum: self.sum[k + half],
                };
                let m = Bucket {
                    min: self.min[k],
                    max: self.max[k],
                    sum: self.sum[k],
                }
                .merge(o);
                (self.min[k], self.max[k], self.sum[k]) = (m.min, m.max, m.sum);
            }
            half /= 2;
        }
        Bucket {
            min: self.min[0],
            max: self.max[0],
            sum: self.sum[0],
        }
    }
}

/// Bracket bookkeeping of one step of `L` joined values: the count below, and a bit per
/// lane (the latest step in the lowest bit) for each value inside.
#[inline(always)]
fn bracket_step<const L: usize>(
    k: usize,
    m: f64,
    br: Bracket,
    below: &mut [u64; L],
    history: &mut [u64; L],
) {
    below[k] += u64::from(m < br.lo);
    history[k] = (history[k] << 1) | u64::from((m >= br.lo) & (m <= br.hi));
}

/// Appends the joined values a bucket's bracket history marks, `value(i)` giving the
/// joined value of the bucket's `i`-th sample.
#[inline(always)]
fn keep_marked<const L: usize>(
    history: &[u64; L],
    value: impl Fn(usize) -> f64,
    kept: &mut Vec<f64>,
) {
    let steps = BUCKET / L;
    for (k, &h) in history.iter().enumerate() {
        let mut h = h;
        while h != 0 {
            let bit = h.trailing_zeros() as usize;
            h &= h - 1;
            kept.push(value((steps - 1 - bit) * L + k));
        }
    }
}

/// The buckets of `a` and `b` at one stretch of the timeline, and their joined values
/// bracketed.
#[inline(always)]
fn pair_bucket<const L: usize, J: Fn(f64, f64) -> f64>(
    a: &[f64; BUCKET],
    b: &[f64; BUCKET],
    join: J,
    br: Bracket,
    below: &mut [u64; L],
    kept: Option<&mut Vec<f64>>,
) -> (Bucket, Bucket) {
    let (mut la, mut lb) = (Lanes::<L>::new(), Lanes::<L>::new());
    let mut history = [0u64; L];
    for (xa, xb) in a.chunks_exact(L).zip(b.chunks_exact(L)) {
        for k in 0..L {
            let (x, y) = (xa[k], xb[k]);
            la.add(k, x);
            lb.add(k, y);
            bracket_step(k, join(x, y), br, below, &mut history);
        }
    }
    if let Some(kept) = kept {
        if history.iter().fold(0, |h, &x| h | x) != 0 {
            keep_marked(&history, |i| join(a[i], b[i]), kept);
        }
    }
    (la.bucket(), lb.bucket())
}

/// A join written out in AVX2 for [`pair_bucket_avx2`], and the same join one value at a
/// time, which the generic lanes compute.
#[cfg(target_arch = "x86_64")]
trait VectorJoin: Copy {
    /// The joined values of four shared timestamps.
    ///
    /// # Safety
    /// The CPU has AVX2.
    unsafe fn vector(
        self,
        x: std::arch::x86_64::__m256d,
        y: std::arch::x86_64::__m256d,
    ) -> std::arch::x86_64::__m256d;
    /// The joined value of one: what `vector` gives each lane.
    fn scalar(self, x: f64, y: f64) -> f64;
}

/// [`larger`]: `x > y ? x : y`, which is what `vmaxpd` computes (NaN included).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Larger;

#[cfg(target_arch = "x86_64")]
impl VectorJoin for Larger {
    #[inline(always)]
    unsafe fn vector(
        self,
        x: std::arch::x86_64::__m256d,
        y: std::arch::x86_64::__m256d,
    ) -> std::arch::x86_64::__m256d {
        // SAFETY: the caller promises AVX2.
        unsafe { std::arch::x86_64::_mm256_max_pd(x, y) }
    }
    #[inline(always)]
    fn scalar(self, x: f64, y: f64) -> f64 {
        larger(x, y)
    }
}

/// `x * fa + y * fb`: two products and their sum, each rounded as the scalar operations
/// round them (nothing fused).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct SumOf {
    fa: f64,
    fb: f64,
}

#[cfg(target_arch = "x86_64")]
impl VectorJoin for SumOf {
    #[inline(always)]
    unsafe fn vector(
        self,
        x: std::arch::x86_64::__m256d,
        y: std::arch::x86_64::__m256d,
    ) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::{_mm256_add_pd, _mm256_mul_pd, _mm256_set1_pd};
        // SAFETY: the caller promises AVX2.
        unsafe {
            _mm256_add_pd(
                _mm256_mul_pd(x, _mm256_set1_pd(self.fa)),
                _mm256_mul_pd(y, _mm256_set1_pd(self.fb)),
            )
        }
    }
    #[inline(always)]
    fn scalar(self, x: f64, y: f64) -> f64 {
        x * self.fa + y * self.fb
    }
}

/// [`pair_bucket`] in four lanes for a join it knows ([`max_join`], [`sum_join`]), written
/// out in AVX2 intrinsics so that every accumulator stays in a register: the generic
/// code's eight lanes need more registers than AVX2 has, and its spills cost a third of
/// the pass (its four lanes compile worse still). Same results as `pair_bucket::<4, _>`
/// with the same join (proptest `the_avx2_kernels_are_the_generic_pass`): the same
/// minimum, maximum and sum per lane, merged the same way, the same count below per lane
/// and the same values kept (in another order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn pair_bucket_avx2<V: VectorJoin>(
    a: &[f64; BUCKET],
    b: &[f64; BUCKET],
    join: V,
    br: Bracket,
    below: &mut [u64; 4],
    kept: Option<&mut Vec<f64>>,
) -> (Bucket, Bucket) {
    use std::arch::x86_64::_mm256_loadu_pd;
    let (mut la, mut lb) = (Acc4::new(), Acc4::new());
    let mut bracket = Bracket4::new(br, below);
    for half in 0..2 {
        for step in 0..16 {
            let i = half * 64 + step * 4;
            // SAFETY: `i + 4 <= BUCKET`: four f64s inside each array; unaligned loads.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_pd(a.as_ptr().add(i)),
                    _mm256_loadu_pd(b.as_ptr().add(i)),
                )
            };
            la.add(x);
            lb.add(y);
            // SAFETY: this function runs only where the CPU has AVX2.
            bracket.step(half, step, unsafe { join.vector(x, y) });
        }
    }
    let marks = bracket.finish(below);
    if let Some(kept) = kept {
        keep_bits(&marks, |i| join.scalar(a[i], b[i]), kept);
    }
    (la.bucket(), lb.bucket())
}

/// [`lone_bucket`] in four lanes, written out in AVX2 like [`pair_bucket_avx2`]: the same
/// results as `lone_bucket::<4>` (proptest `the_avx2_kernels_are_the_generic_pass`). The
/// generic code compiled for AVX2 shuffled every step's bits through the vector unit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn lone_bucket_avx2(
    a: &[f64; BUCKET],
    g: f64,
    br: Bracket,
    below: &mut [u64; 4],
    kept: Option<&mut Vec<f64>>,
) -> Bucket {
    use std::arch::x86_64::{_mm256_loadu_pd, _mm256_mul_pd, _mm256_set1_pd};
    let gv = _mm256_set1_pd(g);
    let mut la = Acc4::new();
    let mut bracket = Bracket4::new(br, below);
    for half in 0..2 {
        for step in 0..16 {
            let i = half * 64 + step * 4;
            // SAFETY: `i + 4 <= BUCKET`: four f64s inside the array; an unaligned load.
            let x = unsafe { _mm256_loadu_pd(a.as_ptr().add(i)) };
            la.add(x);
            bracket.step(half, step, _mm256_mul_pd(x, gv));
        }
    }
    let marks = bracket.finish(below);
    if let Some(kept) = kept {
        keep_bits(&marks, |i| a[i] * g, kept);
    }
    la.bucket()
}

/// One series' minimum, maximum and sum in four AVX2 lanes: [`Lanes`]`<4>` in registers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Acc4 {
    min: std::arch::x86_64::__m256d,
    max: std::arch::x86_64::__m256d,
    sum: std::arch::x86_64::__m256d,
}

#[cfg(target_arch = "x86_64")]
impl Acc4 {
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new() -> Acc4 {
        use std::arch::x86_64::{_mm256_set1_pd, _mm256_setzero_pd};
        Acc4 {
            min: _mm256_set1_pd(f64::INFINITY),
            max: _mm256_set1_pd(f64::NEG_INFINITY),
            sum: _mm256_setzero_pd(),
        }
    }

    /// `x < min ? x : min`, `x > max ? x : max`, `sum + x` per lane: [`Lanes::add`], NaN
    /// included.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn add(&mut self, x: std::arch::x86_64::__m256d) {
        use std::arch::x86_64::{_mm256_add_pd, _mm256_max_pd, _mm256_min_pd};
        self.min = _mm256_min_pd(x, self.min);
        self.max = _mm256_max_pd(x, self.max);
        self.sum = _mm256_add_pd(self.sum, x);
    }

    /// The lanes merged as [`Lanes::bucket`] merges them.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn bucket(self) -> Bucket {
        use std::arch::x86_64::_mm256_storeu_pd;
        let mut l = Lanes::<4>::new();
        // SAFETY: each array is four f64s, 32 bytes; unaligned stores.
        unsafe {
            _mm256_storeu_pd(l.min.as_mut_ptr(), self.min);
            _mm256_storeu_pd(l.max.as_mut_ptr(), self.max);
            _mm256_storeu_pd(l.sum.as_mut_ptr(), self.sum);
        }
        l.bucket()
    }
}

/// A bucket's bracket bookkeeping in AVX2: the count below per lane in one register, and
/// bit `i % 64` of `marks[i / 64]` for the bucket's `i`-th joined value inside.
#[cfg(target_arch = "x86_64")]
struct Bracket4 {
    lo: std::arch::x86_64::__m256d,
    hi: std::arch::x86_64::__m256d,
    under: std::arch::x86_64::__m256i,
    marks: [u64; 2],
}

#[cfg(target_arch = "x86_64")]
impl Bracket4 {
    /// Counting on from `below`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new(br: Bracket, below: &[u64; 4]) -> Bracket4 {
        use std::arch::x86_64::{_mm256_loadu_si256, _mm256_set1_pd};
        Bracket4 {
            lo: _mm256_set1_pd(br.lo),
            hi: _mm256_set1_pd(br.hi),
            // SAFETY: `below` is four u64s, 32 bytes; the load is unaligned.
            under: unsafe { _mm256_loadu_si256(below.as_ptr().cast()) },
            marks: [0; 2],
        }
    }

    /// The joined values `m` of the bucket's samples `i..i + 4`, `i = half * 64 + step *
    /// 4` (the kernels' two loops, unrolled, make both constants). Ordered compares:
    /// false for NaN, as Rust's `<`, `>=` and `<=`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn step(&mut self, half: usize, step: usize, m: std::arch::x86_64::__m256d) {
        use std::arch::x86_64::*;
        let less = _mm256_cmp_pd::<_CMP_LT_OQ>(m, self.lo);
        self.under = _mm256_sub_epi64(self.under, _mm256_castpd_si256(less));
        let inside = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_GE_OQ>(m, self.lo),
            _mm256_cmp_pd::<_CMP_LE_OQ>(m, self.hi),
        );
        self.marks[half] |= (_mm256_movemask_pd(inside) as u64) << (step * 4);
    }

    /// The counts stored back into `below`; the marks.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn finish(self, below: &mut [u64; 4]) -> [u64; 2] {
        use std::arch::x86_64::_mm256_storeu_si256;
        // SAFETY: as the load in `new`.
        unsafe { _mm256_storeu_si256(below.as_mut_ptr().cast(), self.under) };
        self.marks
    }
}

/// Appends `value(i)` for each bit `i` set in `marks` (bit `i % 64` of `marks[i / 64]`).
#[inline(always)]
fn keep_bits(marks: &[u64; 2], value: impl Fn(usize) -> f64, kept: &mut Vec<f64>) {
    for (half, &mark) in marks.iter().enumerate() {
        let mut h = mark;
        while h != 0 {
            let i = half * 64 + h.trailing_zeros() as usize;
            h &= h - 1;
            kept.push(value(i));
        }
    }
}

/// [`pair_bucket`] where only one series has samples: joined values are `value * g`.
#[inline(always)]
fn lone_bucket<const L: usize>(
    a: &[f64; BUCKET],
    g: f64,
    br: Bracket,
    below: &mut [u64; L],
    kept: Option<&mut Vec<f64>>,
) -> Bucket {
    let mut la = Lanes::<L>::new();
    let mut history = [0u64; L];
    for xa in a.chunks_exact(L) {
        for (k, &x) in xa.iter().enumerate() {
            la.add(k, x);
            bracket_step(k, x * g, br, below, &mut history);
        }
    }
    if let Some(kept) = kept {
        if history.iter().fold(0, |h, &x| h | x) != 0 {
            keep_marked(&history, |i| a[i] * g, kept);
        }
    }
    la.bucket()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic mix of integers with ties and spikes.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let base = ((x >> 33) % 1000) as f64;
                if i % 97 == 0 {
                    base * 50.0
                } else {
                    base
                }
            })
            .collect()
    }

    #[test]
    fn figures_from_buckets_equal_a_scan_of_the_stretch() {
        let v = values(5000, 7);
        for off in [0, 1, 5, 127] {
            let j = Join {
                a: &v,
                ua: off,
                ga: 1.0,
                b: &v[..10],
                ub: 0,
                gb: 1.0,
                join: f64::max,
                kernel: Kernel::Generic,
            };
            let br = Bracket {
                lo: 0.0,
                hi: -1.0,
                cap: 0,
            };
            let r = pair_pass(&j, br, &mut Vec::new()).a;
            assert_eq!(r.off, off);
            for (s, e) in [
                (0usize, 5000usize),
                (3, 4000),
                (126, 129),
                (128, 640),
                (1, 2),
                (4999, 5000),
            ] {
                for (s, e) in [(s, e), (s + 17, e), (s, e.saturating_sub(33).max(s + 1))] {
                    if s >= e {
                        continue;
                    }
                    assert_eq!(r.figures(&v, s..e), Figures::of(&v[s..e]), "{off} {s}..{e}");
                }
            }
        }
    }

    #[test]
    fn a_lone_rollup_is_its_chunks() {
        for n in [0, 1, 127, 128, 129, 1000, 4096] {
            let v = values(n, 3);
            let r = Rollup::of(&v);
            let want: Vec<Bucket> = v.chunks(BUCKET).map(Bucket::of).collect();
            assert_eq!(r.buckets(), &want[..], "{n}");
            assert_eq!((r.off, r.len()), (0, n));
        }
    }

    #[test]
    fn min_first_follows_the_first_occurrences() {
        // The minimum's first occurrence early, the maximum late, across buckets and
        // inside one bucket.
        let mut v = vec![5.0; 1024];
        v[300] = 1.0;
        v[700] = 9.0;
        v[900] = 1.0;
        let r = Rollup::of(&v);
        assert!(r.figures(&v, 0..1024).min_first);
        assert!(!r.figures(&v, 400..1024).min_first);
        v[310] = 9.0;
        let r = Rollup::of(&v);
        assert!(r.figures(&v, 0..1024).min_first);
        v[290] = 9.0;
        let r = Rollup::of(&v);
        assert!(!r.figures(&v, 0..1024).min_first);
        let flat = vec![2.0; 600];
        assert!(Rollup::of(&flat).figures(&flat, 0..600).min_first);
    }

    /// Every lane count gives what the one-by-one definition gives, for a join as any
    /// closure and for the two the AVX2 pass has kernels for.
    #[test]
    fn the_pass_counts_and_keeps_exactly_and_builds_both_rollups() {
        let a = values(3000, 1);
        let b = values(2900, 2);
        for (ua, ub) in [(0, 0), (0, 37), (200, 0), (0, 128)] {
            let generic = Join {
                kernel: Kernel::Generic,
                ..max_join((&a, ua), (&b, ub))
            };
            check_pass(&generic, &a, &b, (400.0, 420.0));
            check_pass(&max_join((&a, ua), (&b, ub)), &a, &b, (400.0, 420.0));
            let sum = sum_join((&a, ua), (&b, ub), (1.5, 0.25));
            check_pass(&sum, &a, &b, (700.0, 760.0));
        }
    }

    fn check_pass<J: Fn(f64, f64) -> f64 + Copy>(
        j: &Join<'_, J>,
        a: &[f64],
        b: &[f64],
        (lo, hi): (f64, f64),
    ) {
        let (ua, ub) = (j.ua, j.ub);
        let br = Bracket {
            lo,
            hi,
            cap: usize::MAX,
        };
        // The joined values by definition.
        let joined: Vec<f64> = (0..j.len()).filter_map(|u| j.at(u)).collect();
        assert_eq!(joined.len(), j.len(), "they overlap: no position is empty");
        let want_below = joined.iter().filter(|&&m| m < br.lo).count();
        let mut want_kept: Vec<f64> = joined
            .iter()
            .copied()
            .filter(|&m| m >= br.lo && m <= br.hi)
            .collect();
        want_kept.sort_by(f64::total_cmp);
        assert!(
            !want_kept.is_empty() && want_below > 0,
            "a bracket that tells"
        );
        let mut runs = vec![];
        let mut kept = Vec::new();
        runs.push(pair_pass(j, br, &mut kept));
        let mut base = Vec::new();
        runs.push(pair_pass_lanes::<4, _>(
            j,
            br,
            &mut base,
            pair_bucket,
            lone_bucket,
        ));
        let mut two = Vec::new();
        runs.push(pair_pass_lanes::<2, _>(
            j,
            br,
            &mut two,
            pair_bucket,
            lone_bucket,
        ));
        let mut wide = vec![Vec::new(); 1];
        // The AVX2 variant where this CPU can run it, whatever the dispatch picks.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there, checked just above.
            runs.push(unsafe { pair_pass_avx2(j, br, &mut wide[0]) });
        }
        let all_kept = [kept, base, two].into_iter().chain(wide);
        for (p, mut k) in runs.into_iter().zip(all_kept) {
            k.sort_by(f64::total_cmp);
            assert_eq!(p.below, want_below, "{ua} {ub} {:?}", j.kernel);
            assert_eq!(k, want_kept, "{ua} {ub} {:?}", j.kernel);
            assert!(!p.overflow);
            for (r, v) in [(&p.a, a), (&p.b, b)] {
                assert_eq!(r.len(), v.len());
                for k in 0..r.buckets().len() {
                    assert_eq!(r.buckets()[k], Bucket::of(&v[r.range(k)]));
                }
                assert_eq!(r.range(r.buckets().len() - 1).end, v.len());
            }
        }
    }

    #[test]
    fn a_full_bracket_overflows() {
        let a = vec![1.0; 1000];
        let j = Join {
            a: &a,
            ua: 0,
            ga: 1.0,
            b: &a,
            ub: 0,
            gb: 1.0,
            join: f64::max,
            kernel: Kernel::Generic,
        };
        let br = Bracket {
            lo: 1.0,
            hi: 1.0,
            cap: 300,
        };
        let mut kept = Vec::new();
        let p = pair_pass(&j, br, &mut kept);
        assert!(p.overflow);
        assert!(kept.len() < 1000);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The mask search of short stretches answers what the chunked early-exit search
        /// does, for values drawn from a few (so ties are common), with zeros of both
        /// signs, infinities and NaN, and for any pair of bounds, found in the stretch or
        /// not.
        #[test]
        fn min_first_is_first_of(
            picks in proptest::collection::vec(0usize..8, 1..140),
            lo in 0usize..8,
            hi in 0usize..8,
        ) {
            const POOL: [f64; 8] = [0.0, -0.0, 1.0, 2.5, -3.0, f64::INFINITY, f64::NAN, 7.0];
            let v: Vec<f64> = picks.iter().map(|&k| POOL[k]).collect();
            let (min, max) = (POOL[lo], POOL[hi]);
            let want = first_of(&v, min, max).is_none_or(|r| r == min);
            proptest::prop_assert_eq!(min_first(&v, min, max), want);
            let b = Bucket::of(&v);
            proptest::prop_assert_eq!(
                min_first(&v, b.min, b.max),
                first_of(&v, b.min, b.max).is_none_or(|r| r == b.min)
            );
        }

        /// The AVX2 kernels give what the generic four lanes give: the same buckets to the
        /// bit, the same counts below per lane, the same values kept (as a multiset), for
        /// the max join, the sum of rates and one series alone, for values from a few
        /// (ties), zeros of both signs, infinities and NaN, any bracket (also NaN bounds
        /// and an empty one), factors and counts before.
        #[test]
        fn the_avx2_kernels_are_the_generic_pass(
            picks in proptest::collection::vec((0usize..10, 0usize..10), BUCKET),
            lo in 0usize..10,
            hi in 0usize..10,
            (fa, fb) in (0usize..4, 0usize..4),
            before in proptest::array::uniform4(0u64..1_000_000),
            keep in proptest::bool::ANY,
        ) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                const POOL: [f64; 10] =
                    [0.0, -0.0, 1.0, 2.5, -3.0, f64::INFINITY, f64::NAN, 7.0, 1e300, f64::NEG_INFINITY];
                const FACTORS: [f64; 4] = [1.0, 0.125, 8.0 / 3600.0, 1e10];
                let a: [f64; BUCKET] = std::array::from_fn(|i| POOL[picks[i].0]);
                let b: [f64; BUCKET] = std::array::from_fn(|i| POOL[picks[i].1]);
                let br = Bracket { lo: POOL[lo], hi: POOL[hi], cap: 0 };
                let case = Case { a: &a, b: &b, br, before, keep };
                case.pair(Larger)?;
                case.pair(SumOf { fa: FACTORS[fa], fb: FACTORS[fb] })?;
                case.lone(FACTORS[fa])?;
            }
        }
    }

    /// One bucket of each series for [`the_avx2_kernels_are_the_generic_pass`].
    #[cfg(target_arch = "x86_64")]
    struct Case<'c> {
        a: &'c [f64; BUCKET],
        b: &'c [f64; BUCKET],
        br: Bracket,
        before: [u64; 4],
        keep: bool,
    }

    #[cfg(target_arch = "x86_64")]
    impl Case<'_> {
        /// Bits, but any NaN as one: Rust leaves a NaN result's sign and payload open.
        fn bit(v: f64) -> u64 {
            if v.is_nan() {
                f64::NAN.to_bits()
            } else {
                v.to_bits()
            }
        }

        fn bits(x: Bucket) -> (u64, u64, u64) {
            (Self::bit(x.min), Self::bit(x.max), Self::bit(x.sum))
        }

        fn sorted(mut v: Vec<f64>) -> Vec<u64> {
            v.sort_by(f64::total_cmp);
            v.into_iter().map(Self::bit).collect()
        }

        /// Runs `kernel` and `generic` from the same counts, each keeping values when the
        /// case says so, and compares what they give (`bits` of the result), the counts
        /// and the values kept.
        fn compare<T, B: PartialEq + std::fmt::Debug>(
            &self,
            kernel: impl FnOnce(&mut [u64; 4], Option<&mut Vec<f64>>) -> T,
            generic: impl FnOnce(&mut [u64; 4], Option<&mut Vec<f64>>) -> T,
            bits: impl Fn(T) -> B,
        ) -> Result<(), proptest::test_runner::TestCaseError> {
            let (mut below_k, mut below_g) = (self.before, self.before);
            let (mut kept_k, mut kept_g) = (Vec::new(), Vec::new());
            let got = kernel(&mut below_k, self.keep.then_some(&mut kept_k));
            let want = generic(&mut below_g, self.keep.then_some(&mut kept_g));
            proptest::prop_assert_eq!(bits(got), bits(want));
            proptest::prop_assert_eq!(below_k, below_g);
            proptest::prop_assert_eq!(Self::sorted(kept_k), Self::sorted(kept_g));
            Ok(())
        }

        fn pair<V: VectorJoin>(&self, join: V) -> Result<(), proptest::test_runner::TestCaseError> {
            let (a, b, br) = (self.a, self.b, self.br);
            self.compare(
                // SAFETY: the caller checked that the CPU has AVX2.
                |below, kept| unsafe { pair_bucket_avx2(a, b, join, br, below, kept) },
                |below, kept| pair_bucket::<4, _>(a, b, |x, y| join.scalar(x, y), br, below, kept),
                |(x, y)| (Self::bits(x), Self::bits(y)),
            )
        }

        fn lone(&self, g: f64) -> Result<(), proptest::test_runner::TestCaseError> {
            let (a, br) = (self.a, self.br);
            self.compare(
                // SAFETY: the caller checked that the CPU has AVX2.
                |below, kept| unsafe { lone_bucket_avx2(a, g, br, below, kept) },
                |below, kept| lone_bucket::<4>(a, g, br, below, kept),
                Self::bits,
            )
        }
    }
}
