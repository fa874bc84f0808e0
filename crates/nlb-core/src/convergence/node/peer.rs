//! Peers: what this host knows of each, and how a received frame is judged (its tag,
//! its incarnation, its freshness) before it may change anything.

use super::Node;
use crate::convergence::api::{Event, LossReason, Rejection};
use crate::convergence::held::HeldFilter;
use crate::host::HostId;
use crate::mac::MacAddr;
use crate::time::Time;
use crate::wire::{DecodeError, HeartbeatView, WireRule, WireState, ACK_MASK};
use std::time::Duration;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Peer {
    pub(super) nonce: u64,
    pub(super) last_seq: u64,
    pub(super) previous: Option<(u64, u64)>,
    pub(super) refused: Vec<u64>,
    pub(super) heard_at: Time,
    pub(super) fresh_at: Option<Time>,
    /// Whether the last frame heard (`last_seq`) refreshed `fresh_at`.
    pub(super) last_was_fresh: bool,
    pub(super) state: WireState,
    pub(super) digest: [u8; 16],
    pub(super) rules: Vec<WireRule>,
    /// Digest of `rules`, kept to spare recomputing it for every proposal.
    pub(super) settings: u64,
    pub(super) proposed: u64,
    pub(super) committed: Option<u64>,
    pub(super) held: u32,
    /// Which slots it holds those connections in.
    pub(super) held_filter: HeldFilter,
    /// Frames of an unverified other incarnation since the last report, and when the
    /// first of them came.
    pub(super) unverified: Option<(u64, Time)>,
    /// When such frames were last reported.
    pub(super) unverified_reported: Option<Time>,
    /// The latest unverified other incarnation heard (a restart, or a replay): it is
    /// acknowledged once the verified one has gone quiet, so that a restarted host can
    /// prove in one round trip that it hears us and we hear it.
    #[serde(default)]
    pub(super) candidate: Option<Candidate>,
    /// Send time of our latest frame this peer acknowledged while its committed view
    /// was one that includes us.
    pub(super) lease_ack: Option<Time>,
    pub(super) mismatch_reported: bool,
    /// VIP frames a second its data path sees, as it last said.
    #[serde(default)]
    pub(super) vip_frames: u32,
}

/// An unverified incarnation of a peer: its nonce, last sequence number, when heard.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct Candidate {
    pub(super) nonce: u64,
    pub(super) last_seq: u64,
    pub(super) heard_at: Time,
}

/// How often at most a peer that is heard but not verified is reported.
pub(super) const UNVERIFIED_REPORT_EVERY: Duration = Duration::from_secs(10);

