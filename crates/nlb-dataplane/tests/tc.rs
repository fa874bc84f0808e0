//! The tc programs under BPF_PROG_RUN (needs root): unicast mode's source masking and
//! the lab switch's MAC-based snooping.

use nlb_core::mac::MacAddr;
use nlb_dataplane::lab_switch::LabSwitch;
use nlb_dataplane::mask::SourceMask;
use nlb_dataplane::packet;

const TC_ACT_OK: u32 = 0;
const CLUSTER: MacAddr = MacAddr([0x02, 0xbf, 198, 51, 100, 10]);
const MASKED: MacAddr = MacAddr([0x02, 0x07, 198, 51, 100, 10]);

/// A minimum-size frame (BPF_PROG_RUN wants a whole one for skb programs).
fn frame(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = packet::ethernet(dst, src, ethertype);
    f.resize(60, 0);
    f
}

#[test]
fn unicast_frames_leave_with_the_masked_source_mac() {
    let mut mask = SourceMask::load(CLUSTER, MASKED).unwrap();
    let client = [0x02, 0, 0, 0, 0, 0x63];
    let out = mask.test_run(&frame(client, CLUSTER.0, 0x0806)).unwrap();
    assert_eq!(out.action, TC_ACT_OK);
    assert_eq!(&out.frame[0..6], &client, "destination untouched");
    assert_eq!(&out.frame[6..12], &MASKED.0, "source masked");
    // Any other source (a second address of the NIC, a bridge) passes untouched.
    let other = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let out = mask.test_run(&frame(client, other, 0x0806)).unwrap();
    assert_eq!(&out.frame[6..12], &other);
}

#[test]
fn the_lab_switch_loads_and_counts_nothing_before_traffic() {
    let switch = LabSwitch::load(MacAddr([0x01, 0x00, 0x5e, 0x7f, 0x64, 0x0a])).unwrap();
    assert_eq!(switch.counters().unwrap(), (0, 0));
}
