//! The XDP program under BPF_PROG_RUN (needs root, as CI and the lab run).

use nlb_core::config::{ClusterConfig, Config};
use nlb_core::convergence::SlotState;
use nlb_core::mac::MacAddr;
use nlb_dataplane::packet::{self, tcp_flags, Fragment};
use nlb_dataplane::{ktime_now, ConnFlow, Dataplane, Macs, XDP_DROP, XDP_PASS, XDP_TX};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const CLUSTER_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x7f, 0x64, 0x0a];
const CLUSTER_MAC6: [u8; 6] = [0x33, 0x33, 0xef, 0xff, 0x00, 0x10];
const OWN_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// The IPv6 cases.
#[path = "xdp/ipv6.rs"]
mod ipv6;

fn cluster(extra: &str, rules: &str) -> ClusterConfig {
    cluster_of("198.51.100.10", extra, rules)
}

fn cluster_of(vip: &str, extra: &str, rules: &str) -> ClusterConfig {
    let text = format!(
        "[cluster]\nname = \"dp\"\nvip = \"{vip}\"\nkey_file = \"k\"\n{extra}\n{rules}\n[host]\nid = 1\ninterface = \"eth0\"\n"
    );
    Config::parse(Path::new("dp.toml"), &text).unwrap().cluster
}

const WEB: &str = "[[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\naffinity = \"none\"\n[[cluster.rule]]\nports = 53\nprotocol = \"udp\"\naffinity = \"single\"\n";

fn loaded(c: &ClusterConfig) -> Dataplane {
    let mut dp = Dataplane::load(c).expect("load the XDP program (run as root)");
    dp.set_macs(Macs {
        cluster: MacAddr(CLUSTER_MAC),
        cluster6: MacAddr(CLUSTER_MAC6),
        own: MacAddr(OWN_MAC),
        tx: MacAddr([2, 1, 2, 3, 4, 5]),
    })
    .unwrap();
    dp.set_lease_deadline(ktime_now() + Duration::from_secs(3600))
        .unwrap();
    dp
}

fn all(c: &ClusterConfig, state: SlotState) -> Vec<SlotState> {
    vec![state; c.table_size as usize]
}

#[derive(Deserialize)]
struct Vector {
    seed: String,
    client: IpAddr,
    client_port: u16,
    affinity: String,
    table_size: u32,
    slot: u32,
}

#[test]
fn the_program_classifies_every_shared_vector_like_the_core() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/flow-hash-vectors.json"),
    )
    .unwrap();
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for v in &vectors {
        // A client of each family reaches a VIP of its own family.
        let syn = |client: IpAddr, port| match client {
            IpAddr::V4(c) => packet::tcp(CLUSTER_MAC, c, VIP, port, 80, tcp_flags::SYN),
            IpAddr::V6(c) => packet::tcp6(CLUSTER_MAC6, c, ipv6::VIP6, port, 80, tcp_flags::SYN),
        };
        let rule = format!(
            "[[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\naffinity = \"{}\"\n",
            v.affinity
        );
        let vip = if v.client.is_ipv4() {
            "198.51.100.10"
        } else {
            "2001:db8::10"
        };
        let mut c = cluster_of(vip, &format!("table_size = {}", v.table_size), &rule);
        // Any 64-bit seed: seeds derived from names use all 64 bits (TOML cannot say them).
        c.hash_seed = u64::from_str_radix(&v.seed, 16).unwrap();
        let mut dp = loaded(&c);
        let mut states = all(&c, SlotState::NotOwned);
        states[v.slot as usize] = SlotState::Owned;
        dp.set_slots(0, &states).unwrap();
        assert_eq!(
            dp.test_run(&syn(v.client, v.client_port), 1)
                .unwrap()
                .action,
            XDP_PASS,
            "vector {} {} {}",
            v.client,
            v.client_port,
            v.affinity
        );
        // Every slot but the vector's: the program must drop it.
        dp.clear_connections().unwrap();
        let mut states = all(&c, SlotState::Owned);
        states[v.slot as usize] = SlotState::NotOwned;
        dp.set_slots(0, &states).unwrap();
        assert_eq!(
            dp.test_run(&syn(v.client, v.client_port), 1)
                .unwrap()
                .action,
            XDP_DROP,
            "vector {} {} {}",
            v.client,
            v.client_port,
            v.affinity
        );
        checked += 1;
    }
    assert_eq!(checked, 175, "every vector, IPv4 and IPv6");
}

fn web() -> (ClusterConfig, Dataplane) {
    let c = cluster("table_size = 251", WEB);
    let dp = loaded(&c);
    (c, dp)
}

