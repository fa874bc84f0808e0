//! Starting: the configuration read and checked, the control socket bound (refusing
//! a second nlbd on the interface), what an earlier nlbd left adopted (a fresh
//! hand-off) or undone, the data path installed, the heartbeat socket, multicast and
//! IGMP memberships set up, and the state machine made or resumed.

use crate::args::Args;
use crate::event_loop::{Daemon, FRAMES_PER_TURN};
use crate::events::EventLog;
use crate::signals::Signals;
use crate::state::{self, undo, Changes};
use crate::{control, install, link, link_monitor};
use anyhow::{anyhow, bail, Context};
use nlb_core::addressing::{FamilyAddressing, OperationMode};
use nlb_core::config::Config;
use nlb_core::convergence::Node;
use nlb_core::time::Time;
use nlb_dataplane::{ktime_now, packet, Dataplane, Macs};
use std::net::IpAddr;
use std::time::Duration;

/// Heartbeat-type frames from sources not yet authenticated that the XDP program lets
/// through a second, per CPU (`HB_UNKNOWN_PER_SEC` in bpf/nlb_xdp.c). They come in a
/// burst when each CPU's second starts.
const UNKNOWN_PER_SEC_PER_CPU: usize = 200;

/// Receive buffer per frame it must hold: a full-size frame's skb (truesize), with room.
const BUFFER_PER_FRAME: usize = 4096;

/// The heartbeat socket's receive buffer: room for one second's budget of frames from
/// unknown sources on every CPU at once, and for a turn's worth of members' heartbeats
/// besides, so that a flood's burst never fills it ahead of a member's heartbeat. (The
/// default, about 200 KiB, held half of a 2-CPU burst: the rest was dropped, and so
/// would be a member's heartbeat arriving then.)
fn receive_buffer() -> usize {
    // libc: rustix has no sysconf(_SC_NPROCESSORS_CONF) (std's available_parallelism
    // counts the CPUs this process may run on, not those the program runs on).
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.clamp(1, 4096) as usize;
    ((cpus * UNKNOWN_PER_SEC_PER_CPU + FRAMES_PER_TURN) * BUFFER_PER_FRAME).min(64 << 20)
}

/// 64 random bits from the kernel; a failure or a short read is an error (never a
/// predictable value).
fn random_u64() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    let n = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
        .map_err(std::io::Error::from)
        .context("reading random bytes (getrandom)")?;
    if n != b.len() {
        bail!("reading random bytes (getrandom): {n} of 8 bytes");
    }
    Ok(u64::from_ne_bytes(b))
}

