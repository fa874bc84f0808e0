//! What `nlb doctor` finds in a capture: the pure analysis behind it.
//!
//! An [`Analyzer`] takes Ethernet frames with their capture times
//! ([`Analyzer::frame`]) and a [`Context`] (the cluster's mode and VIPs, where the
//! capture was taken), and says what it saw as [`Finding`]s: what was seen, the likely
//! cause, its consequence and the fix, in words for the operator, with structured
//! [`Evidence`] for `--json`. Sans-IO: no sockets, files or clocks; time comes with each
//! frame, so a live capture and a pcap file ([`pcap`]) give the same findings.
//!
//! What it finds ([`FindingKind`], each told apart by [`Diagnosis`]):
//!
//! - **duplicate_ip**: more than one hardware address claims an address (ARP replies and
//!   gratuitous ARP: the sender hardware address; neighbour advertisements: the target
//!   link-layer address). For a VIP: a foreign host; a neighbour or host still using the
//!   cluster MAC of another mode (a stale static or cached entry, a mode change, a host
//!   in another mode); two members answering at once (a split cluster); Windows'
//!   masked source MAC `02-<host id>-…`; a member's own NIC MAC. For any other address:
//!   two MACs claiming it.
//! - **source_mac_substitution**: one source IP seen with several source MACs (a
//!   hypervisor NIC team rewriting source MACs).
//! - **flooding**: frames to the cluster MAC at a capture point that is no member.
//! - **igmp**: more than one IGMP/MLD querier at once; no querier in igmp-multicast
//!   mode; frames to the cluster MAC that stop reaching a member (its membership no
//!   longer seen by the switch).
//! - **path_mtu**: ICMP "fragmentation needed" and ICMPv6 "packet too big".
//!
//! A healthy capture of a cluster in its mode gives no finding, except the notice that
//! a non-member port receives the cluster's frames in unicast and multicast mode (the
//! price of those modes, [`Severity::Notice`]).

mod checks;
mod decode;
pub mod pcap;

#[cfg(test)]
mod tests;

use crate::addressing::{ClusterAddressing, FamilyAddressing, OperationMode};
use crate::config::ClusterConfig;
use crate::mac::MacAddr;
use decode::{Body, Upper};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// The default IGMP/MLD query interval (RFC 3376 §8.2, RFC 3810 §9.2): 125 s.
pub const DEFAULT_QUERY_INTERVAL: Duration = Duration::from_secs(125);

/// Claims of one cluster MAC sent from different source MACs this close together are
/// two members answering at once (a split cluster); further apart, a failover.
pub const SPLIT_WINDOW: Duration = Duration::from_secs(1);

/// A source MAC carrying fewer frames than this, or less than [`MIN_SHARE`] of an
/// address's frames, is not counted for source MAC substitution.
pub const MIN_FRAMES: u64 = 3;
/// See [`MIN_FRAMES`]: 1%.
pub const MIN_SHARE: f64 = 0.01;

/// What the analyzer knows about the cluster and the capture point. Everything is
/// optional: without a mode or VIPs the VIP-specific checks say less (see each field).
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// The cluster's operation mode. Without it, no claim of a cluster MAC counts as
    /// stale unless two different cluster MACs are used for one VIP, flooding cannot
    /// be judged expected or not, and the IGMP checks that need igmp-multicast mode
    /// (no querier, membership not seen) do not run.
    pub mode: Option<OperationMode>,
    /// The cluster's VIPs, the primary first (the cluster MACs derive from it). Without
    /// them every address is checked as a plain address: two MACs claiming it.
    pub vips: Vec<IpAddr>,
    /// Whether the capture point is a cluster member, whose frames to the cluster MAC
    /// are expected. `Some(false)` enables the flooding check; `Some(true)` the check
    /// that frames to the cluster MAC stop (membership not seen by the switch).
    pub capture_is_member: Option<bool>,
    /// The members' NIC MACs, if known (the source MACs of heartbeats in the capture are
    /// added to them): a VIP claimed with one of them is a member's own MAC leaking, and
    /// the source MAC substitution check looks at frames from a VIP only when some are
    /// known (every member sends from the VIPs with its own MAC).
    pub member_macs: Vec<MacAddr>,
    /// The IGMP/MLD query interval: a capture at least this long with no query in
    /// igmp-multicast mode finds no querier. Default [`DEFAULT_QUERY_INTERVAL`].
    pub query_interval: Duration,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            mode: None,
            vips: Vec::new(),
            capture_is_member: None,
            member_macs: Vec::new(),
            query_interval: DEFAULT_QUERY_INTERVAL,
        }
    }
}