/// The slot of a client port for the web rule (affinity none), as the core computes it.
fn slot_of(c: &ClusterConfig, port: u16) -> u32 {
    let flow = nlb_core::classify::Flow {
        vip: IpAddr::V4(VIP),
        transport: nlb_core::rules::Transport::Tcp,
        client: IpAddr::V4(CLIENT),
        client_port: port,
        server_port: 80,
    };
    nlb_core::classify::locate(c, &flow).expect("to the VIP").1
}

#[test]
fn heartbeats_foreign_traffic_and_other_protocols_pass_untouched() {
    let (_, dp) = web();
    let mut hb = packet::ethernet(CLUSTER_MAC, [2, 9, 9, 9, 9, 9], 0x88b5);
    hb.extend_from_slice(&[0; 60]);
    let r = dp.test_run(&hb, 1).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &hb));
    let other = packet::tcp(
        OWN_MAC,
        CLIENT,
        Ipv4Addr::new(198, 51, 100, 99),
        1000,
        80,
        tcp_flags::SYN,
    );
    assert_eq!(dp.test_run(&other, 1).unwrap().action, XDP_PASS);
    let mut v6 = packet::ethernet(OWN_MAC, [2, 9, 9, 9, 9, 9], 0x86dd);
    v6.extend_from_slice(&[0; 40]);
    assert_eq!(dp.test_run(&v6, 1).unwrap().action, XDP_PASS);
}

#[test]
fn a_flood_of_heartbeat_type_junk_passes_only_within_a_budget_members_always() {
    let (_, mut dp) = web();
    let frame = |src: [u8; 6]| {
        let mut f = packet::ethernet(CLUSTER_MAC, src, 0x88b5);
        f.extend_from_slice(&[0xa5; 200]);
        f
    };
    let member = [2, 0, 0, 0, 0, 2];
    dp.trust_heartbeat_source(nlb_core::mac::MacAddr(member))
        .unwrap();
    // 5000 junk frames from a stranger in one go (BPF_PROG_RUN runs them on one CPU
    // within a second): at most the budget passes.
    let junk = dp.test_run(&frame([2, 0xee, 0, 0, 0, 1]), 5000).unwrap();
    assert_eq!(junk.action, XDP_DROP, "the budget is spent");
    let counters: std::collections::BTreeMap<_, _> = dp.counters().unwrap().into_iter().collect();
    let passed = counters["pass_heartbeat_unknown"];
    assert!((1..=200).contains(&passed), "{passed} passed");
    assert_eq!(counters["drop_heartbeat_unknown"], 5000 - passed);
    // The member's frames pass all the same.
    let r = dp.test_run(&frame(member), 1000).unwrap();
    assert_eq!(r.action, XDP_PASS);
    let counters: std::collections::BTreeMap<_, _> = dp.counters().unwrap().into_iter().collect();
    assert_eq!(counters["pass_heartbeat"], 1000);
}

#[test]
fn arp_for_a_vip_is_answered_with_the_cluster_mac_by_the_default_host_only() {
    let (c, mut dp) = web();
    let requester = [2, 0xaa, 0, 0, 0, 1];
    let req = packet::arp_request(requester, CLIENT, VIP);
    // Not the default host: silence (another host answers).
    assert_eq!(dp.test_run(&req, 1).unwrap().action, XDP_DROP);
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    let r = dp.test_run(&req, 1).unwrap();
    assert_eq!(r.action, XDP_TX);
    let f = &r.frame;
    assert_eq!(&f[0..6], &requester, "to the requester");
    assert_eq!(&f[6..12], &[2, 1, 2, 3, 4, 5], "from the transmit MAC");
    assert_eq!(&f[20..22], &[0, 2], "an ARP reply");
    assert_eq!(&f[22..28], &CLUSTER_MAC, "the VIP is at the cluster MAC");
    assert_eq!(&f[28..32], &VIP.octets());
    assert_eq!(&f[32..38], &requester);
    assert_eq!(&f[38..42], &CLIENT.octets());
    // ARP for anything else is the kernel's business.
    let other = packet::arp_request(requester, CLIENT, Ipv4Addr::new(198, 51, 100, 20));
    assert_eq!(dp.test_run(&other, 1).unwrap().action, XDP_PASS);
}

