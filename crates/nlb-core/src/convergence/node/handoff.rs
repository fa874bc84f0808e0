//! The hand-off exit: what a host hands to its successor process, and how the
//! successor carries on as the same incarnation.

use super::ghosts::Ghosts;
use super::peer::Peer;
use super::slot_table::{ReleasedList, SlotTable};
use super::{Committed, Node};
use crate::classify::Ownership;
use crate::config::Config;
use crate::convergence::api::{Counters, RuleMode};
use crate::convergence::slots::SlotState;
use crate::convergence::view::View;
use crate::host::HostId;
use crate::mac::MacAddr;
use crate::time::Time;
use crate::wire::WireState;
use std::collections::BTreeMap;

/// Why a successor cannot carry on what its predecessor handed off.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The configuration's cluster part differs.
    #[error("the predecessor ran another cluster configuration")]
    OtherCluster,
    /// The host id differs.
    #[error("the predecessor was host {0}")]
    OtherHost(HostId),
    /// The slot tables do not fit the configuration's rules.
    #[error("the predecessor's slot tables do not fit this configuration")]
    SlotTables,
}

/// What a host hands to its successor process ([`Node::hand_off`], [`Node::resume`]).
/// Times are on the host's monotonic clock, which both processes share.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct HandOff {
    digest: [u8; 16],
    id: HostId,
    nonce: u64,
    next_seq: u64,
    state: WireState,
    modes: Vec<RuleMode>,
    weights: Vec<u8>,
    peers: BTreeMap<u8, Peer>,
    sent: Vec<(u64, Time)>,
    proposed: View,
    committed: Option<(View, Time)>,
    previous_committed: Option<u64>,
    slots: Vec<Vec<SlotState>>,
    released: ReleasedList,
    auth_failure_at: Option<Time>,
    listening_until: Time,
    started_at: Time,
    drain_deadline: Option<Time>,
    counters: Counters,
    #[serde(default)]
    ghosts: Ghosts,
}

impl Node {
    /// Everything a successor process needs to carry on as this very incarnation (same
    /// boot nonce, sequence numbers going on, the same views, slots and peers), for a
    /// hand-off exit: peers that hear the successor within the loss window see nothing
    /// but a few missed heartbeats. The node must not be used after this.
    pub fn hand_off(&self) -> HandOff {
        let (slots, released) = self.slots.parts();
        HandOff {
            digest: self.digest,
            id: self.id,
            nonce: self.nonce,
            // Frames already queued or in flight used lower numbers.
            next_seq: self.next_seq + 1,
            state: self.state,
            modes: self.modes.clone(),
            weights: self.weights.clone(),
            peers: self.peers.clone(),
            sent: self.sent.iter().copied().collect(),
            proposed: self.proposed.clone(),
            committed: self.committed.as_ref().map(|c| (c.view.clone(), c.at)),
            previous_committed: self.previous_committed,
            slots,
            released,
            auth_failure_at: self.auth_failure_at,
            listening_until: self.listening_until,
            started_at: self.started_at,
            drain_deadline: self.drain_deadline,
            counters: self.counters,
            ghosts: self.ghosts.clone(),
        }
    }

    /// The successor of a host that handed off: it carries on as the same incarnation.
    /// Refused when the configuration's cluster part or host id differ from the
    /// predecessor's.
    pub fn resume(
        config: &Config,
        key: [u8; 32],
        h: HandOff,
        src: MacAddr,
        now: Time,
    ) -> Result<Node, ResumeError> {
        if h.digest != config.cluster.digest().0 {
            return Err(ResumeError::OtherCluster);
        }
        if h.id != config.host.id {
            return Err(ResumeError::OtherHost(h.id));
        }
        if h.slots.len() != config.cluster.rules.len() + 1
            || h.modes.len() != config.cluster.rules.len()
        {
            return Err(ResumeError::SlotTables);
        }
        let mut node = Node::new(config, key, h.nonce, h.next_seq, src, now);
        node.transmit.clear();
        node.events.clear();
        node.state = h.state;
        node.modes = h.modes;
        node.weights = h.weights;
        node.peers = h.peers;
        node.sent = h.sent.into_iter().collect();
        node.proposed_digest = h.proposed.digest();
        node.proposed = h.proposed;
        node.committed = h.committed.map(|(view, at)| Committed {
            digest: view.digest(),
            ownership: Ownership::build(&node.cluster, &view.live_hosts()),
            view,
            at,
        });
        node.previous_committed = h.previous_committed;
        node.slots = SlotTable::restore(h.slots, h.released, node.slots.generation());
        node.auth_failure_at = h.auth_failure_at;
        node.started_at = h.started_at;
        node.drain_deadline = h.drain_deadline;
        node.ghosts = h.ghosts;
        // It heard nothing between the processes: peers it finds silent now may only
        // have gone unheard. Like a host that just started, it listens for a loss
        // window before it would commit a view of itself alone.
        node.listening_until = h.listening_until.max(now + node.loss_window);
        node.counters = h.counters;
        node.send_soon = true;
        node.reevaluate(now);
        Ok(node)
    }
}
