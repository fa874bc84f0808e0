//! # nlb-dataplane
//!
//! nlb's XDP data path: the BPF program (`bpf/nlb_xdp.c`, compiled by clang in this
//! crate's build script), loaded with aya, and its maps, filled from the sans-IO core.
//! Every packet to a VIP is classified exactly as [`nlb_core::classify`] does and
//! admitted or dropped by this host's slot states, its connection table and its lease.

mod abi;
pub mod bench;
mod conntable;
pub mod lab_switch;
pub mod lab_team;
pub mod link_addr;
mod mapped;
pub mod packet;
pub mod pkt_type;
pub mod tc;

pub use abi::COUNTER_NAMES;
use abi::{affinity_byte, filtering_byte, slot_byte, Config, Fixed, PortRules, RuleRef, SlotChunk};
use abi::{MAX_VIPS, NLB_ABI_VERSION, SLOTS_PER_CHUNK};
use aya::maps::{Array, MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::{Ebpf, EbpfLoader};
use conntable::ConnTable;
pub use conntable::{ConnFlow, Connection, UNCONFIRMED_TIMEOUT};
use nlb_core::config::ClusterConfig;
use nlb_core::convergence::SlotState;
use nlb_core::mac::MacAddr;
use nlb_core::rules::{find_rule, Filtering, Transport};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The compiled data path program.
pub static XDP_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nlb_xdp.o"));
/// A program that passes every frame: the baseline of benchmarks.
pub static PASS_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pass.o"));

/// `PORTS` entries per VIP: one per server port.
const PORTS_PER_VIP: usize = 65536;

/// What can go wrong loading or driving the data path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused the program or a map (needs root / CAP_BPF).
    #[error("cannot load the BPF program: {0}")]
    Load(String),
    /// A map operation failed.
    #[error("BPF map operation failed: {0}")]
    Map(String),
    /// The configuration does not fit the data path.
    #[error("unsupported by the data path: {0}")]
    Unsupported(String),
    /// Attaching a program to an interface failed.
    #[error("cannot attach the program: {0}")]
    Attach(String),
}

fn map_err(e: impl fmt::Display) -> Error {
    Error::Map(e.to_string())
}

/// The MACs the program uses.
#[derive(Clone, Copy, Debug)]
pub struct Macs {
    /// The cluster MAC ARP answers with.
    pub cluster: MacAddr,
    /// The MAC neighbour discovery answers with for IPv6 VIPs (the cluster MAC but in
    /// IGMP-multicast mode, where it is the MLD group's).
    pub cluster6: MacAddr,
    /// This interface's own MAC: admitted group-addressed frames are re-addressed to it.
    pub own: MacAddr,
    /// Source MAC of frames the program sends (the masked MAC in unicast mode).
    pub tx: MacAddr,
}

/// The outcome of one BPF_PROG_RUN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// XDP action: 1 drop, 2 pass, 3 tx.
    pub action: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// Mean time per repetition, as the kernel measured it.
    pub per_run: Duration,
}

/// XDP_DROP.
pub const XDP_DROP: u32 = 1;
/// XDP_PASS.
pub const XDP_PASS: u32 = 2;
/// XDP_TX.
pub const XDP_TX: u32 = 3;

/// The XDP program `name` of a loaded object.
fn xdp_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp, Error> {
    ebpf.program_mut(name)
        .ok_or_else(|| Error::Load(format!("no {name} program in the object")))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| Error::Load(e.to_string()))
}

/// The data path of one cluster interface: a program this process loaded, or one a
/// previous nlbd left attached and handed off ([`Dataplane::adopt`]).
pub struct Dataplane {
    /// The loaded object, when this process loaded the program.
    ebpf: Option<Ebpf>,
    /// The program's maps by name.
    maps: std::collections::BTreeMap<String, aya::maps::Map>,
    config: Config,
    /// The program's `CONFIG`, mapped: the lease is renewed by one 8-byte store the
    /// program cannot see half done.
    config_mem: mapped::Mapped,
    rules: usize,
    conns: ConnTable,
}

/// Now on the clock `bpf_ktime_get_ns` reads (CLOCK_MONOTONIC).
pub fn ktime_now() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// 64 random bits from the kernel; a failure or a short read is an error (never a
/// predictable value).
fn random_u64() -> Result<u64, Error> {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()) {
        Ok(8) => Ok(u64::from_ne_bytes(b)),
        Ok(n) => Err(Error::Load(format!("getrandom: {n} of 8 bytes"))),
        Err(e) => Err(Error::Load(format!("getrandom: {e}"))),
    }
}

