//! `nlb doctor` on lab clusters: a healthy lab of each mode reports nothing; each
//! injected fault is named, and nothing else; a capture taken at the switch meanwhile
//! (its bridge device, promiscuous: a mirror port) gives the same findings offline where
//! frames carry them. And `nlb switch-config --vendor linux-bridge` applied to the lab's
//! switch does what it says.

mod common;

use common::{text, Lab};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `nlb doctor` live on `host` of `lab`, as JSON, with `extra` options.
fn doctor_on(lab: &Lab, host: &str, extra: &[&str]) -> Value {
    let config = format!("{}/{host}.toml", lab.dir());
    let mut args = vec!["doctor", "--config", &config, "--json", "--seconds", "3"];
    args.extend_from_slice(extra);
    let out = lab.on(host, &args);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("doctor on {host}: {}", text(&out)));
    let problems = !problems(&v).is_empty();
    assert_eq!(
        out.status.code(),
        Some(i32::from(problems)),
        "exit status: {v}"
    );
    v
}

/// The (kind, diagnosis) of every problem found.
fn problems(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "problem")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["diagnosis"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A capture of `seconds` at the lab's switch (br0, promiscuous: everything that crosses
/// it), written to `file`; started now, waited for with `Child::wait`.
fn capture_at_switch(lab: &Lab, file: &str, seconds: f64) -> Child {
    Command::new(common::NLB)
        .args([
            "lab",
            "capture",
            "--name",
            &lab.name,
            "--seconds",
            &seconds.to_string(),
            "--out",
            file,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// `nlb doctor --pcap FILE --config h1.toml` (a mirror's capture), as JSON.
fn doctor_offline(lab: &Lab, file: &str, extra: &[&str]) -> Value {
    let config = format!("{}/h1.toml", lab.dir());
    let mut args = vec!["doctor", "--pcap", file, "--config", &config, "--json"];
    args.extend_from_slice(extra);
    let out = lab.nlb(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
}

/// Runs doctor live on `host` while the switch captures, and returns both reports.
fn live_and_mirror(lab: &Lab, host: &str, tag: &str, extra: &[&str]) -> (Value, Value) {
    let file = format!("{}/{tag}.pcap", lab.dir());
    let mut capture = capture_at_switch(lab, &file, 3.5);
    std::thread::sleep(Duration::from_millis(200));
    let live = doctor_on(lab, host, extra);
    assert!(capture.wait().unwrap().success());
    let offline = doctor_offline(lab, &file, extra);
    (live, offline)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        text(&out)
    );
}

fn ns(lab: &Lab, role: &str) -> String {
    format!("nlb-{}-{role}", lab.name)
}

/// The switch's IGMP/MLD querier asks every second (startup queries too), so that a
/// capture of a few seconds can tell a querier from none (`--query-interval 2`).
fn fast_querier(lab: &Lab, on: bool) {
    let sw = ns(lab, "sw");
    ip(&[
        "-n",
        &sw,
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "mcast_query_interval",
        "100",
        "mcast_startup_query_interval",
        "100",
        "mcast_querier",
        "0",
    ]);
    if on {
        ip(&[
            "-n",
            &sw,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_querier",
            "1",
        ]);
    }
    std::thread::sleep(Duration::from_millis(1500));
}

const NOTHING: [(String, String); 0] = [];

fn want(kind: &str, diagnosis: &str) -> Vec<(String, String)> {
    vec![(kind.to_string(), diagnosis.to_string())]
}

#[test]
fn healthy_labs_report_nothing() {
    for (mode, tag) in [
        ("igmp-multicast", "dh"),
        ("multicast", "dm"),
        ("unicast", "du"),
    ] {
        let lab = Lab::up(tag, mode, 3);
        lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
        let extra: &[&str] = if mode == "igmp-multicast" {
            fast_querier(&lab, true);
            &["--query-interval", "2"]
        } else {
            &[]
        };
        // The client stands in for h2's gateway: pings to it pass at the full MTU.
        ip(&[
            "-n",
            &ns(&lab, "h2"),
            "route",
            "add",
            "default",
            "via",
            "198.51.100.200",
        ]);
        let (live, offline) = live_and_mirror(&lab, "h2", "healthy", extra);
        assert_eq!(problems(&live), NOTHING, "{mode} live: {live}");
        assert!(
            live["notes"]
                .to_string()
                .contains("answers don't-fragment pings up to"),
            "{live}"
        );
        assert_eq!(problems(&offline), NOTHING, "{mode} offline: {offline}");
        // Every peer answered the path MTU probes at the full MTU.
        let paths = live["peer_paths"].as_array().unwrap();
        assert_eq!(paths.len(), 2, "{live}");
        assert!(paths.iter().all(|p| p["largest_payload"] == 1500), "{live}");
    }
}

#[test]
fn each_fault_is_named_and_nothing_else() {
    let lab = Lab::up("df", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let sw = ns(&lab, "sw");

    // A foreign host claims the VIP: it answers ARP for it with its own MAC.
    let x = ns(&lab, "x");
    ip(&["netns", "add", &x]);
    ip(&[
        "link", "add", "px", "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns", &x,
    ]);
    ip(&["-n", &sw, "link", "set", "px", "master", "br0", "up"]);
    ip(&["-n", &x, "addr", "add", "198.51.100.10/24", "dev", "eth0"]);
    ip(&["-n", &x, "link", "set", "eth0", "up"]);
    let (live, offline) = live_and_mirror(&lab, "h2", "foreign", &[]);
    assert_eq!(
        problems(&live),
        want("duplicate_ip", "foreign_host"),
        "live: {live}"
    );
    assert_eq!(
        problems(&offline),
        want("duplicate_ip", "foreign_host"),
        "offline: {offline}"
    );
    ip(&["netns", "del", &x]);

    // The client keeps a static ARP entry with the unicast mode's cluster MAC (as after
    // a mode change): its frames to the VIP go to a MAC the cluster no longer takes.
    let c = ns(&lab, "c");
    ip(&[
        "-n",
        &c,
        "neigh",
        "replace",
        "198.51.100.10",
        "lladdr",
        "02:bf:c6:33:64:0a",
        "dev",
        "eth0",
        "nud",
        "permanent",
    ]);
    let mut traffic = lab.udp_to("198.51.100.10", 200, 5);
    let (live, offline) = live_and_mirror(&lab, "h1", "stale", &[]);
    let _ = traffic.wait();
    assert_eq!(
        problems(&live),
        want("duplicate_ip", "stale_cluster_mac"),
        "live: {live}"
    );
    assert_eq!(
        problems(&offline),
        want("duplicate_ip", "stale_cluster_mac"),
        "offline: {offline}"
    );
    ip(&["-n", &c, "neigh", "del", "198.51.100.10", "dev", "eth0"]);

    // h2's frames leave with a second source MAC for half of its flows (a NIC team).
    lab.lab("nic-team", &["h2"]);
    let mut traffic = Command::new(common::NLB)
        .args([
            "lab",
            "traffic",
            "--name",
            &lab.name,
            "--connections",
            "2000",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (live, offline) = live_and_mirror(&lab, "h2", "team", &[]);
    let _ = traffic.kill();
    let _ = traffic.wait();
    let substitution = want("source_mac_substitution", "several_source_macs");
    assert_eq!(problems(&live), substitution, "live: {live}");
    assert_eq!(problems(&offline), substitution, "offline: {offline}");
    assert!(live["findings"][0]["seen"]
        .as_str()
        .unwrap()
        .contains("02-00-00-00-0e-02"));
    lab.lab("nic-team", &["h2", "--off"]);

    // Jumbo frames on every host and port but h2's switch port: large frames between
    // h1 and h2 are lost. The probes name host 2 (live only: a switch sends no ICMP).
    // And h1's gateway (the client, at MTU 1500) answers pings up to 1500 bytes only.
    ip(&[
        "-n",
        &ns(&lab, "h1"),
        "route",
        "add",
        "default",
        "via",
        "198.51.100.200",
    ]);
    for h in ["h1", "h2", "h3"] {
        ip(&["-n", &ns(&lab, h), "link", "set", "eth0", "mtu", "9000"]);
        let port = format!("p{h}");
        ip(&[
            "-n",
            &sw,
            "link",
            "set",
            &port,
            "mtu",
            if h == "h2" { "1500" } else { "9000" },
        ]);
    }
    let (live, offline) = live_and_mirror(&lab, "h1", "mtu", &[]);
    let mut found = problems(&live);
    found.sort();
    assert_eq!(
        found,
        [
            ("mtu_mismatch".to_string(), "gateway_path_short".to_string()),
            ("mtu_mismatch".to_string(), "path_short".to_string()),
        ],
        "live: {live}"
    );
    let subjects = live["findings"].to_string();
    assert!(
        subjects.contains("\"host 2\"") && subjects.contains("\"198.51.100.200\""),
        "{live}"
    );
    assert_eq!(problems(&offline), NOTHING, "offline: {offline}");
    for h in ["h1", "h2", "h3"] {
        ip(&["-n", &ns(&lab, h), "link", "set", "eth0", "mtu", "1500"]);
        ip(&["-n", &sw, "link", "set", &format!("p{h}"), "mtu", "1500"]);
    }
    ip(&["-n", &ns(&lab, "h1"), "route", "del", "default"]);

    // Host settings: strict reverse path filtering, and the VIP also on eth0.
    let h3 = ns(&lab, "h3");
    let sysctl = |value: &str| {
        let status = Command::new("ip")
            .args(["netns", "exec", &h3, "sysctl", "-qw"])
            .arg(format!("net.ipv4.conf.eth0.rp_filter={value}"))
            .status()
            .unwrap();
        assert!(status.success());
    };
    sysctl("1");
    ip(&["-n", &h3, "addr", "add", "198.51.100.10/32", "dev", "eth0"]);
    let live = doctor_on(&lab, "h3", &[]);
    let mut found = problems(&live);
    found.sort();
    assert_eq!(
        found,
        [
            ("host_settings".to_string(), "strict_rp_filter".to_string()),
            ("host_settings".to_string(), "vip_elsewhere".to_string()),
        ],
        "{live}"
    );
    sysctl("0");
    ip(&["-n", &h3, "addr", "del", "198.51.100.10/32", "dev", "eth0"]);

    // No querier on the switch: in igmp-multicast mode, no query within the interval.
    fast_querier(&lab, false);
    let (live, offline) = live_and_mirror(&lab, "h1", "querier", &["--query-interval", "2"]);
    let none = vec![
        ("igmp".to_string(), "no_querier".to_string()),
        ("igmp".to_string(), "no_querier".to_string()),
    ];
    assert_eq!(problems(&live), none, "live (IGMP and MLD): {live}");
    assert_eq!(problems(&offline), none, "offline: {offline}");
}

#[test]
fn a_switch_that_learned_the_cluster_mac_is_named_live() {
    let lab = Lab::up("dl", "unicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let sw = ns(&lab, "sw");
    let status = Command::new("bridge")
        .args([
            "-n",
            &sw,
            "fdb",
            "add",
            "02:bf:c6:33:64:0a",
            "dev",
            "ph2",
            "master",
            "static",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let mut traffic = lab.udp_to("198.51.100.10", 200, 12);
    // nlbd's detection takes a few seconds of uneven counts.
    std::thread::sleep(Duration::from_secs(6));
    let live = doctor_on(&lab, "h1", &[]);
    let _ = traffic.kill();
    let _ = traffic.wait();
    assert_eq!(
        problems(&live),
        want("switch_learned_cluster_mac", "reception_uneven"),
        "{live}"
    );
    assert!(
        live["findings"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("host 1"),
        "{live}"
    );
}

/// Frames to `mac` that reach namespace `ns`'s eth0 in `seconds`, counted by a packet
/// socket there.
fn frames_to(ns: &str, mac: &str, seconds: f64) -> u64 {
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\n\
         s.bind(('eth0', 0))\n\
         s.settimeout(0.1)\n\
         want = bytes.fromhex('{}')\n\
         n = 0\n\
         end = time.time() + {seconds}\n\
         while time.time() < end:\n\
         \x20   try:\n\
         \x20       f = s.recv(2048)\n\
         \x20   except socket.timeout:\n\
         \x20       continue\n\
         \x20   if f[:6] == want:\n\
         \x20       n += 1\n\
         print(n)\n",
        mac.replace(':', "")
    );
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn the_linux_bridge_switch_config_stops_flooding_and_the_static_arp_entry_works() {
    let lab = Lab::up("ds", "multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let (sw, c) = (ns(&lab, "sw"), ns(&lab, "c"));
    const CLUSTER_MAC: &str = "03:bf:c6:33:64:0a";
    // An observer: another server on the VLAN, no member.
    let o = ns(&lab, "o");
    ip(&["netns", "add", &o]);
    ip(&[
        "link", "add", "po", "netns", &sw, "type", "veth", "peer", "name", "eth0", "netns", &o,
    ]);
    ip(&["-n", &sw, "link", "set", "po", "master", "br0", "up"]);
    ip(&["-n", &o, "link", "set", "eth0", "up"]);
    // A switch as it comes: no snooping, so frames to the cluster MAC flood every port.
    ip(&[
        "-n",
        &sw,
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    let mut traffic = lab.udp_to("198.51.100.10", 200, 3);
    let before = frames_to(&o, CLUSTER_MAC, 2.0);
    let _ = traffic.wait();
    assert!(
        before > 100,
        "the observer should see the flood first: {before}"
    );

    // The script, for the lab's ports, the client standing in for the router.
    let config = format!("{}/h1.toml", lab.dir());
    let out = lab.nlb(&[
        "switch-config",
        "--vendor",
        "linux-bridge",
        "--router",
        "--bridge",
        "br0",
        "--ports",
        "ph1,ph2,ph3",
        &config,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let script = String::from_utf8_lossy(&out.stdout).replace("<ROUTER_IF>", "eth0");
    assert!(!script.contains('<'), "a placeholder is left: {script}");
    let (router, switch) = script
        .split_once("# == Switch ==")
        .expect("a router part and a switch part");
    let run = |ns: &str, part: &str| {
        let body = format!("set -e\n{part}");
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", &body])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", part, text(&out));
    };
    run(&sw, switch);
    run(&c, router);
    // The lab made every port a router port; the client's is an ordinary one again.
    let status = Command::new("bridge")
        .args(["-n", &sw, "link", "set", "dev", "pc", "mcast_router", "1"])
        .status()
        .unwrap();
    assert!(status.success());

    let neigh = Command::new("ip")
        .args(["-n", &c, "neigh", "show", "198.51.100.10"])
        .output()
        .unwrap();
    let neigh = String::from_utf8_lossy(&neigh.stdout);
    assert!(
        neigh.contains(CLUSTER_MAC) && neigh.contains("PERMANENT"),
        "{neigh}"
    );
    // A bridge that starts snooping holds the frames back once it takes a querier as
    // present: after its query response interval (10 s by default), as the script says.
    let mut traffic = lab.udp_to("198.51.100.10", 200, 16);
    let start = std::time::Instant::now();
    let mut after = u64::MAX;
    while after > 0 && start.elapsed() < Duration::from_secs(14) {
        after = frames_to(&o, CLUSTER_MAC, 1.0);
    }
    let _ = traffic.kill();
    let _ = traffic.wait();
    assert_eq!(
        after,
        0,
        "flooding goes on {:?} after the script",
        start.elapsed()
    );
    // The client reaches the VIP through the static entry, every host serving.
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    assert_eq!(t["served"].as_object().unwrap().len(), 3, "{t}");
    ip(&["netns", "del", &o]);
}
