//! The convergence state machine of one host, driven only by its inputs: received
//! frames with their receive time, `tick(now)`, operator commands, and the data path's
//! reports of connections held in released slots. No sockets, threads or clocks: the
//! daemon and the simulator move bytes and time in, and frames, events and slot
//! states out.
//!
//! Safety rests on three rules:
//! 1. A view is committed when every member proposes it; a slot gained in a view takes
//!    new flows only after every member has advertised that view as committed, so the
//!    previous owner has released it.
//! 2. Leases: every heartbeat acknowledges the last sequence number heard from each
//!    peer, marked fresh when that frame refreshed the peer's liveness (it acknowledged
//!    one of our recent frames). A host admits new flows only until `(send time of its
//!    latest frame every member acknowledged as fresh) + (loss tolerance - 1) periods`.
//!    A peer declares it lost no earlier than `loss tolerance` periods after receiving
//!    its last fresh frame, so a host that can no longer reach its peers, in either
//!    direction, stops before they take its slots over. Acknowledgements count only
//!    from peers whose committed view includes this host.
//! 3. Liveness is refreshed only by frames that acknowledge one of this host's own
//!    recent sequence numbers (which start at a random offset each boot), so captured
//!    frames replayed later cannot keep or bring a host into the view. The same proof
//!    is what makes a peer's new incarnation (a restart: a new random nonce) replace the
//!    one we know: incarnations are not ordered by any clock, so a restart is believed
//!    only from a frame that acknowledges one of our recent frames, which no replay of
//!    any past incarnation can.
//!
//! A slot's handover ends only when its previous owner holds no connection there (the
//! data path reports it, per slot, and heartbeats advertise it in a [`HeldFilter`]) or
//! that owner leaves the view: never on a clock.

mod ghosts;
mod handoff;
mod lease;
mod membership;
mod ownership;
mod peer;
mod reception;
mod send;
mod slot_table;
mod snapshot;

use ghosts::Ghosts;
pub use handoff::{HandOff, ResumeError};
use lease::SENT_HISTORY;
use peer::Peer;
use slot_table::SlotTable;

use super::api::{Command, CommandError, Counters, Event, Rejection, RuleMode, RuleSelector};
use super::view::View;
use crate::classify::{Ownership, RuleOwnership};
use crate::config::{ClusterConfig, Config};
use crate::host::{HostId, HostRuleSettings, InitialState};
use crate::mac::MacAddr;
use crate::rules::Filtering;
use crate::time::Time;
use crate::wire::WireState;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A member lost by silence is known dead after this many loss windows of silence...
const DEAD_AFTER_LOSS_WINDOWS: u32 = 10;
/// ...and never sooner than this: a live migration's blackout, a paused VM or a switch
/// relearning its ports lasts seconds at most, and a host cut off for that long must
/// find its connections intact when it is heard again.
const DEAD_AFTER_MIN: Duration = Duration::from_secs(5);

pub(super) struct Committed {
    view: View,
    digest: u64,
    ownership: Ownership,
    at: Time,
}

