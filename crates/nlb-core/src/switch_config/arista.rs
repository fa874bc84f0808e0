//! Arista EOS, global configuration mode.
//!
//! Sources:
//! - Arista EOS User Manual, "IGMP and IGMP Snooping" (chapter 35: configuring IGMP
//!   snooping, its querier and the snooping commands).
//!   <https://www.arista.com/um-eos/eos-igmp-and-igmp-snooping>
//! - DISA Arista MLS EOS 4.2x L2S STIG, ARST-L2-000130: MLD snooping per VLAN with
//!   `mld snooping` / `vlan 200`.
//!   <https://www.tenable.com/audits/items/DISA_Arista_MLS_EOS_4.2x_L2S_v1r1_STIG.audit:b2f201a2d3b2a6818d1a0047d3cecda4>
//!
//! Not verified: only the chapter's title page above could be read, not its command
//! pages. `arp IP MAC arpa`, `mac address-table static MAC vlan N interface ...` and
//! `ip igmp snooping vlan N querier` follow EOS's documented command names as nlb knows
//! them, without a page checked here; the output says so in its header.

use super::{cisco_ios, why, Out, Request};
use crate::mac::MacAddr;
use std::net::IpAddr;

// EOS writes static ARP and static MAC entries as IOS does (the encapsulation keyword
// in lower case): the two share one generator.
pub(super) fn static_arp(_req: &Request, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    cisco_ios::static_arp_with("arpa", vips, mac, out);
}

pub(super) fn static_mac(req: &Request, out: &mut Out) {
    cisco_ios::static_mac(req, out);
}

pub(super) fn snooping(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    if req.cluster.is_ipv6() {
        out.cmd(
            "mld snooping",
            "MLD snooping: learn the hosts' ports from their MLD joins to the cluster's group.",
        );
        out.cmd(
            format!("  vlan {}", req.vlan()),
            format!("Snoop MLD on the cluster VLAN {}.", req.vlan()),
        );
        out.note(format!(
            "MLD querier: nlb writes none for EOS (no reference checked); make sure a router \
             or the switch sends MLD queries on VLAN {}.",
            req.vlan()
        ));
    } else {
        out.cmd(
            format!("ip igmp snooping vlan {} querier", req.vlan()),
            format!(
                "An IGMP querier on the cluster VLAN: its queries make the hosts repeat their \
                 joins to {}, so memberships do not age out (snooping itself is on by default).",
                req.cluster.group()
            ),
        );
    }
    out.note(why::IP_SNOOPING_STATIC);
    cisco_ios::static_entry(req, mac, why::static_mac(mac, &req.ports()), out);
}
