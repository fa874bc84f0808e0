//! Connections far older than every timer survive a join and a drainstop of their
//! host, with every timer at its default: the old owner of a moved slot serves the
//! connections it holds there for as long as they live. (A handover once ended on a
//! 60 s clock and reset every connection older than that.)

mod common;

use common::Lab;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Longer than the 60 s per-slot clock handovers used to end on.
const PAST_EVERY_OLD_TIMER: Duration = Duration::from_secs(75);

#[test]
fn thirty_connections_live_three_minutes_across_a_join_and_a_drainstop() {
    let lab = Lab::up("ll", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    lab.lab("kill", &["h3"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2]);
    let mut held = lab.hold(30);
    let on_h2 = held.hosts.iter().filter(|&&h| h == 2).count() as u64;
    assert!(on_h2 > 0, "h2 holds some: {:?}", held.hosts);

    // A join moves a third of every host's slots to h3; the 30 stay where they are.
    lab.lab("start", &["h3"]);
    lab.wait_state("h3", "Converged", &[1, 2, 3]);
    assert!(lab.share("h3") > 0.3);
    std::thread::sleep(PAST_EVERY_OLD_TIMER);
    assert_eq!(held.say("check"), "broken 0", "after the join");

    // h2 drains: its connections go on for as long as they live; it stops after.
    let mut wait = lab
        .nlb_on("h2", &["drainstop", "--wait"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_state("h2", "Draining", &[]);
    let started = Instant::now();
    for _ in 0..2 {
        std::thread::sleep(PAST_EVERY_OLD_TIMER / 2);
        assert_eq!(held.say("check"), "broken 0", "while h2 drains");
    }
    std::thread::sleep(Duration::from_secs(30));
    assert_eq!(held.say("check"), "broken 0", "while h2 drains");
    assert!(started.elapsed() > PAST_EVERY_OLD_TIMER + Duration::from_secs(20));
    let q = lab.query("h2");
    assert_eq!(q["state"], "Draining", "{q}");
    assert_eq!(q["connections_draining"], on_h2, "{q}");
    let per_rule: u64 = q["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["connections_draining"].as_u64().unwrap())
        .sum();
    assert_eq!(per_rule, on_h2, "{q}");
    assert!(
        wait.try_wait().unwrap().is_none(),
        "drainstop --wait returned early"
    );
    let t = lab.served(100);
    assert_eq!(t["failed"], 0, "{t}");
    assert!(t["served"].get("2").is_none(), "h2 took new flows: {t}");

    // The last connection closes: h2 stops.
    assert_eq!(held.say("close"), "closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while wait.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "drainstop --wait never returned");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lab.query("h2")["state"], "Stopped");
    let log = std::fs::read_to_string(format!("{}/h1-nlbd.log", lab.dir())).unwrap();
    assert!(
        !log.contains("host 2 lost: Silent"),
        "a drained host is not silent: {log}"
    );
}
