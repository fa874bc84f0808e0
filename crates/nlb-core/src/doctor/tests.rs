//! Synthetic captures: healthy ones in every mode and family give no finding; each
//! planted fault gives exactly its finding.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

// ---- frame builders ----

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn eth(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn arp(
    op: u16,
    eth_src: MacAddr,
    sha: MacAddr,
    spa: Ipv4Addr,
    tha: MacAddr,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sha.0);
    p.extend_from_slice(&spa.octets());
    p.extend_from_slice(&tha.0);
    p.extend_from_slice(&tpa.octets());
    let dst = if op == 1 { MacAddr::BROADCAST } else { tha };
    eth(dst, eth_src, 0x0806, &p)
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// IPv6 with a hop-by-hop router alert when `router_alert` (as MLD reports carry).
fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8], router_alert: bool) -> Vec<u8> {
    let mut ext = Vec::new();
    let first = if router_alert {
        ext.extend_from_slice(&[next, 0, 5, 2, 0, 0, 1, 0]);
        0
    } else {
        next
    };
    let len = (ext.len() + payload.len()) as u16;
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[first, 255]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(&ext);
    h.extend_from_slice(payload);
    h
}

fn udp(sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + len) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.resize(8 + len, 0x61);
    u
}

/// An IPv4 or IPv6 UDP packet in a frame.
fn ip_frame(dst_mac: MacAddr, src_mac: MacAddr, src: IpAddr, dst: IpAddr, len: usize) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth(
            dst_mac,
            src_mac,
            0x0800,
            &ipv4(s, d, 17, &udp(40000, 80, len)),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth(
            dst_mac,
            src_mac,
            0x86dd,
            &ipv6(s, d, 17, &udp(40000, 80, len), false),
        ),
        _ => panic!("mixed families"),
    }
}

/// A neighbour advertisement for `target` with a target link-layer address option.
fn na(eth_src: MacAddr, src: Ipv6Addr, target: Ipv6Addr, tlla: MacAddr) -> Vec<u8> {
    let mut icmp = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&tlla.0);
    let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
    eth(
        mac("33-33-00-00-00-01"),
        eth_src,
        0x86dd,
        &ipv6(src, all_nodes, 58, &icmp, false),
    )
}

/// A claim of `ip` at `claimed` sent from `eth_src`: a gratuitous ARP or an unsolicited NA.
fn announce(eth_src: MacAddr, ip: IpAddr, claimed: MacAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => arp(1, eth_src, claimed, v, MacAddr([0; 6]), v),
        IpAddr::V6(v) => na(eth_src, link_local(eth_src), v, claimed),
    }
}

/// The link-local address a host with `mac` sends from (its MAC in the interface id).
fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    let w = |a: u8, b: u8| u16::from_be_bytes([a, b]);
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        w(m[0] ^ 2, m[1]),
        w(m[2], 0xff),
        w(0xfe, m[3]),
        w(m[4], m[5]),
    )
}

/// A reply to `asker` claiming `ip` at `claimed` (ARP reply, or a solicited NA).
fn answer(eth_src: MacAddr, ip: IpAddr, claimed: MacAddr, asker: MacAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v) => arp(
            2,
            eth_src,
            claimed,
            v,
            asker,
            Ipv4Addr::new(198, 51, 100, 1),
        ),
        IpAddr::V6(v) => na(eth_src, v, v, claimed),
    }
}

