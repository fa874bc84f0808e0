//! nlbd end to end, in each of the three operation modes, on a lab cluster (a Linux
//! bridge with IGMP and MLD snooping and queriers as the switch; in IGMP multicast mode
//! with MAC-based snooping): the scenarios of the data path issue, (a) to (f), for the
//! IPv6 VIP beside the IPv4 one, and a stop restoring the host.

mod common;

use common::Lab;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default timers: heartbeat 100 ms, loss tolerance 5.
const FAILOVER_BOUND_MS: f64 = 1000.0;
/// A failed host's lease outlives its last heartbeat by at most (5 - 1) periods.
const LEASE_MS: f64 = 400.0;

fn share_of(t: &Value, host: &str) -> f64 {
    t["served"][host].as_u64().unwrap_or(0) as f64
        / t["served"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>() as f64
}

fn failover(lab: &Lab, host: &str, how: &str) -> Value {
    serde_json::from_str(&lab.lab("failover", &[host, "--how", how, "--json"])).unwrap()
}

fn set_host_file(lab: &Lab, host: &str, edit: impl FnOnce(String) -> String) {
    let path = format!("{}/{host}.toml", lab.dir());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

const VIP6: &str = "2001:db8::10";

/// The client's neighbour entry for `vip`.
fn client_neighbour(lab: &Lab, vip: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", &format!("nlb-{}-c", lab.name), "neigh", "show", vip])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// When the default host fails, the next one announces the VIPs (gratuitous ARP for
/// IPv4, an unsolicited neighbour advertisement for IPv6): a neighbour with a stale
/// entry for `vip` learns the cluster MAC again.
fn announcement(lab: &Lab, vip: &str, cluster_mac: &str) {
    let client = format!("nlb-{}-c", lab.name);
    let neigh = || client_neighbour(lab, vip);
    let bogus = ["-n", &client, "neigh", "replace", vip, "lladdr"];
    let status = Command::new("ip")
        .args(bogus)
        .args(["02:00:00:00:00:99", "dev", "eth0", "nud", "stale"])
        .status()
        .unwrap();
    assert!(status.success());
    lab.lab("kill", &["h1"]);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !neigh().contains(cluster_mac) {
        assert!(Instant::now() < deadline, "no announcement: {}", neigh());
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.lab("start", &["h1"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
}

/// The IPv6 VIP served beside the IPv4 one: neighbour discovery answered by the
/// default host alone with the IPv6 VIPs' MAC, 3000 connections shared, the MLD group
/// in the switch's MDB (IGMP multicast mode), an announcement on failover, a join with
/// 200 connections open and none broken, failover within 1 s.
fn ipv6_scenarios(lab: &Lab, mode: &str, cluster_mac6: &str) {
    let client = format!("nlb-{}-c", lab.name);
    let replied = |h: &str| {
        lab.query(h)["dataplane"]["packets"]["ndp_replied"]
            .as_u64()
            .unwrap_or(0)
    };
    let before: Vec<u64> = ["h1", "h2", "h3"].iter().map(|h| replied(h)).collect();
    let flushed = Command::new("ip")
        .args(["-n", &client, "-6", "neigh", "flush", "dev", "eth0"])
        .status()
        .unwrap();
    assert!(flushed.success());
    let t = lab.served_with(3000, &["--ipv6"]);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        let s = share_of(&t, h);
        assert!(
            (s - 1.0 / 3.0).abs() < 0.05,
            "IPv6: h{h} served {s:.3}: {t}"
        );
    }
    let neigh = client_neighbour(lab, VIP6);
    assert!(neigh.contains(cluster_mac6), "{neigh}");
    let after: Vec<u64> = ["h1", "h2", "h3"].iter().map(|h| replied(h)).collect();
    assert!(after[0] > before[0], "the default host answered: {after:?}");
    assert_eq!(&after[1..], &before[1..], "only the default host answers");
    if mode == "igmp-multicast" {
        let out = Command::new("bridge")
            .args([
                "-n",
                &format!("nlb-{}-sw", lab.name),
                "mdb",
                "show",
                "dev",
                "br0",
            ])
            .output()
            .unwrap();
        let mdb = String::from_utf8_lossy(&out.stdout);
        for port in ["ph1", "ph2", "ph3"] {
            assert!(
                mdb.lines()
                    .any(|l| l.contains(port) && l.contains("ff05::efff:10")),
                "{port} not in the MLD group: {mdb}"
            );
        }
    }
    announcement(lab, VIP6, cluster_mac6);

    lab.lab("kill", &["h3"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    let mut held = lab.hold_to(200, VIP6);
    lab.lab("start", &["h3"]);
    lab.wait_state("h3", "Converged", &[1, 2, 3]);
    assert_eq!(held.say("check"), "broken 0");
    assert_eq!(held.say("close"), "closed");
    drop(held);

    let f: Value =
        serde_json::from_str(&lab.lab("failover", &["h2", "--how", "nlbd", "--ipv6", "--json"]))
            .unwrap();
    assert!(
        f["recovery_ms"].as_f64().unwrap() < FAILOVER_BOUND_MS,
        "IPv6: {f}"
    );
    lab.lab("start", &["h2"]);
    lab.wait_state("h2", "Converged", &[1, 2, 3]);
}

fn scenarios(mode: &str, tag: &str, cluster_mac: &str, cluster_mac6: &str) {
    let lab = Lab::up(tag, mode, 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    announcement(&lab, "198.51.100.10", cluster_mac);
    ipv6_scenarios(&lab, mode, cluster_mac6);

    // (a) 3000 connections from distinct client ports: each answered by exactly one
    // host, shares within 5 percentage points of the weights (a third each).
    let t = lab.served(3000);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        let s = share_of(&t, h);
        assert!((s - 1.0 / 3.0).abs() < 0.05, "h{h} served {s:.3}: {t}");
    }

    // (c) A host joins while 200 connections are open: none breaks.
    lab.lab("kill", &["h3"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    let mut held = lab.hold(200);
    lab.lab("start", &["h3"]);
    lab.wait_state("h3", "Converged", &[1, 2, 3]);
    assert_eq!(held.say("check"), "broken 0");
    assert!(lab.share("h3") > 0.3);
    assert_eq!(held.say("close"), "closed");
    drop(held);

    // (b) A host fails: only its nlbd is killed, or its link goes down and its
    // processes die. New connections all succeed again within 1 s, the failed host
    // admits nothing new once its lease is over, and no connection of another host is
    // reset.
    for how in ["nlbd", "link-down"] {
        let mut held = lab.hold(90);
        let f = failover(&lab, "h2", how);
        assert!(
            f["recovery_ms"].as_f64().unwrap() < FAILOVER_BOUND_MS,
            "{how}: {f}"
        );
        if let Some(last) = f["last_victim_answer_ms"].as_f64() {
            assert!(last < LEASE_MS + 100.0, "{how}: h2 still answered: {f}");
        }
        let broken = held.say("check-by-host");
        for h in ["1", "3"] {
            assert!(
                broken.contains(&format!("{h}:0")) || !held.hosts.contains(&h.parse().unwrap()),
                "{how}: connections of h{h} broke: {broken}"
            );
        }
        held.say("close");
        drop(held);
        lab.lab("start", &["h2"]);
    }

    // (d) Drainstop: open connections keep being served, new ones go elsewhere, the
    // host stops after its last connection closes.
    let mut held = lab.hold(60);
    assert!(held.hosts.contains(&2));
    let mut wait = lab
        .nlb_on("h2", &["drainstop", "--wait"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_state("h2", "Draining", &[]);
    let t = lab.served(200);
    assert_eq!(t["failed"], 0, "{t}");
    assert!(t["served"].get("2").is_none(), "h2 took new flows: {t}");
    assert_eq!(held.say("check"), "broken 0");
    assert!(wait.try_wait().unwrap().is_none());
    held.say("close");
    let deadline = Instant::now() + Duration::from_secs(10);
    while wait.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "drainstop --wait never returned");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lab.query("h2")["state"], "Stopped");
    assert!(lab.on("h2", &["start"]).status.success());
    lab.wait_state("h2", "Converged", &[1, 2, 3]);

    // (e) A host with a different port rule is refused; the cluster keeps serving.
    lab.lab("kill", &["h3"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    set_host_file(&lab, "h3", |t| t.replace("ports = 80", "ports = \"80-81\""));
    lab.lab("start", &["h3", "--no-wait"]);
    std::thread::sleep(Duration::from_millis(1500));
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    let s = lab.query("h3");
    assert!(
        s["standing_aside"]
            .as_str()
            .unwrap_or("")
            .contains("configuration"),
        "{s}"
    );
    assert_eq!(lab.share("h3"), 0.0);
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    assert!(t["served"].get("3").is_none(), "{t}");

    // (f) A host with the wrong key owns nothing; its frames are counted as rejected.
    lab.lab("kill", &["h3"]);
    set_host_file(&lab, "h3", |t| {
        t.replace("ports = \"80-81\"", "ports = 80")
            .replace("cluster.key", "other.key")
    });
    let key = format!("{}/other.key", lab.dir());
    assert!(lab.nlb(&["keygen", &key]).status.success());
    let before = lab.query("h1")["heartbeats"]["authentication_failures"]
        .as_u64()
        .unwrap();
    lab.lab("start", &["h3", "--no-wait"]);
    std::thread::sleep(Duration::from_millis(1500));
    let s = lab.query("h3");
    assert!(
        s["standing_aside"]
            .as_str()
            .unwrap_or("")
            .contains("authenticate"),
        "{s}"
    );
    assert_eq!(lab.share("h3"), 0.0);
    assert!(
        lab.query("h1")["heartbeats"]["authentication_failures"]
            .as_u64()
            .unwrap()
            > before
    );
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    assert!(t["served"].get("3").is_none(), "{t}");

    // Hand-off for an upgrade: with connections open on h1 and h2, h1's nlbd hands
    // off and a new one adopts the data path; no connection breaks, no peer notices.
    let peer_log = || std::fs::read_to_string(format!("{}/h2-nlbd.log", lab.dir())).unwrap();
    let losses = peer_log().matches("host 1 lost").count();
    let mut held = lab.hold(90);
    lab.lab("handoff", &["h1"]);
    let log = || std::fs::read_to_string(format!("{}/h1-nlbd.log", lab.dir())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log().contains("host 1 on eth0") {
        assert!(Instant::now() < deadline, "{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(log().contains("adopted the data path"), "{}", log());
    // (h3 still runs with the wrong key from (f).)
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    assert_eq!(held.say("check"), "broken 0");
    assert_eq!(
        peer_log().matches("host 1 lost").count(),
        losses,
        "{}",
        peer_log()
    );
    held.say("close");
    drop(held);

    // (g) A stop restores everything nlbd changed (here: the nlbd that adopted).
    stop_restores(&lab);
}

/// A stop (SIGTERM) restores everything nlbd changed on host `h1`.
fn stop_restores(lab: &Lab) {
    let ns = format!("nlb-{}-h1", lab.name);
    let show = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["-n", &ns])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sysctl = |name: &str| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "cat"])
            .arg(format!("/proc/sys/net/ipv4/conf/eth0/{name}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert!(show(&["addr", "show", "dev", "lo"]).contains("198.51.100.10/32"));
    let lo = show(&["addr", "show", "dev", "lo"]);
    assert!(lo.contains("2001:db8::10/128"), "{lo}");
    // Every member holds the IPv6 VIP: duplicate address detection must not run.
    assert!(
        lo.contains("nodad") && !lo.contains("tentative") && !lo.contains("dadfailed"),
        "{lo}"
    );
    assert_eq!(sysctl("arp_ignore"), "1");
    let pid: i32 = std::fs::read_to_string(format!("{}/h1-nlbd.pid", lab.dir()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(Instant::now() < deadline, "nlbd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let link = show(&["-d", "link", "show", "dev", "eth0"]);
    assert!(!link.contains("xdp"), "XDP left attached: {link}");
    assert!(
        !link.contains("02:bf:"),
        "the cluster MAC left on the NIC: {link}"
    );
    assert!(!show(&["addr", "show", "dev", "lo"]).contains("198.51.100.10"));
    assert!(!show(&["addr", "show", "dev", "lo"]).contains("2001:db8::10"));
    assert_eq!(sysctl("arp_ignore"), "0");
    assert_eq!(sysctl("arp_announce"), "0");
    let qdisc = Command::new("tc")
        .args(["-n", &ns, "qdisc", "show", "dev", "eth0"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&qdisc.stdout).contains("clsact"),
        "clsact left behind"
    );
}

#[test]
fn unicast_mode() {
    scenarios("unicast", "u", "02:bf:c6:33:64:0a", "02:bf:c6:33:64:0a");
}

#[test]
fn igmp_multicast_mode() {
    scenarios(
        "igmp-multicast",
        "i",
        "01:00:5e:7f:64:0a",
        "33:33:ef:ff:00:10",
    );
}

#[test]
fn multicast_mode() {
    scenarios("multicast", "m", "03:bf:c6:33:64:0a", "03:bf:c6:33:64:0a");
}
