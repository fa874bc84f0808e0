//! IPv6 to a VIP: the same classification, connection table, fragments and ICMP errors
//! as IPv4, and neighbour discovery answered as ARP is.

use super::*;
use nlb_dataplane::packet::Fragment6;
use std::net::Ipv6Addr;

pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 7);
const TX_MAC: [u8; 6] = [2, 1, 2, 3, 4, 5];

fn web6() -> (ClusterConfig, Dataplane) {
    let c = cluster_of("2001:db8::10", "table_size = 251", WEB);
    let dp = loaded(&c);
    (c, dp)
}

/// The core's (rule, slot) of a TCP flow from CLIENT6 to `vip`:`server_port`.
fn locate6(c: &ClusterConfig, vip: IpAddr, port: u16, server_port: u16) -> (usize, u32) {
    let flow = nlb_core::classify::Flow {
        vip,
        transport: nlb_core::rules::Transport::Tcp,
        client: IpAddr::V6(CLIENT6),
        client_port: port,
        server_port,
    };
    nlb_core::classify::locate(c, &flow).expect("to a VIP")
}

fn tcp6(port: u16, flags: u8) -> Vec<u8> {
    packet::tcp6(CLUSTER_MAC6, CLIENT6, VIP6, port, 80, flags)
}

fn action(dp: &Dataplane, frame: &[u8]) -> u32 {
    dp.test_run(frame, 1).unwrap().action
}

#[test]
fn ipv6_connections_are_held_through_a_handover_and_know_their_slot() {
    let (c, mut dp) = web6();
    let port = 40000;
    let (rule, slot) = locate6(&c, VIP6.into(), port, 80);
    // Not owned: dropped, like any IPv4 flow.
    assert_eq!(action(&dp, &tcp6(port, tcp_flags::SYN)), XDP_DROP);
    dp.set_slot(rule, slot, SlotState::OwnedNewFlowsOnly)
        .unwrap();
    assert_eq!(action(&dp, &tcp6(port, tcp_flags::SYN)), XDP_PASS);
    assert_eq!(action(&dp, &tcp6(port, tcp_flags::ACK)), XDP_PASS);
    let held = dp.connections_list().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].flow, ConnFlow::V6 { rule, slot });
    assert_eq!((held[0].client_port, held[0].server_port), (port, 80));
    assert!(held[0].confirmed);
    assert_eq!(held[0].slot(&c), Some((rule, slot)));
    // The same ports from another client of the same slot's neighbourhood: a stranger.
    let stranger = packet::tcp6(
        CLUSTER_MAC6,
        Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 8),
        VIP6,
        port,
        80,
        tcp_flags::ACK,
    );
    dp.set_slots(rule, &all(&c, SlotState::ReleasedDraining))
        .unwrap();
    assert_eq!(action(&dp, &tcp6(port, tcp_flags::ACK)), XDP_PASS, "held");
    assert_eq!(action(&dp, &stranger), XDP_DROP, "not held here");
    assert_eq!(
        action(&dp, &tcp6(port, tcp_flags::FIN | tcp_flags::ACK)),
        XDP_PASS
    );
    assert_eq!(dp.connections().unwrap(), 0, "the FIN ended it");
    assert_eq!(action(&dp, &tcp6(port, tcp_flags::ACK)), XDP_DROP);
}

#[test]
fn ipv6_later_fragments_follow_the_first() {
    let (c, mut dp) = web6();
    dp.set_slots(1, &all(&c, SlotState::Owned)).unwrap();
    let first = Fragment6 {
        id: 0x01020304,
        offset: 0,
        more: true,
    };
    let udp = packet::udp6(CLUSTER_MAC6, CLIENT6, VIP6, 5000, 53, Some(first));
    assert_eq!(action(&dp, &udp), XDP_PASS);
    let later = |id| {
        let frag = Fragment6 {
            id,
            offset: 185,
            more: false,
        };
        packet::ipv6(CLUSTER_MAC6, CLIENT6, VIP6, 17, Some(frag), &[0; 32])
    };
    assert_eq!(action(&dp, &later(0x01020304)), XDP_PASS);
    assert_eq!(action(&dp, &later(0x01020305)), XDP_DROP, "no first seen");
    // The first fragment of a datagram this host does not own: its followers drop.
    dp.set_slots(1, &all(&c, SlotState::NotOwned)).unwrap();
    let other = Fragment6 { id: 9, ..first };
    let udp = packet::udp6(CLUSTER_MAC6, CLIENT6, VIP6, 5000, 53, Some(other));
    assert_eq!(action(&dp, &udp), XDP_DROP);
    assert_eq!(action(&dp, &later(9)), XDP_DROP);
}