impl Context {
    /// A context for a cluster in `mode` with `vips` (the primary first); the capture
    /// point and members unknown.
    pub fn new(mode: OperationMode, vips: Vec<IpAddr>) -> Self {
        Context {
            mode: Some(mode),
            vips,
            ..Context::default()
        }
    }

    /// The context of the cluster a configuration file describes.
    pub fn from_cluster(cluster: &ClusterConfig) -> Self {
        Context::new(cluster.mode, cluster.vips().collect())
    }
}

/// The kind of a finding; its JSON name is snake case (`duplicate_ip`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// More than one hardware address claims one IP address.
    DuplicateIp,
    /// One source IP is seen with several source MACs.
    SourceMacSubstitution,
    /// Frames to the cluster MAC reach a port that is no member.
    Flooding,
    /// IGMP or MLD: queriers and memberships.
    Igmp,
    /// ICMP fragmentation needed / ICMPv6 packet too big.
    PathMtu,
    /// Live only: frames larger than some size do not pass between members (probes).
    MtuMismatch,
    /// Live only: the host's settings nlb depends on.
    HostSettings,
    /// Live only: what nlbd says of itself.
    Daemon,
    /// Live only: members see far fewer VIP frames than others (from heartbeats).
    SwitchLearnedClusterMac,
}

/// The likely cause within a kind; JSON snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Diagnosis {
    /// duplicate_ip: a MAC that is no cluster MAC of the VIP, in any mode, claims it.
    ForeignHost,
    /// duplicate_ip: the VIP is claimed with, or frames to it are sent to, the cluster
    /// MAC of another mode (or, mode unknown, two different cluster MACs are in use).
    StaleClusterMac,
    /// duplicate_ip: two members answer for the VIP at once.
    SplitCluster,
    /// duplicate_ip: the VIP is claimed with Windows' masked source MAC `02-<id>-…`.
    MaskedMacLeak,
    /// duplicate_ip: the VIP is claimed with a member's own NIC MAC.
    MemberMacLeak,
    /// duplicate_ip: two MACs claim an address that is no VIP.
    DuplicateAddress,
    /// source_mac_substitution.
    SeveralSourceMacs,
    /// flooding in unicast or multicast mode (or the mode unknown): how those modes work.
    FloodingExpected,
    /// flooding in igmp-multicast mode: snooping does not hold the frames back.
    FloodingUnexpected,
    /// igmp: two or more queriers query at the same time.
    SeveralQueriers,
    /// igmp: no query within the query interval in igmp-multicast mode.
    NoQuerier,
    /// igmp: frames to the cluster MAC stopped reaching a member.
    MembershipNotSeen,
    /// path_mtu: ICMP fragmentation needed / ICMPv6 packet too big from a hop.
    PacketTooBig,
    /// mtu_mismatch: the path to a member passes smaller frames than both ends' MTU.
    PathShort,
    /// mtu_mismatch: members' interfaces have different MTUs.
    MtusDiffer,
    /// mtu_mismatch: the default gateway answers don't-fragment pings only below the
    /// interface's MTU.
    GatewayPathShort,
    /// mtu_mismatch: a member did not answer the probes at all.
    NoProbeAnswer,
    /// host_settings: arp_ignore/arp_announce not as nlbd set them.
    ArpSysctls,
    /// host_settings: strict reverse path filtering on the cluster interface.
    StrictRpFilter,
    /// host_settings: large receive offload with generic XDP.
    LroOn,
    /// host_settings: a VIP assigned to an interface other than lo.
    VipElsewhere,
    /// daemon: no nlbd answers on the interface.
    NotRunning,
    /// daemon: nlbd runs but stands aside.
    StandingAside,
    /// daemon: peers advertise another cluster configuration.
    ConfigMismatch,
    /// switch_learned_cluster_mac: VIP frames reach some members only.
    ReceptionUneven,
}

