//! `Config::parse`: any text gives a config or a one-line error; never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trafficgraph::report::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text) {
        Ok(c) => assert!(!c.targets.is_empty()),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
        }
    }
});
