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
    migrate(&lab, &["--rarp", "--out-of-phase-ms", "150"]);
    lab.wait_state("h1", "Converged as DEFAULT", &[1, 2, 3]);
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