/// Starts the daemon: every change it makes to the host is recorded before it is
/// made, and undone if starting fails.
pub fn start(args: &Args) -> anyhow::Result<Daemon> {
    let mut log = EventLog::default();
    // Starting is a membership change: the first commit is timed from here.
    log.note_membership_change(ktime_now());
    // Everything nlbd refuses in a configuration (the key file included) is refused
    // here, by the same code `nlb config check` runs, with every problem listed.
    let (config, key) = Config::load_with_key(&args.config).map_err(|e| {
        anyhow!(
            "{} has {} problem(s); nothing was changed:\n{e}",
            args.config.display(),
            e.0.len()
        )
    })?;
    let key = key.heartbeat_key();
    // The cluster part never changes while nlbd runs (a reload refuses to).
    let cluster = &config.cluster.clone();
    let iface = &config.host.interface.clone();
    // First, before changing anything: refuse if another nlbd serves this interface.
    let control = control::ControlSocket::bind(iface)?;
    let vips: Vec<IpAddr> = cluster.vips().collect();
    let ifindex = link::ifindex(iface)
        .with_context(|| format!("interface {iface} (from {})", config.path.display()))?;
    let lo_index = link::ifindex("lo")?;
    let addressing = FamilyAddressing::new(cluster.mode, &vips);
    // What ARP answers (IPv4) and neighbour discovery (IPv6): one MAC but in
    // IGMP-multicast mode with both families.
    let cluster_mac = addressing
        .v4_mac
        .or(addressing.v6_mac)
        .expect("a cluster has a VIP");
    let cluster_mac6 = addressing.v6_mac.unwrap_or(cluster_mac);
    let unicast = cluster.mode == OperationMode::Unicast;
    let period = Duration::from_millis(cluster.heartbeat_period_ms.into());
    let loss_window = period * cluster.loss_tolerance;
    // What an earlier nlbd left: a data path handed off to us, adopted if it is fresh
    // and fits; anything else (a crash, a stale or unfitting hand-off) is undone first.
    let mut adopted = None;
    if let Some(mut left) = state::leftover(iface) {
        if let Some(h) = left.handoff.take() {
            let tx = link::mac(iface).with_context(|| iface.clone())?;
            match adopt(&config, key, &h, tx, loss_window) {
                Ok((dp, node)) => {
                    log.info(
                        ktime_now(),
                        format!(
                            "adopted the data path handed off {} ms ago (program {})",
                            ktime_now().saturating_sub(h.at).as_millis(),
                            h.program_id
                        ),
                    );
                    adopted = Some((dp, node, left.clone(), h.program_id));
                }
                Err(why) => log.warn(
                    ktime_now(),
                    format!("not adopting the data path left on {iface}: {why}"),
                ),
            }
        }
        if adopted.is_none() {
            log.info(
                ktime_now(),
                format!(
                    "undoing what an nlbd that did not stop cleanly left on {iface}: {}",
                    serde_json::to_string(&left).unwrap_or_default()
                ),
            );
            undo(iface, ifindex, lo_index, &left);
            state::remove(iface);
        }
    }
    // nlbd puts the VIPs on lo itself; one already on another interface would make
    // this host's kernel answer ARP for it with its own MAC.
    for v in &vips {
        let holders = link::interfaces_with(*v, "lo");
        if !holders.is_empty() {
            bail!(
                "VIP {v} (from {}) is already assigned to {}; nlbd adds the VIPs to lo \
                 itself: remove it there (ip addr del {v}/... dev {})",
                config.path.display(),
                holders.join(", "),
                holders[0]
            );
        }
    }
    let nic_mac = link::mac(iface).with_context(|| iface.clone())?;
    // In every mode the NIC keeps its own MAC and frames leave with it (unicast mode
    // receives the cluster MAC beside it: see install).
    let (own_mac, tx_mac) = (nic_mac, nic_mac);

    let signals = Signals::register()?;

    let mut changes = Changes {
        interface: iface.clone(),
        ifindex,
        lo_index,
        changed: state::Changed::default(),
    };
    let (dp, resumed, program_id) = match adopted {
        Some((dp, node, changed, program_id)) => {
            // Everything the predecessor changed is ours to undo now.
            changes.changed = changed;
            changes.record(|c| c.handoff = None)?;
            (dp, Some(node), program_id)
        }
        None => {
            let dp = install::install(
                &install::Host {
                    cluster,
                    iface,
                    ifindex,
                    lo_index,
                    vips: &vips,
                    macs: Macs {
                        cluster: cluster_mac,
                        cluster6: cluster_mac6,
                        own: own_mac,
                        tx: tx_mac,
                    },
                    nic_mac,
                    generic_xdp: args.generic_xdp,
                },
                &mut changes,
                &mut log,
            )?;
            let program_id = dp.program_id()?;
            (dp, None, program_id)
        }
    };
    let socket = link::HeartbeatSocket::open(ifindex)
        .with_context(|| format!("heartbeat socket on {iface}"))?;
    if let Err(e) = socket.set_receive_buffer(receive_buffer()) {
        log.warn(
            ktime_now(),
            format!(
                "enlarging the heartbeat socket's buffer to {} KiB: {e}; a flood of \
                 heartbeat-type frames may crowd members' heartbeats out of it",
                receive_buffer() >> 10
            ),
        );
    }
    if !unicast {
        for mac in addressing.macs() {
            socket
                .add_multicast(mac)
                .with_context(|| format!("multicast filter of {iface}"))?;
        }
    }
    let groups: Vec<IpAddr> = addressing
        .groups
        .iter()
        .copied()
        .chain(vips.iter().filter_map(|v| match v {
            IpAddr::V6(v) => Some(IpAddr::V6(packet::solicited_node(*v).0)),
            IpAddr::V4(_) => None,
        }))
        .collect();
    let groups = link::GroupMemberships::join(groups.clone(), ifindex).with_context(|| {
        format!(
            "joining {} on {iface}",
            groups
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;

    let now = ktime_now();
    let (node, operator) = match resumed {
        Some(node) => {
            let keeper = crate::operator::Keeper::adopt(&config, &node);
            (node, keeper)
        }
        // The incarnation nonce is random: no clock grows across restarts for sure (a
        // VM restored from a snapshot, a host without an RTC, NTP stepping back).
        None => {
            let mut node = Node::new(
                &config,
                key,
                random_u64()?,
                random_u64()? >> 2,
                tx_mac,
                Time::from_duration(now),
            );
            // What an operator set before the restart wins over the initial state.
            let keeper = crate::operator::Keeper::restore(
                &config,
                &mut node,
                Time::from_duration(now),
                &mut log,
            );
            (node, keeper)
        }
    };
    log.info(
        ktime_now(),
        format!(
            "host {} on {iface}: cluster `{}` ({}, {}), cluster MAC {}{}",
            config.host.id,
            cluster.name,
            cluster.vip,
            cluster.mode,
            cluster_mac,
            if cluster_mac6 == cluster_mac || addressing.v4_mac.is_none() {
                String::new()
            } else {
                format!(" (IPv6 VIPs: {cluster_mac6})")
            }
        ),
    );

    let metrics = config.host.metrics.and_then(|addr| {
        match crate::metrics::MetricsServer::start(addr) {
            Ok(m) => {
                log.info(
                    ktime_now(),
                    format!("serving Prometheus metrics on http://{addr}/metrics"),
                );
                Some(m)
            }
            // The cluster's traffic does not depend on it: say so and serve without.
            Err(e) => {
                log.warn(ktime_now(), format!("{e:#}; running without metrics"));
                None
            }
        }
    });
    let monitor = link_monitor::LinkMonitor::open(ifindex)
        .with_context(|| format!("watching {iface}'s link through rtnetlink"))?;

    Ok(Daemon {
        log,
        config,
        control,
        vips,
        cluster_mac,
        cluster_mac6,
        tx_mac,
        signals,
        changes,
        dp,
        program_id,
        socket,
        groups,
        probes: crate::probes::ProbeResponder::new(key),
        operator,
        metrics,
        node,
        monitor,
    })
}

/// Adopts a data path and state machine a predecessor handed off.
fn adopt(
    config: &Config,
    key: [u8; 32],
    h: &state::HandOffRecord,
    tx: nlb_core::mac::MacAddr,
    loss_window: Duration,
) -> anyhow::Result<(Dataplane, Node)> {
    let age = ktime_now().saturating_sub(h.at);
    if age >= loss_window {
        bail!(
            "it was handed off {} ms ago, beyond the loss window ({} ms): its peers have \
             taken its slots over",
            age.as_millis(),
            loss_window.as_millis()
        );
    }
    let dp = Dataplane::adopt(&config.cluster, h.program_id)?;
    let node = Node::resume(
        config,
        key,
        h.node.clone(),
        tx,
        Time::from_duration(ktime_now()),
    )?;
    Ok((dp, node))
}
