//! Whole-graph rendering speed: synthetic hourly traffic (diurnal and weekly cycles, noise,
//! spikes) at 500, 8 760, 100 000 and 1 000 000 points, drawn and encoded at the default
//! 827x273. `cargo bench --bench render`
//!
//! - `graph`: the whole job from the parsed series, as `trafficgraph bench` times it
//!   (figures and percentile from the raw samples, decimation, drawing, palette PNG);
//! - `stats`: the figures alone;
//! - `png`: drawing and encoding; `rgb`: drawing alone, so encoding is `png` - `rgb`;
//! - `read`: one streaming read of every sample, eight sums a series and nothing else:
//!   the memory floor of `stats` (whose pass reads each sample once);
//! - `pass_in_cache`: the statistics pass over 32 768 pairs held in the L2 cache, its
//!   compute floor.

use trafficgraph::model::{Scope, Traffic};
use trafficgraph::render::sample_data::{hourly, Spec};
use trafficgraph::render::{render_png, render_rgb, RenderOptions};
use trafficgraph::stats::{self, Stats};

fn main() {
    divan::main();
}

fn input(points: usize) -> (Traffic, Stats, RenderOptions) {
    let traffic = hourly(&Spec {
        points,
        ..Spec::default()
    });
    let opts = RenderOptions {
        title: Some(format!("Bench: {points} hourly points")),
        ..RenderOptions::default()
    };
    let stats = stats::compute(&traffic, &opts.stats);
    (traffic, stats, opts)
}

const POINTS: [usize; 4] = [500, 8_760, 100_000, 1_000_000];

/// Figures, drawing and encoding.
#[divan::bench(args = POINTS)]
fn graph(bencher: divan::Bencher, points: usize) {
    let (traffic, _, opts) = input(points);
    bencher.bench(|| {
        let stats = stats::compute(&traffic, &opts.stats);
        render_png(&traffic, &stats, &opts).unwrap()
    });
}

/// Figures alone.
#[divan::bench(args = POINTS)]
fn stats(bencher: divan::Bencher, points: usize) {
    let (traffic, _, opts) = input(points);
    bencher.bench(|| stats::compute(&traffic, &opts.stats));
}

/// Draw and encode, as `trafficgraph render` does after reading the input.
#[divan::bench(args = POINTS)]
fn png(bencher: divan::Bencher, points: usize) {
    let (traffic, stats, opts) = input(points);
    bencher.bench(|| render_png(&traffic, &stats, &opts).unwrap());
}

/// Drawing alone, without PNG encoding.
#[divan::bench(args = POINTS)]
fn rgb(bencher: divan::Bencher, points: usize) {
    let (traffic, stats, opts) = input(points);
    bencher.bench(|| render_rgb(&traffic, &stats, &opts).unwrap());
}

/// One read of receive's and transmit's samples: the floor of the statistics pass.
#[divan::bench(args = POINTS)]
fn read(bencher: divan::Bencher, points: usize) {
    let (traffic, _, _) = input(points);
    let series: Vec<&[f64]> = [Scope::Receive, Scope::Transmit]
        .iter()
        .filter_map(|&s| traffic.get(s).map(|s| s.values()))
        .collect();
    assert_eq!(series.len(), 2, "both directions");
    bencher.bench(|| {
        series
            .iter()
            .map(|v| {
                v.chunks_exact(8).fold([0.0f64; 8], |mut acc, c| {
                    for k in 0..8 {
                        acc[k] += c[k];
                    }
                    acc
                })
            })
            .collect::<Vec<_>>()
    });
}

/// The statistics pass alone over 32 768 sample pairs of the 1M series (512 KB, in the L2
/// cache): its cost without waiting on memory. Times 30.5 gives a million points' pass at
/// its compute floor, to set beside `read` and `stats` at 1M.
#[divan::bench]
fn pass_in_cache(bencher: divan::Bencher) {
    use trafficgraph::rollup::{max_join, pair_pass, Bracket};
    let (traffic, _, _) = input(1_000_000);
    let n = 32_768;
    let rx = &traffic.get(Scope::Receive).expect("receive").values()[..n];
    let tx = &traffic.get(Scope::Transmit).expect("transmit").values()[..n];
    let mut joined: Vec<f64> = rx.iter().zip(tx).map(|(&x, &y)| x.max(y)).collect();
    joined.sort_by(f64::total_cmp);
    // The bracket a 95th percentile gets: about 1.7% of the values inside.
    let br = Bracket {
        lo: joined[n * 94 / 100],
        hi: joined[n * 957 / 1000],
        cap: n,
    };
    let mut kept = Vec::with_capacity(n);
    bencher.bench_local(|| {
        kept.clear();
        pair_pass(&max_join((rx, 0), (tx, 0)), br, &mut kept).below
    });
}
