//! `trafficgraph bench`: renders the same graph over and over in-process and reports how
//! fast, so the tool can be compared with other renderers without process start-up and
//! input parsing in the figure.
//!
//! Each graph is the whole job after parsing: figures from the raw samples, decimation,
//! drawing and PNG encoding. With `--threads N`, N rayon workers render concurrently and
//! graphs/s is graphs completed over wall time. Peak memory is the process's high-water
//! mark (`VmHWM`), which includes the parsed input.
//!
//! `TRAFFICGRAPH_SIMD=avx2` (or `baseline`) caps the statistics pass's vector width, to
//! measure the AVX2 path on an AVX-512 machine; the report names the path taken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Series, Traffic};
use crate::render::{self, RenderError, RenderOptions};
use crate::stats;

/// How long to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// Render for about this many seconds of wall time (at least 0.01).
    Seconds(f64),
    /// Render this many graphs (at least 1).
    Graphs(usize),
}

/// The measured figures; `--json` prints them as the last stdout line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BenchReport {
    pub graphs: usize,
    pub threads: usize,
    pub seconds: f64,
    pub graphs_per_s: f64,
    pub ms_median: f64,
    pub ms_p95: f64,
    pub png_bytes: usize,
    pub points: usize,
    /// `VmHWM` in KiB, 0 where /proc is unavailable.
    pub peak_rss_kb: u64,
    /// The statistics pass's vector path: `Avx512`, `Avx2` or `Baseline` (the widest the
    /// CPU has, capped by `TRAFFICGRAPH_SIMD=avx2|baseline`; see [`crate::rollup::simd`]).
    pub simd: String,
}

/// One full graph from parsed series.
fn one_graph(traffic: &Traffic, opts: &RenderOptions) -> Result<Vec<u8>, RenderError> {
    let stats = stats::compute(traffic, &opts.stats);
    render::render_png(traffic, &stats, opts)
}

/// Renders until the budget is spent; returns the report and the last PNG.
pub(crate) fn run(
    traffic: &Traffic,
    opts: &RenderOptions,
    budget: Budget,
    threads: usize,
) -> Result<(BenchReport, Vec<u8>), RenderError> {
    let threads = threads.max(1);
    let png = one_graph(traffic, opts)?; // warm-up: font, glyph cache, allocator
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RenderError::Draw(format!("thread pool: {e}")))?;
    let started = AtomicUsize::new(0);
    let t0 = Instant::now();
    let deadline = match budget {
        Budget::Seconds(s) => Some(t0 + Duration::from_secs_f64(s.max(0.01))),
        Budget::Graphs(_) => None,
    };
    let wanted = match budget {
        Budget::Graphs(n) => n.max(1),
        Budget::Seconds(_) => usize::MAX,
    };
    let per_thread: Vec<Result<Vec<f64>, RenderError>> = pool.install(|| {
        (0..threads)
            .into_par_iter()
            .map(|_| {
                let mut times = Vec::new();
                while started.fetch_add(1, Ordering::Relaxed) < wanted
                    && deadline.is_none_or(|d| Instant::now() < d)
                {
                    let t = Instant::now();
                    one_graph(traffic, opts)?;
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
                Ok(times)
            })
            .collect()
    });
    let seconds = t0.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for t in per_thread {
        times.extend(t?);
    }
    times.sort_by(f64::total_cmp);
    let report = BenchReport {
        graphs: times.len(),
        threads,
        seconds,
        graphs_per_s: times.len() as f64 / seconds,
        ms_median: quantile(&times, 0.5),
        ms_p95: quantile(&times, 0.95),
        png_bytes: png.len(),
        points: traffic.series.iter().map(Series::len).sum(),
        peak_rss_kb: peak_rss_kb(),
        simd: format!("{:?}", crate::rollup::simd()),
    };
    Ok((report, png))
}

/// Nearest-rank quantile of sorted `v` (0 when empty).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = (q * v.len() as f64).ceil().clamp(1.0, v.len() as f64) as usize;
    v[rank - 1]
}

/// `VmHWM` from /proc/self/status, in KiB.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

impl BenchReport {
    /// Human-readable lines.
    pub fn summary(&self) -> String {
        format!(
            "{} graphs of {} points in {:.2} s on {} thread(s): {:.1} graphs/s\n\
             per graph: median {:.2} ms, p95 {:.2} ms; PNG {} bytes; peak RSS {} KiB; {}",
            self.graphs,
            self.points,
            self.seconds,
            self.threads,
            self.graphs_per_s,
            self.ms_median,
            self.ms_p95,
            self.png_bytes,
            self.peak_rss_kb,
            self.simd
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::sample_data::{hourly, Spec};

    #[test]
    fn renders_the_asked_number_of_graphs_on_several_threads() {
        let traffic = hourly(&Spec {
            points: 200,
            ..Spec::default()
        });
        let opts = RenderOptions::default();
        let (r, png) = run(&traffic, &opts, Budget::Graphs(5), 2).unwrap();
        assert_eq!(r.graphs, 5);
        assert_eq!(r.threads, 2);
        assert_eq!(r.png_bytes, png.len());
        assert!(png.starts_with(b"\x89PNG"));
        assert!(r.ms_median > 0.0 && r.ms_p95 >= r.ms_median);
        assert_eq!(r.points, 400);
        assert!(r.peak_rss_kb > 0);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 10.0);
        assert_eq!(quantile(&v, 0.95), 19.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
