//! Per-packet classification and table build, each beside a baseline measured in the
//! same run (the machines are shared and noisy: compare ratios, not absolute figures).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nlb_core::classify::{Flow, LiveHost, Ownership};
use nlb_core::config::Config;
use nlb_core::hash::{flow_hash, HashInput};
use nlb_core::host::HostId;
use nlb_core::rules::{Affinity, Transport};
use nlb_core::table::{OwnershipTable, Participant, DEFAULT_TABLE_SIZE};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

const CONFIG: &str = r#"
[cluster]
name = "bench"
vip = "198.51.100.10"
key_file = "k"
[[cluster.rule]]
ports = 22
protocol = "tcp"
filtering = "single"
[[cluster.rule]]
ports = 53
protocol = "udp"
[[cluster.rule]]
ports = "80-443"
protocol = "tcp"
affinity = "none"
[host]
id = 1
interface = "eth0"
"#;

fn flows(n: u32) -> Vec<Flow> {
    (0..n)
        .map(|i| Flow {
            vip: "198.51.100.10".parse().unwrap(),
            transport: Transport::Tcp,
            client: IpAddr::V4(Ipv4Addr::from(0xc612_0000 + i * 7919)),
            client_port: (1024 + i * 31) as u16,
            server_port: 80 + (i % 2) as u16 * 363,
        })
        .collect()
}

fn classify(c: &mut Criterion) {
    let cfg = Config::parse(Path::new("bench.toml"), CONFIG).unwrap();
    let live: Vec<LiveHost> = (1..=8)
        .map(|i| LiveHost::from_settings(HostId(i), &cfg.host.rules))
        .collect();
    let own = Ownership::build(&cfg.cluster, &live);
    let flows = flows(4096);
    let mut g = c.benchmark_group("per_packet");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("baseline_flow_hash_only", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for f in &flows {
                acc ^= flow_hash(7, &HashInput::new(Affinity::None, f.client, f.client_port));
            }
            black_box(acc)
        })
    });
    g.bench_function("classify_and_lookup", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for f in &flows {
                acc += own
                    .classify(&cfg.cluster, black_box(f))
                    .owner()
                    .map_or(0, |h| h.0 as u32);
            }
            black_box(acc)
        })
    });
    g.finish();
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("table_build_65537");
    g.sample_size(20);
    g.bench_function("baseline_fill_round_robin", |b| {
        b.iter(|| {
            let v: Vec<u8> = (0..DEFAULT_TABLE_SIZE)
                .map(|i| (i % 64) as u8 + 1)
                .collect();
            black_box(v)
        })
    });
    for n in [8u8, 32, 64] {
        let hosts: Vec<Participant> = (1..=n)
            .map(|h| Participant {
                host: HostId(h),
                weight: 50,
            })
            .collect();
        g.bench_with_input(
            BenchmarkId::new("maglev_weighted", n),
            &hosts,
            |b, hosts| {
                b.iter(|| black_box(OwnershipTable::build(DEFAULT_TABLE_SIZE, 11, 22, hosts)))
            },
        );
    }
    g.finish();
}

criterion_group!(benches, classify, build);
criterion_main!(benches);
