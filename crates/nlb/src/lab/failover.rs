//! `nlb lab failover`: fail a host while the client keeps connecting, and measure how
//! long until new connections all succeed again.

use super::service::{ask, Attempt};
use super::{netns, Failure, Lab, PORT, VIP};
use crate::output::print_json;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Each attempt's connect and read timeout: a failure costs this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(100);

/// What a failover looked like from the client.
#[derive(Debug, Serialize)]
pub struct Failover {
    /// The failed host.
    pub host: u8,
    /// How it failed.
    pub how: String,
    /// From the failure until new connections all succeed again (the end of the last
    /// failed attempt; 0 when none failed).
    pub recovery_ms: f64,
    /// Connection attempts after the failure.
    pub attempts_after: usize,
    /// Of which failed.
    pub failed_after: usize,
    /// When, after the failure, the failed host answered its last connection.
    pub last_victim_answer_ms: Option<f64>,
}

/// Connections every ~5 ms from the client for `span`, while `during` runs `at` after
/// the start; returns the attempts and when `during` ran (ms from the start).
fn connect_while(
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
                        host: ask(addr, ATTEMPT_TIMEOUT),
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
                out
            })
        })
    };
    std::thread::sleep(at.saturating_sub(start.elapsed()));
    let event_ms = start.elapsed().as_secs_f64() * 1e3;
    let done = during();
    let attempts = client
        .join()
        .map_err(|_| "the client thread panicked".to_string())??;
    done?;
    Ok((attempts, event_ms))
}

/// Fails host `n` while the client connects, and measures.
pub fn measure(lab: &Lab, n: u8, how: Failure) -> Result<Failover, String> {
    let (attempts, at) = connect_while(
        lab,
        Duration::from_millis(3000),
        Duration::from_millis(800),
        || lab.fail_host(n, how),
    )?;
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.at_ms >= at).collect();
    let timeout_ms = ATTEMPT_TIMEOUT.as_secs_f64() * 1e3;
    Ok(Failover {
        host: n,
        how: format!("{how:?}"),
        recovery_ms: after
            .iter()
            .filter(|a| a.host.is_none())
            .map(|a| a.at_ms + timeout_ms - at)
            .fold(0.0, f64::max),
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
pub fn run(name: &str, who: &str, how: Failure, json: bool) -> Result<ExitCode, String> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    let f = measure(&lab, n, how)?;
    if json {
        print_json(&f);
    } else {
        println!(
            "h{n} failed ({how:?}) while the client connected every ~5 ms: {} attempts after, \
             {} failed; new connections all succeed again {:.0} ms after the failure",
            f.attempts_after, f.failed_after, f.recovery_ms
        );
        match f.last_victim_answer_ms {
            Some(ms) => println!("h{n} answered its last connection {ms:.0} ms after the failure"),
            None => println!("h{n} answered no connection after the failure"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