/// What the program holds fixed for `cluster` (its read-only `FIXED`), with the
/// connection table keyed by `conn_seed`.
fn fixed(cluster: &ClusterConfig, conn_seed: u64) -> Result<Fixed, Error> {
    let rules = cluster.rules.len();
    if rules >= u8::MAX as usize {
        return Err(Error::Unsupported(format!("{rules} port rules")));
    }
    let vips = program_vips(cluster);
    if vips.len() > MAX_VIPS {
        return Err(Error::Unsupported(format!(
            "{} VIPs; at most {MAX_VIPS}",
            vips.len()
        )));
    }
    let mut fixed = Fixed {
        seed: cluster.hash_seed,
        seed6: nlb_core::hash::seed6(cluster.hash_seed),
        conn_seed,
        table_size: cluster.table_size,
        chunks_per_rule: chunks_per_rule(cluster) as u32,
        nr_rules: rules as u32,
        abi_version: NLB_ABI_VERSION,
        unicast_mode: u32::from(cluster.mode == nlb_core::addressing::OperationMode::Unicast),
        ..Fixed::default()
    };
    for v in vips {
        match v {
            IpAddr::V4(a) => {
                fixed.vips4[fixed.vip4_count as usize] = u32::from_ne_bytes(a.octets());
                fixed.vip4_count += 1;
            }
            IpAddr::V6(a) => {
                let o = a.octets();
                fixed.vips6[fixed.vip6_count as usize] = [
                    u64::from_ne_bytes(o[..8].try_into().expect("8 bytes")),
                    u64::from_ne_bytes(o[8..].try_into().expect("8 bytes")),
                ];
                fixed.vip6_count += 1;
            }
        }
    }
    Ok(fixed)
}

/// The cluster's VIPs in the program's order (`PORTS`' index): IPv4 first, then IPv6,
/// each in the configuration's order.
fn program_vips(cluster: &ClusterConfig) -> Vec<IpAddr> {
    let mut vips: Vec<IpAddr> = cluster.vips().collect();
    vips.sort_by_key(IpAddr::is_ipv6);
    vips
}

/// How many 64-slot chunks one rule's slot table takes.
fn chunks_per_rule(cluster: &ClusterConfig) -> usize {
    (cluster.table_size as usize).div_ceil(SLOTS_PER_CHUNK)
}

/// The `MapData` of one of the program's array maps.
fn map_data<'a>(
    maps: &'a std::collections::BTreeMap<String, aya::maps::Map>,
    name: &str,
) -> Result<&'a MapData, Error> {
    match maps.get(name) {
        Some(aya::maps::Map::Array(data)) => Ok(data),
        _ => Err(Error::Load(format!(
            "the program has no array map {name}; not this version's data path"
        ))),
    }
}

/// The rule covering one (VIP, protocol, port) as the program wants it.
fn rule_ref(cluster: &ClusterConfig, vip: IpAddr, transport: Transport, port: u16) -> RuleRef {
    match find_rule(&cluster.rules, vip, transport, port) {
        None => RuleRef {
            rule: cluster.rules.len() as u8,
            // The default host's traffic: one slot.
            filtering: filtering_byte(Filtering::Single),
            ..RuleRef::default()
        },
        Some(i) => RuleRef {
            rule: i as u8,
            filtering: filtering_byte(cluster.rules[i].filtering),
            affinity: affinity_byte(cluster.rules[i].affinity),
            pad: 0,
        },
    }
}

/// Fills `PORTS` with the rule of every (VIP, protocol, server port), computed by the
/// core's own rule matching.
fn write_ports(map: &MapData, cluster: &ClusterConfig) -> Result<(), Error> {
    let vips = program_vips(cluster);
    let entries = vips.len() * PORTS_PER_VIP;
    let mem = mapped::Mapped::new::<PortRules>(map, entries)?;
    // SAFETY: the mapping holds `entries` PortRules (checked by Mapped::new), which are
    // plain data; the program is not attached yet, so nobody reads them meanwhile.
    let ports = unsafe { std::slice::from_raw_parts_mut(mem.ptr().cast::<PortRules>(), entries) };
    for (v, &vip) in vips.iter().enumerate() {
        for port in 0..=u16::MAX {
            ports[v * PORTS_PER_VIP + port as usize] = PortRules {
                tcp: rule_ref(cluster, vip, Transport::Tcp, port),
                udp: rule_ref(cluster, vip, Transport::Udp, port),
            };
        }
    }
    Ok(())
}

