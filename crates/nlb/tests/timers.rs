//! Every timer the configuration allows works in steady state; tuned timers fail over
//! in under 100 ms; a host restarted with its wall clock an hour back rejoins.

mod common;

use common::Lab;
use serde_json::Value;
use std::process::Command;

fn share_of(t: &Value, host: &str) -> f64 {
    let total: u64 = t["served"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    t["served"][host].as_u64().unwrap_or(0) as f64 / total as f64
}

#[test]
fn the_tightest_timers_run_clean_and_tuned_ones_fail_over_within_100_ms() {
    // The smallest period with the smallest tolerance: the lease has least room.
    let lab = Lab::up_with(
        "t4",
        "igmp-multicast",
        3,
        &["--heartbeat-ms", "10", "--loss-tolerance", "4"],
    );
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let t = lab.served(4000);
    assert_eq!(t["failed"], 0, "{t}");
    for h in 1..=3 {
        let q = lab.query(&format!("h{h}"));
        assert_eq!(q["dataplane"]["packets"]["drop_fenced"], 0, "h{h}: {q}");
    }
    drop(lab);

    // 10 ms x 5: from a crash to every new connection succeeding, within 100 ms.
    let lab = Lab::up_with(
        "t5",
        "igmp-multicast",
        3,
        &["--heartbeat-ms", "10", "--loss-tolerance", "5"],
    );
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let f: Value =
        serde_json::from_str(&lab.lab("failover", &["h2", "--json", "--interval-ms", "2"]))
            .unwrap();
    eprintln!("failover at 10 ms x 5: {f}");
    assert!(
        f["failed_after"].as_u64().unwrap() > 0,
        "the crash was seen: {f}"
    );
    assert!(f["recovery_ms"].as_f64().unwrap() <= 100.0, "{f}");
}

#[test]
fn a_host_restarted_with_its_wall_clock_an_hour_back_rejoins_and_owns_its_share() {
    let lab = Lab::up("ck", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    lab.lab("kill", &["h3"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    lab.lab("start", &["h3", "--wall-clock-offset", "-1h"]);
    lab.wait_state("h3", "Converged", &[1, 2, 3]);
    // It really runs an hour back: its log's timestamps say so.
    let log = std::fs::read_to_string(format!("{}/h3-nlbd.log", lab.dir())).unwrap();
    let minute_of_day = |s: &str| -> Option<i64> {
        let t = s.split('T').nth(1)?;
        let h: i64 = t.get(0..2)?.parse().ok()?;
        let m: i64 = t.get(3..5)?.parse().ok()?;
        Some(h * 60 + m)
    };
    let logged = log
        .lines()
        .find_map(minute_of_day)
        .expect("a timestamped line");
    let now = String::from_utf8(
        Command::new("date")
            .args(["-u", "+%Y-%m-%dT%H:%M:%S"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let behind = (minute_of_day(now.trim()).unwrap() - logged).rem_euclid(1440);
    assert!((55..=65).contains(&behind), "{behind} min behind: {log}");
    // Every flow is answered by exactly one host, h3 taking its third.
    let t = lab.served(600);
    assert_eq!(t["failed"], 0, "{t}");
    assert!((share_of(&t, "3") - 1.0 / 3.0).abs() < 0.08, "{t}");
    for h in 1..=3 {
        let log = std::fs::read_to_string(format!("{}/h{h}-nlbd.log", lab.dir())).unwrap();
        assert!(!log.contains("not admitted"), "h{h}: {log}");
    }
}
