//! `nlb simulate`: one deterministic simulation of a whole cluster.

use crate::output::print_json;
use anyhow::bail;
use nlb_sim::{run, Scenario};
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Violation {
    at_ms: u64,
    what: String,
}

#[derive(Serialize)]
struct Summary {
    seed: u64,
    hosts: usize,
    scenario: String,
    invariant_violations: Vec<Violation>,
    broken_connections: u64,
    max_convergence_ms: f64,
    failover_ms: Option<f64>,
    convergences_ms: Vec<f64>,
    connections: u64,
    completed: u64,
    refused_new_flows: u64,
    duplicate_answers: u64,
    excused_resets: u64,
    lost_with_host: u64,
    frames_sent: u64,
    frames_delivered: u64,
    attacker_frames: u64,
    simulated_ms: u64,
    events: u64,
    replay: String,
}

pub fn run_cmd(hosts: usize, seed: u64, scenario: &str, json: bool) -> anyhow::Result<ExitCode> {
    let scenario: Scenario = scenario.parse().map_err(anyhow::Error::msg)?;
    if !(1..=64).contains(&hosts) {
        bail!("--hosts {hosts}: expected 1..=64");
    }
    let r = run(hosts, seed, scenario);
    let s = Summary {
        seed: r.seed,
        hosts: r.hosts,
        scenario: r.scenario.to_string(),
        invariant_violations: r
            .invariant_violations
            .iter()
            .map(|(t, w)| Violation {
                at_ms: *t,
                what: w.clone(),
            })
            .collect(),
        broken_connections: r.broken_connections,
        max_convergence_ms: r.max_convergence_ms,
        failover_ms: r.failover_ms,
        convergences_ms: r.convergences_ms.clone(),
        connections: r.connections,
        completed: r.completed,
        refused_new_flows: r.refused_new_flows,
        duplicate_answers: r.duplicate_answers,
        excused_resets: r.excused_resets,
        lost_with_host: r.lost_with_host,
        frames_sent: r.frames_sent,
        frames_delivered: r.frames_delivered,
        attacker_frames: r.attacker_frames,
        simulated_ms: r.end_ms,
        events: r.events,
        replay: r.replay_command(),
    };
    let failed = !s.invariant_violations.is_empty();
    if json {
        print_json(&s);
    } else {
        println!(
            "scenario {} with {} hosts, seed {}: {} ms simulated, {} events",
            s.scenario, s.hosts, s.seed, s.simulated_ms, s.events
        );
        println!(
            "connections: {} opened, {} completed, {} refused during convergence, {} lost with their host, {} reset after a loss, {} broken",
            s.connections, s.completed, s.refused_new_flows, s.lost_with_host, s.excused_resets, s.broken_connections
        );
        print!(
            "convergence: {} changes, longest {:.1} ms",
            s.convergences_ms.len(),
            s.max_convergence_ms
        );
        if let Some(f) = s.failover_ms {
            print!("; failover after the crash {f:.1} ms");
        }
        println!();
        println!(
            "heartbeats: {} sent, {} delivered; attacker frames: {}",
            s.frames_sent, s.frames_delivered, s.attacker_frames
        );
        if failed {
            for v in &s.invariant_violations {
                println!("VIOLATION at {} ms: {}", v.at_ms, v.what);
            }
        } else {
            println!("invariants I1-I4 held");
        }
    }
    if failed {
        eprintln!("error: invariants violated; replay with: {}", s.replay);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
