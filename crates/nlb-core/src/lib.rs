//! # nlb-core
//!
//! The sans-IO cluster model of nlb: everything the daemon, the CLI, the simulator and
//! the data path's tests must agree on, as pure code with no sockets, threads or clocks.
//!
//! - [`mac`] and [`addressing`]: cluster MACs and groups derived from the primary VIP
//!   exactly as Windows NLB derives them.
//! - [`config`]: per-host TOML configuration with precise errors, and cluster-wide checks.
//! - [`key`]: the cluster key file: what nlbd accepts, and fingerprints to compare hosts' keys.
//! - [`rules`] and [`host`]: port rules and per-host settings.
//! - [`hash`]: the keyed flow hash shared with the BPF program.
//! - [`table`]: weighted Maglev-style ownership tables.
//! - [`classify`]: which host owns a flow.
//! - [`convergence`] and [`wire`]: the heartbeat protocol and its state machine.
//! - [`control`]: the control socket protocol between nlbd and `nlb`.
//! - [`time`]: points in time on the clock nlbd and the simulator pass in.
//! - [`switch_config`]: the switch and router side of a cluster, per vendor.
//! - [`doctor`]: what `nlb doctor` finds in a capture, and pcap files as bytes.

pub mod addressing;
pub mod classify;
pub mod config;
pub mod control;
pub mod convergence;
pub mod doctor;
pub mod hash;
pub mod host;
pub mod key;
pub mod mac;
pub mod operator_state;
pub mod probe;
pub mod rules;
pub mod switch_config;
pub mod table;
pub mod time;
pub mod wire;