fn igmp_query(src: Ipv4Addr, src_mac: MacAddr) -> Vec<u8> {
    let q = [0x11, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    eth(
        mac("01-00-5e-00-00-01"),
        src_mac,
        0x0800,
        &ipv4(src, Ipv4Addr::new(224, 0, 0, 1), 2, &q),
    )
}

fn igmp_v3_join(src: Ipv4Addr, src_mac: MacAddr, group: Ipv4Addr) -> Vec<u8> {
    let mut r = vec![0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0];
    r.extend_from_slice(&group.octets());
    eth(
        mac("01-00-5e-00-00-16"),
        src_mac,
        0x0800,
        &ipv4(src, Ipv4Addr::new(224, 0, 0, 22), 2, &r),
    )
}

fn mld_query(src: Ipv6Addr, src_mac: MacAddr) -> Vec<u8> {
    let mut q = vec![130, 0, 0, 0, 0, 100, 0, 0];
    q.extend_from_slice(&[0; 16]);
    q.extend_from_slice(&[0; 4]);
    let dst: Ipv6Addr = "ff02::1".parse().unwrap();
    eth(
        mac("33-33-00-00-00-01"),
        src_mac,
        0x86dd,
        &ipv6(src, dst, 58, &q, true),
    )
}

fn mld_v2_join(src: Ipv6Addr, src_mac: MacAddr, group: Ipv6Addr) -> Vec<u8> {
    let mut r = vec![143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0];
    r.extend_from_slice(&group.octets());
    let dst: Ipv6Addr = "ff02::16".parse().unwrap();
    eth(
        mac("33-33-00-00-00-16"),
        src_mac,
        0x86dd,
        &ipv6(src, dst, 58, &r, true),
    )
}

/// ICMP fragmentation needed / ICMPv6 packet too big from `hop`, quoting a TCP segment
/// from `from` port 80 to `to` port 51234.
fn too_big(hop_mac: MacAddr, hop: IpAddr, mtu: u16, from: IpAddr, to: IpAddr) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&51234u16.to_be_bytes());
    tcp.extend_from_slice(&[0; 4]);
    match (hop, from, to) {
        (IpAddr::V4(h), IpAddr::V4(f), IpAddr::V4(t)) => {
            let mut icmp = vec![3, 4, 0, 0, 0, 0];
            icmp.extend_from_slice(&mtu.to_be_bytes());
            let mut quoted = ipv4(f, t, 6, &tcp);
            quoted[2..4].copy_from_slice(&9000u16.to_be_bytes());
            icmp.extend_from_slice(&quoted);
            eth(MEMBER1, hop_mac, 0x0800, &ipv4(h, f, 1, &icmp))
        }
        (IpAddr::V6(h), IpAddr::V6(f), IpAddr::V6(t)) => {
            let mut icmp = vec![2, 0, 0, 0];
            icmp.extend_from_slice(&u32::from(mtu).to_be_bytes());
            icmp.extend_from_slice(&ipv6(f, t, 6, &tcp, false));
            eth(MEMBER1, hop_mac, 0x86dd, &ipv6(h, f, 58, &icmp, false))
        }
        _ => panic!("mixed families"),
    }
}

fn heartbeat(src: MacAddr) -> Vec<u8> {
    let mut payload = vec![0u8; 100];
    payload[..3].copy_from_slice(b"NLB");
    eth(MacAddr::BROADCAST, src, 0x88b5, &payload)
}

// ---- the cluster and its neighbours ----

const MEMBER1: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x00, 0x01]);
const MEMBER2: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x00, 0x02]);
const ROUTER: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x00, 0xfe]);
const FOREIGN: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x00, 0x66]);

fn vip4() -> IpAddr {
    "198.51.100.10".parse().unwrap()
}
fn vip6() -> IpAddr {
    "2001:db8::10".parse().unwrap()
}
fn router_ip(v6: bool) -> IpAddr {
    if v6 {
        "2001:db8::1".parse().unwrap()
    } else {
        "198.51.100.1".parse().unwrap()
    }
}
fn member_ip(n: u8, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            0,
            0x10 + u16::from(n),
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + n))
    }
}
fn client(n: u8, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, u16::from(n)))
    } else {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))
    }
}

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// A capture: frames with times, fed to an analyzer at the end.
#[derive(Default)]
struct Capture {
    frames: Vec<(Duration, Vec<u8>)>,
}

impl Capture {
    fn add(&mut self, at: f64, f: Vec<u8>) {
        self.frames.push((s(at), f));
    }

    fn analyze(&self, ctx: Context) -> Vec<Finding> {
        let mut a = Analyzer::new(ctx);
        let mut frames = self.frames.clone();
        frames.sort_by_key(|(t, _)| *t);
        for (t, f) in &frames {
            a.frame(*t, f);
        }
        assert_eq!(
            a.stats().undecodable,
            0,
            "the builders make decodable frames"
        );
        a.findings()
    }
}

fn ctx(mode: OperationMode, vips: &[IpAddr], member: Option<bool>) -> Context {
    Context {
        capture_is_member: member,
        member_macs: vec![MEMBER1, MEMBER2],
        ..Context::new(mode, vips.to_vec())
    }
}

/// The cluster MAC a VIP is reached at.
fn cmac(mode: OperationMode, vips: &[IpAddr], vip: IpAddr) -> MacAddr {
    let f = FamilyAddressing::new(mode, vips);
    if vip.is_ipv6() { f.v6_mac } else { f.v4_mac }.unwrap()
}

