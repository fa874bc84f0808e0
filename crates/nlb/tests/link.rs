//! nlbd watches its link: when the carrier comes back (a VM moved to another port, a
//! cable replugged), it re-sends its group membership at once, so a snooping switch
//! that forgot the port (a Linux bridge flushes a port's entries when it goes down)
//! forwards to it again within moments rather than at the next periodic report.

mod common;

use common::Lab;
use std::process::Command;
use std::time::{Duration, Instant};

/// Ports of the lab switch's bridge that are members of the IGMP-mode group.
fn members(lab: &Lab) -> String {
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("239.255.100.10"))
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn port(lab: &Lab, port: &str, state: &str) {
    let status = Command::new("ip")
        .args([
            "-n",
            &format!("nlb-{}-sw", lab.name),
            "link",
            "set",
            port,
            state,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_host_whose_carrier_returns_rejoins_its_group_at_once() {
    let lab = Lab::up("lk", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !members(&lab).contains("ph2") {
        assert!(
            Instant::now() < deadline,
            "h2 never joined: {}",
            members(&lab)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The switch's port goes down for 200 ms: the bridge forgets h2's membership.
    port(&lab, "ph2", "down");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!members(&lab).contains("ph2"), "{}", members(&lab));
    port(&lab, "ph2", "up");
    let up = Instant::now();
    while !members(&lab).contains("ph2") {
        assert!(
            up.elapsed() < Duration::from_secs(1),
            "no membership report within 1 s of the carrier's return: {}",
            members(&lab)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "h2's membership back {} ms after its carrier",
        up.elapsed().as_millis()
    );
    let log = std::fs::read_to_string(format!("{}/h2-nlbd.log", lab.dir())).unwrap();
    assert!(log.contains("carrier up; re-announcing"), "{log}");
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
}

/// Heartbeats are broadcast: a snooping switch that lost every membership of the group
/// (the lab's MAC-based agent then drops frames to the cluster MAC on every port) still
/// carries them, and no host loses its peers while the membership is relearnt.
#[test]
fn members_keep_hearing_each_other_while_the_switch_has_no_membership() {
    let lab = Lab::up("mb", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let sw = format!("nlb-{}-sw", lab.name);
    for p in ["ph1", "ph2", "ph3"] {
        let _ = Command::new("bridge")
            .args([
                "-n",
                &sw,
                "mdb",
                "del",
                "dev",
                "br0",
                "port",
                p,
                "grp",
                "239.255.100.10",
            ])
            .status();
    }
    std::thread::sleep(Duration::from_secs(2));
    for h in ["h1", "h2", "h3"] {
        let log = std::fs::read_to_string(format!("{}/{h}-nlbd.log", lab.dir())).unwrap();
        assert!(!log.contains(" lost: "), "{h}: {log}");
    }
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
}
