//! The lab switch's MAC-based snooping under BPF_PROG_RUN (needs root).

use nlb_core::mac::MacAddr;
use nlb_dataplane::lab_switch::LabSwitch;

#[test]
fn the_lab_switch_loads_and_counts_nothing_before_traffic() {
    let switch = LabSwitch::load(&[
        MacAddr([0x01, 0x00, 0x5e, 0x7f, 0x64, 0x0a]),
        MacAddr([0x33, 0x33, 0xef, 0xff, 0x00, 0x10]),
    ])
    .unwrap();
    assert_eq!(switch.counters().unwrap(), (0, 0));
}
