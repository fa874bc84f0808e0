//! The keyed flow hash and its reduction to a table slot.
//!
//! The BPF program computes the same function in C, so it is defined by a few lines
//! of 64-bit integer arithmetic, with shared test vectors in `testdata/flow-hash-vectors.json`:
//!
//! ```text
//! fmix64(x): x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33;
//!            x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33
//! h = seed
//! for each 32-bit word w of the client address (big-endian; 1 word for IPv4, 4 for IPv6):
//!     h = fmix64(h ^ w)
//! h = fmix64(h ^ (port << 32 | ip_version))      ip_version is 4 or 6
//! slot = ((h >> 32) * table_size) >> 32
//! ```
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
    let mut h = seed;
    let version = match input.addr {
        IpAddr::V4(a) => {
            h = fmix64(h ^ u64::from(u32::from(a)));
            4u64
        }
        IpAddr::V6(a) => {
            for w in a.octets().chunks_exact(4) {
                h = fmix64(h ^ u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]])));
            }
            6u64
        }
    };
    fmix64(h ^ (u64::from(input.port) << 32 | version))
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
