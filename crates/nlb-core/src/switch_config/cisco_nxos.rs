//! Cisco NX-OS (Nexus), configuration mode.
//!
//! Sources:
//! - "Configure Microsoft Network Load Balancing on Nexus 7000" (Cisco document 116150),
//!   option 1: `interface Vlan10` / `ip arp 10.1.2.200 0100.5E01.0101` (static ARP for
//!   the multicast MAC under the SVI) and `vlan configuration 10` / `layer-2 multicast
//!   lookup mac` (snoop by MAC: by default NX-OS looks multicast up by destination IP,
//!   which for NLB is the unicast VIP).
//!   <https://www.cisco.com/c/en/us/support/docs/ip/multicast/116150-configure-Nexus7000-00.html>
//! - "Configure Nexus 9000 Unicast NLB" (Cisco document 118951): `interface Vlan200` /
//!   `ip arp 200.200.200.200 C8C8.C8C8.C8C8` and `mac address-table static c8c8.c8c8.c8c8
//!   vlan 200 interface port-channel3` (one interface), and that multicast-mode NLB is not
//!   supported on Nexus 9000 routing into the cluster VLAN before NX-OS 9.2(1).
//!   <https://www.cisco.com/c/en/us/support/docs/switches/nexus-9000-series-switches/118951-config-nexus9000-unicast-nlb-00.html>
//!
//! Not verified: the querier line (`ip igmp snooping querier ADDRESS` under `vlan
//! configuration`) is NX-OS's documented form as far as nlb knows, but no public page
//! showing it could be read here; the multicast-mode static entry for a multicast MAC
//! on several ports (document 116150's option 2A) could not be read either, so none is
//! written. MLD: no reference found; none written.

use super::{why, Out, Request};
use crate::mac::MacAddr;
use std::net::IpAddr;

/// The placeholder for the querier's source address.
pub(super) const QUERIER_ADDRESS: &str = "<QUERIER_ADDRESS>";

pub(super) fn static_arp(req: &Request, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    out.cmd(
        format!("interface Vlan{}", req.vlan()),
        "The static ARP entries belong to the cluster VLAN's SVI.",
    );
    for &vip in vips {
        out.cmd(
            format!("  ip arp {vip} {}", mac.cisco()),
            why::static_arp(vip, mac),
        );
    }
}

pub(super) fn static_mac(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    out.note(format!(
        "NX-OS: nlb writes no static entry for the multicast MAC {} on several ports (no \
         public reference for its syntax could be checked; see Cisco's 'Configure Microsoft \
         Network Load Balancing on Nexus 7000', option 2A). Nexus 9000 supports multicast-mode \
         NLB routed into the VLAN only from NX-OS 9.2(1). Consider igmp-multicast mode, which \
         nlb can configure here.",
        mac.cisco()
    ));
}

pub(super) fn snooping(req: &Request, out: &mut Out) {
    if req.cluster.is_ipv6() {
        out.note(why::mld_not_written(&req.vlan()));
        return;
    }
    out.cmd(
        format!("vlan configuration {}", req.vlan()),
        "Per-VLAN multicast settings of the cluster VLAN.",
    );
    out.cmd(
        "  layer-2 multicast lookup mac",
        format!(
            "Forward multicast by destination MAC, not destination IP: the VIP's frames go \
             to {} with a unicast destination IP, which an IP lookup never matches to the \
             group {} the hosts joined (it would flood them).",
            req.cluster.cluster_mac().cisco(),
            req.cluster.group()
        ),
    );
    out.cmd(
        format!("  ip igmp snooping querier {QUERIER_ADDRESS}"),
        "An IGMP querier for the VLAN (if no multicast router queries it): the hosts repeat \
         their joins, so memberships do not age out. Source: an unused address of the VLAN.",
    );
}