/// How bad a finding is: a problem (`nlb doctor` exits 1) or a notice of a cost that
/// comes with the cluster's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something is wrong.
    Problem,
    /// Expected in the cluster's mode, but it costs something worth knowing.
    Notice,
}

/// What a MAC in the evidence is, as far as the analyzer can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MacRole {
    /// The cluster MAC of the cluster's mode for this address's family.
    ClusterMac,
    /// A cluster MAC of this VIP in another mode (or derived from another VIP).
    OtherModeClusterMac,
    /// Windows unicast mode's masked source MAC `02-<host id>-WW-XX-YY-ZZ`.
    MaskedSourceMac,
    /// One of [`Context::member_macs`].
    MemberNic,
    /// None of the above.
    Other,
}

/// One MAC address in a finding's evidence, with the frames it was seen in.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MacShare {
    /// The MAC, Windows form (`02-bf-c6-33-64-0a`).
    pub mac: String,
    /// What it is.
    pub role: MacRole,
    /// What `frames` counts.
    pub counts: Counted,
    /// Frames it was seen in: see `counts`.
    pub frames: u64,
    /// Its share of the frames the finding counts, 0..=1.
    pub share: f64,
    /// Capture time of the first and last of them, in seconds.
    pub first_s: f64,
    /// See `first_s`.
    pub last_s: f64,
    /// Who sent them, where the finding says so: Ethernet sources, or `MAC IP` of
    /// neighbours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<String>,
}

/// What a [`MacShare`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// ARP replies, gratuitous ARP and neighbour advertisements claiming the address
    /// with this MAC.
    Claims,
    /// Frames sent to this MAC (the address's, or the cluster's).
    FramesTo,
    /// Frames sent from this MAC.
    FramesFrom,
}

/// A frame rate over the capture's span.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rate {
    /// Frames counted.
    pub frames: u64,
    /// Their bytes (Ethernet frames as captured).
    pub bytes: u64,
    /// The capture's span in seconds.
    pub span_s: f64,
    /// Frames per second over the span (0 for a span of 0).
    pub frames_per_s: f64,
    /// Bytes per second over the span.
    pub bytes_per_s: f64,
}

/// One IGMP/MLD querier.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Querier {
    /// Its source address.
    pub ip: IpAddr,
    /// The source MAC of its first query.
    pub mac: String,
    /// Queries seen (general and group-specific).
    pub queries: u64,
    /// First and last query, seconds.
    pub first_s: f64,
    /// See `first_s`.
    pub last_s: f64,
}

/// Membership reports seen for one of the cluster's groups.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Membership {
    /// The group.
    pub group: IpAddr,
    /// Reports joining it (IGMPv1/v2/v3, MLDv1/v2).
    pub joins: u64,
    /// Leaves (IGMPv2 leave, MLD done, v3/v2 records changing to include nothing).
    pub leaves: u64,
    /// Who sent them.
    pub reporters: Vec<IpAddr>,
    /// The last join, seconds (None: no join seen).
    pub last_join_s: Option<f64>,
}

/// Structured evidence of a finding, for `--json`; empty parts are left out.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// The MACs involved, with frame counts and shares.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<MacShare>,
    /// Frames to the cluster MAC over the capture (flooding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Queriers heard (igmp).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queriers: Vec<Querier>,
    /// Membership reports for the cluster's groups (igmp).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<Membership>,
    /// MTUs reported (path_mtu).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mtus: Vec<u32>,
    /// Flows quoted by ICMP errors (path_mtu), at most [`MAX_FLOWS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<String>,
    /// A time the finding turns on, seconds: the last frame to the cluster MAC
    /// (membership not seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_s: Option<f64>,
}

/// At most this many quoted flows are kept per hop.
pub const MAX_FLOWS: usize = 8;

