//! `RangeName::from_str` and `resolve` with arbitrary names, "today" anywhere in chrono's
//! range, any billing day and any dates: a range (start <= end) or an error, never a panic.
#![no_main]

use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::fuzz_target;
use trafficgraph::report::ranges::{resolve, RangeName, RangeParams};

const NAMES: [RangeName; 9] = [
    RangeName::Day,
    RangeName::Week,
    RangeName::ThirtyDay,
    RangeName::PreviousCalendarMonth,
    RangeName::CurrentCalendarMonth,
    RangeName::CurrentBillingCycle,
    RangeName::PreviousBillingCycle,
    RangeName::SpecifiedDay,
    RangeName::SpecifiedRange,
];

/// A date anywhere chrono can hold, biased towards the edges and ordinary years.
fn date(b: [u8; 4]) -> Option<NaiveDate> {
    let raw = i32::from_le_bytes(b);
    let min = NaiveDate::MIN.num_days_from_ce();
    let max = NaiveDate::MAX.num_days_from_ce();
    let days = match raw & 3 {
        0 => min + (raw >> 2).rem_euclid(400),
        1 => max - (raw >> 2).rem_euclid(400),
        2 => 730_000 + (raw >> 2).rem_euclid(20_000),
        _ => min + (raw >> 2).rem_euclid(max - min + 1),
    };
    NaiveDate::from_num_days_from_ce_opt(days)
}

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let [sel, flags] = take::<2>(&mut data);
    let today = date(take(&mut data)).expect("in range");
    let billing = u32::from_le_bytes(take(&mut data));
    let d1 = date(take(&mut data));
    let d2 = date(take(&mut data));
    let name = match std::str::from_utf8(data).ok().and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None => NAMES[sel as usize % NAMES.len()],
    };
    let params = RangeParams {
        billing_day: (flags & 1 != 0).then_some(if flags & 2 != 0 {
            billing % 40
        } else {
            billing
        }),
        date: (flags & 4 != 0).then_some(d1).flatten(),
        end: (flags & 8 != 0).then_some(d2).flatten(),
    };
    if let Ok(r) = resolve(name, today, &params) {
        assert!(r.start <= r.end, "{name:?} {today} {params:?} -> {r}");
    }
});
