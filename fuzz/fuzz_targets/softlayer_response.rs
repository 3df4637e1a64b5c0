//! SoftLayer answers: `interpret` (status + body -> JSON value or error) then, for what it
//! accepts, `graph_image` (base64 `graphImage`, title). Never panics; errors are one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trafficgraph::provider::softlayer::{graph_image, interpret};

const STATUSES: [u16; 8] = [200, 201, 204, 400, 401, 403, 500, 502];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let status = STATUSES[first as usize % STATUSES.len()];
    let url = "https://api.softlayer.com/rest/v3.1/S/1/m.json";
    match interpret(url, "S", "m", status, body) {
        Ok(value) => {
            if let Err(e) = graph_image(url, &value) {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
        }
    }
});
