//! Heartbeat decoding never panics, and whatever parses structurally reads back
//! consistently. Run: `cargo +nightly fuzz run heartbeat`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlb_core::wire::HeartbeatView;

fuzz_target!(|data: &[u8]| {
    let key = [0x5a; 32];
    let _ = HeartbeatView::parse(data, &key);
    if let Ok(v) = HeartbeatView::parse_unauthenticated(data) {
        let members = v.view().count();
        assert_eq!(members, v.member_count());
        assert_eq!(v.rules().count(), v.rule_count());
        let _ = (v.src(), v.dst(), v.state(), v.seq(), v.committed(), v.held(), v.age(), v.vip_frames());
        for m in v.view() {
            assert!(v.has_member(m.id));
        }
        // The held-slot filter: a multiple of 8 bytes, at most 256, and any slot may be
        // asked about.
        let filter = v.held_filter();
        assert!(filter.len() % 8 == 0 && filter.len() <= nlb_core::wire::MAX_HELD_FILTER);
        let f = nlb_core::convergence::HeldFilter::from_bytes(filter);
        let _ = f.may_hold(usize::from(v.host_id()), v.seq() as u32);
    }
});
