//! This host's slots: the state of each, the slots it released and the connections it
//! still holds there, and what a committed view, a handover's progress and a release
//! do to them. Pure bookkeeping: the state machine decides when, this type decides how.

use crate::classify::Ownership;
use crate::config::ClusterConfig;
use crate::convergence::held::HeldFilter;
use crate::convergence::slots::SlotState;
use crate::host::HostId;
use crate::rules::Filtering;
use crate::time::Time;
use std::collections::BTreeMap;

use super::ghosts::Ghosts;
use super::owner_of;

/// A released slot: connections still held (if reported), and when it was released.
pub(super) type Released = (Option<u32>, Time);

/// The released slots as a list, for a successor process.
pub(super) type ReleasedList = Vec<((usize, u32), Released)>;

/// The slots of every rule, then one slot for the default host's traffic.
pub(super) struct SlotTable {
    states: Vec<Vec<SlotState>>,
    /// Released slots: (rule, slot) -> (connections still held if reported, released at).
    released: BTreeMap<(usize, u32), Released>,
    /// Bumped whenever any slot state changes, so the data path rewrites only then.
    generation: u64,
    /// What the last walk of [`SlotTable::progress`] depended on.
    walk_key: Option<u64>,
}

impl SlotTable {
    /// Every slot not owned: a multiple-host rule has the table's size, a single-host
    /// rule one slot, a disabled rule none, and the default host's traffic one.
    pub(super) fn new(cluster: &ClusterConfig) -> Self {
        let mut states: Vec<Vec<SlotState>> = cluster
            .rules
            .iter()
            .map(|r| {
                let n = match r.filtering {
                    Filtering::Multiple => cluster.table_size as usize,
                    Filtering::Single => 1,
                    Filtering::Disabled => 0,
                };
                vec![SlotState::NotOwned; n]
            })
            .collect();
        states.push(vec![SlotState::NotOwned; 1]);
        SlotTable {
            states,
            released: BTreeMap::new(),
            generation: 0,
            walk_key: None,
        }
    }

    /// A table as a predecessor process left it (see `HandOff`).
    pub(super) fn restore(
        states: Vec<Vec<SlotState>>,
        released: ReleasedList,
        generation: u64,
    ) -> Self {
        SlotTable {
            states,
            released: released.into_iter().collect(),
            generation: generation + 1,
            walk_key: None,
        }
    }

    /// The states, rule by rule, and the released slots, for a successor.
    pub(super) fn parts(&self) -> (Vec<Vec<SlotState>>, ReleasedList) {
        (
            self.states.clone(),
            self.released.iter().map(|(k, v)| (*k, *v)).collect(),
        )
    }

    /// The state of one slot (not owned when there is no such slot).
    pub(super) fn state(&self, rule: usize, slot: u32) -> SlotState {
        self.states
            .get(rule)
            .and_then(|t| t.get(slot as usize))
            .copied()
            .unwrap_or(SlotState::NotOwned)
    }

    /// How many tables there are: one per rule, then the default host's.
    pub(super) fn rules(&self) -> usize {
        self.states.len()
    }

    /// Every slot state of a rule.
    pub(super) fn states(&self, rule: usize) -> &[SlotState] {
        &self.states[rule]
    }

    /// Changes whenever any slot state changes.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// True when any slot waits for every member to commit.
    pub(super) fn any_pending(&self) -> bool {
        self.states
            .iter()
            .flatten()
            .any(|s| *s == SlotState::Pending)
    }