/// One finding: what was seen, why, what it does, and what to do.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The kind.
    pub kind: FindingKind,
    /// The likely cause within the kind.
    pub diagnosis: Diagnosis,
    /// Problem or notice.
    pub severity: Severity,
    /// The address, MAC or group it is about.
    pub subject: String,
    /// What was seen: frames, addresses, counts, times.
    pub seen: String,
    /// The likely cause.
    pub cause: String,
    /// What it does to the cluster's traffic.
    pub consequence: String,
    /// What to do.
    pub fix: String,
    /// The same, structured.
    pub evidence: Evidence,
}

/// Counts over everything the analyzer was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Frames given.
    pub frames: u64,
    /// Frames too short for Ethernet, or whose ARP, IPv4 or IPv6 header is truncated or
    /// malformed: skipped.
    pub undecodable: u64,
    /// The earliest capture time given.
    pub first: Option<Duration>,
    /// The latest capture time given.
    pub last: Option<Duration>,
}

impl Stats {
    /// The time the capture covers: last minus first (zero when empty).
    pub fn span(&self) -> Duration {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        }
    }
}

/// Frames, first and last time.
#[derive(Clone, Copy, Debug)]
struct Seen {
    frames: u64,
    bytes: u64,
    first: Duration,
    last: Duration,
}

impl Seen {
    fn new(at: Duration) -> Self {
        Seen {
            frames: 0,
            bytes: 0,
            first: at,
            last: at,
        }
    }

    fn add(&mut self, at: Duration, bytes: usize) {
        self.frames += 1;
        self.bytes += bytes as u64;
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }
}

fn seen_entry<K: Ord>(map: &mut BTreeMap<K, Seen>, key: K, at: Duration, bytes: usize) {
    map.entry(key)
        .or_insert_with(|| Seen::new(at))
        .add(at, bytes);
}

/// The claims of one MAC for one address.
#[derive(Clone, Debug)]
struct Claim {
    seen: Seen,
    /// Ethernet sources of the claims, with their counts and last time.
    senders: BTreeMap<MacAddr, Seen>,
    /// Two senders whose claims came within [`SPLIT_WINDOW`] of each other.
    split: Option<(MacAddr, MacAddr, Duration)>,
}

/// What the analyzer keeps of IGMP/MLD.
#[derive(Clone, Debug, Default)]
struct GroupReports {
    joins: u64,
    leaves: u64,
    reporters: BTreeSet<IpAddr>,
    last_join: Option<Duration>,
}

/// An ICMP hop reporting a smaller MTU.
#[derive(Clone, Debug)]
struct TooBig {
    seen: Seen,
    mac: MacAddr,
    mtus: BTreeSet<u32>,
    flows: Vec<String>,
}

/// The analysis: feed it frames with [`Analyzer::frame`], then ask for
/// [`Analyzer::findings`] (as often as wanted: it does not consume anything).
#[derive(Clone, Debug)]
pub struct Analyzer {
    ctx: Context,
    stats: Stats,
    /// Cluster MACs of each VIP in every mode; the expected one per VIP.
    vip_macs: BTreeMap<IpAddr, VipMacs>,
    /// The cluster MACs frames reach the cluster at in its mode (all modes' when unknown).
    cluster_macs: BTreeSet<MacAddr>,
    /// Address -> claimed MAC -> claims.
    claims: BTreeMap<IpAddr, BTreeMap<MacAddr, Claim>>,
    /// (VIP, destination cluster MAC) -> (neighbour MAC, neighbour IP) -> frames.
    to_vip: BTreeMap<(IpAddr, MacAddr), BTreeMap<(MacAddr, IpAddr), Seen>>,
    /// Source IP -> source MAC -> frames (IP frames, not ARP).
    sources: BTreeMap<IpAddr, BTreeMap<MacAddr, Seen>>,
    /// Destination cluster MAC -> frames and bytes.
    to_cluster: BTreeMap<MacAddr, Seen>,
    /// Querier address -> (its first source MAC, queries).
    queries: BTreeMap<IpAddr, (MacAddr, Seen)>,
    /// The cluster's IGMP/MLD groups -> reports.
    reports: BTreeMap<IpAddr, GroupReports>,
    /// ICMP source -> what it reported.
    too_big: BTreeMap<IpAddr, TooBig>,
    /// Source MACs of nlb heartbeats in the capture: members' NICs.
    heard_members: BTreeSet<MacAddr>,
}

