//! The invariant checks catch what they guard: a fault planted in every host makes them
//! fire, and the same seeds without it run clean. A checker that never fires would pass
//! every sweep, so each is shown failing here.

use nlb_sim::{run_with_fault, Fault, Report, Scenario};

const SEEDS: u64 = 20;

fn runs(scenario: Scenario, fault: Option<Fault>) -> Vec<Report> {
    (0..SEEDS)
        .map(|seed| run_with_fault(2 + (seed % 5) as usize, seed, scenario, fault))
        .collect()
}

fn firing(reports: &[Report], invariant: &str) -> usize {
    reports
        .iter()
        .filter(|r| {
            r.invariant_violations
                .iter()
                .any(|(_, what)| what.starts_with(invariant))
        })
        .count()
}

#[test]
fn i1_catches_a_data_path_that_ignores_its_lease() {
    // A frozen daemon's data path runs on; its lease is what stops it before the peers
    // take its slots over.
    assert_eq!(firing(&runs(Scenario::Pause, None), "I"), 0);
    let faulty = runs(Scenario::Pause, Some(Fault::IgnoreLease));
    assert!(
        firing(&faulty, "I1") >= SEEDS as usize / 2,
        "I1 fired in {} of {SEEDS} runs",
        firing(&faulty, "I1")
    );
}

#[test]
fn i3_catches_a_handover_that_forgets_held_connections() {
    for scenario in [Scenario::Join, Scenario::Drain] {
        assert_eq!(firing(&runs(scenario, None), "I"), 0, "{scenario}");
        let faulty = runs(scenario, Some(Fault::ForgetHeld));
        assert!(
            firing(&faulty, "I3") >= SEEDS as usize / 4,
            "{scenario}: I3 fired in {} of {SEEDS} runs",
            firing(&faulty, "I3")
        );
        assert!(faulty.iter().map(|r| r.broken_connections).sum::<u64>() > 0);
    }
}

#[test]
fn i4_catches_a_host_that_accepts_replays() {
    let clean = runs(Scenario::Attack, None);
    assert_eq!(firing(&clean, "I"), 0);
    let faulty = runs(Scenario::Attack, Some(Fault::AcceptReplays));
    assert!(
        firing(&faulty, "I4") >= SEEDS as usize / 2,
        "I4 fired in {} of {SEEDS} runs",
        firing(&faulty, "I4")
    );
}
