//! CloudWatch answers: `interpret` (status, content type, body -> PNG bytes or error) and
//! `xml_text` with arbitrary tags. Never panics; errors are one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trafficgraph::provider::cloudwatch::{interpret, xml_text};

const STATUSES: [u16; 6] = [200, 400, 401, 403, 500, 503];
const TYPES: [&str; 4] = ["text/xml", "image/png", "text/html", ""];
const TAGS: [&str; 5] = ["MetricWidgetImage", "Code", "Message", "Error", "a"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let status = STATUSES[(first & 7) as usize % STATUSES.len()];
    let ctype = TYPES[((first >> 3) & 3) as usize];
    match interpret(
        "https://monitoring.us-east-1.amazonaws.com/",
        status,
        ctype,
        body,
    ) {
        Ok(_) => {}
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains('\n') || msg.contains("HTTP"),
                "multi-line error: {msg:?}"
            );
        }
    }
    let text = String::from_utf8_lossy(body);
    let tag = TAGS[(first >> 5) as usize % TAGS.len()];
    let _ = xml_text(&text, tag);
    // An arbitrary tag taken from the input itself.
    if let Some((tag, rest)) = text.split_once('\u{0}') {
        if !tag.is_empty() {
            let _ = xml_text(rest, tag);
        }
    }
});
