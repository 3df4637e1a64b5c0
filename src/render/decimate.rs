//! From samples to pixel vertices.
//!
//! Each sample covers its period `[t, t + step)`; a run of consecutive samples becomes a
//! path through the middles of the periods, with flat half-period caps at both ends, so a
//! lone sample is still one step wide. Samples further apart than the series' step start a
//! new run: a gap in the data is a gap in the drawing.

use crate::model::Series;

/// One vertex in backend pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub x: i32,
    pub y: i32,
}

/// The runs of `series` as pixel vertices. `map(t, rate)` is the chart's own mapping from
/// (UTC seconds, display rate) to backend pixels.
pub fn runs(
    series: &Series,
    factor: f64,
    map: &impl Fn(f64, f64) -> (i32, i32),
) -> Vec<Vec<Sample>> {
    let step = series.step_seconds();
    let half = step as f64 / 2.0;
    let mut out: Vec<Vec<Sample>> = Vec::new();
    let mut run: Vec<Sample> = Vec::new();
    // Time and rate of the run's latest sample.
    let mut last: Option<(i64, f64)> = None;
    for p in &series.points {
        let t = p.time.timestamp();
        let v = p.value * factor;
        if let Some((lt, lv)) = last {
            if !v.is_finite() || t - lt > step {
                push(&mut run, map((lt + step) as f64, lv));
                out.push(std::mem::take(&mut run));
                last = None;
            }
        }
        if !v.is_finite() {
            continue;
        }
        if last.is_none() {
            push(&mut run, map(t as f64, v));
        }
        push(&mut run, map(t as f64 + half, v));
        last = Some((t, v));
    }
    if let Some((lt, lv)) = last {
        push(&mut run, map((lt + step) as f64, lv));
        out.push(run);
    }
    out
}

fn push(run: &mut Vec<Sample>, (x, y): (i32, i32)) {
    if run.last() != Some(&Sample { x, y }) {
        run.push(Sample { x, y });
    }
}
