//! The switch and router side of a cluster: what `nlb switch-config` prints.
//!
//! A [`Request`] describes the cluster (mode, VIPs, name) and where it sits (VLAN,
//! ports, whether to include the gateway router); [`generate`] turns it into a
//! [`SwitchConfig`]: lines that are either a comment or a command with the reason it
//! is there. Pure: no IO, so every vendor's output is checked by golden tests.
//!
//! What each mode needs, whatever the vendor:
//!
//! - **unicast** (`02-bf-…`): nothing. The hosts send with their NICs' own MACs, so the
//!   switch never learns the cluster MAC and floods frames to it to every port of the
//!   VLAN; that flooding is how every host receives them. A static entry for the
//!   cluster MAC would bind it to the listed ports (most switches take one port for a
//!   unicast MAC) and starve the others. Routers accept a unicast MAC in ARP replies.
//! - **multicast** (`03-bf-…`): static ARP on the gateway (RFC 1812 §3.3.2: a router
//!   must not believe an ARP reply that claims a multicast MAC), and static MAC entries
//!   for the cluster MAC on the hosts' ports to stop the VLAN-wide flooding.
//! - **igmp-multicast** (`01-00-5e-7f-…`, group `239.255.Y.Z`; IPv6: `33-33-ef-ff-…`,
//!   MLD group `ff05::efff:YYZZ`): static ARP on the gateway as in multicast mode, and
//!   IGMP (MLD) snooping with a querier, so that the switch learns the hosts' ports
//!   from their joins and the joins keep being refreshed.
//!
//! Static port entries cannot follow a VM that live-migrates to another port: every
//! generator says so where it emits them.
//!
//! One module per vendor (or family) holds that vendor's syntax, each citing the public
//! documentation it was taken from.

mod arista;
mod cisco_ios;
mod cisco_nxos;
mod dell;
mod junos;
mod linux_bridge;
mod ovs;

use crate::addressing::{ClusterAddressing, OperationMode};
use crate::config::ClusterConfig;
use crate::mac::MacAddr;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A switch or router family whose syntax nlb can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vendor {
    /// Cisco IOS and IOS-XE (Catalyst).
    CiscoIos,
    /// Cisco NX-OS (Nexus).
    CiscoNxos,
    /// Arista EOS.
    AristaEos,
    /// Juniper Junos (EX/QFX with ELS, set-style).
    Junos,
    /// Dell PowerConnect (54xx-era CLI).
    DellPowerconnect,
    /// Dell SmartFabric OS10.
    DellOs10,
    /// A Linux bridge, as a shell script of `ip` and `bridge` commands.
    LinuxBridge,
    /// Open vSwitch, as a shell script of `ovs-vsctl` commands.
    OpenVswitch,
}

impl Vendor {
    /// Every vendor, in the order `--help` lists them.
    pub const ALL: [Vendor; 8] = [
        Vendor::CiscoIos,
        Vendor::CiscoNxos,
        Vendor::AristaEos,
        Vendor::Junos,
        Vendor::DellPowerconnect,
        Vendor::DellOs10,
        Vendor::LinuxBridge,
        Vendor::OpenVswitch,
    ];

    /// The CLI spelling: `cisco-ios`, `linux-bridge`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            Vendor::CiscoIos => "cisco-ios",
            Vendor::CiscoNxos => "cisco-nxos",
            Vendor::AristaEos => "arista-eos",
            Vendor::Junos => "junos",
            Vendor::DellPowerconnect => "dell-powerconnect",
            Vendor::DellOs10 => "dell-os10",
            Vendor::LinuxBridge => "linux-bridge",
            Vendor::OpenVswitch => "open-vswitch",
        }
    }

    /// The product's name, for headers.
    pub fn title(&self) -> &'static str {
        match self {
            Vendor::CiscoIos => "Cisco IOS / IOS-XE",
            Vendor::CiscoNxos => "Cisco NX-OS",
            Vendor::AristaEos => "Arista EOS",
            Vendor::Junos => "Juniper Junos (set commands)",
            Vendor::DellPowerconnect => "Dell PowerConnect",
            Vendor::DellOs10 => "Dell OS10",
            Vendor::LinuxBridge => "Linux bridge (shell script)",
            Vendor::OpenVswitch => "Open vSwitch (shell script)",
        }
    }

    /// True for the vendors whose output is a shell script.
    pub fn is_shell(&self) -> bool {
        matches!(self, Vendor::LinuxBridge | Vendor::OpenVswitch)
    }

    /// What starts a comment line in this vendor's syntax.
    pub fn comment_prefix(&self) -> &'static str {
        match self {
            Vendor::Junos | Vendor::LinuxBridge | Vendor::OpenVswitch => "#",
            _ => "!",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Vendor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Vendor::ALL.iter().map(|v| v.as_str()).collect();
                format!("`{s}` is no vendor; one of {}", names.join(", "))
            })
    }
}

