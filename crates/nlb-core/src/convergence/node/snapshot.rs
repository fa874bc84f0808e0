//! The snapshot `nlb query` and `nlb display` show.

use super::Node;
use crate::convergence::api::{PeerSnapshot, QueryState, RuleMode, RuleSnapshot, Snapshot};
use crate::convergence::slots::SlotCounts;
use crate::host::HostId;
use crate::time::Time;
use crate::wire::WireState;

impl Node {
    /// The snapshot `nlb query` shows.
    pub fn snapshot(&self, now: Time) -> Snapshot {
        let default_host = self.ownership().and_then(|o| o.default_host);
        let converged = self
            .committed
            .as_ref()
            .is_some_and(|c| c.digest == self.proposed_digest)
            && self.all_members_committed()
            && !self.slots.any_pending();
        let state = match self.state {
            WireState::Stopped | WireState::Refused => QueryState::Stopped,
            WireState::Suspended => QueryState::Suspended,
            WireState::Draining => QueryState::Draining,
            WireState::Started if converged && default_host == Some(self.id) => {
                QueryState::ConvergedAsDefault
            }
            WireState::Started if converged => QueryState::Converged,
            WireState::Started => QueryState::Converging,
        };
        let mut rules: Vec<RuleSnapshot> = self
            .modes
            .iter()
            .enumerate()
            .map(|(i, &mode)| RuleSnapshot {
                mode,
                weight: self.weights[i],
                slots: SlotCounts::of(self.slots.states(i)),
                held: self.held_in_rule(i),
            })
            .collect();
        rules.push(RuleSnapshot {
            mode: RuleMode::Enabled,
            weight: 0,
            slots: SlotCounts::of(self.slots.states(self.modes.len())),
            held: self.held_in_rule(self.modes.len()),
        });
        Snapshot {
            host: self.id,
            state,
            wire_state: self.state,
            committed: self.committed_members(),
            proposed: self.proposed.ids(),
            committed_for: self
                .committed
                .as_ref()
                .map(|c| now.saturating_duration_since(c.at)),
            default_host,
            rules,
            held: self.held(),
            drain_deadline_left: self
                .drain_deadline
                .map(|d| d.saturating_duration_since(now)),
            lease_left: self
                .lease_expiry()
                .map(|e| e.saturating_duration_since(now)),
            peers: self
                .peers
                .iter()
                .filter(|(_, p)| now.saturating_duration_since(p.heard_at) < self.loss_window)
                .map(|(&id, p)| PeerSnapshot {
                    id: HostId(id),
                    state: p.state,
                    since_heard: now.saturating_duration_since(p.heard_at),
                    member: self.proposed.get(HostId(id)).is_some(),
                    config_mismatch: p.digest != self.digest,
                })
                .collect(),
            counters: self.counters,
            standing_aside: if self.blocked_by_mismatch {
                Some(
                    "its cluster configuration differs from that of the larger group of \
                     hosts heard (nlb config check compares the files)",
                )
            } else if self.blocked_by_key {
                Some(
                    "it hears heartbeats it cannot authenticate and no authentic peer: \
                     its key_file differs from the cluster's, or someone forges heartbeats",
                )
            } else {
                None
            },
            vip_frames: self.vip_frames_by_member(now),
            reception: self.reception_reported.clone(),
        }
    }
}
