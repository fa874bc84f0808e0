//! What `nlb query` and `nlb params` show, and how it is made from the configuration,
//! the state machine's snapshot and the data path's counters.

use crate::addressing::OperationMode;
use crate::config::Config;
use crate::convergence::{QueryState, Reception, RuleMode, Snapshot};
use crate::host::LoadWeight;
use crate::rules::Filtering;
use crate::wire::WireState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Counters the data path keeps, with its connection table's size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneStats {
    /// Entries in the connection table.
    pub connections: u64,
    /// Packets by verdict, summed over CPUs.
    pub packets: BTreeMap<String, u64>,
}

/// What `nlb query` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// This host's id.
    pub host: u8,
    /// The cluster's name.
    pub cluster: String,
    /// The primary VIP.
    pub vip: IpAddr,
    /// The operation mode.
    pub mode: OperationMode,
    /// The cluster interface.
    pub interface: String,
    /// The state with Windows NLB's name (`Converged`, `Converged as DEFAULT`, ...).
    pub state: QueryState,
    /// Why this host takes no part although started, if it does not.
    pub standing_aside: Option<String>,
    /// Members of the committed view.
    pub members: Vec<u8>,
    /// Members of the view being agreed on.
    pub proposed: Vec<u8>,
    /// The default host.
    pub default_host: Option<u8>,
    /// Milliseconds since the committed view was committed.
    pub converged_for_ms: Option<u64>,
    /// Milliseconds left on the lease (None: alone, unlimited).
    pub lease_left_ms: Option<u64>,
    /// Connections still served in released slots.
    pub connections_draining: u32,
    /// Seconds left before a drainstop's timeout stops the host, if one was given.
    #[serde(default)]
    pub drain_timeout_left_s: Option<u64>,
    /// Port rules, then the default host's traffic last.
    pub rules: Vec<RuleStatus>,
    /// Hosts heard recently.
    pub peers: Vec<PeerStatus>,
    /// Heartbeats by outcome.
    pub heartbeats: HeartbeatCounters,
    /// The data path's counters.
    pub dataplane: DataplaneStats,
    /// The daemon's most recent log lines, oldest first (filled by nlbd).
    #[serde(default)]
    pub recent_events: Vec<String>,
    /// VIP frames a second each member's data path sees (this host's own included).
    #[serde(default)]
    pub vip_frames: Vec<MemberVipFrames>,
    /// Members that see far fewer VIP frames than the others, if any, with the likely
    /// cause and the fix.
    #[serde(default)]
    pub reception_problem: Option<ReceptionProblem>,
    /// Views committed since nlbd started, and how long they took (filled by nlbd).
    #[serde(default)]
    pub convergences: Convergences,
}

/// Views this host committed, each timed from the membership change that started it (a
/// host joined, lost or known dead, or nlbd's start) to its commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Convergences {
    /// Views committed.
    pub count: u64,
    /// Their durations added up, in seconds.
    pub seconds: f64,
    /// The latest one's, in seconds.
    pub last_seconds: Option<f64>,
}

/// How many VIP frames a second one member's data path sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberVipFrames {
    /// The member.
    pub host: u8,
    /// Its count.
    pub per_second: u32,
}

/// Members that see far fewer of the cluster's VIP frames than the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceptionProblem {
    /// The members that see few.
    pub starved: Vec<u8>,
    /// The others.
    pub seeing: Vec<u8>,
    /// VIP frames a second at the busiest member.
    pub most: u32,
    /// What it says, and the likely cause.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