impl Node {
    pub(super) fn accept(&mut self, now: Time, frame: &[u8]) -> Result<(), Rejection> {
        let hb = match HeartbeatView::parse(frame, &self.key) {
            Ok(v) => v,
            Err(DecodeError::BadTag) => {
                self.counters.auth_failures += 1;
                self.auth_failure_at = Some(now);
                self.auth_failures_unreported += 1;
                self.last_auth_src = MacAddr(frame[6..12].try_into().expect("checked by parse"));
                return Err(Rejection::Authentication);
            }
            Err(e) => {
                self.counters.malformed += 1;
                return Err(Rejection::Malformed(e));
            }
        };
        if hb.host_id() == self.id.0 {
            return self.accept_own_id(&hb, now);
        }
        // Whether this frame acknowledges one of our recent frames: the sender is live
        // and hears us. No replay of a frame sent before our recent ones can.
        let entry = hb.member(self.id.0);
        let fresh = entry.is_some_and(|m| self.sent_time_of(m.ack, now, self.ack_window).is_some());
        // Replay protection per sender incarnation.
        let id = hb.host_id();
        let (nonce, seq) = (hb.boot_nonce(), hb.seq());
        let mut restarted = false;
        match self.peers.get_mut(&id) {
            Some(p) if p.refused.contains(&nonce) => {
                self.counters.stale_incarnations += 1;
                return Err(Rejection::StaleIncarnation);
            }
            Some(p) if nonce == p.nonce => {
                if seq <= p.last_seq {
                    self.counters.replays += 1;
                    return Err(Rejection::Replay);
                }
            }
            Some(p) if fresh => {
                // Another incarnation that hears us now: the host restarted. Its nonce
                // is random, so nothing orders incarnations but this proof of liveness.
                p.previous = Some((p.nonce, p.last_seq));
                p.nonce = nonce;
                p.last_seq = 0;
                p.fresh_at = None;
                p.lease_ack = None;
                p.unverified = None;
                p.candidate = None;
                restarted = true;
            }
            Some(p) => {
                // Another incarnation that does not prove it hears us: a replay of any
                // past one, or a restarted host that has not heard us yet (its next
                // frame will acknowledge ours). Counted, reported if it goes on, and
                // acknowledged as a candidate (see `Candidate`); never believed.
                match &mut p.candidate {
                    Some(c) if c.nonce == nonce && seq <= c.last_seq => {
                        self.counters.replays += 1;
                        return Err(Rejection::Replay);
                    }
                    Some(c) if c.nonce == nonce => {
                        c.last_seq = seq;
                        c.heard_at = now;
                    }
                    _ => {
                        p.candidate = Some(Candidate {
                            nonce,
                            last_seq: seq,
                            heard_at: now,
                        })
                    }
                }
                let (n, _) = p.unverified.get_or_insert((0, now));
                *n += 1;
                self.counters.stale_incarnations += 1;
                return Err(Rejection::StaleIncarnation);
            }
            None => {
                self.peers.insert(
                    id,
                    Peer {
                        nonce,
                        last_seq: 0,
                        previous: None,
                        refused: Vec::new(),
                        heard_at: now,
                        fresh_at: None,
                        last_was_fresh: false,
                        state: WireState::Stopped,
                        digest: [0; 16],
                        rules: Vec::new(),
                        settings: crate::convergence::view::settings_digest(&[]),
                        proposed: 0,
                        committed: None,
                        held: 0,
                        held_filter: HeldFilter::default(),
                        unverified: None,
                        unverified_reported: None,
                        candidate: None,
                        lease_ack: None,
                        mismatch_reported: false,
                        vip_frames: 0,
                    },
                );
            }
        }
        self.counters.accepted += 1;
        // Whether it renews our lease.
        let lease_from = entry
            .filter(|m| m.fresh)
            .and_then(|m| self.sent_time_of(m.ack, now, self.loss_window));
        let acceptable_for_lease = match hb.committed() {
            None => true,
            Some(d) => {
                Some(d) == self.committed_digest()
                    || Some(d) == self.previous_committed
                    || d == self.proposed_digest
            }
        };
        // Heard again after a gap (a blackout, a lost burst), or heard while our lease
        // has lapsed: answer at once (within the ten-a-period limit) rather than at the
        // next period. Renewing a lease takes frames both ways, each acknowledging the
        // other's latest as fresh; at one exchange a period that is up to three periods
        // of fenced new flows after a blackout in which nothing failed, at once it is a
        // few round trips.
        let lapsed = self.lease.is_some_and(|l| now >= l);
        let regained = self.period + self.period / 2;
        let p = self.peers.get_mut(&id).expect("inserted above");
        if lapsed || now.saturating_duration_since(p.heard_at) > regained {
            self.send_soon = true;
        }
        p.last_seq = seq;
        p.heard_at = now;
        p.state = hb.state();
        p.digest = hb.cluster_digest();
        if p.rules.len() != hb.rule_count() || !hb.rules().eq(p.rules.iter().copied()) {
            p.rules = hb.rules().collect();
            p.settings = crate::convergence::view::settings_digest(&p.rules);
        }
        p.proposed = hb.proposed();
        p.committed = hb.committed();
        p.held = hb.held();
        p.vip_frames = hb.vip_frames();
        if p.held_filter.as_bytes() != hb.held_filter() {
            p.held_filter = HeldFilter::from_bytes(hb.held_filter());
        }
        p.last_was_fresh = fresh;
        if fresh {
            p.unverified = None;
        }
        if fresh {
            // Live again after a while: it needs our fresh acknowledgement of this very
            // frame to renew its lease, and should not wait a period for it.
            if p.fresh_at
                .is_none_or(|f| now.saturating_duration_since(f) > regained)
            {
                self.send_soon = true;
            }
            p.fresh_at = Some(now);
        }
        if let (Some(sent_at), true) = (lease_from, acceptable_for_lease) {
            p.lease_ack = Some(p.lease_ack.map_or(sent_at, |a| a.max(sent_at)));
        }
        if hb.state() == WireState::Refused {
            // That incarnation gave way to an older one with the same id: forget it.
            p.refused.push(nonce);
            if p.refused.len() > 4 {
                p.refused.remove(0);
            }
            if let Some((n, s)) = p.previous.take() {
                p.nonce = n;
                p.last_seq = s;
            }
            p.fresh_at = None;
            p.lease_ack = None;
        }
        if restarted && self.proposed.get(HostId(id)).is_some() {
            self.events.push_back(Event::HostLost {
                host: HostId(id),
                reason: LossReason::Restarted,
            });
        }
        let mismatch = p.digest != self.digest;
        if mismatch && !p.mismatch_reported {
            p.mismatch_reported = true;
            let theirs = p.digest;
            self.update_standing_aside(now);
            self.events.push_back(Event::ConfigMismatch {
                host: HostId(id),
                theirs,
                we_stand_aside: self.blocked_by_mismatch,
            });
        } else if !mismatch {
            p.mismatch_reported = false;
        }
        Ok(())
    }

