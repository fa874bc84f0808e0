//! The program's side of the kernel ABI, mirrored: the map value layouts and byte
//! values of `bpf/nlb_abi.h`, and the one mapping from the core's types to those bytes.
//!
//! The build script compiles `bpf/abi_dump.c` against the header and generates the
//! constants in [`generated`]; every mirror below is checked against them when this
//! crate compiles (size and each field's offset), so a change to the header that the
//! mirror does not follow fails the build, as Cilium's alignchecker fails its tests.

use aya::Pod;
use nlb_core::convergence::SlotState;
use nlb_core::rules::{Affinity, Filtering};
use std::mem::{offset_of, size_of};

/// What `bpf/nlb_abi.h` says, generated at build time.
#[allow(missing_docs, dead_code, non_upper_case_globals)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/abi.rs"));
}
use generated as c;

pub use c::COUNTER_NAMES;
pub(crate) use c::{
    CONN_BUCKET_BITS, CONN_CONFIRMED, CONN_V6, CONN_V6_RULE_SHIFT, CONN_V6_SLOT_MASK, CONN_WAYS,
    MAX_VIPS, NLB_ABI_VERSION, SLOTS_PER_CHUNK,
};

/// Mirrors `struct fixed`: the program's read-only `FIXED`, and its copy in `Config`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fixed {
    pub seed: u64,
    pub seed6: u64,
    pub conn_seed: u64,
    pub table_size: u32,
    pub chunks_per_rule: u32,
    pub nr_rules: u32,
    pub vip4_count: u32,
    pub vips4: [u32; MAX_VIPS],
    pub abi_version: u32,
    pub unicast_mode: u32,
    pub vip6_count: u32,
    pub pad: u32,
    pub vips6: [[u64; 2]; MAX_VIPS],
}
// SAFETY: plain old data, every bit pattern valid, layout fixed by repr(C).
unsafe impl Pod for Fixed {}

/// Mirrors `struct config`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Config {
    pub lease_deadline_ns: u64,
    pub idle_timeout_ns: u64,
    pub cluster_mac: [u8; 6],
    pub own_mac: [u8; 6],
    pub tx_mac: [u8; 6],
    pub cluster_mac6: [u8; 6],
    pub fixed: Fixed,
}
// SAFETY: as above.
unsafe impl Pod for Config {}

/// Mirrors `struct rule_ref`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RuleRef {
    pub rule: u8,
    pub filtering: u8,
    pub affinity: u8,
    pub pad: u8,
}

/// Mirrors `struct port_rules`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PortRules {
    pub tcp: RuleRef,
    pub udp: RuleRef,
}

/// Mirrors `struct slot_chunk`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct SlotChunk {
    pub state: [u8; SLOTS_PER_CHUNK],
}
// SAFETY: as above.
unsafe impl Pod for SlotChunk {}

/// Mirrors `struct conn_bucket`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Bucket {
    pub seq: u32,
    pub pad: u32,
    /// IPv4: VIP << 32 | client, both as read from the packet; IPv6: a keyed
    /// fingerprint; 0: the way is free.
    pub addrs: [u64; CONN_WAYS],
    /// Server port << 16 | client port.
    pub ports: [u32; CONN_WAYS],
    pub seen_ns: [u64; CONN_WAYS],
    /// IPv6 entries: `CONN_V6 | rule << CONN_V6_RULE_SHIFT | slot`; 0 for IPv4.
    pub v6_slots: [u32; CONN_WAYS],
}

