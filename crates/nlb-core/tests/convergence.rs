//! The convergence state machine, driven directly: frames delivered instantly to every
//! other node, time advanced in 1 ms ticks. These tests are about who is in the view:
//! convergence, failure detection and the lease, and which frames are believed
//! (authentication, replays, restarts, duplicate ids). Commands and handovers are in
//! `handover.rs`. (The seeded simulator in nlb-sim covers faulty networks and
//! invariants at scale.)

mod common;

use common::{at_ms, config, lone, Lab, KEY};
use nlb_core::convergence::{Command, CommandError, Event, Node, QueryState, Rejection, SlotState};
use nlb_core::host::HostId;
use nlb_core::mac::MacAddr;
use nlb_core::wire::WireState;
use std::time::Duration;

#[test]
fn hosts_converge_and_the_lowest_id_is_default() {
    let mut lab = Lab::new(&[config(3, ""), config(7, ""), config(9, "")]);
    lab.run_for(800);
    assert_eq!(lab.state(0), QueryState::ConvergedAsDefault);
    assert_eq!(lab.state(1), QueryState::Converged);
    let total: usize = (0..3).map(|i| lab.owned(i)).sum();
    assert_eq!(total, 251, "every slot owned exactly once");
    assert!((0..3).all(|i| (83..=84).contains(&lab.owned(i))));
    assert_eq!(
        lab.nodes[1].committed_members(),
        vec![HostId(3), HostId(7), HostId(9)]
    );
}

#[test]
fn a_crashed_host_is_taken_over_within_a_second() {
    let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
    lab.run_for(800);
    lab.cut[2] = true;
    let crashed_at = lab.now;
    let mut taken_over = None;
    for _ in 0..1500 {
        lab.run_for(1);
        if lab.owned(0) + lab.owned(1) == 251 && taken_over.is_none() {
            taken_over = Some(lab.now - crashed_at);
        }
    }
    let took = taken_over.expect("survivors own every slot");
    assert!(took <= Duration::from_millis(1000), "{took:?}");
    assert!(lab.events[0].iter().any(|e| matches!(
        e,
        Event::HostLost {
            host: HostId(3),
            ..
        }
    )));
}

#[test]
fn a_cut_off_host_stops_admitting_before_its_peers_take_over() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    assert!(lab.owned(1) > 0);
    lab.cut[1] = true;
    // Host 2 still believes it owns its slots, but its lease runs out first.
    let mut fenced_at = None;
    let mut taken_at = None;
    for _ in 0..1500 {
        lab.run_for(1);
        let slot = (0..251)
            .find(|&s| lab.nodes[1].slot_state(0, s) != SlotState::NotOwned)
            .unwrap_or(0);
        if fenced_at.is_none() && !lab.nodes[1].admits_new_flows(0, slot, lab.now) {
            fenced_at = Some(lab.now);
        }
        if taken_at.is_none() && lab.owned(0) == 251 {
            taken_at = Some(lab.now);
        }
    }
    let (fenced, taken) = (fenced_at.unwrap(), taken_at.unwrap());
    assert!(
        fenced < taken,
        "fenced at {fenced:?}, taken over at {taken:?}"
    );
}

#[test]
fn forged_and_replayed_frames_are_rejected_and_counted() {
    let mut a = lone(1, KEY);
    let mut b = lone(2, KEY);
    let mut outsider = lone(5, [7; 32]);
    let f = b.poll_transmit().unwrap();
    assert_eq!(a.handle_frame(at_ms(1), &f), Ok(()));
    assert_eq!(a.handle_frame(at_ms(2), &f), Err(Rejection::Replay));
    let forged = outsider.poll_transmit().unwrap();
    assert_eq!(
        a.handle_frame(at_ms(3), &forged),
        Err(Rejection::Authentication)
    );
    let mut flipped = f.clone();
    flipped[40] ^= 1;
    assert_eq!(
        a.handle_frame(at_ms(4), &flipped),
        Err(Rejection::Authentication)
    );
    assert!(matches!(
        a.handle_frame(at_ms(5), &f[..20]),
        Err(Rejection::Malformed(_))
    ));
    let c = a.counters();
    assert_eq!(
        (c.accepted, c.replays, c.auth_failures, c.malformed),
        (1, 1, 2, 1)
    );
    a.tick(at_ms(200));
    let mut events = Vec::new();
    while let Some(e) = a.poll_event() {
        events.push(e);
    }
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AuthenticationFailures { count: 2, .. })));
}