#[test]
fn packet_too_big_reaches_the_owner_and_echo_the_default_host() {
    let (c, mut dp) = web6();
    let port = 43000;
    let (rule, slot) = locate6(&c, VIP6.into(), port, 80);
    let router = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let ptb = packet::icmp6_packet_too_big(OWN_MAC, router, VIP6, CLIENT6, port, 80);
    assert_eq!(action(&dp, &ptb), XDP_DROP, "not our flow");
    dp.set_slot(rule, slot, SlotState::Owned).unwrap();
    assert_eq!(action(&dp, &ptb), XDP_PASS, "our flow's path MTU");
    let echo = packet::icmp6_echo(CLUSTER_MAC6, CLIENT6, VIP6);
    assert_eq!(
        action(&dp, &echo),
        XDP_DROP,
        "only the default host answers"
    );
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    assert_eq!(action(&dp, &echo), XDP_PASS);
}

/// A SYN behind `n` extension headers (hop-by-hop first, then destination options),
/// each 8 bytes of padding.
fn syn_behind_extension_headers(n: usize, port: u16) -> Vec<u8> {
    let syn = tcp6(port, tcp_flags::SYN);
    let mut chain = Vec::new();
    for i in 0..n {
        let next = if i + 1 == n { 6 } else { 60 };
        chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    chain.extend_from_slice(&syn[54..]);
    packet::ipv6(CLUSTER_MAC6, CLIENT6, VIP6, 0, None, &chain)
}

#[test]
fn extension_headers_are_walked_within_a_bound_and_beyond_it_go_to_the_default_host() {
    let (c, mut dp) = web6();
    let port = 44000;
    let (rule, slot) = locate6(&c, VIP6.into(), port, 80);
    dp.set_slot(rule, slot, SlotState::Owned).unwrap();
    for n in 1..=4 {
        assert_eq!(
            action(&dp, &syn_behind_extension_headers(n, port)),
            XDP_PASS,
            "{n} headers"
        );
    }
    // Five: the transport header is out of the walk's reach: the default host's.
    let five = syn_behind_extension_headers(5, port);
    assert_eq!(action(&dp, &five), XDP_DROP);
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    dp.set_slot(rule, slot, SlotState::NotOwned).unwrap();
    assert_eq!(action(&dp, &five), XDP_PASS);
    assert_eq!(
        action(&dp, &syn_behind_extension_headers(4, port)),
        XDP_DROP
    );
}

#[test]
fn neighbour_solicitation_for_a_vip_is_answered_with_the_cluster_mac_by_the_default_host_only() {
    let (c, mut dp) = web6();
    let requester = [2, 0xaa, 0, 0, 0, 1];
    let ns = packet::neighbour_solicitation(requester, CLIENT6, VIP6);
    assert_eq!(action(&dp, &ns), XDP_DROP, "another host answers");
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    let r = dp.test_run(&ns, 1).unwrap();
    assert_eq!(r.action, XDP_TX);
    let f = &r.frame;
    assert_eq!(f.len(), 86);
    assert_eq!(&f[0..6], &requester, "to the requester");
    assert_eq!(&f[6..12], &TX_MAC, "from the transmit MAC");
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    assert_eq!(f[20], 58, "ICMPv6");
    assert_eq!(f[21], 255, "hop limit");
    assert_eq!(&f[22..38], &VIP6.octets(), "from the VIP");
    assert_eq!(&f[38..54], &CLIENT6.octets(), "to the requester");
    assert_eq!(f[54], 136, "a neighbour advertisement");
    assert_eq!(f[58], 0x60, "solicited, override");
    assert_eq!(&f[62..78], &VIP6.octets(), "target");
    assert_eq!(&f[78..80], &[2, 1], "target link-layer address option");
    assert_eq!(&f[80..86], &CLUSTER_MAC6, "the VIP is at the cluster MAC");
    assert!(packet::icmp6_checksum_ok(f), "checksum");
    let counters: std::collections::BTreeMap<_, _> = dp.counters().unwrap().into_iter().collect();
    assert_eq!(counters["ndp_replied"], 1);

    // Duplicate address detection (from ::, no option: 8 bytes shorter): to all nodes.
    let dad = packet::neighbour_solicitation(requester, Ipv6Addr::UNSPECIFIED, VIP6);
    let r = dp.test_run(&dad, 1).unwrap();
    assert_eq!(r.action, XDP_TX);
    let f = &r.frame;
    assert_eq!(f.len(), 86);
    assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(&f[38..54], &"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
    assert_eq!(f[58], 0x20, "override, not solicited");
    assert!(packet::icmp6_checksum_ok(f));

    // A client checking the VIP is still there asks it directly (unicast, cluster MAC).
    let mut nud = ns.clone();
    nud[0..6].copy_from_slice(&CLUSTER_MAC6);
    nud[38..54].copy_from_slice(&VIP6.octets());
    assert_eq!(action(&dp, &nud), XDP_TX);

    // Anything else is the kernel's: another target, a hop limit below 255 (from off
    // the link: invalid), router solicitations.
    let other = packet::neighbour_solicitation(requester, CLIENT6, CLIENT6);
    assert_eq!(action(&dp, &other), XDP_PASS);
    let mut routed = ns.clone();
    routed[21] = 64;
    assert_eq!(action(&dp, &routed), XDP_PASS);
    let mut rs = ns;
    rs[54] = 133;
    assert_eq!(action(&dp, &rs), XDP_PASS);
}

#[test]
fn a_mixed_cluster_finds_each_familys_rule() {
    let c = cluster(
        "extra_vips = [\"2001:db8::10\", \"198.51.100.11\"]\ntable_size = 251",
        "[[cluster.rule]]\nvip = \"2001:db8::10\"\nports = 80\nprotocol = \"tcp\"\naffinity = \"none\"\n\
         [[cluster.rule]]\nvip = \"198.51.100.10\"\nports = 80\nprotocol = \"tcp\"\naffinity = \"network\"\n\
         [[cluster.rule]]\nports = 443\nprotocol = \"tcp\"\naffinity = \"single\"\n",
    );
    let mut dp = loaded(&c);
    let vips: [IpAddr; 3] = [
        VIP.into(),
        VIP6.into(),
        Ipv4Addr::new(198, 51, 100, 11).into(),
    ];
    for owner in 0..=c.rules.len() {
        for r in 0..=c.rules.len() {
            let state = if r == owner {
                SlotState::Owned
            } else {
                SlotState::NotOwned
            };
            let n = if r < c.rules.len() {
                c.table_size as usize
            } else {
                1
            };
            dp.set_slots(r, &vec![state; n]).unwrap();
        }
        for vip in vips {
            for port in [80, 443, 8080] {
                let (frame, rule) = match vip {
                    IpAddr::V4(v) => {
                        let flow = nlb_core::classify::Flow {
                            vip,
                            transport: nlb_core::rules::Transport::Tcp,
                            client: IpAddr::V4(CLIENT),
                            client_port: 40000,
                            server_port: port,
                        };
                        let rule = nlb_core::classify::locate(&c, &flow).unwrap().0;
                        let f = packet::tcp(CLUSTER_MAC, CLIENT, v, 40000, port, tcp_flags::SYN);
                        (f, rule)
                    }
                    IpAddr::V6(v) => {
                        let rule = locate6(&c, vip, 40000, port).0;
                        let f = packet::tcp6(CLUSTER_MAC6, CLIENT6, v, 40000, port, tcp_flags::SYN);
                        (f, rule)
                    }
                };
                let want = if rule == owner { XDP_PASS } else { XDP_DROP };
                assert_eq!(
                    action(&dp, &frame),
                    want,
                    "{vip} port {port}: the core says rule {rule}, rule {owner} owns all"
                );
            }
        }
    }
}
