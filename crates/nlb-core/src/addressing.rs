//! Cluster addressing: the MAC and multicast group addresses a cluster uses, derived
//! from its primary VIP exactly as Windows NLB derives them.
//!
//! For an IPv4 VIP `W.X.Y.Z` (octets written in hex below):
//!
//! | mode | cluster MAC | group |
//! |---|---|---|
//! | unicast | `02-bf-WW-XX-YY-ZZ` | |
//! | multicast | `03-bf-WW-XX-YY-ZZ` | |
//! | IGMP multicast | `01-00-5e-7f-YY-ZZ` | `239.255.Y.Z` |
//!
//! In unicast mode each host masks the source MAC of its outgoing frames as
//! `02-<host id>-WW-XX-YY-ZZ`, so that switches never learn the cluster MAC on one port.
//!
//! **IPv6 (nlb's own derivation; Windows defines none).** Let `W.X.Y.Z` be the last
//! 32 bits of the IPv6 VIP. Unicast and multicast modes use `02-bf-…` and `03-bf-…`
//! exactly as for IPv4. The IGMP-multicast mode becomes MLD: hosts join the
//! site-local group `ff05::efff:YYZZ` (`ef.ff` echoing 239.255), whose Ethernet
//! address by RFC 2464 is `33-33-ef-ff-YY-ZZ`. The masked source MAC is
//! `02-<host id>-WW-XX-YY-ZZ` as for IPv4.

use crate::mac::MacAddr;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// How frames for the VIP reach every host of the cluster.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum OperationMode {
    /// The cluster MAC replaces each host NIC's MAC; the switch floods (Windows' default).
    Unicast,
    /// A multicast cluster MAC beside each NIC's own; flooded unless the switch is told ports.
    Multicast,
    /// A multicast cluster MAC plus an IGMP group the hosts join, for snooping switches.
    IgmpMulticast,
}

impl OperationMode {
    /// Every mode, in the order they are printed.
    pub const ALL: [OperationMode; 3] = [
        OperationMode::Unicast,
        OperationMode::Multicast,
        OperationMode::IgmpMulticast,
    ];

    /// The configuration and CLI spelling: `unicast`, `multicast`, `igmp-multicast`.
    pub fn as_str(&self) -> &'static str {
        match self {
            OperationMode::Unicast => "unicast",
            OperationMode::Multicast => "multicast",
            OperationMode::IgmpMulticast => "igmp-multicast",
        }
    }
}

impl fmt::Display for OperationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no operation mode; it carries the name. The message says what is
/// allowed, for a caller to put after the name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("one of unicast, multicast, igmp-multicast")]
pub struct ParseModeError(pub String);

impl FromStr for OperationMode {
    type Err = ParseModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unicast" => Ok(OperationMode::Unicast),
            "multicast" => Ok(OperationMode::Multicast),
            "igmp-multicast" | "igmp" => Ok(OperationMode::IgmpMulticast),
            _ => Err(ParseModeError(s.to_string())),
        }
    }
}

/// Why an address cannot be a cluster VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VipError {
    /// 0.0.0.0 or `::`.
    Unspecified,
    /// A multicast address.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 127/8 or `::1`.
    Loopback,
    /// 169.254/16 or fe80::/10: valid on one link only, so no router forwards to it.
    LinkLocal,
    /// `::ffff:a.b.c.d`: an IPv4 address in IPv6 clothes, never on the wire as such.
    Ipv4Mapped,
}

impl fmt::Display for VipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VipError::Unspecified => "the unspecified address (all zeros) cannot be a VIP",
            VipError::Multicast => "a multicast address cannot be a VIP",
            VipError::Broadcast => "the broadcast address cannot be a VIP",
            VipError::Loopback => "a loopback address cannot be a VIP",
            VipError::LinkLocal => {
                "a link-local address (169.254.0.0/16, fe80::/10) cannot be a VIP: routers do not forward to it"
            }
            VipError::Ipv4Mapped => {
                "an IPv4-mapped IPv6 address (::ffff:a.b.c.d) cannot be a VIP: no packet carries it; write the IPv4 address"
            }
        })
    }
}

impl std::error::Error for VipError {}

