//! Flow classification end to end from a configuration.

use nlb_core::classify::{Flow, LiveHost, Ownership, Verdict};
use nlb_core::config::Config;
use nlb_core::host::HostId;
use nlb_core::rules::Transport;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

const CONFIG: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
extra_vips = ["198.51.100.11"]
key_file = "k"

[[cluster.rule]]
name = "http"
ports = 80
protocol = "tcp"
affinity = "none"

[[cluster.rule]]
name = "sticky"
ports = 443
protocol = "tcp"
affinity = "single"

[[cluster.rule]]
name = "proxyfarm"
ports = 8080
affinity = "network"

[[cluster.rule]]
name = "ssh"
ports = 22
protocol = "tcp"
filtering = "single"

[[cluster.rule]]
name = "telnet"
ports = 23
filtering = "disabled"

[host]
id = 1
interface = "eth0"
"#;

fn host(id: u8, ssh_priority: u8) -> LiveHost {
    let text = CONFIG.replace("id = 1", &format!("id = {id}"))
        + &format!("[host.rule.ssh]\npriority = {ssh_priority}\n");
    let c = Config::parse(Path::new("h.toml"), &text).unwrap();
    LiveHost::from_settings(c.host.id, &c.host.rules)
}

fn cluster() -> nlb_core::config::ClusterConfig {
    Config::parse(Path::new("h.toml"), CONFIG).unwrap().cluster
}

fn flow(client: &str, cport: u16, sport: u16, t: Transport) -> Flow {
    Flow {
        vip: "198.51.100.10".parse().unwrap(),
        transport: t,
        client: client.parse().unwrap(),
        client_port: cport,
        server_port: sport,
    }
}

#[test]
fn rules_single_disabled_default_and_foreign() {
    let c = cluster();
    let live = [host(2, 9), host(3, 4), host(5, 6)];
    let o = Ownership::build(&c, &live);
    let v = o.classify(&c, &flow("203.0.113.9", 5000, 22, Transport::Tcp));
    assert_eq!(
        v,
        Verdict::Single {
            rule: 3,
            owner: Some(HostId(3))
        }
    );
    assert_eq!(
        o.classify(&c, &flow("203.0.113.9", 5000, 23, Transport::Udp)),
        Verdict::Disabled { rule: 4 }
    );
    // ICMP and uncovered ports go to the default host: the lowest live id.
    assert_eq!(
        o.classify(&c, &flow("203.0.113.9", 0, 0, Transport::Other(1))),
        Verdict::Default {
            owner: Some(HostId(2))
        }
    );
    assert_eq!(
        o.classify(&c, &flow("203.0.113.9", 1, 9999, Transport::Tcp))
            .owner(),
        Some(HostId(2))
    );
    let mut f = flow("203.0.113.9", 1, 80, Transport::Tcp);
    f.vip = "198.51.100.99".parse().unwrap();
    assert_eq!(o.classify(&c, &f), Verdict::NotClusterTraffic);
    // The single-host rule fails over to the next priority.
    let o2 = Ownership::build(&c, &[host(2, 9), host(5, 6)]);
    assert_eq!(
        o2.classify(&c, &flow("203.0.113.9", 5000, 22, Transport::Tcp))
            .owner(),
        Some(HostId(5))
    );
    // With nobody live, nobody owns anything.
    let none = Ownership::build(&c, &[]);
    assert_eq!(
        none.classify(&c, &flow("203.0.113.9", 5000, 80, Transport::Tcp))
            .owner(),
        None
    );
}

#[test]
fn affinity_decides_what_stays_together() {
    let c = cluster();
    let live: Vec<LiveHost> = (1..=8).map(|i| host(i, i)).collect();
    let o = Ownership::build(&c, &live);
    let owners = |client: &str, sport: u16| -> BTreeMap<HostId, u32> {
        let mut m = BTreeMap::new();
        for p in 1024..3024 {
            *m.entry(
                o.classify(&c, &flow(client, p, sport, Transport::Tcp))
                    .owner()
                    .unwrap(),
            )
            .or_default() += 1;
        }
        m
    };
    // none: one client's connections spread over all hosts, roughly evenly.
    let spread = owners("203.0.113.9", 80);
    assert_eq!(spread.len(), 8);
    assert!(
        spread.values().all(|&n| (180..=320).contains(&n)),
        "{spread:?}"
    );
    // single: all of one client's connections on one host.
    assert_eq!(owners("203.0.113.9", 443).len(), 1);
    // network: the whole /24 on one host.
    let net: std::collections::BTreeSet<HostId> = (1..=254)
        .map(|i| {
            o.classify(
                &c,
                &flow(&format!("203.0.113.{i}"), 7, 8080, Transport::Udp),
            )
            .owner()
            .unwrap()
        })
        .collect();
    assert_eq!(net.len(), 1);
}

#[test]
fn every_host_computes_the_same_owner() {
    let c = cluster();
    let a: Vec<LiveHost> = vec![host(1, 1), host(4, 4), host(9, 9)];
    let mut b = a.clone();
    b.reverse();
    let (oa, ob) = (Ownership::build(&c, &a), Ownership::build(&c, &b));
    for i in 0..2000u16 {
        let client: IpAddr = format!("198.18.{}.{}", i / 200, i % 200 + 1)
            .parse()
            .unwrap();
        let f = Flow {
            vip: "198.51.100.11".parse().unwrap(),
            transport: Transport::Tcp,
            client,
            client_port: i,
            server_port: 80,
        };
        assert_eq!(oa.classify(&c, &f), ob.classify(&c, &f));
    }
}
