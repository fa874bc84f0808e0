//! nlbd's Prometheus endpoint on a lab cluster (every lab host serves one on
//! 127.0.0.1:9810 of its namespace): `promtool check metrics` passes, the counters match
//! `nlb query`, and it answers every scrape during a failover.

mod common;

use common::{text, Lab};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One scrape of `host`'s endpoint (None when it does not answer within a second).
fn scrape(lab: &Lab, host: &str) -> Option<String> {
    let script = "import urllib.request\n\
                  print(urllib.request.urlopen('http://127.0.0.1:9810/metrics', timeout=1).read().decode(), end='')\n";
    let out = lab.python(host, script).output().unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of the sample `name{...labels}` whose label set contains `with`.
fn value(page: &str, name: &str, with: &str) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(with))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_metrics_page_is_valid_matches_nlb_query_and_answers_during_a_failover() {
    let lab = Lab::up("pm", "igmp-multicast", 3);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
    let t = lab.served(300);
    assert_eq!(t["failed"], 0, "{t}");
    // A quiet second: the page is published once a second.
    std::thread::sleep(Duration::from_millis(1500));
    let page = scrape(&lab, "h1").expect("the endpoint answers");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, from scripts/setup.sh)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {}\n{page}", text(&out));

    let q = lab.query("h1");
    assert_eq!(value(&page, "nlb_members", ""), Some(3.0), "{page}");
    assert_eq!(
        value(&page, "nlb_host_state", "state=\"converged_as_default\""),
        Some(1.0),
        "{page}"
    );
    for verdict in ["admit_new", "drop_not_owned", "arp_replied"] {
        let from_query = q["dataplane"]["packets"][verdict].as_u64().unwrap() as f64;
        let from_page = value(
            &page,
            "nlb_dataplane_packets_total",
            &format!("verdict=\"{verdict}\""),
        );
        assert_eq!(from_page, Some(from_query), "{verdict}: {page}");
    }
    assert!(
        value(
            &page,
            "nlb_dataplane_packets_total",
            "verdict=\"admit_new\""
        )
        .unwrap()
            > 0.0
    );
    let share = value(&page, "nlb_rule_share_ratio", "rule=\"web\"").unwrap();
    assert!((share - 1.0 / 3.0).abs() < 0.01, "{share}");
    let count = |page: &str| value(page, "nlb_convergence_duration_seconds_count", "").unwrap();
    let before = count(&page);
    assert_eq!(
        before,
        q["convergences"]["count"].as_f64().unwrap(),
        "{page}"
    );
    assert!(before >= 1.0, "{page}");

    // h1's endpoint answers every scrape while h2 fails and the others take over.
    let mut failover = Command::new(common::NLB)
        .args([
            "lab", "failover", "h2", "--how", "nlbd", "--name", &lab.name,
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut scrapes = 0;
    while failover.try_wait().unwrap().is_none() {
        assert!(
            scrape(&lab, "h1").is_some(),
            "a scrape failed during the failover"
        );
        scrapes += 1;
    }
    assert!(failover.wait().unwrap().success());
    assert!(scrapes >= 5, "{scrapes} scrapes");
    std::thread::sleep(Duration::from_millis(1500));
    let page = scrape(&lab, "h1").unwrap();
    assert_eq!(value(&page, "nlb_members", ""), Some(2.0), "{page}");
    // The failover was one more convergence: detection to commit, well within 1 s.
    assert!(count(&page) > before, "{page}");
    let last = lab.query("h1")["convergences"]["last_seconds"]
        .as_f64()
        .unwrap();
    assert!(last < 1.0, "{last}");
}
