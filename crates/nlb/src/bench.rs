//! `nlb bench xdp`: the data path under BPF_PROG_RUN beside an XDP_PASS-only program.

use crate::output::print_json;
use anyhow::anyhow;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Row {
    case: String,
    action: &'static str,
    median_ns: f64,
    ratio_to_xdp_pass: f64,
}

pub fn run(repeat: u32, rounds: usize, json: bool) -> anyhow::Result<ExitCode> {
    let results = nlb_dataplane::bench::run(repeat, rounds)
        .map_err(|e| anyhow!("{e} (the benchmark needs root)"))?;
    let rows: Vec<Row> = results
        .iter()
        .map(|r| Row {
            case: r.name.to_string(),
            action: match r.action {
                1 => "drop",
                2 => "pass",
                3 => "tx",
                _ => "other",
            },
            median_ns: r.median_ns,
            ratio_to_xdp_pass: r.ratio,
        })
        .collect();
    if json {
        print_json(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "BPF_PROG_RUN, {repeat} repetitions x {rounds} rounds: median of the mean per run (the thread's CPU time over each call),"
    );
    println!("and median of each round's ratio to the XDP_PASS run just before it");
    println!(
        "{:<60} {:>6} {:>10} {:>10}",
        "case", "action", "ns/packet", "x XDP_PASS"
    );
    for r in &rows {
        println!(
            "{:<60} {:>6} {:>10.1} {:>10.2}",
            r.case, r.action, r.median_ns, r.ratio_to_xdp_pass
        );
    }
    Ok(ExitCode::SUCCESS)
}
