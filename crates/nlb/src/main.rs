//! `nlb`: the command-line interface of nlb, dispatcher-less network load balancing.

mod bench;
mod check;
mod ip2mac;
mod keygen;
mod output;
mod plan;
mod simulate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Dispatcher-less network load balancing for Linux, in the manner of Windows NLB.
///
/// Every host of a cluster receives every frame sent to the cluster's virtual IPs and
/// admits only the flows it owns; the hosts agree on ownership through authenticated
/// heartbeats. Each host has one TOML file: a [cluster] part shared by all hosts and a
/// [host] part of its own.
#[derive(Parser)]
#[command(name = "nlb", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the cluster MAC of every operation mode, and the IGMP group, for a VIP.
    ///
    /// Use it to configure switches and static ARP entries before choosing a mode:
    /// unicast 02-bf-W-X-Y-Z, multicast 03-bf-W-X-Y-Z, IGMP multicast
    /// 01-00-5e-7f-Y-Z with group 239.255.Y.Z (octets of the VIP W.X.Y.Z in hex).
    Ip2mac {
        /// The primary VIP of the cluster, e.g. 172.31.3.232.
        vip: String,
        /// Also print the masked source MAC this host id uses in unicast mode.
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u8).range(1..))]
        host: Option<u8>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Write a new cluster key file (32 random bytes as hex, mode 0600).
    ///
    /// Heartbeats are authenticated with a key derived from this file: every host of a
    /// cluster needs the same file, named by `key_file` in its configuration.
    Keygen {
        /// Where to write it.
        file: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show each host's share of every rule, and what moves when hosts leave.
    ///
    /// Given the files of all hosts, builds the ownership tables every host will build
    /// and prints each host's share per rule. With --without, also the fraction of
    /// slots (of flows) that change owner when those hosts leave.
    Plan {
        /// One configuration file per host.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Host ids to take out of the cluster.
        #[arg(long, value_name = "ID", num_args = 1.., value_parser = clap::value_parser!(u8).range(1..))]
        without: Vec<u8>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run one deterministic simulation of a whole cluster and check its invariants.
    ///
    /// Simulates N hosts running the real convergence state machine over a seeded
    /// network that loses, delays, duplicates and reorders frames and partitions hosts,
    /// with modelled client connections and, in the attack scenario, an attacker. Checks
    /// I1 (at most one host admits new flows in a slot), I2 (after a stable period every
    /// slot has exactly one owner), I3 (no established connection broken by a join,
    /// drainstop or weight change) and I4 (forged and replayed frames change nothing).
    /// Exits 1 on any violation and prints how to replay it: the same arguments always
    /// give the same run.
    Simulate {
        /// Number of hosts, 1..=64.
        #[arg(long, default_value_t = 5)]
        hosts: usize,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// churn, crash, partition, join, drain, flaky or attack.
        #[arg(long, default_value = "churn")]
        scenario: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (they report figures beside a baseline measured in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The XDP program under BPF_PROG_RUN for each kind of packet, beside an
    /// XDP_PASS-only program, with the ratio of each to it. Needs root.
    Xdp {
        /// Repetitions per BPF_PROG_RUN call.
        #[arg(long, default_value_t = 1_000_000)]
        repeat: u32,
        /// Rounds; the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate configuration files; given one per host, check them as a cluster.
    ///
    /// Each file is checked on its own (every error names file, line and field). With
    /// several files, also: identical [cluster] parts (the digest every host will
    /// advertise is printed), unique host ids, and unique handling priorities per
    /// single-host rule. Exits 1 when anything is wrong, listing every problem.
    Check {
        /// Configuration files, one per host.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ip2mac { vip, host, json } => ip2mac::run(&vip, host, json),
        Command::Keygen { file, force } => keygen::run(&file, force),
        Command::Config(ConfigCommand::Check { files, json }) => check::run(&files, json),
        Command::Plan {
            files,
            without,
            json,
        } => plan::run(&files, &without, json),
        Command::Simulate {
            hosts,
            seed,
            scenario,
            json,
        } => simulate::run_cmd(hosts, seed, &scenario, json),
        Command::Bench(BenchCommand::Xdp {
            repeat,
            rounds,
            json,
        }) => bench::run(repeat, rounds, json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
