//! What the state machine does with its slots: accessors for the data path and the
//! query, committing a view, a handover's progress, releasing and leaving. The
//! bookkeeping itself is the [`SlotTable`](super::slot_table::SlotTable)'s.

use super::{owner_of, Committed, Node};
use crate::classify::Ownership;
use crate::convergence::api::{Event, RuleMode};
use crate::convergence::held::HeldFilter;
use crate::convergence::slots::SlotState;
use crate::convergence::view::View;
use crate::host::HostId;
use crate::time::Time;
use crate::wire::WireState;

impl Node {
    /// This host's state for a slot.
    pub fn slot_state(&self, rule: usize, slot: u32) -> SlotState {
        self.slots.state(rule, slot)
    }

    /// Changes whenever any slot state changes.
    pub fn slots_generation(&self) -> u64 {
        self.slots.generation()
    }

    /// Every slot state of a rule (the data path's table).
    pub fn slot_states(&self, rule: usize) -> &[SlotState] {
        self.slots.states(rule)
    }

    /// Released slots still draining: (rule, slot).
    pub fn released_slots(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.slots.released_slots()
    }

    /// Connections held in released slots, as advertised (unreported slots count one).
    pub fn held(&self) -> u32 {
        self.slots.held()
    }

    /// Connections held in one rule's released slots (unreported slots count one).
    pub fn held_in_rule(&self, rule: usize) -> u32 {
        self.slots.held_in_rule(rule)
    }

    pub(super) fn commit(&mut self, now: Time) {
        let view = self.proposed.clone();
        let ownership = Ownership::build(&self.cluster, &view.live_hosts());
        let stopping = !self.state.is_member();
        // A member new to us (a join, or a partition healing) may have owned any slot
        // in a view of its own, and may hold connections there until it has committed
        // this view and said which slots it released: until then we take only new
        // flows in slots we keep (the connection table still admits our own).
        let joined = view.members().iter().any(|m| {
            m.id != self.id
                && !self
                    .committed
                    .as_ref()
                    .is_some_and(|c| c.view.contains(m.id, m.nonce))
        });
        self.note_ghosts(&view, now);
        let modes = &self.modes;
        let keep = |r: usize| !stopping && modes.get(r).is_none_or(|m| *m != RuleMode::Disabled);
        for (rule, gained, released) in self.slots.commit(&ownership, self.id, keep, joined, now) {
            self.events.push_back(Event::OwnershipChanged {
                rule,
                gained,
                released,
            });
        }
        self.previous_committed = self.committed.as_ref().map(|c| c.digest);
        self.events.push_back(Event::Converged {
            members: view.ids(),
            digest: self.proposed_digest,
        });
        self.committed = Some(Committed {
            digest: self.proposed_digest,
            view,
            ownership,
            at: now,
        });
        self.send_soon = true;
    }

    /// Remembers the members of the committed view that `view` drops because they
    /// went silent (not those that left, restarted or changed configuration), with the
    /// slots they owned; forgets those back in `view`.
    fn note_ghosts(&mut self, view: &View, now: Time) {
        if let Some(c) = &self.committed {
            let sizes: Vec<usize> = (0..self.slots.rules())
                .map(|r| self.slots.states(r).len())
                .collect();
            for m in c.view.members() {
                if m.id == self.id || view.get(m.id).is_some() {
                    continue;
                }
                let Some(p) = self.peers.get(&m.id.0).filter(|p| {
                    // Not one that said it left: still a member as last heard, or
                    // not heard freshly since.
                    p.nonce == m.nonce
                        && p.digest == self.digest
                        && (p.state.is_member() || !self.fresh(p, now))
                }) else {
                    continue;
                };
                let held = if p.held > 0 {
                    p.held_filter.clone()
                } else {
                    HeldFilter::default()
                };
                let owned = sizes.iter().enumerate().flat_map(|(r, &n)| {
                    (0..n as u32)
                        .filter(move |&s| owner_of(&c.ownership, r, s) == Some(m.id))
                        .map(move |s| (r, s))
                });
                self.ghosts.add(m.id, m.nonce, &sizes, owned, &held);
            }
        }
        self.ghosts.retain(|id, _| view.get(HostId(id)).is_none());
    }

    pub(super) fn uncommit(&mut self) {
        self.slots.clear();
        self.previous_committed = self.committed.take().map(|c| c.digest);
        self.send_soon = true;
    }

    pub(super) fn progress(&mut self, now: Time) {
        let Some(c) = &self.committed else {
            return;
        };
        let all_committed = self.all_members_committed();
        // The filters of the members, committed or proposed, that hold connections in
        // slots they released. A member that leaves both views holds nothing any more.
        let holders: Vec<(u8, &HeldFilter)> = self
            .peers
            .iter()
            .filter(|(&id, _)| {
                c.view.get(HostId(id)).is_some() || self.proposed.get(HostId(id)).is_some()
            })
            .filter(|(_, p)| p.held > 0)
            .map(|(&id, p)| (id, &p.held_filter))
            .collect();
        let dead_after = self.dead_after;
        let peers = &self.peers;
        for host in self.ghosts.retain(|id, nonce| {
            peers
                .get(&id)
                .is_some_and(|p| p.nonce == nonce && now < p.heard_at + dead_after)
        }) {
            self.events.push_back(Event::HostKnownDead { host });
        }
        self.slots.progress(all_committed, &holders, &self.ghosts);
        if self.state == WireState::Draining && self.drain_deadline.is_some_and(|d| now >= d) {
            self.events
                .push_back(Event::DrainTimedOut { held: self.held() });
            self.drain_deadline = None;
            self.stop_now(WireState::Stopped);
            return;
        }
        if self.state == WireState::Draining
            && self.slots.is_empty()
            && self.committed.as_ref().is_some_and(|c| {
                c.view
                    .get(self.id)
                    .is_some_and(|m| m.state == WireState::Draining)
            })
        {
            self.drain_deadline = None;
            self.set_state(WireState::Stopped);
            self.uncommit();
        }
    }

    /// Stops taking new flows at once in one rule's slots (`None`: every rule and the
    /// default host's traffic), keeping existing connections or dropping them.
    pub(super) fn release_now(&mut self, rule: Option<usize>, keep_connections: bool, now: Time) {
        self.slots.release(rule, keep_connections, now);
        self.send_soon = true;
    }
}
