//! The checks: from what [`Analyzer`] kept of the frames to [`Finding`]s, in words for
//! the operator.

use super::{
    secs, Analyzer, Claim, Counted, Diagnosis, Evidence, Finding, FindingKind, MacRole, MacShare,
    Membership, Querier, Rate, Seen, Severity, MIN_FRAMES, MIN_SHARE, SPLIT_WINDOW,
};
use crate::addressing::{FamilyAddressing, OperationMode};
use crate::mac::MacAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// Frames to the cluster MAC must have come at least this many times before their
/// stopping counts as the membership lost.
const MEMBERSHIP_MIN_FRAMES: u64 = 10;
/// ...and have stopped for at least this long before the capture ends (and ten of their
/// average intervals).
const MEMBERSHIP_GAP: Duration = Duration::from_secs(5);

/// `12.345 s`.
fn t(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `between 1.000 s and 2.500 s`, or `at 1.000 s`.
fn span(s: &Seen) -> String {
    if s.first == s.last {
        format!("at {}", t(s.first))
    } else {
        format!("between {} and {}", t(s.first), t(s.last))
    }
}

/// Up to five addresses, then how many more.
fn addresses(ips: &[IpAddr]) -> String {
    let shown: Vec<String> = ips.iter().take(5).map(|i| i.to_string()).collect();
    if ips.len() > 5 {
        format!("{} and {} more", shown.join(", "), ips.len() - 5)
    } else {
        shown.join(", ")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn share(
    mac: MacAddr,
    role: MacRole,
    counts: Counted,
    s: &Seen,
    total: u64,
    senders: Vec<String>,
) -> MacShare {
    MacShare {
        mac: mac.windows(),
        role,
        counts,
        frames: s.frames,
        share: if total == 0 {
            0.0
        } else {
            s.frames as f64 / total as f64
        },
        first_s: secs(s.first),
        last_s: secs(s.last),
        senders,
    }
}

fn family_word(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "neighbour discovery"
    } else {
        "ARP"
    }
}

fn claim_word(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "neighbour advertisements"
    } else {
        "ARP replies or announcements"
    }
}

fn cache_fix(ip: IpAddr) -> String {
    if ip.is_ipv6() {
        format!(
            "clear the neighbours' caches for {ip} (Linux: `ip -6 neigh del {ip} dev IF`; Windows: \
             `netsh interface ipv6 delete neighbors`) or wait for them to expire"
        )
    } else {
        format!(
            "clear the neighbours' ARP caches for {ip} (Linux: `ip neigh del {ip} dev IF`; Windows: \
             `arp -d {ip}`; Cisco: `clear ip arp {ip}`) or wait for them to expire"
        )
    }
}

impl Analyzer {
    /// Whether `mac` is a member's NIC: given in the context, or heard sending
    /// heartbeats in the capture.
    fn is_member(&self, mac: MacAddr) -> bool {
        self.ctx.member_macs.contains(&mac) || self.heard_members.contains(&mac)
    }

    /// The role of `mac` for VIP `vip` (or for a plain address).
    fn role(&self, vip: IpAddr, mac: MacAddr) -> MacRole {
        if let Some(v) = self.vip_macs.get(&vip) {
            if v.expected == Some(mac) || (v.expected.is_none() && v.all.contains_key(&mac)) {
                return MacRole::ClusterMac;
            }
            if v.all.contains_key(&mac) {
                return MacRole::OtherModeClusterMac;
            }
            if self.is_masked(mac) {
                return MacRole::MaskedSourceMac;
            }
        }
        if self.is_member(mac) {
            MacRole::MemberNic
        } else {
            MacRole::Other
        }
    }

    /// Windows' masked source MAC `02-<host id>-WW-XX-YY-ZZ` of any VIP (id not 0xbf:
    /// that is the unicast cluster MAC).
    fn is_masked(&self, mac: MacAddr) -> bool {
        let m = mac.0;
        m[0] == 0x02
            && m[1] != 0xbf
            && self.ctx.vips.iter().any(|vip| {
                let o = match vip {
                    IpAddr::V4(v) => v.octets(),
                    IpAddr::V6(v) => {
                        let o = v.octets();
                        [o[12], o[13], o[14], o[15]]
                    }
                };
                m[2..] == o
            })
    }

    /// `02-bf-… (the cluster MAC in unicast mode)`.
    fn describe(&self, vip: IpAddr, mac: MacAddr) -> String {
        let mode = self.vip_macs.get(&vip).and_then(|v| v.all.get(&mac));
        let what = match (self.role(vip, mac), mode) {
            (MacRole::ClusterMac, Some(m)) if self.ctx.mode.is_some() => {
                format!("the cluster MAC in {m} mode, the cluster's")
            }
            (MacRole::ClusterMac, Some(m)) => format!("the cluster MAC in {m} mode"),
            (MacRole::OtherModeClusterMac, Some(m)) => format!("a cluster MAC of {m} mode"),
            (MacRole::MaskedSourceMac, _) => {
                format!("Windows' masked source MAC of host id {}", mac.0[1])
            }
            (MacRole::MemberNic, _) => "a member's own NIC MAC".to_string(),
            _ if self.vip_macs.contains_key(&vip) => {
                "no cluster MAC of the VIP in any mode".to_string()
            }
            _ => return mac.windows(),
        };
        format!("{mac} ({what})")
    }

    fn senders(c: &Claim) -> Vec<String> {
        c.senders
            .iter()
            .map(|(m, s)| format!("{m} ({})", plural(s.frames, "frame", "frames")))
            .collect()
    }

    /// `02-bf-… (…): 4 claims between 1 s and 2 s, sent from A (3 frames), B (1 frame)`.
    fn claims_text(&self, ip: IpAddr, macs: &[(&MacAddr, &Claim)]) -> String {
        macs.iter()
            .map(|(mac, c)| {
                format!(
                    "{}: {} {}, sent from {}",
                    self.describe(ip, **mac),
                    plural(c.seen.frames, "claim", "claims"),
                    span(&c.seen),
                    Self::senders(c).join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn claim_shares(&self, ip: IpAddr, claims: &BTreeMap<MacAddr, Claim>) -> Vec<MacShare> {
        let total = claims.values().map(|c| c.seen.frames).sum();
        claims
            .iter()
            .map(|(mac, c)| {
                share(
                    *mac,
                    self.role(ip, *mac),
                    Counted::Claims,
                    &c.seen,
                    total,
                    Self::senders(c),
                )
            })
            .collect()
    }

    fn mode_text(&self) -> String {
        self.ctx
            .mode
            .map_or("an unknown mode".to_string(), |m| format!("{m} mode"))
    }
}

// Each argument is one field of the finding, named at every call by its text.
#[allow(clippy::too_many_arguments)]
fn finding(
    kind: FindingKind,
    diagnosis: Diagnosis,
    subject: impl Into<String>,
    seen: String,
    cause: String,
    consequence: String,
    fix: String,
    evidence: Evidence,
) -> Finding {
    Finding {
        kind,
        diagnosis,
        severity: Severity::Problem,
        subject: subject.into(),
        seen,
        cause,
        consequence,
        fix,
        evidence,
    }
}

/// duplicate_ip: every address claimed by more than one MAC, and every VIP claimed with
/// a MAC it should not be, or whose frames go to another mode's cluster MAC.
pub(super) fn duplicate_ip(a: &Analyzer, out: &mut Vec<Finding>) {
    for (&ip, claims) in &a.claims {
        if a.vip_macs.contains_key(&ip) {
            vip_claims(a, ip, claims, out);
        } else if claims.len() > 1 {
            let all: Vec<_> = claims.iter().collect();
            out.push(finding(
                FindingKind::DuplicateIp,
                Diagnosis::DuplicateAddress,
                ip.to_string(),
                format!(
                    "{ip} is claimed by {} MACs in {}: {}",
                    claims.len(),
                    family_word(ip),
                    a.claims_text(ip, &all)
                ),
                "two hosts are configured with the same address (a copied VM, a static address \
                 inside a DHCP range, a member's dedicated address given twice), or a router answers \
                 for it by proxy ARP; a host whose NIC was replaced during the capture shows the same"
                    .into(),
                format!(
                    "neighbours switch between the MACs with every {} they hear, so connections to \
                     {ip} break at random and both hosts log duplicate address warnings",
                    if ip.is_ipv6() { "advertisement" } else { "ARP packet" }
                ),
                format!(
                    "find the hosts by their MACs in the switch's MAC address table and give one of \
                     them another address (a member's dedicated address is `[host] address` in its \
                     configuration); then {}",
                    cache_fix(ip)
                ),
                Evidence {
                    macs: a.claim_shares(ip, claims),
                    ..Evidence::default()
                },
            ));
        }
    }
    stale_frames_without_claims(a, out);
}

fn vip_claims(a: &Analyzer, ip: IpAddr, claims: &BTreeMap<MacAddr, Claim>, out: &mut Vec<Finding>) {
    let by_role = |role: MacRole| -> Vec<(&MacAddr, &Claim)> {
        claims
            .iter()
            .filter(|(m, _)| a.role(ip, **m) == role)
            .collect()
    };
    let evidence = || Evidence {
        macs: a.claim_shares(ip, claims),
        ..Evidence::default()
    };
    let expected = a.vip_macs[&ip].expected;
    let expected_text = expected.map_or(String::new(), |m| {
        format!(" (the cluster's {}: {m})", a.mode_text())
    });

    let foreign = by_role(MacRole::Other);
    if !foreign.is_empty() {
        let macs: Vec<String> = foreign.iter().map(|(m, _)| m.to_string()).collect();
        out.push(finding(
            FindingKind::DuplicateIp,
            Diagnosis::ForeignHost,
            ip.to_string(),
            format!(
                "VIP {ip} is claimed in {} with a MAC that is none of its cluster MACs{expected_text}: {}",
                claim_word(ip),
                a.claims_text(ip, &claims.iter().collect::<Vec<_>>())
            ),
            format!(
                "a host that is no cluster member uses the VIP: {} (the address configured on another \
                 machine, a forgotten VM or container, a router or firewall answering by proxy ARP)",
                macs.join(", ")
            ),
            "neighbours that believe it send the VIP's traffic to that host instead of the cluster: \
             their connections fail or reach the wrong server, the MAC they use changes with every \
             answer they hear, and hosts log duplicate address warnings"
                .into(),
            format!(
                "find {} in the switch's MAC address table (Cisco: `show mac address-table address \
                 {}`) and remove {ip} from that host; then {}",
                macs.join(", "),
                foreign[0].0.cisco(),
                cache_fix(ip)
            ),
            evidence(),
        ));
    }

    let masked = by_role(MacRole::MaskedSourceMac);
    if !masked.is_empty() {
        out.push(finding(
            FindingKind::DuplicateIp,
            Diagnosis::MaskedMacLeak,
            ip.to_string(),
            format!(
                "VIP {ip} is claimed with Windows NLB's masked source MAC{expected_text}: {}",
                a.claims_text(ip, &masked)
            ),
            "a host in Windows NLB unicast mode (MaskSourceMAC) answers for the VIP with the MAC it \
             masks its frames' source with, or a neighbour learned that MAC from the source of its \
             frames: Windows NLB and nlb hosts do not form one cluster"
                .into(),
            "neighbours that believe it send all of the VIP's traffic to that one host, and the switch \
             learns its port for it: that host gets every flow while it owns only its share, and the \
             other members get nothing"
                .into(),
            format!(
                "take the Windows NLB host out of the VIP (or move every host to nlb), make sure no \
                 NIC is configured with a 02-<host id>-… address; then {}",
                cache_fix(ip)
            ),
            evidence(),
        ));
    }

    let member = by_role(MacRole::MemberNic);
    if !member.is_empty() {
        out.push(finding(
            FindingKind::DuplicateIp,
            Diagnosis::MemberMacLeak,
            ip.to_string(),
            format!(
                "VIP {ip} is claimed with a member's own NIC MAC{expected_text}: {}",
                a.claims_text(ip, &member)
            ),
            if ip.is_ipv6() {
                "the member's kernel answers neighbour solicitations for the VIP itself besides the \
                 data path's answer with the cluster MAC: the VIP is configured on the cluster \
                 interface instead of lo"
                    .into()
            } else {
                "the member's kernel answers ARP for the VIP itself besides the data path's answer \
                 with the cluster MAC: the VIP is configured on the cluster interface instead of lo, \
                 or arp_ignore/arp_announce are not set"
                    .into()
            },
            "neighbours that believe it send all of the VIP's traffic to that member alone, which owns \
             only its share of the flows: the others' flows are dropped"
                .into(),
            format!(
                "keep the VIP on lo only (nlbd puts it there) and set net.ipv4.conf.<IF>.arp_ignore=1 \
                 and arp_announce=2 on the cluster interface (`nlb doctor` on the member checks them); \
                 then {}",
                cache_fix(ip)
            ),
            evidence(),
        ));
    }

    // Claims of one cluster MAC from two sources within the split window.
    let splits: Vec<(&MacAddr, &Claim)> = claims
        .iter()
        .filter(|(m, c)| a.role(ip, **m) == MacRole::ClusterMac && c.split.is_some())
        .collect();
    for (mac, c) in splits {
        let Some((first, second, at)) = c.split else {
            continue;
        };
        out.push(finding(
            FindingKind::DuplicateIp,
            Diagnosis::SplitCluster,
            ip.to_string(),
            format!(
                "VIP {ip} is claimed with {} by frames from {} different sources, {first} and \
                 {second} within {} of each other (at {}): {}",
                a.describe(ip, *mac),
                c.senders.len(),
                t(SPLIT_WINDOW),
                t(at),
                a.claims_text(ip, &[(mac, c)])
            ),
            "two members each act as the default host, which alone answers for the VIPs: the \
             cluster is split in two (the members do not hear each other's heartbeats: a VLAN or \
             filter between them, different cluster keys or configurations)"
                .into(),
            "each half of the cluster believes it owns every flow the other half owns: both serve, \
             or both drop, the same connections, so clients see resets and duplicate replies"
                .into(),
            "run `nlb query` on every member to see which members each one counts; check that \
             heartbeats (EtherType 0x88b5, broadcast) pass between all members, and run `nlb config \
             check` on every host's configuration file (same [cluster] part, same key)"
                .into(),
            evidence(),
        ));
    }

    stale(a, ip, claims, out);
}

/// The MACs frames to `vip` were addressed to, by role (cluster MACs only).
/// (neighbour MAC, neighbour IP) -> frames.
type Neighbours = BTreeMap<(MacAddr, IpAddr), Seen>;

fn addressed(a: &Analyzer, vip: IpAddr) -> Vec<(MacAddr, &Neighbours)> {
    a.to_vip
        .range((vip, MacAddr([0; 6]))..=(vip, MacAddr([0xff; 6])))
        .map(|((_, mac), n)| (*mac, n))
        .collect()
}

/// duplicate_ip, stale cluster MAC, for VIPs frames were sent to but nobody claimed.
fn stale_frames_without_claims(a: &Analyzer, out: &mut Vec<Finding>) {
    let vips: BTreeSet<IpAddr> = a.to_vip.keys().map(|(v, _)| *v).collect();
    for vip in vips {
        if !a.claims.contains_key(&vip) {
            stale(a, vip, &BTreeMap::new(), out);
        }
    }
}

fn stale(a: &Analyzer, ip: IpAddr, claims: &BTreeMap<MacAddr, Claim>, out: &mut Vec<Finding>) {
    let to = addressed(a, ip);
    let mode_known = a.ctx.mode.is_some();
    let is_stale = |mac: &MacAddr| a.role(ip, *mac) == MacRole::OtherModeClusterMac;
    // Mode known: the other modes' MACs. Unknown: every cluster MAC, once two are in use.
    let (stale_claims, stale_to): (Vec<(&MacAddr, &Claim)>, Vec<_>) = if mode_known {
        (
            claims.iter().filter(|(m, _)| is_stale(m)).collect(),
            to.iter().filter(|(m, _)| is_stale(m)).collect(),
        )
    } else {
        let cluster = |m: &MacAddr| a.role(ip, *m) == MacRole::ClusterMac;
        let used: BTreeSet<MacAddr> = claims
            .keys()
            .copied()
            .chain(to.iter().map(|(m, _)| *m))
            .filter(cluster)
            .collect();
        if used.len() < 2 {
            return;
        }
        (
            claims.iter().filter(|(m, _)| cluster(m)).collect(),
            to.iter().filter(|(m, _)| cluster(m)).collect(),
        )
    };
    if stale_claims.is_empty() && stale_to.is_empty() {
        return;
    }
    let expected = a.vip_macs[&ip].expected;
    let mut seen = Vec::new();
    let mut macs = Vec::new();
    let mut neighbours = Vec::new();
    for (mac, n) in &stale_to {
        let total: u64 = n.values().map(|s| s.frames).sum();
        let (first, last) = (
            n.values().map(|s| s.first).min().unwrap_or_default(),
            n.values().map(|s| s.last).max().unwrap_or_default(),
        );
        // By neighbour MAC: a router forwards for many addresses.
        let mut by_mac: BTreeMap<MacAddr, (u64, Vec<IpAddr>)> = BTreeMap::new();
        for ((m, i), s) in n.iter() {
            let e = by_mac.entry(*m).or_default();
            e.0 += s.frames;
            e.1.push(*i);
        }
        let from: Vec<String> = by_mac
            .iter()
            .map(|(m, (frames, ips))| {
                format!(
                    "{m} ({}, from {})",
                    plural(*frames, "frame", "frames"),
                    addresses(ips)
                )
            })
            .collect();
        neighbours.extend(by_mac.iter().map(|(m, (_, ips))| {
            if ips.len() == 1 {
                format!("the neighbour {} (MAC {m})", ips[0])
            } else {
                format!(
                    "the neighbour with MAC {m} (a router, most likely: the frames came from {})",
                    addresses(ips)
                )
            }
        }));
        seen.push(format!(
            "{} to {ip} were addressed to {}, sent by {}",
            plural(total, "frame", "frames"),
            a.describe(ip, *mac),
            from.join(", ")
        ));
        let s = Seen {
            frames: total,
            bytes: 0,
            first,
            last,
        };
        macs.push(share(
            *mac,
            a.role(ip, *mac),
            Counted::FramesTo,
            &s,
            total,
            from,
        ));
    }
    if !stale_claims.is_empty() {
        seen.push(format!(
            "{ip} was claimed in {} with {}",
            claim_word(ip),
            a.claims_text(ip, &stale_claims)
        ));
        for (mac, c) in &stale_claims {
            macs.push(share(
                **mac,
                a.role(ip, **mac),
                Counted::Claims,
                &c.seen,
                c.seen.frames,
                Analyzer::senders(c),
            ));
        }
    }
    let now = match expected {
        Some(m) => format!(" The cluster runs {} and is reached at {m}.", a.mode_text()),
        None => {
            " The cluster's mode is unknown here (give `--config`), so which MAC is stale cannot \
                 be told; only one of them is the cluster's."
                .to_string()
        }
    };
    let mut cause = Vec::new();
    if !stale_to.is_empty() {
        cause.push(format!(
            "{} {} a static or cached {} entry for the VIP from before a mode change (or from \
             before the primary VIP changed)",
            neighbours.join(", "),
            if neighbours.len() == 1 {
                "keeps"
            } else {
                "keep"
            },
            if ip.is_ipv6() { "neighbour" } else { "ARP" }
        ));
    }
    if !stale_claims.is_empty() {
        cause.push(
            "a host still runs the cluster in another mode (its configuration differs, or it was \
             not restarted after the mode change) and answers with that mode's MAC"
                .to_string(),
        );
    }
    out.push(finding(
        FindingKind::DuplicateIp,
        Diagnosis::StaleClusterMac,
        ip.to_string(),
        format!("{}.{now}", seen.join("; ")),
        cause.join("; or "),
        "traffic sent to the VIP at that MAC goes to a MAC the cluster no longer receives: the \
         switch floods or drops it and the members' data path does not take it, so those \
         neighbours' connections to the VIP fail while everyone else's work"
            .into(),
        format!(
            "delete the stale entry on each neighbour named ({}), and make every static entry use \
             the cluster MAC of the current mode (`nlb ip2mac {ip}`, `nlb switch-config --router`); \
             if a host answers with another mode's MAC, run `nlb config check` on every host's \
             configuration file and restart the odd one",
            cache_fix(ip)
        ),
        Evidence {
            macs,
            ..Evidence::default()
        },
    ));
}

/// True for the forms of cluster MAC (`02-bf-…`, `03-bf-…`, `01-00-5e-7f-…`,
/// `33-33-ef-ff-…`): an address claimed with one is some cluster's VIP, sent from by
/// every member with its own MAC.
fn looks_like_cluster_mac(mac: MacAddr) -> bool {
    let m = mac.0;
    matches!(m[..2], [0x02 | 0x03, 0xbf])
        || m[..4] == [0x01, 0x00, 0x5e, 0x7f]
        || m[..4] == [0x33, 0x33, 0xef, 0xff]
}

/// source_mac_substitution: a source IP with several source MACs, one of which never
/// claims the address (the claimers are duplicate_ip's business).
pub(super) fn source_mac_substitution(a: &Analyzer, out: &mut Vec<Finding>) {
    for (&ip, by_mac) in &a.sources {
        // A VIP of the context, or an address claimed with a MAC only a cluster uses.
        let is_vip = a.vip_macs.contains_key(&ip)
            || a.claims
                .get(&ip)
                .is_some_and(|c| c.keys().any(|m| looks_like_cluster_mac(*m)));
        if is_vip && a.ctx.member_macs.is_empty() && a.heard_members.is_empty() {
            continue;
        }
        let total: u64 = by_mac.values().map(|s| s.frames).sum();
        let significant: Vec<(&MacAddr, &Seen)> = by_mac
            .iter()
            .filter(|(_, s)| s.frames >= MIN_FRAMES && s.frames as f64 >= MIN_SHARE * total as f64)
            .collect();
        if significant.len() < 2 {
            continue;
        }
        let claimers = a.claims.get(&ip);
        let suspect: Vec<&MacAddr> = significant
            .iter()
            .map(|(m, _)| *m)
            .filter(|m| !claimers.is_some_and(|c| c.contains_key(m)))
            .filter(|m| !(is_vip && a.is_member(**m)))
            .collect();
        if suspect.is_empty() {
            continue;
        }
        let list: Vec<String> = significant
            .iter()
            .map(|(m, s)| {
                format!(
                    "{m} {} ({:.1}%)",
                    plural(s.frames, "frame", "frames"),
                    100.0 * s.frames as f64 / total as f64
                )
            })
            .collect();
        let suspects: Vec<String> = suspect.iter().map(|m| m.to_string()).collect();
        out.push(finding(
            FindingKind::SourceMacSubstitution,
            Diagnosis::SeveralSourceMacs,
            ip.to_string(),
            format!(
                "{} frames from {ip} carried {} source MACs: {}{}",
                total,
                significant.len(),
                list.join(", "),
                if is_vip {
                    format!(" (the members' NIC MACs are expected; {} is none of them)", suspects.join(", "))
                } else {
                    String::new()
                }
            ),
            "a hypervisor NIC team in switch-independent mode with dynamic (or Hyper-V port) load \
             balancing sends some of the host's frames with a physical NIC's MAC instead of the \
             VM's; less often, traffic from beyond a router arriving through two routers (then the \
             MACs are the routers')"
                .into(),
            "load balancers and firewalls that send replies back to the MAC a flow came from (F5 \
             \"auto last hop\", NetScaler \"MAC based forwarding\") send them to a MAC that drops \
             them, so sessions fail erratically; switches relearn the MAC on two ports and caches \
             that learn from traffic flap"
                .into(),
            "team the hypervisor's NICs in switch-dependent mode (LACP or static) or with an \
             address-hash balancing that keeps each flow on one NIC, or have the virtual switch keep \
             the VM's MAC on every frame; on a load balancer that returns by MAC, turn off auto last \
             hop / MAC based forwarding for this VLAN"
                .into(),
            Evidence {
                macs: significant
                    .iter()
                    .map(|(m, s)| {
                        let role = if is_vip { a.role(ip, **m) } else if a.is_member(**m) { MacRole::MemberNic } else { MacRole::Other };
                        share(**m, role, Counted::FramesFrom, s, total, Vec::new())
                    })
                    .collect(),
                ..Evidence::default()
            },
        ));
    }
}

/// flooding: frames to the cluster MAC at a port that is no member.
pub(super) fn flooding(a: &Analyzer, out: &mut Vec<Finding>) {
    if a.ctx.capture_is_member != Some(false) || a.to_cluster.is_empty() {
        return;
    }
    let frames: u64 = a.to_cluster.values().map(|s| s.frames).sum();
    let bytes: u64 = a.to_cluster.values().map(|s| s.bytes).sum();
    let span_s = secs(a.stats.span());
    let per = |n: u64| if span_s > 0.0 { n as f64 / span_s } else { 0.0 };
    let rate = Rate {
        frames,
        bytes,
        span_s,
        frames_per_s: per(frames),
        bytes_per_s: per(bytes),
    };
    let macs: Vec<String> = a.to_cluster.keys().map(|m| m.to_string()).collect();
    let seen = format!(
        "{} ({} bytes) to the cluster MAC {} reached this capture point, which is no member: \
         {:.1} frames/s, {:.0} bytes/s over {:.1} s",
        plural(frames, "frame", "frames"),
        bytes,
        macs.join(" and "),
        rate.frames_per_s,
        rate.bytes_per_s,
        span_s
    );
    let cost = format!(
        "every port of the VLAN carries the cluster's incoming traffic (here {:.0} bytes/s) and \
         every host on it receives and discards it: it fills slow ports and wakes every NIC",
        rate.bytes_per_s
    );
    let (diagnosis, severity, cause, fix) = match a.ctx.mode {
        Some(OperationMode::Unicast) => (
            Diagnosis::FloodingExpected,
            Severity::Notice,
            "expected in unicast mode: the switch never learns the cluster MAC (nlb hosts send \
             with their NICs' own MACs), so it floods every frame for the VIPs to every port of the \
             VLAN; that is how every member receives them"
                .to_string(),
            "give the cluster a VLAN of its own, or use igmp-multicast mode with IGMP snooping and a \
             querier (`nlb switch-config`), where the switch sends the cluster's frames to the \
             members' ports only"
                .to_string(),
        ),
        Some(OperationMode::Multicast) => (
            Diagnosis::FloodingExpected,
            Severity::Notice,
            "expected in multicast mode: switches flood frames to a group MAC to every port unless \
             given static MAC entries for the members' ports"
                .to_string(),
            "add static MAC entries for the cluster MAC on the members' ports (`nlb switch-config \
             --vendor V --ports P…`; they cannot follow live-migrated VMs), give the cluster a VLAN \
             of its own, or use igmp-multicast mode"
                .to_string(),
        ),
        Some(OperationMode::IgmpMulticast) => {
            let no_query = a
                .reports
                .keys()
                .any(|g| !a.queries.keys().any(|q| q.is_ipv6() == g.is_ipv6()));
            (
                Diagnosis::FloodingUnexpected,
                Severity::Problem,
                if no_query {
                    "no IGMP/MLD query was seen in this capture: without a querier a snooping switch \
                     lets the members' memberships age out (or never had them) and then floods the \
                     cluster's frames (see the igmp finding); or the switch snoops by IP group, not \
                     by MAC, and floods frames to the group MAC whose destination is the unicast VIP"
                        .to_string()
                } else {
                    "the switch snoops IGMP by IP group, not by MAC, and floods frames to the \
                     cluster's group MAC whose destination is the unicast VIP (a Linux bridge, many \
                     switches), or IGMP snooping is off on the VLAN"
                        .to_string()
                },
                "use a switch that filters by the group MAC (a PowerConnect \"bridge multicast \
                 group\", static entries for the group MAC on the members' ports: `nlb \
                 switch-config`), turn on IGMP snooping with a querier on the VLAN, or give the \
                 cluster a VLAN of its own"
                    .to_string(),
            )
        }
        None => (
            Diagnosis::FloodingExpected,
            Severity::Notice,
            "the cluster's mode is unknown (give `--config`): flooding is how unicast and \
             multicast mode reach every member, and a fault in igmp-multicast mode"
                .to_string(),
            "in unicast or multicast mode a VLAN of its own (or static MAC entries, multicast \
             mode); in igmp-multicast mode IGMP snooping with a querier (`nlb switch-config`)"
                .to_string(),
        ),
    };
    let mut f = finding(
        FindingKind::Flooding,
        diagnosis,
        macs.join(", "),
        seen,
        cause,
        cost,
        fix,
        Evidence {
            macs: a
                .to_cluster
                .iter()
                .map(|(m, s)| {
                    share(
                        *m,
                        MacRole::ClusterMac,
                        Counted::FramesTo,
                        s,
                        frames,
                        Vec::new(),
                    )
                })
                .collect(),
            rate: Some(rate),
            ..Evidence::default()
        },
    );
    f.severity = severity;
    out.push(f);
}

fn memberships(a: &Analyzer, v6: bool) -> Vec<Membership> {
    a.reports
        .iter()
        .filter(|(g, _)| g.is_ipv6() == v6)
        .map(|(g, r)| Membership {
            group: *g,
            joins: r.joins,
            leaves: r.leaves,
            reporters: r.reporters.iter().copied().collect(),
            last_join_s: r.last_join.map(secs),
        })
        .collect()
}

fn memberships_text(m: &[Membership]) -> String {
    m.iter()
        .map(|m| match m.last_join_s {
            Some(last) => format!(
                "{} membership {} for {} from {} (the last at {last:.3} s)",
                m.joins,
                if m.joins == 1 { "report" } else { "reports" },
                m.group,
                m.reporters
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("no membership report for {}", m.group),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// igmp: several queriers at once; no querier; frames to the cluster MAC that stop.
pub(super) fn igmp(a: &Analyzer, out: &mut Vec<Finding>) {
    for v6 in [false, true] {
        let proto = if v6 { "MLD" } else { "IGMP" };
        let queriers: Vec<(&IpAddr, &(MacAddr, Seen))> = a
            .queries
            .iter()
            .filter(|(ip, _)| ip.is_ipv6() == v6)
            .collect();
        let overlap = queriers.iter().enumerate().any(|(i, (_, (_, x)))| {
            queriers[i + 1..]
                .iter()
                .any(|(_, (_, y))| x.first.max(y.first) <= x.last.min(y.last))
        });
        let querier_evidence = || {
            queriers
                .iter()
                .map(|(ip, (mac, s))| Querier {
                    ip: **ip,
                    mac: mac.windows(),
                    queries: s.frames,
                    first_s: secs(s.first),
                    last_s: secs(s.last),
                })
                .collect::<Vec<_>>()
        };
        if overlap {
            let list: Vec<String> = queriers
                .iter()
                .map(|(ip, (mac, s))| {
                    format!(
                        "{ip} (MAC {mac}, {} {})",
                        plural(s.frames, "query", "queries"),
                        span(s)
                    )
                })
                .collect();
            out.push(finding(
                FindingKind::Igmp,
                Diagnosis::SeveralQueriers,
                format!("{proto} queriers"),
                format!("{} {proto} queriers queried at the same time: {}", queriers.len(), list.join(", ")),
                format!(
                    "queriers elect the one with the lowest address and the others fall silent; \
                     these go on querying together, so they do not hear each other's queries (a \
                     filter, or snooping domains joined by a link that drops queries) or speak \
                     different {proto} versions"
                ),
                "a snooping switch forwards reports towards the querier it knows; a switch that \
                 stops hearing the members' reports ages their ports out of the cluster's group and \
                 stops sending them the cluster's frames (or floods them)"
                    .into(),
                format!(
                    "keep one {proto} querier per VLAN: turn the querier off on every switch but one \
                     (or give the intended one the lowest address), with the same {proto} version \
                     everywhere"
                ),
                Evidence {
                    queriers: querier_evidence(),
                    ..Evidence::default()
                },
            ));
        }
        if a.ctx.mode != Some(OperationMode::IgmpMulticast) {
            continue;
        }
        let members = memberships(a, v6);
        if members.is_empty() {
            continue; // no VIP of this family
        }
        let span = a.stats.span();
        if queriers.is_empty() && span >= a.ctx.query_interval {
            out.push(finding(
                FindingKind::Igmp,
                Diagnosis::NoQuerier,
                members
                    .iter()
                    .map(|m| m.group.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                format!(
                    "no {proto} query in {:.1} s of capture (the query interval is {:.0} s); {}",
                    secs(span),
                    secs(a.ctx.query_interval),
                    memberships_text(&members)
                ),
                format!(
                    "no {proto} querier on the VLAN: neither a multicast router nor a switch's \
                     snooping querier"
                ),
                "a snooping switch learns the members' ports only from the reports they send \
                 unprompted (on joining, and when nlbd sees its link change); without queries \
                 nothing repeats them, the memberships age out (260 s by default) and the switch \
                 then floods the cluster's frames to every port or drops them, depending on the \
                 switch"
                    .to_string(),
                format!(
                    "turn on an {proto} snooping querier on the VLAN (Cisco: `ip igmp snooping \
                     querier`; `nlb switch-config` writes it for each vendor) or run a multicast \
                     router there"
                ),
                Evidence {
                    memberships: members.clone(),
                    ..Evidence::default()
                },
            ));
        }
        membership_not_seen(a, v6, &members, out);
    }
}

fn membership_not_seen(a: &Analyzer, v6: bool, members: &[Membership], out: &mut Vec<Finding>) {
    if a.ctx.capture_is_member != Some(true) {
        return;
    }
    let fam = FamilyAddressing::new(OperationMode::IgmpMulticast, &a.ctx.vips);
    let Some(mac) = (if v6 { fam.v6_mac } else { fam.v4_mac }) else {
        return;
    };
    let (Some(s), Some(end)) = (a.to_cluster.get(&mac), a.stats.last) else {
        return;
    };
    if s.frames < MEMBERSHIP_MIN_FRAMES {
        return;
    }
    let interval = (s.last - s.first) / (s.frames - 1) as u32;
    let gap = end.saturating_sub(s.last);
    if gap <= MEMBERSHIP_GAP.max(interval * 10) {
        return;
    }
    out.push(finding(
        FindingKind::Igmp,
        Diagnosis::MembershipNotSeen,
        members
            .iter()
            .map(|m| m.group.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        format!(
            "{} to the cluster MAC {mac} reached this member {} (one every {:.3} s on average), \
             then none for the last {:.1} s of the capture; {}",
            plural(s.frames, "frame", "frames"),
            span(s),
            interval.as_secs_f64(),
            gap.as_secs_f64(),
            memberships_text(members)
        ),
        "the switch no longer counts this member's port in the cluster's group: the membership \
         aged out (no querier prompting reports, or reports that do not reach the switch), or the \
         member moved to another port or switch (a live migration) and has not reported since"
            .into(),
        "this member receives none of the VIP's traffic: the flows it owns fail until it reports \
         again (at the next query, up to the query interval)"
            .into(),
        "put an IGMP (MLD) querier on the VLAN (see the other igmp findings) and check the member's \
         port is in the group (Cisco: `show ip igmp snooping groups`; Linux bridge: `bridge mdb \
         show`); nlbd re-reports its membership whenever its link changes"
            .into(),
        Evidence {
            macs: vec![share(mac, MacRole::ClusterMac, Counted::FramesTo, s, s.frames, Vec::new())],
            memberships: members.to_vec(),
            at_s: Some(secs(s.last)),
            ..Evidence::default()
        },
    ));
}

/// path_mtu: every hop that sent fragmentation needed / packet too big.
pub(super) fn path_mtu(a: &Analyzer, out: &mut Vec<Finding>) {
    for (hop, tb) in &a.too_big {
        let what = if hop.is_ipv6() {
            "ICMPv6 \"packet too big\""
        } else {
            "ICMP \"fragmentation needed\""
        };
        let mtus: Vec<String> = tb.mtus.iter().map(|m| m.to_string()).collect();
        let smallest = tb.mtus.first().copied().unwrap_or(0);
        out.push(finding(
            FindingKind::PathMtu,
            Diagnosis::PacketTooBig,
            hop.to_string(),
            format!(
                "{} {what} from {hop} (MAC {}) {}, reporting MTU {}{}",
                tb.seen.frames,
                tb.mac,
                span(&tb.seen),
                mtus.join(", "),
                if tb.flows.is_empty() {
                    String::new()
                } else {
                    format!(", for {}", tb.flows.join("; "))
                }
            ),
            format!(
                "a link beyond {hop} has a smaller MTU ({smallest}) than the packets sent on it: an \
                 MTU mismatch (jumbo frames on the hosts, 1500 somewhere on the path; a tunnel)"
            ),
            "where these messages are filtered or ignored, large transfers stall while small \
             packets (pings, handshakes) pass; where they arrive, each new path starts with a loss \
             and a retransmission (nlb sends them to the member owning the quoted flow)"
                .into(),
            format!(
                "set one MTU on every hop of the path (hosts, switch ports, routers: jumbo frames \
                 everywhere or nowhere), or lower the hosts' MTU to {smallest}; `nlb doctor` on a \
                 member probes the paths with don't-fragment packets to find the short hop"
            ),
            Evidence {
                macs: vec![share(tb.mac, MacRole::Other, Counted::FramesFrom, &tb.seen, tb.seen.frames, Vec::new())],
                mtus: tb.mtus.iter().copied().collect(),
                flows: tb.flows.clone(),
                ..Evidence::default()
            },
        ));
    }
}
