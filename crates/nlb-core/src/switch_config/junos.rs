//! Juniper Junos (EX and QFX switches with ELS), `set` commands for `load set terminal`
//! or configuration mode.
//!
//! Sources:
//! - "Configuring Static ARP Entries" (QFX Series): at `[edit interfaces interface-name
//!   unit logical-unit-number family inet address address]`, `set arp ip-address
//!   (mac | multicast-mac) mac-address`; "To associate a multicast MAC address with a
//!   unicast IP address, use the multicast-mac statement"; the IP address must be in the
//!   subnet of the enclosing address.
//!   <https://www.juniper.net/documentation/en_US/junos13.2/topics/task/configuration/arp-static-configuring-qfx-series-cli.html>
//! - "static-mac" at `[edit vlans vlan-name switch-options interface interface-name]`
//!   (EX and QFX, Junos 13.2 and later): a static MAC address on one interface.
//!   <https://www.juniper.net/documentation/en_US/junos13.2/topics/reference/configuration-statement/static-mac-edit-vlans.html>
//! - "l2-querier" at `[edit protocols igmp-snooping vlan]`: `l2-querier { source-address
//!   ip-address; }` makes the switch an IGMP querier.
//!   <https://www.juniper.net/documentation/en_US/junos13.2/topics/reference/configuration-statement/l2-querier-igmp-snooping-qfx-series.html>
//!
//! Not found: a public reference for MLD snooping's querier here, so none is written.

use super::{why, Out, Request};
use crate::mac::MacAddr;
use std::net::IpAddr;

/// The placeholder for the VLAN's name (Junos names VLANs; `--vlan` gives its id).
pub(super) const VLAN_NAME: &str = "<VLAN_NAME>";
/// The placeholder for the irb unit's own address.
pub(super) const IRB_ADDRESS: &str = "<IRB_ADDRESS/LEN>";
/// The placeholder for the querier's source address.
pub(super) const QUERIER_ADDRESS: &str = "<QUERIER_ADDRESS>";

pub(super) fn static_arp(req: &Request, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    for &vip in vips {
        out.cmd(
            format!(
                "set interfaces irb unit {} family inet address {IRB_ADDRESS} arp {vip} multicast-mac {}",
                req.vlan(),
                mac.colon()
            ),
            format!(
                "{} multicast-mac, not mac: the MAC is a multicast one. The VIP must be in \
                 the irb address's subnet.",
                why::static_arp(vip, mac)
            ),
        );
    }
}

fn static_entries(req: &Request, mac: MacAddr, out: &mut Out) {
    if req.ports().len() > 1 {
        out.note(
            "Junos documents static-mac per interface; nlb could not check that it accepts one \
             multicast MAC on several interfaces of a VLAN: if the commit refuses the second, \
             the switch cannot pin this MAC to several ports this way.",
        );
    }
    for port in req.ports() {
        out.cmd(
            format!(
                "set vlans {VLAN_NAME} switch-options interface {port} static-mac {}",
                mac.colon()
            ),
            why::static_mac(mac, std::slice::from_ref(&port)),
        );
    }
}

pub(super) fn static_mac(req: &Request, out: &mut Out) {
    static_entries(req, req.cluster.cluster_mac(), out);
}

pub(super) fn snooping(req: &Request, out: &mut Out) {
    if req.cluster.is_ipv6() {
        out.note(why::mld_not_written(&req.vlan()));
    } else {
        out.cmd(
            format!("set protocols igmp-snooping vlan {VLAN_NAME} l2-querier source-address {QUERIER_ADDRESS}"),
            format!(
                "IGMP snooping on the cluster VLAN with the switch as querier: its queries make \
                 the hosts repeat their joins to {}, so memberships do not age out.",
                req.cluster.group()
            ),
        );
    }
    out.note(why::IP_SNOOPING_STATIC);
    static_entries(req, req.cluster.cluster_mac(), out);
}
