//! The control socket's protocol, shared by nlbd and the `nlb` verbs.
//!
//! nlbd listens on the abstract Unix socket `@nlb/<interface>` of its network namespace
//! (one per interface: binding it is also how a second nlbd on the same interface is
//! refused) and answers root only. A client connects, writes one [`Request`] as a JSON
//! line, reads one [`Reply`] in its [`Envelope`] (the protocol version) as a JSON line, and
//! closes. Everything here is pure: the
//! daemon moves the bytes, this module decides what they mean.
//!
//! `protocol`'s types are what travels; `status`'s are what `nlb query` and `nlb
//! params` show, made from the state machine's snapshot and the configuration; and
//! `commands` turns requests into the state machine's commands (the rules a target
//! names, what a reload changes).

mod commands;
pub mod metrics;
mod protocol;
mod status;

pub use commands::{reload_plan, rule_for_port, select, ReloadError, RuleLookupError};
pub use protocol::{
    socket_name, Envelope, ParseTargetError, Reply, Request, Target, VersionMismatch,
    PROTOCOL_VERSION,
};
pub use status::{
    Convergences, DataplaneStats, HeartbeatCounters, MemberVipFrames, Params, PeerStatus,
    ReceptionProblem, RuleStatus, Status,
};

/// A configuration the tests of every part share.
#[cfg(test)]
mod testing {
    use crate::config::Config;

    /// A host with a multiple-host rule on two VIPs and a single-host rule.
    pub(super) const HOST: &str = r#"
[cluster]
name = "web"
vip = "198.51.100.10"
extra_vips = ["198.51.100.11"]
key_file = "web.key"

[[cluster.rule]]
name = "http"
ports = "80-443"
protocol = "tcp"

[[cluster.rule]]
name = "ssh"
ports = 22
filtering = "single"

[host]
id = 1
interface = "eth0"
"#;

    /// [`HOST`] with `extra` lines after it.
    pub(super) fn config(extra: &str) -> Config {
        Config::parse(std::path::Path::new("h.toml"), &format!("{HOST}{extra}")).unwrap()
    }
}
