//! `nlb lab migrate`: hosts' switch ports move to the other switch at once, as when a
//! hypervisor live-migrates every VM of the cluster (a two-node host cluster draining
//! for updates does it), while the client keeps connecting and holds connections open.
//!
//! The lab's second switch, br1, lives in the switch namespace beside br0, joined to it
//! by a trunk (a veth pair, a port of each). It snoops IGMP as br0 does but is no
//! querier: br0's queries reach it over the trunk, which each bridge marks a multicast
//! router port, and so do reports between them. A move takes each host's port out of
//! its bridge (the bridge forgets the port's FDB and MDB entries, as a real switch ages
//! them), keeps it down for the blackout, and enslaves it to the other bridge; with
//! `--rarp` the hypervisor then announces the VM's MAC from the new port (a RARP sent on
//! the host's link below its qdisc, so past nlb's source masking); with
//! `--out-of-phase-ms` the ports come up that far apart, one after another.

use super::failover::connect_while;
use super::service::{read_host, Attempt};
use super::{netns, Lab, PORT, VIP};
use crate::output::print_json;
use anyhow::{anyhow, Context};
use rustix::net;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How a move is made.
#[derive(Clone, Debug)]
pub struct Move {
    /// The hosts whose ports move.
    pub hosts: Vec<u8>,
    /// How long each port stays down.
    pub blackout: Duration,
    /// Whether the hypervisor sends a RARP for the VM's MAC from the new port.
    pub rarp: bool,
    /// How far apart the ports come up, one after another.
    pub out_of_phase: Duration,
    /// Connections the client holds open across the move.
    pub held: usize,
    /// The interval between new connections' starts.
    pub interval: Duration,
}

/// What the move did to the cluster's clients.
#[derive(Debug, Serialize)]
pub struct Migration {
    /// The hosts moved, and the bridge each went to.
    pub moved: BTreeMap<u8, String>,
    /// Blackout per port, in ms.
    pub blackout_ms: f64,
    /// Whether a RARP followed each port's return.
    pub rarp: bool,
    /// From the last port's return until new connections all succeed again: the start
    /// of the attempt after the last failed one (0 when none failed after it).
    pub recovery_ms: f64,
    /// New connection attempts after the first port went down, and how many failed.
    pub attempts: usize,
    /// Of which failed.
    pub failed: usize,
    /// Failed attempts started after the last port came back.
    pub failed_after_return: usize,
    /// Share of the connections answered from 2 s after the last port's return, by host.
    pub shares_after: BTreeMap<u8, f64>,
    /// How many connections those shares come from.
    pub attempts_for_shares: usize,
    /// Held connections reset (an RST or an error other than a timeout).
    pub held_reset: usize,
    /// Held connections that stalled past the end of the run.
    pub held_stalled: usize,
    /// The longest time a held connection waited for an answer, in ms.
    pub held_longest_wait_ms: f64,
    /// Hosts whose data path answered ARP for the VIP after the move (each should be
    /// the one default host).
    pub arp_answered_by: Vec<u8>,
}

/// Where each host's switch port is now: br0 or br1.
fn bridge_of(lab: &Lab, n: u8) -> anyhow::Result<String> {
    let out = netns::output(
        "ip",
        &["-n", &lab.ns("sw"), "-o", "link", "show", &format!("ph{n}")],
    )?;
    out.split_whitespace()
        .skip_while(|w| *w != "master")
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("ph{n} is in no bridge: {out}"))
}

/// Adds the second switch (br1 and the trunk to br0) unless it is there.
fn ensure_second_switch(lab: &Lab) -> anyhow::Result<()> {
    let sw = lab.ns("sw");
    if netns::output("ip", &["-n", &sw, "link", "show", "br1"]).is_ok() {
        return Ok(());
    }
    netns::ip(&[
        "-n",
        &sw,
        "link",
        "add",
        "br1",
        "type",
        "bridge",
        "mcast_snooping",
        "1",
        "mcast_querier",
        "0",
        "mcast_igmp_version",
        "3",
    ])?;
    netns::ip(&["-n", &sw, "link", "set", "br1", "up"])?;
    netns::ip(&[
        "-n", &sw, "link", "add", "trunk0", "type", "veth", "peer", "name", "trunk1",
    ])?;
    for (port, bridge) in [("trunk0", "br0"), ("trunk1", "br1")] {
        netns::ip(&["-n", &sw, "link", "set", port, "master", bridge, "up"])?;
        netns::run(
            "bridge",
            &["-n", &sw, "link", "set", "dev", port, "mcast_router", "2"],
        )?;
    }
    Ok(())
}

/// A RARP request for `mac`, as VMware and Hyper-V send one for a migrated VM's NIC.
fn rarp_frame(mac: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x8035u16.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f.extend_from_slice(&[6, 4]);
    f.extend_from_slice(&3u16.to_be_bytes()); // reverse request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0; 4]);
    f.resize(60, 0);
    f
}

