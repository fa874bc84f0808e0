//! The `nlb lab` verbs that act on a lab that is up: status, exec, kill, start,
//! handoff and traffic.

use super::service::Tally;
use super::{netns, switch, Failure, Lab, PORT, VIP, VIP6};
use crate::output::print_json;
use anyhow::{bail, Context};
use nlb_core::addressing::OperationMode;
use nlb_core::control::{Reply, Request};
use serde::Serialize;
use std::net::IpAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

#[derive(Serialize)]
struct HostLine {
    host: u8,
    nlbd_pid: Option<i32>,
    state: Option<String>,
    members: Vec<u8>,
    share_percent: Option<f64>,
}

/// `nlb lab status`.
pub fn status(name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let lines: Vec<HostLine> = (1..=lab.hosts)
        .map(|n| {
            let s = lab.status(n);
            HostLine {
                host: n,
                nlbd_pid: lab.pid(&format!("h{n}-nlbd")),
                state: s.as_ref().map(|s| s.state.to_string()),
                members: s.as_ref().map(|s| s.members.clone()).unwrap_or_default(),
                share_percent: s.as_ref().map(|s| {
                    let r = &s.rules[0];
                    100.0 * f64::from(r.slots_owned) / f64::from(r.slots_total)
                }),
            }
        })
        .collect();
    let group_members = if lab.mode == OperationMode::IgmpMulticast.to_string() {
        let sw = lab.ns("sw");
        let groups = nlb_core::addressing::FamilyAddressing::new(
            OperationMode::IgmpMulticast,
            &[IpAddr::V4(VIP), IpAddr::V6(VIP6)],
        )
        .groups;
        Some(netns::run_in(&sw, move || {
            groups
                .into_iter()
                .map(|g| (g.to_string(), switch::group_ports("br", g)))
                .collect::<std::collections::BTreeMap<_, _>>()
        })?)
    } else {
        None
    };
    if json {
        print_json(&serde_json::json!({
            "lab": lab, "hosts": lines, "igmp_group_ports": group_members
        }));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "lab `{}`: {} hosts, {} mode, VIPs {VIP} and {VIP6}, port {PORT}",
        lab.name, lab.hosts, lab.mode
    );
    println!(
        "{:<5} {:<8} {:<22} {:<12} {:>7}",
        "Host", "nlbd", "State", "Members", "Share"
    );
    for l in &lines {
        println!(
            "h{:<4} {:<8} {:<22} {:<12} {:>7}",
            l.host,
            l.nlbd_pid.map_or("down".into(), |p| p.to_string()),
            l.state.as_deref().unwrap_or("-"),
            l.members
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
            l.share_percent.map_or("-".into(), |s| format!("{s:.1}%"))
        );
    }
    if let Some(g) = group_members {
        for (group, ports) in g {
            println!(
                "switch: ports in group {group}: {}",
                if ports.is_empty() {
                    "none".into()
                } else {
                    ports.join(", ")
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab exec HOST -- CMD...`.
pub fn exec(name: &str, who: &str, command: &[String]) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let ns = lab.role_ns(who)?;
    if command.is_empty() {
        bail!("give a command after --, e.g. `nlb lab exec h1 -- nlb query`");
    }
    let status = Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(command)
        .status()
        .context("ip netns exec")?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// `nlb lab kill HOST`.
pub fn kill(name: &str, who: &str, how: Failure) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    lab.fail_host(n, how)?;
    println!(
        "h{n}: {}; its peers take its flows over",
        match how {
            Failure::Crash => "nlbd and its service killed (SIGKILL)",
            Failure::Nlbd => "nlbd killed (SIGKILL), the service still runs",
            Failure::LinkDown => "link down, nlbd and its service killed",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab start HOST`; with `wall_clock_offset` (libfaketime's syntax: `-1h`, `+30m`),
/// nlbd runs with its wall clock that far off (its monotonic clock, like the kernel's,
/// is left alone), as on a VM restored from a snapshot.
pub fn start(
    name: &str,
    who: &str,
    wait: bool,
    wall_clock_offset: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    if let Some(offset) = wall_clock_offset {
        if lab.pid(&format!("h{n}-nlbd")).is_some() {
            bail!("h{n}'s nlbd is running; `nlb lab kill {who}` first");
        }
        lab.start_nlbd_off_clock(n, offset)?;
    }
    lab.start_host(n)?;
    if !wait {
        println!("h{n}: started");
        return Ok(ExitCode::SUCCESS);
    }
    let running: Vec<u8> = (1..=lab.hosts)
        .filter(|h| lab.pid(&format!("h{h}-nlbd")).is_some())
        .collect();
    let took = lab.wait_converged(&running, Duration::from_secs(15))?;
    println!(
        "h{n}: started; the cluster converged in {} ms",
        took.as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab handoff HOST`: nlbd hands off and a new one starts at once.
pub fn handoff(name: &str, who: &str) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    let start = Instant::now();
    if let Reply::Error { message, .. } = lab.request(n, Request::HandOff)? {
        bail!("h{n}: {message}");
    }
    let what = format!("h{n}-nlbd");
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.pid(&what).is_some() {
        if Instant::now() > deadline {
            bail!("h{n}'s nlbd did not exit after handing off");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // Keep the predecessor's log: the successor's is the one to read next.
    let dir = lab.dir();
    let _ = std::fs::rename(
        dir.join(format!("{what}.log")),
        dir.join(format!("{what}.previous.log")),
    );
    lab.start_host(n)?;
    println!(
        "h{n}: nlbd handed off and a new one started {} ms later",
        start.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab traffic`.
pub fn traffic(name: &str, connections: usize, ipv6: bool, json: bool) -> anyhow::Result<ExitCode> {
    let lab = Lab::open(name)?;
    let tally = lab.traffic_to(super::vip(ipv6), connections)?;
    if json {
        print_json(&tally);
    } else {
        print_tally(&tally);
    }
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints connections per host.
pub fn print_tally(t: &Tally) {
    println!("{:<6} {:>11} {:>7}", "Host", "Connections", "Share");
    for (h, n) in &t.served {
        println!(
            "h{:<5} {:>11} {:>6.1}%",
            h,
            n,
            100.0 * *n as f64 / t.total().max(1) as f64
        );
    }
    println!("{:<6} {:>11}", "failed", t.failed);
}

/// `nlb lab capture`: frames at the switch's bridge (promiscuous, as a mirror port) or
/// on a namespace's eth0, for `seconds`, into the pcap file `out`.
pub fn capture(
    name: &str,
    on: &str,
    seconds: f64,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    use crate::doctor::socket::{ifindex, PacketSocket, ALL};
    let lab = Lab::open(name)?;
    let ns = lab.role_ns(on)?;
    let iface = if ns == lab.ns("sw") { "br0" } else { "eth0" };
    let span = Duration::from_secs_f64(seconds.max(0.1));
    let frames = netns::run_in(&ns, move || -> anyhow::Result<_> {
        let index = ifindex(iface)?;
        let socket = PacketSocket::open(index, ALL)?;
        socket.promiscuous(index)?;
        socket.capture(span)
    })??;
    crate::pcap::write_pcap(out, &frames)?;
    println!(
        "{} frames from {iface} of {ns} written to {}",
        frames.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `nlb lab nic-team HOST`: half of the host's flows leave with a second source MAC.
pub fn nic_team(
    name: &str,
    who: &str,
    second: Option<nlb_core::mac::MacAddr>,
    off: bool,
) -> anyhow::Result<ExitCode> {
    use nlb_dataplane::lab_team::NicTeam;
    let lab = Lab::open(name)?;
    let n = lab.host(who)?;
    let second = second.unwrap_or(nlb_core::mac::MacAddr([2, 0, 0, 0, 0x0e, n]));
    netns::run_in(&lab.ns(&format!("h{n}")), move || -> anyhow::Result<()> {
        NicTeam::detach("eth0")?;
        if !off {
            NicTeam::load(second)?.attach("eth0")?;
        }
        Ok(())
    })??;
    if off {
        println!("h{n}: every frame leaves with its own MAC again");
    } else {
        println!("h{n}: frames of half of its flows (to a port with bit 1 set) leave with source MAC {second}");
    }
    Ok(ExitCode::SUCCESS)
}