/// A healthy cluster of two members for `duration` seconds, captured at a member (or
/// anywhere the cluster's frames reach): ARP/ND answered by member 1 with the cluster
/// MAC, which fails at half time (member 2 announces the VIPs 3 s later); clients'
/// traffic to the VIPs through the router and replies from the members' NICs; members'
/// dedicated addresses; heartbeats; in igmp-multicast mode a querier and the members'
/// reports.
fn healthy(mode: OperationMode, vips: &[IpAddr], duration: f64, cluster_frames: bool) -> Capture {
    let mut c = Capture::default();
    let fail = duration / 2.0;
    for &vip in vips {
        let v6 = vip.is_ipv6();
        let cm = cmac(mode, vips, vip);
        c.add(0.5, answer(MEMBER1, vip, cm, ROUTER));
        c.add(fail + 3.0, announce(MEMBER2, vip, cm));
        c.add(duration * 0.9, answer(MEMBER2, vip, cm, ROUTER));
        let mut t = 1.0;
        let mut n = 0u8;
        while t < duration {
            n = n.wrapping_add(1);
            if cluster_frames {
                c.add(t, ip_frame(cm, ROUTER, client(n % 50 + 1, v6), vip, 500));
            }
            let replier = if t < fail || n % 2 == 0 {
                MEMBER1
            } else {
                MEMBER2
            };
            let replier = if t >= fail { MEMBER2 } else { replier };
            c.add(
                t + 0.01,
                ip_frame(ROUTER, replier, vip, client(n % 50 + 1, v6), 1200),
            );
            t += 0.25;
        }
        // The members' dedicated addresses, the router's.
        for (i, m) in [MEMBER1, MEMBER2].into_iter().enumerate() {
            let ip = member_ip(i as u8 + 1, v6);
            c.add(2.0 + i as f64, announce(m, ip, m));
            for k in 0..10 {
                c.add(5.0 + k as f64, ip_frame(ROUTER, m, ip, router_ip(v6), 100));
            }
        }
        c.add(2.5, answer(ROUTER, router_ip(v6), ROUTER, MEMBER1));
        for k in 0..10 {
            c.add(
                6.0 + k as f64,
                ip_frame(MEMBER1, ROUTER, router_ip(v6), member_ip(1, v6), 100),
            );
        }
    }
    let mut t = 0.0;
    while t < duration {
        c.add(t, heartbeat(MEMBER1));
        if t < fail || t > fail + 3.0 {
            c.add(t + 0.05, heartbeat(MEMBER2));
        }
        t += 1.0;
    }
    if mode == OperationMode::IgmpMulticast {
        let groups = FamilyAddressing::new(mode, vips).groups;
        let mut t = 1.0;
        while t < duration {
            for g in &groups {
                match g {
                    IpAddr::V4(g) => {
                        c.add(t, igmp_query(Ipv4Addr::new(198, 51, 100, 1), ROUTER));
                        for (i, m) in [MEMBER1, MEMBER2].into_iter().enumerate() {
                            let IpAddr::V4(me) = member_ip(i as u8 + 1, false) else {
                                unreachable!()
                            };
                            c.add(t + 0.5 + i as f64, igmp_v3_join(me, m, *g));
                        }
                    }
                    IpAddr::V6(g) => {
                        c.add(t, mld_query(link_local(ROUTER), ROUTER));
                        for (i, m) in [MEMBER1, MEMBER2].into_iter().enumerate() {
                            let me = link_local(m);
                            c.add(t + 0.5 + i as f64, mld_v2_join(me, m, *g));
                        }
                    }
                }
            }
            t += 125.0;
        }
    }
    c
}

fn vip_sets() -> Vec<Vec<IpAddr>> {
    vec![
        vec![vip4()],
        vec![vip6()],
        vec![vip4(), vip6()],
        vec![vip6(), vip4()],
    ]
}

fn kinds(f: &[Finding]) -> Vec<(FindingKind, Diagnosis)> {
    f.iter().map(|f| (f.kind, f.diagnosis)).collect()
}

/// Exactly one finding, of `diagnosis`; returns it.
fn only(f: Vec<Finding>, diagnosis: Diagnosis) -> Finding {
    assert_eq!(
        kinds(&f).into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
        vec![diagnosis],
        "{f:#?}"
    );
    f.into_iter().next().unwrap()
}

/// Each finding's words are all there and the JSON has the snake-case names.
fn check_words(f: &Finding) {
    for (what, text) in [
        ("subject", &f.subject),
        ("seen", &f.seen),
        ("cause", &f.cause),
        ("consequence", &f.consequence),
        ("fix", &f.fix),
    ] {
        assert!(text.len() > 3, "{what} empty: {f:#?}");
    }
    let json = serde_json::to_value(f).unwrap();
    let kind = json["kind"].as_str().unwrap();
    assert!(
        kind.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "{kind}"
    );
}

// ---- healthy captures ----

#[test]
fn healthy_captures_find_nothing_in_every_mode_and_family() {
    for mode in OperationMode::ALL {
        for vips in vip_sets() {
            for member in [Some(true), None] {
                let c = healthy(mode, &vips, 300.0, true);
                let f = c.analyze(ctx(mode, &vips, member));
                assert!(f.is_empty(), "{mode} {vips:?} {member:?}: {f:#?}");
                // Without member MACs or the capture point it still finds nothing.
                let f = c.analyze(Context::new(mode, vips.clone()));
                assert!(f.is_empty(), "{mode} {vips:?} bare: {f:#?}");
                // Nor without any context: no claims conflict.
                let f = c.analyze(Context::default());
                assert!(f.is_empty(), "{mode} {vips:?} no context: {f:#?}");
            }
            // A port that is no member: in igmp-multicast mode the cluster's frames do not
            // reach it, and nothing is found.
            if mode == OperationMode::IgmpMulticast {
                let c = healthy(mode, &vips, 300.0, false);
                let f = c.analyze(ctx(mode, &vips, Some(false)));
                assert!(f.is_empty(), "{mode} {vips:?} non-member: {f:#?}");
            }
        }
    }
}

