//! What an operator set survives a restart of nlbd (Windows NLB's "retain suspended
//! state"): a stopped or suspended host, a disabled rule; a stop for a restart
//! (SIGTERM) is no operator's stop.

mod common;

use common::Lab;
use std::process::Command;
use std::time::{Duration, Instant};

/// Kills `host`'s nlbd and starts a new one; waits until it is `state` (with
/// `members`, if any).
fn restart_nlbd(lab: &Lab, host: &str, state: &str, members: &[u64]) {
    lab.lab("kill", &[host, "--how", "nlbd"]);
    start_no_wait(lab, host);
    lab.wait_state(host, state, members);
}

/// Starts `host`'s nlbd without waiting for the cluster; returns once it answers.
fn start_no_wait(lab: &Lab, host: &str) {
    lab.lab("start", &[host, "--no-wait"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lab.on(host, &["query"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "{host}'s nlbd does not answer: {}",
            std::fs::read_to_string(format!("{}/{host}-nlbd.log", lab.dir())).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to `host`'s nlbd and waits until it is gone.
fn terminate_nlbd(lab: &Lab, host: &str) {
    let pid = std::fs::read_to_string(format!("{}/{host}-nlbd.pid", lab.dir())).unwrap();
    let pid = pid.trim();
    assert!(Command::new("kill").arg(pid).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z")) {
        assert!(Instant::now() < deadline, "nlbd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stopped_suspended_or_disabled_setting_survives_a_restart() {
    let lab = Lab::up("op", "multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    assert!(lab.on("h3", &["stop"]).status.success());
    assert!(lab.on("h2", &["disable", "80"]).status.success());
    std::thread::sleep(Duration::from_millis(200));

    restart_nlbd(&lab, "h3", "Stopped", &[]);
    restart_nlbd(&lab, "h2", "Converged", &[1, 2]);
    let h2 = lab.query("h2");
    assert_eq!(h2["rules"][0]["mode"], "Disabled", "{h2}");
    assert!(
        h2["recent_events"]
            .to_string()
            .contains("restored what the operator set"),
        "{h2}"
    );

    // Suspended comes back suspended; resumed and started, it comes back started.
    assert!(lab.on("h3", &["suspend"]).status.success());
    std::thread::sleep(Duration::from_millis(200));
    restart_nlbd(&lab, "h3", "Suspended", &[]);
    assert!(lab.on("h3", &["resume"]).status.success());
    assert!(lab.on("h3", &["start"]).status.success());
    assert!(lab.on("h2", &["enable", "80"]).status.success());
    lab.wait_state("h3", "Converged", &[1, 2, 3]);
    std::thread::sleep(Duration::from_millis(200));
    restart_nlbd(&lab, "h3", "Converged", &[1, 2, 3]);
    restart_nlbd(&lab, "h2", "Converged", &[1, 2, 3]);
    assert_eq!(lab.query("h2")["rules"][0]["mode"], "Enabled");
    assert!(
        !std::path::Path::new(&format!("{}/{}-3.json", lab.dir(), lab.name)).exists(),
        "nothing left to keep"
    );

    // A SIGTERM (systemctl stop or restart) leaves the cluster but keeps no stop.
    terminate_nlbd(&lab, "h2");
    start_no_wait(&lab, "h2");
    lab.wait_state("h2", "Converged", &[1, 2, 3]);
}