#[test]
fn a_host_with_other_rules_stands_aside_and_the_rest_carry_on() {
    let odd = config(3, "").cluster.rules.len(); // same count, different port below
    assert_eq!(odd, 1);
    let text = |id| config(id, "");
    let mut other = config(3, "");
    other.cluster.rules[0].port_end = 81;
    let mut lab = Lab::new(&[text(1), text(2), other]);
    lab.run_for(800);
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert_eq!(lab.owned(2), 0);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1), HostId(2)]);
    assert!(lab.events[2].iter().any(|e| matches!(
        e,
        Event::ConfigMismatch {
            we_stand_aside: true,
            ..
        }
    )));
    assert!(lab.events[0].iter().any(|e| matches!(
        e,
        Event::ConfigMismatch {
            host: HostId(3),
            we_stand_aside: false,
            ..
        }
    )));
}

#[test]
fn the_younger_of_two_hosts_with_one_id_refuses() {
    // Node 0 runs; a second host with its id starts two seconds later (with a lower
    // nonce: incarnations are not ordered by their nonces, only by their ages).
    let mut lab = Lab::new(&[config(4, ""), config(6, "")]);
    lab.run_for(2000);
    lab.add(config(4, ""), 1);
    lab.run_for(800);
    assert_eq!(lab.nodes[2].state(), WireState::Refused);
    assert_eq!(lab.nodes[0].state(), WireState::Started);
    assert!(lab.events[2].iter().any(|e| matches!(
        e,
        Event::DuplicateHostId {
            we_refuse: true,
            ..
        }
    )));
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert_eq!(lab.owned(2), 0);
    assert_eq!(
        lab.nodes[2].command(lab.now, Command::Start),
        Err(CommandError::Refused)
    );
}

#[test]
fn a_host_restarted_with_its_clock_stepped_back_rejoins() {
    // Host 2 restarts; its new incarnation's nonce is lower than the old one's, as a
    // wall-clock nonce would be after the clock stepped back an hour.
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    let old: Vec<Vec<u8>> = lab.capture(1, 300);
    lab.restart(1, 7);
    lab.run_for(800);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1), HostId(2)]);
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert!(lab.owned(1) > 0, "the restarted host owns its share");
    assert_eq!(lab.state(0), QueryState::ConvergedAsDefault);
    // Frames of the past incarnation, replayed now, change nothing.
    for f in &old {
        assert_eq!(
            lab.nodes[0].handle_frame(lab.now, f),
            Err(Rejection::StaleIncarnation)
        );
    }
    lab.run_for(800);
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert!(lab.owned(1) > 0);
}

#[test]
fn replays_of_a_dead_hosts_past_never_make_it_a_member() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    let old = lab.capture(1, 300);
    lab.cut[1] = true;
    lab.run_for(1000);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1)]);
    assert_eq!(lab.owned(0), 251);
    // Its frames, replayed in order and far later, are heard but never believed.
    for f in &old {
        let _ = lab.nodes[0].handle_frame(lab.now, f);
        lab.run_for(20);
    }
    lab.run_for(1000);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1)]);
    assert_eq!(lab.owned(0), 251);
}

#[test]
fn a_peer_heard_but_never_verified_is_reported() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    // Host 2 restarts behind a one-way link: it is heard, it hears nothing.
    lab.restart(1, 9);
    lab.cut[1] = true;
    for _ in 0..1000 {
        lab.now += Duration::from_millis(1);
        for n in &mut lab.nodes {
            n.tick(lab.now);
        }
        let frames: Vec<Vec<u8>> = std::iter::from_fn(|| lab.nodes[1].poll_transmit()).collect();
        for f in frames {
            assert_eq!(
                lab.nodes[0].handle_frame(lab.now, &f),
                Err(Rejection::StaleIncarnation)
            );
        }
        lab.pump();
    }
    lab.run_for(20);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1)]);
    assert!(
        lab.events[0].iter().any(|e| matches!(
            e,
            Event::PeerUnverified {
                host: HostId(2),
                ..
            }
        )),
        "{:?}",
        lab.events[0]
    );
}