    /// A frame carrying our own id: our own looped back, or a duplicate host id.
    pub(super) fn accept_own_id(
        &mut self,
        hb: &HeartbeatView<'_>,
        now: Time,
    ) -> Result<(), Rejection> {
        let theirs = hb.boot_nonce();
        if theirs == self.nonce || hb.state() == WireState::Refused {
            return Err(Rejection::Own);
        }
        // A live duplicate hears our peers as we do: it acknowledges what they sent
        // last. A replay of an old incarnation's frame (our own previous boot's, say)
        // acknowledges what they sent long ago, and is not believed. Only peers we have
        // verified (fresh) count: replays can put old sequence numbers in other records.
        let live = hb.view().any(|m| {
            self.peers
                .get(&m.id)
                .filter(|p| self.fresh(p, now))
                .is_some_and(|p| {
                    let d = (p.last_seq & ACK_MASK).wrapping_sub(u64::from(m.ack)) & ACK_MASK;
                    d <= 2 || d >= ACK_MASK - 2
                })
        });
        if !live {
            self.counters.replays += 1;
            return Err(Rejection::Replay);
        }
        self.counters.accepted += 1;
        // The younger incarnation gives way: ages come from each host's monotonic
        // clock, which no wall-clock step moves. Ages within a loss window of each other
        // (hosts started together, or a frame's transit) are a tie the nonces settle, so
        // both sides always reach the same answer.
        let ours = now.saturating_duration_since(self.started_at);
        let theirs_age = hb.age();
        let we_refuse = if ours + self.loss_window < theirs_age {
            true
        } else if theirs_age + self.loss_window < ours {
            false
        } else {
            self.nonce < theirs
        };
        if we_refuse && self.state != WireState::Refused {
            self.events
                .push_back(Event::DuplicateHostId { theirs, we_refuse });
            self.stop_now(WireState::Refused);
        } else if !we_refuse {
            self.events
                .push_back(Event::DuplicateHostId { theirs, we_refuse });
        }
        Ok(())
    }

    pub(super) fn report_auth_failures(&mut self, now: Time) {
        /// At most one report a second, whatever the period: a flood of forged frames
        /// makes one log line a second.
        const AUTH_REPORT_INTERVAL: Duration = Duration::from_secs(1);
        if self.auth_failures_unreported == 0 {
            return;
        }
        if self
            .last_auth_report
            .is_some_and(|t| now < t + AUTH_REPORT_INTERVAL)
        {
            return;
        }
        self.events.push_back(Event::AuthenticationFailures {
            src: self.last_auth_src,
            count: self.auth_failures_unreported,
        });
        self.auth_failures_unreported = 0;
        self.last_auth_report = Some(now);
    }

    /// Reports peers heard only through frames of an unverified incarnation for a loss
    /// window (a restarted host is verified within a period), at most every ten seconds.
    pub(super) fn report_unverified(&mut self, now: Time) {
        for (&id, p) in self.peers.iter_mut() {
            let Some((frames, since)) = p.unverified else {
                continue;
            };
            let due = now >= since + self.loss_window
                && p.unverified_reported
                    .is_none_or(|t| now >= t + UNVERIFIED_REPORT_EVERY);
            if due {
                self.events.push_back(Event::PeerUnverified {
                    host: HostId(id),
                    frames,
                });
                p.unverified_reported = Some(now);
                p.unverified = None;
            }
        }
    }

    pub(super) fn fresh(&self, p: &Peer, now: Time) -> bool {
        p.fresh_at.is_some_and(|f| now < f + self.loss_window)
    }

    /// True when some peer was heard within the loss window.
    pub fn hears_peers(&self, now: Time) -> bool {
        self.peers.values().any(|p| self.heard(p, now))
    }

    pub(super) fn heard(&self, p: &Peer, now: Time) -> bool {
        now < p.heard_at + self.loss_window
    }
}
