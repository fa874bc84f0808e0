//! The control socket's protocol, shared by nlbd and the `nlb` verbs.
//!
//! nlbd listens on the abstract Unix socket `@nlb/<interface>` of its network namespace
//! (one per interface: binding it is also how a second nlbd on the same interface is
//! refused) and answers root only. A client connects, writes one [`Request`] as a JSON
//! line, reads one [`Reply`] in its [`Envelope`] (the protocol version) as a JSON line, and
//! closes. Everything here is pure: the
//! daemon moves the bytes, this module decides what they mean.

use crate::addressing::OperationMode;
use crate::config::{cluster_differences, Config};
use crate::convergence::{Command, QueryState, RuleMode, RuleSelector, Snapshot};
use crate::host::LoadWeight;
use crate::rules::{Filtering, RuleVip};
use crate::wire::WireState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The version of this protocol; every reply's [`Envelope`] carries it, and `nlb`
/// refuses a reply of another version rather than misread it.
pub const PROTOCOL_VERSION: u32 = 2;

/// The abstract socket name (without the leading NUL) of the nlbd on `interface`.
pub fn socket_name(interface: &str) -> String {
    format!("nlb/{interface}")
}

/// A request, as nlb.exe names its verbs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The host's state, the cluster's members, rules, counters.
    Query,
    /// The configuration the host runs with.
    Params,
    /// Join the cluster.
    Start,
    /// Leave at once; connections break.
    Stop,
    /// Take no new flows, finish connections, then stop.
    DrainStop {
        /// Stop after this many seconds even if connections remain (they break); absent:
        /// wait for the last connection however long it lives, as Windows NLB does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_s: Option<u64>,
    },
    /// Stop and ignore every command but resume.
    Suspend,
    /// Accept commands again (the host stays stopped).
    Resume,
    /// Take part in the rules again.
    Enable {
        /// Which rules.
        target: Target,
    },
    /// Drop all traffic of the rules.
    Disable {
        /// Which rules.
        target: Target,
    },
    /// Take no new flows of the rules; finish connections.
    Drain {
        /// Which rules.
        target: Target,
    },
    /// The state of the rule covering one VIP and port.
    QueryPort {
        /// The VIP (None: the cluster's primary VIP).
        vip: Option<IpAddr>,
        /// The port.
        port: u16,
    },
    /// Re-read the configuration file and apply what can change without a restart.
    Reload,
    /// Exit for an upgrade, leaving the data path running for a successor started
    /// within the loss window to adopt.
    HandOff,
}

impl Request {
    /// What nlb.exe says once the request is done.
    pub fn done_message(&self) -> String {
        match self {
            Request::Query | Request::Params | Request::QueryPort { .. } => String::new(),
            Request::Start => "Cluster operations started.".into(),
            Request::Stop => "Cluster operations stopped.".into(),
            Request::DrainStop { timeout_s: None } => {
                "Connection draining started; the host stops after its last connection closes."
                    .into()
            }
            Request::DrainStop { timeout_s: Some(t) } => format!(
                "Connection draining started; the host stops after its last connection \
                 closes, or in {t} s with the connections left."
            ),
            Request::Suspend => "Cluster operations suspended.".into(),
            Request::Resume => "Cluster operations resumed.".into(),
            Request::Enable { target } => {
                format!("Traffic handling for port rule(s) {target} enabled.")
            }
            Request::Disable { target } => {
                format!("Traffic handling for port rule(s) {target} disabled.")
            }
            Request::Drain { target } => {
                format!(
                    "New traffic handling for port rule(s) {target} disabled; connections drain."
                )
            }
            Request::Reload => "Configuration reloaded.".into(),
            Request::HandOff => "Handed off: the data path runs on; start the new nlbd \
                                 within the loss window (heartbeat period x loss tolerance)."
                .into(),
        }
    }
}

/// Which rules a per-rule command applies to: `all`, `PORT` or `VIP:PORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// Every rule.
    All,
    /// The rule covering this port (of this VIP, or of any VIP).
    Port {
        /// The VIP, if named.
        vip: Option<IpAddr>,
        /// The port.
        port: u16,
    },
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a rule target; use all, PORT or VIP:PORT");
        if s == "all" {
            return Ok(Target::All);
        }
        let (vip, port) = match s.rsplit_once(':') {
            Some(("all", p)) => (None, p),
            Some((v, p)) => (Some(v.parse::<IpAddr>().map_err(|_| bad())?), p),
            None => (None, s),
        };
        let port = port.parse().map_err(|_| bad())?;
        Ok(Target::Port { vip, port })
    }
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.to_string()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Port { vip: None, port } => write!(f, "{port}"),
            Target::Port { vip: Some(v), port } => write!(f, "{v}:{port}"),
        }
    }
}

