//! `provider::image::finish`: whatever bytes a provider sends, a PNG is decoded within
//! bounded memory, resized to the size asked for, and re-encoded -- or an error. Never
//! panics; a success is a PNG of the requested size with the `Source` chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trafficgraph::provider::image::{finish, text_chunks};
use trafficgraph::provider::ProviderKind;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    // Small requested sizes keep the fuzzer fast; the big ones have their own unit tests.
    let want = match sel & 3 {
        0 => None,
        1 => Some((16, 8)),
        2 => Some((1, 1)),
        _ => Some((u32::from(sel >> 2) + 1, 3)),
    };
    match finish(ProviderKind::SoftLayer, bytes, want, Some("t\u{e9}".into())) {
        Ok(img) => {
            if let Some((w, h)) = want {
                assert_eq!((img.width, img.height), (w, h));
            }
            let chunks = text_chunks(&img.png).expect("our own PNG decodes");
            assert!(chunks.contains(&("Source".into(), "provider:softlayer".into())));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
        }
    }
});
