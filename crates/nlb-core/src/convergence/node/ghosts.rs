//! Members lost by silence, until they are known dead.
//!
//! A member that stops being heard may be dead, or only cut off (a partition, a switch
//! relearning its ports after a live migration, a paused VM) and still serving its
//! connections. Its slots go to the others at once for new flows, but until it is known
//! dead the slots it owned stay new-flows-only there: a segment of a connection nobody
//! left knows is left alone rather than reset by a kernel that never had it. It is known
//! dead once it has been silent for [`Node::dead_after`](super::Node), far past its
//! lease (its data path admits no new flow by then), or when a new incarnation of it is
//! heard (the old one is gone). Back in the view, it says itself what it holds.

use crate::convergence::held::HeldFilter;
use crate::host::HostId;
use std::collections::BTreeMap;

/// One member lost by silence: its incarnation, the slots it owned, per rule (the last
/// for the default host's traffic) as bitsets, and the slots it last said it still
/// held connections in after releasing them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Ghost {
    nonce: u64,
    slots: Vec<Vec<u64>>,
    held: HeldFilter,
}

/// The members lost by silence and not yet known dead.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Ghosts {
    by_id: BTreeMap<u8, Ghost>,
}

impl Ghosts {
    /// Remembers that `id` (incarnation `nonce`) went silent owning `owned` (rule,
    /// slot) pairs, in tables of `sizes` slots per rule. A ghost already known adds to
    /// what it may hold.
    pub(super) fn add(
        &mut self,
        id: HostId,
        nonce: u64,
        sizes: &[usize],
        owned: impl IntoIterator<Item = (usize, u32)>,
        held: &HeldFilter,
    ) {
        let fresh = || Ghost {
            nonce,
            slots: Vec::new(),
            held: HeldFilter::default(),
        };
        let ghost = self.by_id.entry(id.0).or_insert_with(fresh);
        if ghost.nonce != nonce {
            *ghost = fresh();
        }
        if !held.is_empty() {
            ghost.held = held.clone();
        }
        if ghost.slots.is_empty() {
            ghost.slots = sizes.iter().map(|n| vec![0; n.div_ceil(64)]).collect();
        }
        for (r, s) in owned {
            if let Some(word) = ghost
                .slots
                .get_mut(r)
                .and_then(|t| t.get_mut(s as usize / 64))
            {
                *word |= 1 << (s % 64);
            }
        }
    }

    /// Whether a ghost may still hold connections in a slot.
    pub(super) fn may_hold(&self, rule: usize, slot: u32) -> bool {
        self.by_id.values().any(|g| {
            g.slots
                .get(rule)
                .and_then(|t| t.get(slot as usize / 64))
                .is_some_and(|w| w & (1 << (slot % 64)) != 0)
                || (!g.held.is_empty() && g.held.may_hold(rule, slot))
        })
    }

    /// Keeps the ghosts for which `haunting(id, nonce)` holds; returns the others.
    pub(super) fn retain(&mut self, mut haunting: impl FnMut(u8, u64) -> bool) -> Vec<HostId> {
        let gone: Vec<u8> = self
            .by_id
            .iter()
            .filter(|(&id, g)| !haunting(id, g.nonce))
            .map(|(&id, _)| id)
            .collect();
        for id in &gone {
            self.by_id.remove(id);
        }
        gone.into_iter().map(HostId).collect()
    }

    /// The ghosts' ids.
    pub(super) fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.by_id.keys().copied()
    }

    /// Who the ghosts are, to tell whether anything they may hold changed.
    pub(super) fn identity(&self) -> Vec<(u8, u64)> {
        self.by_id.iter().map(|(&id, g)| (id, g.nonce)).collect()
    }

    /// True when there is none.
    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