impl Dataplane {
    /// Loads the program (not attached) with maps sized for `cluster`.
    pub fn load(cluster: &ClusterConfig) -> Result<Self, Error> {
        let rules = cluster.rules.len();
        let fixed = fixed(cluster, random_u64()?)?;
        let entries = (rules + 1) * chunks_per_rule(cluster);
        let mut ebpf = EbpfLoader::new()
            .override_global("FIXED", &fixed, true)
            .map_max_entries("SLOTS", entries as u32)
            .map_max_entries(
                "PORTS",
                (fixed.vip4_count + fixed.vip6_count) * PORTS_PER_VIP as u32,
            )
            .load(XDP_OBJECT)
            .map_err(|e| Error::Load(e.to_string()))?;
        let prog = xdp_mut(&mut ebpf, "nlb_xdp")?;
        prog.load().map_err(|e| Error::Load(format!("{e:?}")))?;
        let config = Config {
            idle_timeout_ns: u64::from(cluster.conn_idle_timeout_s) * 1_000_000_000,
            fixed,
            ..Config::default()
        };
        let names: Vec<String> = ebpf.maps().map(|(n, _)| n.to_string()).collect();
        let maps: std::collections::BTreeMap<String, aya::maps::Map> = names
            .into_iter()
            .filter_map(|n| ebpf.take_map(&n).map(|m| (n, m)))
            .collect();
        write_ports(map_data(&maps, "PORTS")?, cluster)?;
        let conns = ConnTable::new(map_data(&maps, "CONNS")?)?;
        let config_mem = mapped::Mapped::new::<Config>(map_data(&maps, "CONFIG")?, 1)?;
        let mut dp = Dataplane {
            ebpf: Some(ebpf),
            maps,
            config,
            config_mem,
            rules,
            conns,
        };
        dp.write_config()?;
        Ok(dp)
    }

    /// Adopts the program with id `program_id` that a previous nlbd left attached, and
    /// its maps: the connection table, slot tables and lease go on as they are.
    /// Fails unless it is an nlb data path laid out for `cluster`.
    pub fn adopt(cluster: &ClusterConfig, program_id: u32) -> Result<Self, Error> {
        let info = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .find(|p| p.id() == program_id)
            .ok_or_else(|| Error::Load(format!("no program with id {program_id}")))?;
        if info.name_as_str() != Some("nlb_xdp") {
            return Err(Error::Load(format!(
                "program {program_id} is not nlb's data path"
            )));
        }
        let ids = info
            .map_ids()
            .map_err(|e| Error::Load(e.to_string()))?
            .unwrap_or_default();
        let mut maps = std::collections::BTreeMap::new();
        for id in ids {
            let data = MapData::from_id(id).map_err(map_err)?;
            let name = data
                .info()
                .map_err(map_err)?
                .name_as_str()
                .unwrap_or_default()
                .to_string();
            maps.insert(name, aya::maps::Map::from_map_data(data).map_err(map_err)?);
        }
        for needed in [
            "CONFIG",
            "PORTS",
            "SLOTS",
            "CONNS",
            "COUNTERS",
            "HB_SOURCES",
        ] {
            if !maps.contains_key(needed) {
                return Err(Error::Load(format!(
                    "program {program_id} has no {needed} map; not this version's data path"
                )));
            }
        }
        let config = {
            let map: Array<&MapData, Config> = Array::try_from(&maps["CONFIG"]).map_err(map_err)?;
            map.get(&0, 0).map_err(map_err)?
        };
        if config.fixed.abi_version != NLB_ABI_VERSION {
            return Err(Error::Load(format!(
                "program {program_id} speaks data path ABI {}, this nlbd {NLB_ABI_VERSION}",
                config.fixed.abi_version
            )));
        }
        if config.fixed != fixed(cluster, config.fixed.conn_seed)? {
            return Err(Error::Load(format!(
                "program {program_id} runs another cluster configuration"
            )));
        }
        let conns = ConnTable::new(map_data(&maps, "CONNS")?)?;
        let config_mem = mapped::Mapped::new::<Config>(map_data(&maps, "CONFIG")?, 1)?;
        Ok(Dataplane {
            ebpf: None,
            maps,
            config,
            config_mem,
            rules: cluster.rules.len(),
            conns,
        })
    }