#[test]
fn connection_table_and_handover_states() {
    let (c, mut dp) = web();
    let port = 40000;
    let slot = slot_of(&c, port);
    let syn = packet::tcp(CLUSTER_MAC, CLIENT, VIP, port, 80, tcp_flags::SYN);
    let ack = packet::tcp(CLUSTER_MAC, CLIENT, VIP, port, 80, tcp_flags::ACK);
    let fin = packet::tcp(
        CLUSTER_MAC,
        CLIENT,
        VIP,
        port,
        80,
        tcp_flags::FIN | tcp_flags::ACK,
    );
    dp.set_slot(0, slot, SlotState::Owned).unwrap();
    let r = dp.test_run(&syn, 1).unwrap();
    assert_eq!(r.action, XDP_PASS);
    assert_eq!(&r.frame[0..6], &OWN_MAC, "re-addressed to this host");
    assert_eq!(dp.connections().unwrap(), 1);
    // The slot moves away: the connection stays, new ones are refused. The daemon
    // stamps it with its own clock, which may be ahead of the program's coarse one.
    dp.set_slot(0, slot, SlotState::ReleasedDraining).unwrap();
    let held = dp.connections_list().unwrap();
    dp.touch(&held, ktime_now() + Duration::from_secs(1))
        .unwrap();
    assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_PASS);
    assert_eq!(dp.connections().unwrap(), 1, "a stamp ahead is not idle");
    let other_port = (40001..50000).find(|&p| slot_of(&c, p) == slot).unwrap();
    let syn2 = packet::tcp(CLUSTER_MAC, CLIENT, VIP, other_port, 80, tcp_flags::SYN);
    assert_eq!(dp.test_run(&syn2, 1).unwrap().action, XDP_DROP);
    // FIN ends it: later segments are no longer ours.
    assert_eq!(dp.test_run(&fin, 1).unwrap().action, XDP_PASS);
    assert_eq!(dp.test_run(&ack, 1).unwrap().action, XDP_DROP);
    // New owner while the old one drains: new flows only; UDP is simply rebalanced.
    dp.set_slot(0, slot, SlotState::OwnedNewFlowsOnly).unwrap();
    assert_eq!(
        dp.test_run(&ack, 1).unwrap().action,
        XDP_DROP,
        "someone else's connection"
    );
    assert_eq!(dp.test_run(&syn2, 1).unwrap().action, XDP_PASS);
    let synack = packet::tcp(
        CLUSTER_MAC,
        CLIENT,
        VIP,
        45555,
        80,
        tcp_flags::SYN | tcp_flags::ACK,
    );
    dp.set_slots(0, &all(&c, SlotState::OwnedNewFlowsOnly))
        .unwrap();
    assert_eq!(
        dp.test_run(&synack, 1).unwrap().action,
        XDP_DROP,
        "SYN+ACK is no new flow"
    );
    // Pending and not owned: nothing new.
    dp.set_slots(0, &all(&c, SlotState::Pending)).unwrap();
    assert_eq!(
        dp.test_run(
            &packet::tcp(CLUSTER_MAC, CLIENT, VIP, 41000, 80, tcp_flags::SYN),
            1
        )
        .unwrap()
        .action,
        XDP_DROP
    );
}

#[test]
fn the_connection_table_holds_thousands_of_connections_each_in_its_place() {
    let (c, mut dp) = web();
    dp.set_slots(0, &all(&c, SlotState::Owned)).unwrap();
    // 3000 connections from 30 clients: far below the table's capacity, so none may be
    // evicted, whatever buckets the random seed puts them in.
    let flows: Vec<(Ipv4Addr, u16)> = (0..30u8)
        .flat_map(|i| (0..100u16).map(move |p| (Ipv4Addr::new(203, 0, 113, 100 + i), 20000 + p)))
        .collect();
    for &(client, port) in &flows {
        let syn = packet::tcp(CLUSTER_MAC, client, VIP, port, 80, tcp_flags::SYN);
        assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);
    }
    assert_eq!(dp.connections().unwrap(), flows.len());
    let mut listed: Vec<(Ipv4Addr, u16)> = dp
        .connections_list()
        .unwrap()
        .iter()
        .map(|k| {
            let ConnFlow::V4 { client, vip } = k.flow else {
                panic!("an IPv4 connection: {k:?}")
            };
            assert_eq!((vip, k.server_port, k.proto), (VIP, 80, 6));
            (client, k.client_port)
        })
        .collect();
    listed.sort();
    let mut expected = flows.clone();
    expected.sort();
    assert_eq!(listed, expected);
    // Every slot released: each connection is admitted from the table alone, a stranger
    // is not; a FIN ends half of them.
    dp.set_slots(0, &all(&c, SlotState::ReleasedDraining))
        .unwrap();
    for (n, &(client, port)) in flows.iter().enumerate() {
        let flags = if n % 2 == 0 {
            tcp_flags::FIN | tcp_flags::ACK
        } else {
            tcp_flags::ACK
        };
        let seg = packet::tcp(CLUSTER_MAC, client, VIP, port, 80, flags);
        assert_eq!(
            dp.test_run(&seg, 1).unwrap().action,
            XDP_PASS,
            "{client}:{port}"
        );
    }
    let stranger = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 20000, 80, tcp_flags::ACK);
    assert_eq!(dp.test_run(&stranger, 1).unwrap().action, XDP_DROP);
    assert_eq!(dp.connections().unwrap(), flows.len() / 2);
    for (n, &(client, port)) in flows.iter().enumerate() {
        let ack = packet::tcp(CLUSTER_MAC, client, VIP, port, 80, tcp_flags::ACK);
        let want = if n % 2 == 0 { XDP_DROP } else { XDP_PASS };
        assert_eq!(
            dp.test_run(&ack, 1).unwrap().action,
            want,
            "{client}:{port}"
        );
    }
}

