//! A Linux bridge, as a shell script (`ip` and `bridge` from iproute2), and the static
//! neighbour entry of a Linux router (also used for Open vSwitch).
//!
//! Sources:
//! - bridge(8), iproute2: `bridge link set dev DEV mcast_router MULTICAST_ROUTER` ("2":
//!   a permanent multicast router port; "A vlan and interface with a multicast router will
//!   receive all multicast traffic").
//!   <https://man7.org/linux/man-pages/man8/bridge.8.html>
//! - ip-link(8), iproute2: `ip link set dev BR type bridge mcast_snooping 1 mcast_querier 1`.
//!   <https://man7.org/linux/man-pages/man8/ip-link.8.html>
//! - ip-neighbour(8), iproute2: `ip neigh replace ADDR lladdr LLADDR dev DEV nud permanent`.
//!   <https://man7.org/linux/man-pages/man8/ip-neighbour.8.html>
//! - Linux commit bd4265fe365c ("bridge: Only flood unregistered groups to routers"):
//!   with snooping on and a querier present, IP frames to a group MAC whose destination
//!   IP is no group the bridge learned (the VIP is a unicast IP) go to multicast router
//!   ports only; "The user can always force flooding behaviour to any given port by
//!   marking it as a router". This is why a Linux bridge restricts the cluster's frames
//!   with router ports, not with FDB entries: the bridge never consults its FDB for a
//!   multicast destination MAC, and its MDB holds IP groups for IP frames, so it snoops
//!   by IP, never by MAC. (The domain brief measured the same in the lab.)
//!   <https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=bd4265fe365c0f3945dd5ff1527e52bbe2bedfa2>

use super::{Out, Request};
use crate::addressing::OperationMode;
use crate::mac::MacAddr;
use std::net::IpAddr;

/// The placeholder for the Linux router's interface towards the cluster.
pub(super) const ROUTER_IF: &str = "<ROUTER_IF>";

pub(super) fn static_arp(vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    for &vip in vips {
        let (table, rule) = if vip.is_ipv6() {
            (
                "neighbour",
                "for IPv6 no RFC forbids it, but a static entry keeps the router from \
                 depending on how it treats a multicast MAC in a Neighbor Advertisement",
            )
        } else {
            (
                "ARP",
                "RFC 1812 3.3.2: a router must not believe an ARP reply that claims a \
                 multicast MAC",
            )
        };
        out.cmd(
            format!(
                "ip neigh replace {vip} lladdr {} dev {ROUTER_IF} nud permanent",
                mac.colon()
            ),
            format!(
                "Static {table} entry on the Linux router: reach VIP {vip} at the cluster MAC \
                 {} ({rule}).",
                mac.colon()
            ),
        );
    }
}

pub(super) fn restrict(req: &Request, out: &mut Out) {
    let br = req.bridge();
    let mac = req.cluster.cluster_mac();
    if req.cluster.mode == OperationMode::IgmpMulticast {
        out.note(format!(
            "A Linux bridge snoops by IP group, not by MAC: the hosts' joins to {} never \
             match the VIP's frames (their destination IP is the unicast VIP). With snooping \
             and a querier, the bridge sends those frames to multicast router ports only, so \
             the hosts' ports must be permanent router ports; without a querier it floods \
             them to every port.",
            req.cluster.group()
        ));
    } else {
        out.note(format!(
            "A Linux bridge ignores FDB entries for a multicast MAC such as {}: `bridge fdb \
             add` would not stop the flooding. With snooping and a querier, it sends IP frames \
             to a group MAC whose destination IP is no learned group (the VIP is a unicast IP) \
             to multicast router ports only: the hosts' ports become permanent router ports.",
            mac.colon()
        ));
    }
    out.cmd(
        format!("ip link set dev {br} type bridge mcast_snooping 1 mcast_querier 1"),
        "Multicast snooping with the bridge as querier (IGMP and, with IPv6 on the bridge, \
         MLD): with a querier present, frames to the cluster MAC go to router ports only. \
         A bridge that starts snooping floods on for its query response interval \
         (mcast_query_response_interval, 10 s by default) before it takes its querier as \
         present (measured in nlb's lab test).",
    );
    for port in req.ports() {
        out.cmd(
            format!("bridge link set dev {port} mcast_router 2"),
            format!(
                "Make {port} (a host's port) a permanent multicast router port: it receives \
                 the VIP's frames, and also every other IP multicast of the bridge. A port \
                 that leaves the bridge (a migrated VM) loses this setting: set it again on \
                 the new port."
            ),
        );
    }
    out.note(
        "Other ports keep mcast_router 1 (router ports learned from queries and PIM): they \
         get the VIP's frames only if a multicast router or querier sits behind them. \
         Frames to the cluster MAC that are not IP (none carry client traffic) still flood.",
    );
}