    /// The kernel's id of the program (what a successor adopts).
    pub fn program_id(&self) -> Result<u32, Error> {
        let prog: &Xdp = self.program()?;
        Ok(prog.info().map_err(|e| Error::Load(e.to_string()))?.id())
    }

    fn program(&self) -> Result<&Xdp, Error> {
        self.ebpf
            .as_ref()
            .ok_or_else(|| Error::Load("the program was adopted, not loaded here".into()))?
            .program("nlb_xdp")
            .ok_or_else(|| Error::Load("program missing".into()))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| Error::Load(e.to_string()))
    }

    fn map(&self, name: &str) -> &aya::maps::Map {
        &self.maps[name]
    }

    fn map_mut(&mut self, name: &str) -> &mut aya::maps::Map {
        self.maps.get_mut(name).expect("a map of the program")
    }

    /// Writes the whole configuration. Only the fields that changed change, so the
    /// program never sees a field half written, except a field written on its own.
    fn write_config(&mut self) -> Result<(), Error> {
        // SAFETY: the mapping holds one Config (checked by Mapped::new); the program
        // only reads it.
        unsafe { std::ptr::write_volatile(self.config_mem.ptr().cast::<Config>(), self.config) };
        Ok(())
    }

    /// Sets the MACs the program uses.
    pub fn set_macs(&mut self, macs: Macs) -> Result<(), Error> {
        self.config.cluster_mac = macs.cluster.0;
        self.config.own_mac = macs.own.0;
        self.config.tx_mac = macs.tx.0;
        self.config.cluster_mac6 = macs.cluster6.0;
        self.write_config()
    }

    /// Sets the lease: no new flow is admitted once the kernel's monotonic clock
    /// reaches `deadline` (see [`ktime_now`]). The program reads the coarse clock
    /// (`bpf_ktime_get_coarse_ns`, a tick's resolution: 1..4 ms), far cheaper than the
    /// fine one; the lease's one-period margin covers the lag.
    pub fn set_lease_deadline(&mut self, deadline: Duration) -> Result<(), Error> {
        self.config.lease_deadline_ns = deadline.as_nanos() as u64;
        // SAFETY: an aligned u64 of the mapped Config (repr(C), offset 8), which the
        // program only reads.
        let lease = unsafe {
            std::sync::atomic::AtomicU64::from_ptr(
                self.config_mem
                    .ptr()
                    .add(std::mem::offset_of!(Config, lease_deadline_ns))
                    .cast(),
            )
        };
        lease.store(
            self.config.lease_deadline_ns,
            std::sync::atomic::Ordering::Release,
        );
        Ok(())
    }

    /// Writes a rule's slot states (`rule` equal to the rule count: the default host's
    /// traffic, one slot).
    pub fn set_slots(&mut self, rule: usize, states: &[SlotState]) -> Result<(), Error> {
        if rule > self.rules {
            return Err(Error::Unsupported(format!("rule {rule} of {}", self.rules)));
        }
        let chunks = self.config.fixed.chunks_per_rule as usize;
        let mut map: Array<&mut MapData, SlotChunk> =
            Array::try_from(self.map_mut("SLOTS")).map_err(map_err)?;
        for (c, part) in states.chunks(SLOTS_PER_CHUNK).enumerate().take(chunks) {
            let mut chunk = SlotChunk {
                state: [0; SLOTS_PER_CHUNK],
            };
            for (i, s) in part.iter().enumerate() {
                chunk.state[i] = slot_byte(*s);
            }
            map.set((rule * chunks + c) as u32, chunk, 0)
                .map_err(map_err)?;
        }
        Ok(())
    }

    /// Sets one slot's state.
    pub fn set_slot(&mut self, rule: usize, slot: u32, state: SlotState) -> Result<(), Error> {
        let chunks = self.config.fixed.chunks_per_rule as usize;
        let key = (rule * chunks + slot as usize / SLOTS_PER_CHUNK) as u32;
        let mut map: Array<&mut MapData, SlotChunk> =
            Array::try_from(self.map_mut("SLOTS")).map_err(map_err)?;
        let mut chunk = map.get(&key, 0).map_err(map_err)?;
        chunk.state[slot as usize % SLOTS_PER_CHUNK] = slot_byte(state);
        map.set(key, chunk, 0).map_err(map_err)
    }

    /// Connections in the connection table.
    pub fn connections(&self) -> Result<usize, Error> {
        Ok(self.conns.count())
    }

    /// The loaded program's file descriptor, for attaching it by other means (nlbd
    /// attaches through rtnetlink so the attachment outlives the process).
    pub fn program_fd(&self) -> Result<std::os::fd::RawFd, Error> {
        use std::os::fd::{AsFd, AsRawFd};
        let prog = self.program()?;
        Ok(prog
            .fd()
            .map_err(|e| Error::Load(e.to_string()))?
            .as_fd()
            .as_raw_fd())
    }

    /// Every connection in the connection table, idle ones included.
    pub fn connections_list(&self) -> Result<Vec<Connection>, Error> {
        Ok(self.conns.entries())
    }

    /// The connections this host still holds at `now`: the table less the entries the
    /// program counts as idle (it forgets them at their next packet).
    pub fn live_connections(&self, now: Duration) -> Vec<Connection> {
        let idle = Duration::from_nanos(self.config.idle_timeout_ns);
        let mut list = self.conns.entries();
        list.retain(|c| !c.idle(now, idle));
        list
    }

    /// Sets the time connections were last seen (tests use it to age them).
    pub fn touch(&mut self, connections: &[Connection], at: Duration) -> Result<(), Error> {
        self.conns.touch(connections, at);
        Ok(())
    }

    /// Lets every heartbeat-type frame from `src` through (an authenticated heartbeat
    /// came from it); others pass only within a small budget a second.
    pub fn trust_heartbeat_source(&mut self, src: MacAddr) -> Result<(), Error> {
        let mut key = [0u8; 8];
        key[..6].copy_from_slice(&src.0);
        let mut map: aya::maps::HashMap<&mut MapData, u64, u8> =
            aya::maps::HashMap::try_from(self.map_mut("HB_SOURCES")).map_err(map_err)?;
        map.insert(u64::from_ne_bytes(key), 1, 0).map_err(map_err)
    }

    /// Forgets every connection.
    pub fn clear_connections(&mut self) -> Result<(), Error> {
        self.conns.clear();
        Ok(())
    }

    /// Counters summed over CPUs, named as [`COUNTER_NAMES`].
    pub fn counters(&self) -> Result<Vec<(&'static str, u64)>, Error> {
        let map: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.map("COUNTERS")).map_err(map_err)?;
        COUNTER_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let per_cpu = map.get(&(i as u32), 0).map_err(map_err)?;
                Ok((*name, per_cpu.iter().sum()))
            })
            .collect()
    }

    /// Runs the program on one frame with BPF_PROG_RUN, `repeat` times.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<RunResult, Error> {
        run(
            self.ebpf.as_ref().and_then(|e| e.program("nlb_xdp")),
            frame,
            repeat,
        )
    }
}