#[test]
fn an_expired_lease_fails_closed_for_new_flows_only() {
    let (c, mut dp) = web();
    dp.set_slots(0, &all(&c, SlotState::Owned)).unwrap();
    let syn = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 42000, 80, tcp_flags::SYN);
    assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);
    // The program reads the coarse clock, up to a tick behind: a deadline clearly past.
    dp.set_lease_deadline(ktime_now() - Duration::from_millis(50))
        .unwrap();
    let ack = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 42000, 80, tcp_flags::ACK);
    assert_eq!(
        dp.test_run(&ack, 1).unwrap().action,
        XDP_PASS,
        "established connections go on"
    );
    let syn2 = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 42001, 80, tcp_flags::SYN);
    assert_eq!(dp.test_run(&syn2, 1).unwrap().action, XDP_DROP);
    // Segments of connections we do not hold: another host may serve them by now.
    let unknown = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 42002, 80, tcp_flags::ACK);
    assert_eq!(dp.test_run(&unknown, 1).unwrap().action, XDP_DROP);
    let counters = dp.counters().unwrap();
    assert!(counters.contains(&("drop_fenced", 2)), "{counters:?}");
}

#[test]
fn later_fragments_follow_the_first() {
    let (c, mut dp) = web();
    // UDP 53 has single affinity: the client address alone picks the slot.
    let owned = Fragment {
        id: 7,
        offset: 0,
        more: true,
    };
    dp.set_slots(1, &all(&c, SlotState::Owned)).unwrap();
    assert_eq!(
        dp.test_run(&packet::udp(CLUSTER_MAC, CLIENT, VIP, 5000, 53, owned), 1)
            .unwrap()
            .action,
        XDP_PASS
    );
    let later = packet::ipv4(
        CLUSTER_MAC,
        CLIENT,
        VIP,
        17,
        Fragment {
            id: 7,
            offset: 185,
            more: false,
        },
        &[0; 32],
    );
    assert_eq!(dp.test_run(&later, 1).unwrap().action, XDP_PASS);
    let stray = packet::ipv4(
        CLUSTER_MAC,
        CLIENT,
        VIP,
        17,
        Fragment {
            id: 8,
            offset: 185,
            more: false,
        },
        &[0; 32],
    );
    assert_eq!(
        dp.test_run(&stray, 1).unwrap().action,
        XDP_DROP,
        "no first fragment seen here"
    );
}

#[test]
fn icmp_errors_reach_the_owner_of_the_flow_and_echo_the_default_host() {
    let (c, mut dp) = web();
    let port = 43000;
    let slot = slot_of(&c, port);
    let router = Ipv4Addr::new(198, 51, 100, 1);
    let err = packet::icmp_frag_needed(OWN_MAC, router, VIP, CLIENT, port, 80);
    assert_eq!(
        dp.test_run(&err, 1).unwrap().action,
        XDP_DROP,
        "not our flow"
    );
    dp.set_slot(0, slot, SlotState::Owned).unwrap();
    assert_eq!(
        dp.test_run(&err, 1).unwrap().action,
        XDP_PASS,
        "our flow's path MTU"
    );
    let echo = packet::icmp_echo(CLUSTER_MAC, CLIENT, VIP);
    assert_eq!(
        dp.test_run(&echo, 1).unwrap().action,
        XDP_DROP,
        "only the default host answers"
    );
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    assert_eq!(dp.test_run(&echo, 1).unwrap().action, XDP_PASS);
}

