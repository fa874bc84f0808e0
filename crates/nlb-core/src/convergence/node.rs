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

use super::held::HeldFilter;
use super::slots::{SlotCounts, SlotState};
use super::view::{Member, View};
use crate::classify::{Ownership, RuleOwnership};
use crate::config::{ClusterConfig, Config};
use crate::host::{HostId, HostRuleSettings, InitialState};
use crate::mac::MacAddr;
use crate::rules::Filtering;
use crate::wire::{
    held_filter_room, DecodeError, Heartbeat, HeartbeatView, WireMember, WireRule, WireState,
    ACK_MASK, RULE_DRAINING, RULE_ENABLED,
};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

/// How many of our own sent sequence numbers we remember to match acknowledgements.
const SENT_HISTORY: usize = 1024;

/// A rule's mode on this host, as nlb.exe's enable/disable/drain set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RuleMode {
    /// Taking part.
    Enabled,
    /// Taking no new flows, serving existing connections.
    Draining,
    /// Dropping all of the rule's traffic.
    Disabled,
}

/// Which rules a command applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleSelector {
    /// Every rule.
    All,
    /// One rule, by index.
    Index(usize),
}

/// Operator commands, as nlb.exe names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Join the cluster.
    Start,
    /// Leave at once, dropping existing connections.
    Stop,
    /// Take no new flows, finish existing connections, then stop; with a timeout, stop
    /// when it passes even if connections remain (dropping them).
    DrainStop {
        /// The longest wait for the last connection; `None` waits as long as it takes.
        timeout: Option<Duration>,
    },
    /// Stop and ignore every command but resume.
    Suspend,
    /// Leave the suspended state (the host stays stopped until started).
    Resume,
    /// Take part in these rules again.
    Enable(RuleSelector),
    /// Drop all traffic of these rules.
    Disable(RuleSelector),
    /// Take no new flows of these rules, finish existing connections.
    Drain(RuleSelector),
    /// Set this host's load weight for a multiple-host rule.
    SetWeight {
        /// The rule's index.
        rule: usize,
        /// The weight, 0..=100.
        weight: u8,
    },
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The host is suspended: only resume is accepted.
    Suspended,
    /// The host refused to join (duplicate host id); restart it with a unique id.
    Refused,
    /// No rule has this index.
    NoSuchRule(usize),
    /// A weight applies only to multiple-host rules.
    NotMultiple(usize),
    /// Weights are 0..=100.
    WeightOutOfRange(u8),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Suspended => {
                f.write_str("the host is suspended; only resume is accepted")
            }
            CommandError::Refused => {
                f.write_str("the host refused to join because another host has its id")
            }
            CommandError::NoSuchRule(i) => write!(f, "no rule {i}"),
            CommandError::NotMultiple(i) => write!(
                f,
                "rule {i} is not a multiple-host rule; a weight applies only to those"
            ),
            CommandError::WeightOutOfRange(w) => {
                write!(f, "weight {w} is out of range; allowed 0..=100")
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// Why a received frame changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Structurally invalid.
    Malformed(DecodeError),
    /// The tag does not verify: forged, corrupted, or another key.
    Authentication,
    /// A sequence number not above the last one of that incarnation: replayed or stale.
    Replay,
    /// An incarnation older than the one we know, or one that refused to join.
    StaleIncarnation,
    /// Our own frame, looped back.
    Own,
}

