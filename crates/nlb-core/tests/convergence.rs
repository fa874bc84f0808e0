//! The convergence state machine, driven directly: frames delivered instantly to every
//! other node, time advanced in 1 ms ticks. (The seeded simulator in nlb-sim covers
//! faulty networks and invariants at scale.)

use nlb_core::config::Config;
use nlb_core::convergence::{Command, CommandError, Event, Node, QueryState, Rejection, SlotState};
use nlb_core::host::HostId;
use nlb_core::mac::MacAddr;
use nlb_core::time::Time;
use nlb_core::wire::WireState;
use std::path::Path;
use std::time::Duration;

const KEY: [u8; 32] = [42; 32];

fn config(id: u8, extra: &str) -> Config {
    let text = format!(
        r#"
[cluster]
name = "t"
vip = "198.51.100.10"
key_file = "k"
table_size = 251
{extra}
[[cluster.rule]]
name = "web"
ports = 80
protocol = "tcp"

[host]
id = {id}
interface = "eth0"
"#
    );
    Config::parse(Path::new("t.toml"), &text).unwrap()
}

/// The point `ms` milliseconds after the clock's origin.
fn at_ms(ms: u64) -> Time {
    Time::from_duration(Duration::from_millis(ms))
}

/// A node started at time zero with `key` (its MAC ends in its id).
fn lone(id: u8, key: [u8; 32]) -> Node {
    Node::new(
        &config(id, ""),
        key,
        1,
        0,
        MacAddr([2, 0, 0, 0, 0, id]),
        Time::ZERO,
    )
}

struct Lab {
    configs: Vec<Config>,
    nodes: Vec<Node>,
    now: Time,
    /// Nodes that neither send nor receive.
    cut: Vec<bool>,
    events: Vec<Vec<Event>>,
}

impl Lab {
    fn new(configs: &[Config]) -> Lab {
        let nodes: Vec<Node> = configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Node::new(
                    c,
                    KEY,
                    100 + i as u64,
                    1000 * i as u64,
                    MacAddr([2, 0, 0, 0, 0, i as u8]),
                    Time::ZERO,
                )
            })
            .collect();
        let n = nodes.len();
        Lab {
            configs: configs.to_vec(),
            nodes,
            now: Time::ZERO,
            cut: vec![false; n],
            events: vec![vec![]; n],
        }
    }

    fn pump(&mut self) {
        loop {
            let mut frames = Vec::new();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                while let Some(f) = n.poll_transmit() {
                    if !self.cut[i] {
                        frames.push((i, f));
                    }
                }
                while let Some(e) = n.poll_event() {
                    self.events[i].push(e);
                }
            }
            if frames.is_empty() {
                return;
            }
            for (from, f) in frames {
                for to in 0..self.nodes.len() {
                    if to != from && !self.cut[to] {
                        let _ = self.nodes[to].handle_frame(self.now, &f);
                    }
                }
            }
        }
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            self.pump();
        }
    }

    /// A node started now with `nonce`.
    fn add(&mut self, config: Config, nonce: u64) {
        let i = self.nodes.len();
        self.configs.push(config.clone());
        self.nodes.push(Node::new(
            &config,
            KEY,
            nonce,
            1000 * i as u64,
            MacAddr([2, 0, 0, 0, 0, i as u8]),
            self.now,
        ));
        self.cut.push(false);
        self.events.push(vec![]);
    }

    /// Node `i` restarts now as a new incarnation with `nonce`.
    fn restart(&mut self, i: usize, nonce: u64) {
        let config = self.configs[i].clone();
        self.nodes[i] = Node::new(
            &config,
            KEY,
            nonce,
            77_000 + i as u64,
            MacAddr([2, 0, 0, 0, 0, i as u8]),
            self.now,
        );
    }

    /// Runs for `ms` and returns the frames node `i` sent meanwhile.
    fn capture(&mut self, i: usize, ms: u64) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            let frames: Vec<Vec<u8>> =
                std::iter::from_fn(|| self.nodes[i].poll_transmit()).collect();
            for f in &frames {
                for to in 0..self.nodes.len() {
                    if to != i && !self.cut[to] {
                        let _ = self.nodes[to].handle_frame(self.now, f);
                    }
                }
            }
            got.extend(frames);
            self.pump();
        }
        got
    }

    /// Runs for `ms` in 10 ms steps (for minutes of simulated time).
    fn run_coarse(&mut self, ms: u64) {
        for _ in 0..ms / 10 {
            self.now += Duration::from_millis(10);
            for n in &mut self.nodes {
                n.tick(self.now);
            }
            self.pump();
        }
    }

    fn state(&self, i: usize) -> QueryState {
        self.nodes[i].snapshot(self.now).state
    }

    fn owned(&self, i: usize) -> usize {
        self.nodes[i]
            .slot_states(0)
            .iter()
            .filter(|s| s.admits_new_flows())
            .count()
    }
}

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
fn suspend_resume_start_stop() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    let now = lab.now;
    lab.nodes[1].command(now, Command::Suspend).unwrap();
    assert_eq!(
        lab.nodes[1].command(now, Command::Start),
        Err(CommandError::Suspended)
    );
    lab.run_for(50);
    assert_eq!(lab.state(1), QueryState::Suspended);
    assert_eq!(lab.owned(0), 251);
    lab.nodes[1].command(lab.now, Command::Resume).unwrap();
    assert_eq!(lab.state(1), QueryState::Stopped);
    lab.nodes[1].command(lab.now, Command::Start).unwrap();
    lab.run_for(100);
    assert!(
        lab.owned(1) > 0,
        "a started host rejoins an established cluster at once"
    );
    lab.nodes[0].command(lab.now, Command::Stop).unwrap();
    lab.run_for(50);
    assert_eq!(lab.owned(0), 0);
    // Alone, host 2 may hold everything only after listening a full loss window since
    // its start (it cannot yet know that nobody else is there).
    lab.run_for(500);
    assert_eq!(lab.owned(1), 251);
}