#[test]
fn disabled_rules_drop_everything() {
    let c = cluster(
        "table_size = 251",
        "[[cluster.rule]]\nports = 80\nfiltering = \"disabled\"\n",
    );
    let mut dp = loaded(&c);
    dp.set_slots(c.rules.len(), &[SlotState::Owned]).unwrap();
    let syn = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 1234, 80, tcp_flags::SYN);
    assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_DROP);
    let uncovered = packet::tcp(CLUSTER_MAC, CLIENT, VIP, 1234, 8080, tcp_flags::SYN);
    assert_eq!(
        dp.test_run(&uncovered, 1).unwrap().action,
        XDP_PASS,
        "the default host takes what no rule covers"
    );
}

#[test]
fn every_packet_finds_the_rule_the_core_finds() {
    // Two VIPs; rules for one VIP beside rules for all, both protocols, ranges, and
    // ports no rule covers.
    let c = cluster(
        "extra_vips = [\"198.51.100.11\"]\ntable_size = 251",
        "[[cluster.rule]]\nports = \"1-1000\"\nprotocol = \"both\"\naffinity = \"none\"\n\
         [[cluster.rule]]\nvip = \"198.51.100.11\"\nports = \"80-90\"\nprotocol = \"tcp\"\naffinity = \"none\"\n\
         [[cluster.rule]]\nports = \"5000-6000\"\nprotocol = \"udp\"\naffinity = \"none\"\n\
         [[cluster.rule]]\nvip = \"198.51.100.10\"\nports = 65535\nprotocol = \"both\"\nfiltering = \"single\"\n",
    );
    let mut dp = loaded(&c);
    let vips = [VIP, Ipv4Addr::new(198, 51, 100, 11)];
    let ports = [
        0, 1, 80, 85, 90, 91, 1000, 1001, 4999, 5000, 6000, 6001, 65534, 65535,
    ];
    // One rule at a time owns every slot: a packet passes exactly when the core puts it
    // in that rule.
    for owner in 0..=c.rules.len() {
        for r in 0..=c.rules.len() {
            let state = if r == owner {
                SlotState::Owned
            } else {
                SlotState::NotOwned
            };
            let n = if r < c.rules.len()
                && c.rules[r].filtering == nlb_core::rules::Filtering::Multiple
            {
                c.table_size as usize
            } else {
                1
            };
            dp.set_slots(r, &vec![state; n]).unwrap();
        }
        for vip in vips {
            for port in ports {
                for udp in [false, true] {
                    let flow = nlb_core::classify::Flow {
                        vip: IpAddr::V4(vip),
                        transport: if udp {
                            nlb_core::rules::Transport::Udp
                        } else {
                            nlb_core::rules::Transport::Tcp
                        },
                        client: IpAddr::V4(CLIENT),
                        client_port: 40000,
                        server_port: port,
                    };
                    let (rule, _) = nlb_core::classify::locate(&c, &flow).unwrap();
                    let frame = if udp {
                        packet::udp(CLUSTER_MAC, CLIENT, vip, 40000, port, Fragment::default())
                    } else {
                        packet::tcp(CLUSTER_MAC, CLIENT, vip, 40000, port, tcp_flags::SYN)
                    };
                    let want = if rule == owner { XDP_PASS } else { XDP_DROP };
                    assert_eq!(
                        dp.test_run(&frame, 1).unwrap().action,
                        want,
                        "{vip}:{port} udp={udp}: the core says rule {rule}, rule {owner} owns all"
                    );
                }
            }
        }
    }
}

#[test]
fn a_successor_adopts_the_program_and_its_maps() {
    let (c, mut dp) = web();
    let port = 40100;
    let slot = slot_of(&c, port);
    dp.set_slot(0, slot, SlotState::Owned).unwrap();
    let syn = packet::tcp(CLUSTER_MAC, CLIENT, VIP, port, 80, tcp_flags::SYN);
    assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_PASS);

    let mut adopted = Dataplane::adopt(&c, dp.program_id().unwrap()).unwrap();
    assert_eq!(
        adopted.connections().unwrap(),
        1,
        "the connection table goes on"
    );
    // One set of maps: a change through the successor is what the program sees.
    adopted.set_slot(0, slot, SlotState::NotOwned).unwrap();
    assert_eq!(dp.test_run(&syn, 1).unwrap().action, XDP_DROP);
    assert!(
        adopted.test_run(&syn, 1).is_err(),
        "no program of its own to run"
    );

    // A program laid out for another cluster is refused, and one filtering other VIPs.
    let other = cluster("table_size = 257", WEB);
    assert!(Dataplane::adopt(&other, dp.program_id().unwrap()).is_err());
    let mut more_vips = c.clone();
    more_vips
        .extra_vips
        .push(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)));
    assert!(Dataplane::adopt(&more_vips, dp.program_id().unwrap()).is_err());
    assert!(Dataplane::adopt(&c, dp.program_id().unwrap()).is_ok());
}
