//! `parse_hostway_csv`: never panics; what parses survives export then import.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use trafficgraph::model::{Scope, Series, Traffic};
use trafficgraph::source::file::parse_hostway_csv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(points) = parse_hostway_csv(text) {
        for p in &points {
            assert!(p.value.is_finite());
        }
        let t = Traffic::new(vec![Series::new(Scope::Transmit, points)]);
        common::check_round_trip(&t);
    }
});