/// Something worth logging, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A host entered this host's proposed view.
    HostJoined {
        /// The host.
        host: HostId,
    },
    /// A host left this host's proposed view.
    HostLost {
        /// The host.
        host: HostId,
        /// Why.
        reason: LossReason,
    },
    /// A new view was committed.
    Converged {
        /// Its members.
        members: Vec<HostId>,
        /// Its digest.
        digest: u64,
    },
    /// Slots changed state on a commit.
    OwnershipChanged {
        /// Rule index; the cluster's rule count stands for the default host's traffic.
        rule: usize,
        /// Slots this host gained.
        gained: u32,
        /// Slots this host released.
        released: u32,
    },
    /// A host advertises a different cluster configuration.
    ConfigMismatch {
        /// The host.
        host: HostId,
        /// Its cluster digest.
        theirs: [u8; 16],
        /// True when this host is the one that stands aside (its group is smaller).
        we_stand_aside: bool,
    },
    /// Another host uses our id.
    DuplicateHostId {
        /// The other incarnation's boot nonce.
        theirs: u64,
        /// True when this host is the newer one and refuses to join.
        we_refuse: bool,
    },
    /// Frames failed authentication (reported at most once a period).
    AuthenticationFailures {
        /// The source MAC of the latest such frame.
        src: MacAddr,
        /// How many since the last report.
        count: u64,
    },
    /// This host's state changed.
    StateChanged {
        /// Before.
        from: WireState,
        /// After.
        to: WireState,
    },
    /// A drainstop's timeout passed with connections still held: the host stopped and
    /// dropped them.
    DrainTimedOut {
        /// Connections still held when it stopped.
        held: u32,
    },
    /// This host's process did not run for a while (a paused VM, a starved CPU): it
    /// heard nothing meanwhile, so it does not judge its peers silent over that time,
    /// and it listens for a loss window before it would commit a view of itself alone.
    Stalled {
        /// How long it did not run.
        gap: Duration,
    },
    /// A host is heard but not admitted: its frames carry an incarnation we have not
    /// verified, for they acknowledge none of our recent frames. Either it cannot hear
    /// this host (a one-way link), or someone replays frames of its past.
    PeerUnverified {
        /// The host.
        host: HostId,
        /// Its frames rejected since the last report.
        frames: u64,
    },
}

/// Why a host left the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// Nothing fresh heard for `loss tolerance` periods.
    Silent,
    /// It announced it stopped, drained or was suspended.
    Left,
    /// It restarted (new boot nonce).
    Restarted,
    /// Its cluster configuration differs.
    ConfigMismatch,
}

/// Counters of received frames, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Accepted heartbeats.
    pub accepted: u64,
    /// Failed authentication.
    pub auth_failures: u64,
    /// Replayed or stale.
    pub replays: u64,
    /// Structurally invalid.
    pub malformed: u64,
    /// From an old or refused incarnation.
    pub stale_incarnations: u64,
    /// Heartbeats sent.
    pub sent: u64,
}

/// The state `nlb query` prints, with Windows NLB's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryState {
    /// Agreeing on a new view.
    Converging,
    /// Draining before stopping.
    Draining,
    /// All members agree.
    Converged,
    /// All members agree and this host is the default host.
    ConvergedAsDefault,
    /// Not taking part.
    Stopped,
    /// Stopped and ignoring commands but resume.
    Suspended,
}

impl fmt::Display for QueryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryState::Converging => "Converging",
            QueryState::Draining => "Draining",
            QueryState::Converged => "Converged",
            QueryState::ConvergedAsDefault => "Converged as DEFAULT",
            QueryState::Stopped => "Stopped",
            QueryState::Suspended => "Suspended",
        })
    }
}

/// What a peer looks like from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSnapshot {
    /// Its id.
    pub id: HostId,
    /// Its advertised state.
    pub state: WireState,
    /// Time since its last accepted frame.
    pub since_heard: Duration,
    /// In our proposed view.
    pub member: bool,
    /// Its cluster configuration differs from ours.
    pub config_mismatch: bool,
}

/// One rule as this host sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSnapshot {
    /// This host's mode for the rule.
    pub mode: RuleMode,
    /// This host's weight for the rule.
    pub weight: u8,
    /// Slots by state.
    pub slots: SlotCounts,
    /// Connections this host still serves in the rule's released slots.
    pub held: u32,
}