#[test]
fn a_host_with_the_wrong_key_owns_nothing_and_the_cluster_carries_on() {
    let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
    lab.cut[2] = true;
    lab.run_for(1000);
    assert_eq!(lab.state(0), QueryState::ConvergedAsDefault);
    // Host 3 starts with another key: it hears only frames it cannot authenticate.
    lab.nodes[2] = Node::new(
        &config(3, ""),
        [7; 32],
        900,
        5000,
        MacAddr([2, 0, 0, 0, 0, 3]),
        lab.now,
    );
    lab.cut[2] = false;
    lab.run_for(3000);
    assert_eq!(lab.owned(2), 0, "the host with the wrong key took slots");
    assert!(lab.nodes[2].standing_aside());
    assert_eq!(lab.state(2), QueryState::Converging);
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1), HostId(2)]);
    assert!(lab.nodes[0].counters().auth_failures > 0);
    assert!(lab.nodes[2].counters().auth_failures > 0);

    // Alone and hearing no forgeries, a host starts on its own after listening.
    let mut alone = Lab::new(&[config(5, "")]);
    alone.run_for(1000);
    assert_eq!(alone.owned(0), 251);
}

#[test]
fn a_flood_of_forged_heartbeats_is_reported_once_a_second() {
    let mut a = lone(1, KEY);
    let mut outsider = lone(5, [7; 32]);
    let forged = outsider.poll_transmit().unwrap();
    // 3.5 s of forged frames, one a millisecond, the clock ticking as nlbd's loop does.
    let mut reports = Vec::new();
    for ms in 1..=3500u64 {
        let now = at_ms(ms);
        assert_eq!(a.handle_frame(now, &forged), Err(Rejection::Authentication));
        a.tick(now);
        while let Some(e) = a.poll_event() {
            if let Event::AuthenticationFailures { count, .. } = e {
                reports.push((ms, count));
            }
        }
    }
    let at: Vec<u64> = reports.iter().map(|r| r.0).collect();
    assert_eq!(at, [1, 1001, 2001, 3001], "{reports:?}");
    let counted: u64 = reports.iter().map(|r| r.1).sum();
    assert_eq!(counted + 499, 3500, "every frame is counted in some report");
}

/// Three converged hosts, and the slots host 3 (node 2) fully owns.
fn three_hosts_and_host_3s_slots() -> (Lab, Vec<u32>) {
    let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
    lab.run_for(800);
    let theirs: Vec<u32> = (0..251)
        .filter(|&s| lab.nodes[2].slot_state(0, s) == SlotState::Owned)
        .collect();
    (lab, theirs)
}

/// The states of `slots` on whichever of nodes 0 and 1 has them.
fn states_of(lab: &Lab, slots: &[u32]) -> Vec<SlotState> {
    slots
        .iter()
        .map(|&s| {
            let a = lab.nodes[0].slot_state(0, s);
            if a == SlotState::NotOwned {
                lab.nodes[1].slot_state(0, s)
            } else {
                a
            }
        })
        .collect()
}

#[test]
fn a_silent_hosts_slots_take_its_segments_only_once_it_is_known_dead() {
    let (mut lab, theirs) = three_hosts_and_host_3s_slots();
    assert!(!theirs.is_empty());
    lab.cut[2] = true;
    // Within a second the others take its slots for new flows; its connections'
    // segments they leave alone (new-flows-only), for it may only be cut off.
    lab.run_for(1500);
    assert!(states_of(&lab, &theirs)
        .iter()
        .all(|s| *s == SlotState::OwnedNewFlowsOnly));
    let dead_after = lab.nodes[0].dead_after();
    assert!(dead_after >= Duration::from_secs(5), "{dead_after:?}");
    lab.run_for(dead_after.as_millis() as u64 - 1500 - 200);
    assert!(states_of(&lab, &theirs)
        .iter()
        .all(|s| *s == SlotState::OwnedNewFlowsOnly));
    // Silent that long, it is known dead: its slots are fully the others'.
    lab.run_for(1000);
    assert!(states_of(&lab, &theirs)
        .iter()
        .all(|s| *s == SlotState::Owned));
    assert!(lab.events[0].contains(&Event::HostKnownDead { host: HostId(3) }));
}

