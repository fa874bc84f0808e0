//! `nlb lab bench`: TCP request/response through the cluster's VIP beside the same
//! service reached directly at a host's own address, in the same run, rounds
//! interleaved so that the machine's noise falls on both alike.

use super::service::{ask, read_host};
use super::{netns, Lab, PORT, VIP};
use crate::output::print_json;
use anyhow::Context;
use serde::Serialize;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One measure, through the VIP and direct.
#[derive(Debug, Serialize)]
pub struct Pair {
    /// What was measured.
    pub what: &'static str,
    /// Median per second through the VIP.
    pub via_vip: f64,
    /// Median per second to host 1's own address.
    pub direct: f64,
    /// via_vip / direct.
    pub ratio: f64,
}

/// Request/response exchanges per second over one connection for `span`.
fn exchanges(addr: SocketAddr, span: Duration) -> Option<f64> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_nodelay(true).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    read_host(&s)?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < span {
        (&s).write_all(b"x\n").ok()?;
        read_host(&s)?;
        n += 1;
    }
    Some(n as f64 / start.elapsed().as_secs_f64())
}

/// New connections (connect, answer, close) per second for `span`.
fn connections(addr: SocketAddr, span: Duration) -> Option<f64> {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < span {
        ask(addr, Duration::from_secs(1))?;
        n += 1;
    }
    Some(n as f64 / start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the benchmark on lab `name`.
pub fn run(name: &str, rounds: usize, span_ms: u64, json: bool) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let vip = SocketAddr::new(IpAddr::V4(VIP), PORT);
    let direct = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11)), PORT);
    let span = Duration::from_millis(span_ms);
    let rounds = rounds.max(1);
    let measured = netns::run_in(&lab.ns("c"), move || {
        let mut m: [Vec<f64>; 4] = Default::default();
        for _ in 0..rounds {
            m[0].push(exchanges(vip, span)?);
            m[1].push(exchanges(direct, span)?);
            m[2].push(connections(vip, span)?);
            m[3].push(connections(direct, span)?);
        }
        Some(m)
    })?
    .context("a connection failed during the benchmark; is the lab converged? (nlb lab status)")?;
    let [ex_vip, ex_direct, conn_vip, conn_direct] = measured;
    let pair = |what, a: Vec<f64>, b: Vec<f64>| {
        let (a, b) = (median(a), median(b));
        Pair {
            what,
            via_vip: a,
            direct: b,
            ratio: a / b,
        }
    };
    let pairs = vec![
        pair(
            "request/response exchanges per second, one connection",
            ex_vip,
            ex_direct,
        ),
        pair(
            "new connections per second (connect, answer, close)",
            conn_vip,
            conn_direct,
        ),
    ];
    if json {
        print_json(&pairs);
    } else {
        println!(
            "median of {rounds} rounds of {span_ms} ms, VIP and direct interleaved ({} mode, {})",
            lab.mode,
            lab.xdp_mode()
        );
        println!(
            "{:<56} {:>10} {:>10} {:>6}",
            "", "via VIP", "direct", "ratio"
        );
        for p in &pairs {
            println!(
                "{:<56} {:>10.0} {:>10.0} {:>6.3}",
                p.what, p.via_vip, p.direct, p.ratio
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
