//! Modelled client connections: opened where exactly one host admits new flows, kept
//! alive by packets, reset by a host that takes a segment it does not know.

use super::{ms, Ev, World};
use nlb_core::convergence::SlotState;
use std::time::Duration;

pub(super) struct Conn {
    pub(super) rule: usize,
    pub(super) slot: u32,
    pub(super) holder: Option<usize>,
    pub(super) opens_at: Duration,
    pub(super) closes_at: Duration,
    pub(super) alive: bool,
    /// Time between its packets, in ms: least and most.
    pub(super) gap_ms: (u64, u64),
}

impl World {
    pub(super) fn open(&mut self, c: usize) {
        let now = self.now;
        let (rule, slot) = (self.conns[c].rule, self.conns[c].slot);
        let admitting: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| {
                self.hosts[h].node.as_ref().is_some_and(|n| {
                    n.slot_state(rule, slot).admits_new_flows() && self.lease_ok(h)
                })
            })
            .collect();
        self.report.connections += 1;
        match admitting.as_slice() {
            [] => self.report.refused_new_flows += 1,
            [h] => {
                let h = *h;
                self.conns[c].holder = Some(h);
                self.conns[c].alive = true;
                self.hosts[h].conntrack.insert(c, (rule, slot));
                let (lo, hi) = self.conns[c].gap_ms;
                let next = now + ms(self.traffic_rng.range(lo, hi));
                self.push(next, Ev::Packet { conn: c });
                let close = self.conns[c].closes_at;
                self.push(close, Ev::Close { conn: c });
                self.after(h);
            }
            many => {
                // I1 is reported by the slot check; here the client sees two answers.
                self.report.duplicate_answers += 1;
                let _ = many;
            }
        }
    }

    pub(super) fn packet(&mut self, c: usize) {
        if !self.conns[c].alive {
            return;
        }
        let Some(holder) = self.conns[c].holder else {
            return;
        };
        if !self.hosts[holder].conntrack.contains_key(&c) {
            self.conns[c].alive = false;
            self.report.lost_with_host += 1;
            return;
        }
        let (rule, slot) = (self.conns[c].rule, self.conns[c].slot);
        let holder_id = self.hosts[holder].config.host.id;
        for g in 0..self.hosts.len() {
            if g == holder || !self.lease_ok(g) {
                continue;
            }
            let Some(node) = self.hosts[g].node.as_ref() else {
                continue;
            };
            if node.slot_state(rule, slot) != SlotState::Owned {
                continue;
            }
            // Host g takes a segment of a connection it does not know: its kernel resets
            // it. The holder is alive (it still tracks the connection), whether or not g
            // still counts it as a member.
            self.conns[c].alive = false;
            self.hosts[holder].conntrack.remove(&c);
            if !self.reset_excused(holder, g, self.conns[c].opens_at) {
                self.report.broken_connections += 1;
                let msg = format!(
                    "I3: host {} reset a connection held by host {} in rule {rule} slot {slot}",
                    self.hosts[g].config.host.id, holder_id
                );
                self.report.violation(self.now, msg);
            } else {
                self.report.excused_resets += 1;
            }
            self.after(holder);
            return;
        }
        let (lo, hi) = self.conns[c].gap_ms;
        let next = self.now + ms(self.traffic_rng.range(lo, hi));
        self.push(next, Ev::Packet { conn: c });
    }

    pub(super) fn close(&mut self, c: usize) {
        if !self.conns[c].alive {
            return;
        }
        self.conns[c].alive = false;
        self.report.completed += 1;
        if let Some(h) = self.conns[c].holder {
            self.hosts[h].conntrack.remove(&c);
            self.after(h);
        }
    }
}
