//! `nlb plan`: each host's share of every rule, and what moves when hosts leave.

use crate::output::{print_json, CliError};
use anyhow::anyhow;
use nlb_core::classify::{LiveHost, Ownership, RuleOwnership};
use nlb_core::config::{check_cluster, ClusterProblem, Config, ConfigErrors};
use nlb_core::host::HostId;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Serialize)]
struct Share {
    host: u8,
    weight: u8,
    slots: u32,
    share: f64,
}

#[derive(Serialize)]
struct RulePlan {
    name: String,
    rule: String,
    filtering: &'static str,
    /// Multiple-host rules: each live host's slots.
    shares: Vec<Share>,
    /// Single-host rules: the owner after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<u8>,
    /// Largest ratio of a host's slots to its weighted fair share (1.0 is perfect).
    max_over_mean: f64,
    /// Fraction of slots whose owner changes when the --without hosts leave.
    moved_fraction: f64,
    /// The least that must move: the share the leaving hosts owned.
    minimum_moved_fraction: f64,
}

#[derive(Serialize)]
struct Plan {
    cluster: String,
    digest: String,
    table_size: u32,
    hosts: Vec<u8>,
    without: Vec<u8>,
    default_host: Option<u8>,
    rules: Vec<RulePlan>,
}

/// The hosts' configuration files, read whole (every file's errors at once) and refused
/// unless they form one cluster (a duplicate handling priority aside: `nlb plan` shows
/// it). Shared by `nlb plan` and `nlb switch-config`.
pub fn one_cluster(files: &[PathBuf]) -> Result<Vec<Config>, CliError> {
    let mut configs = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match Config::load(f) {
            Ok(c) => configs.push(c),
            Err(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors).into());
    }
    if let Some(p) = check_cluster(&configs)
        .iter()
        .find(|p| !matches!(p, ClusterProblem::DuplicatePriority { .. }))
    {
        return Err(anyhow!("these files do not form one cluster: {p}").into());
    }
    Ok(configs)
}

pub fn run(files: &[PathBuf], without: &[u8], json: bool) -> Result<ExitCode, CliError> {
    let configs = one_cluster(files)?;
    let cluster = &configs[0].cluster;
    for w in without {
        if !configs.iter().any(|c| c.host.id.get() == *w) {
            let ids: Vec<String> = configs.iter().map(|c| c.host.id.to_string()).collect();
            return Err(anyhow!(
                "--without {w}: no such host; the hosts are {}",
                ids.join(", ")
            )
            .into());
        }
    }
    let all: Vec<LiveHost> = configs
        .iter()
        .map(|c| LiveHost::from_settings(c.host.id, &c.host.rules))
        .collect();
    let remaining: Vec<LiveHost> = all
        .iter()
        .filter(|h| !without.contains(&h.id.get()))
        .cloned()
        .collect();
    let before = Ownership::build(cluster, &all);
    let after = Ownership::build(cluster, &remaining);

    let mut rules = Vec::new();
    for (i, rule) in cluster.rules.iter().enumerate() {
        let mut plan = RulePlan {
            name: rule.name.clone(),
            rule: rule.to_string(),
            filtering: rule.filtering.as_str(),
            shares: vec![],
            owner: None,
            max_over_mean: 1.0,
            moved_fraction: 0.0,
            minimum_moved_fraction: 0.0,
        };
        match (&before.rules[i], &after.rules[i]) {
            (RuleOwnership::Multiple(tb), RuleOwnership::Multiple(ta)) => {
                let counts = ta.counts();
                let size = ta.size() as f64;
                let total_w: f64 = remaining.iter().map(|h| h.rules[i].weight as f64).sum();
                let mut worst: f64 = 0.0;
                for h in &remaining {
                    let w = h.rules[i].weight;
                    let slots = counts[h.id.get() as usize];
                    if w > 0 {
                        let fair = size * w as f64 / total_w;
                        worst = worst.max(slots as f64 / fair);
                    }
                    plan.shares.push(Share {
                        host: h.id.get(),
                        weight: w,
                        slots,
                        share: slots as f64 / size,
                    });
                }
                plan.max_over_mean = if total_w > 0.0 { worst } else { 0.0 };
                plan.moved_fraction = tb.moved_fraction(ta);
                let bc = tb.counts();
                plan.minimum_moved_fraction =
                    without.iter().map(|&w| bc[w as usize] as f64).sum::<f64>() / size;
            }
            (RuleOwnership::Single(b), RuleOwnership::Single(a)) => {
                plan.owner = a.map(HostId::get);
                let moved = b != a;
                plan.moved_fraction = if moved { 1.0 } else { 0.0 };
                plan.minimum_moved_fraction = plan.moved_fraction;
            }
            _ => {}
        }
        rules.push(plan);
    }
    let plan = Plan {
        cluster: cluster.name.clone(),
        digest: cluster.digest().to_string(),
        table_size: cluster.table_size,
        hosts: remaining.iter().map(|h| h.id.get()).collect(),
        without: without.to_vec(),
        default_host: after.default_host.map(HostId::get),
        rules,
    };
    if json {
        print_json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    print_text(&plan);
    Ok(ExitCode::SUCCESS)
}

fn print_text(plan: &Plan) {
    let hosts: Vec<String> = plan.hosts.iter().map(|h| h.to_string()).collect();
    println!(
        "cluster `{}` (digest {}), {} slots per table",
        plan.cluster, plan.digest, plan.table_size
    );
    print!("live hosts: {}", hosts.join(", "));
    if !plan.without.is_empty() {
        let w: Vec<String> = plan.without.iter().map(|h| h.to_string()).collect();
        print!(" (without {})", w.join(", "));
    }
    println!();
    match plan.default_host {
        Some(h) => println!("default host: {h}"),
        None => println!("default host: none (no live host)"),
    }
    for r in &plan.rules {
        println!();
        println!("rule {}", r.rule);
        match r.filtering {
            "multiple" => {
                println!(
                    "  {:>4}  {:>6}  {:>8}  {:>7}",
                    "host", "weight", "slots", "share"
                );
                for s in &r.shares {
                    println!(
                        "  {:>4}  {:>6}  {:>8}  {:>6.2}%",
                        s.host,
                        s.weight,
                        s.slots,
                        s.share * 100.0
                    );
                }
                println!("  max/mean {:.4}", r.max_over_mean);
            }
            "single" => match r.owner {
                Some(o) => println!("  handled by host {o}"),
                None => println!("  no live host"),
            },
            _ => println!("  disabled: dropped by every host"),
        }
        if !plan.without.is_empty() {
            println!(
                "  moved {:.2}% of flows (minimum {:.2}%)",
                r.moved_fraction * 100.0,
                r.minimum_moved_fraction * 100.0
            );
        }
    }
}