/// Checks that `ip` can serve as a unicast virtual IP.
pub fn validate_vip(ip: IpAddr) -> Result<(), VipError> {
    if ip.is_unspecified() {
        return Err(VipError::Unspecified);
    }
    if ip.is_multicast() {
        return Err(VipError::Multicast);
    }
    if ip.is_loopback() {
        return Err(VipError::Loopback);
    }
    match ip {
        IpAddr::V4(v4) if v4.is_broadcast() => return Err(VipError::Broadcast),
        IpAddr::V4(v4) if v4.is_link_local() => return Err(VipError::LinkLocal),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => return Err(VipError::LinkLocal),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => return Err(VipError::Ipv4Mapped),
        _ => {}
    }
    Ok(())
}

/// A host id that cannot be used in unicast mode: its masked source MAC would be the
/// cluster MAC itself (`02-bf-...`, id 191 = 0xbf), so switches would learn the cluster
/// MAC on that host's port and send it all of the VIP's traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "host id {host_id} ({host_id:#04x}) cannot be used in unicast mode: its masked source MAC \
     02-{host_id:02x}-WW-XX-YY-ZZ is the cluster MAC itself, so switches would learn the cluster \
     MAC on that host's port and send it all of the VIP's traffic; choose another host id \
     (any of 1..=255 but {host_id})"
)]
pub struct UnicastHostIdError {
    /// The host id.
    pub host_id: u8,
}

/// Checks that `host_id` can mask its source MAC in unicast mode: its masked source MAC
/// must not be the cluster MAC. (Two hosts with different ids always have different
/// masked source MACs: the id is the second octet.)
pub fn check_unicast_host_id(host_id: u8) -> Result<(), UnicastHostIdError> {
    // Both MACs end in the same four VIP octets, so whether they collide does not
    // depend on the VIP; any VIP shows it.
    let a = ClusterAddressing {
        vip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    };
    if a.masked_source_mac(host_id) == a.cluster_mac(OperationMode::Unicast) {
        Err(UnicastHostIdError { host_id })
    } else {
        Ok(())
    }
}

/// The four octets a VIP contributes to the cluster MACs: the IPv4 address, or
/// the last 32 bits of an IPv6 address.
fn vip_octets(vip: IpAddr) -> [u8; 4] {
    match vip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    }
}

/// Every address a cluster derives from its primary VIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterAddressing {
    /// The primary VIP the addresses derive from.
    pub vip: IpAddr,
}

impl ClusterAddressing {
    /// Derives the addressing of the cluster whose primary VIP is `vip`.
    pub fn new(vip: IpAddr) -> Result<Self, VipError> {
        validate_vip(vip)?;
        Ok(ClusterAddressing { vip })
    }

    /// The cluster MAC of `mode`: what ARP (or neighbour discovery) answers for every VIP.
    pub fn cluster_mac(&self, mode: OperationMode) -> MacAddr {
        let [w, x, y, z] = vip_octets(self.vip);
        match mode {
            OperationMode::Unicast => MacAddr([0x02, 0xbf, w, x, y, z]),
            OperationMode::Multicast => MacAddr([0x03, 0xbf, w, x, y, z]),
            OperationMode::IgmpMulticast => match self.vip {
                IpAddr::V4(_) => MacAddr([0x01, 0x00, 0x5e, 0x7f, y, z]),
                IpAddr::V6(_) => MacAddr([0x33, 0x33, 0xef, 0xff, y, z]),
            },
        }
    }

    /// The multicast group hosts join in IGMP-multicast mode: `239.255.Y.Z`, or
    /// `ff05::efff:YYZZ` for an IPv6 VIP (MLD).
    pub fn igmp_group(&self) -> IpAddr {
        let [_, _, y, z] = vip_octets(self.vip);
        match self.vip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(239, 255, y, z)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(
                0xff05,
                0,
                0,
                0,
                0,
                0,
                0xefff,
                u16::from_be_bytes([y, z]),
            )),
        }
    }

    /// The source MAC a host puts on its outgoing frames in unicast mode
    /// (Windows' MaskSourceMAC): `02-<host id>-WW-XX-YY-ZZ`. For host id 191 this is the
    /// cluster MAC, which [`check_unicast_host_id`] refuses.
    pub fn masked_source_mac(&self, host_id: u8) -> MacAddr {
        let [w, x, y, z] = vip_octets(self.vip);
        MacAddr([0x02, host_id, w, x, y, z])
    }
}