/// The cluster as the switch sees it: its mode and VIPs, the primary first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's name (for the header).
    pub name: String,
    /// The operation mode.
    pub mode: OperationMode,
    /// Every VIP, the primary (from which the MACs derive) first.
    pub vips: Vec<IpAddr>,
}

impl Cluster {
    /// The cluster part of a configuration file.
    pub fn from_config(c: &ClusterConfig) -> Self {
        Cluster {
            name: c.name.clone(),
            mode: c.mode,
            vips: c.vips().collect(),
        }
    }

    fn addressing(&self) -> ClusterAddressing {
        ClusterAddressing { vip: self.vips[0] }
    }

    /// The cluster MAC of the cluster's mode: what ARP answers for every VIP.
    pub fn cluster_mac(&self) -> MacAddr {
        self.addressing().cluster_mac(self.mode)
    }

    /// The IGMP (IPv4) or MLD (IPv6) group the hosts join in igmp-multicast mode.
    pub fn group(&self) -> IpAddr {
        self.addressing().igmp_group()
    }

    /// True when the primary VIP is IPv6: the group is joined with MLD.
    pub fn is_ipv6(&self) -> bool {
        self.vips[0].is_ipv6()
    }
}

/// What to generate: for which vendor, which cluster, and where it sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The syntax to write.
    pub vendor: Vendor,
    /// The cluster.
    pub cluster: Cluster,
    /// The cluster's VLAN; `<VLAN>` is printed when unknown.
    pub vlan: Option<u16>,
    /// The switch ports the hosts are on; `<PORT>` is printed when none are given.
    pub ports: Vec<String>,
    /// Also write the gateway router's side (static ARP).
    pub router: bool,
    /// The bridge's name (Linux bridge, Open vSwitch); `<BRIDGE>` when unknown.
    pub bridge: Option<String>,
}

/// The placeholder printed for an unknown VLAN.
pub const VLAN_PLACEHOLDER: &str = "<VLAN>";
/// The placeholder printed for unknown ports.
pub const PORT_PLACEHOLDER: &str = "<PORT>";
/// The placeholder printed for an unknown bridge name.
pub const BRIDGE_PLACEHOLDER: &str = "<BRIDGE>";

impl Request {
    /// The VLAN as text, or its placeholder.
    fn vlan(&self) -> String {
        self.vlan
            .map_or_else(|| VLAN_PLACEHOLDER.to_string(), |v| v.to_string())
    }

    /// The ports, or one placeholder.
    fn ports(&self) -> Vec<String> {
        if self.ports.is_empty() {
            vec![PORT_PLACEHOLDER.to_string()]
        } else {
            self.ports.clone()
        }
    }

    /// The bridge name, or its placeholder.
    fn bridge(&self) -> String {
        self.bridge
            .clone()
            .unwrap_or_else(|| BRIDGE_PLACEHOLDER.to_string())
    }

    /// Whether the output needs the router's static ARP (multicast modes only).
    fn needs_static_arp(&self) -> bool {
        self.cluster.mode != OperationMode::Unicast
    }
}

/// One line of output: a comment, or a command with the reason for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Line {
    /// Explanation, headers, warnings and placeholders.
    Comment {
        /// The text, without the comment prefix.
        comment: String,
    },
    /// Something to type or run, and why.
    Command {
        /// The command, exactly as the device or shell takes it.
        command: String,
        /// Why it is there.
        why: String,
    },
}

/// The generated configuration.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SwitchConfig {
    /// The vendor it is written for.
    pub vendor: Vendor,
    /// The cluster's mode.
    pub mode: OperationMode,
    /// The lines, in order.
    pub lines: Vec<Line>,
}

/// Comments are wrapped to this width (prefix included) so they read well in a terminal.
const WIDTH: usize = 96;

