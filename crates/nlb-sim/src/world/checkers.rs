//! The invariant checks (I1..I3 here; I4 compares two runs in lib.rs), the ownership
//! trace, and the ground truth the live hosts should converge to.

use super::{ms, World, SIM_TABLE_SIZE};
use nlb_core::classify::Ownership;
use nlb_core::convergence::{owner_of, View};
use nlb_core::wire::WireState;
use std::rc::Rc;
use std::time::Duration;

/// A fault planted in every host, to show that the invariant checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The data path admits new flows whatever the lease says.
    IgnoreLease,
    /// The data path reports no connection in released slots, however many it holds.
    ForgetHeld,
    /// Replay protection is broken: a replayed frame is taken as the sender's newest
    /// (modelled by re-issuing it, under the cluster key, with a sequence number above
    /// every real one).
    AcceptReplays,
}

impl World {
    pub(super) fn lease_ok(&self, h: usize) -> bool {
        let local = self.local(h);
        self.hosts[h].node.as_ref().is_some_and(|n| {
            self.fault == Some(Fault::IgnoreLease) || n.lease_expiry().is_none_or(|e| local < e)
        })
    }

    /// A partitioned cluster cannot tell a dead peer from an unreachable one: each side
    /// carries on alone (as Windows NLB does), so hosts cut apart, and every host until
    /// the convergence bound after the partition heals, are not held to I1 (I3 has its
    /// own rule: `reset_excused`).
    pub(super) fn exempt(&self, a: usize, b: usize) -> bool {
        if self.partitioned {
            self.hosts[a].group != self.hosts[b].group
        } else {
            self.now < self.partition_grace_until
        }
    }

    /// How long the core waits before it knows a silent member dead.
    pub(super) fn dead_after(&self) -> Duration {
        self.hosts
            .iter()
            .find_map(|h| h.node.as_ref().map(|n| n.dead_after()))
            .unwrap_or(Duration::MAX)
    }

    /// I3 excuses host `g` resetting a connection of live host `holder` opened at
    /// `opened` only when the network kept them apart at least as long as a silent
    /// member takes to be known dead (a cut that long cannot be told from a death, and
    /// a dead host's clients are better told at once), or when the connection was
    /// opened during a partition (each side took new flows in slots the other still
    /// served: split brain, which I1 exempts). Shorter cuts (a migration's blackout, a
    /// paused VM, a partition of a few seconds) must break nothing that existed before.
    pub(super) fn reset_excused(&self, holder: usize, g: usize, opened: Duration) -> bool {
        let Some(cut) = self.partition_at else {
            return false;
        };
        let split_brain = opened >= cut && (self.partitioned || opened < self.healed_at);
        split_brain
            || if self.partitioned {
                self.hosts[holder].group != self.hosts[g].group
                    && self.now - cut >= self.dead_after()
            } else {
                self.now < self.long_cut_until
            }
    }

    /// I1: at most one host admits new flows in any slot.
    pub(super) fn check_i1(&mut self, h: usize) {
        if !self.lease_ok(h) {
            return;
        }
        for g in 0..self.hosts.len() {
            if g == h || !self.lease_ok(g) || self.exempt(h, g) {
                continue;
            }
            for r in 0..self.hosts[h].admit_bits.len() {
                for w in 0..self.hosts[h].admit_bits[r].len() {
                    let both = self.hosts[h].admit_bits[r][w] & self.hosts[g].admit_bits[r][w];
                    if both != 0 {
                        let slot = w * 64 + both.trailing_zeros() as usize;
                        let msg = format!(
                            "I1: hosts {} and {} both admit new flows in rule {r} slot {slot}",
                            self.hosts[h].config.host.id, self.hosts[g].config.host.id
                        );
                        self.report.violation(self.now, msg);
                        return;
                    }
                }
            }
        }
    }

