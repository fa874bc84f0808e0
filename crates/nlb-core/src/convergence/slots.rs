//! Per-slot ownership state on one host, and how it moves on a committed view.
//!
//! When a slot moves from host A to host B, A keeps serving its existing connections
//! in the slot (released-draining) while B, once every member has committed the view
//! (so A has stopped taking new flows there), admits only new flows
//! (owned-new-flows-only) until no member holds connections in that slot. Only then
//! does B admit everything (owned).

/// This host's state for one slot (nlb-dataplane maps it to the kernel's byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SlotState {
    /// Not ours: drop what our connection table does not know.
    NotOwned,
    /// Ours in the committed view, but some member has not committed it yet: the old
    /// owner may still take new flows, so we take none.
    Pending,
    /// Ours for new flows (TCP SYN without ACK) and our own connections; the previous
    /// owner still serves its connections here.
    OwnedNewFlowsOnly,
    /// Fully ours.
    Owned,
    /// No longer ours: we serve our existing connections here and take no new flows.
    ReleasedDraining,
}

impl SlotState {
    /// True when a packet of a new flow may be admitted (lease permitting).
    pub fn admits_new_flows(self) -> bool {
        matches!(self, SlotState::Owned | SlotState::OwnedNewFlowsOnly)
    }

    /// The state a slot moves to when a view is committed in which `ours` says whether
    /// we own it; `keep_connections` is false when the rule was disabled or the host
    /// stopped, which drops existing connections instead of draining them.
    pub fn on_commit(self, ours: bool, keep_connections: bool) -> SlotState {
        use SlotState::*;
        match (self, ours) {
            (Owned, true) => Owned,
            (OwnedNewFlowsOnly, true) => OwnedNewFlowsOnly,
            (_, true) => Pending,
            (Owned | OwnedNewFlowsOnly | ReleasedDraining, false) if keep_connections => {
                ReleasedDraining
            }
            (_, false) => NotOwned,
        }
    }
}

/// Counts of slots by state, for snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotCounts {
    /// Fully owned.
    pub owned: u32,
    /// Owned for new flows only.
    pub new_flows_only: u32,
    /// Waiting for every member to commit.
    pub pending: u32,
    /// Released, still serving connections.
    pub released_draining: u32,
    /// Not owned.
    pub not_owned: u32,
}

impl SlotCounts {
    /// Counts the states of one table.
    pub fn of(states: &[SlotState]) -> Self {
        let mut c = SlotCounts::default();
        for s in states {
            match s {
                SlotState::Owned => c.owned += 1,
                SlotState::OwnedNewFlowsOnly => c.new_flows_only += 1,
                SlotState::Pending => c.pending += 1,
                SlotState::ReleasedDraining => c.released_draining += 1,
                SlotState::NotOwned => c.not_owned += 1,
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::SlotState::*;

    #[test]
    fn commit_transitions() {
        assert_eq!(Owned.on_commit(true, true), Owned);
        assert_eq!(NotOwned.on_commit(true, true), Pending);
        assert_eq!(ReleasedDraining.on_commit(true, true), Pending);
        assert_eq!(Owned.on_commit(false, true), ReleasedDraining);
        assert_eq!(OwnedNewFlowsOnly.on_commit(false, true), ReleasedDraining);
        assert_eq!(Owned.on_commit(false, false), NotOwned);
        assert_eq!(Pending.on_commit(false, true), NotOwned);
        assert!(!Pending.admits_new_flows() && !ReleasedDraining.admits_new_flows());
    }
}
