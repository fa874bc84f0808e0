//! The data path's benchmark: the program under BPF_PROG_RUN for each kind of packet,
//! beside a program that only returns XDP_PASS, measured in the same run.

use crate::packet::{self, tcp_flags, Fragment};
use crate::{ktime_now, Dataplane, Error, Macs, PassProgram, RunResult};
use nlb_core::config::Config;
use nlb_core::convergence::SlotState;
use nlb_core::mac::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

/// One case's figures.
#[derive(Clone, Debug)]
pub struct BenchCase {
    /// What was sent.
    pub name: &'static str,
    /// The XDP action returned.
    pub action: u32,
    /// Median over rounds of the mean time per run, in nanoseconds.
    pub median_ns: f64,
    /// Median over rounds of the ratio of this case's time to the XDP_PASS program's,
    /// measured just before it (this machine's speed drifts between rounds: each ratio
    /// compares neighbours).
    pub ratio: f64,
}

const CONFIG: &str = r#"
[cluster]
name = "bench"
vip = "198.51.100.10"
extra_vips = ["2001:db8::10"]
key_file = "k"
[[cluster.rule]]
ports = 80
protocol = "tcp"
affinity = "none"
[[cluster.rule]]
ports = 53
protocol = "udp"
[host]
id = 1
interface = "eth0"
"#;

/// Runs `repeat` times and measures the thread's CPU time over the whole call: the
/// kernel reports its mean in whole nanoseconds, too coarse for programs of 20 to 50 ns
/// (one step is 2 to 5%), while a million repetitions make the system call's own cost a
/// few picoseconds per run. CPU time, not wall time: on a shared machine the thread
/// waits for a CPU between repetitions, which is no time of the program's.
fn timed(run: impl FnOnce() -> Result<RunResult, Error>, repeat: u32) -> Result<(u32, f64), Error> {
    let start = thread_cpu_time();
    let r = run()?;
    let spent = thread_cpu_time().saturating_sub(start);
    Ok((
        r.action,
        spent.as_secs_f64() * 1e9 / f64::from(repeat.max(1)),
    ))
}

fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs every case `rounds` times with `repeat` repetitions each.
pub fn run(repeat: u32, rounds: usize) -> Result<Vec<BenchCase>, Error> {
    let cluster = Config::parse(Path::new("bench.toml"), CONFIG)
        .expect("valid")
        .cluster;
    let mut dp = Dataplane::load(&cluster)?;
    let cluster_mac = [0x01, 0x00, 0x5e, 0x7f, 0x64, 0x0a];
    dp.set_macs(Macs {
        cluster: MacAddr(cluster_mac),
        cluster6: MacAddr(cluster_mac),
        own: MacAddr([2, 0, 0, 0, 0, 1]),
        tx: MacAddr([2, 0, 0, 0, 0, 1]),
    })?;
    dp.set_lease_deadline(ktime_now() + Duration::from_secs(3600))?;
    let pass = PassProgram::load()?;

    let vip = Ipv4Addr::new(198, 51, 100, 10);
    let client = Ipv4Addr::new(203, 0, 113, 7);
    let vip6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
    let client6 = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 7);
    // Half of the web rule's slots are ours: port 1000's and not port 2000's, say.
    let states: Vec<SlotState> = (0..cluster.table_size)
        .map(|s| {
            if s % 2 == 0 {
                SlotState::Owned
            } else {
                SlotState::NotOwned
            }
        })
        .collect();
    dp.set_slots(0, &states)?;
    dp.set_slots(1, &vec![SlotState::Owned; cluster.table_size as usize])?;
    dp.set_slots(cluster.rules.len(), &[SlotState::Owned])?;
    let slot = |client: IpAddr, vip: IpAddr, port: u16| {
        let flow = nlb_core::classify::Flow {
            vip,
            transport: nlb_core::rules::Transport::Tcp,
            client,
            client_port: port,
            server_port: 80,
        };
        nlb_core::classify::locate(&cluster, &flow)
            .expect("to the VIP")
            .1
    };
    // A TCP segment from the family's client to its VIP.
    let tcp = |v6: bool, port: u16, flags: u8| {
        if v6 {
            packet::tcp6(cluster_mac, client6, vip6, port, 80, flags)
        } else {
            packet::tcp(cluster_mac, client, vip, port, 80, flags)
        }
    };
    let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for v6 in [false, true] {
        let (c, v) = if v6 {
            (IpAddr::V6(client6), IpAddr::V6(vip6))
        } else {
            (IpAddr::V4(client), IpAddr::V4(vip))
        };
        let slot = |port| slot(c, v, port);
        let owned_port = (1024..u16::MAX)
            .find(|&p| slot(p) % 2 == 0)
            .expect("a port");
        let foreign_port = (1024..u16::MAX)
            .find(|&p| slot(p) % 2 == 1)
            .expect("a port");
        // A connection held in a released slot: the case that consults the table.
        let released_port = (1024..u16::MAX)
            .find(|&p| slot(p) % 2 == 1 && p != foreign_port)
            .expect("a port");
        dp.set_slot(0, slot(released_port), SlotState::Owned)?;
        dp.test_run(&tcp(v6, released_port, tcp_flags::SYN), 1)?;
        dp.set_slot(0, slot(released_port), SlotState::ReleasedDraining)?;
        let (non_vip, udp) = if v6 {
            let other = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99);
            (
                packet::tcp6([2, 0, 0, 0, 0, 1], client6, other, owned_port, 80, 2),
                packet::udp6(cluster_mac, client6, vip6, 5353, 53, None),
            )
        } else {
            let other = Ipv4Addr::new(198, 51, 100, 99);
            (
                packet::tcp([2, 0, 0, 0, 0, 1], client, other, owned_port, 80, 2),
                packet::udp(cluster_mac, client, vip, 5353, 53, Fragment::default()),
            )
        };
        let name = |v4: &'static str, v6name: &'static str| if v6 { v6name } else { v4 };
        cases.extend([
            (name("non-VIP packet", "IPv6: non-VIP packet"), non_vip),
            (
                name(
                    "VIP packet, slot not owned",
                    "IPv6: VIP packet, slot not owned",
                ),
                tcp(v6, foreign_port, tcp_flags::SYN),
            ),
            (
                name(
                    "VIP packet, new flow owned (UDP)",
                    "IPv6: VIP packet, new flow owned (UDP)",
                ),
                udp,
            ),
            (
                name(
                    "VIP packet, new TCP connection (SYN), slot owned",
                    "IPv6: VIP packet, new TCP connection (SYN), slot owned",
                ),
                tcp(v6, owned_port, tcp_flags::SYN),
            ),
            (
                name(
                    "VIP packet, established, slot owned",
                    "IPv6: VIP packet, established, slot owned",
                ),
                tcp(v6, owned_port, tcp_flags::ACK),
            ),
            (
                name(
                    "VIP packet, established, slot released (table hit)",
                    "IPv6: VIP packet, established, slot released (table hit)",
                ),
                tcp(v6, released_port, tcp_flags::ACK),
            ),
        ]);
    }
    let baseline_frame = tcp(false, 1024, tcp_flags::ACK);
    let mut results = Vec::new();
    let mut baseline = Vec::new();
    let mut per_case: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut actions = vec![0; cases.len()];
    // Every case right after the baseline, round after round, so both programs see
    // the same machine.
    for _ in 0..rounds {
        for (i, (_, frame)) in cases.iter().enumerate() {
            let (_, base) = timed(|| pass.test_run(&baseline_frame, repeat), repeat)?;
            let (action, per_run) = timed(|| dp.test_run(frame, repeat), repeat)?;
            actions[i] = action;
            per_case[i].push(per_run);
            ratios[i].push(per_run / base.max(1e-3));
            baseline.push(base);
        }
    }
    results.push(BenchCase {
        name: "baseline: XDP_PASS only",
        action: 2,
        median_ns: median(baseline),
        ratio: 1.0,
    });
    for (i, (name, _)) in cases.iter().enumerate() {
        let mut r = std::mem::take(&mut ratios[i]);
        r.sort_by(f64::total_cmp);
        results.push(BenchCase {
            name,
            action: actions[i],
            median_ns: median(std::mem::take(&mut per_case[i])),
            ratio: r[r.len() / 2],
        });
    }
    // The kernel runs repetitions on one buffer, and an ARP request (a neighbour
    // solicitation) becomes a reply in it: time single runs instead, the baseline
    // likewise.
    let singles = (rounds * 2000).max(1000);
    let solicitations = [
        (
            "ARP request for the VIP, single runs",
            packet::arp_request([2, 0xaa, 0, 0, 0, 1], client, vip),
        ),
        (
            "IPv6: neighbour solicitation for the VIP, single runs",
            packet::neighbour_solicitation([2, 0xaa, 0, 0, 0, 1], client6, vip6),
        ),
    ];
    for (i, (name, frame)) in solicitations.iter().enumerate() {
        let mut times = Vec::with_capacity(singles);
        let mut base_times = Vec::with_capacity(singles);
        let mut action = 0;
        for _ in 0..singles {
            base_times.push(pass.test_run(frame, 1)?.per_run.as_secs_f64() * 1e9);
            let r = dp.test_run(frame, 1)?;
            action = r.action;
            times.push(r.per_run.as_secs_f64() * 1e9);
        }
        let (a, b) = (median(times), median(base_times));
        if i == 0 {
            results.push(BenchCase {
                name: "baseline: XDP_PASS only, single runs",
                action: 2,
                median_ns: b,
                ratio: 1.0,
            });
        }
        results.push(BenchCase {
            name,
            action,
            median_ns: a,
            ratio: a / b.max(1e-3),
        });
    }
    Ok(results)
}