#[test]
fn drainstop_keeps_connections_however_long_they_live_then_stops() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    lab.nodes[1]
        .command(lab.now, Command::DrainStop { timeout: None })
        .unwrap();
    // At once: no new flows on the draining host.
    assert_eq!(lab.owned(1), 0);
    lab.run_for(50);
    assert_eq!(lab.state(1), QueryState::Draining);
    let released: Vec<(usize, u32)> = lab.nodes[1].released_slots().collect();
    assert!(released.len() > 10);
    // The data path reports a connection in one released slot and none in the others.
    let (r0, s0) = released[0];
    let now = lab.now;
    lab.nodes[1].report_held(now, r0, s0, 1);
    for &(r, s) in &released[1..] {
        lab.nodes[1].report_held(now, r, s, 0);
    }
    // Far longer than any timer of the configuration: ten minutes.
    lab.run_coarse(600_000);
    assert_eq!(lab.state(1), QueryState::Draining, "one connection left");
    assert_eq!(lab.nodes[1].slot_state(r0, s0), SlotState::ReleasedDraining);
    assert_eq!(lab.nodes[1].snapshot(lab.now).rules[r0].held, 1);
    // The new owner takes only new flows in that one slot while the old one still holds
    // a connection there, and everything in every other slot.
    assert_eq!(
        lab.nodes[0].slot_state(r0, s0),
        SlotState::OwnedNewFlowsOnly
    );
    let fully = released[1..]
        .iter()
        .filter(|&&(r, s)| lab.nodes[0].slot_state(r, s) == SlotState::Owned)
        .count();
    // The held-slot filter may claim a few other slots (false positives), never most.
    assert!(
        fully + 3 >= released.len() - 1,
        "{fully} of {}",
        released.len() - 1
    );
    let now = lab.now;
    lab.nodes[1].report_held(now, r0, s0, 0);
    lab.run_for(50);
    assert_eq!(lab.state(1), QueryState::Stopped);
    assert_eq!(lab.nodes[0].slot_state(r0, s0), SlotState::Owned);
    assert!(
        !lab.events[0].iter().chain(&lab.events[1]).any(|e| matches!(
            e,
            Event::HostLost {
                reason: nlb_core::convergence::LossReason::Silent,
                ..
            }
        )),
        "a host that drains says so; nobody went silent: {:?}",
        lab.events
    );
}

#[test]
fn a_drainstop_with_a_timeout_stops_when_it_passes() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    let timeout = Some(Duration::from_secs(30));
    lab.nodes[1]
        .command(lab.now, Command::DrainStop { timeout })
        .unwrap();
    lab.run_for(50);
    let (r0, s0) = lab.nodes[1].released_slots().next().unwrap();
    let now = lab.now;
    lab.nodes[1].report_held(now, r0, s0, 4);
    lab.run_coarse(29_000);
    assert_eq!(lab.state(1), QueryState::Draining);
    assert!(lab.nodes[1].snapshot(lab.now).drain_deadline_left.is_some());
    lab.run_coarse(1_100);
    assert_eq!(lab.state(1), QueryState::Stopped);
    assert!(lab.events[1]
        .iter()
        .any(|e| matches!(e, Event::DrainTimedOut { held } if *held >= 4)));
    assert_eq!(lab.owned(0), 251);
    assert_eq!(lab.nodes[0].slot_state(r0, s0), SlotState::Owned);
}

