//! What the doctor reads off the host itself: the settings nlbd depends on, offloads
//! that defeat generic XDP, a VIP configured where it should not be, and the clock.

use super::finding;
use nlb_core::doctor::{Diagnosis, Finding, FindingKind};
use std::net::IpAddr;

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel's ARP settings nlbd makes on the cluster interface, when nlbd runs.
pub fn arp_settings(iface: &str) -> Vec<Finding> {
    let conf = |name: &str| sysctl(&format!("/proc/sys/net/ipv4/conf/{iface}/{name}"));
    let all = |name: &str| sysctl(&format!("/proc/sys/net/ipv4/conf/all/{name}"));
    // The kernel uses the larger of `all` and the interface's value for both.
    let value = |name: &str| {
        let i: u8 = conf(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        let a: u8 = all(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        i.max(a)
    };
    let (ignore, announce) = (value("arp_ignore"), value("arp_announce"));
    if ignore >= 1 && announce >= 2 {
        return Vec::new();
    }
    vec![finding(
        FindingKind::HostSettings,
        Diagnosis::ArpSysctls,
        iface,
        format!("net.ipv4.conf.{iface}.arp_ignore is {ignore} and arp_announce {announce}, while nlbd runs (it sets 1 and 2)"),
        "something changed them after nlbd started (a configuration tool, a sysctl.d file applied later)",
        "the kernel may answer ARP for a VIP with this host's own MAC, or use a VIP as the source of its ARP requests: neighbours then send the VIP's traffic to this host alone (a duplicate IP warning elsewhere)",
        format!("sysctl -w net.ipv4.conf.{iface}.arp_ignore=1 net.ipv4.conf.{iface}.arp_announce=2 (or restart nlbd), and find what reset them"),
    )]
}

/// Strict reverse path filtering on the cluster interface.
pub fn rp_filter(iface: &str) -> Vec<Finding> {
    let read = |scope: &str| {
        sysctl(&format!("/proc/sys/net/ipv4/conf/{scope}/rp_filter"))
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(0)
    };
    // The kernel uses the larger of the two.
    let value = read(iface).max(read("all"));
    if value != 1 {
        return Vec::new();
    }
    vec![finding(
        FindingKind::HostSettings,
        Diagnosis::StrictRpFilter,
        iface,
        format!("net.ipv4.conf.{iface}.rp_filter (or conf.all) is 1: strict reverse path filtering"),
        "a distribution or hardening default",
        format!("a packet to a VIP is dropped unless the route back to its source leaves by {iface}: clients reached through another interface or an asymmetric path get no answer, silently"),
        format!("sysctl -w net.ipv4.conf.{iface}.rp_filter=2 net.ipv4.conf.all.rp_filter=2 (loose: the source must be reachable by some interface)"),
    )]
}

/// The interface's LRO flag (ETHTOOL_GFLAGS), None when the driver does not say.
fn lro(iface: &str) -> Option<bool> {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_GFLAGS: u32 = 0x25;
    const ETH_FLAG_LRO: u32 = 1 << 15;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_GFLAGS,
        data: 0,
    };
    // libc: rustix has no SIOCETHTOOL.
    // SAFETY: an ioctl on a socket we own with an ifreq we fill in fully, whose data
    // points to a value that outlives the call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr
            .ifr_name
            .iter_mut()
            .zip(iface.bytes().take(libc::IFNAMSIZ - 1))
        {
            *d = s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
        let r = libc::ioctl(fd, SIOCETHTOOL, &mut ifr);
        libc::close(fd);
        if r < 0 {
            return None;
        }
    }
    Some(value.data & ETH_FLAG_LRO != 0)
}

/// Large receive offload with the data path in generic mode.
pub fn offloads(iface: &str, generic_xdp: bool) -> Vec<Finding> {
    if !generic_xdp || lro(iface) != Some(true) {
        return Vec::new();
    }
    vec![finding(
        FindingKind::HostSettings,
        Diagnosis::LroOn,
        iface,
        format!("{iface} has large receive offload on, and nlb's data path runs in generic XDP mode"),
        "the NIC merges TCP segments into large buffers before XDP sees them",
        "generic XDP must copy each merged buffer (costing CPU per packet) and sees one classification for many segments; native XDP refuses to attach with LRO on",
        format!("ethtool -K {iface} lro off"),
    )]
}

/// VIPs assigned to an interface other than lo (nlbd puts them on lo itself).
pub fn vips_elsewhere(vips: &[IpAddr], holders: impl Fn(IpAddr) -> Vec<String>) -> Vec<Finding> {
    vips.iter()
        .filter_map(|&vip| {
            let on = holders(vip);
            (!on.is_empty()).then(|| {
                finding(
                    FindingKind::HostSettings,
                    Diagnosis::VipElsewhere,
                    &vip.to_string(),
                    format!("VIP {vip} is assigned to {}", on.join(", ")),
                    "configured by hand or by another tool beside nlbd (which puts the VIPs on lo)",
                    format!("this host's kernel answers ARP or neighbour solicitations for {vip} on {} with its own MAC: neighbours that take that answer send all of the VIP's traffic to this host (a duplicate IP warning on the others)", on.join(", ")),
                    format!("ip addr del {vip}/... dev {} (nlbd adds the VIPs to lo itself)", on[0]),
                )
            })
        })
        .collect()
}

/// Whether the kernel says its clock is synchronised (adjtimex: not TIME_ERROR).
pub fn clock_synchronised() -> Option<bool> {
    // libc: rustix has no adjtimex.
    // SAFETY: adjtimex with modes 0 only reads into the struct we pass.
    let state = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        libc::adjtimex(&mut t)
    };
    (state >= 0).then_some(state != libc::TIME_ERROR)
}