/// The convergence state machine of one host.
pub struct Node {
    cluster: ClusterConfig,
    id: HostId,
    key: [u8; 32],
    digest: [u8; 16],
    nonce: u64,
    next_seq: u64,
    src: MacAddr,
    dst: MacAddr,
    period: Duration,
    loss_window: Duration,
    /// An acknowledgement proves a peer is live only if it acknowledges a frame sent
    /// this recently: older ones may come from replayed frames.
    ack_window: Duration,
    lease_span: Duration,
    state: WireState,
    base: Vec<HostRuleSettings>,
    modes: Vec<RuleMode>,
    weights: Vec<u8>,
    peers: BTreeMap<u8, Peer>,
    sent: VecDeque<(u64, Time)>,
    proposed: View,
    proposed_digest: u64,
    committed: Option<Committed>,
    previous_committed: Option<u64>,
    /// Per rule, then one slot for the default host's traffic.
    slots: SlotTable,
    /// Members lost by silence whose slots stay new-flows-only until they are known dead.
    ghosts: Ghosts,
    /// How long a silent member must stay silent to be known dead.
    dead_after: Duration,
    /// VIP frames a second this host's data path sees, as the daemon last said.
    vip_frames: u32,
    /// What the members' VIP frame counts said when last reported.
    reception_reported: Option<super::api::Reception>,
    /// Who looks starved now, if that differs from what was reported, and since when.
    reception_since: Option<(Option<Vec<HostId>>, Time)>,
    /// When this incarnation started (its age, advertised, settles duplicate host ids).
    started_at: Time,
    /// When a drainstop with a timeout stops the host.
    drain_deadline: Option<Time>,
    /// When the state machine last had an input (a tick, a frame, a command).
    last_input: Time,
    blocked_by_mismatch: bool,
    /// Not yet in any view, it hears heartbeats that fail authentication and no
    /// authentic peer: its key is wrong, or someone forges. Either way it must not
    /// take the VIP alone (it commits no view of itself alone).
    blocked_by_key: bool,
    /// When the last heartbeat failed authentication.
    auth_failure_at: Option<Time>,
    /// The lease as of the last input (see [`Node::lease_expiry`]).
    lease: Option<Time>,
    /// After a start, a host listens for a loss window before it may commit a view of
    /// new hosts only: it would otherwise take every slot from peers it has not heard yet.
    listening_until: Time,
    next_send: Time,
    last_send: Option<Time>,
    send_soon: bool,
    auth_failures_unreported: u64,
    last_auth_src: MacAddr,
    last_auth_report: Option<Time>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    counters: Counters,
}

impl Node {
    /// A host as configured. `boot_nonce` names this incarnation and must differ from
    /// every earlier one of the host: the daemon draws it at random, for no clock can be
    /// trusted to grow across a restart. `seq_start` should be random too. `src` is the
    /// MAC heartbeats are sent from.
    pub fn new(
        config: &Config,
        key: [u8; 32],
        boot_nonce: u64,
        seq_start: u64,
        src: MacAddr,
        now: Time,
    ) -> Node {
        let cluster = config.cluster.clone();
        let period = Duration::from_millis(cluster.heartbeat_period_ms.into());
        let tolerance = cluster.loss_tolerance;
        // Broadcast in every mode (Windows sends to the cluster MAC in the multicast
        // modes): a snooping switch that lost the group's membership for a port (a
        // moved VM, a flushed table) still delivers broadcasts, so members keep hearing
        // each other while the membership is relearnt.
        let dst = MacAddr::BROADCAST;
        let state = match config.host.state {
            InitialState::Started => WireState::Started,
            InitialState::Stopped => WireState::Stopped,
            InitialState::Suspended => WireState::Suspended,
        };
        let slots = SlotTable::new(&cluster);
        let mut node = Node {
            digest: cluster.digest().0,
            id: config.host.id,
            key,
            nonce: boot_nonce,
            next_seq: seq_start,
            src,
            dst,
            period,
            loss_window: period * tolerance,
            ack_window: period * 2,
            lease_span: period * (tolerance - 1),
            state,
            base: config.host.rules.clone(),
            modes: vec![RuleMode::Enabled; cluster.rules.len()],
            weights: config.host.rules.iter().map(|r| r.weight.value()).collect(),
            peers: BTreeMap::new(),
            sent: VecDeque::with_capacity(SENT_HISTORY),
            proposed: View::default(),
            proposed_digest: View::default().digest(),
            committed: None,
            previous_committed: None,
            slots,
            ghosts: Ghosts::default(),
            dead_after: (period * tolerance * DEAD_AFTER_LOSS_WINDOWS).max(DEAD_AFTER_MIN),
            vip_frames: 0,
            reception_reported: None,
            reception_since: None,
            started_at: now,
            drain_deadline: None,
            last_input: now,
            blocked_by_mismatch: false,
            blocked_by_key: false,
            auth_failure_at: None,
            lease: None,
            listening_until: now + period * tolerance,
            next_send: now,
            last_send: None,
            send_soon: true,
            auth_failures_unreported: 0,
            last_auth_src: MacAddr::default(),
            last_auth_report: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            cluster,
        };
        node.reevaluate(now);
        node
    }

