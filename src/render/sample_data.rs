//! Deterministic synthetic traffic for tests, benches and the README picture: hourly
//! receive/transmit in bytes per second with a diurnal and weekly cycle, noise and rare
//! spikes. Same arguments, same data, on every machine.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::model::{Origin, Period, Point, Scope, Series, Traffic};

/// A small xorshift generator: enough for noise, and stable across platforms.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Time of the first hourly sample (UTC).
    pub start: DateTime<Utc>,
    /// Hours generated (those in `gap` are then left out).
    pub points: usize,
    /// Mean receive rate in bits per second.
    pub mean_bps: f64,
    /// Hours (index range) left out of both series.
    pub gap: Option<std::ops::Range<usize>>,
    /// Rare random spikes on receive (about one in 150 hours).
    pub spikes: bool,
    /// Seed of the noise: the same spec gives the same series.
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            start: Utc.with_ymd_and_hms(2015, 5, 1, 0, 0, 0).unwrap(),
            points: 720,
            mean_bps: 300e6,
            gap: None,
            spikes: true,
            seed: 42,
        }
    }
}

/// Receive and transmit series (bytes per second, hourly) as `spec` says.
pub fn hourly(spec: &Spec) -> Traffic {
    let mut rng = Rng(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut rx = Vec::with_capacity(spec.points);
    let mut tx = Vec::with_capacity(spec.points);
    for i in 0..spec.points {
        let (a, b, c) = (rng.next_f64(), rng.next_f64(), rng.next_f64());
        if spec.gap.as_ref().is_some_and(|g| g.contains(&i)) {
            continue;
        }
        let time = spec.start + Duration::hours(i as i64);
        let hour = (i % 24) as f64;
        let day = (i / 24) % 7;
        let diurnal = 0.6 + 0.4 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos();
        let weekly = if day >= 5 { 0.7 } else { 1.0 };
        let spike = if spec.spikes && a < 1.0 / 150.0 {
            2.5
        } else {
            1.0
        };
        let r = spec.mean_bps * diurnal * weekly * (0.9 + 0.2 * b) * spike;
        let t = spec.mean_bps * 0.45 * diurnal * weekly * (0.85 + 0.3 * c);
        rx.push(point(time, r / 8.0));
        tx.push(point(time, t / 8.0));
    }
    Traffic::new(vec![
        series(Scope::Receive, rx),
        series(Scope::Transmit, tx),
    ])
}

fn point(time: DateTime<Utc>, value: f64) -> Point {
    Point {
        time,
        value: value.round(),
        count: None,
    }
}

fn series(scope: Scope, points: Vec<Point>) -> Series {
    let mut s = Series::new(scope, points);
    s.origin = Origin {
        period: Some(Period::Hourly),
        ..Origin::default()
    };
    s
}
