//! The command line: the time-zone parser on any text, and the whole clap parser on any
//! argv (NUL-separated, not necessarily UTF-8) followed by `into_command`. Never panics.
//! The flags live in the binary (src/bin/trafficgraph/flags.rs); the target compiles that
//! module as its own, so it fuzzes the very code the binary runs.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/bin/trafficgraph/flags.rs"]
mod flags;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(zone) = trafficgraph::zone::Zone::parse(text) {
            let offset = zone.fixed_at(0).local_minus_utc();
            assert!(offset.abs() <= 14 * 3600 + 59 * 60);
        }
    }
    let mut argv = vec![OsString::from("trafficgraph")];
    argv.extend(
        data.split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec())),
    );
    if let Ok(cli) = flags::Cli::try_parse_from(argv) {
        let _ = cli.into_command();
    }
});