impl SwitchConfig {
    /// The text form: each command preceded by its reason as a comment, in the vendor's
    /// comment syntax, comments wrapped to 96 columns. Shell scripts start with `#!/bin/sh`.
    pub fn render(&self) -> String {
        let prefix = self.vendor.comment_prefix();
        let mut out = String::new();
        if self.vendor.is_shell() {
            out.push_str("#!/bin/sh\n");
        }
        for line in &self.lines {
            match line {
                Line::Comment { comment } => push_comment(&mut out, prefix, comment),
                Line::Command { command, why } => {
                    push_comment(&mut out, prefix, why);
                    out.push_str(command);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The commands alone, in order.
    pub fn commands(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Command { command, why } => Some((command.as_str(), why.as_str())),
            Line::Comment { .. } => None,
        })
    }
}

fn push_comment(out: &mut String, prefix: &str, text: &str) {
    if text.is_empty() {
        out.push_str(prefix);
        out.push('\n');
        return;
    }
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && prefix.len() + 1 + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{prefix} {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&format!("{prefix} {line}\n"));
}

/// Collects lines; what every vendor module writes into.
#[derive(Default)]
pub(crate) struct Out {
    lines: Vec<Line>,
}

impl Out {
    /// A comment line.
    fn note(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Comment {
            comment: text.into(),
        });
    }

    /// An empty comment line, then a section title.
    fn section(&mut self, title: impl Into<String>) {
        self.note("");
        self.note(title);
    }

    /// A command and why it is there.
    fn cmd(&mut self, command: impl Into<String>, why: impl Into<String>) {
        self.lines.push(Line::Command {
            command: command.into(),
            why: why.into(),
        });
    }
}

/// Generates the switch (and, if asked, router) configuration for `req`.
pub fn generate(req: &Request) -> SwitchConfig {
    let mut out = Out::default();
    if req.router {
        out.section("== Gateway router ==");
        if req.needs_static_arp() {
            out.note(why::STATIC_ARP_NEEDED);
            router(req, &mut out);
        } else {
            out.note(why::UNICAST_NO_STATIC_ARP);
        }
    }
    out.section("== Switch ==");
    match req.cluster.mode {
        OperationMode::Unicast => unicast(req, &mut out),
        OperationMode::Multicast => {
            out.note(why::MULTICAST_FLOODS);
            match req.vendor {
                Vendor::CiscoIos => cisco_ios::static_mac(req, &mut out),
                Vendor::CiscoNxos => cisco_nxos::static_mac(req, &mut out),
                Vendor::AristaEos => arista::static_mac(req, &mut out),
                Vendor::Junos => junos::static_mac(req, &mut out),
                Vendor::DellPowerconnect => dell::powerconnect_static_mac(req, &mut out),
                Vendor::DellOs10 => dell::os10_static_mac(req, &mut out),
                Vendor::LinuxBridge => linux_bridge::restrict(req, &mut out),
                Vendor::OpenVswitch => ovs::restrict(req, &mut out),
            }
        }
        OperationMode::IgmpMulticast => {
            if req.cluster.is_ipv6() {
                out.note(why::MLD_MODE);
            } else {
                out.note(why::IGMP_MODE);
            }
            match req.vendor {
                Vendor::CiscoIos => cisco_ios::snooping(req, &mut out),
                Vendor::CiscoNxos => cisco_nxos::snooping(req, &mut out),
                Vendor::AristaEos => arista::snooping(req, &mut out),
                Vendor::Junos => junos::snooping(req, &mut out),
                Vendor::DellPowerconnect => dell::powerconnect_snooping(req, &mut out),
                Vendor::DellOs10 => dell::os10_snooping(req, &mut out),
                Vendor::LinuxBridge => linux_bridge::restrict(req, &mut out),
                Vendor::OpenVswitch => ovs::restrict(req, &mut out),
            }
        }
    }
    // The header goes first, naming only the placeholders the commands use.
    let mut all = Out::default();
    header(req, &out.lines, &mut all);
    all.lines.extend(out.lines);
    SwitchConfig {
        vendor: req.vendor,
        mode: req.cluster.mode,
        lines: all.lines,
    }
}

fn header(req: &Request, body: &[Line], out: &mut Out) {
    let c = &req.cluster;
    let vips: Vec<String> = c.vips.iter().map(|v| v.to_string()).collect();
    out.note(format!(
        "nlb switch-config for {}: cluster `{}`, mode {}",
        req.vendor.title(),
        c.name,
        c.mode
    ));
    out.note(format!(
        "VIPs {} (the primary first); cluster MAC {} ({}, {})",
        vips.join(", "),
        c.cluster_mac().windows(),
        c.cluster_mac().colon(),
        c.cluster_mac().cisco()
    ));
    if c.mode == OperationMode::IgmpMulticast {
        let proto = if c.is_ipv6() { "MLD" } else { "IGMP" };
        out.note(format!("{proto} group the hosts join: {}", c.group()));
    }
    let mut placeholders = Vec::new();
    if req.vlan.is_none() {
        placeholders.push(format!("{VLAN_PLACEHOLDER} (the cluster's VLAN: --vlan)"));
    }
    if req.ports.is_empty() && c.mode != OperationMode::Unicast {
        placeholders.push(format!(
            "{PORT_PLACEHOLDER} (the hosts' switch ports: --ports; repeat the line for each)"
        ));
    }
    if req.bridge.is_none() && matches!(req.vendor, Vendor::LinuxBridge | Vendor::OpenVswitch) {
        placeholders.push(format!("{BRIDGE_PLACEHOLDER} (the bridge: --bridge)"));
    }
    placeholders.extend(vendor_placeholders(req));
    // Each named by its first word, e.g. `<VLAN>`: only those some command contains.
    placeholders.retain(|p| {
        let token = p.split(' ').next().unwrap_or_default();
        body.iter()
            .any(|l| matches!(l, Line::Command { command, .. } if command.contains(token)))
    });
    if !placeholders.is_empty() {
        out.note(format!(
            "Replace the placeholders before use: {}.",
            placeholders.join("; ")
        ));
    }
    if let Some(caveat) = unverified(req.vendor) {
        out.note(caveat);
    }
    if req.vendor.is_shell() {
        out.cmd(
            "set -e",
            "Stop at the first command that fails (run as root on the switch or router).",
        );
    }
}

/// Placeholders only some vendors' output has.
fn vendor_placeholders(req: &Request) -> Vec<String> {
    let mut p = Vec::new();
    let multicast = req.needs_static_arp();
    match req.vendor {
        Vendor::Junos => {
            p.push(format!(
                "{} (the name of the VLAN whose vlan-id is {})",
                junos::VLAN_NAME,
                req.vlan()
            ));
            if req.router && multicast {
                p.push(format!(
                    "{} (the irb unit's own address and prefix, as configured)",
                    junos::IRB_ADDRESS
                ));
            }
            if req.cluster.mode == OperationMode::IgmpMulticast && !req.cluster.is_ipv6() {
                p.push(format!(
                    "{} (an address of the switch in the VLAN, the queries' source)",
                    junos::QUERIER_ADDRESS
                ));
            }
        }
        Vendor::CiscoNxos
            if req.cluster.mode == OperationMode::IgmpMulticast && !req.cluster.is_ipv6() =>
        {
            p.push(format!(
                "{} (an unused address of the VLAN, the queries' source)",
                cisco_nxos::QUERIER_ADDRESS
            ));
        }
        Vendor::LinuxBridge | Vendor::OpenVswitch if req.router && multicast => {
            p.push(format!(
                "{} (the Linux router's interface towards the cluster)",
                linux_bridge::ROUTER_IF
            ));
        }
        _ => {}
    }
    p
}

/// The caveat printed for vendors some of whose syntax could not be checked against a
/// public reference.
fn unverified(v: Vendor) -> Option<&'static str> {
    match v {
        Vendor::AristaEos | Vendor::CiscoNxos | Vendor::DellPowerconnect => Some(
            "Caution: nlb could not check every command below against this vendor's \
             public command reference; check each one on your release before applying it.",
        ),
        _ => None,
    }
}