/// Everything `nlb query` and `nlb display` show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// This host.
    pub host: HostId,
    /// The state with Windows' name.
    pub state: QueryState,
    /// The state as advertised.
    pub wire_state: WireState,
    /// Members of the committed view.
    pub committed: Vec<HostId>,
    /// Members of the proposed view.
    pub proposed: Vec<HostId>,
    /// Time since the committed view was committed.
    pub committed_for: Option<Duration>,
    /// The default host of the committed view.
    pub default_host: Option<HostId>,
    /// Per rule, then the default host's traffic last.
    pub rules: Vec<RuleSnapshot>,
    /// Connections held in released slots.
    pub held: u32,
    /// Time left before a drainstop with a timeout stops the host.
    pub drain_deadline_left: Option<Duration>,
    /// Time left on the lease (None: no peers, unlimited).
    pub lease_left: Option<Duration>,
    /// Peers heard recently.
    pub peers: Vec<PeerSnapshot>,
    /// Frame counters.
    pub counters: Counters,
    /// Why this host stands aside, if it does.
    pub standing_aside: Option<&'static str>,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Peer {
    nonce: u64,
    last_seq: u64,
    previous: Option<(u64, u64)>,
    refused: Vec<u64>,
    heard_at: Duration,
    fresh_at: Option<Duration>,
    /// Whether the last frame heard (`last_seq`) refreshed `fresh_at`.
    last_was_fresh: bool,
    state: WireState,
    digest: [u8; 16],
    rules: Vec<WireRule>,
    /// Digest of `rules`, kept to spare recomputing it for every proposal.
    settings: u64,
    proposed: u64,
    committed: Option<u64>,
    held: u32,
    /// Which slots it holds those connections in.
    held_filter: HeldFilter,
    /// Frames of an unverified other incarnation since the last report, and when the
    /// first of them came.
    unverified: Option<(u64, Duration)>,
    /// When such frames were last reported.
    unverified_reported: Option<Duration>,
    /// Send time of our latest frame this peer acknowledged while its committed view
    /// was one that includes us.
    lease_ack: Option<Duration>,
    mismatch_reported: bool,
}

struct Committed {
    view: View,
    digest: u64,
    ownership: Ownership,
    at: Duration,
}

/// A released slot: connections still held (if reported), and when it was released.
type Released = (Option<u32>, Duration);

/// How often at most a peer that is heard but not verified is reported.
const UNVERIFIED_REPORT_EVERY: Duration = Duration::from_secs(10);