#[test]
fn a_short_healthy_capture_in_igmp_mode_is_not_blamed_for_missing_queries() {
    let vips = [vip4(), vip6()];
    let mut c = healthy(OperationMode::IgmpMulticast, &vips, 100.0, true);
    c.frames.retain(|(t, _)| *t > s(10.0)); // the first query is before the capture
    let f = c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true)));
    assert!(f.is_empty(), "{f:#?}");
}

// ---- duplicate_ip ----

#[test]
fn a_foreign_host_claiming_a_vip() {
    for mode in OperationMode::ALL {
        for vips in vip_sets() {
            let vip = vips[0];
            let mut c = healthy(mode, &vips, 60.0, true);
            c.add(20.0, answer(FOREIGN, vip, FOREIGN, ROUTER));
            c.add(21.0, announce(FOREIGN, vip, FOREIGN));
            let f = only(
                c.analyze(ctx(mode, &vips, Some(true))),
                Diagnosis::ForeignHost,
            );
            check_words(&f);
            assert_eq!(f.kind, FindingKind::DuplicateIp);
            assert_eq!(f.subject, vip.to_string());
            assert!(f.seen.contains(&FOREIGN.to_string()), "{}", f.seen);
            assert!(f.fix.contains("5254.0000.0066"), "{}", f.fix);
            let roles: Vec<MacRole> = f.evidence.macs.iter().map(|m| m.role).collect();
            assert!(roles.contains(&MacRole::Other) && roles.contains(&MacRole::ClusterMac));
            // Without a mode it is still foreign: no cluster MAC of the VIP in any mode.
            let f = c.analyze(Context {
                mode: None,
                ..ctx(mode, &vips, Some(true))
            });
            only(f, Diagnosis::ForeignHost);
        }
    }
}

#[test]
fn a_neighbour_with_a_stale_entry_from_another_mode() {
    for mode in OperationMode::ALL {
        for vips in vip_sets() {
            let vip = vips[0];
            let mut c = healthy(mode, &vips, 60.0, true);
            // The old mode's MAC: the next mode round.
            let old = OperationMode::ALL[(mode as usize + 1) % 3];
            let stale = cmac(old, &vips, vip);
            let neighbour = client(200, vip.is_ipv6());
            for k in 0..20 {
                c.add(
                    10.0 + k as f64,
                    ip_frame(stale, ROUTER, neighbour, vip, 300),
                );
            }
            let f = only(
                c.analyze(ctx(mode, &vips, Some(true))),
                Diagnosis::StaleClusterMac,
            );
            check_words(&f);
            assert!(f.seen.contains(&stale.to_string()), "{}", f.seen);
            assert!(f.seen.contains(&format!("{old} mode")), "{}", f.seen);
            assert!(
                f.cause
                    .contains(&format!("the neighbour {neighbour} (MAC {ROUTER})")),
                "{}",
                f.cause
            );
            assert!(f.cause.contains(&ROUTER.to_string()), "{}", f.cause);
            assert_eq!(f.evidence.macs[0].role, MacRole::OtherModeClusterMac);
            assert_eq!(f.evidence.macs[0].frames, 20);
        }
    }
}

#[test]
fn a_host_answering_with_another_modes_mac() {
    let vips = [vip4()];
    let mut c = healthy(OperationMode::Unicast, &vips, 60.0, true);
    c.add(
        30.0,
        answer(
            FOREIGN,
            vip4(),
            cmac(OperationMode::Multicast, &vips, vip4()),
            ROUTER,
        ),
    );
    let f = only(
        c.analyze(ctx(OperationMode::Unicast, &vips, None)),
        Diagnosis::StaleClusterMac,
    );
    assert!(f.cause.contains("another mode"), "{}", f.cause);
    assert!(f.seen.contains("03-bf-c6-33-64-0a"), "{}", f.seen);
}

