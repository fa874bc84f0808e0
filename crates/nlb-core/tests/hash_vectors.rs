//! The flow hash test vectors in `testdata/flow-hash-vectors.json` pin the hash that the
//! Rust core and the BPF program must compute identically. Regenerate them only on a
//! deliberate change of the hash (which changes every cluster's ownership):
//! `NLB_BLESS=1 cargo test --test hash_vectors`.

use nlb_core::hash::{flow_hash, slot_of, HashInput};
use nlb_core::rules::Affinity;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Vector {
    /// 64-bit seed as 16 hex digits (JSON numbers lose precision above 2^53).
    seed: String,
    client: IpAddr,
    client_port: u16,
    affinity: String,
    /// Hash inputs after the affinity is applied.
    hashed_addr: IpAddr,
    hashed_port: u16,
    hash: String,
    table_size: u32,
    slot: u32,
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/flow-hash-vectors.json")
}

fn compute(seed: u64, client: IpAddr, port: u16, affinity: Affinity, table_size: u32) -> Vector {
    let input = HashInput::new(affinity, client, port);
    let hash = flow_hash(seed, &input);
    Vector {
        seed: format!("{seed:016x}"),
        client,
        client_port: port,
        affinity: affinity.as_str().to_string(),
        hashed_addr: input.addr,
        hashed_port: input.port,
        hash: format!("{hash:016x}"),
        table_size,
        slot: slot_of(hash, table_size),
    }
}

fn generate() -> Vec<Vector> {
    let seeds = [
        0u64,
        1,
        0x0123_4567_89ab_cdef,
        u64::MAX,
        0x6e6c_6220_7365_6564,
    ];
    let clients = [
        "198.51.100.7",
        "203.0.113.200",
        "198.18.255.1",
        "0.0.0.0",
        "255.255.255.255",
        "2001:db8::1",
        "2001:db8:1:2:3:4:5:6",
    ];
    let ports = [0u16, 1, 80, 49152, 65535];
    let mut out = Vec::new();
    let mut i = 0usize;
    for &seed in &seeds {
        for c in clients {
            for &port in &ports {
                let affinity = [Affinity::None, Affinity::Single, Affinity::Network][i % 3];
                let size = [65537u32, 262147, 251][i % 3];
                out.push(compute(seed, c.parse().unwrap(), port, affinity, size));
                i += 1;
            }
        }
    }
    out
}

#[test]
fn vectors_match_the_shared_file() {
    let fresh = generate();
    if std::env::var_os("NLB_BLESS").is_some() {
        std::fs::write(path(), serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(path()).expect("testdata/flow-hash-vectors.json");
    let stored: Vec<Vector> = serde_json::from_str(&text).unwrap();
    assert_eq!(stored.len(), fresh.len());
    for (s, f) in stored.iter().zip(&fresh) {
        assert_eq!(s, f);
        // Recompute from the stored inputs alone, as the BPF test will.
        let seed = u64::from_str_radix(&s.seed, 16).unwrap();
        let h = flow_hash(
            seed,
            &HashInput {
                addr: s.hashed_addr,
                port: s.hashed_port,
            },
        );
        assert_eq!(format!("{h:016x}"), s.hash);
        assert_eq!(slot_of(h, s.table_size), s.slot);
    }
}

#[test]
fn a_known_value_never_changes() {
    // One vector written out by hand, so a bless cannot silently change the hash.
    let v = compute(
        1,
        "198.51.100.7".parse().unwrap(),
        80,
        Affinity::None,
        65537,
    );
    let mut h = 1u64;
    h = nlb_core::hash::fmix64(h ^ 0xc633_6407);
    h = nlb_core::hash::fmix64(h ^ (80u64 << 32 | 4));
    assert_eq!(v.hash, format!("{h:016x}"));
    assert_eq!(v.slot, (((h >> 32) * 65537) >> 32) as u32);
}