    pub(super) fn trace(&mut self, h: usize) {
        let host = &mut self.hosts[h];
        let entry = match host.node.as_ref() {
            None => (None, 0),
            Some(n) => {
                let mut x = 0xcbf2_9ce4_8422_2325u64;
                for r in 0..host.admit_bits.len() {
                    for s in n.slot_states(r) {
                        x = (x ^ *s as u64).wrapping_mul(0x100_0000_01b3);
                    }
                }
                (n.committed_digest(), x)
            }
        };
        if host.last_trace != Some(entry) {
            host.last_trace = Some(entry);
            self.trace.push((self.now, h, entry.0, entry.1));
        }
    }

    /// The ownership the live hosts should converge to, from what they really are.
    pub(super) fn truth(&mut self) -> Option<Rc<Ownership>> {
        let members: Vec<_> = self
            .hosts
            .iter()
            .filter_map(|h| h.node.as_ref()?.as_member())
            .collect();
        if members.is_empty() {
            return None;
        }
        let view = View::new(members);
        let d = view.digest();
        if let Some(o) = self.truth_cache.get(&d) {
            return Some(o.clone());
        }
        let o = Rc::new(Ownership::build(
            &self.hosts[0].config.cluster,
            &view.live_hosts(),
        ));
        self.truth_cache.insert(d, o.clone());
        Some(o)
    }

    /// True when every slot is admitted by exactly the host the live hosts should agree on.
    pub(super) fn converged(&mut self) -> usize {
        let truth = self.truth();
        let mut wrong = 0;
        let leases: Vec<bool> = (0..self.hosts.len()).map(|h| self.lease_ok(h)).collect();
        for r in 0..3usize {
            let n = self.hosts[0].admit_bits[r].len() * 64;
            let slots = match r {
                0 => SIM_TABLE_SIZE as usize,
                _ => 1,
            }
            .min(n);
            for s in 0..slots {
                let want = truth.as_ref().and_then(|o| owner_of(o, r, s as u32));
                let mut admitting =
                    self.hosts.iter().enumerate().filter(|(i, h)| {
                        leases[*i] && h.admit_bits[r][s / 64] & (1 << (s % 64)) != 0
                    });
                let first = admitting.next().map(|(_, h)| h.config.host.id);
                let more = admitting.next().is_some();
                if more || first != want {
                    wrong += 1;
                }
            }
        }
        wrong
    }

    pub(super) fn check(&mut self) {
        if let Some(since) = self.fault_since {
            if !self.partitioned && self.converged() == 0 {
                let took = self.now - since;
                self.report
                    .convergences_ms
                    .push(took.as_secs_f64() * 1000.0);
                if let Some(c) = self.crash_at.take() {
                    let failover = self.now - c;
                    self.report.failover_ms = Some(failover.as_secs_f64() * 1000.0);
                    if failover > ms(1000) {
                        self.report.violation(
                            self.now,
                            format!(
                                "failover took {} ms, more than 1000 ms",
                                failover.as_millis()
                            ),
                        );
                    }
                }
                self.fault_since = None;
            }
        }
    }

    pub(super) fn finish(&mut self, quiet_from: Duration, drain_host: Option<usize>) {
        // I2: after the network has been stable for the convergence bound, every slot
        // has exactly one owner among the live, started hosts.
        if self.now >= quiet_from + self.convergence_bound {
            let wrong = self.converged();
            if wrong > 0 {
                let msg = format!(
                    "I2: {wrong} slots without exactly their one rightful owner {} ms after the network became stable",
                    (self.now - quiet_from).as_millis()
                );
                self.report.violation(self.now, msg);
            }
        }
        if let Some(h) = drain_host {
            let state = self.hosts[h].node.as_ref().map(|n| n.state());
            if state != Some(WireState::Stopped) {
                let msg = format!(
                    "drainstop: host {} is {:?} at the end, not stopped",
                    self.hosts[h].config.host.id, state
                );
                self.report.violation(self.now, msg);
            }
        }
        self.report.max_convergence_ms = self
            .report
            .convergences_ms
            .iter()
            .copied()
            .fold(0.0, f64::max);
    }
}
