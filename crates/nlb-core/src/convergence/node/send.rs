//! Sending: when a heartbeat is due, and what it says.

use super::lease::SENT_HISTORY;
use super::peer::Peer;
use super::Node;
use crate::convergence::held::HeldFilter;
use crate::time::Time;
use crate::wire::{held_filter_room, Heartbeat, WireMember, WireState, ACK_MASK};

impl Node {
    pub(super) fn earliest_triggered_send(&self) -> Time {
        // Triggered heartbeats are rate-limited to ten per period.
        self.last_send.map_or(Time::ZERO, |t| t + self.period / 10)
    }

    /// While a member's lease has lapsed it probes at the triggered rate (ten a
    /// period) instead of once a period: after a blackout in which nothing failed (a
    /// migration, a switch reboot) its peers' answers renew it within a few round trips
    /// of the links coming back, instead of whenever the next periodic frame goes.
    pub(super) fn probing(&self, now: Time) -> bool {
        self.lease.is_some_and(|l| now >= l)
    }

    pub(super) fn maybe_send(&mut self, now: Time) {
        let due = now >= self.next_send
            || ((self.send_soon || self.probing(now)) && now >= self.earliest_triggered_send());
        if !due {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // A candidate incarnation is acknowledged instead of the verified one once that
        // has been quiet for a period: a restarted host then sees that we hear it (and
        // its next frame, acknowledging ours, verifies it here). Never marked fresh: it
        // renews no lease.
        let candidate = |p: &Peer| {
            p.candidate.filter(|c| {
                c.heard_at > p.heard_at
                    && now >= p.heard_at + self.period
                    && now < c.heard_at + self.loss_window
            })
        };
        let view: Vec<WireMember> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                (self.heard(p, now) || candidate(p).is_some())
                    && p.digest == self.digest
                    && p.state != WireState::Refused
            })
            .map(|(&id, p)| match candidate(p) {
                Some(c) => WireMember {
                    id,
                    state: p.state,
                    settings_digest: p.settings as u8,
                    ack: (c.last_seq & ACK_MASK) as u32,
                    fresh: false,
                },
                None => WireMember {
                    id,
                    state: p.state,
                    settings_digest: p.settings as u8,
                    ack: (p.last_seq & ACK_MASK) as u32,
                    fresh: p.last_was_fresh,
                },
            })
            .collect();
        let held = self.held();
        let room = held_filter_room(self.cluster.rules.len(), view.len());
        let held_filter = if held > 0 {
            HeldFilter::build(room, self.slots.held_slots())
        } else {
            HeldFilter::default()
        };
        let hb = Heartbeat {
            dst: self.dst,
            src: self.src,
            host_id: self.id.0,
            state: self.state,
            cluster_digest: self.digest,
            boot_nonce: self.nonce,
            age: now.saturating_duration_since(self.started_at),
            vip_frames: self.vip_frames,
            seq,
            proposed: self.proposed_digest,
            committed: self.committed_digest(),
            held,
            rules: self.my_rules(),
            view,
            held_filter: held_filter.as_bytes().to_vec(),
        };
        self.transmit.push_back(hb.encode(&self.key));
        if self.sent.len() == SENT_HISTORY {
            self.sent.pop_front();
        }
        self.sent.push_back((seq, now));
        self.counters.sent += 1;
        self.last_send = Some(now);
        self.next_send = now + self.period;
        self.send_soon = false;
    }
}
