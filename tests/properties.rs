//! Property tests: range splitting covers any range exactly, with no overlap and no chunk
//! over the limit; merging chunks in any order gives the same series; export then import is
//! the identity; statistics do not depend on the order the samples arrived in; a stretch's
//! figures from a rollup are those of a scan; any answer the checks accept gives finite
//! figures equal to a straightforward recomputation.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use trafficgraph::export::{CsvExporter, Exporter, JsonExporter};
use trafficgraph::model::{Period, Point, Scope, Series, Traffic};
use trafficgraph::range::{split, DateRange};
use trafficgraph::rollup::{pair_pass, Bracket, Figures, Join};
use trafficgraph::source::file::{parse_export_csv, parse_export_json};
use trafficgraph::stats::{compute, PercentileOf, StatsOptions};
use trafficgraph::units::{DisplayUnit, ValueUnit};
use trafficgraph::validate::{self, Expect, Row};

/// A value the checks accept, as providers send them: mostly ordinary rates, some extremes
/// (the smallest subnormal, the largest value accepted).
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..1e10f64,
        0.0..=validate::MAX_VALUE,
        Just(0.0),
        Just(f64::from_bits(1)),
        Just(validate::MAX_VALUE),
        Just(344_130.300_699_3),
    ]
}

/// Any value a provider might send; with `bad` weight, ones the checks refuse.
fn wire_value(bad: u32) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        200 => value().prop_map(Some),
        10 => Just(None),
        bad => any::<f64>().prop_map(Some),
    ]
}

/// The rows of an answer for 2015-05-01..2015-05-02 (hourly): mostly inside and on the
/// hour; with `bad` weight, some outside or off the grid; some repeated.
fn wire_rows(bad: u32) -> impl Strategy<Value = Vec<Row>> {
    let t0 = 1_430_438_400i64; // 2015-05-01 00:00:00 UTC
    prop::collection::vec(
        (
            prop_oneof![
                200 => (0i64..48).prop_map(|h| h * 3600),
                bad => (-100i64..100).prop_map(|h| h * 3600),
                bad => 0i64..172_800,
            ],
            wire_value(bad),
            prop::option::of(0u64..1000),
            any::<bool>(),
        ),
        0..80,
    )
    .prop_map(move |cells| {
        let mut rows: Vec<Row> = Vec::new();
        for (offset, value, count, repeat) in cells {
            let taken = rows.iter().any(|r| r.time.timestamp() == t0 + offset);
            if bad == 0 && taken {
                continue; // a clean answer: no hour twice with other values
            }
            let row = Row {
                time: chrono::DateTime::from_timestamp(t0 + offset, 0).unwrap(),
                value,
                count,
            };
            rows.push(row);
            if repeat {
                rows.push(row);
            }
        }
        rows
    })
}

fn value_unit() -> impl Strategy<Value = ValueUnit> {
    prop_oneof![
        Just(ValueUnit::BitsPerSecond),
        Just(ValueUnit::BytesPerSecond),
        Just(ValueUnit::OctetsPerPeriod),
        Just(ValueUnit::BitsPerPeriod),
    ]
}

/// `a` equals `b` up to the rounding of summing and scaling in another order (relative,
/// or absolute among subnormals, where one more rounding step can reach zero).
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-300
}

/// An hourly series with random gaps and optional counts.
fn series(scope: Scope) -> impl Strategy<Value = Series> {
    prop::collection::vec(
        (any::<bool>(), value(), prop::option::of(0u64..1000)),
        1..120,
    )
    .prop_map(move |cells| {
        let t0 = 1_430_438_400i64;
        let points = cells
            .into_iter()
            .enumerate()
            .filter(|(_, (present, _, _))| *present)
            .map(|(i, (_, value, count))| Point {
                time: chrono::DateTime::from_timestamp(t0 + i as i64 * 3600, 0).unwrap(),
                value,
                count,
            })
            .collect();
        Series::new(scope, points)
    })
}