/// What a host hands to its successor process ([`Node::hand_off`], [`Node::resume`]).
/// Times are on the host's monotonic clock, which both processes share.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct HandOff {
    digest: [u8; 16],
    id: HostId,
    nonce: u64,
    next_seq: u64,
    state: WireState,
    modes: Vec<RuleMode>,
    weights: Vec<u8>,
    peers: BTreeMap<u8, Peer>,
    sent: Vec<(u64, Duration)>,
    proposed: View,
    committed: Option<(View, Duration)>,
    previous_committed: Option<u64>,
    slots: Vec<Vec<SlotState>>,
    released: Vec<((usize, u32), Released)>,
    auth_failure_at: Option<Duration>,
    listening_until: Duration,
    started_at: Duration,
    drain_deadline: Option<Duration>,
    counters: Counters,
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
    sent: VecDeque<(u64, Duration)>,
    proposed: View,
    proposed_digest: u64,
    committed: Option<Committed>,
    previous_committed: Option<u64>,
    /// Per rule, then one slot for the default host's traffic.
    slots: Vec<Vec<SlotState>>,
    /// Bumped whenever any slot state changes, so the data path rewrites only then.
    generation: u64,
    /// Released slots: (rule, slot) -> (connections still held if reported, released at).
    released: BTreeMap<(usize, u32), Released>,
    /// When this incarnation started (its age, advertised, settles duplicate host ids).
    started_at: Duration,
    /// When a drainstop with a timeout stops the host.
    drain_deadline: Option<Duration>,
    /// When the state machine last had an input (a tick, a frame, a command).
    last_input: Duration,
    blocked_by_mismatch: bool,
    /// Not yet in any view, it hears heartbeats that fail authentication and no
    /// authentic peer: its key is wrong, or someone forges. Either way it must not
    /// take the VIP alone (it commits no view of itself alone).
    blocked_by_key: bool,
    /// When the last heartbeat failed authentication.
    auth_failure_at: Option<Duration>,
    /// The lease as of the last input (see [`Node::lease_expiry`]).
    lease: Option<Duration>,
    /// After a start, a host listens for a loss window before it may commit a view of
    /// new hosts only: it would otherwise take every slot from peers it has not heard yet.
    listening_until: Duration,
    next_send: Duration,
    last_send: Option<Duration>,
    send_soon: bool,
    auth_failures_unreported: u64,
    last_auth_src: MacAddr,
    last_auth_report: Option<Duration>,
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
        now: Duration,
    ) -> Node {
        let cluster = config.cluster.clone();
        let period = Duration::from_millis(cluster.heartbeat_period_ms.into());
        let tolerance = cluster.loss_tolerance;
        let dst = match cluster.mode {
            crate::addressing::OperationMode::Unicast => MacAddr::BROADCAST,
            mode => crate::addressing::ClusterAddressing { vip: cluster.vip }.cluster_mac(mode),
        };
        let state = match config.host.state {
            InitialState::Started => WireState::Started,
            InitialState::Stopped => WireState::Stopped,
            InitialState::Suspended => WireState::Suspended,
        };
        let mut slots: Vec<Vec<SlotState>> = cluster
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
        slots.push(vec![SlotState::NotOwned; 1]);
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
            released: BTreeMap::new(),
            started_at: now,
            drain_deadline: None,
            last_input: now,
            generation: 0,
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

    /// Everything a successor process needs to carry on as this very incarnation (same
    /// boot nonce, sequence numbers going on, the same views, slots and peers), for a
    /// hand-off exit: peers that hear the successor within the loss window see nothing
    /// but a few missed heartbeats. The node must not be used after this.
    pub fn hand_off(&self) -> HandOff {
        HandOff {
            digest: self.digest,
            id: self.id,
            nonce: self.nonce,
            // Frames already queued or in flight used lower numbers.
            next_seq: self.next_seq + 1,
            state: self.state,
            modes: self.modes.clone(),
            weights: self.weights.clone(),
            peers: self.peers.clone(),
            sent: self.sent.iter().copied().collect(),
            proposed: self.proposed.clone(),
            committed: self.committed.as_ref().map(|c| (c.view.clone(), c.at)),
            previous_committed: self.previous_committed,
            slots: self.slots.clone(),
            released: self.released.iter().map(|(k, v)| (*k, *v)).collect(),
            auth_failure_at: self.auth_failure_at,
            listening_until: self.listening_until,
            started_at: self.started_at,
            drain_deadline: self.drain_deadline,
            counters: self.counters,
        }
    }

    /// The successor of a host that handed off: it carries on as the same incarnation.
    /// Refused when the configuration's cluster part or host id differ from the
    /// predecessor's.
    pub fn resume(
        config: &Config,
        key: [u8; 32],
        h: HandOff,
        src: MacAddr,
        now: Duration,
    ) -> Result<Node, String> {
        if h.digest != config.cluster.digest().0 {
            return Err("the predecessor ran another cluster configuration".into());
        }
        if h.id != config.host.id {
            return Err(format!("the predecessor was host {}", h.id));
        }
        if h.slots.len() != config.cluster.rules.len() + 1
            || h.modes.len() != config.cluster.rules.len()
        {
            return Err("the predecessor's slot tables do not fit this configuration".into());
        }
        let mut node = Node::new(config, key, h.nonce, h.next_seq, src, now);
        node.transmit.clear();
        node.events.clear();
        node.state = h.state;
        node.modes = h.modes;
        node.weights = h.weights;
        node.peers = h.peers;
        node.sent = h.sent.into_iter().collect();
        node.proposed_digest = h.proposed.digest();
        node.proposed = h.proposed;
        node.committed = h.committed.map(|(view, at)| Committed {
            digest: view.digest(),
            ownership: Ownership::build(&node.cluster, &view.live_hosts()),
            view,
            at,
        });
        node.previous_committed = h.previous_committed;
        node.slots = h.slots;
        node.released = h.released.into_iter().collect();
        node.auth_failure_at = h.auth_failure_at;
        node.started_at = h.started_at;
        node.drain_deadline = h.drain_deadline;
        // It heard nothing between the processes: peers it finds silent now may only
        // have gone unheard. Like a host that just started, it listens for a loss
        // window before it would commit a view of itself alone.
        node.listening_until = h.listening_until.max(now + node.loss_window);
        node.counters = h.counters;
        node.generation += 1;
        node.send_soon = true;
        node.reevaluate(now);
        Ok(node)
    }

    /// This host's id.
    pub fn id(&self) -> HostId {
        self.id
    }

    /// The cluster configuration.
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    /// This host's advertised state.
    pub fn state(&self) -> WireState {
        self.state
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
    pub fn next_deadline(&self, now: Duration) -> Duration {
        let mut candidates = vec![self.next_send, self.listening_until];
        candidates.extend(self.auth_failure_at.map(|t| t + self.loss_window));
        if self.send_soon {
            candidates.push(self.earliest_triggered_send());
        }
        for p in self.peers.values() {
            if let Some(f) = p.fresh_at {
                candidates.push(f + self.loss_window);
            }
            candidates.push(p.heard_at + self.loss_window);
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
    pub fn tick(&mut self, now: Duration) {
        self.reevaluate(now);
    }

    /// Handles one received frame.
    ///
    /// A rejected frame changes nothing but the counters (and, when it fails
    /// authentication, the time of the last such frame).
    pub fn handle_frame(&mut self, now: Duration, frame: &[u8]) -> Result<(), Rejection> {
        self.note_time(now);
        self.accept(now, frame)?;
        self.reevaluate(now);
        Ok(())
    }

    /// Applies an operator command.
    pub fn command(&mut self, now: Duration, cmd: Command) -> Result<(), CommandError> {
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
    pub fn report_held(&mut self, now: Duration, rule: usize, slot: u32, connections: u32) {
        self.report_held_many(now, [((rule, slot), connections)]);
    }

    /// [`Node::report_held`] for many slots at once, evaluated once.
    pub fn report_held_many(
        &mut self,
        now: Duration,
        reports: impl IntoIterator<Item = ((usize, u32), u32)>,
    ) {
        for (key, connections) in reports {
            if let Some(entry) = self.released.get_mut(&key) {
                entry.0 = Some(connections);
            }
        }
        self.reevaluate(now);
    }

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

    /// When the lease runs out: the data path must take no new flow after it. `None`
    /// when this host is alone in its view (no peer can take over).
    pub fn lease_expiry(&self) -> Option<Duration> {
        self.lease
    }

    fn compute_lease(&self) -> Option<Duration> {
        let c = self.committed.as_ref()?;
        let mut expiry: Option<Duration> = None;
        for m in c.view.members() {
            if m.id == self.id {
                continue;
            }
            let t = match self.peers.get(&m.id.0).and_then(|p| p.lease_ack) {
                Some(ack) => ack + self.lease_span,
                None => Duration::ZERO,
            };
            expiry = Some(expiry.map_or(t, |e| e.min(t)));
        }
        expiry
    }

    /// True when a new flow in this slot may be admitted now.
    pub fn admits_new_flows(&self, rule: usize, slot: u32, now: Duration) -> bool {
        self.slot_state(rule, slot).admits_new_flows()
            && self.lease_expiry().is_none_or(|e| now < e)
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

    /// Members of the committed view.
    pub fn committed_members(&self) -> Vec<HostId> {
        self.committed
            .as_ref()
            .map(|c| c.view.ids())
            .unwrap_or_default()
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
    fn held_slots(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.released
            .iter()
            .filter(|(_, (c, _))| *c != Some(0))
            .map(|(k, _)| *k)
    }

    /// The snapshot `nlb query` shows.
    pub fn snapshot(&self, now: Duration) -> Snapshot {
        let default_host = self.ownership().and_then(|o| o.default_host);
        let converged = self
            .committed
            .as_ref()
            .is_some_and(|c| c.digest == self.proposed_digest)
            && self.all_members_committed()
            && !self
                .slots
                .iter()
                .flatten()
                .any(|s| *s == SlotState::Pending);
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
                slots: SlotCounts::of(&self.slots[i]),
                held: self.held_in_rule(i),
            })
            .collect();
        rules.push(RuleSnapshot {
            mode: RuleMode::Enabled,
            weight: 0,
            slots: SlotCounts::of(&self.slots[self.modes.len()]),
            held: self.held_in_rule(self.modes.len()),
        });
        Snapshot {
            host: self.id,
            state,
            wire_state: self.state,
            committed: self.committed_members(),
            proposed: self.proposed.ids(),
            committed_for: self.committed.as_ref().map(|c| now.saturating_sub(c.at)),
            default_host,
            rules,
            held: self.held(),
            drain_deadline_left: self.drain_deadline.map(|d| d.saturating_sub(now)),
            lease_left: self.lease_expiry().map(|e| e.saturating_sub(now)),
            peers: self
                .peers
                .iter()
                .filter(|(_, p)| now.saturating_sub(p.heard_at) < self.loss_window)
                .map(|(&id, p)| PeerSnapshot {
                    id: HostId(id),
                    state: p.state,
                    since_heard: now.saturating_sub(p.heard_at),
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
        }
    }

    // ----- receiving -----

    fn accept(&mut self, now: Duration, frame: &[u8]) -> Result<(), Rejection> {
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
                restarted = true;
            }
            Some(p) => {
                // Another incarnation that does not prove it hears us: a replay of any
                // past one, or a restarted host that has not heard us yet (its next
                // frame will acknowledge ours). Counted, reported if it goes on.
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
                        settings: super::view::settings_digest(&[]),
                        proposed: 0,
                        committed: None,
                        held: 0,
                        held_filter: HeldFilter::default(),
                        unverified: None,
                        unverified_reported: None,
                        lease_ack: None,
                        mismatch_reported: false,
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
        let p = self.peers.get_mut(&id).expect("inserted above");
        p.last_seq = seq;
        p.heard_at = now;
        p.state = hb.state();
        p.digest = hb.cluster_digest();
        if p.rules.len() != hb.rule_count() || !hb.rules().eq(p.rules.iter().copied()) {
            p.rules = hb.rules().collect();
            p.settings = super::view::settings_digest(&p.rules);
        }
        p.proposed = hb.proposed();
        p.committed = hb.committed();
        p.held = hb.held();
        if p.held_filter.as_bytes() != hb.held_filter() {
            p.held_filter = HeldFilter::from_bytes(hb.held_filter());
        }
        p.last_was_fresh = fresh;
        if fresh {
            p.unverified = None;
        }
        if fresh {
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
    fn accept_own_id(&mut self, hb: &HeartbeatView<'_>, now: Duration) -> Result<(), Rejection> {
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
        let ours = now.saturating_sub(self.started_at);
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

    /// The send time of our frame whose sequence number ends in `ack`, if it was sent
    /// within `window`.
    fn sent_time_of(&self, ack: u32, now: Duration, window: Duration) -> Option<Duration> {
        self.sent
            .iter()
            .rev()
            .take_while(|(_, t)| now.saturating_sub(*t) <= window)
            .find(|(s, _)| *s & ACK_MASK == u64::from(ack))
            .map(|(_, t)| *t)
    }

    // ----- deciding -----

    /// Notices a gap in this host's own inputs. The daemon ticks at least every
    /// period, so a longer gap means the process did not run: whatever peers sent
    /// meanwhile was never read. Their silence over the gap is ours, not theirs: they
    /// are credited with it, so a host that wakes does not take every slot from peers
    /// it merely did not listen to. Its lease, which only their acknowledgements renew,
    /// has lapsed meanwhile if the gap was long: it admits no new flow until they hear
    /// it again.
    fn note_time(&mut self, now: Duration) {
        let gap = now.saturating_sub(self.last_input);
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

    fn reevaluate(&mut self, now: Duration) {
        self.note_time(now);
        self.update_standing_aside(now);
        self.update_proposal(now);
        self.try_commit(now);
        self.progress(now);
        self.lease = self.compute_lease();
        self.report_auth_failures(now);
        self.report_unverified(now);
        self.maybe_send(now);
    }

    fn fresh(&self, p: &Peer, now: Duration) -> bool {
        p.fresh_at.is_some_and(|f| now < f + self.loss_window)
    }

    fn heard(&self, p: &Peer, now: Duration) -> bool {
        now < p.heard_at + self.loss_window
    }

    /// Decides whether this host stands aside. The minority of a configuration split
    /// does: the group with fewer live hosts (ties: the group without the lowest host
    /// id) takes no traffic. So does a host not yet in any view that hears only
    /// heartbeats it cannot authenticate (it may not commit a view of itself alone).
    fn update_standing_aside(&mut self, now: Duration) {
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

    fn my_rules(&self) -> Vec<WireRule> {
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
    fn proposed_peers(&self, now: Duration) -> impl Iterator<Item = (&u8, &Peer)> {
        let included = self.state.is_member() && !self.blocked_by_mismatch;
        self.peers.iter().filter(move |(_, p)| {
            included
                && self.fresh(p, now)
                && p.state.is_member()
                && p.digest == self.digest
                && p.rules.len() == self.cluster.rules.len()
        })
    }

    fn update_proposal(&mut self, now: Duration) {
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
        if super::view::view_digest(entries.iter().copied()) == self.proposed_digest {
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

    fn try_commit(&mut self, now: Duration) {
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

    fn commit(&mut self, now: Duration) {
        let view = self.proposed.clone();
        let ownership = Ownership::build(&self.cluster, &view.live_hosts());
        let me = Some(self.id);
        let stopping = !self.state.is_member();
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

    fn uncommit(&mut self) {
        self.generation += 1;
        self.previous_committed = self.committed.take().map(|c| c.digest);
        for t in &mut self.slots {
            t.fill(SlotState::NotOwned);
        }
        self.released.clear();
        self.send_soon = true;
    }

    fn all_members_committed(&self) -> bool {
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

    fn progress(&mut self, now: Duration) {
        let Some(c) = &self.committed else {
            return;
        };
        let mut changed = false;
        if self.all_members_committed() {
            // The filters of the members that hold connections in slots they released.
            let holders: Vec<&HeldFilter> = c
                .view
                .members()
                .iter()
                .filter(|m| m.id != self.id)
                .filter_map(|m| self.peers.get(&m.id.0))
                .filter(|p| p.held > 0)
                .map(|p| &p.held_filter)
                .collect();
            for (r, table) in self.slots.iter_mut().enumerate() {
                for (i, s) in table.iter_mut().enumerate() {
                    if *s == SlotState::Pending {
                        *s = SlotState::OwnedNewFlowsOnly;
                        changed = true;
                        // Ours again: connections from an earlier tenure are simply ours.
                        self.released.remove(&(r, i as u32));
                    }
                    if !matches!(*s, SlotState::OwnedNewFlowsOnly | SlotState::Owned) {
                        continue;
                    }
                    // Fully ours only while no member may hold connections in this slot:
                    // a previous owner serves them for as long as they live (after a
                    // partition heals into the same view, too). A member that leaves
                    // the view holds nothing any more.
                    let held = holders.iter().any(|f| f.may_hold(r, i as u32));
                    match *s {
                        SlotState::OwnedNewFlowsOnly if !held => *s = SlotState::Owned,
                        SlotState::Owned if held => *s = SlotState::OwnedNewFlowsOnly,
                        _ => continue,
                    }
                    changed = true;
                }
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

    /// Stops taking new flows at once in one rule's slots (`None`: every rule and the
    /// default host's traffic), keeping existing connections or dropping them.
    fn release_now(&mut self, rule: Option<usize>, keep_connections: bool, now: Duration) {
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

    /// Leaves at once: drops every slot and connection, then announces it.
    fn stop_now(&mut self, to: WireState) {
        self.set_state(to);
        self.uncommit();
    }

    fn report_auth_failures(&mut self, now: Duration) {
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
    fn report_unverified(&mut self, now: Duration) {
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

    // ----- sending -----

    fn earliest_triggered_send(&self) -> Duration {
        // Triggered heartbeats are rate-limited to ten per period.
        self.last_send
            .map_or(Duration::ZERO, |t| t + self.period / 10)
    }

    fn maybe_send(&mut self, now: Duration) {
        let due =
            now >= self.next_send || (self.send_soon && now >= self.earliest_triggered_send());
        if !due {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let view: Vec<WireMember> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                self.heard(p, now) && p.digest == self.digest && p.state != WireState::Refused
            })
            .map(|(&id, p)| WireMember {
                id,
                state: p.state,
                settings_digest: p.settings as u8,
                ack: (p.last_seq & ACK_MASK) as u32,
                fresh: p.last_was_fresh,
            })
            .collect();
        let held = self.held();
        let room = held_filter_room(self.cluster.rules.len(), view.len());
        let held_filter = if held > 0 {
            HeldFilter::build(room, self.held_slots())
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
            age: now.saturating_sub(self.started_at),
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

/// The owner of a slot in an ownership (`rule` equal to the rule count: the default host).
pub fn owner_of(o: &Ownership, rule: usize, slot: u32) -> Option<HostId> {
    match o.rules.get(rule) {
        Some(RuleOwnership::Multiple(t)) => t.owner(slot),
        Some(RuleOwnership::Single(h)) => *h,
        Some(RuleOwnership::Disabled) => None,
        None => o.default_host,
    }
}