/// Two hosts; host 2 drops its weight to 1 and holds a connection in every slot it
/// released. Returns the lab and those slots.
fn host_2_holding_what_it_gave_away() -> (Lab, Vec<(usize, u32)>) {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    lab.nodes[1]
        .command(lab.now, Command::SetWeight { rule: 0, weight: 1 })
        .unwrap();
    lab.run_for(50);
    let held: Vec<(usize, u32)> = lab.nodes[1].released_slots().collect();
    let now = lab.now;
    lab.nodes[1].report_held_many(now, held.iter().map(|&k| (k, 1)));
    (lab, held)
}

#[test]
fn a_lost_holders_slots_are_fully_owned_at_once() {
    let (mut lab, held) = host_2_holding_what_it_gave_away();
    lab.run_coarse(120_000);
    assert!(held
        .iter()
        .all(|&(r, s)| lab.nodes[0].slot_state(r, s) == SlotState::OwnedNewFlowsOnly));
    // The holder crashes: its connections are gone, and so is the wait for them.
    lab.cut[1] = true;
    lab.run_for(600);
    assert!(held
        .iter()
        .all(|&(r, s)| lab.nodes[0].slot_state(r, s) == SlotState::Owned));
}

#[test]
fn weight_change_moves_slots_with_handover() {
    let mut lab = Lab::new(&[config(1, ""), config(2, "")]);
    lab.run_for(800);
    let before = lab.owned(1);
    lab.nodes[1]
        .command(
            lab.now,
            Command::SetWeight {
                rule: 0,
                weight: 10,
            },
        )
        .unwrap();
    lab.run_for(50);
    assert!(lab.owned(1) < before / 2, "{} of {before}", lab.owned(1));
    assert_eq!(lab.owned(0) + lab.owned(1), 251);
    assert!(
        lab.nodes[1].released_slots().count() > 0,
        "released slots drain first"
    );
    assert_eq!(
        lab.nodes[0].command(
            lab.now,
            Command::SetWeight {
                rule: 0,
                weight: 101
            }
        ),
        Err(CommandError::WeightOutOfRange(101))
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
fn a_host_handed_off_to_a_successor_carries_on_unnoticed() {
    let mut lab = Lab::new(&[config(1, ""), config(2, ""), config(3, "")]);
    lab.run_for(1500);
    assert_eq!(lab.state(1), QueryState::Converged);
    let digest = lab.nodes[0].committed_digest();
    let owned: Vec<usize> = (0..3).map(|i| lab.owned(i)).collect();
    for e in &mut lab.events {
        e.clear();
    }

    // Host 2 hands off; its successor starts 250 ms later (within the loss window).
    let state = serde_json::to_string(&lab.nodes[1].hand_off()).unwrap();
    lab.cut[1] = true;
    lab.run_for(250);
    let h = serde_json::from_str(&state).unwrap();
    lab.nodes[1] =
        Node::resume(&config(2, ""), KEY, h, MacAddr([2, 0, 0, 0, 0, 1]), lab.now).unwrap();
    lab.cut[1] = false;
    lab.run_for(2000);

    assert_eq!(lab.state(1), QueryState::Converged);
    for (i, &before) in owned.iter().enumerate() {
        assert_eq!(
            lab.nodes[i].committed_digest(),
            digest,
            "host index {i} changed view"
        );
        assert_eq!(lab.owned(i), before);
    }
    let changes: Vec<&Event> = lab
        .events
        .iter()
        .flatten()
        .filter(|e| !matches!(e, Event::AuthenticationFailures { .. }))
        .collect();
    assert!(changes.is_empty(), "the hand-off was noticed: {changes:?}");

    // A successor with another configuration is refused.
    let h = serde_json::from_str(&state).unwrap();
    let other = config(2, "heartbeat_period_ms = 200");
    assert!(Node::resume(&other, KEY, h, MacAddr([2, 0, 0, 0, 0, 1]), lab.now).is_err());
}

#[test]
fn a_holder_back_in_the_view_gets_its_slots_back_at_once() {
    let (mut lab, held) = host_2_holding_what_it_gave_away();
    lab.run_for(50);
    // Host 2 goes unheard past the loss window: host 1 takes its slots fully.
    lab.cut[1] = true;
    lab.run_for(700);
    assert!(held
        .iter()
        .all(|&(r, s)| lab.nodes[0].slot_state(r, s) == SlotState::Owned));
    // It is heard again, still holding its connections: from the moment host 1
    // counts it a member again, it takes none of those segments.
    lab.cut[1] = false;
    for _ in 0..800 {
        lab.run_for(1);
        if lab.nodes[0].committed_members().contains(&HostId(2)) {
            for &(r, s) in &held {
                assert_ne!(lab.nodes[0].slot_state(r, s), SlotState::Owned, "{r}/{s}");
            }
        }
    }
    assert_eq!(lab.nodes[0].committed_members(), vec![HostId(1), HostId(2)]);
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
