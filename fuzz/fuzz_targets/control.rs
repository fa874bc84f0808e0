//! Control socket requests: decoding never panics, and every request that decodes
//! encodes back to one that decodes equal. Run: `cargo +nightly fuzz run control`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlb_core::control::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<Request>(data) {
        let again = serde_json::to_string(&request).expect("a request encodes");
        assert_eq!(serde_json::from_str::<Request>(&again).ok(), Some(request));
    }
});