    /// This host's id.
    pub fn id(&self) -> HostId {
        self.id
    }

    /// The cluster configuration.
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    /// Each rule's mode on this host (enabled, disabled, draining), in the rules' order.
    pub fn rule_modes(&self) -> &[RuleMode] {
        &self.modes
    }

    /// This host's advertised state.
    pub fn state(&self) -> WireState {
        self.state
    }

    /// How long a member lost by silence must stay silent before this host takes the
    /// segments of its connections (see the `ghosts` module).
    pub fn dead_after(&self) -> Duration {
        self.dead_after
    }

    /// The next frame to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Frame counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The next time after `now` at which `tick` must be called.
    pub fn next_deadline(&self, now: Time) -> Time {
        let mut candidates = vec![self.next_send, self.listening_until];
        candidates.extend(self.auth_failure_at.map(|t| t + self.loss_window));
        if self.send_soon || self.probing(now) {
            candidates.push(self.earliest_triggered_send());
        }
        for p in self.peers.values() {
            if let Some(f) = p.fresh_at {
                candidates.push(f + self.loss_window);
            }
            candidates.push(p.heard_at + self.loss_window);
        }
        for id in self.ghosts.ids() {
            candidates.extend(self.peers.get(&id).map(|p| p.heard_at + self.dead_after));
        }
        candidates.extend(self.lease_expiry());
        candidates.extend(self.drain_deadline);
        candidates
            .into_iter()
            .filter(|&d| d > now)
            .min()
            .unwrap_or(now + self.period)
    }

    /// Advances time: sends due heartbeats, loses silent peers, ends timed-out drains.
    pub fn tick(&mut self, now: Time) {
        self.reevaluate(now);
    }

    /// Handles one received frame.
    ///
    /// A rejected frame changes nothing but the counters (and, when it fails
    /// authentication, the time of the last such frame).
    pub fn handle_frame(&mut self, now: Time, frame: &[u8]) -> Result<(), Rejection> {
        self.note_time(now);
        self.accept(now, frame)?;
        self.reevaluate(now);
        Ok(())
    }

    /// Applies an operator command.
    pub fn command(&mut self, now: Time, cmd: Command) -> Result<(), CommandError> {
        if self.state == WireState::Refused {
            return Err(CommandError::Refused);
        }
        if self.state == WireState::Suspended && cmd != Command::Resume {
            return Err(CommandError::Suspended);
        }
        let check = |sel: RuleSelector, n: usize| match sel {
            RuleSelector::Index(i) if i >= n => Err(CommandError::NoSuchRule(i)),
            _ => Ok(()),
        };
        match cmd {
            Command::Start => {
                if self.state == WireState::Stopped {
                    self.listening_until = now + self.loss_window;
                }
                self.drain_deadline = None;
                if matches!(self.state, WireState::Stopped | WireState::Draining) {
                    self.set_state(WireState::Started);
                }
            }
            Command::Stop => {
                self.drain_deadline = None;
                self.stop_now(WireState::Stopped)
            }
            Command::Suspend => self.stop_now(WireState::Suspended),
            Command::Resume => {
                if self.state == WireState::Suspended {
                    self.set_state(WireState::Stopped);
                }
            }
            Command::DrainStop { timeout } => {
                if self.state == WireState::Started {
                    self.set_state(WireState::Draining);
                    self.release_now(None, true, now);
                }
                if self.state == WireState::Draining {
                    self.drain_deadline = timeout.map(|t| now + t);
                }
            }
            Command::Enable(sel) | Command::Disable(sel) | Command::Drain(sel) => {
                check(sel, self.modes.len())?;
                let mode = match cmd {
                    Command::Enable(_) => RuleMode::Enabled,
                    Command::Disable(_) => RuleMode::Disabled,
                    _ => RuleMode::Draining,
                };
                for i in 0..self.modes.len() {
                    if sel == RuleSelector::All || sel == RuleSelector::Index(i) {
                        self.modes[i] = mode;
                        // Disabling and draining act at once on this host; the view
                        // change that follows only hands the slots to others.
                        match mode {
                            RuleMode::Disabled => self.release_now(Some(i), false, now),
                            RuleMode::Draining => self.release_now(Some(i), true, now),
                            RuleMode::Enabled => {}
                        }
                    }
                }
            }
            Command::SetWeight { rule, weight } => {
                check(RuleSelector::Index(rule), self.modes.len())?;
                if self.cluster.rules[rule].filtering != Filtering::Multiple {
                    return Err(CommandError::NotMultiple(rule));
                }
                if weight > 100 {
                    return Err(CommandError::WeightOutOfRange(weight));
                }
                self.weights[rule] = weight;
            }
        }
        self.send_soon = true;
        self.reevaluate(now);
        Ok(())
    }