impl ReceptionProblem {
    /// The problem `r` shows in a cluster of `mode`, explained.
    pub fn explain(mode: OperationMode, r: &Reception) -> Self {
        let list = |hosts: &[crate::host::HostId]| {
            hosts
                .iter()
                .map(|h| format!("host {h}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (starved, seeing) = (list(&r.starved), list(&r.seeing));
        let (cause, fix) = match mode {
            OperationMode::Unicast => (
                format!(
                    "{starved} see(s) few of the VIP's frames while {seeing} see(s) up to {} a second:                      the switch sends frames to the cluster MAC to {seeing}'s port(s) only, so it                      learned the cluster MAC there (a frame left with it as source: a hypervisor's                      announcement of a VM whose NIC carries it, a NIC team rewriting sources, a                      static MAC entry)",
                    r.most
                ),
                "remove the switch's MAC table entry for the cluster MAC (`nlb ip2mac VIP`) on                  that port, or wait for it to age (300 s by default); find what sends frames with                  it as source (a NIC that carries it, a hypervisor's MAC announcement)"
                    .to_string(),
            ),
            OperationMode::IgmpMulticast => (
                format!(
                    "{starved} see(s) few of the VIP's frames while {seeing} see(s) up to {} a second:                      the switch has no IGMP membership for {starved}'s port(s) (snooping without a                      querier, a report lost after a port moved, a switch that snoops by IP on                      another VLAN)",
                    r.most
                ),
                "check the switch's IGMP snooping table for the cluster's group (`nlb ip2mac                  VIP`) and that a querier runs on the VLAN; nlbd re-reports on every link change                  and every second while it hears no peer"
                    .to_string(),
            ),
            OperationMode::Multicast => (
                format!(
                    "{starved} see(s) few of the VIP's frames while {seeing} see(s) up to {} a second:                      the switch sends the cluster MAC's frames to some ports only (a static MAC                      entry that lists the others' ports and not theirs)",
                    r.most
                ),
                "give the static MAC entry for the cluster MAC every host's port, or remove it so                  the switch floods"
                    .to_string(),
            ),
        };
        ReceptionProblem {
            starved: r.starved.iter().map(|h| h.get()).collect(),
            seeing: r.seeing.iter().map(|h| h.get()).collect(),
            most: r.most,
            cause,
            fix,
        }
    }
}

impl Status {
    /// True once the host has left the cluster (stopped, suspended or refused).
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, QueryState::Stopped | QueryState::Suspended)
    }
}

/// One rule on this host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleStatus {
    /// The rule's name (`default` for the default host's traffic).
    pub name: String,
    /// The VIP or `all`.
    pub vip: String,
    /// The ports, `80` or `0-65535`.
    pub ports: String,
    /// tcp, udp or both.
    pub protocol: String,
    /// multiple, single or disabled.
    pub filtering: String,
    /// none, single or network.
    pub affinity: String,
    /// Enabled, Draining or Disabled on this host.
    pub mode: RuleMode,
    /// This host's load weight (multiple-host rules).
    pub weight: Option<u8>,
    /// This host's handling priority (single-host rules).
    pub priority: Option<u8>,
    /// Slots this host admits new flows in.
    pub slots_owned: u32,
    /// Slots gained, waiting for every member to commit.
    pub slots_pending: u32,
    /// Slots released, still serving connections.
    pub slots_draining: u32,
    /// Connections this host still serves in those slots.
    #[serde(default)]
    pub connections_draining: u32,
    /// Slots in the table.
    pub slots_total: u32,
}

/// A peer as this host sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its id.
    pub id: u8,
    /// Its advertised state.
    pub state: WireState,
    /// Milliseconds since its last accepted heartbeat.
    pub heard_ms_ago: u64,
    /// In the view this host proposes.
    pub member: bool,
    /// Its cluster configuration differs from this host's.
    pub config_mismatch: bool,
}

/// Heartbeats by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatCounters {
    /// Sent.
    pub sent: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected: the tag did not verify (wrong key or forged).
    pub authentication_failures: u64,
    /// Rejected: replayed or stale.
    pub replays: u64,
    /// Rejected: malformed.
    pub malformed: u64,
    /// Rejected: from an old or refused incarnation of a host.
    pub stale_incarnations: u64,
}