fn run(
    prog: Option<&aya::programs::Program>,
    frame: &[u8],
    repeat: u32,
) -> Result<RunResult, Error> {
    let prog: &Xdp = prog
        .ok_or_else(|| Error::Load("program missing".into()))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| Error::Load(e.to_string()))?;
    test_run(prog, frame, repeat)
}

/// Runs any packet program (XDP or tc) on one frame with BPF_PROG_RUN, `repeat` times.
pub(crate) fn test_run<P>(prog: &P, frame: &[u8], repeat: u32) -> Result<RunResult, Error>
where
    P: for<'a> TestRun<Opts<'a> = TestRunOptions<'a>, Result = aya::programs::TestRunResult>,
{
    let mut out = vec![0u8; frame.len() + 256];
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    opts.data_out = Some(&mut out);
    opts.repeat = repeat;
    let r = prog
        .test_run(opts)
        .map_err(|e| Error::Load(format!("BPF_PROG_RUN: {e}")))?;
    out.truncate(r.data_size_out as usize);
    Ok(RunResult {
        action: r.return_value,
        frame: out,
        per_run: r.duration,
    })
}

/// The XDP_PASS-only baseline, loaded for benchmarks.
pub struct PassProgram {
    ebpf: Ebpf,
}

impl PassProgram {
    /// Loads it.
    pub fn load() -> Result<Self, Error> {
        let mut ebpf = Ebpf::load(PASS_OBJECT).map_err(|e| Error::Load(e.to_string()))?;
        let prog = xdp_mut(&mut ebpf, "xdp_pass")?;
        prog.load().map_err(|e| Error::Load(format!("{e:?}")))?;
        Ok(PassProgram { ebpf })
    }

    /// Runs it on one frame, `repeat` times.
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<RunResult, Error> {
        run(self.ebpf.program("xdp_pass"), frame, repeat)
    }
}
