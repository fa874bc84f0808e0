//! Membership: who stands aside, the view this host proposes, and when a proposed view
//! is committed.

use super::peer::Peer;
use super::Node;
use crate::convergence::api::RuleMode;
use crate::convergence::api::{Event, LossReason};
use crate::convergence::view::{Member, View};
use crate::host::HostId;
use crate::time::Time;
use crate::wire::{WireRule, WireState, RULE_DRAINING, RULE_ENABLED};
use std::collections::BTreeMap;

impl Node {
    /// This host as a member of a view, when it takes part.
    pub fn as_member(&self) -> Option<Member> {
        (self.state.is_member() && !self.blocked_by_mismatch)
            .then(|| Member::new(self.id, self.nonce, self.state, self.my_rules()))
    }

    /// True while this host stands aside: it is the minority of a configuration
    /// split, or it has not joined any view yet and hears heartbeats it cannot
    /// authenticate and no authentic peer (its key is wrong, or someone forges).
    pub fn standing_aside(&self) -> bool {
        self.blocked_by_mismatch || self.blocked_by_key
    }

    /// Decides whether this host stands aside. The minority of a configuration split
    /// does: the group with fewer live hosts (ties: the group without the lowest host
    /// id) takes no traffic. So does a host not yet in any view that hears only
    /// heartbeats it cannot authenticate (it may not commit a view of itself alone).
    pub(super) fn update_standing_aside(&mut self, now: Time) {
        // Only a host that has not committed a view stands aside for this: a forger can
        // keep a lone host from starting, never take a running one down.
        let alone = !self.peers.values().any(|p| self.heard(p, now));
        self.blocked_by_key = alone
            && self.committed.is_none()
            && self
                .auth_failure_at
                .is_some_and(|t| now < t + self.loss_window);
        if self
            .peers
            .values()
            .all(|p| p.digest == self.digest || !self.heard(p, now))
        {
            self.blocked_by_mismatch = false;
            return;
        }
        let mut groups: BTreeMap<[u8; 16], (usize, u8)> = BTreeMap::new();
        groups.insert(self.digest, (1, self.id.0));
        for (&id, p) in &self.peers {
            if self.heard(p, now) && p.state != WireState::Refused {
                let g = groups.entry(p.digest).or_insert((0, u8::MAX));
                g.0 += 1;
                g.1 = g.1.min(id);
            }
        }
        let (ours, our_low) = groups[&self.digest];
        self.blocked_by_mismatch = groups
            .iter()
            .any(|(d, &(n, low))| *d != self.digest && (n > ours || (n == ours && low < our_low)));
    }

    pub(super) fn my_rules(&self) -> Vec<WireRule> {
        self.cluster
            .rules
            .iter()
            .enumerate()
            .map(|(i, _)| WireRule {
                weight: self.weights[i],
                priority: self.base[i].priority,
                flags: match self.modes[i] {
                    RuleMode::Enabled => RULE_ENABLED,
                    RuleMode::Draining => RULE_ENABLED | RULE_DRAINING,
                    RuleMode::Disabled => 0,
                },
            })
            .collect()
    }

    /// Peers that belong in our proposed view, in id order.
    pub(super) fn proposed_peers(&self, now: Time) -> impl Iterator<Item = (&u8, &Peer)> {
        let included = self.state.is_member() && !self.blocked_by_mismatch;
        self.peers.iter().filter(move |(_, p)| {
            included
                && self.fresh(p, now)
                && p.state.is_member()
                && p.digest == self.digest
                && p.rules.len() == self.cluster.rules.len()
        })
    }

    pub(super) fn update_proposal(&mut self, now: Time) {
        // Cheap check first: most frames change nothing.
        let me = (self.state.is_member() && !self.blocked_by_mismatch)
            .then(|| Member::new(self.id, self.nonce, self.state, self.my_rules()));
        let mut entries: Vec<(HostId, u64, WireState, u64)> = self
            .proposed_peers(now)
            .map(|(&id, p)| (HostId(id), p.nonce, p.state, p.settings))
            .collect();
        if let Some(m) = &me {
            entries.push((m.id, m.nonce, m.state, m.settings_digest()));
        }
        entries.sort_by_key(|e| e.0);
        if crate::convergence::view::view_digest(entries.iter().copied()) == self.proposed_digest {
            return;
        }
        let we_left = me.is_none();
        let mut members: Vec<Member> = me.into_iter().collect();
        members.extend(self.proposed_peers(now).map(|(&id, p)| {
            Member::with_digest(HostId(id), p.nonce, p.state, p.rules.clone(), p.settings)
        }));
        let view = View::new(members);
        let digest = view.digest();
        if digest == self.proposed_digest {
            return;
        }
        for m in view.members() {
            if m.id != self.id && self.proposed.get(m.id).is_none() {
                self.events.push_back(Event::HostJoined { host: m.id });
            }
        }
        // When this host leaves (stopped, drained, standing aside), its view empties:
        // that is its own state change, reported as such, not a loss of every peer.
        for m in self.proposed.members() {
            if we_left || m.id == self.id || view.get(m.id).is_some() {
                continue;
            }
            let reason = match self.peers.get(&m.id.0) {
                Some(p) if p.nonce != m.nonce => LossReason::Restarted,
                Some(p) if p.digest != self.digest => LossReason::ConfigMismatch,
                Some(p) if self.fresh(p, now) && !p.state.is_member() => LossReason::Left,
                _ => LossReason::Silent,
            };
            self.events
                .push_back(Event::HostLost { host: m.id, reason });
        }
        self.proposed = view;
        self.proposed_digest = digest;
        self.send_soon = true;
    }

    pub(super) fn try_commit(&mut self, now: Time) {
        if !self.proposed.contains(self.id, self.nonce) {
            if self.committed.is_some() && !self.state.is_member() {
                // Stopped or standing aside: everything was dropped when we left.
                self.uncommit();
            } else if self.committed.is_some() && self.blocked_by_mismatch {
                self.uncommit();
            }
            return;
        }
        if self
            .committed
            .as_ref()
            .is_some_and(|c| c.digest == self.proposed_digest)
        {
            return;
        }
        let agreed = self.proposed.members().iter().all(|m| {
            m.id == self.id
                || self
                    .peers
                    .get(&m.id.0)
                    .is_some_and(|p| p.nonce == m.nonce && p.proposed == self.proposed_digest)
        });
        // Joining an established cluster (a member already committed a view) is safe at
        // once; a view of only new hosts waits until we have listened for a loss window.
        let established = self.proposed.members().iter().any(|m| {
            m.id != self.id
                && self
                    .peers
                    .get(&m.id.0)
                    .is_some_and(|p| p.committed.is_some())
        });
        // The one decision forged frames may delay: a first view of this host alone.
        // Everything else (proposals, joining peers) ignores them.
        let alone = self.proposed.members().len() == 1;
        if agreed && (established || now >= self.listening_until) && !(alone && self.blocked_by_key)
        {
            self.commit(now);
        }
    }

    pub(super) fn all_members_committed(&self) -> bool {
        let Some(c) = &self.committed else {
            return false;
        };
        c.view.members().iter().all(|m| {
            m.id == self.id
                || self
                    .peers
                    .get(&m.id.0)
                    .is_some_and(|p| p.nonce == m.nonce && p.committed == Some(c.digest))
        })
    }
}
