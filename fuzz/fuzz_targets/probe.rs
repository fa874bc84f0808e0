//! Path MTU probe decoding never panics, whatever the bytes and the length on the wire
//! claimed, and a probe encoded from what parsed parses back the same. Run:
//! `cargo +nightly fuzz run probe`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlb_core::mac::MacAddr;
use nlb_core::probe::Probe;

fuzz_target!(|data: &[u8]| {
    let key = [0x5a; 32];
    // The first two bytes pick the claimed wire length; the rest is the frame.
    let (wire, frame) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest),
        _ => return,
    };
    let _ = nlb_core::probe::is_probe(frame);
    if let Ok(p) = Probe::parse(frame, wire, &key) {
        let again = p.encode(MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]), &key);
        assert_eq!(Probe::parse(&again, again.len(), &key), Ok(p));
    }
});