/// What `nlb params` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// The configuration file.
    pub config_file: String,
    /// The cluster's name.
    pub cluster: String,
    /// The primary VIP.
    pub vip: IpAddr,
    /// Further VIPs.
    pub extra_vips: Vec<IpAddr>,
    /// The operation mode.
    pub mode: String,
    /// The cluster MAC of the mode.
    pub cluster_mac: String,
    /// The IGMP group (IGMP multicast mode).
    pub igmp_group: Option<IpAddr>,
    /// Heartbeat period.
    pub heartbeat_period_ms: u32,
    /// Periods missed before a host counts as lost.
    pub loss_tolerance: u32,
    /// How long an idle TCP connection is remembered, in seconds.
    pub conn_idle_timeout_s: u32,
    /// Slots per rule table.
    pub table_size: u32,
    /// The digest every host advertises.
    pub cluster_digest: String,
    /// This host's id.
    pub host: u8,
    /// The cluster interface.
    pub interface: String,
    /// The state at start.
    pub initial_state: String,
    /// The port rules with this host's settings.
    pub rules: Vec<RuleStatus>,
}

/// Heartbeat counters from the state machine's.
impl From<crate::convergence::Counters> for HeartbeatCounters {
    fn from(c: crate::convergence::Counters) -> Self {
        HeartbeatCounters {
            sent: c.sent,
            accepted: c.accepted,
            authentication_failures: c.auth_failures,
            replays: c.replays,
            malformed: c.malformed,
            stale_incarnations: c.stale_incarnations,
        }
    }
}

fn rule_statuses(config: &Config, snapshot: Option<&Snapshot>) -> Vec<RuleStatus> {
    let cluster = &config.cluster;
    let mut out: Vec<RuleStatus> = cluster
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let settings = config.host.rules.get(i);
            let (weight, priority) = match r.filtering {
                Filtering::Multiple => (
                    Some(
                        snapshot
                            .map(|s| s.rules[i].weight)
                            .or(settings.map(|s| s.weight.value()))
                            .unwrap_or(LoadWeight::EQUAL_VALUE),
                    ),
                    None,
                ),
                Filtering::Single => (None, settings.map(|s| s.priority)),
                Filtering::Disabled => (None, None),
            };
            RuleStatus {
                name: r.name.clone(),
                vip: r.vip.to_string(),
                ports: r.ports_str(),
                protocol: r.protocol.as_str().into(),
                filtering: r.filtering.as_str().into(),
                affinity: r.affinity.as_str().into(),
                mode: snapshot.map_or(RuleMode::Enabled, |s| s.rules[i].mode),
                weight,
                priority,
                slots_owned: 0,
                slots_pending: 0,
                slots_draining: 0,
                connections_draining: 0,
                slots_total: match r.filtering {
                    Filtering::Multiple => cluster.table_size,
                    Filtering::Single => 1,
                    Filtering::Disabled => 0,
                },
            }
        })
        .collect();
    out.push(RuleStatus {
        name: "default".into(),
        vip: "all".into(),
        ports: "not covered by a rule".into(),
        protocol: "any".into(),
        filtering: "default host".into(),
        affinity: "none".into(),
        mode: RuleMode::Enabled,
        weight: None,
        priority: None,
        slots_owned: 0,
        slots_pending: 0,
        slots_draining: 0,
        connections_draining: 0,
        slots_total: 1,
    });
    if let Some(s) = snapshot {
        for (r, rs) in out.iter_mut().zip(&s.rules) {
            r.slots_owned = rs.slots.owned + rs.slots.new_flows_only;
            r.slots_pending = rs.slots.pending;
            r.slots_draining = rs.slots.released_draining;
            r.connections_draining = rs.held;
        }
    }
    out
}

