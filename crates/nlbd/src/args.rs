//! nlbd's command line.

use clap::Parser;
use std::path::PathBuf;

/// nlb's daemon: makes this host a member of the cluster its configuration file names.
///
/// Loads the XDP program on the cluster interface, puts the VIPs on the loopback
/// interface, joins the cluster's multicast group, and exchanges authenticated
/// heartbeats with the other hosts. SIGTERM or SIGINT leaves the cluster and restores
/// everything it changed.
#[derive(Parser)]
#[command(name = "nlbd", version)]
pub struct Args {
    /// The host's configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Attach XDP in generic (skb) mode, for drivers without native XDP.
    #[arg(long)]
    pub generic_xdp: bool,
}
