//! `nlb doctor`: diagnoses what the field failures look like — duplicate IPs, source MAC
//! substitution, flooding, IGMP/MLD queriers and memberships, path MTU mismatches, host
//! settings, what nlbd itself says — live on a member or offline from a capture file.
//!
//! The analysis of frames is nlb-core's (`nlb_core::doctor`, sans-IO); here are what
//! only a live host can add (`host`: its settings; `mtu`: probes to every member over
//! the heartbeat channel; nlbd's status over the control socket; ARP and neighbour
//! probes for the VIPs during the capture), the capture itself (`socket`), pcap files
//! (`nlb_core::doctor::pcap`), and the report.

mod gateway;
mod host;
mod mtu;
pub(crate) mod socket;

use crate::client;
use crate::output::print_json;
use crate::pcap::{read_pcap, write_pcap};
use anyhow::bail;
use nlb_core::config::Config;
use nlb_core::control::{Reply, Request, Status};
use nlb_core::doctor::{Analyzer, Context, Diagnosis, Evidence, Finding, FindingKind, Severity};
use nlb_core::mac::MacAddr;
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Where an offline capture was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CapturePoint {
    /// A switch mirror (SPAN) port, or anywhere that sees all traffic.
    Mirror,
    /// A cluster member's interface.
    Member,
    /// Another host's port on the cluster's VLAN (flooding is judged there).
    Other,
}

/// What the command was asked (`nlb doctor`'s options).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The host's configuration file (live; offline: the cluster's, optional).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The interface to look at (default: the configuration's).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Seconds of live capture.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Analyse this capture file instead of capturing.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Save the live capture to this pcap file.
    #[arg(long, value_name = "FILE")]
    pub write_pcap: Option<PathBuf>,
    /// Where the --pcap capture was taken: a mirror port, a member, another host.
    #[arg(long, value_enum, default_value = "mirror")]
    pub capture_point: CapturePoint,
    /// The IGMP/MLD query interval in seconds: no query for that long in
    /// igmp-multicast mode means no querier.
    #[arg(long, value_name = "SECONDS", default_value_t = 125.0)]
    pub query_interval: f64,
    /// Send nothing: no ARP or neighbour probes for the VIPs, no path MTU probes.
    #[arg(long)]
    pub no_probes: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// The report.
#[derive(Serialize)]
struct Report {
    /// Live on an interface, or a file.
    source: String,
    /// Frames looked at, and over how long.
    frames: u64,
    span_s: f64,
    /// Problems first, then notices.
    findings: Vec<Finding>,
    /// What was checked and found fine, or could not be checked, in a line each.
    notes: Vec<String>,
    /// Path MTU to each peer (live).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    peer_paths: Vec<mtu::PeerPath>,
}

/// A finding made here (not from frames).
#[allow(clippy::too_many_arguments)]
pub(crate) fn finding(
    kind: FindingKind,
    diagnosis: Diagnosis,
    subject: &str,
    seen: impl Into<String>,
    cause: impl Into<String>,
    consequence: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        kind,
        diagnosis,
        severity: Severity::Problem,
        subject: subject.to_string(),
        seen: seen.into(),
        cause: cause.into(),
        consequence: consequence.into(),
        fix: fix.into(),
        evidence: Evidence::default(),
    }
}

/// `nlb doctor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = match &args.pcap {
        Some(file) => offline(&args, file),
        None => live(&args),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // Could not run: exit 2, as other usage errors.
            if args.json {
                print_json(&crate::output::ErrorJson::new(format!("{e:#}"), Vec::new()));
            } else {
                eprintln!("error: {e:#}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let problems = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    if args.json {
        print_json(&report);
    } else {
        print(&report);
    }
    Ok(ExitCode::from(u8::from(problems > 0)))
}

fn context(config: Option<&Config>, query_interval: f64) -> Context {
    let mut ctx = config.map_or_else(Context::default, |c| Context::from_cluster(&c.cluster));
    ctx.query_interval = Duration::from_secs_f64(query_interval.max(0.0));
    ctx
}

