//! Ownership tables: per multiple-host rule, a table of prime size whose every slot
//! names the host that owns the flows hashing there.
//!
//! Built Maglev-style (Eisenbud et al., NSDI 2016) with weights: each host walks its
//! own permutation of the slots, derived from (seed, rule identity, host id), and the
//! hosts take turns claiming their next free slot, each as often as its weight allows.
//! The table depends only on (live hosts, weights, rule identity, seed), so every host
//! computes the same one and no table travels on the wire. Each host ends with within
//! one slot of its weighted share, and a change of membership moves few slots besides
//! those that must move.

use crate::hash::fmix64;
use crate::host::HostId;

/// Default table size: prime, as Maglev and Katran use; with M > 100 N the imbalance stays within 1%.
pub const DEFAULT_TABLE_SIZE: u32 = 65537;

/// A slot with no owner (every live host has weight 0, or no host is live).
pub const NO_OWNER: u8 = 0;

/// True when `n` is prime (trial division; table sizes are small).
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u32;
    while d.saturating_mul(d) <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// The ownership table of one rule.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnershipTable {
    slots: Vec<u8>,
}

impl std::fmt::Debug for OwnershipTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnershipTable({} slots)", self.slots.len())
    }
}

/// A host taking part in a table, with its weight for the rule (0..=100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Participant {
    /// The host.
    pub host: HostId,
    /// Its load weight for this rule.
    pub weight: u8,
}

impl OwnershipTable {
    /// Builds the table for `hosts` (any order; duplicates are a caller error).
    ///
    /// # Panics
    /// If `size` is not prime, since permutations then do not visit every slot.
    pub fn build(size: u32, seed: u64, rule_identity: u64, hosts: &[Participant]) -> Self {
        assert!(is_prime(size), "table size {size} must be prime");
        let m = size as u64;
        let mut hosts: Vec<Participant> = hosts.iter().copied().filter(|p| p.weight > 0).collect();
        hosts.sort_by_key(|p| p.host);
        let mut slots = vec![NO_OWNER; size as usize];
        if hosts.is_empty() {
            return OwnershipTable { slots };
        }
        // Each host's permutation: position_j = (offset + j * skip) mod m.
        let mut cursor: Vec<u64> = Vec::with_capacity(hosts.len());
        let mut skip: Vec<u64> = Vec::with_capacity(hosts.len());
        for p in &hosts {
            let h1 = fmix64(seed ^ fmix64(rule_identity ^ u64::from(p.host.0)));
            let h2 = fmix64(h1 ^ 0x9e37_79b9_7f4a_7c15);
            cursor.push(h1 % m);
            skip.push(h2 % (m - 1) + 1);
        }
        let max_w = hosts.iter().map(|p| u32::from(p.weight)).max().unwrap_or(1);
        let mut credit = vec![0u32; hosts.len()];
        let mut filled = 0u64;
        'fill: loop {
            for (i, p) in hosts.iter().enumerate() {
                credit[i] += u32::from(p.weight);
                if credit[i] < max_w {
                    continue;
                }
                credit[i] -= max_w;
                // Claim this host's next preferred free slot.
                let mut c = cursor[i];
                while slots[c as usize] != NO_OWNER {
                    c += skip[i];
                    if c >= m {
                        c -= m;
                    }
                }
                slots[c as usize] = p.host.0;
                cursor[i] = c;
                filled += 1;
                if filled == m {
                    break 'fill;
                }
            }
        }
        OwnershipTable { slots }
    }

    /// Number of slots.
    pub fn size(&self) -> u32 {
        self.slots.len() as u32
    }

    /// The owner of a slot, `None` when it has none.
    #[inline]
    pub fn owner(&self, slot: u32) -> Option<HostId> {
        match self.slots[slot as usize] {
            NO_OWNER => None,
            h => Some(HostId(h)),
        }
    }

    /// The raw slots: host ids, 0 for none. This is what the data path loads.
    pub fn as_bytes(&self) -> &[u8] {
        &self.slots
    }

    /// How many slots each host owns, indexed by host id (index 0: unowned).
    pub fn counts(&self) -> [u32; 256] {
        let mut c = [0u32; 256];
        for &s in &self.slots {
            c[s as usize] += 1;
        }
        c
    }

    /// The fraction of slots whose owner differs between two tables of one size.
    pub fn moved_fraction(&self, other: &OwnershipTable) -> f64 {
        assert_eq!(self.slots.len(), other.slots.len());
        let moved = self
            .slots
            .iter()
            .zip(&other.slots)
            .filter(|(a, b)| a != b)
            .count();
        moved as f64 / self.slots.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal(n: u8) -> Vec<Participant> {
        (1..=n)
            .map(|h| Participant {
                host: HostId(h),
                weight: 50,
            })
            .collect()
    }

    #[test]
    fn primes() {
        assert!(is_prime(65537) && is_prime(251) && is_prime(2));
        assert!(!is_prime(65536) && !is_prime(1) && !is_prime(0) && !is_prime(65535));
    }

    #[test]
    fn equal_hosts_get_floor_or_ceil() {
        for n in [1u8, 2, 3, 7, 8, 32, 64] {
            let t = OwnershipTable::build(DEFAULT_TABLE_SIZE, 1, 2, &equal(n));
            let c = t.counts();
            assert_eq!(c[0], 0);
            let lo = DEFAULT_TABLE_SIZE / n as u32;
            for h in 1..=n {
                assert!(
                    c[h as usize] == lo || c[h as usize] == lo + 1,
                    "n={n} h={h} {}",
                    c[h as usize]
                );
            }
        }
    }

    #[test]
    fn zero_weight_and_empty() {
        let t = OwnershipTable::build(251, 1, 2, &[]);
        assert!(t.owner(0).is_none());
        let t = OwnershipTable::build(
            251,
            1,
            2,
            &[
                Participant {
                    host: HostId(1),
                    weight: 0,
                },
                Participant {
                    host: HostId(2),
                    weight: 10,
                },
            ],
        );
        assert_eq!(t.counts()[2], 251);
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let mut h = equal(9);
        let a = OwnershipTable::build(DEFAULT_TABLE_SIZE, 5, 6, &h);
        h.reverse();
        assert_eq!(a, OwnershipTable::build(DEFAULT_TABLE_SIZE, 5, 6, &h));
    }
}