fn unicast(req: &Request, out: &mut Out) {
    out.note(why::UNICAST_FLOODS);
    out.note(why::UNICAST_NO_STATIC_MAC);
    out.note(why::UNICAST_OWN_VLAN);
    let _ = req;
}

fn router(req: &Request, out: &mut Out) {
    let mac = req.cluster.cluster_mac();
    let vips: Vec<IpAddr> = if req.vendor.is_shell() {
        req.cluster.vips.clone()
    } else {
        for &vip in req.cluster.vips.iter().filter(|v| v.is_ipv6()) {
            out.note(why::ipv6_neighbor_unsupported(vip, mac));
        }
        req.cluster
            .vips
            .iter()
            .copied()
            .filter(|v| v.is_ipv4())
            .collect()
    };
    if vips.is_empty() {
        return;
    }
    match req.vendor {
        Vendor::CiscoIos => cisco_ios::static_arp(req, &vips, mac, out),
        Vendor::CiscoNxos => cisco_nxos::static_arp(req, &vips, mac, out),
        Vendor::AristaEos => arista::static_arp(req, &vips, mac, out),
        Vendor::Junos => junos::static_arp(req, &vips, mac, out),
        Vendor::DellPowerconnect => dell::powerconnect_static_arp(out),
        Vendor::DellOs10 => dell::os10_static_arp(req, &vips, mac, out),
        Vendor::LinuxBridge | Vendor::OpenVswitch => linux_bridge::static_arp(&vips, mac, out),
    }
}

/// The reasons shared by every vendor.
mod why {
    use crate::mac::MacAddr;
    use std::net::IpAddr;