#[test]
fn two_cluster_macs_in_use_without_a_mode_are_stale() {
    let vips = [vip4()];
    let mut c = healthy(OperationMode::Multicast, &vips, 60.0, true);
    c.add(
        30.0,
        ip_frame(
            cmac(OperationMode::IgmpMulticast, &vips, vip4()),
            ROUTER,
            client(9, false),
            vip4(),
            10,
        ),
    );
    let f = c.analyze(Context {
        vips: vips.to_vec(),
        ..Context::default()
    });
    let f = only(f, Diagnosis::StaleClusterMac);
    assert!(f.seen.contains("mode is unknown"), "{}", f.seen);
    let counted: Vec<(String, Counted, u64)> = f
        .evidence
        .macs
        .iter()
        .map(|m| (m.mac.clone(), m.counts, m.frames))
        .collect();
    assert_eq!(
        counted,
        [
            ("01-00-5e-7f-64-0a".to_string(), Counted::FramesTo, 1),
            ("03-bf-c6-33-64-0a".to_string(), Counted::FramesTo, 236),
            ("03-bf-c6-33-64-0a".to_string(), Counted::Claims, 3),
        ]
    );
    assert!(f.cause.contains("a router, most likely"), "{}", f.cause);
    // Without the VIPs nothing tells a cluster MAC from another.
    assert!(c.analyze(Context::default()).is_empty());
}

#[test]
fn two_members_answering_at_once_is_a_split() {
    for mode in OperationMode::ALL {
        for vips in vip_sets() {
            let vip = vips[0];
            let cm = cmac(mode, &vips, vip);
            let mut c = healthy(mode, &vips, 60.0, true);
            c.add(10.0, answer(MEMBER1, vip, cm, ROUTER));
            c.add(10.0004, answer(MEMBER2, vip, cm, ROUTER));
            let f = only(
                c.analyze(ctx(mode, &vips, Some(true))),
                Diagnosis::SplitCluster,
            );
            check_words(&f);
            assert!(f.seen.contains(&MEMBER1.to_string()) && f.seen.contains(&MEMBER2.to_string()));
        }
    }
}

#[test]
fn the_masked_source_mac_claiming_a_vip() {
    let vips = [vip4(), vip6()];
    for vip in vips {
        let mut c = healthy(OperationMode::Unicast, &vips, 60.0, true);
        let masked = ClusterAddressing { vip }.masked_source_mac(3);
        c.add(12.0, answer(masked, vip, masked, ROUTER));
        let f = only(
            c.analyze(ctx(OperationMode::Unicast, &vips, Some(true))),
            Diagnosis::MaskedMacLeak,
        );
        check_words(&f);
        assert!(f.seen.contains("host id 3"), "{}", f.seen);
    }
}

#[test]
fn a_members_own_mac_claiming_a_vip() {
    for vips in vip_sets() {
        let vip = vips[0];
        let mut c = healthy(OperationMode::Multicast, &vips, 60.0, true);
        c.add(12.0, answer(MEMBER2, vip, MEMBER2, ROUTER));
        let f = only(
            c.analyze(ctx(OperationMode::Multicast, &vips, Some(true))),
            Diagnosis::MemberMacLeak,
        );
        check_words(&f);
        // Without the members' MACs given, the capture's heartbeats name them; without
        // those either it is a foreign MAC.
        only(
            c.analyze(Context::new(OperationMode::Multicast, vips.clone())),
            Diagnosis::MemberMacLeak,
        );
        c.frames
            .retain(|(_, f)| f.get(12..14) != Some(&0x88b5u16.to_be_bytes()[..]));
        only(
            c.analyze(Context::new(OperationMode::Multicast, vips.clone())),
            Diagnosis::ForeignHost,
        );
    }
}

#[test]
fn two_macs_claiming_a_dedicated_address() {
    for v6 in [false, true] {
        let vips = [if v6 { vip6() } else { vip4() }];
        let mut c = healthy(OperationMode::IgmpMulticast, &vips, 60.0, true);
        c.add(40.0, announce(FOREIGN, member_ip(1, v6), FOREIGN));
        let f = only(
            c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true))),
            Diagnosis::DuplicateAddress,
        );
        check_words(&f);
        assert_eq!(f.subject, member_ip(1, v6).to_string());
        assert_eq!(f.evidence.macs.len(), 2);
    }
}

// ---- source_mac_substitution ----

#[test]
fn one_source_ip_with_several_source_macs() {
    let team = mac("52-54-00-aa-00-01");
    for v6 in [false, true] {
        let vips = [if v6 { vip6() } else { vip4() }];
        let mut c = healthy(OperationMode::Unicast, &vips, 60.0, true);
        let host = client(77, v6);
        for k in 0..100 {
            let src = if k % 4 == 0 { team } else { FOREIGN };
            c.add(
                1.0 + k as f64 * 0.1,
                ip_frame(ROUTER, src, host, router_ip(v6), 100),
            );
        }
        // One stray frame of a third MAC is below the threshold (under 1%).
        c.add(
            30.0,
            ip_frame(ROUTER, mac("52-54-00-aa-00-02"), host, router_ip(v6), 100),
        );
        // So are two frames of 20 (10%, but fewer than 3).
        let other = client(78, v6);
        for k in 0..20 {
            let src = if k < 2 { team } else { MEMBER2 };
            c.add(
                3.0 + k as f64,
                ip_frame(ROUTER, src, other, router_ip(v6), 100),
            );
        }
        let f = only(
            c.analyze(ctx(OperationMode::Unicast, &vips, Some(true))),
            Diagnosis::SeveralSourceMacs,
        );
        check_words(&f);
        assert_eq!(f.kind, FindingKind::SourceMacSubstitution);
        // Shares of all the address's frames, the stray one's included.
        assert!(
            f.seen.contains("24.8%") && f.seen.contains("74.3%"),
            "{}",
            f.seen
        );
        assert!(f.consequence.contains("auto last hop"), "{}", f.consequence);
        assert_eq!(f.evidence.macs.len(), 2);
    }
}

