//! The command line: `parse_timezone` on any text, and the whole clap parser on any argv
//! (NUL-separated, not necessarily UTF-8) followed by `into_command`. Never panics.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use trafficgraph::cli::{parse_timezone, Cli};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(tz) = parse_timezone(text) {
            assert!(tz.local_minus_utc().abs() <= 14 * 3600 + 59 * 60);
        }
    }
    let mut argv = vec![OsString::from("trafficgraph")];
    argv.extend(
        data.split(|&b| b == 0)
            .map(|a| OsString::from_vec(a.to_vec())),
    );
    if let Ok(cli) = Cli::try_parse_from(argv) {
        let _ = cli.into_command();
    }
});