/// The MACs and groups a cluster's VIPs are reached at, by address family.
///
/// In unicast and multicast mode both families use the primary VIP's cluster MAC. In
/// IGMP-multicast mode each family has its own group, derived from its first VIP: IPv4
/// VIPs are reached at the IGMP group's MAC (`01-00-5e-7f-YY-ZZ`), IPv6 VIPs at the MLD
/// group's (`33-33-ef-ff-YY-ZZ`), because a snooping switch follows each family's
/// membership protocol for that family's frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyAddressing {
    /// What ARP answers for the IPv4 VIPs (None: the cluster has none).
    pub v4_mac: Option<MacAddr>,
    /// What neighbour discovery answers for the IPv6 VIPs (None: the cluster has none).
    pub v6_mac: Option<MacAddr>,
    /// The groups hosts join in IGMP-multicast mode (IGMP, MLD), one per family.
    pub groups: Vec<IpAddr>,
}

impl FamilyAddressing {
    /// The addressing of a cluster in `mode` whose VIPs are `vips`, primary first.
    pub fn new(mode: OperationMode, vips: &[IpAddr]) -> Self {
        let first = |v6: bool| vips.iter().find(|v| v.is_ipv6() == v6).copied();
        let (first4, first6) = (first(false), first(true));
        let derive = |vip: IpAddr| ClusterAddressing { vip };
        let mac_for = |own: Option<IpAddr>| {
            own.map(|own| match (mode, vips.first()) {
                (OperationMode::IgmpMulticast, _) | (_, None) => derive(own).cluster_mac(mode),
                (_, Some(&primary)) => derive(primary).cluster_mac(mode),
            })
        };
        let groups = if mode == OperationMode::IgmpMulticast {
            [first4, first6]
                .into_iter()
                .flatten()
                .map(|v| derive(v).igmp_group())
                .collect()
        } else {
            Vec::new()
        };
        FamilyAddressing {
            v4_mac: mac_for(first4),
            v6_mac: mac_for(first6),
            groups,
        }
    }

