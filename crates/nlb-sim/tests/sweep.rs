//! Sweeps many seeds of every scenario; any failure prints the command that replays it.
//! `NLB_SIM_SEEDS` sets the seeds per scenario (default 1000).

use nlb_sim::{run, Scenario};

fn seeds() -> u64 {
    std::env::var("NLB_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// 2..=8 hosts, varying with the seed.
fn hosts_for(seed: u64) -> usize {
    2 + (seed % 7) as usize
}

fn sweep(scenario: Scenario) {
    sweep_seeds(scenario, seeds());
}

fn sweep_seeds(scenario: Scenario, seeds: u64) {
    let mut failures = Vec::new();
    let mut worst_convergence: f64 = 0.0;
    let mut worst_failover: f64 = 0.0;
    for seed in 0..seeds {
        let r = run(hosts_for(seed), seed, scenario);
        worst_convergence = worst_convergence.max(r.max_convergence_ms);
        worst_failover = worst_failover.max(r.failover_ms.unwrap_or(0.0));
        if !r.invariant_violations.is_empty() {
            failures.push(format!(
                "{}: {:?}",
                r.replay_command(),
                r.invariant_violations.first().unwrap()
            ));
        }
    }
    eprintln!(
        "{scenario}: {} seeds, {} failed; longest convergence {worst_convergence:.0} ms, longest failover {worst_failover:.0} ms",
        seeds,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        seeds,
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn churn() {
    sweep(Scenario::Churn);
}

#[test]
fn crash() {
    sweep(Scenario::Crash);
}

#[test]
fn partition() {
    sweep(Scenario::Partition);
}

#[test]
fn join() {
    sweep(Scenario::Join);
}

#[test]
fn drain() {
    sweep(Scenario::Drain);
}

#[test]
fn flaky() {
    sweep(Scenario::Flaky);
}

#[test]
fn attack() {
    sweep(Scenario::Attack);
}

#[test]
fn handoff() {
    sweep(Scenario::HandOff);
}

/// Three minutes each: a twentieth of the seeds.
#[test]
fn long_lived() {
    sweep_seeds(Scenario::LongLived, seeds().div_ceil(20));
}

#[test]
fn pause() {
    sweep(Scenario::Pause);
}

#[test]
fn clock_step() {
    sweep(Scenario::ClockStep);
}

/// Every scenario once at the largest supported size.
#[test]
fn sixty_four_hosts() {
    let mut failures = Vec::new();
    for scenario in Scenario::ALL {
        let r = run(64, 1, scenario);
        eprintln!(
            "{scenario} with 64 hosts: longest convergence {:.0} ms, failover {:?} ms",
            r.max_convergence_ms, r.failover_ms
        );
        if !r.invariant_violations.is_empty() {
            failures.push(format!(
                "{}: {:?}",
                r.replay_command(),
                r.invariant_violations.first().unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
