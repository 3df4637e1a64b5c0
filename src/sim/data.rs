//! The simulator's synthetic traffic: a pure function of the target and the time, so tests
//! compute exactly what the server must have sent.
//!
//! The model mimics what a provider records: one rate sample every 10 minutes per direction
//! (`count` = 6 an hour, 144 a day, like the seed's 143-144), shaped by a diurnal cycle (peak
//! in the afternoon UTC), a weekly cycle (quieter weekends), noise per sample, rare spikes
//! (an hour in 500, ×2-×6) and rare missing hours (no row at all, like the seed's missing day).
//!
//! Units: for `avg`, `min` and `max` a value is a rate in **bytes per second** over the
//! 10-minute samples of the period; for `sum` it is **octets per period** (each sample's
//! rate × 600 s, added up). `total` is computed sample by sample as receive + transmit, so its
//! `min`/`max` are those of the sum, and its `avg`/`sum` equal receive + transmit up to
//! rounding. Nothing depends on the simulator's `--seed` (that only drives fault injection):
//! the same account/server/ip always has the same traffic.

use std::f64::consts::PI;

use chrono::{DateTime, Days, NaiveTime, Utc};

use crate::model::{Method, Period, Point, Scope, Target};
use crate::range::DateRange;

/// Seconds between two samples.
pub const SAMPLE_SECONDS: i64 = 600;

const SAMPLES_PER_HOUR: i64 = 3600 / SAMPLE_SECONDS;

/// FNV-1a, then the splitmix64 finaliser: a stable hash (std's is randomised per process).
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// The splitmix64 finaliser: spreads any input over all 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash as a number in [0, 1).
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn target_seed(target: &Target) -> u64 {
    let key = format!("{}\0{}\0{}", target.account, target.server, target.ip);
    hash_bytes(key.as_bytes())
}

const SALT_MISSING: u64 = 0x6d69_7373;
const SALT_SPIKE: u64 = 0x7370_696b;
const SALT_NOISE: u64 = 0x6e6f_6973;
const SALT_BASE: u64 = 0x6261_7365;

fn hour_missing(seed: u64, hour: i64) -> bool {
    unit(mix(seed
        ^ SALT_MISSING
        ^ (hour as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)))
        < 0.004
}

/// The rate (bytes per second) of one direction (0 receive, 1 transmit) at one sample.
fn sample_rate(seed: u64, dir: u64, sample: i64) -> f64 {
    let dseed = mix(seed ^ dir.wrapping_add(1).wrapping_mul(0x9e37_79b9));
    // A host's inbound level, and outbound 2-4x that: most servers serve more than they
    // receive.
    let inbound = 100_000.0 + 900_000.0 * unit(mix(seed ^ SALT_BASE));
    let base = if dir == 0 {
        inbound
    } else {
        inbound * (2.0 + 2.0 * unit(mix(dseed ^ SALT_BASE)))
    };
    let t = sample * SAMPLE_SECONDS;
    let hour_of_day = t.rem_euclid(86_400) as f64 / 3600.0;
    let peak = if dir == 0 { 15.0 } else { 17.0 };
    let diurnal = 1.0 + 0.6 * (2.0 * PI * (hour_of_day - peak) / 24.0).cos();
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    let weekday = (t.div_euclid(86_400) + 3).rem_euclid(7);
    let weekly = if weekday >= 5 { 0.65 } else { 1.0 };
    let noise = 0.8 + 0.4 * unit(mix(dseed ^ SALT_NOISE ^ sample as u64));
    let hour = t.div_euclid(3600);
    let s = unit(mix(dseed
        ^ SALT_SPIKE
        ^ (hour as u64).wrapping_mul(0x1000_0000_01b3)));
    // About one hour in 500 (a day or two a month) bursts to 2-6 times the usual.
    let spike = if s < 0.002 { 2.0 + 2000.0 * s } else { 1.0 };
    base * diurnal * weekly * noise * spike
}

fn scoped_rate(seed: u64, scope: Scope, sample: i64) -> f64 {
    match scope {
        Scope::Receive => sample_rate(seed, 0, sample),
        Scope::Transmit => sample_rate(seed, 1, sample),
        Scope::Total => sample_rate(seed, 0, sample) + sample_rate(seed, 1, sample),
    }
}