fn traffic() -> impl Strategy<Value = Traffic> {
    (series(Scope::Receive), series(Scope::Transmit))
        .prop_filter("some data", |(a, b)| !a.is_empty() || !b.is_empty())
        .prop_map(|(a, b)| Traffic::new([a, b].into_iter().filter(|s| !s.is_empty()).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn split_covers_the_range_exactly_under_the_limit(
        start in 0u64..40_000,
        len in 0u64..4_000,
        daily in any::<bool>(),
        limit in 1u32..2_000,
    ) {
        let first = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + Days::new(start);
        let range = DateRange::new(first, first + Days::new(len)).unwrap();
        let period = if daily { Period::Daily } else { Period::Hourly };
        let chunks = split(range, period, limit);
        prop_assert_eq!(chunks.first().unwrap().start, range.start);
        prop_assert_eq!(chunks.last().unwrap().end, range.end);
        for pair in chunks.windows(2) {
            // Consecutive and disjoint: each starts the day after the previous ends.
            prop_assert_eq!(pair[0].end + Days::new(1), pair[1].start);
        }
        let per_day = period.sets_per_day() as u64;
        for c in &chunks {
            prop_assert!(c.start <= c.end);
            // At most `limit` sets, unless one day alone is over it (then day by day).
            prop_assert!(c.sets(period) <= u64::from(limit).max(per_day));
        }
        let days: u64 = chunks.iter().map(|c| c.days()).sum();
        prop_assert_eq!(days, range.days());
    }

    #[test]
    fn merging_chunks_in_any_order_gives_the_same_series(
        t in traffic(),
        cuts in prop::collection::vec(0usize..120, 0..6),
        seed in any::<u64>(),
    ) {
        for whole in &t.series {
            // Cut the series into chunks that overlap by one point, as chunk edges do.
            let n = whole.len();
            let points = whole.to_points();
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (n + 1)).collect();
            bounds.extend([0, n]);
            bounds.sort_unstable();
            let mut chunks: Vec<Series> = bounds
                .windows(2)
                .map(|w| {
                    let hi = (w[1] + 1).min(n);
                    Series::new(whole.scope, points[w[0]..hi].to_vec())
                })
                .collect();
            let k = chunks.len();
            for i in (1..k).rev() {
                chunks.swap(i, (seed.rotate_left(i as u32) % (i as u64 + 1)) as usize);
            }
            let mut merged = Traffic::default();
            for c in chunks {
                merged.merge_series(c);
            }
            let got: Vec<Point> = merged.series.iter().flat_map(Series::to_points).collect();
            prop_assert_eq!(&got, &points);
        }
    }

    #[test]
    fn csv_export_then_import_is_identity(t in traffic()) {
        let bytes = CsvExporter.export(&t);
        let back = parse_export_csv(std::str::from_utf8(&bytes).unwrap()).unwrap();
        prop_assert_eq!(back.series.len(), t.series.len());
        for (a, b) in back.series.iter().zip(&t.series) {
            prop_assert_eq!(a.to_points(), b.to_points());
        }
        prop_assert_eq!(CsvExporter.export(&back), bytes);
    }

    #[test]
    fn json_export_then_import_is_identity(t in traffic()) {
        let bytes = JsonExporter.export(&t);
        let back = parse_export_json(std::str::from_utf8(&bytes).unwrap()).unwrap();
        for (a, b) in back.series.iter().zip(&t.series) {
            prop_assert_eq!(a.to_points(), b.to_points());
        }
    }

    #[test]
    fn statistics_ignore_input_order(t in traffic(), seed in any::<u64>(), p in 1.0..100.0f64) {
        let opts = StatsOptions {
            value_unit: ValueUnit::BitsPerSecond,
            unit: DisplayUnit::Bits,
            percentile: Some(p),
            percentile_of: PercentileOf::Max,
        };
        let mut shuffled = t.clone();
        for s in &mut shuffled.series {
            // A deterministic shuffle; Series::normalize restores time order.
            let mut points = s.to_points();
            let n = points.len();
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(i as u64 + 1).rotate_left(17) % (i as u64 + 1)) as usize;
                points.swap(i, j);
            }
            let mut out = Series::empty(s.scope);
            out.extend(points);
            out.normalize();
            *s = out;
        }
        let a = compute(&t, &opts);
        let b = compute(&shuffled, &opts);
        prop_assert_eq!(a.percentile.map(|x| x.value), b.percentile.map(|x| x.value));
        for (x, y) in a.series.iter().zip(&b.series) {
            prop_assert_eq!((x.max, x.min, x.last, x.samples), (y.max, y.min, y.last, y.samples));
        }
    }

    #[test]
    fn any_answer_the_checks_accept_gives_finite_figures_equal_to_a_recomputation(
        rows in prop_oneof![wire_rows(0), wire_rows(1), wire_rows(10)],
        receive_only in any::<bool>(),
        unit in value_unit(),
        bytes in any::<bool>(),
        p in 1.0..=100.0f64,
    ) {
        let day = NaiveDate::from_ymd_opt(2015, 5, 1).unwrap();
        let expect = Expect {
            range: DateRange::new(day, day + Days::new(1)).unwrap(),
            step: 3600,
            lenient: false,
        };
        let Ok(checked) = validate::check(&rows, Some(&expect)) else {
            return Ok(());
        };
        // What passed obeys every rule.
        let (lo, hi) = (1_430_438_400i64, 1_430_438_400 + 2 * 86_400);
        for w in checked.points.windows(2) {
            prop_assert!(w[0].time < w[1].time);
        }
        for pt in &checked.points {
            let t = pt.time.timestamp();
            prop_assert!(t >= lo && t < hi && t % 3600 == 0);
            prop_assert!(validate::check_value(pt.value).is_ok());
        }
        prop_assume!(!checked.points.is_empty());
        let mut series = Series::new(Scope::Receive, checked.points.clone());
        series.origin.period = Some(Period::Hourly);
        let mut list = vec![series.clone()];
        if !receive_only {
            let mut tx = series.clone();
            tx.scope = Scope::Transmit;
            list.push(tx);
        }
        let t = Traffic::new(list);
        let opts = StatsOptions {
            value_unit: unit,
            unit: if bytes { DisplayUnit::Bytes } else { DisplayUnit::Bits },
            percentile: Some(p),
            percentile_of: PercentileOf::Max,
        };
        let stats = compute(&t, &opts);
        let f = unit.bytes_per_second_factor(3600) * opts.unit.from_bytes_per_second();
        let values: Vec<f64> = checked.points.iter().map(|pt| pt.value).collect();
        let max = values.iter().copied().fold(0.0f64, f64::max);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let sum: f64 = values.iter().sum();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        for s in &stats.series {
            for x in [s.max, s.min, s.avg, s.last, s.total_bytes, s.coverage] {
                prop_assert!(x.is_finite(), "{:?}", s);
            }
            prop_assert_eq!(s.samples, values.len());
            prop_assert_eq!(s.max, max * f);
            prop_assert_eq!(s.min, min * f);
            prop_assert_eq!(s.last, values[values.len() - 1] * f);
            prop_assert!(close(s.avg, sum / values.len() as f64 * f), "{} {}", s.avg, sum);
            let total = sum * unit.bytes_per_second_factor(3600) * 3600.0;
            prop_assert!(close(s.total_bytes, total), "{} vs {}", s.total_bytes, total);
        }
        let pct = stats.percentile.expect("a percentile");
        prop_assert!(pct.value.is_finite());
        prop_assert_eq!(pct.value, sorted[rank - 1] * f);
    }

    #[test]
    fn rollup_figures_equal_a_scan_of_the_stretch(
        values in prop::collection::vec(-40i64..40, 1..2_000),
        off in 0usize..128,
        ends in prop::collection::vec((0usize..2_000, 0usize..2_000), 1..24),
    ) {
        // Few distinct values: ties for the minimum and maximum across buckets.
        let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
        let lone = Join::new((&v, off), (&[], 0), (1.0, 1.0), |x: f64, _| x);
        let nothing = Bracket { lo: f64::NAN, hi: f64::NAN, cap: 0 };
        let r = pair_pass(&lone, nothing, &mut Vec::new()).a;
        for (a, b) in ends {
            let (s, e) = (a.min(b) % v.len(), a.max(b) % v.len() + 1);
            if s < e {
                prop_assert_eq!(r.figures(&v, s..e), Figures::of(&v[s..e]), "{}..{}", s, e);
            }
        }
    }
}
