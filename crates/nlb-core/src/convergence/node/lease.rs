//! The lease: which of this host's frames its peers acknowledged, and until when it may
//! admit new flows (see the module documentation of `node`).

use super::Node;
use crate::time::Time;
use crate::wire::ACK_MASK;
use std::time::Duration;

/// How many of our own sent sequence numbers we remember to match acknowledgements.
pub(super) const SENT_HISTORY: usize = 1024;

impl Node {
    /// When the lease runs out: the data path must take no new flow after it. `None`
    /// when this host is alone in its view (no peer can take over).
    pub fn lease_expiry(&self) -> Option<Time> {
        self.lease
    }

    pub(super) fn compute_lease(&self) -> Option<Time> {
        let c = self.committed.as_ref()?;
        let mut expiry: Option<Time> = None;
        for m in c.view.members() {
            if m.id == self.id {
                continue;
            }
            let t = match self.peers.get(&m.id.0).and_then(|p| p.lease_ack) {
                Some(ack) => ack + self.lease_span,
                None => Time::ZERO,
            };
            expiry = Some(expiry.map_or(t, |e| e.min(t)));
        }
        expiry
    }

    /// True when a new flow in this slot may be admitted now.
    pub fn admits_new_flows(&self, rule: usize, slot: u32, now: Time) -> bool {
        self.slot_state(rule, slot).admits_new_flows()
            && self.lease_expiry().is_none_or(|e| now < e)
    }

    /// The send time of our frame whose sequence number ends in `ack`, if it was sent
    /// within `window`.
    pub(super) fn sent_time_of(&self, ack: u32, now: Time, window: Duration) -> Option<Time> {
        self.sent
            .iter()
            .rev()
            .take_while(|(_, t)| now.saturating_duration_since(*t) <= window)
            .find(|(s, _)| *s & ACK_MASK == u64::from(ack))
            .map(|(_, t)| *t)
    }
}