    /// True when this host owns and serves nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.released.is_empty()
            && self
                .states
                .iter()
                .flatten()
                .all(|s| *s == SlotState::NotOwned)
    }

    /// Released slots still serving connections: (rule, slot).
    pub(super) fn released_slots(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.released.keys().copied()
    }

    /// Connections held in released slots, as reported (unreported slots count one).
    pub(super) fn held(&self) -> u32 {
        self.released.values().map(|(c, _)| c.unwrap_or(1)).sum()
    }

    /// Connections held in one rule's released slots (unreported slots count one).
    pub(super) fn held_in_rule(&self, rule: usize) -> u32 {
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

    /// The data path's count of connections still held in a released slot.
    pub(super) fn report(&mut self, key: (usize, u32), connections: u32) {
        if let Some(entry) = self.released.get_mut(&key) {
            entry.0 = Some(connections);
        }
    }

    /// What committing a view does: slots this host owns in `ownership` are gained
    /// (pending), slots it no longer owns are released where rule `r` keeps its
    /// connections (`keep(r)`) and dropped otherwise. With `joined` (a member new to
    /// the view), slots it keeps take only new flows until that member says what it
    /// holds. Returns, per rule, the slots gained and released.
    pub(super) fn commit(
        &mut self,
        ownership: &Ownership,
        me: HostId,
        keep: impl Fn(usize) -> bool,
        joined: bool,
        now: Time,
    ) -> Vec<(usize, u32, u32)> {
        let mut changes = Vec::new();
        for r in 0..self.states.len() {
            let keep = keep(r);
            let (mut gained, mut released) = (0u32, 0u32);
            for s in 0..self.states[r].len() {
                let key = (r, s as u32);
                let owner = owner_of(ownership, r, s as u32);
                let before = self.states[r][s];
                // We may still hold connections from an earlier tenure in a slot we
                // regained but have not admitted new flows in yet.
                let holding = self.released.contains_key(&key);
                let mut after = before.on_commit(owner == Some(me), keep);
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
                self.states[r][s] = after;
            }
            if gained + released > 0 {
                changes.push((r, gained, released));
            }
        }
        self.generation += 1;
        changes
    }

    /// Every slot not owned, every connection dropped.
    pub(super) fn clear(&mut self) {
        self.generation += 1;
        for t in &mut self.states {
            t.fill(SlotState::NotOwned);
        }
        self.released.clear();
    }

    /// A handover's progress. Once every member committed the view (`all_committed`),
    /// gained slots take new flows, and a slot becomes fully ours when no holder may
    /// hold connections in it; a slot fully ours gives way to a holder at once (safe
    /// at any time, and it must be: a member back in the view after a few unheard
    /// periods must not have its connections reset meanwhile). Released slots whose
    /// last connection closed are let go. Returns whether any state changed.
    /// Slots a ghost (a member lost by silence, not yet known dead) owned count as held.
    pub(super) fn progress(
        &mut self,
        all_committed: bool,
        holders: &[(u8, &HeldFilter)],
        ghosts: &Ghosts,
    ) -> bool {
        let mut changed = false;
        // The walk over every slot depends on the slot states, on whether every member
        // committed, and on the holders: when none of them changed since the last walk,
        // it would change nothing (a frame that changes nothing costs no walk).
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (self.generation, all_committed).hash(&mut h);
            for (id, f) in holders {
                (id, f.as_bytes()).hash(&mut h);
            }
            ghosts.identity().hash(&mut h);
            h.finish()
        };
        let walk = self.walk_key != Some(key);
        self.walk_key = Some(key);
        for (r, table) in self.states.iter_mut().enumerate().filter(|_| walk) {
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
                let held = holders.iter().any(|(_, f)| f.may_hold(r, i as u32))
                    || (!ghosts.is_empty() && ghosts.may_hold(r, i as u32));
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
            if self.states[r][s as usize] == SlotState::ReleasedDraining {
                self.states[r][s as usize] = SlotState::NotOwned;
                changed = true;
            }
        }
        if changed {
            self.generation += 1;
        }
        changed
    }

    /// Stops taking new flows at once in one rule's slots (`None`: every rule and the
    /// default host's traffic), keeping existing connections or dropping them.
    pub(super) fn release(&mut self, rule: Option<usize>, keep_connections: bool, now: Time) {
        self.generation += 1;
        for r in 0..self.states.len() {
            if rule.is_some_and(|x| x != r) {
                continue;
            }
            for s in 0..self.states[r].len() {
                let key = (r, s as u32);
                let before = self.states[r][s];
                let holding = self.released.contains_key(&key)
                    || matches!(before, SlotState::Owned | SlotState::OwnedNewFlowsOnly);
                self.states[r][s] = if keep_connections && holding {
                    self.released.entry(key).or_insert((None, now));
                    SlotState::ReleasedDraining
                } else {
                    self.released.remove(&key);
                    SlotState::NotOwned
                };
            }
        }
    }
}