#[test]
fn a_member_whose_vip_replies_leave_with_a_second_mac() {
    let team = mac("52-54-00-aa-00-01");
    let vips = [vip4()];
    let mut c = healthy(OperationMode::IgmpMulticast, &vips, 60.0, true);
    for k in 0..50 {
        c.add(
            2.0 + k as f64 * 0.2,
            ip_frame(ROUTER, team, vip4(), client(5, false), 1000),
        );
    }
    let f = only(
        c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true))),
        Diagnosis::SeveralSourceMacs,
    );
    assert!(
        f.seen.contains("52-54-00-aa-00-01 is none of them"),
        "{}",
        f.seen
    );
    // Without the members' MACs given, the capture's heartbeats name them (a mirror's
    // capture); without those either, frames from a VIP are not judged.
    let f = only(
        c.analyze(Context::new(OperationMode::IgmpMulticast, vips.to_vec())),
        Diagnosis::SeveralSourceMacs,
    );
    assert!(
        f.seen.contains("52-54-00-aa-00-01 is none of them"),
        "{}",
        f.seen
    );
    c.frames
        .retain(|(_, f)| f.get(12..14) != Some(&0x88b5u16.to_be_bytes()[..]));
    assert!(c
        .analyze(Context::new(OperationMode::IgmpMulticast, vips.to_vec()))
        .is_empty());
}

// ---- flooding ----

#[test]
fn frames_to_the_cluster_mac_at_a_non_member() {
    for mode in OperationMode::ALL {
        for vips in vip_sets() {
            let c = healthy(mode, &vips, 60.0, true);
            let f = only(
                c.analyze(ctx(mode, &vips, Some(false))),
                match mode {
                    OperationMode::IgmpMulticast => Diagnosis::FloodingUnexpected,
                    _ => Diagnosis::FloodingExpected,
                },
            );
            check_words(&f);
            let rate = f.evidence.rate.clone().unwrap();
            // Four frames a second per VIP from 1 s to 60 s, over the capture's 60 s.
            assert_eq!(rate.frames, 236 * vips.len() as u64, "{rate:?}");
            let bytes: u64 = vips
                .iter()
                .map(|v| if v.is_ipv6() { 236 * 562 } else { 236 * 542 })
                .sum();
            assert_eq!(rate.bytes, bytes, "{rate:?}");
            assert!((59.0..60.0).contains(&rate.span_s), "{rate:?}");
            assert!(
                (rate.frames_per_s - rate.frames as f64 / rate.span_s).abs() < 1e-9,
                "{rate:?}"
            );
            assert!(f.seen.contains("frames/s"), "{}", f.seen);
            assert_eq!(
                f.severity,
                if mode == OperationMode::IgmpMulticast {
                    Severity::Problem
                } else {
                    Severity::Notice
                }
            );
            if mode == OperationMode::IgmpMulticast {
                assert!(f.cause.contains("snoops IGMP by IP group"), "{}", f.cause);
            } else {
                assert!(f.cause.starts_with("expected"), "{}", f.cause);
            }
        }
    }
}

#[test]
fn flooding_in_igmp_mode_without_a_querier_points_at_it() {
    let vips = [vip4()];
    let mut c = healthy(OperationMode::IgmpMulticast, &vips, 200.0, true);
    c.frames.retain(|(_, f)| !decode_is_query(f));
    let f = c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(false)));
    assert_eq!(
        kinds(&f),
        vec![
            (FindingKind::Flooding, Diagnosis::FloodingUnexpected),
            (FindingKind::Igmp, Diagnosis::NoQuerier)
        ]
    );
    assert!(f[0].cause.contains("no IGMP/MLD query"), "{}", f[0].cause);
}

fn decode_is_query(f: &[u8]) -> bool {
    matches!(
        decode::frame(f).map(|f| f.body),
        Some(Body::Ip(decode::Ip {
            upper: Upper::Query { .. },
            ..
        }))
    )
}

// ---- igmp ----