/// nlbd's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The host's state (also the answer to every command that changes it).
    Status {
        /// What the command did, if it was one.
        message: Option<String>,
        /// The state after it.
        status: Box<Status>,
    },
    /// The configuration.
    Params {
        /// The parameters.
        params: Box<Params>,
    },
    /// One rule.
    Port {
        /// The rule's index (None: no rule covers the port; the default host's traffic).
        index: Option<usize>,
        /// The rule.
        rule: RuleStatus,
    },
    /// The request was refused or failed.
    Error {
        /// Why.
        message: String,
    },
}

impl Reply {
    /// An error reply.
    pub fn error(message: impl Into<String>) -> Self {
        Reply::Error {
            message: message.into(),
        }
    }
}

/// A reply as it travels: the protocol version, then the reply's own fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The reply.
    #[serde(flatten)]
    pub reply: Reply,
}

impl Envelope {
    /// A reply of this version of the protocol.
    pub fn new(reply: Reply) -> Self {
        Envelope {
            version: PROTOCOL_VERSION,
            reply,
        }
    }

    /// The reply, if it speaks this version of the protocol.
    pub fn open(self) -> Result<Reply, VersionMismatch> {
        if self.version != PROTOCOL_VERSION {
            return Err(VersionMismatch(self.version));
        }
        Ok(self.reply)
    }
}

/// A reply of another version of the protocol than this build's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "nlbd speaks control protocol version {0}, this nlb speaks {PROTOCOL_VERSION}: run the nlb \
     that came with this nlbd"
)]
pub struct VersionMismatch(pub u32);

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

/// The rules a target names, as the state machine's selector; an error names the
/// target and the rules there are.
pub fn select(config: &Config, target: Target) -> Result<RuleSelector, String> {
    match target {
        Target::All => Ok(RuleSelector::All),
        Target::Port { vip, port } => rule_for_port(config, vip, port)?
            .map(RuleSelector::Index)
            .ok_or_else(|| {
                format!(
                    "no port rule covers {target}; the rules are: {}",
                    rule_list(config)
                )
            }),
    }
}