    pub(super) const STATIC_ARP_NEEDED: &str =
        "The hosts answer ARP for every VIP with the cluster MAC, a multicast MAC. RFC 1812 \
         section 3.3.2 says a router MUST NOT believe an ARP reply that claims a multicast link \
         layer address, so the gateway never learns the VIPs: give it static entries.";
    pub(super) const UNICAST_NO_STATIC_ARP: &str =
        "Unicast mode: no static ARP entry is needed. The cluster MAC 02-bf-... is a unicast \
         MAC, which routers accept in ARP replies.";
    pub(super) const MULTICAST_FLOODS: &str =
        "Multicast mode: frames to the cluster MAC 03-bf-... are flooded to every port of the \
         VLAN (no host joins a group for it), so every host receives them, and so does every \
         other port. Static entries for the cluster MAC on the hosts' ports stop the flooding. \
         Warning: a static entry names ports; it cannot follow a VM that live-migrates to \
         another port or switch, which then stops receiving the VIP's traffic until the entry \
         is changed. On hypervisors prefer igmp-multicast mode, or leave the flooding alone.";
    pub(super) const IGMP_MODE: &str =
        "IGMP-multicast mode: the hosts join the group with IGMP, and a snooping switch sends \
         frames to the cluster MAC only to ports whose hosts joined. It needs a querier on the \
         VLAN: without queries the hosts' memberships age out (or were never seen) and the \
         switch stops delivering, or floods, depending on the switch. Switches that snoop by \
         IP address rather than MAC never match the VIP (a unicast IP) to the group and \
         flood (or, on some, deliver to router ports only): what this switch needs for that \
         follows.";
    pub(super) const MLD_MODE: &str =
        "IGMP-multicast mode with an IPv6 VIP: the hosts join the group with MLD, and an MLD \
         snooping switch sends frames to the cluster MAC 33-33-ef-ff-... only to ports whose \
         hosts joined. It needs an MLD querier on the VLAN, or memberships age out.";
    pub(super) const UNICAST_FLOODS: &str =
        "Unicast mode: no switch configuration is needed. The hosts send with their NICs' own \
         MACs, so the switch never learns the cluster MAC 02-bf-... and floods frames to it to \
         every port of the VLAN: that flooding is how every host receives them.";
    pub(super) const UNICAST_NO_STATIC_MAC: &str =
        "Do NOT add a static MAC entry for 02-bf-...: it would tie the cluster MAC to the \
         listed ports (most switches take a single port for a unicast MAC), so the switch \
         would send the VIP's traffic there only and the other hosts would receive nothing. \
         The price of unicast mode is that every port of the VLAN, hosts of other services \
         included, receives the cluster's traffic.";
    pub(super) const UNICAST_OWN_VLAN: &str =
        "To bound that cost, put the cluster in a VLAN of its own (only the hosts' ports and \
         the gateway), or use igmp-multicast mode with a snooping switch.";

    pub(super) fn ipv6_neighbor_unsupported(vip: IpAddr, mac: MacAddr) -> String {
        format!(
            "IPv6 VIP {vip}: nlb writes no static neighbor entry for this vendor (no public \
             reference checked). RFC 1812 covers IPv4 only; if this router refuses the \
             multicast MAC in the hosts' Neighbor Advertisements, add a static neighbor \
             entry {vip} -> {} by hand.",
            mac.windows()
        )
    }

    pub(super) fn static_arp(vip: IpAddr, mac: MacAddr) -> String {
        format!(
            "Static ARP: reach VIP {vip} at the cluster MAC {} (RFC 1812 3.3.2: the router \
             refuses it in an ARP reply).",
            mac.windows()
        )
    }

    pub(super) fn mld_not_written(vlan: &str) -> String {
        format!(
            "MLD snooping: nlb writes no MLD command for this vendor (no public reference \
             checked). Enable MLD snooping and an MLD querier on VLAN {vlan}, as IGMP \
             snooping and its querier are enabled for IPv4."
        )
    }

    pub(super) fn static_mac(mac: MacAddr, ports: &[String]) -> String {
        format!(
            "Static MAC entry: deliver frames to {} to the hosts' ports ({}) only, instead \
             of flooding the VLAN. Cannot follow a live-migrated VM.",
            mac.windows(),
            ports.join(", ")
        )
    }

    pub(super) const IP_SNOOPING_STATIC: &str =
        "For switches that snoop by IP (e.g. Catalyst 9000: they flood frames whose \
         destination IP is not a group they learned, and the VIP is a unicast IP), also pin \
         the cluster MAC to the hosts' ports. This entry cannot follow a live-migrated VM; \
         leave it out if the switch snoops by MAC.";
}
