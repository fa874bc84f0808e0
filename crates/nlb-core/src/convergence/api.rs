//! What the state machine takes and gives: operator commands, events, rejections,
//! counters and the snapshot `nlb query` shows.

use super::slots::SlotCounts;
use crate::host::HostId;
use crate::mac::MacAddr;
use crate::wire::{DecodeError, WireState};
use std::fmt;
use std::time::Duration;

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

impl fmt::Display for RuleMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            RuleMode::Enabled => "Enabled",
            RuleMode::Draining => "Draining",
            RuleMode::Disabled => "Disabled",
        })
    }
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

/// Members that see far fewer of the cluster's VIP frames than the others: the switch
/// delivers frames to the cluster MAC to some ports only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reception {
    /// The members that see few.
    pub starved: Vec<HostId>,
    /// The others.
    pub seeing: Vec<HostId>,
    /// VIP frames a second at the busiest member.
    pub most: u32,
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
    /// A host lost by silence stayed silent long enough to be known dead: the slots it
    /// owned are now fully its successors' (segments of its connections get reset).
    HostKnownDead {
        /// The host.
        host: HostId,
    },
    /// Some members see far fewer VIP frames than the others (see [`Reception`]).
    VipFramesUneven(Reception),
    /// Every member sees the VIP frames again.
    VipFramesEven,
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
    /// Frames failed authentication (reported at most once a second).
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

/// The state `nlb query` prints, with Windows NLB's names (on the wire too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum QueryState {
    /// Agreeing on a new view.
    Converging,
    /// Draining before stopping.
    Draining,
    /// All members agree.
    Converged,
    /// All members agree and this host is the default host.
    #[serde(rename = "Converged as DEFAULT")]
    ConvergedAsDefault,
    /// Not taking part.
    Stopped,
    /// Stopped and ignoring commands but resume.
    Suspended,
}

impl fmt::Display for QueryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
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
    /// VIP frames a second each member sees (this host's own included).
    pub vip_frames: Vec<(HostId, u32)>,
    /// Members that see far fewer of them than the others, if any.
    pub reception: Option<Reception>,
}