    /// The data path's report of connections this host still holds in a released slot
    /// (`rule` equal to the rule count stands for the default host's traffic).
    pub fn report_held(&mut self, now: Time, rule: usize, slot: u32, connections: u32) {
        self.report_held_many(now, [((rule, slot), connections)]);
    }

    /// [`Node::report_held`] for many slots at once, evaluated once.
    pub fn report_held_many(
        &mut self,
        now: Time,
        reports: impl IntoIterator<Item = ((usize, u32), u32)>,
    ) {
        for (key, connections) in reports {
            self.slots.report(key, connections);
        }
        self.reevaluate(now);
    }

    /// The ownership of the committed view.
    pub fn ownership(&self) -> Option<&Ownership> {
        self.committed.as_ref().map(|c| &c.ownership)
    }

    /// Digest of the committed view.
    pub fn committed_digest(&self) -> Option<u64> {
        self.committed.as_ref().map(|c| c.digest)
    }

    /// The committed view.
    pub fn committed_view(&self) -> Option<&View> {
        self.committed.as_ref().map(|c| &c.view)
    }

    /// Members of the committed view.
    pub fn committed_members(&self) -> Vec<HostId> {
        self.committed
            .as_ref()
            .map(|c| c.view.ids())
            .unwrap_or_default()
    }

    /// Notices a gap in this host's own inputs. The daemon ticks at least every
    /// period, so a longer gap means the process did not run: whatever peers sent
    /// meanwhile was never read. Their silence over the gap is ours, not theirs: they
    /// are credited with it, so a host that wakes does not take every slot from peers
    /// it merely did not listen to. Its lease, which only their acknowledgements renew,
    /// has lapsed meanwhile if the gap was long: it admits no new flow until they hear
    /// it again.
    fn note_time(&mut self, now: Time) {
        let gap = now.saturating_duration_since(self.last_input);
        self.last_input = self.last_input.max(now);
        if gap <= self.period * 2 {
            return;
        }
        for p in self.peers.values_mut() {
            p.heard_at += gap;
            p.fresh_at = p.fresh_at.map(|f| f + gap);
        }
        self.auth_failure_at = self.auth_failure_at.map(|t| t + gap);
        self.listening_until = self.listening_until.max(now + self.loss_window);
        self.events.push_back(Event::Stalled { gap });
    }

    fn reevaluate(&mut self, now: Time) {
        self.note_time(now);
        self.update_standing_aside(now);
        self.update_proposal(now);
        self.try_commit(now);
        self.progress(now);
        self.lease = self.compute_lease();
        self.report_auth_failures(now);
        self.report_unverified(now);
        self.update_reception(now);
        self.maybe_send(now);
    }

    fn set_state(&mut self, to: WireState) {
        if self.state != to {
            self.events.push_back(Event::StateChanged {
                from: self.state,
                to,
            });
            self.state = to;
            self.send_soon = true;
        }
    }

    /// Leaves at once: drops every slot and connection, then announces it.
    fn stop_now(&mut self, to: WireState) {
        self.set_state(to);
        self.uncommit();
    }
}

/// The owner of a slot in an ownership (`rule` equal to the rule count: the default host).
pub fn owner_of(o: &Ownership, rule: usize, slot: u32) -> Option<HostId> {
    match o.rules.get(rule) {
        Some(RuleOwnership::Multiple(t)) => t.owner(slot),
        Some(RuleOwnership::Single(h)) => *h,
        Some(RuleOwnership::Disabled) => None,
        None => o.default_host,
    }
}