/// The index of the rule covering `port` of `vip` (any VIP when None: a rule for all
/// VIPs, else the only rule covering the port). `Ok(None)`: no rule covers it.
pub fn rule_for_port(
    config: &Config,
    vip: Option<IpAddr>,
    port: u16,
) -> Result<Option<usize>, String> {
    let rules = &config.cluster.rules;
    let covers = |i: &usize| {
        let r = &rules[*i];
        (r.port_start..=r.port_end).contains(&port)
            && match (vip, r.vip) {
                (Some(v), RuleVip::Addr(a)) => v == a,
                _ => true,
            }
    };
    let hits: Vec<usize> = (0..rules.len()).filter(covers).collect();
    if let Some(v) = vip {
        if !config.cluster.is_vip(v) {
            return Err(format!(
                "{v} is not a VIP of cluster `{}`",
                config.cluster.name
            ));
        }
        // A rule naming the VIP wins over an `all` rule, as in the data path.
        return Ok(hits
            .iter()
            .copied()
            .find(|i| matches!(rules[*i].vip, RuleVip::Addr(_)))
            .or(hits.first().copied()));
    }
    match hits.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        several => Err(format!(
            "port {port} is covered by {} rules ({}); name the VIP as VIP:{port}",
            several.len(),
            several
                .iter()
                .map(|i| rules[*i].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn rule_list(config: &Config) -> String {
    config
        .cluster
        .rules
        .iter()
        .map(|r| format!("{} ({} {})", r.name, r.vip, r.ports_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The commands that take a host running `old` to `new` without a restart, with a
/// line for each change; or why that is not safe.
pub fn reload_plan(old: &Config, new: &Config) -> Result<(Vec<Command>, Vec<String>), String> {
    let differences = cluster_differences(&old.cluster, &new.cluster);
    if !differences.is_empty() {
        return Err(format!(
            "the [cluster] part changed ({}): every host must run the same one, so change \
             it on every host and restart them",
            differences.join("; ")
        ));
    }
    if old.cluster.key_file != new.cluster.key_file {
        return Err("key_file changed; restart nlbd to use the new key".into());
    }
    let restart = |what: &str| Err(format!("{what} changed; that needs a restart of nlbd"));
    if old.host.id != new.host.id {
        return restart("the host id");
    }
    if old.host.interface != new.host.interface {
        return restart("the interface");
    }
    if old.host.address != new.host.address {
        return restart("the host address");
    }
    let mut commands = Vec::new();
    let mut changes = Vec::new();
    for (i, (a, b)) in old.host.rules.iter().zip(&new.host.rules).enumerate() {
        let name = &old.cluster.rules[i].name;
        if a.priority != b.priority && old.cluster.rules[i].filtering == Filtering::Single {
            return Err(format!(
                "the handling priority of rule `{name}` changed ({} -> {}); that needs a \
                 restart of nlbd",
                a.priority, b.priority
            ));
        }
        if a.weight.value() != b.weight.value() {
            commands.push(Command::SetWeight {
                rule: i,
                weight: b.weight.value(),
            });
            changes.push(format!(
                "rule `{name}`: load weight {} -> {}",
                a.weight, b.weight
            ));
        }
    }
    if old.host.state != new.host.state {
        changes.push(format!(
            "initial state {} -> {} (applies at the next start)",
            old.host.state.as_str(),
            new.host.state.as_str()
        ));
    }
    Ok((commands, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        for s in ["all", "80", "198.51.100.10:443", "2001:db8::1:80"] {
            let t: Target = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(
            "all:80".parse::<Target>().unwrap(),
            Target::Port {
                vip: None,
                port: 80
            }
        );
        for bad in ["", "x", "70000", "1.2.3:80", "all:"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_are_json_lines() {
        let r = Request::Drain {
            target: Target::Port {
                vip: None,
                port: 80,
            },
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"command":"drain","target":"80"}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert!(serde_json::from_str::<Request>(r#"{"command":"drain","target":"x"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Request::DrainStop { timeout_s: None }).unwrap(),
            r#"{"command":"drain_stop"}"#
        );
    }

    const HOST: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
extra_vips = ["198.51.100.11"]
key_file = "web.key"

[[cluster.rule]]
name = "http"
ports = "80-443"
protocol = "tcp"

[[cluster.rule]]
name = "ssh"
ports = 22
filtering = "single"

[host]
id = 1
interface = "eth0"
"#;

    fn config(extra: &str) -> Config {
        Config::parse(std::path::Path::new("h.toml"), &format!("{HOST}{extra}")).unwrap()
    }

    #[test]
    fn reload_applies_weights_and_refuses_what_needs_a_restart() {
        let old = config("");
        let weighted = config("[host.rule.http]\nweight = 80\n");
        let (commands, changes) = reload_plan(&old, &weighted).unwrap();
        assert_eq!(
            commands,
            vec![Command::SetWeight {
                rule: 0,
                weight: 80
            }]
        );
        assert_eq!(changes, vec!["rule `http`: load weight equal -> 80"]);
        assert_eq!(reload_plan(&old, &old).unwrap(), (vec![], vec![]));

        let prio = config("[host.rule.ssh]\npriority = 7\n");
        let e = reload_plan(&old, &prio).unwrap_err();
        assert!(e.contains("handling priority of rule `ssh`"), "{e}");

        let text = HOST.replace("80-443", "80-444");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        let e = reload_plan(&old, &other).unwrap_err();
        assert!(e.contains("[cluster] part changed"), "{e}");

        let text = HOST.replace("id = 1", "id = 2");
        let other = Config::parse(std::path::Path::new("h.toml"), &text).unwrap();
        assert!(reload_plan(&old, &other).unwrap_err().contains("host id"));
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

    #[test]
    fn ports_name_rules() {
        let c = config("");
        let vip: IpAddr = "198.51.100.11".parse().unwrap();
        assert_eq!(rule_for_port(&c, None, 80), Ok(Some(0)));
        assert_eq!(rule_for_port(&c, Some(vip), 22), Ok(Some(1)));
        assert_eq!(rule_for_port(&c, None, 8), Ok(None));
        assert!(rule_for_port(&c, Some("203.0.113.1".parse().unwrap()), 80)
            .unwrap_err()
            .contains("not a VIP"));
        assert_eq!(select(&c, Target::All), Ok(RuleSelector::All));
        let e = select(&c, "8".parse().unwrap()).unwrap_err();
        assert!(e.contains("no port rule covers 8"), "{e}");
    }
}
