//! Cisco IOS and IOS-XE (Catalyst), global configuration mode.
//!
//! Sources:
//! - "Configure Catalyst Switches for Microsoft Network Load Balancing" (Cisco document
//!   216092, formerly 107995): static ARP `arp 10.100.1.99 0300.5e01.0101` for a
//!   multicast cluster MAC (breaking RFC 1812 otherwise), and a static MAC table entry
//!   for the cluster MAC on the servers' ports to stop the flooding.
//!   <https://www.cisco.com/c/en/us/support/docs/switches/catalyst-6500-series-switches/216092-configure-catalyst-switches-for-microsof.html>
//! - VMware KB 1006525, "Sample Configuration - Network Load Balancing (NLB) Multicast
//!   mode over routed subnet - Cisco Switch Static ARP Configuration": `arp [ip] [cluster
//!   multicast mac] ARPA` and `mac-address-table static [mac] vlan [id] interface
//!   Gi1/1 Gi1/2 ...` (several interfaces on one line; current IOS spells it
//!   `mac address-table static`, as in Cisco's document above).
//!   <https://kb.vmware.com/selfservice/microsites/search.do?language=en_US&cmd=displayKC&externalId=1006525>
//! - "Troubleshoot IGMP for NLB Deployments on Catalyst 9000 Switches" (Cisco document
//!   220657): Catalyst 9000 snoops the IP header, so IGMP mode floods unless the
//!   cluster MAC is pinned statically.
//!   <https://www.cisco.com/c/en/us/support/docs/switches/catalyst-9300-series-switches/220657-troubleshoot-igmp-for-nlb-deployments-on.html>
//! - "Configuring IGMP Snooping and Multicast VLAN Registration" (Catalyst 2960-X, IOS
//!   15.2(3)E): the IGMP snooping querier and its source address (the VLAN's SVI or the
//!   global querier address).
//!   <https://www.cisco.com/c/en/us/td/docs/switches/lan/catalyst2960x/software/15-2_3_e/multicast/configuration_guide/b_mc_1523e_2960x_cg/b_mc_1522e_2960x_cg_chapter_010.html>
//!
//! Not found: a public reference for IOS's MLD snooping querier, so none is written.

use super::{why, Out, Request};
use crate::mac::MacAddr;
use std::net::IpAddr;

pub(super) fn static_arp(_req: &Request, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    static_arp_with("ARPA", vips, mac, out);
}

/// `arp VIP MAC KEYWORD` for each VIP: IOS writes the encapsulation `ARPA`, EOS `arpa`.
pub(super) fn static_arp_with(keyword: &str, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    for &vip in vips {
        out.cmd(
            format!("arp {vip} {} {keyword}", mac.cisco()),
            why::static_arp(vip, mac),
        );
    }
}

/// `mac address-table static MAC vlan N interface PORTS`, as IOS and EOS write it.
pub(super) fn static_entry(req: &Request, mac: MacAddr, why: String, out: &mut Out) {
    out.cmd(
        format!(
            "mac address-table static {} vlan {} interface {}",
            mac.cisco(),
            req.vlan(),
            req.ports().join(" ")
        ),
        why,
    );
}

pub(super) fn static_mac(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    static_entry(req, mac, why::static_mac(mac, &req.ports()), out);
}

pub(super) fn snooping(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    if req.cluster.is_ipv6() {
        out.note(why::mld_not_written(&req.vlan()));
    } else {
        out.cmd(
            "ip igmp snooping",
            "IGMP snooping (on by default on Catalyst switches): learn the hosts' ports from \
             their joins to the cluster's group.",
        );
        out.cmd(
            "ip igmp snooping querier",
            format!(
                "An IGMP querier for VLANs with no multicast router: its queries make the \
                 hosts repeat their joins to {}, so memberships do not age out. It uses the \
                 VLAN {}'s SVI address as source (configure one).",
                req.cluster.group(),
                req.vlan()
            ),
        );
    }
    out.note(why::IP_SNOOPING_STATIC);
    static_entry(req, mac, why::static_mac(mac, &req.ports()), out);
}