/// The cluster MACs of one VIP.
#[derive(Clone, Debug)]
struct VipMacs {
    /// What the VIP's family is reached at in the cluster's mode (None: mode unknown).
    expected: Option<MacAddr>,
    /// Every cluster MAC of the VIP in every mode, with the mode.
    all: BTreeMap<MacAddr, OperationMode>,
}

impl Analyzer {
    /// An analyzer for a capture in `ctx`.
    pub fn new(ctx: Context) -> Self {
        let mut vip_macs = BTreeMap::new();
        let mut cluster_macs = BTreeSet::new();
        for &vip in &ctx.vips {
            let mut all = BTreeMap::new();
            for mode in OperationMode::ALL {
                let fam = FamilyAddressing::new(mode, &ctx.vips);
                let family_mac = if vip.is_ipv6() {
                    fam.v6_mac
                } else {
                    fam.v4_mac
                };
                let own = ClusterAddressing { vip }.cluster_mac(mode);
                for mac in family_mac.into_iter().chain([own]) {
                    all.entry(mac).or_insert(mode);
                }
                if ctx.mode.is_none() || ctx.mode == Some(mode) {
                    cluster_macs.extend(family_mac);
                }
            }
            let expected = ctx.mode.and_then(|mode| {
                let fam = FamilyAddressing::new(mode, &ctx.vips);
                if vip.is_ipv6() {
                    fam.v6_mac
                } else {
                    fam.v4_mac
                }
            });
            vip_macs.insert(vip, VipMacs { expected, all });
        }
        let reports = match ctx.mode {
            Some(OperationMode::IgmpMulticast) => {
                FamilyAddressing::new(OperationMode::IgmpMulticast, &ctx.vips).groups
            }
            // Mode unknown: the groups the cluster would join, as evidence.
            None => FamilyAddressing::new(OperationMode::IgmpMulticast, &ctx.vips).groups,
            Some(_) => Vec::new(),
        }
        .into_iter()
        .map(|g| (g, GroupReports::default()))
        .collect();
        Analyzer {
            ctx,
            stats: Stats::default(),
            vip_macs,
            cluster_macs,
            claims: BTreeMap::new(),
            to_vip: BTreeMap::new(),
            sources: BTreeMap::new(),
            to_cluster: BTreeMap::new(),
            queries: BTreeMap::new(),
            reports,
            too_big: BTreeMap::new(),
            heard_members: BTreeSet::new(),
        }
    }

    /// The context it was made with.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Counts of frames given and undecodable, and the span covered.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Takes one Ethernet frame captured at `at` (any epoch, as long as it is the same
    /// for every frame; frames may come slightly out of order). Never panics.
    pub fn frame(&mut self, at: Duration, bytes: &[u8]) {
        let s = &mut self.stats;
        s.frames += 1;
        s.first = Some(s.first.map_or(at, |f| f.min(at)));
        s.last = Some(s.last.map_or(at, |l| l.max(at)));
        // A heartbeat names a member's NIC by its source MAC (the magic is enough: a
        // forged one only makes its sender's frames from a VIP look normal).
        if bytes.get(12..14) == Some(&crate::wire::ETHERTYPE.to_be_bytes()[..])
            && bytes.get(14..17) == Some(&b"NLB"[..])
        {
            if let Some(src) = bytes.get(6..12) {
                self.heard_members
                    .insert(MacAddr(src.try_into().expect("6 bytes")));
            }
        }
        let Some(f) = decode::frame(bytes) else {
            self.stats.undecodable += 1;
            return;
        };
        if self.cluster_macs.contains(&f.dst) {
            seen_entry(&mut self.to_cluster, f.dst, at, f.len);
        }
        match &f.body {
            Body::Other => {}
            Body::Arp(arp) => {
                let ip = IpAddr::V4(arp.sender_ip);
                let reply = arp.op == 2;
                let gratuitous = arp.op == 1 && arp.sender_ip == arp.target_ip;
                // Requests tell their sender's address too, but a member may ask with
                // a VIP as sender; only replies and announcements claim a VIP.
                let request = arp.op == 1 && !self.vip_macs.contains_key(&ip);
                if !arp.sender_ip.is_unspecified() && (reply || gratuitous || request) {
                    self.claim(at, ip, arp.sender_mac, f.src, f.len);
                }
            }
            Body::Ip(ip) => {
                if self.vip_macs.contains_key(&ip.dst)
                    && self.vip_macs[&ip.dst].all.contains_key(&f.dst)
                {
                    let to = self.to_vip.entry((ip.dst, f.dst)).or_default();
                    seen_entry(to, (f.src, ip.src), at, f.len);
                }
                if !ip.src.is_unspecified() && !ip.src.is_multicast() && !f.src.is_multicast() {
                    let by_mac = self.sources.entry(ip.src).or_default();
                    seen_entry(by_mac, f.src, at, f.len);
                }
                self.upper(at, &f, ip);
            }
        }
    }

