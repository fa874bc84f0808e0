//! `nlb lab demo`: the whole system in under a minute, narrated. Up, query, traffic,
//! a host killed while a client keeps connecting (the failover gap measured), the host
//! back, traffic again, down.

use super::service::{ask, Attempt};
use super::{netns, print_tally, Lab, PORT, VIP};
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

fn step(s: &str) {
    println!("\n==> {s}");
}

/// Connections every `interval` for `span`, from the client namespace, while `during`
/// runs at `at` after the start; returns the attempts and when `during` ran.
pub fn connect_while(
    lab: &Lab,
    span: Duration,
    at: Duration,
    during: impl FnOnce() -> Result<(), String>,
) -> Result<(Vec<Attempt>, f64), String> {
    let addr = SocketAddr::new(IpAddr::V4(VIP), PORT);
    let start = Instant::now();
    let client = {
        let ns = lab.ns("c");
        std::thread::spawn(move || {
            netns::run_in(&ns, move || {
                let mut out = Vec::new();
                while start.elapsed() < span {
                    let at_ms = start.elapsed().as_secs_f64() * 1e3;
                    out.push(Attempt {
                        at_ms,
                        host: ask(addr, Duration::from_millis(100)),
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
                out
            })
        })
    };
    std::thread::sleep(at.saturating_sub(start.elapsed()));
    let event_ms = start.elapsed().as_secs_f64() * 1e3;
    during()?;
    let attempts = client
        .join()
        .map_err(|_| "the client thread panicked".to_string())??;
    Ok((attempts, event_ms))
}

/// From `event_ms` on, how long until new connections all succeed again: the end of
/// the last failed attempt after it (0 when none failed).
pub fn recovery_ms(attempts: &[Attempt], event_ms: f64) -> f64 {
    attempts
        .iter()
        .filter(|a| a.at_ms >= event_ms && a.host.is_none())
        .map(|a| a.at_ms + 100.0 - event_ms)
        .fold(0.0, f64::max)
}

/// Runs the demo.
pub fn run(hosts: u8, mode: &str, name: &str) -> Result<ExitCode, String> {
    let begin = Instant::now();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    step(&format!(
        "nlb lab up --hosts {hosts} --mode {mode}: a switch, {hosts} hosts running nlbd, a client"
    ));
    let lab = super::up(name, hosts, mode, false)?;
    let result = (|| -> Result<(), String> {
        step("nlb query, on host h1 (what nlb.exe query shows)");
        Command::new("ip")
            .args(["netns", "exec", &lab.ns("h1")])
            .arg(&exe)
            .arg("query")
            .status()
            .map_err(|e| e.to_string())?;

        step(&format!("300 connections from the client to {VIP}:{PORT}"));
        print_tally(&lab.traffic(300)?);

        let victim = hosts.min(2);
        step(&format!(
            "kill -9 of h{victim}'s nlbd while the client keeps connecting (every ~5 ms)"
        ));
        let (attempts, killed_at) = connect_while(
            &lab,
            Duration::from_millis(3000),
            Duration::from_millis(800),
            || lab.kill_host(victim),
        )?;
        let after: Vec<&Attempt> = attempts.iter().filter(|a| a.at_ms > killed_at).collect();
        let failed = after.iter().filter(|a| a.host.is_none()).count();
        println!(
            "{} connections after the kill, {failed} failed; new connections all succeed again \
             {:.0} ms after the kill (Windows NLB: ~8 s); h{victim} answered none after it",
            after.len(),
            recovery_ms(&attempts, killed_at)
        );
        if let Some(a) = after
            .iter()
            .find(|a| a.host == Some(victim) && a.at_ms > killed_at + 100.0)
        {
            return Err(format!(
                "h{victim} answered a connection {:.0} ms after its kill",
                a.at_ms - killed_at
            ));
        }
        let running: Vec<u8> = (1..=hosts).filter(|&h| h != victim).collect();
        if !running.is_empty() {
            lab.wait_converged(&running, Duration::from_secs(10))?;
        }
        step("nlb query on h1 after the failover");
        Command::new("ip")
            .args(["netns", "exec", &lab.ns("h1")])
            .arg(&exe)
            .arg("query")
            .status()
            .map_err(|e| e.to_string())?;

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