/// Sends the hypervisor's RARP for host `n`'s NIC from its link, below its qdisc (tc
/// egress, where nlb masks unicast mode's source MAC, never sees it).
fn send_rarp(lab: &Lab, n: u8) -> anyhow::Result<()> {
    let ns = lab.ns(&format!("h{n}"));
    let mac = super::flood::eth0_mac(&ns)?;
    netns::run_in(&ns, move || -> anyhow::Result<()> {
        let fd = super::flood::raw_socket()?;
        // libc: rustix has no PACKET_QDISC_BYPASS option.
        let one: libc::c_int = 1;
        // SAFETY: sets an int option on a socket we own, with a pointer to a live int
        // and its size.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("PACKET_QDISC_BYPASS");
        }
        net::send(&fd, &rarp_frame(mac.0), net::SendFlags::empty())?;
        Ok(())
    })?
}

/// Moves the hosts' ports as `m` says; returns when the last port came up, relative to
/// `start`, and the bridge each went to.
fn move_ports(lab: &Lab, m: &Move) -> anyhow::Result<BTreeMap<u8, String>> {
    let sw = lab.ns("sw");
    let mut to = BTreeMap::new();
    for &n in &m.hosts {
        let target = if bridge_of(lab, n)? == "br0" {
            "br1"
        } else {
            "br0"
        };
        to.insert(n, target.to_string());
    }
    // Every port goes down at once (a stun of every VM), as close together as the
    // commands allow.
    for &n in &m.hosts {
        let port = format!("ph{n}");
        netns::ip(&["-n", &sw, "link", "set", &port, "down"])?;
        netns::ip(&["-n", &sw, "link", "set", &port, "nomaster"])?;
    }
    std::thread::sleep(m.blackout);
    for (i, &n) in m.hosts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(m.out_of_phase);
        }
        let port = format!("ph{n}");
        netns::ip(&["-n", &sw, "link", "set", &port, "master", &to[&n], "up"])?;
        netns::run(
            "bridge",
            &["-n", &sw, "link", "set", "dev", &port, "mcast_router", "2"],
        )?;
        if m.rarp {
            send_rarp(lab, n)?;
        }
    }
    Ok(to)
}

/// What a held connection went through: the longest wait for an answer, and how it
/// ended (None: still open at the end).
struct Held {
    longest_wait: Duration,
    end: Option<ErrorKind>,
}