    fn upper(&mut self, at: Duration, f: &decode::Frame, ip: &decode::Ip) {
        match &ip.upper {
            Upper::Other => {}
            Upper::NeighborAdvert { target, tlla } => {
                if let Some(mac) = tlla {
                    if !target.is_unspecified() {
                        self.claim(at, IpAddr::V6(*target), *mac, f.src, f.len);
                    }
                }
            }
            Upper::TooBig { mtu, quoted } => {
                let t = self.too_big.entry(ip.src).or_insert_with(|| TooBig {
                    seen: Seen::new(at),
                    mac: f.src,
                    mtus: BTreeSet::new(),
                    flows: Vec::new(),
                });
                t.seen.add(at, f.len);
                t.mtus.insert(*mtu);
                if let Some(flow) = quoted {
                    let flow = flow.to_string();
                    if t.flows.len() < MAX_FLOWS && !t.flows.contains(&flow) {
                        t.flows.push(flow);
                    }
                }
            }
            Upper::Query { .. } => {
                self.queries
                    .entry(ip.src)
                    .or_insert_with(|| (f.src, Seen::new(at)))
                    .1
                    .add(at, f.len);
            }
            Upper::Report { joined, left } => {
                for g in joined {
                    if let Some(r) = self.reports.get_mut(g) {
                        r.joins += 1;
                        r.reporters.insert(ip.src);
                        r.last_join = Some(r.last_join.map_or(at, |l| l.max(at)));
                    }
                }
                for g in left {
                    if let Some(r) = self.reports.get_mut(g) {
                        r.leaves += 1;
                        r.reporters.insert(ip.src);
                    }
                }
            }
        }
    }

    /// Records that a frame from `sender` claims `ip` is at `mac`.
    fn claim(&mut self, at: Duration, ip: IpAddr, mac: MacAddr, sender: MacAddr, len: usize) {
        let c = self
            .claims
            .entry(ip)
            .or_default()
            .entry(mac)
            .or_insert_with(|| Claim {
                seen: Seen::new(at),
                senders: BTreeMap::new(),
                split: None,
            });
        c.seen.add(at, len);
        if c.split.is_none() {
            c.split = c
                .senders
                .iter()
                .filter(|(m, _)| **m != sender)
                .find(|(_, s)| s.last.abs_diff(at) <= SPLIT_WINDOW)
                .map(|(m, _)| (*m, sender, at));
        }
        seen_entry(&mut c.senders, sender, at, len);
    }

    /// Everything found so far, problems first, then by kind and subject.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        checks::duplicate_ip(self, &mut out);
        checks::source_mac_substitution(self, &mut out);
        checks::flooding(self, &mut out);
        checks::igmp(self, &mut out);
        checks::path_mtu(self, &mut out);
        out.sort_by_key(|f| (f.severity, f.kind));
        out
    }
}

/// Seconds, for evidence.
fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