fn offline(args: &Args, file: &Path) -> anyhow::Result<Report> {
    let config = match &args.config {
        Some(p) => Some(load(p)?.0),
        None => None,
    };
    let mut ctx = context(config.as_ref(), args.query_interval);
    ctx.capture_is_member = match args.capture_point {
        CapturePoint::Mirror => None,
        CapturePoint::Member => Some(true),
        CapturePoint::Other => Some(false),
    };
    let frames = read_pcap(file)?;
    let analyzer = analyse(ctx, &frames);
    let mut notes = Vec::new();
    if config.is_none() {
        notes.push(
            "no --config: the cluster's mode and VIPs unknown, so VIP-specific checks say less"
                .to_string(),
        );
    }
    Ok(finish(
        format!("{}", file.display()),
        &analyzer,
        Vec::new(),
        notes,
        Vec::new(),
    ))
}

/// The analysis of `frames`, their times counted from the first (a capture's times are
/// since the Unix epoch: findings say seconds into the capture).
fn analyse(ctx: Context, frames: &[(Duration, Vec<u8>)]) -> Analyzer {
    let origin = frames.first().map_or(Duration::ZERO, |f| f.0);
    let mut analyzer = Analyzer::new(ctx);
    for (at, bytes) in frames {
        analyzer.frame(at.saturating_sub(origin), bytes);
    }
    analyzer
}

fn load(path: &Path) -> anyhow::Result<(Config, [u8; 32])> {
    let (config, key) = Config::load_with_key(path)
        .map_err(|e| anyhow::anyhow!("{} has {} problem(s):\n{e}", path.display(), e.0.len()))?;
    Ok((config, key.heartbeat_key()))
}

fn finish(
    source: String,
    analyzer: &Analyzer,
    mut findings: Vec<Finding>,
    notes: Vec<String>,
    peer_paths: Vec<mtu::PeerPath>,
) -> Report {
    findings.extend(analyzer.findings());
    findings.sort_by_key(|f| (f.severity, f.kind, f.subject.clone()));
    let stats = analyzer.stats();
    let span = match (stats.first, stats.last) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64(),
        _ => 0.0,
    };
    Report {
        source,
        frames: stats.frames,
        span_s: span,
        findings,
        notes,
        peer_paths,
    }
}

/// The ARP request and neighbour solicitation asking who has each VIP, from `own`
/// with unspecified source addresses (RFC 5227 probes, duplicate address detection):
/// every holder of a VIP answers, the cluster's responder and any other.
fn vip_solicitations(own: MacAddr, vips: &[IpAddr]) -> Vec<Vec<u8>> {
    use nlb_dataplane::packet;
    vips.iter()
        .map(|v| match v {
            IpAddr::V4(v) => packet::arp_request(own.0, std::net::Ipv4Addr::UNSPECIFIED, *v),
            IpAddr::V6(v) => {
                packet::neighbour_solicitation(own.0, std::net::Ipv6Addr::UNSPECIFIED, *v)
            }
        })
        .collect()
}

