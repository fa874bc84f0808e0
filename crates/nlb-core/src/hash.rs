//! The keyed flow hash and its reduction to a table slot.
//!
//! The BPF program computes the same function in C, so it is defined by a few lines
//! of 64-bit integer arithmetic, with shared test vectors in `testdata/flow-hash-vectors.json`:
//!
//! ```text
//! fmix64(x): x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33;
//!            x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33
//! IPv4 (the address a 32-bit word):   a = fmix64(seed ^ addr)
//! IPv6 (the address two 64-bit big-endian halves hi, lo):
//!     a = fmix64(seed ^ hi) ^ fmix64(seed6(seed) ^ lo)
//!     seed6(seed) = fmix64(seed ^ 0x6e6c622d69707636)   ("nlb-ipv6")
//! h = fmix64(a ^ (port << 32 | ip_version))      ip_version is 4 or 6
//! slot = ((h >> 32) * table_size) >> 32
//! ```
//!
//! The IPv6 halves are mixed side by side, so the hash takes two rounds in a row for
//! either family (the program's per-packet cost follows the longest chain of rounds).
//! Their keys differ and are secret with the seed: within one /64 (all an outsider
//! controls) two clients never collide, and which slots they reach cannot be aimed.
//!
//! The affinity chooses the inputs: `none` hashes address and client port; `single`
//! the address with port 0; `network` the address masked to /24 (IPv4) or /64 (IPv6)
//! with port 0. The seed comes from the cluster configuration.

use crate::rules::Affinity;
use std::net::IpAddr;

/// The finaliser of MurmurHash3: a bijective 64-bit mix.
#[inline]
pub fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// What goes into the hash for one flow, after affinity is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashInput {
    /// The client address, masked per affinity.
    pub addr: IpAddr,
    /// The client port, or 0 when the affinity ignores it.
    pub port: u16,
}

impl HashInput {
    /// Applies `affinity` to a client address and port.
    pub fn new(affinity: Affinity, client: IpAddr, client_port: u16) -> Self {
        match affinity {
            Affinity::None => HashInput {
                addr: client,
                port: client_port,
            },
            Affinity::Single => HashInput {
                addr: client,
                port: 0,
            },
            Affinity::Network => HashInput {
                addr: network_of(client),
                port: 0,
            },
        }
    }
}

/// The client's network for network affinity: IPv4 /24, IPv6 /64.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & 0xffff_ff00).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & !((1u128 << 64) - 1)).into()),
    }
}

/// The keyed hash of a flow's affinity inputs.
#[inline]
pub fn flow_hash(seed: u64, input: &HashInput) -> u64 {
    let (a, version) = match input.addr {
        IpAddr::V4(a) => (fmix64(seed ^ u64::from(u32::from(a))), 4u64),
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let (hi, lo) = ((bits >> 64) as u64, bits as u64);
            (fmix64(seed ^ hi) ^ fmix64(seed6(seed) ^ lo), 6u64)
        }
    };
    fmix64(a ^ (u64::from(input.port) << 32 | version))
}

/// The key of an IPv6 address's low half: derived from the seed, unlike the high half's.
#[inline]
pub fn seed6(seed: u64) -> u64 {
    fmix64(seed ^ 0x6e6c_622d_6970_7636)
}

/// Maps a hash to a slot of a table of `table_size` slots (multiply-shift, no division).
#[inline]
pub fn slot_of(hash: u64, table_size: u32) -> u32 {
    (((hash >> 32) * u64::from(table_size)) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_selects_inputs() {
        let c: IpAddr = "203.0.113.77".parse().unwrap();
        assert_eq!(HashInput::new(Affinity::None, c, 4242).port, 4242);
        assert_eq!(HashInput::new(Affinity::Single, c, 4242).port, 0);
        let n = HashInput::new(Affinity::Network, c, 4242);
        assert_eq!(n.addr.to_string(), "203.0.113.0");
        let c6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(network_of(c6).to_string(), "2001:db8:1:2::");
    }

    #[test]
    fn ipv6_halves_have_their_own_keys() {
        // The same 64 bits as high or as low half, or the halves swapped: no structure
        // survives the two keys.
        let v6 = |hi: u64, lo: u64| HashInput {
            addr: IpAddr::V6((u128::from(hi) << 64 | u128::from(lo)).into()),
            port: 80,
        };
        for seed in [0, 1, 0x0123_4567_89ab_cdef] {
            let x = 0x2001_0db8_0000_0001u64;
            assert_ne!(flow_hash(seed, &v6(x, 7)), flow_hash(seed, &v6(7, x)));
            assert_ne!(flow_hash(seed, &v6(x, x)), flow_hash(seed, &v6(0, 0)));
            // Within one /64, all different.
            let mut seen: std::collections::HashSet<u64> = (0..10_000u64)
                .map(|lo| flow_hash(seed, &v6(x, lo)))
                .collect();
            assert_eq!(seen.len(), 10_000);
            seen.clear();
        }
    }

    #[test]
    fn seed_and_port_change_the_hash() {
        let c: IpAddr = "203.0.113.77".parse().unwrap();
        let a = HashInput::new(Affinity::None, c, 1);
        let b = HashInput::new(Affinity::None, c, 2);
        assert_ne!(flow_hash(1, &a), flow_hash(1, &b));
        assert_ne!(flow_hash(1, &a), flow_hash(2, &a));
    }

    #[test]
    fn slots_stay_in_range_and_spread() {
        let size = 65537;
        let mut hits = vec![0u32; 16];
        for port in 0..=u16::MAX {
            let input = HashInput::new(Affinity::None, "198.18.0.1".parse().unwrap(), port);
            let s = slot_of(flow_hash(7, &input), size);
            assert!(s < size);
            hits[(s as usize * 16) / size as usize] += 1;
        }
        // 65536 flows into 16 buckets: each within 5% of 4096.
        for h in hits {
            assert!((3891..=4301).contains(&h), "{h}");
        }
        assert_eq!(slot_of(u64::MAX, size), size - 1);
        assert_eq!(slot_of(0, size), 0);
    }
}
