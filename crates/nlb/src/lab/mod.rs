//! `nlb lab`: a whole cluster in network namespaces on this machine, for demos,
//! teaching and tests.
//!
//! A lab named NAME is: namespace `nlb-NAME-sw` with bridge `br0` (IGMP snooping, a
//! querier, and in IGMP multicast mode the MAC-based snooping agent), host namespaces
//! `nlb-NAME-h1`... each running nlbd and the built-in service on TCP 80, and a client
//! namespace `nlb-NAME-c`. Its files (configurations, key, logs, pids) live in
//! `/run/nlb-lab/NAME`. Everything is found again from the name, so `nlb lab down`
//! also cleans up after a lab whose creator crashed.
//!
//! Here, what a lab is and how its parts are named; `topology` builds and removes
//! it, `hosts` runs its hosts' processes, `config` writes their configurations,
//! `cluster` asks their nlbd and sends traffic, `verbs` are the `nlb lab` verbs on a
//! lab that is up; beside them the tools (`bench`, `demo`, `failover`, `flood`) and
//! what runs inside the lab (`service`, `switch`).

pub mod bench;
mod cluster;
mod config;
pub mod demo;
pub mod failover;
pub mod flood;
mod hosts;
pub mod migrate;
pub mod netns;
pub mod service;
pub mod switch;
mod topology;
mod verbs;

pub use topology::{down, up};
pub use verbs::{capture, exec, handoff, kill, nic_team, print_tally, start, status, traffic};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// The VIP of every lab.
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// Every lab's second VIP, IPv6: the cluster serves both families side by side.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);

/// The lab's VIP of one family.
pub fn vip(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(VIP6)
    } else {
        IpAddr::V4(VIP)
    }
}
/// The service's port.
pub const PORT: u16 = 80;

/// What `nlb lab up` built, saved in the lab's directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lab {
    /// The lab's name.
    pub name: String,
    /// Number of hosts.
    pub hosts: u8,
    /// The operation mode.
    pub mode: String,
    /// Heartbeat period and loss tolerance, when not the defaults.
    #[serde(default)]
    pub timers: Option<(u32, u32)>,
    /// nlbd attaches XDP in native (driver) mode rather than generic mode.
    #[serde(default)]
    pub native_xdp: bool,
}

/// The directory of lab `name`: its description, configurations, key, logs and pids.
fn state_dir(name: &str) -> PathBuf {
    PathBuf::from("/run/nlb-lab").join(name)
}

impl Lab {
    /// The XDP mode, as `nlb lab bench` and `status` say it.
    pub fn xdp_mode(&self) -> &'static str {
        if self.native_xdp {
            "native XDP"
        } else {
            "generic XDP"
        }
    }

    /// The namespace of a role: `sw`, `c`, or `h<N>`.
    pub fn ns(&self, role: &str) -> String {
        format!("nlb-{}-{role}", self.name)
    }

    /// The lab's directory.
    pub fn dir(&self) -> PathBuf {
        state_dir(&self.name)
    }

    /// Loads the description of a lab that is up.
    pub fn open(name: &str) -> anyhow::Result<Lab> {
        let path = state_dir(name).join("lab.json");
        // Whatever stops the read, the message says what to do.
        let text = std::fs::read_to_string(&path).map_err(|_| {
            anyhow!(
                "no lab `{name}` is up (no {}); start one with `nlb lab up`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| path.display().to_string())
    }

    /// Host number from `h2`, `2` or `host2`.
    pub fn host(&self, name: &str) -> anyhow::Result<u8> {
        let n = name
            .trim_start_matches("host")
            .trim_start_matches('h')
            .parse::<u8>()
            .map_err(|_| anyhow!("`{name}` is not a host; use h1..h{}", self.hosts))?;
        if (1..=self.hosts).contains(&n) {
            Ok(n)
        } else {
            bail!("lab `{}` has hosts h1..h{}", self.name, self.hosts)
        }
    }

    /// The namespace of a host, the client (`c`, `client`) or the switch (`sw`).
    pub fn role_ns(&self, name: &str) -> anyhow::Result<String> {
        match name {
            "c" | "client" => Ok(self.ns("c")),
            "sw" | "switch" => Ok(self.ns("sw")),
            _ => Ok(self.ns(&format!("h{}", self.host(name)?))),
        }
    }
}

/// How `nlb lab kill` fails a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Failure {
    /// nlbd and the service die (SIGKILL).
    Crash,
    /// Only nlbd dies (SIGKILL); the service keeps running.
    Nlbd,
    /// The host's link goes down and its processes die.
    LinkDown,
}
