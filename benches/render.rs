//! Whole-graph rendering speed: synthetic hourly traffic (diurnal and weekly cycles, noise,
//! spikes) drawn and encoded at the default 827x273. `cargo bench --bench render`

use trafficgraph::model::Traffic;
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

/// Draw and encode, as `trafficgraph render` does after reading the input.
#[divan::bench(args = [500, 8_760])]
fn png(bencher: divan::Bencher, points: usize) {
    let (traffic, stats, opts) = input(points);
    bencher.bench(|| render_png(&traffic, &stats, &opts).unwrap());
}

/// Drawing alone, without PNG encoding.
#[divan::bench(args = [500, 8_760])]
fn rgb(bencher: divan::Bencher, points: usize) {
    let (traffic, stats, opts) = input(points);
    bencher.bench(|| render_rgb(&traffic, &stats, &opts).unwrap());
}