fn live(args: &Args) -> anyhow::Result<Report> {
    let Some(path) = &args.config else {
        bail!("a live check needs the host's configuration: nlb doctor --config /etc/nlb/NAME.toml (or --pcap FILE for a capture file)");
    };
    let (config, key) = load(path)?;
    let iface = args
        .interface
        .clone()
        .unwrap_or_else(|| config.host.interface.clone());
    let ifindex = socket::ifindex(&iface)?;
    let own = socket::mac_of(&iface)?;
    let iface_mtu = socket::mtu(&iface)?;
    let mut findings = Vec::new();
    let mut notes = Vec::new();

    // What nlbd says.
    let status: Option<Status> = match client::request(&iface, &Request::Query) {
        Ok(Reply::Status { status, .. }) => Some(*status),
        _ => None,
    };
    match &status {
        None => findings.push(finding(
            FindingKind::Daemon,
            Diagnosis::NotRunning,
            &iface,
            format!("no nlbd answers on {iface}'s control socket"),
            "nlbd is stopped, crashed, or runs for another interface",
            "this host serves none of the cluster's traffic; if its data path was left attached, it admits nothing new once its lease passes",
            format!("systemctl start nlbd@{} (or nlbd --config {})", config.cluster.name, path.display()),
        )),
        Some(s) => {
            if let Some(why) = &s.standing_aside {
                findings.push(finding(
                    FindingKind::Daemon,
                    Diagnosis::StandingAside,
                    &format!("host {}", s.host),
                    format!("host {} stands aside: {why}", s.host),
                    why.clone(),
                    "this host owns nothing: its share goes to the others",
                    "make this host's [cluster] part and key the same as the others' (nlb config check on all files), then nlb reload",
                ));
            }
            let differing: Vec<String> = s
                .peers
                .iter()
                .filter(|p| p.config_mismatch)
                .map(|p| format!("host {}", p.id))
                .collect();
            if !differing.is_empty() {
                findings.push(finding(
                    FindingKind::Daemon,
                    Diagnosis::ConfigMismatch,
                    &differing.join(", "),
                    format!("{} advertise(s) another [cluster] configuration than this host's", differing.join(", ")),
                    "the files differ (port rules, VIPs, mode, timers)",
                    "the hosts whose configuration is not the majority's stand aside and take no traffic",
                    "nlb config check on every host's file shows the difference; make them equal and nlb reload",
                ));
            }
            if let Some(p) = &s.reception_problem {
                findings.push(finding(
                    FindingKind::SwitchLearnedClusterMac,
                    Diagnosis::ReceptionUneven,
                    &p.starved
                        .iter()
                        .map(|h| format!("host {h}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!(
                        "VIP frames a second by member: {}",
                        s.vip_frames
                            .iter()
                            .map(|m| format!("host {} {}", m.host, m.per_second))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    p.cause.clone(),
                    "the VIP's traffic reaches some members only: the others' share of new connections fails",
                    p.fix.clone(),
                ));
            }
        }
    }
    let running = status.is_some();
    if running {
        findings.extend(host::arp_settings(&iface));
    }
    findings.extend(host::rp_filter(&iface));
    let generic = socket::xdp_mode(&iface).as_deref() == Some("generic");
    findings.extend(host::offloads(&iface, generic));
    let vips: Vec<IpAddr> = config.cluster.vips().collect();
    findings.extend(host::vips_elsewhere(&vips, |v| {
        socket::interfaces_with(v, "lo")
    }));
    match host::clock_synchronised() {
        Some(true) => notes.push("the clock is synchronised".into()),
        Some(false) => notes.push(
            "the clock is not synchronised (NTP): nlb does not need it (it runs on the monotonic clock), but logs of different hosts are hard to put side by side".into(),
        ),
        None => {}
    }

    // The capture, with the probes sent during it.
    let span = Duration::from_secs_f64(args.seconds.max(0.5));
    let capture = socket::PacketSocket::open(ifindex, socket::ALL)?;
    capture.promiscuous(ifindex)?;
    let capture_thread = std::thread::spawn(move || capture.capture(span));
    let mut peer_paths = Vec::new();
    if !args.no_probes {
        let sender = socket::PacketSocket::open(ifindex, socket::ALL)?;
        std::thread::sleep(Duration::from_millis(200));
        for f in vip_solicitations(own, &vips) {
            let _ = sender.send(&f);
        }
        if running {
            peer_paths = mtu::probe_peers(ifindex, own, config.host.id.get(), iface_mtu, &key)?;
            findings.extend(mtu_findings(
                &iface,
                iface_mtu,
                &peer_paths,
                status.as_ref(),
            ));
            notes.push(format!(
                "path MTU probed to {} peer(s): {}",
                peer_paths.len(),
                peer_paths
                    .iter()
                    .map(|p| format!("host {} {} bytes", p.host, p.largest_payload))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !args.no_probes {
        gateway_probe(&iface, iface_mtu, &mut findings, &mut notes)?;
    }
    let frames = capture_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))??;
    if let Some(out) = &args.write_pcap {
        write_pcap(out, &frames)?;
        notes.push(format!(
            "{} frames written to {}",
            frames.len(),
            out.display()
        ));
    }
    let mut ctx = context(Some(&config), args.query_interval);
    ctx.capture_is_member = Some(running);
    ctx.member_macs = vec![own];
    let analyzer = analyse(ctx, &frames);
    Ok(finish(
        format!("{iface} for {:.1} s", span.as_secs_f64()),
        &analyzer,
        findings,
        notes,
        peer_paths,
    ))
}

/// DF pings of growing size to the IPv4 default gateway, if it is on `iface`.
fn gateway_probe(
    iface: &str,
    mtu: usize,
    findings: &mut Vec<Finding>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let Some((gw, dev)) = gateway::default_gateway() else {
        notes.push("no IPv4 default route: the path to a gateway was not probed".into());
        return Ok(());
    };
    if dev != iface {
        notes.push(format!(
            "the default route leaves by {dev}, not {iface}: the gateway's path was not probed"
        ));
        return Ok(());
    }
    match gateway::largest_answered(gw, mtu)? {
        None => notes.push(format!(
            "the gateway {gw} answers no echo request: the path to it was not measured"
        )),
        Some(n) if n < mtu => findings.push(finding(
            FindingKind::MtuMismatch,
            Diagnosis::GatewayPathShort,
            &gw.to_string(),
            format!("the gateway {gw} answers don't-fragment pings of up to {n} bytes; {iface}'s MTU is {mtu}"),
            format!("the gateway's interface, or a switch port or link on the way, has an MTU of about {n}"),
            "clients beyond the gateway that send or receive full-size packets stall on large transfers while small ones pass; replies larger than that are dropped without a word unless a router says \"fragmentation needed\"",
            format!("set an MTU of at least {mtu} on the gateway's interface and every port on the way, or lower the cluster interface's MTU to {n}"),
        )),
        Some(_) => notes.push(format!(
            "the gateway {gw} answers don't-fragment pings up to {iface}'s MTU ({mtu})"
        )),
    }
    Ok(())
}

/// Findings from the path MTU probes: a path to a peer shorter than both ends' MTUs,
/// and members whose interfaces disagree.
fn mtu_findings(
    iface: &str,
    own_mtu: usize,
    paths: &[mtu::PeerPath],
    status: Option<&Status>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let members: Vec<u8> = status.map(|s| s.members.clone()).unwrap_or_default();
    for p in paths {
        let both = own_mtu.min(p.peer_mtu as usize);
        if p.largest_payload < both {
            out.push(finding(
                FindingKind::MtuMismatch,
                Diagnosis::PathShort,
                &format!("host {}", p.host),
                format!(
                    "frames with more than {} bytes of payload do not make the round trip between this host ({iface}, MTU {own_mtu}) and host {} (MTU {}); smaller ones do",
                    p.largest_payload, p.host, p.peer_mtu
                ),
                format!("a hop between the two — a switch port, a trunk, a virtual switch — has an MTU of about {}, below the hosts' {both}", p.largest_payload),
                "frames larger than that are dropped without a word: small requests and pings pass, large transfers stall (TCP's path MTU discovery gets no ICMP from a switch)",
                format!("set an MTU of at least {both} on every port and link between the hosts (switches usually need 9216 for hosts at 9000), or lower the hosts' MTU to {}", p.largest_payload),
            ));
        }
        if p.peer_mtu as usize != own_mtu {
            out.push(finding(
                FindingKind::MtuMismatch,
                Diagnosis::MtusDiffer,
                &format!("host {}", p.host),
                format!("this host's {iface} has MTU {own_mtu}, host {}'s {}", p.host, p.peer_mtu),
                "the hosts' interfaces were configured differently",
                "a host with the larger MTU sends segments the other, or a hop sized for it, drops; connections of one host stall where the other's pass",
                "give every member's cluster interface the same MTU",
            ));
        }
    }
    let answered: Vec<u8> = paths.iter().map(|p| p.host).collect();
    let silent: Vec<String> = members
        .iter()
        .filter(|m| Some(**m) != status.map(|s| s.host) && !answered.contains(m))
        .map(|m| format!("host {m}"))
        .collect();
    if !silent.is_empty() {
        out.push(finding(
            FindingKind::MtuMismatch,
            Diagnosis::NoProbeAnswer,
            &silent.join(", "),
            format!(
                "{} did not answer even the smallest path MTU probe",
                silent.join(", ")
            ),
            "an nlbd older than the probes, or frames lost between the hosts",
            "the path to these members was not measured",
            "upgrade nlbd on them, and run nlb doctor again",
        ));
    }
    out
}

fn print(r: &Report) {
    println!(
        "nlb doctor: {} ({} frames over {:.1} s)",
        r.source, r.frames, r.span_s
    );
    if r.findings.is_empty() {
        println!("\nNo problem found.");
    }
    for f in &r.findings {
        let tag = match f.severity {
            Severity::Problem => "problem",
            Severity::Notice => "notice",
        };
        let kind = serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        println!("\n{tag}: {kind} ({})", f.subject);
        println!("  seen:        {}", f.seen);
        println!("  cause:       {}", f.cause);
        println!("  consequence: {}", f.consequence);
        println!("  fix:         {}", f.fix);
    }
    if !r.notes.is_empty() {
        println!();
        for n in &r.notes {
            println!("note: {n}");
        }
    }
}