#[test]
fn a_host_cut_off_for_seconds_finds_its_slots_never_fully_taken() {
    let (mut lab, theirs) = three_hosts_and_host_3s_slots();
    lab.cut[2] = true;
    for _ in 0..3000 {
        lab.run_for(1);
        assert!(
            !states_of(&lab, &theirs).contains(&SlotState::Owned),
            "a slot of the silent host fully taken at {:?}",
            lab.now
        );
    }
    // Back after 3 s: it rejoins and the cluster converges again, no one declared dead.
    lab.cut[2] = false;
    lab.run_for(2000);
    assert!(lab.owned(0) + lab.owned(1) + lab.owned(2) == 251);
    assert!(!lab.events[0]
        .iter()
        .any(|e| matches!(e, Event::HostKnownDead { .. })));
}

#[test]
fn a_short_blackout_of_every_host_fences_new_flows_only_briefly() {
    // Every host's link goes down for 300 ms at once (a migration's blackout), at each
    // of several phases of the heartbeat period. A lease may lapse during the blackout
    // (it runs 400 ms from the last frame acknowledged before it), when nothing arrives
    // anyway. Once the links are back, hosts whose lease lapsed probe at ten frames a
    // period and answer at once, so the leases renew within a few triggered frames
    // (tens of ms), not at the next periodic ones (up to two periods), and do not lapse
    // again.
    for phase in (0..100).step_by(7) {
        let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
        lab.run_for(800 + phase);
        let owned: Vec<u32> = (0..3)
            .map(|i| {
                (0..251)
                    .find(|&s| lab.nodes[i].slot_state(0, s) == SlotState::Owned)
                    .unwrap()
            })
            .collect();
        lab.cut = vec![true; 3];
        lab.run_for(300);
        lab.cut = vec![false; 3];
        lab.run_for(40);
        for _ in 0..1000 {
            lab.run_for(1);
            for (i, &slot) in owned.iter().enumerate() {
                assert!(
                    lab.nodes[i].admits_new_flows(0, slot, lab.now),
                    "phase {phase}: host {} fenced {:?}, 40 ms or more after the links came back",
                    i + 1,
                    lab.now
                );
            }
        }
        assert_eq!(lab.nodes[0].committed_members().len(), 3);
    }
}

#[test]
fn a_member_that_sees_few_vip_frames_is_reported_by_every_host() {
    let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
    lab.run_for(800);
    // Host 2's port gets every frame to the cluster MAC, the others hardly any.
    for (i, n) in [3, 150, 2].into_iter().enumerate() {
        lab.nodes[i].note_vip_frames(n);
    }
    lab.run_for(1000);
    assert!(
        lab.nodes[0].snapshot(lab.now).reception.is_none(),
        "reported before it held for 2 s"
    );
    lab.run_for(1500);
    for i in 0..3 {
        let r = lab.nodes[i].snapshot(lab.now).reception.expect("reported");
        assert_eq!(
            (r.starved, r.seeing, r.most),
            (vec![HostId(1), HostId(3)], vec![HostId(2)], 150)
        );
        assert!(lab.events[i]
            .iter()
            .any(|e| matches!(e, Event::VipFramesUneven(_))));
    }
    // Evenly spread again (or too little traffic to tell): the warning goes.
    for i in 0..3 {
        lab.nodes[i].note_vip_frames(140);
    }
    lab.run_for(2500);
    assert!(lab.nodes[0].snapshot(lab.now).reception.is_none());
    assert!(lab.events[0].contains(&Event::VipFramesEven));
}
