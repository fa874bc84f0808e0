//! `nlb lab flood`: floods the lab's segment from one of its namespaces, as anyone on
//! a LAN can, to show that the cluster holds: TCP SYNs to the VIP from spoofed
//! clients, or junk frames of the heartbeat EtherType without the key. Each sender is
//! a thread writing frames through an AF_PACKET socket on the namespace's eth0 as fast
//! as the machine lets it, for a bounded time.

use super::{netns, Lab, PORT, VIP};
use crate::output::print_json;
use anyhow::{anyhow, bail, Context};
use nlb_core::addressing::{ClusterAddressing, OperationMode};
use nlb_core::mac::MacAddr;
use nlb_core::wire::ETHERTYPE;
use nlb_dataplane::link_addr::LinkAddr;
use nlb_sim::Rng;
use rustix::io::Errno;
use rustix::net::{
    self, AddressFamily, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketFlags, SocketType,
};
use serde::Serialize;
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What a flood sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FloodKind {
    /// TCP SYNs to the VIP's port 80 from random spoofed clients in 198.51.100.0/24
    /// (never an address the lab uses) and random ports, to the cluster MAC.
    Syn,
    /// Frames of the heartbeat EtherType (0x88b5) with random payloads of 60..=1500
    /// bytes from random unicast source MACs (never a member's), to the cluster MAC in
    /// the multicast modes (what reaches the hosts' NIC filters beside the broadcast
    /// heartbeats), broadcast in unicast mode.
    HeartbeatJunk,
}

/// Frames handed to the socket per `sendmmsg` call.
const BATCH: usize = 64;
/// Longest junk payload (a full Ethernet payload).
const JUNK_MAX: usize = 1500;
/// Shortest junk payload.
const JUNK_MIN: usize = 60;
/// Spoofed clients come from this /24.
const SPOOF_NET: [u8; 3] = [198, 51, 100];

/// What one sender did.
#[derive(Clone, Debug, Serialize)]
pub struct SenderReport {
    /// Frames the socket took.
    pub sent: u64,
    /// Frames the socket refused (ENOBUFS and the like); not counted as sent.
    pub refused: u64,
    /// Seconds it sent for.
    pub seconds: f64,
    /// sent / seconds.
    pub rate_per_s: f64,
}

/// What a flood did.
#[derive(Clone, Debug, Serialize)]
pub struct FloodReport {
    /// What was sent.
    pub kind: FloodKind,
    /// The namespace it was sent from.
    pub from: String,
    /// Where the frames went.
    pub destination: String,
    /// Per sender.
    pub senders: Vec<SenderReport>,
    /// Frames sent by all senders.
    pub sent: u64,
    /// All senders' frames per second (sum of their rates).
    pub rate_per_s: f64,
}

/// What every sender needs to build its frames.
#[derive(Clone)]
struct Plan {
    kind: FloodKind,
    dst: MacAddr,
    /// The sending interface's own MAC, the source of SYNs.
    src: MacAddr,
    /// Last octets of 198.51.100.x a spoofed client may use.
    spoofable: Vec<u8>,
    /// Source MACs junk must never use (the members').
    members: Vec<MacAddr>,
    span: Duration,
}

/// Floods lab `lab` from namespace role `from` (`client`, `h1`..) with `senders`
/// threads for `span`.
pub fn flood(
    lab: &Lab,
    kind: FloodKind,
    span: Duration,
    senders: usize,
    from: &str,
) -> anyhow::Result<FloodReport> {
    if matches!(from, "sw" | "switch") {
        bail!("flood from the client or a host (h1..), not the switch");
    }
    if senders == 0 || senders > 64 {
        bail!("--senders must be 1..=64");
    }
    let ns = lab.role_ns(from)?;
    let mode: OperationMode = lab
        .mode
        .parse()
        .map_err(|_| anyhow!("lab `{}` has an unknown mode `{}`", lab.name, lab.mode))?;
    let addressing = ClusterAddressing::new(IpAddr::V4(VIP))?;
    let cluster_mac = addressing.cluster_mac(mode);
    let dst = match (kind, mode) {
        (FloodKind::HeartbeatJunk, OperationMode::Unicast) => MacAddr::BROADCAST,
        _ => cluster_mac,
    };
    // The VIP and every address of the lab: its hosts (.11..) and the client (.200);
    // nor the network and broadcast addresses.
    let used = |x: u8| {
        x == 0 || x == 255 || x == 200 || (10..=10u16 + u16::from(lab.hosts)).contains(&x.into())
    };
    let spoofable = (1..=254u8).filter(|&x| !used(x)).collect();
    let mut members = Vec::new();
    for n in 1..=lab.hosts {
        if let Ok(mac) = eth0_mac(&lab.ns(&format!("h{n}"))) {
            members.push(mac);
        }
    }
    let plan = Plan {
        kind,
        dst,
        src: eth0_mac(&ns)?,
        spoofable,
        members,
        span,
    };
    let threads: Vec<_> = (0..senders)
        .map(|_| {
            let ns = ns.clone();
            let plan = plan.clone();
            std::thread::spawn(move || netns::run_in(&ns, move || send(&plan)))
        })
        .collect();
    let mut reports = Vec::new();
    for t in threads {
        let r = t
            .join()
            .map_err(|_| anyhow!("a flood sender panicked"))???;
        reports.push(r);
    }
    Ok(FloodReport {
        kind,
        from: ns,
        destination: dst.to_string(),
        sent: reports.iter().map(|r| r.sent).sum(),
        rate_per_s: reports.iter().map(|r| r.rate_per_s).sum(),
        senders: reports,
    })
}

