//! Which slots a host still serves connections in, as its heartbeats advertise it.
//!
//! A host that released a slot keeps serving the connections it holds there for as long
//! as they live; the slot's new owner takes every segment of the slot only once no live
//! member holds connections in *that* slot. Tables have up to a million slots, so a
//! heartbeat cannot list them: it carries a one-hash Bloom filter of the held
//! `(rule, slot)` pairs in the room its frame has left (up to 2048 bits). A false
//! positive only keeps a new owner in new-flows-only mode for that slot a while longer
//! (it still takes every new flow); a held slot is never missed.

/// A set of `(rule, slot)` pairs that may give false positives, never false negatives.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldFilter {
    /// The filter's bits, as sent: bit `i` is bit `i % 8` of byte `i / 8`.
    bytes: Vec<u8>,
}

fn bit_of(rule: usize, slot: u32, bits: usize) -> usize {
    // A multiplicative hash of the pair: neighbouring slots land far apart.
    let x = ((rule as u64) << 32 | u64::from(slot)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 32) % bits as u64) as usize
}

impl HeldFilter {
    /// A filter of `bytes` bytes holding `slots`.
    pub fn build(bytes: usize, slots: impl IntoIterator<Item = (usize, u32)>) -> Self {
        let mut f = HeldFilter {
            bytes: vec![0; bytes],
        };
        let bits = bytes * 8;
        if bits > 0 {
            for (rule, slot) in slots {
                let i = bit_of(rule, slot, bits);
                f.bytes[i / 8] |= 1 << (i % 8);
            }
        }
        f
    }

    /// The filter as received (any length; an empty one says nothing per slot).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HeldFilter {
            bytes: bytes.to_vec(),
        }
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True when the filter has no bits, so it cannot tell slots apart.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// True when `(rule, slot)` may be held; always true for an empty filter.
    pub fn may_hold(&self, rule: usize, slot: u32) -> bool {
        if self.bytes.is_empty() {
            return true;
        }
        let i = bit_of(rule, slot, self.bytes.len() * 8);
        self.bytes[i / 8] & (1 << (i % 8)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_misses_a_held_slot_and_rarely_claims_another() {
        let held: Vec<(usize, u32)> = (0..100u32).map(|i| ((i % 3) as usize, i * 653)).collect();
        let f = HeldFilter::build(256, held.iter().copied());
        assert!(held.iter().all(|&(r, s)| f.may_hold(r, s)));
        let false_positives = (0..65537u32)
            .filter(|s| !held.contains(&(0, *s)) && f.may_hold(0, *s))
            .count();
        // 100 of 2048 bits set: about 5% of other slots.
        assert!(false_positives < 65537 / 10, "{false_positives}");
        let g = HeldFilter::from_bytes(f.as_bytes());
        assert_eq!(f, g);
    }

    #[test]
    fn an_empty_filter_may_hold_anything() {
        let f = HeldFilter::build(0, [(0, 1)]);
        assert!(f.is_empty() && f.may_hold(3, 99));
        assert!(!HeldFilter::build(8, []).may_hold(0, 1));
    }
}