/// Holds `n` connections to the VIP from the client for `span`, each asking who serves
/// it every 100 ms and waiting up to the rest of the span for the answer.
fn hold(lab: &Lab, n: usize, span: Duration) -> anyhow::Result<std::thread::JoinHandle<Vec<Held>>> {
    let addr = SocketAddr::new(IpAddr::V4(VIP), PORT);
    let ns = lab.ns("c");
    let opened: Vec<TcpStream> = netns::run_in(&ns, move || -> anyhow::Result<Vec<TcpStream>> {
        (0..n)
            .map(|_| {
                let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(2)))?;
                read_host(&s).context("the service's greeting")?;
                Ok(s)
            })
            .collect()
    })??;
    Ok(std::thread::spawn(move || {
        let start = Instant::now();
        let threads: Vec<_> = opened
            .into_iter()
            .map(|s| {
                std::thread::spawn(move || {
                    let mut held = Held {
                        longest_wait: Duration::ZERO,
                        end: None,
                    };
                    while start.elapsed() < span {
                        let asked = Instant::now();
                        let left = span
                            .saturating_sub(start.elapsed())
                            .max(Duration::from_millis(100));
                        let _ = s.set_read_timeout(Some(left));
                        let answer = (&s).write_all(b"x\n").and_then(|_| {
                            read_host(&s).ok_or_else(|| std::io::Error::from(ErrorKind::TimedOut))
                        });
                        held.longest_wait = held.longest_wait.max(asked.elapsed());
                        if let Err(e) = answer {
                            held.end = Some(e.kind());
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    held
                })
            })
            .collect();
        threads.into_iter().filter_map(|t| t.join().ok()).collect()
    }))
}

/// The ARP replies each host's data path has sent.
fn arp_replies(lab: &Lab) -> BTreeMap<u8, u64> {
    (1..=lab.hosts)
        .filter_map(|n| {
            let s = lab.status(n)?;
            Some((
                n,
                s.dataplane.packets.get("arp_replied").copied().unwrap_or(0),
            ))
        })
        .collect()
}

/// Asks the VIP's MAC from the client a few times (its neighbour entry flushed each
/// time, so the kernel broadcasts a request).
fn ask_arp(lab: &Lab) -> anyhow::Result<()> {
    let addr = SocketAddr::new(IpAddr::V4(VIP), PORT);
    for _ in 0..3 {
        netns::ip(&["-n", &lab.ns("c"), "neigh", "flush", "to", &VIP.to_string()])?;
        netns::run_in(&lab.ns("c"), move || {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        })?;
    }
    Ok(())
}

/// Moves the ports as `m` says while the client connects, and measures.
pub fn measure(lab: &Lab, m: &Move) -> anyhow::Result<Migration> {
    ensure_second_switch(lab)?;
    let before_ms = 600u64;
    // Two seconds to recover, then two more whose connections show the spread (about
    // a hundred at the default interval: a share of a third is then 33% ± 5%).
    let settle = Duration::from_millis(4000);
    let span = Duration::from_millis(before_ms)
        + m.blackout
        + m.out_of_phase * m.hosts.len() as u32
        + settle;
    let held = hold(lab, m.held, span + Duration::from_millis(500))?;
    let mut moved = BTreeMap::new();
    let mut returned_ms = 0.0;
    let (attempts, went_down_ms) = connect_while(
        lab,
        IpAddr::V4(VIP),
        span,
        m.interval,
        Duration::from_millis(before_ms),
        || {
            let start = Instant::now();
            moved = move_ports(lab, m)?;
            returned_ms = start.elapsed().as_secs_f64() * 1e3;
            Ok(())
        },
    )?;
    let returned_ms = went_down_ms + returned_ms;
    let held = held
        .join()
        .map_err(|_| anyhow!("the holding thread panicked"))?;
    let arp_before = arp_replies(lab);
    ask_arp(lab)?;
    let arp_after = arp_replies(lab);
    let interval_ms = m.interval.as_secs_f64() * 1e3;
    let after: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.at_ms >= went_down_ms)
        .collect();
    let late: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.at_ms >= returned_ms + 2000.0)
        .collect();
    let mut shares_after = BTreeMap::new();
    for n in 1..=lab.hosts {
        let answered = late.iter().filter(|a| a.host == Some(n)).count();
        shares_after.insert(n, answered as f64 / late.len().max(1) as f64);
    }
    Ok(Migration {
        moved,
        blackout_ms: m.blackout.as_secs_f64() * 1e3,
        rarp: m.rarp,
        recovery_ms: after
            .iter()
            .filter(|a| a.host.is_none() && a.at_ms >= returned_ms)
            .map(|a| a.at_ms + interval_ms - returned_ms)
            .fold(0.0, f64::max),
        attempts: after.len(),
        failed: after.iter().filter(|a| a.host.is_none()).count(),
        failed_after_return: after
            .iter()
            .filter(|a| a.host.is_none() && a.at_ms >= returned_ms)
            .count(),
        shares_after,
        attempts_for_shares: late.len(),
        held_reset: held
            .iter()
            .filter(|h| {
                h.end
                    .is_some_and(|k| k != ErrorKind::TimedOut && k != ErrorKind::WouldBlock)
            })
            .count(),
        held_stalled: held
            .iter()
            .filter(|h| matches!(h.end, Some(ErrorKind::TimedOut | ErrorKind::WouldBlock)))
            .count(),
        held_longest_wait_ms: held
            .iter()
            .map(|h| h.longest_wait.as_secs_f64() * 1e3)
            .fold(0.0, f64::max),
        arp_answered_by: arp_after
            .iter()
            .filter(|(n, c)| arp_before.get(n).is_some_and(|b| *c > b))
            .map(|(n, _)| *n)
            .collect(),
    })
}

/// `nlb lab migrate`.
pub fn run(
    name: &str,
    hosts: Option<Vec<String>>,
    m: Move,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let hosts = match hosts {
        None => (1..=lab.hosts).collect(),
        Some(list) => list
            .iter()
            .map(|h| lab.host(h))
            .collect::<anyhow::Result<Vec<u8>>>()?,
    };
    let m = Move { hosts, ..m };
    let r = measure(&lab, &m)?;
    if json {
        print_json(&r);
        return Ok(ExitCode::SUCCESS);
    }
    let moved: Vec<String> = r
        .moved
        .iter()
        .map(|(n, b)| format!("h{n} to {b}"))
        .collect();
    println!(
        "moved {} ({} ms blackout{}{}); the client started a connection every {} ms and held {}",
        moved.join(", "),
        r.blackout_ms,
        if m.rarp {
            ", RARP from each new port"
        } else {
            ""
        },
        if m.out_of_phase.is_zero() {
            String::new()
        } else {
            format!(", ports up {} ms apart", m.out_of_phase.as_millis())
        },
        m.interval.as_millis(),
        m.held
    );
    println!(
        "new connections: {} attempts, {} failed ({} after the ports came back); all succeed again {:.0} ms after the last port came back",
        r.attempts, r.failed, r.failed_after_return, r.recovery_ms
    );
    let shares: Vec<String> = r
        .shares_after
        .iter()
        .map(|(n, s)| format!("h{n} {:.0}%", s * 100.0))
        .collect();
    println!("shares from 2 s after the move: {}", shares.join(", "));
    println!(
        "held connections: {} reset, {} stalled, longest wait {:.0} ms",
        r.held_reset, r.held_stalled, r.held_longest_wait_ms
    );
    println!(
        "ARP for the VIP after the move answered by: {}",
        if r.arp_answered_by.is_empty() {
            "no host".to_string()
        } else {
            r.arp_answered_by
                .iter()
                .map(|n| format!("h{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
