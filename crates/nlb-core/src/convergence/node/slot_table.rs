//! This host's slots: what a committed view does to them, how a handover progresses
//! (per slot, as long as the previous owner holds connections there), and the
//! connections it still holds in slots it released.

use super::{owner_of, Committed, Node};
use crate::classify::Ownership;
use crate::convergence::api::{Event, RuleMode};
use crate::convergence::held::HeldFilter;
use crate::convergence::slots::SlotState;
use crate::host::HostId;
use crate::wire::WireState;
use std::time::Duration;

impl Node {
    /// This host's state for a slot.
    pub fn slot_state(&self, rule: usize, slot: u32) -> SlotState {
        self.slots
            .get(rule)
            .and_then(|t| t.get(slot as usize))
            .copied()
            .unwrap_or(SlotState::NotOwned)
    }

    /// Changes whenever any slot state changes.
    pub fn slots_generation(&self) -> u64 {
        self.generation
    }

    /// Every slot state of a rule (the data path's table).
    pub fn slot_states(&self, rule: usize) -> &[SlotState] {
        &self.slots[rule]
    }

    /// Released slots still draining: (rule, slot).
    pub fn released_slots(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.released.keys().copied()
    }

    /// Connections held in released slots, as advertised (unreported slots count one).
    pub fn held(&self) -> u32 {
        self.released.values().map(|(c, _)| c.unwrap_or(1)).sum()
    }

    /// Connections held in one rule's released slots (unreported slots count one).
    pub fn held_in_rule(&self, rule: usize) -> u32 {
        self.released
            .range((rule, 0)..=(rule, u32::MAX))
            .map(|(_, (c, _))| c.unwrap_or(1))
            .sum()
    }

    /// The released slots that hold connections (or are not yet reported).
    pub(super) fn held_slots(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.released
            .iter()
            .filter(|(_, (c, _))| *c != Some(0))
            .map(|(k, _)| *k)
    }

    pub(super) fn commit(&mut self, now: Duration) {
        let view = self.proposed.clone();
        let ownership = Ownership::build(&self.cluster, &view.live_hosts());
        let me = Some(self.id);
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
        for r in 0..self.slots.len() {
            let keep = !stopping && self.modes.get(r).is_none_or(|m| *m != RuleMode::Disabled);
            let (mut gained, mut released) = (0u32, 0u32);
            for s in 0..self.slots[r].len() {
                let key = (r, s as u32);
                let owner = owner_of(&ownership, r, s as u32);
                let before = self.slots[r][s];
                // We may still hold connections from an earlier tenure in a slot we
                // regained but have not admitted new flows in yet.
                let holding = self.released.contains_key(&key);
                let mut after = before.on_commit(owner == me, keep);
                if after == SlotState::NotOwned && keep && holding {
                    after = SlotState::ReleasedDraining;
                }
                if after == SlotState::Owned && joined {
                    after = SlotState::OwnedNewFlowsOnly;
                }
                if !keep {
                    self.released.remove(&key);
                }
                if after == SlotState::ReleasedDraining && before != SlotState::ReleasedDraining {
                    released += 1;
                    self.released.entry(key).or_insert((None, now));
                }
                if after == SlotState::Pending && before != SlotState::Pending {
                    gained += 1;
                }
                self.slots[r][s] = after;
            }
            if gained + released > 0 {
                self.events.push_back(Event::OwnershipChanged {
                    rule: r,
                    gained,
                    released,
                });
            }
        }
        self.generation += 1;
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

    pub(super) fn uncommit(&mut self) {
        self.generation += 1;
        self.previous_committed = self.committed.take().map(|c| c.digest);
        for t in &mut self.slots {
            t.fill(SlotState::NotOwned);
        }
        self.released.clear();
        self.send_soon = true;
    }

    pub(super) fn progress(&mut self, now: Duration) {
        let Some(c) = &self.committed else {
            return;
        };
        let mut changed = false;
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
        // The walk over every slot depends on the slot states, on whether every member
        // committed, and on the holders: when none of them changed since the last walk,
        // it would change nothing (a frame that changes nothing costs no walk).
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (self.generation, all_committed).hash(&mut h);
            for (id, f) in &holders {
                (id, f.as_bytes()).hash(&mut h);
            }
            h.finish()
        };
        let walk = self.progress_key != Some(key);
        self.progress_key = Some(key);
        let holders: Vec<&HeldFilter> = holders.into_iter().map(|(_, f)| f).collect();
        for (r, table) in self.slots.iter_mut().enumerate().filter(|_| walk) {
            for (i, s) in table.iter_mut().enumerate() {
                if *s == SlotState::Pending && all_committed {
                    *s = SlotState::OwnedNewFlowsOnly;
                    changed = true;
                    // Ours again: connections from an earlier tenure are simply ours.
                    self.released.remove(&(r, i as u32));
                }
                if !matches!(*s, SlotState::OwnedNewFlowsOnly | SlotState::Owned) {
                    continue;
                }
                // Fully ours only while no member may hold connections in this slot: a
                // previous owner serves them for as long as they live (after a
                // partition heals into the same view, too). Taking a slot fully waits
                // for every member to have committed the view; giving way to a holder
                // is safe at once, and must be: a member back in the view after a few
                // unheard periods must not have its connections reset meanwhile.
                let held = holders.iter().any(|f| f.may_hold(r, i as u32));
                match *s {
                    SlotState::OwnedNewFlowsOnly if !held && all_committed => *s = SlotState::Owned,
                    SlotState::Owned if held => *s = SlotState::OwnedNewFlowsOnly,
                    _ => continue,
                }
                changed = true;
            }
        }
        // A released slot is done when its last connection has closed or idled out.
        let done: Vec<(usize, u32)> = self
            .released
            .iter()
            .filter(|(_, (held, _))| *held == Some(0))
            .map(|(k, _)| *k)
            .collect();
        for (r, s) in done {
            self.released.remove(&(r, s));
            if self.slots[r][s as usize] == SlotState::ReleasedDraining {
                self.slots[r][s as usize] = SlotState::NotOwned;
                changed = true;
            }
        }
        if changed {
            self.generation += 1;
        }
        if self.state == WireState::Draining && self.drain_deadline.is_some_and(|d| now >= d) {
            self.events
                .push_back(Event::DrainTimedOut { held: self.held() });
            self.drain_deadline = None;
            self.stop_now(WireState::Stopped);
            return;
        }
        if self.state == WireState::Draining
            && self.released.is_empty()
            && !self
                .slots
                .iter()
                .flatten()
                .any(|s| *s != SlotState::NotOwned)
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
    pub(super) fn release_now(
        &mut self,
        rule: Option<usize>,
        keep_connections: bool,
        now: Duration,
    ) {
        self.generation += 1;
        for r in 0..self.slots.len() {
            if rule.is_some_and(|x| x != r) {
                continue;
            }
            for s in 0..self.slots[r].len() {
                let key = (r, s as u32);
                let before = self.slots[r][s];
                let holding = self.released.contains_key(&key)
                    || matches!(before, SlotState::Owned | SlotState::OwnedNewFlowsOnly);
                self.slots[r][s] = if keep_connections && holding {
                    self.released.entry(key).or_insert((None, now));
                    SlotState::ReleasedDraining
                } else {
                    self.released.remove(&key);
                    SlotState::NotOwned
                };
            }
        }
        self.send_soon = true;
    }
}
