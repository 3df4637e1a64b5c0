//! `parse_hostway_csv`: never panics; what parses and passes the checks survives export then import.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use trafficgraph::model::{Scope, Series, Traffic};
use trafficgraph::source::file::parse_hostway_csv;
use trafficgraph::validate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rows) = parse_hostway_csv(text) else {
        return;
    };
    if let Ok(checked) = validate::check(&rows, None) {
        for p in &checked.points {
            assert!(validate::check_value(p.value).is_ok());
        }
        let t = Traffic::new(vec![Series::new(Scope::Transmit, checked.points)]);
        common::check_round_trip(&t);
    }
});