#[test]
fn no_querier_in_igmp_mode() {
    for vips in vip_sets() {
        let mut c = healthy(OperationMode::IgmpMulticast, &vips, 200.0, true);
        c.frames.retain(|(_, f)| !decode_is_query(f));
        let f = c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true)));
        // One per family the cluster has.
        let families = if vips.len() == 2 { 2 } else { 1 };
        assert_eq!(f.len(), families, "{f:#?}");
        for f in &f {
            assert_eq!(f.diagnosis, Diagnosis::NoQuerier);
            check_words(f);
            assert!(f.seen.contains("membership report"), "{}", f.seen);
            assert!(!f.evidence.memberships.is_empty());
        }
        // A capture shorter than the query interval cannot tell.
        let short = Context {
            query_interval: Duration::from_secs(300),
            ..ctx(OperationMode::IgmpMulticast, &vips, Some(true))
        };
        assert!(c.analyze(short).is_empty());
        // Nor is it a fault in the other modes.
        let mut c = healthy(OperationMode::Multicast, &vips, 200.0, true);
        c.frames.retain(|(_, f)| !decode_is_query(f));
        assert!(c
            .analyze(ctx(OperationMode::Multicast, &vips, Some(true)))
            .is_empty());
    }
}

#[test]
fn two_queriers_at_once() {
    for v6 in [false, true] {
        let vips = [if v6 { vip6() } else { vip4() }];
        let mut c = healthy(OperationMode::IgmpMulticast, &vips, 300.0, true);
        for t in [60.0, 185.0] {
            c.add(
                t,
                if v6 {
                    mld_query(link_local(FOREIGN), FOREIGN)
                } else {
                    igmp_query(Ipv4Addr::new(198, 51, 100, 2), FOREIGN)
                },
            );
        }
        let f = only(
            c.analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true))),
            Diagnosis::SeveralQueriers,
        );
        check_words(&f);
        assert_eq!(f.evidence.queriers.len(), 2);
        // In any mode: the queriers are the VLAN's.
        let mut c = healthy(OperationMode::Unicast, &vips, 300.0, true);
        for t in [1.0, 126.0, 251.0] {
            c.add(t, igmp_query(Ipv4Addr::new(198, 51, 100, 1), ROUTER));
            c.add(
                t + 60.0,
                igmp_query(Ipv4Addr::new(198, 51, 100, 2), FOREIGN),
            );
        }
        only(
            c.analyze(ctx(OperationMode::Unicast, &vips, Some(true))),
            Diagnosis::SeveralQueriers,
        );
    }
}

#[test]
fn a_querier_replaced_by_another_is_not_two() {
    let vips = [vip4()];
    let mut c = healthy(OperationMode::IgmpMulticast, &vips, 300.0, true);
    c.add(290.0, igmp_query(Ipv4Addr::new(198, 51, 100, 2), FOREIGN));
    assert!(c
        .analyze(ctx(OperationMode::IgmpMulticast, &vips, Some(true)))
        .is_empty());
}

#[test]
fn frames_to_the_cluster_mac_that_stop_reaching_a_member() {
    for vips in vip_sets() {
        let mode = OperationMode::IgmpMulticast;
        let mut c = healthy(mode, &vips, 200.0, true);
        let lost = cmac(mode, &vips, vips[0]);
        c.frames.retain(|(t, f)| *t < s(120.0) || f[..6] != lost.0);
        let f = only(
            c.analyze(ctx(mode, &vips, Some(true))),
            Diagnosis::MembershipNotSeen,
        );
        check_words(&f);
        assert!(f.seen.contains(&lost.to_string()), "{}", f.seen);
        assert!(f.seen.contains("the last at 127.500 s"), "{}", f.seen);
        let at = f.evidence.at_s.unwrap();
        assert!((119.0..120.0).contains(&at), "{at}");
        // Not at a capture point whose role is unknown: the traffic may simply have ended.
        assert!(c.analyze(ctx(mode, &vips, None)).is_empty());
    }
}

// ---- path_mtu ----

#[test]
fn fragmentation_needed_and_packet_too_big() {
    for v6 in [false, true] {
        let vips = [if v6 { vip6() } else { vip4() }];
        let vip = vips[0];
        let mut c = healthy(OperationMode::Multicast, &vips, 60.0, true);
        for k in 0..3 {
            c.add(
                20.0 + k as f64,
                too_big(ROUTER, router_ip(v6), 1500, vip, client(50, v6)),
            );
        }
        let f = only(
            c.analyze(ctx(OperationMode::Multicast, &vips, Some(true))),
            Diagnosis::PacketTooBig,
        );
        check_words(&f);
        assert_eq!(f.subject, router_ip(v6).to_string());
        assert_eq!(f.evidence.mtus, vec![1500]);
        let flow = if v6 {
            "TCP [2001:db8::10]:80 -> [2001:db8:1::32]:51234"
        } else {
            "TCP 198.51.100.10:80 -> 203.0.113.50:51234"
        };
        assert_eq!(f.evidence.flows, vec![flow.to_string()]);
        assert!(
            f.seen.contains("MTU 1500") && f.seen.contains(flow),
            "{}",
            f.seen
        );
        assert!(f.seen.starts_with("3 "), "{}", f.seen);
    }
}

