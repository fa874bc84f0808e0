//! `nlb lab failover`: fail a host while the client keeps connecting, and measure how
//! long until new connections all succeed again.

use super::service::{ask, Attempt};
use super::{netns, Failure, Lab, PORT};
use crate::output::print_json;
use anyhow::anyhow;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Each attempt's connect and read timeout. Attempts run side by side, so a failing one
/// holds up no other: the measurement's resolution is the interval between starts.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(100);
/// The interval between attempts' starts, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(2);

/// What a failover looked like from the client.
#[derive(Debug, Serialize)]
pub struct Failover {
    /// The failed host.
    pub host: u8,
    /// How it failed.
    pub how: String,
    /// From the failure until new connections all succeed again: the start of the
    /// attempt after the last failed one (0 when none failed), within `interval_ms`.
    pub recovery_ms: f64,
    /// The interval between attempts' starts: the measurement's resolution.
    pub interval_ms: f64,
    /// Connection attempts after the failure.
    pub attempts_after: usize,
    /// Of which failed.
    pub failed_after: usize,
    /// When, after the failure, the failed host answered its last connection.
    pub last_victim_answer_ms: Option<f64>,
}

/// A connection attempt started every `interval` from the client for `span`, side by
/// side, while `during` runs `at` after the start; returns the attempts in order and
/// when `during` ran (ms from the start).
pub(super) fn connect_while(
    lab: &Lab,
    vip: IpAddr,
    span: Duration,
    interval: Duration,
    at: Duration,
    during: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<(Vec<Attempt>, f64)> {
    let addr = SocketAddr::new(vip, PORT);
    let start = Instant::now();
    // Enough workers that each is free again by its next turn.
    let workers = (ATTEMPT_TIMEOUT.as_nanos() / interval.as_nanos().max(1)) as u32 + 2;
    let client = {
        let ns = lab.ns("c");
        std::thread::spawn(move || {
            netns::run_in(&ns, move || {
                // Threads started here inherit the client's network namespace.
                let threads: Vec<_> = (0..workers)
                    .map(|w| {
                        std::thread::spawn(move || {
                            let mut out = Vec::new();
                            for k in (w..).step_by(workers as usize) {
                                let due = interval * k;
                                if due >= span {
                                    break;
                                }
                                std::thread::sleep(due.saturating_sub(start.elapsed()));
                                out.push(Attempt {
                                    at_ms: due.as_secs_f64() * 1e3,
                                    host: ask(addr, ATTEMPT_TIMEOUT),
                                });
                            }
                            out
                        })
                    })
                    .collect();
                let mut all: Vec<Attempt> = threads
                    .into_iter()
                    .flat_map(|t| t.join().unwrap_or_default())
                    .collect();
                all.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
                all
            })
        })
    };
    std::thread::sleep(at.saturating_sub(start.elapsed()));
    let event_ms = start.elapsed().as_secs_f64() * 1e3;
    let done = during();
    let attempts = client
        .join()
        .map_err(|_| anyhow!("the client thread panicked"))??;
    done?;
    Ok((attempts, event_ms))
}

/// Fails host `n` while the client connects to `vip` every `interval`, and measures.
pub fn measure(
    lab: &Lab,
    vip: IpAddr,
    n: u8,
    how: Failure,
    interval: Duration,
) -> anyhow::Result<Failover> {
    let (attempts, at) = connect_while(
        lab,
        vip,
        Duration::from_millis(3000),
        interval,
        Duration::from_millis(800),
        || lab.fail_host(n, how),
    )?;
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.at_ms >= at).collect();
    let interval_ms = interval.as_secs_f64() * 1e3;
    Ok(Failover {
        host: n,
        how: format!("{how:?}"),
        recovery_ms: after
            .iter()
            .filter(|a| a.host.is_none())
            .map(|a| a.at_ms + interval_ms - at)
            .fold(0.0, f64::max),
        interval_ms,
        attempts_after: after.len(),
        failed_after: after.iter().filter(|a| a.host.is_none()).count(),
        last_victim_answer_ms: after
            .iter()
            .filter(|a| a.host == Some(n))
            .map(|a| a.at_ms - at)
            .reduce(f64::max),
    })
}

/// `nlb lab failover HOST`.
pub fn run(
    name: &str,
    who: &str,
    how: Failure,
    interval: Duration,
    ipv6: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    let f = measure(&lab, super::vip(ipv6), n, how, interval)?;
    if json {
        print_json(&f);
    } else {
        println!(
            "h{n} failed ({how:?}) while the client started a connection every {} ms: {} \
             attempts after, {} failed; new connections all succeed again {:.0} ms after the \
             failure (to within {} ms)",
            f.interval_ms, f.attempts_after, f.failed_after, f.recovery_ms, f.interval_ms
        );
        match f.last_victim_answer_ms {
            Some(ms) => println!("h{n} answered its last connection {ms:.0} ms after the failure"),
            None => println!("h{n} answered no connection after the failure"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
