//! `parse_time`: never panics; a parsed time is written by the exporter (`iso`) in a form
//! `parse_time` reads back to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trafficgraph::export::iso;
use trafficgraph::source::file::parse_time;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(t) = parse_time(text) {
        let written = iso(t);
        let back = parse_time(&written).unwrap_or_else(|| {
            panic!("{text:?} parsed to {t:?}, written {written:?}, which does not parse")
        });
        assert_eq!(back, t, "{text:?} -> {written:?}");
    }
});
