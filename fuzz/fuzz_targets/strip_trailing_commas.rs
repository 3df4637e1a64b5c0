//! `strip_trailing_commas`: never panics, keeps the length (columns of later errors stay
//! put), and never changes the meaning of a document strict JSON already accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trafficgraph::source::file::strip_trailing_commas;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let stripped = strip_trailing_commas(text);
    assert_eq!(stripped.len(), text.len(), "length changed");
    if let Ok(original) = serde_json::from_str::<Value>(text) {
        let after: Value = serde_json::from_str(&stripped)
            .unwrap_or_else(|e| panic!("valid JSON no longer parses after stripping: {e}"));
        assert_eq!(
            original, after,
            "stripping changed a valid document's meaning"
        );
    }
});
