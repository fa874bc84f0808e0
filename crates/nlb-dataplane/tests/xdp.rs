//! The XDP program under BPF_PROG_RUN (needs root, as CI and the lab run).

use nlb_core::config::{ClusterConfig, Config};
use nlb_core::convergence::SlotState;
use nlb_core::mac::MacAddr;
use nlb_dataplane::packet::{self, tcp_flags, Fragment};
use nlb_dataplane::{ktime_now, Dataplane, Macs, XDP_DROP, XDP_PASS, XDP_TX};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const CLUSTER_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x7f, 0x64, 0x0a];
const OWN_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

fn cluster(extra: &str, rules: &str) -> ClusterConfig {
    let text = format!(
        "[cluster]\nname = \"dp\"\nvip = \"198.51.100.10\"\nkey_file = \"k\"\n{extra}\n{rules}\n[host]\nid = 1\ninterface = \"eth0\"\n"
    );
    Config::parse(Path::new("dp.toml"), &text).unwrap().cluster
}

const WEB: &str = "[[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\naffinity = \"none\"\n[[cluster.rule]]\nports = 53\nprotocol = \"udp\"\naffinity = \"single\"\n";

fn loaded(c: &ClusterConfig) -> Dataplane {
    let mut dp = Dataplane::load(c).expect("load the XDP program (run as root)");
    dp.set_macs(Macs {
        cluster: MacAddr(CLUSTER_MAC),
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
    for v in vectors.iter().filter(|v| v.client.is_ipv4()) {
        let IpAddr::V4(client) = v.client else {
            unreachable!()
        };
        if client.is_unspecified() || client.is_broadcast() {
            continue; // not a possible client address in a frame we would build
        }
        let extra = format!(
            "hash_seed = {}\ntable_size = {}",
            u64::from_str_radix(&v.seed, 16).unwrap() & (i64::MAX as u64),
            v.table_size
        );
        if u64::from_str_radix(&v.seed, 16).unwrap() > i64::MAX as u64 {
            continue; // the configuration takes seeds below 2^63
        }
        let rule = format!(
            "[[cluster.rule]]\nports = 80\nprotocol = \"tcp\"\naffinity = \"{}\"\n",
            v.affinity
        );
        let c = cluster(&extra, &rule);
        let mut dp = loaded(&c);
        let mut states = all(&c, SlotState::NotOwned);
        states[v.slot as usize] = SlotState::Owned;
        dp.set_slots(0, &states).unwrap();
        let syn = packet::tcp(CLUSTER_MAC, client, VIP, v.client_port, 80, tcp_flags::SYN);
        assert_eq!(
            dp.test_run(&syn, 1).unwrap().action,
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
        let other = packet::tcp(CLUSTER_MAC, client, VIP, v.client_port, 80, tcp_flags::SYN);
        assert_eq!(
            dp.test_run(&other, 1).unwrap().action,
            XDP_DROP,
            "vector {} {} {}",
            v.client,
            v.client_port,
            v.affinity
        );
        checked += 1;
    }
    assert!(checked >= 60, "{checked} vectors checked");
}
