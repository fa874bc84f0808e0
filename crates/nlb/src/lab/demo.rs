//! `nlb lab demo`: the whole system in under a minute, narrated. Up, query, traffic
//! (to the IPv4 and the IPv6 VIP), a host killed while a client keeps connecting (the failover gap measured), the host
//! back, traffic again, down.

use super::failover::{measure, DEFAULT_INTERVAL};
use super::{print_tally, Failure, Lab, PORT, VIP, VIP6};
use anyhow::Context;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

fn step(s: &str) {
    println!("\n==> {s}");
}

/// Shows `nlb query` as run on host h1.
fn query_on_h1(lab: &Lab, exe: &std::path::Path) -> anyhow::Result<()> {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns("h1")])
        .arg(exe)
        .arg("query")
        .status()
        .map(drop)
        .context("running nlb query on h1")
}

/// Runs the demo.
pub fn run(hosts: u8, mode: &str, name: &str) -> anyhow::Result<ExitCode> {
    let begin = Instant::now();
    let exe = std::env::current_exe().context("finding nlb's own executable")?;
    step(&format!(
        "nlb lab up --hosts {hosts} --mode {mode}: a switch, {hosts} hosts running nlbd, a client"
    ));
    let lab = super::up(name, hosts, mode, None, false, false)?;
    let result = (|| -> anyhow::Result<()> {
        step("nlb query, on host h1 (what nlb.exe query shows)");
        query_on_h1(&lab, &exe)?;

        step(&format!("300 connections from the client to {VIP}:{PORT}"));
        print_tally(&lab.traffic(300)?);
        step(&format!(
            "300 connections to the IPv6 VIP [{VIP6}]:{PORT}, served beside the IPv4 one"
        ));
        print_tally(&lab.traffic_to(VIP6.into(), 300)?);

        let victim = hosts.min(2);
        step(&format!(
            "kill -9 of h{victim}'s nlbd while the client starts a connection every 2 ms"
        ));
        let f = measure(
            &lab,
            std::net::IpAddr::V4(VIP),
            victim,
            Failure::Crash,
            DEFAULT_INTERVAL,
        )?;
        println!(
            "{} connections after the kill, {} failed; new connections all succeed again \
             {:.0} ms after the kill (Windows NLB: ~8 s)",
            f.attempts_after, f.failed_after, f.recovery_ms
        );
        if let Some(last) = f.last_victim_answer_ms {
            println!("h{victim} answered its last connection {last:.0} ms after the kill");
        }
        let running: Vec<u8> = (1..=hosts).filter(|&h| h != victim).collect();
        if !running.is_empty() {
            lab.wait_converged(&running, Duration::from_secs(10))?;
        }
        step("nlb query on h1 after the failover");
        query_on_h1(&lab, &exe)?;

        step(&format!("h{victim} starts again and rejoins"));
        lab.start_host(victim)?;
        let all: Vec<u8> = (1..=hosts).collect();
        let took = lab.wait_converged(&all, Duration::from_secs(10))?;
        println!("converged with h{victim} in {} ms", took.as_millis());

        step("300 connections again");
        print_tally(&lab.traffic(300)?);
        Ok(())
    })();
    step("nlb lab down");
    super::down(name, false)?;
    result?;
    println!(
        "\ndemo done in {:.1} s; nothing left behind",
        begin.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