/// The MAC of eth0 in namespace `ns`.
pub(super) fn eth0_mac(ns: &str) -> anyhow::Result<MacAddr> {
    let out = netns::output("ip", &["-n", ns, "-br", "link", "show", "eth0"])?;
    out.split_whitespace()
        .nth(2)
        .and_then(|m| m.parse().ok())
        .with_context(|| format!("no MAC for eth0 in {ns}: {out}"))
}

/// A raw socket on eth0 that only sends (protocol 0: it receives nothing).
pub(super) fn raw_socket() -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::PACKET,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let ifindex = net::netdevice::name_to_index(&fd, "eth0")?;
    net::bind(&fd, &LinkAddr::new(ifindex, 0))?;
    Ok(fd)
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(8) = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()) {
        u64::from_ne_bytes(b)
    } else {
        // Any seed does for junk.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    }
}

/// One's-complement sum of 16-bit words (an odd byte padded with zero).
fn sum16(bytes: &[u8], mut sum: u32) -> u32 {
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Length of a SYN frame: Ethernet, IPv4 and TCP headers, no options.
const SYN_LEN: usize = 14 + 20 + 20;

/// Writes a TCP SYN from `client:sport` to the VIP's service port into `f`, with
/// valid checksums, so that the hosts' stacks take it as a real client's.
fn syn_frame(
    f: &mut [u8; SYN_LEN],
    dst: MacAddr,
    src: MacAddr,
    client: Ipv4Addr,
    sport: u16,
    id: u16,
    seq: u32,
) {
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    ip[8] = 64;
    ip[9] = 6;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&client.octets());
    ip[16..20].copy_from_slice(&VIP.octets());
    let c = fold(sum16(ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let tcp = &mut f[34..54];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&PORT.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&[0; 4]);
    tcp[12] = 0x50;
    tcp[13] = nlb_dataplane::packet::tcp_flags::SYN;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    tcp[16..20].copy_from_slice(&[0; 4]);
    // Pseudo-header: addresses, protocol, TCP length.
    let mut sum = sum16(&client.octets(), 0);
    sum = sum16(&VIP.octets(), sum);
    sum += 6 + 20;
    let c = fold(sum16(tcp, sum));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
}

/// A random unicast, locally administered MAC that no member uses and that is not of
/// the cluster's family (`xx-xx-W-X-Y-Z`, the cluster MAC and the masked sources).
fn junk_source(rng: &mut Rng, members: &[MacAddr]) -> MacAddr {
    loop {
        let r = rng.next_u64().to_be_bytes();
        let mut m = [0u8; 6];
        m.copy_from_slice(&r[..6]);
        m[0] = (m[0] & 0xfe) | 0x02;
        let mac = MacAddr(m);
        if !members.contains(&mac) && m[2..6] != VIP.octets() {
            return mac;
        }
    }
}

/// One sender: frames as fast as the socket takes them until the span is over.
///
/// It runs at the idle scheduling class: in the lab the attacker shares its machine's
/// CPUs with the wire (the veths and the bridge, processed in softirq) and with the
/// hosts, which on a real LAN it would not. At a normal priority its threads take CPU
/// time from the softirq processing of everything on the wire, heartbeats included,
/// which is the lab starving itself, not a flood any host would see. Idle, it sends as
/// fast as the lab can carry (100,000+ frames/s per sender here) and the hosts
/// meet the flood as they would from another machine.
fn send(plan: &Plan) -> anyhow::Result<SenderReport> {
    let idle = libc::sched_param { sched_priority: 0 };
    // libc: rustix has no sched_setscheduler.
    // SAFETY: changes the scheduling class of this thread only (pid 0), with a valid
    // parameter block.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) } != 0 {
        return Err(io::Error::last_os_error()).context("setting the sender's scheduling class");
    }
    let fd = raw_socket().context("AF_PACKET socket on eth0")?;
    let mut rng = Rng::new(random_seed());
    // Junk payloads are windows into a random pool at random offsets.
    let pool: Vec<u8> = (0..(64 * 1024 + JUNK_MAX) / 8)
        .flat_map(|_| rng.next_u64().to_ne_bytes())
        .collect();
    let frame_len = match plan.kind {
        FloodKind::Syn => SYN_LEN,
        FloodKind::HeartbeatJunk => 14 + JUNK_MAX,
    };
    let mut frames = vec![0u8; BATCH * frame_len];
    let mut lens = [0usize; BATCH];
    let mut sent = 0u64;
    let mut refused = 0u64;
    let start = Instant::now();
    let mut id = 0u16;
    while start.elapsed() < plan.span {
        for (i, chunk) in frames.chunks_mut(frame_len).enumerate() {
            match plan.kind {
                FloodKind::Syn => {
                    let x = plan.spoofable[rng.below(plan.spoofable.len() as u64) as usize];
                    let client = Ipv4Addr::new(SPOOF_NET[0], SPOOF_NET[1], SPOOF_NET[2], x);
                    let r = rng.next_u64();
                    let sport = 1024 + (r % (65536 - 1024)) as u16;
                    id = id.wrapping_add(1);
                    let f: &mut [u8; SYN_LEN] = chunk.try_into().expect("SYN_LEN bytes");
                    syn_frame(f, plan.dst, plan.src, client, sport, id, (r >> 32) as u32);
                    lens[i] = SYN_LEN;
                }
                FloodKind::HeartbeatJunk => {
                    let len = rng.range(JUNK_MIN as u64, JUNK_MAX as u64) as usize;
                    let at = rng.below((pool.len() - JUNK_MAX) as u64) as usize;
                    let src = junk_source(&mut rng, &plan.members);
                    chunk[0..6].copy_from_slice(&plan.dst.0);
                    chunk[6..12].copy_from_slice(&src.0);
                    chunk[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
                    chunk[14..14 + len].copy_from_slice(&pool[at..at + len]);
                    lens[i] = 14 + len;
                }
            }
        }
        // One frame per message; no destination (the socket is bound), no control.
        let iov: Vec<IoSlice<'_>> = frames
            .chunks(frame_len)
            .zip(lens)
            .map(|(c, len)| IoSlice::new(&c[..len]))
            .collect();
        let mut control: Vec<SendAncillaryBuffer<'_, '_, '_>> =
            (0..BATCH).map(|_| SendAncillaryBuffer::default()).collect();
        let mut msgs: Vec<MMsgHdr<'_>> = iov
            .chunks(1)
            .zip(&mut control)
            .map(|(v, c)| MMsgHdr::new(v, c))
            .collect();
        let mut done = 0;
        while done < BATCH {
            match net::sendmmsg(&fd, &mut msgs[done..], SendFlags::empty()) {
                Ok(n) => {
                    sent += n as u64;
                    done += n;
                }
                Err(Errno::NOBUFS | Errno::AGAIN) => {
                    // This frame is lost; go on with the next.
                    refused += 1;
                    done += 1;
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(io::Error::from(e)).context("sending on eth0"),
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(SenderReport {
        sent,
        refused,
        seconds,
        rate_per_s: sent as f64 / seconds,
    })
}

/// `nlb lab flood`.
pub fn run(
    name: &str,
    kind: FloodKind,
    seconds: f64,
    senders: usize,
    from: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if !(seconds > 0.0 && seconds <= 3600.0) {
        bail!("--seconds must be more than 0 and at most 3600");
    }
    let lab = Lab::open(name)?;
    let report = flood(&lab, kind, Duration::from_secs_f64(seconds), senders, from)?;
    if json {
        print_json(&report);
        return Ok(ExitCode::SUCCESS);
    }
    let what = match kind {
        FloodKind::Syn => "TCP SYNs from spoofed 198.51.100.0/24 clients",
        FloodKind::HeartbeatJunk => "junk heartbeat-type frames (EtherType 0x88b5)",
    };
    println!(
        "{what} from {} to {}: {} frames, {:.0} frames/s",
        report.from, report.destination, report.sent, report.rate_per_s
    );
    for (i, s) in report.senders.iter().enumerate() {
        println!(
            "sender {}: {} frames in {:.1} s, {:.0} frames/s{}",
            i + 1,
            s.sent,
            s.seconds,
            s.rate_per_s,
            if s.refused > 0 {
                format!(" ({} refused by the socket)", s.refused)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_frames_carry_valid_checksums() {
        let mut f = [0u8; SYN_LEN];
        let client = Ipv4Addr::new(198, 51, 100, 77);
        syn_frame(
            &mut f,
            MacAddr([1, 0, 0x5e, 0x7f, 100, 10]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            client,
            40000,
            7,
            0xdead_beef,
        );
        // A header with its checksum in sums to 0xffff: its folded complement is 0.
        assert_eq!(fold(sum16(&f[14..34], 0)), 0);
        let mut pseudo = sum16(&client.octets(), 0);
        pseudo = sum16(&VIP.octets(), pseudo);
        pseudo += 6 + 20;
        assert_eq!(fold(sum16(&f[34..54], pseudo)), 0);
        assert_eq!(f[47], nlb_dataplane::packet::tcp_flags::SYN);
        assert_eq!(&f[36..38], &80u16.to_be_bytes());
    }

    #[test]
    fn junk_sources_are_unicast_and_never_a_member_or_of_the_cluster() {
        let mut rng = Rng::new(1);
        let member = MacAddr([2, 1, 198, 51, 100, 10]);
        for _ in 0..10_000 {
            let m = junk_source(&mut rng, &[member]);
            assert_eq!(m.0[0] & 1, 0, "{m}");
            assert_ne!(m, member);
            assert_ne!(m.0[2..6], VIP.octets());
        }
    }
}