fn millis(d: std::time::Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

impl Status {
    /// The status of a host running `config`, from its state machine's snapshot and its
    /// data path's counters.
    pub fn new(config: &Config, snapshot: &Snapshot, dataplane: DataplaneStats) -> Self {
        Status {
            host: config.host.id.get(),
            cluster: config.cluster.name.clone(),
            vip: config.cluster.vip,
            mode: config.cluster.mode,
            interface: config.host.interface.clone(),
            state: snapshot.state,
            standing_aside: snapshot.standing_aside.map(str::to_string),
            members: snapshot.committed.iter().map(|h| h.get()).collect(),
            proposed: snapshot.proposed.iter().map(|h| h.get()).collect(),
            default_host: snapshot.default_host.map(|h| h.get()),
            converged_for_ms: snapshot.committed_for.map(millis),
            lease_left_ms: snapshot.lease_left.map(millis),
            connections_draining: snapshot.held,
            drain_timeout_left_s: snapshot.drain_deadline_left.map(|d| d.as_secs()),
            rules: rule_statuses(config, Some(snapshot)),
            peers: snapshot
                .peers
                .iter()
                .map(|p| PeerStatus {
                    id: p.id.get(),
                    state: p.state,
                    heard_ms_ago: millis(p.since_heard),
                    member: p.member,
                    config_mismatch: p.config_mismatch,
                })
                .collect(),
            heartbeats: snapshot.counters.into(),
            dataplane,
            recent_events: Vec::new(),
            vip_frames: snapshot
                .vip_frames
                .iter()
                .map(|(h, n)| MemberVipFrames {
                    host: h.get(),
                    per_second: *n,
                })
                .collect(),
            reception_problem: snapshot
                .reception
                .as_ref()
                .map(|r| ReceptionProblem::explain(config.cluster.mode, r)),
            convergences: Convergences::default(),
        }
    }
}

impl Params {
    /// The parameters of `config`.
    pub fn new(config: &Config) -> Self {
        let c = &config.cluster;
        let addressing = crate::addressing::ClusterAddressing::new(c.vip).ok();
        Params {
            config_file: config.path.display().to_string(),
            cluster: c.name.clone(),
            vip: c.vip,
            extra_vips: c.extra_vips.clone(),
            mode: c.mode.to_string(),
            cluster_mac: addressing
                .as_ref()
                .map(|a| a.cluster_mac(c.mode).to_string())
                .unwrap_or_default(),
            igmp_group: match c.mode {
                crate::addressing::OperationMode::IgmpMulticast => {
                    addressing.as_ref().map(|a| a.igmp_group())
                }
                _ => None,
            },
            heartbeat_period_ms: c.heartbeat_period_ms,
            loss_tolerance: c.loss_tolerance,
            conn_idle_timeout_s: c.conn_idle_timeout_s,
            table_size: c.table_size,
            cluster_digest: c.digest().to_string(),
            host: config.host.id.get(),
            interface: config.host.interface.clone(),
            initial_state: config.host.state.as_str().into(),
            rules: rule_statuses(config, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::config;

    #[test]
    fn a_status_crosses_the_control_socket_whole() {
        use crate::control::{Envelope, Reply};
        use crate::convergence::Node;
        use crate::host::HostId;
        use crate::mac::MacAddr;
        use crate::time::Time;
        let c = config("");
        let node = Node::new(&c, [1; 32], 1, 0, MacAddr([2, 0, 0, 0, 0, 1]), Time::ZERO);
        let mut status = Status::new(&c, &node.snapshot(Time::ZERO), DataplaneStats::default());
        status.vip_frames = vec![MemberVipFrames {
            host: 1,
            per_second: 120,
        }];
        status.reception_problem = Some(ReceptionProblem::explain(
            OperationMode::Unicast,
            &Reception {
                starved: vec![HostId(1)],
                seeing: vec![HostId(2)],
                most: 120,
            },
        ));
        let sent = Envelope::new(Reply::Status {
            message: None,
            status: Box::new(status),
        });
        // The reply is flattened into its envelope, which serde reads through its own
        // buffer: map keys that are not strings would not survive it.
        let text = serde_json::to_string(&sent).unwrap();
        let read: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(read, sent);
    }

    #[test]
    fn a_single_host_rule_has_one_slot_and_a_disabled_rule_none() {
        let c = config("");
        let p = Params::new(&c);
        assert_eq!(p.rules[0].slots_total, 65537, "multiple-host rule");
        assert_eq!(p.rules[1].slots_total, 1, "single-host rule");
        assert_eq!(p.rules[1].priority, Some(1));
        assert_eq!(p.rules[2].name, "default");
        assert_eq!(p.rules[2].slots_total, 1);
    }
}
