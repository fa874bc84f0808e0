//! The command line: every verb and option of `nlb`, as clap parses them and as the
//! help, the man pages and the shell completions show them.

use crate::lab;
use clap::{Args, Parser, Subcommand};
use nlb_core::control::Target;
use std::path::PathBuf;

/// Dispatcher-less network load balancing for Linux, in the manner of Windows NLB.
///
/// Every host of a cluster receives every frame sent to the cluster's virtual IPs and
/// admits only the flows it owns; the hosts agree on ownership through authenticated
/// heartbeats. Each host has one TOML file: a [cluster] part shared by all hosts and a
/// [host] part of its own.
#[derive(Parser)]
#[command(name = "nlb", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every control verb.
#[derive(Args)]
pub struct VerbOptions {
    /// The cluster interface of the nlbd to ask (needed only when several run).
    #[arg(long, short = 'i', value_name = "IF")]
    pub interface: Option<String>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show this host's state and the cluster's members, as nlb.exe query does.
    ///
    /// States carry Windows NLB's names: Converging, Converged, Converged as DEFAULT,
    /// Draining, Stopped, Suspended. Then each port rule with this host's state, weight
    /// and share of the rule's flows. Talks to nlbd over its control socket (root).
    #[command(display_order = 1)]
    Query {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Show parameters, state, rules, peers and counters (heartbeats and data path).
    #[command(display_order = 1)]
    Display {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Show the configuration this host runs with.
    #[command(display_order = 1)]
    Params {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Join the cluster (start cluster operations on this host).
    #[command(display_order = 1)]
    Start {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Leave the cluster at once; this host's open connections break.
    #[command(display_order = 1)]
    Stop {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Take no new flows, serve open connections to their end, then stop.
    #[command(display_order = 1)]
    Drainstop {
        /// Wait, showing the connections left, until the host has stopped.
        #[arg(long)]
        wait: bool,
        /// Stop after SECS even if connections remain (they are dropped). Without it
        /// the host waits for its last connection however long it lives, as Windows
        /// NLB's drainstop does.
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Stop, and ignore every control verb but resume.
    #[command(display_order = 1)]
    Suspend {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Accept control verbs again after suspend (the host stays stopped until start).
    #[command(display_order = 1)]
    Resume {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Take part in port rules again: `all`, `PORT` or `VIP:PORT`.
    #[command(display_order = 1)]
    Enable {
        /// all, PORT or VIP:PORT: the rules covering it.
        target: Target,
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Drop all traffic of port rules on this host (its connections break).
    #[command(display_order = 1)]
    Disable {
        /// all, PORT or VIP:PORT: the rules covering it.
        target: Target,
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Take no new flows of port rules on this host; serve open connections to their end.
    #[command(display_order = 1)]
    Drain {
        /// all, PORT or VIP:PORT: the rules covering it.
        target: Target,
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Show the state of the port rule covering PORT or VIP:PORT on this host.
    #[command(display_order = 1)]
    Queryport {
        /// PORT or VIP:PORT.
        target: Target,
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Exit for an upgrade, leaving the data path running (also: SIGUSR2 to nlbd).
    ///
    /// nlbd records its state machine and leaves the XDP program, its maps and every
    /// host change in place. A new nlbd started within the loss window (heartbeat
    /// period × loss tolerance, 500 ms by default) adopts them and carries on as the
    /// same cluster member: peers notice nothing and no connection breaks. Later than
    /// that, the new nlbd undoes the leftovers and joins afresh.
    #[command(display_order = 1)]
    Handoff {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Re-read the configuration file and apply what can change without a restart.
    ///
    /// Load weights apply at once, moving flows without breaking connections. Changes
    /// that need a restart (the [cluster] part, host id, interface, handling priorities)
    /// are refused with the reason, and nothing changes.
    #[command(display_order = 1)]
    Reload {
        #[command(flatten)]
        options: VerbOptions,
    },
    /// Print the cluster MAC of every operation mode, and the IGMP group, for a VIP.
    ///
    /// Use it to configure switches and static ARP entries before choosing a mode:
    /// unicast 02-bf-W-X-Y-Z, multicast 03-bf-W-X-Y-Z, IGMP multicast
    /// 01-00-5e-7f-Y-Z with group 239.255.Y.Z (octets of the VIP W.X.Y.Z in hex).
    Ip2mac {
        /// The primary VIP of the cluster, e.g. 172.31.3.232.
        vip: String,
        /// Also print the masked source MAC this host id uses in unicast mode (id 191
        /// cannot be used there: its masked source MAC is the cluster MAC; exits 1).
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u8).range(1..))]
        host: Option<u8>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print the switch's (and the gateway router's) configuration for the cluster.
    ///
    /// Reads the hosts' configuration files (all must share one [cluster] part) and
    /// writes, for the cluster's mode, what the switch and router need, each command
    /// after a comment saying why:
    ///
    /// unicast: nothing (the switch floods frames to 02-bf-...; that is how every host
    /// receives them), and why a static MAC entry would break the cluster.
    ///
    /// multicast: static ARP for every VIP on the router (--router; RFC 1812 3.3.2: routers
    /// refuse a multicast MAC in ARP replies) and static MAC entries for 03-bf-... on the
    /// hosts' ports to stop the flooding (they cannot follow a live-migrated VM).
    ///
    /// igmp-multicast: static ARP as above, IGMP snooping and a querier (MLD for an IPv6
    /// VIP), the PowerConnect "bridge multicast group", and static entries for switches
    /// that snoop by IP.
    ///
    /// Without --vlan and --ports the output holds placeholders (<VLAN>, <PORT>) that its
    /// header lists. The linux-bridge and open-vswitch output is a shell script (set -e).
    /// Syntax is taken from each vendor's public documentation, cited in nlb's source;
    /// the output says where nlb could not check a command.
    SwitchConfig {
        /// One configuration file per host (one is enough).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The switch's or router's syntax.
        #[arg(long, value_enum)]
        vendor: VendorArg,
        /// The cluster's VLAN id.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4094))]
        vlan: Option<u16>,
        /// The hosts' switch ports, in the vendor's naming (Gi1/0/1, 1/1/3, ...): comma
        /// separated, or the option repeated.
        #[arg(long, value_name = "PORT,...", value_delimiter = ',')]
        ports: Vec<String>,
        /// Also write the gateway router's static ARP entries (multicast modes).
        #[arg(long)]
        router: bool,
        /// The bridge's name (linux-bridge, open-vswitch).
        #[arg(long, value_name = "NAME")]
        bridge: Option<String>,
        /// Print JSON for scripts: vendor, mode and every command with why.
        #[arg(long)]
        json: bool,
    },
    /// Diagnose the cluster's network: duplicate IPs, source MAC substitution,
    /// flooding, IGMP/MLD queriers, path MTU, host settings, and what nlbd says.
    ///
    /// Live (on a member, as root): asks nlbd, reads the host's settings, captures
    /// --seconds of traffic on the cluster interface while asking who has each VIP (ARP,
    /// neighbour solicitation), and probes the largest frame that passes to every
    /// member and back over the heartbeat channel. Offline: analyses a capture file
    /// (--pcap, classic pcap with Ethernet frames) taken anywhere, e.g. on a switch's
    /// mirror port; --config adds the cluster's mode and VIPs.
    ///
    /// Each finding says what was seen, the likely cause, its consequence and the fix.
    /// Exit status: 0 nothing wrong, 1 problems found, 2 could not run.
    Doctor(crate::doctor::Args),
    /// Write a new cluster key file (32 random bytes as hex, mode 0600).
    ///
    /// nlbd refuses a key file that group or others may read or write (as ssh refuses
    /// an unprotected private key); --force replaces a file with a new one of mode 0600.
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
        /// churn, crash, partition, join, drain, flaky, attack or handoff.
        #[arg(long, default_value = "churn")]
        scenario: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks (they report figures beside a baseline measured in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A whole cluster in network namespaces on this machine: demos, teaching, tests.
    ///
    /// `nlb lab up` builds a switch (a Linux bridge with IGMP snooping and a querier),
    /// hosts each running nlbd and a service that answers its host id on TCP 80, and a
    /// client; `nlb lab demo` shows the whole system in under a minute. Needs root.
    #[command(subcommand)]
    Lab(LabCommand),
    /// Print a shell completion script: `nlb completions bash > /etc/bash_completion.d/nlb`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write man pages (nlb.1 and one per subcommand) into a directory.
    Man {
        /// The directory, e.g. /usr/local/share/man/man1.
        #[arg(long, default_value = "man")]
        dir: PathBuf,
    },
}

/// The lab's name (namespaces are nlb-NAME-sw, nlb-NAME-h1..., nlb-NAME-c).
#[derive(Args)]
pub struct LabName {
    /// The lab's name, 1..=8 letters or digits.
    #[arg(long, default_value = "lab")]
    pub name: String,
}

#[derive(Subcommand)]
pub enum LabCommand {
    /// Build the lab and wait until its cluster has converged.
    Up {
        /// Number of hosts.
        #[arg(long, default_value_t = 3)]
        hosts: u8,
        /// unicast, multicast or igmp-multicast.
        #[arg(long, default_value = "igmp-multicast")]
        mode: String,
        /// Heartbeat period in ms (default: the configuration's default, 100).
        #[arg(long, value_name = "MS", requires = "loss_tolerance")]
        heartbeat_ms: Option<u32>,
        /// Missed periods before a host is lost (default 5).
        #[arg(long, value_name = "N", requires = "heartbeat_ms")]
        loss_tolerance: Option<u32>,
        /// Run nlb's XDP program in native (driver) mode, as on a NIC with XDP support,
        /// rather than generic mode; each host's switch port gets an XDP_PASS program so
        /// that the veth pair takes native XDP and delivers XDP_TX frames.
        #[arg(long)]
        native_xdp: bool,
        #[command(flatten)]
        name: LabName,
    },
    /// Each host's nlbd, state, members and share; the switch's group members.
    Status {
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run a command in a host's namespace (h1.., client, switch): `nlb lab exec h1 -- nlb query`.
    Exec {
        /// h1.., client or switch.
        host: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
        #[command(flatten)]
        name: LabName,
    },
    /// Fail a host: kill its nlbd and service with SIGKILL, as a crash would.
    Kill {
        /// h1..
        host: String,
        /// crash (nlbd and service), nlbd (nlbd only) or link-down (and the link).
        #[arg(long, value_enum, default_value = "crash")]
        how: lab::Failure,
        #[command(flatten)]
        name: LabName,
    },
    /// Start a host's nlbd and service again and wait until the cluster converged.
    Start {
        /// h1..
        host: String,
        /// Return at once instead of waiting for the cluster to converge.
        #[arg(long)]
        no_wait: bool,
        /// Run nlbd with its wall clock this far off (libfaketime syntax: -1h, +30m),
        /// as a VM restored from a snapshot; needs Debian's faketime package.
        #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
        wall_clock_offset: Option<String>,
        #[command(flatten)]
        name: LabName,
    },
    /// Hand a host's nlbd off to a new nlbd process (an upgrade), as fast as possible.
    Handoff {
        /// h1..
        host: String,
        #[command(flatten)]
        name: LabName,
    },
    /// Fail a host while the client keeps connecting; measure the failover gap.
    Failover {
        /// h1..
        host: String,
        /// crash (nlbd and service), nlbd (nlbd only) or link-down (and the link).
        #[arg(long, value_enum, default_value = "crash")]
        how: lab::Failure,
        /// Start a connection attempt every MS milliseconds (side by side, each with a
        /// 100 ms timeout): the measurement's resolution.
        #[arg(long, value_name = "MS", default_value_t = 2)]
        interval_ms: u64,
        /// Connect to the lab's IPv6 VIP (2001:db8::10) rather than its IPv4 one.
        #[arg(long)]
        ipv6: bool,
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Move hosts' switch ports to the lab's other switch at once, as a hypervisor's
    /// live migration of every VM does, while the client connects and holds connections
    /// open; reports recovery, resets, stalls, shares and who answers ARP.
    ///
    /// The first move adds the second switch (br1, joined to br0 by a trunk; br0's
    /// queries reach it over the trunk). Each port leaves its bridge (which forgets its
    /// MAC and group entries), stays down for the blackout and joins the other bridge.
    Migrate {
        /// The hosts to move (h1..); all when none is named.
        hosts: Vec<String>,
        /// How long each port stays down.
        #[arg(long, value_name = "MS", default_value_t = 300)]
        blackout_ms: u64,
        /// Send the hypervisor's RARP (EtherType 0x8035, source the VM NIC's MAC) from
        /// each port once it is back, below the host's qdisc (as from outside the guest).
        #[arg(long)]
        rarp: bool,
        /// Bring the ports back this far apart, one after another (0: all at once).
        #[arg(long, value_name = "MS", default_value_t = 0)]
        out_of_phase_ms: u64,
        /// Connections the client holds open across the move.
        #[arg(long, default_value_t = 20)]
        held: usize,
        /// Start a new connection every MS milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 20)]
        interval_ms: u64,
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Connections from the client to the VIP: how many each host served, and failures.
    Traffic {
        /// Number of connections, one after another.
        #[arg(long, default_value_t = 300)]
        connections: usize,
        /// To the lab's IPv6 VIP (2001:db8::10) rather than its IPv4 one.
        #[arg(long)]
        ipv6: bool,
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// TCP request/response through the VIP beside the same service reached directly.
    ///
    /// Exchanges per second over one connection, and new connections per second, from
    /// the client to the VIP and to host 1's own address (198.51.100.11), in the same
    /// run with rounds interleaved; medians and their ratio.
    Bench {
        /// Rounds; the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Length of each measurement, in ms.
        #[arg(long, default_value_t = 1000)]
        span_ms: u64,
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Flood the lab's segment as an attacker on the LAN would, for a bounded time.
    ///
    /// Each sender is a thread writing frames through an AF_PACKET socket on eth0 of
    /// the namespace given by --from, as fast as the machine lets it; the report gives
    /// the frames sent and the rate reached. `syn`: TCP SYNs to the VIP's port 80 from
    /// random spoofed clients in 198.51.100.0/24 (never the VIP nor an address of the
    /// lab) and random ports, sent to the cluster MAC, so every host receives them as it
    /// receives real clients. `heartbeat-junk`: frames of the heartbeat EtherType
    /// (0x88b5) without the key, random payloads of 60..=1500 bytes from random unicast
    /// source MACs (never a member's), sent where heartbeats go (broadcast in unicast
    /// mode, else the cluster MAC). Watch `nlb lab exec h1 -- nlb display` meanwhile:
    /// the cluster should neither change membership nor let a lease lapse
    /// (`drop_fenced`), and the data path drops the junk (`drop_heartbeat_unknown`).
    Flood {
        /// syn or heartbeat-junk.
        #[arg(long, value_enum)]
        kind: lab::flood::FloodKind,
        /// How long to flood; the senders stop by themselves after it.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Sender threads sending at once.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// Where to send from: client or a host (h1..).
        #[arg(long, default_value = "client")]
        from: String,
        #[command(flatten)]
        name: LabName,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove the lab: namespaces, links, processes, files (also after a crash).
    Down {
        #[command(flatten)]
        name: LabName,
    },
    /// Up, query, traffic, a host killed and the failover measured, restart, traffic, down.
    Demo {
        /// Number of hosts.
        #[arg(long, default_value_t = 3)]
        hosts: u8,
        /// unicast, multicast or igmp-multicast.
        #[arg(long, default_value = "igmp-multicast")]
        mode: String,
        /// The lab's name.
        #[arg(long, default_value = "demo")]
        name: String,
    },
    /// The lab's service: answers `host ID` on accept and to every line (runs in a host).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        id: u8,
        #[arg(long, default_value_t = 80)]
        port: u16,
    },
    /// Make a host's frames leave with a second source MAC for half of its flows (those
    /// to a port with bit 1 set), as a hypervisor NIC team in switch-independent mode with
    /// dynamic load balancing does; --off takes it away.
    NicTeam {
        /// h1..
        host: String,
        /// The second NIC's MAC (default 02-00-00-00-0e-<host id>).
        #[arg(long, value_name = "MAC")]
        second_mac: Option<nlb_core::mac::MacAddr>,
        /// Remove it.
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        name: LabName,
    },
    /// Capture frames into a pcap file: at the switch (its bridge, promiscuous: what a
    /// mirror port sees), or on a host's or the client's eth0.
    Capture {
        /// sw (the switch), c (the client) or h1..
        #[arg(long, default_value = "sw")]
        on: String,
        /// Seconds of capture.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// The pcap file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        name: LabName,
    },
    /// The lab switch's MAC-based IGMP snooping agent (runs in the switch namespace).
    #[command(hide = true)]
    Switch {
        /// The cluster's VIPs (the first of each family derives its group).
        #[arg(long, required = true)]
        vip: Vec<std::net::IpAddr>,
        /// The prefix of the bridges' names (br0, br1, ...).
        #[arg(long, default_value = "br")]
        bridge: String,
    },
}

/// The vendors `nlb switch-config` writes for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum VendorArg {
    /// Cisco IOS and IOS-XE (Catalyst).
    CiscoIos,
    /// Cisco NX-OS (Nexus).
    CiscoNxos,
    /// Arista EOS.
    AristaEos,
    /// Juniper Junos (EX/QFX, set commands).
    Junos,
    /// Dell PowerConnect (54xx-era CLI).
    DellPowerconnect,
    /// Dell SmartFabric OS10.
    DellOs10,
    /// Linux bridge: a shell script of ip and bridge commands.
    LinuxBridge,
    /// Open vSwitch: a shell script of ovs-vsctl commands.
    OpenVswitch,
}

impl From<VendorArg> for nlb_core::switch_config::Vendor {
    fn from(v: VendorArg) -> Self {
        use nlb_core::switch_config::Vendor;
        match v {
            VendorArg::CiscoIos => Vendor::CiscoIos,
            VendorArg::CiscoNxos => Vendor::CiscoNxos,
            VendorArg::AristaEos => Vendor::AristaEos,
            VendorArg::Junos => Vendor::Junos,
            VendorArg::DellPowerconnect => Vendor::DellPowerconnect,
            VendorArg::DellOs10 => Vendor::DellOs10,
            VendorArg::LinuxBridge => Vendor::LinuxBridge,
            VendorArg::OpenVswitch => Vendor::OpenVswitch,
        }
    }
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The XDP program under BPF_PROG_RUN for each kind of packet, beside an
    /// XDP_PASS-only program run just before it, with the median ratio of each to it.
    /// Needs root.
    Xdp {
        /// Repetitions per BPF_PROG_RUN call.
        #[arg(long, default_value_t = 1_000_000)]
        repeat: u32,
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate configuration files; given one per host, check them as a cluster.
    ///
    /// Each file is checked on its own with the key file it names, refusing all that
    /// nlbd would refuse (every error names file, line and field). With several files,
    /// also: identical [cluster] parts (the digest every host will advertise is
    /// printed), unique host ids, unique handling priorities per single-host rule, and
    /// one cluster key (compared by fingerprints, which reveal nothing of the key).
    /// Exits 1 when anything is wrong, listing every problem.
    Check {
        /// Configuration files, one per host.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// Whether JSON was asked for: a failure is then printed as JSON too.
    pub fn json(&self) -> bool {
        match self {
            Command::Query { options }
            | Command::Display { options }
            | Command::Params { options }
            | Command::Start { options }
            | Command::Stop { options }
            | Command::Drainstop { options, .. }
            | Command::Suspend { options }
            | Command::Resume { options }
            | Command::Enable { options, .. }
            | Command::Disable { options, .. }
            | Command::Drain { options, .. }
            | Command::Queryport { options, .. }
            | Command::Handoff { options }
            | Command::Reload { options } => options.json,
            Command::Doctor(args) => args.json,
            Command::Ip2mac { json, .. }
            | Command::SwitchConfig { json, .. }
            | Command::Plan { json, .. }
            | Command::Simulate { json, .. }
            | Command::Config(ConfigCommand::Check { json, .. })
            | Command::Bench(BenchCommand::Xdp { json, .. })
            | Command::Lab(
                LabCommand::Status { json, .. }
                | LabCommand::Failover { json, .. }
                | LabCommand::Migrate { json, .. }
                | LabCommand::Traffic { json, .. }
                | LabCommand::Bench { json, .. }
                | LabCommand::Flood { json, .. },
            ) => *json,
            Command::Keygen { .. }
            | Command::Lab(_)
            | Command::Completions { .. }
            | Command::Man { .. } => false,
        }
    }
}