// ---- decoding ----

#[test]
fn decodes_vlan_tags_igmp_v3_records_and_nd_options() {
    // A VLAN-tagged gratuitous ARP.
    let mut f = announce(MEMBER1, vip4(), MEMBER1);
    f.splice(12..12, [0x81, 0x00, 0x00, 0x0a]);
    let d = decode::frame(&f).unwrap();
    assert!(matches!(d.body, Body::Arp(a) if a.sender_ip == Ipv4Addr::new(198, 51, 100, 10)));
    // IGMPv3: a leave (change to include nothing) and a join.
    let mut r = vec![0x22, 0, 0, 0, 0, 0, 0, 2];
    r.extend_from_slice(&[3, 0, 0, 0, 239, 255, 100, 10]);
    r.extend_from_slice(&[4, 1, 0, 1, 239, 255, 100, 11, 1, 2, 3, 4, 9, 9, 9, 9]);
    let f = eth(
        MEMBER1,
        MEMBER2,
        0x0800,
        &ipv4(
            Ipv4Addr::new(198, 51, 100, 11),
            Ipv4Addr::new(224, 0, 0, 22),
            2,
            &r,
        ),
    );
    let Body::Ip(ip) = decode::frame(&f).unwrap().body else {
        panic!()
    };
    assert_eq!(
        ip.upper,
        Upper::Report {
            joined: vec!["239.255.100.11".parse().unwrap()],
            left: vec!["239.255.100.10".parse().unwrap()]
        }
    );
    // An NA whose first option is a source link-layer address, then the target's.
    let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    icmp.extend_from_slice(&"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets());
    icmp.extend_from_slice(&[1, 1, 1, 1, 1, 1, 1, 1, 2, 1]);
    icmp.extend_from_slice(&FOREIGN.0);
    let f = eth(
        MEMBER1,
        MEMBER2,
        0x86dd,
        &ipv6(
            "fe80::1".parse().unwrap(),
            "ff02::1".parse().unwrap(),
            58,
            &icmp,
            false,
        ),
    );
    let Body::Ip(ip) = decode::frame(&f).unwrap().body else {
        panic!()
    };
    assert!(matches!(ip.upper, Upper::NeighborAdvert { tlla: Some(m), .. } if m == FOREIGN));
}

#[test]
fn undecodable_frames_are_counted_and_the_span_kept() {
    let mut a = Analyzer::new(Context::default());
    a.frame(s(5.0), &[1, 2, 3]);
    a.frame(s(2.0), &eth(MEMBER1, MEMBER2, 0x0800, &[0x45, 0, 0]));
    a.frame(s(9.0), &heartbeat(MEMBER1));
    let st = a.stats();
    assert_eq!((st.frames, st.undecodable), (3, 2));
    assert_eq!(st.span(), s(7.0));
    assert!(a.findings().is_empty());
}

#[test]
fn every_prefix_of_every_frame_is_safe() {
    let vips = [vip4(), vip6()];
    let mut c = healthy(OperationMode::IgmpMulticast, &vips, 130.0, true);
    c.add(
        1.0,
        too_big(ROUTER, router_ip(false), 1400, vip4(), client(1, false)),
    );
    c.add(
        1.0,
        too_big(ROUTER, router_ip(true), 1400, vip6(), client(1, true)),
    );
    let mut a = Analyzer::new(ctx(OperationMode::IgmpMulticast, &vips, Some(true)));
    let mut distinct = std::collections::BTreeSet::new();
    for (t, f) in &c.frames {
        if distinct.insert(f.clone()) {
            for cut in 0..=f.len() {
                a.frame(*t, &f[..cut]);
            }
        }
    }
    let _ = a.findings();
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        frames in proptest::collection::vec(
            (0u64..1_000_000_000_000, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)),
            0..40,
        ),
        mode in 0usize..4,
        member in 0u8..3,
    ) {
        let mut a = Analyzer::new(Context {
            mode: OperationMode::ALL.get(mode).copied(),
            vips: vec![vip4(), vip6()],
            capture_is_member: [None, Some(true), Some(false)][usize::from(member)],
            member_macs: vec![MEMBER1],
            query_interval: Duration::from_secs(1),
        });
        for (t, mut f) in frames {
            // Give the random bytes a chance to reach the decoders past Ethernet.
            if f.len() > 14 {
                let et: [u16; 4] = [0x0806, 0x0800, 0x86dd, 0x8100];
                let pick = et[f[13] as usize % 4];
                f[12..14].copy_from_slice(&pick.to_be_bytes());
            }
            a.frame(Duration::from_micros(t), &f);
        }
        for f in a.findings() {
            serde_json::to_string(&f).unwrap();
        }
    }
}