/// The data set of `target` for the period that starts at `start` (aligned down to the hour
/// or the UTC day): `(value, count)`, or `None` when every hour of it is missing.
pub fn value(
    target: &Target,
    scope: Scope,
    period: Period,
    method: Method,
    start: DateTime<Utc>,
) -> Option<(f64, u64)> {
    let seed = target_seed(target);
    let step = period.seconds();
    let first_hour = start.timestamp().div_euclid(step) * step / 3600;
    let hours = step / 3600;
    let mut count = 0u64;
    let (mut sum, mut min, mut max) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for hour in first_hour..first_hour + hours {
        if hour_missing(seed, hour) {
            continue;
        }
        for sample in hour * SAMPLES_PER_HOUR..(hour + 1) * SAMPLES_PER_HOUR {
            let r = scoped_rate(seed, scope, sample);
            count += 1;
            sum += r;
            min = min.min(r);
            max = max.max(r);
        }
    }
    if count == 0 {
        return None;
    }
    let v = match method {
        Method::Avg => sum / count as f64,
        Method::Sum => sum * SAMPLE_SECONDS as f64,
        Method::Min => min,
        Method::Max => max,
    };
    Some((v, count))
}

/// Every data set of `range` (whole UTC days, inclusive) that has started by `now`, in order:
/// exactly what the simulator answers for that request.
pub fn series(
    target: &Target,
    scope: Scope,
    period: Period,
    method: Method,
    range: DateRange,
    now: DateTime<Utc>,
) -> Vec<Point> {
    let mut points = Vec::with_capacity(range.sets(period) as usize);
    let mut day = range.start;
    while day <= range.end {
        let midnight = day.and_time(NaiveTime::MIN).and_utc();
        for i in 0..period.sets_per_day() {
            let time = midnight + chrono::Duration::seconds(i * period.seconds());
            if time > now {
                return points;
            }
            if let Some((value, count)) = value(target, scope, period, method, time) {
                points.push(Point {
                    time,
                    value,
                    count: Some(count),
                });
            }
        }
        day = day + Days::new(1);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn target() -> Target {
        Target {
            account: "acme".into(),
            server: "srv1".into(),
            ip: "10.0.0.1".into(),
        }
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap()
    }

    #[test]
    fn deterministic_and_distinct_per_target() {
        let t = target();
        let a = value(&t, Scope::Receive, Period::Hourly, Method::Avg, at(4, 12));
        assert_eq!(
            a,
            value(&t, Scope::Receive, Period::Hourly, Method::Avg, at(4, 12))
        );
        let other = Target {
            ip: "10.0.0.2".into(),
            ..t.clone()
        };
        assert_ne!(
            a,
            value(
                &other,
                Scope::Receive,
                Period::Hourly,
                Method::Avg,
                at(4, 12)
            )
        );
    }

    #[test]
    fn methods_are_consistent() {
        let t = target();
        let hour = (0..24)
            .map(|h| at(5, h))
            .find(|&h| value(&t, Scope::Transmit, Period::Hourly, Method::Avg, h).is_some())
            .unwrap();
        let v = |m| value(&t, Scope::Transmit, Period::Hourly, m, hour).unwrap();
        let (avg, n) = v(Method::Avg);
        assert_eq!(n, 6);
        assert!(v(Method::Min).0 <= avg && avg <= v(Method::Max).0);
        let sum = v(Method::Sum).0;
        assert!((sum - avg * 3600.0).abs() < 1e-6 * sum);
    }

    #[test]
    fn total_is_receive_plus_transmit() {
        let t = target();
        let v = |s| {
            value(&t, s, Period::Daily, Method::Sum, at(6, 0))
                .unwrap()
                .0
        };
        let (rx, tx, total) = (v(Scope::Receive), v(Scope::Transmit), v(Scope::Total));
        assert!((total - (rx + tx)).abs() < 1e-9 * total);
    }

    #[test]
    fn daily_counts_samples_of_present_hours_and_some_hours_are_missing() {
        let t = target();
        let range = DateRange::new(at(1, 0).date_naive(), at(31, 0).date_naive()).unwrap();
        let now = Utc::now();
        let hourly = series(&t, Scope::Receive, Period::Hourly, Method::Avg, range, now);
        let daily = series(&t, Scope::Receive, Period::Daily, Method::Avg, range, now);
        assert!(hourly.len() < 31 * 24, "a month has some missing hours");
        let samples: u64 = hourly.iter().map(|p| p.count.unwrap()).sum();
        assert_eq!(samples, daily.iter().map(|p| p.count.unwrap()).sum::<u64>());
    }

    #[test]
    fn nothing_after_now() {
        let t = target();
        let range = DateRange::new(at(1, 0).date_naive(), at(1, 0).date_naive()).unwrap();
        let pts = series(
            &t,
            Scope::Receive,
            Period::Hourly,
            Method::Max,
            range,
            at(1, 5),
        );
        assert!(pts.iter().all(|p| p.time <= at(1, 5)));
        assert!(pts.len() <= 6);
    }
}
