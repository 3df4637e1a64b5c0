//! `parse_export_json`: never panics; what parses survives export then import (CSV and JSON).
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use trafficgraph::source::file::parse_export_json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = parse_export_json(text) {
        common::check_round_trip(&t);
    }
});
