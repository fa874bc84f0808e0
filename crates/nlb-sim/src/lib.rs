//! # nlb-sim
//!
//! Deterministic simulation of whole nlb clusters: up to 64 hosts running the real
//! convergence state machine, each on its own clock (its own origin, a drift of up to
//! 100 ppm, a wall clock that can be stepped), a seeded network that loses, delays,
//! duplicates and reorders frames and partitions hosts, an attacker that forges and
//! replays frames, frozen processes, and modelled client connections (some living
//! minutes, idle for up to 90 s) with each host's connection table. Invariants are
//! checked continuously:
//!
//! - **I1** at most one host admits new flows in any slot at any instant;
//! - **I2** after the network is stable for the convergence bound, every slot has
//!   exactly one owner among live started hosts (the one they should agree on);
//! - **I3** no established connection of a live host is reset by another host, unless
//!   the network kept them apart as long as it takes to know a silent host dead (joins,
//!   drainstops, weight changes, partitions and pauses of a few seconds break nothing);
//! - **I4** forged frames are all rejected, and replayed ones change nothing: the run's
//!   ownership trace equals the same seed's run in which the attacker only forges.
//!   (A forgery's one effect, by design: a host not yet in any view that hears frames
//!   it cannot authenticate and no authentic peer does not start alone, for it cannot
//!   tell a forger from hosts with another key.)
//!
//! Every run is a pure function of (hosts, seed, scenario): any failure replays exactly.

mod rng;
mod scenario;
mod world;

pub use rng::Rng;
pub use scenario::Scenario;
pub use world::{sim_config, Fault, SIM_TABLE_SIZE};

use std::time::Duration;

/// The outcome of one simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Number of hosts.
    pub hosts: usize,
    /// The scenario.
    pub scenario: Scenario,
    /// Every invariant violation, with the simulated time in ms.
    pub invariant_violations: Vec<(u64, String)>,
    /// Connections of a live host reset by another (I3).
    pub broken_connections: u64,
    /// Connections reset after their holder was lost to a partition or crash.
    pub excused_resets: u64,
    /// Connections that died with their host (crash, stop, disable).
    pub lost_with_host: u64,
    /// Connections attempted.
    pub connections: u64,
    /// Connections that completed.
    pub completed: u64,
    /// Connection attempts no host admitted (during convergence).
    pub refused_new_flows: u64,
    /// Connection attempts answered by two hosts.
    pub duplicate_answers: u64,
    /// Time from each fault to full agreement, in ms.
    pub convergences_ms: Vec<f64>,
    /// The longest of those.
    pub max_convergence_ms: f64,
    /// Crash to survivors owning every slot, in ms (crash scenarios).
    pub failover_ms: Option<f64>,
    /// Heartbeats sent.
    pub frames_sent: u64,
    /// Heartbeats delivered.
    pub frames_delivered: u64,
    /// Forged and replayed frames delivered.
    pub attacker_frames: u64,
    /// Replayed genuine frames recorded by a host that had heard nothing newer from
    /// their sender (changing nothing, as the trace comparison checks).
    pub replays_recorded: u64,
    /// Hosts that reached the stopped state (ids).
    pub hosts_stopped: Vec<u8>,
    /// Events processed.
    pub events: u64,
    /// Simulated time.
    pub end_ms: u64,
}

impl Report {
    fn new(seed: u64, hosts: usize, scenario: Scenario) -> Self {
        Report {
            seed,
            hosts,
            scenario,
            invariant_violations: vec![],
            broken_connections: 0,
            excused_resets: 0,
            lost_with_host: 0,
            connections: 0,
            completed: 0,
            refused_new_flows: 0,
            duplicate_answers: 0,
            convergences_ms: vec![],
            max_convergence_ms: 0.0,
            failover_ms: None,
            frames_sent: 0,
            frames_delivered: 0,
            attacker_frames: 0,
            replays_recorded: 0,
            hosts_stopped: vec![],
            events: 0,
            end_ms: 0,
        }
    }

    fn violation(&mut self, at: Duration, what: String) {
        // Keep the first few of each kind: one root cause tends to repeat, and one
        // invariant's flood must not hide another's.
        let kind = what.split(':').next().unwrap_or_default().to_string();
        let same = self
            .invariant_violations
            .iter()
            .filter(|(_, w)| w.split(':').next() == Some(kind.as_str()))
            .count();
        if same < 5 {
            self.invariant_violations
                .push((at.as_millis() as u64, what));
        }
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        format!(
            "nlb simulate --hosts {} --seed {} --scenario {}",
            self.hosts, self.seed, self.scenario
        )
    }
}

/// Runs one simulation. For the attack scenario, also runs the same seed with an
/// attacker that only forges, and reports any difference in the ownership trace as an
/// I4 violation.
pub fn run(hosts: usize, seed: u64, scenario: Scenario) -> Report {
    run_with_fault(hosts, seed, scenario, None)
}

/// [`run`] with a fault planted in every host: the invariant checks must report it.
pub fn run_with_fault(hosts: usize, seed: u64, scenario: Scenario, fault: Option<Fault>) -> Report {
    assert!((1..=64).contains(&hosts), "1..=64 hosts");
    let attack = scenario == Scenario::Attack;
    let with = world::World::new(hosts, seed, scenario, attack, attack, fault).run();
    let mut report = with.report.clone();
    if scenario == Scenario::Attack {
        let without = world::World::new(hosts, seed, scenario, true, false, fault).run();
        if let Some(i) = with
            .trace
            .iter()
            .zip(&without.trace)
            .position(|(a, b)| a != b)
        {
            let (t, h, ..) = with.trace[i];
            report.violation(
                t,
                format!(
                    "I4: replayed frames changed host index {h}'s ownership at {} ms",
                    t.as_millis()
                ),
            );
        } else if with.trace.len() != without.trace.len() {
            report.violation(
                Duration::ZERO,
                "I4: replayed frames changed the ownership trace's length".into(),
            );
        }
    }
    report
}