    /// Every MAC the cluster is reached at (one, or two in IGMP-multicast mode with both
    /// families).
    pub fn macs(&self) -> Vec<MacAddr> {
        let mut macs: Vec<MacAddr> = self.v4_mac.into_iter().chain(self.v6_mac).collect();
        macs.dedup();
        macs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ClusterAddressing {
        ClusterAddressing::new(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn domain_worked_example_172_31_3_232() {
        let a = addr("172.31.3.232");
        assert_eq!(
            a.cluster_mac(OperationMode::Unicast).windows(),
            "02-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::Multicast).windows(),
            "03-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).windows(),
            "01-00-5e-7f-03-e8"
        );
        assert_eq!(a.igmp_group().to_string(), "239.255.3.232");
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).colon(),
            "01:00:5e:7f:03:e8"
        );
    }

    #[test]
    fn domain_worked_examples_other_vips() {
        assert_eq!(
            addr("199.99.20.70")
                .cluster_mac(OperationMode::Multicast)
                .windows(),
            "03-bf-c7-63-14-46"
        );
        assert_eq!(addr("10.0.0.1").igmp_group().to_string(), "239.255.0.1");
        // The Cisco static ARP example of the domain brief.
        assert_eq!(
            addr("172.31.1.232")
                .cluster_mac(OperationMode::Multicast)
                .cisco(),
            "03bf.ac1f.01e8"
        );
    }

    #[test]
    fn masked_source_mac_carries_host_id() {
        assert_eq!(
            addr("172.31.3.232").masked_source_mac(3).windows(),
            "02-03-ac-1f-03-e8"
        );
    }

    #[test]
    fn only_host_id_191_masks_as_the_cluster_mac_and_no_two_ids_collide() {
        for vip in ["172.31.3.232", "10.0.0.1", "2001:db8::ac1f:3e8"] {
            let a = addr(vip);
            let cluster = a.cluster_mac(OperationMode::Unicast);
            let mut seen = std::collections::BTreeSet::new();
            for id in 1..=255u8 {
                let m = a.masked_source_mac(id);
                assert!(seen.insert(m), "{vip}: host {id} repeats {m}");
                assert_eq!(m == cluster, id == 191, "{vip}: host {id}: {m}");
                assert_eq!(check_unicast_host_id(id).is_err(), id == 191, "{id}");
            }
        }
        let e = check_unicast_host_id(191).unwrap_err().to_string();
        assert!(
            e.contains("191 (0xbf)")
                && e.contains("02-bf-WW-XX-YY-ZZ")
                && e.contains("another host id"),
            "{e}"
        );
        // Addresses next to the link-local range are fine.
        for ok in ["169.253.255.255", "169.255.0.1", "fec0::1", "fe7f::1"] {
            assert_eq!(validate_vip(ok.parse().unwrap()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn ipv6_derivation() {
        let a = addr("2001:db8::ac1f:3e8");
        assert_eq!(
            a.cluster_mac(OperationMode::Unicast).windows(),
            "02-bf-ac-1f-03-e8"
        );
        assert_eq!(
            a.cluster_mac(OperationMode::Multicast).windows(),
            "03-bf-ac-1f-03-e8"
        );
        assert_eq!(a.igmp_group().to_string(), "ff05::efff:3e8");
        // RFC 2464: 33-33 followed by the group's last 32 bits.
        assert_eq!(
            a.cluster_mac(OperationMode::IgmpMulticast).windows(),
            "33-33-ef-ff-03-e8"
        );
        assert_eq!(a.masked_source_mac(7).windows(), "02-07-ac-1f-03-e8");
    }

    #[test]
    fn multicast_modes_give_group_macs_and_unicast_does_not() {
        let a = addr("198.51.100.10");
        assert!(!a.cluster_mac(OperationMode::Unicast).is_multicast());
        assert!(a.cluster_mac(OperationMode::Multicast).is_multicast());
        assert!(a.cluster_mac(OperationMode::IgmpMulticast).is_multicast());
    }

    #[test]
    fn rejects_unusable_vips() {
        for (s, e) in [
            ("0.0.0.0", VipError::Unspecified),
            ("224.0.0.1", VipError::Multicast),
            ("239.255.3.232", VipError::Multicast),
            ("255.255.255.255", VipError::Broadcast),
            ("127.0.0.1", VipError::Loopback),
            ("::", VipError::Unspecified),
            ("ff02::1", VipError::Multicast),
            ("::1", VipError::Loopback),
            ("169.254.1.1", VipError::LinkLocal),
            ("fe80::1", VipError::LinkLocal),
            ("febf:ffff::1", VipError::LinkLocal),
            ("::ffff:198.51.100.10", VipError::Ipv4Mapped),
        ] {
            assert_eq!(validate_vip(s.parse().unwrap()), Err(e), "{s}");
        }
    }

    #[test]
    fn each_family_has_its_group_in_igmp_mode_and_the_primary_mac_otherwise() {
        let v4: IpAddr = "172.31.3.232".parse().unwrap();
        let v6: IpAddr = "2001:db8::ac1f:4e9".parse().unwrap();
        let mac = |s: &str| Some(s.parse::<MacAddr>().unwrap());
        let igmp = FamilyAddressing::new(OperationMode::IgmpMulticast, &[v4, v6]);
        assert_eq!(igmp.v4_mac, mac("01-00-5e-7f-03-e8"));
        assert_eq!(igmp.v6_mac, mac("33-33-ef-ff-04-e9"));
        assert_eq!(
            igmp.groups,
            ["239.255.3.232", "ff05::efff:4e9"].map(|g| g.parse::<IpAddr>().unwrap())
        );
        assert_eq!(igmp.macs().len(), 2);
        // Unicast and multicast: the primary VIP's MAC for both families, no groups.
        let multi = FamilyAddressing::new(OperationMode::Multicast, &[v6, v4]);
        assert_eq!(multi.v4_mac, mac("03-bf-ac-1f-04-e9"));
        assert_eq!(multi.v6_mac, multi.v4_mac);
        assert!(multi.groups.is_empty());
        assert_eq!(multi.macs().len(), 1);
        let only6 = FamilyAddressing::new(OperationMode::Unicast, &[v6]);
        assert_eq!(
            (only6.v4_mac, only6.v6_mac),
            (None, mac("02-bf-ac-1f-04-e9"))
        );
    }

    #[test]
    fn mode_names_round_trip() {
        for m in OperationMode::ALL {
            assert_eq!(m.as_str().parse::<OperationMode>().unwrap(), m);
        }
        assert_eq!(
            "broadcast".parse::<OperationMode>(),
            Err(ParseModeError("broadcast".into()))
        );
    }
}