// Every mirror, checked against the header when the crate compiles.
const _: () = {
    assert!(size_of::<Fixed>() == c::fixed_SIZE);
    assert!(offset_of!(Fixed, seed) == c::fixed__seed);
    assert!(offset_of!(Fixed, seed6) == c::fixed__seed6);
    assert!(offset_of!(Fixed, conn_seed) == c::fixed__conn_seed);
    assert!(offset_of!(Fixed, table_size) == c::fixed__table_size);
    assert!(offset_of!(Fixed, chunks_per_rule) == c::fixed__chunks_per_rule);
    assert!(offset_of!(Fixed, nr_rules) == c::fixed__nr_rules);
    assert!(offset_of!(Fixed, vip4_count) == c::fixed__vip4_count);
    assert!(offset_of!(Fixed, vips4) == c::fixed__vips4);
    assert!(offset_of!(Fixed, abi_version) == c::fixed__abi_version);
    assert!(offset_of!(Fixed, unicast_mode) == c::fixed__unicast_mode);
    assert!(offset_of!(Fixed, vip6_count) == c::fixed__vip6_count);
    assert!(offset_of!(Fixed, vips6) == c::fixed__vips6);
    assert!(size_of::<Config>() == c::config_SIZE);
    assert!(offset_of!(Config, lease_deadline_ns) == c::config__lease_deadline_ns);
    assert!(offset_of!(Config, idle_timeout_ns) == c::config__idle_timeout_ns);
    assert!(offset_of!(Config, cluster_mac) == c::config__cluster_mac);
    assert!(offset_of!(Config, own_mac) == c::config__own_mac);
    assert!(offset_of!(Config, tx_mac) == c::config__tx_mac);
    assert!(offset_of!(Config, cluster_mac6) == c::config__cluster_mac6);
    assert!(offset_of!(Config, fixed) == c::config__fixed);
    assert!(size_of::<RuleRef>() == c::rule_ref_SIZE);
    assert!(offset_of!(RuleRef, rule) == c::rule_ref__rule);
    assert!(offset_of!(RuleRef, filtering) == c::rule_ref__filtering);
    assert!(offset_of!(RuleRef, affinity) == c::rule_ref__affinity);
    assert!(size_of::<PortRules>() == c::port_rules_SIZE);
    assert!(offset_of!(PortRules, tcp) == c::port_rules__tcp);
    assert!(offset_of!(PortRules, udp) == c::port_rules__udp);
    assert!(size_of::<SlotChunk>() == c::slot_chunk_SIZE);
    assert!(size_of::<Bucket>() == c::conn_bucket_SIZE);
    assert!(offset_of!(Bucket, seq) == c::conn_bucket__seq);
    assert!(offset_of!(Bucket, addrs) == c::conn_bucket__addrs);
    assert!(offset_of!(Bucket, ports) == c::conn_bucket__ports);
    assert!(offset_of!(Bucket, seen_ns) == c::conn_bucket__seen_ns);
    assert!(offset_of!(Bucket, v6_slots) == c::conn_bucket__v6_slots);
};

/// The byte the program reads for a slot state.
pub(crate) fn slot_byte(s: SlotState) -> u8 {
    match s {
        SlotState::NotOwned => c::SLOT_NOT_OWNED,
        SlotState::Pending => c::SLOT_PENDING,
        SlotState::OwnedNewFlowsOnly => c::SLOT_NEW_FLOWS_ONLY,
        SlotState::Owned => c::SLOT_OWNED,
        SlotState::ReleasedDraining => c::SLOT_RELEASED_DRAINING,
    }
}

/// The byte the program reads for a rule's filtering mode.
pub(crate) fn filtering_byte(f: Filtering) -> u8 {
    match f {
        Filtering::Multiple => c::FILTER_MULTIPLE,
        Filtering::Single => c::FILTER_SINGLE,
        Filtering::Disabled => c::FILTER_DISABLED,
    }
}

/// The byte the program reads for a rule's affinity.
pub(crate) fn affinity_byte(a: Affinity) -> u8 {
    match a {
        Affinity::None => c::AFFINITY_NONE,
        Affinity::Single => c::AFFINITY_SINGLE,
        Affinity::Network => c::AFFINITY_NETWORK,
    }
}

/// The unconfirmed entries' idle limit of the program.
pub(crate) const UNCONFIRMED_TIMEOUT_NS: u64 = c::UNCONFIRMED_TIMEOUT_NS;
