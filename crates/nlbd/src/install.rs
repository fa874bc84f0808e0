//! Making this host a member's host: the data path on the cluster interface (first,
//! failing closed), the sysctls that keep the kernel from answering ARP for the VIPs,
//! the VIPs on lo, and in unicast mode the masked cluster MAC. Each change is recorded
//! before it is made, so that a crash in between can be undone at the next start.

use crate::events::EventLog;
use crate::netlink;
use crate::state::Changes;
use anyhow::Context;
use netlink_packet_route::link::InfoKind;
use nlb_core::config::ClusterConfig;
use nlb_core::mac::MacAddr;
use nlb_dataplane::pkt_type::PacketTypeFix;
use nlb_dataplane::{ktime_now, Dataplane, Macs};
use std::net::IpAddr;
use std::time::Duration;

/// The queue per unresolved neighbour on the cluster interface: a few full-size frames
/// (the kernel counts each frame's buffer, about 2 KiB for a full one).
const UNRESOLVED_QUEUE_BYTES: &str = "8192";

/// What the installation needs to know of the host.
pub struct Host<'a> {
    /// The cluster part of the configuration.
    pub cluster: &'a ClusterConfig,
    /// The cluster interface.
    pub iface: &'a str,
    /// Its index.
    pub ifindex: u32,
    /// The index of lo, which gets the VIPs.
    pub lo_index: u32,
    /// The VIPs.
    pub vips: &'a [IpAddr],
    /// The MACs the data path uses.
    pub macs: Macs,
    /// The NIC's own MAC (unicast mode replaces it; the record keeps it).
    pub nic_mac: MacAddr,
    /// Attach XDP in generic mode.
    pub generic_xdp: bool,
}

/// Installs everything; returns the loaded and attached data path.
pub fn install(
    host: &Host,
    changes: &mut Changes,
    log: &mut EventLog,
) -> anyhow::Result<Dataplane> {
    let Host {
        cluster,
        iface,
        ifindex,
        lo_index,
        vips,
        macs,
        nic_mac,
        generic_xdp,
    } = *host;
    let cluster_mac = macs.cluster;
    let unicast = cluster.mode == nlb_core::addressing::OperationMode::Unicast;
    let mut dp = Dataplane::load(cluster)?;
    dp.set_macs(macs)?;
    dp.set_lease_deadline(Duration::ZERO)?;
    // The data path goes in first, failing closed (its lease is zero): from then on no
    // VIP frame reaches this host's stack unless this host owns its flow, so the
    // kernel never resets a connection that belongs to another host, however the
    // steps below interleave with traffic. Attached through rtnetlink, the attachment
    // belongs to the device and outlives us: if nlbd dies, the program keeps dropping
    // new flows once the lease passes.
    let xdp_flags = if generic_xdp {
        netlink::XDP_FLAGS_SKB_MODE
    } else {
        netlink::XDP_FLAGS_DRV_MODE
    };
    let prog_fd = dp.program_fd()?;
    changes.record(|c| c.xdp_flags = Some(xdp_flags))?;
    netlink::set_xdp(ifindex, prog_fd, xdp_flags).with_context(|| {
        format!(
            "attaching XDP to {iface} ({} mode)",
            if generic_xdp {
                "generic"
            } else {
                "native; try --generic-xdp"
            }
        )
    })?;

    if !generic_xdp && netlink::link_kind(ifindex)? == Some(InfoKind::Veth) {
        // veth runs native XDP on the skb it was handed: frames the program re-addressed
        // from a group MAC to this host would stay multicast to the stack, and TCP
        // would drop them (a NIC builds its skb after XDP and needs no such fix).
        let mut fix = PacketTypeFix::load(macs.own)?;
        changes.record(|c| c.pkt_type_fix = true)?;
        let added = fix
            .attach(iface)
            .with_context(|| format!("the packet type fix on veth {iface}"))?;
        changes.record(|c| c.clsact_added |= added)?;
    }

    // The kernel must neither answer ARP for the VIPs nor use them as ARP sources on
    // the cluster interface: the XDP program answers with the cluster MAC. (IPv6 needs
    // no such setting: Linux answers a neighbour solicitation only for addresses of
    // the interface it came in on, and the VIPs are on lo.)
    changes.set_sysctl(format!("/proc/sys/net/ipv4/conf/{iface}/arp_ignore"), "1")?;
    changes.set_sysctl(format!("/proc/sys/net/ipv4/conf/{iface}/arp_announce"), "2")?;
    // Replies to a client whose MAC is unknown wait in a queue per neighbour
    // while ARP resolves it. By default it holds 208 KiB: SYNs from spoofed
    // addresses of the cluster's own subnet fill one per address with SYN-ACKs,
    // and when resolution fails (every 3 s, for all of them at once) the kernel
    // frees them all in one timer run that nothing preempts, nlbd included: in
    // the lab, 100-200 ms every 3 s, enough to let leases lapse. A few frames
    // per neighbour are all a resolution needs (Linux queued 3 until 3.3).
    changes.set_sysctl(
        format!("/proc/sys/net/ipv4/neigh/{iface}/unres_qlen_bytes"),
        UNRESOLVED_QUEUE_BYTES,
    )?;
    for v in vips {
        changes.record(|c| c.vips.push(*v))?;
        netlink::address(lo_index, *v, true).with_context(|| format!("adding {v} to lo"))?;
    }
    if unicast {
        // The NIC keeps its own MAC, which every frame it sends carries (so no switch
        // ever learns the cluster MAC, and a hypervisor that announces the VM's MAC
        // after a migration announces a harmless one), and receives the cluster MAC
        // beside it: in its unicast filter, or promiscuous where it has none.
        changes.record(|c| c.unicast_filter = Some(cluster_mac.0))?;
        netlink::unicast_filter(ifindex, cluster_mac.0, true).with_context(|| {
            format!("receiving the cluster MAC {cluster_mac} on {iface} (bridge fdb add ... self)")
        })?;
        log.info(
            ktime_now(),
            format!(
                "unicast: {iface} receives the cluster MAC {cluster_mac} beside its own {nic_mac}, which its frames carry"
            ),
        );
    }
    Ok(dp)
}
