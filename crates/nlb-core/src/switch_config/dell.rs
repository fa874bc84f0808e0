//! Dell switches: PowerConnect (54xx-era CLI) and SmartFabric OS10.
//!
//! OS10 sources (Dell EMC SmartFabric OS10 User Guide, 10.4 and later; read on a mirror
//! of the PDF):
//! - "Configure static ARP entries": in INTERFACE mode, `ip arp ip-address mac-address`
//!   (MAC as nnnn.nnnn.nnnn).
//!   <https://www.manualowl.com/m/Dell/PowerSwitch-S4128F-ON/Manual/591955?page=504>
//! - "Static MAC Address": in CONFIGURATION mode, `mac-address-table static nn:nn:nn:nn:nn:nn
//!   vlan vlan-id interface [ethernet node/slot/port[:subport] | port-channel number]`,
//!   one interface per entry. The same guide spells its other MAC table commands
//!   `mac address-table ...` (aging-time, show); nlb writes `mac address-table static`
//!   as current OS10 does: check on old releases.
//!   <https://www.manualshelf.com/manual/dell/powerswitch-s4112f-on-s4112t-on/4-3-2-1-users-guide-english/page-589.html>
//! - "IGMP snooping": `ip igmp snooping enable` (CONFIGURATION), `ip igmp snooping
//!   querier` (VLAN INTERFACE mode) on a VLAN with no multicast router.
//!   <https://www.manualshelf.com/manual/dell/powerswitch-s3048-on/6-5-4-3-2-1-reference-guide-english/page-363.html>
//! - "MLD snooping": `ipv6 mld snooping enable` (CONFIGURATION), `ipv6 mld snooping
//!   querier` (VLAN INTERFACE mode).
//!   <https://www.manualshelf.com/manual/dell/emc-networking-mx9116n/1-api-guide-english/page-796.html>
//!
//! PowerConnect: the "bridge multicast group" (VLAN, MAC, ports) of the PowerConnect
//! 5424 is the domain brief's field report. Not found: the PowerConnect 54xx CLI
//! Reference Guide's page for `bridge multicast address`; nlb writes the command in the
//! form that guide uses as far as nlb knows (`bridge multicast address MAC add ethernet
//! PORTS` in the VLAN's interface mode), without a page checked here, and the output's
//! header says so. No querier or static ARP command is written (the 54xx are layer 2
//! switches).

use super::{why, Out, Request};
use crate::mac::MacAddr;
use std::net::IpAddr;

pub(super) fn powerconnect_static_arp(out: &mut Out) {
    out.note(
        "PowerConnect 54xx switches are layer 2 only: configure the static ARP entries on \
         the gateway router itself (run nlb switch-config with that router's --vendor).",
    );
}

fn bridge_multicast(req: &Request, why: String, out: &mut Out) {
    out.cmd(
        format!("interface vlan {}", req.vlan()),
        "The bridge multicast group belongs to the cluster VLAN.",
    );
    out.cmd(
        format!(
            "bridge multicast address {} add ethernet {}",
            req.cluster.cluster_mac().colon(),
            req.ports().join(",")
        ),
        why,
    );
    out.cmd("exit", "Back to global configuration.");
}

pub(super) fn powerconnect_static_mac(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    bridge_multicast(
        req,
        format!(
            "A static bridge multicast group for {}: frames to it go to the hosts' ports ({}) \
             only. Cannot follow a live-migrated VM.",
            mac.colon(),
            req.ports().join(", ")
        ),
        out,
    );
}

pub(super) fn powerconnect_snooping(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    if !req.cluster.is_ipv6() {
        out.cmd(
            "ip igmp snooping",
            format!(
                "IGMP snooping: learn the ports of hosts that join {}.",
                req.cluster.group()
            ),
        );
    }
    out.note(format!(
        "The PowerConnect 'bridge multicast group' (Multicast Support > Bridge Multicast \
         Group in the web UI: VLAN {}, MAC {}, group {}) pins the cluster MAC to the hosts' \
         ports whether or not a querier keeps their joins alive. It cannot follow a \
         live-migrated VM.",
        req.vlan(),
        mac.colon(),
        req.cluster.group()
    ));
    bridge_multicast(
        req,
        format!(
            "The bridge multicast group for {}: frames to it go to the hosts' ports ({}) only.",
            mac.colon(),
            req.ports().join(", ")
        ),
        out,
    );
}

pub(super) fn os10_static_arp(req: &Request, vips: &[IpAddr], mac: MacAddr, out: &mut Out) {
    out.cmd(
        format!("interface vlan {}", req.vlan()),
        "The static ARP entries belong to the cluster VLAN's interface.",
    );
    for &vip in vips {
        out.cmd(
            format!(" ip arp {vip} {}", mac.cisco()),
            why::static_arp(vip, mac),
        );
    }
    out.cmd(" exit", "Back to configuration mode.");
}

fn os10_static_entries(req: &Request, mac: MacAddr, out: &mut Out) {
    if req.ports().len() > 1 {
        out.note(
            "OS10 documents one interface per static entry; nlb could not check that it keeps \
             one multicast MAC on several interfaces: check `show mac address-table static` \
             lists every port after applying.",
        );
    }
    for port in req.ports() {
        out.cmd(
            format!(
                "mac address-table static {} vlan {} interface ethernet {port}",
                mac.colon(),
                req.vlan()
            ),
            why::static_mac(mac, std::slice::from_ref(&port)),
        );
    }
}

pub(super) fn os10_static_mac(req: &Request, out: &mut Out) {
    os10_static_entries(req, req.cluster.cluster_mac(), out);
}

pub(super) fn os10_snooping(req: &Request, out: &mut Out) {
    let group = req.cluster.group();
    let (proto, enable, querier) = if req.cluster.is_ipv6() {
        (
            "MLD",
            "ipv6 mld snooping enable",
            " ipv6 mld snooping querier",
        )
    } else {
        (
            "IGMP",
            "ip igmp snooping enable",
            " ip igmp snooping querier",
        )
    };
    out.cmd(
        enable,
        format!("{proto} snooping on every VLAN: learn the ports of hosts that join {group}."),
    );
    out.cmd(
        format!("interface vlan {}", req.vlan()),
        "The querier is configured on the cluster VLAN's interface.",
    );
    out.cmd(
        querier,
        format!(
            "An {proto} querier for the VLAN (it has no multicast router): its queries make the \
             hosts repeat their joins, so memberships do not age out."
        ),
    );
    out.cmd(" exit", "Back to configuration mode.");
    out.note(why::IP_SNOOPING_STATIC);
    os10_static_entries(req, req.cluster.cluster_mac(), out);
}
