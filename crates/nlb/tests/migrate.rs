//! Surviving the hypervisor (`nlb lab migrate`, real namespaces, as root): every host's
//! switch port moves to the other switch at once with a 300 ms blackout, as a live
//! migration of every VM does; with and without the hypervisor's RARP from each new
//! port, with the ports back together and 150 ms apart; in each operation mode. The
//! cluster must need no command: new connections all succeed again within 2 s of the
//! ports coming back, no held connection is reset or waits 2 s, one host answers ARP
//! for the VIP, and the traffic is spread over every host again.

mod common;

use common::{text, Lab};
use serde_json::Value;

/// Moves every host's port, as `options` say, and checks what the client saw.
fn migrate(lab: &Lab, options: &[&str]) {
    let mut args = vec!["lab", "migrate", "--name", &lab.name, "--json"];
    args.extend_from_slice(options);
    let out = lab.nlb(&args);
    assert!(out.status.success(), "{}", text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let what = format!("{options:?}: {r}");
    assert!(r["recovery_ms"].as_f64().unwrap() <= 2000.0, "{what}");
    assert_eq!(r["held_reset"], 0, "{what}");
    assert_eq!(r["held_stalled"], 0, "{what}");
    assert!(
        r["held_longest_wait_ms"].as_f64().unwrap() < 2000.0,
        "{what}"
    );
    assert_eq!(r["arp_answered_by"].as_array().unwrap().len(), 1, "{what}");
    for (host, share) in r["shares_after"].as_object().unwrap() {
        assert!(
            share.as_f64().unwrap() > 0.15,
            "h{host} serves too little 2 s after the move: {what}"
        );
    }
}

fn survives_migrations(mode: &str, tag: &str) {
    let lab = Lab::up(tag, mode, 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    migrate(&lab, &[]);
    migrate(&lab, &["--rarp"]);
    migrate(&lab, &["--out-of-phase-ms", "150"]);
    migrate(&lab, &["--rarp", "--out-of-phase-ms", "150"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    // The IPv6 VIP too, after all these moves: the other switch learned the MLD
    // memberships (the group's and the VIP's solicited-node group) as well.
    let t = lab.served_with(300, &["--ipv6"]);
    assert_eq!(t["failed"], 0, "{t}");
    for h in ["1", "2", "3"] {
        let n = t["served"][h].as_u64().unwrap_or(0);
        assert!(n > 45, "IPv6 after the moves: h{h} served {n} of 300: {t}");
    }
}

#[test]
fn igmp_multicast_survives_migrations() {
    survives_migrations("igmp-multicast", "mi");
}

#[test]
fn multicast_survives_migrations() {
    survives_migrations("multicast", "mm");
}

#[test]
fn unicast_survives_migrations() {
    survives_migrations("unicast", "mu");
}

/// Sends UDP datagrams to the VIP from the client, `per_second` for `seconds`, in the
/// background.
fn cluster_mac_on_h2s_port(sw: &str, op: &str) {
    let status = std::process::Command::new("bridge")
        .args([
            "-n",
            sw,
            "fdb",
            op,
            "02:bf:c6:33:64:0a",
            "dev",
            "ph2",
            "master",
            "static",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "bridge fdb {op}");
}

#[test]
fn a_switch_that_learned_the_cluster_mac_is_detected_and_named() {
    let lab = Lab::up("md", "unicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    // The switch learns the cluster MAC on h2's port (by hand, as a hypervisor's RARP
    // or a NIC team would make it): frames to it reach h2 only.
    let sw = format!("nlb-{}-sw", lab.name);
    cluster_mac_on_h2s_port(&sw, "add");
    let mut traffic = lab.udp_to("198.51.100.10", 200, 12);
    let start = std::time::Instant::now();
    let mut seen = None;
    while start.elapsed() < std::time::Duration::from_secs(5) {
        let s = lab.query("h1");
        if !s["reception_problem"].is_null() {
            seen = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let s = seen.unwrap_or_else(|| panic!("no detection within 5 s: {}", lab.query("h1")));
    let p = &s["reception_problem"];
    assert_eq!(p["seeing"], serde_json::json!([2]), "{p}");
    assert_eq!(p["starved"], serde_json::json!([1, 3]), "{p}");
    assert!(
        p["cause"]
            .as_str()
            .unwrap()
            .contains("learned the cluster MAC"),
        "{p}"
    );
    // Every host says so, in its log too.
    for h in ["h2", "h3"] {
        let display = text(&lab.on(h, &["display"]));
        assert!(
            display.contains("Warning: host 1, host 3 see(s) few"),
            "{h}: {display}"
        );
    }
    // The entry gone, the warning goes.
    cluster_mac_on_h2s_port(&sw, "del");
    let start = std::time::Instant::now();
    while !lab.query("h1")["reception_problem"].is_null() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "the warning stayed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = traffic.kill();
    let _ = traffic.wait();
}
