//! The doctor's analysis never panics on any frames or times, and what it finds always
//! serializes. Each frame is a 4-byte time (ms) and a 1-byte length, then that many
//! bytes; the first byte picks the mode and where the capture was taken.
//! Run: `cargo +nightly fuzz run doctor`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlb_core::addressing::OperationMode;
use nlb_core::doctor::{pcap, Analyzer, Context};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let mut a = Analyzer::new(Context {
        mode: OperationMode::ALL.get(usize::from(pick % 4)).copied(),
        vips: vec!["198.51.100.10".parse().unwrap(), "2001:db8::10".parse().unwrap()],
        capture_is_member: [None, Some(true), Some(false)][usize::from(pick / 4 % 3)],
        member_macs: vec!["52-54-00-00-00-01".parse().unwrap()],
        query_interval: Duration::from_secs(u64::from(pick / 12)),
    });
    let mut frames = Vec::new();
    while rest.len() >= 5 {
        let ms = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::from(rest[4]).min(rest.len() - 5);
        let frame = &rest[5..5 + len];
        a.frame(Duration::from_millis(u64::from(ms)), frame);
        frames.push((Duration::from_millis(u64::from(ms)), frame));
        rest = &rest[5 + len..];
    }
    let stats = a.stats();
    assert_eq!(stats.frames, frames.len() as u64);
    assert!(stats.undecodable <= stats.frames);
    for f in a.findings() {
        serde_json::to_string(&f).unwrap();
    }
    // The pcap codec reads back what it writes, and never panics on the raw input.
    let bytes = pcap::encode(frames.iter().copied());
    let back = pcap::parse(&bytes).unwrap();
    assert_eq!(back.len(), frames.len());
    let _ = pcap::parse(data);
});
